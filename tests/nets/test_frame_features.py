"""The feature function the extract-features stage runs: shapes, pixel scale, batch splitting."""

from __future__ import annotations

import numpy as np
import pytest

from nets.frame_features import cpu_network_batch, frame_feature_function
from tests.nets.conftest import stick_figures


def test_splitting_a_chunk_into_smaller_network_calls_changes_nothing(small_pose_model):
    frames, _, _ = stick_figures(5, size=136)
    whole = frame_feature_function(small_pose_model)(frames)
    split = frame_feature_function(small_pose_model, max_batch=2)(frames)
    assert whole["features"].shape == (5, 17, 17, 32) and whole["joints"].shape == (5, 16, 3)
    np.testing.assert_allclose(split["features"], whole["features"], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(split["joints"][..., :2], whole["joints"][..., :2])


def test_joints_are_in_the_pixels_of_the_frames_given(small_pose_model):
    import cv2

    large, _, _ = stick_figures(2, size=272)  # twice the model's 136 px input
    small = np.stack([cv2.resize(frame, (136, 136), interpolation=cv2.INTER_AREA) for frame in large])
    features_of = frame_feature_function(small_pose_model, max_batch=1)
    on_large, on_small = features_of(large)["joints"], features_of(small)["joints"]
    np.testing.assert_allclose(on_large[..., :2], 2 * on_small[..., :2])
    np.testing.assert_allclose(on_large[..., 2], on_small[..., 2])


def test_network_batch_on_a_cpu_shrinks_with_the_input():
    assert cpu_network_batch(136) == 8 and cpu_network_batch(299) == 2 and cpu_network_batch(1000) == 1
    with pytest.raises(ValueError, match="max_batch"):
        frame_feature_function(None, max_batch=0)
