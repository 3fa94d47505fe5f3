"""The sequence store: one zarr v3 hierarchy on disk holding every stage's arrays.

Layout (each `<key>` is a sequence id made safe for a folder name):

    store.zarr/
      zarr.json                      root group; attrs: format
      sequences/<key>/               one group per sequence; attrs: labels, source, hashes
        frames         (T, S, S, 3) uint8, chunked along T
        source_index   (T,) int64   source frame of each stored frame
        crop_box       (T, 4) float32
        joints_gt      (T, 16, 2) float32, visible_gt (T, 16) bool   (sequences with ground truth)
        <stage>/<name>/...           later stages' outputs, e.g. features/<pose model>/spatial
      _catalogue.json                a cache of every sequence folder's attributes, keyed by the
                                     folder's stamp, so listing does not read each group

Writes are atomic per group: a group is built under `_staging/` (template first, then
chunk-aligned regions) and renamed into place only once complete, so readers never see half a
sequence, and a crash leaves at most a staging folder that `recover()` clears. Replacing a
group moves the old one to `_trash/` first, and `recover()` puts it back if the swap was cut off.

One writer at a time: `SequenceStore.writer()` takes the store's lock file (an OS lock, freed
when its process dies), clears what a crashed writer left, and yields a lease token. Worker
processes of the same run open the store with that lease, and every write checks that the
lease still holds the lock, so a second run waits instead of clearing the first run's staging
folders, and workers of a dead run cannot swap anything in. A write without a lease takes the
lock itself for that write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import filelock
import numpy as np
import zarr
from zarr.codecs import ZstdCodec

FORMAT = "gaitflow.store/1"
SEQUENCES = "sequences"
_STAGING = "_staging"
_TRASH = "_trash"
_LOCK_FILE = ".writer.lock"
_CATALOGUE = "_catalogue.json"
_CATALOGUE_FORMAT = "gaitflow.catalogue/1"
_HOLDER_FILE = ".writer.json"
_WAIT_REPORT_S = 60.0
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_compressors() -> tuple:
    """Plain Zstandard, level 3.

    Measured by `benchmarks/storage_throughput.py`: on real 299 px frames it stores 2.7x
    smaller and writes about 3x faster than Blosc-zstd (whose small independent blocks miss the
    repeats of a static camera); on float16 features the two are alike, and shuffling gains
    nothing there.
    """
    return (ZstdCodec(level=3),)


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message names the path."""


class StoreConflict(StoreError):
    """Another writer changed a group after this one read it, so a write based on that read was
    refused; nothing of it was written. Reading again and redoing the write is safe."""


# Writer locks this process holds, by store path: [lock, lease token, depth, recovered (an
# Event set once the taker's recovery is done, which other threads wait for)]. Process-wide
# rather than per thread, because a flow's tasks run in other threads of the lock holder.
_held: dict[Path, list] = {}
_held_guard = threading.Lock()
# Signalled when a thread leaves a held lock's block: the thread that took the lock waits for
# the others riding on it before it lets the lock go.
_held_left = threading.Condition(_held_guard)


@dataclasses.dataclass(frozen=True)
class ChunkedArray:
    """An array to write: its full shape and dtype, chunks, and the data as chunk-aligned pieces.

    `pieces` yields consecutive blocks along the first axis; each but the last must hold
    exactly `chunks[0]` rows, so every write fills whole chunks.
    """

    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...]
    pieces: Iterable[np.ndarray]


def sequence_key(sequence_id: str) -> str:
    """A folder name for a sequence id; ids with other characters get a digest suffix."""
    if _SAFE_KEY.match(sequence_id) and not sequence_id.startswith((_STAGING, _TRASH)):
        return sequence_id
    digest = hashlib.sha1(sequence_id.encode()).hexdigest()[:10]
    return re.sub(r"[^A-Za-z0-9._-]", "_", sequence_id).lstrip("._") + "~" + digest


