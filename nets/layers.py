"""Custom Keras layers shared by HumanPoseNN and GaitNN.

The frame packing layers use TensorFlow directly (dynamic shapes); the project runs Keras on
the TensorFlow backend only. Every layer keeps its constructor arguments and round-trips through `get_config`, so models
that use them save to and load from the `.keras` format without custom code. None of them
holds trainable weights: the fixed Gaussian kernels are rebuilt from the config.
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
        x = ops.depthwise_conv(inputs, ops.cast(self._horizontal, inputs.dtype), 1, "same")
        return ops.depthwise_conv(x, ops.cast(self._vertical, inputs.dtype), 1, "same")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"taps": self.taps, "std": self.std, "kernel_sum": self.kernel_sum})
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class JointDecoder(keras.layers.Layer):
    """Joint positions as the seed decodes them.

    Inputs: `[smoothed_heatmaps, heatmaps]`, both (B, Hm, Wm, J): the arg-max row and column
    are taken from the smoothed map, the probability is the maximum of the unsmoothed one.
    Output: (B, J, 3) holding `(y, x, p)`, with y and x in model-input pixels
    (heat-map index times `coordinate_scale`, the seed's `image_size / heatmap_size`).
    """

    def __init__(self, coordinate_scale: float, **kwargs):
        super().__init__(**kwargs)
        self.coordinate_scale = float(coordinate_scale)

    def call(self, inputs):
        smoothed, heatmaps = inputs
        # max over rows then arg-max over columns gives the column of the global peak.
        x = ops.argmax(ops.max(smoothed, axis=1), axis=1)  # (B, J)
        y = ops.argmax(ops.max(smoothed, axis=2), axis=1)  # (B, J)
        p = ops.max(heatmaps, axis=(1, 2))  # (B, J)
        x = ops.cast(x, p.dtype) * self.coordinate_scale
        y = ops.cast(y, p.dtype) * self.coordinate_scale
        return ops.stack([y, x, p], axis=-1)

    def compute_output_shape(self, input_shape):
        batch, _, _, joints = input_shape[0]
        return (batch, joints, 3)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"coordinate_scale": self.coordinate_scale})
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
