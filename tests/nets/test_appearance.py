import numpy as np
import pytest

from nets.appearance import jitter_appearance
from nets.pose_training import PoseBatches


def _figure_frame() -> np.ndarray:
    frame = np.full((48, 48, 3), (40, 120, 60), np.uint8)  # a green backdrop
    frame[10:40, 20:28] = (200, 30, 30)  # a red "body"
    return frame


def test_jitter_keeps_shape_and_type_and_is_seeded():
    frame = _figure_frame()
    first = jitter_appearance(frame, np.random.default_rng(5))
    again = jitter_appearance(frame, np.random.default_rng(5))
    other = jitter_appearance(frame, np.random.default_rng(6))
    assert first.shape == frame.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert np.abs(first.astype(int) - other.astype(int)).mean() > 1.0


def test_jitter_changes_the_look_of_about_half_the_frames_and_keeps_the_body_visible():
    """About half the draws keep the frame as it is; across draws the backdrop's colour varies by
    tens of levels per channel, while the body still stands out from it (nothing moves)."""
    frame = _figure_frame()
    rng = np.random.default_rng(0)
    backdrops, contrasts, changed = [], [], 0
    for _ in range(200):
        out = jitter_appearance(frame, rng)
        changed += not np.array_equal(out, frame)
        out = out.astype(np.float32)
        backdrop, body = out[:, :10].reshape(-1, 3).mean(0), out[12:38, 21:27].reshape(-1, 3).mean(0)
        backdrops.append(backdrop)
        contrasts.append(np.abs(body - backdrop).max())
    assert 70 < changed < 130
    assert np.std(backdrops, axis=0).min() > 8.0
    assert np.median(contrasts) > 40.0


def test_jitter_refuses_what_is_not_an_rgb_uint8_frame():
    with pytest.raises(ValueError, match="uint8"):
        jitter_appearance(np.zeros((8, 8, 3), np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(8, 8\)"):
        jitter_appearance(np.zeros((8, 8), np.uint8), np.random.default_rng(0))


def test_batches_jitter_the_look_and_not_the_joints():
    frames = np.stack([_figure_frame()] * 2)
    joints = np.random.default_rng(1).uniform(10, 38, (2, 16, 2)).astype(np.float32)
    plain = PoseBatches(frames, joints, np.ones((2, 16)), 48, batch_size=1, augment=True, shuffle=False, seed=4)
    jittered = PoseBatches(frames, joints, np.ones((2, 16)), 48, batch_size=1, augment=True, shuffle=False, seed=4,
                           appearance_jitter=True)
    (plain_image, plain_labels), (jittered_image, jittered_labels) = plain[0], jittered[0]
    np.testing.assert_array_equal(plain_labels["joints_xy"], jittered_labels["joints_xy"])
    assert np.abs(plain_image.astype(int) - jittered_image.astype(int)).mean() > 1.0
