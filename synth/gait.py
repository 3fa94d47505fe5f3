"""Gait style: joint-angle curves over the gait cycle and the scalars of a person's walk.

A curve is a Fourier series over the cycle phase phi (0 = that side's heel strike):
theta(phi) = a0 + sum_k a_k cos(2 pi k phi) + b_k sin(2 pi k phi), in degrees. The norms are
adult averages (Perry; Kadaba 1990; Winter). A person's style is the norm perturbed with the
between-person spreads; a walk's style is the person's perturbed again with a fraction of them
(`perturbed` does both).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class JointCurve:
    """One joint angle over the cycle, degrees; `a`, `b` are the k = 1.. cosine/sine terms."""

    a0: float
    a: tuple[float, ...]
    b: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.a) != len(self.b):
            raise ValueError(f"JointCurve needs as many cosine as sine terms, got {len(self.a)} and {len(self.b)}")

    def __call__(self, phase: np.ndarray) -> np.ndarray:
        """Angle (degrees) at `phase` (any shape, in cycles)."""
        phase = np.asarray(phase, dtype=np.float64)
        out = np.full(phase.shape, self.a0)
        for k, (a, b) in enumerate(zip(self.a, self.b), start=1):
            angle = 2.0 * np.pi * k * phase
            out += a * np.cos(angle) + b * np.sin(angle)
        return out

    def scaled(self, amplitude: float) -> "JointCurve":
        """The same mean with every harmonic multiplied by `amplitude` (range of motion)."""
        return JointCurve(self.a0, tuple(amplitude * x for x in self.a), tuple(amplitude * x for x in self.b))

    def delayed(self, cycles: float) -> "JointCurve":
        """theta(phi - cycles): the same curve later in the cycle."""
        a, b = [], []
        for k, (ak, bk) in enumerate(zip(self.a, self.b), start=1):
            y = 2.0 * np.pi * k * cycles
            a.append(ak * np.cos(y) - bk * np.sin(y))
            b.append(ak * np.sin(y) + bk * np.cos(y))
        return JointCurve(self.a0, tuple(a), tuple(b))

    def offset(self, degrees: float) -> "JointCurve":
        return JointCurve(self.a0 + degrees, self.a, self.b)


CURVE_NAMES: tuple[str, ...] = ("hip", "knee", "ankle", "shoulder", "elbow")

# Hip flexion is the thigh against the pelvis; knee flexion; ankle dorsiflexion; shoulder
# flexion (arm forward, opposite to the same-side hip); elbow flexion.
NORM_CURVES: dict[str, JointCurve] = {
    "hip": JointCurve(14.4, (19.5, -3.5, -0.4), (-1.8, -3.1, 1.8)),
    "knee": JointCurve(21.8, (-3.0, -13.5, 0.3), (-19.5, 8.8, 4.2)),
    "ankle": JointCurve(0.4, (-1.9, 1.2, -2.9, 2.2, 0.0), (4.6, -6.6, 0.5, -0.1, -1.2)),
    "shoulder": JointCurve(-2.0, (-13.0, 0.8), (1.2, 0.0)),
    "elbow": JointCurve(25.0, (-9.0, 0.0), (0.8, 0.0)),
}

# Between-person spreads of a curve: offset (degrees), log of the amplitude, timing (cycles).
# Arm swing differs more between people than leg motion does.
CURVE_SPREADS: dict[str, tuple[float, float, float]] = {
    "hip": (3.0, 0.11, 0.015),
    "knee": (3.0, 0.15, 0.015),
    "ankle": (3.0, 0.15, 0.015),
    "shoulder": (5.0, 0.35, 0.02),
    "elbow": (6.0, 0.25, 0.02),
}
CURVE_SHAPE_SD = 1.0  # degrees, per harmonic coefficient (divided by k)
ASYMMETRY_AMPLITUDE_SD = 0.05  # left/right difference
ASYMMETRY_TIMING_SD = 0.008  # cycles

# name -> (norm, sd, "add" | "log"); a "log" scalar is multiplied by exp(N(0, sd)).
SCALAR_NORMS: dict[str, tuple[float, float, str]] = {
    "cadence": (112.0, 7.0, "add"),  # steps per minute
    "stride_ratio": (0.80, 0.035, "add"),  # stride length / stature
    "pelvis_tilt": (10.0, 3.0, "add"),  # degrees, anterior
    "pelvis_rotation": (5.0, 0.25, "log"),  # degrees, amplitude
    "pelvis_obliquity": (4.0, 0.25, "log"),
    "thorax_rotation": (4.0, 0.25, "log"),
    "lean": (3.0, 2.0, "add"),  # degrees forward
    "head_pitch": (0.0, 4.0, "add"),
    "sway": (0.02, 0.25, "log"),  # metres, lateral pelvis amplitude
    "step_width": (0.10, 0.025, "add"),  # metres
    "toe_out": (7.0, 3.0, "add"),  # degrees
    "arm_abduction": (8.0, 2.5, "add"),  # degrees
    "toe_off": (0.615, 0.01, "add"),  # cycle phase of toe-off
}
SCALAR_LIMITS: dict[str, tuple[float, float]] = {
    "cadence": (80.0, 150.0),
    "stride_ratio": (0.6, 1.0),
    "step_width": (0.02, 0.2),
    "toe_off": (0.57, 0.66),
    "arm_abduction": (3.0, 20.0),
}


@dataclasses.dataclass(frozen=True)
class GaitStyle:
    """How one person (or one walk) walks.

    Attributes:
      right, left: curve name -> JointCurve for that side; each side's phase 0 is its own
        heel strike (the left side is the right one half a cycle later).
      scalars: SCALAR_NORMS names -> value.
      left_delay: extra cycles by which the left side lags half a cycle (asymmetry).
    """

    right: Mapping[str, JointCurve]
    left: Mapping[str, JointCurve]
    scalars: Mapping[str, float]
    left_delay: float = 0.0

    def side(self, side: int) -> Mapping[str, JointCurve]:
        """Curves of side 0 (right) or 1 (left)."""
        return self.right if side == 0 else self.left

    def __getitem__(self, name: str) -> float:
        return self.scalars[name]


def norm_style() -> GaitStyle:
    """The average adult's walk."""
    return GaitStyle(dict(NORM_CURVES), dict(NORM_CURVES), {k: v[0] for k, v in SCALAR_NORMS.items()})


