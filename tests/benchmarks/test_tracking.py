"""The tracking benchmark's scoring: ground truth scored against itself, and against a swap."""

from __future__ import annotations

import motmetrics as mm
import numpy as np

from benchmarks.tracking import crop_jumps, score_tracks
from footage.tracks import WalkerTrack
from footage.walkers import WalkerTracks
from synth.scene import SceneSpec, render_scene


def _tracks_from(scene, owners_by_track):
    """Tracks whose box in frame t is walker owners[t]'s true box (all frames present)."""
    tracks = []
    for number, owners in enumerate(owners_by_track, start=1):
        frames = np.arange(len(owners))
        boxes = scene.boxes[frames, owners]
        tracks.append(WalkerTrack(f"s#t{number:03d}", number, frames, boxes, boxes.copy(), np.ones(len(owners), bool)))
    return WalkerTracks("s", scene.frames.shape[1:3], len(scene.frames), tuple(tracks), ())


def _summary(accumulator):
    row = mm.metrics.create().compute(accumulator, metrics=["idf1", "num_switches", "mota"], name="x").loc["x"]
    return float(row["idf1"]), int(row["num_switches"]), float(row["mota"])


def test_the_truth_scores_perfectly_and_a_swap_is_an_id_switch():
    scene = render_scene(SceneSpec(walkers=2, frames=60, size=160, seed=0))
    assert scene.present().all()  # both walkers in view throughout at this size and length
    t = len(scene.frames)
    perfect = _tracks_from(scene, [np.zeros(t, int), np.ones(t, int)])
    assert _summary(score_tracks(scene, perfect)) == (1.0, 0, 1.0)
    half = t // 2
    swapped = _tracks_from(scene, [np.r_[np.zeros(half, int), np.ones(t - half, int)],
                                   np.r_[np.ones(half, int), np.zeros(t - half, int)]])
    idf1, switches, mota = _summary(score_tracks(scene, swapped))
    assert switches == 2 and idf1 < 0.6 and mota < 1.0


def test_crop_jumps_count_steps_larger_than_half_the_person():
    boxes = np.array([[0, 0, 10, 40], [2, 0, 12, 40], [40, 0, 50, 40], [41, 0, 51, 40]], float)
    assert crop_jumps(boxes, boxes) == 1
