"""Pose-estimator-like errors on true joint tracks, of a known size as a share of body height.

Pure numpy functions on one walk's joints (T, 16, 2) in pixels (MPII order, x right, y down):

  independent_noise  Gaussian noise drawn afresh for every frame, joint and coordinate.
  smooth_noise       the same noise low-pass filtered over time (a Gaussian kernel), rescaled to
                     the same RMS: errors that persist for several frames, as a pose network's do
                     on video (similar images give similar mistakes).
  swap_left_right    left and right exchanged on a given share of the frames, legs only or legs
                     and arms (the mistake that destroys gait identity even when the mean error
                     looks small; evaluation-protocols.md).
  JointNoise         a family of such errors (sizes, swap rate, ...) applied in one call; the
                     baseline draws training augmentations from it.

Size: `size` is the standard deviation of the error of each coordinate (x and y alike) as a
share of the walk's body height (`body_height`: the median head-top to mid-ankle distance), the
convention of benchmarks/synth_walker.py's noisy baseline. A joint's 2-D error then has RMS
sqrt(2) * size and mean about 1.25 * size of the height. Noise of size 0.02 on a walker 100 px
tall moves each coordinate by 2 px (SD).

Every draw comes from `synth.seeds.rng_for` keyed by non-negative integers (never Python's
salted hash()), so the same seed gives the same errors in every process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from synth import seeds
from synth.skeleton import ANKLE, ELBOW, HEAD_TOP, HIP, JOINT_COUNT, KNEE, SHOULDER, WRIST

# Stream numbers under the caller's seed, so that the kinds of error never share draws.
INDEPENDENT_STREAM = 1
SMOOTH_STREAM = 2
SWAP_STREAM = 3

SWAP_PARTS: dict[str, tuple[tuple[int, int], ...]] = {
    "legs": ((ANKLE[0], ANKLE[1]), (KNEE[0], KNEE[1]), (HIP[0], HIP[1])),
    "limbs": ((ANKLE[0], ANKLE[1]), (KNEE[0], KNEE[1]), (HIP[0], HIP[1]),
              (WRIST[0], WRIST[1]), (ELBOW[0], ELBOW[1]), (SHOULDER[0], SHOULDER[1])),
}
DEFAULT_CORRELATION_FRAMES = 4.0

Seed = int | Sequence[int]


def body_height(joints_xy: np.ndarray) -> float:
    """The walk's body height in pixels: the median over frames of the head-top to mid-ankle
    distance (evaluation-protocols.md's normaliser for pose error)."""
    joints = _checked(joints_xy)
    ankles = joints[:, ANKLE].mean(axis=1)
    return float(np.median(np.linalg.norm(joints[:, HEAD_TOP] - ankles, axis=1)))


def independent_noise(joints_xy: np.ndarray, size: float, seed: Seed, *, height: float | None = None) -> np.ndarray:
    """Joints plus Gaussian noise independent across frames, joints and coordinates.

    Args:
      joints_xy: (T, 16, 2) true joints in pixels.
      size: SD of each coordinate's error as a share of body height (0.02 = 2 %).
      seed: non-negative integer or tuple of them.
      height: body height in pixels; None = `body_height(joints_xy)`.

    Returns:
      (T, 16, 2) float64 perturbed joints (a new array).
    """
    joints = _checked(joints_xy)
    sigma = _sigma(joints, size, height)
    rng = seeds.rng_for(_key(seed), INDEPENDENT_STREAM)
    return joints + sigma * rng.standard_normal(joints.shape)


def smooth_noise(joints_xy: np.ndarray, size: float, seed: Seed, *, correlation_frames: float = DEFAULT_CORRELATION_FRAMES,
                 height: float | None = None) -> np.ndarray:
    """Joints plus temporally smooth Gaussian noise of the same RMS as `independent_noise`.

    White noise is filtered over time with a Gaussian kernel of SD `correlation_frames` and
    scaled by the kernel's exact gain, so every coordinate's error stays N(0, (size * height)^2)
    at every frame, but consecutive frames err alike: the power lies below about
    1 / (2 pi correlation_frames) cycles per frame. The noise is drawn over a margin of
    4 * correlation_frames beyond both ends and filtered "valid", so the first and last frames
    are no different from the middle.

    Args:
      joints_xy, size, seed, height: as for `independent_noise`.
      correlation_frames: SD of the Gaussian smoothing kernel in frames (> 0).

    Returns:
      (T, 16, 2) float64 perturbed joints.
    """
    joints = _checked(joints_xy)
    if not correlation_frames > 0:
        raise ValueError(f"correlation_frames must be positive, got {correlation_frames}")
    sigma = _sigma(joints, size, height)
    radius = int(np.ceil(4 * correlation_frames))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / correlation_frames) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))  # unit gain on the variance of white noise
    rng = seeds.rng_for(_key(seed), SMOOTH_STREAM)
    white = rng.standard_normal((len(joints) + 2 * radius, JOINT_COUNT * 2))
    smooth = np.stack([np.convolve(white[:, c], kernel, mode="valid") for c in range(white.shape[1])], axis=1)
    return joints + sigma * smooth.reshape(joints.shape)


