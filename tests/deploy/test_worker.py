"""One deployment of prefect.yaml run end to end by a real process worker of its pool."""

from __future__ import annotations

import copy
import re
import sys
import time
from pathlib import Path

import pytest

from tests.deploy.realprefect import (
    error_lines, param_args, parameter_fields, resolve, tail, wait_for, yaml_deployment,
)

# A tiny archive: two people, one view, 8 frames of 32 px a walk, one Dask worker.
TINY = {"subjects": 2, "views": [90], "frames": 8, "size": 32}
WALK = re.compile(r"(?P<subject>\d{3})-(?P<condition>nm|bg|cl)-(?P<number>\d{2})-(?P<view>\d{3})\.avi")


def _overrides(deployment: dict) -> tuple[dict, callable]:
    """`--param` values for a tiny run, with only keys the deployment's schema has, whether the
    flow takes one parameter model or flat keyword arguments; and a reader of a run's values."""
    wrapper, fields, definitions = parameter_fields(deployment)
    missing = sorted(set(TINY) - set(fields))
    assert not missing, (f"synthesize-archive's parameters lack {missing}; the schema has {sorted(fields)}: "
                         "update TINY in this test")
    current = deployment["parameters"].get(wrapper, {}) if wrapper else deployment["parameters"]
    values = dict(TINY)
    if "compute" in fields and "n_workers" in resolve(fields["compute"], definitions).get("properties", {}):
        values["compute"] = {**(current.get("compute") or {}), "n_workers": 1}
    elif "n_workers" in fields:
        values["n_workers"] = 1
    if wrapper:
        merged = copy.deepcopy(current)
        merged.update(values)
        return {wrapper: merged}, lambda parameters: parameters[wrapper]
    return values, lambda parameters: parameters


@pytest.mark.timeout(420)
def test_a_worker_runs_a_deployment_to_completion(prefect_server_with_services, project_copy, processes, tmp_path):
    server = prefect_server_with_services
    spec = yaml_deployment("synthesize-archive")
    pool = spec["work_pool"]["name"]
    server.cli("work-pool", "create", pool, "--type", "process", cwd=project_copy, timeout=120)
    server.cli("--no-prompt", "deploy", "--name", "synthesize-archive", cwd=project_copy, timeout=240)

    deployment = server.deployment("synthesize-archive")
    assert deployment["work_pool_name"] == pool
    overrides, values_of = _overrides(deployment)
    flow_name = server.api("GET", f"/flows/{deployment['flow_id']}")["name"]
    server.cli("deployment", "run", f"{flow_name}/{deployment['name']}", *param_args(overrides),
               cwd=project_copy, timeout=120)
    runs = server.flow_runs(deployment["id"])
    assert len(runs) == 1, f"expected the one run just asked for, found {len(runs)}"
    run = runs[0]
    parameters = values_of(run["parameters"])
    for key, value in TINY.items():
        assert parameters[key] == value, f"the run got {key}={parameters[key]!r}, not the override {value!r}"

    # The README's worker, for one round: it takes the run, runs it in a subprocess, and exits.
    # Started elsewhere: the deployment itself names the project folder as the working directory.
    worker_log = server.logs / "worker.log"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    worker = processes.start(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--run-once"],
        log=worker_log, env=server.env, cwd=elsewhere,
    )
    started = time.monotonic()
    while worker.poll() is None and time.monotonic() - started < 300:
        processes.remember_children()  # the flow run's own session and its Dask workers
        time.sleep(1)
    assert worker.poll() is not None, f"the worker still runs after 300 s:\n{tail(worker_log)}"

    def final_state():
        state = server.api("GET", f"/flow_runs/{run['id']}")["state_type"]
        return state if state in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None

    state = wait_for(final_state, timeout=30)
    assert state == "COMPLETED", f"the flow run ended {state}; worker log:\n{tail(worker_log, 80)}"
    assert worker.returncode == 0, tail(worker_log)

    # Its output, where prefect.yaml says paths lead: relative to the project folder.
    assert not any(elsewhere.iterdir()), f"the flow run wrote into the worker's folder: {list(elsewhere.iterdir())}"
    archive = Path(parameters["archive"])
    archive = archive if archive.is_absolute() else project_copy / archive
    videos = sorted(archive.rglob("*.avi"))
    walks = [WALK.fullmatch(video.name) for video in videos]
    assert videos and all(walks), f"unexpected files in {archive}: {[v.name for v in videos]}"
    assert {int(w["subject"]) for w in walks} == set(range(1, TINY["subjects"] + 1))
    assert {int(w["view"]) for w in walks} == set(TINY["views"])
    per_subject = {}
    for w in walks:
        per_subject.setdefault(w["subject"], set()).add((w["condition"], w["number"]))
    assert len({frozenset(s) for s in per_subject.values()}) == 1, "the people have different walks"
    assert ("nm", "01") in next(iter(per_subject.values()))
    for video in videos:
        assert video.stat().st_size > 0, video
        assert video.with_suffix(".gt.json").is_file(), f"{video.name} has no ground truth"

    errors = error_lines(server.log)
    assert not errors, "the Prefect server logged errors:\n" + "\n".join(errors[:40])
