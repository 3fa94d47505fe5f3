"""Bringing up the local services a run needs: telemetry off, Prefect's home and API.

Prefect with no API URL starts a temporary server in every process that runs a flow or a
task, Dask workers included. One private `prefect server` per gaitflow command, whose URL the
workers inherit, is faster and lighter.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import filelock

from gaitflow.settings import Settings

# MLflow wants the string "true"; Prefect's analytics and DO_NOT_TRACK cover the rest.
QUIET_ENVIRONMENT = {
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # MLflow's INFO lines ("Creating initial MLflow database tables...") say nothing a user acts on.
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "DASK_LOGGING__DISTRIBUTED": "warning",
    "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "warning",
}
_SERVER_START_TIMEOUT_S = 120.0


def prepare_environment(settings: Settings) -> None:
    """Sets the process environment (inherited by Dask workers) before Prefect is imported."""
    settings.home.mkdir(parents=True, exist_ok=True)
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


@contextlib.contextmanager
def prefect_api(settings: Settings) -> Iterator[str]:
    """Yields a Prefect API URL: the configured one, or a private server for this command."""
    prepare_environment(settings)
    if settings.prefect_api_url:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url
        yield settings.prefect_api_url
        return
    port = _free_port()
    log_path = settings.home / "prefect-server.log"
    env = {**os.environ, "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port)}
    env.pop("PREFECT_API_URL", None)
    url = f"http://127.0.0.1:{port}/api"
    # Two commands sharing a home share Prefect's database: started together, both servers
    # migrate it at once and one fails ("duplicate column name"), so starts take turns.
    with filelock.FileLock(str(settings.home / "prefect-server.start.lock"), thread_local=False):
        with open(log_path, "ab") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
                 "--no-services", "--no-ui", "--analytics-off"],
                stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent,
            )
        try:
            _wait_healthy(url, server, log_path)
        except BaseException:
            server.kill()
            raise
    try:
        os.environ["PREFECT_API_URL"] = url
        with _without_flow_heartbeats():
            yield url
    finally:
        _drain_prefect_clients()
        os.environ.pop("PREFECT_API_URL", None)
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


@contextlib.contextmanager
def _without_flow_heartbeats() -> Iterator[None]:
    """No flow-run heartbeats for flows run against a private server.

    Heartbeats let a server's automations mark a vanished flow run as crashed; a private server
    runs none, and lives only as long as the command. Each flow's exit waits for its heartbeat
    thread to wake (up to a second): about 3.5 s of a re-run of `run` that finds nothing to do.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _die_with_parent() -> None:
    """In the server's process before exec: Linux ends it when its parent dies, even by kill -9."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _drain_prefect_clients(timeout_s: float = 30.0) -> None:
    """Sends the logs and events this process still holds while the private server is up.

    Prefect's log and event workers outlive a flow run; left with a backlog when the server
    stops, they retry every item against a dead address and stall the process for minutes
    (seen at the end of `python -m benchmarks`). Prefect's own test harness drains the same
    way before it stops its server.
    """
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout_s)


def _wait_healthy(url: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + _SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the local Prefect server exited early; see {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError(f"the local Prefect server did not become healthy in {_SERVER_START_TIMEOUT_S:.0f} s; see {log_path}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def in_process_prefect(settings: Settings) -> Iterator[str]:
    """`prefect_api` for a process that has already imported Prefect (tests, benchmarks).

    Prefect reads the environment once at import: Dask workers, being new processes, see the
    URL through the environment, while this process gets it through `temporary_settings`. The
    environment is restored afterwards.
    """
    saved = {k: os.environ.get(k) for k in ("PREFECT_HOME", "PREFECT_API_URL")}
    os.environ.pop("PREFECT_HOME", None)
    try:
        with prefect_api(settings) as url:
            from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

            with temporary_settings({PREFECT_API_URL: url, PREFECT_HOME: str(settings.prefect_home)}):
                yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
