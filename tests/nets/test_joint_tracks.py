"""Joint tracks over time: smoothing and left/right consistency on a synthetic side-view walk."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import savgol_filter

from nets.joint_tracks import (
    LEFT_RIGHT_PAIRS,
    MIRROR_PERMUTATION,
    clean_joint_tracks,
    fix_left_right,
    smooth_joint_tracks,
)

FPS = 25.0
LEG_SWAPS = (10, 40, 41, 42, 43, 66, 81)  # a run of four, and single frames
ARM_SWAPS = (20, 55, 56)


def sine_walk(frames: int = 100, *, sway: float = 1.0, stride_hz: float = 1.0) -> np.ndarray:
    """(T, 16, 3) `(y, x, p)` of a walker seen from the side, kept centred as a tracked crop:
    the legs swing with opposite phases (they cross twice per stride), the arms against the
    legs, the body bobs. `sway` scales the swing (0.2: legs close together all the time)."""
    phase = 2 * np.pi * stride_hz * np.arange(frames) / FPS
    swing = np.stack([np.sin(phase), np.sin(phase + np.pi)], axis=1)  # (T, 2): right, left
    bob = 2.0 * np.cos(2 * phase)
    joints = np.zeros((frames, 16, 3))
    joints[..., 2] = 0.9

    def put(index, y, x):
        joints[:, index, 0], joints[:, index, 1] = y + bob, x

    for side, (ankle, knee, hip) in enumerate(((0, 1, 2), (5, 4, 3))):
        put(ankle, 160 - 6 * np.maximum(0, swing[:, side]), 60 + 25 * sway * swing[:, side])
        put(knee, 130 - 2 * swing[:, side], 60 + 12 * sway * swing[:, side])
        put(hip, 100, 60 + 1.5 * (1 - 2 * side))
    for side, (wrist, elbow, shoulder) in enumerate(((10, 11, 12), (15, 14, 13))):
        put(wrist, 100, 60 - 15 * sway * swing[:, side])
        put(elbow, 80, 60 - 8 * sway * swing[:, side])
        put(shoulder, 62, 60 + 1.5 * (1 - 2 * side))
    for index, y in ((6, 100), (7, 60), (8, 50), (9, 35)):
        put(index, y, 60.0)
    return joints


def noisy(joints: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    out = joints.copy()
    out[..., :2] += np.random.default_rng(seed).normal(0, sigma, out[..., :2].shape)
    return out


def swapped(joints: np.ndarray, frames, pairs) -> np.ndarray:
    out = joints.copy()
    frames = list(frames)
    for right, left in pairs:
        out[frames, right], out[frames, left] = joints[frames, left], joints[frames, right]
    return out


def rms(joints: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((joints[..., :2] - truth[..., :2]) ** 2, axis=-1))))


def test_pairs_and_mirror_permutation_follow_the_joint_names():
    from nets.pose_network import JOINT_NAMES
    from nets.pose_training import FLIP_PERMUTATION

    for right, left in LEFT_RIGHT_PAIRS:
        assert JOINT_NAMES[right] == "r_" + JOINT_NAMES[left][2:]
    assert MIRROR_PERMUTATION == FLIP_PERMUTATION


# -------------------------------------------------------------------------- smoothing


def test_smoothing_lowers_the_error_of_a_noisy_walk():
    truth = sine_walk()
    measured = noisy(truth, 2.0)
    smoothed = smooth_joint_tracks(measured.astype(np.float32), FPS)
    assert smoothed.shape == measured.shape and smoothed.dtype == np.float32
    np.testing.assert_array_equal(smoothed[..., 2], measured[..., 2].astype(np.float32))
    before, after = rms(measured, truth), rms(smoothed, truth)
    # measured: 2.83 px -> 1.49 px (0.3 s window); the clean walk itself moves by 0.16 px
    assert after < 0.6 * before
    assert rms(smooth_joint_tracks(truth, FPS), truth) < 0.3


def test_equal_weights_without_outliers_is_savitzky_golay():
    measured = noisy(sine_walk(40), 1.0)
    smoothed = smooth_joint_tracks(measured, FPS, window_s=0.3, polyorder=2, robust_iterations=0,
                                   confidence_weighted=False)
    reference = savgol_filter(measured[..., :2], window_length=9, polyorder=2, axis=0)
    np.testing.assert_allclose(smoothed[4:-4, :, :2], reference[4:-4], atol=1e-6)


def test_glitches_and_unsure_frames_barely_move_the_track():
    truth = sine_walk(60)
    measured = noisy(truth, 0.5)
    measured[30, 9, :2] += [25.0, -30.0]  # the head top jumps away in one frame
    measured[45, 7, :2] += [0.0, 20.0]  # the thorax too, but the network is unsure there
    measured[45, 7, 2] = 0.05
    smoothed = smooth_joint_tracks(measured, FPS)
    error = np.linalg.norm(smoothed[..., :2] - truth[..., :2], axis=-1)
    assert error[25:36, 9].max() < 1.5 and error[40:51, 7].max() < 1.5
    plain = smooth_joint_tracks(measured, FPS, robust_iterations=0, confidence_weighted=False)
    plain_error = np.linalg.norm(plain[..., :2] - truth[..., :2], axis=-1)
    assert plain_error[30, 9] > 5 * error[30, 9] and plain_error[45, 7] > 5 * error[45, 7]


def test_short_sequences_and_bad_arguments():
    one = sine_walk(1)
    np.testing.assert_array_equal(smooth_joint_tracks(one, FPS), one)
    three = noisy(sine_walk(3), 1.0)
    assert np.isfinite(smooth_joint_tracks(three, FPS)).all()
    np.testing.assert_array_equal(fix_left_right(three[:2]), three[:2])
    with pytest.raises(ValueError, match="fps"):
        smooth_joint_tracks(three, 0.0)
    with pytest.raises(ValueError, match=r"\(T, 16, 3\)"):
        smooth_joint_tracks(three[..., :2], FPS)
    bad = three.copy()
    bad[1, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fix_left_right(bad)


# --------------------------------------------------------------------- left and right


def test_injected_swaps_are_undone():
    truth = noisy(sine_walk(), 1.0)
    measured = swapped(truth, LEG_SWAPS, LEFT_RIGHT_PAIRS[:3])
    measured = swapped(measured, ARM_SWAPS, LEFT_RIGHT_PAIRS[3:])
    assert rms(measured, truth) > 4.0
    np.testing.assert_array_equal(fix_left_right(measured), truth)


def test_swaps_are_undone_where_the_legs_cross():
    """Frames next to a crossing: the ankles are a few pixels apart, yet their velocities
    differ, which the acceleration cost sees."""
    truth = noisy(sine_walk(), 0.5, seed=1)
    crossing = [11, 12, 14, 36, 37, 38, 39]  # sin(phase) within 0.25..0.5 of a crossing
    measured = swapped(truth, crossing, LEFT_RIGHT_PAIRS[:3])
    np.testing.assert_array_equal(fix_left_right(measured), truth)


def test_a_consistent_walk_is_left_alone():
    for seed in range(3):
        walk = noisy(sine_walk(), 1.0, seed=seed)
        np.testing.assert_array_equal(fix_left_right(walk), walk)
        everything_swapped = swapped(walk, range(len(walk)), LEFT_RIGHT_PAIRS)
        np.testing.assert_array_equal(fix_left_right(everything_swapped), everything_swapped)


def test_limbs_that_overlap_within_the_noise_gain_little_error():
    """Legs and arms 1-6 px apart under noise of 2 px (a frontal view): exchanging them in a
    frame can hardly be seen, and a few frames may be, but that moves joints by no more than
    their separation (measured: 2.83 -> 2.89 px)."""
    truth = sine_walk(sway=0.2)
    walk = noisy(truth, 2.0)
    assert rms(fix_left_right(walk), truth) < 1.05 * rms(walk, truth)


def test_cleaning_a_noisy_swapped_walk():
    truth = sine_walk()
    measured = noisy(truth, 1.5, seed=3)
    measured = swapped(measured, LEG_SWAPS, LEFT_RIGHT_PAIRS[:3])
    measured = swapped(measured, ARM_SWAPS, LEFT_RIGHT_PAIRS[3:])
    cleaned = clean_joint_tracks(measured, FPS)
    smoothed_only = smooth_joint_tracks(measured, FPS)
    # measured: raw 5.19 px, smoothed only 2.96, fixed only 2.13, fixed then smoothed 1.09
    assert rms(cleaned, truth) < 0.5 * rms(smoothed_only, truth)
    assert rms(cleaned, truth) < 0.25 * rms(measured, truth)
