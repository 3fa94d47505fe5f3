"""Per-frame person boxes in footage from a static camera, without downloaded weights.

Two detectors, fused:
  - background subtraction (OpenCV's MOG2 or KNN): what moves against the background, as
    connected blobs. The subtractor is primed with the clip's median frame, so people already in
    view at the first frame are foreground from the start (a plain subtractor would learn them
    into the background and leave "ghosts" where they stood). Shadows (MOG2/KNN mark them grey)
    are not foreground.
  - OpenCV's built-in HOG people detector (Dalal-Triggs SVM shipped inside OpenCV 4), run only
    on the moving regions, each scaled so a person there is the detector's size. It splits a
    blob that holds several people side by side and drops moving things that are not people.
    OpenCV 5 no longer ships it; where it is missing the blobs alone are the detections
    (`hog_available()` says which).

Boxes are (x0, y0, x1, y1) float32 pixels, x1/y1 exclusive (as `cv2.boundingRect` gives them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import cv2
import numpy as np

# The HOG people detector's window, and the person inside it: the training windows have about
# 16 px above the head and below the feet and the body in the middle half of the width.
HOG_WINDOW = (64, 128)
HOG_PERSON = (0.22, 0.125, 0.78, 0.875)  # x0, y0, x1, y1 as fractions of the window
# Colour histograms: hue x saturation bins (brightness left out: it changes with the light).
HUE_BINS, SATURATION_BINS = 12, 4
APPEARANCE_BINS = HUE_BINS * SATURATION_BINS


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """How people are found.

    Attributes:
      subtractor: "mog2" or "knn" (OpenCV background subtractors).
      learning_rate: how fast the background model follows slow changes after priming, per
        frame (small: a person who stops is not absorbed within seconds).
      variance_threshold: MOG2's squared Mahalanobis distance beyond which a pixel is
        foreground (OpenCV's default 16 loses clothes close to the background's colour; 10
        keeps more of them, measured on synthetic scenes).
      background_samples: frames spread over the clip whose median primes the model.
      min_height: least blob height, as a fraction of the frame height.
      min_fill: least share of a blob's box that is foreground.
      hog: use the HOG people detector where OpenCV has it (None: when available).
      hog_threshold: least SVM score of a HOG window.
    """

    subtractor: str = "mog2"
    learning_rate: float = 0.002
    variance_threshold: float = 10.0
    background_samples: int = 60
    min_height: float = 0.06
    min_fill: float = 0.2
    hog: bool | None = None
    hog_threshold: float = 0.3

    def __post_init__(self) -> None:
        if self.subtractor not in ("mog2", "knn"):
            raise ValueError(f"subtractor must be 'mog2' or 'knn', got {self.subtractor!r}")
        if not 0.0 <= self.learning_rate <= 1.0:
            raise ValueError(f"learning_rate must be in [0, 1], got {self.learning_rate}")
        if not 0.0 < self.min_height < 1.0:
            raise ValueError(f"min_height must be in (0, 1), got {self.min_height}")


@dataclasses.dataclass(frozen=True, eq=False)
class FrameDetections:
    """The people found in one frame.

    Attributes:
      boxes: (N, 4) float32 (x0, y0, x1, y1).
      scores: (N,) float32 in [0, 1]: the blob's foreground fill, raised where HOG agrees.
      hog: (N,) bool, the box comes from a HOG window (confirmed by motion).
      appearance: (N, APPEARANCE_BINS) float32, each box's colour histogram (hue x saturation
        of its foreground pixels, summing to 1): clothes tell people apart after they meet.
    """

    boxes: np.ndarray
    scores: np.ndarray
    hog: np.ndarray
    appearance: np.ndarray | None = None

    @classmethod
    def empty(cls) -> "FrameDetections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, bool),
                   np.zeros((0, APPEARANCE_BINS), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)


def hog_available() -> bool:
    """Whether this OpenCV ships the HOG people detector (OpenCV 4 does, 5 does not)."""
    return hasattr(cv2, "HOGDescriptor") and hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector")


def median_background(frames: np.ndarray, samples: int = 60) -> np.ndarray:
    """(H, W, 3) uint8 the median of `samples` frames spread over the clip (T, H, W, 3): with
    people moving, each pixel shows the background in most of them."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(samples, len(frames))).round().astype(int))
    return np.median(frames[picks], axis=0).astype(np.uint8)


