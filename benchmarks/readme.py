"""`python -m benchmarks.readme`: writes the README's results from `benchmarks/results/*.json`.

Usage::

    python -m benchmarks.readme            # rewrite the generated parts of README.md
    python -m benchmarks.readme --check    # exit 1 and print a diff when README.md is out of date

The README holds generated blocks between marker comments::

    <!-- results:begin NAME -->
    ...generated, never edited by hand...
    <!-- results:end NAME -->

NAME is a key of BLOCKS; everything outside the markers (the prose that explains a miss) is left
alone. Every block is declared once below: a `Table` of `Row`s (what, command, results file,
figure template, the targets whose verdict it shows), a `Grid` (rows x columns of figure keys) or
`Lines` (sentences with figure templates), and `RUNS`, one line per results file saying when and
on what it ran.

Templates are `str.format` fields looked up in one results file: `{key:spec}` is
`figures[key]` (the key taken literally, dots included; `a/b/0` walks into dicts and lists when
no figure is called `a/b/0`), `{@key}` a top-level field (`{@wall_s:.0f}`), `{target[i]}` the
value of the row's i-th target. A field that is missing makes the figure "not measured" (a
stale number is never shown); in the "what" column it shows as "?".

Verdicts are the results file's own: a row's targets are found by name (`fnmatch` patterns, so
a name that embeds a figure, like "(npy 18528)", can be written "(npy *)"), its bound is the
file's `op` and `limit`, and "met" / "**missed**" its `passed`. A target that is not in the file
reads "not measured".

Exit status: 0 when the README is up to date (or was rewritten), 1 when `--check` found it out
of date, 2 when a block's markers are missing or broken.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import fnmatch
import json
import math
import re
import string
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import PROJECT_ROOT, RESULTS_DIR

README = PROJECT_ROOT / "README.md"
NOT_MEASURED = "not measured"
NOT_RECORDED = "not recorded"
MISSING = object()


# ------------------------------------------------------------------------------- declarations


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of a results table, read from `benchmarks/results/<benchmark>.json`.

    `targets`: names (fnmatch patterns) of the file's targets this row shows, `bound` how their
    limits are written (one format for all, or one per target), `note` what the target column
    says when the row has no targets. `full`: the command runs the full set; a results file
    from the other set is "not measured" for this row.
    """

    what: str
    benchmark: str
    figure: str
    targets: tuple[str, ...] = ()
    bound: str | tuple[str, ...] = "{:g}"
    note: str = ""
    full: bool = True

    @property
    def command(self) -> str:
        return f"`python -m benchmarks{' --full' if self.full else ''} --only {self.benchmark}`"


@dataclasses.dataclass(frozen=True)
class Table:
    rows: tuple[Row, ...]


@dataclasses.dataclass(frozen=True)
class Grid:
    """A table of one results file's figures: `cell` is a template in which `<row>` and `<column>`
    are replaced by each row's and column's value first, e.g. "{casia_gt_rank1_<column>:.1%}"."""

    benchmark: str
    corner: str
    rows: tuple[tuple[str, str], ...]  # (label, value for <row>)
    columns: tuple[tuple[str, str], ...]  # (header, value for <column>)
    cell: str


@dataclasses.dataclass(frozen=True)
class Lines:
    """Sentences from one results file; a sentence with a missing field reads "not measured"."""

    benchmark: str
    lines: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Runs:
    """One row per results file: set, time, cores, load average, commit, code version, targets."""

    benchmarks: tuple[str, ...]


SYNTH = "synth_walker"
POSE = "pose_network"
GAIT = "gait_network"
STORAGE = "storage_throughput"
FLOW = "feature_flow"
SCALE = "scale"
OBJECT_STORE = "object_store"
ACCURACY = "accuracy"
GAIT_CEILING = "gait_ceiling"
REFERENCE = "(for reference)"

