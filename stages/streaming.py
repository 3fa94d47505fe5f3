"""Ingest and pose features in one pass over a bundle of archive entries.

The features of a bundle's sequences are computed by the worker that has just stored their
frames, while the other workers go on decoding their own bundles: no stage waits for the whole
archive. Where decoding and the network use different resources (a GPU, spare cores) they
overlap; on two CPU cores they compete, and streaming measured no faster than one stage after
the other (`benchmarks/feature_flow.py`). The frames are still
stored (features read them back, from the page cache on a disk store), so every later stage
and model re-uses them as after a plain ingest.
"""

from __future__ import annotations

from typing import Callable, Sequence

from stages.features import extract_features
from storage.bundles import ingest_entries
from storage.frames import FrameSpec
from storage.ingest import IngestOutcome
from storage.manifest import SequenceEntry
from storage.store import SequenceStore
from storage.tracks import TrackSpec

# Outcomes whose sequence holds frames now: stored by this bundle, or already current.
_HOLDS_FRAMES = ("stored", "skipped")


def ingest_then_extract(
    store: SequenceStore,
    entries: Sequence[SequenceEntry],
    content_hashes: Sequence[str],
    spec: FrameSpec | TrackSpec,
    *,
    stored_ids: Sequence[str] = (),
    layout: str,
    chunk_frames: int,
    allow_partial: bool,
    model_path: str,
    model_tag: str,
    batch_frames: int,
    dtype: str,
    threads: int,
    device: str = "auto",
    mixed_precision: bool = False,
    network_batch: int | None = None,
    on_frames: Callable[[str, int], None] | None = None,
) -> tuple[list[IngestOutcome], dict]:
    """Stores the entries' frames, then the pose features of every sequence that holds frames
    now, and of `stored_ids` (sequences stored before, lacking these features).

    Returns:
      (ingest outcomes, `stages.features.extract_features`'s {"done", "failed"}). Sequences
      that already had current features are neither recomputed nor counted.
    """
    outcomes = ingest_entries(store, entries, content_hashes, spec, layout=layout,
                              chunk_frames=chunk_frames, allow_partial=allow_partial)
    ready = [outcome.sequence_id for outcome in outcomes if outcome.status in _HOLDS_FRAMES] + list(stored_ids)
    features = extract_features(
        store, ready, model_path, model_tag, batch_frames=batch_frames, dtype=dtype, threads=threads,
        device=device, mixed_precision=mixed_precision, network_batch=network_batch, on_frames=on_frames,
    ) if ready else {"done": {}, "failed": {}}
    return outcomes, features
