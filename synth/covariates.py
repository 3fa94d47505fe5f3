"""Per-walk and per-view conditions, drawn independently of the person.

Everything a shortcut could latch on to (clothes, skin and hair colour, bag, background,
lighting, frame rate, camera, degradation) is drawn here from the walk's or the view's own
generator, never the person's. The one exception is the *leaky control*: the archive may
draw the outfit from the person's generator to prove that the honesty tests can fail.
"""

from __future__ import annotations

import colorsys
import dataclasses
from typing import Any

import numpy as np

from synth.kinematics import Carriage

RGB = tuple[float, float, float]

# Condition kinds: what a walk carries or wears, by layout condition code.
CONDITION_KINDS: dict[str, str] = {
    "nm": "normal", "bg": "bag", "cl": "coat",  # CASIA-B
    "n": "normal", "b": "backpack", "s": "shoes",  # TUM GAID (b: backpack; s: coating shoes)
}
FRAME_RATES = (20.0, 25.0, 30.0)
BAGS = ("backpack", "shoulder", "hand")


@dataclasses.dataclass(frozen=True)
class Outfit:
    """Colours (RGB in [0, 1]) and cut of one walk's clothes, skin and hair."""

    top: RGB
    bottom: RGB
    shoes: RGB
    skin: RGB
    hair: RGB
    coat: RGB
    bag: RGB
    stripe_period: float  # metres between stripes on the top; 0 = plain
    stripe_contrast: float
    long_sleeves: bool
    shorts: bool
    long_hair: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "top": _hex(self.top), "bottom": _hex(self.bottom), "shoes": _hex(self.shoes),
            "skin": _hex(self.skin), "hair": _hex(self.hair),
            "pattern": "stripes" if self.stripe_period > 0 else "plain",
            "sleeves": "long" if self.long_sleeves else "short",
            "legwear": "shorts" if self.shorts else "trousers",
            "hair_style": "long" if self.long_hair else "short",
        }


@dataclasses.dataclass(frozen=True)
class Lighting:
    """Sun-like light: unit `direction` towards the light (world), ambient share, RGB tint."""

    direction: tuple[float, float, float]
    ambient: float
    tint: RGB
    shadow_strength: float

    def to_json(self) -> dict[str, Any]:
        elevation = float(np.degrees(np.arcsin(self.direction[1])))
        azimuth = float(np.degrees(np.arctan2(self.direction[2], self.direction[0])))
        return {"elevation_deg": round(elevation, 1), "azimuth_deg": round(azimuth, 1),
                "ambient": round(self.ambient, 3), "tint": [round(x, 3) for x in self.tint]}


@dataclasses.dataclass(frozen=True)
class WalkCovariates:
    """Conditions shared by every view of one walk."""

    condition: str
    kind: str  # "normal" | "bag" | "backpack" | "coat" | "shoes"
    outfit: Outfit
    bag: str | None  # "backpack" | "shoulder" | "hand"
    bag_side: int  # 0 right, 1 left
    coat: bool
    coat_girth: float  # multiplier of torso and arm girth under a coat
    shoes: str  # "normal" | "coating"
    sole: float  # metres
    speed: float  # relative to the person's preferred speed
    fps: float
    lighting: Lighting
    scene_seed: int  # the background's texture draws
    carriage: Carriage

    def to_json(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "outfit": self.outfit.to_json(),
            "bag": self.bag,
            "coat": self.coat,
            "shoes": self.shoes,
            "speed": round(self.speed, 3),
            "fps": self.fps,
            "lighting": self.lighting.to_json(),
        }


@dataclasses.dataclass(frozen=True)
class ViewCovariates:
    """Conditions of one camera on one walk.

    Attributes:
      clearance: metres between the camera and the closest point of the walk.
      height: camera height, metres.
      fill: share of the frame height that 2 m take at the closest point (sets the focal).
      pan_lag: seconds by which the panning camera trails the walker.
      noise: standard deviation of sensor noise, grey levels.
      blur: Gaussian blur sigma as a share of the frame size.
      quality: compression quality in [0, 1] (1 best).
      occluder: whether a pole stands between camera and path.
      occluder_at: (share of the way from the camera to the walker, share of the walk at
        which it stands in front of the walker, sideways offset in metres at the walker).
    """

    clearance: float
    height: float
    fill: float
    pan_lag: float
    noise: float
    blur: float
    quality: float
    occluder: bool
    occluder_at: tuple[float, float, float]

    def to_json(self) -> dict[str, Any]:
        return {"noise": round(self.noise, 2), "blur": round(self.blur, 5),
                "quality": round(self.quality, 3), "occluder": self.occluder}


def sample_outfit(rng: np.random.Generator) -> Outfit:
    """Clothes, skin and hair of one walk."""
    skin_tones = np.array([[0.98, 0.84, 0.72], [0.90, 0.72, 0.56], [0.78, 0.57, 0.40],
                           [0.60, 0.42, 0.28], [0.42, 0.28, 0.18]])
    tone = skin_tones[int(rng.integers(len(skin_tones)))] * rng.uniform(0.92, 1.08)
    skin = tuple(float(x) for x in np.clip(tone, 0, 1))
    hair_base = [(0.08, 0.06, 0.05), (0.25, 0.16, 0.09), (0.55, 0.40, 0.22), (0.80, 0.68, 0.45), (0.6, 0.6, 0.6)]
    hair = hair_base[int(rng.integers(len(hair_base)))]
    striped = rng.random() < 0.3
    return Outfit(
        top=_cloth_colour(rng),
        bottom=_cloth_colour(rng),
        shoes=_cloth_colour(rng, value=(0.05, 0.8)),
        skin=skin,
        hair=tuple(float(x) for x in hair),
        coat=_cloth_colour(rng, saturation=(0.0, 0.6)),
        bag=_cloth_colour(rng),
        stripe_period=float(rng.uniform(0.05, 0.14)) if striped else 0.0,
        stripe_contrast=float(rng.uniform(0.25, 0.6)) if striped else 0.0,
        long_sleeves=bool(rng.random() < 0.5),
        shorts=bool(rng.random() < 0.2),
        long_hair=bool(rng.random() < 0.35),
    )


