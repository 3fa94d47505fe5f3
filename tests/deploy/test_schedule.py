"""The nightly `reprocess-archive` schedule, done as the README does it, creates flow runs.

Issue 13: with the README's local server the schedule created no runs, because Prefect's
scheduler service failed under SQLAlchemy 2.1 (`InvalidRequestError: Can't evaluate bulk DML
statement`) and only said so in the server's log.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from tests.deploy.realprefect import error_lines, prefect_yaml, tail, wait_for, yaml_deployment


@pytest.mark.timeout(300)
def test_the_nightly_schedule_creates_flow_runs(prefect_server_with_services, project_copy):
    server = prefect_server_with_services
    spec = yaml_deployment("reprocess-archive")
    assert spec.get("schedules"), "prefect.yaml's reprocess-archive has no schedule"
    pool = spec["work_pool"]["name"]
    started = datetime.now(timezone.utc)

    # The README's commands, from the project folder.
    server.cli("work-pool", "create", pool, "--type", "process", cwd=project_copy, timeout=120)
    server.cli("--no-prompt", "deploy", "--all", cwd=project_copy, timeout=240)

    names = {d["name"] for d in server.api("POST", "/deployments/filter", {})}
    assert names == {d["name"] for d in prefect_yaml()["deployments"]}, "`prefect deploy --all` left some out"

    deployment = server.deployment("reprocess-archive")
    assert deployment["work_pool_name"] == pool
    assert not deployment["paused"]
    schedules = deployment["schedules"]
    assert len(schedules) == len(spec["schedules"])
    for stored, declared in zip(schedules, spec["schedules"]):
        assert stored["active"] is declared.get("active", True)
        assert stored["schedule"]["cron"] == declared["cron"]
        assert stored["schedule"]["timezone"] == declared.get("timezone", "UTC")

    # The scheduler service creates the coming runs ahead of time (it looks every second here).
    # A failing scheduler only says so in the server's log: stop waiting when it does.
    wait_for(lambda: server.flow_runs(deployment["id"]) or error_lines(server.log), timeout=90)
    runs = server.flow_runs(deployment["id"])
    assert runs, f"the scheduler created no flow runs for reprocess-archive; server log:\n{tail(server.log)}"

    for run in runs:
        assert run["state_type"] == "SCHEDULED", run["state_type"]
        assert run["auto_scheduled"], "a run the schedule did not make"
        assert run["work_pool_name"] == pool
        assert run["parameters"] == deployment["parameters"]

    # The runs fall on the schedule's own dates: the next ones from the deploy on.
    from prefect.server.schemas.schedules import CronSchedule

    cron = CronSchedule(cron=spec["schedules"][0]["cron"], timezone=spec["schedules"][0].get("timezone", "UTC"))
    times = sorted(datetime.fromisoformat(run["expected_start_time"].replace("Z", "+00:00")) for run in runs)
    expected = asyncio.run(cron.get_dates(n=len(times) + 1, start=started))
    expected = [d.astimezone(timezone.utc) for d in expected]
    assert times in (expected[:-1], expected[1:]), f"scheduled at {times}, the schedule says {expected}"

    assert server.listening_addresses() <= {"127.0.0.1"}, server.listening_addresses()
    errors = error_lines(server.log)
    assert not errors, "the Prefect server logged errors:\n" + "\n".join(errors[:40])