BENCHMARK_ROWS = Table((
    Row("synthetic walker render speed, 128 px (kinematics + video writing)", SYNTH,
        "{render_128px_frames_per_s:,.0f} frames/s per process",
        ("render frames/s at 128 px*",)),
    Row("stance-foot slip (mean) / pelvis bounce (median)", SYNTH,
        "{foot_slip_mean_m_per_s:.4f} m/s / {pelvis_bounce_median_m:.3f} m",
        ("stance foot slip, mean m/s", "pelvis bounce, median m (low)", "pelvis bounce, median m (high)"),
        ("{:g} m/s", "{:g} m", "{:g} m")),
    Row("ground-truth-joint baseline, CASIA-B-like, {baseline_subjects} people ({baseline_test_subjects} "
        "tested), {baseline_views} views, nm rank-1 cross-view: standard single-view gallery / pooled gallery "
        "(the target is on the pooled figure)", SYNTH,
        "{gt_rank1_std_nm:.1%} / {gt_rank1_pooled_nm:.1%} (chance {baseline_chance_std:.1%})",
        ("baseline rank-1 nm cross-view, pooled gallery",), "{:.0%}"),
    Row("the same baseline, nm rank-1 same view (gallery and probes at one view)", SYNTH,
        "{gt_rank1_same_nm:.1%}", ("baseline rank-1 nm same-view",), "{:.0%}"),
    Row("open-set identification (`gaitflow identify`'s rule), CASIA-like test people: "
        "{casia_open_set_enrolled_people} enrolled from nm-01..04, {casia_open_set_other_people} never enrolled, "
        "threshold set on {casia_open_set_calibration_attempts} walks of the training people as strangers; "
        "never-enrolled walks given a name at a stated {casia_open_set_far_target:.0%} / enrolled walks named "
        "correctly (their closed-set rank-1)", ACCURACY,
        "{casia_open_set_far_measured:.1%} / {casia_open_set_dir:.1%} ({casia_open_set_rank1:.1%})",
        ("open-set false-accept rate of people never enrolled*",), "{:.1%}"),
    Row("HumanPoseNN full trunk ({inception_resnet_v2_input_px} px), share of the fp32 matmul GFLOP/s "
        "measured in the same run, best batch", POSE,
        "{target[0]:.0%}", ("inception_resnet_v2 features, fraction of fp32 matmul GFLOP/s*",), "{:.0%}"),
    Row("HumanPoseNN full trunk, frames/s at 1 / 16 frames a call", POSE,
        "{inception_resnet_v2_batch1_frames_per_s:.2f} / {inception_resnet_v2_batch16_frames_per_s:.2f}",
        note=REFERENCE),
    Row("walker tracking, {scenes} synthetic multi-walker scenes (crossing, occlusion, entering/leaving): "
        "IDF1 / ID switches / MOTA (motmetrics)", "tracking", "{idf1:.3f} / {id_switches} / {mota:.3f}",
        ("IDF1 over all synthetic scenes",), "{:.2f}"),
    Row("walker tracks on vtest.avi (real street footage): tracks (median frames) / crop-centre jumps, tracks vs "
        "`--crop person`; by eye (2026-12-02), with the HOG detector (OpenCV 4), about two thirds of the tracks "
        "stay on one walker; pairs walking side by side stay one track, and four tracks are crops of no one "
        "walker (scenery; a van, kept since walks towards the camera count) (see the contact sheet)",
        "tracking", "{vtest_tracks} ({vtest_track_length_median:.0f}) / {vtest_track_crop_jumps} vs "
        "{vtest_person_crop_jumps}", note=REFERENCE),
    Row("HumanPoseNN training step, small trunk, batch {batch}: the loss's logits branch vs the whole network",
        "pose_training", "{logits_branch_frames_per_s:.1f} vs {whole_network_frames_per_s:.1f} frames/s "
        "({logits_branch_speedup:.2f}x)", ("logits-branch training step vs whole network*",), "{:g}x"),
    Row("GaitNN, {training_sequences_per_batch} masked {training_clip_frames}-frame clips a step vs one a step "
        "(training) / batches of {inference_sequences_per_batch} whole walks vs one (descriptors)", GAIT,
        "{pipeline_train_speedup:.2f}x / {pipeline_inference_speedup:.2f}x",
        ("batched training sequences/s over one sequence per step", "batched descriptors/s over one sequence per step"),
        "{:g}x"),
    Row("the same with the seed's residual blocks chained ({chained_gflop_per_frame} instead of "
        "{pipeline_gflop_per_frame} GFLOP a frame)", GAIT,
        "{chained_train_speedup:.2f}x / {chained_inference_speedup:.2f}x", note=REFERENCE),
    Row("pose network as the flow runs it (features + decoded joints) vs compute limit, small / full trunk", FLOW,
        "{small_network_fraction_of_limit:.2f} / {irv2_network_fraction_of_limit:.2f} (trunk alone: "
        "{small_trunk_only_fraction_of_limit:.2f} / {irv2_trunk_only_fraction_of_limit:.2f})",
        ("small: network (flow's frame function) / compute limit",
         "inception_resnet_v2: network (flow's frame function) / compute limit")),
    Row("features flow end to end (ingest + features, cold workers) vs the network alone, small / full trunk: "
        "one stage after the other; streamed (features per bundle as its frames are stored)",
        FLOW, "{small_flow_2w_end_to_end_fraction_of_network:.2f} / {irv2_flow_2w_end_to_end_fraction_of_network:.2f}; "
        "streamed {small_streamed_2w_end_to_end_fraction_of_network:.2f} / "
        "{irv2_streamed_2w_end_to_end_fraction_of_network:.2f}",
        ("small: flow end to end*", "inception_resnet_v2: flow end to end*")),
    Row("features flow, small trunk, 2 workers: ingest / features (cold workers)", FLOW,
        "{small_flow_2w_ingest_s:.1f} s / {small_flow_2w_features_cold_s:.1f} s", note=REFERENCE),
    Row("features stage alone, warm workers, vs the network alone, small trunk", FLOW,
        "{small_flow_2w_features_warm_fraction_of_network:.2f}",
        note="(for reference: the stage without ingest and start-up)"),
    Row("zarr features (float16): writes / random 40-frame clip read / full read / bytes on disk per frame", STORAGE,
        "{features_f16.zarr_write_fps:,.0f} frames/s / {target[1]:.1f} ms / {features_f16.zarr_read_fps:,.0f} "
        "frames/s / {features_f16.bytes_per_frame:,.0f} B",
        ("features_f16: write frames/s", "features_f16: random 40-frame clip read ms",
         "features_f16: full read frames/s", "features_f16: bytes on disk per frame*"),
        ("{:,.0f}", "{:g} ms", "{:,.0f}", "{:,.0f} B (.npy)"), full=False),
    Row("zarr frames: writes at 128 / 299 px; full read at 299 px", STORAGE,
        "{frames_128.zarr_write_fps:,.0f} / {frames_299.zarr_write_fps:,.0f} frames/s; "
        "{frames_299.zarr_read_fps:,.0f} frames/s",
        ("frames_128: write frames/s", "frames_299: write frames/s", "frames_299: full read frames/s"),
        "{:,.0f}", full=False),
    Row("zarr frames: bytes on disk per frame at 128 / 299 px", STORAGE,
        "{frames_128.bytes_per_frame:,.0f} / {frames_299.bytes_per_frame:,.0f} B",
        ("frames_128: bytes on disk per frame*", "frames_299: bytes on disk per frame*"), "{:,.0f} B (.npy)",
        full=False),
    Row("listing the store + deciding what is current, {sequences:,} stored sequences (synthetic index entries): "
        "with the catalogue (listing alone) / without it (every group's metadata read, page cache warm)", "store_index",
        "{warm_listing_and_skip_s:.1f} s ({warm_listing_s:.1f} s) / {cold_listing_s:.1f} s",
        ("warm listing + skip decision of 100,000 stored sequences (s)",), "{:g} s"),
    Row("store on object storage (s3://; moto's S3 server on 127.0.0.1, on the same 2 cores): ingest + features + "
        "describe + evaluate of {walks} walks, vs the store on local disk (the server's own CPU time)", OBJECT_STORE,
        "x{s3_over_local:.2f} ({s3_total_s:.0f} s vs {local_total_s:.0f} s; server {s3_server_cpu_s:.0f} s of CPU)",
        ("object-store stages*",), "x{:g}"),
    Row("object store: listing + deciding what is current, {listing_sequences:,} stored sequences (synthetic index "
        "entries): unchanged store (the listing cached under the snapshot's id) / first listing after a commit",
        OBJECT_STORE, "{listing_cached_listing_and_skip_s:.1f} s / {listing_cold_listing_s:.1f} s",
        ("object store: listing*",), "{:g} s"),
    Row("feature stage's own storage work (read frames, write features)", STORAGE,
        "{feature_stage.transform_frames_fps:,.0f} frames/s", ("transform_frames*",), "{:,.0f}", full=False),
    Row("whole pipeline, wall time per doubling of the archive (64 -> 128 -> 256 walks)", SCALE,
        "x{doubling_ratios/0:.2f}, x{doubling_ratios/1:.2f} ({size64_wall_s:.0f} s, {size128_wall_s:.0f} s, "
        "{size256_wall_s:.0f} s)", ("growth: largest wall-time ratio per doubling*",), "x{:g}"),
    Row("whole pipeline, linear fit of wall time over the three sizes", SCALE,
        "{fit_fixed_s:.0f} s + {fit_s_per_sequence:.2f} s a walk", note=REFERENCE),
    Row("peak memory of the process tree, largest / smallest archive", SCALE,
        "{memory_growth_largest_over_smallest:.2f}", ("peak RSS (process tree) largest / smallest archive",)),
    Row("Dask 2 workers vs 1 (ingest + features; ingest alone; features alone)", SCALE,
        "{workers_speedup_2x1_over_1x1:.2f}x; {workers_speedup_ingest:.2f}x; {workers_speedup_features:.2f}x",
        ("Dask 2 workers / 1 worker speed-up*",), "{:g}x"),
    Row("re-run with nothing new / full run (256 walks)", SCALE,
        "{noop_rerun_fraction_of_full:.2f} ({noop_rerun_wall_s:.0f} s)"),
    Row("incremental re-run (+{incremental_added_fraction:.0%} videos, {incremental_added_sequences} walks) / "
        "full run: so few walks in the flow's own process (the default) / on the Dask workers", SCALE,
        "{incremental_fraction_of_full:.2f} ({incremental_wall_s:.0f} s) / "
        "{incremental_on_dask_fraction_of_full:.2f} ({incremental_on_dask_wall_s:.0f} s)",
        ("incremental re-run (+* sequences) / full run",)),
))

