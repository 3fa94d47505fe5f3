"""A z-buffer rasteriser of capsules and ellipsoids in camera coordinates.

Each primitive is drawn for a chunk of frames at once inside its own screen bounding box
(one box size for the chunk, placed per frame), so numpy's per-call overhead is paid per
primitive and chunk, not per pixel or frame. Ellipsoids are ray-cast exactly; capsules
(tapered, sphere-swept segments) are drawn in screen space, exact for a segment parallel to
the image plane and a close approximation for the small depth ranges of a limb.

Camera coordinates: x right, y down, z forward; pixel (x, y) looks along
((x - c) / f, (y - c) / f, 1) with c = (size - 1) / 2.
"""

from __future__ import annotations

import dataclasses

import numpy as np

NEAR = 0.05  # metres; parts closer to the camera than this are not drawn


@dataclasses.dataclass(eq=False)
class RasterBuffers:
    """The per-pixel result for a chunk of Tc frames of `size` x `size` pixels.

    Attributes:
      depth: (Tc, size, size) float32 camera depth of the nearest surface, inf where empty.
      material: (Tc, size, size) int16 material of that surface, -1 where empty.
      shade: (Tc, size, size) float32 lighting x pattern factor of that surface.
      normal: (3, Tc, size, size) float32 unit surface normal (camera coordinates) of that
        surface, one plane per axis, or None when not kept (see `empty`).
      uv: (2, Tc, size, size) float32 surface coordinates in metres (along the part, around
        it) of that surface, or None when not kept.
    """

    depth: np.ndarray
    material: np.ndarray
    shade: np.ndarray
    normal: np.ndarray | None = None
    uv: np.ndarray | None = None

    @classmethod
    def empty(cls, frames: int, size: int, surface: bool = False) -> "RasterBuffers":
        """Empty buffers; `surface` also keeps each pixel's normal and surface coordinates
        (for shading and texturing after rasterisation, as the shifted style does)."""
        return cls(
            depth=np.full((frames, size, size), np.inf, dtype=np.float32),
            material=np.full((frames, size, size), -1, dtype=np.int16),
            shade=np.zeros((frames, size, size), dtype=np.float32),
            normal=np.zeros((3, frames, size, size), dtype=np.float32) if surface else None,
            uv=np.zeros((2, frames, size, size), dtype=np.float32) if surface else None,
        )


@dataclasses.dataclass(frozen=True)
class Lights:
    """Lighting of a chunk: `direction` (Tc, 3) unit vectors towards the light in camera
    coordinates; the `ambient` share of brightness (the rest is Lambertian)."""

    direction: np.ndarray
    ambient: float


