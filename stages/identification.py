"""Enrolment and open-set identification on stored walker tracks: plain functions joining the
store, its galleries and `evaluation.open_set`, plus the annotated contact sheet."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from evaluation.open_set import UNKNOWN, OpenSetThreshold, calibrated_threshold, identify_probes
from stages.descriptors import DESCRIPTORS_STAGE
from storage.galleries import Gallery
from storage.store import SequenceStore
from storage.tracks import source_frames

_KNOWN_COLOUR = (40, 200, 60)  # RGB
_UNKNOWN_COLOUR = (230, 60, 40)


def stored_vectors(store: SequenceStore, sequence_ids: Sequence[str], gait_model: str
                   ) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Identification vectors of `sequence_ids` made by gait model `gait_model`.

    Returns:
      (ids that have one, (n, D) float32 vectors, {id: reason} for those that have none).
    """
    ids, vectors, missing = [], [], {}
    with store.reading():
        for sequence_id in sequence_ids:
            if not store.has_stage(sequence_id, DESCRIPTORS_STAGE, gait_model):
                missing[sequence_id] = f"no identification vector of gait model {gait_model}"
                continue
            vector = np.asarray(store.open_stage(sequence_id, DESCRIPTORS_STAGE, gait_model)["vector"][:], np.float32)
            ids.append(sequence_id)
            vectors.append(vector)
    return ids, (np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)), missing


def enrolment_from_store(store: SequenceStore, gait_model: str, *, subjects: Sequence[str] | None = None,
                         sequences: str | None = None) -> tuple[list[str], np.ndarray, list[str], int]:
    """The labelled sequences of a store to enrol: (ids, (n, D) vectors, their subjects, frame side).

    Args:
      subjects: only these subject labels; None: everyone.
      sequences: only ids matching this regular expression (`re.search`); None: every one.
    Raises:
      ValueError: nothing matches, or the pattern is not a regular expression.
    """
    try:
        pattern = re.compile(sequences) if sequences else None
    except re.error as error:
        raise ValueError(f"--sequences {sequences!r}: not a regular expression: {error}") from error
    wanted = set(subjects) if subjects else None
    chosen, people, sizes = [], [], set()
    for sequence_id, attrs in sorted(store.all_sequence_attrs().items()):
        if wanted is not None and str(attrs.get("subject")) not in wanted:
            continue
        if pattern is not None and not pattern.search(sequence_id):
            continue
        chosen.append(sequence_id)
        people.append(str(attrs.get("subject")))
        sizes.add(int(attrs.get("extraction", {}).get("size", 0)))
    ids, vectors, missing = stored_vectors(store, chosen, gait_model)
    if not ids:
        raise ValueError(f"{store.path}: no sequence to enroll has a vector of gait model {gait_model} "
                         f"({len(chosen)} matched the subjects and pattern)")
    subject_of = dict(zip(chosen, people))
    return ids, vectors, [subject_of[i] for i in ids], max(sizes)


