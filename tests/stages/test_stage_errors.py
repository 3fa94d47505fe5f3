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


def test_describing_sequences_whose_features_are_not_stored_fails_them_and_writes_nothing_for_them(tmp_path):
    from nets.checkpoints import save_model
    from nets.gait_network import GaitNN
    from stages.descriptors import DESCRIPTORS_STAGE, describe_sequences
    from stages.features import FEATURES_STAGE

    store = _store_with_sequences(tmp_path / "s.zarr")
    ids = store.sequence_ids()
    model_path = tmp_path / "gait-0123456789ab.keras"
    save_model(GaitNN(num_identities=None, extra_residual_blocks="discarded"), model_path)

    def describe():
        return describe_sequences(store, ids, str(model_path), "0123456789ab", "feedbeef", threads=1, device="cpu")

    def described():
        return [i for i in ids if store.has_stage(i, DESCRIPTORS_STAGE, "0123456789ab")]

    report = describe()  # no sequence has features of "feedbeef"
    assert report["done"] == [] and sorted(report["failed"]) == ids
    assert all("has no features/feedbeef" in reason for reason in report["failed"].values())
    assert described() == []

    spatial = np.random.default_rng(0).normal(0, 1, (3, 17, 17, 32)).astype(np.float16)
    store.write_stage(ids[0], FEATURES_STAGE, "feedbeef", {"pose_model": "feedbeef"},
                      {"spatial": ChunkedArray(spatial.shape, "float16", spatial.shape, [spatial])})
    report = describe()  # now the first has them: it alone is described, the others still fail
    assert report["done"] == [ids[0]] and sorted(report["failed"]) == ids[1:]
    assert described() == [ids[0]]
    vector = np.asarray(store.open_stage(ids[0], DESCRIPTORS_STAGE, "0123456789ab")["vector"][:])
    assert vector.shape == (512,) and vector.dtype == np.float32 and np.isfinite(vector).all()


def test_nan_features_fail_their_sequence_by_id_and_the_rest_are_described(tmp_path):
    """All-NaN pose features used to become finite descriptors, and evaluate went on with them."""
    from nets.checkpoints import save_model
    from nets.gait_network import GaitNN
    from stages.descriptors import DESCRIPTORS_STAGE, describe_sequences
    from stages.features import FEATURES_STAGE
    from storage.stages import read_vectors

    store = _store_with_sequences(tmp_path / "s.zarr")
    ids = store.sequence_ids()
    model_path = tmp_path / "gait-0123456789ab.keras"
    save_model(GaitNN(num_identities=None, extra_residual_blocks="discarded"), model_path)
    for number, sequence_id in enumerate(ids):
        spatial = np.random.default_rng(number).normal(0, 1, (3, 17, 17, 32)).astype(np.float16)
        if number == 1:
            spatial[:] = np.nan
        store.write_stage(sequence_id, FEATURES_STAGE, "feedbeef", {"pose_model": "feedbeef"},
                          {"spatial": ChunkedArray(spatial.shape, "float16", spatial.shape, [spatial])})
    report = describe_sequences(store, ids, str(model_path), "0123456789ab", "feedbeef", threads=1, device="cpu")
    assert report["done"] == [ids[0], ids[2]]
    assert list(report["failed"]) == [ids[1]] and "NaN or infinity from frame 0" in report["failed"][ids[1]]
    assert not store.has_stage(ids[1], DESCRIPTORS_STAGE, "0123456789ab")
    described, vectors, _ = read_vectors(store, DESCRIPTORS_STAGE, "0123456789ab")
    assert described == [ids[0], ids[2]] and np.isfinite(vectors).all()


def test_a_diverged_training_saves_no_model(tmp_path):
    from nets.gait_network import GaitNN
    from stages.models import save_trained_model

    model = GaitNN(num_identities=None, extra_residual_blocks="discarded", rnn_layers=1)
    weights = model.get_weights()
    weights[0] = np.full_like(weights[0], np.nan)
    model.set_weights(weights)
    with pytest.raises(ValueError, match="non-finite weights"):
        save_trained_model(model, tmp_path / "models", "gait", {})
    assert not any((tmp_path / "models").glob("*.keras"))


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


def test_frames_smaller_than_the_pose_input_are_refused_before_anything_is_stored(tmp_path):
    from nets.checkpoints import save_model
    from nets.pose_network import HumanPoseNN
    from stages.features import FEATURES_STAGE, extract_features

    store = _store_with_sequences(tmp_path / "s.zarr")  # 8x8 px frames
    model_path = tmp_path / "pose-0123456789ab.keras"
    save_model(HumanPoseNN("small"), model_path)
    with pytest.raises(ValueError, match=r"s\.zarr: sequence '000-nm-01-090' has 8x8 px frames, smaller than "
                                         r"the pose network's 136x136 input; ingest again with --frame-size 136"):
        extract_features(store, store.sequence_ids(), str(model_path), "0123456789ab",
                         batch_frames=4, dtype="float16", threads=1, device="cpu")
    assert not any(store.has_stage(i, FEATURES_STAGE, "0123456789ab") for i in store.sequence_ids())


def test_held_out_pose_quality_needs_people_outside_the_training_split(tmp_path):
    from stages.pose_training import held_out_pose_quality, train_pose_model

    store = _store_with_sequences(tmp_path / "s.zarr", groundtruth=True)
    everyone = ["000", "001", "002"]
    with pytest.raises(ValueError, match="every person with ground-truth joints is a training person"):
        train_pose_model(store, tmp_path / "models", backbone="small", loss="sce", epochs=1, batch_size=2,
                         learning_rate=1e-3, frames_per_sequence=1, validation_fraction=0.2, augment=False, seed=0,
                         only_subjects=everyone)
    assert not (tmp_path / "models").exists()
    with pytest.raises(ValueError, match="no held-out sequence with ground-truth joints"):
        held_out_pose_quality(store, None, [], seed=0)
