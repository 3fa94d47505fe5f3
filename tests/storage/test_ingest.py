from __future__ import annotations

import numpy as np
import pytest

from storage.frames import FrameDecodeError, FrameSpec
from storage.groundtruth import GroundTruthError
from storage.ingest import current_sequences, ingest_sequence, is_current
from storage.manifest import discover
from storage.store import SequenceStore
from tests.videos import (
    cut_file,
    garble_bytes,
    moving_square_frames,
    packet_spans,
    sliding_texture_frames,
    write_image_folder,
    write_sidecar,
    write_video,
)


def _archive_with_truth(root, frames=8):
    video = write_video(root / "video" / "003-nm-01-090.avi", moving_square_frames(frames, 40, 80), fps=20)
    joints = np.zeros((frames, 16, 2), np.float32)
    joints[:, :, 0] = 40.0  # x: the frame's centre column
    joints[:, :, 1] = np.linspace(5, 35, 16)
    write_sidecar(video.with_name("003-nm-01-090.gt.json"), joints, 20.0, (40, 80))
    return video


def test_ingest_stores_frames_labels_and_mapped_ground_truth(tmp_path):
    _archive_with_truth(tmp_path)
    entry = discover(tmp_path, "casia-b").entries[0]
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    outcome = ingest_sequence(store, entry, FrameSpec(size=20), layout="casia-b", chunk_frames=4)
    assert outcome.status == "stored" and outcome.frames == 8
    group = store.open_sequence("003-nm-01-090")
    assert group["frames"].shape == (8, 20, 20, 3)
    attrs = store.sequence_attrs("003-nm-01-090")
    assert (attrs["subject"], attrs["condition"], attrs["view"], attrs["frame_count"]) == ("003", "nm", 90, 8)
    assert attrs["fps"] == 20.0 and attrs["has_groundtruth"] and attrs["content_hash"] == entry.content_hash
    # The centre square of an 80x40 frame starts at x=20 and is scaled by 20/40.
    np.testing.assert_allclose(group["joints_gt"][0, :, 0], 10.0)
    np.testing.assert_allclose(group["joints_gt"][0, :, 1], np.linspace(5, 35, 16) / 2)
    assert group["visible_gt"][:].all()


def test_current_sequence_is_skipped_and_changed_extraction_is_redone(tmp_path):
    _archive_with_truth(tmp_path)
    entry = discover(tmp_path, "casia-b").entries[0]
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    ingest_sequence(store, entry, FrameSpec(size=20), layout="casia-b")
    assert ingest_sequence(store, entry, FrameSpec(size=20), layout="casia-b").status == "skipped"
    assert ingest_sequence(store, entry, FrameSpec(size=24), layout="casia-b").status == "stored"
    assert store.open_sequence("003-nm-01-090")["frames"].shape[1] == 24


def test_one_listing_settles_what_is_current_as_is_current_does(tmp_path):
    import dataclasses

    _archive_with_truth(tmp_path)
    entry = discover(tmp_path, "casia-b").entries[0]
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    ingest_sequence(store, entry, FrameSpec(size=20), layout="casia-b")
    stored = store.all_sequence_attrs()
    edited = dataclasses.replace(entry, content_hash="0" * 64)
    unknown = dataclasses.replace(entry, sequence_id="004-nm-01-090")
    unhashed = dataclasses.replace(entry, content_hash="")
    for spec in (FrameSpec(size=20), FrameSpec(size=24)):
        listed = current_sequences(stored, [entry, edited, unknown, unhashed], spec)
        one_by_one = {e.sequence_id for e in (entry, edited, unknown, unhashed) if is_current(store, e, spec)}
        assert listed == one_by_one == ({"003-nm-01-090"} if spec.size == 20 else set())
    assert current_sequences(stored, [edited], FrameSpec(size=20)) == set()


def test_ground_truth_shorter_than_the_video_fails_without_touching_the_store(tmp_path):
    video = _archive_with_truth(tmp_path)
    entry = discover(tmp_path, "casia-b").entries[0]
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    ingest_sequence(store, entry, FrameSpec(size=20), layout="casia-b")
    before = store.open_sequence("003-nm-01-090")["frames"][:]
    write_video(video, moving_square_frames(12, 40, 80, seed=3), fps=20)  # new video, old 8-frame truth
    changed = discover(tmp_path, "casia-b").entries[0]
    with pytest.raises(GroundTruthError, match="003-nm-01-090.gt.json"):
        ingest_sequence(store, changed, FrameSpec(size=20), layout="casia-b")
    np.testing.assert_array_equal(store.open_sequence("003-nm-01-090")["frames"][:], before)
    assert store.sequence_attrs("003-nm-01-090")["content_hash"] == entry.content_hash


def test_malformed_sidecar_is_named(tmp_path):
    video = _archive_with_truth(tmp_path)
    video.with_name("003-nm-01-090.gt.json").write_text('{"format": "gaitflow.groundtruth/1", "joint_names": []}')
    entry = discover(tmp_path, "casia-b").entries[0]
    with pytest.raises(GroundTruthError, match="joint_names"):
        ingest_sequence(SequenceStore(tmp_path / "s.zarr", create=True), entry, FrameSpec(size=20), layout="casia-b")


