"""The Dask task runner a flow's distributed part runs on."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from params import ComputeParams


def dask_task_runner(compute: ComputeParams, *, gpu: bool = False) -> DaskTaskRunner:
    """A runner on the given scheduler, or on a local cluster of worker processes.

    With `gpu`, local workers each declare one "GPU" resource, so tasks annotated with it
    run one at a time per worker; workers of an existing cluster must be started with
    `--resources GPU=1` themselves.
    """
    if compute.dask_address:
        return DaskTaskRunner(address=compute.dask_address)
    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(compute, gpu=gpu))


def stage_runner(compute: ComputeParams, pending: int, *, device: str = "auto") -> tuple[TaskRunner, int]:
    """The task runner for a stage with `pending` sequences left, and the TensorFlow threads its tasks use.

    At most `compute.in_process_sequences` of them run one task after another in the flow's own
    process, with every core this process may use: a cold worker would spend longer importing
    TensorFlow and loading the model than that work takes. More go to Dask, each task with the
    threads of one worker. So does a stage whose `device` is "cpu": TensorFlow hides GPUs from a
    whole process, and the flow's process trains its networks on them. "gpu" makes local workers
    declare one GPU each.
    """
    if pending <= compute.in_process_sequences and device != "cpu":
        return ThreadPoolTaskRunner(max_workers=1), usable_cores()
    return dask_task_runner(compute, gpu=device == "gpu"), compute.threads_per_worker


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


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
        yield compute.model_copy(update={"dask_address": cluster.scheduler_address})
