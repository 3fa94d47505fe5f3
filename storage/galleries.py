"""Named galleries of enrolled people, kept in the store beside the sequences.

    store.zarr/galleries/<name>/     attrs: name, gait_model (tag), gait_model_path, features (pose
                                     features tag), pose_model (reference), frame_size, subjects [G],
                                     sequences [G] (the walks the vectors came from), updated
      vectors  (G, D) float32        one identification vector per enrolled walk

A gallery's vectors are made by one gait model from one pose model's features, like every
other output of the store: enrolling with another gait model (or features) is refused, naming
the gallery and both models. A gallery is written like a sequence group: built in staging and
swapped in whole under the store's writer lock, so a failed enrolment leaves the gallery as it
was, and two enrolments never interleave.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import time
from typing import Sequence

import numpy as np

from storage.store import ChunkedArray, SequenceStore, StoreConflict

GALLERIES = "galleries"
_GALLERY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class GalleryError(ValueError):
    """A gallery that is missing, empty, or made with other models; one line naming it."""


@dataclasses.dataclass(frozen=True, eq=False)
class Gallery:
    """An enrolled gallery.

    Attributes:
      name: the gallery's name.
      vectors: (G, D) float32 identification vectors.
      subjects: (G,) str, whose each vector is.
      sequences: (G,) str, the stored sequence each vector came from.
      gait_model: tag (digest) of the gait model that made the vectors; gait_model_path its file.
      features: tag of the pose model whose features the gait model read; pose_model its reference.
      frame_size: side of the stored frames the pose model read.
    """

    name: str
    vectors: np.ndarray
    subjects: np.ndarray
    sequences: np.ndarray
    gait_model: str
    gait_model_path: str
    features: str
    pose_model: str
    frame_size: int

    @property
    def people(self) -> list[str]:
        return sorted(set(self.subjects.tolist()))

    def __len__(self) -> int:
        return len(self.vectors)


def check_gallery_name(name: str) -> str:
    if not _GALLERY_NAME.match(name or ""):
        raise GalleryError(f"gallery name {name!r}: use letters, digits, '.', '_' or '-' (up to 100), starting "
                           "with a letter or digit")
    return name


def gallery_names(store: SequenceStore) -> list[str]:
    return store.named_groups(GALLERIES)


def has_gallery(store: SequenceStore, name: str) -> bool:
    return store.named_group_attrs(GALLERIES, check_gallery_name(name)) is not None


def read_gallery(store: SequenceStore, name: str) -> Gallery:
    """The gallery `name` of the store.

    Raises:
      GalleryError: no such gallery (the message lists those there are), or it holds nobody.
    """
    attrs = store.named_group_attrs(GALLERIES, check_gallery_name(name))
    if attrs is None:
        known = ", ".join(gallery_names(store)) or "none"
        raise GalleryError(f"gallery {name!r} is not in {store.path} (galleries there: {known}); enroll people first")
    vectors = np.asarray(store.open_named_group(GALLERIES, name)["vectors"][:], dtype=np.float32)
    if len(vectors) == 0:
        raise GalleryError(f"gallery {name!r} in {store.path} is empty: enroll people first")
    return Gallery(
        name=name, vectors=vectors, subjects=np.asarray(attrs["subjects"], dtype=str),
        sequences=np.asarray(attrs["sequences"], dtype=str), gait_model=attrs["gait_model"],
        gait_model_path=attrs["gait_model_path"], features=attrs["features"], pose_model=attrs["pose_model"],
        frame_size=int(attrs["frame_size"]),
    )


def check_open_set(gallery: Gallery) -> Gallery:
    """The gallery, when it can set an open-set threshold (two people or more); else GalleryError."""
    if len(gallery.people) < 2:
        raise GalleryError(f"gallery {gallery.name!r} holds {len(gallery.people)} person ({', '.join(gallery.people)}): "
                           "telling people from strangers needs two or more; enroll more people")
    return gallery


_MERGE_ATTEMPTS = 3


def _merge_and_write(store: SequenceStore, name: str, vectors: np.ndarray, subjects: list[str],
                     sequences: list[str], *, models: dict) -> None:
    """Merges walks into the stored gallery (a walk already there is replaced) and writes it whole."""
    check_models(store, name, models["gait_model"], models["features"])
    if has_gallery(store, name):
        old = read_gallery(store, name)
        keep = ~np.isin(old.sequences, sequences)
        if old.vectors.shape[1] != vectors.shape[1]:
            raise GalleryError(f"gallery {name!r} holds {old.vectors.shape[1]}-d vectors, not {vectors.shape[1]}-d")
        vectors = np.concatenate([old.vectors[keep], vectors])
        subjects = old.subjects[keep].tolist() + subjects
        sequences = old.sequences[keep].tolist() + sequences
    attrs = {"name": name, **models, "subjects": subjects, "sequences": sequences,
             "updated": time.strftime("%Y-%m-%d %H:%M:%S")}
    arrays = {"vectors": ChunkedArray(vectors.shape, "float32", vectors.shape, [vectors])}
    store.write_named_group(GALLERIES, name, attrs, arrays, f"gallery:{name}")


def check_models(store: SequenceStore, name: str, gait_model: str, features: str | None = None) -> None:
    """Refuses to mix models in a gallery: GalleryError naming the gallery and both models."""
    attrs = store.named_group_attrs(GALLERIES, check_gallery_name(name))
    if attrs is None:
        return
    if attrs.get("gait_model") != gait_model:
        raise GalleryError(
            f"gallery {name!r} holds vectors of gait model {attrs.get('gait_model')} ({attrs.get('gait_model_path')}); "
            f"this command uses gait model {gait_model}: enroll into another gallery, or use that model"
        )
    if features is not None and attrs.get("features") != features:
        raise GalleryError(
            f"gallery {name!r} holds vectors from pose features {attrs.get('features')}; this command uses pose "
            f"features {features}: enroll into another gallery, or use that pose model"
        )


def enroll(
    store: SequenceStore,
    name: str,
    vectors: np.ndarray,
    subjects: Sequence[str],
    sequences: Sequence[str],
    *,
    gait_model: str,
    gait_model_path: str,
    features: str,
    pose_model: str,
    frame_size: int,
) -> Gallery:
    """Adds walks (vectors (n, D), subjects (n,), sequences (n,)) to gallery `name`, creating it.

    A walk already enrolled (same sequence id) is replaced. The read, merge and write happen
    under the store's writer lock; the gallery is swapped in whole. On object storage (no lock)
    a gallery another writer changed after the read is read and merged again, up to 3 times.

    Raises:
      GalleryError: the gallery holds vectors of another gait model or pose features, or the
        vectors do not fit it.
      StoreConflict: other writers kept changing the gallery through every attempt.
    """
    check_gallery_name(name)
    vectors = np.asarray(vectors, dtype=np.float32)
    subjects = [str(s) for s in subjects]
    sequences = [str(s) for s in sequences]
    if vectors.ndim != 2 or len(vectors) != len(subjects) or len(subjects) != len(sequences):
        raise GalleryError(f"gallery {name!r}: {vectors.shape} vectors for {len(subjects)} subjects and "
                           f"{len(sequences)} sequences")
    if len(vectors) == 0:
        raise GalleryError(f"gallery {name!r}: nothing to enroll")
    repeated = sorted(walk for walk, count in collections.Counter(sequences).items() if count > 1)
    if repeated:
        raise GalleryError(f"gallery {name!r}: walks given more than once: {', '.join(repeated[:5])}")
    if not np.isfinite(vectors).all():
        raise GalleryError(f"gallery {name!r}: vectors with NaN or infinity; describe those walks again")
    new = (vectors, subjects, sequences)
    with store.writer():
        for attempt in range(_MERGE_ATTEMPTS):
            try:
                # One snapshot for the read and the merge: on object storage, where no lock keeps
                # other writers out, a gallery changed after the read refuses the write.
                with store.reading():
                    _merge_and_write(store, name, *new, models=dict(
                        gait_model=gait_model, gait_model_path=str(gait_model_path), features=features,
                        pose_model=str(pose_model), frame_size=int(frame_size)))
                break
            except StoreConflict:
                if attempt == _MERGE_ATTEMPTS - 1:
                    raise
    return read_gallery(store, name)
