"""The Dask task runner a flow's distributed part runs on."""

from __future__ import annotations

from prefect_dask import DaskTaskRunner

from flows.params import ComputeParams


def dask_task_runner(compute: ComputeParams) -> DaskTaskRunner:
    """A runner on the given scheduler, or on a local cluster of worker processes."""
    if compute.dask_address:
        return DaskTaskRunner(address=compute.dask_address)
    cluster_kwargs = {
        "n_workers": compute.n_workers,
        "threads_per_worker": compute.threads_per_worker,
        "processes": True,
        "dashboard_address": None,
    }
    if compute.scratch_dir is not None:
        cluster_kwargs["local_directory"] = str(compute.scratch_dir)
    return DaskTaskRunner(cluster_kwargs=cluster_kwargs)
