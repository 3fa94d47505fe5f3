"""HumanPoseNN: spatial features and joint heat-maps from RGB frames.

Reference:
- M. Margeta, "gait-recognition" (`HumanPoseIRNetwork`), whose trunk is
  [Inception-ResNet-v2](https://arxiv.org/abs/1602.07261) in TF-slim's layout cut after the
  17x17 stage, with a modified auxiliary tower and a scoring/up-sampling head.

Two backbones share the head and therefore every output shape:
- `"inception_resnet_v2"`: the seed's network, 299x299 input, about 12 G multiply-adds per
  frame. Layer names are the seed's TF1 variable scopes with `/` written as `.`, so the
  seed's checkpoints map onto it by name (see `nets.checkpoints`).
- `"small"`: a five-convolution stem and two factorised residual blocks at 17x17 on a
  136x136 input (three stride-2 convolutions: 136 -> 68 -> 34 -> 17), about 0.25 G
  multiply-adds per frame. It trains in minutes on two CPU cores, for tests, the demo and
  CPU-only users; it has no seed checkpoint.

Outputs (a dict):
- `features`: (B, 17, 17, 32) linear spatial features, the input of GaitNN.
- `heatmap_logits`: (B, 289, 289, 16) up-sampled logits after the seed's fixed Gaussian
  smoothing (21 taps, std 1.0, kernel sum 0.2); the SCE loss is computed on these.
- `heatmaps`: (B, 289, 289, 16) sigmoid of the logits smoothed again (15 taps, std 0.7).
- `joints`: (B, 16, 3) `(y, x, p)` per joint in model-input pixels: the peak of `heatmaps`
  (heat-map row/column) scaled by input_size / 289, and p the maximum of the sigmoid map
  before the second smoothing. Joint order is MPII's (`JOINT_NAMES`). The peak is the
  seed's integer arg-max by default (`joint_decoding="argmax"`, which the seed's checkpoints
  reproduce exactly) or its sub-pixel refinement (`"quadratic"`, `nets.layers.refine_peaks`).
  `nets.frame_features` and `nets.pose_api` refine the peaks themselves by default, whichever
  decoding the model was built with.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import keras
from keras import layers

from nets.layers import JOINT_DECODINGS, GaussianSmoothing, JointDecoder, ScaledResidual

Backbone = Literal["inception_resnet_v2", "small"]
JointDecoding = Literal["argmax", "quadratic"]

JOINT_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
    "l_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)
FEATURE_GRID = 17
FEATURE_CHANNELS = 32
HEATMAP_SIZE = 289  # FEATURE_GRID * the up-sampling stride 17
INPUT_SIZES: dict[str, int] = {"inception_resnet_v2": 299, "small": 136}
OUTPUT_NAMES = ("features", "heatmap_logits", "heatmaps", "joints")

# A joint's disk covers about pi * 7.5^2 of the 289^2 pixels, so the SCE optimum for an
# untrained network is a logit of log(p / (1 - p)) = -6.2 everywhere. Starting the
# up-sampling bias there (divided by the logit smoothing's kernel sum 0.2) spares the first
# thousands of steps of pushing the background down; the seed started it at 0.
_DISK_PRIOR = math.pi * 7.5**2 / HEATMAP_SIZE**2
UPSAMPLING_BIAS_PRIOR = math.log(_DISK_PRIOR / (1.0 - _DISK_PRIOR)) / 0.2

TRUNK_SCOPE = "InceptionResnetV2"
HEAD_SCOPE = "NewInceptionResnetV2.AuxiliaryScoring"
SMALL_SCOPE = "SmallPoseNet"
LOGITS_LAYER = "NewInceptionResnetV2.Smoothing"  # its output is `heatmap_logits`


@dataclasses.dataclass(frozen=True)
class _ConvSettings:
    """What slim's arg_scope fixed for every conv + batch-norm + ReLU of a trunk."""

    batch_norm_momentum: float
    batch_norm_epsilon: float
    weight_decay: float  # slim convention: loss += weight_decay * sum(w**2) / 2

    def regularizer(self) -> keras.regularizers.Regularizer | None:
        if self.weight_decay == 0.0:
            return None
        return keras.regularizers.L2(self.weight_decay / 2.0)


