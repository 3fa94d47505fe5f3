import dataclasses
import json
import math

import numpy as np
import pytest

from evaluation.pose_quality import (
    JOINT_GROUPS,
    LEFT_LEG,
    NUM_JOINTS,
    RIGHT_LEG,
    body_height,
    pose_quality,
)

ARMS = list(JOINT_GROUPS["arms"])


def walking_figure(frames: int, *, start_height: float = 100.0, growth: float = 0.3,
                   phase_offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A stick figure walking towards the camera (it grows by `growth` over the sequence).

    The legs sit well apart sideways and swing, the body bobs, the arms swing: the truth has
    real acceleration everywhere. The ankles are mirror images about the base point, so the
    body height (head top to mid-ankle) is exactly scale * (1 + bob).

    Returns:
      (joints (T, 16, 2) pixels, body height (T,) pixels).
    """
    t = np.arange(frames, dtype=np.float64)
    scale = start_height * (1.0 + growth * t / max(frames - 1, 1))
    phase = 2.0 * np.pi * t / 16.0 + phase_offset
    swing = 0.05 * np.sin(phase)
    bob = 0.02 * np.sin(2.0 * phase)
    arm = 0.06 * np.sin(phase)
    zero = np.zeros_like(t)
    # (x right, y up) in body heights, relative to the point between the ankles.
    rel = np.zeros((frames, NUM_JOINTS, 2))
    placed = {
        0: (0.10 + swing, zero),            # r_ankle
        5: (-0.10 - swing, zero),           # l_ankle
        1: (0.09 + swing / 2, 0.27 + bob),  # r_knee
        4: (-0.09 - swing / 2, 0.27 + bob),  # l_knee
        2: (0.08 + zero, 0.52 + bob),       # r_hip
        3: (-0.08 + zero, 0.52 + bob),      # l_hip
        6: (zero, 0.53 + bob),              # pelvis
        7: (zero, 0.80 + bob),              # thorax
        8: (zero, 0.86 + bob),              # upper_neck
        9: (zero, 1.00 + bob),              # head_top
        12: (0.12 + zero, 0.80 + bob),      # r_shoulder
        13: (-0.12 + zero, 0.80 + bob),     # l_shoulder
        11: (0.14 + arm, 0.62 + bob),       # r_elbow
        14: (-0.14 - arm, 0.62 + bob),      # l_elbow
        10: (0.15 + 2 * arm, 0.45 + bob),   # r_wrist
        15: (-0.15 - 2 * arm, 0.45 + bob),  # l_wrist
    }
    for joint, (x, y) in placed.items():
        rel[:, joint, 0] = x
        rel[:, joint, 1] = y
    base = np.stack([60.0 + 2.0 * t, 220.0 + zero], axis=-1)  # pixels, y down
    joints = base[:, None, :] + scale[:, None, None] * rel * np.array([1.0, -1.0])
    return joints, scale * (1.0 + bob)


def all_visible(frames: int) -> np.ndarray:
    return np.ones((frames, NUM_JOINTS), dtype=bool)


def swap_legs(joints: np.ndarray) -> np.ndarray:
    swapped = joints.copy()
    swapped[..., list(RIGHT_LEG), :] = joints[..., list(LEFT_LEG), :]
    swapped[..., list(LEFT_LEG), :] = joints[..., list(RIGHT_LEG), :]
    return swapped


# --- body height -------------------------------------------------------------------------------

def test_body_height_is_head_top_to_mid_ankle_per_frame():
    joints = np.zeros((2, NUM_JOINTS, 2))
    joints[:, 9] = [50.0, 10.0]                           # head top
    joints[0, 0], joints[0, 5] = [40.0, 110.0], [60.0, 110.0]  # mid-ankle (50, 110): 100
    joints[1, 0], joints[1, 5] = [20.0, 90.0], [80.0, 90.0]    # mid-ankle (50, 90): 80
    joints[:, 7] = [500.0, 500.0]  # a far-off other joint changes nothing
    np.testing.assert_allclose(body_height(joints, all_visible(2)), [100.0, 80.0])


def test_body_height_of_the_walker_follows_its_scale():
    joints, expected = walking_figure(40)
    np.testing.assert_allclose(body_height(joints, all_visible(40)), expected)


def test_body_height_fills_unmeasured_frames_with_the_median_of_measured_ones():
    joints, expected = walking_figure(9)
    visible = all_visible(9)
    visible[2, 9] = False           # head top hidden
    visible[5, 5] = False           # one ankle hidden
    joints[5, 5] = np.nan           # and missing, as real annotations may be
    visible[7, 3] = False           # a hip does not matter
    heights = body_height(joints, visible)
    measured = np.ones(9, dtype=bool)
    measured[[2, 5]] = False
    np.testing.assert_allclose(heights[measured], expected[measured])
    np.testing.assert_allclose(heights[[2, 5]], np.median(expected[measured]))


def test_body_height_of_a_walk_whose_ankle_is_always_hidden_comes_from_its_known_places():
    # Seen from the front, one ankle can stay behind the other leg for the whole walk; synthetic
    # truth still knows where it is.
    joints, expected = walking_figure(6)
    visible = all_visible(6)
    visible[:, 5] = False
    np.testing.assert_allclose(body_height(joints, visible), expected)


def test_body_height_without_any_measurable_frame_raises():
    joints, _ = walking_figure(5)
    visible = all_visible(5)
    visible[:, 9] = False
    joints[:, 9] = np.nan  # hidden and not annotated, as in real data
    with pytest.raises(ValueError, match="body height"):
        body_height(joints, visible)


# --- perfect and offset predictions ------------------------------------------------------------

def test_perfect_prediction_scores_perfectly_on_sequences_of_different_lengths():
    truth = [walking_figure(n)[0] for n in (30, 17, 2)]
    visible = [all_visible(len(j)) for j in truth]
    quality = pose_quality([j.copy() for j in truth], truth, visible)
    assert quality.mean_error == 0.0
    assert quality.pck == {0.1: 1.0, 0.2: 1.0}
    for group in JOINT_GROUPS:
        assert quality.mean_error_by_group[group] == 0.0
        assert quality.pck_by_group[group] == {0.1: 1.0, 0.2: 1.0}
    assert quality.swap_rate == 0.0
    # The truth itself accelerates; only the prediction's excess counts.
    assert quality.jitter == pytest.approx(0.0, abs=1e-12)
    assert (quality.sequences, quality.frames) == (3, 49)
    assert quality.joints_evaluated == 49 * NUM_JOINTS
    assert quality.swap_frames_evaluated == 49
    assert quality.jitter_samples == (28 + 15) * NUM_JOINTS  # the 2-frame sequence has none


def offset_by_share_of_height(joints: np.ndarray, heights: np.ndarray, share: float) -> np.ndarray:
    direction = np.array([0.6, 0.8])  # unit length
    return joints + share * heights[:, None, None] * direction


def test_constant_offset_of_five_percent_of_body_height():
    truth, heights = walking_figure(40)
    predicted = offset_by_share_of_height(truth, heights, 0.05)
    quality = pose_quality(predicted, truth, all_visible(40), pck_thresholds=(0.04, 0.06, 0.1, 0.2))
    assert quality.mean_error == pytest.approx(0.05)
    assert quality.pck == {0.04: 0.0, 0.06: 1.0, 0.1: 1.0, 0.2: 1.0}
    assert quality.swap_rate == 0.0


def test_a_smoothly_drifting_offset_is_error_but_not_jitter():
    truth, _ = walking_figure(40)
    drift = np.arange(40, dtype=np.float64)[:, None, None] * np.array([0.5, -0.25])  # pixels/frame
    quality = pose_quality(truth + drift, truth, all_visible(40))
    assert quality.mean_error > 0.05
    assert quality.jitter == pytest.approx(0.0, abs=1e-12)


def test_arrays_and_lists_give_the_same_figures():
    truth = np.stack([walking_figure(12, phase_offset=k)[0] for k in range(3)])
    rng = np.random.default_rng(0)
    predicted = truth + rng.normal(0.0, 3.0, truth.shape)
    visible = np.ones(truth.shape[:3], dtype=bool)
    visible[1, 4:6, 10] = False
    from_array = pose_quality(predicted, truth, visible).to_dict()
    from_list = pose_quality(list(predicted), list(truth), list(visible)).to_dict()
    assert from_array == from_list
    assert from_array["sequences"] == 3


# --- left/right swaps --------------------------------------------------------------------------

def test_legs_swapped_on_half_the_frames_give_a_swap_rate_of_one_half():
    truth, _ = walking_figure(40)
    predicted = truth.copy()
    predicted[::2] = swap_legs(truth[::2])
    quality = pose_quality(predicted, truth, all_visible(40))
    assert quality.swap_rate == 0.5
    assert (quality.swap_frames, quality.swap_frames_evaluated) == (20, 40)


def test_noise_alone_is_not_a_swap_but_noisy_swaps_are():
    truth, heights = walking_figure(60)
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 0.01, truth.shape) * heights[:, None, None]
    assert pose_quality(truth + noise, truth, all_visible(60)).swap_rate == 0.0
    predicted = truth + noise
    predicted[:15] = swap_legs(predicted[:15])
    assert pose_quality(predicted, truth, all_visible(60)).swap_rate == 0.25


def test_swaps_must_win_by_the_margin():
    truth, _ = walking_figure(20)
    # Every leg joint between its own and its counterpart's true place, 60 % of the way across:
    # the exchanged fit is better, but only by 20 % of the legs' separation (~0.035 body heights).
    predicted = 0.4 * truth + 0.6 * swap_legs(truth)
    assert pose_quality(predicted, truth, all_visible(20)).swap_rate == 0.0
    assert pose_quality(predicted, truth, all_visible(20), swap_margin=0.0).swap_rate == 1.0


def test_swaps_are_judged_on_leg_pairs_visible_on_both_sides():
    truth, _ = walking_figure(10)
    predicted = swap_legs(truth)
    visible = all_visible(10)
    visible[:5, list(LEFT_LEG)] = False  # frames 0-4: no pair is visible on both sides
    visible[5:, [2, 1]] = False           # frames 5-9: only the ankles pair up
    quality = pose_quality(predicted, truth, visible)
    assert quality.swap_frames_evaluated == 5
    assert quality.swap_rate == 1.0


# --- jitter ------------------------------------------------------------------------------------

def test_white_noise_gives_the_expected_jitter():
    sigma = 0.01  # body heights, per coordinate
    truth = [walking_figure(n, phase_offset=n)[0] for n in (200, 150, 250)]
    rng = np.random.default_rng(2)
    predicted = [j + rng.normal(0.0, sigma, j.shape) * body_height(j, all_visible(len(j)))[:, None, None]
                 for j in truth]
    quality = pose_quality(predicted, truth, [all_visible(len(j)) for j in truth])
    # The second difference of iid noise has variance 6 sigma^2 per coordinate; the norm of a
    # 2-D Gaussian has mean std * sqrt(pi / 2).
    assert quality.jitter == pytest.approx(sigma * math.sqrt(3.0 * math.pi), rel=0.05)
    assert quality.mean_error == pytest.approx(sigma * math.sqrt(math.pi / 2.0), rel=0.05)
    assert quality.jitter_samples == (198 + 148 + 248) * NUM_JOINTS


def test_jitter_grows_with_the_noise():
    truth, heights = walking_figure(80)
    rng = np.random.default_rng(3)
    unit_noise = rng.normal(0.0, 1.0, truth.shape) * heights[:, None, None]
    small = pose_quality(truth + 0.005 * unit_noise, truth, all_visible(80)).jitter
    large = pose_quality(truth + 0.02 * unit_noise, truth, all_visible(80)).jitter
    assert small > 0.0
    assert large == pytest.approx(4.0 * small, rel=0.05)


def test_jitter_never_spans_two_sequences():
    first, _ = walking_figure(10)
    second, _ = walking_figure(12, phase_offset=1.0)
    predicted = [first + 5.0, second - 5.0]  # each constant within its sequence
    quality = pose_quality(predicted, [first, second], [all_visible(10), all_visible(12)])
    assert quality.jitter == pytest.approx(0.0, abs=1e-12)
    assert quality.jitter_samples == (8 + 10) * NUM_JOINTS


# --- visibility --------------------------------------------------------------------------------

def test_invisible_joints_are_ignored():
    truth, _ = walking_figure(30)
    visible = all_visible(30)
    hidden = np.zeros_like(visible)
    hidden[3:20, 14] = True   # an elbow for a while
    hidden[::3, 0] = True     # an ankle now and then
    hidden[10, :9] = True     # most of one frame, head top included
    visible &= ~hidden
    predicted = truth + np.array([3.0, -4.0])  # 5 px off where visible (under 0.05 heights)...
    predicted[hidden] += 1000.0                # ...far off where hidden...
    predicted[10, 3] = np.nan                  # ...or missing
    truth_with_gaps = truth.copy()
    truth_with_gaps[hidden] = np.nan           # and the truth may be missing there too
    quality = pose_quality(predicted, truth_with_gaps, visible)
    heights = body_height(truth, visible)
    expected_error = np.mean(np.broadcast_to(5.0 / heights[:, None], visible.shape)[visible])
    assert quality.mean_error == pytest.approx(expected_error)
    assert quality.pck == {0.1: 1.0, 0.2: 1.0}
    # A constant offset has no jitter: the hidden joints' values must not leak into it.
    assert quality.jitter == pytest.approx(0.0, abs=1e-12)
    assert quality.jitter_samples == int((visible[2:] & visible[1:-1] & visible[:-2]).sum())
    assert quality.swap_rate == 0.0
    assert quality.joints_evaluated == int(visible.sum())
    assert sum(quality.joints_evaluated_by_group.values()) == int(visible.sum())
    assert quality.joints_evaluated_by_group["arms"] == 30 * 6 - 17


def test_a_visible_joint_without_a_prediction_is_an_error():
    truth, _ = walking_figure(5)
    predicted = truth.copy()
    predicted[2, 7] = np.nan
    with pytest.raises(ValueError, match="predicted"):
        pose_quality(predicted, truth, all_visible(5))


def test_a_group_with_no_visible_joint_is_nan_and_null():
    truth, _ = walking_figure(6)
    visible = all_visible(6)
    visible[:, ARMS] = False
    quality = pose_quality(truth, truth, visible)
    assert math.isnan(quality.mean_error_by_group["arms"])
    assert math.isnan(quality.pck_by_group["arms"][0.1])
    data = quality.to_dict()
    assert data["arms/mean_error"] is None and data["arms/pck_0.1"] is None
    assert data["arms/joints_evaluated"] == 0
    assert data["legs/mean_error"] == 0.0


# --- per-group figures -------------------------------------------------------------------------

def test_per_group_figures_isolate_a_group_s_error():
    truth, heights = walking_figure(30)
    predicted = truth.copy()
    predicted[:, ARMS] = offset_by_share_of_height(truth, heights, 0.15)[:, ARMS]
    quality = pose_quality(predicted, truth, all_visible(30))
    assert quality.mean_error_by_group["arms"] == pytest.approx(0.15)
    assert quality.pck_by_group["arms"] == {0.1: 0.0, 0.2: 1.0}
    for group in ("legs", "hips", "torso_head"):
        assert quality.mean_error_by_group[group] == 0.0
        assert quality.pck_by_group[group] == {0.1: 1.0, 0.2: 1.0}
    assert quality.mean_error == pytest.approx(0.15 * 6 / 16)
    assert quality.pck[0.1] == pytest.approx(10 / 16)
    assert quality.pck[0.2] == 1.0


def test_groups_cover_every_joint_once():
    joints = sorted(j for group in JOINT_GROUPS.values() for j in group)
    assert joints == list(range(NUM_JOINTS))
    assert JOINT_GROUPS["legs"] == (0, 1, 4, 5)
    assert JOINT_GROUPS["hips"] == (2, 3, 6)
    assert JOINT_GROUPS["torso_head"] == (7, 8, 9)
    assert JOINT_GROUPS["arms"] == (10, 11, 12, 13, 14, 15)


# --- limbs collapsed onto one ----------------------------------------------------------------

def test_both_ankles_on_one_foot_in_half_the_frames_collapse_a_quarter_of_the_pairs():
    truth, _ = walking_figure(40)
    predicted = truth.copy()
    predicted[::2, 5] = truth[::2, 0]  # the left ankle painted on the right foot
    quality = pose_quality(predicted, truth, all_visible(40))
    assert quality.collapse_pairs_evaluated == 80  # knees and ankles, every frame
    assert quality.collapse_rate == 0.25
    assert quality.to_dict()["collapse_rate"] == 0.25


def test_noise_and_swaps_are_not_collapses():
    truth, heights = walking_figure(40)
    noise = np.random.default_rng(2).normal(0.0, 0.01, truth.shape) * heights[:, None, None]
    assert pose_quality(truth + noise, truth, all_visible(40)).collapse_rate == 0.0
    assert pose_quality(swap_legs(truth), truth, all_visible(40)).collapse_rate == 0.0


def test_collapses_are_judged_where_the_truth_holds_the_pair_apart_and_visible():
    truth, _ = walking_figure(10)
    truth[:4, 5] = truth[:4, 0] + 1.0  # true ankles together in frames 0-3: nothing to judge
    visible = all_visible(10)
    visible[4:6, 4] = False  # the left knee hidden in frames 4-5
    predicted = truth.copy()
    predicted[:, 5] = truth[:, 0]
    predicted[:, 4] = truth[:, 1]
    quality = pose_quality(predicted, truth, visible)
    assert quality.collapse_pairs_evaluated == 6 + 8
    assert quality.collapse_rate == 1.0


# --- the result and the inputs -----------------------------------------------------------------

def test_to_dict_is_flat_json_with_the_documented_keys():
    truth, _ = walking_figure(8)
    quality = pose_quality(truth + 1.0, truth, all_visible(8))
    data = quality.to_dict()
    json.dumps(data)
    expected = {"mean_error", "pck_0.1", "pck_0.2", "swap_rate", "jitter", "sequences", "frames",
                "joints_evaluated", "swap_frames", "swap_frames_evaluated", "jitter_samples",
                "swap_margin", "collapse_rate", "collapse_pairs_evaluated"}
    for group in JOINT_GROUPS:
        expected |= {f"{group}/mean_error", f"{group}/pck_0.1", f"{group}/pck_0.2",
                     f"{group}/joints_evaluated"}
    assert set(data) == expected
    assert data["frames"] == 8 and data["swap_margin"] == 0.05
    with pytest.raises(dataclasses.FrozenInstanceError):
        quality.jitter = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p, g, v: (p[:, :, :15], g, v), "predicted"),
        (lambda p, g, v: ([p[0], p[1][:-1]], list(g), list(v)), "predicted\\[1\\]"),
        (lambda p, g, v: (p, g, v[:, :, :15]), "visible"),
        (lambda p, g, v: (p[:1], g, v), "sequences"),
        (lambda p, g, v: ([], [], []), "no sequence"),
        (lambda p, g, v: (p, np.full_like(g, np.nan), np.zeros_like(v)), "body height"),
    ],
)
def test_malformed_inputs_raise(change, message):
    truth = np.stack([walking_figure(6)[0], walking_figure(6, phase_offset=1.0)[0]])
    visible = np.ones(truth.shape[:3], dtype=bool)
    with pytest.raises(ValueError, match=message):
        pose_quality(*change(truth.copy(), truth, visible))


def test_pck_thresholds_must_be_positive_and_distinct():
    truth, _ = walking_figure(4)
    for thresholds in ((), (0.0,), (0.1, 0.1), (-0.2,)):
        with pytest.raises(ValueError, match="pck_thresholds"):
            pose_quality(truth, truth, all_visible(4), pck_thresholds=thresholds)
