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
    from gaitflow.services import in_process_prefect

    with in_process_prefect(gaitflow_settings) as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3-compatible server (moto's server mode) on 127.0.0.1 for the session, with the
    standard AWS variables pointing at it (icechunk's client and child processes read them)."""
    from benchmarks.object_store import s3_server

    with s3_server() as server:
        yield server["url"]


@pytest.fixture
def s3_bucket(s3_endpoint, request) -> str:
    """A fresh bucket on the session's S3 server: "s3://<bucket>"."""
    import re
    import uuid

    import boto3

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    boto3.client("s3").create_bucket(Bucket=name)
    return f"s3://{name}"
