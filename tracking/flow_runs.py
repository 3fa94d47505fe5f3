"""A flow's MLflow run, recorded with plain calls rather than Prefect tasks.

Each Prefect task run costs state round-trips to the Prefect API, which for bookkeeping of a
few milliseconds was most of a re-run's fixed cost. Nothing is lost by calling MLflow
directly: its REST client retries failed requests itself, with exponential backoff
(`MLFLOW_HTTP_REQUEST_MAX_RETRIES`, `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`), and a local
store has no network to retry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from tracking import mlflow_tracking

if TYPE_CHECKING:
    from params import TrackingParams


def open_tracking_run(tracking: TrackingParams, run_name: str, params: Mapping[str, Any]) -> str:
    """Opens the flow's run (nested under `tracking.parent_run_id`); returns its id."""
    return mlflow_tracking.start_run(
        tracking.tracking_uri,
        tracking.experiment,
        run_name,
        params,
        artifact_root=str(tracking.artifact_root) if tracking.artifact_root else None,
        parent_run_id=tracking.parent_run_id,
        tags={"gaitflow.flow": run_name},
    )


def log_run_metrics(tracking: TrackingParams, run_id: str, metrics: Mapping[str, float], step: int | None = None) -> None:
    mlflow_tracking.log_metrics(tracking.tracking_uri, run_id, metrics, step)


def log_run_document(tracking: TrackingParams, run_id: str, document: Any, artifact_file: str) -> None:
    mlflow_tracking.log_dict(tracking.tracking_uri, run_id, document, artifact_file)


def log_run_artifacts(tracking: TrackingParams, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
    mlflow_tracking.log_artifacts(tracking.tracking_uri, run_id, local_path, artifact_path)


def close_tracking_run(tracking: TrackingParams, run_id: str, failed: bool = False) -> None:
    mlflow_tracking.end_run(tracking.tracking_uri, run_id, failed=failed)
