from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the project: real footage; tests skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test footage not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def gaitflow_settings(tmp_path_factory):
    """A private project home: Prefect home, MLflow store, Dask scratch."""
    from gaitflow.settings import Settings

    home = tmp_path_factory.mktemp("gaitflow-home")
    return Settings(
        home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", prefect_api_url=None, dask_address=None
    )


@pytest.fixture(scope="session")
def prefect_server(gaitflow_settings):
    """One real local Prefect server for the whole session; Dask workers inherit its URL."""
    from gaitflow.services import prefect_api

    saved = {k: os.environ.get(k) for k in ("PREFECT_HOME", "PREFECT_API_URL")}
    os.environ.pop("PREFECT_HOME", None)
    with prefect_api(gaitflow_settings) as url:
        # Prefect reads the environment once at import; Dask workers are new processes and
        # read it afresh, this process needs the settings applied explicitly.
        from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

        with temporary_settings({PREFECT_API_URL: url, PREFECT_HOME: str(gaitflow_settings.prefect_home)}):
            yield url
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