def HumanPoseNN(
    backbone: Backbone = "inception_resnet_v2",
    *,
    block35_repeats: int = 10,
    block17_repeats: int = 20,
    dropout_rate: float = 0.3,
    batch_norm_momentum: float | None = None,
    weight_decay: float = 0.0,
    head_weight_decay: float = 0.0,
    joint_decoding: JointDecoding = "argmax",
    weights: str | None = None,
    name: str = "human_pose_nn",
) -> keras.Model:
    """Instantiates HumanPoseNN.

    Args:
        backbone: `"inception_resnet_v2"` (the seed's, 299 px input) or `"small"` (136 px).
        block35_repeats: number of 35x35 Inception-ResNet-A blocks (seed: 10). Fewer keep
            tests fast while the names still follow the seed's (`Repeat/block35_1`, ...).
        block17_repeats: number of 17x17 Inception-ResNet-B blocks (seed: 20).
        dropout_rate: dropout before the scoring layer, training only (seed: keep 0.7).
        batch_norm_momentum: moving-average momentum; default 0.999 for the seed's trunk
            (slim's `decay`), 0.9 for the small backbone so short training runs leave usable
            inference statistics.
        weight_decay: L2 decay of the backbone's conv kernels in slim's convention
            (`wd * sum(w**2) / 2`). The seed declares 1e-4 here and 5e-4 on the head, but its
            `optimize_loss` call never adds regularisation losses, so it trained without;
            both default to 0.
        head_weight_decay: the same for the scoring and up-sampling layers.
        joint_decoding: how the `joints` output finds each heat-map's peak: `"argmax"` (the
            seed's integer arg-max) or `"quadratic"` (sub-pixel, a quadratic fit to the log
            heat-map around the arg-max; several times closer on heat-maps whose peak falls
            between pixels). Only the `joints` output depends on it.
        weights: `None`, a Keras `.weights.h5` file, or the prefix of a seed TF1 checkpoint
            (e.g. `MPII+LSP.ckpt`, inception backbone only).
        name: model name.

    Returns:
        A functional `keras.Model` taking (B, S, S, 3) uint8 RGB frames, S = `INPUT_SIZES
        [backbone]`, and returning the dict of outputs described in the module docstring.
    """
    if backbone not in INPUT_SIZES:
        raise ValueError(f"`backbone` must be one of {sorted(INPUT_SIZES)}, got {backbone!r}")
    if block35_repeats < 0 or block17_repeats < 0:
        raise ValueError(
            "`block35_repeats` and `block17_repeats` must be >= 0, got "
            f"{block35_repeats} and {block17_repeats}"
        )
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"`dropout_rate` must be in [0, 1), got {dropout_rate}")
    if weight_decay < 0 or head_weight_decay < 0:
        raise ValueError("weight decays must be >= 0")
    if joint_decoding not in JOINT_DECODINGS:
        raise ValueError(
            f"`joint_decoding` must be one of {JOINT_DECODINGS}, got {joint_decoding!r}"
        )
    if weights is not None and backbone != "inception_resnet_v2" and not weights.endswith(".h5"):
        raise ValueError("seed TF1 checkpoints exist for the inception backbone only")
    if batch_norm_momentum is None:
        batch_norm_momentum = 0.999 if backbone == "inception_resnet_v2" else 0.9
    conv = _ConvSettings(batch_norm_momentum, 1e-3, weight_decay)

    input_size = INPUT_SIZES[backbone]
    frames = layers.Input(shape=(input_size, input_size, 3), dtype="uint8", name="frames")
    # (x / 255 - 0.5) * 2, the seed's pre-processing, as one multiply-add.
    x = layers.Rescaling(2.0 / 255.0, offset=-1.0, name="preprocess")(frames)

    if backbone == "inception_resnet_v2":
        x = inception_resnet_v2_trunk(
            x, block35_repeats=block35_repeats, block17_repeats=block17_repeats, conv=conv
        )  # (B, 17, 17, 1088)
        x = auxiliary_tower(x, f"{TRUNK_SCOPE}.AuxLogits", 128, 768, conv)  # (B, 17, 17, 768)
    else:
        x = small_trunk(x, conv)  # (B, 17, 17, 128)
        x = auxiliary_tower(x, f"{SMALL_SCOPE}.AuxLogits", 64, 128, conv)  # (B, 17, 17, 128)

    outputs = scoring_head(
        x,
        input_size=input_size,
        dropout_rate=dropout_rate,
        weight_decay=head_weight_decay,
        joint_decoding=joint_decoding,
    )
    model = keras.Model(frames, outputs, name=name)

    if weights is not None:
        if weights.endswith(".h5"):
            model.load_weights(weights)
        else:
            from nets.checkpoints import import_seed_pose_checkpoint

            import_seed_pose_checkpoint(model, weights)
    return model


def model_input_size(model: keras.Model) -> int:
    """The square frame size S a pose model expects: resize frames to (S, S) first."""
    shape = model.inputs[0].shape
    if len(shape) != 4 or shape[1] != shape[2]:
        raise ValueError(f"not a HumanPoseNN input: {tuple(shape)}")
    return int(shape[1])


