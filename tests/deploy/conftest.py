"""The deployments of prefect.yaml, done for real: a Prefect server with its services (the
scheduler included), the README's CLI commands, and a process worker.

Every process a test starts goes through `processes`, which ends the whole process tree
(Prefect's flow-run subprocesses start their own sessions, Dask adds nannies and workers) at
teardown, also when the test fails. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from gaitflow.services import _free_port, _wait_healthy
from tests.deploy.realprefect import ROOT, PrefectServer, Processes, environment

# What a copy of the project needs to run its flows; the rest (virtual environment, data,
# results of earlier runs) stays behind. Mirrors .gitignore.
_NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", "*.egg-info", ".pytest_cache", "data", ".gaitflow", "mlruns", "mlflow.db",
    ".whl", ".gl", "*.png", ".import_linter_cache",
)

if not hasattr(os, "killpg"):  # pragma: no cover - Windows
    pytest.skip("these tests need POSIX process groups to end what they start", allow_module_level=True)


@pytest.fixture
def processes():
    keeper = Processes()
    try:
        yield keeper
    finally:
        keeper.stop_all()


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """The project's code and prefect.yaml in a folder of its own: `prefect deploy` names the
    folder it runs in as the flows' working directory, so their relative paths (data/...,
    .gaitflow/...) land here and not in the checkout."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=_NOT_COPIED, symlinks=True)
    return copy


@pytest.fixture
def prefect_server_with_services(tmp_path, processes) -> PrefectServer:
    """`prefect server start --host 127.0.0.1` as the README starts it (services, scheduler
    included), on a free port, with its own PREFECT_HOME; its API URL is in `.env`."""
    logs = tmp_path / "logs"
    logs.mkdir()
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = environment(home)
    port = _free_port()
    log = logs / "prefect-server.log"
    server = processes.start(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
        log=log, env=env, cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}/api"
    _wait_healthy(url, server, log)
    env["PREFECT_API_URL"] = url
    return PrefectServer(url=url, log=log, env=env, process=server, processes=processes, logs=logs)


