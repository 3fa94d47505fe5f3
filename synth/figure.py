"""The walker's surface: capsules and ellipsoids dressed on a WalkMotion.

Sizes are fractions of stature (a 1.76 m person's metres divided by 1.76), radii also scale
with girth. Clothes only recolour and thicken the parts they cover; a coat adds a skirt
down to the knee, bags add one ellipsoid each.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synth.body import SEGMENT_RATIOS, BodyShape
from synth.covariates import Outfit, WalkCovariates
from synth.kinematics import WalkMotion
from synth.skeleton import ANKLE, ELBOW, HEAD_TOP, HIP, JOINT_COUNT, KNEE, PELVIS, SHOULDER, THORAX, UPPER_NECK, WRIST

# Material slots.
SKIN, HAIR, TOP, BOTTOM, SHOES, COAT, BAG = range(7)
MATERIAL_COUNT = 7


@dataclasses.dataclass(frozen=True, eq=False)
class Figure:
    """Primitives of a walker in world coordinates over T frames.

    Attributes:
      capsule_a, capsule_b: (T, C, 3) segment end points.
      capsule_radius: (C, 2) radius at a and at b, metres.
      capsule_material: (C,) int material index.
      ellipsoid_centre: (T, E, 3).
      ellipsoid_rotation: (T, E, 3, 3) columns are the ellipsoid's axes in world coordinates.
      ellipsoid_axes: (E, 3) semi-axis lengths along those columns, metres.
      ellipsoid_material: (E,) int.
      albedo: (M, 3) RGB in [0, 1] per material.
      stripe_period: (M,) metres between stripes along a part (0 = plain).
      stripe_contrast: (M,) how much darker a stripe is.
      joint_tolerance: (16,) metres: a joint counts as visible when the nearest surface at its
        pixel is no more than this in front of it (the joint lies inside its own limb).
    """

    capsule_a: np.ndarray
    capsule_b: np.ndarray
    capsule_radius: np.ndarray
    capsule_material: np.ndarray
    ellipsoid_centre: np.ndarray
    ellipsoid_rotation: np.ndarray
    ellipsoid_axes: np.ndarray
    ellipsoid_material: np.ndarray
    albedo: np.ndarray
    stripe_period: np.ndarray
    stripe_contrast: np.ndarray
    joint_tolerance: np.ndarray


class _Builder:
    def __init__(self, frames: int):
        self.frames = frames
        self.caps: list[tuple[np.ndarray, np.ndarray, float, float, int]] = []
        self.ells: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
        self.reach = np.zeros(JOINT_COUNT)  # largest part size around each joint

    def capsule(self, a, b, ra, rb, material, joints=()):
        self.caps.append((a, b, float(ra), float(rb), material))
        for j in joints:
            self.reach[j] = max(self.reach[j], ra, rb)

    def ellipsoid(self, centre, rotation, axes, material, joints=()):
        axes = np.asarray(axes, dtype=np.float64)
        if rotation.ndim == 2:
            rotation = np.broadcast_to(rotation, (self.frames, 3, 3))
        self.ells.append((centre, rotation, axes, material))
        for j in joints:
            self.reach[j] = max(self.reach[j], float(axes.max()))


def dress(motion: WalkMotion, body: BodyShape, walk: WalkCovariates, fit_head: bool = False) -> Figure:
    """Builds the walker's primitives for every frame of `motion`.

    `fit_head` scales the head and hair with the body's own head length, so that head_top
    stays on the head for heads far from the average (the shifted style, whose bodies sit
    at the edge of the population); the standard style keeps its head sized by stature.
    """
    j = motion.joints
    u = body.stature / 1.76  # metres of an average man per metre here
    g = body.girth
    coat = walk.coat_girth if walk.coat else 1.0
    outfit = walk.outfit
    leg_material = BOTTOM
    shank_material = SKIN if outfit.shorts and not walk.coat else BOTTOM
    top_material = COAT if walk.coat else TOP
    forearm_material = top_material if (outfit.long_sleeves or walk.coat) else SKIN
    build = _Builder(motion.frames)
    trunk_fwd, trunk_up = motion.trunk_rotation[:, :, 0], motion.trunk_rotation[:, :, 1]
    pelvis = j[:, PELVIS]

    for s in (0, 1):
        build.capsule(j[:, HIP[s]], j[:, KNEE[s]], 0.080 * u * g, 0.053 * u * g, leg_material, (HIP[s], KNEE[s]))
        build.capsule(j[:, KNEE[s]], j[:, ANKLE[s]], 0.054 * u * g, 0.036 * u * np.sqrt(g), shank_material,
                      (KNEE[s], ANKLE[s]))
        foot_radius = 0.036 * u
        heel, toe = motion.heel[:, s], motion.toe[:, s]
        along = _unit(toe - heel)
        sole_normal = _unit(np.array([0.0, 1.0, 0.0]) - (along[:, 1:2]) * along)
        build.capsule(heel + foot_radius * (sole_normal + along), toe + foot_radius * (sole_normal - 0.6 * along),
                      foot_radius, 0.8 * foot_radius, SHOES, (ANKLE[s],))
        arm_g = g * np.sqrt(coat)
        build.capsule(j[:, SHOULDER[s]], j[:, ELBOW[s]], 0.047 * u * arm_g, 0.038 * u * arm_g, top_material,
                      (SHOULDER[s], ELBOW[s]))
        build.capsule(j[:, ELBOW[s]], j[:, WRIST[s]], 0.037 * u * arm_g, 0.028 * u * arm_g, forearm_material,
                      (ELBOW[s], WRIST[s]))
        hand_axis = _unit(motion.hand_tip[:, s] - j[:, WRIST[s]])
        build.ellipsoid(0.5 * (j[:, WRIST[s]] + motion.hand_tip[:, s]),
                        _frame_from_axis(hand_axis, motion.trunk_rotation[:, :, 2]),
                        (0.024 * u, 0.058 * u, 0.035 * u), SKIN, (WRIST[s],))

    build.ellipsoid(pelvis + 0.02 * u * motion.pelvis_rotation[:, :, 1], motion.pelvis_rotation,
                    (0.105 * u * g, 0.115 * u, 0.5 * body.hip_width * (0.85 + 0.15 * g)), leg_material,
                    (PELVIS, HIP[0], HIP[1]))
    loose = coat ** 0.6  # a coat hangs from the shoulders: less bulk at the waist
    build.ellipsoid(pelvis + 0.36 * body.trunk * trunk_up, motion.trunk_rotation,
                    (0.100 * u * g * loose, 0.150 * u, 0.150 * u * g * loose), top_material, (PELVIS,))
    build.ellipsoid(pelvis + 0.72 * body.trunk * trunk_up + 0.01 * u * trunk_fwd, motion.trunk_rotation,
                    (0.110 * u * g * coat, 0.185 * u, 0.40 * body.shoulder_width * (0.9 + 0.1 * g) * coat),
                    top_material, (THORAX, SHOULDER[0], SHOULDER[1]))
    build.capsule(j[:, THORAX], j[:, UPPER_NECK], 0.050 * u * np.sqrt(g), 0.045 * u * np.sqrt(g), SKIN,
                  (THORAX, UPPER_NECK))
    head_fwd, head_up = motion.head_rotation[:, :, 0], motion.head_rotation[:, :, 1]
    h = body.head / (SEGMENT_RATIOS["head"] * body.stature) if fit_head else 1.0
    head_centre = j[:, UPPER_NECK] + 0.45 * body.head * head_up + 0.015 * u * h * head_fwd
    head_axes = np.array([0.100, 0.117, 0.083]) * u * h
    build.ellipsoid(head_centre, motion.head_rotation, head_axes, SKIN, (UPPER_NECK, HEAD_TOP))
    if outfit.long_hair:
        hair_centre = head_centre - 0.030 * u * h * head_fwd - 0.02 * u * h * head_up
        hair_axes = head_axes * np.array([1.0, 1.12, 1.07])
    else:
        hair_centre = head_centre - 0.028 * u * h * head_fwd + 0.026 * u * h * head_up
        hair_axes = head_axes * np.array([0.98, 0.88, 1.05])
    build.ellipsoid(hair_centre, motion.head_rotation, hair_axes, HAIR, (HEAD_TOP,))

    if walk.coat:
        knees = 0.5 * (j[:, KNEE[0]] + j[:, KNEE[1]])
        length = np.linalg.norm(pelvis - knees, axis=1).mean()
        build.ellipsoid(pelvis + 0.12 * u * motion.pelvis_rotation[:, :, 1] - 0.5 * length * trunk_up
                        + 0.5 * (knees - pelvis) * np.array([1.0, 0.0, 1.0]) * 0.5,
                        _yaw_only(motion.pelvis_rotation),
                        (0.110 * u * g * loose, 0.5 * length + 0.11 * u, 0.5 * body.hip_width * (0.9 + 0.1 * g) * loose),
                        COAT, (PELVIS, HIP[0], HIP[1]))
    if walk.bag == "backpack":
        build.ellipsoid(pelvis + 0.68 * body.trunk * trunk_up - (0.110 * u * g * coat + 0.085 * u) * trunk_fwd,
                        motion.trunk_rotation, (0.085 * u, 0.2 * u, 0.15 * u), BAG)
    elif walk.bag == "shoulder":
        side = motion.pelvis_rotation[:, :, 2] * (1.0 if walk.bag_side == 0 else -1.0)
        build.ellipsoid(pelvis + (0.5 * body.hip_width * g + 0.05 * u) * side + 0.05 * u * trunk_up - 0.03 * u * trunk_fwd,
                        _yaw_only(motion.pelvis_rotation), (0.09 * u, 0.12 * u, 0.04 * u), BAG)
    elif walk.bag == "hand":
        tip = motion.hand_tip[:, walk.bag_side]
        build.ellipsoid(tip + np.array([0.0, -0.11 * u, 0.0]), _yaw_only(motion.pelvis_rotation),
                        (0.13 * u, 0.11 * u, 0.05 * u), BAG)

    albedo, period, contrast = _materials(outfit)
    return Figure(
        capsule_a=np.stack([c[0] for c in build.caps], axis=1),
        capsule_b=np.stack([c[1] for c in build.caps], axis=1),
        capsule_radius=np.array([[c[2], c[3]] for c in build.caps]),
        capsule_material=np.array([c[4] for c in build.caps], dtype=np.int16),
        ellipsoid_centre=np.stack([e[0] for e in build.ells], axis=1),
        ellipsoid_rotation=np.stack([e[1] for e in build.ells], axis=1),
        ellipsoid_axes=np.stack([e[2] for e in build.ells]),
        ellipsoid_material=np.array([e[3] for e in build.ells], dtype=np.int16),
        albedo=albedo,
        stripe_period=period,
        stripe_contrast=contrast,
        joint_tolerance=1.1 * build.reach + 0.02,
    )


def _materials(outfit: Outfit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    albedo = np.zeros((MATERIAL_COUNT, 3))
    albedo[SKIN], albedo[HAIR], albedo[TOP] = outfit.skin, outfit.hair, outfit.top
    albedo[BOTTOM], albedo[SHOES], albedo[COAT], albedo[BAG] = outfit.bottom, outfit.shoes, outfit.coat, outfit.bag
    period = np.zeros(MATERIAL_COUNT)
    contrast = np.zeros(MATERIAL_COUNT)
    period[TOP], contrast[TOP] = outfit.stripe_period, outfit.stripe_contrast
    return albedo, period, contrast


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _frame_from_axis(axis: np.ndarray, hint: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation whose second column is `axis` (T, 3); the third leans towards `hint`."""
    third = _unit(hint - np.sum(hint * axis, axis=1, keepdims=True) * axis)
    first = np.cross(axis, third)
    return np.stack([first, axis, third], axis=2)


def _yaw_only(rotation: np.ndarray) -> np.ndarray:
    """(T, 3, 3) the heading part of a rotation (forward projected on the ground, up vertical)."""
    forward = rotation[:, :, 0] * np.array([1.0, 0.0, 1.0])
    forward = _unit(forward)
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0]), forward.shape)
    right = np.cross(forward, up)
    return np.stack([forward, up, right], axis=2)
