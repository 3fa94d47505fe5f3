"""Physical consistency of the walking motion: planted feet, pelvis bounce, rigid limbs."""

from __future__ import annotations

import numpy as np
import pytest

from synth.body import sample_body
from synth.gait import at_speed, norm_style, perturbed
from synth.kinematics import Carriage, foot_slip, pelvis_bounce, walk_motion
from synth.seeds import rng_for
from synth.skeleton import ANKLE, ELBOW, HIP, KNEE, PELVIS, SHOULDER, WRIST

CARRIAGES = {
    "normal": Carriage(),
    "backpack": Carriage(arm_swing=(0.85, 0.85), lean=5.0),
    "hand bag": Carriage(arm_swing=(0.3, 1.0), elbow_hold=(12.0, None)),
    "coating shoes": Carriage(ankle_range=0.8, sole=0.06),
}


def _walk(person: int, carriage: Carriage, fps: float = 25.0, frames: int = 100, speed: float = 1.0):
    body = sample_body(rng_for((7, 1, person)))
    style = at_speed(perturbed(perturbed(norm_style(), rng_for((7, 2, person)), 1.0), rng_for((7, 3, person)), 0.5), speed)
    motion = walk_motion(body, style, carriage, fps=fps, frames=frames, start_phase=0.37 * person % 1.0,
                         rng=rng_for((7, 4, person)))
    return body, motion


@pytest.mark.parametrize("carriage", sorted(CARRIAGES))
def test_stance_feet_do_not_skate(carriage):
    slips = [foot_slip(_walk(person, CARRIAGES[carriage])[1]) for person in range(12)]
    # A few cm/s at most (measured on the final geometry, after inverse kinematics).
    assert max(slips) < 0.03, slips


def test_feet_stay_on_or_above_the_ground_and_touch_it_in_stance():
    for person in range(8):
        _, motion = _walk(person, Carriage(), speed=1.15)
        sole = np.minimum(motion.heel[..., 1], motion.toe[..., 1])  # (T, 2)
        assert sole.min() > -0.005
        assert np.all(sole[motion.stance] < 0.01)


def test_pelvis_bounce_is_human():
    bounces = np.array([pelvis_bounce(_walk(person, Carriage())[1]) for person in range(20)])
    # Literature: 3 to 7 cm; individuals spread around that.
    assert 0.025 < np.median(bounces) < 0.075, bounces
    assert bounces.max() < 0.15, bounces


def test_limbs_keep_their_lengths():
    body, motion = _walk(3, CARRIAGES["hand bag"])
    j = motion.joints
    for side in (0, 1):
        for a, b, length in ((HIP[side], KNEE[side], body.thigh), (KNEE[side], ANKLE[side], body.shank),
                             (SHOULDER[side], ELBOW[side], body.upper_arm), (ELBOW[side], WRIST[side], body.forearm)):
            np.testing.assert_allclose(np.linalg.norm(j[:, a] - j[:, b], axis=1), length, rtol=1e-6)


def test_walk_goes_forward_at_a_walking_speed_with_the_right_side_on_plus_z():
    _, motion = _walk(5, Carriage(), fps=30.0, frames=90)
    pelvis = motion.joints[:, PELVIS]
    speed = (pelvis[-1, 0] - pelvis[0, 0]) / (motion.time[-1] - motion.time[0])
    assert 0.8 < speed < 2.0
    assert np.all(motion.joints[:, HIP[0], 2] > motion.joints[:, HIP[1], 2])  # right is +z
    # Each foot spends about 60 % of the time on the ground, both feet about 20 %.
    assert 0.5 < motion.stance.mean() < 0.7
    assert 0.1 < np.mean(motion.stance.all(axis=1)) < 0.35


def test_frame_rate_changes_sampling_not_motion():
    _, at25 = _walk(2, Carriage(), fps=25.0, frames=50)
    _, at50 = _walk(2, Carriage(), fps=50.0, frames=100)
    # Same seconds, same stride length and speed; jitter and stride-time noise are sampled per
    # frame so only the gross motion is compared.
    assert at25.stride_length == pytest.approx(at50.stride_length)
    np.testing.assert_allclose(at25.joints[-1, PELVIS, 0] - at25.joints[0, PELVIS, 0],
                               at50.joints[-2, PELVIS, 0] - at50.joints[0, PELVIS, 0], rtol=0.1)
