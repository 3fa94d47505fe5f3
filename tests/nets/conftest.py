"""Shared fixtures for nets/ tests: tiny models and drawn stick-figure frames.

Models are built once per session; tests that train or import weights build their own.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nets.gait_network import GaitNN
from nets.pose_api import draw_skeleton
from nets.pose_network import HumanPoseNN

# A standing figure in a 120x120 frame, MPII order, (x, y).
_BASE_POSE = np.array(
    [[40, 110], [42, 85], [45, 60], [55, 60], [58, 85], [60, 110], [50, 60], [50, 30],
     [50, 22], [50, 8], [30, 60], [32, 45], [40, 30], [60, 30], [68, 45], [70, 60]],
    dtype=np.float32,
)


def stick_figures(count: int, *, size: int = 120, seed: int = 0):
    """`count` frames (size x size RGB) each with a jittered stick figure drawn on grey.

    Returns `(frames (N, size, size, 3) uint8, joints_xy (N, 16, 2), visible (N, 16))`.
    """
    rng = np.random.default_rng(seed)
    frames, joints = [], []
    for _ in range(count):
        pose = (_BASE_POSE + rng.normal(0, 3, (16, 2)) + [rng.uniform(0, 20), 0]) * (size / 120)
        canvas = np.full((size, size, 3), 90, dtype=np.uint8)
        frames.append(draw_skeleton(canvas, pose, thickness=3))
        joints.append(pose)
    return np.stack(frames), np.stack(joints).astype(np.float32), np.ones((count, 16), np.float32)


@pytest.fixture(scope="session")
def small_pose_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return HumanPoseNN("small")


@pytest.fixture(scope="session")
def reduced_pose_model() -> keras.Model:
    """The seed's trunk with one block35 and one block17: every layer type, fast."""
    keras.utils.set_random_seed(0)
    return HumanPoseNN(block35_repeats=1, block17_repeats=1)


@pytest.fixture(scope="session")
def gait_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return GaitNN(num_identities=4)


@pytest.fixture
def feature_sequences():
    """Three feature sequences of different lengths, on the scale HumanPoseNN gives."""
    rng = np.random.default_rng(0)
    return [rng.normal(0, 50, (t, 17, 17, 32)).astype(np.float32) for t in (5, 2, 4)]
