"""One walk seen by one camera: RGB frames, 2-D joints and their visibility.

Frames are rendered in chunks of frames (bounded memory): the figure (and the occluding pole)
go through the z-buffer rasteriser, the background comes from the camera's panorama with a
soft shadow, then lighting tint, sensor noise and blur are applied (the shifted style,
synth.style, shades and textures the figure from per-pixel normals and surface coordinates
instead and develops frames through its own camera). A joint is visible
where it lies in the frame and the nearest surface at its pixel is not more than its own
limb's thickness in front of it (the depth test).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from synth.camera import PanningCamera
from synth.covariates import Lighting, ViewCovariates
from synth.figure import Figure
from synth.kinematics import WalkMotion
from synth.raster import Lights, RasterBuffers, draw_capsule, draw_ellipsoid
from synth.scenery import Panorama, shadow_factor
from synth.skeleton import ANKLE, HEAD_TOP, KNEE, PELVIS, THORAX
from synth.style import Developer, Look, shade_surface

CHUNK_PIXELS = 400_000  # pixels per chunk of frames (bounds the buffers at ~10 MB)
POLE_RADIUS = 0.09
POLE_ALBEDO = (0.45, 0.42, 0.38)


@dataclasses.dataclass(frozen=True, eq=False)
class RenderedWalk:
    """Attributes:
      frames: (T, size, size, 3) uint8 RGB.
      joints_xy: (T, 16, 2) float64 pixel coordinates (x right, y down), MPII order.
      visible: (T, 16) bool.
      silhouette: (T, size, size) bool, the pixels the figure covers (occluders excluded),
        when asked for; else None.
    """

    frames: np.ndarray
    joints_xy: np.ndarray
    visible: np.ndarray
    silhouette: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Pole:
    """A vertical pole (world base point (3,), height) standing between camera and walker."""

    base: tuple[float, float, float]
    height: float = 3.5


def place_pole(camera: PanningCamera, path: np.ndarray, covariates: ViewCovariates) -> Pole | None:
    """The view's occluding pole, or None.

    It stands part of the way from the camera to where the walker is at some moment
    (`path` (T, 3) the pelvis), a little to the side, so it hides part of the walker then.
    """
    if not covariates.occluder:
        return None
    fraction, when, sideways = covariates.occluder_at
    target = path[int(round(when * (len(path) - 1)))]
    offset = (target - camera.position) * np.array([1.0, 0.0, 1.0])
    across = np.array([-offset[2], 0.0, offset[0]]) / max(float(np.linalg.norm(offset)), 1e-6)
    base = camera.position + fraction * offset + fraction * sideways * across
    return Pole(base=(float(base[0]), 0.0, float(base[2])))


def project_joints(motion: WalkMotion, camera: PanningCamera) -> tuple[np.ndarray, np.ndarray]:
    """(joints_xy (T, 16, 2), depth (T, 16)): the MPII joints in the camera's pixels."""
    return camera.project(motion.joints)


