"""Custom Keras layers shared by HumanPoseNN and GaitNN, and the heat-map decoding helpers.

The frame packing layers use TensorFlow directly (dynamic shapes); the project runs Keras on
the TensorFlow backend only. Every layer keeps its constructor arguments and round-trips
through `get_config`, so models that use them save to and load from the `.keras` format
without custom code. None of them holds trainable weights: the fixed Gaussian kernels are
rebuilt from the config.

The decoding helpers (`heatmap_argmax`, `refine_peaks`, `heatmap_peaks`, `mirror_heatmaps`)
are tensor functions (`keras.ops`, and TensorFlow's `gather_nd` for the 3x3 neighbourhoods):
`JointDecoder` calls them inside a model, `nets.frame_features` on a model's outputs, in a
traced function or eagerly on arrays.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

PACKAGE = "gaitflow"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledResidual(keras.layers.Layer):
    """`shortcut + scale * residual`, the Inception-ResNet merge.

    Inputs: `[shortcut, residual]`, both (B, H, W, C). Output: (B, H, W, C).
    """

    def __init__(self, scale: float, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        shortcut, residual = inputs
        return shortcut + residual * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"scale": self.scale})
        return config


def seed_gaussian_taps(taps: int, std: float, kernel_sum: float) -> np.ndarray:
    """One pass of the seed's separable Gaussian: `taps` samples of N(0, std) on [-2, 2].

    The seed samples the density on `linspace(-2, 2, taps)`, so `std` is in units of that
    interval, not pixels (21 taps, std 1.0 is about 5 px). Each 1-D pass sums to
    `sqrt(kernel_sum)`, so the two passes together sum to `kernel_sum`.
    """
    positions = np.linspace(-2.0, 2.0, taps)
    samples = np.exp(-0.5 * (positions / std) ** 2)
    samples /= samples.sum()
    return (samples * math.sqrt(kernel_sum)).astype(np.float32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GaussianSmoothing(keras.layers.Layer):
    """Fixed separable Gaussian smoothing per channel, zero-padded ('SAME'), as the seed's
    `_get_gauss_smoothing_net` (a horizontal then a vertical depthwise convolution).

    Input and output: (B, H, W, C). No weights: the kernel follows from the config.
    """

    def __init__(self, taps: int, std: float, kernel_sum: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if taps < 1 or taps % 2 == 0:
            raise ValueError(f"`taps` must be a positive odd number, got {taps}")
        if std <= 0:
            raise ValueError(f"`std` must be positive, got {std}")
        self.taps = int(taps)
        self.std = float(std)
        self.kernel_sum = float(kernel_sum)
        self._channels: int | None = None

    def build(self, input_shape):
        self._channels = int(input_shape[-1])
        taps_1d = seed_gaussian_taps(self.taps, self.std, self.kernel_sum)
        per_channel = np.repeat(taps_1d[:, None], self._channels, axis=1)
        # (1, taps, C, 1) and (taps, 1, C, 1): depthwise kernels, one filter per channel.
        self._horizontal = per_channel[None, :, :, None]
        self._vertical = per_channel[:, None, :, None]

    def call(self, inputs):
        # Half-precision depthwise convolutions are emulated on CPUs (minutes for one
        # 289x289x16 map); a fixed smoothing gains nothing from float16, so it runs in float32.
        x = ops.cast(inputs, "float32")
        x = ops.depthwise_conv(x, self._horizontal, 1, "same")
        x = ops.depthwise_conv(x, self._vertical, 1, "same")
        return ops.cast(x, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"taps": self.taps, "std": self.std, "kernel_sum": self.kernel_sum})
        return config


JOINT_DECODINGS = ("argmax", "quadratic")


def heatmap_argmax(heatmaps):
    """Each channel's peak pixel as the seed finds it: the arg-max row of the row-wise maxima
    and the arg-max column of the column-wise maxima (for a map with one largest value, its
    row and column). Two reductions, faster on CPUs than an arg-max over the flattened map.

    Input (B, H, W, J); output (B, J, 2) int32 `(row, column)`.
    """
    column = ops.argmax(ops.max(heatmaps, axis=1), axis=1)  # (B, J)
    row = ops.argmax(ops.max(heatmaps, axis=2), axis=1)  # (B, J)
    return ops.cast(ops.stack([row, column], axis=-1), "int32")


def refine_peaks(heatmaps, peaks, *, max_offset: float = 1.0):
    """Sub-pixel peak positions: one Newton step of a quadratic fit to the log heat-map.

    Around each integer `peak` the 3x3 neighbourhood of `log(heatmap)` gives the gradient g and
    the Hessian H (central differences); the peak of that quadratic lies at `peak - H^-1 g`
    (the Taylor expansion of DARK, Zhang et al. 2020, arXiv 1910.06278). A Gaussian peak is
    a quadratic in the log domain, so its centre comes back exactly. Where H is not negative
    definite the fit falls back to a parabola per axis, and on a flat map or at the border of
    the grid (for that axis) to the integer position. Offsets are clipped to `max_offset`
    pixels per axis (along an oblique ridge the true peak can lie over half a pixel from
    the arg-max, so the default is one).

    Args:
        heatmaps: (B, H, W, J) non-negative maps (sigmoid probabilities).
        peaks: (B, J, 2) integer `(row, column)`, usually `heatmap_argmax(heatmaps)`.
    Returns:
        (B, J, 2) float32 `(row, column)` in heat-map pixels.
    """
    height, width = heatmaps.shape[1], heatmaps.shape[2]
    peaks = tf.cast(peaks, tf.int32)
    row, column = peaks[..., 0], peaks[..., 1]  # (B, J)
    # (B, J, 9, 4) indices (batch, row, column, joint) of the 3x3 neighbourhoods, row-major
    # from (-1, -1) to (+1, +1), clamped at the border; gathering them reads 9 values a joint.
    shape = tf.shape(row)
    batch = tf.broadcast_to(tf.range(shape[0])[:, None], shape)
    joint = tf.broadcast_to(tf.range(shape[1])[None, :], shape)
    index = tf.stack(
        [
            tf.stack([batch, tf.clip_by_value(row + d_row, 0, height - 1),
                      tf.clip_by_value(column + d_col, 0, width - 1), joint], axis=-1)
            for d_row in (-1, 0, 1)
            for d_col in (-1, 0, 1)
        ],
        axis=2,
    )
    values = tf.cast(tf.gather_nd(heatmaps, index), tf.float32)  # (B, J, 9)
    f = ops.log(ops.maximum(values, 1e-12))
    grad_row = 0.5 * (f[..., 7] - f[..., 1])
    grad_col = 0.5 * (f[..., 5] - f[..., 3])
    hess_row = f[..., 7] - 2.0 * f[..., 4] + f[..., 1]
    hess_col = f[..., 5] - 2.0 * f[..., 4] + f[..., 3]
    hess_cross = 0.25 * (f[..., 8] - f[..., 6] - f[..., 2] + f[..., 0])
    inside_row = (row > 0) & (row < height - 1)
    inside_col = (column > 0) & (column < width - 1)

    det = hess_row * hess_col - hess_cross * hess_cross
    full = (det > 1e-12) & (hess_row < 0.0) & inside_row & inside_col
    safe_det = ops.where(full, det, 1.0)
    full_row = -(hess_col * grad_row - hess_cross * grad_col) / safe_det
    full_col = -(hess_row * grad_col - hess_cross * grad_row) / safe_det

    curved_row = (hess_row < -1e-12) & inside_row
    curved_col = (hess_col < -1e-12) & inside_col
    axis_row = ops.where(curved_row, -grad_row / ops.where(curved_row, hess_row, -1.0), 0.0)
    axis_col = ops.where(curved_col, -grad_col / ops.where(curved_col, hess_col, -1.0), 0.0)

    offset = ops.stack(
        [ops.where(full, full_row, axis_row), ops.where(full, full_col, axis_col)], axis=-1
    )  # (B, J, 2)
    return ops.cast(peaks, "float32") + ops.clip(offset, -max_offset, max_offset)


def heatmap_peaks(heatmaps, method: str = "quadratic"):
    """Each channel's peak `(row, column)` in heat-map pixels, (B, H, W, J) -> (B, J, 2) float32.

    `"argmax"` is the seed's: the arg-max row of the row-wise maxima and the arg-max column
    of the column-wise maxima (integers). `"quadratic"` refines the arg-max with
    `refine_peaks`. On synthetic maps with peaks between pixels (tests/nets/test_layers.py)
    the mean error falls from 0.4 heat-map pixels (the arg-max's rounding) to below 0.01,
    and to 0.14 where block noise on the logits also moves the maxima.
    """
    if method not in JOINT_DECODINGS:
        raise ValueError(f"`method` must be one of {JOINT_DECODINGS}, got {method!r}")
    if method == "argmax":
        return ops.cast(heatmap_argmax(heatmaps), "float32")
    return refine_peaks(heatmaps, heatmap_argmax(heatmaps))


def mirror_heatmaps(heatmaps, input_size: int, permutation):
    """Maps computed on a horizontally mirrored frame, brought back to the frame: columns
    reversed, channels permuted (`permutation[j]` is the channel that joint j had in the
    mirror, e.g. the person's left <-> right) and a sub-pixel shift.

    The shift: heat-map column j stands for input column `j * input_size / W` (the seed's
    scaling, not centre-aligned), and the mirror takes input column x to `input_size - 1 - x`,
    so column j of the result reads the mirrored map at `W - W / input_size - j` (linear
    interpolation, border clamped). With it a mirror-equivariant network gives the same
    peak on the frame and on its mirror; plain reversal would be off by `W / input_size - 1`
    columns (1.1 columns for the 136 px input, -0.03 for 299).

    Args:
        heatmaps: (B, H, W, J).
        input_size: the model input's width in pixels.
        permutation: J channel indices.
    Returns:
        (B, H, W, J), the dtype of `heatmaps`.
    """
    width = heatmaps.shape[2]
    start = width - width / input_size  # the column result column 0 reads
    first = math.floor(start)
    fraction = start - first
    source = first - np.arange(width)  # result column j reads columns source[j] and + 1
    lower = ops.take(heatmaps, np.clip(source, 0, width - 1).astype("int32"), axis=2)
    mirrored = lower
    if fraction:
        upper = ops.take(heatmaps, np.clip(source + 1, 0, width - 1).astype("int32"), axis=2)
        mirrored = lower * (1.0 - fraction) + upper * fraction
    return ops.take(mirrored, np.asarray(permutation, dtype="int32"), axis=3)


@keras.saving.register_keras_serializable(package=PACKAGE)
class JointDecoder(keras.layers.Layer):
    """Joint positions from heat-maps.

    Inputs: `[smoothed_heatmaps, heatmaps]`, both (B, Hm, Wm, J): the peak is found on the
    smoothed map, the probability is the maximum of the unsmoothed one.
    Output: (B, J, 3) holding `(y, x, p)`, with y and x in model-input pixels
    (heat-map row/column times `coordinate_scale`, the seed's `image_size / heatmap_size`).

    `method`: `"argmax"` (default) decodes as the seed did, integer rows and columns;
    `"quadratic"` refines them to sub-pixel positions (`refine_peaks`) and computes in float32
    whatever the layer's dtype policy.
    """

    def __init__(self, coordinate_scale: float, method: str = "argmax", **kwargs):
        super().__init__(**kwargs)
        if method not in JOINT_DECODINGS:
            raise ValueError(f"`method` must be one of {JOINT_DECODINGS}, got {method!r}")
        self.coordinate_scale = float(coordinate_scale)
        self.method = method

    def call(self, inputs):
        smoothed, heatmaps = inputs
        p = ops.max(heatmaps, axis=(1, 2))  # (B, J)
        if self.method == "argmax":
            # the seed's arithmetic, in the layer's dtype
            x = ops.argmax(ops.max(smoothed, axis=1), axis=1)  # (B, J)
            y = ops.argmax(ops.max(smoothed, axis=2), axis=1)  # (B, J)
            x = ops.cast(x, p.dtype) * self.coordinate_scale
            y = ops.cast(y, p.dtype) * self.coordinate_scale
            return ops.stack([y, x, p], axis=-1)
        peaks = heatmap_peaks(smoothed, self.method) * self.coordinate_scale  # (B, J, 2)
        return ops.concatenate([peaks, ops.cast(p, "float32")[..., None]], axis=-1)

    def compute_output_shape(self, input_shape):
        batch, _, _, joints = input_shape[0]
        return (batch, joints, 3)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"coordinate_scale": self.coordinate_scale, "method": self.method})
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class PackValidFrames(keras.layers.Layer):
    """Gathers the frames a mask marks valid from a padded batch of sequences.

    Inputs: `[sequences (B, T, ...), mask (B, T) bool]`. Output: (N, ...), N = mask.sum(),
    in row-major (sequence, time) order. Padding frames never reach the per-frame network,
    so they cost nothing and do not disturb batch-norm statistics in training.
    """

    def call(self, inputs):
        sequences, mask = inputs
        return tf.boolean_mask(sequences, tf.cast(mask, tf.bool))

    def compute_output_shape(self, input_shape):
        return (None,) + tuple(input_shape[0][2:])


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnpackValidFrames(keras.layers.Layer):
    """Inverse of `PackValidFrames`: scatters (N, D) rows back into a zero-padded (B, T, D).

    Inputs: `[packed (N, D), mask (B, T) bool]`.
    """

    def call(self, inputs):
        packed, mask = inputs
        mask = tf.cast(mask, tf.bool)
        indices = tf.where(mask)  # (N, 2), row-major like tf.boolean_mask
        shape = tf.concat([tf.shape(mask, out_type=tf.int64),
                           tf.shape(packed, out_type=tf.int64)[1:]], axis=0)
        return tf.scatter_nd(indices, packed, shape)

    def compute_output_shape(self, input_shape):
        packed_shape, mask_shape = input_shape
        return tuple(mask_shape) + tuple(packed_shape[1:])


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedTemporalMean(keras.layers.Layer):
    """Average temporal pooling over the valid steps only.

    Inputs: `[sequences (B, T, D), mask (B, T)]`. Output: (B, D). A sequence with no valid
    step pools to zeros rather than NaN. The mask is consumed here: nothing is propagated.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs):
        sequences, mask = inputs
        weights = ops.cast(mask, sequences.dtype)[..., None]  # (B, T, 1)
        total = ops.sum(sequences * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        return (shape[0], shape[2])


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedTemporalCentering(keras.layers.Layer):
    """Subtracts each sequence's mean over its valid steps; padding steps stay zero.

    Inputs: `[sequences (B, T, ...), mask (B, T)]`. Output: (B, T, ...), same shape. What a
    walk shows in every frame (clothing, where the person stands, the background) is removed
    and the motion is left.
    """

    def call(self, inputs):
        sequences, mask = inputs
        weights = ops.cast(mask, sequences.dtype)  # (B, T)
        for _ in range(len(sequences.shape) - 2):
            weights = ops.expand_dims(weights, -1)  # (B, T, 1, ...)
        count = ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1.0)
        mean = ops.sum(sequences * weights, axis=1, keepdims=True) / count  # (B, 1, ...)
        return (sequences - mean) * weights

    def compute_output_shape(self, input_shape):
        return input_shape[0]