def feature_extractor(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s layers that stops at the spatial features (B, 17, 17, 32),
    skipping the 289x289 up-sampling, smoothing and decoding that GaitNN does not need."""
    features = model.get_layer(f"{HEAD_SCOPE}.Scoring_layer").output
    return keras.Model(model.inputs[0], features, name=f"{model.name}_features")


def conv2d_bn(
    x,
    filters: int,
    kernel_size: int | tuple[int, int],
    *,
    name: str,
    conv: _ConvSettings,
    strides: int = 1,
    padding: str = "same",
):
    """slim.conv2d under the Inception arg_scope: conv (no bias) + batch-norm without gamma
    + ReLU. The batch-norm layer is `name + ".BatchNorm"` as in the TF1 variable scopes."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_regularizer=conv.regularizer(),
        name=name,
    )(x)
    x = layers.BatchNormalization(
        momentum=conv.batch_norm_momentum,
        epsilon=conv.batch_norm_epsilon,
        scale=False,
        name=f"{name}.BatchNorm",
    )(x)
    return layers.Activation("relu", name=f"{name}.Relu")(x)


def inception_resnet_block(x, *, block_type: str, scope: str, scale: float, conv: _ConvSettings):
    """One Inception-ResNet block (slim `block35` or `block17`) with a ReLU after the merge.

    `scope` is the block's TF1 scope, e.g. `InceptionResnetV2.Repeat.block35_1`.
    """
    if block_type == "block35":
        # (B, 35, 35, 320) -> three branches concatenated to 128 channels
        branch_0 = conv2d_bn(x, 32, 1, name=f"{scope}.Branch_0.Conv2d_1x1", conv=conv)
        branch_1 = conv2d_bn(x, 32, 1, name=f"{scope}.Branch_1.Conv2d_0a_1x1", conv=conv)
        branch_1 = conv2d_bn(branch_1, 32, 3, name=f"{scope}.Branch_1.Conv2d_0b_3x3", conv=conv)
        branch_2 = conv2d_bn(x, 32, 1, name=f"{scope}.Branch_2.Conv2d_0a_1x1", conv=conv)
        branch_2 = conv2d_bn(branch_2, 48, 3, name=f"{scope}.Branch_2.Conv2d_0b_3x3", conv=conv)
        branch_2 = conv2d_bn(branch_2, 64, 3, name=f"{scope}.Branch_2.Conv2d_0c_3x3", conv=conv)
        branches = [branch_0, branch_1, branch_2]
    elif block_type == "block17":
        # (B, 17, 17, 1088) -> two branches concatenated to 384 channels
        branch_0 = conv2d_bn(x, 192, 1, name=f"{scope}.Branch_0.Conv2d_1x1", conv=conv)
        branch_1 = conv2d_bn(x, 128, 1, name=f"{scope}.Branch_1.Conv2d_0a_1x1", conv=conv)
        branch_1 = conv2d_bn(
            branch_1, 160, (1, 7), name=f"{scope}.Branch_1.Conv2d_0b_1x7", conv=conv
        )
        branch_1 = conv2d_bn(
            branch_1, 192, (7, 1), name=f"{scope}.Branch_1.Conv2d_0c_7x1", conv=conv
        )
        branches = [branch_0, branch_1]
    else:
        raise ValueError(f"`block_type` must be 'block35' or 'block17', got {block_type!r}")

    mixed = layers.Concatenate(axis=-1, name=f"{scope}.Concat")(branches)
    # The "up" projection is linear with a bias: slim sets normalizer_fn=None here.
    up = layers.Conv2D(
        x.shape[-1],
        1,
        use_bias=True,
        kernel_regularizer=conv.regularizer(),
        name=f"{scope}.Conv2d_1x1",
    )(mixed)
    x = ScaledResidual(scale, name=f"{scope}.Residual")([x, up])
    return layers.Activation("relu", name=f"{scope}.Relu")(x)


