"""Tasks that record a flow run in MLflow (I/O: retried with backoff)."""

from __future__ import annotations

from typing import Any, Mapping

from prefect import task

from params import TrackingParams
from tracking import mlflow_tracking
from tasks.retries import TRACKING_RETRIES



@task(name="open-tracking-run", **TRACKING_RETRIES)
def open_tracking_run(tracking: TrackingParams, run_name: str, params: Mapping[str, Any]) -> str:
    return mlflow_tracking.start_run(
        tracking.tracking_uri,
        tracking.experiment,
        run_name,
        params,
        artifact_root=str(tracking.artifact_root) if tracking.artifact_root else None,
        parent_run_id=tracking.parent_run_id,
        tags={"gaitflow.flow": run_name},
    )


@task(name="log-run-metrics", **TRACKING_RETRIES)
def log_run_metrics(tracking: TrackingParams, run_id: str, metrics: Mapping[str, float], step: int | None = None) -> None:
    mlflow_tracking.log_metrics(tracking.tracking_uri, run_id, metrics, step)


@task(name="log-run-document", **TRACKING_RETRIES)
def log_run_document(tracking: TrackingParams, run_id: str, document: Any, artifact_file: str) -> None:
    mlflow_tracking.log_dict(tracking.tracking_uri, run_id, document, artifact_file)


@task(name="log-run-artifacts", **TRACKING_RETRIES)
def log_run_artifacts(tracking: TrackingParams, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
    mlflow_tracking.log_artifacts(tracking.tracking_uri, run_id, local_path, artifact_path)


@task(name="close-tracking-run", **TRACKING_RETRIES)
def close_tracking_run(tracking: TrackingParams, run_id: str, failed: bool = False) -> None:
    mlflow_tracking.end_run(tracking.tracking_uri, run_id, failed=failed)
