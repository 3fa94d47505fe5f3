"""Person detection, tracking and walker sequences on a tiny synthetic two-walker scene."""

from __future__ import annotations

import numpy as np
import pytest

from footage.detection import DetectorConfig, detect_people, iou, median_background, motion_blobs
from footage.tracking import RawTrack, TrackerConfig, track_boxes
from footage.tracks import square_crops, walker_tracks
from footage.walkers import NoWalkerFound, crop_frames, track_walkers
from synth.scene import SceneSpec, render_scene

# Two walkers going opposite ways at different depths; they cross near frame 28, the nearer
# hiding about half of the farther (measured: visibility down to 0.48).
SPEC = SceneSpec(walkers=2, frames=60, size=160, seed=0)


@pytest.fixture(scope="module")
def scene():
    return render_scene(SPEC)


@pytest.fixture(scope="module")
def result(scene):
    return track_walkers(scene.frames, min_frames=10, source="tiny")


def _owner(scene, track) -> np.ndarray:
    """(n,) the walker whose true box a track's box overlaps most in each of its frames."""
    return np.array([int(np.argmax(iou(box[None], scene.boxes[t])[0]))
                     for t, box in zip(track.frames, track.boxes)])


def test_detection_finds_both_walkers_when_apart(scene):
    detections = detect_people(scene.frames, DetectorConfig(hog=False))
    apart = (iou(scene.boxes[:, 0], scene.boxes[:, 1]).diagonal() == 0) & scene.present().all(axis=1)
    assert apart.sum() >= 20
    found = [all(iou(scene.boxes[t, k][None], detections[t].boxes).max(initial=0) >= 0.5 for k in range(2))
             for t in np.flatnonzero(apart)]
    assert np.mean(found) >= 0.9
    assert detections[0].appearance.shape == (len(detections[0]), detections[0].appearance.shape[1])


def test_tracker_keeps_each_walker_its_own_id_through_the_crossing(scene, result):
    assert len(result.tracks) == 2, result.message
    owners = [_owner(scene, track) for track in result.tracks]
    for owner in owners:
        assert (owner == owner[0]).all()  # never jumps to the other walker
    assert {owner[0] for owner in owners} == {0, 1}
    for track in result.tracks:  # and follows through the crossing, frame 28
        assert track.first <= 20 and track.last >= 40


def test_ids_and_sequences(result):
    assert [t.track_id for t in result.tracks] == [f"tiny#t{t.number:03d}" for t in result.tracks]
    for track in result.tracks:
        n = len(track)
        assert track.frames.shape == (n,) and np.array_equal(track.frames, np.arange(track.first, track.last + 1))
        assert track.boxes.shape == track.crops.shape == (n, 4) and track.observed.shape == (n,)
    assert "2 walker(s) in 60 frames" in result.message


def test_crops_are_squares_inside_the_frame_holding_the_true_box(scene, result):
    size = SPEC.size
    for track in result.tracks:
        crops = track.crops
        assert np.allclose(crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1])
        assert (crops >= -1e-6).all() and (crops <= size + 1e-6).all()
        owner = _owner(scene, track)
        truth = scene.boxes[track.frames, owner]  # (n, 4)
        held = (crops[:, 0] <= truth[:, 0] + 1) & (crops[:, 1] <= truth[:, 1] + 1) \
            & (crops[:, 2] >= truth[:, 2] - 1) & (crops[:, 3] >= truth[:, 3] - 1)
        assert held.mean() >= 0.95
        cut = crop_frames(scene.frames, track, 32)
        assert cut.shape == (len(track), 32, 32, 3) and cut.dtype == np.uint8


def test_short_tracks_are_listed_with_their_length_and_skipped():
    def walk(first, frames):
        t = np.arange(frames, dtype=float)
        boxes = np.stack([10 + 2 * t, 10 + 0 * t, 30 + 2 * t, 60 + 0 * t], axis=1)
        return RawTrack(np.arange(first, first + frames), boxes, np.ones(frames, bool))

    kept, skipped = walker_tracks([walk(0, 30), walk(5, 6)], source="clip", frame_size=(100, 200), min_frames=10)
    assert [t.track_id for t in kept] == ["clip#t001"]
    assert len(skipped) == 1 and skipped[0].number == 2 and skipped[0].frames == 6
    assert "too short: 6 frames < 10" in skipped[0].describe()


def test_a_blob_that_does_not_travel_is_not_a_walker():
    still = RawTrack(np.arange(40), np.tile([50.0, 10.0, 70.0, 60.0], (40, 1)), np.ones(40, bool))
    kept, skipped = walker_tracks([still], source="clip", frame_size=(100, 200), min_frames=10)
    assert not kept and "does not walk" in skipped[0].reason


