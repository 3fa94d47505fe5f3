"""Validation of GaitNN by identification rank-1 during training."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from evaluation.classifiers import nearest_neighbour_distances
from evaluation.metrics import rank_k_accuracy
from nets.gait_network import gait_descriptors


class RankOneValidation(keras.callbacks.Callback):
    """Adds `val_rank1` to each epoch's logs: nearest-neighbour rank-1 of probe sequences
    against gallery sequences of held-out people, on the identification vectors.

    Put it before callbacks that read `val_rank1` (EarlyStopping, loggers).
    """

    def __init__(
        self,
        gallery: Sequence[np.ndarray],
        gallery_subjects: Sequence[str],
        probes: Sequence[np.ndarray],
        probe_subjects: Sequence[str],
        inference_model: keras.Model,
    ) -> None:
        super().__init__()
        if not gallery or not probes:
            raise ValueError("rank-1 validation needs gallery and probe sequences")
        self._gallery, self._probes = list(gallery), list(probes)
        self._gallery_subjects = np.asarray(gallery_subjects, dtype=str)
        self._probe_subjects = np.asarray(probe_subjects, dtype=str)
        self._inference_model = inference_model

    def on_epoch_end(self, epoch, logs=None):
        gallery = gait_descriptors(self._inference_model, self._gallery)
        probes = gait_descriptors(self._inference_model, self._probes)
        scores = nearest_neighbour_distances(gallery, self._gallery_subjects, probes)
        rank1 = rank_k_accuracy(scores.matrix, self._probe_subjects, scores.subjects, 1,
                                higher_is_better=scores.higher_is_better)
        if logs is not None:
            logs["val_rank1"] = float(rank1)


class PoseValidation(keras.callbacks.Callback):
    """Adds `val_joint_distance_px` (mean over joints inside the frame, in frame pixels) and
    `val_pck` (PCKh@0.5) to each epoch's logs, from the model's decoded joints.

    Put it before callbacks that read them (checkpointing, loggers).
    """

    def __init__(self, frames: np.ndarray, joints_xy: np.ndarray, visible: np.ndarray, model: keras.Model) -> None:
        super().__init__()
        if len(frames) == 0:
            raise ValueError("pose validation needs frames")
        self._frames, self._joints_xy, self._visible = frames, joints_xy.astype(np.float32), visible.astype(bool)
        self._pose_model = model

    def on_epoch_end(self, epoch, logs=None):
        distance, pck = pose_scores(self._pose_model, self._frames, self._joints_xy, self._visible)
        if logs is not None:
            logs["val_joint_distance_px"] = distance
            logs["val_pck"] = pck


def pose_scores(model: keras.Model, frames: np.ndarray, joints_xy: np.ndarray, visible: np.ndarray) -> tuple[float, float]:
    """(mean joint distance in frame pixels, PCKh@0.5) of `model` on frames (N, S, S, 3) uint8
    with true joints (N, 16, 2) and visibility (N, 16)."""
    from nets import metrics
    from nets.frame_features import frame_feature_function

    features_of = frame_feature_function(model)
    predicted = np.concatenate([features_of(frames[i:i + 32])["joints"] for i in range(0, len(frames), 32)])
    predicted_xy = predicted[..., [1, 0]]
    inside = metrics.inside_frame(joints_xy, frames.shape[1:3]) & visible
    distance = float(metrics.mean_joint_distance(predicted_xy, joints_xy, inside))
    pck = float(metrics.pck(predicted_xy, joints_xy, inside, threshold=0.5, reference="head"))
    return distance, pck
