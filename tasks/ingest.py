"""Tasks of `ingest_archive`: each wires one call into `storage/`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from prefect import task
from prefect.context import TaskRunContext

from provenance import module_version
from storage import manifest as archive_manifest
from storage.frames import FrameDecodeError, FrameSpec
from storage.groundtruth import GroundTruthError
from storage.ingest import IngestOutcome, current_sequences, ingest_sequence
from storage.store import SequenceStore
from storage.tracks import NoWalkerFound, TrackSpec, ingest_tracks
from tasks.caching import task_code
from tasks.retries import IO_RETRIES



@task(name="discover-archive", **IO_RETRIES)
def discover_archive(archive: str, layout: str) -> archive_manifest.ArchiveManifest:
    """Lists the archive's sequences by name and file stats (hashing is done per bundle, cached)."""
    return archive_manifest.discover(archive, layout, with_hashes=False)


def source_fingerprint_key(context: TaskRunContext, parameters: dict) -> str:
    """Cache key of `fingerprint_sources`: each source's path, size and modification time, its
    sidecar's modification time, and the code (the task's and `storage.manifest`'s, with what
    it imports).

    The cached hashes are reused until one of those changes: editing, replacing or touching a
    video or its ground truth, or changing the hashing code, invalidates the bundle's key.
    """
    stats = []
    for entry in parameters["entries"]:
        sidecar_mtime = os.stat(entry.sidecar).st_mtime_ns if entry.sidecar else 0
        stats.append((entry.source, entry.size, entry.mtime_ns, sidecar_mtime))
    code = task_code(context) + module_version("storage.manifest")
    return "fingerprint:" + hashlib.sha256(json.dumps([stats, code]).encode()).hexdigest()


@task(
    name="fingerprint-sources",
    cache_key_fn=source_fingerprint_key,
    persist_result=True,
    result_serializer="json",
    **IO_RETRIES,
)
def fingerprint_sources(entries: list[archive_manifest.SequenceEntry]) -> list[str]:
    """SHA-256 of each source's bytes; unchanged files are not read again (declared cache)."""
    return [archive_manifest.fingerprint(entry) for entry in entries]


@task(name="find-current-sequences", **IO_RETRIES)
def find_current(store: str, entries: list[archive_manifest.SequenceEntry], spec: FrameSpec) -> list[str]:
    """Ids of the entries (content hashes set) that the store already holds current, from one
    listing of the store; an absent store holds none."""
    if not (Path(store) / "zarr.json").is_file():
        return []
    return sorted(current_sequences(SequenceStore(store).all_sequence_attrs(), entries, spec))


@task(name="ingest-sequences", **IO_RETRIES)
def ingest_bundle(
    store: str,
    lease: str,
    entries: list[archive_manifest.SequenceEntry],
    content_hashes: list[str],
    spec: FrameSpec | TrackSpec,
    layout: str,
    chunk_frames: int,
    allow_partial: bool = False,
) -> list[IngestOutcome]:
    """Decodes and stores a bundle of sequences; a bad source becomes a "failed" outcome.

    With a `TrackSpec` each source gives one outcome per walker track (and "too_short" ones);
    footage with nobody walking fails with the one-line "no walker found" reason.

    Store I/O errors are raised, so Prefect retries the bundle with backoff; sequences it
    already stored are then skipped as current.
    """
    sequence_store = SequenceStore(store, lease=lease)
    outcomes = []
    with sequence_store.batched():  # on object storage, one commit for the bundle
        for entry, content_hash in zip(entries, content_hashes):
            entry = dataclasses.replace(entry, content_hash=content_hash)
            try:
                if isinstance(spec, TrackSpec):
                    outcomes.extend(ingest_tracks(sequence_store, entry, spec, layout=layout,
                                                  chunk_frames=chunk_frames, allow_partial=allow_partial))
                    continue
                outcomes.append(ingest_sequence(sequence_store, entry, spec, layout=layout,
                                                chunk_frames=chunk_frames, allow_partial=allow_partial))
            except (FrameDecodeError, GroundTruthError, NoWalkerFound) as error:
                outcomes.append(IngestOutcome(entry.sequence_id, "failed", str(error)))
    return outcomes
