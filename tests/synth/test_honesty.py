"""Honesty of the benchmark: identity lives in body and motion, never in appearance.

Pixel-only features (colour at body points, the person box's colour histogram, background
statistics, box height) must identify people across walks no better than chance; the
*leaky control* (outfits tied to the person) must score far above chance, which proves the
check can fail. Ground-truth joints, on the other hand, must identify people.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synth.archive import ArchiveSpec, job_groundtruth, plan_archive, render_item
from synth.baseline import gait_descriptor
from synth.skeleton import ANKLE, ELBOW, HEAD_TOP, HIP, KNEE, PELVIS, SHOULDER, THORAX, UPPER_NECK

SUBJECTS = 8
APPEARANCE = dict(subjects=SUBJECTS, frames=20, size=64, views=(90,), walks=(("nm", 4),), seed=5)
# Body points whose colour is sampled: mid-segments show the clothes, not their borders.
BODY_POINTS = (
    (HIP[0], KNEE[0]), (HIP[1], KNEE[1]), (KNEE[0], ANKLE[0]), (KNEE[1], ANKLE[1]),
    (SHOULDER[0], ELBOW[0]), (SHOULDER[1], ELBOW[1]), (PELVIS, THORAX), (THORAX, THORAX),
    (UPPER_NECK, HEAD_TOP), (HEAD_TOP, HEAD_TOP),
)


LIMBS = ((HIP[0], KNEE[0]), (KNEE[0], ANKLE[0]), (HIP[1], KNEE[1]), (KNEE[1], ANKLE[1]), (PELVIS, THORAX),
         (THORAX, UPPER_NECK), (UPPER_NECK, HEAD_TOP), (SHOULDER[0], ELBOW[0]), (SHOULDER[1], ELBOW[1]),
         (SHOULDER[0], SHOULDER[1]), (HIP[0], HIP[1]))


def appearance_features(frames: np.ndarray, joints_xy: np.ndarray) -> dict[str, np.ndarray]:
    """Pixel-only feature blocks of one sequence: frames (T, S, S, 3) uint8; the joints
    (T, 16, 2) only say where the person is."""
    frames = frames.astype(np.float64)
    t_count, size = frames.shape[:2]
    colours = []
    for a, b in BODY_POINTS:
        point = np.rint(0.5 * (joints_xy[:, a] + joints_xy[:, b])).astype(int).clip(0, size - 1)
        colours.append(frames[np.arange(t_count), point[:, 1], point[:, 0]].mean(axis=0))
    histograms, backgrounds, heights = [], [], []
    for frame, joints in zip(frames, joints_xy):
        low, high = joints.min(axis=0), joints.max(axis=0)
        height = high[1] - low[1]
        # Foreground: thick strokes along the limbs.
        mask = np.zeros((size, size), dtype=np.uint8)
        for a, b in LIMBS:
            cv2.line(mask, tuple(int(v) for v in np.rint(joints[a])), tuple(int(v) for v in np.rint(joints[b])), 1,
                     thickness=max(1, int(round(0.06 * height))))
        body = frame[mask.astype(bool)]
        bins = np.minimum((body // 64).astype(int), 3)
        histogram = np.bincount(bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2], minlength=64)
        histograms.append(histogram / max(len(body), 1))
        margin = 0.1 * height
        x0, y0 = np.clip(np.floor(low - margin).astype(int), 0, size - 1)
        x1, y1 = np.clip(np.ceil(high + margin).astype(int), 1, size)
        outside = np.ones((size, size), dtype=bool)
        outside[y0:y1, x0:x1] = False
        rest = frame[outside]
        backgrounds.append(np.concatenate([rest.mean(axis=0), rest.std(axis=0), frame[: size // 4].mean(axis=(0, 1)),
                                           frame[-size // 4:].mean(axis=(0, 1))]))
        heights.append(height / size)
    return {
        "body colour": np.ravel(colours),
        "foreground histogram": np.mean(histograms, axis=0),
        "background": np.mean(backgrounds, axis=0),
        "box height": np.array([np.median(heights)]),
    }


def cross_walk_rank1(features: np.ndarray, subjects: np.ndarray, walks: np.ndarray) -> float:
    """Nearest neighbour among the other walks (a walk never matches itself)."""
    distances = np.linalg.norm(features[:, None] - features[None], axis=2)
    distances[walks[:, None] == walks[None, :]] = np.inf
    return float(np.mean(subjects[np.argmin(distances, axis=1)] == subjects))


def standardised(blocks: list[np.ndarray]) -> np.ndarray:
    """Concatenates (N, d_i) blocks, each z-scored and weighted so that blocks count alike."""
    out = []
    for block in blocks:
        scaled = (block - block.mean(axis=0)) / (block.std(axis=0) + 1e-9)
        out.append(scaled / np.sqrt(block.shape[1]))
    return np.concatenate(out, axis=1)


def chance_level(subjects: np.ndarray, walks: np.ndarray) -> float:
    """Expected rank-1 of a random neighbour from another walk."""
    same = (subjects[:, None] == subjects[None]) & (walks[:, None] != walks[None])
    other = walks[:, None] != walks[None]
    return float(np.mean(same.sum(axis=1) / other.sum(axis=1)))


def _appearance_rank1(leaky: bool) -> tuple[dict[str, float], float]:
    """Rank-1 per feature block and for all blocks together; and the chance level."""
    jobs = plan_archive(ArchiveSpec(**APPEARANCE, leaky_outfit=leaky))
    blocks: dict[str, list[np.ndarray]] = {}
    subjects, walks = [], []
    for job in jobs:
        item = render_item(job)
        for name, value in appearance_features(item.frames, np.asarray(item.document["joints_xy"])).items():
            blocks.setdefault(name, []).append(value)
        subjects.append(job.subject)
        walks.append(f"{job.subject}-{job.condition}-{job.index}-{job.session}")
    subjects, walks = np.array(subjects), np.array(walks)
    arrays = {name: np.array(values) for name, values in blocks.items()}
    scores = {name: cross_walk_rank1(standardised([a]), subjects, walks) for name, a in arrays.items()}
    scores["all"] = cross_walk_rank1(standardised(list(arrays.values())), subjects, walks)
    return scores, chance_level(subjects, walks)


@pytest.fixture(scope="module")
def honest():
    return _appearance_rank1(leaky=False)


@pytest.fixture(scope="module")
def leaky():
    return _appearance_rank1(leaky=True)


def test_appearance_does_not_identify_people(honest):
    scores, chance = honest
    # 32 queries: one standard deviation of a chance score is about 0.055.
    for name, rank1 in scores.items():
        assert rank1 < chance + 0.2, f"{name}: pixel features identify people at {rank1:.2f} (chance {chance:.2f})"


def test_leaky_control_identifies_people_by_their_clothes(leaky):
    scores, chance = leaky
    # The same features that sit at chance above find the person by their clothes here.
    assert scores["body colour"] > 0.75, f"the leaky control scores only {scores}: the honesty check could not fail"
    assert scores["all"] > chance + 0.2, scores


def _joint_rank1(spread: float) -> float:
    spec = ArchiveSpec(subjects=SUBJECTS, frames=75, size=128, views=(90,), walks=(("nm", 4),), seed=6, spread=spread)
    features, subjects, walks = [], [], []
    for job in plan_archive(spec):
        joints, fps = job_groundtruth(job)
        features.append(gait_descriptor(joints, fps))
        subjects.append(job.subject)
        walks.append(job.path)
    subjects, walks = np.array(subjects), np.array(walks)
    return cross_walk_rank1(standardised([np.array(features)]), subjects, walks), chance_level(subjects, walks)


def test_ground_truth_joints_identify_people():
    rank1, chance = _joint_rank1(spread=1.0)
    assert rank1 > 0.6 > chance + 0.4


def test_without_between_person_spread_joints_identify_nobody():
    rank1, chance = _joint_rank1(spread=0.0)
    assert rank1 < chance + 0.2
