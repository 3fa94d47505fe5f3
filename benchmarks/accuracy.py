"""Accuracy on synthetic CASIA-B-like and TUM-GAID-like archives: the learned system next to the
ground-truth-joint baseline, per condition and view, and how both change with difficulty.

What runs (every seed fixed, so the figures reproduce on the same software):
  - CASIA-B-like: an archive rendered by `flows.synthesize.synthesize_archive`, then
    `flows.pipeline.run_pipeline` (small pose backbone trained on the training people's
    ground-truth joints, features, GaitNN, describe, evaluate). Train/test split by people
    (`train_subjects="N"`: the first N people train, the rest are tested).
    Reported next to it, on the same test people:
      * `gt`: the ground-truth-joint baseline (`synth.baseline.JointIdentifier` on the
        sidecar joints: swap repair, smoothing, robust walk statistics, an LDA fitted on the
        training people's walks with noisy copies, nearest neighbour);
      * `pred`: the same baseline on the joints the trained pose network decoded
        (`features/<tag>/joints`, (y, x, p) in stored-frame pixels), through the same
        identifier, so the cost of pose error
        and the value of the learned identity model can be told apart;
      * `learned_nn`, `learned_svm`: GaitNN's identification vectors with a nearest
        neighbour / a linear SVM (the protocol's classifiers).
  - TUM-GAID-like: a smaller archive (all walks at 90 degrees), the learned system with the
    CASIA-B run's pose model (pose training is not repeated), and the ground-truth baseline.
    Training people are numbers `TUM_TRAIN` so that the first people, who have the
    session-2 (time-elapsed) recordings, are among the test people.
  - Difficulty: the ground-truth baseline at several `difficulty` values (no rendering
    needed), and the learned system at the difficulties in `Setup.learned_difficulties` (re-using
    the CASIA-B pose model, so only features and GaitNN are redone).

Rank-1 follows `evaluation.protocols.evaluate` (report format `gaitflow.protocol_report/2`).
The headline is the standard protocol (`std`): for CASIA-B the single-view-gallery protocol of
GaitSet / OpenGait (gallery nm-01..04 at one view g, probe view p scored against every g != p,
averaged over g, then over the probe views); for TUM GAID the experiment's gallery. The CASIA-B
report also has the older, easier pooled-gallery figure (`pooled`: one gallery holding every view
but the probe's), kept as a secondary figure. Chance is 1 / gallery identities.

Figure names (fractions in [0, 1]; `<tag>` is "casia", "tum" or "difficulty_<d>", `<kind>`
"learned_nn", "learned_svm", "gt" or "pred", `<c>` a probe condition):
  <tag>_std_<kind>_rank1_<c>            the standard rank-1 (the headline)
  <tag>_std_<kind>_rank1_<c>_<view:03d> its per-probe-view figures
  <tag>_std_<kind>_rank1_average_<experiment>  mean over conditions ("all"; TUM "session-1",
                                        "time-elapsed")
  <tag>_std_<kind>_{cmc_rank1, cmc_rank5, mean_average_precision, mean_reciprocal_rank,
                    equal_error_rate}   over every query of the standard protocol
  <tag>_pooled_<kind>_rank1_<c>[_<view:03d>]  the pooled-gallery figure (CASIA-B only)
  <tag>_std_chance, <tag>_pooled_chance chance of the first condition (nm / n), whose gallery
                                        every session-1 probe faces; <tag>_std_chance_<c>,
                                        <tag>_pooled_chance_<c> per condition (TUM's
                                        time-elapsed gallery holds fewer people);
                                        <tag>_std_chance_cmc_rank1 for cmc_rank1
  <tag>_std_learned_<nn|svm>_minus_pred_<c>  standard rank-1, learned minus the predicted-joint
                                        baseline, for the first condition

Pose quality (`evaluation.pose_quality`, shares of body height; `stages.pose_training.held_out_pose_quality`):
  pose_<name>                           on the CASIA-like test people, whom the pose network never
                                        trained on: mean_error, pck_0p1, pck_0p2, <group>_pck_0p1
                                        (legs, hips, torso_head, arms), swap_rate, jitter
  pose_collapse_rate                    knee and ankle pairs put on one limb (`limb_collapses`)
  pose_style_shift_<name>               the same on other people rendered in the `shifted` style,
                                        which pose training never saw
  pose_identity_retained[_<c>]          the joint baseline's standard rank-1 on predicted joints
                                        over the same on true joints (mean over conditions)
  noise_<independent|smooth>_<size>,    the joint baseline's standard nm rank-1 on true joints
  noise_swap_<legs|limbs>_<rate>        with noise of known size added: what pose error of each
                                        size leaves of the identity (read identity retained
                                        beside it); every archive's people at `Setup.spread`
  noise_spread1_<independent|smooth>_<size>  the same for the same archive at the walker's default
                                        spread of 1, for reference
  spread                                the between-person spread of every archive here

Quick mode is a tiny archive that checks the machinery end to end (a few minutes), not
accuracy. Full mode takes on the order of half an hour to an hour on two shared cores.
Work folders are kept under `$GAITFLOW_ACCURACY_DIR` (default: a folder in the system's
temporary directory), so a second run re-uses every stage already done (same archive, same
parameters); delete it for a cold run.

Run: `python -m benchmarks --full --only accuracy` (or `python -m benchmarks.accuracy --full`);
results go to benchmarks/results/accuracy.json.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import Target, run_standalone
from evaluation.report import REPORT_FORMAT

NAME = "accuracy"
SIZE = 136  # the small pose backbone's input side: stored frames need no resizing
ARCHIVE_SEED = 2024
OPEN_SET_FAR = 0.01  # the false-accept rate `gaitflow identify` states by default
CONDITIONS = {"casia-b": ("nm", "bg", "cl"), "tum-gaid": ("n", "b", "s", "tn", "tb", "ts")}


@dataclasses.dataclass(frozen=True)
class Setup:
    """Sizes of one mode."""

    casia_subjects: int
    casia_train: int
    views: tuple[int, ...]
    frames: int
    tum_subjects: int
    tum_train: str  # "A-B"
    baseline_difficulties: tuple[float, ...]
    learned_difficulties: tuple[float, ...]  # besides 1.0
    difficulty_subjects: int
    difficulty_train: int
    pose: dict
    gait: dict
    learned_tum: bool
    style_subjects: int
    spread: float  # between-person variability of the archives' people (synth.archive.ArchiveSpec.spread)


QUICK = Setup(
    casia_subjects=5, casia_train=3, views=(36, 90), frames=16, tum_subjects=8, tum_train="3-6",
    baseline_difficulties=(0.5, 1.0, 1.5), learned_difficulties=(), difficulty_subjects=8, difficulty_train=4,
    pose=dict(epochs=1, frames_per_sequence=1),
    gait=dict(epochs=2, rnn_layers=1, people_per_batch=2, sequences_per_person=2, validation_fraction=0.0),
    learned_tum=False, style_subjects=2, spread=2.0,
)
FULL = Setup(
    casia_subjects=40, casia_train=24, views=(36, 90, 144), frames=40, tum_subjects=24, tum_train="4-17",
    baseline_difficulties=(0.5, 1.0, 1.5, 2.0), learned_difficulties=(), difficulty_subjects=40,
    # Pose: 10 new frames of each training walk an epoch, 5 epochs (36k frames seen, 20 minutes on two
    # idle cores, inside the 40-minute budget). The fifth epoch moved held-out PCK by 0.001 over four:
    # the small trunk has plateaued, and more steps are not the lever.
    difficulty_train=24, pose=dict(epochs=5, frames_per_sequence=10),
    # Sized for two CPU cores (about 40 s an epoch): one recurrent layer, 16-frame clips. All 24
    # training people fit and none is held out: with 5 held out, validation rank-1 was too noisy
    # to stop on (early stopping restored the weights of epoch 1).
    # Features as they are, not walk-centred: on held-out training people (16 fit, 8 validate, 10 epochs,
    # two splits) centring cost 13 points of SVM rank-1 on one split (24 % against 38 %, chance 12.5 %)
    # and made no difference on the other (35 % both); it removes body shape along with clothing.
    gait=dict(epochs=20, rnn_layers=1, clip_frames=16, validation_fraction=0.0, feature_centering="none"),
    learned_tum=True,
    style_subjects=10,
    # People twice as different as the walker's literature-based default. At spread 1 the true joints
    # identify people only through detail no realistic pose error keeps: on an archive of another seed
    # (7001; 40 people, 24 train) temporally smooth joint noise of 2 % of body height took the joint
    # baseline's nm rank-1 from 85 % to 29 %, and 5 % to 18 %. At spread 2: 93 %, 75 %, 35 %; at 3:
    # 94 %, 87 %, 57 %. Of those, 2 is the smallest that keeps four fifths of the identity at 2 % error.
    spread=2.0,
)


def run(quick: bool) -> dict[str, Any]:
    setup = QUICK if quick else FULL
    root = Path(os.environ.get("GAITFLOW_ACCURACY_DIR") or Path(tempfile.gettempdir()) / "gaitflow-accuracy")
    root = root / ("quick" if quick else "full")
    root.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {
        "work_dir": str(root), "size_px": SIZE, "frames_per_walk": setup.frames, "casia_views": list(setup.views),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2), "spread": setup.spread,
    }
    with private_prefect(root / "home") as settings:
        casia = _experiment(
            "casia", root, settings, layout="casia-b", subjects=setup.casia_subjects, views=setup.views,
            frames=setup.frames, train=str(setup.casia_train), difficulty=1.0, setup=setup, pose_model=None,
        )
        merge_figures(figures, casia["figures"])
        pose_model = casia["pose_model"]
        figures.update(_style_shift_quality(root, pose_model, setup))
        if setup.learned_tum:
            tum = _experiment(
                "tum", root, settings, layout="tum-gaid", subjects=setup.tum_subjects, views=None,
                frames=setup.frames, train=setup.tum_train, difficulty=1.0, setup=setup, pose_model=pose_model,
            )
            merge_figures(figures, tum["figures"])
        else:
            merge_figures(figures, _baseline_only("tum", "tum-gaid", setup.tum_subjects, None, setup.frames,
                                           setup.tum_train, 1.0, setup.spread))
        for difficulty in setup.learned_difficulties:
            tag = f"difficulty_{difficulty:g}".replace(".", "p")
            result = _experiment(
                tag, root, settings, layout="casia-b", subjects=setup.difficulty_subjects, views=setup.views,
                frames=setup.frames, train=str(setup.difficulty_train), difficulty=difficulty, setup=setup,
                pose_model=pose_model,
            )
            merge_figures(figures, result["figures"])
    figures.update(_noise_curve(setup.casia_subjects, setup.views, setup.frames, str(setup.casia_train), setup.spread))
    if setup.spread != 1.0:  # the same people at the walker's default spread, for reference
        reference = _noise_curve(setup.casia_subjects, setup.views, setup.frames, str(setup.casia_train), 1.0,
                                 swaps=False)
        figures.update({key.replace("noise_", "noise_spread1_", 1): value for key, value in reference.items()})
    for difficulty in setup.baseline_difficulties:
        tag = f"difficulty_{difficulty:g}".replace(".", "p")
        merge_figures(figures, _baseline_only(tag, "casia-b", setup.difficulty_subjects, setup.views, setup.frames,
                                       str(setup.difficulty_train), difficulty, setup.spread, kind="gt"))
    figures["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    _print_table(figures, setup)

    return {"figures": figures, "targets": targets(figures, quick)}


def targets(figures: Mapping[str, Any], quick: bool) -> list[Target]:
    """The bounds a run must meet, on the figures `run` wrote.

    Quick mode checks the machinery end to end (a failure raises), not accuracy: too few test
    people for a bound that means anything, so it sets none. The multiples of chance and the
    comparison with the predicted-joint baseline are on the standard (headline) figure, against
    its own chance level; the ground-truth baseline's 0.7 was set on the pooled-gallery figure
    (the only one measured then) and stays on it.
    """
    if quick:
        return []
    chance = figures["casia_std_chance"]
    learned_nm = figures["casia_std_learned_nn_rank1_nm"]
    # Recognition from pixels at least 0.9x what the same people's true joints allow.
    against_truth = [
        Target(f"CASIA-like learned {c} standard rank-1 (svm) / gt-joint baseline",
               figures[f"casia_std_learned_svm_rank1_{c}"] / max(figures[f"casia_std_gt_rank1_{c}"], 1e-9), ">=", 0.9)
        for c in CONDITIONS["casia-b"]
    ]
    pose = [
        Target("pose PCK@0.1 of body height, people never trained on", figures.get("pose_pck_0p1", float("nan")), ">=", 0.9),
        Target("pose PCK@0.1, legs", figures.get("pose_legs_pck_0p1", float("nan")), ">=", 0.9),
        Target("pose PCK@0.1, style never trained on", figures.get("pose_style_shift_pck_0p1", float("nan")), ">=", 0.8),
    ]
    # People never enrolled must be called "unknown" at the stated rate; the bound allows for the
    # few hundred probes that measure it.
    open_set = [
        Target("open-set false-accept rate of people never enrolled, within the stated rate's 95 % bound",
               figures["casia_open_set_far_measured"], "<=", figures["casia_open_set_far_bound"]),
    ] if "casia_open_set_far_measured" in figures else []
    return against_truth + pose + open_set + [
        Target("CASIA-like learned nm standard rank-1 (nn) > 2x chance", learned_nm, ">", 2 * chance),
        Target("CASIA-like gt-joint baseline nm pooled-gallery rank-1", figures["casia_pooled_gt_rank1_nm"], ">=", 0.7),
        Target("CASIA-like learned nm standard rank-1 (nn) > 4x chance", learned_nm, ">", 4 * chance),
        # The aim: the learned system beats the joint baseline on the same predicted joints.
        Target("CASIA-like learned nm standard rank-1 (nn) minus predicted-joint baseline",
               figures["casia_std_learned_nn_minus_pred_nm"], ">=", 0.0),
    ]


# ----------------------------------------------------------------------------- experiments


def _experiment(tag: str, root: Path, settings, *, layout: str, subjects: int, views, frames: int, train: str,
                difficulty: float, setup: Setup, pose_model: str | None) -> dict[str, Any]:
    """Renders an archive, runs the pipeline, and scores the baselines on the same split."""
    from params import (
        ComputeParams, GaitTrainingOptions, PipelineParams, PoseTrainingOptions, ProtocolOptions, SynthesizeParams,
        TrackingParams,
    )
    from flows.pipeline import run_pipeline
    from flows.synthesize import synthesize_archive

    protocol = "casia-b" if layout == "casia-b" else "tum-gaid"
    folder = root / tag
    compute = ComputeParams(n_workers=2, scratch_dir=settings.scratch)
    tracking = TrackingParams(tracking_uri=settings.tracking_uri, experiment=f"accuracy-{tag}",
                              artifact_root=settings.artifact_root)
    archive = SynthesizeParams(
        archive=folder / "archive", layout=layout, subjects=subjects, views=views, frames=frames, size=SIZE,
        seed=ARCHIVE_SEED, difficulty=difficulty, spread=setup.spread, compute=compute, tracking=tracking,
    )
    started = time.perf_counter()
    synthesize_archive(**dict(archive))
    render_s = time.perf_counter() - started
    params = PipelineParams(
        archive=archive.archive, store=folder / "store.zarr", layout=layout,
        protocol=ProtocolOptions(protocol=protocol, train_subjects=train), pose_model=pose_model,
        pose_training=PoseTrainingOptions(**setup.pose), gait_training=GaitTrainingOptions(**setup.gait),
        compute=compute, tracking=tracking,
    )
    started = time.perf_counter()
    summary = run_pipeline(**dict(params))
    pipeline_s = time.perf_counter() - started

    figures: dict[str, Any] = {f"{tag}_subjects": subjects, f"{tag}_train_subjects": train,
                               f"{tag}_difficulty": difficulty, f"{tag}_render_s": round(render_s, 1),
                               f"{tag}_pipeline_s": round(pipeline_s, 1)}
    figures.update({f"{tag}_{k}": v for k, v in _stage_seconds(settings.tracking_uri, summary["mlflow_run_id"]).items()})
    evaluation = summary["evaluation"]
    figures[f"{tag}_test_subjects"] = evaluation["test_subjects"]
    for classifier, report in evaluation["results"].items():
        merge_figures(figures, report_figures(tag, f"learned_{classifier}", report))
    if summary.get("pose_training"):
        metrics = summary["pose_training"]["metrics"]
        for key in ("best_val_joint_distance_px", "best_val_pckh", "best_epoch"):
            if key in metrics:
                figures[f"{tag}_pose_{key}"] = round(float(metrics[key]), 4)
        # Pose quality on the test people, whom the pose network never trained on.
        figures.update(_pose_figures("pose", {k.removeprefix("heldout/"): v for k, v in metrics.items()
                                              if k.startswith("heldout/")}))
    gait_metrics = summary["gait_training"]["metrics"]
    # The last epoch's training loss and accuracy (on the training people) show whether GaitNN fit at all.
    for key in ("best_val_rank1", "epochs_run", "accuracy", "loss"):
        if key in gait_metrics:
            figures[f"{tag}_gait_{key}"] = round(float(gait_metrics[key]), 4)

    # Baselines on the same people: ground-truth joints and the pose network's joints.
    from evaluation.protocols import split_subjects
    from storage.store import SequenceStore

    store = SequenceStore(params.store)
    features_tag = summary["features"]["pose_model"]
    attrs = store.all_sequence_attrs()
    ids = sorted(attrs)
    records = [attrs[i] for i in ids]
    train_ids, _ = split_subjects([r["subject"] for r in records], protocol, train)
    tracks, rates = [], []
    for i in ids:
        joints = np.asarray(store.open_stage(i, "features", features_tag)["joints"][:], dtype=np.float64)
        tracks.append(joints[:, :, [1, 0]])  # (y, x, p) -> (x, y)
        rates.append(float(attrs[i]["fps"]))
    merge_figures(figures, baseline_figures(tag, "pred", tracks, rates, records, protocol, train_ids))
    merge_figures(figures, _baseline_only(tag, layout, subjects, views, frames, train, difficulty, setup.spread))
    figures.update(_minus_pred(tag, protocol, figures))
    if tag == "casia":
        figures.update(_identity_retained(figures))
        test_people = sorted({r["subject"] for r in records} - set(train_ids))
        training_people = set(train_ids)
        training_walks = [i for i, record in zip(ids, records) if record["subject"] in training_people]
        figures.update(_open_set_figures(tag, store, summary["describe"]["gait_model"], test_people, training_walks))
    return {"figures": figures, "pose_model": pose_model or summary["pose_training"]["model_path"]}


def _open_set_figures(tag: str, store, gait_model: str, test_people: Sequence[str], training_walks: Sequence[str],
                      far: float = OPEN_SET_FAR, classifier: str = "svm") -> dict[str, Any]:
    """Open-set identification as `gaitflow identify` does it, on the test people: the first half
    enrol their nm-01..04 walks (every view) into a gallery; the training people's walks, scored
    against it as strangers, set the threshold at false-accept rate `far` (the gallery's own
    attempts where there are too few); every other walk of every test person is a probe. The
    second half were never enrolled, so any name they get is a false accept.

    Figures `<tag>_open_set_<name>`: far_target, far_calibration (on the calibration attempts),
    calibration_attempts (how many) and calibration_strangers (1 when strangers set it),
    far_measured (on the people not enrolled), far_bound (the largest measured rate consistent
    with `far` at about 95 %, given the number of those probes), dir (enrolled probes named
    correctly), rank1 (enrolled probes whose best match is right, threshold ignored), and counts.
    """
    from evaluation.open_set import calibrated_threshold, identify_probes, open_set_rates
    from stages.identification import stored_vectors

    enrolled = list(test_people[: len(test_people) // 2])
    if len(enrolled) < 2:  # a threshold needs two enrolled people, and someone must stay out
        return {}
    attrs = store.all_sequence_attrs()
    walks = sorted(i for i in attrs if attrs[i]["subject"] in set(test_people))
    in_gallery = {i for i in walks if attrs[i]["subject"] in enrolled and attrs[i]["condition"] == "nm"
                  and attrs[i]["index"] <= 4}
    gallery_ids, gallery, _ = stored_vectors(store, sorted(in_gallery), gait_model)
    probe_ids, probes, _ = stored_vectors(store, [i for i in walks if i not in in_gallery], gait_model)
    gallery_subjects = np.array([attrs[i]["subject"] for i in gallery_ids])
    stranger_ids, strangers, _ = stored_vectors(store, list(training_walks), gait_model)
    threshold = calibrated_threshold(gallery, gallery_subjects, far, strangers,
                                     np.array([attrs[i]["subject"] for i in stranger_ids]))
    answer = identify_probes(classifier, gallery, gallery_subjects, probes, threshold)
    rates = open_set_rates(answer, np.array([attrs[i]["subject"] for i in probe_ids]), np.array(enrolled))
    bound = far + 2.0 * float(np.sqrt(far * (1.0 - far) / max(rates.impostor_probes, 1)))
    prefix = f"{tag}_open_set"
    return {
        f"{prefix}_far_target": far, f"{prefix}_far_calibration": _rounded(threshold.far),
        f"{prefix}_calibration_attempts": threshold.impostors,
        f"{prefix}_calibration_strangers": int(threshold.calibration == "strangers"),
        f"{prefix}_far_measured": _rounded(rates.false_accept_rate), f"{prefix}_far_bound": _rounded(bound),
        f"{prefix}_dir": _rounded(rates.detection_identification_rate), f"{prefix}_rank1": _rounded(rates.rank1),
        f"{prefix}_enrolled_people": len(enrolled), f"{prefix}_other_people": len(test_people) - len(enrolled),
        f"{prefix}_genuine_probes": rates.genuine_probes, f"{prefix}_impostor_probes": rates.impostor_probes,
    }


def _pose_figures(prefix: str, quality: Mapping[str, Any]) -> dict[str, Any]:
    """`evaluation.pose_quality` figures as `<prefix>_<name>`: "pck_0.1" -> "pck_0p1",
    "legs/pck_0.1" -> "legs_pck_0p1"."""
    return {f"{prefix}_{key.replace('/', '_').replace('.', 'p')}": _rounded(value)
            for key, value in quality.items() if isinstance(value, (int, float))}


def _identity_retained(figures: Mapping[str, Any]) -> dict[str, Any]:
    """The joint baseline's standard rank-1 on predicted joints over the same on true joints, per
    condition and their mean (`pose_identity_retained`): how much identity the pose network keeps."""
    out, shares = {}, []
    for condition in CONDITIONS["casia-b"]:
        predicted, true = figures.get(f"casia_std_pred_rank1_{condition}"), figures.get(f"casia_std_gt_rank1_{condition}")
        if predicted is not None and true:
            out[f"pose_identity_retained_{condition}"] = round(predicted / true, 4)
            shares.append(predicted / true)
    if shares:
        out["pose_identity_retained"] = round(float(np.mean(shares)), 4)
    return out


def _style_shift_quality(root: Path, pose_model: str, setup: "Setup") -> dict[str, Any]:
    """Pose quality on walkers rendered in the `shifted` style, which pose training never saw, of
    people who are in no other archive here (another seed): `pose_style_shift_<name>`."""
    from stages.models import file_digest, load_cached
    from stages.pose_training import held_out_pose_quality
    from storage.frames import FrameSpec
    from storage.ingest import ingest_sequence
    from storage.manifest import discover
    from storage.store import SequenceStore
    from synth.archive import ArchiveSpec, write_archive

    folder = root / "style-shift"
    spec = ArchiveSpec(subjects=setup.style_subjects, views=setup.views, walks=(("nm", 2),), frames=setup.frames,
                       size=SIZE, seed=ARCHIVE_SEED + 1, style="shifted")
    write_archive(spec, folder / "archive")
    store = SequenceStore(folder / "store.zarr", create=True)
    with store.writer():
        for entry in discover(folder / "archive", "casia-b").entries:
            ingest_sequence(store, entry, FrameSpec(size=SIZE), layout="casia-b")
    model = load_cached(pose_model, file_digest(pose_model))
    quality = held_out_pose_quality(store, model, store.sequence_ids(), seed=0, max_sequences=10**6)
    return _pose_figures("pose_style_shift", quality)


def _baseline_only(tag: str, layout: str, subjects: int, views, frames: int, train: str, difficulty: float,
                   spread: float, kind: str = "gt") -> dict[str, Any]:
    """The ground-truth-joint baseline on the archive these arguments describe (no rendering)."""
    from evaluation.protocols import split_subjects

    tracks, rates, records = _groundtruth_tracks(layout, subjects, views, frames, difficulty, spread)
    protocol = "casia-b" if layout == "casia-b" else "tum-gaid"
    train_ids, _ = split_subjects([r["subject"] for r in records], protocol, train)
    return baseline_figures(tag, kind, tracks, rates, records, protocol, train_ids)


def _groundtruth_tracks(layout: str, subjects: int, views, frames: int, difficulty: float, spread: float):
    """(true joint tracks (T, 16, 2), frame rates, labels) of every walk of the archive these
    arguments describe, computed without rendering."""
    from synth.archive import ArchiveSpec, archive_groundtruth

    return archive_groundtruth(ArchiveSpec(layout=layout, subjects=subjects, views=views, frames=frames, size=SIZE,
                                           seed=ARCHIVE_SEED, difficulty=difficulty, spread=spread))


def baseline_figures(tag: str, kind: str, tracks: Sequence[np.ndarray], rates: Sequence[float],
                      records: list[dict], protocol: str, train_ids) -> dict[str, Any]:
    """The joint identifier (`synth.baseline.JointIdentifier`: the same code on true and predicted
    joints, fitted on the training people's walks with noisy copies) scored under the protocol."""
    from evaluation.labels import SequenceLabels
    from evaluation.protocols import evaluate
    from synth.baseline import JointIdentifier

    labels = SequenceLabels.from_records(records)
    fit = np.flatnonzero(np.isin(labels.subject, sorted(train_ids)))
    identifier = JointIdentifier().fit([tracks[i] for i in fit], [rates[i] for i in fit], labels.subject[fit])
    report = evaluate(identifier.transform(tracks, rates), labels, protocol, classifier="nn",
                      train_subjects=sorted(train_ids))
    return report_figures(tag, kind, report.to_dict())


def _noise_curve(subjects: int, views, frames: int, train: str, spread: float, swaps: bool = True) -> dict[str, Any]:
    """The joint identifier's standard nm rank-1 on true joints with noise of known size added
    (`synth.noise_curve.noise_sensitivity`, fitted on equally noisy training walks):
    `noise_<kind>_<size>` for independent and temporally smooth noise (size: SD per coordinate
    as a share of body height, e.g. "0p02") and left/right swaps (`noise_swap_<parts>_<rate>`)."""
    from evaluation.protocols import split_subjects
    from synth.noise_curve import noise_sensitivity

    tracks, rates, records = _groundtruth_tracks("casia-b", subjects, views, frames, 1.0, spread)
    train_ids, _ = split_subjects([r["subject"] for r in records], "casia-b", train)
    curve = noise_sensitivity(tracks, rates, records, sorted(train_ids), protocol="casia-b", seed=ARCHIVE_SEED,
                              **({} if swaps else {"swap_rates": ()}))
    out = {}
    for kind, points in curve["curves"].items():
        for size, value in points.items():
            out[f"noise_{kind}_{str(size).replace('.', 'p')}"] = _rounded(value)
    return out


def report_figures(tag: str, kind: str, report: Mapping[str, Any]) -> dict[str, Any]:
    """A protocol report's dict (`ProtocolReport.to_dict`) as figures named as the module says.

    Raises ValueError for a dict of another format (an older report holds other figures under
    other keys).
    """
    if report.get("format") != REPORT_FORMAT:
        raise ValueError(f"{tag} {kind}: not a {REPORT_FORMAT} report (format {report.get('format')!r})")
    out: dict[str, Any] = {}
    for protocol in ("std", "pooled"):
        name = "standard" if protocol == "std" else "pooled"
        for condition, value in report[f"{name}_rank1"].items():
            out[f"{tag}_{protocol}_{kind}_rank1_{condition}"] = _rounded(value)
        for condition, by_view in report[f"{name}_rank1_by_view"].items():
            for view, value in by_view.items():
                out[f"{tag}_{protocol}_{kind}_rank1_{condition}_{int(view):03d}"] = _rounded(value)
        chance = report["chance" if protocol == "std" else "pooled_chance"]
        for condition, value in chance.items():
            out[f"{tag}_{protocol}_chance_{condition}"] = _rounded(value)
        first = [c for c in _conditions(report["protocol"]) if c in chance]
        if first:
            out[f"{tag}_{protocol}_chance"] = _rounded(chance[first[0]])
    for experiment, value in report["standard_rank1_average"].items():
        out[f"{tag}_std_{kind}_rank1_average_{experiment}"] = _rounded(value)
    for name in ("cmc_rank1", "cmc_rank5", "mean_average_precision", "mean_reciprocal_rank", "equal_error_rate"):
        out[f"{tag}_std_{kind}_{name}"] = _rounded(report[name])
    out[f"{tag}_std_chance_cmc_rank1"] = _rounded(report["chance_cmc_rank1"])
    return out


def _minus_pred(tag: str, protocol: str, figures: Mapping[str, Any]) -> dict[str, Any]:
    """Standard rank-1 of the first condition (nm / n), learned (nn, svm) minus the predicted-joint
    baseline: `<tag>_std_learned_<nn|svm>_minus_pred_<condition>`."""
    first = CONDITIONS[protocol][0]
    predicted = figures.get(f"{tag}_std_pred_rank1_{first}")
    out = {}
    for classifier in ("nn", "svm"):
        learned = figures.get(f"{tag}_std_learned_{classifier}_rank1_{first}")
        if learned is not None and predicted is not None:
            out[f"{tag}_std_learned_{classifier}_minus_pred_{first}"] = round(learned - predicted, 4)
    return out


def merge_figures(figures: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Adds `new` to `figures`. Chance levels are a property of the split, the same for every
    kind: the first report's stay (all kinds score the same test people)."""
    for key, value in new.items():
        if "_chance" in key:
            figures.setdefault(key, value)
        else:
            figures[key] = value


def _conditions(protocol: str) -> tuple[str, ...]:
    return CONDITIONS.get(protocol, ())


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _stage_seconds(tracking_uri: str, run_id: str) -> dict[str, float]:
    """Wall seconds of each stage run nested under the pipeline's MLflow run."""
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri)
        parent = client.get_run(run_id)
        runs = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
        out = {}
        for r in runs:
            if r.info.end_time and r.info.start_time:
                out[f"stage_{r.info.run_name}_s"] = round((r.info.end_time - r.info.start_time) / 1000, 1)
        return out
    except Exception as error:  # timings are a courtesy, never a failure
        return {"stage_seconds_error": repr(error)}


@contextlib.contextmanager
def private_prefect(home: Path) -> Iterator[Any]:
    """A private Prefect server and MLflow store under `home` (the pattern of tests/conftest.py)."""
    from gaitflow.services import in_process_prefect
    from gaitflow.settings import Settings

    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", prefect_api_url=None,
                        dask_address=None)
    with in_process_prefect(settings):
        yield settings