# The accuracy benchmark's figure keys (`benchmarks/accuracy.py`'s docstring):
# `<experiment>_std_<kind>_rank1_<condition>`, the standard protocol's rank-1 (report format
# `gaitflow.protocol_report/2`). Results files written before that format hold other keys and
# read "not measured" here until the benchmark is re-run.
ACCURACY_KINDS = (
    ("learned + SVM", "learned_svm"),
    ("learned + nearest neighbour", "learned_nn"),
    ("joint baseline, predicted joints", "pred"),
    ("joint baseline, ground-truth joints", "gt"),
)
ACCURACY_CELL = "{<experiment>_std_<column>_rank1_<row>:.1%}"  # <row>: the probe condition


def _accuracy_grid(experiment: str, probes: tuple[tuple[str, str], ...]) -> Grid:
    return Grid(ACCURACY, "probe", probes, ACCURACY_KINDS, ACCURACY_CELL.replace("<experiment>", experiment))


ACCURACY_SETUP = Lines(ACCURACY, (
    "- Rank-1 is the standard protocol: CASIA-B-like, the single-view gallery of GaitSet / OpenGait "
    "(gallery nm-01..04 at one view, probes at every other view, averaged over the gallery views and "
    "then the probe views); TUM-GAID-like, the session's gallery. Chance is 1 / gallery identities.",
    "- CASIA-B-like archive: {casia_subjects} people, views {casia_views}, {frames_per_walk}-frame walks at "
    "{size_px} px, people {spread:g}x as different as the walker's default (`spread`; every archive here, the "
    "noise columns marked spread 1 excepted); the first {casia_train_subjects} people train the pose network and GaitNN, the other "
    "{casia_test_subjects} are tested (chance {casia_std_chance:.2%}). The pose network's best validation "
    "joint distance: {casia_pose_best_val_joint_distance_px:.1f} px.",
    "- Stage times of that run (a stage of a few seconds re-used what an earlier run of the same code had "
    "stored): pose training {casia_stage_train-pose_s:,.0f} s, features {casia_stage_extract-features_s:,.0f} s, "
    "GaitNN training {casia_stage_train-gait_s:,.0f} s; the whole command took {@wall_s:,.0f} s.",
    "- TUM-GAID-like archive: {tum_subjects} people at 90°, people {tum_train_subjects} train, "
    "{tum_test_subjects} are tested (chance {tum_std_chance:.0%}), with the CASIA-B-like run's pose network.",
    "- Secondary, CASIA-B-like nm rank-1 against one pooled gallery of every view but the probe's (easier, "
    "not the literature's figure): learned + SVM {casia_pooled_learned_svm_rank1_nm:.1%}, learned + nearest "
    "neighbour {casia_pooled_learned_nn_rank1_nm:.1%}, joint baseline on predicted / ground-truth joints "
    "{casia_pooled_pred_rank1_nm:.1%} / {casia_pooled_gt_rank1_nm:.1%} (chance {casia_pooled_chance:.2%}).",
))

