"""The store on object storage (icechunk on an S3-compatible server on 127.0.0.1)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from storage.store import ChunkedArray, SequenceStore, StoreError


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    """This machine's cache of object stores (listings, fetched models) under the test's folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _frames(value, count=5, chunk=2):
    data = np.full((count, 4, 4, 3), value, np.uint8)
    return ChunkedArray((0, 4, 4, 3), "uint8", (chunk, 4, 4, 3), (data[s:s + chunk] for s in range(0, count, chunk)))


def test_a_store_on_s3_reads_back_what_was_written(s3_bucket):
    from storage.object_store import ObjectSequenceStore

    with pytest.raises(StoreError, match="not a gaitflow store"):
        SequenceStore(f"{s3_bucket}/store")
    store = SequenceStore(f"{s3_bucket}/store/", create=True)
    assert isinstance(store, ObjectSequenceStore) and store.path == f"{s3_bucket}/store"
    store.write_sequence("001-nm-01-090", {"content_hash": "7"}, {"frames": _frames(7)})
    store.write_stage("001-nm-01-090", "features", "m1", {"model": "m1"},
                      {"spatial": ChunkedArray((5, 2), "float16", (5, 2), [np.ones((5, 2))])})

    again = SequenceStore(f"{s3_bucket}/store")  # another client sees the commits
    assert again.sequence_ids() == ["001-nm-01-090"]
    frames = again.open_sequence("001-nm-01-090")["frames"]
    assert frames.shape == (5, 4, 4, 3) and frames.chunks == (2, 4, 4, 3) and (frames[:] == 7).all()
    assert again.all_sequence_attrs()["001-nm-01-090"]["content_hash"] == "7"
    assert again.has_stage("001-nm-01-090", "features", "m1") and not again.has_stage("001-nm-01-090", "features", "m2")
    assert again.stage_attrs("001-nm-01-090", "features", "m1")["model"] == "m1"
    assert (again.open_stage("001-nm-01-090", "features", "m1")["spatial"][:] == 1).all()
    with pytest.raises(StoreError, match="is not stored"):
        again.write_stage("nobody", "features", "m1", {}, {})

    store.write_sequence("001-nm-01-090", {"content_hash": "8"}, {"frames": _frames(8, count=3)})
    assert again.open_sequence("001-nm-01-090")["frames"].shape[0] == 3
    assert not again.has_stage("001-nm-01-090", "features", "m1")  # replaced whole, as on disk
    assert store.remove_sequence("001-nm-01-090") and not store.remove_sequence("001-nm-01-090")
    assert again.sequence_ids() == []


def test_a_failed_write_commits_nothing(s3_bucket):
    store = SequenceStore(f"{s3_bucket}/s", create=True)
    store.write_sequence("seq", {"content_hash": "1"}, {"frames": _frames(1)})

    def failing():
        yield np.full((2, 4, 4, 3), 9, np.uint8)
        raise OSError("connection reset")

    with pytest.raises(OSError):
        store.write_sequence("seq", {"content_hash": "9"}, {"frames": ChunkedArray((0, 4, 4, 3), "uint8", (2, 4, 4, 3), failing())})
    with pytest.raises(OSError):
        store.write_sequence("new", {}, {"frames": ChunkedArray((0, 4, 4, 3), "uint8", (2, 4, 4, 3), failing())})
    assert store.sequence_ids() == ["seq"]
    assert (store.open_sequence("seq")["frames"][:] == 1).all() and store.sequence_attrs("seq")["content_hash"] == "1"


