"""The feature function the extract-features stage runs: shapes, pixel scale, batch splitting,
sub-pixel decoding and the flip test."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from nets.frame_features import cpu_network_batch, frame_feature_function, pose_outputs
from nets.joint_tracks import MIRROR_PERMUTATION
from nets.layers import JointDecoder, mirror_heatmaps
from nets.pose_network import HumanPoseNN
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


# ------------------------------------------------- sub-pixel decoding and the flip test


class _BlobHeatmaps(keras.layers.Layer):
    """A stand-in pose 'network' that is exactly mirror-equivariant: every joint's heat-map is
    a Gaussian bump at the centroid of the frame's red channel, placed on the 289 grid by the
    seed's scaling (heat-map column = input column * 289 / S)."""

    def call(self, frames):
        size = frames.shape[1]
        red = ops.cast(frames[..., 0], "float32")  # (B, S, S)
        coords = ops.arange(size, dtype="float32")
        total = ops.sum(red, axis=(1, 2))
        column = ops.sum(red * coords[None, None, :], axis=(1, 2)) / total * (289 / size)
        row = ops.sum(red * coords[None, :, None], axis=(1, 2)) / total * (289 / size)
        grid = ops.arange(289, dtype="float32")
        d_col = grid[None, None, :] - column[:, None, None]
        d_row = grid[None, :, None] - row[:, None, None]
        bump = 0.9 * ops.exp(-(d_col**2 + d_row**2) / (2 * 4.0**2))  # (B, 289, 289)
        return ops.repeat(bump[..., None], 16, axis=-1)


def blob_pose_model(size: int = 136) -> keras.Model:
    """Outputs as HumanPoseNN's (features are zeros); joints decoded as the seed does."""
    frames = keras.Input((size, size, 3), dtype="uint8")
    heatmaps = _BlobHeatmaps()(frames)
    joints = JointDecoder(size / 289)([heatmaps, heatmaps])
    features = keras.layers.Lambda(lambda f: ops.zeros((ops.shape(f)[0], 17, 17, 32)))(frames)
    return keras.Model(frames, {"features": features, "heatmaps": heatmaps, "joints": joints})


def blob_frames(count: int, size: int = 136, seed: int = 0):
    """Frames with one red Gaussian blob each, between pixels; and its centroid (x, y)."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:size, 0:size]
    frames = np.zeros((count, size, size, 3), np.uint8)
    for frame in frames:
        x, y = rng.uniform(25, size - 25, 2)
        frame[..., 0] = np.round(250 * np.exp(-((columns - x) ** 2 + (rows - y) ** 2) / 50.0))
    red = frames[..., 0].astype(np.float64)
    centroid = np.stack([(red * columns).sum((1, 2)), (red * rows).sum((1, 2))], -1)
    return frames, centroid / red.sum((1, 2))[:, None]


def _joint_errors(joints, centroid):
    """(n, 16) pixel distances between decoded joints (y, x, p) and the blob's (x, y)."""
    return np.linalg.norm(joints[..., [1, 0]] - centroid[:, None, :], axis=-1)


def test_sub_pixel_joints_end_to_end():
    model = blob_pose_model()
    frames, centroid = blob_frames(6)
    seed = frame_feature_function(model, decoding="argmax")(frames)["joints"]
    fitted = frame_feature_function(model)(frames)["joints"]
    # arg-max: the 289 grid's rounding, up to 0.5 * 136 / 289 px per axis (measured mean
    # 0.21 px); quadratic: measured below 0.001 px (0.0006 px with the flip test).
    assert _joint_errors(seed, centroid).mean() > 0.1
    assert _joint_errors(fitted, centroid).max() < 0.01
    np.testing.assert_array_equal(fitted[..., 2], seed[..., 2])


def test_flip_test_round_trips_a_frame_and_its_mirror():
    model = blob_pose_model()
    frames, centroid = blob_frames(4, seed=1)
    mirrored = np.ascontiguousarray(frames[:, :, ::-1])
    features_of = frame_feature_function(model, flip=True)
    on_frames, on_mirrored = features_of(frames)["joints"], features_of(mirrored)["joints"]
    # The averaged maps still peak at the blob, in both frames (the mirror's sub-pixel shift
    # in `mirror_heatmaps` matters: without it they would be 0.27 px off here).
    assert _joint_errors(on_frames, centroid).max() < 0.01
    back = on_mirrored[:, list(MIRROR_PERMUTATION)].copy()
    back[..., 1] = 135 - back[..., 1]
    np.testing.assert_allclose(back, on_frames, atol=0.01)
    # with decoding="argmax" the flip-averaged peak is an integer heat-map pixel again
    seed = frame_feature_function(model, flip=True, decoding="argmax")(frames)["joints"]
    grid = seed[..., :2] / (136 / 289)
    np.testing.assert_allclose(grid, np.round(grid), atol=1e-3)


def test_flip_averaged_heatmaps_of_a_real_model_are_mirror_images(small_pose_model):
    """Mechanics on HumanPoseNN itself: the flip-averaged maps of a frame, mirrored back, are
    those of the mirrored frame (up to the interpolation of the sub-pixel shift), and the
    features are the unmirrored frame's."""
    frames, _, _ = stick_figures(2, size=136)
    mirrored = np.ascontiguousarray(frames[:, :, ::-1])
    outputs = ("features", "joints", "heatmaps")
    on_frames = pose_outputs(small_pose_model, frames, flip=True, outputs=outputs)
    on_mirrored = pose_outputs(small_pose_model, mirrored, flip=True, outputs=outputs)
    back = np.asarray(mirror_heatmaps(on_mirrored["heatmaps"], 136, MIRROR_PERMUTATION))
    maps = np.asarray(on_frames["heatmaps"])
    assert np.abs(back - maps).max() < 0.1 * (maps.max() - maps.min())
    plain = pose_outputs(small_pose_model, frames, outputs=outputs)
    np.testing.assert_allclose(on_frames["features"], plain["features"], atol=1e-5)
    # p is the mean of both passes' probabilities, so it round-trips exactly
    p_frames = np.asarray(on_frames["joints"])[..., 2]
    p_mirrored = np.asarray(on_mirrored["joints"])[:, list(MIRROR_PERMUTATION), 2]
    np.testing.assert_allclose(p_mirrored, p_frames, rtol=1e-5)


def test_decodings_of_a_real_model(small_pose_model):
    frames, _, _ = stick_figures(3, size=136)
    raw = small_pose_model.predict_on_batch(frames)["joints"]
    seed = frame_feature_function(small_pose_model, decoding="argmax")(frames)["joints"]
    fitted = frame_feature_function(small_pose_model)(frames)["joints"]
    np.testing.assert_array_equal(seed, raw)  # "argmax": the model's own (seed) decoding
    step = 136 / 289  # one heat-map pixel in input pixels
    assert np.abs(fitted[..., :2] - seed[..., :2]).max() <= step + 1e-4
    np.testing.assert_array_equal(fitted[..., 2], seed[..., 2])
    # A HumanPoseNN built to decode sub-pixel joints itself agrees with the refinement.
    keras.utils.set_random_seed(0)
    built = HumanPoseNN("small", joint_decoding="quadratic")
    built.set_weights(small_pose_model.get_weights())
    np.testing.assert_allclose(built.predict_on_batch(frames)["joints"], fitted, atol=1e-3)
    with pytest.raises(ValueError, match="joint_decoding"):
        HumanPoseNN("small", joint_decoding="soft")
    with pytest.raises(ValueError, match="decoding"):
        frame_feature_function(small_pose_model, decoding="soft")
