"""Flow `describe`: the 512-d identification vector of every sequence, on the Dask cluster."""

from __future__ import annotations

import time

from prefect import flow

from flows.common import beside_store, bundles, gather, store_writer, tracked_run
from flows.compute import stage_runner
from params import DescribeParams, keyword_parameters
from stages.descriptors import DESCRIPTORS_STAGE
from stages.models import read_record
from tasks.inference import describe_task, pending_sequences
from tasks.models import resolve_model, shared_model
from tracking.flow_runs import log_run_metrics


@flow(name="describe")
@keyword_parameters(DescribeParams)
def describe(params: DescribeParams) -> dict:
    """Stores identification vectors for every sequence that has the gait model's input features."""
    started = time.perf_counter()
    with tracked_run(params.tracking, "describe", params) as run_id, \
            store_writer(params.store) as (lease, _):
        model_path, tag = resolve_model(params.gait_model, params.tracking, str(beside_store(params.store, "models") / "downloaded"))
        features_tag = params.features or read_record(model_path).get("features")
        if not features_tag:
            raise ValueError(f"{model_path}: the model does not record which pose features it reads; pass features")
        report = describe_all(params, model_path, tag, features_tag, lease)
        report.update(seconds=round(time.perf_counter() - started, 3), mlflow_run_id=run_id)
        log_run_metrics(params.tracking, run_id, {"described": report["described"], "failed": len(report["failed"])})
    return report


def describe_all(params: DescribeParams, model_path: str, tag: str, features_tag: str, lease: str) -> dict:
    """The sequences lacking this model's vectors, in bundles on the Dask cluster (started only when
    there are some; a few run in this process, `flows.compute.stage_runner`)."""
    pending = pending_sequences(str(params.store), DESCRIPTORS_STAGE, tag, {"features": features_tag})
    groups = bundles(pending, params.sequences_per_task)
    results, failures = [], []
    if groups:
        worker_model = shared_model(str(params.store), model_path)  # a copy in the store, for an object store
        runner, threads = stage_runner(params.compute, len(pending))
        with runner:
            futures = [runner.submit(describe_task, dict(
                store=str(params.store), lease=lease, sequence_ids=group, model_path=worker_model, model_tag=tag,
                features_tag=features_tag, threads=threads,
            )) for group in groups]
            results, failures = gather(futures, "describe")
    failed = [{"ids": groups[number], "reason": reason} for number, reason in failures]
    failed += [{"ids": [i], "reason": reason} for result in results if result for i, reason in result["failed"].items()]
    return {
        "gait_model": tag, "features": features_tag, "model_path": model_path, "pending": len(pending),
        "described": sum(len(result["done"]) for result in results if result), "failed": failed,
    }
