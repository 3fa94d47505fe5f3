"""Decoding a sequence into square, person-centred frames at the pose network's input size.

`extract_frames` streams a video (PyAV) or an image folder in batches, so memory stays flat
however long the sequence: it resamples to a target frame rate, crops a square around the
person (the whole frame's centre, a box from any callable, or a moving-person finder for a
static camera), and resizes. Each batch carries the crop boxes so ground-truth joints can be
mapped into the stored frames with `map_joints_to_frames`.

Decoding is strict: a frame the decoder flags corrupt (FFmpeg conceals damaged data and decodes
on), a packet the demuxer read short, a decoder error, fewer frames than the container declares,
or an image that is cut short or unreadable fails the source with `FrameDecodeError`. With
`allow_partial=True` those frames are skipped instead, and a `LostFrames` record says which.
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
# JPEG markers: start of image, start of scan (entropy-coded data follows), end of image. Inside
# entropy-coded data every 0xFF byte is followed by 0x00 or a restart marker, so neither of the
# last two can appear there by chance.
_JPEG_SOI, _JPEG_SOS, _JPEG_EOI = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, CRC: the same bytes in every PNG
# Decoder errors kept in a LostFrames record: enough to diagnose, bounded for the attributes.
_MAX_ERRORS = 20


class FrameDecodeError(ValueError):
    """A source that cannot be decoded into frames; the one-line message names the file and, where
    one frame is at fault, its number (counting from 0, as `FrameBatch.source_indices` do)."""


@dataclasses.dataclass
class LostFrames:
    """The frames of one source that did not decode intact, filled in by `extract_frames` as it
    decodes and final once its iterator is exhausted. Only with `allow_partial=True` can it end
    up incomplete: strict decoding raises at the first loss instead.

    Attributes:
      declared: frames the source declares: the container's frame count (None when it declares
        none), or the number of images in a folder.
      decoded: frames that decoded intact (the stored frames are these, thinned by any resampling).
      corrupt: source indices (from 0) of the frames skipped: flagged corrupt by the decoder,
        read short from the file, or unreadable images; and, after one of those, the frames up to
        the next key frame, which are predicted from it and carry its damage.
      errors: one-line decoder error messages, in order (at most 20); a frame lost to one is
        counted in `missing` unless the decoder still produced it.
    """

    declared: int | None = None
    decoded: int = 0
    corrupt: list[int] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def missing(self) -> int:
        """Declared frames the decoder never produced (a cut file loses them at its end)."""
        return max(0, (self.declared or 0) - self.decoded - len(self.corrupt))

    @property
    def complete(self) -> bool:
        return not (self.corrupt or self.missing or self.errors)

    def as_attrs(self) -> dict:
        """JSON-ready: {"declared": int|None, "decoded": int, "corrupt": [int], "missing": int,
        "errors": [str]}."""
        return {
            "declared": self.declared,
            "decoded": self.decoded,
            "corrupt": list(self.corrupt),
            "missing": self.missing,
            "errors": list(self.errors),
        }

    def summary(self) -> str:
        """One line, e.g. "lost 3 of 12 frames (corrupt: 5, 6, 7)"."""
        lost = len(self.corrupt) + self.missing
        total = self.declared if self.declared is not None else self.decoded + len(self.corrupt)
        parts = []
        if self.corrupt:
            parts.append("corrupt: " + ", ".join(map(str, self.corrupt)))
        if self.missing:
            parts.append(f"missing: {self.missing}")
        if self.errors:
            parts.append(f"decoder errors: {len(self.errors)}")
        return f"lost {lost} of {total} frames ({'; '.join(parts)})"

    def _error(self, message: str) -> None:
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(message)


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
    allow_partial: bool = False,
    lost: LostFrames | None = None,
) -> Iterator[FrameBatch]:
    """Streams the cropped, resized frames of one sequence in batches of `batch_frames`.

    Args:
      source: a video file, or a folder of images (kind "images").
      kind: "video" or "images".
      spec: size, frame rate and crop.
      batch_frames: frames per batch (the store's chunk length, so writes align to chunks).
      box_finder: required for crop "box"; ignored otherwise.
      fps: the source's frame rate when already known (e.g. from a sidecar).
      allow_partial: skip damaged or missing frames instead of failing; the frames kept keep
        their source indices, so ground truth still maps onto them.
      lost: a record filled in with the frames skipped (see `LostFrames`); pass one with
        `allow_partial=True` to learn what was lost.

    Raises:
      FrameDecodeError: the source is not decodable or holds no intact frames; and, unless
        `allow_partial`, any frame is damaged, missing or unreadable (the message names it).
    """
    if spec.crop == "box" and box_finder is None:
        raise ValueError("crop 'box' needs a box_finder")
    rate = fps or source_fps(source, kind, spec.image_fps)
    keep = _resampler(rate, spec.fps)
    finder: BoxFinder | None = {"box": box_finder, "person": MovingPersonFinder(), "center": None}[spec.crop]
    frames, indices, boxes = [], [], []
    last_box = None
    emitted = 0
    record = lost if lost is not None else LostFrames()
    for index, frame in _decode(source, kind, record, strict=not allow_partial):
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


def _decode(source: str | Path, kind: str, lost: LostFrames, *, strict: bool) -> Iterator[tuple[int, np.ndarray]]:
    """Yields (source index, RGB frame (H, W, 3) uint8) for every intact frame, in order.

    A damaged, missing or unreadable frame raises FrameDecodeError when `strict`; otherwise it is
    skipped (its index is not reused) and noted in `lost`.
    """
    if kind == "images":
        yield from _decode_images(Path(source), lost, strict)
    else:
        yield from _decode_video(source, lost, strict)


def _decode_video(source: str | Path, lost: LostFrames, strict: bool) -> Iterator[tuple[int, np.ndarray]]:
    try:
        container = av.open(str(source))
    except av.FFmpegError as error:
        raise FrameDecodeError(f"{source}: cannot open as video: {error}") from error
    with container:
        stream = _video_stream(container, source)
        lost.declared = stream.frames or None
        stream.thread_type = "AUTO"
        # Timestamps of packets the demuxer read short (the file ends inside them). FFmpeg decodes
        # such a packet with concealment and may not flag the frame, and with frame threading the
        # frame comes out a few packets later, so it is recognised by its timestamp.
        short_pts: set[int] = set()
        index = 0  # source index of the next frame the decoder produces
        tainted = False  # a damaged frame came since the last key frame

        def damaged(at: int, reason: str) -> None:
            if strict:
                raise FrameDecodeError(f"{source}: frame {at} (counting from 0) is damaged: {reason}")

        def failed(at: int, reason: str, error: Exception) -> None:
            message = f"frame {at} (counting from 0): {reason}: {error}"
            if strict:
                raise FrameDecodeError(f"{source}: {message}") from error
            lost._error(message)

        def accept(frames) -> list[tuple[int, np.ndarray]]:
            nonlocal index, tainted
            intact = []
            for frame in frames:
                if frame.is_corrupt:
                    reason = "the decoder flagged it corrupt (damaged data, concealed)"
                elif frame.pts is not None and frame.pts in short_pts:
                    reason = "its data is cut short (truncated file)"
                elif tainted and not frame.key_frame:
                    # Measured: concealed damage spreads into the predicted frames after it, which
                    # FFmpeg does not flag; the next key frame starts clean.
                    reason = "it is predicted from a damaged frame"
                else:
                    reason = None
                if reason is None:
                    tainted = False
                    intact.append((index, frame.to_ndarray(format="rgb24")))
                    lost.decoded += 1
                else:
                    damaged(index, reason)
                    tainted = True
                    lost.corrupt.append(index)
                index += 1
            return intact

        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as error:
                failed(index, "the file is unreadable from here on", error)
                tainted = True
                try:
                    yield from accept(stream.codec_context.decode(None))  # what the decoder holds
                except av.FFmpegError:
                    pass
                break
            if packet.is_corrupt:
                if packet.pts is None:
                    damaged(index, "its data is cut short (truncated file)")
                    tainted = True
                else:
                    short_pts.add(packet.pts)
            try:
                frames = packet.decode()
            except av.FFmpegError as error:
                failed(index, "the decoder failed", error)
                tainted = True
                continue
            yield from accept(frames)
    declared = lost.declared
    if strict and declared and index < declared:
        # A cut file, or packets the demuxer skipped: the frames never come out of the decoder.
        which = f"frame {index}" if declared - index == 1 else f"frames {index}..{declared - 1}"
        raise FrameDecodeError(
            f"{source}: {which} (counting from 0) missing: the video declares {declared} frames, "
            f"only {index} decode (cut short or damaged)"
        )


def _decode_images(folder: Path, lost: LostFrames, strict: bool) -> Iterator[tuple[int, np.ndarray]]:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    lost.declared = len(paths)
    for index, path in enumerate(paths):
        try:
            reason = _image_damage(path.read_bytes())
        except OSError as error:
            reason = f"cannot be read: {error}"
        # Checked before decoding: libjpeg fills the missing part of a cut JPEG with grey and only
        # warns on stderr, so cv2 returns a whole, wrong image.
        image = cv2.imread(str(path), cv2.IMREAD_COLOR) if reason is None else None
        if reason is None and image is None:
            reason = "not a decodable image"
        if reason is not None:
            if strict:
                raise FrameDecodeError(f"{path}: frame {index} (counting from 0) is damaged: {reason}")
            lost.corrupt.append(index)
            continue
        lost.decoded += 1
        yield index, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _image_damage(data: bytes) -> str | None:
    """Why an image file's bytes are incomplete, or None: a JPEG must end its last scan with an
    end-of-image marker, a PNG must hold its IEND chunk. Other formats are left to the decoder."""
    if data.startswith(_JPEG_SOI):
        scan = data.rfind(_JPEG_SOS)
        if scan < 0:
            return "JPEG without image data (no start-of-scan marker)"
        if data.rfind(_JPEG_EOI) < scan:
            return "truncated JPEG (no end-of-image marker after its image data)"
    elif data.startswith(_PNG_SIGNATURE) and data.rfind(_PNG_IEND) < 0:
        return "truncated PNG (no IEND chunk)"
    return None


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