def test_two_writers_of_different_sequences_both_land(s3_bucket):
    SequenceStore(f"{s3_bucket}/s", create=True)
    errors = []

    def write(first: int) -> None:
        store = SequenceStore(f"{s3_bucket}/s")  # one client each, as two worker processes
        try:
            for number in range(first, first + 4):
                store.write_sequence(f"seq-{number}", {"content_hash": str(number)}, {"frames": _frames(number)})
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    writers = [threading.Thread(target=write, args=(first,)) for first in (0, 10)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    store = SequenceStore(f"{s3_bucket}/s")
    assert store.sequence_ids() == sorted(f"seq-{n}" for n in (*range(4), *range(10, 14)))
    assert all((store.open_sequence(f"seq-{n}")["frames"][:] == n).all() for n in (0, 3, 10, 13))


def test_when_two_writers_replace_the_same_sequence_the_later_commit_fails_whole(s3_bucket):
    first = SequenceStore(f"{s3_bucket}/s", create=True)
    second = SequenceStore(f"{s3_bucket}/s")
    first.write_sequence("seq", {"content_hash": "1"}, {"frames": _frames(1)})

    def attrs_after_a_rival_commit():
        # Called once the arrays are written, before the commit: the rival lands in between.
        second.write_sequence("seq", {"content_hash": "3"}, {"frames": _frames(3, count=3)})
        return {"content_hash": "2"}

    with pytest.raises(StoreError, match="another writer changed the same group"):
        first.write_sequence("seq", attrs_after_a_rival_commit, {"frames": _frames(2)})
    assert first.sequence_attrs("seq")["content_hash"] == "3"
    assert (first.open_sequence("seq")["frames"][:] == 3).all() and first.open_sequence("seq")["frames"].shape[0] == 3


def test_a_reader_keeps_its_snapshot_while_a_writer_replaces_the_sequence(s3_bucket):
    store = SequenceStore(f"{s3_bucket}/s", create=True)
    store.write_sequence("seq", {"content_hash": "1"}, {"frames": _frames(1)})
    opened = store.open_sequence("seq")
    store.write_sequence("seq", {"content_hash": "2"}, {"frames": _frames(2)})
    assert (opened["frames"][:] == 1).all()  # never a mix of the two versions
    assert (store.open_sequence("seq")["frames"][:] == 2).all()


def test_galleries_live_in_an_object_store_too(s3_bucket):
    from storage.galleries import enroll, gallery_names, read_gallery

    store = SequenceStore(f"{s3_bucket}/s", create=True)
    models = dict(gait_model="g1", gait_model_path="/m/g1.keras", features="p1", pose_model="/m/p1.keras", frame_size=64)
    enroll(store, "lab", np.ones((2, 4)), ["ann", "bob"], ["a1", "b1"], **models)
    enroll(store, "lab", np.zeros((1, 4)), ["cid"], ["c1"], **models)
    assert gallery_names(store) == ["lab"] and read_gallery(store, "lab").people == ["ann", "bob", "cid"]


def test_store_urls_with_other_schemes_or_no_bucket_are_refused_by_name():
    with pytest.raises(StoreError, match=r"gs:// scheme is not supported.*s3://bucket/prefix"):
        SequenceStore("gs://bucket/prefix")
    with pytest.raises(StoreError, match="no bucket"):
        SequenceStore("s3:///prefix")


def test_an_unreachable_object_store_fails_in_seconds_with_one_line(s3_endpoint, monkeypatch):
    import socket

    import storage.object_store as object_store

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(object_store, "FIRST_CONTACT_TIMEOUT_S", 2.0)
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        SequenceStore("s3://nowhere/store", create=True)
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert message.startswith("s3://nowhere/store: ") and "\n" not in message


def test_the_cached_listing_follows_every_commit_and_spares_an_unchanged_store_its_reads(s3_bucket, monkeypatch):
    import zarr

    store = SequenceStore(f"{s3_bucket}/s", create=True)
    store.write_sequence("a", {"content_hash": "1"}, {"frames": _frames(1)})
    assert set(store.all_sequence_attrs()) == {"a"}
    store.write_sequence("b", {"content_hash": "2"}, {"frames": _frames(2)})
    other = SequenceStore(f"{s3_bucket}/s")
    assert set(other.all_sequence_attrs()) == {"a", "b"}
    other.write_sequence("a", {"content_hash": "3"}, {"frames": _frames(3)})
    store.remove_sequence("b")
    assert store.all_sequence_attrs() == {"a": {"content_hash": "3", "sequence_id": "a"}}

    def no_group_reads(*args, **kwargs):
        raise AssertionError("an unchanged store was listed from its groups")

    monkeypatch.setattr(zarr, "open_group", no_group_reads)
    assert set(other.all_sequence_attrs()) == {"a"}


def test_a_reading_block_reads_one_snapshot_and_sees_its_own_writes(s3_bucket):
    store = SequenceStore(f"{s3_bucket}/s", create=True)
    other = SequenceStore(f"{s3_bucket}/s")
    store.write_sequence("a", {"content_hash": "1"}, {"frames": _frames(1)})
    with store.reading():
        other.write_sequence("b", {"content_hash": "2"}, {"frames": _frames(2)})
        assert store.sequence_ids() == ["a"] and store.sequence_attrs("b") is None  # the block's snapshot
        store.write_sequence("c", {"content_hash": "3"}, {"frames": _frames(3)})
        assert store.sequence_ids() == ["a", "b", "c"]  # its own commit moved it (onto b's)
        other.remove_sequence("a")
        assert store.sequence_attrs("a") is not None
    assert store.sequence_ids() == ["b", "c"]
    with SequenceStore(f"{s3_bucket}/s").reading() as same:  # on disk and in S3 alike
        assert same.sequence_ids() == ["b", "c"]


def test_a_batch_commits_its_finished_writes_together_and_drops_a_failed_one(s3_bucket):
    store = SequenceStore(f"{s3_bucket}/s", create=True)
    store.write_sequence("kept", {"content_hash": "0"}, {"frames": _frames(0)})
    reader = SequenceStore(f"{s3_bucket}/s")
    commits = len(list(store._repository.ancestry(branch="main")))

    def failing():
        yield np.full((2, 4, 4, 3), 9, np.uint8)
        raise OSError("connection reset")

    with pytest.raises(RuntimeError, match="the task failed"):
        with store.batched():
            store.write_sequence("a", {"content_hash": "1"}, {"frames": _frames(1)})
            with pytest.raises(OSError):
                store.write_sequence("kept", {"content_hash": "9"},
                                     {"frames": ChunkedArray((0, 4, 4, 3), "uint8", (2, 4, 4, 3), failing())})
            store.write_sequence("b", {"content_hash": "2"}, {"frames": _frames(2)})
            assert reader.sequence_ids() == ["kept"]  # nothing shows before the batch ends
            raise RuntimeError("the task failed")
    assert reader.sequence_ids() == ["a", "b", "kept"]  # the finished writes landed, in one commit
    assert len(list(store._repository.ancestry(branch="main"))) == commits + 1
    assert reader.sequence_attrs("kept")["content_hash"] == "0" and (reader.open_sequence("kept")["frames"][:] == 0).all()


def test_a_model_file_kept_in_the_store_is_fetched_once_with_its_record(s3_bucket, tmp_path, monkeypatch):
    import json
    from pathlib import Path

    from stages.models import local_model_file, read_record
    from storage.object_store import is_model_reference, publish_model_file

    model = tmp_path / "models" / "gait-0123456789ab.keras"
    model.parent.mkdir()
    model.write_bytes(bytes(range(256)) * 40_000)  # 10 MB: more than one chunk
    model.with_suffix(".json").write_text(json.dumps({"features": "abc"}))
    store = SequenceStore(f"{s3_bucket}/s", create=True)
    reference = publish_model_file(store, model)
    assert reference == f"{s3_bucket}/s#models/gait-0123456789ab.keras" and is_model_reference(reference)
    assert publish_model_file(store, model) == reference  # kept once
    model.unlink()

    local = Path(local_model_file(reference))
    assert local.read_bytes() == bytes(range(256)) * 40_000 and read_record(local) == {"features": "abc"}
    assert str(tmp_path / "home") in str(local)
    assert local_model_file(str(tmp_path / "elsewhere.keras")) == str(tmp_path / "elsewhere.keras")
    with pytest.raises(StoreError, match="no model gait-ffffffffffff.keras"):
        local_model_file(f"{s3_bucket}/s#models/gait-ffffffffffff.keras")


def test_stage_outputs_of_frames_replaced_meanwhile_are_refused(s3_bucket):
    from storage.stages import OutputSpec, transform_frames
    from storage.store import StoreConflict

    store = SequenceStore(f"{s3_bucket}/store", create=True)
    other = SequenceStore(f"{s3_bucket}/store")
    store.write_sequence("S", {"content_hash": "old"}, {"frames": _frames(1)})

    replaced = []

    def transform(frames):  # another writer re-ingests S while its old frames are being processed
        if not replaced:
            replaced.append(True)
            other.write_sequence("S", {"content_hash": "new"}, {"frames": _frames(2)})
        return {"mean": frames.reshape(len(frames), -1).mean(axis=1, keepdims=True).astype(np.float32)}

    with pytest.raises(StoreConflict, match="another writer changed sequences/S"):
        transform_frames(store, "S", "features", "m", {}, transform, [OutputSpec("mean", (1,), "float32")], 2)
    again = SequenceStore(f"{s3_bucket}/store")
    assert again.sequence_attrs("S")["content_hash"] == "new" and not again.has_stage("S", "features", "m")
    # Nothing changes S now: the stage of the stored frames lands.
    transform_frames(store, "S", "features", "m", {}, lambda f: {"mean": np.full((len(f), 1), 2, np.float32)},
                     [OutputSpec("mean", (1,), "float32")], 2)
    assert again.has_stage("S", "features", "m")


def test_two_enrolments_into_one_gallery_at_once_both_land(s3_bucket):
    from storage import galleries

    models = dict(gait_model="g", gait_model_path="g.keras", features="f", pose_model="p", frame_size=32)
    first, second = SequenceStore(f"{s3_bucket}/store", create=True), SequenceStore(f"{s3_bucket}/store")
    galleries.enroll(first, "G", np.ones((1, 4)), ["alice"], ["w0"], **models)
    write = second.write_named_group
    interfered = []

    def enrolment_in_between(*args, **kwargs):  # the first writer enrols bob after the second read the gallery
        if not interfered:
            interfered.append(True)
            galleries.enroll(first, "G", np.full((1, 4), 2.0), ["bob"], ["w1"], **models)
        return write(*args, **kwargs)

    second.write_named_group = enrolment_in_between
    galleries.enroll(second, "G", np.full((1, 4), 3.0), ["carol"], ["w2"], **models)
    assert galleries.read_gallery(SequenceStore(f"{s3_bucket}/store"), "G").people == ["alice", "bob", "carol"]
