"""Analytic floating-point operation counts of a functional Keras model, per example.

One multiply-add counts as two operations. Convolutions, transposed convolutions, dense
layers and the fixed Gaussian smoothing are counted; batch-norm, activations, pooling and
additions are memory-bound extras left out (under 1 % of a convolutional network's work).
Recurrent layers are counted per time step by `recurrent_flops_per_step`.
"""

from __future__ import annotations

import math

import keras

from nets.layers import GaussianSmoothing


def _spatial_size(shape) -> int:
    """Product of the non-batch, non-channel dimensions (1 for (B, C))."""
    return math.prod(int(d) for d in shape[1:-1]) if len(shape) > 2 else 1


def layer_flops(layer: keras.layers.Layer) -> int:
    """Operations of one call of `layer` on one example (0 for uncounted layer types)."""
    if isinstance(layer, keras.layers.Conv2DTranspose):
        inputs = layer.input.shape
        kernel_h, kernel_w = layer.kernel_size
        return 2 * _spatial_size(inputs) * int(inputs[-1]) * kernel_h * kernel_w * layer.filters
    if isinstance(layer, keras.layers.Conv2D):
        outputs = layer.output.shape
        kernel_h, kernel_w = layer.kernel_size
        per_output = kernel_h * kernel_w * int(layer.input.shape[-1]) // layer.groups
        return 2 * _spatial_size(outputs) * layer.filters * per_output
    if isinstance(layer, keras.layers.Dense):
        return 2 * _spatial_size(layer.output.shape) * int(layer.input.shape[-1]) * layer.units
    if isinstance(layer, GaussianSmoothing):
        outputs = layer.output.shape
        return 2 * 2 * _spatial_size(outputs) * int(outputs[-1]) * layer.taps
    return 0


def model_flops(model: keras.Model) -> int:
    """Operations of one forward pass of `model` on one example (recurrences excluded)."""
    return sum(layer_flops(layer) for layer in model.layers)


def recurrent_flops_per_step(layer: keras.layers.Layer) -> int:
    """Operations of one time step of a Keras GRU or LSTM layer, per sequence."""
    cell = layer.cell
    inputs, units = int(cell.kernel.shape[0]), cell.units
    gates = cell.kernel.shape[1] // units
    return 2 * (inputs + units) * gates * units
