"""`crop="track"`: every walker of a clip becomes its own stored sequence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from storage.store import SequenceStore
from storage.tracks import NoWalkerFound, TrackSpec, footage_entries, ingest_tracks, stored_tracks
from tests.videos import write_video


@pytest.fixture(scope="module")
def two_walkers(tmp_path_factory):
    """A 60-frame, 160 px clip of two synthetic walkers crossing a static camera's view."""
    from synth.scene import SceneSpec, render_scene

    scene = render_scene(SceneSpec(walkers=2, frames=60, size=160, seed=1))
    folder = tmp_path_factory.mktemp("footage")
    # H.264: the detector fragments tracks on the blockier MPEG-4 test encoding of so small a clip.
    return write_video(folder / "crossing.avi", scene.frames, codec="libx264"), scene


def _ingest(store, path, **spec):
    [entry] = footage_entries(path)
    return ingest_tracks(store, entry, TrackSpec(size=32, **spec), layout="folder", chunk_frames=16)


def test_two_walkers_become_two_sequences_with_their_frames_and_boxes(tmp_path, two_walkers):
    path, scene = two_walkers
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    outcomes = _ingest(store, path, min_track_frames=20)
    assert [(o.sequence_id, o.status) for o in outcomes] == [
        ("crossing.avi#t001", "stored"), ("crossing.avi#t002", "stored")]
    assert store.sequence_ids() == ["crossing.avi#t001", "crossing.avi#t002"]
    for sequence_id in store.sequence_ids():
        group, attrs = store.open_sequence(sequence_id), store.sequence_attrs(sequence_id)
        count = group["frames"].shape[0]
        assert group["frames"].shape == (count, 32, 32, 3) and count >= 20
        index = group["source_index"][:]
        assert (np.diff(index) == 1).all() and attrs["track_frames"] == [int(index[0]), int(index[-1])]
        crops, boxes = group["crop_box"][:], group["person_box"][:]
        assert np.allclose(crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1], atol=1e-3)  # square
        assert (crops[:, :2] >= -1e-3).all() and (crops[:, 2:] <= 160 + 1e-3).all()  # inside the frame
        assert (boxes[:, 0] >= crops[:, 0] - 1).all() and (boxes[:, 2] <= crops[:, 2] + 1).all()
        assert group["observed"].shape == (count,)
        assert attrs["track_source"] == "crossing.avi" and attrs["subject"] == sequence_id
        assert attrs["extraction"]["crop"] == "track" and attrs["track_count"] == 2


def test_reingest_of_the_same_bytes_is_skipped_and_other_settings_redo_it(tmp_path, two_walkers):
    path, _ = two_walkers
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _ingest(store, path, min_track_frames=20)
    assert {o.status for o in _ingest(store, path, min_track_frames=20)} == {"skipped"}
    assert {o.status for o in _ingest(store, path, min_track_frames=21)} == {"stored"}
    assert {o.status for o in _ingest(store, path, min_track_frames=21)} == {"skipped"}
    assert len(stored_tracks(store, "crossing.avi")) == 2


def test_tracks_an_earlier_extraction_made_and_a_new_one_did_not_are_removed(tmp_path, two_walkers, monkeypatch):
    from storage.store import ChunkedArray

    path, _ = two_walkers
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _ingest(store, path, min_track_frames=20)
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    store.write_sequence("crossing.avi#t009", {"track_source": "crossing.avi", "subject": "crossing.avi#t009"},
                         {"frames": ChunkedArray(frames.shape, "uint8", frames.shape, [frames])})
    store.write_sequence("other.avi#t001", {"track_source": "other.avi", "subject": "other.avi#t001"},
                         {"frames": ChunkedArray(frames.shape, "uint8", frames.shape, [frames])})
    outcomes = _ingest(store, path, min_track_frames=20)  # current: skipped, and the stray t009 goes
    assert [(o.sequence_id, o.status) for o in outcomes] == [
        ("crossing.avi#t001", "skipped"), ("crossing.avi#t002", "skipped"), ("crossing.avi#t009", "removed")]
    # A new extraction (other settings) that finds only the first walker.
    import storage.tracks as tracks

    found = tracks.track_walkers
    monkeypatch.setattr(tracks, "track_walkers", lambda *a, **k: dataclasses.replace(
        found(*a, **k), tracks=found(*a, **k).tracks[:1]))
    outcomes = _ingest(store, path, min_track_frames=21)
    assert [(o.sequence_id, o.status) for o in outcomes] == [
        ("crossing.avi#t001", "stored"), ("crossing.avi#t002", "removed")]
    assert store.sequence_ids() == ["crossing.avi#t001", "other.avi#t001"]


def test_short_tracks_are_listed_with_their_length(tmp_path, two_walkers):
    path, _ = two_walkers
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    with pytest.raises(NoWalkerFound, match="no walker found.*too short"):
        _ingest(store, path, min_track_frames=1000)
    assert store.sequence_ids() == []


def test_footage_with_nobody_says_no_walker_found_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    still = np.repeat(rng.integers(0, 255, (1, 64, 64, 3), dtype=np.uint8), 30, axis=0)
    path = write_video(tmp_path / "empty.avi", still)
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    with pytest.raises(NoWalkerFound) as caught:
        _ingest(store, path, min_track_frames=5)
    assert "no walker found" in str(caught.value) and "\n" not in str(caught.value)


def test_a_failed_reingest_keeps_what_was_stored(tmp_path, two_walkers, monkeypatch):
    path, _ = two_walkers
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _ingest(store, path, min_track_frames=20)
    before = {i: store.open_sequence(i)["frames"][:] for i in store.sequence_ids()}
    import storage.tracks as tracks

    def broken(*args, **kwargs):
        raise OSError("disk fell off")
        yield  # pragma: no cover

    monkeypatch.setattr(tracks, "_cropped_pieces", broken)
    with pytest.raises(OSError):
        _ingest(store, path, min_track_frames=21)
    assert {i: store.open_sequence(i)["frames"][:].tobytes() for i in store.sequence_ids()} == {
        i: v.tobytes() for i, v in before.items()}


def test_a_single_video_or_a_folder_gives_its_sources(tmp_path, two_walkers):
    path, _ = two_walkers
    [entry] = footage_entries(path)
    assert entry.sequence_id == "crossing.avi" and entry.content_hash
    assert [e.sequence_id for e in footage_entries(path.parent)] == ["crossing.avi"]
    with pytest.raises(FileNotFoundError):
        footage_entries(tmp_path / "nothing.avi")


def test_ground_truth_shorter_than_the_footage_stores_no_track(tmp_path):
    from storage.groundtruth import GroundTruthError
    from synth.scene import SceneSpec, render_scene
    from tests.videos import write_sidecar

    folder = tmp_path / "footage"
    folder.mkdir()
    # Two walkers, tracked over frames 0-88 and 27-111 of 120 (measured); truth for the first
    # 100 frames covers the first track only. Neither may be stored.
    write_video(folder / "crossing.avi", render_scene(SceneSpec(walkers=2, frames=120, size=160, seed=2)).frames,
                codec="libx264")
    write_sidecar(folder / "crossing.gt.json", np.full((100, 16, 2), 50.0, np.float32), 25, (160, 160))
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    with pytest.raises(GroundTruthError, match="covers 100 frames but the source has 120"):
        _ingest(store, folder, min_track_frames=20)
    assert store.sequence_ids() == []