def _print_table(figures: Mapping[str, Any], setup: Setup) -> None:
    """Rank-1 per condition: learned (nn, svm) next to the baselines and chance, per experiment,
    standard protocol first, then the pooled-gallery figure where there is one."""
    kinds = ("learned_nn", "learned_svm", "pred", "gt")
    widths = (10, 11, 11, 9, 7)
    tags = ["casia", "tum"] + [f"difficulty_{d:g}".replace(".", "p")
                               for d in sorted(set(setup.baseline_difficulties) | set(setup.learned_difficulties))]
    rows = []
    for protocol in ("std", "pooled"):
        for tag in tags:
            for condition in CONDITIONS["tum-gaid" if tag == "tum" else "casia-b"]:
                cells = [figures.get(f"{tag}_{protocol}_{kind}_rank1_{condition}") for kind in kinds]
                if any(c is not None for c in cells):
                    rows.append((protocol, tag, condition, *cells, figures.get(f"{tag}_{protocol}_chance_{condition}")))
    print(f"\n{'protocol':8s} {'experiment':16s} {'cond':4s} {'learned-nn':>10s} {'learned-svm':>11s} "
          f"{'pred-joints':>11s} {'gt-joints':>9s} {'chance':>7s}")
    for protocol, tag, condition, *cells in rows:
        text = " ".join(f"{'-' if c is None else f'{100 * c:.1f}%':>{w}s}" for c, w in zip(cells, widths))
        print(f"{protocol:8s} {tag:16s} {condition:4s} {text}")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    return run_standalone(NAME, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
