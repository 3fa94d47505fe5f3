"""Multi-walker scenes: deterministic, and their ground truth agrees with the rendered pixels."""

from __future__ import annotations

import numpy as np
import pytest

from synth.scene import SceneSpec, plan_lanes, render_scene

SPEC = SceneSpec(walkers=2, frames=60, size=160, seed=0, noise=0.0)


@pytest.fixture(scope="module")
def scene():
    return render_scene(SPEC)


def test_spec_rejects_bad_values():
    for bad in ({"walkers": 1}, {"walkers": 5}, {"size": 161}, {"frames": 2}, {"fps": 0.0}, {"seed": -1}):
        with pytest.raises(ValueError):
            SceneSpec(**bad)


def test_same_seed_same_scene_other_seed_other_scene(scene):
    small = SceneSpec(walkers=2, frames=8, size=64, seed=0)
    first, second = render_scene(small), render_scene(small)
    assert np.array_equal(first.frames, second.frames)
    assert np.array_equal(first.boxes, second.boxes, equal_nan=True)
    assert not np.array_equal(first.frames, render_scene(SceneSpec(walkers=2, frames=8, size=64, seed=1)).frames)


def test_shapes(scene):
    t, s, n = SPEC.frames, SPEC.size, SPEC.walkers
    assert scene.frames.shape == (t, s, s, 3) and scene.frames.dtype == np.uint8
    assert scene.boxes.shape == scene.visible_boxes.shape == (t, n, 4)
    assert scene.pixels.shape == scene.visible_pixels.shape == scene.in_frame.shape == (t, n)
    assert scene.joints_xy.shape == (t, n, 16, 2)


def test_visible_part_lies_inside_the_whole_walker(scene):
    seen = scene.visible_pixels > 0
    assert (scene.visible_pixels <= scene.pixels).all()
    whole, part = scene.boxes[seen], scene.visible_boxes[seen]
    assert (part[:, :2] >= whole[:, :2]).all() and (part[:, 2:] <= whole[:, 2:]).all()
    unhidden = seen & (scene.visible_pixels == scene.pixels)
    assert np.array_equal(scene.boxes[unhidden], scene.visible_boxes[unhidden])


def test_boxes_hold_the_walkers_joints_and_differ_from_the_background(scene):
    inside = scene.in_frame >= 0.999
    assert inside.any()
    for t, k in zip(*np.nonzero(inside)):
        x0, y0, x1, y1 = scene.boxes[t, k]
        joints = scene.joints_xy[t, k]
        # The head_top keypoint sits on the skull, a little above the hair's drawn edge.
        slack = 0.05 * (y1 - y0)
        assert (joints[:, 0] >= x0 - slack).all() and (joints[:, 0] <= x1 + slack).all()
        assert (joints[:, 1] >= y0 - slack).all() and (joints[:, 1] <= y1 + slack).all()
        # ...and tightly: the box is not much larger than the joints' own extent.
        assert (y1 - y0) <= 1.4 * np.ptp(joints[:, 1]) + 4
    # With no sensor noise the frame outside every walker's box is the same in every frame
    # (static camera, static background, shadows aside: compare the sky rows above everybody).
    top = int(np.nanmin(scene.boxes[..., 1])) - 1
    assert top > 0
    assert np.array_equal(scene.frames[0, :top], scene.frames[-1, :top])


def test_the_first_two_walkers_cross_and_the_nearer_hides_part_of_the_farther(scene):
    lanes = plan_lanes(SPEC)
    near, far = (0, 1) if lanes[0].depth < lanes[1].depth else (1, 0)
    assert np.cos(lanes[0].heading) > 0 > np.cos(lanes[1].heading)  # opposite ways
    centre = 0.5 * (scene.boxes[..., 0] + scene.boxes[..., 2])  # (T, N)
    order = np.sign(centre[:, 0] - centre[:, 1])
    assert order[0] != order[-1]  # they swap sides in the image
    assert scene.visibility[:, far].min() < 0.9  # hidden in part...
    assert scene.visibility[:, near].min() == 1.0  # ...by the nearer one, who is always seen whole


def test_walkers_enter_and_leave_in_a_longer_scene():
    spec = SceneSpec(walkers=3, frames=150, size=64, seed=1001)
    scene = render_scene(spec)
    present = scene.present()
    # Somebody is absent at the start or the end and present in between.
    assert any((not present[0, k] or not present[-1, k]) and present[:, k].any() for k in range(spec.walkers))
