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

Writes are atomic per group: a group is built under `_staging/` (template first, then
chunk-aligned regions) and renamed into place only once complete, so readers never see half a
sequence, and a crash leaves at most a staging folder that `recover()` clears. Replacing a
group moves the old one to `_trash/` first, and `recover()` puts it back if the swap was cut off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

FORMAT = "gaitflow.store/1"
SEQUENCES = "sequences"
_STAGING = "_staging"
_TRASH = "_trash"
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
    """A zarr store of sequences on the local file system."""

    def __init__(self, path: str | os.PathLike, *, create: bool = False) -> None:
        self.path = Path(path).expanduser().resolve()
        if create:
            self._create()
        elif not (self.path / "zarr.json").is_file():
            raise StoreError(f"{self.path}: not a gaitflow store (no zarr.json); ingest an archive first")
        attrs = self._root_attrs()
        if attrs.get("format") != FORMAT:
            raise StoreError(f"{self.path}: not a gaitflow store (format {attrs.get('format')!r})")

    # ----------------------------------------------------------------------------- reading
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
        return {sequence_id: _read_attrs(folder) for sequence_id, folder in self._index().items()}

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

    # ----------------------------------------------------------------------------- writing
    def write_sequence(
        self, sequence_id: str, attrs: Mapping | Callable[[], Mapping], arrays: Mapping[str, ChunkedArray]
    ) -> None:
        """Writes a whole sequence group atomically, replacing any stored one only on success.

        `attrs` may be a callable, called once the arrays are written (for values such as the
        frame count that are known only then).
        """
        destination = self._sequence_dir(sequence_id)
        with self._staged(destination) as group:
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
        if not (sequence_dir / "zarr.json").is_file():
            raise StoreError(f"{self.path}: sequence {sequence_id!r} is not stored")
        stage_dir = sequence_dir / _checked(stage)
        if not (stage_dir / "zarr.json").is_file():
            zarr.open_group(str(stage_dir), mode="a")
        with self._staged(stage_dir / _checked(name)) as group:
            _write_group(group, attrs, arrays, sequence_id)

    def recover(self) -> list[str]:
        """Finishes or undoes swaps a crash cut off and clears stale staging; returns what it did.

        Call it when no writer is running (a flow calls it once before it maps its tasks).
        """
        actions = []
        trash = self.path / _TRASH
        for manifest in sorted(trash.glob("*.json")) if trash.is_dir() else []:
            record = json.loads(manifest.read_text())
            original, parked = Path(record["destination"]), Path(record["parked"])
            if parked.exists() and not original.exists():
                os.replace(parked, original)
                actions.append(f"restored {original.relative_to(self.path)}")
            elif parked.exists():
                shutil.rmtree(parked)
            manifest.unlink()
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
            if self.path.exists() and any(self.path.iterdir()):
                raise StoreError(f"{self.path}: folder exists and is not a gaitflow store")
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
        index = {}
        for entry in os.scandir(root) if root.is_dir() else ():
            if entry.is_dir() and os.path.isfile(os.path.join(entry.path, "zarr.json")):
                attrs = _read_attrs(Path(entry.path))
                if "sequence_id" in attrs:
                    index[attrs["sequence_id"]] = Path(entry.path)
        return index

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
            self._swap_in(staging, destination, token)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _swap_in(self, staging: Path, destination: Path, token: str) -> None:
        if not destination.exists():
            os.replace(staging, destination)
            return
        trash = self.path / _TRASH
        trash.mkdir(exist_ok=True)
        parked = trash / f"{destination.name}.{token}"
        record = trash / f"{destination.name}.{token}.json"
        # The record lets recover() put the old group back if we die between the two renames.
        record.write_text(json.dumps({"destination": str(destination), "parked": str(parked)}))
        os.replace(destination, parked)
        os.replace(staging, destination)
        record.unlink()
        shutil.rmtree(parked, ignore_errors=True)


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
