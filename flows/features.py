"""Flow `extract_features`: HumanPoseNN over every stored sequence, on the Dask cluster."""

from __future__ import annotations

import contextlib
import time

import dask
from prefect import flow

from flows.common import beside_store, bundles, gather, store_writer, tracked_run
from flows.compute import stage_runner
from params import ExtractFeaturesParams, keyword_parameters
from stages.features import FEATURE_FRAMES_TOPIC, FEATURES_STAGE
from tasks.inference import extract_features_task, frame_count, pending_sequences
from tracking import progress
from tasks.models import resolve_model, shared_model
from tracking.flow_runs import log_run_metrics


@flow(name="extract-features")
@keyword_parameters(ExtractFeaturesParams)
def extract_features(params: ExtractFeaturesParams) -> dict:
    """Stores (T, 17, 17, 32) features and (T, 16, 3) joints of every sequence lacking them for this model."""
    started = time.perf_counter()
    with tracked_run(params.tracking, "extract-features", params) as run_id, \
            store_writer(params.store) as (lease, _):
        model_path, tag = resolve_model(params.pose_model, params.tracking, str(beside_store(params.store, "models") / "downloaded"))
        report = compute_features(params, model_path, tag, lease)
        seconds = time.perf_counter() - started
        report.update(seconds=round(seconds, 3), mlflow_run_id=run_id)
        log_run_metrics(params.tracking, run_id, {
            "sequences_done": report["sequences_done"], "frames_done": report["frames_done"],
            "failed": len(report["failed"]), "wall_seconds": seconds,
            "frames_per_second": report["frames_done"] / seconds if seconds else 0.0,
        })
    return report


def compute_features(params: ExtractFeaturesParams, model_path: str, tag: str, lease: str) -> dict:
    """The sequences lacking this model's features, in bundles on the Dask cluster (started only
    when there are some; a few run in this process, `flows.compute.stage_runner`)."""
    pending = pending_sequences(str(params.store), FEATURES_STAGE, tag, {"dtype": params.options.dtype})
    groups = bundles(pending, params.options.sequences_per_task)
    results, failures = [], []
    if groups:
        worker_model = shared_model(str(params.store), model_path)  # a copy in the store, for an object store
        gpu = params.options.device == "gpu"
        annotation = dask.annotate(resources={"GPU": 1}) if gpu else contextlib.nullcontext()
        # Someone watching sees frames go by (a long video is one task for minutes), not tasks.
        frames = frame_count(str(params.store), pending) if progress.current_reporter() else 0
        runner, threads = stage_runner(params.compute, len(pending), device=params.options.device)
        with runner:
            client = getattr(runner, "client", None)  # None: the tasks run on this process's threads
            with progress.forwarded_worker_events(client, FEATURE_FRAMES_TOPIC, "features (frames)", frames), \
                    annotation:
                futures = [runner.submit(extract_features_task, dict(
                    store=str(params.store), lease=lease, sequence_ids=group, model_path=worker_model, model_tag=tag,
                    options=params.options, threads=threads,
                )) for group in groups]
                results, failures = gather(futures, None if frames else "features")
    done = {k: v for result in results if result for k, v in result["done"].items()}
    failed = [{"ids": groups[number], "reason": reason} for number, reason in failures]
    failed += [{"ids": [i], "reason": reason} for result in results if result for i, reason in result["failed"].items()]
    return {
        "pose_model": tag, "model_path": model_path, "pending": len(pending),
        "sequences_done": len(done), "frames_done": sum(done.values()), "failed": failed,
    }
