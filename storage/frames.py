"""Decoding a sequence into square, person-centred frames at the pose network's input size.

`extract_frames` streams a video (PyAV) or an image folder in batches, so memory stays flat
however long the sequence: it resamples to a target frame rate, crops a square around the
person (the whole frame's centre, a box from any callable, or a moving-person finder for a
static camera), and resizes. Each batch carries the crop boxes so ground-truth joints can be
mapped into the stored frames with `map_joints_to_frames`.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable, Iterator, Literal

import av
import cv2
import numpy as np

from storage.manifest import IMAGE_SUFFIXES

# A box finder sees (source frame index, RGB frame (H, W, 3) uint8) and returns the person's
# box (x0, y0, x1, y1) in source pixels, or None where it sees nobody.
BoxFinder = Callable[[int, np.ndarray], "tuple[float, float, float, float] | None"]
CropMode = Literal["center", "box", "person"]
# A decoder that yields far fewer frames than the container declares was fed a cut file.
_TRUNCATION_RATIO = 0.9


class FrameDecodeError(ValueError):
    """A source that cannot be decoded into frames; the message names the file."""


@dataclasses.dataclass(frozen=True)
class FrameSpec:
    """How a sequence becomes stored frames.

    Attributes:
      size: side of the square output frames in pixels.
      fps: target frame rate; None keeps the source's (never up-sampled).
      crop: "center" (largest centred square), "box" (square around a box finder's box) or
        "person" (square around the moving person, for a static camera).
      margin: room around a found box, as a fraction of its longer side, on each side.
      image_fps: frame rate of image folders without a sidecar saying otherwise.
    """

    size: int = 299
    fps: float | None = None
    crop: CropMode = "center"
    margin: float = 0.15
    image_fps: float = 30.0

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 2048:
            raise ValueError(f"frame size must be within 16..2048 px, got {self.size}")
        if self.fps is not None and not 0 < self.fps <= 240:
            raise ValueError(f"target fps must be within (0, 240], got {self.fps}")
        if self.crop not in ("center", "box", "person"):
            raise ValueError(f"unknown crop {self.crop!r}; expected center, box or person")
        if not 0 <= self.margin <= 1:
            raise ValueError(f"margin must be within 0..1, got {self.margin}")

    def as_attrs(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, eq=False)
class FrameBatch:
    """Consecutive output frames.

    Attributes:
      frames: (n, size, size, 3) uint8 RGB.
      source_indices: (n,) int64, index of each frame in the source.
      boxes: (n, 4) float32, the square crop (x0, y0, x1, y1) in source pixels.
    """

    frames: np.ndarray
    source_indices: np.ndarray
    boxes: np.ndarray


def source_fps(source: str | Path, kind: str, image_fps: float = 30.0) -> float:
    """The frame rate a source declares (image folders: `image_fps`)."""
    if kind == "images":
        return image_fps
    try:
        with av.open(str(source)) as container:
            stream = _video_stream(container, source)
            rate = stream.average_rate or stream.guessed_rate
    except av.FFmpegError as error:
        raise FrameDecodeError(f"{source}: cannot open as video: {error}") from error
    if not rate or float(rate) <= 0:
        raise FrameDecodeError(f"{source}: the video declares no frame rate")
    return float(rate)


def extract_frames(
    source: str | Path,
    kind: str,
    spec: FrameSpec,
    *,
    batch_frames: int,
    box_finder: BoxFinder | None = None,
    fps: float | None = None,
) -> Iterator[FrameBatch]:
    """Streams the cropped, resized frames of one sequence in batches of `batch_frames`.

    Args:
      source: a video file, or a folder of images (kind "images").
      kind: "video" or "images".
      spec: size, frame rate and crop.
      batch_frames: frames per batch (the store's chunk length, so writes align to chunks).
      box_finder: required for crop "box"; ignored otherwise.
      fps: the source's frame rate when already known (e.g. from a sidecar).

    Raises:
      FrameDecodeError: the source is not decodable, is truncated, or holds no frames.
    """
    if spec.crop == "box" and box_finder is None:
        raise ValueError("crop 'box' needs a box_finder")
    rate = fps or source_fps(source, kind, spec.image_fps)
    keep = _resampler(rate, spec.fps)
    finder: BoxFinder | None = {"box": box_finder, "person": MovingPersonFinder(), "center": None}[spec.crop]
    frames, indices, boxes = [], [], []
    last_box = None
    emitted = 0
    for index, frame in _decode(source, kind):
        if not keep(index):
            continue
        box = finder(index, frame) if finder else None
        if box is None:
            box = last_box or _center_square(frame.shape)
        else:
            box = _square_around(box, spec.margin)
        last_box = box
        frames.append(_crop_resize(frame, box, spec.size))
        indices.append(index)
        boxes.append(box)
        if len(frames) == batch_frames:
            yield _batch(frames, indices, boxes)
            emitted += len(frames)
            frames, indices, boxes = [], [], []
    if frames:
        yield _batch(frames, indices, boxes)
        emitted += len(frames)
    if emitted == 0:
        raise FrameDecodeError(f"{source}: holds no decodable frames")


def map_joints_to_frames(joints_xy: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Maps source-pixel joints into the cropped, resized frames.

    Args:
      joints_xy: (n, J, 2) source pixels, x right, y down.
      boxes: (n, 4) the square crops (x0, y0, x1, y1) the frames were cut from.
      size: side of the output frames.
    Returns:
      (n, J, 2) float32 in output pixels.
    """
    origin = boxes[:, None, :2]
    scale = size / (boxes[:, 2] - boxes[:, 0])
    return ((joints_xy - origin) * scale[:, None, None]).astype(np.float32)


class MovingPersonFinder:
    """Finds the largest moving blob in footage from a static camera (MOG2 background model).

    Needs no model weights. The box follows the person smoothly so crops do not jitter;
    frames where nothing moves return None (the caller keeps the last box).
    """

    def __init__(self, min_area_fraction: float = 0.002, smoothing: float = 0.6) -> None:
        self._subtractor = cv2.createBackgroundSubtractorMOG2(history=200, detectShadows=False)
        self._min_area_fraction = min_area_fraction
        self._smoothing = smoothing
        self._box: np.ndarray | None = None

    def __call__(self, index: int, frame: np.ndarray):
        mask = self._subtractor.apply(frame)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.dilate(mask, np.ones((7, 7), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        if count <= 1:
            return None
        areas = stats[1:, cv2.CC_STAT_AREA]
        best = 1 + int(np.argmax(areas))
        if areas[best - 1] < self._min_area_fraction * mask.size:
            return None
        x, y, w, h = stats[best, :4]
        found = np.array([x, y, x + w, y + h], dtype=np.float64)
        self._box = found if self._box is None else self._smoothing * self._box + (1 - self._smoothing) * found
        return tuple(float(v) for v in self._box)


def _decode(source: str | Path, kind: str) -> Iterator[tuple[int, np.ndarray]]:
    if kind == "images":
        yield from _decode_images(Path(source))
        return
    try:
        container = av.open(str(source))
    except av.FFmpegError as error:
        raise FrameDecodeError(f"{source}: cannot open as video: {error}") from error
    with container:
        stream = _video_stream(container, source)
        declared = stream.frames
        stream.thread_type = "AUTO"
        index = -1
        try:
            for index, frame in enumerate(container.decode(stream)):
                yield index, frame.to_ndarray(format="rgb24")
        except av.FFmpegError as error:
            raise FrameDecodeError(f"{source}: corrupt video after frame {index + 1}: {error}") from error
    decoded = index + 1
    if declared and decoded < _TRUNCATION_RATIO * declared:
        raise FrameDecodeError(f"{source}: truncated video: it declares {declared} frames, {decoded} decode")


def _decode_images(folder: Path) -> Iterator[tuple[int, np.ndarray]]:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    for index, path in enumerate(paths):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FrameDecodeError(f"{path}: not a readable image")
        yield index, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _video_stream(container, source):
    if not container.streams.video:
        raise FrameDecodeError(f"{source}: has no video stream")
    return container.streams.video[0]


def _resampler(source_rate: float, target_rate: float | None) -> Callable[[int], bool]:
    """Keeps the first source frame of every target frame period."""
    if target_rate is None or target_rate >= source_rate:
        return lambda index: True
    ratio = target_rate / source_rate
    return lambda index: index == 0 or math.floor(index * ratio) != math.floor((index - 1) * ratio)


def _center_square(shape) -> tuple[float, float, float, float]:
    height, width = shape[:2]
    side = min(height, width)
    x0, y0 = (width - side) / 2, (height - side) / 2
    return (x0, y0, x0 + side, y0 + side)


def _square_around(box, margin: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    side = max(side, 8.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _crop_resize(frame: np.ndarray, box, size: int) -> np.ndarray:
    """Cuts `box` out of `frame`, black where the box leaves the frame, resized to size x size."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    pad_left, pad_top = max(0, -x0), max(0, -y0)
    pad_right, pad_bottom = max(0, x1 - width), max(0, y1 - height)
    crop = frame[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    if pad_left or pad_top or pad_right or pad_bottom:
        crop = cv2.copyMakeBorder(crop, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_CONSTANT, value=0)
    interpolation = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def _batch(frames, indices, boxes) -> FrameBatch:
    return FrameBatch(
        frames=np.stack(frames),
        source_indices=np.asarray(indices, dtype=np.int64),
        boxes=np.asarray(boxes, dtype=np.float32),
    )