def swap_left_right(joints_xy: np.ndarray, rate: float, seed: Seed, *, parts: str = "legs",
                    run_frames: int = 1) -> np.ndarray:
    """Joints with left and right exchanged on `round(rate * T)` frames.

    Args:
      joints_xy: (T, 16, 2) true joints.
      rate: share of frames in [0, 1] whose labels are swapped.
      seed: non-negative integer or tuple of them.
      parts: "legs" (hips, knees, ankles) or "limbs" (legs and arms: also shoulders, elbows,
        wrists).
      run_frames: swaps come in runs of this many consecutive frames (the frames are cut into
        blocks of this length and whole blocks are drawn, the last one cut to the exact count);
        1 = frames drawn one by one.

    Returns:
      (T, 16, 2) float64 joints; `swapped_frames` tells which frames were changed.
    """
    joints = _checked(joints_xy).copy()
    frames = swapped_frames(len(joints), rate, seed, run_frames=run_frames)
    if parts not in SWAP_PARTS:
        raise ValueError(f"parts must be one of {tuple(SWAP_PARTS)}, got {parts!r}")
    for right, left in SWAP_PARTS[parts]:
        joints[frames, right], joints[frames, left] = joints[frames, left].copy(), joints[frames, right].copy()
    return joints


def swapped_frames(frame_count: int, rate: float, seed: Seed, *, run_frames: int = 1) -> np.ndarray:
    """The sorted frame indices `swap_left_right` swaps for these arguments."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a swap rate is a share of frames in [0, 1], got {rate}")
    if isinstance(run_frames, bool) or not isinstance(run_frames, (int, np.integer)) or run_frames < 1:
        raise ValueError(f"run_frames must be a positive integer, got {run_frames!r}")
    count = int(round(rate * frame_count))
    rng = seeds.rng_for(_key(seed), SWAP_STREAM)
    blocks = [np.arange(start, min(start + run_frames, frame_count)) for start in range(0, frame_count, run_frames)]
    chosen: list[int] = []
    for block in rng.permutation(len(blocks)):
        chosen.extend(blocks[block][: count - len(chosen)].tolist())
        if len(chosen) >= count:
            break
    return np.array(sorted(chosen), dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class JointNoise:
    """A family of joint errors, applied in the order swaps, smooth noise, independent noise.

    Attributes:
      independent: SD of independent per-frame noise, share of body height.
      smooth: SD of temporally smooth noise, share of body height.
      swap_rate: share of frames with left and right exchanged.
      swap_parts: "legs" or "limbs".
      correlation_frames: the smooth noise's kernel SD in frames.
      swap_run_frames: swaps come in runs of this many frames.
    """

    independent: float = 0.0
    smooth: float = 0.0
    swap_rate: float = 0.0
    swap_parts: str = "legs"
    correlation_frames: float = DEFAULT_CORRELATION_FRAMES
    swap_run_frames: int = 1

    def __post_init__(self) -> None:
        for name in ("independent", "smooth"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} is a share of body height in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.swap_rate <= 1.0:
            raise ValueError(f"swap_rate must be in [0, 1], got {self.swap_rate}")
        if self.swap_parts not in SWAP_PARTS:
            raise ValueError(f"swap_parts must be one of {tuple(SWAP_PARTS)}, got {self.swap_parts!r}")

    @property
    def is_zero(self) -> bool:
        return self.independent == 0 and self.smooth == 0 and self.swap_rate == 0

    def apply(self, joints_xy: np.ndarray, seed: Seed) -> np.ndarray:
        """(T, 16, 2) joints perturbed by this family's errors, drawn from `seed`. The body
        height is measured on the true joints, before any error."""
        joints = _checked(joints_xy)
        height = body_height(joints)
        out = joints
        if self.swap_rate > 0:
            out = swap_left_right(out, self.swap_rate, seed, parts=self.swap_parts, run_frames=self.swap_run_frames)
        if self.smooth > 0:
            out = smooth_noise(out, self.smooth, seed, correlation_frames=self.correlation_frames, height=height)
        if self.independent > 0:
            out = independent_noise(out, self.independent, seed, height=height)
        return out.copy() if out is joints else out

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def error_rms(noisy_xy: np.ndarray, true_xy: np.ndarray) -> float:
    """RMS per coordinate of `noisy - true` as a share of the true walk's body height (the
    quantity `size` sets)."""
    noisy, true = _checked(noisy_xy), _checked(true_xy)
    if noisy.shape != true.shape:
        raise ValueError(f"shapes differ: {noisy.shape} and {true.shape}")
    return float(np.sqrt(np.mean((noisy - true) ** 2)) / body_height(true))


def _sigma(joints: np.ndarray, size: float, height: float | None) -> float:
    if not 0.0 <= size < 1.0:
        raise ValueError(f"size is a share of body height in [0, 1), got {size}")
    height = body_height(joints) if height is None else float(height)
    if not height > 0:
        raise ValueError(f"body height must be positive, got {height}")
    return size * height


def _checked(joints_xy: np.ndarray) -> np.ndarray:
    joints = np.asarray(joints_xy, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (JOINT_COUNT, 2):
        raise ValueError(f"joints_xy must be (T, 16, 2), got {joints.shape}")
    return joints


def _key(seed: Seed) -> tuple[int, ...]:
    if isinstance(seed, (int, np.integer, bool)):
        return seeds.checked_key((seed,))  # refuses bools and negatives
    return seeds.checked_key(tuple(seed))
