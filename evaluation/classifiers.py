"""Gallery classifiers that turn descriptors into probe x gallery-subject score matrices.

Both classifiers answer in the same shape, one column per gallery subject, so rank-k, CMC, MRR
and verification read their output alike (`evaluation.metrics` with `higher_is_better`).
`score_gallery` adds the ranked gallery list that retrieval's mAP reads: one entry per gallery
sequence for the nearest neighbour, one per subject for the SVM (which scores only subjects).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from sklearn.metrics import pairwise_distances
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

ClassifierName = Literal["svm", "nn"]
CLASSIFIERS: tuple[str, ...] = ("svm", "nn")


@dataclasses.dataclass(frozen=True)
class SubjectScores:
    """How well each probe fits each gallery subject.

    Attributes:
      matrix: (P, S) float, probe x subject scores (`higher_is_better`) or distances.
      subjects: (S,) str, the gallery subjects in column order (sorted).
      higher_is_better: True for the SVM's decision values, False for NN distances.
    """

    matrix: np.ndarray
    subjects: np.ndarray
    higher_is_better: bool


def svm_scores(
    gallery: np.ndarray,
    gallery_subjects: np.ndarray,
    probes: np.ndarray,
    *,
    c: float = 1.0,
    standardize: bool = False,
) -> SubjectScores:
    """Linear SVM trained on the gallery; its per-subject decision values for the probes.

    This is the seed's classifier: a linear SVM on the gait descriptors, which the seed's
    network trains to be linearly separable. It is libsvm's `SVC(kernel="linear")`: one-vs-one
    machines combined into one score per subject (the number of pairwise wins plus a
    confidence term smaller than one win). On gallery sizes of the real protocols (a few
    thousand walks, tens of subjects) this fits in well under a second, where liblinear's
    one-vs-rest `LinearSVC` took seconds to tens of seconds per fit and overfit more.

    Args:
      gallery: (G, D) float, gallery descriptors.
      gallery_subjects: (G,) str, subject of each gallery descriptor.
      probes: (P, D) float, probe descriptors.
      c: the SVM's regularisation constant C.
      standardize: scale each feature to zero mean / unit variance over the gallery first
        (for descriptors whose features differ widely in scale).

    Returns:
      SubjectScores with a (P, S) matrix of decision values, higher = more likely that subject.
    """
    gallery, gallery_subjects, probes = _checked(gallery, gallery_subjects, probes)
    subjects = np.unique(gallery_subjects)
    if subjects.size == 1:
        # One class: nothing to separate, every probe ranks that subject first.
        return SubjectScores(np.zeros((probes.shape[0], 1)), subjects, higher_is_better=True)
    if standardize:
        scaler = StandardScaler().fit(gallery)
        gallery, probes = scaler.transform(gallery), scaler.transform(probes)
    svm = SVC(kernel="linear", C=c, decision_function_shape="ovr").fit(gallery, gallery_subjects)
    decision = svm.decision_function(probes)
    if decision.ndim == 1:
        # Binary problems give one signed value, positive for classes_[1].
        decision = np.stack([-decision, decision], axis=1)
    return SubjectScores(np.asarray(decision, dtype=np.float64), svm.classes_, higher_is_better=True)


def nearest_neighbour_distances(
    gallery: np.ndarray,
    gallery_subjects: np.ndarray,
    probes: np.ndarray,
    *,
    metric: Literal["euclidean", "cosine"] = "euclidean",
) -> SubjectScores:
    """Distance from each probe to the nearest gallery descriptor of each subject.

    Args:
      gallery: (G, D) float, gallery descriptors.
      gallery_subjects: (G,) str, subject of each gallery descriptor.
      probes: (P, D) float, probe descriptors.
      metric: "euclidean", or "cosine" (1 - cosine similarity; a zero vector is at distance 1).

    Returns:
      SubjectScores with a (P, S) matrix of distances, lower = closer.
    """
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
    gallery, gallery_subjects, probes = _checked(gallery, gallery_subjects, probes)
    distances = pairwise_distances(probes, gallery, metric=metric)  # (P, G)
    return _per_subject_minimum(distances, gallery_subjects)


def subject_scores(
    classifier: ClassifierName,
    gallery: np.ndarray,
    gallery_subjects: np.ndarray,
    probes: np.ndarray,
) -> SubjectScores:
    """Scores probes (P, D) against gallery (G, D) with the named classifier ("svm" | "nn")."""
    if classifier == "svm":
        return svm_scores(gallery, gallery_subjects, probes)
    if classifier == "nn":
        return nearest_neighbour_distances(gallery, gallery_subjects, probes)
    raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}")


@dataclasses.dataclass(frozen=True)
class GalleryScores:
    """A classifier's answer for one gallery, for identification and for retrieval.

    Attributes:
      by_subject: (P, S) per-subject scores (rank-k, CMC, MRR, verification).
      by_entry: (P, E) float, the ranked gallery list that mAP reads: one column per gallery
        sequence for the nearest neighbour (E = G, Euclidean distances), one per subject for
        the SVM (E = S, the same matrix as `by_subject`).
      entry_subjects: (E,) str, the subject of each column of `by_entry`.
      higher_is_better: orientation of both matrices (as in `SubjectScores`).
    """

    by_subject: SubjectScores
    by_entry: np.ndarray
    entry_subjects: np.ndarray

    @property
    def higher_is_better(self) -> bool:
        return self.by_subject.higher_is_better


def score_gallery(
    classifier: ClassifierName,
    gallery: np.ndarray,
    gallery_subjects: np.ndarray,
    probes: np.ndarray,
) -> GalleryScores:
    """Scores probes (P, D) against gallery (G, D) with "svm" | "nn", per subject and per entry."""
    if classifier == "svm":
        by_subject = svm_scores(gallery, gallery_subjects, probes)
        return GalleryScores(by_subject, by_subject.matrix, by_subject.subjects)
    if classifier == "nn":
        gallery, gallery_subjects, probes = _checked(gallery, gallery_subjects, probes)
        distances = pairwise_distances(probes, gallery, metric="euclidean")  # (P, G)
        return GalleryScores(
            _per_subject_minimum(distances, gallery_subjects), distances, gallery_subjects
        )
    raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}")


def _per_subject_minimum(distances: np.ndarray, gallery_subjects: np.ndarray) -> SubjectScores:
    """(P, G) probe x sequence distances -> (P, S) distance to each subject's nearest sequence."""
    subjects, column_subject = np.unique(gallery_subjects, return_inverse=True)
    per_subject = np.full((distances.shape[0], subjects.size), np.inf)
    for s in range(subjects.size):
        per_subject[:, s] = distances[:, column_subject == s].min(axis=1)
    return SubjectScores(per_subject, subjects, higher_is_better=False)


def _checked(gallery, gallery_subjects, probes):
    gallery = np.asarray(gallery, dtype=np.float64)
    probes = np.asarray(probes, dtype=np.float64)
    gallery_subjects = np.asarray(gallery_subjects).astype(str)
    if gallery.ndim != 2 or gallery.shape[0] == 0:
        raise ValueError(f"gallery must be a non-empty (G, D) array, got shape {gallery.shape}")
    if probes.ndim != 2 or probes.shape[0] == 0:
        raise ValueError(f"probes must be a non-empty (P, D) array, got shape {probes.shape}")
    if probes.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"probe descriptors have D = {probes.shape[1]}, gallery descriptors D = "
            f"{gallery.shape[1]}"
        )
    if gallery_subjects.shape != (gallery.shape[0],):
        raise ValueError(
            f"gallery_subjects shape {gallery_subjects.shape} does not match G = {gallery.shape[0]}"
        )
    if not (np.isfinite(gallery).all() and np.isfinite(probes).all()):
        raise ValueError("descriptors contain NaN or infinite values")
    return gallery, gallery_subjects, probes
