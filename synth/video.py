"""Writing frames as a video file (PyAV, MPEG-4 part 2) or a folder of JPEG images."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

CONTAINERS = {".avi": "avi", ".mp4": "mp4"}


def write_video(frames: np.ndarray, path: Path, fps: float, quality: float) -> None:
    """Encodes RGB frames as MPEG-4 part 2 video, decodable by PyAV and OpenCV.

    Args:
      frames: (T, H, W, 3) uint8 RGB; H and W must be even (4:2:0 chroma).
      path: output file; the container (avi or mp4) comes from the first known suffix of
        its name, so a temporary name like `.x.avi.tmp.avi` works.
      fps: frames per second (20, 25, 30 ...).
      quality: in [0, 1]; 1 is the finest quantiser (2), 0 the coarsest used (16).
    """
    _check_frames(frames)
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"video frames need even height and width, got {height}x{width}")
    quantiser = int(round(2 + (1.0 - float(np.clip(quality, 0.0, 1.0))) * 14))
    with av.open(str(path), "w", format=container_of(path)) as container:
        stream = container.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.qmin = quantiser
        stream.codec_context.qmax = quantiser
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def container_of(path: Path) -> str:
    """The container format for a video path: its first known suffix (x.avi.tmp -> avi)."""
    for suffix in Path(path).suffixes:
        if suffix.lower() in CONTAINERS:
            return CONTAINERS[suffix.lower()]
    raise ValueError(f"{path}: a video must end in one of {sorted(CONTAINERS)}")


def write_jpeg_folder(frames: np.ndarray, folder: Path, quality: float) -> None:
    """Writes frames (T, H, W, 3) uint8 RGB as `folder/000.jpg, 001.jpg, ...`.

    quality in [0, 1] maps to JPEG quality 60..95.
    """
    _check_frames(frames)
    folder.mkdir(parents=True, exist_ok=True)
    jpeg_quality = int(round(60 + 35 * float(np.clip(quality, 0.0, 1.0))))
    digits = max(3, len(str(len(frames) - 1)))
    for i, frame in enumerate(frames):
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if not ok:
            raise OSError(f"JPEG encoding failed for frame {i} of {folder}")
        (folder / f"{i:0{digits}d}.jpg").write_bytes(encoded.tobytes())


def _check_frames(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.dtype} {frames.shape}")
    if len(frames) == 0:
        raise ValueError("no frames to write")
