"""The ground-truth-joint baseline: descriptors in seconds, LDA projection, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from synth.archive import ArchiveSpec, job_groundtruth, plan_archive
from synth.baseline import LdaProjection, gait_descriptor
from synth.body import sample_body
from synth.gait import norm_style, perturbed
from synth.kinematics import Carriage, walk_motion
from synth.seeds import rng_for


def _side_view(person: int, fps: float, seconds: float) -> np.ndarray:
    """(T, 16, 2) joints of one walk seen orthographically from the side, 100 px per metre."""
    body = sample_body(rng_for((9, person)))
    style = perturbed(norm_style(), rng_for((9, person, 1)), 1.0)
    motion = walk_motion(body, style, Carriage(), fps=fps, frames=int(seconds * fps), start_phase=0.2,
                         rng=rng_for((9, person, 2)), stride_time_cv=0.0, jitter_deg=0.0)
    return np.stack([100 * motion.joints[..., 0], -100 * motion.joints[..., 1]], axis=-1)


def test_descriptor_is_about_seconds_not_frames():
    slow = gait_descriptor(_side_view(1, 20.0, 3.0), 20.0)
    fast = gait_descriptor(_side_view(1, 30.0, 3.0), 30.0)
    other = gait_descriptor(_side_view(2, 30.0, 3.0), 30.0)
    assert slow.shape == fast.shape
    assert np.linalg.norm(slow - fast) < 0.25 * np.linalg.norm(fast - other)


def test_descriptor_finds_the_stride_frequency():
    joints = _side_view(3, 25.0, 4.0)
    style = perturbed(norm_style(), rng_for((9, 3, 1)), 1.0)
    assert gait_descriptor(joints, 25.0)[-1] == pytest.approx(style["cadence"] / 120.0, abs=0.03)


@pytest.mark.parametrize(
    ("joints", "fps", "message"),
    [(np.zeros((20, 15, 2)), 25.0, r"\(T, 16, 2\)"), (np.zeros((5, 16, 2)), 25.0, "8 frames"),
     (np.zeros((20, 16, 2)), 0.0, "fps")],
)
def test_descriptor_rejects_bad_input(joints, fps, message):
    with pytest.raises(ValueError, match=message):
        gait_descriptor(joints, fps)


def test_lda_projection_separates_training_people_and_projects_new_ones():
    spec = ArchiveSpec(subjects=6, frames=50, views=(54, 90), walks=(("nm", 3),), seed=8)
    jobs = plan_archive(spec)
    descriptors = np.array([gait_descriptor(*job_groundtruth(job)) for job in jobs])
    subjects = np.array([job.subject for job in jobs])
    train = np.isin(subjects, ["001", "002", "003", "004"])
    projection = LdaProjection().fit(descriptors[train], subjects[train])
    projected = projection.transform(descriptors)
    assert projected.shape == (len(jobs), 3)  # classes - 1
    with pytest.raises(ValueError, match="two training subjects"):
        LdaProjection().fit(descriptors[:3], subjects[:3])
