"""The sequence store on object storage: the on-disk store's zarr hierarchy, in an icechunk repository.

`SequenceStore("s3://bucket/prefix")` gives an `ObjectSequenceStore`. The hierarchy is the one
`storage.store` documents (`sequences/<key>/...`, `galleries/<name>`), held by icechunk, a
transactional layer for zarr v3 on object storage:

- **Commits.** A write (a sequence, a stage output, a gallery, a removal) is an icechunk commit
  on the branch `main`, or part of one (`batched()`: a task's bundle): its chunks and metadata
  go under new object names, and one conditional update of the branch publishes them together.
  A reader works on the snapshot it opened, so it never sees half a group; a crash leaves only
  objects no snapshot refers to, which nothing trusts (`icechunk.Repository.garbage_collect`
  reclaims them).
- **Two writers.** Commits that touch different groups (workers writing different sequences)
  rebase onto each other. When two commits change the same group, the later one fails with a
  `StoreError` and commits nothing. A write that rests on an earlier read (a gallery merged
  with its stored walks, features computed from a sequence's frames) reads and writes inside one
  `reading()` block: if another writer changed that group after the block's snapshot, the write
  is refused (`StoreConflict`) and can be redone on a fresh read. Since no write can corrupt
  another, there is no lock: the lease of `writer()` exists so that callers treat both kinds of
  store alike.
- **Listing.** A snapshot holds every group's metadata, so listing reads snapshot objects, not
  one object per group; the listing is also cached on this machine under the snapshot's id
  (`all_sequence_attrs`). `benchmarks/object_store.py` measures both.
- **Credentials and endpoint** come from the standard variables (`AWS_ACCESS_KEY_ID`,
  `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`), which
  icechunk's S3 client reads; nothing here is specific to one provider of S3-compatible storage.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Callable, Iterator, Mapping

import icechunk
import numpy as np
import zarr

from storage.store import (
    FORMAT,
    SEQUENCES,
    ChunkedArray,
    SequenceStore,
    StoreConflict,
    StoreError,
    _checked,
    _write_group,
    sequence_key,
)

SCHEMES = ("s3",)
BRANCH = "main"
_CATALOGUE = "catalogue.json"
_CATALOGUE_FORMAT = "gaitflow.object-catalogue/1"
# The S3 client retries an unreachable endpoint or a missing credential for 10 to 30 s before it
# says so; the first contact is cut short instead, so such a store fails in seconds with one line.
FIRST_CONTACT_TIMEOUT_S = 8.0
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<bucket>[^/]*)/?(?P<prefix>.*)$")


def parse_object_url(location: str) -> tuple[str, str, str]:
    """(scheme, bucket, prefix) of `s3://bucket/prefix`; StoreError for any other URL."""
    match = _URL.match(location)
    if match is None or match["scheme"].lower() not in SCHEMES:
        scheme = match["scheme"] if match else location
        raise StoreError(f"{location}: the {scheme}:// scheme is not supported; a store is a local path, a file:// "
                         f"URL or {' or '.join(s + '://bucket/prefix' for s in SCHEMES)}")
    if not match["bucket"]:
        raise StoreError(f"{location}: no bucket; write s3://bucket/prefix")
    return match["scheme"].lower(), match["bucket"], match["prefix"].strip("/")


def store_exists(location: str) -> bool:
    """Whether a store (an icechunk repository) is at the URL; StoreError, within seconds, when the
    object store cannot be reached or refuses the credentials. Reads one object, writes nothing."""
    _, bucket, prefix = parse_object_url(location)
    try:
        return _within(FIRST_CONTACT_TIMEOUT_S, icechunk.Repository.exists, _storage(bucket, prefix), location)
    except icechunk.IcechunkError as error:
        raise StoreError(f"{location}: cannot reach the store: {_first_line(error)}") from error


MODELS = "models"
_MODEL_REFERENCE = re.compile(r"^(?P<store>s3://[^#]+)#models/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)$")
_MODEL_CHUNK_BYTES = 8 << 20


def is_model_reference(reference: str) -> bool:
    """Whether `reference` names a model file kept in an object store (`s3://bucket/prefix#models/<file>`)."""
    return bool(_MODEL_REFERENCE.match(str(reference)))


def publish_model_file(store: "ObjectSequenceStore", path: str | os.PathLike) -> str:
    """Keeps a saved model file (and the record beside it) in the store's `models/<file name>`
    group, once, and returns the reference workers load it by: `<store URL>#models/<file name>`.

    Model files are named by their content digest (`stages.models.save_trained_model`), so a
    name already present holds the same bytes and is not written again.
    """
    path = Path(path)
    name = _checked(path.name)
    if store.named_group_attrs(MODELS, name) is None:
        data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        record_path = path.with_suffix(".json")
        attrs = {"file": name, "bytes": int(data.size), "sha256": hashlib.sha256(data).hexdigest(),
                 "record": json.loads(record_path.read_text()) if record_path.is_file() else {}}
        pieces = (data[start:start + _MODEL_CHUNK_BYTES] for start in range(0, data.size, _MODEL_CHUNK_BYTES))
        chunk = max(1, min(data.size, _MODEL_CHUNK_BYTES))
        store.write_named_group(MODELS, name, attrs, {"file": ChunkedArray((data.size,), "uint8", (chunk,), pieces)},
                                f"model:{name}")
    return f"{store.path}#{MODELS}/{name}"


def fetch_model_file(reference: str) -> Path:
    """The local copy of a model kept in an object store (with its record beside it, as
    `stages.models.read_record` expects), fetched into this machine's cache once."""
    match = _MODEL_REFERENCE.match(reference)
    if match is None:
        raise StoreError(f"{reference}: not a model reference (s3://bucket/prefix#models/<file>)")
    destination = local_folder(match["store"]) / MODELS / match["name"]
    if destination.is_file():
        return destination
    store = SequenceStore(match["store"])
    attrs = store.named_group_attrs(MODELS, match["name"])
    if attrs is None:
        raise StoreError(f"{match['store']}: no model {match['name']} kept there")
    data = np.asarray(store.open_named_group(MODELS, match["name"])["file"][:], dtype=np.uint8).tobytes()
    if hashlib.sha256(data).hexdigest() != attrs["sha256"]:
        raise StoreError(f"{reference}: the model's bytes do not match their recorded SHA-256")
    destination.parent.mkdir(parents=True, exist_ok=True)
    for target, content in ((destination.with_suffix(".json"), json.dumps(attrs["record"]).encode()),
                            (destination, data)):  # the record first: a present file implies its record
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        temporary.write_bytes(content)
        os.replace(temporary, target)
    return destination


