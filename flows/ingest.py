"""Flow `ingest_archive`: a video archive into the zarr store, distributed on Dask, tracked in MLflow."""

from __future__ import annotations

import contextlib
import dataclasses
import time

import dask
from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.common import beside_store, bundles, gather, store_writer, tracked_run
from flows.compute import stage_runner
from flows.reports import IngestReport, StreamedFeatures
from params import IngestParams, keyword_parameters
from storage.frames import FrameSpec
from storage.ingest import IngestOutcome
from storage.tracks import TrackSpec
from tasks.ingest import (
    discover_archive, find_current, fingerprint_sources, ingest_and_extract_bundle, ingest_bundle, lacking_features,
)
from tasks.models import resolve_model, shared_model
from tasks.pipeline import pose_input_size
from tracking.flow_runs import log_run_document, log_run_metrics


# Hashing reads files, and hashlib releases the GIL while it digests them: a few threads of the
# flow's own process keep the disk busy, and a re-run whose hashes are all cached starts no Dask task.
HASHING_THREADS = 4


@flow(name="ingest-archive", task_runner=ThreadPoolTaskRunner(max_workers=HASHING_THREADS))
@keyword_parameters(IngestParams)
def ingest_archive(params: IngestParams) -> IngestReport:
    """Stores every sequence of an archive that the store does not already hold current."""
    started = time.perf_counter()
    with tracked_run(params.tracking, "ingest-archive", params) as run_id, \
            store_writer(params.store, create=True) as (lease, recovered):
        report = decode_sequences(params, lease, recovered)
        report = report.model_copy(update={"seconds": time.perf_counter() - started, "mlflow_run_id": run_id})
        log_run_metrics(params.tracking, run_id, report.metrics())
        log_run_document(params.tracking, run_id, report.model_dump(mode="json"), "ingest_report.json")
    return report


def decode_sequences(params: IngestParams, lease: str, recovered: list[str]) -> IngestReport:
    """Hashes every source (in bundles, on the flow's threads), settles the unchanged ones from one
    listing of the store, and decodes the rest in bundles on the Dask cluster (started only when
    something is left to decode; a few sequences run in this process, `flows.compute.stage_runner`).

    With a pose model, each bundle's task computes its sequences' features right after storing
    their frames (streaming), and unchanged sequences lacking those features get them too.
    """
    manifest = discover_archive(str(params.archive), params.layout)
    spec = frame_spec(params.frame_size, params.fps, params.crop, params.min_track_frames)
    groups = bundles(manifest.entries, params.sequences_per_task)
    hashes, failures = gather([fingerprint_sources.submit(group) for group in groups], None)
    outcomes = [IngestOutcome(entry.sequence_id, "failed", reason) for number, reason in failures
                for entry in groups[number]]
    hashed = [dataclasses.replace(entry, content_hash=content_hash)
              for group, group_hashes in zip(groups, hashes) if group_hashes is not None
              for entry, content_hash in zip(group, group_hashes)]
    # One listing of the store settles every unchanged sequence, so a re-run submits only new work.
    # Walker tracks map one source to several sequences: their bundles check each source themselves.
    current = set(find_current(str(params.store), hashed, spec)) if isinstance(spec, FrameSpec) else set()
    outcomes.extend(IngestOutcome(entry.sequence_id, "skipped", "already stored with the same content hash")
                    for entry in hashed if entry.sequence_id in current)
    pending = bundles([entry for entry in hashed if entry.sequence_id not in current], params.sequences_per_task)
    streamed = streamed_model(params, spec) if params.pose_model is not None else None
    work = [(group, []) for group in pending]
    if streamed is not None and current:
        # Sequences an earlier run stored but without this model's features get them in bundles of their own.
        lacking = lacking_features(str(params.store), streamed[1], sorted(current), params.features.dtype)
        work += [([], group) for group in bundles(lacking, params.features.sequences_per_task)]
    results, failures = [], []
    if work:
        gpu = streamed is not None and params.features.device == "gpu"
        annotation = dask.annotate(resources={"GPU": 1}) if gpu else contextlib.nullcontext()
        device = params.features.device if streamed is not None else "auto"
        runner, threads = stage_runner(params.compute, sum(len(e) + len(s) for e, s in work), device=device)
        with runner, annotation:
            futures = [runner.submit(*bundle_task(params, lease, spec, entries, stored, streamed, threads))
                       for entries, stored in work]
            results, failures = gather(futures, "ingest")
    features = {"done": {}, "failed": {}}
    for result in results:
        if result and streamed is not None:
            result, done = result
            features["done"].update(done["done"])
            features["failed"].update(done["failed"])
        outcomes.extend(result or ())
    for number, reason in failures:
        entries, stored = work[number]
        outcomes.extend(IngestOutcome(entry.sequence_id, "failed", reason) for entry in entries)
        features["failed"].update(dict.fromkeys(stored, reason))
    report = IngestReport.from_outcomes(outcomes, manifest, recovered)
    if streamed is None:
        return report
    return report.model_copy(update={"features": StreamedFeatures.from_results(streamed[1], features)})


def streamed_model(params: IngestParams, spec: FrameSpec | TrackSpec) -> tuple[str, str]:
    """(path the workers load, tag) of the pose model whose features stream; frames smaller than
    its input are refused here, before anything is decoded."""
    model_path, tag = resolve_model(params.pose_model, params.tracking,
                                    str(beside_store(params.store, "models") / "downloaded"))
    needed = pose_input_size(model_path, "small")
    if spec.size < needed:
        raise ValueError(
            f"{params.store}: frames of {spec.size} px are smaller than the pose model's {needed} px input "
            f"({params.pose_model}); ingest with a frame size of at least {needed}"
        )
    return shared_model(str(params.store), model_path), tag


def bundle_task(params: IngestParams, lease: str, spec: FrameSpec | TrackSpec, entries: list, stored: list[str],
                streamed: tuple[str, str] | None, threads: int) -> tuple:
    """(task, its parameters) for one bundle: decode only, or decode and then compute features
    (of the bundle's sequences and of the `stored` ones, with `threads` TensorFlow threads)."""
    arguments = dict(
        store=str(params.store), lease=lease, entries=entries, content_hashes=[e.content_hash for e in entries],
        spec=spec, layout=params.layout, chunk_frames=params.chunk_frames, allow_partial=params.allow_partial,
    )
    if streamed is None:
        return ingest_bundle, arguments
    model_path, tag = streamed
    return ingest_and_extract_bundle, dict(arguments, stored_ids=stored, model_path=model_path, model_tag=tag,
                                           options=params.features, threads=threads)


def frame_spec(size: int, fps: float | None, crop: str, min_track_frames: int) -> FrameSpec | TrackSpec:
    """How sources become stored frames: a `TrackSpec` (one sequence per walker) for crop "track"."""
    if crop == "track":
        return TrackSpec(size=size, fps=fps, min_track_frames=min_track_frames)
    return FrameSpec(size=size, fps=fps, crop=crop)
