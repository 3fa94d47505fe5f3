"""Where gaitflow keeps its own state; the only module that reads environment variables.

Everything else receives these values as parameters.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

HOME_VARIABLE = "GAITFLOW_HOME"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Paths and endpoints for one gaitflow installation.

    Attributes:
      home: project data folder (Prefect's home, the MLflow store, Dask scratch space).
      tracking_uri: MLflow tracking URI; a SQLite file under `home` unless set.
      prefect_api_url: an existing Prefect server; None starts a private local one.
      dask_address: an existing Dask scheduler; None starts a local cluster per run.
    """

    home: Path
    tracking_uri: str
    prefect_api_url: str | None
    dask_address: str | None

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def artifact_root(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def scratch(self) -> Path:
        return self.home / "dask-scratch"


def load_settings(home: str | os.PathLike | None = None) -> Settings:
    """Settings from arguments first, then GAITFLOW_HOME, MLFLOW_TRACKING_URI, PREFECT_API_URL,
    GAITFLOW_DASK_ADDRESS, then defaults (`./.gaitflow`)."""
    root = Path(home or os.environ.get(HOME_VARIABLE) or ".gaitflow").expanduser().resolve()
    return Settings(
        home=root,
        tracking_uri=os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}",
        prefect_api_url=os.environ.get("PREFECT_API_URL") or None,
        dask_address=os.environ.get("GAITFLOW_DASK_ADDRESS") or None,
    )