ACCURACY_TARGETS = Table((
    Row("CASIA-B-like, learned + nearest neighbour, nm standard rank-1, against 2x and 4x chance", ACCURACY,
        "{casia_std_learned_nn_rank1_nm:.1%}",
        ("CASIA-like learned nm standard rank-1 (nn) > 2x chance",
         "CASIA-like learned nm standard rank-1 (nn) > 4x chance"),
        "{:.1%}"),
    Row("CASIA-B-like, the same minus the joint baseline on predicted joints (standard rank-1 points)", ACCURACY,
        "{casia_std_learned_nn_minus_pred_nm:+.1%}",
        ("CASIA-like learned nm standard rank-1 (nn) minus predicted-joint baseline",), "{:.0%}"),
    Row("CASIA-B-like, joint baseline on ground-truth joints, nm pooled-gallery rank-1 (the secondary figure "
        "the bar was set on)", ACCURACY,
        "{casia_pooled_gt_rank1_nm:.1%}", ("CASIA-like gt-joint baseline nm pooled-gallery rank-1",), "{:.0%}"),
    Row("CASIA-B-like, learned + SVM over the ground-truth-joint baseline, standard rank-1, nm / bg / cl", ACCURACY,
        "{casia_std_learned_svm_rank1_nm:.1%} / {casia_std_learned_svm_rank1_bg:.1%} / "
        "{casia_std_learned_svm_rank1_cl:.1%} against {casia_std_gt_rank1_nm:.1%} / {casia_std_gt_rank1_bg:.1%} / "
        "{casia_std_gt_rank1_cl:.1%}",
        tuple(f"CASIA-like learned {c} standard rank-1 (svm) / gt-joint baseline" for c in ("nm", "bg", "cl")),
        "{:g}x"),
    Row("pose PCK@0.1 of body height on people the pose network never trained on: all joints / legs", ACCURACY,
        "{pose_pck_0p1:.1%} / {pose_legs_pck_0p1:.1%}",
        ("pose PCK@0.1 of body height, people never trained on", "pose PCK@0.1, legs"), "{:.0%}"),
    Row("pose PCK@0.1 on walkers drawn in a style pose training never saw", ACCURACY,
        "{pose_style_shift_pck_0p1:.1%}", ("pose PCK@0.1, style never trained on",), "{:.0%}"),
    Row("pose: mean joint error / left-right swap rate / jitter (shares of body height; swaps: of frames) / "
        "knee and ankle pairs both put on one limb", ACCURACY,
        "{pose_mean_error:.3f} / {pose_swap_rate:.1%} / {pose_jitter:.3f} / {pose_collapse_rate:.0%}",
        note="(for reference)"),
    Row("identity retained: joint baseline on predicted over ground-truth joints, mean of nm, bg, cl", ACCURACY,
        "{pose_identity_retained:.2f}", note="(for reference)"),
))

