"""The z-buffer rasteriser and the scene: depth order, coverage, shading, backgrounds."""

from __future__ import annotations

import numpy as np

from synth.raster import Lights, RasterBuffers, draw_capsule, draw_ellipsoid

SIZE = 64
FOCAL = 100.0
LIGHTS = Lights(direction=np.array([[0.0, 0.0, -1.0]]), ambient=0.3)  # light from the camera
IDENTITY = np.eye(3)[None]


def _sphere(buffers, centre, radius, material):
    draw_ellipsoid(buffers, np.array([centre], dtype=float), IDENTITY, np.array([radius] * 3), material, FOCAL, LIGHTS)


def test_ellipsoid_covers_its_projected_disc_and_is_brightest_facing_the_light():
    buffers = RasterBuffers.empty(1, SIZE)
    _sphere(buffers, (0.0, 0.0, 5.0), 0.5, material=3)
    covered = buffers.material[0] == 3
    # A sphere of radius 0.5 at depth 5 projects to a disc of radius about f * r / z = 10 px.
    area = covered.sum()
    assert abs(area - np.pi * 10.05**2) < 0.08 * np.pi * 10**2
    centre = (SIZE - 1) / 2
    assert covered[int(centre), int(centre)] and not covered[0, 0]
    assert buffers.depth[0, 31, 31] == np.float32(buffers.depth[0][covered].min()) or buffers.depth[0, 31, 31] < 4.6
    assert buffers.shade[0, 31, 31] > 0.95 and buffers.shade[0][covered].min() < 0.6


def test_nearer_primitive_wins_whatever_the_drawing_order():
    for order in (0, 1):
        buffers = RasterBuffers.empty(1, SIZE)
        def near():
            _sphere(buffers, (0.0, 0.0, 4.0), 0.3, material=1)

        def far():
            draw_capsule(buffers, np.array([[-1.0, 0.0, 5.0]]), np.array([[1.0, 0.0, 5.0]]), 0.3, 0.3, 2, FOCAL, LIGHTS)

        for draw in ((near, far) if order == 0 else (far, near)):
            draw()
        assert buffers.material[0, 31, 31] == 1
        assert buffers.material[0, 31, 14] == 2  # the capsule shows beside the sphere


def test_capsule_tapers_and_ends_round():
    buffers = RasterBuffers.empty(1, SIZE)
    draw_capsule(buffers, np.array([[0.0, -1.0, 5.0]]), np.array([[0.0, 1.0, 5.0]]), 0.4, 0.1, 0, FOCAL, LIGHTS)
    covered = buffers.material[0] == 0
    widths = covered.sum(axis=1)
    top, bottom = int((SIZE - 1) / 2 - 18), int((SIZE - 1) / 2 + 18)
    assert widths[top] > widths[bottom] > 0  # wide end at a (above), narrow at b (below)
    assert covered[:, 31].sum() > 40  # about 2 m + radii at 20 px/m


def test_primitives_behind_the_camera_or_off_frame_draw_nothing():
    buffers = RasterBuffers.empty(1, SIZE)
    _sphere(buffers, (0.0, 0.0, -3.0), 0.5, material=0)
    _sphere(buffers, (40.0, 0.0, 5.0), 0.5, material=0)
    assert (buffers.material == -1).all()


def test_chunk_of_frames_draws_each_frame_where_its_primitive_is():
    buffers = RasterBuffers.empty(3, SIZE)
    centres = np.array([[-1.0, 0.0, 5.0], [0.0, 0.0, 5.0], [1.0, 0.0, 5.0]])
    lights = Lights(direction=np.repeat(LIGHTS.direction, 3, axis=0), ambient=0.3)
    draw_ellipsoid(buffers, centres, np.repeat(IDENTITY, 3, axis=0), np.array([0.3, 0.3, 0.3]), 4, FOCAL, lights)
    columns = [np.flatnonzero((buffers.material[t] == 4).any(axis=0)).mean() for t in range(3)]
    assert columns[0] < columns[1] < columns[2]
    assert abs(columns[1] - (SIZE - 1) / 2) < 1
