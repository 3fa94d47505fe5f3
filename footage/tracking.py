"""Multi-object tracking of person boxes: a Kalman filter per person, optimal assignment per frame.

SORT's scheme (Bewley et al. 2016) with the pieces from maintained libraries: each track is a
constant-velocity Kalman filter (filterpy) over the box centre and size; each frame the tracks'
predicted boxes are assigned to the detections by scipy's `linear_sum_assignment`, first on box
overlap (1 - IoU), then, for what is left, on centre distance relative to the person's height
(a person who reappears after an occlusion has moved; IoU with the prediction may be zero).
Where the detections carry colour histograms, both rounds also weigh how alike a track's
clothes and the detection's look (Bhattacharyya distance), and refuse clearly different ones:
when two people part after meeting, position alone can be ambiguous, clothes rarely are.

Two people crossing in the image often become one foreground blob. A detection that covers the
predicted boxes of two or more tracks, or is much wider or taller than the one track it covers,
is such a merge: no track takes it (it would drag a track's box and velocity towards the other
person), it starts no new track, and the tracks inside coast on their predictions, kept alive
longer (`max_hidden_gap`), until each picks up its own person again when they part.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from footage.detection import iou


@dataclasses.dataclass(frozen=True)
class TrackerConfig:
    """How detections become tracks.

    Attributes:
      iou_match: least IoU of a detection with a track's predicted box in the first round.
      centre_gate: most centre distance, in the predicted box's heights, in the second round.
      size_gate: most ratio between detection and prediction heights (and, in the first round,
        widths): a much bigger detection is the person merged with someone else.
      min_hits: detections a new track needs before it counts (drops one-frame flickers).
      max_gap: frames a track may go unseen (coasting) before it ends.
      max_hidden_gap: the same while it is hidden in a merged blob with another track.
      merge_cover: share of a track's predicted box inside a detection for that detection to
        count as covering it.
      hidden_cover: share of an unseen track's predicted box inside some detection for it to
        count as hidden behind that person (it then lives `max_hidden_gap` frames unseen).
      appearance_weight: weight of the colour distance (0..1) added to either round's cost.
      appearance_gate: most colour distance of a match.
      appearance_memory: how much of a track's colour histogram each new sighting replaces.
      exit_cover: with the frame size known, an unseen track whose predicted box has less than
        this share inside the frame has walked out, and ends at once: coasting on outside the
        frame, it would take over the next person who comes in at that edge.
    """

    iou_match: float = 0.2
    centre_gate: float = 0.6
    size_gate: float = 1.6
    min_hits: int = 3
    max_gap: int = 12
    max_hidden_gap: int = 40
    merge_cover: float = 0.5
    hidden_cover: float = 0.3
    appearance_weight: float = 0.5
    appearance_gate: float = 0.55
    appearance_memory: float = 0.15
    exit_cover: float = 0.5


class FrameSpan:
    """A run of consecutive source frames (`frames`, (n,) int): its first, last and length."""

    frames: np.ndarray

    @property
    def first(self) -> int:
        return int(self.frames[0])

    @property
    def last(self) -> int:
        return int(self.frames[-1])

    def __len__(self) -> int:
        return len(self.frames)


@dataclasses.dataclass(frozen=True, eq=False)
class RawTrack(FrameSpan):
    """One person followed through the clip, before smoothing.

    Attributes:
      frames: (n,) int64 consecutive frame indices, first to last time it was seen.
      boxes: (n, 4) float64 (x0, y0, x1, y1): the detection where it was seen, the Kalman
        prediction where it coasted.
      observed: (n,) bool, seen in that frame (not coasting).
    """

    frames: np.ndarray
    boxes: np.ndarray
    observed: np.ndarray



class BoxFilter:
    """A constant-velocity Kalman filter over (cx, cy, w, h) and their rates (filterpy)."""

    def __init__(self, box: np.ndarray) -> None:
        kf = KalmanFilter(dim_x=8, dim_z=4)
        kf.F = np.eye(8)
        kf.F[:4, 4:] = np.eye(4)  # position += rate, per frame
        kf.H = np.eye(4, 8)
        cx, cy, w, h = _to_cwh(box)
        kf.x = np.array([cx, cy, w, h, 0.0, 0.0, 0.0, 0.0])[:, None]
        # Noise in proportion to the person's height: the same behaviour near and far.
        scale = max(h, 8.0)
        kf.R = np.diag([0.05, 0.05, 0.1, 0.05]) ** 2 * scale**2
        kf.P = np.diag([0.1, 0.1, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05]) ** 2 * scale**2
        # Walkers keep their pace; sizes change slowly (rates of w and h barely move).
        kf.Q = np.diag([0.01, 0.01, 0.01, 0.01, 0.01, 0.005, 0.002, 0.002]) ** 2 * scale**2
        self.kf = kf

    def predict(self) -> np.ndarray:
        """Advances one frame; returns the predicted box (4,)."""
        if self.kf.x[2, 0] + self.kf.x[6, 0] <= 1 or self.kf.x[3, 0] + self.kf.x[7, 0] <= 1:
            self.kf.x[6:8] = 0.0  # a shrinking box must not turn inside out
        self.kf.predict()
        return self.box()

    def update(self, box: np.ndarray) -> None:
        self.kf.update(np.asarray(_to_cwh(box))[:, None])

    def box(self) -> np.ndarray:
        cx, cy, w, h = self.kf.x[:4, 0]
        w, h = max(w, 1.0), max(h, 1.0)
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


@dataclasses.dataclass(eq=False)
class _Track:
    """A track being followed: its filter, first frame, box and seen flag per frame so far."""

    filter: BoxFilter
    first: int
    boxes: list[np.ndarray]
    observed: list[bool]
    min_hits: int
    look: np.ndarray | None = None  # colour histogram, a running mean over clean sightings
    hits: int = 1
    unseen: int = 0  # frames since it was last seen
    hidden: bool = False  # inside a merged blob with another track

    @property
    def confirmed(self) -> bool:
        return self.hits >= self.min_hits


def track_boxes(
    detections: Sequence[np.ndarray],
    config: TrackerConfig = TrackerConfig(),
    appearances: Sequence[np.ndarray] | None = None,
    frame_size: tuple[int, int] | None = None,
) -> list[RawTrack]:
    """Follows the people of a clip from their per-frame boxes.

    Args:
      detections: per frame, the boxes (N_t, 4) (x0, y0, x1, y1) found in it.
      config: gates and lifetimes.
      appearances: per frame, a colour histogram per box (N_t, D) summing to 1; None: boxes only.
      frame_size: (height, width) of the frames; None: unknown, and tracks that leave the frame
        coast for `max_gap` frames like any other.
    Returns:
      the confirmed tracks, in order of their first frame; each ends at the last frame it was
      seen (coasting after that is dropped).
    """
    live: list[_Track] = []
    done: list[_Track] = []
    for t, boxes in enumerate(detections):
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        looks = None if appearances is None else np.asarray(appearances[t], dtype=np.float64)
        if looks is not None and len(looks) != len(boxes):
            raise ValueError(f"frame {t}: {len(boxes)} boxes but {len(looks)} colour histograms")
        predicted = np.array([track.filter.predict() for track in live]).reshape(-1, 4)
        colour = _colour_distance([track.look for track in live], looks)
        matches, free_tracks, free_boxes = _associate(predicted, boxes, colour, config)
        covered = _merged(predicted, boxes, config)
        for ti, di in matches:
            if len(covered.get(di, ())) >= 2 and ti in covered[di]:
                # A merged blob: this track and another are both inside it; nobody takes it.
                free_tracks.append(ti)
                continue
            track = live[ti]
            track.filter.update(boxes[di])
            track.boxes.append(boxes[di].copy())
            track.observed.append(True)
            track.hits += 1
            track.unseen = 0
            track.hidden = False
            if looks is not None:
                m = config.appearance_memory
                track.look = looks[di].copy() if track.look is None else (1 - m) * track.look + m * looks[di]
        for ti in free_tracks:
            track = live[ti]
            # Hidden: inside a merged blob, or partly behind someone whose box covers its own.
            track.hidden = any(ti in owners and len(owners) >= 2 for owners in covered.values()) or bool(
                len(boxes) and _inside(predicted[ti], boxes).max() >= config.hidden_cover)
            track.boxes.append(predicted[ti].copy())
            track.observed.append(False)
            track.unseen += 1
        # Merged blobs (over two tracks, or over one but too big for it) start no track.
        taken = {di for di, owners in covered.items() if len(owners) >= 2 or di in free_boxes}
        for di in free_boxes:
            # A detection lying mostly inside a live track's box is a piece of that person (a
            # torso cut off from its legs), not a new one.
            if di in taken or (len(predicted) and _inside(boxes[di], predicted).max() >= 0.5):
                continue
            look = None if looks is None else looks[di].copy()
            live.append(_Track(BoxFilter(boxes[di]), t, [boxes[di].copy()], [True], min_hits=config.min_hits,
                               look=look))
        still = []
        for track in live:
            limit = config.max_hidden_gap if track.hidden else config.max_gap
            if not track.confirmed and track.unseen > 0:
                continue  # a tentative track that missed a frame was a flicker
            if track.unseen > limit or (track.unseen and _outside(track.boxes[-1], frame_size, config.exit_cover)):
                done.append(track)
            else:
                still.append(track)
        live = still
    done.extend(live)
    tracks = [_finish(track) for track in done if track.confirmed]
    return sorted((t for t in tracks if t is not None), key=lambda t: (t.first, t.boxes[0, 0]))


def _colour_distance(tracks: list[np.ndarray | None], looks: np.ndarray | None) -> np.ndarray | None:
    """(tracks, detections) Bhattacharyya distance in [0, 1] between colour histograms (0 where a
    track has none yet), or None without histograms."""
    if looks is None:
        return None
    out = np.zeros((len(tracks), len(looks)))
    for i, look in enumerate(tracks):
        if look is not None and len(looks):
            out[i] = np.sqrt(np.clip(1.0 - np.sqrt(looks * look[None, :]).sum(axis=1), 0.0, 1.0))
    return out


def _associate(predicted: np.ndarray, boxes: np.ndarray, colour: np.ndarray | None, config: TrackerConfig):
    """(matches [(track, detection)], free track indices, free detection indices)."""
    matches: list[tuple[int, int]] = []
    free_tracks = list(range(len(predicted)))
    free_boxes = list(range(len(boxes)))
    if colour is None:
        colour = np.zeros((len(predicted), len(boxes)))
    alike = colour <= config.appearance_gate
    if len(predicted) and len(boxes):
        overlap = iou(predicted, boxes)
        # A detection much wider or taller than the prediction is this person merged with a
        # neighbour: taking it would drag the box (and then the track) onto the other person.
        size_p = np.maximum(predicted[:, 2:] - predicted[:, :2], 1.0)  # (tracks, 2)
        size_d = boxes[:, 2:] - boxes[:, :2]  # (detections, 2)
        width = size_d[None, :, 0] / size_p[:, None, 0]
        height = size_d[None, :, 1] / size_p[:, None, 1]
        similar = (width <= config.size_gate) & (height <= config.size_gate) & (height >= 1.0 / config.size_gate)
        allowed = (overlap >= config.iou_match) & alike & similar
        cost = np.where(allowed, 1.0 - overlap + config.appearance_weight * colour, 1e6)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols):
            if allowed[r, c]:
                matches.append((int(r), int(c)))
        free_tracks = [i for i in free_tracks if i not in {m[0] for m in matches}]
        free_boxes = [j for j in free_boxes if j not in {m[1] for m in matches}]
    if free_tracks and free_boxes:
        p, d = predicted[free_tracks], boxes[free_boxes]
        height = np.maximum(p[:, 3] - p[:, 1], 1.0)
        centre_p = 0.5 * (p[:, :2] + p[:, 2:])
        centre_d = 0.5 * (d[:, :2] + d[:, 2:])
        distance = np.linalg.norm(centre_p[:, None] - centre_d[None], axis=2) / height[:, None]
        ratio = (d[None, :, 3] - d[None, :, 1]) / height[:, None]
        allowed = (distance <= config.centre_gate) & (ratio <= config.size_gate) & (ratio >= 1 / config.size_gate)
        allowed &= alike[np.ix_(free_tracks, free_boxes)]
        cost = np.where(allowed, distance + config.appearance_weight * colour[np.ix_(free_tracks, free_boxes)], 1e6)
        rows, cols = linear_sum_assignment(cost)
        second = [(free_tracks[r], free_boxes[c]) for r, c in zip(rows, cols) if allowed[r, c]]
        matches.extend(second)
        free_tracks = [i for i in free_tracks if i not in {m[0] for m in second}]
        free_boxes = [j for j in free_boxes if j not in {m[1] for m in second}]
    return matches, free_tracks, free_boxes


def _merged(predicted: np.ndarray, boxes: np.ndarray, config: TrackerConfig) -> dict[int, set[int]]:
    """Detection -> the tracks whose predicted box lies mostly inside it (`merge_cover`)."""
    out: dict[int, set[int]] = {}
    if not len(predicted) or not len(boxes):
        return out
    low = np.maximum(predicted[:, None, :2], boxes[None, :, :2])  # (tracks, detections, 2)
    high = np.minimum(predicted[:, None, 2:], boxes[None, :, 2:])
    ix, iy = np.clip(high - low, 0, None).transpose(2, 0, 1)
    area = np.maximum((predicted[:, 2] - predicted[:, 0]) * (predicted[:, 3] - predicted[:, 1]), 1e-9)
    cover = ix * iy / area[:, None]  # (tracks, detections)
    for di in range(len(boxes)):
        owners = set(np.flatnonzero(cover[:, di] >= config.merge_cover).tolist())
        if owners:
            out[di] = owners
    return out


def _outside(box: np.ndarray, frame_size: tuple[int, int] | None, cover: float) -> bool:
    """Whether less than `cover` of `box` (4,) lies inside a frame of `frame_size` (height, width)."""
    if frame_size is None:
        return False
    height, width = frame_size
    ix = max(0.0, min(box[2], width) - max(box[0], 0.0))
    iy = max(0.0, min(box[3], height) - max(box[1], 0.0))
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    return ix * iy / area < cover


def _inside(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(M,) share of `box` (4,) lying inside each of `others` (M, 4)."""
    ix = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    return ix * iy / max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)


def _finish(track: _Track) -> RawTrack | None:
    """The track up to the last frame it was seen."""
    observed = np.asarray(track.observed, dtype=bool)
    seen = np.flatnonzero(observed)
    if len(seen) == 0:
        return None
    end = int(seen[-1]) + 1
    return RawTrack(frames=np.arange(track.first, track.first + end, dtype=np.int64),
                    boxes=np.asarray(track.boxes[:end], dtype=np.float64), observed=observed[:end])


def _to_cwh(box: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return 0.5 * (x0 + x1), 0.5 * (y0 + y1), x1 - x0, y1 - y0
