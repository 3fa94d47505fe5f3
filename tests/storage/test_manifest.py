from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage import manifest as manifest_module
from storage.manifest import ArchiveError, discover, fingerprint, sequence_labels_from_id
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


def test_a_duplicate_id_leaves_out_only_that_id_and_reports_each_copy(casia_archive):
    write_video(casia_archive / "video" / "001-nm-01-090.mp4", moving_square_frames(4), codec="mpeg4")
    manifest = discover(casia_archive, "casia-b")
    assert [e.sequence_id for e in manifest.entries] == ["001-bg-02-018", "002-cl-01-180"]
    reasons = {u.path: u.reason for u in manifest.unmatched}
    assert reasons == {
        "video/readme.txt": "not a video file (by its suffix)",
        "video/walk-1.avi": "name does not fit CASIA-B's SSS-cc-NN-VVV",
        "video/001-nm-01-090.avi": "duplicate sequence id 001-nm-01-090 (also: video/001-nm-01-090.mp4)",
        "video/001-nm-01-090.mp4": "duplicate sequence id 001-nm-01-090 (also: video/001-nm-01-090.avi)",
    }


def _discover_and_fingerprint(monkeypatch, archive, layout):
    """Discovery and the fingerprints of its entries, with the real path of everything they
    stat through pathlib or open."""
    reads: set[Path] = set()
    path_stat, builtin_open = Path.stat, open

    def spy_stat(self, *, follow_symlinks=True):
        # lstat (is_symlink) looks at the link itself, not at what it points to
        real = Path(os.path.realpath(self)) if follow_symlinks else Path(os.path.realpath(self.parent)) / self.name
        reads.add(real)
        return path_stat(self, follow_symlinks=follow_symlinks)

    def spy_open(file, *args, **kwargs):
        reads.add(Path(os.path.realpath(file)))
        return builtin_open(file, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "stat", spy_stat)
        patch.setattr(manifest_module, "open", spy_open, raising=False)
        manifest = discover(archive, layout)
        hashes = [fingerprint(entry) for entry in manifest.entries]
    return manifest, hashes, reads


def _outside_reason(link: str, target: Path) -> str:
    return f"symlink {link} points outside the archive (to {os.path.realpath(target)}); not followed"


def test_symlinks_out_of_a_video_archive_are_reported_and_never_read(tmp_path, monkeypatch):
    archive, outside = tmp_path / "archive", tmp_path / "outside"
    frames = moving_square_frames(4)
    write_video(archive / "video" / "001-nm-01-090.avi", frames)
    write_video(archive / "video" / "002-nm-01-090.avi", frames)
    write_video(outside / "videos" / "004-nm-01-090.avi", frames)
    write_video(outside / "secret.avi", frames, fps=10)
    (outside / "passwd").write_text("root:x:0:0")
    (outside / "truth.gt.json").write_text("{}")
    (archive / "video" / "003-nm-01-090.avi").symlink_to(outside / "secret.avi")
    (archive / "video" / "notes.txt").symlink_to(outside / "passwd")
    (archive / "video" / "002-nm-01-090.gt.json").symlink_to(outside / "truth.gt.json")
    (archive / "deep" / "er").mkdir(parents=True)
    (archive / "deep" / "er" / "cam").symlink_to(outside / "videos", target_is_directory=True)

    manifest, hashes, reads = _discover_and_fingerprint(monkeypatch, archive, "casia-b")

    assert [e.sequence_id for e in manifest.entries] == ["001-nm-01-090"]
    assert hashes == [manifest.entries[0].content_hash]
    reasons = {u.path: u.reason for u in manifest.unmatched}
    assert reasons == {
        "video/003-nm-01-090.avi": _outside_reason("video/003-nm-01-090.avi", outside / "secret.avi"),
        "video/notes.txt": _outside_reason("video/notes.txt", outside / "passwd"),
        "video/002-nm-01-090.gt.json": _outside_reason("video/002-nm-01-090.gt.json", outside / "truth.gt.json"),
        "video/002-nm-01-090.avi": (
            "sequence left out: its ground-truth sidecar video/002-nm-01-090.gt.json points outside the archive"
        ),
        "deep/er/cam": _outside_reason("deep/er/cam", outside / "videos"),
    }
    assert archive.resolve() / "video" / "001-nm-01-090.avi" in reads
    assert not {p for p in reads if p.is_relative_to(outside.resolve())}