DEMO = "demo"
DEMO_ROWS = Table((
    Row("`gaitflow demo` wall time on 2 cores", DEMO, "{wall_s:.0f} s", ("demo wall time (s)",), "{:g} s"),
    Row("GaitNN's final training accuracy in the demo, over its chance", DEMO,
        "{gait_training_accuracy:.1%} (chance {gait_training_chance:.1%})",
        ("GaitNN training accuracy / its chance",), "{:g}x"),
    Row("the demo's SVM standard rank-1, mean of nm, bg, cl, over chance", DEMO,
        "{svm_standard_rank1_mean:.1%} (chance {chance:.1%})", ("SVM mean standard rank-1 / chance",), "{:g}x"),
))

DIFFICULTY_GRID = Grid(
    ACCURACY, "difficulty",
    (("0.5", "0p5"), ("1.0", "1"), ("1.5", "1p5"), ("2.0", "2")),
    (("nm", "nm"), ("bg", "bg"), ("cl", "cl")),
    "{difficulty_<row>_std_gt_rank1_<column>:.1%}",
)

NOISE_GRID = Grid(
    ACCURACY, "joint noise (share of body height)",
    (("0", "0"), ("0.01", "0p01"), ("0.02", "0p02"), ("0.05", "0p05"), ("0.1", "0p1")),
    (("independent per frame", "independent"), ("temporally smooth", "smooth"),
     ("independent, spread 1", "spread1_independent"), ("smooth, spread 1", "spread1_smooth")),
    "{noise_<column>_<row>:.1%}",
)

