"""Joint errors of a known size: independent, smooth (same RMS, little high-frequency power),
left/right swaps on the requested share of frames; integer seeds."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from synth.joint_noise import (
    JointNoise,
    body_height,
    error_rms,
    independent_noise,
    smooth_noise,
    swap_left_right,
    swapped_frames,
)
from synth.skeleton import ANKLE, ELBOW, HEAD_TOP, HIP, JOINT_COUNT, KNEE, PELVIS, SHOULDER, WRIST

HEIGHT = 120.0


def _walk(frames: int = 400) -> np.ndarray:
    """(T, 16, 2) joints of a figure HEIGHT px tall (head top to mid-ankle) whose joints all sit
    at distinct places and move a little, so swaps and noise are visible."""
    rng = np.random.default_rng(0)
    base = np.stack([rng.uniform(20, 60, JOINT_COUNT), rng.uniform(20, 100, JOINT_COUNT)], axis=1)
    base[HEAD_TOP] = (40.0, 0.0)
    base[ANKLE[0]], base[ANKLE[1]] = (30.0, HEIGHT), (50.0, HEIGHT)
    sway = 3.0 * np.sin(np.arange(frames) / 7.0)
    joints = np.repeat(base[None], frames, axis=0)
    joints[:, :, 0] += sway[:, None]
    return joints


def _high_frequency_share(error: np.ndarray, above: float = 0.1) -> float:
    """Share of the error's power above `above` cycles per frame (errors (T, 16, 2))."""
    flat = error.reshape(len(error), -1)
    power = np.abs(np.fft.rfft(flat - flat.mean(axis=0), axis=0)) ** 2
    frequencies = np.fft.rfftfreq(len(error))
    return float(power[frequencies > above].sum() / power.sum())


def test_body_height_is_head_top_to_mid_ankle():
    assert body_height(_walk(10)) == pytest.approx(HEIGHT)


@pytest.mark.parametrize("size", [0.01, 0.02, 0.05, 0.10])
def test_independent_noise_has_the_requested_size(size):
    walk = _walk()
    noisy = independent_noise(walk, size, seed=3)
    assert error_rms(noisy, walk) == pytest.approx(size, rel=0.05)
    # The size is per coordinate, in pixels size * height.
    assert np.std(noisy - walk) == pytest.approx(size * HEIGHT, rel=0.05)


@pytest.mark.parametrize("size", [0.01, 0.05])
def test_smooth_noise_has_the_same_rms_but_little_high_frequency_power(size):
    walk = _walk(2000)
    smooth = smooth_noise(walk, size, seed=4, correlation_frames=4.0)
    independent = independent_noise(walk, size, seed=4)
    assert error_rms(smooth, walk) == pytest.approx(size, rel=0.08)
    assert error_rms(independent, walk) == pytest.approx(size, rel=0.05)
    # White noise spreads its power evenly up to 0.5 cycles/frame: 80 % lies above 0.1.
    assert _high_frequency_share(independent - walk) > 0.7
    # A Gaussian kernel of SD 4 frames keeps almost nothing above 0.1 cycles/frame.
    assert _high_frequency_share(smooth - walk) < 0.01
    # ... and consecutive frames err alike.
    error = (smooth - walk).reshape(len(walk), -1)
    assert np.corrcoef(error[:-1].ravel(), error[1:].ravel())[0, 1] > 0.9


