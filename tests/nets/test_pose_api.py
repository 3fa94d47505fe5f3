import keras
import numpy as np
import pytest
from keras import ops

from nets.pose_api import draw_skeleton, estimate_poses


class _BrightestPixel(keras.layers.Layer):
    """A stand-in pose 'network': every joint at the brightest pixel of the red channel."""

    def call(self, frames):
        size = frames.shape[1]
        red = ops.reshape(ops.cast(frames[..., 0], "float32"), (-1, size * size))
        flat = ops.argmax(red, axis=1)
        y, x = ops.cast(flat // size, "float32"), ops.cast(flat % size, "float32")
        joint = ops.stack([y, x, ops.ones_like(x)], axis=-1)  # (B, 3)
        return ops.repeat(joint[:, None, :], 16, axis=1)


def _fake_pose_model(size: int = 64) -> keras.Model:
    frames = keras.Input((size, size, 3), dtype="uint8")
    joints = _BrightestPixel()(frames)
    heatmaps = keras.layers.Lambda(lambda f: ops.zeros((ops.shape(f)[0], 289, 289, 16)))(frames)
    return keras.Model(frames, {"joints": joints, "heatmaps": heatmaps})


def _frame_with_blob(height, width, x, y):
    rows, columns = np.mgrid[0:height, 0:width]
    blob = np.exp(-((columns - x) ** 2 + (rows - y) ** 2) / (2 * 6.0**2))
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = np.round(250 * blob).astype(np.uint8)
    return frame


@pytest.mark.parametrize("resize", ["stretch", "pad"])
def test_joints_come_back_in_frame_pixels(resize):
    model = _fake_pose_model()
    frames = [_frame_with_blob(100, 200, 150, 30), _frame_with_blob(240, 120, 20, 200)]
    estimates = estimate_poses(model, frames, batch_size=1, resize=resize)
    assert estimates.joints_xy.shape == (2, 16, 2)
    assert estimates.confidence.shape == (2, 16)
    assert estimates.heatmaps.shape == (2, 289, 289, 16)
    np.testing.assert_allclose(estimates.joints_xy[0, 0], [150, 30], atol=4)
    np.testing.assert_allclose(estimates.joints_xy[1, 0], [20, 200], atol=4)


def test_real_model_on_any_size(small_pose_model):
    frames = np.random.default_rng(0).integers(0, 256, (3, 90, 70, 3), dtype=np.uint8)
    estimates = estimate_poses(small_pose_model, frames, batch_size=2, return_heatmaps=False)
    assert estimates.heatmaps is None
    assert estimates.joints_xy.dtype == np.float32
    assert np.all((estimates.joints_xy >= 0) & (estimates.joints_xy <= [70, 90]))
    assert np.all((estimates.confidence > 0) & (estimates.confidence < 1))


def test_estimate_poses_validates_arguments(small_pose_model):
    with pytest.raises(ValueError, match="resize"):
        estimate_poses(small_pose_model, np.zeros((1, 8, 8, 3), np.uint8), resize="crop")
    with pytest.raises(ValueError, match="RGB"):
        estimate_poses(small_pose_model, [np.zeros((8, 8), np.uint8)])


def test_draw_skeleton_draws_on_a_copy():
    image = np.zeros((120, 100, 3), np.uint8)
    joints = np.stack([np.linspace(10, 90, 16), np.linspace(10, 110, 16)], axis=1)
    drawn = draw_skeleton(image, joints)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert image.sum() == 0 and drawn.sum() > 0
    assert drawn[10, 10].sum() > 0  # r_ankle marker
    hidden = draw_skeleton(image, joints, np.zeros(16), min_confidence=0.5)
    assert hidden.sum() == 0
    with pytest.raises(ValueError):
        draw_skeleton(image, joints[:5])