SWAP_GRID = Grid(
    ACCURACY, "frames with left/right swapped",
    (("5 %", "0p05"), ("10 %", "0p1"), ("20 %", "0p2")),
    (("legs", "legs"), ("legs and arms", "limbs")),
    "{noise_swap_<column>_<row>:.1%}",
)

GAIT_CEILING_GRID = Grid(
    GAIT_CEILING, "probe",
    (("nm-05..06", "nm"), ("bg-01..02", "bg"), ("cl-01..02", "cl")),
    (("ideal features + SVM", "exact_svm"), ("ideal features + nearest neighbour", "exact_nn"),
     ("ideal, sides merged + SVM", "sides_merged_svm"), ("ideal, sides merged + nearest neighbour", "sides_merged_nn"),
     ("joint baseline, ground-truth joints", "gt")),
    "{casia_std_<column>_rank1_<row>:.1%}",
)

RUNS = Runs((SYNTH, "tracking", POSE, "pose_training", GAIT, STORAGE, FLOW, SCALE, ACCURACY, GAIT_CEILING, DEMO))

BLOCKS: dict[str, Table | Grid | Lines | Runs] = {
    "benchmarks": BENCHMARK_ROWS,
    "runs": RUNS,
    "accuracy-setup": ACCURACY_SETUP,
    "accuracy-targets": ACCURACY_TARGETS,
    "demo": DEMO_ROWS,
    "accuracy-casia": _accuracy_grid("casia", (("nm-05..06", "nm"), ("bg-01..02", "bg"), ("cl-01..02", "cl"))),
    "accuracy-tum": _accuracy_grid("tum", (("n", "n"), ("b", "b"), ("s", "s"))),
    "accuracy-difficulty": DIFFICULTY_GRID,
    "accuracy-noise": NOISE_GRID,
    "accuracy-swaps": SWAP_GRID,
    "gait-ceiling": GAIT_CEILING_GRID,
}


# ----------------------------------------------------------------------------------- results


def load_results(directory: str | Path = RESULTS_DIR) -> dict[str, dict[str, Any]]:
    """Every `<directory>/*.json`, by file stem."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(Path(directory).glob("*.json"))}


class _Missing(KeyError):
    pass


def _lookup(data: Mapping[str, Any], field: str, targets: Sequence[Mapping[str, Any]]) -> Any:
    match = re.fullmatch(r"target\[(\d+)\]", field)
    if match:
        index = int(match.group(1))
        if index >= len(targets) or targets[index] is None:
            raise _Missing(field)
        value = targets[index].get("value")
    elif field.startswith("@"):
        value = _walk(data, field[1:])
    else:
        figures = data.get("figures") or {}
        value = figures[field] if field in figures else _walk(figures, field)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        raise _Missing(field)
    return value


def _walk(root: Any, path: str) -> Any:
    value = root
    for part in path.split("/"):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise _Missing(path)
    return value


def fill(template: str, data: Mapping[str, Any] | None, targets: Sequence[Mapping[str, Any]] = (),
         missing: str | None = None) -> str:
    """`template` with its fields from `data`; raises KeyError for a missing one unless `missing`
    says what to write in its place."""
    out = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        try:
            if data is None:
                raise _Missing(field)
            value = _lookup(data, field, targets)
        except _Missing:
            if missing is None:
                raise
            out.append(missing)
            continue
        if conversion == "r":
            value = repr(value)
        elif conversion == "s":
            value = str(value)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        out.append(format(value, spec or ""))
    return "".join(out)


def _find_targets(data: Mapping[str, Any] | None, patterns: Sequence[str]) -> list[Mapping[str, Any] | None]:
    """The file's target matching each pattern (exactly one), or None."""
    found: list[Mapping[str, Any] | None] = []
    listed = (data or {}).get("targets") or []
    for pattern in patterns:
        matches = [t for t in listed if fnmatch.fnmatchcase(str(t.get("name", "")), pattern)]
        found.append(matches[0] if len(matches) == 1 else None)
    return found


