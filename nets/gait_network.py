"""GaitNN: identification vectors from sequences of HumanPoseNN spatial features.

Reference: M. Margeta, "gait-recognition" (`GaitNetwork`).

Per frame, a residual convolutional network turns the (17, 17, 32) spatial features into a
512-d pose descriptor; stacked GRU or LSTM layers run over the descriptors and their outputs
are averaged over time into the 512-d identification vector.

Unlike the seed (one sequence per step), the model takes a padded batch of sequences with a
mask, so training and inference batch across sequences. Padding frames never reach the
per-frame network (they are packed away first), the recurrent layers honour the mask and
the temporal mean counts valid steps only, so a sequence gives the same descriptor in a
batch as alone.

Inputs (a dict):
- `features`: (B, T, 17, 17, 32) float32, HumanPoseNN's `features`, zero-padded in time.
- `mask`: (B, T) bool, True on real frames. Sequences must be left-aligned (padding after).

Outputs (a dict):
- `pose_descriptors`: (B, T, 512), zeros on padding frames.
- `identification`: (B, 512), the seed's gait signature (average temporal pooling).
- `embedding`: (B, 512), the identification vector L2-normalised (for triplet training).
- `logits`: (B, num_identities), only when `num_identities` is given: the training head
  (dropout then a dense layer), as the seed's `Logits`.

The seed's two defects, selectable for fidelity:
- `extra_residual_blocks`: the seed calls `slim.repeat(net, n, residual_block, ...)` for 3,
  2 and 1 further blocks at the three stages but discards their outputs, so those blocks
  hold variables and compute nothing. `"chained"` (default) applies them as intended;
  `"discarded"` leaves them out, which computes exactly what the seed computes (use it with
  the seed's checkpoints, whose copies of those blocks were never trained).
- `share_rnn_weights`: the seed builds `MultiRNNCell([cell] * n)`; from TensorFlow 1.2 on a
  reused cell object shares its weights, so all its recurrent layers are one layer applied
  n times. `False` (default) gives each layer its own weights; `True` reproduces the seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import keras
import numpy as np
from keras import layers

from nets.layers import MaskedTemporalCentering, MaskedTemporalMean, PackValidFrames, UnpackValidFrames
from nets.pose_network import FEATURE_CHANNELS, FEATURE_GRID

RecurrentUnit = Literal["GRU", "LSTM"]
ExtraResidualBlocks = Literal["chained", "discarded"]
FeatureCentering = Literal["none", "walk"]

DESCRIPTOR_SIZE = 512
SCOPE = "GaitNN"
FEATURE_SCALE = 0.01  # the seed's pre-processing x / 100

# (stage, number of extra stride-1 blocks, their inner width): the seed's slim.repeat calls.
_EXTRA_BLOCKS = {"17x17": (3, 64), "8x8": (2, 128), "4x4": (1, 256)}


def GaitNN(
    *,
    recurrent_unit: RecurrentUnit = "GRU",
    rnn_layers: int = 1,
    num_identities: int | None = None,
    extra_residual_blocks: ExtraResidualBlocks = "chained",
    share_rnn_weights: bool = False,
    feature_centering: FeatureCentering = "none",
    dropout_rate: float = 0.3,
    input_dropout_rate: float = 0.0,
    batch_norm_momentum: float = 0.99,
    weight_decay: float = 0.0,
    weights: str | None = None,
    name: str = "gait_nn",
) -> keras.Model:
    """Instantiates GaitNN.

    Args:
        recurrent_unit: `"GRU"` or `"LSTM"`, 512 units per layer.
        rnn_layers: number of stacked recurrent layers (seed checkpoints: 1 or 2).
        num_identities: size of the training head; `None` builds the inference model only.
        extra_residual_blocks: `"chained"` or `"discarded"` (see the module docstring).
        share_rnn_weights: reuse one recurrent layer for every level, as the seed does.
        feature_centering: `"none"` (the seed) or `"walk"`: subtract each sequence's mean
            features over its valid frames first. On synthetic walks about 90 % of the
            features' variance is constant within a walk (clothing, position), which is no
            cue to identity; removing it took GaitNN's training accuracy on the demo's 8
            people from chance (13 %) to 57 % in 120 steps.
        dropout_rate: dropout before the logits, training only (seed: keep 0.7).
        input_dropout_rate: share of the 32 feature channels dropped for a whole walk, training
            only, so no identity rests on a few channels (0: none, the seed). Not used by the
            product: 0.25 did not raise validation rank-1 on the pose network's features (README).
        batch_norm_momentum: moving-average momentum of every batch-norm. The seed's 0.999
            needs thousands of steps before inference statistics settle; 0.99 (default)
            serves the short training runs of a small data set.
        weight_decay: L2 decay of conv and dense kernels in slim's convention
            (`wd * sum(w**2) / 2`). The seed declares 0.1 but never adds it to its loss, so
            the default is 0.
        weights: `None`, a Keras `.weights.h5` file, or the prefix of a seed TF1 checkpoint
            (e.g. `H3.6m-GRU-1.ckpt`).
        name: model name.
    """
    if recurrent_unit not in ("GRU", "LSTM"):
        raise ValueError(f"`recurrent_unit` must be 'GRU' or 'LSTM', got {recurrent_unit!r}")
    if rnn_layers < 1:
        raise ValueError(f"`rnn_layers` must be >= 1, got {rnn_layers}")
    if num_identities is not None and num_identities < 2:
        raise ValueError(f"`num_identities` must be >= 2 or None, got {num_identities}")
    if extra_residual_blocks not in ("chained", "discarded"):
        raise ValueError(
            "`extra_residual_blocks` must be 'chained' or 'discarded', "
            f"got {extra_residual_blocks!r}"
        )
    if feature_centering not in ("none", "walk"):
        raise ValueError(f"`feature_centering` must be 'none' or 'walk', got {feature_centering!r}")
    if weights is not None and not weights.endswith(".h5") and feature_centering != "none":
        raise ValueError("the seed's checkpoints were trained on uncentred features: use feature_centering='none'")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"`dropout_rate` must be in [0, 1), got {dropout_rate}")
    if not 0.0 <= input_dropout_rate < 1.0:
        raise ValueError(f"`input_dropout_rate` must be in [0, 1), got {input_dropout_rate}")
    if weight_decay < 0:
        raise ValueError(f"`weight_decay` must be >= 0, got {weight_decay}")
    if not 0.0 <= batch_norm_momentum < 1.0:
        raise ValueError(f"`batch_norm_momentum` must be in [0, 1), got {batch_norm_momentum}")
    regularizer = keras.regularizers.L2(weight_decay / 2.0) if weight_decay else None
    conv = _ConvSettings(batch_norm_momentum, regularizer)

    features = layers.Input(
        shape=(None, FEATURE_GRID, FEATURE_GRID, FEATURE_CHANNELS), name="features"
    )  # (B, T, 17, 17, 32)
    mask = layers.Input(shape=(None,), dtype="bool", name="mask")  # (B, T)

    x = features
    if input_dropout_rate:
        # One mask per walk and channel: the channel is gone from every frame of that walk.
        x = layers.Dropout(input_dropout_rate, noise_shape=(None, 1, 1, 1, FEATURE_CHANNELS),
                           name="feature_channel_dropout")(x)  # (B, T, 17, 17, 32)
    if feature_centering == "walk":
        x = MaskedTemporalCentering(name="center_features")([x, mask])  # (B, T, 17, 17, 32)
    frames = PackValidFrames(name="pack_valid_frames")([x, mask])  # (N, 17, 17, 32)
    x = layers.Rescaling(FEATURE_SCALE, name="preprocess")(frames)
    x = down_sampling(x, extra_residual_blocks, conv)  # (N, 5, 5, 256)
    x = layers.Flatten(name=f"{SCOPE}.FullyConnected.Flatten")(x)  # (N, 6400)
    x = layers.Dense(
        DESCRIPTOR_SIZE,
        kernel_initializer="he_normal",
        kernel_regularizer=conv.regularizer,
        name=f"{SCOPE}.FullyConnected.fully_connected",
    )(x)  # (N, 512), linear: the pose descriptor
    descriptors = UnpackValidFrames(name="pose_descriptors")([x, mask])  # (B, T, 512)

    x = descriptors
    shared_layer = _recurrent_layer(recurrent_unit, 0) if share_rnn_weights else None
    for level in range(rnn_layers):
        recurrent = shared_layer if shared_layer is not None else _recurrent_layer(
            recurrent_unit, level)
        x = recurrent(x, mask=mask)  # (B, T, 512)
    identification = MaskedTemporalMean(name="identification")([x, mask])  # (B, 512)
    embedding = layers.UnitNormalization(name="embedding")(identification)

    outputs = {
        "pose_descriptors": descriptors,
        "identification": identification,
        "embedding": embedding,
    }
    if num_identities is not None:
        x = layers.Dropout(dropout_rate, name=f"{SCOPE}.Dropout")(identification)
        outputs["logits"] = layers.Dense(
            num_identities,
            kernel_initializer="he_normal",
            kernel_regularizer=conv.regularizer,
            name=f"{SCOPE}.Logits.fully_connected",
        )(x)  # (B, num_identities)

    model = keras.Model({"features": features, "mask": mask}, outputs, name=name)

    if weights is not None:
        if weights.endswith(".h5"):
            model.load_weights(weights)
        else:
            from nets.checkpoints import import_seed_gait_checkpoint

            import_seed_gait_checkpoint(model, weights)
    return model


@dataclasses.dataclass(frozen=True)
class _ConvSettings:
    """What the seed's arg_scope fixed for every conv and batch-norm of GaitNN."""

    batch_norm_momentum: float
    regularizer: keras.regularizers.Regularizer | None

    def batch_norm(self, name: str) -> layers.BatchNormalization:
        return layers.BatchNormalization(
            momentum=self.batch_norm_momentum, epsilon=1e-4, scale=False, name=name
        )


