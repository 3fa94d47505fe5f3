"""The MLflow tracking module against a real SQLite-backed MLflow store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tracking import mlflow_tracking as mt

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    """(tracking URI, artifact root) of a fresh MLflow store."""
    return f"sqlite:///{tmp_path}/mlflow.db", str(tmp_path / "artifacts")


def _start(store, name="run", params=None, experiment="exp", **options):
    uri, artifacts = store
    return mt.start_run(uri, experiment, name, params or {}, artifact_root=artifacts, **options)


def _steps(uri, run_id, key):
    return [(m.step, m.value) for m in sorted(MlflowClient(uri).get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))]


def test_start_run_nests_under_its_parent_flattens_params_and_records_its_process(store):
    uri, _ = store
    parent = _start(store, "pipeline")
    child = _start(store, "train-pose", {"training": {"epochs": 3, "backbone": "small"}, "seeds": [1, 2],
                                         "note": "x" * 600}, parent_run_id=parent, tags={"gaitflow.flow": "train-pose"})
    run = MlflowClient(uri).get_run(child)
    assert run.info.run_name == "train-pose" and run.info.status == "RUNNING"
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert "mlflow.parentRunId" not in MlflowClient(uri).get_run(parent).data.tags
    assert run.data.tags["gaitflow.flow"] == "train-pose"
    assert run.data.tags["gaitflow.pid"] == str(os.getpid())
    assert run.data.tags["gaitflow.host"] == socket.gethostname()
    assert run.data.params == {"training.epochs": "3", "training.backbone": "small", "seeds": "[1, 2]", "note": "x" * 500}


def test_epoch_metrics_stay_at_their_epochs_and_the_end_summary_adds_no_step_zero_points(store):
    uri, _ = store
    run_id = _start(store)
    callback = mt.metrics_callback(uri, run_id)
    epochs = [{"loss": 3.0, "val_loss": 4.0}, {"loss": 2.0, "val_loss": 3.5}, {"loss": 1.0, "val_loss": np.float32(3.25)}]
    for epoch, logs in enumerate(epochs):
        callback.on_epoch_end(epoch, logs)
    # What flows/training.py::_finish logs at the end: the record's last values plus summaries.
    summary = {"loss": 1.0, "val_loss": 3.25, "best_epoch": 2.0, "best_val_loss": 3.25}
    mt.log_metrics(uri, run_id, summary)
    mt.log_metrics(uri, run_id, summary)  # a retried task logs nothing twice
    assert _steps(uri, run_id, "loss") == [(0, 3.0), (1, 2.0), (2, 1.0)]
    assert _steps(uri, run_id, "val_loss") == [(0, 4.0), (1, 3.5), (2, 3.25)]
    assert _steps(uri, run_id, "best_epoch") == [(0, 2.0)]
    assert _steps(uri, run_id, "best_val_loss") == [(0, 3.25)]


def test_log_metrics_keeps_explicit_steps_and_drops_what_is_not_a_finite_number(store):
    uri, _ = store
    run_id = _start(store)
    mt.log_metrics(uri, run_id, {"rank1": 0.5, "nan": float("nan"), "inf": float("inf"), "text": "high",
                                 "array_scalar": np.float64(0.25)}, step=7)
    mt.log_metrics(uri, run_id, {"rank1": 0.75}, step=8)
    assert set(MlflowClient(uri).get_run(run_id).data.metrics) == {"rank1", "array_scalar"}
    assert _steps(uri, run_id, "rank1") == [(7, 0.5), (8, 0.75)]
    assert _steps(uri, run_id, "array_scalar") == [(7, 0.25)]


def test_documents_and_artifacts_come_back_as_stored(store, tmp_path):
    uri, _ = store
    run_id = _start(store)
    document = {"rank1": [0.5, 0.75], "protocol": "casia-b", "nested": {"n": 3}}
    mt.log_dict(uri, run_id, document, "reports/report.json")
    mt.log_text(uri, run_id, "hello\n", "notes/readme.txt")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.bin").write_bytes(b"\x00\x01")
    single = tmp_path / "single.csv"
    single.write_text("x,y\n1,2\n")
    mt.log_artifacts(uri, run_id, folder, "evaluation")
    mt.log_artifacts(uri, run_id, single, "tables")

    back = Path(MlflowClient(uri).download_artifacts(run_id, "", str(tmp_path / "back")))
    assert json.loads((back / "reports" / "report.json").read_text()) == document
    assert (back / "notes" / "readme.txt").read_text() == "hello\n"
    assert (back / "evaluation" / "a.txt").read_text() == "a"
    assert (back / "evaluation" / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert (back / "tables" / "single.csv").read_text() == "x,y\n1,2\n"
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*") if p.is_file()) == [
        "evaluation/a.txt", "evaluation/sub/b.bin", "notes/readme.txt", "reports/report.json", "tables/single.csv"]


def test_end_run_marks_finished_or_failed_with_an_end_time(store):
    uri, _ = store
    finished, failed = _start(store, "ok"), _start(store, "broken")
    mt.end_run(uri, finished)
    mt.end_run(uri, failed, failed=True)
    client = MlflowClient(uri)
    assert client.get_run(finished).info.status == "FINISHED"
    assert client.get_run(failed).info.status == "FAILED"
    assert client.get_run(finished).info.end_time and client.get_run(failed).info.end_time


def test_fail_interrupted_runs_fails_only_runs_of_dead_processes_on_this_host(store):
    uri, artifacts = store
    host = socket.gethostname()
    script = (
        "import sys; from tracking import mlflow_tracking as mt; "
        "print(mt.start_run(sys.argv[1], 'exp', 'killed', {}, artifact_root=sys.argv[2]))"
    )
    started = subprocess.run([sys.executable, "-c", script, uri, artifacts], cwd=ROOT, check=True,
                             capture_output=True, text=True, timeout=120)
    orphan = started.stdout.strip().splitlines()[-1]
    client = MlflowClient(uri)
    dead_pid = client.get_run(orphan).data.tags["gaitflow.pid"]
    assert dead_pid != str(os.getpid())

    live = _start(store, "live")
    elsewhere = _start(store, "elsewhere")
    client.set_tag(elsewhere, "gaitflow.host", "another-host")
    client.set_tag(elsewhere, "gaitflow.pid", dead_pid)
    untagged = client.create_run(mt.experiment_id(uri, "exp"), run_name="made elsewhere").info.run_id
    finished = _start(store, "finished")
    mt.end_run(uri, finished)
    # A run tagged with this live pid, but begun before this process was: its pid was reused.
    reused = client.create_run(mt.experiment_id(uri, "exp"), run_name="reused pid",
                               start_time=int((time.time() - 10 * 24 * 3600) * 1000),
                               tags={"gaitflow.pid": str(os.getpid()), "gaitflow.host": host}).info.run_id

    before = int(time.time() * 1000)
    assert sorted(mt.fail_interrupted_runs(uri, "exp", host=host)) == sorted([orphan, reused])
    for run_id in (orphan, reused):
        info = client.get_run(run_id).info
        assert info.status == "FAILED" and info.end_time >= before
    for run_id in (live, elsewhere, untagged):
        assert client.get_run(run_id).info.status == "RUNNING"
    assert client.get_run(finished).info.status == "FINISHED"
    assert mt.fail_interrupted_runs(uri, "exp", host=host) == []
    assert mt.fail_interrupted_runs(uri, "no-such-experiment", host=host) == []


def test_experiments_are_marked_as_classic_ml_experiments(store):
    uri, artifacts = store
    client = MlflowClient(uri)
    _start(store, experiment="made-here")
    assert client.get_experiment_by_name("made-here").tags["mlflow.experimentKind"] == "custom_model_development"

    older = client.create_experiment("made-before")  # e.g. by an older gaitflow: no kind yet
    assert mt.experiment_id(uri, "made-before", artifacts) == older
    assert client.get_experiment(older).tags["mlflow.experimentKind"] == "custom_model_development"

    chosen = client.create_experiment("chosen", tags={"mlflow.experimentKind": "genai_development"})
    assert mt.experiment_id(uri, "chosen") == chosen
    assert client.get_experiment(chosen).tags["mlflow.experimentKind"] == "genai_development"