def foreground_masks(frames: np.ndarray, config: DetectorConfig = DetectorConfig(),
                     background: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Yields each frame's foreground (H, W) bool: moving, not shadow, cleaned up so that one
    person is one blob (small specks opened away, a body's parts closed together)."""
    if background is None:
        background = median_background(frames, config.background_samples)
    if config.subtractor == "mog2":
        subtractor = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=config.variance_threshold,
                                                        detectShadows=True)
    else:
        subtractor = cv2.createBackgroundSubtractorKNN(history=500, dist2Threshold=400.0, detectShadows=True)
    # Priming: the model starts as the median frame (KNN keeps several samples: feed it a few).
    for _ in range(1 if config.subtractor == "mog2" else 8):
        subtractor.apply(background, learningRate=1.0)
    height = frames.shape[1]
    # Specks of sensor noise go; a far walker's legs, a couple of pixels wide in a small frame,
    # must not: the opening only starts at 2 x 2 pixels in frames of 500 lines or more.
    speck_side = height // 250
    # Tall closing: arms, legs and head of one person join up; people side by side stay apart.
    join = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max(3, height // 120), max(5, height // 40)))
    for frame in frames:
        mask = subtractor.apply(frame, learningRate=config.learning_rate)
        mask = np.where(mask == 255, 255, 0).astype(np.uint8)  # 127 is shadow
        if speck_side >= 2:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((speck_side, speck_side), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, join)
        yield mask > 0


def motion_blobs(mask: np.ndarray, config: DetectorConfig = DetectorConfig()) -> tuple[np.ndarray, np.ndarray]:
    """The person-sized blobs of a foreground mask (H, W) bool: (boxes (N, 4) float32, fill (N,)
    float32, the share of each box that is foreground)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    x, y, w, h, area = (stats[1:, i] for i in range(5))
    fill = area / np.maximum(w * h, 1)
    min_height = config.min_height * mask.shape[0]
    # A person is taller than wide; a group side by side may be wider, so only flat blobs
    # (cars, swaying hedges) are dropped.
    boxes, area = _join_stacked(np.stack([x, y, x + w, y + h], axis=1).astype(np.float64), area.astype(np.float64))
    boxes, area = _split_side_by_side(mask, boxes, area)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    fill = area / np.maximum(w * h, 1)
    keep = (h >= min_height) & (fill >= config.min_fill) & (h >= 0.6 * w) & (w >= 0.15 * h)
    return boxes[keep].astype(np.float32), fill[keep].astype(np.float32)


def _split_side_by_side(mask: np.ndarray, boxes: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Splits blobs (N, 4) holding people side by side at the gaps between their bodies.

    A walker seen from the side is about half as wide as tall, mostly because of the legs; the
    trunk and head band (the top 10 % to 55 % of the blob) is narrow. Where that band's column
    profile has a deep valley between two humps at least a third of the blob's height apart,
    the blob is two people; each part's box is that of its own pixels.
    """
    out_boxes, out_area = [], []
    for box, pixels in zip(boxes, area):
        x0, y0, x1, y1 = (int(v) for v in box)
        h, w = y1 - y0, x1 - x0
        parts = [(x0, x1)]
        if w >= 0.55 * h and h >= 16:
            band = mask[y0 + int(0.1 * h):y0 + int(0.55 * h), x0:x1]
            profile = np.convolve(band.sum(axis=0).astype(np.float64), np.ones(3) / 3, mode="same")
            parts = _valleys(profile, min_gap=max(2, int(h / 3)))
            parts = [(x0 + a, x0 + b) for a, b in parts]
        if len(parts) == 1:
            out_boxes.append(box)
            out_area.append(pixels)
            continue
        for a, b in parts:
            ys, xs = np.nonzero(mask[y0:y1, a:b])
            if len(ys) == 0:
                continue
            out_boxes.append([a + xs.min(), y0 + ys.min(), a + xs.max() + 1, y0 + ys.max() + 1])
            out_area.append(float(len(ys)))
    return np.asarray(out_boxes, np.float64).reshape(-1, 4), np.asarray(out_area, np.float64)


def _valleys(profile: np.ndarray, min_gap: int) -> list[tuple[int, int]]:
    """Column ranges [a, b) of the humps of `profile` separated by valleys below 35 % of the
    lower neighbouring hump, humps at least `min_gap` apart; one range when there is no valley."""
    width = len(profile)
    cuts = []
    start = 0
    while True:
        best = None
        for v in range(start + min_gap // 2, width - min_gap // 2):
            left, right = profile[start:v].max(initial=0), profile[v:].max(initial=0)
            lp = start + int(np.argmax(profile[start:v])) if v > start else v
            rp = v + int(np.argmax(profile[v:]))
            if rp - lp < min_gap or profile[v] > 0.35 * min(left, right) or min(left, right) <= 0:
                continue
            if best is None or profile[v] < profile[best]:
                best = v
        if best is None:
            break
        cuts.append(best)
        start = best
    edges = [0, *cuts, width]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def appearance(frame: np.ndarray, mask: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, APPEARANCE_BINS) float32 hue x saturation histograms of the foreground pixels in each
    box (N, 4) of `frame` (H, W, 3) RGB, each summing to 1 (uniform where a box has none)."""
    out = np.full((len(boxes), APPEARANCE_BINS), 1.0 / APPEARANCE_BINS, np.float32)
    if not len(boxes):
        return out
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    height, width = mask.shape
    for i, box in enumerate(boxes):
        x0, y0 = int(max(0, box[0])), int(max(0, box[1]))
        x1, y1 = int(min(width, box[2])), int(min(height, box[3]))
        if x1 <= x0 or y1 <= y0:
            continue
        inside = mask[y0:y1, x0:x1].astype(np.uint8)
        if inside.sum() < 8:
            continue
        hist = cv2.calcHist([hsv[y0:y1, x0:x1]], [0, 1], inside, [HUE_BINS, SATURATION_BINS], [0, 180, 0, 256])
        out[i] = (hist / max(float(hist.sum()), 1e-9)).reshape(-1)
    return out


def _join_stacked(boxes: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joins blobs stacked one above the other (N, 4), with their areas (N,): a person whose
    clothes match the background in a band falls apart into head/torso and legs. Two blobs join
    when they share most of the narrower one's columns, one lies above the other (barely
    overlapping: a farther person's feet behind a nearer one's legs overlap more) with a small
    gap against their joint height, and together they are still person-shaped."""
    boxes, area = boxes.copy(), area.copy()
    joined = True
    while joined and len(boxes) > 1:
        joined = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                shared = min(a[2], b[2]) - max(a[0], b[0])
                narrower = min(a[2] - a[0], b[2] - b[0])
                union = np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])
                gap = max(a[1], b[1]) - min(a[3], b[3])
                tall = union[3] - union[1]
                upright = tall >= 1.3 * (union[2] - union[0])
                if shared >= 0.5 * narrower and -0.05 * tall <= gap <= 0.3 * tall and upright:
                    boxes[i], area[i] = union, area[i] + area[j]
                    boxes, area = np.delete(boxes, j, axis=0), np.delete(area, j)
                    joined = True
                    break
            if joined:
                break
    return boxes, area


class HogPeople:
    """OpenCV's HOG people detector, run on a region scaled so a person there fills the window."""

    def __init__(self, threshold: float = 0.3) -> None:
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self._threshold = threshold

    def __call__(self, frame: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """People in `region` (4,) of `frame` (H, W, 3): (person boxes (N, 4) float32 in frame
        pixels, SVM scores (N,) float32)."""
        height, width = frame.shape[:2]
        x0, y0, x1, y1 = region
        h = y1 - y0
        # Room for the window's margins around a person as tall as the region.
        pad_x, pad_y = 0.5 * h * HOG_WINDOW[0] / HOG_WINDOW[1], 0.2 * h
        ax0, ay0 = int(max(0, x0 - pad_x)), int(max(0, y0 - pad_y))
        ax1, ay1 = int(min(width, x1 + pad_x)), int(min(height, y1 + pad_y))
        patch = frame[ay0:ay1, ax0:ax1]
        # The region's height is about one person: scale it to 1.1 windows' person height, and
        # let the detector's pyramid look for smaller people below that.
        scale = 1.1 * HOG_WINDOW[1] * (HOG_PERSON[3] - HOG_PERSON[1]) / max(h, 1.0)
        patch = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        grow_x, grow_y = max(0, HOG_WINDOW[0] + 16 - patch.shape[1]), max(0, HOG_WINDOW[1] + 16 - patch.shape[0])
        if grow_x or grow_y:
            patch = cv2.copyMakeBorder(patch, 0, grow_y, 0, grow_x, cv2.BORDER_REPLICATE)
        found, weights = self._hog.detectMultiScale(patch, winStride=(8, 8), padding=(8, 8), scale=1.05,
                                                    hitThreshold=self._threshold)
        if len(found) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        found = np.asarray(found, dtype=np.float64).reshape(-1, 4)
        wx, wy, ww, wh = found.T
        boxes = np.stack([wx + HOG_PERSON[0] * ww, wy + HOG_PERSON[1] * wh,
                          wx + HOG_PERSON[2] * ww, wy + HOG_PERSON[3] * wh], axis=1) / scale
        boxes += np.array([ax0, ay0, ax0, ay0])
        return boxes.astype(np.float32), np.asarray(weights, dtype=np.float32).reshape(-1)


def fuse(mask: np.ndarray, blobs: np.ndarray, fill: np.ndarray,
         people: list[tuple[np.ndarray, np.ndarray]]) -> FrameDetections:
    """One frame's detections from its blobs (N, 4) and, per blob, the HOG people found in it.

    Where HOG finds people in a blob, they replace it, each tightened to its own foreground
    pixels (a HOG window is loose); what foreground of the blob they leave uncovered and is
    person-sized remains a blob. A blob HOG finds nobody in stays as it is: HOG misses people
    who are small, occluded or cut by the frame edge, so motion alone still counts.
    """
    boxes, scores, from_hog = [], [], []
    for k, blob in enumerate(blobs):
        found, weights = people[k] if k < len(people) else (np.zeros((0, 4)), np.zeros(0))
        if len(found):
            found, weights = _nms(found, weights, 0.4)
        x0, y0, x1, y1 = (int(round(v)) for v in blob)
        region = mask[y0:y1, x0:x1].copy()
        kept = 0
        for box, weight in zip(found, weights):
            tight = _tighten(mask, box)
            if tight is None:
                continue
            boxes.append(tight)
            scores.append(min(1.0, 0.5 + 0.25 * float(weight)))
            from_hog.append(True)
            kept += 1
            bx0, by0, bx1, by1 = (int(round(v)) for v in tight)
            region[max(0, by0 - y0):max(0, by1 - y0), max(0, bx0 - x0):max(0, bx1 - x0)] = False
        if kept == 0:
            boxes.append(blob)
            scores.append(float(fill[k]))
            from_hog.append(False)
            continue
        # Foreground the HOG people leave: a person HOG missed beside those it found.
        left, left_fill = motion_blobs(region)
        for box, share in zip(left, left_fill):
            if box[3] - box[1] >= 0.7 * (y1 - y0):
                boxes.append(box + np.array([x0, y0, x0, y0], np.float32))
                scores.append(float(share))
                from_hog.append(False)
    if not boxes:
        return FrameDetections.empty()
    return FrameDetections(np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32),
                           np.asarray(from_hog, bool))


def detect_people(frames: np.ndarray, config: DetectorConfig = DetectorConfig()) -> list[FrameDetections]:
    """Every frame's people in a clip (T, H, W, 3) uint8 RGB from a static camera."""
    use_hog = hog_available() if config.hog is None else config.hog
    if use_hog and not hog_available():
        raise RuntimeError(f"this OpenCV ({cv2.__version__}) has no HOG people detector; use hog=None or False")
    hog = HogPeople(config.hog_threshold) if use_hog else None
    out = []
    for frame, mask in zip(frames, foreground_masks(frames, config)):
        blobs, fill = motion_blobs(mask, config)
        people = [hog(frame, blob) for blob in blobs] if hog is not None else []
        found = fuse(mask, blobs, fill, people)
        out.append(dataclasses.replace(found, appearance=appearance(frame, mask, found.boxes)))
    return out


def _tighten(mask: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The box of the foreground pixels inside `box`, or None when it holds too few (a HOG
    window on something that does not move)."""
    height, width = mask.shape
    x0, y0 = int(max(0, np.floor(box[0]))), int(max(0, np.floor(box[1])))
    x1, y1 = int(min(width, np.ceil(box[2]))), int(min(height, np.ceil(box[3])))
    inside = mask[y0:y1, x0:x1]
    if inside.size == 0 or inside.mean() < 0.15:
        return None
    ys, xs = np.nonzero(inside)
    return np.array([x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1], np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy non-maximum suppression: the best-scored boxes, none overlapping a better one by
    more than `overlap` IoU."""
    order = np.argsort(-scores)
    keep: list[int] = []
    for i in order:
        if all(iou(boxes[i][None], boxes[j][None])[0, 0] <= overlap for j in keep):
            keep.append(int(i))
    return boxes[keep], scores[keep]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of boxes a (N, 4) and b (M, 4)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
