"""The whole pipeline on a tiny synthetic archive with real Prefect, Dask, zarr and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from storage.store import SequenceStore

SUBJECTS = 4


@pytest.fixture(scope="module")
def tiny_archive(tmp_path_factory):
    from synth.archive import ArchiveSpec, write_archive

    root = tmp_path_factory.mktemp("archive")
    spec = ArchiveSpec(subjects=SUBJECTS, views=(36, 90), walks=(("nm", 6), ("bg", 1), ("cl", 1)),
                       frames=16, size=136, seed=5)
    write_archive(spec, root)
    return root


def _arguments(archive, store, settings) -> dict:
    """`run_pipeline`'s keyword arguments: the top-level fields, with groups as their models."""
    from params import ComputeParams, GaitTrainingOptions, PoseTrainingOptions, ProtocolOptions, TrackingParams

    return dict(
        archive=archive, store=store, layout="casia-b", protocol=ProtocolOptions(train_subjects="2"),
        pose_training=PoseTrainingOptions(epochs=1, frames_per_sequence=1, batch_size=8),
        gait_training=GaitTrainingOptions(epochs=2, rnn_layers=1, people_per_batch=2, sequences_per_person=2,
                                          clip_frames=8, validation_fraction=0.0),
        compute=ComputeParams(n_workers=2, scratch_dir=settings.scratch),
        tracking=TrackingParams(tracking_uri=settings.tracking_uri, experiment="test-pipeline",
                                artifact_root=settings.home / "artifacts"),
    )


def test_pipeline_runs_end_to_end_and_a_second_run_recomputes_nothing(
    tiny_archive, tmp_path, prefect_server, gaitflow_settings
):
    from flows.pipeline import run_pipeline

    from tracking.progress import reporting_to

    arguments = _arguments(tiny_archive, tmp_path / "store.zarr", gaitflow_settings)
    shown: dict[str, tuple[int, int]] = {}
    with reporting_to(lambda stage, done, total, item: shown.__setitem__(stage, (done, total))):
        first = run_pipeline(**arguments)
    sequences = SUBJECTS * 8 * 2
    # What a watcher saw: every decoded bundle, every feature frame (sent from inside the Dask
    # workers), every training step.
    assert shown["features (frames)"] == (sequences * 16, sequences * 16)
    assert {"ingest", "train pose", "train gait"} <= set(shown)
    assert all(done == total for done, total in shown.values()), shown
    assert first["ingest"]["stored"] == sequences and first["notes"] == []
    assert first["features"]["sequences_done"] == sequences and first["describe"]["described"] == sequences

    store = SequenceStore(arguments["store"])
    some_id = store.sequence_ids()[0]
    pose_tag, gait_tag = first["features"]["pose_model"], first["describe"]["gait_model"]
    features = store.open_stage(some_id, "features", pose_tag)
    assert features["spatial"].shape == (16, 17, 17, 32) and features["spatial"].dtype == np.float16
    assert features["joints"].shape == (16, 16, 3)
    vector = store.open_stage(some_id, "descriptors", gait_tag)["vector"][:]
    assert vector.shape == (512,) and np.isfinite(vector).all()

    evaluation = first["evaluation"]
    assert evaluation["test_subjects"] == 2
    for classifier in ("svm", "nn"):
        report = evaluation["results"][classifier]
        assert set(report["standard_rank1"]) == {"nm", "bg", "cl"}
        assert set(report["standard_rank1_by_view"]["nm"]) == {"36", "90"}
        by_view = report["standard_rank1_by_view"]
        assert all(0.0 <= x <= 1.0 for views in by_view.values() for x in views.values())
        assert report["chance"]["nm"] == pytest.approx(0.5)  # two test people

    client = MlflowClient(gaitflow_settings.tracking_uri)
    parent = client.get_run(first["mlflow_run_id"])
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert {run.info.run_name for run in children} >= {
        "ingest-archive", "train-pose", "extract-features", "train-gait", "describe", "evaluate"}
    by_name = {run.info.run_name: run for run in children}
    assert by_name["train-pose"].data.params["training.epochs"] == "1"
    assert "loss" in by_name["train-pose"].data.metrics
    headline = 100 * evaluation["results"]["svm"]["standard_rank1"]["nm"]
    assert by_name["evaluate"].data.metrics["svm/standard_rank1/nm"] == pytest.approx(headline)
    assert by_name["evaluate"].data.metrics["svm/chance/nm"] == pytest.approx(50.0)
    assert parent.data.metrics["svm/standard_rank1/nm"] == pytest.approx(headline)  # comparable across runs
    artifacts = {a.path for a in client.list_artifacts(by_name["evaluate"].info.run_id, "evaluation/svm")}
    assert {"evaluation/svm/cmc.png", "evaluation/svm/roc.png", "evaluation/svm/rank1.md"} <= artifacts
    models = {a.path for a in client.list_artifacts(by_name["train-gait"].info.run_id, "model")}
    assert f"model/gait-{gait_tag}.keras" in models

    second = run_pipeline(**arguments)
    assert second["ingest"]["stored"] == 0 and second["ingest"]["skipped"] == sequences
    assert second["pose_training"]["reused"] and second["gait_training"]["reused"]
    assert second["features"]["sequences_done"] == 0 and second["describe"]["described"] == 0
    assert second["features"]["pose_model"] == pose_tag and second["describe"]["gait_model"] == gait_tag
    assert second["evaluation"]["results"]["svm"]["standard_rank1"] == evaluation["results"]["svm"]["standard_rank1"]

    # With a pose model given, features stream with ingest into a new store, and the features stage
    # finds nothing left to do.
    streamed = run_pipeline(**{**arguments, "store": tmp_path / "streamed.zarr",
                               "pose_model": first["pose_training"]["model_path"]})
    assert streamed["pose_training"] is None and streamed["ingest"]["stored"] == sequences
    assert streamed["ingest"]["features"]["sequences_done"] == sequences
    assert streamed["ingest"]["features"]["pose_model"] == pose_tag
    assert streamed["features"]["pending"] == 0 and streamed["features"]["pose_model"] == pose_tag
    assert streamed["describe"]["described"] == sequences

    # Pose training that starts from a model is another training, kept under its own key: a
    # second run with the same start re-uses it, a start of other content trains again.
    from flows.training import train_pose
    from stages.models import file_digest

    start = first["pose_training"]["model_path"]
    fine_tune = dict(store=arguments["store"], protocol=arguments["protocol"], compute=arguments["compute"],
                     tracking=arguments["tracking"],
                     training=arguments["pose_training"].model_copy(update={"initial_model": start}))
    tuned = train_pose(**fine_tune)
    assert not tuned["reused"] and tuned["model_tag"] != pose_tag
    saved = json.loads(Path(tuned["model_path"]).with_suffix(".json").read_text())
    assert saved["initial_model"]["digest"] == file_digest(start)
    assert train_pose(**fine_tune)["reused"]
    other = tmp_path / "other-start.keras"
    other.write_bytes(Path(tuned["model_path"]).read_bytes())
    moved = train_pose(**{**fine_tune, "training": fine_tune["training"].model_copy(update={"initial_model": str(other)})})
    assert not moved["reused"]
