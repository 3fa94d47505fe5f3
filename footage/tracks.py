"""Tracks -> walker sequences: smoothed boxes, square crops, the short ones skipped and listed.

A walker sequence is one track long enough to show a walk (`min_frames`) of something that
walks: upright (its box at least `min_aspect` times as tall as wide, by the median) and
travelling: its centre gets at least `min_travel` of its height away from where it started, or
its size changes by at least a factor 1 + `min_travel` (a walk towards or away from the camera).
The last two drop what background subtraction also finds in real footage: a parked van whose
windows catch the light, a wall whose brightness flickers, a swaying hedge. Its id is
`<source>#t<NNN>`, NNN the track's number in order of first appearance (from 001, counting the
skipped ones too, so a listed skip and a kept sequence never share a number).

Crops are squares that keep the person centred and whole: the side is the person's longer side
plus a margin, smoothed over time so the crop does not breathe with every stride; the centre
is the person's, smoothed likewise. The square then grows where needed to hold the person's
unsmoothed box, and slides (never shrinks) to stay inside the frame, so at the frame edge the
person is whole but off-centre. Crops never leave the frame: no black padding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from footage.tracking import FrameSpan, RawTrack


@dataclasses.dataclass(frozen=True, eq=False)
class WalkerTrack(FrameSpan):
    """One walker's sequence.

    Attributes:
      track_id: `<source>#t<NNN>`.
      number: NNN.
      frames: (n,) int64 consecutive source frame indices.
      boxes: (n, 4) float64 the person (x0, y0, x1, y1), smoothed, within the frame.
      crops: (n, 4) float64 square crops (x0, y0, x1, y1) inside the frame, each holding the
        person's box of that frame.
      observed: (n,) bool, the person was detected in that frame (else the tracker's prediction:
        hidden behind someone, or missed).
    """

    track_id: str
    number: int
    frames: np.ndarray
    boxes: np.ndarray
    crops: np.ndarray
    observed: np.ndarray



@dataclasses.dataclass(frozen=True)
class SkippedTrack:
    """A track too short to become a sequence: its number, frame range and length."""

    number: int
    first: int
    last: int
    frames: int
    reason: str

    def describe(self) -> str:
        return f"t{self.number:03d} (frames {self.first}..{self.last}): {self.reason}"


def walker_tracks(
    tracks: Sequence[RawTrack],
    *,
    source: str,
    frame_size: tuple[int, int],
    min_frames: int,
    margin: float = 0.15,
    smoothing: float = 2.0,
    min_aspect: float = 1.5,
    min_travel: float = 0.6,
) -> tuple[list[WalkerTrack], list[SkippedTrack]]:
    """Turns raw tracks into walker sequences.

    Args:
      tracks: the tracker's tracks, in order of first frame.
      source: the footage's name, the ids' prefix.
      frame_size: (height, width) of the footage.
      min_frames: least frames of a sequence; shorter tracks are skipped and listed.
      margin: room around the person, as a fraction of its longer side, on each side.
      smoothing: Gaussian sigma in frames over which boxes and crops are smoothed.
      min_aspect: least median height / width of a walker's box.
      min_travel: least distance, in median heights, its centre gets from its first one; or, for
        a walk towards or away from the camera, 1 + min_travel is the least size change.
    Returns:
      (the sequences, the skipped tracks), both in track-number order.
    """
    if min_frames < 1:
        raise ValueError(f"min_frames must be at least 1, got {min_frames}")
    kept, skipped = [], []
    for number, track in enumerate(tracks, start=1):
        if len(track) < min_frames:
            skipped.append(SkippedTrack(number, track.first, track.last, len(track),
                                        f"too short: {len(track)} frames < {min_frames}"))
            continue
        reason = _not_a_walker(track.boxes, min_aspect, min_travel)
        if reason:
            skipped.append(SkippedTrack(number, track.first, track.last, len(track), reason))
            continue
        boxes = smooth_boxes(clip_boxes(track.boxes, frame_size), smoothing)
        crops = square_crops(boxes, clip_boxes(track.boxes, frame_size), frame_size, margin, smoothing)
        kept.append(WalkerTrack(track_id=f"{source}#t{number:03d}", number=number, frames=track.frames.copy(),
                                boxes=boxes, crops=crops, observed=track.observed.copy()))
    return kept, skipped


def _not_a_walker(boxes: np.ndarray, min_aspect: float, min_travel: float) -> str | None:
    """Why boxes (n, 4) are not those of a walker, or None when they are."""
    height = float(np.median(boxes[:, 3] - boxes[:, 1]))
    aspect = float(np.median((boxes[:, 3] - boxes[:, 1]) / np.maximum(boxes[:, 2] - boxes[:, 0], 1e-9)))
    if aspect < min_aspect:
        return f"not upright: median height/width {aspect:.2f} < {min_aspect}"
    centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    # The farthest it got, not where it ended: a walk out and back ends where it began.
    travel = float(np.linalg.norm(centre - centre[0], axis=1).max()) / max(height, 1e-9)
    # A walk along the optical axis barely moves the centre; it changes the size instead.
    # First and last few frames by their median, so one ragged box does not count as a walk.
    ends = max(1, len(boxes) // 10)
    heights = boxes[:, 3] - boxes[:, 1]
    first, last = float(np.median(heights[:ends])), float(np.median(heights[-ends:]))
    growth = max(first, last) / max(min(first, last), 1e-9)
    if travel < min_travel and growth < 1.0 + min_travel:
        return (f"does not walk: gets {travel:.2f} of its height from its start (< {min_travel}) and changes "
                f"size x{growth:.2f} (< x{1.0 + min_travel:.2f})")
    return None


def clip_boxes(boxes: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """(n, 4) boxes cut to the frame (height, width); a box wholly outside keeps one pixel at
    the nearest edge, so sizes stay positive."""
    height, width = frame_size
    out = np.asarray(boxes, dtype=np.float64).copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    out[:, 2] = np.maximum(out[:, 2], np.minimum(out[:, 0] + 1, width))
    out[:, 0] = np.minimum(out[:, 0], out[:, 2] - 1)
    out[:, 3] = np.maximum(out[:, 3], np.minimum(out[:, 1] + 1, height))
    out[:, 1] = np.minimum(out[:, 1], out[:, 3] - 1)
    return out


def smooth_boxes(boxes: np.ndarray, sigma: float) -> np.ndarray:
    """(n, 4) boxes with centre and size each smoothed by a Gaussian of `sigma` frames."""
    centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    size = boxes[:, 2:] - boxes[:, :2]
    centre, size = _gaussian(centre, sigma), _gaussian(size, sigma)
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def square_crops(smoothed: np.ndarray, raw: np.ndarray, frame_size: tuple[int, int], margin: float,
                 sigma: float) -> np.ndarray:
    """(n, 4) square crops inside the frame, centred on the smoothed person where the frame
    allows, each holding the raw box (n, 4) of its frame.

    The side is the smoothed box's longer side times (1 + 2 margin), smoothed over ~4 sigma so
    it does not follow each stride, at least what holds the raw box from the smoothed centre,
    at most the frame's shorter side.
    """
    height, width = frame_size
    limit = float(min(height, width))
    centre = 0.5 * (smoothed[:, :2] + smoothed[:, 2:])  # (n, 2)
    side = np.max(smoothed[:, 2:] - smoothed[:, :2], axis=1) * (1.0 + 2.0 * margin)
    side = _gaussian(side[:, None], 4.0 * sigma)[:, 0]
    reach = np.max(np.abs(np.concatenate([raw[:, :2] - centre, raw[:, 2:] - centre], axis=1)), axis=1)
    side = np.clip(np.maximum(side, 2.0 * reach), 8.0, limit)
    crops = np.empty((len(side), 4))
    for axis, extent in ((0, width), (1, height)):
        start = centre[:, axis] - side / 2
        # Slide to hold the raw box (it fits: side >= its extent, or side is the whole frame),
        # then to stay inside the frame (the raw box lies inside it, so both hold).
        start = np.clip(start, raw[:, axis + 2] - side, raw[:, axis])
        start = np.clip(start, 0.0, extent - side)
        crops[:, axis], crops[:, axis + 2] = start, start + side
    return crops


def _gaussian(values: np.ndarray, sigma: float) -> np.ndarray:
    """(n, k) values smoothed along time by a Gaussian of `sigma` frames.

    The edges are extended by odd reflection (mirrored about the end value), which continues a
    steady motion: an even reflection folds it back, and the smoothed box would lag the person
    at both ends of a track."""
    if sigma < 0.3 or len(values) < 3:
        return values.copy()
    radius = min(int(np.ceil(3 * sigma)), len(values) - 1)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, ((radius, radius), (0, 0)), mode="reflect", reflect_type="odd")
    return np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(values.shape[1])], axis=1)
