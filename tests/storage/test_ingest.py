from __future__ import annotations

import numpy as np
import pytest

from storage.frames import FrameSpec
from storage.groundtruth import GroundTruthError
from storage.ingest import ingest_sequence
from storage.manifest import discover
from storage.store import SequenceStore
from tests.videos import moving_square_frames, write_sidecar, write_video


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
