"""Training HumanPoseNN on stored frames that carry ground-truth joints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from provenance import module_version
from stages.checkpoint import EpochCheckpoint
from stages.models import TrainedModel, file_digest, save_trained_model
from storage.stages import sample_groundtruth_frames
from storage.store import SequenceStore


class BestWeights(keras.callbacks.Callback):
    """Remembers the weights of `model` at the best value of `monitor`; `restore()` puts them back."""

    def __init__(self, model: keras.Model, monitor: str, mode: str = "min", epoch_offset: int = 0) -> None:
        super().__init__()
        self._target, self.monitor, self._sign = model, monitor, (1.0 if mode == "min" else -1.0)
        self._offset = epoch_offset
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self._weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and (self.best_value is None or self._sign * value < self._sign * self.best_value):
            self.best_value, self.best_epoch = float(value), epoch + self._offset
            self._weights = self._target.get_weights()

    def restore(self) -> None:
        if self._weights is not None:
            self._target.set_weights(self._weights)


def held_out_pose_quality(
    store: SequenceStore, model: keras.Model, sequence_ids: Sequence[str], *, seed: int,
    max_sequences: int = 24, max_frames: int = 48,
) -> dict:
    """`evaluation.pose_quality` of the model's joints on stored sequences with ground truth.

    Up to `max_sequences` sequences (drawn with `seed`), each from its first frame on for up
    to `max_frames` consecutive frames, so swap rate and jitter see real tracks.

    Returns:
      `PoseQuality.to_dict()`: mean error and PCK as shares of body height, per joint group,
      left/right swap rate, jitter.
    """
    from evaluation.pose_quality import pose_quality
    from nets.pose_api import estimate_poses

    if not sequence_ids:
        raise ValueError(f"{store.path}: no held-out sequence with ground-truth joints to measure pose quality on")
    chosen = sorted(sequence_ids)
    if len(chosen) > max_sequences:
        chosen = sorted(np.random.default_rng(seed).choice(chosen, size=max_sequences, replace=False))
    predicted, truth, visible = [], [], []
    for sequence_id in chosen:
        group = store.open_sequence(sequence_id)
        count = min(max_frames, group["frames"].shape[0])
        estimates = estimate_poses(model, np.asarray(group["frames"][:count]), return_heatmaps=False)
        predicted.append(estimates.joints_xy)
        truth.append(np.asarray(group["joints_gt"][:count], dtype=np.float32))
        visible.append(np.asarray(group["visible_gt"][:count], dtype=bool))
    return pose_quality(predicted, truth, visible).to_dict()


def start_from(model: keras.Model, initial_model: str | Path) -> None:
    """Gives `model` the weights of the saved pose model `initial_model`.

    Raises:
      ValueError: the file holds another network, or a pose network of another trunk or input size.
    """
    from nets.checkpoints import load_model
    from nets.pose_network import model_input_size

    source = load_model(initial_model)
    theirs, ours = [tuple(w.shape) for w in source.weights], [tuple(w.shape) for w in model.weights]
    if theirs != ours:
        size = model_input_size(source) if len(source.inputs) == 1 and len(source.inputs[0].shape) == 4 else None
        raise ValueError(
            f"{initial_model}: not a pose model of this trunk ({model.name}, input {model_input_size(model)} px): "
            f"it has {len(theirs)} weights" + (f" and a {size} px input" if size else "")
            + "; pick the backbone it was trained with"
        )
    model.set_weights(source.get_weights())


def groundtruth_sequences(store: SequenceStore) -> dict[str, dict]:
    """Attributes of the stored sequences that carry ground-truth joints, by id."""
    return {i: a for i, a in store.all_sequence_attrs().items() if a.get("has_groundtruth")}


def split_by_subject(
    subjects: Sequence[str], validation_fraction: float, seed: int, *, min_held_out: int = 1
) -> tuple[set, set]:
    """(training subjects, validation subjects).

    At least `min_held_out` people are held out when `validation_fraction` is above 0 and at
    least one person is left to train on; otherwise none are.
    """
    unique = sorted(set(subjects))
    if validation_fraction <= 0 or len(unique) < min_held_out + 1:
        return set(unique), set()
    count = min(len(unique) - 1, max(min_held_out, round(validation_fraction * len(unique))))
    held_out = np.random.default_rng(seed).choice(unique, size=count, replace=False)
    return set(unique) - set(held_out), set(held_out)


def training_frames_per_sequence(
    store: SequenceStore, sequence_ids: Sequence[str], frames_per_sequence: int, epochs: int, memory_gb: float
) -> int:
    """How many distinct frames of each sequence to sample so that each epoch trains on new
    frames: `frames_per_sequence * epochs`, fewer when those would take more than `memory_gb`
    (never fewer than `frames_per_sequence`). The steps stay the same; only how often a frame
    repeats changes. Sequences shorter than the figure give all their frames."""
    wanted = frames_per_sequence * epochs
    if not sequence_ids or wanted == frames_per_sequence:
        return frames_per_sequence
    with store.reading():
        frames = [store.open_sequence(i)["frames"] for i in sequence_ids]
    frame_bytes = int(np.prod(frames[0].shape[1:])) * frames[0].dtype.itemsize
    counts = np.array([array.shape[0] for array in frames])
    budget = memory_gb * 2**30 / frame_bytes
    while wanted > frames_per_sequence and np.minimum(counts, wanted).sum() > budget:
        wanted = max(frames_per_sequence, wanted - frames_per_sequence)
    return int(wanted)


def train_pose_model(
    store: SequenceStore,
    model_dir: str | Path,
    *,
    backbone: str,
    loss: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    frames_per_sequence: int,
    validation_fraction: float,
    frames_memory_gb: float = 3.0,
    augment: bool,
    seed: int,
    appearance_jitter: bool = False,
    left_right: str = "labelled",
    only_subjects: Sequence[str] | None = None,
    initial_model: str | Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    backup_dir: str | Path | None = None,
) -> TrainedModel:
    """Trains a HumanPoseNN on frames sampled from every sequence with ground truth
    (of `only_subjects`, when given), from random weights or from those of the saved pose
    model `initial_model` (a local .keras file with the same trunk: fine-tuning).

    People, not frames, are split into training and validation, so validation measures
    generalisation to new bodies. The weights of the epoch with the smallest validation joint
    distance are saved (after a resume: the best epoch since resuming). With `backup_dir`, an
    interrupted run resumes from its last finished epoch.

    Raises:
      ValueError: the store holds no sequence with ground-truth joints, or `initial_model` is not a
        pose model of this backbone.
    """
    from nets.pose_network import HumanPoseNN
    from nets.pose_training import fit_pose
    from nets.validation import PoseValidation

    every_groundtruth = groundtruth_sequences(store)

    sequences = dict(every_groundtruth)
    if only_subjects is not None:
        allowed = set(only_subjects)
        sequences = {i: a for i, a in sequences.items() if a["subject"] in allowed}
    if not sequences:
        raise ValueError(
            f"{store.path}: no stored sequence carries ground-truth joints; ingest a synthetic archive "
            "(gaitflow synth) or give a trained pose model"
        )
    ids = sorted(sequences)
    if only_subjects is not None and not set(every_groundtruth) - set(ids):
        raise ValueError(
            f"{store.path}: every person with ground-truth joints is a training person of the protocol's split, "
            "so pose quality on people the network never saw cannot be measured; keep some people out of "
            "train_subjects"
        )
    fit_subjects, validation_subjects = split_by_subject([sequences[i]["subject"] for i in ids], validation_fraction, seed)
    fit_ids = [i for i in ids if sequences[i]["subject"] in fit_subjects]
    validation_ids = [i for i in ids if sequences[i]["subject"] in validation_subjects]
    per_sequence = training_frames_per_sequence(store, fit_ids, frames_per_sequence, epochs, frames_memory_gb)
    train = sample_groundtruth_frames(store, fit_ids, per_sequence, seed)
    keras.utils.set_random_seed(seed)
    model = HumanPoseNN(backbone)
    if initial_model is not None:
        start_from(model, initial_model)
    record = {
        "backbone": backbone, "loss": loss, "epochs": epochs, "batch_size": batch_size,
        "learning_rate": learning_rate, "frames_per_sequence": frames_per_sequence, "augment": augment,
        "appearance_jitter": appearance_jitter, "left_right": left_right,
        "frames_memory_gb": frames_memory_gb, "sampled_frames_per_sequence": per_sequence,
        "seed": seed, "store": str(store.path), "training_frames": int(len(train["frames"])),
        "training_subjects": sorted(fit_subjects), "validation_subjects": sorted(validation_subjects),
        "code_version": module_version(__name__),
        "initial_model": None if initial_model is None else {"file": Path(initial_model).name,
                                                             "digest": file_digest(initial_model)},
    }
    checkpoint = EpochCheckpoint(model, backup_dir, json.dumps(record, sort_keys=True)) if backup_dir else None
    done = checkpoint.resume() if checkpoint else 0
    all_callbacks: list[keras.callbacks.Callback] = []
    best = None
    if validation_ids:
        validation = sample_groundtruth_frames(store, validation_ids, max(1, frames_per_sequence // 2), seed + 1)
        all_callbacks.append(PoseValidation(validation["frames"], validation["joints_xy"], validation["visible"], model))
        best = BestWeights(model, "val_joint_distance_px", "min", epoch_offset=done)
        all_callbacks.append(best)
    all_callbacks.extend(callbacks)
    if checkpoint is not None:
        all_callbacks.append(checkpoint)
    history: dict[str, list[float]] = dict(checkpoint.history) if checkpoint else {}
    if done < epochs:
        fitted = fit_pose(
            model, train["frames"], train["joints_xy"], train["visible"].astype(np.float32),
            epochs=epochs - done, batch_size=batch_size, augment=augment, appearance_jitter=appearance_jitter,
            callbacks=all_callbacks,
            loss=loss.upper(), left_right=left_right, learning_rate=learning_rate, seed=seed + done,
            # As many steps an epoch as frames_per_sequence promises, on new frames each epoch.
            frames_per_epoch=min(len(train["frames"]), len(fit_ids) * frames_per_sequence),
        )
        history = checkpoint.history if checkpoint else {k: [float(x) for x in v] for k, v in fitted.history.items()}
    if best is not None:
        best.restore()
    metrics = {k: v[-1] for k, v in history.items() if v}
    if best is not None and best.best_value is not None:
        metrics.update(best_val_joint_distance_px=best.best_value, best_epoch=float(best.best_epoch))
        metrics.update({f"best_{k}": v[best.best_epoch] for k, v in history.items() if len(v) > best.best_epoch})
    if only_subjects is not None:
        held_out_ids, held_out_set = sorted(set(every_groundtruth) - set(ids)), "people outside the training split"
    else:
        held_out_ids, held_out_set = validation_ids, "validation people (used only to pick the best epoch)"
    if held_out_ids:
        quality = held_out_pose_quality(store, model, held_out_ids, seed=seed)
        metrics.update({f"heldout/{k}": v for k, v in quality.items() if isinstance(v, (int, float))})
        record["heldout"] = {"set": held_out_set, "subjects": sorted({every_groundtruth[i]["subject"] for i in held_out_ids})}
    trained = save_trained_model(model, model_dir, "pose", {**record, "metrics": metrics})
    if checkpoint is not None:
        checkpoint.clear()
    return trained
