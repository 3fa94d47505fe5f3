"""Discovery of the walking sequences in a video archive.

`discover(root, layout)` walks an archive once and returns an `ArchiveManifest`: a frozen,
hashable value listing every sequence with its labels and a content hash, plus the files that
fit no pattern of the layout (reported, never guessed at). Everything downstream keys on
`SequenceEntry.sequence_id` and decides what to redo from `SequenceEntry.content_hash`.

One bad path never refuses the whole archive: files sharing a sequence id, and symlinks whose
target lies outside the archive, are left out and listed in `unmatched` with the reason. Nothing
outside the archive is opened or hashed; symlinks within it are followed, each folder once.
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

    Returns:
      The manifest; `unmatched` also lists every file of a duplicated sequence id ("duplicate
      sequence id ID (also: PATH, ...)"), each symlink that leaves the archive ("symlink PATH
      points outside the archive (to TARGET); not followed") and each sequence left out because
      one of its files or its ground truth is such a symlink.

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
        unmatched=tuple(sorted(unmatched, key=lambda u: (u.path, u.reason))),
    )


def fingerprint(entry: SequenceEntry) -> str:
    """The content hash of an entry's source (and sidecar), read from disk now."""
    source = Path(entry.source)
    files = _folder_images(source) if entry.kind == "images" else [source]
    return _hash_files(files, Path(entry.sidecar) if entry.sidecar else None)


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


# A sequence's folder in the store is named after its id, and a replacement parks it under that
# name plus ~75 characters: both must fit the file system's 255-byte names.
MAX_SEQUENCE_ID_BYTES = 150


def _discover_videos(root: Path, layout: str, with_hashes: bool):
    files, unmatched = _walk_archive(root)
    candidates: dict[str, list[tuple[Path, Path]]] = {}
    for path, real in files:
        relative = _relative(root, path)
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
        if len(sequence_id.encode()) > MAX_SEQUENCE_ID_BYTES:
            unmatched.append(UnmatchedFile(relative, f"its path, the sequence id, is {len(sequence_id.encode())} bytes; "
                                           f"ids are at most {MAX_SEQUENCE_ID_BYTES} (move it up or shorten names)"))
            continue
        candidates.setdefault(sequence_id, []).append((path, real))
    entries: list[SequenceEntry] = []
    for sequence_id, found in candidates.items():
        if len(found) > 1:
            unmatched.extend(_duplicates(root, sequence_id, [path for path, _ in found]))
            continue
        path, real = found[0]
        sidecar, problem = _sidecar(root, path.with_name(path.name[: -len(path.suffix)] + SIDECAR_SUFFIX))
        if problem:
            reason = f"sequence left out: its ground-truth sidecar {problem}"
            unmatched.append(UnmatchedFile(_relative(root, path), reason))
            continue
        entries.append(_video_entry(real, sidecar, sequence_id, layout, with_hashes))
    return entries, unmatched


def _discover_tum_gaid(root: Path, with_hashes: bool):
    entries: list[SequenceEntry] = []
    unmatched: list[UnmatchedFile] = []
    for subject_dir, subject_real in _children(root, root, unmatched):
        if not subject_real.is_dir() or not _TUM_SUBJECT.match(subject_dir.name):
            unmatched.append(UnmatchedFile(subject_dir.name, "not a TUM GAID subject folder (pNNN)"))
            continue
        for sequence_dir, sequence_real in _children(root, subject_dir, unmatched):
            relative = _relative(root, sequence_dir)
            if sequence_real.is_dir() and sequence_dir.name.startswith("back"):
                continue
            if not sequence_real.is_dir() or not _TUM_SEQUENCE.match(sequence_dir.name):
                unmatched.append(UnmatchedFile(relative, "not a TUM GAID sequence folder (n01, b01, s01, tn01, ...)"))
                continue
            escaping = _escaping_links(root, sequence_dir, unmatched)
            images = _folder_images(sequence_real)
            if not images:
                unmatched.append(UnmatchedFile(relative, "sequence folder holds no images"))
                continue
            read = [p.name for p in images] + [FOLDER_SIDECAR_NAME]
            if any(name in escaping for name in read):
                links = ", ".join(f"{relative}/{name}" for name in sorted(escaping) if name in read)
                unmatched.append(UnmatchedFile(relative, f"sequence left out: {links} points outside the archive"))
                continue
            sidecar = sequence_real / FOLDER_SIDECAR_NAME
            sequence_id = f"{subject_dir.name}/{sequence_dir.name}"
            stats = [p.stat() for p in images]
            entries.append(
                SequenceEntry(
                    sequence_id=sequence_id,
                    source=str(sequence_real),
                    kind="images",
                    **sequence_labels_from_id(sequence_id, "tum-gaid"),
                    size=sum(s.st_size for s in stats),
                    mtime_ns=max(s.st_mtime_ns for s in stats),
                    content_hash=_hash_files(images, sidecar) if with_hashes else "",
                    sidecar=str(sidecar) if sidecar.is_file() else None,
                )
            )
    return entries, unmatched


def _video_entry(
    source: Path, sidecar: Path | None, sequence_id: str, layout: str, with_hashes: bool
) -> SequenceEntry:
    stat = source.stat()
    return SequenceEntry(
        sequence_id=sequence_id,
        source=str(source),
        kind="video",
        **sequence_labels_from_id(sequence_id, layout),
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        content_hash=_hash_files([source], sidecar) if with_hashes else "",
        sidecar=str(sidecar) if sidecar else None,
    )


