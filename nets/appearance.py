"""Random changes of a frame's look (colour, contrast, blur, noise, compression) that leave
every joint where it is.

A pose network trained on one renderer learns that renderer's palette and shading: on walkers
drawn in a look training never saw, the accuracy benchmark measured PCK@0.1 fall from 0.79 to
0.53, torso and head included. Changing the look of training frames is the usual remedy, so
`fit_pose(appearance_jitter=True)` applies `jitter_appearance` to every augmented frame.

It is off by default because it did not pay on the project's own data. Measured 2026-11-30, small
trunk, 3 epochs of 6 new frames per walk of 16 CASIA-like training people (540 steps), PCK@0.1 on
8 other training people / on 4 people in the shifted style (another seed than the benchmark's):
no jitter 0.70 / 0.55; this mild jitter 0.68 / 0.57 (legs 0.65 / 0.63 either way); a strong one
(random channel order, +-40 brightness, JPEG down to quality 15, on every frame) 0.61 / 0.56. The
shifted style's torso and head stay at PCK 0.59 either way: what training lacks is the scenes
(backgrounds, bodies), not the colours. Longer schedules were not measured. Geometry (flips,
zoom, shift) lives with the batches in `nets.pose_training`.
"""

from __future__ import annotations

import cv2
import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def jitter_appearance(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of `frame` (H, W, 3) uint8 with a random look; same shape and dtype.

    Half the draws return the frame unchanged (the renderer's own look stays common); the
    others change, independently:
      - colour: per-channel gains in [0.85, 1.15] (a tint), greyscale (p 0.1);
      - tone: contrast x[0.75, 1.25] about the mean, brightness +-25 levels, gamma in [0.8, 1.25];
      - optics: a Gaussian blur of sigma 0.4-1.2 px (p 0.25);
      - sensor: Gaussian noise of sigma 2-8 levels (p 0.4);
      - compression: a JPEG round trip at quality 30-80 (p 0.25).
    """
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
    if rng.random() < 0.5:
        return frame.copy()
    x = frame.astype(np.float32) * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    if rng.random() < 0.1:
        x = np.repeat((x @ _LUMA)[..., None], 3, axis=-1)
    mean = float(x.mean())
    x = (x - mean) * rng.uniform(0.75, 1.25) + mean + rng.uniform(-25.0, 25.0)
    x = 255.0 * (np.clip(x, 0.0, 255.0) / 255.0) ** np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
    if rng.random() < 0.25:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.4, 1.2))
    if rng.random() < 0.4:
        x = x + rng.normal(0.0, rng.uniform(2.0, 8.0), x.shape).astype(np.float32)
    out = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        _, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 81))])
        out = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return out


__all__ = ["jitter_appearance"]
