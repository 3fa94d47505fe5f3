"""Ingesting one archive sequence into the store: decode, crop, map ground truth, write atomically."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Mapping, Sequence

import numpy as np

from provenance import module_version
from storage.frames import BoxFinder, FrameSpec, LostFrames, extract_frames, map_joints_to_frames, source_fps
from storage.groundtruth import GroundTruth, GroundTruthError, read_groundtruth
from storage.manifest import SequenceEntry
from storage.store import ChunkedArray, SequenceStore

DEFAULT_CHUNK_FRAMES = 16


@dataclasses.dataclass(frozen=True)
class IngestOutcome:
    """What happened to one sequence: status "stored", "skipped" or "failed" (with the reason);
    walker tracks may also be "too_short" or "removed" (`storage.tracks.ingest_tracks`).

    A sequence stored with `allow_partial` that lost frames has status "stored" and the loss in
    `reason` (e.g. "lost 3 of 12 frames (corrupt: 5, 6, 7)").
    """

    sequence_id: str
    status: str
    reason: str = ""
    frames: int = 0
    seconds: float = 0.0


@functools.lru_cache(maxsize=1)
def ingest_code_version() -> str:
    """The version of the decoding code (this module and what it imports), once per process."""
    return module_version(__name__)


def is_current(store: SequenceStore, entry: SequenceEntry, spec: FrameSpec) -> bool:
    """True when the store holds this sequence from the same bytes, extracted the same way by
    the same code."""
    return _holds_current(store.sequence_attrs(entry.sequence_id), entry, spec.as_attrs())


def current_sequences(stored: Mapping[str, Mapping], entries: Sequence[SequenceEntry], spec: FrameSpec) -> set[str]:
    """Ids of the entries (with their content hashes) that `stored`, {sequence id: attributes} as
    `SequenceStore.all_sequence_attrs` lists them, holds current (`is_current`'s rule): one listing
    decides for a whole archive, where `is_current` reads each sequence's metadata."""
    extraction = spec.as_attrs()
    return {entry.sequence_id for entry in entries if _holds_current(stored.get(entry.sequence_id), entry, extraction)}


def _holds_current(attrs: Mapping | None, entry: SequenceEntry, extraction: dict) -> bool:
    return (
        attrs is not None
        and bool(entry.content_hash)
        and attrs.get("content_hash") == entry.content_hash
        and attrs.get("extraction") == extraction
        and attrs.get("code_version") == ingest_code_version()
    )


def ingest_sequence(
    store: SequenceStore,
    entry: SequenceEntry,
    spec: FrameSpec,
    *,
    layout: str,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    box_finder: BoxFinder | None = None,
    allow_partial: bool = False,
) -> IngestOutcome:
    """Stores one sequence unless the store already holds it current.

    Decoding is strict: any damaged, missing or unreadable frame fails the sequence, and a stored
    version of it stays as it was (the new one is built in staging and swapped in only whole).
    With `allow_partial=True` such frames are skipped instead (the others keep their source
    indices, so ground truth stays aligned), and the sequence's attributes record the loss as
    "lost_frames": {"declared": int | None, "decoded": int, "corrupt": [source index, ...],
    "missing": int, "errors": [str, ...]} (see `storage.frames.LostFrames`); the key is absent
    when nothing was lost. `allow_partial` is not part of the extraction attributes, so it does
    not make a stored sequence stale.

    Raises:
      FrameDecodeError, GroundTruthError: the source or its sidecar is bad (nothing is written).
      StoreError: the store cannot be written.
    """
    if is_current(store, entry, spec):
        return IngestOutcome(entry.sequence_id, "skipped", "already stored with the same content hash")
    started = time.perf_counter()
    truth = read_groundtruth(entry.sidecar) if entry.sidecar else None
    fps = truth.fps if truth else source_fps(entry.source, entry.kind, spec.image_fps)
    kept_indices: list[np.ndarray] = []
    kept_boxes: list[np.ndarray] = []
    lost = LostFrames()

    def frame_pieces():
        for batch in extract_frames(
            entry.source,
            entry.kind,
            spec,
            batch_frames=chunk_frames,
            box_finder=box_finder,
            fps=fps,
            allow_partial=allow_partial,
            lost=lost,
        ):
            kept_indices.append(batch.source_indices)
            kept_boxes.append(batch.boxes)
            yield batch.frames

    # Arrays are written in this order, so the per-frame records are complete once frames are.
    arrays = {
        "frames": ChunkedArray((0, spec.size, spec.size, 3), "uint8", (chunk_frames, spec.size, spec.size, 3), frame_pieces()),
        "source_index": ChunkedArray((0,), "int64", (4096,), _once(lambda: np.concatenate(kept_indices))),
        "crop_box": ChunkedArray((0, 4), "float32", (4096, 4), _once(lambda: np.concatenate(kept_boxes))),
    }
    if truth is not None:
        mapped: dict[str, np.ndarray] = {}

        def mapped_truth(name: str) -> np.ndarray:
            if not mapped:
                joints, visible = _mapped_groundtruth(
                    truth, np.concatenate(kept_indices), np.concatenate(kept_boxes), spec.size, entry
                )
                mapped.update(joints=joints, visible=visible)
            return mapped[name]

        arrays["joints_gt"] = ChunkedArray((0, 16, 2), "float32", (4096, 16, 2), _once(lambda: mapped_truth("joints")))
        arrays["visible_gt"] = ChunkedArray((0, 16), "bool", (4096, 16), _once(lambda: mapped_truth("visible")))

    output_fps = fps if spec.fps is None else min(fps, spec.fps)
    attrs = source_attrs(entry, entry.labels(), layout, spec, ingest_code_version(), fps, output_fps, truth)

    def final_attrs() -> dict:
        # Called once every array is written, so the decoder has reached the end of the source.
        losses = {} if lost.complete else {"lost_frames": lost.as_attrs()}
        return {**attrs, "frame_count": int(sum(map(len, kept_indices))), **losses}

    store.write_sequence(entry.sequence_id, final_attrs, arrays)
    frame_count = int(sum(map(len, kept_indices)))
    reason = "" if lost.complete else lost.summary()
    return IngestOutcome(
        entry.sequence_id, "stored", reason, frames=frame_count, seconds=time.perf_counter() - started
    )


def source_attrs(entry: SequenceEntry, labels: dict, layout: str, spec: FrameSpec, code_version: str,
                 source_rate: float, rate: float, truth: GroundTruth | None) -> dict:
    """What every stored sequence records of its source and its extraction: its labels, the
    source's identity (what `is_current` compares), the frame spec, the code version, the frame
    rates and the ground truth's covariates."""
    return {
        **labels,
        "layout": layout,
        "source": entry.source,
        "source_size": entry.size,
        "source_mtime_ns": entry.mtime_ns,
        "content_hash": entry.content_hash,
        "extraction": spec.as_attrs(),
        "code_version": code_version,
        "source_fps": source_rate,
        "fps": rate,
        "has_groundtruth": truth is not None,
        "covariates": truth.covariates if truth else {},
    }


def _mapped_groundtruth(truth: GroundTruth, indices, boxes, size: int, entry: SequenceEntry):
    if indices.max() >= len(truth):
        raise GroundTruthError(
            f"{entry.sidecar}: ground truth covers {len(truth)} frames but the source has {indices.max() + 1}"
        )
    joints = map_joints_to_frames(truth.joints_xy[indices], boxes, size)
    inside = ((joints >= 0) & (joints <= size - 1)).all(axis=-1)
    return joints, truth.visible[indices] & inside


def _once(make):
    """One piece made when first needed (after the frames are written)."""
    yield make()