def down_sampling(x, extra_residual_blocks: ExtraResidualBlocks, conv: _ConvSettings):
    """`GaitNN/DownSampling`: (N, 17, 17, 32) -> (N, 5, 5, 256)."""
    chained = extra_residual_blocks == "chained"
    s = f"{SCOPE}.DownSampling"

    x = conv2d_bn_elu(x, 256, 1, name=f"{s}.17x17.Conv", conv=conv)  # (N, 17, 17, 256)
    if chained:
        x = _repeat_residual_blocks(x, f"{s}.17x17", 256, "17x17", conv)

    x = residual_block(x, 512, 64, stride=2, scope=f"{s}.8x8.ResidualBlock", conv=conv)
    # (N, 9, 9, 512)
    if chained:
        x = _repeat_residual_blocks(x, f"{s}.8x8", 512, "8x8", conv)

    x = residual_block(x, 512, 128, stride=2, scope=f"{s}.4x4.ResidualBlock", conv=conv)
    # (N, 5, 5, 512)
    if chained:
        x = _repeat_residual_blocks(x, f"{s}.4x4", 512, "4x4", conv)

    x = conv2d_bn_elu(x, 256, 1, name=f"{s}.4x4.Conv", conv=conv)  # (N, 5, 5, 256)
    return conv2d_bn_elu(x, 256, 3, name=f"{s}.4x4.Conv_1", conv=conv)  # (N, 5, 5, 256)