class SequenceStore:
    """A zarr store of sequences on the local file system.

    Given an object-storage URL (`s3://bucket/prefix`), the constructor returns the same
    interface on object storage instead (`storage.object_store.ObjectSequenceStore`), as
    `pathlib.Path` returns the path class of its system.
    """

    def __new__(cls, path: str | os.PathLike, *args, **kwargs) -> "SequenceStore":
        if cls is SequenceStore and _is_url(path):
            from storage.object_store import ObjectSequenceStore

            cls = ObjectSequenceStore
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike, *, create: bool = False, lease: str | None = None) -> None:
        if isinstance(path, str) and path.lower().startswith("file://"):
            path = path[len("file://"):]
        self.path = Path(path).expanduser().resolve()
        self.lease = lease
        self.recovered: list[str] = []
        if create and not (self.path / "zarr.json").is_file():
            with self.writer(create=True):
                pass
        _check_store_folder(self.path, create=False)
        attrs = self._root_attrs()
        if attrs.get("format") != FORMAT:
            raise StoreError(f"{self.path}: not a gaitflow store (format {attrs.get('format')!r})")

    # ----------------------------------------------------------------------------- the writer lock
    @contextlib.contextmanager
    def writer(self, *, on_wait: Callable[[str], None] | None = None, create: bool = False) -> Iterator[str]:
        """Holds the store's writer lock for the block; yields the lease token for worker processes.

        Waits while another process holds the lock, calling `on_wait` with a line that names the
        holder (then once a minute). Re-entrant within a process. On first entry it creates the
        store when `create` is set and runs `recover()` (the last writer's leftovers are now
        known to be dead); its actions are in `self.recovered`.
        """
        with _held_guard:
            held = _held.get(self.path)
            if held is not None:
                held[2] += 1
        previous_lease = self.lease
        if held is not None:
            self.lease, self.recovered = held[1], []
            try:
                held[3].wait()  # the taker's recovery clears staging: never under a write of ours
                yield held[1]
            finally:
                self.lease = previous_lease
                with _held_guard:
                    held[2] -= 1
                    _held_left.notify_all()
            return
        if self.lease is not None and self.holds_writer_lock():
            # A worker of the run that holds the lock: waiting for the lock would wait for itself.
            yield self.lease
            return
        _check_store_folder(self.path, create)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = _acquire(self.path, on_wait)
        except OSError as error:
            raise StoreError(f"{self.path}: cannot create the store: {error}") from error
        token = uuid.uuid4().hex
        try:
            _write_json_atomic(self.path / _HOLDER_FILE, {
                "lease": token, "pid": os.getpid(), "host": socket.gethostname(),
                "command": " ".join(sys.argv)[:300], "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            })
            recovered = threading.Event()
            with _held_guard:
                _held[self.path] = [lock, token, 1, recovered]
            try:
                if create:
                    self._create()
                self.lease = token
                self.recovered = self.recover()
            finally:
                recovered.set()
            yield token
        finally:
            self.lease = previous_lease
            with _held_guard:
                entry = _held.get(self.path)
                if entry is not None:
                    entry[2] -= 1
                    # Other threads of this process write under this lock: let them finish first.
                    _held_left.wait_for(lambda: entry[2] <= 0)
                _held.pop(self.path, None)
            lock.release()

    def holds_writer_lock(self) -> bool:
        """True when this process, or the run whose lease this store was opened with, holds the lock."""
        with _held_guard:
            if self.path in _held:
                return True
        if self.lease is None:
            return False
        try:
            holder = json.loads((self.path / _HOLDER_FILE).read_text())
        except (OSError, ValueError):
            return False
        return holder.get("lease") == self.lease and _lock_is_taken(self.path)

    @contextlib.contextmanager
    def _locked_for_call(self) -> Iterator[None]:
        """Makes one write safe: checks the lease, or takes the lock for the call when there is none
        (re-entrant: a lock this process holds counts the call, and is not let go during it)."""
        if self.lease is None:
            with self.writer():
                yield
            return
        if self.holds_writer_lock():
            yield
            return
        if self.lease is not None:
            raise StoreError(
                f"{self.path}: the writer lease {self.lease[:8]} no longer holds the store's lock "
                "(its run ended or died); nothing was written"
            )
        with self.writer():
            yield

    # ----------------------------------------------------------------------------- reading
    @contextlib.contextmanager
    def reading(self) -> Iterator["SequenceStore"]:
        """A block of many reads (a loop over the sequences). On disk each read is current and
        cheap, so nothing changes; on object storage the block reads one snapshot instead of
        looking up the branch for every read (`ObjectSequenceStore.reading`)."""
        yield self

    @contextlib.contextmanager
    def batched(self) -> Iterator["SequenceStore"]:
        """A block of many writes (a task's bundle). On disk each write is swapped in as it
        completes, so nothing changes; on object storage the block's writes share one commit
        (`ObjectSequenceStore.batched`)."""
        yield self

    def sequence_ids(self) -> list[str]:
        """Ids of every complete sequence, sorted."""
        return sorted(self._index())

    def sequence_attrs(self, sequence_id: str) -> dict | None:
        """The attributes of a stored sequence, or None when it is not stored."""
        folder = self._sequence_dir(sequence_id)
        if not (folder / "zarr.json").is_file():
            return None
        return _read_attrs(folder)

    def all_sequence_attrs(self) -> dict[str, dict]:
        """{id: attributes} of every complete sequence, from the catalogue (`_catalogue`)."""
        return {sequence_id: attrs for sequence_id, (_, attrs) in self._catalogue().items()}

    def open_sequence(self, sequence_id: str) -> zarr.Group:
        folder = self._sequence_dir(sequence_id)
        if not (folder / "zarr.json").is_file():
            raise StoreError(f"{self.path}: sequence {sequence_id!r} is not stored")
        return zarr.open_group(str(folder), mode="r")

    def has_stage(self, sequence_id: str, stage: str, name: str) -> bool:
        return (self._sequence_dir(sequence_id) / _checked(stage) / _checked(name) / "zarr.json").is_file()

    def stage_attrs(self, sequence_id: str, stage: str, name: str) -> dict | None:
        folder = self._sequence_dir(sequence_id) / _checked(stage) / _checked(name)
        return _read_attrs(folder) if (folder / "zarr.json").is_file() else None

    def open_stage(self, sequence_id: str, stage: str, name: str) -> zarr.Group:
        folder = self._sequence_dir(sequence_id) / _checked(stage) / _checked(name)
        if not (folder / "zarr.json").is_file():
            raise StoreError(f"{self.path}: sequence {sequence_id!r} has no {stage}/{name}")
        return zarr.open_group(str(folder), mode="r")

    def named_groups(self, folder: str) -> list[str]:
        """Names of the complete groups in a top-level folder beside `sequences` (e.g. galleries)."""
        root = self.path / _checked(folder)
        return sorted(p.name for p in root.iterdir() if (p / "zarr.json").is_file()) if root.is_dir() else []

    def named_group_attrs(self, folder: str, name: str) -> dict | None:
        group = self.path / _checked(folder) / _checked(name)
        return _read_attrs(group) if (group / "zarr.json").is_file() else None

    def open_named_group(self, folder: str, name: str) -> zarr.Group:
        group = self.path / _checked(folder) / _checked(name)
        if not (group / "zarr.json").is_file():
            raise StoreError(f"{self.path}: no {folder}/{name}")
        return zarr.open_group(str(group), mode="r")

    # ----------------------------------------------------------------------------- writing
    def write_sequence(
        self, sequence_id: str, attrs: Mapping | Callable[[], Mapping], arrays: Mapping[str, ChunkedArray]
    ) -> None:
        """Writes a whole sequence group atomically, replacing any stored one only on success.

        `attrs` may be a callable, called once the arrays are written (for values such as the
        frame count that are known only then).
        """
        destination = self._sequence_dir(sequence_id)
        with self._locked_for_call(), self._staged(destination) as group:
            _write_group(group, attrs, arrays, sequence_id)

    def write_stage(
        self,
        sequence_id: str,
        stage: str,
        name: str,
        attrs: Mapping | Callable[[], Mapping],
        arrays: Mapping[str, ChunkedArray],
    ) -> None:
        """Writes one stage output of a stored sequence atomically (e.g. features/<model>)."""
        sequence_dir = self._sequence_dir(sequence_id)
        with self._locked_for_call():
            if not (sequence_dir / "zarr.json").is_file():
                raise StoreError(f"{self.path}: sequence {sequence_id!r} is not stored")
            stage_dir = sequence_dir / _checked(stage)
            if not (stage_dir / "zarr.json").is_file():
                zarr.open_group(str(stage_dir), mode="a")
            with self._staged(stage_dir / _checked(name)) as group:
                _write_group(group, attrs, arrays, sequence_id)

    def write_named_group(
        self, folder: str, name: str, attrs: Mapping, arrays: Mapping[str, ChunkedArray], label: str
    ) -> None:
        """Writes (or replaces) the group `<folder>/<name>` atomically; `label` is recorded as its id."""
        with self._locked_for_call():
            (self.path / _checked(folder)).mkdir(exist_ok=True)
            with self._staged(self.path / folder / _checked(name)) as group:
                _write_group(group, attrs, arrays, label)

    def remove_sequence(self, sequence_id: str) -> bool:
        """Removes a stored sequence whole, with every stage output; False when none is stored.

        One rename takes the group out of `sequences/`, so listings see it whole or not at all,
        then it is deleted. A record written first tells `recover()` to finish the deletion if a
        crash cuts it off. As when a group is replaced, a reader that opened the group before
        the removal may find its arrays gone.
        """
        destination = self._sequence_dir(sequence_id)
        with self._locked_for_call():
            if not destination.is_dir():
                return False
            trash = self.path / _TRASH
            token = uuid.uuid4().hex
            parked, record = trash / f"{destination.name}.{token}", trash / f"{destination.name}.{token}.json"
            try:
                trash.mkdir(exist_ok=True)
                _write_json_atomic(record, {"removed": self._relative(destination), "parked": self._relative(parked)})
                os.replace(destination, parked)
            except OSError as error:
                raise StoreError(f"{self.path}: cannot remove sequence {sequence_id!r}: {error}") from error
            shutil.rmtree(parked, ignore_errors=True)
            record.unlink(missing_ok=True)
            return True

    def recover(self) -> list[str]:
        """Finishes or undoes swaps a crash cut off and clears stale staging; returns what it did.

        Runs only under the writer lock (`writer()` calls it), so no live writer's staging
        folder is ever touched.
        """
        if not self.holds_writer_lock():
            raise StoreError(f"{self.path}: recovery needs the store's writer lock (use SequenceStore.writer())")
        actions = []
        trash = self.path / _TRASH
        unreadable = []
        for manifest in sorted(trash.glob("*.json")) if trash.is_dir() else []:
            try:
                record = json.loads(manifest.read_text())
                parked, original = self._recorded_paths(record)
            except (OSError, ValueError, KeyError, TypeError) as error:
                unreadable.append(manifest.name)
                actions.append(f"left {manifest.name} and what it may point to in {_TRASH}/: unreadable ({error})")
                continue
            if "removed" in record:  # a removal: finish it (or it never began)
                if parked.exists():
                    shutil.rmtree(parked)
                    actions.append(f"finished removing {original.name}")
            elif parked.exists() and not original.exists():
                os.replace(parked, original)
                actions.append(f"restored {original.relative_to(self.path)}")
            elif parked.exists():
                shutil.rmtree(parked)
            manifest.unlink()
        for leftover in sorted(trash.iterdir()) if trash.is_dir() and not unreadable else []:
            # Parked and no longer recorded: the old version of a finished swap or removal whose
            # deletion was cut off. (With an unreadable record nothing is deleted: it may be its.)
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
                actions.append(f"deleted {leftover.name}, left over in {_TRASH}/")
            elif leftover.suffix == ".tmp":  # a record whose writing was cut off
                leftover.unlink(missing_ok=True)
        staging = self.path / _STAGING
        for leftover in sorted(staging.iterdir()) if staging.is_dir() else []:
            shutil.rmtree(leftover, ignore_errors=True)
            actions.append(f"removed unfinished {leftover.name}")
        return actions

    # ----------------------------------------------------------------------------- internals
    def _create(self) -> None:
        try:
            if (self.path / "zarr.json").is_file():
                return
            _check_store_folder(self.path, create=True)
            root = zarr.open_group(str(self.path), mode="a")
            root.attrs.update({"format": FORMAT})
            zarr.open_group(str(self.path / SEQUENCES), mode="a")
        except OSError as error:
            raise StoreError(f"{self.path}: cannot create the store: {error}") from error

    def _root_attrs(self) -> dict:
        try:
            return _read_attrs(self.path)
        except (OSError, ValueError) as error:
            raise StoreError(f"{self.path}: unreadable store metadata: {error}") from error

    def _sequence_dir(self, sequence_id: str) -> Path:
        return self.path / SEQUENCES / sequence_key(sequence_id)

    def _index(self) -> dict[str, Path]:
        root = self.path / SEQUENCES
        return {sequence_id: root / key for sequence_id, (key, _) in self._catalogue().items()}

    def _catalogue(self) -> dict[str, tuple[str, dict]]:
        """{sequence id: (folder name, attributes)} of every complete sequence.

        The folders are the truth; `_catalogue.json` caches each folder's attributes under its
        stamp (inode, mtime, ctime), so listing an unchanged store of 100,000 sequences reads one
        file and stats the folders instead of reading every group's `zarr.json`. A sequence is
        only ever replaced whole, by renaming a new folder into place, which gives it a new
        stamp; a stale or unreadable cache therefore costs re-reads, never a wrong answer.
        Whoever lists rewrites the cache when something changed (atomically; a read-only store
        just keeps its old cache).
        """
        root = self.path / SEQUENCES
        cache_path = self.path / _CATALOGUE
        try:
            cached = json.loads(cache_path.read_text())
            known = cached["folders"] if cached.get("format") == _CATALOGUE_FORMAT else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            known = {}
        if not isinstance(known, dict):
            known = {}
        folders: dict[str, dict] = {}
        changed = False
        for entry in os.scandir(root) if root.is_dir() else ():
            try:
                if not entry.is_dir():
                    continue
                stat = entry.stat()
            except OSError:
                continue
            stamp = [stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns]
            record = known.get(entry.name)
            if isinstance(record, dict) and record.get("stamp") == stamp:
                folders[entry.name] = record
                continue
            changed = True
            try:
                attrs = _read_attrs(Path(entry.path))
            except FileNotFoundError:  # being built or removed: not a complete sequence
                continue
            folders[entry.name] = {"stamp": stamp, "attrs": attrs}
        if changed or len(folders) != len(known):
            with contextlib.suppress(OSError):
                _write_json_atomic(cache_path, {"format": _CATALOGUE_FORMAT, "folders": folders})
        return {
            record["attrs"]["sequence_id"]: (name, record["attrs"])
            for name, record in folders.items() if "sequence_id" in record["attrs"]
        }

    @contextlib.contextmanager
    def _staged(self, destination: Path) -> Iterator[zarr.Group]:
        token = uuid.uuid4().hex
        staging = self.path / _STAGING / f"{destination.name}.{token}"
        try:
            staging.parent.mkdir(exist_ok=True)
            group = zarr.open_group(str(staging), mode="w")
        except OSError as error:
            raise StoreError(f"{self.path}: cannot write to the store: {error}") from error
        try:
            yield group
            if not self.holds_writer_lock():
                raise StoreError(f"{self.path}: lost the writer lock while writing {destination.name}; nothing was swapped in")
            self._swap_in(staging, destination, token)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _relative(self, path: Path) -> str:
        """`path` inside the store as a crash record keeps it: relative to the store's folder, so
        a store moved or mounted elsewhere after a crash still finds what its records name."""
        return path.relative_to(self.path).as_posix()

    def _recorded_paths(self, record: dict) -> tuple[Path, Path]:
        """(parked, original) of a crash record, inside this store wherever it now lies.

        Records written before paths were relative hold absolute ones: those are re-rooted here
        (the parked folder lay in `<old store>/_trash/`, which names the old store's folder)."""
        parked, original = Path(record["parked"]), Path(record.get("destination") or record["removed"])
        if not parked.is_absolute():
            return self.path / parked, self.path / original
        old_root = parked.parent.parent
        return self.path / parked.relative_to(old_root), self.path / original.relative_to(old_root)

    def _swap_in(self, staging: Path, destination: Path, token: str) -> None:
        if not destination.exists():
            os.replace(staging, destination)
            return
        trash = self.path / _TRASH
        trash.mkdir(exist_ok=True)
        parked = trash / f"{destination.name}.{token}"
        record = trash / f"{destination.name}.{token}.json"
        # The record lets recover() put the old group back if we die between the two renames.
        _write_json_atomic(record, {"destination": self._relative(destination), "parked": self._relative(parked)})
        os.replace(destination, parked)
        os.replace(staging, destination)
        record.unlink()
        shutil.rmtree(parked, ignore_errors=True)


def store_exists(location: str | os.PathLike) -> bool:
    """Whether a store is at `location`, a path or an object-store URL; reads, never creates."""
    if _is_url(location):
        from storage.object_store import store_exists as object_store_exists

        return object_store_exists(str(location))
    path = str(location)
    path = path[len("file://"):] if path.lower().startswith("file://") else path
    return (Path(path).expanduser() / "zarr.json").is_file()


def _is_url(path: object) -> bool:
    """A URL other than file:// (those name local paths)."""
    return isinstance(path, str) and bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", path)) \
        and not path.lower().startswith("file://")


def _check_store_folder(path: Path, create: bool) -> None:
    """Refuses, before anything is written there, a path that is not (and cannot become) a store."""
    if (path / "zarr.json").is_file():
        return
    if path.exists() and not path.is_dir():
        raise StoreError(f"{path}: is a file, not a gaitflow store")
    if not create:
        raise StoreError(f"{path}: not a gaitflow store (no zarr.json); ingest an archive first")
    if path.exists() and any(p.name not in (_LOCK_FILE, _HOLDER_FILE) for p in path.iterdir()):
        raise StoreError(f"{path}: folder exists and is not a gaitflow store")


def _lock(path: Path) -> filelock.FileLock:
    return filelock.FileLock(str(path / _LOCK_FILE), thread_local=False, preserve_lock_file=True)


def _lock_is_taken(path: Path) -> bool:
    probe = _lock(path)
    try:
        probe.acquire(timeout=0)
    except filelock.Timeout:
        return True
    probe.release()
    return False


def _acquire(path: Path, on_wait: Callable[[str], None] | None) -> filelock.FileLock:
    lock = _lock(path)
    try:
        lock.acquire(timeout=0)
        return lock
    except filelock.Timeout:
        pass
    while True:
        if on_wait is not None:
            on_wait(f"{path}: waiting for the writer lock, held by {_describe_holder(path)}")
        try:
            lock.acquire(timeout=_WAIT_REPORT_S)
            return lock
        except filelock.Timeout:
            continue


def _describe_holder(path: Path) -> str:
    try:
        holder = json.loads((path / _HOLDER_FILE).read_text())
    except (OSError, ValueError):
        return "another process"
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')} ({holder.get('command')})"


def _write_json_atomic(path: Path, document: dict) -> None:
    temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, path)


def _write_group(
    group: zarr.Group, attrs: Mapping | Callable[[], Mapping], arrays: Mapping[str, ChunkedArray], sequence_id: str
) -> None:
    # Template first: every array's metadata exists before any data is written.
    created = {
        name: group.create_array(
            name=name,
            shape=spec.shape,
            dtype=spec.dtype,
            chunks=spec.chunks,
            compressors=default_compressors(),
            fill_value=0,
        )
        for name, spec in arrays.items()
    }
    for name, spec in arrays.items():
        _write_pieces(created[name], spec, name)
    final_attrs = attrs() if callable(attrs) else attrs
    # One metadata write; attrs.update would rewrite zarr.json once per key.
    group.update_attributes({**final_attrs, "sequence_id": sequence_id})


def _write_pieces(array: zarr.Array, spec: ChunkedArray, name: str) -> None:
    start = 0
    grows = spec.shape[0] == 0
    capacity = array.shape[0]
    for piece in spec.pieces:
        piece = np.asarray(piece, dtype=spec.dtype)
        stop = start + len(piece)
        if start % spec.chunks[0]:
            raise ValueError(f"{name}: piece at row {start} is not chunk-aligned (chunk {spec.chunks[0]})")
        if grows and stop > capacity:
            # Grow geometrically: every resize rewrites the array's metadata.
            capacity = max(stop, 2 * capacity)
            array.resize((capacity, *array.shape[1:]))
        elif stop > capacity:
            raise ValueError(f"{name}: pieces exceed the declared length {capacity}")
        array[start:stop] = piece
        start = stop
    if grows and capacity != start:
        array.resize((start, *array.shape[1:]))
    if not grows and start != spec.shape[0]:
        raise ValueError(f"{name}: pieces hold {start} rows, declared {spec.shape[0]}")


def _read_attrs(folder: Path) -> dict:
    return json.loads((folder / "zarr.json").read_text()).get("attributes", {})


def _checked(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid stage or output name {name!r}")
    return name
