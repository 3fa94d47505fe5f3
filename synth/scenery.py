"""Procedural backgrounds and the walker's soft ground shadow.

The camera only rotates about the vertical axis through its own centre, so what it sees in a
direction never changes: the background is ray-cast once per camera into a panorama over
(azimuth, elevation), and every frame is a gather from it with the yaw turned into a column
shift. The scene: a textured ground plane, a cylindrical wall of panels around the walk,
and sky above.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synth.camera import PanningCamera

GROUND_KINDS = ("tiles", "grass", "asphalt")


@dataclasses.dataclass(frozen=True)
class SceneStyle:
    """One walk's surroundings (drawn per walk, independent of the person)."""

    ground_kind: str
    ground_colour: tuple[float, float, float]
    ground_contrast: float
    tile_size: float  # metres
    wall_radius: float  # metres from the walk's centre
    wall_height: float
    panel_width: float
    wall_colours: tuple[tuple[float, float, float], ...]
    sky_top: tuple[float, float, float]
    sky_bottom: tuple[float, float, float]
    texture_seed: int

    def to_json(self) -> dict:
        return {"ground": self.ground_kind, "wall_radius_m": round(self.wall_radius, 2)}


def sample_scene_style(rng: np.random.Generator) -> SceneStyle:
    def colour(low=0.15, high=0.85, spread=0.25):
        base = rng.uniform(low, high)
        return tuple(float(np.clip(base + spread * (rng.random() - 0.5), 0.0, 1.0)) for _ in range(3))

    kind = GROUND_KINDS[int(rng.integers(len(GROUND_KINDS)))]
    if kind == "tiles":
        ground = colour(0.3, 0.75)
    elif kind == "grass":
        ground = (0.2 + 0.15 * rng.random(), 0.35 + 0.25 * rng.random(), 0.12 + 0.1 * rng.random())
    else:
        ground = colour(0.2, 0.45, 0.06)
    return SceneStyle(
        ground_kind=kind,
        ground_colour=tuple(float(x) for x in ground),
        ground_contrast=float(rng.uniform(0.05, 0.25)),
        tile_size=float(rng.uniform(0.3, 1.2)),
        wall_radius=float(rng.uniform(9.0, 20.0)),
        wall_height=float(rng.uniform(2.5, 8.0)),
        panel_width=float(rng.uniform(0.6, 3.0)),
        wall_colours=tuple(colour() for _ in range(int(rng.integers(2, 6)))),
        sky_top=(float(rng.uniform(0.35, 0.6)), float(rng.uniform(0.5, 0.75)), float(rng.uniform(0.75, 0.98))),
        sky_bottom=(float(rng.uniform(0.7, 0.9)),) * 2 + (float(rng.uniform(0.8, 0.98)),),
        texture_seed=int(rng.integers(2**31)),
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Panorama:
    """A camera's background over its whole pan.

    Attributes:
      image: (Hp * Wp, 3) uint8, the panorama flattened row-major.
      width: Wp.
      index0: (size, size) int64 flat index of each pixel at yaw `yaw0`.
      columns_per_radian: panorama columns per radian of yaw.
      yaw0: radians.
    """

    image: np.ndarray
    width: int
    index0: np.ndarray
    columns_per_radian: float
    yaw0: float

    def backgrounds(self, yaw: np.ndarray) -> np.ndarray:
        """(Tc, size, size, 3) uint8 backgrounds at camera yaws `yaw` (Tc,)."""
        shift = np.rint((np.asarray(yaw) - self.yaw0) * self.columns_per_radian).astype(np.int64)
        return np.take(self.image, self.index0[None] + shift[:, None, None], axis=0)


def make_panorama(style: SceneStyle, camera: PanningCamera, walk_centre: np.ndarray) -> Panorama:
    """Ray-casts the scene around `walk_centre` (3,) for every direction `camera` looks."""
    size = camera.size
    c = camera.centre
    k = camera.focal  # columns per radian: about one pixel per pixel at the image centre
    grid = (np.arange(size) - c) / camera.focal
    gx, gy = np.meshgrid(grid, grid)
    # Ray directions at yaw 0 in (forward, up, right-of-yaw-0) world terms.
    cp, sp = np.cos(camera.pitch), np.sin(camera.pitch)
    fwd = cp - sp * gy  # along the yaw-0 forward, ground component
    up = -sp - cp * gy
    side = gx
    azimuth0 = np.arctan2(side, fwd)
    elevation = np.arctan2(up, np.hypot(fwd, side))
    yaw0 = float(camera.yaw[0])
    yaw_span = (float(camera.yaw.min()) - yaw0, float(camera.yaw.max()) - yaw0)
    a_lo = azimuth0.min() + yaw_span[0] - 2 / k
    a_hi = azimuth0.max() + yaw_span[1] + 2 / k
    e_lo, e_hi = elevation.min() - 2 / k, elevation.max() + 2 / k
    cols = int(np.ceil((a_hi - a_lo) * k)) + 1
    rows = int(np.ceil((e_hi - e_lo) * k)) + 1
    az = yaw0 + a_lo + np.arange(cols) / k
    el = e_hi - np.arange(rows) / k  # top row first
    image = _shade_directions(style, camera.position, walk_centre, az, el)
    col0 = np.rint((azimuth0 - a_lo) * k).astype(np.int64)
    row0 = np.rint((e_hi - elevation) * k).astype(np.int64)
    return Panorama(image=image.reshape(-1, 3), width=cols, index0=row0 * cols + col0, columns_per_radian=k, yaw0=yaw0)


def _shade_directions(
    style: SceneStyle, eye: np.ndarray, centre: np.ndarray, azimuth: np.ndarray, elevation: np.ndarray
) -> np.ndarray:
    """(rows, cols, 3) uint8 colour of the scene seen from `eye` along (elevation x azimuth)."""
    rng = np.random.default_rng(style.texture_seed)
    ce = np.cos(elevation)[:, None]
    dx = ce * np.cos(azimuth)[None, :]
    dz = ce * np.sin(azimuth)[None, :]
    dy = np.broadcast_to(np.sin(elevation)[:, None], dx.shape)
    out = np.empty(dx.shape + (3,), dtype=np.float32)
    # Wall: the cylinder of radius R about the walk's centre.
    ox, oz = eye[0] - centre[0], eye[2] - centre[2]
    radius = max(style.wall_radius, float(np.hypot(ox, oz)) + 4.0)  # the camera stands inside
    a = dx * dx + dz * dz + 1e-12
    b = ox * dx + oz * dz
    cc = ox * ox + oz * oz - radius**2
    wall_t = (-b + np.sqrt(np.maximum(b * b - a * cc, 0.0))) / a
    wall_y = eye[1] + wall_t * dy
    ground_t = np.where(dy < -1e-6, -eye[1] / np.minimum(dy, -1e-6), np.inf)
    on_ground = ground_t < wall_t
    on_wall = ~on_ground & (wall_y < style.wall_height)
    sky = ~on_ground & ~on_wall

    gx = ox + ground_t * dx
    gz = oz + ground_t * dz
    table = rng.random((64, 64)).astype(np.float32) - 0.5
    base = np.array(style.ground_colour, dtype=np.float32)
    if style.ground_kind == "tiles":
        ix = np.floor(gx[on_ground] / style.tile_size).astype(np.int64) % 64
        iz = np.floor(gz[on_ground] / style.tile_size).astype(np.int64) % 64
        grout = (np.minimum(np.mod(gx[on_ground], style.tile_size), np.mod(gz[on_ground], style.tile_size)) < 0.03)
        value = 1.0 + style.ground_contrast * table[ix, iz] - 0.35 * grout
    else:
        scale = 0.08 if style.ground_kind == "grass" else 0.15
        ix = np.floor(gx[on_ground] / scale).astype(np.int64) % 64
        iz = np.floor(gz[on_ground] / scale).astype(np.int64) % 64
        coarse = table[(ix // 8) * 7 % 64, (iz // 8) * 5 % 64]
        value = 1.0 + style.ground_contrast * (table[ix, iz] + coarse)
    # Far ground fades towards the haze of the sky's bottom.
    haze = np.clip(ground_t[on_ground] / (2.5 * radius), 0.0, 0.6)[:, None]
    out[on_ground] = (1 - haze) * base * value[:, None] + haze * np.array(style.sky_bottom, dtype=np.float32)

    wx = ox + wall_t * dx
    wz = oz + wall_t * dz
    around = np.arctan2(wz[on_wall], wx[on_wall]) * radius
    panel = np.floor(around / style.panel_width).astype(np.int64)
    level = np.floor(wall_y[on_wall] / 1.3).astype(np.int64)
    palette = np.array(style.wall_colours, dtype=np.float32)
    colour = palette[(panel * 7 + level * 3) % len(palette)]
    window = (np.mod(around, style.panel_width) > 0.25 * style.panel_width) & (np.mod(wall_y[on_wall], 1.3) > 0.5)
    window &= table[panel % 64, level % 64] > 0.1
    shade = 1.0 + 0.5 * style.ground_contrast * table[(panel * 3) % 64, (level * 5) % 64] - 0.45 * window
    out[on_wall] = colour * shade[:, None]

    height = np.clip(dy[sky], 0.0, 1.0)[:, None]
    out[sky] = (1 - height) * np.array(style.sky_bottom, dtype=np.float32) + height * np.array(style.sky_top, dtype=np.float32)
    return np.clip(out * 255.0, 0, 255).astype(np.uint8)


def shadow_factor(
    camera: PanningCamera, frames: np.ndarray, ground_points: np.ndarray, radii: np.ndarray, strength: float
) -> np.ndarray:
    """(Tc, size, size) float32 multiplier (<= 1) darkening the ground under the walker.

    Args:
      camera: the walk's camera.
      frames: (Tc,) frame numbers of the chunk.
      ground_points: (Tc, K, 3) centres of soft shadow blobs on the ground (world).
      radii: (K,) blob radii, metres.
      strength: darkness at a blob's centre.
    """
    size = camera.size
    chunk = PanningCamera(camera.position, camera.yaw[frames], camera.pitch, camera.focal, size)
    xy, depth = chunk.project(ground_points)
    visible = depth > 0.3
    rx = camera.focal * radii[None, :] / np.maximum(depth, 0.3)
    # A disc on the ground seen at a grazing angle is squashed vertically.
    horizontal = np.linalg.norm((ground_points - camera.position)[..., [0, 2]], axis=-1)
    ry = rx * np.maximum(camera.position[1] / np.maximum(horizontal, 1e-3), 0.08)
    pixels = np.arange(size, dtype=np.float32)
    gx = np.exp(-0.5 * ((pixels[None, None, :] - xy[..., 0:1]) / rx[..., None]) ** 2).astype(np.float32)  # (Tc, K, W)
    gy = np.exp(-0.5 * ((pixels[None, None, :] - xy[..., 1:2]) / ry[..., None]) ** 2).astype(np.float32)  # (Tc, K, H)
    gy *= visible[..., None]
    blobs = np.matmul(gy.transpose(0, 2, 1), gx)  # (Tc, H, W)
    np.minimum(blobs, 1.0, out=blobs)
    return 1.0 - strength * blobs