@pytest.mark.parametrize("field, value, expected", [
    ("fps", float("nan"), "positive and finite"), ("fps", float("inf"), "positive and finite"),
    ("covariates", [["bag", "yes", 1]], "covariates must be an object"),
])
def test_a_sidecar_with_an_impossible_value_is_named(tmp_path, field, value, expected):
    import json

    from storage.groundtruth import read_groundtruth

    video = _archive_with_truth(tmp_path)
    sidecar = video.with_name("003-nm-01-090.gt.json")
    document = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**document, field: value}))  # NaN and Infinity as Python's json writes them
    with pytest.raises(GroundTruthError, match=f"003-nm-01-090.gt.json: .*{expected}"):
        read_groundtruth(sidecar)


def _archive_to_garble(root):
    """A 12-frame 64x64 walk with a key frame at least every 4 frames and ground truth whose
    joints move 1 px right a frame, so each stored frame shows which source frame it is."""
    video = write_video(root / "video" / "003-nm-01-090.avi", sliding_texture_frames(12), gop=4)
    joints = np.zeros((12, 16, 2), np.float32)
    joints[:, :, 0] = 10.0 + np.arange(12)[:, None]
    joints[:, :, 1] = 32.0
    write_sidecar(video.with_name("003-nm-01-090.gt.json"), joints, 25.0, (64, 64))
    return video


def _garble_frame_5(video):
    offset, size, _ = packet_spans(video)[5]
    garble_bytes(video, offset + size // 2, 16)


def _stored_files(store, sequence_id):
    folder = store.path / "sequences" / sequence_id
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_failed_redecode_of_a_damaged_source_keeps_the_stored_version(tmp_path):
    video = _archive_to_garble(tmp_path)
    entry = discover(tmp_path, "casia-b").entries[0]
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    assert ingest_sequence(store, entry, FrameSpec(size=32), layout="casia-b", chunk_frames=4).frames == 12
    before = _stored_files(store, "003-nm-01-090")
    assert "frames/zarr.json" in before and len(before) > 6  # metadata and chunks
    _garble_frame_5(video)
    damaged = discover(tmp_path, "casia-b").entries[0]
    assert damaged.content_hash != entry.content_hash
    with pytest.raises(FrameDecodeError, match=r"003-nm-01-090\.avi: frame 5 \(counting from 0\) is damaged"):
        ingest_sequence(store, damaged, FrameSpec(size=32), layout="casia-b", chunk_frames=4)
    # Every array chunk and metadata file of the stored version is byte-identical, and the
    # half-built replacement is gone.
    assert _stored_files(store, "003-nm-01-090") == before
    assert store.sequence_attrs("003-nm-01-090")["content_hash"] == entry.content_hash
    assert not any((store.path / "_staging").glob("*"))


def test_allow_partial_stores_the_intact_frames_aligned_with_truth_and_records_the_loss(tmp_path):
    video = _archive_to_garble(tmp_path)
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    entry = discover(tmp_path, "casia-b").entries[0]
    ingest_sequence(store, entry, FrameSpec(size=32), layout="casia-b", allow_partial=True)
    assert "lost_frames" not in store.sequence_attrs("003-nm-01-090")  # nothing lost, nothing said
    _garble_frame_5(video)
    damaged = discover(tmp_path, "casia-b").entries[0]
    outcome = ingest_sequence(store, damaged, FrameSpec(size=32), layout="casia-b", chunk_frames=4, allow_partial=True)
    assert (outcome.status, outcome.frames, outcome.reason) == ("stored", 10, "lost 2 of 12 frames (corrupt: 5, 6)")
    attrs = store.sequence_attrs("003-nm-01-090")
    assert attrs["lost_frames"] == {"declared": 12, "decoded": 10, "corrupt": [5, 6], "missing": 0, "errors": []}
    assert attrs["frame_count"] == 10 and attrs["content_hash"] == damaged.content_hash
    group = store.open_sequence("003-nm-01-090")
    kept = [0, 1, 2, 3, 4, 7, 8, 9, 10, 11]
    assert group["source_index"][:].tolist() == kept and group["frames"].shape == (10, 32, 32, 3)
    # The whole 64x64 frame is scaled by 1/2: each row of truth is its own source frame's.
    np.testing.assert_allclose(group["joints_gt"][:, 0, 0], (10.0 + np.array(kept)) / 2)


def test_half_written_jpeg_fails_strictly_and_is_skipped_and_recorded_with_allow_partial(tmp_path):
    paths = write_image_folder(tmp_path / "p001" / "n01", moving_square_frames(12, 64, 64))
    cut_file(paths[7], 0.5)
    entry = discover(tmp_path, "tum-gaid").entries[0]
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    with pytest.raises(FrameDecodeError, match=r"p001/n01/007\.jpg: frame 7 \(counting from 0\) is damaged"):
        ingest_sequence(store, entry, FrameSpec(size=32), layout="tum-gaid")
    assert store.sequence_attrs("p001/n01") is None
    outcome = ingest_sequence(store, entry, FrameSpec(size=32), layout="tum-gaid", allow_partial=True)
    assert (outcome.status, outcome.frames) == ("stored", 11)
    attrs = store.sequence_attrs("p001/n01")
    assert attrs["lost_frames"] == {"declared": 12, "decoded": 11, "corrupt": [7], "missing": 0, "errors": []}
    assert 7 not in store.open_sequence("p001/n01")["source_index"][:].tolist()
