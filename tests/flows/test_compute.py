"""Where a stage's tasks run: the flow's own process for a few sequences, Dask for more."""

from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.compute import in_process_limit, shared_cluster, stage_runner
from params import IN_PROCESS_SEQUENCES, ComputeParams


def test_a_few_sequences_run_in_the_flows_process_with_tensorflows_own_threads_and_more_go_to_dask():
    compute = ComputeParams(n_workers=2, threads_per_worker=1, in_process_sequences=4)
    runner, threads = stage_runner(compute, 4)
    # None: TensorFlow keeps its own pools there, as the training in that process wants them.
    assert isinstance(runner, ThreadPoolTaskRunner) and threads is None
    runner, threads = stage_runner(compute, 5)
    assert isinstance(runner, DaskTaskRunner) and threads == 1
    runner, _ = stage_runner(compute.model_copy(update={"in_process_sequences": 0}), 1)
    assert isinstance(runner, DaskTaskRunner)
    # Features asked on the CPU would hide the GPUs from the flow's process, which trains on them.
    assert isinstance(stage_runner(compute, 1, device="cpu")[0], DaskTaskRunner)
    assert isinstance(stage_runner(compute, 1, device="gpu")[0], ThreadPoolTaskRunner)


def test_a_scheduler_address_sends_every_task_to_its_cluster_unless_the_limit_is_set():
    assert in_process_limit(ComputeParams()) == IN_PROCESS_SEQUENCES == 16
    remote = ComputeParams(dask_address="tcp://127.0.0.1:8786")
    assert in_process_limit(remote) == 0
    assert isinstance(stage_runner(remote, 1)[0], DaskTaskRunner)
    # A form filled with every field (a deployment's, the schema's defaults) leaves the limit unset.
    assert in_process_limit(ComputeParams.model_validate(remote.model_dump())) == 0
    assert in_process_limit(ComputeParams(dask_address="tcp://127.0.0.1:8786", in_process_sequences=3)) == 3
    with shared_cluster(remote) as given:  # a user's cluster: passed on as it is
        assert given == remote


def test_a_runs_own_local_cluster_keeps_the_local_limit(tmp_path):
    with shared_cluster(ComputeParams(n_workers=1, scratch_dir=tmp_path)) as compute:
        assert compute.dask_address.startswith("tcp://127.0.0.1:")
        assert in_process_limit(compute) == IN_PROCESS_SEQUENCES
        # And through a flow's parameter validation (a sub-flow's keyword arguments).
        assert in_process_limit(ComputeParams.model_validate(compute.model_dump())) == IN_PROCESS_SEQUENCES