def inception_resnet_v2_trunk(
    x, *, block35_repeats: int, block17_repeats: int, conv: _ConvSettings
):
    """Inception-ResNet-v2 up to and including the block17 stage (TF-slim layout).

    Input (B, 299, 299, 3) in [-1, 1]; output (B, 17, 17, 1088).
    """
    s = TRUNK_SCOPE
    # Stem: (B, 35, 35, 192)
    x = conv2d_bn(x, 32, 3, strides=2, padding="valid", name=f"{s}.Conv2d_1a_3x3", conv=conv)
    # (B, 149, 149, 32)
    x = conv2d_bn(x, 32, 3, padding="valid", name=f"{s}.Conv2d_2a_3x3", conv=conv)
    # (B, 147, 147, 32)
    x = conv2d_bn(x, 64, 3, name=f"{s}.Conv2d_2b_3x3", conv=conv)  # (B, 147, 147, 64)
    x = layers.MaxPooling2D(3, strides=2, name=f"{s}.MaxPool_3a_3x3")(x)  # (B, 73, 73, 64)
    x = conv2d_bn(x, 80, 1, padding="valid", name=f"{s}.Conv2d_3b_1x1", conv=conv)
    # (B, 73, 73, 80)
    x = conv2d_bn(x, 192, 3, padding="valid", name=f"{s}.Conv2d_4a_3x3", conv=conv)
    # (B, 71, 71, 192)
    x = layers.MaxPooling2D(3, strides=2, name=f"{s}.MaxPool_5a_3x3")(x)  # (B, 35, 35, 192)

    # Mixed_5b (Inception-A): (B, 35, 35, 320)
    m = f"{s}.Mixed_5b"
    branch_0 = conv2d_bn(x, 96, 1, name=f"{m}.Branch_0.Conv2d_1x1", conv=conv)
    branch_1 = conv2d_bn(x, 48, 1, name=f"{m}.Branch_1.Conv2d_0a_1x1", conv=conv)
    branch_1 = conv2d_bn(branch_1, 64, 5, name=f"{m}.Branch_1.Conv2d_0b_5x5", conv=conv)
    branch_2 = conv2d_bn(x, 64, 1, name=f"{m}.Branch_2.Conv2d_0a_1x1", conv=conv)
    branch_2 = conv2d_bn(branch_2, 96, 3, name=f"{m}.Branch_2.Conv2d_0b_3x3", conv=conv)
    branch_2 = conv2d_bn(branch_2, 96, 3, name=f"{m}.Branch_2.Conv2d_0c_3x3", conv=conv)
    branch_3 = layers.AveragePooling2D(
        3, strides=1, padding="same", name=f"{m}.Branch_3.AvgPool_0a_3x3"
    )(x)
    branch_3 = conv2d_bn(branch_3, 64, 1, name=f"{m}.Branch_3.Conv2d_0b_1x1", conv=conv)
    x = layers.Concatenate(axis=-1, name=f"{m}.Concat")([branch_0, branch_1, branch_2, branch_3])

    # block35 x N (Inception-ResNet-A), slim.repeat scope `Repeat`: (B, 35, 35, 320)
    for index in range(1, block35_repeats + 1):
        x = inception_resnet_block(
            x, block_type="block35", scope=f"{s}.Repeat.block35_{index}", scale=0.17, conv=conv
        )

    # Mixed_6a (Reduction-A): (B, 17, 17, 384 + 384 + 320 = 1088)
    m = f"{s}.Mixed_6a"
    branch_0 = conv2d_bn(
        x, 384, 3, strides=2, padding="valid", name=f"{m}.Branch_0.Conv2d_1a_3x3", conv=conv
    )
    branch_1 = conv2d_bn(x, 256, 1, name=f"{m}.Branch_1.Conv2d_0a_1x1", conv=conv)
    branch_1 = conv2d_bn(branch_1, 256, 3, name=f"{m}.Branch_1.Conv2d_0b_3x3", conv=conv)
    branch_1 = conv2d_bn(
        branch_1, 384, 3, strides=2, padding="valid", name=f"{m}.Branch_1.Conv2d_1a_3x3",
        conv=conv,
    )
    branch_2 = layers.MaxPooling2D(3, strides=2, name=f"{m}.Branch_2.MaxPool_1a_3x3")(x)
    x = layers.Concatenate(axis=-1, name=f"{m}.Concat")([branch_0, branch_1, branch_2])

    # block17 x N (Inception-ResNet-B), slim.repeat scope `Repeat_1`: (B, 17, 17, 1088)
    for index in range(1, block17_repeats + 1):
        x = inception_resnet_block(
            x, block_type="block17", scope=f"{s}.Repeat_1.block17_{index}", scale=0.10, conv=conv
        )
    return x


