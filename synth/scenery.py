"""Procedural backgrounds and the walker's soft ground shadow.

The camera only rotates about the vertical axis through its own centre, so what it sees in a
direction never changes: the background is ray-cast once per camera into a panorama over
(azimuth, elevation), and every frame is a gather from it with the yaw turned into a column
shift. The scene: a textured ground plane, a cylindrical wall of panels around the walk,
and sky above.
"""

from __future__ import annotations

import colorsys
import dataclasses

import numpy as np

from synth.camera import PanningCamera

GROUND_KINDS = ("tiles", "grass", "asphalt")
# The shifted style's surroundings: families the standard style never draws.
SHIFTED_FAMILIES = ("bricks", "park", "studio", "night")


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


@dataclasses.dataclass(frozen=True)
class ShiftedSceneStyle:
    """One walk's surroundings in the shifted style (drawn per walk, independent of the person).

    Families: "bricks" (checkerboard ground, brick wall, sunset sky), "park" (dirt ground,
    an uneven hedge, overcast clouds), "studio" (a floor before a backdrop of broad diagonal
    bands), "night" (dark ground under lamp pools, dark walls with lit windows, stars).

    Attributes:
      family: one of SHIFTED_FAMILIES.
      colours: the family's palette, in the order its shading reads them.
      scale: metres of the family's main pattern (checks, bricks, bands, lamp spacing).
      wall_radius: metres from the walk's centre.
      wall_height: metres.
      texture_seed: the texture draws.
    """

    family: str
    colours: tuple[tuple[float, float, float], ...]
    scale: float
    wall_radius: float
    wall_height: float
    texture_seed: int

    def to_json(self) -> dict:
        return {"family": self.family, "wall_radius_m": round(self.wall_radius, 2)}


