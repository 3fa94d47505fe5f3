from __future__ import annotations

import os

import pytest

from storage.manifest import ArchiveError, discover, sequence_labels_from_id
from tests.videos import moving_square_frames, write_video


@pytest.fixture
def casia_archive(tmp_path):
    frames = moving_square_frames(6)
    for name in ("001-nm-01-090", "001-bg-02-018", "002-cl-01-180"):
        write_video(tmp_path / "video" / f"{name}.avi", frames)
    write_video(tmp_path / "video" / "001-bkgrd-090.avi", frames)
    (tmp_path / "video" / "readme.txt").write_text("not a video")
    write_video(tmp_path / "video" / "walk-1.avi", frames)
    return tmp_path


def test_casia_b_lists_sequences_with_labels_and_reports_misfits(casia_archive):
    manifest = discover(casia_archive, "casia-b")
    assert [e.sequence_id for e in manifest.entries] == ["001-bg-02-018", "001-nm-01-090", "002-cl-01-180"]
    entry = manifest.by_id()["001-bg-02-018"]
    assert (entry.subject, entry.condition, entry.index, entry.view, entry.session) == ("001", "bg", 2, 18, 1)
    assert entry.size == os.path.getsize(entry.source) and len(entry.content_hash) == 64
    assert {u.path for u in manifest.unmatched} == {"video/readme.txt", "video/walk-1.avi"}


def test_manifest_is_a_hashable_value_that_changes_with_content(casia_archive):
    first, again = discover(casia_archive, "casia-b"), discover(casia_archive, "casia-b")
    assert first == again and hash(first) == hash(again)
    write_video(casia_archive / "video" / "001-nm-01-090.avi", moving_square_frames(6, seed=9))
    changed = discover(casia_archive, "casia-b")
    assert changed != first
    assert changed.by_id()["001-nm-01-090"].content_hash != first.by_id()["001-nm-01-090"].content_hash
    assert changed.by_id()["002-cl-01-180"].content_hash == first.by_id()["002-cl-01-180"].content_hash


def test_tum_gaid_image_folders_sessions_and_backgrounds(tmp_path):
    import cv2

    for folder in ("p001/n01", "p001/tb02", "p002/s01", "p001/back01", "p003/x01"):
        (tmp_path / folder).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / folder / "001.jpg"), moving_square_frames(1)[0])
    (tmp_path / "p002" / "b01").mkdir()  # empty sequence folder
    (tmp_path / "extra").mkdir()
    manifest = discover(tmp_path, "tum-gaid")
    assert [e.sequence_id for e in manifest.entries] == ["p001/n01", "p001/tb02", "p002/s01"]
    later = manifest.by_id()["p001/tb02"]
    assert (later.condition, later.index, later.session, later.view, later.kind) == ("b", 2, 2, 90, "images")
    assert {u.path for u in manifest.unmatched} == {"extra", "p002/b01", "p003/x01"}


def test_folder_layout_ids_are_relative_paths(tmp_path):
    write_video(tmp_path / "cam1" / "a.mp4", moving_square_frames(4), codec="mpeg4")
    manifest = discover(tmp_path, "folder")
    assert [e.sequence_id for e in manifest.entries] == ["cam1/a.mp4"]
    assert manifest.entries[0].subject == "cam1/a.mp4"


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: (p / "file.txt").write_text("x") and p / "file.txt", "not a folder"),
])
def test_missing_or_non_folder_archive_is_a_clear_error(tmp_path, make, message):
    with pytest.raises(ArchiveError, match=message):
        discover(make(tmp_path), "casia-b")


def test_empty_archive_gives_an_empty_manifest_and_unknown_layout_fails(tmp_path):
    assert len(discover(tmp_path, "folder")) == 0
    with pytest.raises(ArchiveError, match="unknown layout"):
        discover(tmp_path, "kinetics")


def test_labels_from_ids_reject_misfits():
    assert sequence_labels_from_id("074-cl-02-162", "casia-b")["view"] == 162
    with pytest.raises(ValueError, match="CASIA-B"):
        sequence_labels_from_id("74-cl-02-162", "casia-b")
    with pytest.raises(ValueError, match="TUM GAID"):
        sequence_labels_from_id("p001/q01", "tum-gaid")