def small_trunk(x, conv: _ConvSettings):
    """The small backbone: input (B, 136, 136, 3) in [-1, 1]; output (B, 17, 17, 128).

    Three stride-2 convolutions reach the 17x17 grid; two block17-style residual blocks with
    1x7 / 7x1 factorised convolutions widen the receptive field to the whole body cheaply.
    """
    s = SMALL_SCOPE
    x = conv2d_bn(x, 24, 3, strides=2, name=f"{s}.Conv1", conv=conv)  # (B, 68, 68, 24)
    x = conv2d_bn(x, 32, 3, name=f"{s}.Conv2", conv=conv)  # (B, 68, 68, 32)
    x = conv2d_bn(x, 64, 3, strides=2, name=f"{s}.Conv3", conv=conv)  # (B, 34, 34, 64)
    x = conv2d_bn(x, 64, 3, name=f"{s}.Conv4", conv=conv)  # (B, 34, 34, 64)
    x = conv2d_bn(x, 128, 3, strides=2, name=f"{s}.Conv5", conv=conv)  # (B, 17, 17, 128)
    for index in (1, 2):
        scope = f"{s}.Block{index}"
        branch_0 = conv2d_bn(x, 64, 1, name=f"{scope}.Branch_0.Conv2d_1x1", conv=conv)
        branch_1 = conv2d_bn(x, 48, 1, name=f"{scope}.Branch_1.Conv2d_0a_1x1", conv=conv)
        branch_1 = conv2d_bn(branch_1, 64, (1, 7), name=f"{scope}.Branch_1.Conv2d_0b_1x7",
                             conv=conv)
        branch_1 = conv2d_bn(branch_1, 64, (7, 1), name=f"{scope}.Branch_1.Conv2d_0c_7x1",
                             conv=conv)
        mixed = layers.Concatenate(axis=-1, name=f"{scope}.Concat")([branch_0, branch_1])
        up = layers.Conv2D(128, 1, kernel_regularizer=conv.regularizer(),
                           name=f"{scope}.Conv2d_1x1")(mixed)
        x = ScaledResidual(0.5, name=f"{scope}.Residual")([x, up])
        x = layers.Activation("relu", name=f"{scope}.Relu")(x)  # (B, 17, 17, 128)
    return x


def auxiliary_tower(x, scope: str, pool_channels: int, out_channels: int, conv: _ConvSettings):
    """The seed's modified auxiliary tower, which keeps the 17x17 grid.

    (B, 17, 17, C) -> avg-pool 5x5 s1 SAME -> 1x1 `pool_channels` -> 5x5 `out_channels`
    SAME => (B, 17, 17, out_channels). The pool's scope is `Conv2d_1a_3x3` in the seed.
    """
    x = layers.AveragePooling2D(5, strides=1, padding="same", name=f"{scope}.Conv2d_1a_3x3")(x)
    x = conv2d_bn(x, pool_channels, 1, name=f"{scope}.Conv2d_1b_1x1", conv=conv)
    return conv2d_bn(x, out_channels, 5, name=f"{scope}.Conv2d_2a_5x5", conv=conv)


def scoring_head(
    x,
    *,
    input_size: int,
    dropout_rate: float,
    weight_decay: float,
    joint_decoding: JointDecoding = "argmax",
) -> dict:
    """`NewInceptionResnetV2/AuxiliaryScoring` and the decoding that follows it.

    Input (B, 17, 17, C); returns the model's output dict (see the module docstring).
    """
    regularizer = keras.regularizers.L2(weight_decay / 2.0) if weight_decay else None
    x = layers.Dropout(dropout_rate, name=f"{HEAD_SCOPE}.Dropout")(x)
    features = layers.Conv2D(
        FEATURE_CHANNELS,
        1,
        kernel_regularizer=regularizer,
        bias_regularizer=regularizer,
        name=f"{HEAD_SCOPE}.Scoring_layer",
    )(x)  # (B, 17, 17, 32)
    logits = layers.Conv2DTranspose(
        NUM_JOINTS,
        FEATURE_GRID,
        strides=FEATURE_GRID,
        padding="valid",
        bias_initializer=keras.initializers.Constant(UPSAMPLING_BIAS_PRIOR),
        kernel_regularizer=regularizer,
        bias_regularizer=regularizer,
        name=f"{HEAD_SCOPE}.Upsampling_layer",
    )(features)  # (B, 289, 289, 16)
    logits = GaussianSmoothing(21, 1.0, 0.2, name=LOGITS_LAYER)(logits)
    heatmaps_raw = layers.Activation("sigmoid", name="heatmaps_sigmoid")(logits)
    heatmaps = GaussianSmoothing(15, 0.7, 1.0, name="heatmaps_smoothing")(heatmaps_raw)
    joints = JointDecoder(input_size / HEATMAP_SIZE, joint_decoding, name="joints_decoder")(
        [heatmaps, heatmaps_raw]
    )  # (B, 16, 3)
    return {
        "features": features,
        "heatmap_logits": logits,
        "heatmaps": heatmaps,
        "joints": joints,
    }
