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


def write_video(path: Path, frames: np.ndarray, fps: int = 25, codec: str = "mpeg4", gop: int | None = None) -> Path:
    """Encodes `frames` (T, H, W, 3) uint8 RGB into `path` with PyAV; with `gop`, a key frame at
    least every `gop` frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "3"} if codec == "mpeg4" else {}
        if gop is not None:
            stream.codec_context.gop_size = gop
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


def noise_frames(count: int, height: int = 64, width: int = 64, seed: int = 0) -> np.ndarray:
    """(count, height, width, 3) uint8 full-range noise: the encoder codes every frame as a key
    frame of about the same size, so cutting a file at a fraction cuts that fraction of frames."""
    return np.random.default_rng(seed).integers(0, 256, size=(count, height, width, 3), dtype=np.uint8)


def sliding_texture_frames(count: int, height: int = 64, width: int = 64, step: int = 3, seed: int = 0) -> np.ndarray:
    """(count, height, width, 3) uint8: a noise texture sliding left by `step` px a frame, so the
    predicted frames carry real data and damage to one spreads into the frames after it."""
    texture = np.random.default_rng(seed).integers(0, 256, size=(height, width + step * count, 3), dtype=np.uint8)
    return np.stack([texture[:, step * t:step * t + width] for t in range(count)])


def packet_spans(path: Path) -> list[tuple[int, int, bool]]:
    """(byte offset, size, is key frame) of each video packet's payload in `path`, in file order."""
    with av.open(str(path)) as container:
        return [
            (packet.pos, packet.size, packet.is_keyframe)
            for packet in container.demux(container.streams.video[0])
            if packet.size
        ]


def cut_file(path: Path, fraction: float) -> Path:
    """Keeps the first `fraction` of the file's bytes, as an interrupted copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def garble_bytes(path: Path, offset: int, count: int, seed: int = 0) -> Path:
    """Overwrites `count` bytes at `offset` with random ones, as bit rot or a bad transfer would."""
    data = bytearray(path.read_bytes())
    data[offset:offset + count] = np.random.default_rng(seed).integers(0, 256, size=count, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def write_image_folder(folder: Path, frames: np.ndarray, suffix: str = ".jpg") -> list[Path]:
    """Writes frames (T, H, W, 3) uint8 RGB as `000.jpg`, `001.jpg`, ... (TUM GAID style)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, frame in enumerate(frames):
        path = folder / f"{index:03d}{suffix}"
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths
