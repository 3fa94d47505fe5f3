"""Training HumanPoseNN on frames with joint annotations.

`fit_pose` is a plain function over arrays: frames are resized to the model's input,
augmented on the fly (horizontal flips with the left/right joints swapped, small scale and
shift, optionally a new look from `nets.appearance.jitter_appearance`), and the heat-map
targets are drawn inside the compiled training step from the joint coordinates. It runs
`keras.Model.fit`, so any Keras callbacks work; they see a `PoseTrainer` whose `network`
attribute is the pose model being trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import cv2
import keras
import numpy as np
import tensorflow as tf

from nets.appearance import jitter_appearance
from nets.heatmaps import binary_disk_heatmaps, gaussian_heatmaps, image_to_heatmap
from nets.losses import HeatmapLoss, LeftRightLabels, heatmap_loss, per_joint_heatmap_loss, swap_tolerant_loss
from nets.metrics import mean_joint_distance
from nets.pose_network import JOINT_NAMES, LOGITS_LAYER, model_input_size
from nets.trainer import NetworkTrainer

# Joint index each joint becomes when the image is mirrored (the person's left <-> right).
_MIRRORED_SIDE = {"r_": "l_", "l_": "r_"}
FLIP_PERMUTATION: tuple[int, ...] = tuple(
    JOINT_NAMES.index(_MIRRORED_SIDE.get(name[:2], name[:2]) + name[2:]) for name in JOINT_NAMES
)

# Joints whose side labels a frame may exchange as a unit under the swap-tolerant loss: the legs
# (hips, knees, ankles) and the arms (shoulders, elbows, wrists).
SIDE_GROUPS: tuple[tuple[int, ...], ...] = tuple(
    tuple(sorted(JOINT_NAMES.index(f"{side}_{part}") for side in ("r", "l") for part in parts))
    for parts in (("ankle", "knee", "hip"), ("wrist", "elbow", "shoulder"))
)

LEFT_RIGHT_LABELS: tuple[str, ...] = get_args(LeftRightLabels)

PoseData = tuple[np.ndarray, np.ndarray, np.ndarray]  # frames, joints_xy, visible


class PoseTrainer(NetworkTrainer):
    """Wraps a HumanPoseNN for `fit`: the seed's masked heat-map loss and the mean joint
    distance (model-input pixels, joints inside the frame) as metrics.

    Batches are `(frames (B, S, S, 3) uint8, {"joints_xy": (B, J, 2) model pixels,
    "presence": (B, J), "inside": (B, J)})`: `presence` selects the joints the loss sees,
    `inside` those the distance counts.

    `left_right="swap_tolerant"` scores each frame's legs and arms under whichever side labels
    fit better (`nets.losses.swap_tolerant_loss`); "labelled" is the seed's loss.
    `left_right="sides_merged"` gives each left/right joint the union of both sides' targets, so
    each map of a pair learns both limbs and nothing asks it to tell them apart (a network that
    sees one frame hedges that way anyway, and GaitNN reads both limbs from the features; the
    decoded joints of a pair then coincide). Not the default: GaitNN on its features did no
    better than on the labelled network's (validation rank-1 0.73 against 0.78, README).
    """

    def __init__(self, network: keras.Model, loss: HeatmapLoss = "SCE",
                 left_right: LeftRightLabels = "labelled", **kwargs):
        if left_right not in LEFT_RIGHT_LABELS:
            raise ValueError(f"left_right must be one of {LEFT_RIGHT_LABELS}, got {left_right!r}")
        logits = network.get_layer(LOGITS_LAYER).output
        super().__init__(network, keras.Model(network.inputs, {"heatmap_logits": logits}), **kwargs)
        self.loss_kind = loss
        self.left_right = left_right
        self._loss_fn = heatmap_loss(loss)
        self._input_size = model_input_size(network)
        self._loss_tracker = keras.metrics.Mean(name="loss")
        self._distance_tracker = keras.metrics.Mean(name="mean_joint_distance")

    @property
    def metrics(self):
        return [self._loss_tracker, self._distance_tracker]

    def _loss(self, outputs, labels):
        grid_xy = image_to_heatmap(labels["joints_xy"], self._input_size)
        draw = binary_disk_heatmaps if self.loss_kind == "SCE" else gaussian_heatmaps
        targets = draw(grid_xy, labels["presence"])
        if self.left_right == "labelled":
            return self._loss_fn(outputs["heatmap_logits"], targets, labels["presence"])
        mirror = list(FLIP_PERMUTATION)
        if self.left_right == "sides_merged":
            # Joints without a side are their own mirror, so the maximum leaves them as they are.
            merged = tf.maximum(targets, tf.gather(targets, mirror, axis=-1))
            presence = tf.maximum(labels["presence"], tf.gather(labels["presence"], mirror, axis=-1))
            return self._loss_fn(outputs["heatmap_logits"], merged, presence)
        logits = outputs["heatmap_logits"]
        return swap_tolerant_loss(
            per_joint_heatmap_loss(self.loss_kind, logits, targets),
            per_joint_heatmap_loss(self.loss_kind, logits, tf.gather(targets, mirror, axis=-1)),
            labels["presence"], tf.gather(labels["presence"], mirror, axis=-1), SIDE_GROUPS, len(JOINT_NAMES),
        )

    def _update_metrics(self, loss, outputs, labels):
        if "joints" in outputs:
            predicted_xy = tf.reverse(outputs["joints"][..., :2], axis=[-1])  # (y, x) -> (x, y)
        else:  # the training branch: the logits' arg-max, the heat-map peak before the last smoothing
            predicted_xy = _logits_peaks(outputs["heatmap_logits"], self._input_size)
        self._loss_tracker.update_state(loss)
        self._distance_tracker.update_state(
            mean_joint_distance(predicted_xy, labels["joints_xy"], labels["inside"])
        )
        return {metric.name: metric.result() for metric in self.metrics}


def _logits_peaks(logits, input_size: int):
    """(B, H, H, J) heat-map logits -> (B, J, 2) `(x, y)` of each map's arg-max, model pixels."""
    size = tf.shape(logits)[1]
    flat = tf.reshape(tf.transpose(logits, [0, 3, 1, 2]), [tf.shape(logits)[0], tf.shape(logits)[3], -1])
    index = tf.argmax(flat, axis=-1, output_type=tf.int32)  # (B, J)
    xy = tf.cast(tf.stack([index % size, index // size], axis=-1), tf.float32)
    return xy * (input_size / tf.cast(size, tf.float32))


class PoseBatches(keras.utils.PyDataset):
    """Shuffled, optionally augmented batches for `PoseTrainer`.

    Frames are resized to the model input once, up front. Augmentation per frame: a flip
    with probability 0.5 (joints mirrored and relabelled left <-> right), a zoom in
    [1 - max_scale, 1 + max_scale] about the centre and a shift of up to `max_shift` of the
    input size; the border is repeated, as in the seed's 'nearest' fill. With
    `appearance_jitter`, half the augmented frames also get a random look (colour, tone, blur,
    noise, JPEG; `nets.appearance`).

    With `frames_per_epoch`, an epoch is the next `frames_per_epoch` frames of an endless
    shuffled cycle over all the frames, so consecutive epochs see new frames until the cycle
    wraps (frames sampled for `k` epochs are each seen once in `k` epochs).
    """

    def __init__(
        self,
        frames: np.ndarray,
        joints_xy: np.ndarray,
        visible: np.ndarray,
        input_size: int,
        *,
        batch_size: int,
        augment: bool,
        shuffle: bool,
        max_scale: float = 0.1,
        max_shift: float = 0.05,
        appearance_jitter: bool = False,
        frames_per_epoch: int | None = None,
        seed: int = 0,
    ):
        super().__init__()
        if frames_per_epoch is not None and not 1 <= frames_per_epoch <= len(frames):
            raise ValueError(f"`frames_per_epoch` must be in [1, {len(frames)}], got {frames_per_epoch}")
        self.frames, self.joints_xy = _resize_to_input(frames, joints_xy, input_size)
        self.visible = np.asarray(visible, dtype=bool)
        self.input_size = input_size
        self.batch_size = batch_size
        self.augment = augment
        self.shuffle = shuffle
        self.max_scale = max_scale
        self.max_shift = max_shift
        self.appearance_jitter = appearance_jitter
        self.frames_per_epoch = frames_per_epoch or len(self.frames)
        self._rng = np.random.default_rng(seed)
        self._cycle = np.zeros(0, dtype=np.int64)
        self._order = np.arange(len(self.frames))
        self.on_epoch_end()

    def __len__(self) -> int:
        return -(-self.frames_per_epoch // self.batch_size)

    def on_epoch_end(self) -> None:
        if self.frames_per_epoch == len(self.frames):
            if self.shuffle:
                self._rng.shuffle(self._order)
            return
        while len(self._cycle) < self.frames_per_epoch:
            following = np.arange(len(self.frames))
            if self.shuffle:
                self._rng.shuffle(following)
            self._cycle = np.concatenate([self._cycle, following])
        self._order, self._cycle = self._cycle[: self.frames_per_epoch], self._cycle[self.frames_per_epoch :]

    def __getitem__(self, index: int):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        frames = self.frames[rows].copy()
        joints = self.joints_xy[rows].copy()
        visible = self.visible[rows].copy()
        if self.augment:
            for k in range(len(rows)):
                frames[k], joints[k], visible[k] = self._augment(frames[k], joints[k], visible[k])
        size = self.input_size
        inside = ((joints >= 0) & (joints <= size - 1)).all(axis=-1)
        labels = {
            "joints_xy": joints.astype(np.float32),
            "presence": (inside & visible).astype(np.float32),
            "inside": inside.astype(np.float32),
        }
        return frames, labels

    def _augment(self, frame, joints, visible):
        size = self.input_size
        if self._rng.random() < 0.5:
            frame = frame[:, ::-1]
            joints = joints[list(FLIP_PERMUTATION)]
            visible = visible[list(FLIP_PERMUTATION)]
            joints[:, 0] = size - 1 - joints[:, 0]
        zoom = self._rng.uniform(1 - self.max_scale, 1 + self.max_scale)
        shift = self._rng.uniform(-self.max_shift, self.max_shift, 2) * size
        centre = (size - 1) / 2.0
        affine = np.array([[zoom, 0.0, (1 - zoom) * centre + shift[0]],
                           [0.0, zoom, (1 - zoom) * centre + shift[1]]], dtype=np.float64)
        frame = cv2.warpAffine(np.ascontiguousarray(frame), affine, (size, size),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        joints = joints @ affine[:, :2].T + affine[:, 2]
        if self.appearance_jitter:
            frame = jitter_appearance(frame, self._rng)
        return frame, joints, visible


def _resize_to_input(frames: np.ndarray, joints_xy: np.ndarray, size: int):
    """(N, H, W, 3) frames -> (N, size, size, 3) and joints in the resized pixels."""
    frames = np.asarray(frames, dtype=np.uint8)
    joints = np.asarray(joints_xy, dtype=np.float64)
    height, width = frames.shape[1:3]
    if (height, width) != (size, size):
        interpolation = cv2.INTER_AREA if min(height, width) > size else cv2.INTER_LINEAR
        frames = np.stack([cv2.resize(f, (size, size), interpolation=interpolation)
                           for f in frames])
        joints = joints * np.array([size / width, size / height])
    return frames, joints


def _check_pose_data(name: str, frames, joints_xy, visible) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name}: frames must be (N, H, W, 3), got {frames.shape}")
    n, joints = len(frames), len(JOINT_NAMES)
    if np.shape(joints_xy) != (n, joints, 2):
        raise ValueError(f"{name}: joints_xy must be ({n}, {joints}, 2), got {np.shape(joints_xy)}")
    if np.shape(visible) != (n, joints):
        raise ValueError(f"{name}: visible must be ({n}, {joints}), got {np.shape(visible)}")


def fit_pose(
    model: keras.Model,
    frames: np.ndarray,
    joints_xy: np.ndarray,
    visible: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 16,
    augment: bool = True,
    appearance_jitter: bool = False,
    validation: PoseData | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    loss: HeatmapLoss = "SCE",
    left_right: LeftRightLabels = "labelled",
    optimizer: keras.optimizers.Optimizer | None = None,
    learning_rate: float = 1e-3,
    frames_per_epoch: int | None = None,
    seed: int = 0,
    verbose: Literal[0, 1, 2] = 0,
) -> keras.callbacks.History:
    """Trains a HumanPoseNN in place.

    Args:
        model: a `HumanPoseNN` (any backbone).
        frames: (N, H, W, 3) uint8 RGB; resized (stretched) to the model input.
        joints_xy: (N, 16, 2) `(x, y)` in frame pixels, MPII order.
        visible: (N, 16) 0/1: joints with 0 are left out of the loss (pass ones for joints
            whose position is known although hidden). Joints outside the (augmented) frame
            are always left out.
        epochs: passes over the frames.
        batch_size: frames per step.
        augment: random flips, zoom and shift.
        appearance_jitter: with `augment`, also a random look for half the frames (colour,
            tone, blur, noise, JPEG; `nets.appearance`, which has its measured effect).
        validation: optional `(frames, joints_xy, visible)`, not augmented.
        callbacks: Keras callbacks.
        loss: `"SCE"` (binary disks, the seed's default) or `"MSE"` (Gaussian bumps).
        left_right: "labelled" (the true side labels), "swap_tolerant" (each frame's legs and
            arms may take either side's labels) or "sides_merged" (each map of a left/right
            pair learns both limbs); see `PoseTrainer`.
        optimizer: default Adam starting at `learning_rate`, cosine-decayed to 1 % of it over
            all the steps, with the seed's gradient clipping (global norm 2.0); the seed used
            RMSProp with an unpublished schedule.
        frames_per_epoch: frames an epoch trains on (default all): with fewer, each epoch
            takes new frames from a shuffled cycle over `frames`, so a step budget spreads
            over more distinct poses than repeated passes over the same frames would.
        seed: augmentation and shuffling seed.
        verbose: Keras' progress output.

    Returns:
        The Keras `History` (`loss`, `mean_joint_distance`, and `val_` versions).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError("`epochs` and `batch_size` must be >= 1")
    _check_pose_data("training data", frames, joints_xy, visible)
    size = model_input_size(model)
    batches = PoseBatches(frames, joints_xy, visible, size, batch_size=batch_size,
                          augment=augment, appearance_jitter=appearance_jitter, shuffle=True,
                          frames_per_epoch=frames_per_epoch, seed=seed)
    validation_batches = None
    if validation is not None:
        _check_pose_data("validation data", *validation)
        validation_batches = PoseBatches(*validation, size, batch_size=batch_size,
                                         augment=False, shuffle=False)

    trainer = PoseTrainer(model, loss=loss, left_right=left_right, name=f"{model.name}_trainer")
    if optimizer is None:
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * len(batches), alpha=0.01)
        optimizer = keras.optimizers.Adam(rate, global_clipnorm=2.0)
    trainer.compile(optimizer=optimizer)
    # Creating the optimizer's slots now, eagerly, spares a second trace of the train step.
    trainer.optimizer.build(model.trainable_variables)
    return trainer.fit(
        batches,
        epochs=epochs,
        validation_data=validation_batches,
        callbacks=list(callbacks),
        verbose=verbose,
    )


__all__ = ["FLIP_PERMUTATION", "SIDE_GROUPS", "PoseBatches", "PoseTrainer", "fit_pose"]
