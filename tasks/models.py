"""Task that finds a model file given as a local path or an MLflow artifact URI."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from params import TrackingParams
from stages.models import file_digest
from tasks.retries import IO_RETRIES
from tracking import mlflow_tracking


def is_model_uri(reference: str) -> bool:
    return reference.startswith(("runs:/", "models:/", "mlflow-artifacts:/"))


@task(name="resolve-model", **IO_RETRIES)
def resolve_model(reference: str, tracking: TrackingParams, download_dir: str) -> tuple[str, str]:
    """(local .keras path, digest) of a model given as a file path or an MLflow artifact URI."""
    if is_model_uri(reference):
        local = mlflow_tracking.fetch_model_file(tracking.tracking_uri, reference, Path(download_dir))
    else:
        local = Path(reference).expanduser().resolve()
    if not local.is_file() or local.suffix != ".keras":
        raise FileNotFoundError(f"{reference}: not a saved Keras model (.keras file)")
    return str(local), file_digest(local)
