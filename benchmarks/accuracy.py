"""Accuracy on synthetic CASIA-B-like and TUM-GAID-like archives: the learned system next to the
ground-truth-joint baseline, per condition and view, and how both change with difficulty.

What runs (every seed fixed, so the figures reproduce on the same software):
  - CASIA-B-like: an archive rendered by `flows.synthesize.synthesize_archive`, then
    `flows.pipeline.run_pipeline` (small pose backbone trained on the training people's
    ground-truth joints, features, GaitNN, describe, evaluate). Train/test split by people
    (`train_subjects="N"`: the first N people train, the rest are tested).
    Reported next to it, on the same test people:
      * `gt_`: the ground-truth-joint baseline (`synth.baseline.gait_descriptor` on the
        sidecar joints, `LdaProjection` fitted on the training people, nearest neighbour);
      * `pred_`: the same baseline on the joints the trained pose network decoded
        (`features/<tag>/joints`, (y, x, p) in stored-frame pixels), so the cost of pose error
        and the value of the learned identity model can be told apart;
      * `learned_nn_`, `learned_svm_`: GaitNN's identification vectors with a nearest
        neighbour / a linear SVM (the protocol's classifiers).
  - TUM-GAID-like: a smaller archive (all walks at 90 degrees), the learned system with the
    CASIA-B run's pose model (pose training is not repeated), and the ground-truth baseline.
    Training people are numbers `TUM_TRAIN` so that the first people, who have the
    session-2 (time-elapsed) recordings, are among the test people.
  - Difficulty: the ground-truth baseline at several `difficulty` values (no rendering
    needed), and the learned system at the difficulties in `Setup.learned_difficulties` (re-using
    the CASIA-B pose model, so only features and GaitNN are redone).

Rank-1 is cross-view (identical view excluded from the gallery) per probe condition; per-view
figures are the probe view's rank-1. Chance is 1 / test people.

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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import Target, run_standalone

NAME = "accuracy"
SIZE = 136  # the small pose backbone's input side: stored frames need no resizing
ARCHIVE_SEED = 2024
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


QUICK = Setup(
    casia_subjects=5, casia_train=3, views=(36, 90), frames=16, tum_subjects=8, tum_train="3-6",
    baseline_difficulties=(0.5, 1.0, 1.5), learned_difficulties=(), difficulty_subjects=8, difficulty_train=4,
    pose=dict(epochs=1, frames_per_sequence=1),
    gait=dict(epochs=2, rnn_layers=1, people_per_batch=2, sequences_per_person=2, validation_fraction=0.0),
    learned_tum=False,
)
FULL = Setup(
    casia_subjects=40, casia_train=24, views=(36, 90, 144), frames=40, tum_subjects=24, tum_train="4-17",
    baseline_difficulties=(0.5, 1.0, 1.5, 2.0), learned_difficulties=(), difficulty_subjects=40,
    difficulty_train=24, pose=dict(epochs=4),
    # Sized for two CPU cores (about 40 s an epoch): one recurrent layer, 16-frame clips. All 24
    # training people fit and none is held out: with 5 held out, validation rank-1 was too noisy
    # to stop on (early stopping restored the weights of epoch 1).
    gait=dict(epochs=20, rnn_layers=1, clip_frames=16, validation_fraction=0.0), learned_tum=True,
)


def run(quick: bool) -> dict[str, Any]:
    setup = QUICK if quick else FULL
    root = Path(os.environ.get("GAITFLOW_ACCURACY_DIR") or Path(tempfile.gettempdir()) / "gaitflow-accuracy")
    root = root / ("quick" if quick else "full")
    root.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {
        "work_dir": str(root), "size_px": SIZE, "frames_per_walk": setup.frames, "casia_views": list(setup.views),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
    }
    with _prefect(root / "home") as settings:
        casia = _experiment(
            "casia", root, settings, layout="casia-b", subjects=setup.casia_subjects, views=setup.views,
            frames=setup.frames, train=str(setup.casia_train), difficulty=1.0, setup=setup, pose_model=None,
        )
        figures.update(casia["figures"])
        pose_model = casia["pose_model"]
        if setup.learned_tum:
            tum = _experiment(
                "tum", root, settings, layout="tum-gaid", subjects=setup.tum_subjects, views=None,
                frames=setup.frames, train=setup.tum_train, difficulty=1.0, setup=setup, pose_model=pose_model,
            )
            figures.update(tum["figures"])
        else:
            figures.update(_baseline_only("tum", "tum-gaid", setup.tum_subjects, None, setup.frames, setup.tum_train, 1.0))
        for difficulty in setup.learned_difficulties:
            tag = f"difficulty_{difficulty:g}".replace(".", "p")
            result = _experiment(
                tag, root, settings, layout="casia-b", subjects=setup.difficulty_subjects, views=setup.views,
                frames=setup.frames, train=str(setup.difficulty_train), difficulty=difficulty, setup=setup,
                pose_model=pose_model,
            )
            figures.update(result["figures"])
    for difficulty in setup.baseline_difficulties:
        tag = f"difficulty_{difficulty:g}".replace(".", "p")
        figures.update(_baseline_only(tag, "casia-b", setup.difficulty_subjects, setup.views, setup.frames,
                                      str(setup.difficulty_train), difficulty, pred_prefix="gt"))
    figures["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    _print_table(figures, setup)

    chance = 1.0 / (setup.casia_subjects - setup.casia_train)
    figures["casia_chance_rank1"] = round(chance, 4)
    # Quick mode checks the machinery (every figure produced), not accuracy: one test person.
    targets = [Target("CASIA-like learned nm rank-1 (nn) produced", figures["casia_learned_nn_rank1_nm"], ">=", 0.0)]
    if not quick:
        targets += [
            Target("CASIA-like learned nm rank-1 (nn) > 2x chance", figures["casia_learned_nn_rank1_nm"], ">", 2 * chance),
            Target("CASIA-like gt-joint baseline nm rank-1", figures["casia_gt_rank1_nm"], ">=", 0.7),
            Target("CASIA-like learned nm rank-1 (nn) > 4x chance", figures["casia_learned_nn_rank1_nm"], ">", 4 * chance),
            # The aim: the learned system beats the joint baseline on the same predicted joints.
            Target("CASIA-like learned nm rank-1 (nn) minus predicted-joint baseline",
                   figures["casia_learned_minus_pred_nm"], ">=", 0.0),
        ]
    return {"figures": figures, "targets": targets}


# ----------------------------------------------------------------------------- experiments


def _experiment(tag: str, root: Path, settings, *, layout: str, subjects: int, views, frames: int, train: str,
                difficulty: float, setup: Setup, pose_model: str | None) -> dict[str, Any]:
    """Renders an archive, runs the pipeline, and scores the baselines on the same split."""
    from flows.params import (
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
        seed=ARCHIVE_SEED, difficulty=difficulty, compute=compute, tracking=tracking,
    )
    started = time.perf_counter()
    synthesize_archive(archive)
    render_s = time.perf_counter() - started
    params = PipelineParams(
        archive=archive.archive, store=folder / "store.zarr", layout=layout,
        protocol=ProtocolOptions(protocol=protocol, train_subjects=train), pose_model=pose_model,
        pose_training=PoseTrainingOptions(**setup.pose), gait_training=GaitTrainingOptions(**setup.gait),
        compute=compute, tracking=tracking,
    )
    started = time.perf_counter()
    summary = run_pipeline(params)
    pipeline_s = time.perf_counter() - started

    figures: dict[str, Any] = {f"{tag}_subjects": subjects, f"{tag}_train_subjects": train,
                               f"{tag}_difficulty": difficulty, f"{tag}_render_s": round(render_s, 1),
                               f"{tag}_pipeline_s": round(pipeline_s, 1)}
    figures.update({f"{tag}_{k}": v for k, v in _stage_seconds(settings.tracking_uri, summary["mlflow_run_id"]).items()})
    evaluation = summary["evaluation"]
    figures[f"{tag}_test_subjects"] = evaluation["test_subjects"]
    for classifier, report in evaluation["results"].items():
        figures.update(_report_figures(f"{tag}_learned_{classifier}_", report))
    if summary.get("pose_training"):
        metrics = summary["pose_training"]["metrics"]
        for key in ("best_val_joint_distance_px", "best_val_pckh", "best_epoch"):
            if key in metrics:
                figures[f"{tag}_pose_{key}"] = round(float(metrics[key]), 4)
    gait_metrics = summary["gait_training"]["metrics"]
    for key in ("best_val_rank1", "epochs_run"):
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
    predicted = []
    for i in ids:
        joints = np.asarray(store.open_stage(i, "features", features_tag)["joints"][:], dtype=np.float64)
        predicted.append(_descriptor(joints[:, :, [1, 0]], float(attrs[i]["fps"])))
    figures.update(_baseline_figures(f"{tag}_pred_", np.array(predicted), records, protocol, train_ids))
    figures.update(_baseline_only(tag, layout, subjects, views, frames, train, difficulty))
    nm = CONDITIONS[protocol][0]
    for name in ("nn", "svm"):
        key = f"{tag}_learned_{name}_rank1_{nm}"
        if key in figures:
            figures[f"{tag}_learned_{'minus_pred' if name == 'nn' else 'svm_minus_pred'}_{nm}"] = round(
                figures[key] - figures[f"{tag}_pred_rank1_{nm}"], 4)
    return {"figures": figures, "pose_model": pose_model or summary["pose_training"]["model_path"]}


def _baseline_only(tag: str, layout: str, subjects: int, views, frames: int, train: str, difficulty: float,
                   pred_prefix: str = "gt") -> dict[str, Any]:
    """The ground-truth-joint baseline on the archive these arguments describe (no rendering)."""
    from evaluation.protocols import split_subjects
    from synth.archive import ArchiveSpec, job_groundtruth, plan_archive

    spec = ArchiveSpec(layout=layout, subjects=subjects, views=views, frames=frames, size=SIZE, seed=ARCHIVE_SEED,
                       difficulty=difficulty)
    descriptors, records = [], []
    for job in plan_archive(spec):
        joints, fps = job_groundtruth(job)
        descriptors.append(_descriptor(joints, fps))
        records.append(job.labels())
    protocol = "casia-b" if layout == "casia-b" else "tum-gaid"
    train_ids, _ = split_subjects([r["subject"] for r in records], protocol, train)
    return _baseline_figures(f"{tag}_{pred_prefix}_", np.array(descriptors), records, protocol, train_ids)


def _descriptor(joints_xy: np.ndarray, fps: float) -> np.ndarray:
    from synth.baseline import gait_descriptor

    return np.nan_to_num(gait_descriptor(joints_xy, fps), nan=0.0, posinf=0.0, neginf=0.0)


def _baseline_figures(prefix: str, descriptors: np.ndarray, records: list[dict], protocol: str,
                      train_ids) -> dict[str, Any]:
    from evaluation.labels import SequenceLabels
    from evaluation.protocols import evaluate
    from synth.baseline import LdaProjection

    labels = SequenceLabels.from_records(records)
    in_train = np.isin(labels.subject, sorted(train_ids))
    projection = LdaProjection().fit(descriptors[in_train], labels.subject[in_train])
    report = evaluate(projection.transform(descriptors), labels, protocol, classifier="nn",
                      train_subjects=sorted(train_ids))
    return _report_figures(prefix, report.to_dict())


def _report_figures(prefix: str, report: dict) -> dict[str, Any]:
    out = {}
    for condition, value in report["rank1_mean"].items():
        out[f"{prefix}rank1_{condition}"] = round(float(value), 4)
    for condition, by_view in report["rank1"].items():
        for view, value in by_view.items():
            out[f"{prefix}rank1_{condition}_{int(view):03d}"] = round(float(value), 4)
    return out


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
def _prefect(home: Path) -> Iterator[Any]:
    """A private Prefect server and MLflow store under `home` (the pattern of tests/conftest.py)."""
    from gaitflow.services import in_process_prefect
    from gaitflow.settings import Settings

    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", prefect_api_url=None,
                        dask_address=None)
    with in_process_prefect(settings):
        yield settings


def _print_table(figures: dict[str, Any], setup: Setup) -> None:
    """Rank-1 per condition: learned (nn, svm) next to the baselines, per experiment."""
    rows = []
    tags = ["casia", "tum"] + [f"difficulty_{d:g}".replace(".", "p")
                               for d in sorted(set(setup.baseline_difficulties) | set(setup.learned_difficulties))]
    for tag in tags:
        conditions = CONDITIONS["tum-gaid" if tag == "tum" else "casia-b"]
        for condition in conditions:
            cells = [figures.get(f"{tag}_{kind}_rank1_{condition}")
                     for kind in ("learned_nn", "learned_svm", "pred", "gt")]
            if any(c is not None for c in cells):
                rows.append((tag, condition, *cells))
    print(f"\n{'experiment':16s} {'cond':4s} {'learned-nn':>10s} {'learned-svm':>11s} {'pred-joints':>11s} {'gt-joints':>9s}")
    for tag, condition, *cells in rows:
        text = " ".join(f"{'-' if c is None else f'{100 * c:.1f}%':>{w}s}" for c, w in zip(cells, (10, 11, 11, 9)))
        print(f"{tag:16s} {condition:4s} {text}")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    return run_standalone(NAME, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