def draw_capsule(
    buffers: RasterBuffers,
    a: np.ndarray,
    b: np.ndarray,
    radius_a: float,
    radius_b: float,
    material: int,
    focal: float,
    lights: Lights,
    stripe_period: float = 0.0,
    stripe_contrast: float = 0.0,
) -> None:
    """Draws a tapered capsule from `a` to `b` ((Tc, 3) camera coordinates) into `buffers`."""
    frames_total, size, _ = buffers.depth.shape
    centre = (size - 1) / 2.0
    ok = (a[:, 2] > NEAR) & (b[:, 2] > NEAR)
    za = np.where(ok, a[:, 2], 1.0)
    zb = np.where(ok, b[:, 2], 1.0)
    ax, ay = centre + focal * a[:, 0] / za, centre + focal * a[:, 1] / za
    bx, by = centre + focal * b[:, 0] / zb, centre + focal * b[:, 1] / zb
    ra, rb = focal * radius_a / za, focal * radius_b / zb
    x_lo = np.floor(np.minimum(ax - ra, bx - rb))
    x_hi = np.ceil(np.maximum(ax + ra, bx + rb))
    y_lo = np.floor(np.minimum(ay - ra, by - rb))
    y_hi = np.ceil(np.maximum(ay + ra, by + rb))
    box = _boxes(ok, x_lo, x_hi, y_lo, y_hi, size)
    if box is None:
        return
    frames, x0, y0, width, height = box
    ax, ay, bx, by, ra, rb = ax[frames], ay[frames], bx[frames], by[frames], ra[frames], rb[frames]
    za, zb = za[frames], zb[frames]
    px = (x0[:, None] + np.arange(width, dtype=np.float32))[:, None, :] - ax[:, None, None].astype(np.float32)
    py = (y0[:, None] + np.arange(height, dtype=np.float32))[:, :, None] - ay[:, None, None].astype(np.float32)
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy + 1e-6
    ux = (dx / length2).astype(np.float32)[:, None, None]
    uy = (dy / length2).astype(np.float32)[:, None, None]
    t = px * ux + py * uy
    np.clip(t, 0.0, 1.0, out=t)
    ex = px - t * dx.astype(np.float32)[:, None, None]
    ey = py - t * dy.astype(np.float32)[:, None, None]
    d2 = ex * ex
    d2 += ey * ey
    r = ra.astype(np.float32)[:, None, None] + t * (rb - ra).astype(np.float32)[:, None, None]
    r2 = r * r
    hit = np.flatnonzero(d2 < r2)
    if hit.size == 0:
        return
    per_frame = height * width
    fi, rest = np.divmod(hit, per_frame)
    yi, xi = np.divmod(rest, width)
    th = t.ravel()[hit]
    rh = r.ravel()[hit]
    cosine = np.sqrt(np.maximum(0.0, 1.0 - d2.ravel()[hit] / r2.ravel()[hit]))
    radius_world = radius_a + th * (radius_b - radius_a)
    depth = za[fi] + th * (zb[fi] - za[fi]) - radius_world * cosine
    nx = ex.ravel()[hit] / rh
    ny = ey.ravel()[hit] / rh
    light = lights.direction[frames[fi]]
    lambert = np.maximum(0.0, nx * light[:, 0] + ny * light[:, 1] - cosine * light[:, 2])
    shade = lights.ambient + (1.0 - lights.ambient) * lambert
    if stripe_period > 0:
        # Stripes across the part, counted in metres along its axis.
        length = np.linalg.norm(b[frames] - a[frames], axis=1)
        shade *= 1.0 - stripe_contrast * (np.floor(th * length[fi] / stripe_period) % 2)
    normal = uv = None
    if buffers.normal is not None:
        normal = (nx, ny, -cosine)
        # Along the axis in metres; around it, the arc from the axis's centre line as seen.
        length = np.linalg.norm(b[frames] - a[frames], axis=1)
        across = (ex.ravel()[hit] * dy[fi] - ey.ravel()[hit] * dx[fi]) / np.sqrt(length2)[fi] / rh
        uv = (th * length[fi], np.arcsin(np.clip(across, -1.0, 1.0)) * radius_world)
    _commit(buffers, frames[fi], y0[fi] + yi, x0[fi] + xi, depth, shade, material, normal, uv)


