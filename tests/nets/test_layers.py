import keras
import numpy as np
import pytest
from scipy.stats import norm

from nets.joint_tracks import MIRROR_PERMUTATION
from nets.layers import (
    GaussianSmoothing,
    JointDecoder,
    MaskedTemporalMean,
    PackValidFrames,
    ScaledResidual,
    UnpackValidFrames,
    heatmap_argmax,
    heatmap_peaks,
    mirror_heatmaps,
    refine_peaks,
    seed_gaussian_taps,
)


@pytest.mark.parametrize(
    "layer",
    [
        ScaledResidual(0.17, name="r"),
        GaussianSmoothing(21, 1.0, 0.2, name="g"),
        JointDecoder(299 / 289, name="j"),
        JointDecoder(136 / 289, "quadratic", name="jq"),
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


# ------------------------------------------------------------------ sub-pixel decoding

_GRID = np.mgrid[0:289, 0:289].astype(np.float32)  # (2, 289, 289): row, column


def _bump_maps(centres, rng, *, kind):
    """(B, 289, 289, J) maps peaking at `centres` (B, J, 2) `(row, column)`, sub-pixel.

    `"gauss"`: rotated anisotropic Gaussians (SDs 2-6 px), smoothed as the model's output.
    `"disk"`: what an SCE-trained HumanPoseNN gives: logits high on a disk of diameter 15
    (anti-aliased), through the model's logit smoothing, sigmoid and second smoothing.
    `"noisy disk"`: the same with noise on the logits, constant on each of the 17x17 grid's
    blocks as the up-sampling makes it (it moves the true maximum a little too).
    """
    batch, joints, _ = centres.shape
    maps = np.zeros((batch, 289, 289, joints), np.float32)
    for b in range(batch):
        for j in range(joints):
            d_row, d_col = _GRID[0] - centres[b, j, 0], _GRID[1] - centres[b, j, 1]
            if kind == "gauss":
                angle = rng.uniform(0, np.pi)
                u = np.cos(angle) * d_col + np.sin(angle) * d_row
                v = -np.sin(angle) * d_col + np.cos(angle) * d_row
                s1, s2 = rng.uniform(2, 6, 2)
                maps[b, :, :, j] = 0.9 * np.exp(-u * u / (2 * s1 * s1) - v * v / (2 * s2 * s2))
            else:
                radius = np.sqrt(d_row**2 + d_col**2)
                maps[b, :, :, j] = np.clip(7.5 + 0.5 - radius, 0.0, 1.0)  # anti-aliased disk
    if kind != "gauss":
        noise = rng.normal(0.0, 1.0, (batch, 17, 17, joints)).astype(np.float32)
        noise = np.repeat(np.repeat(noise, 17, axis=1), 17, axis=2)  # the 17x17 grid's blocks
        noise *= 1.0 if kind == "noisy disk" else 0.0
        # logits +3 inside, -6 outside once the smoothing's kernel sum 0.2 has scaled them
        logits = 5.0 * (9.0 * maps - 6.0) + noise
        logits = np.asarray(GaussianSmoothing(21, 1.0, 0.2)(logits))
        maps = 1.0 / (1.0 + np.exp(-logits))
    return np.asarray(GaussianSmoothing(15, 0.7, 1.0)(maps))


@pytest.mark.parametrize("kind", ["gauss", "disk", "noisy disk"])
def test_quadratic_decoding_finds_sub_pixel_peaks(kind):
    rng = np.random.default_rng(0)
    centres = rng.uniform(20, 269, (2, 16, 2)).astype(np.float32)
    maps = _bump_maps(centres, rng, kind=kind)
    seed = np.linalg.norm(np.asarray(heatmap_peaks(maps, "argmax")) - centres, axis=-1)
    quadratic = np.linalg.norm(np.asarray(heatmap_peaks(maps, "quadratic")) - centres, axis=-1)
    # Mean / max error in heat-map pixels (32 peaks), measured:
    #   gauss       arg-max 0.41 / 0.81   quadratic 0.0000 / 0.0001
    #   disk        arg-max 0.40 / 0.64   quadratic 0.009 / 0.017
    #   noisy disk  arg-max 0.41 / 0.73   quadratic 0.14 / 0.33 (the noise moves the maxima)
    # The arg-max's mean rounding error for peaks spread uniformly between pixels is 0.38.
    assert 0.3 < seed.mean() < 0.5
    if kind == "noisy disk":
        assert quadratic.mean() < 0.5 * seed.mean()
    else:
        assert quadratic.mean() < 0.05 * seed.mean() and quadratic.max() < 0.05


def test_joint_decoder_methods_agree_on_integer_peaks_and_scale():
    rng = np.random.default_rng(1)
    centres = np.round(rng.uniform(20, 269, (1, 16, 2))).astype(np.float32)
    maps = _bump_maps(centres, rng, kind="gauss")
    raw = np.full_like(maps, 0.5)
    seed = np.asarray(JointDecoder(2.0)([maps, raw]))
    fitted = np.asarray(JointDecoder(2.0, "quadratic")([maps, raw]))
    np.testing.assert_allclose(seed[..., :2], 2.0 * centres)
    np.testing.assert_allclose(fitted, seed, atol=2 * 0.02)
    assert fitted.dtype == np.float32


def test_refinement_is_safe_on_flat_maps_and_at_the_border():
    flat = np.full((1, 289, 289, 2), 0.3, np.float32)
    peaks = np.asarray(heatmap_peaks(flat, "quadratic"))
    np.testing.assert_array_equal(peaks, 0.0)  # the first pixel, no offset
    edge = np.zeros((1, 289, 289, 1), np.float32)
    edge[0, 0, 100:103, 0] = [0.5, 1.0, 0.8]  # peak in row 0, leaning right
    refined = np.asarray(refine_peaks(edge, heatmap_argmax(edge)))
    assert refined[0, 0, 0] == 0.0 and 101.0 < refined[0, 0, 1] < 101.5
    assert np.isfinite(refined).all()
    with pytest.raises(ValueError, match="method"):
        heatmap_peaks(flat, "soft")
    with pytest.raises(ValueError, match="method"):
        JointDecoder(1.0, "soft")


@pytest.mark.parametrize("input_size", [136, 299])
def test_mirrored_heatmaps_come_back_where_the_frame_has_the_joint(input_size):
    """A joint at input column x shows at heat-map column x * 289 / S; in the mirrored frame
    it is at S - 1 - x, under the other side's channel. `mirror_heatmaps` must bring that map
    back onto the first one."""
    rng = np.random.default_rng(2)
    scale = 289 / input_size
    joints_xy = rng.uniform(20, input_size - 20, (16, 2))  # input pixels (x, y)
    mirrored_xy = np.stack([input_size - 1 - joints_xy[:, 0], joints_xy[:, 1]], axis=1)
    mirrored_xy = mirrored_xy[list(MIRROR_PERMUTATION)]  # channel j holds mirror joint j
    centres = (joints_xy[:, ::-1] * scale)[None].astype(np.float32)  # (1, 16, 2) row, column
    mirrored_centres = (mirrored_xy[:, ::-1] * scale)[None].astype(np.float32)
    maps = _bump_maps(centres, np.random.default_rng(3), kind="gauss")
    mirrored = _bump_maps(mirrored_centres, np.random.default_rng(3), kind="gauss")
    back = np.asarray(mirror_heatmaps(mirrored, input_size, MIRROR_PERMUTATION))
    error = np.abs(np.asarray(heatmap_peaks(back, "quadratic")) - centres)
    assert error.max() < 0.05
    # Reversing the columns alone is off by 289 / S - 1 columns.
    reversed_only = mirrored[:, :, ::-1][..., list(MIRROR_PERMUTATION)]
    shift = np.asarray(heatmap_peaks(reversed_only, "quadratic"))[..., 1] - centres[..., 1]
    np.testing.assert_allclose(shift, 289 / input_size - 1, atol=0.05)
