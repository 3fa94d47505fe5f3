"""A bundle of archive entries into the store: what one ingest task decodes and writes."""

from __future__ import annotations

import dataclasses
from typing import Sequence

from storage.frames import FrameDecodeError, FrameSpec
from storage.groundtruth import GroundTruthError
from storage.ingest import IngestOutcome, ingest_sequence
from storage.manifest import SequenceEntry
from storage.store import SequenceStore
from storage.tracks import NoWalkerFound, TrackSpec, ingest_tracks


def ingest_entries(
    store: SequenceStore,
    entries: Sequence[SequenceEntry],
    content_hashes: Sequence[str],
    spec: FrameSpec | TrackSpec,
    *,
    layout: str,
    chunk_frames: int,
    allow_partial: bool = False,
) -> list[IngestOutcome]:
    """Decodes and stores each entry; a bad source becomes a "failed" outcome, the rest go on.

    With a `TrackSpec` each source gives one outcome per walker track (and "too_short" ones);
    footage with nobody walking fails with the one-line "no walker found" reason. Store I/O
    errors are raised: sequences stored before one are current, so a retry skips them.
    """
    outcomes = []
    with store.batched():  # on object storage, one commit for the bundle
        for entry, content_hash in zip(entries, content_hashes, strict=True):
            entry = dataclasses.replace(entry, content_hash=content_hash)
            try:
                if isinstance(spec, TrackSpec):
                    outcomes.extend(ingest_tracks(store, entry, spec, layout=layout,
                                                  chunk_frames=chunk_frames, allow_partial=allow_partial))
                    continue
                outcomes.append(ingest_sequence(store, entry, spec, layout=layout,
                                                chunk_frames=chunk_frames, allow_partial=allow_partial))
            except (FrameDecodeError, GroundTruthError, NoWalkerFound) as error:
                outcomes.append(IngestOutcome(entry.sequence_id, "failed", str(error)))
    return outcomes
