"""Identification and verification metrics on probe x gallery score matrices.

Every function takes a matrix with one row per probe and one column per gallery entry. A gallery
entry is whatever the classifier scored against: a single sequence (nearest neighbour over
sequences) or a whole subject (the SVM's per-class decision values). `higher_is_better` says
whether the matrix holds similarities/scores (True) or distances (False).

Ties are resolved against the probe: a wrong gallery entry that scores exactly as well as the best
correct one ranks before it. Descriptors that carry no information (all equal) therefore score
rank-1 = 1/G, not a perfect 1.0. mAP is scikit-learn's average precision, ties included.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.metrics import average_precision_score, label_ranking_average_precision_score


@dataclasses.dataclass(frozen=True)
class RocCurve:
    """A verification ROC, one point per distinct decision threshold.

    Attributes:
      false_accept_rate: (K,) float, impostor pairs accepted at each threshold, non-decreasing.
      true_accept_rate: (K,) float, genuine pairs accepted at each threshold, non-decreasing.
      thresholds: (K,) float, the oriented score a pair must reach to be accepted (higher is
        more genuine; distances appear negated). The first point is +inf (accept nothing).
    """

    false_accept_rate: np.ndarray
    true_accept_rate: np.ndarray
    thresholds: np.ndarray


def match_ranks(
    scores: np.ndarray,
    probe_ids: np.ndarray,
    gallery_ids: np.ndarray,
    *,
    higher_is_better: bool,
) -> np.ndarray:
    """The rank at which each probe first meets a gallery entry of its own identity.

    Args:
      scores: (P, G) float, probe x gallery scores or distances.
      probe_ids: (P,) identity of each probe.
      gallery_ids: (G,) identity of each gallery entry.
      higher_is_better: True for scores/similarities, False for distances.

    Returns:
      (P,) int, 1-based rank of the best correct gallery entry (1 = top match).

    Raises:
      ValueError: on empty or misshapen inputs, NaN scores, or a probe whose identity has no
        gallery entry (closed-set identification needs one).
    """
    oriented, matches = _oriented_and_matches(scores, probe_ids, gallery_ids, higher_is_better)
    best_correct = np.where(matches, oriented, -np.inf).max(axis=1)
    wrong_at_least_as_good = (~matches) & (oriented >= best_correct[:, None])
    return 1 + wrong_at_least_as_good.sum(axis=1)


def cmc_from_ranks(ranks: np.ndarray, max_rank: int) -> np.ndarray:
    """Cumulative match characteristic from per-probe match ranks.

    Args:
      ranks: (P,) int, 1-based ranks as `match_ranks` returns them.
      max_rank: R, the number of ranks to report (usually the gallery's size).

    Returns:
      (R,) float, entry k-1 = fraction of probes matched at rank <= k.
    """
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0:
        raise ValueError(f"ranks must be a non-empty 1-D array, got shape {ranks.shape}")
    if max_rank < 1:
        raise ValueError(f"max_rank must be at least 1, got {max_rank}")
    if ranks.min() < 1:
        raise ValueError(f"ranks are 1-based; got a rank of {ranks.min()}")
    k = np.arange(1, max_rank + 1)
    return (ranks[None, :] <= k[:, None]).mean(axis=1)


def cmc_curve(
    scores: np.ndarray,
    probe_ids: np.ndarray,
    gallery_ids: np.ndarray,
    *,
    higher_is_better: bool,
    max_rank: int | None = None,
) -> np.ndarray:
    """Cumulative match characteristic of a probe x gallery matrix.

    Args:
      scores: (P, G) float, probe x gallery scores or distances.
      probe_ids: (P,) identities of the probes.
      gallery_ids: (G,) identities of the gallery entries.
      higher_is_better: True for scores, False for distances.
      max_rank: R, ranks to report; default G.

    Returns:
      (R,) float, entry k-1 = identification accuracy at rank k.
    """
    ranks = match_ranks(scores, probe_ids, gallery_ids, higher_is_better=higher_is_better)
    return cmc_from_ranks(ranks, np.shape(scores)[1] if max_rank is None else max_rank)


def rank_k_accuracy(
    scores: np.ndarray,
    probe_ids: np.ndarray,
    gallery_ids: np.ndarray,
    k: int = 1,
    *,
    higher_is_better: bool,
) -> float:
    """Fraction of probes (P,) whose correct identity is among the top k of their (P, G) row."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ranks = match_ranks(scores, probe_ids, gallery_ids, higher_is_better=higher_is_better)
    return float(np.mean(ranks <= k))


def average_precisions(
    scores: np.ndarray,
    probe_ids: np.ndarray,
    gallery_ids: np.ndarray,
    *,
    higher_is_better: bool,
) -> np.ndarray:
    """Average precision of each probe's ranked gallery, as the retrieval literature defines it.

    For each probe the gallery entries are ranked by score; an entry is relevant when its
    identity is the probe's. AP is the mean, over the relevant entries, of the precision at
    each one's position (`sklearn.metrics.average_precision_score`). A block of equal scores
    counts as one cut-off, so ties are resolved against the probe as everywhere here.

    With one gallery column per subject (the SVM's scores) a probe has exactly one relevant
    entry and its AP equals the reciprocal of its match rank; mAP only differs from the mean
    reciprocal rank when the gallery holds several entries per identity (sequences).

    Args:
      scores: (P, G) float, probe x gallery scores or distances.
      probe_ids: (P,) identities of the probes.
      gallery_ids: (G,) identities of the gallery entries.
      higher_is_better: True for scores, False for distances.

    Returns:
      (P,) float in (0, 1].
    """
    oriented, matches = _oriented_and_matches(scores, probe_ids, gallery_ids, higher_is_better)
    return np.array(
        [average_precision_score(relevant, row) for relevant, row in zip(matches, oriented)],
        dtype=np.float64,
    )


def mean_average_precision(
    scores: np.ndarray,
    probe_ids: np.ndarray,
    gallery_ids: np.ndarray,
    *,
    higher_is_better: bool,
) -> float:
    """mAP: the mean over probes (P,) of the average precision of their ranked (P, G) rows.

    Computed by `sklearn.metrics.label_ranking_average_precision_score`, which equals the mean
    of `average_precisions` (ties included) and is faster on large matrices.
    """
    oriented, matches = _oriented_and_matches(scores, probe_ids, gallery_ids, higher_is_better)
    return float(label_ranking_average_precision_score(matches, oriented))


def mean_reciprocal_rank(
    scores: np.ndarray,
    probe_ids: np.ndarray,
    gallery_ids: np.ndarray,
    *,
    higher_is_better: bool,
) -> float:
    """MRR: the mean over probes (P,) of 1 / the rank of the first correct entry of their (P, G) row.

    Not the mAP: it ignores every correct entry after the first.
    """
    ranks = match_ranks(scores, probe_ids, gallery_ids, higher_is_better=higher_is_better)
    return float(np.mean(1.0 / ranks))


def genuine_impostor_scores(
    scores: np.ndarray, probe_ids: np.ndarray, gallery_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Splits a (P, G) matrix into the scores of same-identity and different-identity pairs.

    Returns:
      genuine: (M,) the entries where probe and gallery identity agree.
      impostor: (K,) the other entries; M + K = P * G.
    """
    scores = _checked_matrix(scores, probe_ids, gallery_ids)
    matches = np.asarray(probe_ids)[:, None] == np.asarray(gallery_ids)[None, :]
    return scores[matches], scores[~matches]


def roc_curve(
    genuine: np.ndarray, impostor: np.ndarray, *, higher_is_better: bool = True
) -> RocCurve:
    """Verification ROC from genuine (M,) and impostor (K,) pair scores.

    A pair is accepted when its oriented score is >= the threshold. Only the corners of the ROC
    staircase are kept (points on a straight run between two corners add nothing).
    """
    genuine, impostor = _oriented_pairs(genuine, impostor, higher_is_better)
    thresholds = np.unique(np.concatenate([genuine, impostor]))[::-1]
    genuine_sorted = np.sort(genuine)
    impostor_sorted = np.sort(impostor)
    tar = (genuine.size - np.searchsorted(genuine_sorted, thresholds, side="left")) / genuine.size
    far = (impostor.size - np.searchsorted(impostor_sorted, thresholds, side="left")) / impostor.size
    far = np.concatenate([[0.0], far])
    tar = np.concatenate([[0.0], tar])
    thresholds = np.concatenate([[np.inf], thresholds])
    keep = _corner_points(far, tar)
    return RocCurve(far[keep], tar[keep], thresholds[keep])


def equal_error_rate(
    genuine: np.ndarray, impostor: np.ndarray, *, higher_is_better: bool = True
) -> float:
    """The error rate where false accepts equal false rejects.

    Found where the ROC, linearly interpolated between its points, crosses FAR = 1 - TAR.

    Args:
      genuine: (M,) scores of same-identity pairs.
      impostor: (K,) scores of different-identity pairs.
      higher_is_better: True for scores, False for distances.

    Returns:
      EER in [0, 1]; 0 when every genuine pair outscores every impostor pair.
    """
    roc = roc_curve(genuine, impostor, higher_is_better=higher_is_better)
    return equal_error_rate_of(roc)


def equal_error_rate_of(roc: RocCurve) -> float:
    """EER of an existing `RocCurve` (see `equal_error_rate`)."""
    far = roc.false_accept_rate
    frr = 1.0 - roc.true_accept_rate
    gap = far - frr  # starts at -1 (accept nothing), ends at +1 (accept everything)
    i = int(np.argmax(gap >= 0))
    if i == 0:
        return float(far[0])
    t = -gap[i - 1] / (gap[i] - gap[i - 1])
    return float(far[i - 1] + t * (far[i] - far[i - 1]))


def _checked_matrix(scores, probe_ids, gallery_ids) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    probe_ids = np.asarray(probe_ids)
    gallery_ids = np.asarray(gallery_ids)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a (P, G) matrix, got shape {scores.shape}")
    if scores.shape[0] == 0:
        raise ValueError("scores have no probes (P = 0)")
    if scores.shape[1] == 0:
        raise ValueError("scores have no gallery entries (G = 0)")
    if probe_ids.shape != (scores.shape[0],):
        raise ValueError(f"probe_ids shape {probe_ids.shape} does not match P = {scores.shape[0]}")
    if gallery_ids.shape != (scores.shape[1],):
        raise ValueError(
            f"gallery_ids shape {gallery_ids.shape} does not match G = {scores.shape[1]}"
        )
    if np.isnan(scores).any():
        raise ValueError(f"scores contain {int(np.isnan(scores).sum())} NaN entries")
    return scores


def _oriented_and_matches(scores, probe_ids, gallery_ids, higher_is_better):
    scores = _checked_matrix(scores, probe_ids, gallery_ids)
    matches = np.asarray(probe_ids)[:, None] == np.asarray(gallery_ids)[None, :]
    unmatched = ~matches.any(axis=1)
    if unmatched.any():
        missing = sorted({str(x) for x in np.asarray(probe_ids)[unmatched]})
        raise ValueError(
            f"{int(unmatched.sum())} probes have no gallery entry of their identity "
            f"(identities {_listed(missing)}); closed-set identification needs one"
        )
    return (scores if higher_is_better else -scores), matches


def _oriented_pairs(genuine, impostor, higher_is_better):
    genuine = np.asarray(genuine, dtype=np.float64).ravel()
    impostor = np.asarray(impostor, dtype=np.float64).ravel()
    if genuine.size == 0:
        raise ValueError("no genuine pair scores: the ROC needs at least one")
    if impostor.size == 0:
        raise ValueError("no impostor pair scores: the ROC needs at least one")
    if np.isnan(genuine).any() or np.isnan(impostor).any():
        raise ValueError("genuine/impostor scores contain NaN")
    if not higher_is_better:
        genuine, impostor = -genuine, -impostor
    return genuine, impostor


def _corner_points(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(K,) bool, the points of a polyline that are not inside a straight run."""
    keep = np.ones(x.size, dtype=bool)
    if x.size > 2:
        dx_before, dy_before = np.diff(x)[:-1], np.diff(y)[:-1]
        dx_after, dy_after = np.diff(x)[1:], np.diff(y)[1:]
        collinear = np.isclose(dx_before * dy_after - dy_before * dx_after, 0.0, atol=1e-15)
        keep[1:-1] = ~collinear
    return keep


def _listed(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
