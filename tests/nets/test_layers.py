import keras
import numpy as np
import pytest
from scipy.stats import norm

from nets.layers import (
    GaussianSmoothing,
    JointDecoder,
    MaskedTemporalMean,
    PackValidFrames,
    ScaledResidual,
    UnpackValidFrames,
    seed_gaussian_taps,
)


@pytest.mark.parametrize(
    "layer",
    [
        ScaledResidual(0.17, name="r"),
        GaussianSmoothing(21, 1.0, 0.2, name="g"),
        JointDecoder(299 / 289, name="j"),
        PackValidFrames(name="p"),
        UnpackValidFrames(name="u"),
        MaskedTemporalMean(name="m"),
    ],
)
def test_get_config_round_trips(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("gaitflow>")
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


@pytest.mark.parametrize("taps,std,kernel_sum", [(21, 1.0, 0.2), (15, 0.7, 1.0)])
def test_gaussian_taps_match_the_seed(taps, std, kernel_sum):
    seed = norm.pdf(np.linspace(-2, 2, taps), 0, std)
    seed = seed / seed.sum() * kernel_sum**0.5
    np.testing.assert_allclose(seed_gaussian_taps(taps, std, kernel_sum), seed, rtol=1e-6)


def test_gaussian_smoothing_is_separable_and_sums_to_kernel_sum():
    image = np.zeros((1, 41, 41, 2), np.float32)
    image[0, 20, 20, 0] = 1.0
    out = np.asarray(GaussianSmoothing(21, 1.0, 0.2)(image))
    taps = seed_gaussian_taps(21, 1.0, 0.2)
    np.testing.assert_allclose(out[0, 10:31, 10:31, 0], np.outer(taps, taps), atol=1e-7)
    assert out[..., 0].sum() == pytest.approx(0.2, rel=1e-5)
    assert np.all(out[..., 1] == 0)


def test_gaussian_smoothing_rejects_even_taps():
    with pytest.raises(ValueError, match="odd"):
        GaussianSmoothing(20, 1.0)


def test_joint_decoder_takes_peak_of_smoothed_and_max_of_raw():
    smoothed = np.zeros((1, 10, 10, 2), np.float32)
    smoothed[0, 3, 7, 0] = 1.0  # row 3, column 7
    smoothed[0, 9, 0, 1] = 0.5
    raw = np.full((1, 10, 10, 2), 0.25, np.float32)
    raw[0, 0, 0, 1] = 0.9
    out = np.asarray(JointDecoder(2.0)([smoothed, raw]))
    np.testing.assert_allclose(out[0, 0], [6.0, 14.0, 0.25])
    np.testing.assert_allclose(out[0, 1], [18.0, 0.0, 0.9])


def test_pack_and_unpack_valid_frames_invert_each_other():
    sequences = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    mask = np.array([[True, True, False], [True, False, False]])
    packed = np.asarray(PackValidFrames()([sequences, mask]))
    np.testing.assert_array_equal(packed, sequences[mask])
    unpacked = np.asarray(UnpackValidFrames()([packed, mask]))
    np.testing.assert_array_equal(unpacked, np.where(mask[..., None], sequences, 0))


def test_masked_temporal_mean_ignores_padding_and_empty_rows():
    sequences = np.array([[[1.0], [3.0], [100.0]], [[7.0], [7.0], [7.0]]], np.float32)
    mask = np.array([[True, True, False], [False, False, False]])
    out = np.asarray(MaskedTemporalMean()([sequences, mask]))
    np.testing.assert_allclose(out, [[2.0], [0.0]])