def test_walkers_towards_the_camera_or_out_and_back_are_walkers():
    t = np.arange(50, dtype=float)
    # Frontal: the centre barely moves, the person doubles in size as they come closer.
    height, feet = 60 + 1.2 * t, 120 + 1.2 * t
    frontal = np.stack([100 - height / 6, feet - height, 100 + height / 6, feet], axis=1)
    # Out and back: ends where it started.
    x = np.where(t < 25, 20 + 4 * t, 20 + 4 * (50 - t))
    back = np.stack([x, 20 + 0 * t, x + 20, 80 + 0 * t], axis=1)
    tracks = [RawTrack(np.arange(50), boxes, np.ones(50, bool)) for boxes in (frontal, back)]
    kept, skipped = walker_tracks(tracks, source="clip", frame_size=(200, 200), min_frames=10)
    assert len(kept) == 2 and not skipped


def test_smoothed_boxes_follow_a_steady_walk_to_both_ends():
    t = np.arange(30, dtype=float)
    raw = np.stack([50 + 5 * t, 20 + 0 * t, 70 + 5 * t, 80 + 0 * t], axis=1)
    kept, _ = walker_tracks([RawTrack(np.arange(30), raw, np.ones(30, bool))], source="clip",
                            frame_size=(200, 400), min_frames=10, smoothing=2.0)
    centre = 0.5 * (kept[0].crops[:, 0] + kept[0].crops[:, 2])
    np.testing.assert_allclose(centre, 0.5 * (raw[:, 0] + raw[:, 2]), atol=1e-6)  # centred, first frame to last


def test_a_track_that_walks_out_does_not_take_the_next_walker_in():
    # A walks out at the right edge at frame ~25; B comes in at that edge from frame 28, walking back.
    width, detections = 200, []
    for t in range(60):
        boxes = []
        xa = 100 + 4 * t
        if xa < width:
            boxes.append([xa, 20, min(xa + 20, width), 80])
        xb = width + 20 - 4 * (t - 28)
        if t >= 28 and xb - 20 < width:
            boxes.append([max(xb - 20, 0), 20, min(xb, width), 80])
        detections.append(np.array(boxes, float).reshape(-1, 4))
    joined = track_boxes(detections)  # frame unknown: A coasts off-screen and takes B
    assert len(joined) == 1
    tracks = track_boxes(detections, frame_size=(100, width))
    assert [(track.first < 28, track.last >= 59) for track in tracks] == [(True, False), (False, True)]
    for track in tracks:
        steps = np.diff(0.5 * (track.boxes[:, 0] + track.boxes[:, 2]))
        assert (np.sign(steps[steps != 0]) == np.sign(steps[0])).all()  # one walker each: never turns back


def test_footage_with_nobody_says_no_walker_found():
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (1, 64, 96, 3), dtype=np.uint8)
    empty = np.repeat(background, 12, axis=0)
    result = track_walkers(empty, min_frames=5, source="empty.avi")
    assert not result.found and "empty.avi: no walker found in 12 frames" in result.message
    with pytest.raises(NoWalkerFound, match="no walker found"):
        result.require()
    none = track_walkers(np.zeros((0, 64, 96, 3), np.uint8), source="nothing")
    assert "no walker found in 0 frames" in none.message


def test_tracker_coasts_two_walkers_through_a_merged_blob():
    # Two people cross: boxes move towards each other; for 8 frames they are one wide blob.
    frames = 40
    detections = []
    for t in range(frames):
        a = np.array([10 + 3 * t, 20, 30 + 3 * t, 80], float)
        b = np.array([150 - 3 * t, 25, 168 - 3 * t, 80], float)
        if 16 <= t < 24:
            detections.append(np.array([[min(a[0], b[0]), 20, max(a[2], b[2]), 80]]))
        else:
            detections.append(np.stack([a, b]))
    tracks = track_boxes(detections, TrackerConfig())
    assert len(tracks) == 2
    for track in tracks:
        centre = 0.5 * (track.boxes[:, 0] + track.boxes[:, 2])
        steps = np.diff(centre)
        assert len(track) == frames and (np.sign(steps) == np.sign(steps[0])).all()  # never turns back
        assert not track.observed[16:24].any()  # coasting, not taking the merged box


def test_square_crops_slide_inside_at_the_frame_edge():
    boxes = np.array([[0.0, 10.0, 20.0, 70.0], [180.0, 30.0, 200.0, 99.0]])
    crops = square_crops(boxes, boxes, (100, 200), 0.15, 0.0)
    assert (crops[:, :2] >= 0).all() and (crops[:, 2] <= 200).all() and (crops[:, 3] <= 100).all()
    assert (crops[:, 0] <= boxes[:, 0]).all() and (crops[:, 2] >= boxes[:, 2]).all()
    assert (crops[:, 1] <= boxes[:, 1]).all() and (crops[:, 3] >= boxes[:, 3]).all()


def test_median_background_and_blobs():
    frames = np.zeros((5, 40, 40, 3), np.uint8)
    frames[2, 5:30, 10:18] = 255
    assert not median_background(frames).any()
    mask = np.zeros((40, 40), bool)
    mask[5:30, 10:18] = True
    mask[2:4, 30:38] = True  # flat: not a person
    boxes, fill = motion_blobs(mask)
    assert np.array_equal(boxes, [[10, 5, 18, 30]]) and fill[0] == 1.0