def test_smooth_noise_is_stationary_at_the_ends():
    """The first and last frames err as much as the middle ones (no filter edge)."""
    walk = _walk(40)
    errors = np.stack([smooth_noise(walk, 0.05, seed=(9, k)) - walk for k in range(300)])  # (300, T, 16, 2)
    by_frame = np.sqrt(np.mean(errors**2, axis=(0, 2, 3))) / HEIGHT
    assert by_frame[0] == pytest.approx(0.05, rel=0.1)
    assert by_frame[-1] == pytest.approx(0.05, rel=0.1)
    assert by_frame[20] == pytest.approx(0.05, rel=0.1)


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.1, 0.37, 1.0])
@pytest.mark.parametrize("parts", ["legs", "limbs"])
def test_swaps_exchange_the_sides_on_the_requested_share_of_frames(rate, parts):
    walk = _walk(200)
    swapped = swap_left_right(walk, rate, seed=5, parts=parts)
    changed = np.flatnonzero(np.any(swapped != walk, axis=(1, 2)))
    assert changed.size == round(rate * 200)
    np.testing.assert_array_equal(changed, swapped_frames(200, rate, 5))
    legs = [ANKLE, KNEE, HIP]
    arms = [WRIST, ELBOW, SHOULDER]
    for right, left in legs + (arms if parts == "limbs" else []):
        np.testing.assert_array_equal(swapped[changed, right], walk[changed, left])
        np.testing.assert_array_equal(swapped[changed, left], walk[changed, right])
    untouched = [PELVIS, HEAD_TOP] + ([j for pair in arms for j in pair] if parts == "legs" else [])
    np.testing.assert_array_equal(swapped[:, untouched], walk[:, untouched])


def test_swaps_can_come_in_runs():
    frames = swapped_frames(100, 0.2, seed=6, run_frames=5)
    assert frames.size == 20
    runs = np.split(frames, np.flatnonzero(np.diff(frames) != 1) + 1)
    assert all(len(run) % 5 == 0 for run in runs)


def test_joint_noise_family_applies_every_error_from_the_true_height():
    walk = _walk()
    family = JointNoise(independent=0.02, smooth=0.02, swap_rate=0.1)
    noisy = family.apply(walk, seed=7)
    unswapped = swap_left_right(walk, 0.1, seed=7)
    # Two independent errors of 2 % each: 2.83 % together.
    assert error_rms(noisy, unswapped) == pytest.approx(np.hypot(0.02, 0.02), rel=0.08)
    np.testing.assert_array_equal(family.apply(walk, seed=7), noisy)
    np.testing.assert_array_equal(JointNoise().apply(walk, seed=7), walk)
    assert family.to_json()["swap_rate"] == 0.1


def test_seeds_are_integers_and_reproduce():
    walk = _walk(30)
    np.testing.assert_array_equal(independent_noise(walk, 0.02, 1), independent_noise(walk, 0.02, (1,)))
    assert not np.array_equal(independent_noise(walk, 0.02, 1), independent_noise(walk, 0.02, 2))
    assert not np.array_equal(independent_noise(walk, 0.02, (1, 2)), independent_noise(walk, 0.02, (2, 1)))
    for seed in (-1, "a", (1.5,), True):
        with pytest.raises(ValueError):
            independent_noise(walk, 0.02, seed)


def test_draws_are_the_same_in_another_process():
    """No salted hash(): a fresh interpreter with another hash seed draws the same errors."""
    code = ("import numpy as np; from synth.joint_noise import JointNoise; "
            "w = np.arange(20 * 32, dtype=float).reshape(20, 16, 2); "
            "print(repr(float(JointNoise(independent=0.01, smooth=0.02, swap_rate=0.2).apply(w, (4, 2)).sum())))")
    here = float(JointNoise(independent=0.01, smooth=0.02, swap_rate=0.2)
                 .apply(np.arange(20 * 32, dtype=float).reshape(20, 16, 2), (4, 2)).sum())
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert float(out.stdout) == here


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda w: independent_noise(w[:, :15], 0.01, 0), r"\(T, 16, 2\)"),
        (lambda w: independent_noise(w, -0.01, 0), "share of body height"),
        (lambda w: smooth_noise(w, 0.01, 0, correlation_frames=0), "correlation_frames"),
        (lambda w: swap_left_right(w, 1.5, 0), "swap rate"),
        (lambda w: swap_left_right(w, 0.1, 0, parts="heads"), "parts"),
        (lambda w: swapped_frames(10, 0.1, 0, run_frames=0), "run_frames"),
        (lambda w: JointNoise(swap_parts="arms"), "swap_parts"),
    ],
)
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call(_walk(20))
