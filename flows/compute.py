"""The Dask task runner a flow's distributed part runs on."""

from __future__ import annotations

import contextlib
from typing import Iterator

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from params import IN_PROCESS_SEQUENCES, ComputeParams


def dask_task_runner(compute: ComputeParams, *, gpu: bool = False) -> DaskTaskRunner:
    """A runner on the given scheduler, or on a local cluster of worker processes.

    With `gpu`, local workers each declare one "GPU" resource, so tasks annotated with it
    run one at a time per worker; workers of an existing cluster must be started with
    `--resources GPU=1` themselves.
    """
    if compute.dask_address:
        return DaskTaskRunner(address=compute.dask_address)
    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(compute, gpu=gpu))


def in_process_limit(compute: ComputeParams) -> int:
    """Most sequences a stage runs in the flow's own process: `compute.in_process_sequences`, or when
    it is unset 0 with a scheduler address (that cluster's workers may see a store or devices this
    process does not) and `IN_PROCESS_SEQUENCES` without one."""
    if compute.in_process_sequences is not None:
        return compute.in_process_sequences
    return 0 if compute.dask_address else IN_PROCESS_SEQUENCES


def stage_runner(compute: ComputeParams, pending: int, *, device: str = "auto") -> tuple[TaskRunner, int | None]:
    """The task runner for a stage with `pending` sequences left, and the TensorFlow threads its tasks use.

    Up to `in_process_limit(compute)` of them run one task after another on a thread of the flow's
    own process, with TensorFlow's own thread pools (None): a cold worker would spend longer
    importing TensorFlow and loading the model than that work takes, and the flow's process trains
    networks with those pools. More go to Dask, each task with the threads of one worker. So does a
    stage whose `device` is "cpu": TensorFlow hides GPUs from a whole process. "gpu" makes local
    workers declare one GPU each. An interrupt waits for the running in-process task to finish.
    """
    if pending <= in_process_limit(compute) and device != "cpu":
        return ThreadPoolTaskRunner(max_workers=1), None
    return dask_task_runner(compute, gpu=device == "gpu"), compute.threads_per_worker


def local_cluster_kwargs(compute: ComputeParams, *, gpu: bool = False) -> dict:
    """A local cluster of worker processes whose every port (scheduler, workers, nannies,
    dashboards) listens on 127.0.0.1 only: Dask's default dashboard address is every interface."""
    kwargs = {
        "n_workers": compute.n_workers,
        "threads_per_worker": compute.threads_per_worker,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "worker_dashboard_address": "127.0.0.1:0",
    }
    if gpu:
        kwargs["resources"] = {"GPU": 1}
    if compute.scratch_dir is not None:
        kwargs["local_directory"] = str(compute.scratch_dir)
    return kwargs


@contextlib.contextmanager
def shared_cluster(compute: ComputeParams, *, gpu: bool = False) -> Iterator[ComputeParams]:
    """Compute settings that point every stage of a run at one Dask cluster.

    Without an address, a local cluster lives for the block, so workers keep TensorFlow and
    loaded models between stages instead of starting anew for each.
    """
    if compute.dask_address:
        yield compute
        return
    from distributed import LocalCluster

    with LocalCluster(**local_cluster_kwargs(compute, gpu=gpu)) as cluster:
        # The copy names the cluster; the stages still treat it as this run's own (in-process limit kept).
        yield compute.model_copy(update={"dask_address": cluster.scheduler_address,
                                         "in_process_sequences": in_process_limit(compute)})
