"""Tasks of `ingest_archive`: each wires one call into `storage/` (or `stages/` when features stream)."""

from __future__ import annotations

import hashlib
import json
import os

from prefect import task
from prefect.context import TaskRunContext

from params import FeatureOptions
from provenance import module_version
from stages.features import FEATURE_FRAMES_TOPIC, FEATURES_STAGE, sequences_without, stage_code_version
from stages.streaming import ingest_then_extract
from storage import manifest as archive_manifest
from storage.bundles import ingest_entries
from storage.frames import FrameSpec
from storage.ingest import IngestOutcome, current_sequences
from storage.store import SequenceStore, store_exists
from storage.tracks import TrackSpec
from tasks.caching import task_code
from tasks.retries import IO_RETRIES
from tracking import progress


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
    if not store_exists(store):
        return []
    return sorted(current_sequences(SequenceStore(store).all_sequence_attrs(), entries, spec))


@task(name="sequences-lacking-features", **IO_RETRIES)
def lacking_features(store: str, model_tag: str, among: list[str], dtype: str) -> list[str]:
    """Those of `among` without current features of the model in precision `dtype`
    (`stages.features.sequences_without`)."""
    return sequences_without(SequenceStore(store), FEATURES_STAGE, model_tag, stage_code_version(FEATURES_STAGE),
                             among=among, made_with={"dtype": dtype})


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
    """Decodes and stores a bundle of sequences (`storage.bundles.ingest_entries`).

    Store I/O errors are raised, so Prefect retries the bundle with backoff; sequences it
    already stored are then skipped as current.
    """
    return ingest_entries(SequenceStore(store, lease=lease), entries, content_hashes, spec, layout=layout,
                          chunk_frames=chunk_frames, allow_partial=allow_partial)


@task(name="ingest-and-extract-features", **IO_RETRIES)
def ingest_and_extract_bundle(
    store: str,
    lease: str,
    entries: list[archive_manifest.SequenceEntry],
    content_hashes: list[str],
    spec: FrameSpec | TrackSpec,
    layout: str,
    chunk_frames: int,
    allow_partial: bool,
    stored_ids: list[str],
    model_path: str,
    model_tag: str,
    options: FeatureOptions,
    threads: int | None,
) -> tuple[list[IngestOutcome], dict]:
    """A bundle's frames, then their pose features and those of `stored_ids`, in one task
    (`stages.streaming.ingest_then_extract`).

    A retry after a store I/O error skips what is current: stored frames and stored features.
    """
    return ingest_then_extract(
        SequenceStore(store, lease=lease), entries, content_hashes, spec, layout=layout, chunk_frames=chunk_frames,
        allow_partial=allow_partial, stored_ids=stored_ids, model_path=model_path, model_tag=model_tag,
        batch_frames=options.batch_frames, dtype=options.dtype, threads=threads, device=options.device,
        mixed_precision=options.mixed_precision, network_batch=options.network_batch,
        on_frames=progress.worker_events(FEATURE_FRAMES_TOPIC),
    )
