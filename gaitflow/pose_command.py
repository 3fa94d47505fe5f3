"""`gaitflow pose`: HumanPoseNN alone, as a 2-D pose estimator on an image or a video.

Frames are letter-boxed into the network's square input (the aspect ratio is kept), joints are
mapped back to the frame's pixels, and the skeleton is drawn with each joint's confidence.
Joints below the confidence threshold, and joints the network placed outside the picture (in
the letter-box's padding), are not drawn.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import av
import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_OUT_SUFFIXES = (".avi", ".mp4")


@dataclasses.dataclass(frozen=True)
class Media:
    """Frames (T, H, W, 3) uint8 RGB read from `path`; `fps` None for a still image."""

    path: Path
    frames: np.ndarray
    fps: float | None


def read_media(path: str | os.PathLike, max_frames: int | None = None) -> Media:
    """An image, or the first `max_frames` frames of a video (all when None).

    Raises:
      ValueError: one line naming the file: missing, unreadable, or with no frame.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        return Media(path, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)[None], None)
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25.0)
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except av.FFmpegError as error:
        raise ValueError(f"{path}: not a readable image or video ({error})") from None
    if not frames:
        raise ValueError(f"{path}: the video holds no frame")
    return Media(path, np.stack(frames), fps)


def inside_picture(joints_xy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(..., 16) bool: joints within the frame's pixels ((..., 16, 2) `(x, y)`, frame (H, W, ...))."""
    height, width = shape[:2]
    x, y = joints_xy[..., 0], joints_xy[..., 1]
    return np.isfinite(joints_xy).all(axis=-1) & (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def annotate(frames: np.ndarray, joints_xy: np.ndarray, confidence: np.ndarray, min_confidence: float) -> np.ndarray:
    """Frames (T, H, W, 3) with the skeletons drawn: joints under `min_confidence` or outside the
    picture are left out, with their limbs; large enough frames also show each drawn joint's
    confidence in per cent."""
    from nets.pose_api import draw_skeleton

    drawn = []
    for frame, joints, score in zip(frames, joints_xy, confidence):
        shown = (score >= min_confidence) & inside_picture(joints, frame.shape)
        # A joint that is not shown gets a confidence below the threshold, so draw_skeleton drops it.
        canvas = draw_skeleton(frame, np.where(shown[:, None], joints, 0.0), np.where(shown, score, -1.0),
                               min_confidence=min_confidence)
        if min(frame.shape[:2]) >= 200:
            scale = min(frame.shape[:2]) / 900
            for (x, y), value in zip(joints[shown], score[shown]):
                cv2.putText(canvas, f"{100 * value:.0f}", (int(x) + 4, int(y) - 4), cv2.FONT_HERSHEY_SIMPLEX,
                            scale, (255, 255, 255), 1, cv2.LINE_AA)
        drawn.append(canvas)
    return np.stack(drawn)


def write_media(frames: np.ndarray, out: str | os.PathLike, fps: float | None) -> Path:
    """An image (one frame, any suffix OpenCV writes) or a video (.avi / .mp4), written atomically."""
    from synth.video import write_video

    out = Path(out)
    check_output_file(out, video=fps is not None)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.stem}.partial{out.suffix}")
    try:
        if fps is None:
            if not cv2.imwrite(str(temporary), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR)):
                raise ValueError(f"{out}: OpenCV cannot write an image with this suffix")
        else:
            height, width = frames.shape[1:3]
            write_video(np.ascontiguousarray(frames[:, : height - height % 2, : width - width % 2]), temporary, fps,
                        0.9)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return out


def check_output_file(out: Path, *, video: bool | None = None) -> None:
    """Raises ValueError (one line naming `out`) where the annotated copy cannot go: a folder, a
    path under a file, or (for a video; None: not known yet) a suffix that is not a video's."""
    if out.is_dir():
        raise ValueError(f"{out}: is a folder; --out takes a file name")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{out}: {parent} is a file, not a folder")
            break
    if video and out.suffix.lower() not in VIDEO_OUT_SUFFIXES:
        raise ValueError(f"{out}: a video is written as {' or '.join(VIDEO_OUT_SUFFIXES)}")


def estimate_and_draw(model, media: Media, out: str | os.PathLike, *, min_confidence: float = 0.2,
                      flip: bool = False) -> dict:
    """Poses of every frame of `media`, drawn into `out`.

    Returns:
      {"source", "out", "frames", "fps", "joint_names", "min_confidence",
       "poses": [{"frame", "joints": [[x, y, confidence, drawn], ...]}]} in frame pixels.
    """
    from nets.pose_api import estimate_poses
    from nets.pose_network import JOINT_NAMES

    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    estimates = estimate_poses(model, media.frames, resize="pad", return_heatmaps=False, flip=flip)
    written = write_media(annotate(media.frames, estimates.joints_xy, estimates.confidence, min_confidence),
                          out, media.fps)
    drawn = (estimates.confidence >= min_confidence) & inside_picture(estimates.joints_xy, media.frames.shape[1:])
    poses = [
        {"frame": index, "joints": [[round(float(x), 2), round(float(y), 2), round(float(p), 4), bool(d)]
                                    for (x, y), p, d in zip(joints, score, shown)]}
        for index, (joints, score, shown) in enumerate(zip(estimates.joints_xy, estimates.confidence, drawn))
    ]
    return {"source": str(media.path), "out": str(written), "frames": len(media.frames), "fps": media.fps,
            "joint_names": list(JOINT_NAMES), "min_confidence": min_confidence, "poses": poses}
