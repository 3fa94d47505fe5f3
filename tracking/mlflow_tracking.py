"""The only module that talks to MLflow.

Runs are addressed by id through `MlflowClient` rather than MLflow's per-thread "active run",
so a flow can open a run and tasks on any Dask worker can log into it.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any, Mapping

import mlflow
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

_PARAM_VALUE_LIMIT = 500
_PARENT_TAG = "mlflow.parentRunId"


def _client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(tracking_uri: str, name: str, artifact_root: str | None = None) -> str:
    """The id of experiment `name`, created (artifacts under `artifact_root`) if missing."""
    client = _client(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if artifact_root is not None:
        location = (Path(artifact_root) / name).resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except mlflow.exceptions.MlflowException:
        # Another process created it between our look-up and create.
        return client.get_experiment_by_name(name).experiment_id


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
    """Opens a run (nested under `parent_run_id` when given), logs `params` flattened; returns its id."""
    client = _client(tracking_uri)
    all_tags = dict(tags or {})
    if parent_run_id:
        all_tags[_PARENT_TAG] = parent_run_id
    run = client.create_run(experiment_id(tracking_uri, experiment, artifact_root), run_name=run_name, tags=all_tags)
    flat = flatten(params)
    if flat:
        client.log_batch(run.info.run_id, params=[mlflow.entities.Param(k, v) for k, v in flat.items()])
    return run.info.run_id


def log_metrics(tracking_uri: str, run_id: str, metrics: Mapping[str, float], step: int | None = None) -> None:
    """Logs the finite numeric values of `metrics`."""
    client = _client(tracking_uri)
    entries = [
        mlflow.entities.Metric(key, float(value), _now_ms(), step or 0)
        for key, value in metrics.items()
        if isinstance(value, (int, float)) and math.isfinite(float(value))
    ]
    if entries:
        client.log_batch(run_id, metrics=entries)


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
    import time

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
