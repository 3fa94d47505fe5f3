"""GaitNN's ceiling: the learned identity model on ideal pose features, on the accuracy benchmark's
CASIA-B-like archive and split.

The accuracy benchmark's learned system falls short of the ground-truth-joint baseline. This one
tells apart the two places the identity can be lost: the pose network's features, or GaitNN
(with its SVM) learning identities from 24 training people. It renders the same archive as
`benchmarks/accuracy.py` (same seed, people, views, frames and spread), stores in place of the pose
network's features the maps a perfect pose network would give (`nets.heatmaps.joint_feature_maps`:
Gaussian maps of the true joints on the 17x17 feature grid), and runs the product's own train-gait,
describe and evaluate flows on them with the accuracy benchmark's GaitNN options. Two kinds of
ideal features:

  exact         every joint where it is, left and right told apart;
  sides_merged  the same, but each left/right pair's two channels both hold both limbs: a pose
                network that finds every limb exactly but cannot say which is the left one
                (what the trained network does: its left and right maps hold the same blobs).

Figures (standard protocol, fractions; `<kind>` "exact_svm", "exact_nn", "sides_merged_svm",
"sides_merged_nn", "gt" for the joint baseline on the same archive's true joints; `<c>` nm, bg, cl):
  casia_std_<kind>_rank1_<c>, casia_std_chance_<c>, and the other protocol figures as in accuracy
  <kind>_gait_accuracy                   GaitNN's final training accuracy
  <kind>_train_gait_s                    seconds of its training

Quick mode is a tiny archive that checks the machinery, not the ceiling. Full mode trains GaitNN
twice (about 22 minutes each on two cores). Work folders are kept under
`$GAITFLOW_GAIT_CEILING_DIR` (default: a folder in the system's temporary directory), so a second
run re-uses the archive and store; delete it for a cold run.

Run: `python -m benchmarks --full --only gait_ceiling`; results go to benchmarks/results/gait_ceiling.json.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import (
    ARCHIVE_SEED, FULL, QUICK, SIZE, baseline_figures, merge_figures, private_prefect, report_figures,
)
from benchmarks.harness import run_standalone

NAME = "gait_ceiling"
VARIANTS = ("exact", "sides_merged")


def run(quick: bool) -> dict[str, Any]:
    from params import (
        ComputeParams, GaitTrainingOptions, ProtocolOptions, SynthesizeParams, TrackingParams,
    )
    from flows.describe import describe
    from flows.evaluate import evaluate_descriptors
    from flows.ingest import ingest_archive
    from flows.synthesize import synthesize_archive
    from flows.training import train_gait
    from storage.store import SequenceStore

    setup = QUICK if quick else FULL
    root = Path(os.environ.get("GAITFLOW_GAIT_CEILING_DIR") or Path(tempfile.gettempdir()) / "gaitflow-gait-ceiling")
    root = root / ("quick" if quick else "full")
    root.mkdir(parents=True, exist_ok=True)
    train = str(setup.casia_train)
    figures: dict[str, Any] = {"work_dir": str(root), "casia_subjects": setup.casia_subjects,
                               "casia_train_subjects": setup.casia_train, "casia_views": list(setup.views),
                               "frames_per_walk": setup.frames, "spread": setup.spread}
    with private_prefect(root / "home") as settings:
        compute = ComputeParams(n_workers=2, scratch_dir=settings.scratch)
        tracking = TrackingParams(tracking_uri=settings.tracking_uri, experiment="gait-ceiling",
                                  artifact_root=settings.artifact_root)
        archive = SynthesizeParams(
            archive=root / "archive", layout="casia-b", subjects=setup.casia_subjects, views=setup.views,
            frames=setup.frames, size=SIZE, seed=ARCHIVE_SEED, difficulty=1.0, spread=setup.spread,
            compute=compute, tracking=tracking,
        )
        synthesize_archive(**dict(archive))
        store_path = root / "store.zarr"
        ingest_archive(archive=archive.archive, store=store_path, layout="casia-b", frame_size=SIZE,
                       compute=compute, tracking=tracking)
        store = SequenceStore(store_path)
        protocol = ProtocolOptions(protocol="casia-b", train_subjects=train)
        for variant in VARIANTS:
            tag = f"ideal-{variant.replace('_', '-')}"
            write_ideal_features(store, tag, sides_merged=variant == "sides_merged")
            started = time.perf_counter()
            trained = train_gait(store=store_path, features=tag, protocol=protocol,
                                 training=GaitTrainingOptions(**setup.gait), compute=compute, tracking=tracking)
            figures[f"{variant}_train_gait_s"] = round(time.perf_counter() - started, 1)
            figures[f"{variant}_gait_accuracy"] = round(float(trained["metrics"].get("accuracy", float("nan"))), 4)
            described = describe(store=store_path, gait_model=trained["model_path"], features=tag,
                                 compute=compute, tracking=tracking)
            evaluation = evaluate_descriptors(store=store_path, descriptors=described["gait_model"],
                                              protocol=protocol, tracking=tracking)
            for classifier, report in evaluation["results"].items():
                merge_figures(figures, report_figures("casia", f"{variant}_{classifier}", report))
        merge_figures(figures, _groundtruth_baseline(store, train))
    return {"figures": figures, "targets": []}


def write_ideal_features(store, tag: str, *, sides_merged: bool) -> int:
    """Stores `features/<tag>/{spatial, joints}` from each sequence's true joints; returns how
    many sequences were written. Those already holding them, made by the same version of
    `nets.heatmaps`, are left alone."""
    from nets.heatmaps import joint_feature_maps
    from nets.joint_tracks import LEFT_RIGHT_PAIRS
    from provenance import module_version
    from storage.stages import OutputSpec, transform_frames

    version = module_version("nets.heatmaps")

    outputs = [OutputSpec("spatial", (17, 17, 32), "float16"), OutputSpec("joints", (16, 3), "float32")]
    written = 0
    for sequence_id in sorted(store.sequence_ids()):
        if (store.stage_attrs(sequence_id, "features", tag) or {}).get("code_version") == version:
            continue
        group = store.open_sequence(sequence_id)
        truth = np.asarray(group["joints_gt"][:], dtype=np.float32)  # (T, 16, 2) x, y
        # Occluded joints too: a pose network guesses them, and the truth knows them.
        known = np.isfinite(truth).all(axis=-1)  # (T, 16)
        truth = np.where(known[..., None], truth, 0.0)
        spatial = np.asarray(joint_feature_maps(
            truth, known, input_size=SIZE,
            side_pairs=LEFT_RIGHT_PAIRS if sides_merged else ()))
        joints = np.concatenate([truth[..., ::-1], known[..., None]], axis=-1).astype(np.float32)  # (T, 16, 3) y, x, p
        done = [0]

        def transform(frames, spatial=spatial, joints=joints, done=done):
            start, done[0] = done[0], done[0] + len(frames)
            return {"spatial": spatial[start:done[0]], "joints": joints[start:done[0]]}

        attrs = {"pose_model": tag, "dtype": "float16", "code_version": version, "ideal": True}
        transform_frames(store, sequence_id, "features", tag, attrs, transform, outputs, len(truth))
        written += 1
    return written


def _groundtruth_baseline(store, train: str) -> dict[str, Any]:
    """The joint baseline on the same store's true joints (as `accuracy`'s `gt` kind)."""
    from evaluation.protocols import split_subjects

    attrs = store.all_sequence_attrs()
    ids = sorted(attrs)
    records = [attrs[i] for i in ids]
    tracks = [np.asarray(store.open_sequence(i)["joints_gt"][:], dtype=np.float64) for i in ids]
    rates = [float(attrs[i]["fps"]) for i in ids]
    train_ids, _ = split_subjects([r["subject"] for r in records], "casia-b", train)
    return baseline_figures("casia", "gt", tracks, rates, records, "casia-b", train_ids)


if __name__ == "__main__":
    raise SystemExit(run_standalone(NAME, run))
