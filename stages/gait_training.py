"""Training GaitNN on stored pose features of the training people."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from evaluation.protocols import split_subjects
from provenance import module_version
from stages.features import FEATURES_STAGE
from stages.models import TrainedModel, save_trained_model
from stages.pose_training import split_by_subject
from storage.store import SequenceStore

# Walks that form a validation gallery; the rest of a validation person's walks are probes.
_GALLERY_CONDITIONS = {"nm", "n"}
_GALLERY_MAX_INDEX = 4


def feature_table(store: SequenceStore, features_tag: str) -> dict[str, dict]:
    """Attributes of the sequences that have `features/<features_tag>`, by id.

    Raises:
      ValueError: none has them (the features were never extracted with that model).
    """
    with store.reading():
        table = {i: a for i, a in store.all_sequence_attrs().items() if store.has_stage(i, FEATURES_STAGE, features_tag)}
    if not table:
        raise ValueError(
            f"{store.path}: no sequence has features of pose model {features_tag!r}; run extract_features "
            "with that model first"
        )
    return table


def read_features(store: SequenceStore, sequence_ids: Sequence[str], features_tag: str) -> list[np.ndarray]:
    """Spatial features (T_i, 17, 17, 32) of each sequence, in its stored precision."""
    with store.reading():
        return [np.asarray(store.open_stage(i, FEATURES_STAGE, features_tag)["spatial"][:]) for i in sequence_ids]


def train_gait_model(
    store: SequenceStore,
    model_dir: str | Path,
    *,
    features_tag: str,
    protocol: str,
    train_subjects: str | None,
    recurrent_unit: str,
    rnn_layers: int,
    residual_blocks: str,
    loss: str,
    epochs: int,
    people_per_batch: int,
    sequences_per_person: int,
    clip_frames: int,
    learning_rate: float,
    patience: int,
    validation_fraction: float,
    seed: int,
    schedule: str = "cosine",
    feature_centering: str = "none",
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainedModel:
    """Trains GaitNN on the protocol's training people; test people are never seen.

    A share of the training people is held out: their nm/n walks 1-4 are a gallery and their
    other walks probes, giving a validation rank-1 each epoch that drives early stopping (the
    best epoch's weights are kept).
    """
    from nets.gait_network import GaitNN
    from nets.gait_training import fit_gait
    from nets.validation import RankOneValidation

    table = feature_table(store, features_tag)
    train, _ = split_subjects([a["subject"] for a in table.values()], protocol, train_subjects)
    # Rank-1 among fewer than two held-out people is always 1 and would stop training at once.
    fit_people, validation_people = split_by_subject(sorted(train), validation_fraction, seed, min_held_out=2)
    if len(fit_people) < 2:
        raise ValueError(f"{store.path}: GaitNN needs at least two training people, the split gives {len(fit_people)}")
    fit_ids = sorted(i for i, a in table.items() if a["subject"] in fit_people)
    people = sorted(fit_people)
    labels = [people.index(table[i]["subject"]) for i in fit_ids]
    keras.utils.set_random_seed(seed)
    model = GaitNN(recurrent_unit=recurrent_unit, rnn_layers=rnn_layers, extra_residual_blocks=residual_blocks,
                   feature_centering=feature_centering,
                   num_identities=len(people) if "softmax" in loss else None)
    all_callbacks: list[keras.callbacks.Callback] = []
    validation_ids = sorted(i for i, a in table.items() if a["subject"] in validation_people)
    gallery_ids = [i for i in validation_ids if _in_gallery(table[i])]
    probe_ids = [i for i in validation_ids if not _in_gallery(table[i])]
    if gallery_ids and probe_ids:
        all_callbacks.append(RankOneValidation(
            read_features(store, gallery_ids, features_tag), [table[i]["subject"] for i in gallery_ids],
            read_features(store, probe_ids, features_tag), [table[i]["subject"] for i in probe_ids], model,
        ))
        all_callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_rank1", mode="max", patience=patience, restore_best_weights=True))
    all_callbacks.extend(callbacks)
    history = fit_gait(
        model, read_features(store, fit_ids, features_tag), labels,
        epochs=epochs, batch_size=people_per_batch * sequences_per_person, loss=loss,
        callbacks=all_callbacks, learning_rate=learning_rate, max_frames=clip_frames,
        identities_per_batch=people_per_batch, schedule=schedule, seed=seed,
    )
    metrics = {k: float(v[-1]) for k, v in history.history.items()}
    if "val_rank1" in history.history:
        metrics["best_val_rank1"] = float(max(history.history["val_rank1"]))
        metrics["epochs_run"] = float(len(history.history["val_rank1"]))
    record = {
        "features": features_tag, "protocol": protocol, "train_subjects": train_subjects,
        "recurrent_unit": recurrent_unit, "rnn_layers": rnn_layers,
        "residual_blocks": residual_blocks, "feature_centering": feature_centering, "loss": loss, "epochs": epochs,
        "people_per_batch": people_per_batch, "sequences_per_person": sequences_per_person,
        "clip_frames": clip_frames, "learning_rate": learning_rate, "schedule": schedule, "seed": seed,
        "fit_people": people, "validation_people": sorted(validation_people),
        "training_sequences": len(fit_ids), "metrics": metrics, "code_version": module_version(__name__),
    }
    return save_trained_model(model, model_dir, "gait", record)


def _in_gallery(attrs: dict) -> bool:
    return attrs["condition"] in _GALLERY_CONDITIONS and attrs["index"] <= _GALLERY_MAX_INDEX and attrs.get("session", 1) == 1