def stranger_walks(store: SequenceStore, gallery: Gallery) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labelled walks of people the gallery does not know, described by the gallery's gait model:
    (ids, (n, D) vectors, (n,) subjects), the impostor attempts of its open-set threshold.

    Labelled means ingested from a labelled layout (CASIA-B, TUM GAID), typically the gait model's
    training people. Walker tracks and folder videos are left out: their "subject" is the track or
    file, and the person in them may well be enrolled. Walks without a vector of that gait model
    are left out too.
    """
    enrolled = set(gallery.people)
    stored = store.all_sequence_attrs()
    chosen = sorted(
        sequence_id for sequence_id, attrs in stored.items()
        if attrs.get("layout") not in (None, "folder") and "track_source" not in attrs
        and str(attrs.get("subject")) not in enrolled
    )
    ids, vectors, _ = stored_vectors(store, chosen, gallery.gait_model)
    return ids, vectors, np.array([str(stored[i].get("subject")) for i in ids])


def longest_tracks(store: SequenceStore, track_ids: Sequence[str]) -> dict[str, str]:
    """{source id: its longest track among `track_ids`} (the one person a video enrols)."""
    best: dict[str, tuple[int, str]] = {}
    for track_id in track_ids:
        attrs = store.sequence_attrs(track_id) or {}
        source = attrs.get("track_source", track_id)
        length = int(attrs.get("frame_count", 0))
        if source not in best or length > best[source][0]:
            best[source] = (length, track_id)
    return {source: track for source, (_, track) in sorted(best.items())}


def identify_tracks(gallery: Gallery, store: SequenceStore, track_ids: Sequence[str], vectors: np.ndarray, *,
                    far: float, classifier: str, strangers: np.ndarray | None = None,
                    stranger_subjects: np.ndarray | None = None) -> tuple[list[dict], OpenSetThreshold]:
    """Open-set answers for tracks (n,) with vectors (n, D) against the gallery.

    `strangers` (S, D) with `stranger_subjects` (S,): walks of people outside the gallery that set
    the threshold when there are enough of them (`evaluation.open_set.calibrated_threshold`); see
    `stranger_walks`.

    Returns:
      rows, one per track in order: {"track", "identity" (a person or "unknown"), "best" (the
      person the classifier matched), "score" (the distance to that person's nearest enrolled
      walk), "frames": [first, last] source frames, "source"}; and the distance threshold
      (chosen at `far` from the strangers' attempts, else the gallery's own).
    Raises:
      ValueError: the gallery has fewer than two people (no impostor attempts to set a threshold).
    """
    threshold = calibrated_threshold(gallery.vectors, gallery.subjects, far, strangers, stranger_subjects)
    if len(track_ids) == 0:
        return [], threshold
    answer = identify_probes(classifier, gallery.vectors, gallery.subjects, vectors, threshold)
    rows = []
    for number, track_id in enumerate(track_ids):
        attrs = store.sequence_attrs(track_id) or {}
        rows.append({
            "track": track_id, "identity": str(answer.identity[number]), "best": str(answer.best[number]),
            "score": round(float(answer.score[number]), 6), "frames": list(attrs.get("track_frames", [0, 0])),
            "source": attrs.get("source", ""),
        })
    return rows, threshold


def contact_sheet(store: SequenceStore, rows: Sequence[dict], path: str | Path, *, tile: int = 320,
                  columns: int = 4) -> Path:
    """A PNG with one tile per identified track: the source frame in the middle of the track,
    the walker's box drawn and labelled with the answer and score (green: named, red: unknown).

    Returns the path written. Rows need "track", "identity", "score" (see `identify_tracks`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, dict[int, list[tuple[dict, np.ndarray]]]] = defaultdict(lambda: defaultdict(list))
    kinds: dict[str, str] = {}
    for row in rows:
        group, attrs = store.open_sequence(row["track"]), store.sequence_attrs(row["track"]) or {}
        index = group["source_index"][:]
        middle = len(index) // 2
        box = np.asarray(group["person_box"][middle] if "person_box" in group else group["crop_box"][middle])
        wanted[attrs["source"]][int(index[middle])].append((row, box))
        kinds[attrs["source"]] = "images" if Path(attrs["source"]).is_dir() else "video"
    tiles = []
    for source, by_frame in wanted.items():
        for index, frame in source_frames(source, kinds[source]):
            if index not in by_frame:
                continue
            for row, box in by_frame[index]:
                tiles.append(_annotated(frame, row, box, tile))
            if len(tiles) == sum(len(v) for v in wanted.values()):
                break
    if not tiles:
        tiles = [np.zeros((tile // 2, tile, 3), np.uint8)]
    height = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
    while len(tiles) % columns and len(tiles) > columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows_of_tiles = [np.concatenate(tiles[start:start + columns], axis=1) for start in range(0, len(tiles), columns)]
    sheet = np.concatenate(rows_of_tiles, axis=0)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: cannot write the contact sheet")
    return path


def _annotated(frame: np.ndarray, row: dict, box: np.ndarray, tile: int) -> np.ndarray:
    scale = tile / frame.shape[1]
    image = cv2.resize(frame, (tile, max(1, int(round(frame.shape[0] * scale)))), interpolation=cv2.INTER_AREA)
    known = row["identity"] != UNKNOWN
    colour = _KNOWN_COLOUR if known else _UNKNOWN_COLOUR
    x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
    cv2.rectangle(image, (x0, y0), (x1, y1), colour, 2)
    label = f"{row['identity']} {row['score']:.2f}"
    cv2.putText(image, label, (max(0, x0), max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    track = row["track"].rpartition("#")[2]
    cv2.putText(image, track, (4, image.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return image
