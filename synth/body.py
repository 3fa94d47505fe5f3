"""Per-person body proportions (Drillis and Contini segment ratios, via Winter)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# Segment lengths as fractions of stature.
SEGMENT_RATIOS: dict[str, float] = {
    "thigh": 0.245,
    "shank": 0.246,
    "ankle_height": 0.039,
    "trunk": 0.288,  # shoulder to hip
    "neck": 0.052,
    "head": 0.130,
    "upper_arm": 0.186,
    "forearm": 0.146,
    "hand": 0.108,
    "foot": 0.152,
    "shoulder_width": 0.259,
    "hip_width": 0.191,
}
STATURE_MEAN = {"male": 1.76, "female": 1.63}
STATURE_SD = 0.07
RATIO_LOG_SD = 0.035
LEG_LOG_SD = 0.025
GIRTH_LOG_SD = 0.12


@dataclasses.dataclass(frozen=True)
class BodyShape:
    """One person's body, all lengths in metres.

    `girth` multiplies every radius (1.0 = average build); `hip_width` and `shoulder_width`
    are outer body widths, the joints sit inside them.
    """

    stature: float
    thigh: float
    shank: float
    ankle_height: float
    trunk: float
    neck: float
    head: float
    upper_arm: float
    forearm: float
    hand: float
    foot: float
    shoulder_width: float
    hip_width: float
    girth: float

    @property
    def leg(self) -> float:
        """Hip-to-ankle length with the knee straight."""
        return self.thigh + self.shank

    @property
    def hip_spacing(self) -> float:
        """Distance between the two hip joint centres."""
        return 0.56 * self.hip_width

    @property
    def shoulder_spacing(self) -> float:
        """Distance between the two shoulder joint centres."""
        return 0.80 * self.shoulder_width

    def scaled_girth(self, factor: float) -> "BodyShape":
        """The same body with its girth multiplied by `factor` (e.g. after time has passed)."""
        return dataclasses.replace(self, girth=self.girth * factor)


def sample_body(rng: np.random.Generator, spread: float = 1.0, edge: tuple[float, float] | None = None) -> BodyShape:
    """Draws one person's body.

    Args:
      rng: the person's generator.
      spread: scales every between-person standard deviation (0 = everybody alike, 1 =
        the adult population).
      edge: (low, high) in standard deviations, or None. When given, every proportion's
        draw (the segment ratios, the leg length, the girth) keeps its sign but moves out to
        a size between low and high SDs: bodies at the edge of the population (the
        "shifted" style). The draws themselves are the same, so the generator is left
        exactly where it is without `edge` and whatever is drawn after is unchanged.
    """
    if not 0.0 <= spread <= 3.0:
        raise ValueError(f"spread must be in [0, 3], got {spread}")
    sex = "male" if rng.random() < 0.5 else "female"
    # spread also pulls the two sexes' means together so that spread 0 means one body.
    middle = 0.5 * (STATURE_MEAN["male"] + STATURE_MEAN["female"])
    mean = middle + spread * (STATURE_MEAN[sex] - middle)
    stature = float(np.clip(mean + spread * STATURE_SD * rng.standard_normal(), 1.35, 2.15))
    ratios = {name: base * float(np.exp(spread * RATIO_LOG_SD * _at_edge(rng.standard_normal(), edge)))
              for name, base in SEGMENT_RATIOS.items()}
    leg_factor = float(np.exp(spread * LEG_LOG_SD * _at_edge(rng.standard_normal(), edge)))
    ratios["thigh"] *= leg_factor
    ratios["shank"] *= leg_factor
    girth = float(np.exp(spread * GIRTH_LOG_SD * _at_edge(rng.standard_normal(), edge)))
    return BodyShape(stature=stature, girth=girth, **{k: v * stature for k, v in ratios.items()})


def _at_edge(z: float, edge: tuple[float, float] | None) -> float:
    """A standard normal draw `z` unchanged (edge None), or moved to a size in [low, high]
    with its sign kept: 2 Phi(|z|) - 1 is uniform on [0, 1], so the sizes are uniform there."""
    if edge is None:
        return z
    low, high = edge
    return math.copysign(low + (high - low) * math.erf(abs(float(z)) / math.sqrt(2.0)), float(z))
