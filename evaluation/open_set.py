"""Open-set identification: name a probe only when its best match is good enough, else "unknown".

A gallery knows some people; footage shows anyone. The decision threshold is the least strict
one at which at most `far` of a set of impostor attempts would be accepted. Where labelled walks
of people the gallery does not know are at hand (the gait model's training people), each is
scored against the gallery as a stranger would be: those are the impostor attempts
(`calibrated_threshold`). Otherwise they come from the gallery's own people: each gallery walk is
scored against the gallery with every walk of its person left out (`gallery_threshold`). That
gives only as many attempts as the gallery has walks, each against one person fewer than a
stranger meets, so it under-states the rate at which strangers are named.
Genuine attempts (for the true-accept rate) are always the gallery's walks against the rest of
the gallery with only that walk left out.

The decision is made on distances: a probe's score is its Euclidean distance to the nearest
enrolled walk of the person it is matched to. The nearest neighbour matches it to the closest
person; the linear SVM (`classifier="svm"`) picks the person, and the distance to that person's
walks decides whether to name them. The SVM's own decision values are one-vs-one votes whose
scale moves with the number of people, so a gallery with one person left out (the impostor
attempts) would not score like the whole gallery. Pure numpy / scikit-learn.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from sklearn.metrics import pairwise_distances

from evaluation.classifiers import SubjectScores, nearest_neighbour_distances, subject_scores

UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class OpenSetThreshold:
    """A decision threshold and the rates it gives on the attempts it was chosen from.

    Attributes:
      threshold: accept when score >= threshold (`higher_is_better`), or distance <= threshold.
      higher_is_better: orientation of the scores.
      far_target: the false-accept rate asked for.
      far: impostor attempts accepted at this threshold (share), <= far_target.
      tar: genuine attempts accepted at this threshold (share; NaN without genuine attempts).
      impostors: number of impostor attempts; genuine: number of genuine attempts.
      calibration: where the impostor attempts came from: "strangers" (labelled walks of people
        outside the gallery), "gallery" (the gallery's own people, each left out in turn), or ""
        (given scores, `threshold_at_far`).
    """

    threshold: float
    higher_is_better: bool
    far_target: float
    far: float
    tar: float
    impostors: int
    genuine: int
    calibration: str = ""

    def accepts(self, scores: np.ndarray) -> np.ndarray:
        """(n,) bool: which of the scores (n,) pass the threshold."""
        scores = np.asarray(scores, dtype=np.float64)
        return scores >= self.threshold if self.higher_is_better else scores <= self.threshold

    def as_dict(self) -> dict:
        return {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
                for key, value in dataclasses.asdict(self).items()}


def threshold_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float, *,
                     higher_is_better: bool) -> OpenSetThreshold:
    """The least strict threshold that accepts at most `far` of the impostor scores.

    Args:
      genuine: (n_g,) float, scores of genuine attempts (may be empty: TAR is then NaN).
      impostor: (n_i,) float, scores of impostor attempts, n_i >= 1.
      far: the false-accept rate, in [0, 1).
      higher_is_better: True for similarity scores, False for distances.
    Returns:
      OpenSetThreshold; with fewer than 1 / far impostor attempts no impostor is accepted
      (the threshold lies just past the best impostor score).
    """
    genuine = np.asarray(genuine, dtype=np.float64).ravel()
    impostor = np.asarray(impostor, dtype=np.float64).ravel()
    if not 0.0 <= far < 1.0:
        raise ValueError(f"far must be in [0, 1), got {far}")
    if impostor.size == 0:
        raise ValueError("no impostor scores: a threshold needs at least two people in the gallery")
    if not (np.isfinite(impostor).all() and np.isfinite(genuine).all()):
        raise ValueError("scores contain NaN or infinite values")
    sign = 1.0 if higher_is_better else -1.0
    ranked = np.sort(sign * impostor)[::-1]  # best impostor first, as similarities
    allowed = int(math.floor(far * ranked.size + 1e-9))
    if allowed >= ranked.size:
        threshold = ranked[-1]
    else:
        threshold = np.nextafter(ranked[allowed], np.inf)  # just past the first impostor not allowed
    threshold = float(sign * threshold)
    result = OpenSetThreshold(threshold, higher_is_better, float(far), 0.0, float("nan"), int(impostor.size),
                              int(genuine.size))
    accepted = result.accepts(impostor)
    tar = float(result.accepts(genuine).mean()) if genuine.size else float("nan")
    return dataclasses.replace(result, far=float(accepted.mean()), tar=tar)


def leave_out_scores(vectors: np.ndarray, subjects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor distances of a gallery against itself.

    For each walk i: its genuine score is the distance to the nearest other walk of its person
    (only for people with at least two walks); its impostor score is the distance to the nearest
    walk of anyone else, i.e. its best score against the gallery without its person (what an
    unknown person would get).

    Args:
      vectors: (G, D) float, the gallery's descriptors.
      subjects: (G,) str, whose each is.
    Returns:
      (genuine (n_g,), impostor (G,)), Euclidean distances (lower is better).
    Raises:
      ValueError: fewer than two people.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    subjects = np.asarray(subjects).astype(str)
    people = np.unique(subjects)
    if people.size < 2:
        raise ValueError(f"an open-set threshold needs at least two people in the gallery, it has {people.size}")
    distances = pairwise_distances(vectors, metric="euclidean")  # (G, G)
    same = subjects[:, None] == subjects[None, :]
    np.fill_diagonal(distances, np.inf)
    impostor = np.where(same, np.inf, distances).min(axis=1)
    own = np.where(same, distances, np.inf).min(axis=1)
    return own[np.isfinite(own)], impostor


def gallery_threshold(vectors: np.ndarray, subjects: np.ndarray, far: float = 0.01) -> OpenSetThreshold:
    """The open-set distance threshold of a gallery (G, D) with subjects (G,) at false-accept rate
    `far`, from the gallery's own leave-person-out attempts."""
    genuine, impostor = leave_out_scores(vectors, subjects)
    return dataclasses.replace(threshold_at_far(genuine, impostor, far, higher_is_better=False), calibration="gallery")


def stranger_scores(vectors: np.ndarray, strangers: np.ndarray) -> np.ndarray:
    """(S,) Euclidean distance of each stranger walk (S, D) to its nearest gallery walk (G, D):
    the score an open-set decision would see for a person the gallery does not know."""
    vectors = np.asarray(vectors, dtype=np.float64)
    strangers = np.asarray(strangers, dtype=np.float64)
    if strangers.ndim != 2 or strangers.shape[1] != vectors.shape[1]:
        raise ValueError(f"stranger vectors of shape {strangers.shape} do not match the gallery's {vectors.shape}")
    return pairwise_distances(strangers, vectors, metric="euclidean").min(axis=1)


# Fewest distinct people among the strangers: one person's walks are alike, so a hundred walks
# of two people say little about how the next stranger scores.
MIN_STRANGER_PEOPLE = 5


def min_stranger_walks(far: float) -> int:
    """Fewest stranger walks that can resolve false-accept rate `far`: 1 / far (at least 10)."""
    return max(10, int(math.ceil(1.0 / far))) if far > 0 else 100


def calibrated_threshold(vectors: np.ndarray, subjects: np.ndarray, far: float = 0.01,
                         strangers: np.ndarray | None = None,
                         stranger_subjects: np.ndarray | None = None) -> OpenSetThreshold:
    """The open-set distance threshold of a gallery (G, D) with subjects (G,) at rate `far`.

    Args:
      strangers: (S, D) float, walks of labelled people who are not in the gallery, or None.
      stranger_subjects: (S,) str, whose each is. With at least `min_stranger_walks(far)` walks
        of at least `MIN_STRANGER_PEOPLE` people, the strangers are the impostor attempts
        (calibration "strangers"); otherwise the gallery's own leave-person-out attempts are
        (calibration "gallery").
    Raises:
      ValueError: fewer than two people in the gallery, or strangers without their subjects.
    """
    if strangers is not None and (stranger_subjects is None or len(stranger_subjects) != len(strangers)):
        raise ValueError("stranger walks need their subjects, one each")
    enough = (strangers is not None and len(strangers) >= min_stranger_walks(far)
              and np.unique(np.asarray(stranger_subjects).astype(str)).size >= MIN_STRANGER_PEOPLE)
    if not enough:
        return gallery_threshold(vectors, subjects, far)
    genuine, _ = leave_out_scores(vectors, subjects)
    result = threshold_at_far(genuine, stranger_scores(vectors, strangers), far, higher_is_better=False)
    return dataclasses.replace(result, calibration="strangers")


@dataclasses.dataclass(frozen=True)
class OpenSetAnswer:
    """Per probe: the best gallery person, its score, and the answer (that person or "unknown").

    Attributes:
      best: (P,) str, the best-scoring gallery person.
      score: (P,) float, that person's score.
      identity: (P,) str, `best` where the threshold accepts it, else "unknown".
    """

    best: np.ndarray
    score: np.ndarray
    identity: np.ndarray


def identify(scores: SubjectScores, threshold: OpenSetThreshold) -> OpenSetAnswer:
    """Open-set answers from probe x subject scores (P, S) and a threshold of the same orientation."""
    if scores.higher_is_better != threshold.higher_is_better:
        raise ValueError("the scores and the threshold are of different orientation (scores vs distances)")
    matrix = np.asarray(scores.matrix, dtype=np.float64)
    column = matrix.argmax(axis=1) if scores.higher_is_better else matrix.argmin(axis=1)
    best = np.asarray(scores.subjects)[column].astype(str)
    top = matrix[np.arange(len(matrix)), column]
    identity = np.where(threshold.accepts(top), best, UNKNOWN)
    return OpenSetAnswer(best, top, identity)


def identify_probes(classifier: str, gallery: np.ndarray, gallery_subjects: np.ndarray, probes: np.ndarray,
                    threshold: OpenSetThreshold) -> OpenSetAnswer:
    """Open-set answers for probes (P, D) against a gallery (G, D) with subjects (G,).

    "nn" matches each probe to the person of its nearest walk; "svm" to the linear SVM's best
    person. Either way the score is the distance to that person's nearest walk, named when the
    (distance) threshold accepts it, else "unknown".
    """
    if threshold.higher_is_better:
        raise ValueError("identify_probes takes a distance threshold (gallery_threshold)")
    distances = nearest_neighbour_distances(gallery, gallery_subjects, probes)
    if classifier == "nn":
        return identify(distances, threshold)
    if classifier != "svm":
        raise ValueError(f"classifier must be 'svm' or 'nn', got {classifier!r}")
    chosen = subject_scores("svm", gallery, gallery_subjects, probes)
    column = np.searchsorted(distances.subjects, np.asarray(chosen.subjects)[chosen.matrix.argmax(axis=1)])
    best = np.asarray(distances.subjects)[column].astype(str)
    score = distances.matrix[np.arange(len(column)), column]
    return OpenSetAnswer(best, score, np.where(threshold.accepts(score), best, UNKNOWN))


@dataclasses.dataclass(frozen=True)
class OpenSetRates:
    """How open-set answers fared against the truth.

    Attributes:
      false_accept_rate: share of probes of people not enrolled that were given a name.
      detection_identification_rate: share of enrolled people's probes named correctly (DIR:
        accepted and right).
      rank1: share of enrolled people's probes whose best match is right, threshold ignored
        (the closed-set figure the DIR is bounded by).
      impostor_probes: probes of people not enrolled; genuine_probes: probes of enrolled people.
    """

    false_accept_rate: float
    detection_identification_rate: float
    rank1: float
    impostor_probes: int
    genuine_probes: int


def open_set_rates(answer: OpenSetAnswer, probe_subjects: np.ndarray, enrolled: np.ndarray) -> OpenSetRates:
    """Scores answers (P,) for probes whose true subjects are `probe_subjects` (P,), against the
    people the gallery knows, `enrolled` (E,). A rate over no probes is NaN.
    """
    truth = np.asarray(probe_subjects).astype(str)
    if truth.shape != answer.identity.shape:
        raise ValueError(f"{truth.size} probe subjects for {answer.identity.size} answers")
    known = np.isin(truth, np.asarray(enrolled).astype(str))
    named = answer.identity != UNKNOWN

    def share(hits: np.ndarray, among: np.ndarray) -> float:
        return float(hits[among].mean()) if among.any() else float("nan")

    return OpenSetRates(
        false_accept_rate=share(named, ~known),
        detection_identification_rate=share(named & (answer.identity == truth), known),
        rank1=share(answer.best == truth, known),
        impostor_probes=int((~known).sum()),
        genuine_probes=int(known.sum()),
    )
