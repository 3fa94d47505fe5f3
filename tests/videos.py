"""Writing real, small video files for tests."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np

from storage.groundtruth import FORMAT, MPII_JOINTS


def moving_square_frames(count: int, height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """(count, height, width, 3) uint8: a bright square drifting over a noisy background."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, size=(count, height, width, 3), dtype=np.uint8)
    for t in range(count):
        x = 4 + (t * 2) % (width - 16)
        frames[t, 10:22, x:x + 12] = (220, 200, 40)
    return frames


def write_video(path: Path, frames: np.ndarray, fps: int = 25, codec: str = "mpeg4") -> Path:
    """Encodes `frames` (T, H, W, 3) uint8 RGB into `path` with PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "3"} if codec == "mpeg4" else {}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_sidecar(path: Path, joints_xy: np.ndarray, fps: float, frame_size: tuple[int, int]) -> Path:
    """A ground-truth sidecar with every joint visible."""
    document = {
        "format": FORMAT,
        "joint_names": list(MPII_JOINTS),
        "fps": fps,
        "frame_size": list(frame_size),
        "joints_xy": joints_xy.tolist(),
        "visible": np.ones(joints_xy.shape[:2], dtype=int).tolist(),
        "covariates": {"outfit": "test"},
    }
    path.write_text(json.dumps(document))
    return path