def draw_ellipsoid(
    buffers: RasterBuffers,
    centre: np.ndarray,
    rotation: np.ndarray,
    axes: np.ndarray,
    material: int,
    focal: float,
    lights: Lights,
    stripe_period: float = 0.0,
    stripe_contrast: float = 0.0,
) -> None:
    """Ray-casts an ellipsoid into `buffers`.

    Args:
      centre: (Tc, 3) camera coordinates.
      rotation: (Tc, 3, 3) columns are the ellipsoid's axes in camera coordinates.
      axes: (3,) semi-axis lengths, metres.
    """
    frames_total, size, _ = buffers.depth.shape
    c = (size - 1) / 2.0
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
    corners = centre[:, None, :] + np.einsum("tij,kj->tki", rotation, signs * axes)  # (Tc, 8, 3)
    ok = (corners[:, :, 2] > NEAR).all(axis=1)
    z = np.where(ok[:, None], corners[:, :, 2], 1.0)
    sx = c + focal * corners[:, :, 0] / z
    sy = c + focal * corners[:, :, 1] / z
    box = _boxes(ok, np.floor(sx.min(axis=1)), np.ceil(sx.max(axis=1)), np.floor(sy.min(axis=1)), np.ceil(sy.max(axis=1)), size)
    if box is None:
        return
    frames, x0, y0, width, height = box
    # Ray p = s * d (camera at the origin) in the unit-sphere frame: q = M (p - centre),
    # M = diag(1 / axes) R^T. The ray direction for pixel (X, Y) is linear in X and Y.
    m = rotation[frames].transpose(0, 2, 1) / axes[None, :, None]  # (n, 3, 3)
    origin = -np.einsum("nij,nj->ni", m, centre[frames])  # (n, 3)
    gx = (x0[:, None] + np.arange(width) - c) / focal  # (n, W)
    gy = (y0[:, None] + np.arange(height) - c) / focal  # (n, H)
    d = []
    for k in range(3):
        dx = (m[:, k, 0:1] * gx).astype(np.float32)[:, None, :]
        dy = (m[:, k, 1:2] * gy + m[:, k, 2:3]).astype(np.float32)[:, :, None]
        d.append(dx + dy)
    o = origin.astype(np.float32)
    qa = d[0] * d[0]
    qa += d[1] * d[1]
    qa += d[2] * d[2]
    qb = d[0] * o[:, 0, None, None]
    qb += d[1] * o[:, 1, None, None]
    qb += d[2] * o[:, 2, None, None]
    qc = (np.sum(origin * origin, axis=1) - 1.0).astype(np.float32)[:, None, None]
    disc = qb * qb
    disc -= qa * qc
    hit = np.flatnonzero(disc > 0)
    if hit.size == 0:
        return
    per_frame = height * width
    fi, rest = np.divmod(hit, per_frame)
    yi, xi = np.divmod(rest, width)
    a_h = qa.ravel()[hit]
    s = (-qb.ravel()[hit] - np.sqrt(disc.ravel()[hit])) / a_h  # ray parameter = camera depth
    front = s > NEAR
    if not front.all():
        fi, yi, xi, s, hit = fi[front], yi[front], xi[front], s[front], hit[front]
        if hit.size == 0:
            return
    local = origin[fi] + s[:, None] * np.stack([dk.ravel()[hit] for dk in d], axis=1)  # on the unit sphere
    normal = np.einsum("nij,nj->ni", rotation[frames[fi]], local / axes)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    lambert = np.maximum(0.0, np.sum(normal * lights.direction[frames[fi]], axis=1))
    shade = lights.ambient + (1.0 - lights.ambient) * lambert
    if stripe_period > 0:
        shade *= 1.0 - stripe_contrast * (np.floor(local[:, 1] * axes[1] / stripe_period) % 2)
    uv = None
    if buffers.normal is not None:
        # Up the ellipsoid's second axis in metres; around it, the arc at its mean radius.
        uv = (local[:, 1] * axes[1], np.arctan2(local[:, 2], local[:, 0]) * 0.5 * (axes[0] + axes[2]))
    _commit(buffers, frames[fi], y0[fi] + yi, x0[fi] + xi, s, shade, material, normal.T, uv)


def _boxes(ok, x_lo, x_hi, y_lo, y_hi, size):
    """Frames to draw and one box size for them, each box placed inside the frame.

    Returns (frames (n,), x0 (n,), y0 (n,), width, height) or None when nothing shows.
    """
    x_lo = np.clip(x_lo, 0, size - 1)
    x_hi = np.clip(x_hi, 0, size - 1)
    y_lo = np.clip(y_lo, 0, size - 1)
    y_hi = np.clip(y_hi, 0, size - 1)
    ok = ok & (x_hi > x_lo) & (y_hi > y_lo)
    frames = np.flatnonzero(ok)
    if frames.size == 0:
        return None
    x_lo, x_hi, y_lo, y_hi = x_lo[frames], x_hi[frames], y_lo[frames], y_hi[frames]
    width = int((x_hi - x_lo).max()) + 1
    height = int((y_hi - y_lo).max()) + 1
    # A box that would run off the frame slides back in; it still covers the part.
    x0 = np.minimum(x_lo, size - width).astype(np.int64)
    y0 = np.minimum(y_lo, size - height).astype(np.int64)
    return frames, x0, y0, width, height


def _commit(buffers: RasterBuffers, f, y, x, depth, shade, material: int, normal=None, uv=None) -> None:
    """Writes the fragments that are nearer than what the buffers hold (with their normals
    (3 arrays (n,)) and surface coordinates (2 arrays (n,)) where the buffers keep them)."""
    size = buffers.depth.shape[1]
    flat = (f * size + y) * size + x
    depth_flat = buffers.depth.reshape(-1)
    nearer = depth < depth_flat[flat]
    flat = flat[nearer]
    depth_flat[flat] = depth[nearer]
    buffers.material.reshape(-1)[flat] = material
    buffers.shade.reshape(-1)[flat] = shade[nearer]
    if buffers.normal is not None and normal is not None:
        for plane, values in zip(buffers.normal, normal):
            plane.reshape(-1)[flat] = values[nearer]
        for plane, values in zip(buffers.uv, uv):
            plane.reshape(-1)[flat] = values[nearer]
