"""Footage -> walkers: detection, tracking and sequences as one pure function.

`track_walkers(frames, min_frames=..., source=...)` reads no files and writes nothing, so the
ingest (or anything else) can call it on decoded frames. Footage with nobody in it gives a
result whose `message` says "no walker found" (and `require()` raises `NoWalkerFound` with that
one line), never a stack trace from deep inside.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from footage.detection import DetectorConfig, FrameDetections, detect_people, hog_available
from footage.tracking import TrackerConfig, track_boxes
from footage.tracks import SkippedTrack, WalkerTrack, walker_tracks


class NoWalkerFound(ValueError):
    """Footage in which no walker long enough to keep was found; the message is one line."""


@dataclasses.dataclass(frozen=True, eq=False)
class WalkerTracks:
    """The walkers of one piece of footage.

    Attributes:
      source: the footage's name (the ids' prefix).
      frame_size: (height, width).
      frame_count: frames looked at.
      tracks: the walker sequences, in track-number order.
      skipped: tracks not kept (too short, or not a walker), with their lengths and why.
      detections: per frame, what the detector found (for inspection and scoring).
      hog: whether the HOG people detector took part.
    """

    source: str
    frame_size: tuple[int, int]
    frame_count: int
    tracks: tuple[WalkerTrack, ...]
    skipped: tuple[SkippedTrack, ...]
    detections: tuple[FrameDetections, ...] = ()
    hog: bool = False

    @property
    def found(self) -> bool:
        return bool(self.tracks)

    @property
    def message(self) -> str:
        """One line: what was found, or why nothing was."""
        if self.tracks:
            lengths = ", ".join(f"t{t.number:03d}: {len(t)}" for t in self.tracks)
            text = f"{self.source}: {len(self.tracks)} walker(s) in {self.frame_count} frames ({lengths})"
            if self.skipped:
                text += f"; skipped {len(self.skipped)} track(s) too short or not walkers"
            return text
        if self.skipped:
            shown = "; ".join(s.describe() for s in self.skipped[:5])
            more = f"; and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            return (f"{self.source}: no walker found in {self.frame_count} frames: every track is too short "
                    f"or not a walker ({shown}{more})")
        return f"{self.source}: no walker found in {self.frame_count} frames (nobody moving was detected)"

    def require(self) -> "WalkerTracks":
        """Itself when it holds a walker; else raises NoWalkerFound(message)."""
        if not self.tracks:
            raise NoWalkerFound(self.message)
        return self


def track_walkers(
    frames: np.ndarray,
    *,
    min_frames: int = 25,
    source: str = "footage",
    margin: float = 0.15,
    smoothing: float = 2.0,
    min_aspect: float = 1.5,
    min_travel: float = 0.6,
    detector: DetectorConfig = DetectorConfig(),
    tracker: TrackerConfig = TrackerConfig(),
) -> WalkerTracks:
    """Finds, follows and crops every walker of a clip from a static camera.

    Args:
      frames: (T, H, W, 3) uint8 RGB.
      min_frames: least frames a track needs to become a sequence (shorter ones are listed in
        `skipped`).
      source: the footage's name; sequence ids are `<source>#t<NNN>`.
      margin: room around the person in a crop, as a fraction of its longer side, per side.
      smoothing: Gaussian sigma in frames for boxes and crops.
      min_aspect, min_travel: what counts as a walker (see `footage.tracks`): upright, and
        moving at least that many of its heights (or growing or shrinking by 1 + that); other
        tracks are listed in `skipped`.
      detector, tracker: detection and tracking settings.
    Returns:
      WalkerTracks; with no walker found its `message` says so (`require()` raises).
    Raises:
      ValueError: `frames` is not a (T, H, W, 3) uint8 array.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.dtype} {frames.shape}")
    size = (int(frames.shape[1]), int(frames.shape[2]))
    if len(frames) == 0:
        return WalkerTracks(source, size, 0, (), ())
    detections = detect_people(frames, detector)
    raw = track_boxes([d.boxes for d in detections], tracker, [d.appearance for d in detections], frame_size=size)
    kept, skipped = walker_tracks(raw, source=source, frame_size=size, min_frames=min_frames, margin=margin,
                                  smoothing=smoothing, min_aspect=min_aspect, min_travel=min_travel)
    use_hog = hog_available() if detector.hog is None else detector.hog
    return WalkerTracks(source, size, len(frames), tuple(kept), tuple(skipped), tuple(detections), bool(use_hog))


def crop_frames(frames: np.ndarray, track: WalkerTrack, size: int) -> np.ndarray:
    """(n, size, size, 3) the track's crops cut from `frames` (T, H, W, 3) and resized."""
    out = np.empty((len(track), size, size, 3), dtype=np.uint8)
    for i, (t, crop) in enumerate(zip(track.frames, track.crops)):
        x0, y0, x1, y1 = (int(round(v)) for v in crop)
        patch = frames[t, y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
        interpolation = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
        out[i] = cv2.resize(patch, (size, size), interpolation=interpolation)
    return out
