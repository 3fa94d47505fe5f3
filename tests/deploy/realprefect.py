"""Helpers of the deployment tests: processes that are ended with all their children, a real
Prefect server's API and CLI, and reading a deployment's parameter schema."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from gaitflow.services import QUIET_ENVIRONMENT, _die_with_parent

ROOT = Path(__file__).resolve().parents[2]

# Inherited settings that would point the servers, CLI and flows elsewhere (a session's
# private server sets PREFECT_API_URL and PREFECT_HOME in this process's environment).
_NOT_INHERITED = ("PREFECT_", "GAITFLOW_", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT", "DASK_")
ERROR_MARKERS = ("error", "traceback", "exception", "critical")


def prefect_yaml() -> dict:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())


def yaml_deployment(name: str) -> dict:
    for deployment in prefect_yaml()["deployments"]:
        if deployment["name"] == name:
            return deployment
    raise AssertionError(f"prefect.yaml has no deployment named {name!r}")


def error_lines(log: Path) -> list[str]:
    """Lines of a log that report an error (`Error`, `Traceback`, `InvalidRequestError`, ...)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if any(marker in line.lower() for marker in ERROR_MARKERS)]


def tail(log: Path, lines: int = 60) -> str:
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Processes:
    """Starts processes in their own process groups and ends every one of them, children included."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen] = []
        self._tree: dict[int, psutil.Process] = {}

    def start(self, args: list[str], *, log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        self._started.append(proc)
        return proc

    def run(self, args: list[str], *, log: Path, env: dict[str, str], cwd: Path, timeout: float) -> str:
        """Runs a command to its end; fails the test, with its output, when it fails or hangs."""
        log.parent.mkdir(parents=True, exist_ok=True)
        start = log.stat().st_size if log.exists() else 0
        proc = self.start(args, log=log, env=env, cwd=cwd)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            pytest.fail(f"`{' '.join(args[2:])}` did not finish in {timeout:.0f} s:\n{tail(log)}")
        with open(log, "rb") as f:
            f.seek(start)
            output = f.read().decode(errors="replace")
        self._started.remove(proc)  # ended: its pid, and so its group id, may be reused
        assert rc == 0, f"`{' '.join(args[2:])}` exited with {rc}:\n{output[-6000:]}"
        return output

    def remember_children(self) -> None:
        """Notes the descendants now alive: ones that leave their group are still ended."""
        for proc in self._started:
            try:
                for child in psutil.Process(proc.pid).children(recursive=True):
                    self._tree.setdefault(child.pid, child)
            except psutil.Error:
                pass

    def stop(self, proc: subprocess.Popen, timeout: float = 15.0) -> None:
        # Only while the leader lives (unreaped) are its pid and group id surely still ours.
        leader_alive = proc.poll() is None
        family: list[psutil.Process] = []
        if leader_alive:
            with _quiet():
                leader = psutil.Process(proc.pid)
                family = [leader, *leader.children(recursive=True)]
            self._signal_group(proc.pid, signal.SIGTERM)
        family += [p for p in self._tree.values() if p not in family]
        for member in family:
            with _quiet():
                member.terminate()  # psutil refuses a pid that was reused since
        _, alive = psutil.wait_procs(family, timeout=timeout)
        if leader_alive and proc.poll() is None:
            self._signal_group(proc.pid, signal.SIGKILL)
        for member in alive:
            with _quiet():
                member.kill()
        psutil.wait_procs(alive, timeout=5)
        with _quiet():
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        self.remember_children()
        for proc in reversed(self._started):
            self.stop(proc)
        self._started.clear()
        self._tree.clear()

    @staticmethod
    def _signal_group(pid: int, sig: int) -> None:
        with _quiet():
            os.killpg(pid, sig)  # the group its own session gave it: pgid == pid


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is not None and issubclass(kind, (psutil.Error, ProcessLookupError, PermissionError,
                                                      subprocess.TimeoutExpired, ChildProcessError))


@dataclass
class PrefectServer:
    url: str
    log: Path
    env: dict[str, str]
    process: subprocess.Popen
    processes: Processes
    logs: Path
    cli_calls: list[str] = field(default_factory=list)

    def cli(self, *args: str, cwd: Path, timeout: float = 180.0, log_name: str = "cli.log") -> str:
        """Runs `prefect <args>` against this server, as the README does."""
        self.cli_calls.append(" ".join(args))
        return self.processes.run([sys.executable, "-m", "prefect", *args], log=self.logs / log_name,
                                  env=self.env, cwd=cwd, timeout=timeout)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def deployment(self, name: str) -> dict:
        found = self.api("POST", "/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        assert len(found) == 1, f"expected one deployment named {name!r} on the server, found {len(found)}"
        return found[0]

    def flow_runs(self, deployment_id: str) -> list[dict]:
        return self.api("POST", "/flow_runs/filter", {
            "deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 200,
        })

    def listening_addresses(self) -> set[str]:
        addresses = set()
        server = psutil.Process(self.process.pid)
        for proc in (server, *server.children(recursive=True)):
            with _quiet():
                for conn in proc.net_connections(kind="inet"):
                    if conn.status == psutil.CONN_LISTEN:
                        addresses.add(conn.laddr.ip)
        return addresses


def environment(prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    env.update(QUIET_ENVIRONMENT)
    env.update({
        # The README's telemetry line, and what the issue asks for.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        # The scheduler looks for deployments to schedule every second instead of every minute.
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def parameter_fields(deployment: dict) -> tuple[str | None, dict, dict]:
    """The flow's parameters as the deployment's schema lists them: (wrapper, fields, definitions).

    Works for a flow taking one model (`params: SynthesizeParams`, wrapper "params", fields its
    properties) and for flat keyword arguments (wrapper None, fields the schema's properties)."""
    schema = deployment["parameter_openapi_schema"] or {}
    definitions = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    properties = schema.get("properties", {})
    if len(properties) == 1:
        (name, only), = properties.items()
        model = resolve(only, definitions)
        if "properties" in model:
            return name, model["properties"], definitions
    return None, properties, definitions


def resolve(schema: dict, definitions: dict) -> dict:
    """A property's schema with `$ref`, and `anyOf`/`allOf` of one model, followed."""
    if "$ref" in schema:
        return resolve(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    for key in ("allOf", "anyOf"):
        for option in schema.get(key, []):
            target = resolve(option, definitions)
            if "properties" in target:
                return target
    return schema


def param_args(values: dict) -> list[str]:
    """`prefect deployment run` options: one `--param key=<json>` a parameter."""
    args = []
    for key, value in values.items():
        args += ["--param", f"{key}={json.dumps(value)}"]
    return args


def wait_for(condition, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