def verdict(targets: Sequence[Mapping[str, Any]]) -> str:
    """met / **missed** / **missed** (k of n) from the targets' own `passed`."""
    missed = sum(1 for t in targets if t.get("passed") is not True)
    if not missed:
        return "met"
    return "**missed**" if missed == len(targets) else f"**missed** ({missed} of {len(targets)})"


def _bound_text(row: Row, found: Sequence[Mapping[str, Any]]) -> str:
    formats = (row.bound,) * len(found) if isinstance(row.bound, str) else row.bound
    bounds = []
    for target, fmt in zip(found, formats):
        limit = target.get("limit")
        text = f"{target.get('op')} {NOT_RECORDED if limit is None else fmt.format(limit)}"
        if text not in bounds:
            bounds.append(text)
    return " / ".join(bounds)


def render_row(row: Row, data: Mapping[str, Any] | None) -> list[str]:
    """[what, command, figure, target] for one row."""
    found = _find_targets(data, row.targets)
    present = [t for t in found if t is not None]
    what = fill(row.what, data, present, missing="?")
    if data is None:
        return [what, row.command, NOT_MEASURED, NOT_MEASURED if row.targets else row.note]
    if bool(data.get("quick")) == row.full:
        other = "quick" if row.full else "full"
        return [what, row.command, f"{NOT_MEASURED} (the results file is from the {other} set)",
                NOT_MEASURED if row.targets else row.note]
    try:
        figure = fill(row.figure, data, found if all(t is not None for t in found) else present)
    except KeyError:
        figure = NOT_MEASURED
    if not row.targets:
        target = row.note
    elif len(present) < len(found):
        target = NOT_MEASURED
    else:
        target = f"{_bound_text(row, present)}: {verdict(present)}"
    return [what, row.command, figure, target]


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