def perturbed(style: GaitStyle, rng: np.random.Generator, scale: float) -> GaitStyle:
    """`style` with every parameter moved by `scale` times its between-person spread.

    scale 1 draws a new person around the norm; 0.25..0.75 is a walk's drift from its
    person; 0 returns the style unchanged (no draws are skipped, so streams stay aligned).
    """
    if scale < 0:
        raise ValueError(f"perturbation scale must be >= 0, got {scale}")
    right, left = {}, {}
    for name in CURVE_NAMES:
        base_r, base_l = style.right[name], style.left[name]
        k = np.arange(1, len(base_r.a) + 1)
        shape_a = scale * CURVE_SHAPE_SD * rng.standard_normal(k.size) / k
        shape_b = scale * CURVE_SHAPE_SD * rng.standard_normal(k.size) / k
        offset_sd, amplitude_sd, timing_sd = CURVE_SPREADS[name]
        offset = scale * offset_sd * rng.standard_normal()
        amplitude = np.exp(scale * amplitude_sd * rng.standard_normal())
        timing = scale * timing_sd * rng.standard_normal()
        side_amplitude = np.exp(scale * ASYMMETRY_AMPLITUDE_SD / np.sqrt(2) * rng.standard_normal(2))
        side_timing = scale * ASYMMETRY_TIMING_SD / np.sqrt(2) * rng.standard_normal(2)
        for side, (base, out) in enumerate(((base_r, right), (base_l, left))):
            curve = JointCurve(
                base.a0 + offset,
                tuple(float(x) for x in np.add(base.a, shape_a)),
                tuple(float(x) for x in np.add(base.b, shape_b)),
            )
            out[name] = curve.scaled(float(amplitude * side_amplitude[side])).delayed(float(timing + side_timing[side]))
    scalars = {}
    for name, (_, sd, kind) in SCALAR_NORMS.items():
        value = style.scalars[name]
        draw = rng.standard_normal()
        value = value + scale * sd * draw if kind == "add" else value * float(np.exp(scale * sd * draw))
        low, high = SCALAR_LIMITS.get(name, (-np.inf, np.inf))
        scalars[name] = float(np.clip(value, low, high))
    left_delay = style.left_delay + scale * ASYMMETRY_TIMING_SD * rng.standard_normal()
    return GaitStyle(right, left, scalars, float(left_delay))


def at_speed(style: GaitStyle, speed: float) -> GaitStyle:
    """The style at `speed` times the person's preferred speed.

    Cadence scales about speed^0.45, stride length and range of motion about speed^0.55;
    stance gets a little shorter when walking faster.
    """
    if not 0.5 <= speed <= 1.6:
        raise ValueError(f"relative walking speed must be in [0.5, 1.6], got {speed}")
    rom = speed ** 0.55
    scalars = dict(style.scalars)
    scalars["cadence"] *= speed ** 0.45
    scalars["stride_ratio"] *= rom
    scalars["toe_off"] = float(np.clip(scalars["toe_off"] - 0.03 * (speed - 1.0), *SCALAR_LIMITS["toe_off"]))
    right = {k: c.scaled(rom) for k, c in style.right.items()}
    left = {k: c.scaled(rom) for k, c in style.left.items()}
    return GaitStyle(right, left, scalars, style.left_delay)
