"""Pose training on a store with ground truth: trains, saves, and resumes after a crash."""

from __future__ import annotations

import keras
import pytest

from stages.pose_training import train_pose_model, training_frames_per_sequence
from storage.frames import FrameSpec
from storage.ingest import ingest_sequence
from storage.manifest import discover
from storage.store import SequenceStore


@pytest.fixture(scope="module")
def store_with_truth(tmp_path_factory):
    from synth.archive import ArchiveSpec, write_archive

    root = tmp_path_factory.mktemp("pose-archive")
    write_archive(ArchiveSpec(subjects=3, views=(90,), walks=(("nm", 1),), frames=8, size=64, seed=3), root)
    store = SequenceStore(root / "s.zarr", create=True)
    for entry in discover(root, "casia-b").entries:
        ingest_sequence(store, entry, FrameSpec(size=136), layout="casia-b")
    return store


class _Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("killed")


class _EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


OPTIONS = dict(backbone="small", loss="sce", epochs=3, batch_size=4, learning_rate=1e-3, frames_per_sequence=4,
               validation_fraction=0.3, augment=False, seed=0)


def test_training_saves_the_model_with_its_record(store_with_truth, tmp_path):
    trained = train_pose_model(store_with_truth, tmp_path / "models", **{**OPTIONS, "epochs": 1})
    assert trained.path.endswith(f"pose-{trained.digest}.keras")
    assert trained.record["validation_subjects"] and "val_pck" in trained.record["metrics"]
    assert trained.record["code_version"]


def test_pose_quality_is_reported_on_people_the_network_never_trained_on(store_with_truth, tmp_path):
    subjects = sorted({a["subject"] for a in store_with_truth.all_sequence_attrs().values()})
    trained = train_pose_model(store_with_truth, tmp_path / "models", **{**OPTIONS, "epochs": 1},
                               only_subjects=subjects[:2])
    assert trained.record["heldout"]["subjects"] == subjects[2:]
    assert trained.record["heldout"]["set"] == "people outside the training split"
    assert set(trained.record["training_subjects"]) | set(trained.record["validation_subjects"]) == set(subjects[:2])
    metrics = trained.record["metrics"]
    for name in ("heldout/mean_error", "heldout/pck_0.1", "heldout/legs/pck_0.1", "heldout/swap_rate",
                 "heldout/jitter"):
        assert name in metrics
    assert 0.0 <= metrics["heldout/pck_0.1"] <= metrics["heldout/pck_0.2"] <= 1.0
    assert metrics["heldout/frames"] == 8  # the one walk of the one held-out person


def test_a_killed_training_resumes_from_its_last_finished_epoch(store_with_truth, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(KeyboardInterrupt):
        train_pose_model(store_with_truth, tmp_path / "models", **OPTIONS, callbacks=[_Crash()], backup_dir=checkpoints)
    assert (checkpoints / "state.json").is_file()
    counter = _EpochCounter()
    trained = train_pose_model(store_with_truth, tmp_path / "models", **OPTIONS, callbacks=[counter],
                               backup_dir=checkpoints)
    assert counter.epochs == 2  # epoch 1 was done before the crash; epochs 2 and 3 remain
    assert trained.record["metrics"]["best_epoch"] >= 1 and not checkpoints.exists()


def test_each_epoch_samples_new_frames_within_the_memory_budget(store_with_truth):
    ids = sorted(store_with_truth.all_sequence_attrs())
    # 8-frame walks: 2 frames an epoch for 3 epochs is 6 distinct frames of each walk.
    assert training_frames_per_sequence(store_with_truth, ids, 2, 3, memory_gb=1.0) == 6
    assert training_frames_per_sequence(store_with_truth, ids, 2, 1, memory_gb=1.0) == 2
    # 3 walks x 6 frames of 136x136x3 bytes is 1.0 MB; a 0.8 MB budget fits 4 frames each,
    # and a tiny one still keeps the frames one epoch asks for.
    assert training_frames_per_sequence(store_with_truth, ids, 2, 3, memory_gb=0.8e6 / 2**30) == 4
    assert training_frames_per_sequence(store_with_truth, ids, 2, 3, memory_gb=1e-9) == 2


def test_the_record_says_how_many_frames_of_each_walk_training_sampled(store_with_truth, tmp_path):
    trained = train_pose_model(store_with_truth, tmp_path / "models", **{**OPTIONS, "epochs": 2, "frames_per_sequence": 2})
    assert trained.record["sampled_frames_per_sequence"] == 4
    assert trained.record["frames_per_sequence"] == 2


def test_training_can_start_from_a_saved_pose_model(store_with_truth, tmp_path):
    from nets.checkpoints import load_model
    from stages.models import file_digest

    first = train_pose_model(store_with_truth, tmp_path / "first", **{**OPTIONS, "epochs": 1})
    # A learning rate too small to move the weights: the fine-tuned model keeps where it started.
    tuned = train_pose_model(store_with_truth, tmp_path / "tuned", **{**OPTIONS, "epochs": 1, "learning_rate": 1e-12},
                             initial_model=first.path)
    assert tuned.record["initial_model"] == {"file": f"pose-{first.digest}.keras", "digest": file_digest(first.path)}
    start, end = load_model(first.path), load_model(tuned.path)
    layer = "SmallPoseNet.Conv1"
    assert keras.ops.convert_to_numpy(end.get_layer(layer).weights[0]) == pytest.approx(
        keras.ops.convert_to_numpy(start.get_layer(layer).weights[0]), abs=1e-6)
    fresh = train_pose_model(store_with_truth, tmp_path / "fresh", **{**OPTIONS, "epochs": 1, "learning_rate": 1e-12})
    assert fresh.record["initial_model"] is None
    assert not (keras.ops.convert_to_numpy(load_model(fresh.path).get_layer(layer).weights[0])
                == pytest.approx(keras.ops.convert_to_numpy(start.get_layer(layer).weights[0]), abs=1e-6))


def test_a_start_model_of_another_trunk_is_refused_naming_the_file(tmp_path):
    from nets.checkpoints import save_model
    from nets.gait_network import GaitNN
    from nets.pose_network import HumanPoseNN
    from stages.pose_training import start_from

    other = tmp_path / "gait.keras"
    save_model(GaitNN(), other)
    with pytest.raises(ValueError, match=r"gait\.keras: not a pose model of this trunk .*input 136 px"):
        start_from(HumanPoseNN("small"), other)
