"""Discovery of the walking sequences in a video archive.

`discover(root, layout)` walks an archive once and returns an `ArchiveManifest`: a frozen,
hashable value listing every sequence with its labels and a content hash, plus the files that
fit no pattern of the layout (reported, never guessed at). Everything downstream keys on
`SequenceEntry.sequence_id` and decides what to redo from `SequenceEntry.content_hash`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path
from typing import Iterable, Literal

Layout = Literal["casia-b", "tum-gaid", "folder"]
LAYOUTS: tuple[str, ...] = ("casia-b", "tum-gaid", "folder")

VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
SIDECAR_SUFFIX = ".gt.json"
FOLDER_SIDECAR_NAME = "gt.json"

_CASIA_SEQUENCE = re.compile(r"^(?P<subject>\d{3})-(?P<condition>nm|bg|cl)-(?P<index>\d{2})-(?P<view>\d{3})$")
_CASIA_BACKGROUND = re.compile(r"^\d{3}-bkgrd-\d{3}$")
_TUM_SUBJECT = re.compile(r"^p\d{3}$")
_TUM_SEQUENCE = re.compile(r"^(?P<later>t?)(?P<condition>[nbs])(?P<index>\d{2})$")
_HASH_BLOCK = 1 << 20


@dataclasses.dataclass(frozen=True, order=True)
class SequenceEntry:
    """One walking sequence of an archive.

    Attributes:
      sequence_id: stable id within the archive ("001-nm-01-090", "p001/n01", "a/b.avi").
      source: absolute path of the video file, or of the image folder (tum-gaid).
      kind: "video" or "images".
      subject, condition, index, view, session: labels (see DEVELOPMENT.md); the folder
        layout has no labels: subject is the id, condition "", index 0, view -1.
      size: bytes of the source (all images together for a folder).
      mtime_ns: latest modification time of the source's files.
      content_hash: hex SHA-256 of the source's bytes (a folder hashes names and contents),
        which decides whether a stored sequence is still current.
      sidecar: path of the ground-truth sidecar, or None when the sequence has none.
    """

    sequence_id: str
    source: str
    kind: str
    subject: str
    condition: str
    index: int
    view: int
    session: int
    size: int
    mtime_ns: int
    content_hash: str
    sidecar: str | None = None

    def labels(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "condition": self.condition,
            "index": self.index,
            "view": self.view,
            "session": self.session,
        }


@dataclasses.dataclass(frozen=True)
class UnmatchedFile:
    """A file or folder under the root that fits no pattern of the layout."""

    path: str
    reason: str


@dataclasses.dataclass(frozen=True)
class ArchiveManifest:
    """Every sequence of one archive, sorted by id; a pure value (hashable, comparable)."""

    root: str
    layout: str
    entries: tuple[SequenceEntry, ...]
    unmatched: tuple[UnmatchedFile, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    def by_id(self) -> dict[str, SequenceEntry]:
        return {entry.sequence_id: entry for entry in self.entries}


class ArchiveError(ValueError):
    """The archive cannot be read at all (missing, not a folder, unknown layout)."""


def discover(root: str | os.PathLike, layout: str, *, with_hashes: bool = True) -> ArchiveManifest:
    """Lists the sequences under `root` for `layout` ("casia-b", "tum-gaid" or "folder").

    Args:
      root: the archive's top folder.
      layout: how sequences are named and laid out.
      with_hashes: hash every source's bytes (needed to decide what is current); off, the
        hash is left empty, for a quick listing.

    Raises:
      ArchiveError: the root is missing or not a folder, or the layout is unknown.
    """
    if layout not in LAYOUTS:
        raise ArchiveError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    root_path = Path(root).expanduser().resolve()
    if not root_path.exists():
        raise ArchiveError(f"{root_path}: archive folder does not exist")
    if not root_path.is_dir():
        raise ArchiveError(f"{root_path}: archive path is not a folder")
    if layout == "tum-gaid":
        entries, unmatched = _discover_tum_gaid(root_path, with_hashes)
    else:
        entries, unmatched = _discover_videos(root_path, layout, with_hashes)
    return ArchiveManifest(
        root=str(root_path),
        layout=layout,
        entries=tuple(sorted(entries)),
        unmatched=tuple(sorted(unmatched, key=lambda u: u.path)),
    )


def fingerprint(entry: SequenceEntry) -> str:
    """The content hash of an entry's source (and sidecar), read from disk now."""
    source = Path(entry.source)
    if entry.kind == "images":
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        files = [source]
    return _hash_files(files, Path(entry.sidecar) if entry.sidecar else Path(entry.source + ".no-sidecar"))


