"""Where a stage's tasks run: the flow's own process for a few sequences, Dask for more."""

from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.compute import stage_runner, usable_cores
from params import ComputeParams


def test_a_few_sequences_run_in_the_flows_process_with_every_core_and_more_go_to_dask():
    compute = ComputeParams(n_workers=2, threads_per_worker=1, in_process_sequences=4)
    runner, threads = stage_runner(compute, 4)
    assert isinstance(runner, ThreadPoolTaskRunner) and threads == usable_cores() >= 1
    runner, threads = stage_runner(compute, 5)
    assert isinstance(runner, DaskTaskRunner) and threads == 1
    runner, _ = stage_runner(compute.model_copy(update={"in_process_sequences": 0}), 1)
    assert isinstance(runner, DaskTaskRunner)
    # Features asked on the CPU would hide the GPUs from the flow's process, which trains on them.
    assert isinstance(stage_runner(compute, 1, device="cpu")[0], DaskTaskRunner)
    assert isinstance(stage_runner(compute, 1, device="gpu")[0], ThreadPoolTaskRunner)


def test_a_scheduler_address_sends_every_task_to_its_cluster_unless_asked_otherwise():
    assert ComputeParams().in_process_sequences == 16
    remote = ComputeParams(dask_address="tcp://127.0.0.1:8786")
    assert remote.in_process_sequences == 0
    assert isinstance(stage_runner(remote, 1)[0], DaskTaskRunner)
    # Said explicitly, it holds; a run's own local cluster (an address set on a copy) keeps the setting.
    assert ComputeParams(dask_address="tcp://127.0.0.1:8786", in_process_sequences=3).in_process_sequences == 3
    local = ComputeParams().model_copy(update={"dask_address": "tcp://127.0.0.1:8786"})
    assert local.in_process_sequences == 16
    # A round trip through a flow's parameters (a deployment, a sub-flow) keeps the value it had.
    assert ComputeParams.model_validate(local.model_dump()).in_process_sequences == 16
    assert ComputeParams.model_validate(remote.model_dump()).in_process_sequences == 0
