"""A pinhole camera that stands still and pans (yaws) to keep the walker in frame.

Views follow CASIA-B: 0 degrees sees the walker coming towards the camera, 90 from the side,
180 from behind; the views in between lie on the walker's right-hand side. Camera
coordinates: x right, y down, z forward (depth); pixel centres are at integers, so the
image centre of a square frame of `size` pixels is (size - 1) / 2.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synth.covariates import ViewCovariates

CASIA_B_VIEWS: tuple[int, ...] = tuple(range(0, 181, 18))
FRAMED_HEIGHT = 2.0  # metres that `fill` refers to: any person plus margin
AIM_HEIGHT = 0.95  # metres above ground the camera tilts towards


@dataclasses.dataclass(frozen=True, eq=False)
class PanningCamera:
    """A fixed camera that yaws over time.

    Attributes:
      position: (3,) world position.
      yaw: (T,) radians, azimuth of the optical axis (from +x towards +z).
      pitch: radians, downward tilt.
      focal: focal length in pixels.
      size: frame width and height in pixels.
    """

    position: np.ndarray
    yaw: np.ndarray
    pitch: float
    focal: float
    size: int

    @property
    def centre(self) -> float:
        return (self.size - 1) / 2.0

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, down, forward): (T, 3) each, the camera axes in world coordinates."""
        cp, sp = np.cos(self.pitch), np.sin(self.pitch)
        cy, sy = np.cos(self.yaw), np.sin(self.yaw)
        forward = np.stack([cp * cy, np.full_like(cy, -sp), cp * sy], axis=1)
        right = np.stack([-sy, np.zeros_like(cy), cy], axis=1)
        down = np.cross(forward, right)
        return right, down, forward

    def rotation(self) -> np.ndarray:
        """(T, 3, 3) world-to-camera rotation (rows are right, down, forward)."""
        return np.stack(self.axes(), axis=1)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (T, N, 3) -> camera coordinates (T, N, 3)."""
        return np.einsum("tij,tnj->tni", self.rotation(), points - self.position)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (T, N, 3) -> (pixels (T, N, 2) as (x, y), depth (T, N) in metres)."""
        cam = self.to_camera(points)
        depth = cam[..., 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        xy = self.centre + self.focal * cam[..., :2] / safe[..., None]
        return xy, depth


def follow_camera(
    view: int, path: np.ndarray, fps: float, covariates: ViewCovariates, size: int
) -> PanningCamera:
    """Places a camera at `view` degrees around a walk and pans it along.

    Args:
      view: degrees in [0, 180].
      path: (T, 3) the walker's pelvis in world coordinates (walking along +x).
      fps: frames per second.
      covariates: the view's placement (clearance, height, fill, pan lag).
      size: frame size in pixels.
    """
    if not 0 <= view <= 180:
        raise ValueError(f"view must be in [0, 180] degrees, got {view}")
    theta = np.radians(view)
    half_path = 0.5 * abs(path[-1, 0] - path[0, 0])
    distance = covariates.clearance + half_path * abs(np.cos(theta))
    middle = 0.5 * (path[0] + path[-1])
    position = np.array([middle[0] + distance * np.cos(theta), covariates.height, middle[2] + distance * np.sin(theta)])
    ground_offset = path[:, [0, 2]] - position[[0, 2]]
    nearest = float(np.min(np.linalg.norm(ground_offset, axis=1)))
    focal = covariates.fill * size * nearest / FRAMED_HEIGHT
    pitch = float(np.arctan2(covariates.height - AIM_HEIGHT, nearest))
    # The operator follows the pelvis smoothly (no sway, no bounce) and a little late.
    time = np.arange(len(path)) / fps
    target = np.stack([np.interp(time - covariates.pan_lag, time, path[:, i]) for i in (0, 2)], axis=1)
    target = _smooth(target, 0.3 * fps)
    yaw = np.unwrap(np.arctan2(target[:, 1] - position[2], target[:, 0] - position[0]))
    return PanningCamera(position=position, yaw=yaw, pitch=pitch, focal=float(focal), size=int(size))


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    if sigma < 0.5 or len(values) < 3:
        return values
    radius = min(int(np.ceil(3 * sigma)), len(values) - 1)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    # Odd reflection keeps a straight path straight at the ends.
    padded = np.pad(values, ((radius, radius), (0, 0)), mode="reflect", reflect_type="odd")
    return np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(values.shape[1])], axis=1)