def sequence_labels_from_id(sequence_id: str, layout: str) -> dict[str, object]:
    """Parses the labels out of a sequence id of `layout`; raises ValueError if it does not fit."""
    if layout == "casia-b":
        match = _CASIA_SEQUENCE.match(sequence_id)
        if not match:
            raise ValueError(f"{sequence_id!r} is not a CASIA-B sequence name (SSS-cc-NN-VVV)")
        return {
            "subject": match["subject"],
            "condition": match["condition"],
            "index": int(match["index"]),
            "view": int(match["view"]),
            "session": 1,
        }
    if layout == "tum-gaid":
        subject, _, name = sequence_id.partition("/")
        match = _TUM_SEQUENCE.match(name)
        if not _TUM_SUBJECT.match(subject) or not match:
            raise ValueError(f"{sequence_id!r} is not a TUM GAID sequence (pNNN/n01, pNNN/tb02, ...)")
        return {
            "subject": subject,
            "condition": match["condition"],
            "index": int(match["index"]),
            "view": 90,
            "session": 2 if match["later"] else 1,
        }
    if layout == "folder":
        return {"subject": sequence_id, "condition": "", "index": 0, "view": -1, "session": 1}
    raise ValueError(f"unknown layout {layout!r}")


def _discover_videos(root: Path, layout: str, with_hashes: bool):
    entries: list[SequenceEntry] = []
    unmatched: list[UnmatchedFile] = []
    for path in _walk_files(root):
        relative = path.relative_to(root).as_posix()
        if path.name.endswith(SIDECAR_SUFFIX):
            continue
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            unmatched.append(UnmatchedFile(relative, "not a video file (by its suffix)"))
            continue
        if layout == "casia-b":
            stem = path.name[: -len(path.suffix)]
            if _CASIA_BACKGROUND.match(stem):
                continue
            if not _CASIA_SEQUENCE.match(stem):
                unmatched.append(UnmatchedFile(relative, "name does not fit CASIA-B's SSS-cc-NN-VVV"))
                continue
            sequence_id = stem
        else:
            sequence_id = relative
        entries.append(_video_entry(path, sequence_id, layout, with_hashes))
    _reject_duplicate_ids(entries)
    return entries, unmatched


def _discover_tum_gaid(root: Path, with_hashes: bool):
    entries: list[SequenceEntry] = []
    unmatched: list[UnmatchedFile] = []
    for subject_dir in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if not subject_dir.is_dir() or not _TUM_SUBJECT.match(subject_dir.name):
            unmatched.append(UnmatchedFile(subject_dir.name, "not a TUM GAID subject folder (pNNN)"))
            continue
        for sequence_dir in sorted(p for p in subject_dir.iterdir() if not p.name.startswith(".")):
            relative = sequence_dir.relative_to(root).as_posix()
            if sequence_dir.is_dir() and sequence_dir.name.startswith("back"):
                continue
            if not sequence_dir.is_dir() or not _TUM_SEQUENCE.match(sequence_dir.name):
                unmatched.append(UnmatchedFile(relative, "not a TUM GAID sequence folder (n01, b01, s01, tn01, ...)"))
                continue
            images = sorted(p for p in sequence_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                unmatched.append(UnmatchedFile(relative, "sequence folder holds no images"))
                continue
            sidecar = sequence_dir / FOLDER_SIDECAR_NAME
            sequence_id = f"{subject_dir.name}/{sequence_dir.name}"
            stats = [p.stat() for p in images]
            entries.append(
                SequenceEntry(
                    sequence_id=sequence_id,
                    source=str(sequence_dir),
                    kind="images",
                    **sequence_labels_from_id(sequence_id, "tum-gaid"),
                    size=sum(s.st_size for s in stats),
                    mtime_ns=max(s.st_mtime_ns for s in stats),
                    content_hash=_hash_files(images, sidecar) if with_hashes else "",
                    sidecar=str(sidecar) if sidecar.is_file() else None,
                )
            )
    return entries, unmatched


def _video_entry(path: Path, sequence_id: str, layout: str, with_hashes: bool) -> SequenceEntry:
    sidecar = path.with_name(path.name[: -len(path.suffix)] + SIDECAR_SUFFIX)
    stat = path.stat()
    return SequenceEntry(
        sequence_id=sequence_id,
        source=str(path),
        kind="video",
        **sequence_labels_from_id(sequence_id, layout),
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        content_hash=_hash_files([path], sidecar) if with_hashes else "",
        sidecar=str(sidecar) if sidecar.is_file() else None,
    )


def _hash_files(paths: Iterable[Path], sidecar: Path) -> str:
    """SHA-256 over names and bytes; the sidecar counts, so new ground truth means new content."""
    digest = hashlib.sha256()
    for path in [*paths, *([sidecar] if sidecar.is_file() else [])]:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as stream:
            while block := stream.read(_HASH_BLOCK):
                digest.update(block)
    return digest.hexdigest()


def _walk_files(root: Path) -> list[Path]:
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        found.extend(Path(directory) / name for name in sorted(files) if not name.startswith("."))
    return found


def _reject_duplicate_ids(entries: list[SequenceEntry]) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.sequence_id in seen:
            raise ArchiveError(
                f"sequence {entry.sequence_id!r} appears twice: {seen[entry.sequence_id]} and {entry.source}"
            )
        seen[entry.sequence_id] = entry.source
