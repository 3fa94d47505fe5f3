"""`ingest_archive` with a pose model: each bundle's features computed as its frames are stored."""

from __future__ import annotations

import numpy as np
import pytest

from storage.store import SequenceStore


@pytest.fixture(scope="module")
def pose_model(tmp_path_factory):
    """An untrained small HumanPoseNN, saved (its weights do not matter for equality)."""
    import keras

    from nets.pose_network import HumanPoseNN
    from stages.models import save_trained_model

    keras.utils.set_random_seed(0)
    model = save_trained_model(HumanPoseNN("small"), tmp_path_factory.mktemp("models"), "pose", {})
    keras.backend.clear_session()
    return model


@pytest.fixture(scope="module")
def stage(gaitflow_settings):
    """One local cluster for the module's flows (workers keep TensorFlow and the model loaded)."""
    from flows.compute import shared_cluster
    from params import ComputeParams, TrackingParams

    with shared_cluster(ComputeParams(n_workers=2, scratch_dir=gaitflow_settings.scratch)) as compute:
        yield dict(compute=compute, tracking=TrackingParams(
            tracking_uri=gaitflow_settings.tracking_uri, experiment="test-streamed-ingest",
            artifact_root=gaitflow_settings.home / "artifacts"))


def _archive(root, subjects: int, seed: int):
    from synth.archive import ArchiveSpec, write_archive

    write_archive(ArchiveSpec(subjects=subjects, views=(90,), walks=(("nm", 2), ("bg", 1)), frames=8, size=136,
                              seed=seed), root)


def test_streamed_features_equal_the_features_stage_and_reruns_do_only_whats_new(
    tmp_path, pose_model, prefect_server, stage, monkeypatch
):
    import flows.compute
    from flows.features import extract_features
    from flows.ingest import ingest_archive
    from tracking.progress import reporting_to

    archive = tmp_path / "archive"
    _archive(archive, subjects=2, seed=3)
    (archive / "video" / "009-nm-01-090.avi").write_bytes(b"not a video" * 40)
    streamed_store, staged_store = tmp_path / "streamed.zarr", tmp_path / "staged.zarr"

    # Streamed on the Dask workers; staged, these few sequences run in this process: same figures.
    on_dask = dict(stage, compute=stage["compute"].model_copy(update={"in_process_sequences": 0}))
    streamed = ingest_archive(archive=archive, store=streamed_store, frame_size=136, pose_model=pose_model.path,
                              **on_dask)
    ingest_archive(archive=archive, store=staged_store, frame_size=136, **stage)
    shown: dict[str, tuple[int, int]] = {}
    with reporting_to(lambda stage, done, total, item: shown.__setitem__(stage, (done, total))):
        staged = extract_features(store=staged_store, pose_model=pose_model.path, **stage)
    assert shown["features (frames)"] == (48, 48)  # from this process's threads, frame by frame

    stored = ["001-bg-01-090", "001-nm-01-090", "001-nm-02-090", "002-bg-01-090", "002-nm-01-090", "002-nm-02-090"]
    assert streamed.stored == stored and [item.id for item in streamed.failed] == ["009-nm-01-090"]
    assert streamed.features is not None and streamed.features.pose_model == staged["pose_model"]
    assert streamed.features.sequences_done == 6 and streamed.features.frames_done == staged["frames_done"] == 48
    assert streamed.features.failed == []
    one, other = SequenceStore(streamed_store), SequenceStore(staged_store)
    for sequence_id in stored:
        for name in ("spatial", "joints"):
            np.testing.assert_allclose(one.open_stage(sequence_id, "features", staged["pose_model"])[name][:],
                                       other.open_stage(sequence_id, "features", staged["pose_model"])[name][:],
                                       atol=1e-3)
    assert one.stage_attrs(stored[0], "features", staged["pose_model"]) == \
        other.stage_attrs(stored[0], "features", staged["pose_model"])

    # Nothing new: nothing decoded, no features recomputed, and the features stage finds nothing to do.
    again = ingest_archive(archive=archive, store=streamed_store, frame_size=136, pose_model=pose_model.path, **stage)
    assert again.stored == [] and again.skipped == stored and again.features.sequences_done == 0
    assert extract_features(store=streamed_store, pose_model=pose_model.path, **stage)["pending"] == 0

    # A new person, streamed into the store that was ingested without features: the new walks and
    # the ones stored before (which lacked these features) all get them in this run.
    _archive(archive, subjects=3, seed=3)

    def no_cluster(*args, **kwargs):
        raise AssertionError("a few new sequences started Dask workers")

    monkeypatch.setattr(flows.compute, "dask_task_runner", no_cluster)
    more = ingest_archive(archive=archive, store=staged_store, frame_size=136, pose_model=pose_model.path, **stage)
    assert more.stored == ["003-bg-01-090", "003-nm-01-090", "003-nm-02-090"]
    assert more.features.sequences_done == 3 and more.features.failed == []
    monkeypatch.undo()
    unfeatured = tmp_path / "unfeatured.zarr"
    ingest_archive(archive=archive, store=unfeatured, frame_size=136, **stage)
    late = ingest_archive(archive=archive, store=unfeatured, frame_size=136, pose_model=pose_model.path, **stage)
    assert late.stored == [] and late.features.sequences_done == 9
    assert extract_features(store=unfeatured, pose_model=pose_model.path, **stage)["pending"] == 0


def test_frames_smaller_than_the_pose_input_are_refused_before_any_decoding(
    tmp_path, pose_model, prefect_server, stage
):
    from flows.ingest import ingest_archive

    _archive(tmp_path / "archive", subjects=2, seed=4)
    with pytest.raises(ValueError, match=r"frames of 64 px are smaller than the pose model's 136 px input") as error:
        ingest_archive(archive=tmp_path / "archive", store=tmp_path / "store.zarr", frame_size=64,
                       pose_model=pose_model.path, **stage)
    assert "\n" not in str(error.value)
    assert SequenceStore(tmp_path / "store.zarr").sequence_ids() == []