def render_walk(
    motion: WalkMotion,
    figure: Figure,
    camera: PanningCamera,
    panorama: Panorama,
    lighting: Lighting,
    view: ViewCovariates,
    pole: Pole | None,
    rng: np.random.Generator,
    look: Look | None = None,
    keep_silhouette: bool = False,
) -> RenderedWalk:
    """Renders every frame of `motion` through `camera`.

    `rng` draws the sensor noise (the view's generator). `look` None renders the standard
    style; a Look renders the shifted style (its patterns, shading, grade and camera; the
    panorama and the figure's outfit must come from the same style). `keep_silhouette`
    also returns the figure's pixels.
    """
    frames_total, size = motion.frames, camera.size
    rotation = camera.rotation()  # (T, 3, 3) world -> camera
    joints_xy, joint_depth = camera.project(motion.joints)

    cap_a = np.einsum("tij,tnj->tni", rotation, figure.capsule_a - camera.position)
    cap_b = np.einsum("tij,tnj->tni", rotation, figure.capsule_b - camera.position)
    radii = figure.capsule_radius
    materials = figure.capsule_material
    albedo = figure.albedo
    stripe_period, stripe_contrast = figure.stripe_period, figure.stripe_contrast
    if pole is not None:
        base = np.array(pole.base)
        top = base + np.array([0.0, pole.height, 0.0])
        pole_a = np.einsum("tij,j->ti", rotation, base - camera.position)[:, None]
        pole_b = np.einsum("tij,j->ti", rotation, top - camera.position)[:, None]
        cap_a = np.concatenate([cap_a, pole_a], axis=1)
        cap_b = np.concatenate([cap_b, pole_b], axis=1)
        radii = np.concatenate([radii, [[POLE_RADIUS, POLE_RADIUS]]])
        materials = np.concatenate([materials, [len(albedo)]]).astype(np.int16)
        albedo = np.concatenate([albedo, [POLE_ALBEDO]])
        stripe_period = np.concatenate([stripe_period, [0.0]])
        stripe_contrast = np.concatenate([stripe_contrast, [0.0]])
    ell_centre = np.einsum("tij,tnj->tni", rotation, figure.ellipsoid_centre - camera.position)
    ell_rotation = np.einsum("tij,tnjk->tnik", rotation, figure.ellipsoid_rotation)
    light_camera = rotation @ np.asarray(lighting.direction)  # (T, 3)
    albedo255 = (255.0 * albedo * np.asarray(lighting.tint)[None, :]).astype(np.float32)
    tint = np.asarray(lighting.tint, dtype=np.float32)

    # Shadow blobs: under each foot, and the body's shadow thrown away from the light
    # (knees, pelvis, thorax and head projected along the light onto the ground).
    away = -np.array([lighting.direction[0], 0.0, lighting.direction[2]])
    away /= max(float(np.linalg.norm(away)), 1e-6)
    reach = 1.0 / max(np.tan(np.arcsin(lighting.direction[1])), 0.3)
    casters = motion.joints[:, [ANKLE[0], ANKLE[1], KNEE[0], KNEE[1], PELVIS, THORAX, HEAD_TOP]]
    ground = casters + away * casters[..., 1:2] * reach
    ground[..., 1] = 0.0
    scale = float(motion.joints[0, HEAD_TOP, 1]) / 1.7
    blob_radii = np.array([0.12, 0.12, 0.12, 0.12, 0.18, 0.18, 0.13]) * scale

    noise_bank = _noise_bank(rng, size, view.noise) if look is None else None
    developer = Developer(look, size, rng) if look is not None else None
    blur_sigma = view.blur * size
    figure_materials = len(figure.albedo)

    out = np.empty((frames_total, size, size, 3), dtype=np.uint8)
    visible = np.zeros((frames_total, 16), dtype=bool)
    silhouette = np.zeros((frames_total, size, size), dtype=bool) if keep_silhouette else None
    chunk = max(1, CHUNK_PIXELS // (size * size))
    for start in range(0, frames_total, chunk):
        frames = np.arange(start, min(start + chunk, frames_total))
        buffers = RasterBuffers.empty(len(frames), size, surface=look is not None)
        lights = Lights(direction=light_camera[frames], ambient=lighting.ambient)
        for i in range(cap_a.shape[1]):
            m = int(materials[i])
            draw_capsule(buffers, cap_a[frames, i], cap_b[frames, i], radii[i, 0], radii[i, 1], m, camera.focal, lights,
                         stripe_period[m], stripe_contrast[m])
        for i in range(ell_centre.shape[1]):
            m = int(figure.ellipsoid_material[i])
            draw_ellipsoid(buffers, ell_centre[frames, i], ell_rotation[frames, i], figure.ellipsoid_axes[i], m,
                           camera.focal, lights, stripe_period[m], stripe_contrast[m])
        visible[frames] = _visibility(buffers.depth, joints_xy[frames], joint_depth[frames], figure.joint_tolerance)

        image = panorama.backgrounds(camera.yaw[frames]).astype(np.float32)
        image *= tint
        image *= shadow_factor(camera, frames, ground[frames], blob_radii, lighting.shadow_strength)[..., None]
        body = buffers.material >= 0
        if silhouette is not None:
            silhouette[frames] = body & (buffers.material < figure_materials)
        if developer is not None:
            pixels = np.flatnonzero(body)
            image.reshape(-1, 3)[pixels] = shade_surface(look.walk, buffers, pixels, albedo255, tint, light_camera[frames],
                                                         lighting.ambient)
            out[frames] = developer.develop(image, buffers, blur_sigma)
            continue
        image[body] = albedo255[buffers.material[body]] * buffers.shade[body][:, None]
        if noise_bank is not None:
            for k, f in enumerate(frames):
                tile = noise_bank[int(rng.integers(len(noise_bank)))]
                dy, dx = rng.integers(0, tile.shape[0] - size + 1, size=2)
                image[k] += tile[dy:dy + size, dx:dx + size]
        np.clip(image, 0, 255, out=image)
        pixels = image.astype(np.uint8)
        if blur_sigma > 0.3:
            for k in range(len(frames)):
                pixels[k] = cv2.GaussianBlur(pixels[k], (0, 0), blur_sigma)
        out[frames] = pixels
    return RenderedWalk(frames=out, joints_xy=joints_xy, visible=visible, silhouette=silhouette)


def _visibility(depth: np.ndarray, joints_xy: np.ndarray, joint_depth: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """(Tc, 16) bool: in the frame and not behind another surface (depth (Tc, H, W))."""
    frames, size, _ = depth.shape
    px = np.rint(joints_xy[..., 0]).astype(np.int64)
    py = np.rint(joints_xy[..., 1]).astype(np.int64)
    inside = (px >= 0) & (px < size) & (py >= 0) & (py < size) & (joint_depth > 0)
    pxc, pyc = np.clip(px, 0, size - 1), np.clip(py, 0, size - 1)
    surface = depth[np.arange(frames)[:, None], pyc, pxc]
    return inside & (surface >= joint_depth - tolerance[None, :])


def _noise_bank(rng: np.random.Generator, size: int, sd: float, tiles: int = 4) -> np.ndarray | None:
    """A few noise images larger than the frame; each frame takes a random crop of one."""
    if sd <= 0.05:
        return None
    return (sd * rng.standard_normal((tiles, size + 16, size + 16, 3))).astype(np.float32)
