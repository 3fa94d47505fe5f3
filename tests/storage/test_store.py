from __future__ import annotations

import json
import os

import numpy as np
import pytest

from storage.store import ChunkedArray, SequenceStore, StoreError, sequence_key


def _frames(values, chunk=2):
    def pieces():
        for start in range(0, len(values), chunk):
            yield values[start:start + chunk]
    return ChunkedArray((0, 4, 4, 3), "uint8", (chunk, 4, 4, 3), pieces())


def _write(store, sequence_id, value, count=5):
    data = np.full((count, 4, 4, 3), value, np.uint8)
    store.write_sequence(sequence_id, {"content_hash": str(value)}, {"frames": _frames(data)})


def test_write_then_read_round_trips(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _write(store, "001-nm-01-090", 7)
    assert store.sequence_ids() == ["001-nm-01-090"]
    frames = store.open_sequence("001-nm-01-090")["frames"]
    assert frames.shape == (5, 4, 4, 3) and frames.chunks == (2, 4, 4, 3) and (frames[:] == 7).all()
    assert store.sequence_attrs("001-nm-01-090")["content_hash"] == "7"


def test_a_failed_write_leaves_the_stored_version_untouched_and_invisible(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _write(store, "seq", 1)

    def failing():
        yield np.full((2, 4, 4, 3), 9, np.uint8)
        raise OSError("disk fell off")

    with pytest.raises(OSError):
        store.write_sequence("seq", {"content_hash": "9"}, {"frames": ChunkedArray((0, 4, 4, 3), "uint8", (2, 4, 4, 3), failing())})
    with pytest.raises(OSError):
        store.write_sequence("new", {}, {"frames": ChunkedArray((0, 4, 4, 3), "uint8", (2, 4, 4, 3), failing())})
    assert store.sequence_ids() == ["seq"]
    assert (store.open_sequence("seq")["frames"][:] == 1).all()
    assert not any((store.path / "_staging").iterdir())


def test_replacing_swaps_in_the_new_version(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _write(store, "seq", 1)
    _write(store, "seq", 2, count=3)
    assert store.open_sequence("seq")["frames"].shape[0] == 3
    assert store.sequence_attrs("seq")["content_hash"] == "2"


def test_recover_restores_a_version_parked_by_an_interrupted_swap(tmp_path):
    import json
    import os

    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _write(store, "seq", 4)
    folder = store.path / "sequences" / "seq"
    parked = store.path / "_trash" / "seq.dead"
    parked.parent.mkdir()
    (store.path / "_trash" / "seq.dead.json").write_text(json.dumps({"destination": str(folder), "parked": str(parked)}))
    os.replace(folder, parked)  # the crash: the old version is parked, the new one never arrived
    (store.path / "_staging").mkdir(exist_ok=True)
    (store.path / "_staging" / "seq.half").mkdir()
    assert store.sequence_ids() == []
    with pytest.raises(StoreError, match="writer lock"):
        store.recover()
    with store.writer():
        actions = store.recovered
    assert store.sequence_ids() == ["seq"] and (store.open_sequence("seq")["frames"][:] == 4).all()
    assert any("restored" in a for a in actions) and not any((store.path / "_staging").iterdir())


@pytest.mark.parametrize("absolute", [False, True], ids=["record-today", "record-of-older-versions"])
def test_a_store_moved_after_a_crash_still_restores_what_its_records_name(tmp_path, monkeypatch, absolute):
    import shutil

    store = SequenceStore(tmp_path / "old.zarr", create=True)
    _write(store, "seq", 4)

    def crash(destination, parked):  # the first of the swap's two renames, then the process dies
        if destination.name == "seq":
            os.rename(destination, parked)
            raise KeyboardInterrupt
        os.rename(destination, parked)

    monkeypatch.setattr("storage.store.os.replace", crash)
    with pytest.raises(KeyboardInterrupt):
        _write(store, "seq", 9)
    monkeypatch.undo()
    records = list((store.path / "_trash").glob("*.json"))
    assert len(records) == 1
    if absolute:
        record = json.loads(records[0].read_text())
        records[0].write_text(json.dumps({key: str(store.path / value) for key, value in record.items()}))
    shutil.move(store.path, tmp_path / "new.zarr")  # moved (renamed, copied to a new disk) before the next run
    moved = SequenceStore(tmp_path / "new.zarr")
    with moved.writer():
        actions = moved.recovered
    assert moved.sequence_ids() == ["seq"] and (moved.open_sequence("seq")["frames"][:] == 4).all(), actions
    assert not any((moved.path / "_trash").iterdir())


def test_two_threads_writing_without_a_lease_both_store_under_one_lock(tmp_path):
    import threading
    import time

    SequenceStore(tmp_path / "s.zarr", create=True)
    errors = []

    def slow_pieces(value, delay):
        for _ in range(4):
            time.sleep(delay)
            yield np.full((2, 4, 4, 3), value, np.uint8)

    def write(sequence_id, value, delay):
        try:  # each its own store object without a lease: each write takes the lock for itself
            SequenceStore(tmp_path / "s.zarr").write_sequence(
                sequence_id, {}, {"frames": ChunkedArray((0, 4, 4, 3), "uint8", (2, 4, 4, 3), slow_pieces(value, delay))})
        except Exception as error:  # noqa: BLE001 - the test reports any failure
            errors.append(error)

    threads = [threading.Thread(target=write, args=("a", 1, 0.05)), threading.Thread(target=write, args=("b", 2, 0.15))]
    threads[0].start()
    time.sleep(0.03)
    threads[1].start()
    for thread in threads:
        thread.join()
    store = SequenceStore(tmp_path / "s.zarr")
    assert not errors and store.sequence_ids() == ["a", "b"]
    assert (store.open_sequence("b")["frames"][:] == 2).all() and store.open_sequence("b")["frames"].shape[0] == 8


def test_removing_a_sequence_takes_it_whole_and_a_cut_off_removal_is_finished(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _write(store, "a", 1)
    _write(store, "b", 2)
    store.write_stage("a", "features", "m", {}, {"spatial": ChunkedArray((2,), "float32", (2,), [np.zeros(2, np.float32)])})
    assert store.remove_sequence("a") and not store.remove_sequence("a")
    assert store.sequence_ids() == ["b"] and store.sequence_attrs("a") is None
    assert not store.has_stage("a", "features", "m") and not any((store.path / "_trash").iterdir())
    # A removal cut off after its rename: the group is parked with its record.
    trash = store.path / "_trash"
    (trash / "b.0123.json").write_text(json.dumps({"removed": str(store.path / "sequences" / "b"),
                                                   "parked": str(trash / "b.0123")}))
    os.replace(store.path / "sequences" / "b", trash / "b.0123")
    (trash / "c.4567").mkdir()  # a finished swap's old version whose deletion was cut off
    (trash / "d.json.89ab.tmp").write_text("{")  # a record cut off while being written
    assert store.sequence_ids() == []
    with store.writer():
        actions = store.recovered
    assert actions == ["finished removing b", "deleted c.4567, left over in _trash/"]
    assert not any(trash.iterdir()) and store.sequence_ids() == []


def test_recovery_deletes_nothing_parked_when_a_record_is_unreadable(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _write(store, "a", 1)
    trash = store.path / "_trash"
    trash.mkdir()
    (trash / "a.0123.json").write_text('{"destination": ')
    os.replace(store.path / "sequences" / "a", trash / "a.0123")
    with store.writer():
        actions = store.recovered
    assert len(actions) == 1 and actions[0].startswith("left a.0123.json") and "unreadable" in actions[0]
    assert (trash / "a.0123" / "zarr.json").is_file()
    with store.writer():  # and later writers are not blocked by it
        pass


def test_removal_needs_the_writer_lock_of_a_live_lease(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _write(store, "a", 1)
    stale = SequenceStore(store.path, lease="0" * 32)
    with pytest.raises(StoreError, match="lease"):
        stale.remove_sequence("a")
    assert store.sequence_ids() == ["a"]


def test_stage_outputs_live_beside_the_frames(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _write(store, "seq", 1)
    features = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    store.write_stage("seq", "features", "model-a", {"model": "a"},
                      {"spatial": ChunkedArray((5, 3), "float32", (5, 3), [features])})
    assert store.has_stage("seq", "features", "model-a") and not store.has_stage("seq", "features", "model-b")
    np.testing.assert_array_equal(store.open_stage("seq", "features", "model-a")["spatial"][:], features)
    with pytest.raises(StoreError, match="not stored"):
        store.write_stage("other", "features", "model-a", {}, {})


def test_unaligned_pieces_are_refused(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    pieces = [np.zeros((3, 4, 4, 3), np.uint8), np.zeros((2, 4, 4, 3), np.uint8)]
    with pytest.raises(ValueError, match="chunk-aligned"):
        store.write_sequence("seq", {}, {"frames": ChunkedArray((0, 4, 4, 3), "uint8", (2, 4, 4, 3), pieces)})
    assert store.sequence_ids() == []


def test_opening_something_that_is_not_a_store_fails_clearly(tmp_path):
    with pytest.raises(StoreError, match="not a gaitflow store"):
        SequenceStore(tmp_path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(StoreError, match="not a gaitflow store"):
        SequenceStore(tmp_path / "busy", create=True)


def test_unwritable_store_location_is_a_store_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # even root cannot make a folder under a file
    with pytest.raises(StoreError, match="cannot create"):
        SequenceStore(blocker / "s.zarr", create=True)


def test_sequence_keys_are_safe_folder_names():
    assert sequence_key("001-nm-01-090") == "001-nm-01-090"
    key = sequence_key("cam 1/../walk.avi")
    assert "/" not in key and " " not in key and not key.startswith(".")
    assert sequence_key("a/b") != sequence_key("a_b")


def test_transform_frames_streams_chunks_into_a_stage(tmp_path):
    from storage.stages import OutputSpec, read_stage_array, transform_frames

    store = SequenceStore(tmp_path / "s.zarr", create=True)
    data = np.arange(7)[:, None, None, None] * np.ones((7, 4, 4, 3), np.uint8)
    store.write_sequence("seq", {}, {"frames": _frames(data)})
    calls = []

    def transform(frames):
        calls.append(len(frames))
        return {"mean": frames.mean(axis=(1, 2, 3))[:, None], "first": frames[:, 0, 0, :1].astype(np.float32)}

    outputs = [OutputSpec("mean", (1,), "float32"), OutputSpec("first", (1,), "float32")]
    assert transform_frames(store, "seq", "features", "m1", {"model": "m1"}, transform, outputs, 3) == 7
    assert calls == [3, 3, 1]
    np.testing.assert_allclose(read_stage_array(store, "seq", "features", "m1", "mean")[:, 0], np.arange(7))
    np.testing.assert_allclose(read_stage_array(store, "seq", "features", "m1", "first")[:, 0], np.arange(7))
    assert store.stage_attrs("seq", "features", "m1")["frame_count"] == 7


_SLOW_WRITER = """
import sys, time
import numpy as np
from storage.store import ChunkedArray, SequenceStore

store = SequenceStore(sys.argv[1], create=True)
go_on = sys.argv[2]

def pieces():
    for number in range(4):
        if number == 1:
            open(go_on + ".writing", "w").close()
            time.sleep(3)  # the other writer starts while this one is half way
        yield np.full((2, 4, 4, 3), 10 + number, np.uint8)

with store.writer():
    store.write_sequence("seq", {"content_hash": "slow"}, {"frames": ChunkedArray((0, 4, 4, 3), "uint8", (2, 4, 4, 3), pieces())})
"""


def test_a_second_writer_waits_and_never_clears_the_first_writers_staging(tmp_path):
    """Two real processes: the second one's recovery used to delete the first one's half-written group."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    path = tmp_path / "s.zarr"
    SequenceStore(path, create=True)
    signal = tmp_path / "signal"
    root = Path(__file__).resolve().parents[2]
    first = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path), str(signal)], cwd=root)
    deadline = time.monotonic() + 60
    while not Path(str(signal) + ".writing").exists():
        assert first.poll() is None and time.monotonic() < deadline, "the first writer never started writing"
        time.sleep(0.05)
    waits = []
    second = SequenceStore(path)
    with second.writer(on_wait=waits.append):
        assert second.sequence_ids() == ["seq"], "the second writer got the lock while the first was writing"
        _write(second, "other", 3)
    assert first.wait(timeout=60) == 0
    assert len(waits) == 1 and "waiting for the writer lock" in waits[0] and f"pid {first.pid}" in waits[0]
    frames = second.open_sequence("seq")["frames"][:]
    expected = np.repeat(np.arange(10, 14, dtype=np.uint8), 2)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)
    np.testing.assert_array_equal(frames, expected)
    assert second.sequence_ids() == ["other", "seq"]


def test_a_lease_that_no_longer_holds_the_lock_writes_nothing(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    with store.writer() as lease:
        worker_view = SequenceStore(store.path, lease=lease)
        assert worker_view.holds_writer_lock()
    stale = SequenceStore(store.path, lease=lease)
    assert not stale.holds_writer_lock()
    with pytest.raises(StoreError, match="no longer holds"):
        _write(stale, "seq", 1)
    staging = store.path / "_staging"
    assert store.sequence_ids() == [] and not (staging.exists() and any(staging.iterdir()))


def test_a_store_path_that_is_a_file_is_refused_before_anything_is_written(tmp_path):
    target = tmp_path / "store.zarr"
    target.write_text("not a folder")
    with pytest.raises(StoreError, match="is a file"):
        SequenceStore(target, create=True)
    assert target.read_text() == "not a folder"


def test_listing_an_unchanged_store_reads_no_group_metadata(tmp_path, monkeypatch):
    import storage.store as store_module

    store = SequenceStore(tmp_path / "s.zarr", create=True)
    for number in range(3):
        _write(store, f"00{number}-nm-01-090", number)
    expected = store.all_sequence_attrs()  # builds the catalogue
    assert (store.path / "_catalogue.json").is_file()

    def no_reads(folder):
        raise AssertionError(f"read {folder}/zarr.json")

    monkeypatch.setattr(store_module, "_read_attrs", no_reads)
    assert SequenceStore.all_sequence_attrs(store) == expected
    assert store.sequence_ids() == sorted(expected)


def test_the_catalogue_follows_replacements_removals_and_survives_a_garbled_cache(tmp_path):
    import shutil

    store = SequenceStore(tmp_path / "s.zarr", create=True)
    _write(store, "a", 1)
    _write(store, "b", 2)
    assert {k: v["content_hash"] for k, v in store.all_sequence_attrs().items()} == {"a": "1", "b": "2"}
    _write(store, "a", 3)  # replaced whole: a new folder, a new stamp
    shutil.rmtree(store.path / "sequences" / "b")
    _write(store, "c", 4)
    assert {k: v["content_hash"] for k, v in store.all_sequence_attrs().items()} == {"a": "3", "c": "4"}
    for garbage in ("{not json", "[]", '{"format": "gaitflow.catalogue/1", "folders": []}'):
        (store.path / "_catalogue.json").write_text(garbage)
        assert store.sequence_ids() == ["a", "c"]
    assert (store.path / "_catalogue.json").read_text().startswith("{\"format\"")  # rewritten
    (store.path / "sequences" / "half").mkdir()  # a folder without metadata is no sequence
    assert store.sequence_ids() == ["a", "c"]