def sample_lighting(rng: np.random.Generator) -> Lighting:
    elevation = np.radians(rng.uniform(40, 75))
    azimuth = rng.uniform(0, 2 * np.pi)
    direction = (np.cos(elevation) * np.cos(azimuth), np.sin(elevation), np.cos(elevation) * np.sin(azimuth))
    tint = np.clip(1.0 + 0.06 * rng.standard_normal(3), 0.85, 1.15)
    return Lighting(
        direction=tuple(float(x) for x in direction),
        ambient=float(rng.uniform(0.35, 0.6)),
        tint=tuple(float(x) for x in tint),
        shadow_strength=float(rng.uniform(0.2, 0.5)),
    )


def sample_walk_covariates(
    condition: str, rng: np.random.Generator, outfit_rng: np.random.Generator, difficulty: float
) -> WalkCovariates:
    """Draws one walk's conditions.

    Args:
      condition: the layout's condition code ("nm", "bg", "cl", "n", "b", "s").
      rng: the walk's generator.
      outfit_rng: where the outfit comes from: the walk's own stream normally, the person's
        in the leaky control.
      difficulty: scales the spread of walking speed (3 % to 9 % SD over difficulty 0.5..1.5).
    """
    if condition not in CONDITION_KINDS:
        raise ValueError(f"unknown condition {condition!r}; expected one of {sorted(CONDITION_KINDS)}")
    kind = CONDITION_KINDS[condition]
    outfit = sample_outfit(outfit_rng)
    bag: str | None = None
    bag_side = int(rng.integers(2))
    coat = False
    coat_girth = 1.0
    shoes = "normal"
    sole = float(rng.uniform(0.01, 0.03))
    arm_swing = [1.0, 1.0]
    elbow_hold: list[float | None] = [None, None]
    lean = 0.0
    ankle_range = 1.0
    if kind in ("bag", "backpack"):
        bag = "backpack" if kind == "backpack" else BAGS[int(rng.integers(len(BAGS)))]
        if bag == "backpack":
            lean = float(rng.uniform(3.0, 6.0))
            arm_swing = [0.85, 0.85]
        elif bag == "shoulder":
            lean = float(rng.uniform(0.0, 2.0))
            arm_swing[bag_side] = float(rng.uniform(0.4, 0.7))
        else:
            arm_swing[bag_side] = float(rng.uniform(0.2, 0.45))
            elbow_hold[bag_side] = float(rng.uniform(5.0, 20.0))
    elif kind == "coat":
        coat = True
        coat_girth = float(rng.uniform(1.15, 1.55))
        arm_swing = [0.85, 0.85]
    elif kind == "shoes":
        shoes = "coating"
        sole += float(rng.uniform(0.03, 0.06))
        ankle_range = 0.8
    speed = float(np.clip(np.exp(0.06 * difficulty * rng.standard_normal()), 0.7, 1.4))
    fps = FRAME_RATES[int(rng.integers(len(FRAME_RATES)))]
    lighting = sample_lighting(rng)
    scene_seed = int(rng.integers(2**31))
    return WalkCovariates(
        condition=condition, kind=kind, outfit=outfit, bag=bag, bag_side=bag_side, coat=coat,
        coat_girth=coat_girth, shoes=shoes, sole=sole, speed=speed, fps=fps, lighting=lighting,
        scene_seed=scene_seed,
        carriage=Carriage(arm_swing=(arm_swing[0], arm_swing[1]), elbow_hold=(elbow_hold[0], elbow_hold[1]),
                          lean=lean, ankle_range=ankle_range, sole=sole),
    )


def sample_view_covariates(rng: np.random.Generator, difficulty: float) -> ViewCovariates:
    """Draws one camera's placement and degradation.

    The placement varies at every difficulty (box height must not reveal stature);
    degradation (noise, blur, compression, occluder, pan lag) scales with `difficulty`.
    """
    d = float(difficulty)
    return ViewCovariates(
        clearance=float(rng.uniform(4.0, 7.0)),
        height=float(rng.uniform(0.8, 1.7)),
        fill=float(rng.uniform(0.65, 0.95)),
        pan_lag=float(rng.uniform(0.0, 0.15) * d),
        noise=float(rng.uniform(0.0, 4.0) * d),
        blur=float(rng.uniform(0.0, 0.006) * d),
        quality=float(np.clip(1.0 - rng.uniform(0.0, 0.35) * d, 0.0, 1.0)),
        occluder=bool(rng.random() < 0.15 * d),
        occluder_at=(float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.2, 0.8)), float(rng.uniform(-0.35, 0.35))),
    )


def _cloth_colour(rng: np.random.Generator, saturation=(0.0, 0.85), value=(0.12, 0.92)) -> RGB:
    hue = rng.random()
    sat = rng.uniform(*saturation)
    val = rng.uniform(*value)
    return tuple(float(x) for x in colorsys.hsv_to_rgb(hue, sat, val))


def _hex(colour: RGB) -> str:
    return "#" + "".join(f"{int(round(255 * np.clip(c, 0, 1))):02x}" for c in colour)
