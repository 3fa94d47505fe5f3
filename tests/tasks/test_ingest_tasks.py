"""Ingest's tasks decide from one listing what is already stored, on disk and on object storage."""

from __future__ import annotations

import pytest

from storage.frames import FrameSpec
from storage.ingest import ingest_sequence
from storage.manifest import discover
from storage.store import SequenceStore
from tasks.ingest import find_current
from tests.videos import moving_square_frames, write_video


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the object-store listing cache


@pytest.mark.parametrize("where", ["disk", "s3"])
def test_find_current_names_what_the_store_holds(tmp_path, where, request):
    write_video(tmp_path / "archive" / "003-nm-01-090.avi", moving_square_frames(6, 40, 80), fps=20)
    entries = list(discover(tmp_path / "archive", "casia-b").entries)
    location = str(tmp_path / "s.zarr") if where == "disk" else request.getfixturevalue("s3_bucket") + "/store"
    spec = FrameSpec(size=20)
    assert find_current.fn(location, entries, spec) == []  # no store yet
    ingest_sequence(SequenceStore(location, create=True), entries[0], spec, layout="casia-b")
    assert find_current.fn(location, entries, spec) == ["003-nm-01-090"]
    assert find_current.fn(location, entries, FrameSpec(size=24)) == []  # stored another way: not current
