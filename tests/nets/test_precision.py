import numpy as np

from nets.pose_network import HumanPoseNN
from nets.precision import mixed_precision_copy


def test_mixed_precision_copy_computes_in_float16_and_matches_float32():
    model = HumanPoseNN("small")
    copy = mixed_precision_copy(model)
    frames = np.random.default_rng(0).integers(0, 255, (2, 136, 136, 3)).astype("uint8")
    exact, mixed = model(frames, training=False), copy(frames, training=False)
    assert mixed["features"].dtype == "float16"
    assert all(w.dtype == "float32" for w in copy.weights)
    scale = np.abs(np.asarray(exact["features"])).max()
    np.testing.assert_allclose(np.asarray(mixed["features"], np.float32), exact["features"], atol=0.02 * scale)
