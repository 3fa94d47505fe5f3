"""The ground-truth sidecar written beside each synthetic sequence (format in DEVELOPMENT.md).

Beside a video `X.avi` it is `X.gt.json`; inside an image folder it is `gt.json`. Besides the
documented keys it holds `"job"`, the digest of the WalkJob that rendered it, which makes
rendering idempotent. It never holds the person's latent body or gait parameters.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from synth.skeleton import JOINT_COUNT, JOINT_NAMES

FORMAT = "gaitflow.groundtruth/1"
FOLDER_SIDECAR = "gt.json"


def sidecar_path(item: Path) -> Path:
    """Where the sidecar of a video file or an image folder lives."""
    if item.suffix.lower() in (".avi", ".mp4"):
        return item.with_name(item.stem + ".gt.json")
    return item / FOLDER_SIDECAR


def groundtruth_document(
    joints_xy: np.ndarray,
    visible: np.ndarray,
    fps: float,
    frame_size: tuple[int, int],
    covariates: dict[str, Any],
    job: str,
) -> dict[str, Any]:
    """The sidecar as a JSON-ready dict.

    Args:
      joints_xy: (T, 16, 2) pixel coordinates, MPII order (may lie outside the frame).
      visible: (T, 16) bool.
      fps: frames per second.
      frame_size: (height, width).
      covariates: per-walk conditions (JSON values).
      job: hex digest of the job that rendered the sequence.
    """
    joints_xy = np.asarray(joints_xy, dtype=np.float64)
    visible = np.asarray(visible, dtype=bool)
    if joints_xy.ndim != 3 or joints_xy.shape[1:] != (JOINT_COUNT, 2):
        raise ValueError(f"joints_xy must be (T, 16, 2), got {joints_xy.shape}")
    if visible.shape != joints_xy.shape[:2]:
        raise ValueError(f"visible must be {joints_xy.shape[:2]}, got {visible.shape}")
    if not np.isfinite(joints_xy).all():
        raise ValueError("joints_xy holds non-finite values")
    return {
        "format": FORMAT,
        "joint_names": list(JOINT_NAMES),
        "fps": float(fps),
        "frame_size": [int(frame_size[0]), int(frame_size[1])],
        "joints_xy": np.round(joints_xy, 2).tolist(),
        "visible": visible.astype(int).tolist(),
        "covariates": covariates,
        "job": job,
    }


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    """Writes JSON to a temporary file beside `path`, then renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(document, stream, separators=(",", ":"))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_job_digest(path: Path) -> str | None:
    """The `"job"` digest recorded in a sidecar, or None when absent or unreadable."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    job = document.get("job") if isinstance(document, dict) else None
    return job if isinstance(job, str) else None
