"""Flow `ingest_archive`: a video archive into the zarr store, distributed on Dask, tracked in MLflow."""

from __future__ import annotations

import dataclasses
import time

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.common import bundles, gather, store_writer, tracked_run
from flows.compute import dask_task_runner
from flows.reports import IngestReport
from params import IngestParams, keyword_parameters
from storage.frames import FrameSpec
from storage.ingest import IngestOutcome
from storage.tracks import TrackSpec
from tasks.ingest import discover_archive, find_current, fingerprint_sources, ingest_bundle
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
    something is left to decode)."""
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
    results, failures = [], []
    if pending:
        with dask_task_runner(params.compute) as runner:
            futures = [runner.submit(ingest_bundle, dict(
                store=str(params.store), lease=lease, entries=group, content_hashes=[e.content_hash for e in group],
                spec=spec, layout=params.layout, chunk_frames=params.chunk_frames, allow_partial=params.allow_partial,
            )) for group in pending]
            results, failures = gather(futures, "ingest")
    outcomes.extend(outcome for result in results if result for outcome in result)
    for number, reason in failures:
        outcomes.extend(IngestOutcome(entry.sequence_id, "failed", reason) for entry in pending[number])
    return IngestReport.from_outcomes(outcomes, manifest, recovered)


def frame_spec(size: int, fps: float | None, crop: str, min_track_frames: int) -> FrameSpec | TrackSpec:
    """How sources become stored frames: a `TrackSpec` (one sequence per walker) for crop "track"."""
    if crop == "track":
        return TrackSpec(size=size, fps=fps, min_track_frames=min_track_frames)
    return FrameSpec(size=size, fps=fps, crop=crop)
