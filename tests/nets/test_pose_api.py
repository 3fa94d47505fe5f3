import cv2
import keras
import numpy as np
import pytest
from keras import ops

from nets.pose_api import draw_skeleton, estimate_poses
from tests.nets.test_frame_features import blob_pose_model


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


def _red_centroid(frame):
    red = frame[..., 0].astype(np.float64)
    rows, columns = np.mgrid[0 : red.shape[0], 0 : red.shape[1]]
    return np.array([(red * columns).sum(), (red * rows).sum()]) / red.sum()


@pytest.mark.parametrize("flip", [False, True])
def test_sub_pixel_joints_in_frame_pixels(flip):
    """With a stand-in network whose maps peak exactly at the red blob's centroid, the
    default decoding returns that centroid (mapped to the frame), the seed's arg-max only
    to within a heat-map pixel; the flip test changes nothing for such a network."""
    model = blob_pose_model(136)
    frames = [_frame_with_blob(100, 200, 150.3, 30.6), _frame_with_blob(240, 120, 20.8, 200.2)]
    fitted = estimate_poses(model, frames, batch_size=2, flip=flip)
    seed = estimate_poses(model, frames, batch_size=2, flip=flip, decoding="argmax",
                          return_heatmaps=False)
    for index, frame in enumerate(frames):
        inputs = cv2.resize(frame, (136, 136), interpolation=cv2.INTER_AREA)
        expected = _red_centroid(inputs) * [frame.shape[1] / 136, frame.shape[0] / 136]
        np.testing.assert_allclose(fitted.joints_xy[index], np.tile(expected, (16, 1)), atol=0.01)
        heatmap_pixel = np.array([frame.shape[1], frame.shape[0]]) / 289
        assert np.all(np.abs(seed.joints_xy[index] - expected) <= heatmap_pixel / 2 + 1e-3)
    assert fitted.heatmaps.shape == (2, 289, 289, 16)
    np.testing.assert_allclose(fitted.confidence, 0.9, atol=0.01)  # the maps peak at 0.9


def test_flip_test_runs_on_a_real_model(small_pose_model):
    frames = np.random.default_rng(0).integers(0, 256, (2, 90, 70, 3), dtype=np.uint8)
    estimates = estimate_poses(small_pose_model, frames, flip=True, return_heatmaps=False)
    assert estimates.joints_xy.shape == (2, 16, 2) and estimates.joints_xy.dtype == np.float32
    assert np.all((estimates.joints_xy >= 0) & (estimates.joints_xy <= [70, 90]))
    assert np.all((estimates.confidence > 0) & (estimates.confidence < 1))
    with pytest.raises(ValueError, match="decoding"):
        estimate_poses(small_pose_model, frames, decoding="soft")