def conv2d_bn_elu(x, filters: int, kernel_size: int, *, name: str, conv: _ConvSettings):
    """slim.conv2d under GaitNN's arg_scope: conv (no bias, variance-scaling init) +
    batch-norm (no gamma, epsilon 1e-4) + ELU."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=conv.regularizer,
        name=name,
    )(x)
    x = conv.batch_norm(f"{name}.BatchNorm")(x)
    return layers.Activation("elu", name=f"{name}.Elu")(x)


def residual_block(x, channels: int, inner: int, *, stride: int, scope: str,
                   conv: _ConvSettings):
    """The seed's pre-activation bottleneck ("v2"), TF1 names in `scope`.

    BN-ReLU-1x1(inner) -> BN-ReLU-3x3(inner, stride) -> BN-ReLU-1x1(channels), plus the
    shortcut (a linear strided 1x1 conv when stride > 1, else identity), then ReLU.
    The seed's default scope names number the convs in creation order, the shortcut first.
    """
    conv_names = iter(["Conv", "Conv_1", "Conv_2", "Conv_3"])

    def conv2d(inputs, filters: int, kernel_size: int, conv_stride: int = 1):
        return layers.Conv2D(
            filters,
            kernel_size,
            strides=conv_stride,
            padding="same",
            kernel_initializer="he_normal",
            kernel_regularizer=conv.regularizer,
            name=f"{scope}.{next(conv_names)}",
        )(inputs)

    if stride > 1:
        shortcut = conv2d(x, channels, 1, stride)
    elif x.shape[-1] == channels:
        shortcut = x
    else:
        raise ValueError(f"{scope}: stride 1 needs {channels} input channels, got {x.shape[-1]}")

    y = conv.batch_norm(f"{scope}.BatchNorm")(x)
    y = layers.Activation("relu", name=f"{scope}.Relu")(y)
    y = conv2d(y, inner, 1)
    y = conv.batch_norm(f"{scope}.BatchNorm_1")(y)
    y = layers.Activation("relu", name=f"{scope}.Relu_1")(y)
    y = conv2d(y, inner, 3, stride)
    y = conv.batch_norm(f"{scope}.BatchNorm_2")(y)
    y = layers.Activation("relu", name=f"{scope}.Relu_2")(y)
    y = conv2d(y, channels, 1)
    y = layers.Add(name=f"{scope}.Add")([y, shortcut])
    return layers.Activation("relu", name=f"{scope}.Relu_3")(y)


def _repeat_residual_blocks(x, stage_scope: str, channels: int, stage: str,
                            conv: _ConvSettings):
    """The seed's `slim.repeat` blocks, chained; scopes `Repeat/residual_block_<i>`."""
    count, inner = _EXTRA_BLOCKS[stage]
    for index in range(1, count + 1):
        x = residual_block(
            x, channels, inner, stride=1,
            scope=f"{stage_scope}.Repeat.residual_block_{index}", conv=conv,
        )
    return x


