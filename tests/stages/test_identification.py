"""Identification on stored walker tracks: open-set rows and the annotated contact sheet."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stages.identification import contact_sheet, identify_tracks, longest_tracks, stored_vectors, stranger_walks
from storage.galleries import enroll
from storage.store import ChunkedArray, SequenceStore
from storage.tracks import TrackSpec, footage_entries, ingest_tracks
from tests.videos import write_video


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    from synth.scene import SceneSpec, render_scene

    folder = tmp_path_factory.mktemp("tracked")
    scene = render_scene(SceneSpec(walkers=2, frames=60, size=160, seed=1))
    path = write_video(folder / "crossing.avi", scene.frames, codec="libx264")
    store = SequenceStore(folder / "s.zarr", create=True)
    [entry] = footage_entries(path)
    ingest_tracks(store, entry, TrackSpec(size=32, min_track_frames=20), layout="folder")
    return store


def test_tracks_are_named_or_unknown_and_drawn_on_a_contact_sheet(tracked, tmp_path):
    store = tracked
    tracks = store.sequence_ids()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8))
    gallery_vectors = np.concatenate([c + 0.01 * rng.normal(size=(3, 8)) for c in centres])
    people = np.repeat(["ann", "bob", "cy"], 3)
    # The first track walks like ann, the second like nobody enrolled.
    probes = {tracks[0]: centres[0] + 0.01 * rng.normal(size=8), tracks[1]: 5 * rng.normal(size=8)}
    for track, vector in probes.items():
        vector = vector.astype(np.float32)
        store.write_stage(track, "descriptors", "g1", {"gait_model": "g1"},
                          {"vector": ChunkedArray(vector.shape, "float32", vector.shape, [vector])})
    gallery = enroll(store, "lab", gallery_vectors, people, [f"w{i}" for i in range(9)], gait_model="g1",
                     gait_model_path="/m/g1.keras", features="f1", pose_model="/m/p.keras", frame_size=32)
    ids, vectors, missing = stored_vectors(store, [*tracks, "nowhere"], "g1")
    assert ids == tracks and vectors.shape == (2, 8) and list(missing) == ["nowhere"]
    for classifier in ("nn", "svm"):
        rows, threshold = identify_tracks(gallery, store, ids, vectors, far=0.01, classifier=classifier)
        assert [row["identity"] for row in rows] == ["ann", "unknown"], classifier
        assert threshold.far == 0.0 and threshold.impostors == 9
        first, last = store.sequence_attrs(tracks[0])["track_frames"]
        assert rows[0]["frames"] == [first, last] and rows[0]["track"] == tracks[0]
    sheet = contact_sheet(store, rows, tmp_path / "sheet.png", tile=160, columns=2)
    image = cv2.imread(str(sheet))
    assert image.shape == (160, 320, 3)
    assert longest_tracks(store, tracks) == {"crossing.avi": max(
        tracks, key=lambda t: (store.sequence_attrs(t)["frame_count"], -tracks.index(t)))}


def test_labelled_walks_of_people_outside_the_gallery_set_the_threshold(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(8, 8))
    frames = np.zeros((2, 8, 8, 3), np.uint8)

    def stored(sequence_id, attrs, vector):
        store.write_sequence(sequence_id, attrs, {"frames": ChunkedArray(frames.shape, "uint8", frames.shape, [frames])})
        vector = np.asarray(vector, np.float32)
        store.write_stage(sequence_id, "descriptors", "g1", {"gait_model": "g1"},
                          {"vector": ChunkedArray(vector.shape, "float32", vector.shape, [vector])})

    # People 0-2 are enrolled; 3-7 are labelled strangers with 6 walks each; a folder video and
    # a walker track are unlabelled (their "subject" is the file or the track) and never count.
    for person in range(8):
        for walk in range(3):
            for view in (36, 90):
                stored(f"{person:03d}-nm-{walk + 1:02d}-{view:03d}", {"subject": f"{person:03d}", "layout": "casia-b"},
                       centres[person] + 0.3 * rng.normal(size=8))
    stored("clip.avi", {"subject": "clip.avi", "layout": "folder"}, centres[0])
    stored("clip.avi#t001", {"subject": "clip.avi#t001", "layout": "folder", "track_source": "clip.avi"}, centres[0])
    store.write_stage("000-nm-01-036", "descriptors", "g2", {"gait_model": "g2"},
                      {"vector": ChunkedArray((8,), "float32", (8,), [np.zeros(8, np.float32)])})
    people = np.repeat(["000", "001", "002"], 4)
    gallery = enroll(store, "lab", np.concatenate([centres[i] + 0.3 * rng.normal(size=(4, 8)) for i in range(3)]),
                     people, [f"w{i}" for i in range(12)], gait_model="g1", gait_model_path="/m/g1.keras",
                     features="f1", pose_model="/m/p.keras", frame_size=32)
    ids, strangers, people = stranger_walks(store, gallery)
    assert ids == [f"{p:03d}-nm-{w:02d}-{v:03d}" for p in range(3, 8) for w in (1, 2, 3) for v in (36, 90)]
    assert strangers.shape == (30, 8) and list(people) == [i[:3] for i in ids]
    probe = [("000-nm-01-036", centres[0].astype(np.float32))]
    _, threshold = identify_tracks(gallery, store, [i for i, _ in probe], np.stack([v for _, v in probe]), far=0.05,
                                   classifier="nn", strangers=strangers, stranger_subjects=people)
    assert threshold.calibration == "strangers" and threshold.impostors == 30 and threshold.far <= 0.05
    _, fallback = identify_tracks(gallery, store, [], np.zeros((0, 8)), far=0.01, classifier="nn",
                                  strangers=strangers, stranger_subjects=people)  # 30 walks cannot resolve 1 %
    assert fallback.calibration == "gallery" and fallback.impostors == 12