def render_table(table: Table, results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    rows, previous = [], None
    for row in table.rows:
        cells = render_row(row, results.get(row.benchmark))
        command = cells[1]
        cells[1] = "same" if command == previous else command
        previous = command
        rows.append(cells)
    return _markdown_table(("what", "command", "figure", "target"), rows)


def render_grid(grid: Grid, results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    data = results.get(grid.benchmark)
    rows = []
    for label, row in grid.rows:
        cells = [label]
        for _, column in grid.columns:
            template = grid.cell.replace("<row>", row).replace("<column>", column)
            try:
                cells.append(fill(template, data))
            except KeyError:
                cells.append(NOT_MEASURED)
        rows.append(cells)
    return _markdown_table((grid.corner, *(header for header, _ in grid.columns)), rows)


def render_lines(lines: Lines, results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    data = results.get(lines.benchmark)
    out = []
    for line in lines.lines:
        try:
            out.append(fill(line, data))
        except KeyError:
            out.append(fill(line, data, missing=NOT_MEASURED))
    return out


def load_average_1min(data: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The 1-minute load average at the start and end of a run, from a results file.

    The harness writes `load_average: {start, end}` ([1, 5, 15] min) since it records it; older
    files have it, if at all, among their figures (accuracy: `load_average_1min_at_start/_end`;
    feature_flow: `load_average_1_5_15_at_start/_end`; scale: `load_averages_1_5_15`, a series).
    """

    def first(value: Any) -> float | None:
        if isinstance(value, list):
            value = value[0] if value else None
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    recorded = data.get("load_average")
    if isinstance(recorded, Mapping) and (recorded.get("start") is not None or recorded.get("end") is not None):
        return first(recorded.get("start")), first(recorded.get("end"))
    figures = data.get("figures") or {}
    for start, end in (("load_average_1min_at_start", "load_average_1min_at_end"),
                       ("load_average_1_5_15_at_start", "load_average_1_5_15_at_end")):
        if start in figures or end in figures:
            return first(figures.get(start)), first(figures.get(end))
    series = figures.get("load_averages_1_5_15")
    if isinstance(series, list) and series:
        return first(series[0]), first(series[-1])
    return None, None


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _load(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def render_runs(runs: Runs, results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    rows = []
    for name in (*runs.benchmarks, *sorted(set(results) - set(runs.benchmarks))):
        data = results.get(name)
        if data is None:
            rows.append([f"`{name}.json`", NOT_MEASURED, "", "", "", "", "", ""])
            continue
        wall = data.get("wall_s")
        wall_text = "?" if wall is None else (f"{wall / 60:.1f} min" if wall >= 120 else f"{wall:.0f} s")
        cores = (data.get("machine") or {}).get("usable_cpus")
        start, end = load_average_1min(data)
        load = NOT_RECORDED if start is None and end is None else f"{_load(start)} -> {_load(end)}"
        git = data.get("git") or {}
        commit = git.get("commit")
        commit_text = NOT_RECORDED if not commit else f"`{commit[:10]}`" + (" (dirty)" if git.get("dirty") else "")
        version = data.get("code_version")
        version_text = f"`{version}`" if version else NOT_RECORDED
        targets = data.get("targets") or []
        met = sum(1 for t in targets if t.get("passed") is True)
        missed = [t for t in targets if t.get("passed") is not True]
        missed_text = "; ".join(
            f"{t.get('name')} ({_number(t.get('value'))}, needs {t.get('op')} {_number(t.get('limit'))})"
            for t in missed)
        rows.append([f"`{name}.json`", "quick" if data.get("quick") else "full", wall_text,
                     "?" if cores is None else str(cores), load, commit_text, version_text,
                     (f"{met} of {len(targets)} met" if targets else "none (a measurement)")
                     + (f"; **missed**: {missed_text}" if missed else "")])
    return _markdown_table(("results file", "set", "time", "cores", "load average (1 min), start -> end",
                            "commit", "code version", "targets"), rows)


def render_block(block: Table | Grid | Lines | Runs, results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    if isinstance(block, Table):
        return render_table(block, results)
    if isinstance(block, Grid):
        return render_grid(block, results)
    if isinstance(block, Lines):
        return render_lines(block, results)
    return render_runs(block, results)


# ------------------------------------------------------------------------------------ README

BEGIN = re.compile(r"^<!-- results:begin (\S+) -->$")
END = re.compile(r"^<!-- results:end (\S+) -->$")


class MarkerError(ValueError):
    """The README's generated blocks are missing, unknown, nested or unclosed."""


def render(readme: str, results: Mapping[str, Mapping[str, Any]],
           blocks: Mapping[str, Table | Grid | Lines | Runs] = BLOCKS) -> str:
    """`readme` with every generated block rewritten from `results`."""
    out: list[str] = []
    open_block: str | None = None
    seen: list[str] = []
    for line in readme.split("\n"):
        begin, end = BEGIN.match(line), END.match(line)
        if open_block is None:
            if end:
                raise MarkerError(f"README: {line!r} without its begin marker")
            out.append(line)
            if begin:
                name = begin.group(1)
                if name not in blocks:
                    raise MarkerError(f"README: unknown results block {name!r}; known: {', '.join(blocks)}")
                if name in seen:
                    raise MarkerError(f"README: results block {name!r} appears twice")
                seen.append(name)
                open_block = name
                out.extend(render_block(blocks[name], results))
        elif begin:
            raise MarkerError(f"README: {line!r} inside the block {open_block!r}")
        elif end:
            if end.group(1) != open_block:
                raise MarkerError(f"README: {line!r} closes {open_block!r}")
            out.append(line)
            open_block = None
        # else: an old generated line, dropped
    if open_block is not None:
        raise MarkerError(f"README: results block {open_block!r} is never closed")
    absent = [name for name in blocks if name not in seen]
    if absent:
        raise MarkerError(f"README: no markers for the results block(s) {', '.join(absent)}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.readme", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 and print a diff when the README is out of date")
    parser.add_argument("--readme", type=Path, default=README, help="the README to rewrite (default: README.md)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="the folder of results JSON files")
    arguments = parser.parse_args(argv)
    current = arguments.readme.read_text(encoding="utf-8")
    try:
        generated = render(current, load_results(arguments.results))
    except MarkerError as error:
        print(error, file=sys.stderr)
        return 2
    if generated == current:
        print(f"{arguments.readme}: up to date with {arguments.results}")
        return 0
    diff = difflib.unified_diff(current.splitlines(keepends=True), generated.splitlines(keepends=True),
                                f"{arguments.readme} (now)", f"{arguments.readme} (from {arguments.results})")
    if arguments.check:
        sys.stdout.writelines(diff)
        print(f"\n{arguments.readme} is out of date: run `python -m benchmarks.readme`", file=sys.stderr)
        return 1
    arguments.readme.write_text(generated, encoding="utf-8")
    print(f"{arguments.readme}: results rewritten from {arguments.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
