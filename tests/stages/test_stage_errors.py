"""Bad input at the stages: a clear error, and nothing stored is touched."""

from __future__ import annotations

import numpy as np
import pytest

from storage.store import ChunkedArray, SequenceStore


def _store_with_sequences(path, count=3, groundtruth=False):
    store = SequenceStore(path, create=True)
    for number in range(count):
        frames = np.zeros((4, 8, 8, 3), np.uint8)
        arrays = {"frames": ChunkedArray(frames.shape, "uint8", frames.shape, [frames])}
        attrs = {"subject": f"00{number}", "condition": "nm", "index": 1, "view": 90, "session": 1,
                 "content_hash": str(number), "has_groundtruth": groundtruth}
        store.write_sequence(f"00{number}-nm-01-090", attrs, arrays)
    return store


def test_pose_training_on_a_store_without_ground_truth_says_what_to_do(tmp_path):
    from stages.pose_training import train_pose_model

    store = _store_with_sequences(tmp_path / "s.zarr")
    with pytest.raises(ValueError, match="no stored sequence carries ground-truth joints"):
        train_pose_model(store, tmp_path / "models", backbone="small", loss="sce", epochs=1, batch_size=2,
                         learning_rate=1e-3, frames_per_sequence=1, validation_fraction=0.2, augment=False, seed=0)


def test_gait_training_on_missing_features_names_the_stage(tmp_path):
    from stages.gait_training import feature_table

    store = _store_with_sequences(tmp_path / "s.zarr")
    with pytest.raises(ValueError, match="no sequence has features of pose model 'abc123'"):
        feature_table(store, "abc123")


def test_describing_with_a_model_whose_features_are_not_stored_fails_and_writes_nothing(tmp_path):
    from storage.store import StoreError
    from stages.gait_training import read_features

    store = _store_with_sequences(tmp_path / "s.zarr")
    with pytest.raises(StoreError, match="has no features/feedbeef"):
        read_features(store, store.sequence_ids(), "feedbeef")
    assert not any(store.has_stage(i, "descriptors", "x") for i in store.sequence_ids())


def test_read_vectors_without_the_stage_is_a_clear_error(tmp_path):
    from storage.stages import read_vectors

    store = _store_with_sequences(tmp_path / "s.zarr")
    with pytest.raises(ValueError, match="no sequence has descriptors/g1"):
        read_vectors(store, "descriptors", "g1")


def test_split_by_subject_keeps_both_sides_non_empty():
    from stages.pose_training import split_by_subject

    fit, held_out = split_by_subject(["a", "b", "c", "d", "e"], 0.2, seed=1)
    assert len(held_out) == 1 and len(fit) == 4 and not fit & held_out
    assert split_by_subject(["a"], 0.5, seed=1) == ({"a"}, set())
    assert split_by_subject(["a", "b"], 0.0, seed=1) == ({"a", "b"}, set())
    fit, held_out = split_by_subject(["a", "b", "c", "d", "e"], 0.1, seed=1, min_held_out=2)
    assert len(held_out) == 2 and len(fit) == 3
    assert split_by_subject(["a", "b"], 0.5, seed=1, min_held_out=2) == ({"a", "b"}, set())
