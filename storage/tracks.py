"""Ingesting footage walker by walker (`crop="track"`): one stored sequence per walker track.

A source is decoded once, `footage.walkers.track_walkers` finds and follows every walker in it,
and each track of at least `min_track_frames` frames is written as its own sequence
`<source id>#t<NNN>`, its frames cut with the track's square crops and resized to `size`.
Beside the frames, a track sequence keeps per frame its source frame index (`source_index`),
its square crop (`crop_box`), the person's box (`person_box`) and whether the person was seen
there or only predicted by the tracker (`observed`); its attributes name the source
(`track_source`), the track, its first and last source frame, how many tracks the source gave
(`track_count`) and the tracks skipped as too short (`track_skipped`).

Re-ingesting the same bytes with the same settings and code is skipped, like the other crops:
the source is current when every one of its tracks is stored current. Each track is written
atomically by the store, so a failure leaves what was stored before as it was.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from pathlib import Path

import numpy as np

from footage.walkers import NoWalkerFound, crop_frames, track_walkers
from provenance import module_version
from storage.frames import FrameDecodeError, LostFrames, _decode, _resampler, map_joints_to_frames, source_fps
from storage.groundtruth import GroundTruthError, read_groundtruth
from storage.ingest import DEFAULT_CHUNK_FRAMES, IngestOutcome, source_attrs
from storage.manifest import VIDEO_SUFFIXES, SequenceEntry, discover, fingerprint
from storage.store import ChunkedArray, SequenceStore

__all__ = ["NoWalkerFound", "TrackSpec", "footage_entries", "ingest_tracks", "source_frames", "tracks_current"]

TOO_SHORT = "too_short"
REMOVED = "removed"


@dataclasses.dataclass(frozen=True)
class TrackSpec:
    """How footage becomes walker sequences.

    Attributes:
      size: side of the square output frames in pixels.
      fps: target frame rate; None keeps the source's (never up-sampled).
      min_track_frames: least frames of a kept track (after resampling).
      margin: room around the person, as a fraction of its longer side, on each side.
      image_fps: frame rate of image folders without a sidecar saying otherwise.
      crop: always "track" (so the extraction attributes say how the frames were cut).
    """

    size: int = 299
    fps: float | None = None
    min_track_frames: int = 25
    margin: float = 0.15
    image_fps: float = 30.0
    crop: str = "track"

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 2048:
            raise ValueError(f"frame size must be within 16..2048 px, got {self.size}")
        if self.fps is not None and not 0 < self.fps <= 240:
            raise ValueError(f"target fps must be within (0, 240], got {self.fps}")
        if self.min_track_frames < 2:
            raise ValueError(f"min_track_frames must be at least 2, got {self.min_track_frames}")
        if self.crop != "track":
            raise ValueError(f"a TrackSpec crops by track, got crop {self.crop!r}")

    def as_attrs(self) -> dict:
        return dataclasses.asdict(self)


@functools.lru_cache(maxsize=1)
def tracks_code_version() -> str:
    """The version of the decoding and tracking code (this module and what it imports)."""
    return module_version(__name__)


def footage_entries(path: str | os.PathLike, *, with_hashes: bool = True) -> list[SequenceEntry]:
    """The sources of footage given as one video file or a folder of videos (the folder layout).

    A single file's id is its name; a folder's sources are `discover(path, "folder")`'s.

    Raises:
      FileNotFoundError: the path does not exist, or the file is not a video.
    """
    path = Path(path).expanduser().resolve()
    if path.is_dir():
        return list(discover(path, "folder", with_hashes=with_hashes).entries)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise FileNotFoundError(f"{path}: not a video file ({', '.join(sorted(VIDEO_SUFFIXES))})")
    stat = path.stat()
    entry = SequenceEntry(
        sequence_id=path.name, source=str(path), kind="video", subject=path.name, condition="", index=0, view=-1,
        session=1, size=stat.st_size, mtime_ns=stat.st_mtime_ns, content_hash="",
    )
    return [dataclasses.replace(entry, content_hash=fingerprint(entry))] if with_hashes else [entry]


def stored_tracks(store: SequenceStore, source_id: str) -> dict[str, dict]:
    """{sequence id: attributes} of the stored track sequences cut from source `source_id`."""
    return {
        sequence_id: attrs for sequence_id, attrs in store.all_sequence_attrs().items()
        if attrs.get("track_source") == source_id
    }


def tracks_current(store: SequenceStore, entry: SequenceEntry, spec: TrackSpec) -> dict[str, dict] | None:
    """The stored tracks of `entry` made from the same bytes with the same settings and code,
    when all of them (as many as the source gave) are there; else None. Tracks an earlier
    extraction left (other settings or code) are not counted."""
    if not entry.content_hash:
        return None
    current = {
        sequence_id: attrs for sequence_id, attrs in stored_tracks(store, entry.sequence_id).items()
        if attrs.get("content_hash") == entry.content_hash
        and attrs.get("extraction") == spec.as_attrs()
        and attrs.get("code_version") == tracks_code_version()
    }
    counts = {attrs.get("track_count") for attrs in current.values()}
    return current if current and counts == {len(current)} else None


def ingest_tracks(
    store: SequenceStore,
    entry: SequenceEntry,
    spec: TrackSpec,
    *,
    layout: str,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    allow_partial: bool = False,
) -> list[IngestOutcome]:
    """Stores one sequence per walker track of `entry` unless they are all stored current.

    Returns one outcome per track: "stored" or "skipped" (already current), "too_short"
    (reason: its length) for each track shorter than `spec.min_track_frames`, and "removed" for
    each track of an earlier extraction of this source that this one replaced and did not find.

    Raises:
      NoWalkerFound: nobody (or nobody for long enough) walks in the footage; one line.
      FrameDecodeError, GroundTruthError: the source or its sidecar is bad (nothing is written).
      StoreError: the store cannot be written.
    """
    current = tracks_current(store, entry, spec)
    if current is not None:
        any_attrs = next(iter(current.values()))
        outcomes = [IngestOutcome(i, "skipped", "already stored with the same content hash") for i in sorted(current)]
        return outcomes + _removed_stale(store, entry, outcomes) + _short_outcomes(entry, any_attrs.get("track_skipped", []))
    started = time.perf_counter()
    truth = read_groundtruth(entry.sidecar) if entry.sidecar else None
    fps = truth.fps if truth else source_fps(entry.source, entry.kind, spec.image_fps)
    lost = LostFrames()
    frames, indices = _decode_all(entry, spec, fps, allow_partial, lost)
    walkers = track_walkers(frames, min_frames=spec.min_track_frames, source=entry.sequence_id, margin=spec.margin)
    skipped = [
        {"track": f"{entry.sequence_id}#t{s.number:03d}", "first": int(indices[s.first]),
         "last": int(indices[s.last]), "frames": int(s.frames), "reason": s.reason}
        for s in walkers.skipped
    ]
    walkers.require()
    if truth is not None and len(indices) and int(indices[-1]) >= len(truth):
        # Checked before the first track is written: a bad sidecar stores none of them.
        raise GroundTruthError(f"{entry.sidecar}: ground truth covers {len(truth)} frames but the source "
                               f"has {int(indices[-1]) + 1}")
    decode_seconds = time.perf_counter() - started
    output_fps = fps if spec.fps is None else min(fps, spec.fps)
    outcomes = []
    for track in walkers.tracks:
        began = time.perf_counter()
        source_index = indices[track.frames]
        arrays = {
            "frames": ChunkedArray((len(track), spec.size, spec.size, 3), "uint8",
                                   (chunk_frames, spec.size, spec.size, 3),
                                   _cropped_pieces(frames, track, spec.size, chunk_frames)),
            "source_index": ChunkedArray(source_index.shape, "int64", (max(1, len(track)),), [source_index]),
            "crop_box": ChunkedArray((len(track), 4), "float32", (max(1, len(track)), 4), [track.crops]),
            "person_box": ChunkedArray((len(track), 4), "float32", (max(1, len(track)), 4), [track.boxes]),
            "observed": ChunkedArray((len(track),), "bool", (max(1, len(track)),), [track.observed]),
        }
        if truth is not None:
            joints = map_joints_to_frames(truth.joints_xy[source_index], track.crops.astype(np.float32), spec.size)
            inside = ((joints >= 0) & (joints <= spec.size - 1)).all(axis=-1)
            visible = truth.visible[source_index] & inside
            arrays["joints_gt"] = ChunkedArray(joints.shape, "float32", (max(1, len(track)), 16, 2), [joints])
            arrays["visible_gt"] = ChunkedArray(visible.shape, "bool", (max(1, len(track)), 16), [visible])
        labels = entry.labels()
        if layout == "folder":  # nobody is labelled: each walker is its own unknown person
            labels["subject"] = track.track_id
        attrs = {
            **source_attrs(entry, labels, layout, spec, tracks_code_version(), fps, output_fps, truth),
            "frame_count": len(track),
            "track_source": entry.sequence_id,
            "track": f"t{track.number:03d}",
            "track_frames": [int(source_index[0]), int(source_index[-1])],
            "track_count": len(walkers.tracks),
            "track_skipped": skipped,
            "source_frame_size": list(walkers.frame_size),
            **({} if lost.complete else {"lost_frames": lost.as_attrs()}),
        }
        store.write_sequence(track.track_id, attrs, arrays)
        seconds = time.perf_counter() - began + decode_seconds / len(walkers.tracks)
        outcomes.append(IngestOutcome(track.track_id, "stored", "" if lost.complete else lost.summary(),
                                      frames=len(track), seconds=seconds))
    return outcomes + _removed_stale(store, entry, outcomes) + _short_outcomes(entry, skipped)


def source_frames(source: str | os.PathLike, kind: str):
    """Yields (source index, RGB frame (H, W, 3) uint8) of every intact frame of a video
    ("video") or image folder ("images"); damaged frames are passed over."""
    yield from _decode(source, kind, LostFrames(), strict=False)


def _removed_stale(store: SequenceStore, entry: SequenceEntry, kept: list[IngestOutcome]) -> list[IngestOutcome]:
    """Removes the source's stored tracks that are not among `kept`: an earlier extraction (other
    bytes, settings or code) made them and this one did not, so they would linger as walkers
    nobody can find in the footage. One "removed" outcome each."""
    stale = sorted(set(stored_tracks(store, entry.sequence_id)) - {o.sequence_id for o in kept})
    return [IngestOutcome(i, REMOVED, "an earlier extraction's track that this one did not find")
            for i in stale if store.remove_sequence(i)]


def _short_outcomes(entry: SequenceEntry, skipped: list[dict]) -> list[IngestOutcome]:
    return [
        IngestOutcome(item["track"], TOO_SHORT,
                      f"too short: {item['frames']} frames (source frames {item['first']}..{item['last']})",
                      frames=item["frames"])
        for item in skipped
    ]


def _decode_all(entry: SequenceEntry, spec: TrackSpec, fps: float, allow_partial: bool,
                lost: LostFrames) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W, 3) uint8 frames kept after resampling, and (T,) int64 their source indices."""
    keep = _resampler(fps, spec.fps)
    frames, indices = [], []
    for index, frame in _decode(entry.source, entry.kind, lost, strict=not allow_partial):
        if keep(index):
            frames.append(frame)
            indices.append(index)
    if not frames:
        raise FrameDecodeError(f"{entry.source}: holds no decodable frames")
    shapes = {frame.shape for frame in frames}
    if len(shapes) > 1:
        raise FrameDecodeError(f"{entry.source}: frames change size ({', '.join(map(str, sorted(shapes)))})")
    return np.stack(frames), np.asarray(indices, dtype=np.int64)


def _cropped_pieces(frames: np.ndarray, track, size: int, chunk_frames: int):
    """The track's crops, resized, one chunk at a time (memory stays at one chunk)."""
    for start in range(0, len(track), chunk_frames):
        part = dataclasses.replace(track, frames=track.frames[start:start + chunk_frames],
                                   crops=track.crops[start:start + chunk_frames])
        yield crop_frames(frames, part, size)

