"""Tasks of `ingest_archive`: each wires one call into `storage/`."""

from __future__ import annotations

import os

from prefect import task
from prefect.context import TaskRunContext

from storage import manifest as archive_manifest
from storage.frames import FrameDecodeError, FrameSpec
from storage.groundtruth import GroundTruthError
from storage.ingest import IngestOutcome, ingest_sequence
from storage.store import SequenceStore, StoreError

_IO_RETRIES = dict(retries=2, retry_delay_seconds=[1, 5])


@task(name="discover-archive", **_IO_RETRIES)
def discover_archive(archive: str, layout: str) -> archive_manifest.ArchiveManifest:
    """Lists the archive's sequences by name and file stats (hashing is a task per sequence)."""
    return archive_manifest.discover(archive, layout, with_hashes=False)


@task(name="prepare-store", **_IO_RETRIES)
def prepare_store(store: str) -> list[str]:
    """Creates the store if missing and undoes what an interrupted run left half done."""
    return SequenceStore(store, create=True).recover()


def source_fingerprint_key(context: TaskRunContext, parameters: dict) -> str:
    """Cache key of `fingerprint_source`: the source's path, size and modification time, its
    sidecar's modification time, and the task's code.

    The cached hash is reused until one of those changes: editing, replacing or touching a
    video or its ground truth, or changing this task's code, invalidates it.
    """
    entry = parameters["entry"]
    sidecar_mtime = os.stat(entry.sidecar).st_mtime_ns if entry.sidecar else 0
    code = context.task.fn.__code__.co_code.hex()[:64]
    return f"fingerprint:{entry.source}:{entry.size}:{entry.mtime_ns}:{sidecar_mtime}:{code}"


@task(
    name="fingerprint-source",
    cache_key_fn=source_fingerprint_key,
    persist_result=True,
    result_serializer="json",
    **_IO_RETRIES,
)
def fingerprint_source(entry: archive_manifest.SequenceEntry) -> str:
    """The SHA-256 of a source's bytes; unchanged files are not read again (declared cache)."""
    return archive_manifest.fingerprint(entry)


@task(name="ingest-sequence", task_run_name="ingest-{entry.sequence_id}", **_IO_RETRIES)
def ingest_one(
    store: str, entry: archive_manifest.SequenceEntry, content_hash: str, spec: FrameSpec, layout: str, chunk_frames: int
) -> IngestOutcome:
    """Decodes and stores one sequence; a bad source becomes a "failed" outcome, not an error.

    Store I/O errors are raised, so Prefect retries them with backoff.
    """
    import dataclasses

    entry = dataclasses.replace(entry, content_hash=content_hash)
    try:
        return ingest_sequence(SequenceStore(store), entry, spec, layout=layout, chunk_frames=chunk_frames)
    except (FrameDecodeError, GroundTruthError) as error:
        return IngestOutcome(entry.sequence_id, "failed", str(error))
    except StoreError:
        raise
