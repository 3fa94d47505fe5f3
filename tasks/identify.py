"""Tasks of `enroll_gallery` and `identify_footage`: each wires one call into `storage/` or `stages/`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prefect import task

from stages import identification
from storage import galleries
from storage.manifest import SequenceEntry
from storage.store import SequenceStore
from storage.tracks import footage_entries
from tasks.retries import IO_RETRIES


@task(name="footage-sources", **IO_RETRIES)
def footage_sources(footage: str) -> list[SequenceEntry]:
    """The videos of a file or folder, with their content hashes."""
    return footage_entries(footage)


def _retried_unless_gallery_error(task, run, state) -> bool:
    """A missing, empty or one-person gallery stays so: only other (I/O) errors are retried."""
    try:
        state.result()
    except galleries.GalleryError:
        return False
    except Exception:  # noqa: BLE001 - anything else may be passing I/O trouble
        return True
    return True


@task(name="load-gallery", retry_condition_fn=_retried_unless_gallery_error, **IO_RETRIES)
def load_gallery(store: str, name: str) -> galleries.Gallery:
    """The gallery, refused (GalleryError) when missing, empty or of one person."""
    return galleries.check_open_set(galleries.read_gallery(SequenceStore(store), name))


@task(name="check-gallery-models")
def check_gallery_models(store: str, name: str, gait_model: str, features: str) -> None:
    galleries.check_models(SequenceStore(store), name, gait_model, features)


@task(name="enroll-walks")
def enroll_walks(store: str, lease: str, name: str, vectors: np.ndarray, subjects: list[str], sequences: list[str],
                 models: dict) -> galleries.Gallery:
    return galleries.enroll(SequenceStore(store, lease=lease), name, vectors, subjects, sequences, **models)


@task(name="longest-tracks")
def longest_tracks(store: str, track_ids: list[str]) -> dict[str, str]:
    return identification.longest_tracks(SequenceStore(store), track_ids)


@task(name="stored-vectors", **IO_RETRIES)
def stored_vectors(store: str, sequence_ids: list[str], gait_model: str):
    return identification.stored_vectors(SequenceStore(store), sequence_ids, gait_model)


@task(name="stranger-walks", **IO_RETRIES)
def stranger_walks(store: str, gallery: galleries.Gallery):
    return identification.stranger_walks(SequenceStore(store), gallery)


@task(name="enrolment-from-store", **IO_RETRIES)
def enrolment_from_store(store: str, gait_model: str, subjects: list[str] | None, sequences: str | None):
    return identification.enrolment_from_store(SequenceStore(store), gait_model, subjects=subjects,
                                               sequences=sequences)


@task(name="identify-tracks")
def identify_tracks(gallery: galleries.Gallery, store: str, track_ids: list[str], vectors: np.ndarray, far: float,
                    classifier: str, strangers: np.ndarray | None = None, stranger_subjects: np.ndarray | None = None):
    return identification.identify_tracks(gallery, SequenceStore(store), track_ids, vectors, far=far,
                                          classifier=classifier, strangers=strangers,
                                          stranger_subjects=stranger_subjects)


@task(name="contact-sheet", **IO_RETRIES)
def contact_sheet(store: str, rows: list[dict], path: str) -> str:
    return str(identification.contact_sheet(SequenceStore(store), rows, Path(path)))