def sample_shifted_scene(rng: np.random.Generator) -> ShiftedSceneStyle:
    """Draws shifted-style surroundings."""
    def hsv(h, s, v):
        return tuple(float(x) for x in colorsys.hsv_to_rgb(float(h) % 1.0, float(s), float(v)))

    family = SHIFTED_FAMILIES[int(rng.integers(len(SHIFTED_FAMILIES)))]
    hue = rng.random()
    if family == "bricks":
        colours = (
            hsv(hue, rng.uniform(0.7, 1.0), rng.uniform(0.75, 0.95)),  # checks
            hsv(hue + 0.5, rng.uniform(0.7, 1.0), rng.uniform(0.2, 0.45)),
            hsv(rng.uniform(-0.02, 0.07), rng.uniform(0.5, 0.8), rng.uniform(0.35, 0.6)),  # bricks
            hsv(0.1, 0.05, rng.uniform(0.75, 0.9)),  # mortar
            hsv(rng.uniform(0.02, 0.1), rng.uniform(0.6, 0.8), 1.0),  # sunset, low
            hsv(rng.uniform(0.72, 0.85), rng.uniform(0.5, 0.8), rng.uniform(0.3, 0.5)),  # sunset, high
        )
        scale = rng.uniform(0.5, 1.2)
    elif family == "park":
        autumn = rng.random() < 0.5
        leaf = rng.uniform(0.02, 0.12) if autumn else rng.uniform(0.22, 0.38)
        colours = (
            hsv(rng.uniform(0.06, 0.11), rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.45)),  # dirt
            hsv(rng.uniform(0.08, 0.14), rng.uniform(0.2, 0.5), rng.uniform(0.55, 0.75)),
            hsv(leaf, rng.uniform(0.7, 1.0), rng.uniform(0.25, 0.45)),  # leaves
            hsv(leaf + 0.05, rng.uniform(0.6, 0.9), rng.uniform(0.6, 0.85)),
            hsv(0.6, 0.05, rng.uniform(0.85, 0.97)),  # clouds
            hsv(0.6, 0.1, rng.uniform(0.5, 0.65)),
        )
        scale = rng.uniform(0.25, 0.5)
    elif family == "studio":
        colours = (
            hsv(hue, rng.uniform(0.75, 1.0), rng.uniform(0.8, 1.0)),  # bands
            hsv(hue + rng.uniform(0.25, 0.5), rng.uniform(0.75, 1.0), rng.uniform(0.6, 1.0)),
            hsv(hue + rng.uniform(-0.1, 0.1), rng.uniform(0.1, 0.4), rng.uniform(0.6, 0.9)),  # floor
        )
        scale = rng.uniform(0.6, 1.6)
    else:
        colours = (
            hsv(0.6, 0.2, rng.uniform(0.05, 0.1)),  # asphalt
            hsv(rng.uniform(0.08, 0.14), rng.uniform(0.4, 0.8), 1.0),  # lamp light
            hsv(rng.uniform(0.1, 0.15), rng.uniform(0.4, 0.7), 1.0),  # windows
            hsv(rng.uniform(0.45, 0.95), rng.uniform(0.6, 1.0), 1.0),
            hsv(0.65, 0.7, rng.uniform(0.05, 0.15)),  # sky
        )
        scale = rng.uniform(4.0, 8.0)
    return ShiftedSceneStyle(
        family=family,
        colours=colours,
        scale=float(scale),
        wall_radius=float(rng.uniform(8.0, 18.0)),
        wall_height=float(rng.uniform(2.0, 6.0)),
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


def make_panorama(style: SceneStyle | ShiftedSceneStyle, camera: PanningCamera, walk_centre: np.ndarray) -> Panorama:
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
    if isinstance(style, ShiftedSceneStyle):
        image = _shade_shifted(style, camera.position, walk_centre, az, el)
    else:
        image = _shade_directions(style, camera.position, walk_centre, az, el)
    col0 = np.rint((azimuth0 - a_lo) * k).astype(np.int64)
    row0 = np.rint((e_hi - elevation) * k).astype(np.int64)
    return Panorama(image=image.reshape(-1, 3), width=cols, index0=row0 * cols + col0, columns_per_radian=k, yaw0=yaw0)


def _wall_or_ground(eye, centre, dx, dy, dz, wall_radius: float):
    """Where each viewing ray meets the scene: the wall, a cylinder about the walk's centre, or the
    ground plane y = 0. Returns (ox, oz, radius, wall_t, wall_y, ground_t, on_ground)."""
    ox, oz = eye[0] - centre[0], eye[2] - centre[2]
    radius = max(wall_radius, float(np.hypot(ox, oz)) + 4.0)  # the camera stands inside
    a = dx * dx + dz * dz + 1e-12
    b = ox * dx + oz * dz
    cc = ox * ox + oz * oz - radius**2
    wall_t = (-b + np.sqrt(np.maximum(b * b - a * cc, 0.0))) / a
    wall_y = eye[1] + wall_t * dy
    ground_t = np.where(dy < -1e-6, -eye[1] / np.minimum(dy, -1e-6), np.inf)
    return ox, oz, radius, wall_t, wall_y, ground_t, ground_t < wall_t


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
    ox, oz, radius, wall_t, wall_y, ground_t, on_ground = _wall_or_ground(eye, centre, dx, dy, dz, style.wall_radius)
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


def _shade_shifted(
    style: ShiftedSceneStyle, eye: np.ndarray, centre: np.ndarray, azimuth: np.ndarray, elevation: np.ndarray
) -> np.ndarray:
    """(rows, cols, 3) uint8: the shifted style's scene seen from `eye` (as _shade_directions)."""
    rng = np.random.default_rng(style.texture_seed)
    table = rng.random((64, 64)).astype(np.float32)
    ce = np.cos(elevation)[:, None]
    dx = ce * np.cos(azimuth)[None, :]
    dz = ce * np.sin(azimuth)[None, :]
    dy = np.broadcast_to(np.sin(elevation)[:, None], dx.shape)
    ox, oz, radius, wall_t, wall_y, ground_t, on_ground = _wall_or_ground(eye, centre, dx, dy, dz, style.wall_radius)
    around = np.arctan2(oz + wall_t * dz, ox + wall_t * dx) * radius  # metres along the wall
    if style.family == "park":
        top = style.wall_height * (0.6 + 0.8 * _value_noise(table, around / 2.5, np.zeros_like(around) + 3.5, 2))
    elif style.family == "studio":
        top = np.full_like(around, np.inf)
    else:
        top = np.full_like(around, style.wall_height)
    on_wall = ~on_ground & (wall_y < top)
    sky = ~on_ground & ~on_wall
    colours = np.array(style.colours, dtype=np.float32)
    out = np.empty(dx.shape + (3,), dtype=np.float32)
    gx = (ox + ground_t * dx)[on_ground]
    gz = (oz + ground_t * dz)[on_ground]
    wa, wy = around[on_wall], wall_y[on_wall]
    el = np.broadcast_to(elevation[:, None], dx.shape)[sky]
    az = np.broadcast_to(azimuth[None, :], dx.shape)[sky]
    mix = lambda c0, c1, w: c0 + (c1 - c0) * np.asarray(w, dtype=np.float32)[:, None]  # noqa: E731
    size = style.scale

    if style.family == "bricks":
        check = (np.floor(gx / size) + np.floor(gz / size)) % 2
        out[on_ground] = mix(colours[0], colours[1], check)
        brick_h = 0.1 + 0.12 * size
        row = np.floor(wy / brick_h)
        along = wa + 0.5 * (row % 2) * 2.2 * brick_h
        col = np.floor(along / (2.2 * brick_h))
        mortar = (np.mod(wy, brick_h) < 0.02) | (np.mod(along, 2.2 * brick_h) < 0.02)
        vary = 0.75 + 0.5 * table[col.astype(np.int64) & 63, row.astype(np.int64) & 63]
        out[on_wall] = np.where(mortar[:, None], colours[3], colours[2] * vary[:, None])
        out[sky] = mix(colours[4], colours[5], np.clip(1.6 * np.sin(el), 0.0, 1.0))
    elif style.family == "park":
        dirt = _value_noise(table, gx / 0.7, gz / 0.7, 3)
        grit = table[np.floor(gx / 0.04).astype(np.int64) & 63, np.floor(gz / 0.04).astype(np.int64) & 63]
        out[on_ground] = mix(colours[0], colours[1], dirt) * (0.85 + 0.3 * grit)[:, None]
        leaves = _value_noise(table, wa / size, wy / size, 3)
        out[on_wall] = mix(colours[2], colours[3], leaves) * np.where(leaves < 0.4, 0.45, 1.0)[:, None]
        clouds = _value_noise(table, az * 4.0, el * 9.0 + 11.0, 4)
        out[sky] = mix(colours[5], colours[4], np.clip(1.6 * clouds - 0.3, 0.0, 1.0))
    elif style.family == "studio":
        falloff = np.clip(np.hypot(gx, gz) / radius, 0.0, 1.0)
        out[on_ground] = colours[2] * (1.0 - 0.45 * falloff)[:, None]
        band = np.floor((wa + wy) / size) % 2
        out[on_wall] = mix(colours[0], colours[1], band)
        out[sky] = colours[0]
    else:  # night
        spacing = size
        pool = np.hypot(np.mod(gx, spacing) - 0.5 * spacing, gz - 1.5)
        light = np.exp(-0.5 * (pool / (0.3 * spacing)) ** 2)
        grain = table[np.floor(gx / 0.1).astype(np.int64) & 63, np.floor(gz / 0.1).astype(np.int64) & 63]
        out[on_ground] = colours[0] * (0.8 + 0.4 * grain)[:, None] + 0.8 * light[:, None] * colours[1]
        cell_x, cell_y = np.floor(wa / 1.4).astype(np.int64), np.floor(wy / 1.3).astype(np.int64)
        lit = table[cell_x & 63, (cell_y * 7) & 63]
        window = (np.mod(wa, 1.4) > 0.4) & (np.mod(wy, 1.3) > 0.45) & (lit > 0.45)
        glow = np.where((lit > 0.8)[:, None], colours[3], colours[2])
        out[on_wall] = np.where(window[:, None], 0.9 * glow, 0.6 * colours[0])
        star = table[np.floor(az * 150).astype(np.int64) & 63, np.floor(el * 150 * 1.7).astype(np.int64) & 63]
        star2 = table[np.floor(az * 37).astype(np.int64) & 63, np.floor(el * 53).astype(np.int64) & 63]
        out[sky] = colours[4] + ((star > 0.985) & (star2 > 0.5)).astype(np.float32)[:, None] * 0.9
    return np.clip(out * 255.0, 0, 255).astype(np.uint8)


def _value_noise(table: np.ndarray, x: np.ndarray, y: np.ndarray, octaves: int = 1) -> np.ndarray:
    """Smooth value noise in [0, 1] at (x, y) (same shapes) from a (64, 64) table in [0, 1)."""
    total = np.zeros(np.shape(x), dtype=np.float32)
    weight, norm = 1.0, 0.0
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for _ in range(octaves):
        ix, iy = np.floor(x), np.floor(y)
        fx, fy = (x - ix).astype(np.float32), (y - iy).astype(np.float32)
        ix, iy = ix.astype(np.int64), iy.astype(np.int64)
        sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
        v00, v10 = table[ix & 63, iy & 63], table[(ix + 1) & 63, iy & 63]
        v01, v11 = table[ix & 63, (iy + 1) & 63], table[(ix + 1) & 63, (iy + 1) & 63]
        total += weight * (v00 + (v10 - v00) * sx + (v01 - v00) * sy + (v00 - v10 - v01 + v11) * sx * sy)
        norm += weight
        weight *= 0.5
        x, y = 2.03 * x + 17.1, 2.03 * y + 5.3
    return total / norm
