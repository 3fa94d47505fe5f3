"""Benchmark of the synthetic walker: render speed, physical plausibility, identity signal.

Measures, on one process:
  - render speed in frames/s at 64 and 128 px, kinematics, rendering and video writing
    included (`synth.archive.write_archive` into a temporary folder);
  - stance foot slip (m/s, world coordinates) and pelvis bounce (m) over many walks;
  - the ground-truth-joint baseline's rank-1 on the CASIA-B protocol (gallery nm-01..04; probes
    nm-05..06, bg, cl) via evaluation.protocols.evaluate(classifier="nn"), LDA trained on the
    first half of the subjects; "gt_noisy_..." the same with joints perturbed by noise of 2 % of
    the body height. Per probe condition <c>:
      gt_rank1_std_<c>: the standard single-view-gallery figure (identical view excluded; the
        report's headline `standard_rank1`), chance `baseline_chance_std`;
      gt_rank1_pooled_<c>: the secondary pooled-gallery figure (one gallery of every view but
        the probe's; `pooled_rank1`), chance `baseline_chance_pooled`;
      gt_rank1_same_<c>: same view, the mean of the diagonal of the cross-view matrix;
  - a contact sheet of frames with their ground-truth joints (visible red, hidden blue),
    benchmarks/results/synth_contact_sheet.png.

Figures are for one process on a shared 2-core machine: other load lowers the frame rates.
Run: `python -m benchmarks.synth_walker [--full]` or `python -m benchmarks --only synth_walker`;
the result goes to benchmarks/results/synth_walker.json (benchmarks.harness format).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.harness import RESULTS_DIR, Target, run_standalone
from evaluation.labels import SequenceLabels
from evaluation.protocols import evaluate
from evaluation.report import ProtocolReport
from synth.archive import ArchiveSpec, job_groundtruth, plan_archive, render_item, simulate, write_archive
from synth.baseline import LdaProjection, gait_descriptor
from synth.kinematics import foot_slip, pelvis_bounce
from synth.skeleton import ANKLE, HEAD_TOP

NAME = "synth_walker"
SHEET_PATH = RESULTS_DIR / "synth_contact_sheet.png"
LIMBS = ((0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (10, 11), (11, 12), (12, 7),
         (7, 13), (13, 14), (14, 15))


def run(quick: bool) -> dict[str, Any]:
    """Runs every measurement; returns {"figures": ..., "targets": [Target, ...]}."""
    figures: dict[str, Any] = {}
    for size in (64, 128):
        for key, value in render_speed(size, quick).items():
            figures[f"render_{size}px_{key}"] = value
    figures.update(motion_quality(quick))
    figures.update(baseline_rank1(quick))
    contact_sheet(SHEET_PATH)
    figures["contact_sheet"] = SHEET_PATH.name
    targets = [
        Target("render frames/s at 128 px (kinematics + video included)", figures["render_128px_frames_per_s"], ">=", 150.0),
        Target("stance foot slip, mean m/s", figures["foot_slip_mean_m_per_s"], "<=", 0.05),
        Target("pelvis bounce, median m (low)", figures["pelvis_bounce_median_m"], ">=", 0.03),
        Target("pelvis bounce, median m (high)", figures["pelvis_bounce_median_m"], "<=", 0.07),
    ]
    return {"figures": figures, "targets": targets + baseline_targets(figures)}


def baseline_targets(figures: dict[str, Any]) -> list[Target]:
    """The baseline's bounds. The 0.70 cross-view bar was set on the pooled-gallery figure (the
    only cross-view figure measured then) and stays on it; the same-view bar reads the diagonal
    of the cross-view matrix, which the protocol change left as it was."""
    return [
        Target("baseline rank-1 nm cross-view, pooled gallery", figures["gt_rank1_pooled_nm"], ">=", 0.70),
        Target("baseline rank-1 nm same-view", figures["gt_rank1_same_nm"], ">=", 0.80),
    ]


def render_speed(size: int, quick: bool) -> dict[str, Any]:
    """Frames per second of `write_archive` (everything included) at `size` px."""
    spec = ArchiveSpec(subjects=2 if quick else 4, frames=50 if quick else 75, size=size, views=(18, 90, 144),
                       walks=(("nm", 1), ("bg", 1), ("cl", 1)), seed=101)
    jobs = plan_archive(spec)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        write_archive(spec, Path(folder))
        seconds = time.perf_counter() - start
        size_bytes = sum(p.stat().st_size for p in Path(folder).rglob("*.avi"))
    frames = len(jobs) * spec.frames
    return {"frames": frames, "seconds": round(seconds, 2), "frames_per_s": round(frames / seconds, 1),
            "video_bytes_per_frame": round(size_bytes / frames, 1)}


def motion_quality(quick: bool) -> dict[str, Any]:
    """Foot slip and pelvis bounce over the walks of an archive (no pixels needed)."""
    spec = ArchiveSpec(subjects=10 if quick else 40, frames=100, views=(90,), seed=202)
    slips, bounces = [], []
    for job in plan_archive(spec):
        motion = simulate(job).motion
        slips.append(foot_slip(motion))
        bounces.append(pelvis_bounce(motion))
    slips, bounces = np.array(slips), np.array(bounces)
    return {
        "motion_walks": len(slips),
        "foot_slip_mean_m_per_s": round(float(slips.mean()), 4),
        "foot_slip_p95_m_per_s": round(float(np.percentile(slips, 95)), 4),
        "pelvis_bounce_median_m": round(float(np.median(bounces)), 4),
        "pelvis_bounce_p5_m": round(float(np.percentile(bounces, 5)), 4),
        "pelvis_bounce_p95_m": round(float(np.percentile(bounces, 95)), 4),
    }


def baseline_rank1(quick: bool) -> dict[str, Any]:
    """The ground-truth-joint baseline on the CASIA-B protocol."""
    subjects = 16 if quick else 40
    views = (0, 54, 90, 126, 180) if quick else None
    spec = ArchiveSpec(subjects=subjects, frames=75, views=views, seed=303)
    rng = np.random.default_rng(404)
    clean, noisy, records = [], [], []
    for job in plan_archive(spec):
        joints, fps = job_groundtruth(job)
        clean.append(gait_descriptor(joints, fps))
        height = np.median(np.linalg.norm(joints[:, HEAD_TOP] - joints[:, ANKLE].mean(axis=1), axis=1))
        noisy.append(gait_descriptor(joints + 0.02 * height * rng.standard_normal(joints.shape), fps))
        records.append(job.labels())
    labels = SequenceLabels.from_records(records)
    train = sorted({r["subject"] for r in records})[: subjects // 2]
    out: dict[str, Any] = {"baseline_subjects": subjects, "baseline_test_subjects": subjects - len(train),
                           "baseline_views": len(spec.views), "baseline_sequences": len(records),
                           "baseline_frames": spec.frames}
    for name, descriptors in (("gt_", np.array(clean)), ("gt_noisy_", np.array(noisy))):
        in_train = np.isin(labels.subject, train)
        projection = LdaProjection().fit(descriptors[in_train], labels.subject[in_train])
        report = evaluate(projection.transform(descriptors), labels, "casia-b", classifier="nn", train_subjects=train)
        out.update(report_figures(name, report))
    return out


def report_figures(name: str, report: ProtocolReport) -> dict[str, Any]:
    """A CASIA-B report's rank-1 figures as `<name>rank1_{std,pooled,same}_<condition>`, with the
    chance levels as `baseline_chance_{std,pooled}` (of nm; the same people in every report)."""
    out: dict[str, Any] = {}
    for condition, value in report.standard_rank1.items():
        out[f"{name}rank1_std_{condition}"] = round(value, 4)
    for condition, value in report.pooled_rank1.items():
        out[f"{name}rank1_pooled_{condition}"] = round(value, 4)
    for condition, matrix in report.cross_view.items():
        same = [matrix.rank1[g, p] for g, view in enumerate(matrix.gallery_views)
                for p, probe_view in enumerate(matrix.probe_views) if view == probe_view]
        out[f"{name}rank1_same_{condition}"] = round(float(np.nanmean(same)), 4) if same else None
    for key, chance in (("std", report.chance), ("pooled", report.pooled_chance)):
        if "nm" in chance:
            out[f"baseline_chance_{key}"] = round(chance["nm"], 4)
    return out


def contact_sheet(path: Path) -> None:
    """Frames of a few walks at several views, ground-truth joints drawn in (visible: filled)."""
    spec = ArchiveSpec(subjects=3, frames=40, size=128, views=(18, 90, 162), seed=505)
    chosen = [j for j in plan_archive(spec) if (j.subject, j.condition, j.index) in
              {("001", "nm", 1), ("002", "bg", 1), ("003", "cl", 1)}]
    rows = []
    for job in chosen:
        item = render_item(job)
        joints = np.asarray(item.document["joints_xy"])
        visible = np.asarray(item.document["visible"], dtype=bool)
        tiles = []
        for t in range(0, job.frames, 8):
            tile = cv2.resize(item.frames[t], (256, 256), interpolation=cv2.INTER_NEAREST)
            points = joints[t] * 2 + 0.5
            for a, b in LIMBS:
                cv2.line(tile, _pt(points[a]), _pt(points[b]), (255, 255, 0), 1, cv2.LINE_AA)
            for j, point in enumerate(points):
                cv2.circle(tile, _pt(point), 3, (255, 0, 0) if visible[t, j] else (0, 0, 255), -1 if visible[t, j] else 1)
            tiles.append(tile)
        row = np.concatenate(tiles, axis=1)
        cv2.putText(row, job.path, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m benchmarks.synth_walker [--full] [--results DIR]`: prints the tables, writes
    the JSON; exit status 1 when a target is missed."""
    return run_standalone(NAME, run, argv)


def _pt(point: np.ndarray) -> tuple[int, int]:
    return int(round(float(point[0]))), int(round(float(point[1])))


if __name__ == "__main__":
    raise SystemExit(main())
