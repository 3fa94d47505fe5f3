"""The Dask task runner a flow's distributed part runs on."""

from __future__ import annotations

import contextlib
from typing import Iterator

from prefect_dask import DaskTaskRunner

from flows.params import ComputeParams


def dask_task_runner(compute: ComputeParams, *, gpu: bool = False) -> DaskTaskRunner:
    """A runner on the given scheduler, or on a local cluster of worker processes.

    With `gpu`, local workers each declare one "GPU" resource, so tasks annotated with it
    run one at a time per worker; workers of an existing cluster must be started with
    `--resources GPU=1` themselves.
    """
    if compute.dask_address:
        return DaskTaskRunner(address=compute.dask_address)
    cluster_kwargs = {
        "n_workers": compute.n_workers,
        "threads_per_worker": compute.threads_per_worker,
        "processes": True,
        "dashboard_address": ":0",
    }
    if gpu:
        cluster_kwargs["resources"] = {"GPU": 1}
    if compute.scratch_dir is not None:
        cluster_kwargs["local_directory"] = str(compute.scratch_dir)
    return DaskTaskRunner(cluster_kwargs=cluster_kwargs)


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

    kwargs = {"n_workers": compute.n_workers, "threads_per_worker": compute.threads_per_worker,
              "processes": True, "dashboard_address": ":0"}
    if gpu:
        kwargs["resources"] = {"GPU": 1}
    if compute.scratch_dir is not None:
        kwargs["local_directory"] = str(compute.scratch_dir)
    with LocalCluster(**kwargs) as cluster:
        yield compute.model_copy(update={"dask_address": cluster.scheduler_address})