_opened: dict[str, icechunk.Repository] = {}
_opened_guard = threading.Lock()


def _storage(bucket: str, prefix: str) -> icechunk.Storage:
    return icechunk.s3_storage(bucket=bucket, prefix=prefix or None, from_env=True)


def local_folder(location: str) -> Path:
    """This machine's folder for files kept with an object store (the listing cache; models and
    pictures the flows read by path): `~/.cache/gaitflow/object-stores/<bucket>-<digest of URL>`."""
    _, bucket, prefix = parse_object_url(location)
    digest = hashlib.sha1(f"s3://{bucket}/{prefix}".encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "gaitflow" / "object-stores" / f"{bucket}-{digest}"


class ObjectSequenceStore(SequenceStore):
    """A zarr store of sequences in an icechunk repository on object storage."""

    def __init__(self, path: str, *, create: bool = False, lease: str | None = None) -> None:
        _, bucket, prefix = parse_object_url(str(path))
        self.path = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        self.lease = lease
        self.recovered: list[str] = []
        self._pinned: tuple[str, zarr.Group] | None = None
        self._batch: tuple[icechunk.Session, list[tuple[str, icechunk.session.ForkSession]]] | None = None
        # (pinned snapshot, last tip diffed, paths changed between them): `_changed_since_pin`.
        self._changes: tuple[str, str, frozenset[str]] | None = None
        with self._reporting("cannot open the store"):
            self._repository = _opened.get(self.path)
            if self._repository is None:
                if not store_exists(self.path):
                    if not create:
                        raise StoreError(f"{self.path}: not a gaitflow store (no icechunk repository there); ingest "
                                         "an archive first")
                    self._repository = icechunk.Repository.open_or_create(_storage(bucket, prefix))
                    self._create()
                else:
                    self._repository = icechunk.Repository.open(_storage(bucket, prefix))
        attrs = dict(self._root().attrs)
        if attrs.get("format") != FORMAT:
            raise StoreError(f"{self.path}: not a gaitflow store (format {attrs.get('format')!r})")
        # One repository object per store and process: a worker's tasks share it rather than
        # each reopening the store (and its first-contact probe) anew.
        with _opened_guard:
            self._repository = _opened.setdefault(self.path, self._repository)

    # ----------------------------------------------------------------------------- the lease
    @contextlib.contextmanager
    def writer(self, *, on_wait: Callable[[str], None] | None = None, create: bool = False) -> Iterator[str]:
        """A lease token for the block. Object stores need no lock (each write is a transaction),
        so this never waits and has nothing to recover."""
        previous = self.lease
        self.lease = self.lease or uuid.uuid4().hex
        try:
            yield self.lease
        finally:
            self.lease = previous

    def holds_writer_lock(self) -> bool:
        return True

    def recover(self) -> list[str]:
        return []

    # ----------------------------------------------------------------------------- reading
    @contextlib.contextmanager
    def reading(self) -> Iterator["ObjectSequenceStore"]:
        """The block's reads come from one snapshot: the branch's at the block's start, moved on by
        this store's own commits in the block (others' commits show after it). Each read outside
        such a block looks up the branch first (one request), so loops over the sequences belong
        in one."""
        outer = self._pinned
        if outer is None:
            self._pinned = self._snapshot_root()
        try:
            yield self
        finally:
            self._pinned = outer

    @contextlib.contextmanager
    def batched(self) -> Iterator["ObjectSequenceStore"]:
        """The block's writes are committed together when it ends: one commit for a bundle of
        sequences rather than one each (a commit rewrites the snapshot, which grows with the store).
        Each write is still whole or absent: it goes into its own fork of the block's session and
        joins the batch only once complete, so a write that fails leaves nothing. The finished
        writes are committed even when the block raises; a crash before its end commits none."""
        if self._batch is not None:
            yield self
            return
        with self._reporting("cannot start a batch of writes"):
            self._batch = (self._repository.writable_session(BRANCH), [])
        try:
            yield self
        finally:
            base, writes = self._batch
            self._batch = None
            if writes:
                message = f"{len(writes)} writes ({writes[0][0]}, ...)" if len(writes) > 1 else writes[0][0]
                with self._reporting(f"cannot commit {message}"):
                    base.merge(*(fork for _, fork in writes))
                    self._commit(base, message, [write for write, _ in writes])

    def sequence_ids(self) -> list[str]:
        return sorted(self.all_sequence_attrs())

    def sequence_attrs(self, sequence_id: str) -> dict | None:
        group = self._group(self._root(), SEQUENCES, sequence_key(sequence_id))
        return None if group is None else dict(group.attrs)

    def all_sequence_attrs(self) -> dict[str, dict]:
        """{id: attributes} of every sequence, from one snapshot.

        Reading a snapshot's groups costs about 0.3 ms a sequence (`benchmarks/object_store.py`),
        so the listing is kept in this machine's cache (`local_folder`) under the snapshot's id:
        while the branch still points at that snapshot, which is content-addressed, the cached
        listing is exactly the store's, and an unchanged store of 100,000 sequences lists in
        about a second. Any commit moves the branch, and the next listing reads the snapshot anew.
        """
        with self._reporting("cannot list the sequences"):
            snapshot = self._pinned[0] if self._pinned is not None else self._repository.lookup_branch(BRANCH)
            cache = local_folder(self.path) / _CATALOGUE
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                cached = json.loads(cache.read_text())
                if cached["format"] == _CATALOGUE_FORMAT and cached["snapshot"] == snapshot:
                    return cached["sequences"]
            session = self._repository.readonly_session(snapshot_id=snapshot)
            sequences = self._group(zarr.open_group(session.store, mode="r"), SEQUENCES)
            found = {}
            for _, group in sequences.groups() if sequences is not None else ():
                attrs = dict(group.attrs)
                if "sequence_id" in attrs:
                    found[attrs["sequence_id"]] = attrs
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            temporary = cache.with_name(f"{cache.name}.{uuid.uuid4().hex}.tmp")
            temporary.write_text(json.dumps({"format": _CATALOGUE_FORMAT, "snapshot": snapshot, "sequences": found}))
            os.replace(temporary, cache)
        return found

    def open_sequence(self, sequence_id: str) -> zarr.Group:
        group = self._group(self._root(), SEQUENCES, sequence_key(sequence_id))
        if group is None:
            raise StoreError(f"{self.path}: sequence {sequence_id!r} is not stored")
        return group

    def has_stage(self, sequence_id: str, stage: str, name: str) -> bool:
        return self._stage_group(sequence_id, stage, name) is not None

    def stage_attrs(self, sequence_id: str, stage: str, name: str) -> dict | None:
        group = self._stage_group(sequence_id, stage, name)
        return None if group is None else dict(group.attrs)

    def open_stage(self, sequence_id: str, stage: str, name: str) -> zarr.Group:
        group = self._stage_group(sequence_id, stage, name)
        if group is None:
            raise StoreError(f"{self.path}: sequence {sequence_id!r} has no {stage}/{name}")
        return group

    def named_groups(self, folder: str) -> list[str]:
        parent = self._group(self._root(), _checked(folder))
        return [] if parent is None else sorted(name for name, _ in parent.groups())

    def named_group_attrs(self, folder: str, name: str) -> dict | None:
        group = self._group(self._root(), _checked(folder), _checked(name))
        return None if group is None else dict(group.attrs)

    def open_named_group(self, folder: str, name: str) -> zarr.Group:
        group = self._group(self._root(), _checked(folder), _checked(name))
        if group is None:
            raise StoreError(f"{self.path}: no {folder}/{name}")
        return group

    # ----------------------------------------------------------------------------- writing
    def write_sequence(
        self, sequence_id: str, attrs: Mapping | Callable[[], Mapping], arrays: Mapping[str, ChunkedArray]
    ) -> None:
        key = sequence_key(sequence_id)
        with self._transaction(f"write sequence {sequence_id}", guard=f"{SEQUENCES}/{key}") as root:
            _replace_group(root, (SEQUENCES, key), attrs, arrays, sequence_id)

    def write_stage(
        self,
        sequence_id: str,
        stage: str,
        name: str,
        attrs: Mapping | Callable[[], Mapping],
        arrays: Mapping[str, ChunkedArray],
    ) -> None:
        key = sequence_key(sequence_id)
        # Guarded by the whole sequence: a stage computed from frames since replaced must not land.
        with self._transaction(f"write {stage}/{name} of {sequence_id}", guard=f"{SEQUENCES}/{key}") as root:
            if self._group(root, SEQUENCES, key) is None:
                raise StoreError(f"{self.path}: sequence {sequence_id!r} is not stored")
            _replace_group(root, (SEQUENCES, key, _checked(stage), _checked(name)), attrs, arrays, sequence_id)

    def write_named_group(
        self, folder: str, name: str, attrs: Mapping, arrays: Mapping[str, ChunkedArray], label: str
    ) -> None:
        with self._transaction(f"write {folder}/{name}", guard=f"{_checked(folder)}/{_checked(name)}") as root:
            _replace_group(root, (_checked(folder), _checked(name)), attrs, arrays, label)

    def remove_sequence(self, sequence_id: str) -> bool:
        key = sequence_key(sequence_id)
        with self._transaction(f"remove sequence {sequence_id}", guard=f"{SEQUENCES}/{key}") as root:
            if self._group(root, SEQUENCES, key) is None:
                return False
            del root[SEQUENCES][key]
        return True

    # ----------------------------------------------------------------------------- internals
    def _create(self) -> None:
        with self._transaction("create gaitflow store") as root:
            root.update_attributes({"format": FORMAT})
            root.require_group(SEQUENCES)

    def _root(self) -> zarr.Group:
        return self._pinned[1] if self._pinned is not None else self._snapshot_root()[1]

    def _snapshot_root(self) -> tuple[str, zarr.Group]:
        """(snapshot id, read-only root) of the branch's current snapshot."""
        with self._reporting("cannot read the store"):
            snapshot = self._repository.lookup_branch(BRANCH)
            session = self._repository.readonly_session(snapshot_id=snapshot)
            return snapshot, zarr.open_group(session.store, mode="r")

    def _stage_group(self, sequence_id: str, stage: str, name: str) -> zarr.Group | None:
        return self._group(self._root(), SEQUENCES, sequence_key(sequence_id), _checked(stage), _checked(name))

    @staticmethod
    def _group(root: zarr.Group, *parts: str) -> zarr.Group | None:
        try:
            found = root["/".join(parts)]
        except KeyError:
            return None
        return found if isinstance(found, zarr.Group) else None

    @contextlib.contextmanager
    def _transaction(self, message: str, guard: str | None = None) -> Iterator[zarr.Group]:
        """A writable root for the block, committed at its end (rebased onto commits made meanwhile
        when they touched other groups); nothing is committed when the block raises. Inside
        `batched()` the block writes into its own fork of the batch's session instead, which joins
        the batch only when the block completes.

        Inside `reading()`, whose reads come from one snapshot, a write may rest on what the block
        read (a gallery merged with its stored walks, features computed from stored frames): then
        `guard`, the group it depends on, must not have changed since that snapshot, or the write
        is refused (StoreConflict). The commit's own conflict check starts only where its session
        does, later than the reads."""
        with self._reporting(f"cannot {message}"):
            if self._batch is not None:
                fork = self._batch[0].fork()
                yield zarr.open_group(fork.store, mode="a")
                if fork.has_uncommitted_changes:
                    self._check_unchanged(guard, message)
                    self._batch[1].append((message, fork))
                return
            session = self._repository.writable_session(BRANCH)
            yield zarr.open_group(session.store, mode="a")
            if session.has_uncommitted_changes:
                self._check_unchanged(guard, message)
                self._commit(session, message, [message])

    def _check_unchanged(self, guard: str | None, message: str) -> None:
        """StoreConflict when another commit changed `guard` (a group path) or anything in it after
        the snapshot this store's reading block reads."""
        if guard is None or self._pinned is None:
            return
        prefix = "/" + guard.strip("/")
        if any(path == prefix or path.startswith(prefix + "/") for path in self._changed_since_pin()):
            raise StoreConflict(f"{self.path}: cannot {message}: another writer changed {guard} after this one read "
                                "it; nothing was committed")

    def _changed_since_pin(self) -> set[str]:
        """Paths of the groups and arrays that commits after the pinned snapshot touched. Each
        commit is diffed once per pin (a diff costs ~135 ms a commit at 100,000 groups): a
        bundle's writes reuse what the ones before them learnt, and diff only newer commits."""
        pinned = self._pinned[0]
        if self._changes is None or self._changes[0] != pinned:
            self._changes = (pinned, pinned, frozenset())
        _, checked, changed = self._changes
        tip = self._repository.lookup_branch(BRANCH)
        if tip != checked:  # (icechunk refuses a diff of a snapshot with itself)
            diff = self._repository.diff(from_snapshot_id=checked, to_snapshot_id=tip)
            changed = changed | {*diff.new_groups, *diff.deleted_groups, *diff.updated_groups, *diff.new_arrays,
                                 *diff.deleted_arrays, *diff.updated_arrays, *diff.updated_chunks}
            self._changes = (pinned, tip, changed)
        return changed

    def _commit(self, session: icechunk.Session, message: str, writes: list[str]) -> None:
        try:
            snapshot = session.commit(f"gaitflow: {message}", rebase_with=icechunk.ConflictDetector())
        except icechunk.RebaseFailedError as error:
            raise StoreError(f"{self.path}: cannot {message}: another writer changed the same group meanwhile; "
                             f"nothing of {'this write' if len(writes) == 1 else 'these writes'} was committed "
                             f"({_first_line(error)})") from error
        if self._pinned is not None:  # a reading block sees its own writes
            read = self._repository.readonly_session(snapshot_id=snapshot)
            self._pinned = (snapshot, zarr.open_group(read.store, mode="r"))

    @contextlib.contextmanager
    def _reporting(self, doing: str) -> Iterator[None]:
        """Object-store failures as one StoreError line naming the store (the caller's own errors,
        such as a video that fails to decode while its frames are written, pass unchanged)."""
        try:
            yield
        except (icechunk.IcechunkError, icechunk.ConflictError) as error:
            raise StoreError(f"{self.path}: {doing}: {_first_line(error)}") from error


def _replace_group(root: zarr.Group, parts: tuple[str, ...], attrs, arrays: Mapping[str, ChunkedArray], label: str) -> None:
    parent = root.require_group("/".join(parts[:-1])) if len(parts) > 1 else root
    if parts[-1] in parent:
        del parent[parts[-1]]
    _write_group(parent.create_group(parts[-1]), attrs, arrays, label)


def _within(seconds: float, call: Callable, argument, location: str):
    """`call(argument)`, or StoreError when it has not answered after `seconds` (the call goes on
    in a daemon thread until the client gives up; nothing has been written by then)."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call(argument)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True, name="gaitflow-object-store-probe")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise StoreError(f"{location}: no answer from the object store within {seconds:g} s: check AWS_ENDPOINT_URL, "
                         "the network and the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _first_line(error: BaseException) -> str:
    """One line of an icechunk error: its summary and the last causes of its chain (where the
    reason is: "an error occurred while loading credentials", "connection refused")."""
    lines = [line.strip() for line in str(error).splitlines()]
    summary = next((line.strip(" x|") for line in lines if line.strip(" x|")), type(error).__name__)
    causes = [line[3:].strip() for line in lines if line.startswith(("|->", "`->"))]
    causes = [cause for cause in causes if cause and cause not in summary and cause != "other"]
    return f"{summary} ({'; '.join(causes[-4:])})" if causes else summary