def test_symlinks_out_of_a_tum_gaid_archive_are_reported_and_never_read(tmp_path, monkeypatch):
    import cv2

    archive, outside = tmp_path / "archive", tmp_path / "outside"
    for folder in ("archive/p001/n01", "archive/p003/n01", "outside/frames", "outside/p009/n01"):
        folder = tmp_path / folder
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "001.jpg"), moving_square_frames(1)[0])
    (archive / "p001" / "b01").symlink_to(outside / "frames", target_is_directory=True)
    (archive / "p001" / "n02").symlink_to("n01", target_is_directory=True)  # stays inside: followed
    (archive / "p002").symlink_to(outside / "p009", target_is_directory=True)
    (archive / "p003" / "n01" / "002.jpg").symlink_to(outside / "frames" / "001.jpg")

    manifest, hashes, reads = _discover_and_fingerprint(monkeypatch, archive, "tum-gaid")

    assert [e.sequence_id for e in manifest.entries] == ["p001/n01", "p001/n02"]
    assert hashes == [e.content_hash for e in manifest.entries]
    assert manifest.by_id()["p001/n02"].source == str((archive / "p001" / "n01").resolve())
    assert {u.path: u.reason for u in manifest.unmatched} == {
        "p001/b01": _outside_reason("p001/b01", outside / "frames"),
        "p002": _outside_reason("p002", outside / "p009"),
        "p003/n01/002.jpg": _outside_reason("p003/n01/002.jpg", outside / "frames" / "001.jpg"),
        "p003/n01": "sequence left out: p003/n01/002.jpg points outside the archive",
    }
    assert archive.resolve() / "p001" / "n01" / "001.jpg" in reads
    assert not {p for p in reads if p.is_relative_to(outside.resolve())}


def test_symlinks_inside_the_archive_are_followed_once(tmp_path):
    frames = moving_square_frames(4)
    write_video(tmp_path / "raw" / "take-7.avi", frames)
    write_video(tmp_path / ".pool" / "cam" / "002-nm-01-090.avi", frames, fps=10)
    (tmp_path / "video").mkdir()
    (tmp_path / "video" / "001-nm-01-090.avi").symlink_to(Path("..") / "raw" / "take-7.avi")
    (tmp_path / "cam2").symlink_to(Path(".pool") / "cam", target_is_directory=True)
    (tmp_path / "video" / "loop").symlink_to("..", target_is_directory=True)

    manifest = discover(tmp_path, "casia-b")

    assert [e.sequence_id for e in manifest.entries] == ["001-nm-01-090", "002-nm-01-090"]
    linked = manifest.by_id()["001-nm-01-090"]
    assert linked.source == str((tmp_path / "raw" / "take-7.avi").resolve())
    assert linked.content_hash == fingerprint(linked) and len(linked.content_hash) == 64
    pooled = manifest.by_id()["002-nm-01-090"]
    assert pooled.source == str((tmp_path / ".pool" / "cam" / "002-nm-01-090.avi").resolve())
    assert {u.path: u.reason for u in manifest.unmatched} == {
        "raw/take-7.avi": "name does not fit CASIA-B's SSS-cc-NN-VVV",
        "video/loop": "symlink video/loop leads to a folder already listed (.); not followed",
    }


def test_a_file_name_in_another_encoding_is_listed_not_fatal(tmp_path):
    write_video(tmp_path / "good.mp4", moving_square_frames(6))
    os.link(tmp_path / "good.mp4", os.fsencode(tmp_path) + b"/caf\xe9.mp4")  # a Latin-1 name
    manifest = discover(tmp_path, "folder")
    assert [e.sequence_id for e in manifest.entries] == ["good.mp4"]
    [odd] = manifest.unmatched
    assert odd.path == "caf\ufffd.mp4" and "not valid UTF-8" in odd.reason


def test_a_path_too_long_to_be_a_sequence_id_is_listed_not_fatal(tmp_path):
    from storage.manifest import MAX_SEQUENCE_ID_BYTES

    deep = tmp_path / ("d" * 80) / ("e" * 80)
    deep.mkdir(parents=True)
    write_video(deep / "walk.mp4", moving_square_frames(6))
    write_video(tmp_path / "short.mp4", moving_square_frames(6))
    manifest = discover(tmp_path, "folder")
    assert [e.sequence_id for e in manifest.entries] == ["short.mp4"]
    [long] = manifest.unmatched
    assert long.path.endswith("walk.mp4") and f"at most {MAX_SEQUENCE_ID_BYTES}" in long.reason
