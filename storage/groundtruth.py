"""Reading and validating ground-truth sidecars (format in DEVELOPMENT.md)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

FORMAT = "gaitflow.groundtruth/1"
MPII_JOINTS: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)


class GroundTruthError(ValueError):
    """A sidecar that cannot be trusted; the message names the file."""


@dataclasses.dataclass(frozen=True, eq=False)
class GroundTruth:
    """Joints of every frame of one sequence, in source-frame pixels.

    Attributes:
      joints_xy: (T, 16, 2) float32, MPII order, x right and y down.
      visible: (T, 16) bool, in the frame and not hidden by the body.
      fps: frames per second of the source.
      frame_size: (height, width) of the source frames.
      covariates: per-walk conditions (outfit, bag, ...), JSON values.
    """

    joints_xy: np.ndarray
    visible: np.ndarray
    fps: float
    frame_size: tuple[int, int]
    covariates: dict

    def __len__(self) -> int:
        return len(self.joints_xy)


def read_groundtruth(path: str | Path) -> GroundTruth:
    """Reads and checks a sidecar; raises GroundTruthError naming the file and the problem."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GroundTruthError(f"{path}: cannot read ground truth: {error}") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise GroundTruthError(f"{path}: not a {FORMAT} sidecar")
    if tuple(document.get("joint_names", ())) != MPII_JOINTS:
        raise GroundTruthError(f"{path}: joint_names are not the 16 MPII joints in MPII order")
    try:
        joints = np.asarray(document["joints_xy"], dtype=np.float32)
        visible = np.asarray(document["visible"], dtype=bool)
        fps = float(document["fps"])
        height, width = (int(v) for v in document["frame_size"])
    except (KeyError, TypeError, ValueError) as error:
        raise GroundTruthError(f"{path}: malformed field: {error}") from error
    if joints.ndim != 3 or joints.shape[1:] != (16, 2):
        raise GroundTruthError(f"{path}: joints_xy has shape {joints.shape}, expected (T, 16, 2)")
    if visible.shape != joints.shape[:2]:
        raise GroundTruthError(f"{path}: visible has shape {visible.shape}, expected {joints.shape[:2]}")
    if not np.isfinite(joints).all():
        raise GroundTruthError(f"{path}: joints_xy holds non-finite values")
    if not math.isfinite(fps) or fps <= 0 or height <= 0 or width <= 0:
        raise GroundTruthError(f"{path}: fps and frame_size must be positive and finite")
    covariates = document.get("covariates") or {}
    if not isinstance(covariates, dict):
        raise GroundTruthError(f"{path}: covariates must be an object of named values, got {type(covariates).__name__}")
    return GroundTruth(
        joints_xy=joints,
        visible=visible,
        fps=fps,
        frame_size=(height, width),
        covariates=dict(covariates),
    )
