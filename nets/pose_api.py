"""Pose estimation on frames of any size, and skeleton drawing.

`estimate_poses` resizes frames to the model's square input, runs HumanPoseNN (optionally on
the mirrored frame too), decodes sub-pixel joints and maps them back to each frame's own pixel
coordinates (`(x, y)`, MPII order). Joint tracks over a video can then be cleaned with
`nets.joint_tracks` (`fix_left_right`, `smooth_joint_tracks`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import cv2
import keras
import numpy as np

from nets.frame_features import Decoding, pose_outputs
from nets.layers import JOINT_DECODINGS
from nets.pose_network import JOINT_NAMES, model_input_size

ResizeMode = Literal["stretch", "pad"]

# (joint, joint) pairs of the MPII skeleton.
SKELETON_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5),  # legs through the pelvis
    (6, 7), (7, 8), (8, 9),  # spine, neck, head
    (10, 11), (11, 12), (12, 7), (7, 13), (13, 14), (14, 15),  # arms through the thorax
)
# RGB: the person's right side red, left side blue, the midline green.
_RIGHT, _LEFT, _MIDDLE = (230, 50, 50), (50, 110, 240), (40, 200, 80)


def _side_colour(joint: int) -> tuple[int, int, int]:
    name = JOINT_NAMES[joint]
    return _RIGHT if name.startswith("r_") else _LEFT if name.startswith("l_") else _MIDDLE


@dataclasses.dataclass(frozen=True)
class PoseEstimates:
    """Poses for B frames.

    joints_xy: (B, 16, 2) float32, `(x, y)` in each frame's pixels.
    confidence: (B, 16) float32, the seed's per-joint probability (peak of the sigmoid map;
        with the flip test the mean of both passes').
    heatmaps: (B, 289, 289, 16) float32 smoothed heat-maps on the model-input square
        (heat-map pixel i covers model-input pixel i * input_size / 289; after `"pad"`
        resizing the frame sits inside that square), the joints' source (averaged with the
        flip test), or None if not requested.
    """

    joints_xy: np.ndarray
    confidence: np.ndarray
    heatmaps: np.ndarray | None


def estimate_poses(
    model: keras.Model,
    images: np.ndarray | Sequence[np.ndarray],
    *,
    batch_size: int = 16,
    resize: ResizeMode = "stretch",
    return_heatmaps: bool = True,
    decoding: Decoding = "quadratic",
    flip: bool = False,
) -> PoseEstimates:
    """Runs HumanPoseNN on RGB uint8 frames of any size.

    Args:
        model: a `HumanPoseNN`.
        images: (B, H, W, 3) uint8, or a sequence of (H_i, W_i, 3) uint8 frames.
        batch_size: frames per forward pass.
        resize: `"stretch"` resizes each frame to the square input ignoring its aspect
            ratio (what the seed does); `"pad"` keeps the aspect ratio and pads with black.
        return_heatmaps: keep the (B, 289, 289, 16) maps (5 MB per frame).
        decoding: `"quadratic"` (sub-pixel peaks) or `"argmax"` (the model's own joints,
            the seed's integer arg-max); see `nets.frame_features.pose_outputs`.
        flip: flip-test averaging: the network also sees each frame mirrored and the
            heat-maps of both are averaged (left and right exchanged back). Twice the cost.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}")
    if resize not in ("stretch", "pad"):
        raise ValueError(f"`resize` must be 'stretch' or 'pad', got {resize!r}")
    if decoding not in JOINT_DECODINGS:
        raise ValueError(f"`decoding` must be one of {JOINT_DECODINGS}, got {decoding!r}")
    frames = list(images) if not isinstance(images, np.ndarray) else images
    if len(frames) == 0:
        raise ValueError("no images")
    size = model_input_size(model)

    joints_xy, confidence, heatmaps = [], [], []
    for start in range(0, len(frames), batch_size):
        chunk = frames[start : start + batch_size]
        inputs, transforms = zip(*(_to_model_input(frame, size, resize) for frame in chunk))
        wanted = ("joints", "heatmaps") if return_heatmaps else ("joints",)
        outputs = pose_outputs(model, np.stack(inputs), decoding=decoding, flip=flip,
                               outputs=wanted)
        joints = np.asarray(outputs["joints"])  # (b, 16, 3): y, x, p in model pixels
        for row, (scale_x, scale_y, offset_x, offset_y) in enumerate(transforms):
            x = (joints[row, :, 1] - offset_x) / scale_x
            y = (joints[row, :, 0] - offset_y) / scale_y
            joints_xy.append(np.stack([x, y], axis=-1))
        confidence.append(joints[..., 2])
        if return_heatmaps:
            heatmaps.append(np.asarray(outputs["heatmaps"]))
    return PoseEstimates(
        joints_xy=np.asarray(joints_xy, dtype=np.float32),
        confidence=np.concatenate(confidence).astype(np.float32),
        heatmaps=np.concatenate(heatmaps) if return_heatmaps else None,
    )


def _to_model_input(
    frame: np.ndarray, size: int, resize: ResizeMode
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A (size, size, 3) uint8 input and the map frame -> input: x' = x * sx + ox."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB frame, got {frame.shape}")
    frame = np.asarray(frame, dtype=np.uint8)
    height, width = frame.shape[:2]
    if resize == "stretch":
        resized = _resize(frame, size, size)
        return resized, (size / width, size / height, 0.0, 0.0)
    scale = size / max(height, width)
    new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
    offset_x, offset_y = (size - new_width) // 2, (size - new_height) // 2
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[offset_y : offset_y + new_height, offset_x : offset_x + new_width] = _resize(
        frame, new_width, new_height
    )
    return canvas, (new_width / width, new_height / height, float(offset_x), float(offset_y))


def _resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[:2] == (height, width):
        return frame
    shrinking = width < frame.shape[1] or height < frame.shape[0]
    return cv2.resize(frame, (width, height),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def draw_skeleton(
    image: np.ndarray,
    joints_xy: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    min_confidence: float = 0.0,
    thickness: int | None = None,
) -> np.ndarray:
    """A copy of `image` (H, W, 3) uint8 RGB with the skeleton `joints_xy` (16, 2) drawn.

    Limbs and joints whose `confidence` (16,) is below `min_confidence` are left out.
    """
    if joints_xy.shape != (len(JOINT_NAMES), 2):
        raise ValueError(f"expected joints (16, 2), got {joints_xy.shape}")
    canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
    if thickness is None:
        thickness = max(1, round(min(canvas.shape[:2]) / 120))
    shown = np.ones(len(JOINT_NAMES), dtype=bool)
    if confidence is not None:
        shown = np.asarray(confidence) >= min_confidence
    shown &= np.isfinite(joints_xy).all(axis=1)
    points = [tuple(int(round(v)) for v in point) for point in joints_xy]
    for first, second in SKELETON_EDGES:
        if shown[first] and shown[second]:
            colour = _side_colour(first if JOINT_NAMES[first][:2] in ("r_", "l_") else second)
            cv2.line(canvas, points[first], points[second], colour, thickness, cv2.LINE_AA)
    for joint, point in enumerate(points):
        if shown[joint]:
            cv2.circle(canvas, point, thickness + 1, _side_colour(joint), -1, cv2.LINE_AA)
    return canvas
