"""The only module that talks to MLflow.

Runs are addressed by id through `MlflowClient` rather than MLflow's per-thread "active run",
so a flow can open a run and tasks on any Dask worker can log into it.
"""

from __future__ import annotations

import json
import math
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

import mlflow
import psutil
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

_PARAM_VALUE_LIMIT = 500
_PARENT_TAG = "mlflow.parentRunId"
PID_TAG = "gaitflow.pid"
HOST_TAG = "gaitflow.host"
# The experiment tag MLflow 3's UI reads to choose an experiment's first view: "custom_model_development"
# opens on the runs (training) view, "genai_development" on the traces view; unset, the UI guesses.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def _client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(tracking_uri: str, name: str, artifact_root: str | None = None) -> str:
    """The id of experiment `name`, created (artifacts under `artifact_root`) if missing.

    The experiment is marked a classic ML experiment (`mlflow.experimentKind`), so that MLflow's
    UI opens it on its runs; an existing experiment gets the tag unless it already has a kind.
    """
    client = _client(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if artifact_root is not None:
            location = (Path(artifact_root) / name).resolve().as_uri()
        try:
            return client.create_experiment(name, artifact_location=location,
                                            tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
        except mlflow.exceptions.MlflowException:
            # Another process created it between our look-up and create.
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if EXPERIMENT_KIND_TAG not in experiment.tags:
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    return experiment.experiment_id


def start_run(
    tracking_uri: str,
    experiment: str,
    run_name: str,
    params: Mapping[str, Any],
    *,
    artifact_root: str | None = None,
    parent_run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Opens a run (nested under `parent_run_id` when given), logs `params` flattened; returns its id.

    The run is tagged with the calling process's pid and host (`gaitflow.pid`, `gaitflow.host`),
    so that `fail_interrupted_runs` can later tell a run whose process died from a live one.
    """
    client = _client(tracking_uri)
    all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    all_tags.update({PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()})
    if parent_run_id:
        all_tags[_PARENT_TAG] = parent_run_id
    run = client.create_run(experiment_id(tracking_uri, experiment, artifact_root), run_name=run_name, tags=all_tags)
    flat = flatten(params)
    if flat:
        client.log_batch(run.info.run_id, params=[mlflow.entities.Param(k, v) for k, v in flat.items()])
    return run.info.run_id


def log_metrics(tracking_uri: str, run_id: str, metrics: Mapping[str, float], step: int | None = None) -> None:
    """Logs the finite numeric values of `metrics` at `step`.

    With `step=None` the values are a summary (e.g. a training's record at its end): they are
    logged at step 0 only for keys the run has no history of yet. A key already logged (say
    per epoch by `metrics_callback`) is left as it is, so its chart gains no false point at
    step 0, and a retried call logs nothing twice.
    """
    client = _client(tracking_uri)
    values = {key: number for key, value in metrics.items() if (number := _finite(value)) is not None}
    if step is None and values:
        logged = client.get_run(run_id).data.metrics
        values = {key: number for key, number in values.items() if key not in logged}
    timestamp = _now_ms()
    entries = [mlflow.entities.Metric(key, number, timestamp, int(step or 0)) for key, number in values.items()]
    if entries:
        client.log_batch(run_id, metrics=entries)


def _finite(value: Any) -> float | None:
    """`value` as a finite float, or None for non-numbers (strings, lists), NaN and infinities."""
    if isinstance(value, (str, bytes)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def set_tags(tracking_uri: str, run_id: str, tags: Mapping[str, str]) -> None:
    client = _client(tracking_uri)
    for key, value in tags.items():
        client.set_tag(run_id, key, str(value))


def log_dict(tracking_uri: str, run_id: str, document: Any, artifact_file: str) -> None:
    """Stores `document` as a JSON artifact."""
    _client(tracking_uri).log_dict(run_id, document, artifact_file)


def log_text(tracking_uri: str, run_id: str, text: str, artifact_file: str) -> None:
    _client(tracking_uri).log_text(run_id, text, artifact_file)


def log_artifacts(tracking_uri: str, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> None:
    """Copies a file or a folder's files into the run's artifacts."""
    local_path = Path(local_path)
    client = _client(tracking_uri)
    if local_path.is_dir():
        client.log_artifacts(run_id, str(local_path), artifact_path)
    else:
        client.log_artifact(run_id, str(local_path), artifact_path)


def end_run(tracking_uri: str, run_id: str, *, failed: bool = False) -> None:
    status = RunStatus.to_string(RunStatus.FAILED if failed else RunStatus.FINISHED)
    _client(tracking_uri).set_terminated(run_id, status=status)


def fail_interrupted_runs(tracking_uri: str, experiment: str, *, host: str) -> list[str]:
    """Marks FAILED (with an end time) the RUNNING runs of `experiment` whose process is gone.

    Only runs started by `start_run` on `host` (which must be this machine: the pid is looked up
    here) are considered; runs of other hosts, runs without a pid tag and runs whose process
    still lives are left alone. A pid now held by a process younger than the run counts as gone.
    Returns the ids of the runs marked failed.
    """
    client = _client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    running: list[mlflow.entities.Run] = []
    page_token = None
    while True:  # Collect every page first: failing runs while paging would shift the pages.
        page = client.search_runs([found.experiment_id], filter_string="attributes.status = 'RUNNING'",
                                  page_token=page_token)
        running.extend(page)
        page_token = page.token
        if not page_token:
            break
    failed: list[str] = []
    for run in running:
        if run.info.status != "RUNNING" or run.data.tags.get(HOST_TAG) != host:
            continue
        try:
            pid = int(run.data.tags[PID_TAG])
        except (KeyError, ValueError):
            continue
        if _process_alive(pid, run.info.start_time):
            continue
        client.set_tag(run.info.run_id, "gaitflow.interrupted", f"process {pid} on {host} ended with the run open")
        client.set_terminated(run.info.run_id, status=RunStatus.to_string(RunStatus.FAILED), end_time=_now_ms())
        failed.append(run.info.run_id)
    return failed


def _process_alive(pid: int, run_start_ms: int | None) -> bool:
    """Whether process `pid` lives and is not a newer process that reused the run's pid."""
    if not psutil.pid_exists(pid):
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False  # Exited, not yet reaped by its parent.
        created = process.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # It exists but cannot be inspected (another user's): assume it is the run's.
    # The run's process started before the run did; a clearly younger one reused the pid.
    return run_start_ms is None or created <= run_start_ms / 1000 + 1.0


def log_model_file(tracking_uri: str, run_id: str, model_file: str | Path, artifact_path: str = "model") -> str:
    """Stores a saved Keras model, with the record JSON saved beside it if any; returns its URI."""
    client = _client(tracking_uri)
    model_file = Path(model_file)
    client.log_artifact(run_id, str(model_file), artifact_path)
    record = model_file.with_suffix(".json")
    if record.is_file():
        client.log_artifact(run_id, str(record), artifact_path)
    return f"runs:/{run_id}/{artifact_path}/{model_file.name}"


def fetch_model_file(tracking_uri: str, model_uri: str, destination: str | Path) -> Path:
    """Downloads a model stored by `log_model_file` (and its record) from a `runs:/...` URI."""
    mlflow.set_tracking_uri(tracking_uri)
    folder_uri, _, name = model_uri.rstrip("/").rpartition("/")
    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=folder_uri, dst_path=str(destination)))
    return folder / name


def find_runs(tracking_uri: str, experiment: str, filter_string: str = "") -> list[mlflow.entities.Run]:
    """Runs of `experiment`, newest first (empty when the experiment does not exist)."""
    client = _client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return client.search_runs([found.experiment_id], filter_string=filter_string, order_by=["attributes.start_time DESC"])


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}} -> {"a.b": "1"}; values shortened to MLflow's comfortable size."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            flat[name] = text[:_PARAM_VALUE_LIMIT]
    return flat


def _now_ms() -> int:
    return int(time.time() * 1000)


def metrics_callback(tracking_uri: str, run_id: str, prefix: str = ""):
    """A Keras callback that logs every epoch's logs (loss, metrics) to the run."""
    import keras

    class MlflowEpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            log_metrics(tracking_uri, run_id, {f"{prefix}{k}": v for k, v in (logs or {}).items()}, step=epoch)

    return MlflowEpochLogger()


def scratch_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="gaitflow-mlflow-")