def _recurrent_layer(unit: RecurrentUnit, level: int) -> layers.Layer:
    """One 512-unit recurrent layer with the seed's cell semantics (Xavier initialiser;
    GRU with the reset gate applied before the recurrent matmul, i.e. `reset_after=False`)."""
    name = f"{SCOPE}.Recurrent.cell_{level}"
    if unit == "GRU":
        return layers.GRU(
            DESCRIPTOR_SIZE,
            return_sequences=True,
            reset_after=False,
            kernel_initializer="glorot_uniform",
            recurrent_initializer="glorot_uniform",
            name=name,
        )
    return layers.LSTM(
        DESCRIPTOR_SIZE,
        return_sequences=True,
        unit_forget_bias=True,  # TF1 LSTMCell adds forget_bias=1.0
        kernel_initializer="glorot_uniform",
        recurrent_initializer="glorot_uniform",
        name=name,
    )


def pad_sequences(
    sequences: Sequence[np.ndarray], *, length_multiple: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Stacks variable-length feature sequences into GaitNN's inputs.

    Args:
        sequences: arrays (T_i, 17, 17, 32), T_i >= 1.
        length_multiple: pad T up to a multiple of this, so that fewer distinct shapes reach
            a compiled function.

    Returns:
        `(features (B, T, 17, 17, 32) float32, mask (B, T) bool)`.
    """
    if not sequences:
        raise ValueError("no sequences")
    lengths = [len(s) for s in sequences]
    if min(lengths) < 1:
        raise ValueError("every sequence needs at least one frame")
    frame_shape = sequences[0].shape[1:]
    max_length = -(-max(lengths) // length_multiple) * length_multiple
    features = np.zeros((len(sequences), max_length, *frame_shape), dtype=np.float32)
    mask = np.zeros((len(sequences), max_length), dtype=bool)
    for row, sequence in enumerate(sequences):
        if sequence.shape[1:] != frame_shape:
            raise ValueError(f"sequence {row} has frames {sequence.shape[1:]}, not {frame_shape}")
        features[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = True
    return features, mask


def gait_descriptors(
    model: keras.Model,
    sequences: Sequence[np.ndarray],
    *,
    batch_size: int = 16,
    output: str = "identification",
    length_multiple: int = 8,
) -> np.ndarray:
    """Identification vectors (N, 512) for N sequences of features (T_i, 17, 17, 32).

    Sequences are batched in order of length so that little padding is computed; the result
    is in input order. `output` may be `"identification"` or `"embedding"`.
    """
    if output not in ("identification", "embedding"):
        raise ValueError(f"`output` must be 'identification' or 'embedding', got {output!r}")
    order = np.argsort([len(s) for s in sequences], kind="stable")
    result = np.zeros((len(sequences), DESCRIPTOR_SIZE), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        features, mask = pad_sequences([sequences[i] for i in rows],
                                       length_multiple=length_multiple)
        outputs = model.predict_on_batch({"features": features, "mask": mask})
        result[rows] = np.asarray(outputs[output])
    return result
