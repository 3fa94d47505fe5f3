"""Flow `ingest_archive`: a video archive into the zarr store, distributed on Dask, tracked in MLflow."""

from __future__ import annotations

import time

from prefect import flow
from prefect.futures import as_completed

from flows import progress
from flows.common import tracked_run
from flows.compute import dask_task_runner
from flows.params import IngestParams
from flows.reports import IngestReport
from storage.frames import FrameSpec
from storage.ingest import IngestOutcome
from tasks.ingest import discover_archive, fingerprint_source, ingest_one, prepare_store
from tasks.tracking import log_run_document, log_run_metrics


@flow(name="ingest-archive")
def ingest_archive(params: IngestParams) -> IngestReport:
    """Stores every sequence of an archive that the store does not already hold current."""
    started = time.perf_counter()
    with tracked_run(params.tracking, "ingest-archive", params) as run_id:
        report = decode_sequences.with_options(task_runner=dask_task_runner(params.compute))(params)
        report = report.model_copy(update={"seconds": time.perf_counter() - started, "mlflow_run_id": run_id})
        log_run_metrics(params.tracking, run_id, report.metrics())
        log_run_document(params.tracking, run_id, report.model_dump(mode="json"), "ingest_report.json")
    return report


@flow(name="ingest-archive-decode")
def decode_sequences(params: IngestParams) -> IngestReport:
    """The distributed part: hash and decode every sequence on the Dask cluster."""
    manifest = discover_archive(str(params.archive), params.layout)
    recovered = prepare_store(str(params.store))
    spec = FrameSpec(size=params.frame_size, fps=params.fps, crop=params.crop)
    hashes = fingerprint_source.map(manifest.entries)
    futures = [
        ingest_one.submit(str(params.store), entry, content_hash, spec, params.layout, params.chunk_frames)
        for entry, content_hash in zip(manifest.entries, hashes)
    ]
    entry_of = {future.task_run_id: entry for future, entry in zip(futures, manifest.entries)}
    outcomes = []
    for done, future in enumerate(as_completed(futures), start=1):
        outcomes.append(_outcome(future, entry_of[future.task_run_id].sequence_id))
        progress.report("ingest", done, len(futures), outcomes[-1].sequence_id)
    return IngestReport.from_outcomes(outcomes, manifest, recovered)


def _outcome(future, sequence_id: str) -> IngestOutcome:
    """The task's outcome, or a failed one when it raised even after its retries."""
    state = future.wait() or future.state
    if state.is_completed():
        return future.result()
    try:
        future.result(raise_on_failure=True)
    except BaseException as error:  # noqa: BLE001 - one bad sequence never stops the rest
        return IngestOutcome(sequence_id, "failed", f"{type(error).__name__}: {error}")
    return IngestOutcome(sequence_id, "failed", f"task ended {state.type.value}")