def _folder_images(folder: Path) -> list[Path]:
    """The frames of an image sequence, as `storage.frames` reads them (hidden names included)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _hash_files(paths: Iterable[Path], sidecar: Path | None) -> str:
    """SHA-256 over names and bytes; the sidecar counts, so new ground truth means new content."""
    digest = hashlib.sha256()
    for path in [*paths, *([sidecar] if sidecar is not None and sidecar.is_file() else [])]:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as stream:
            while block := stream.read(_HASH_BLOCK):
                digest.update(block)
    return digest.hexdigest()


# Symlinks: an archive may link to its own files and folders, but never out of itself. A link is
# resolved (not followed) first; one whose target lies outside the root is reported and nothing
# behind it is stat'ed, opened or hashed. Entries keep the resolved path as their source, so later
# reads (fingerprint, decoding) go to the file that was checked, not through the link again.


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _inside(root: Path, path: Path) -> Path | None:
    """The real path of `path` when it lies inside `root` (the root itself included), else None."""
    real = Path(os.path.realpath(path))
    return real if real.is_relative_to(root) else None


def _outside(root: Path, link: Path) -> UnmatchedFile:
    relative = _relative(root, link)
    target = os.path.realpath(link)
    return UnmatchedFile(relative, f"symlink {relative} points outside the archive (to {target}); not followed")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.listdir keeps undecodable bytes as lone surrogates
        return False
    return True


def _children(root: Path, folder: Path, unmatched: list[UnmatchedFile]) -> list[tuple[Path, Path]]:
    """Non-hidden entries of `folder` as (path under the root, real path), sorted by name.

    Symlinks that leave the archive or lead nowhere are reported and left out; an unreadable
    folder is reported and has no entries.
    """
    try:
        names = sorted(os.listdir(folder))
    except OSError as error:
        unmatched.append(UnmatchedFile(_relative(root, folder), f"folder cannot be read ({error.strerror})"))
        return []
    children = []
    for name in names:
        if name.startswith("."):
            continue
        if not _is_utf8(name):
            # Sequence ids and the store's JSON metadata are UTF-8: such a name cannot be one.
            shown = _relative(root, folder / name).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            unmatched.append(UnmatchedFile(shown, "name is not valid UTF-8 (bytes of another encoding); rename it"))
            continue
        path = folder / name
        real = _inside(root, path)
        if real is None:
            unmatched.append(_outside(root, path))
        elif path.is_symlink() and not real.exists():
            relative = _relative(root, path)
            unmatched.append(UnmatchedFile(relative, f"symlink {relative} points to nothing; not followed"))
        else:
            children.append((path, real))
    return children


def _walk_archive(root: Path) -> tuple[list[tuple[Path, Path]], list[UnmatchedFile]]:
    """Every non-hidden file under `root` as (path under the root, real path), plus what was skipped.

    The real folder tree is walked first; symlinked folders inside the archive are followed
    afterwards, each real folder once (so a link to a folder already listed, or to one of its own
    parents, is reported instead of walked twice or in a loop).
    """
    files: list[tuple[Path, Path]] = []
    unmatched: list[UnmatchedFile] = []
    walked = {root}
    folders: list[Path] = [root]
    linked: list[tuple[Path, Path]] = []
    while folders or linked:
        if folders:
            folder = folders.pop()
        else:
            folder, real = linked.pop(0)
            if real in walked:
                relative, target = _relative(root, folder), _relative(root, real)
                reason = f"symlink {relative} leads to a folder already listed ({target}); not followed"
                unmatched.append(UnmatchedFile(relative, reason))
                continue
            walked.add(real)
        for path, real in _children(root, folder, unmatched):
            if real.is_dir():
                if path.is_symlink():
                    linked.append((path, real))
                elif real not in walked:
                    walked.add(real)
                    folders.append(path)
            elif real.is_file():
                files.append((path, real))
    return files, unmatched


def _escaping_links(root: Path, folder: Path, unmatched: list[UnmatchedFile]) -> set[str]:
    """Names in `folder` (hidden ones too) that are symlinks leaving the archive; each is reported."""
    escaping = set()
    for name in sorted(os.listdir(folder)):
        path = folder / name
        if path.is_symlink() and _inside(root, path) is None:
            unmatched.append(_outside(root, path))
            escaping.add(name)
    return escaping


def _sidecar(root: Path, candidate: Path) -> tuple[Path | None, str | None]:
    """(real path of the sidecar or None, a problem or None): a sidecar may not leave the archive."""
    if not os.path.lexists(candidate):
        return None, None
    real = _inside(root, candidate)
    if real is None:
        return None, f"{_relative(root, candidate)} points outside the archive"
    return (real if real.is_file() else None), None


def _duplicates(root: Path, sequence_id: str, paths: list[Path]) -> list[UnmatchedFile]:
    """Every file of an id found more than once, each naming the others; none of them is listed."""
    relatives = sorted(_relative(root, path) for path in paths)
    return [
        UnmatchedFile(
            relative,
            f"duplicate sequence id {sequence_id} (also: {', '.join(r for r in relatives if r != relative)})",
        )
        for relative in relatives
    ]
