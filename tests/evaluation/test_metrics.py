import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from evaluation.metrics import (
    average_precisions,
    cmc_curve,
    cmc_from_ranks,
    equal_error_rate,
    genuine_impostor_scores,
    match_ranks,
    mean_average_precision,
    mean_reciprocal_rank,
    rank_k_accuracy,
    roc_curve,
)

GALLERY = np.array(["a", "b", "c"])


def test_match_ranks_of_scores_and_of_distances():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.9], [0.1, 0.2, 0.3]])
    probes = np.array(["a", "b", "a"])
    assert match_ranks(scores, probes, GALLERY, higher_is_better=True).tolist() == [1, 2, 3]
    # The same numbers read as distances reverse every row's order.
    assert match_ranks(scores, probes, GALLERY, higher_is_better=False).tolist() == [3, 2, 1]


def test_ties_count_against_the_probe():
    constant = np.zeros((2, 3))
    ranks = match_ranks(constant, np.array(["a", "c"]), GALLERY, higher_is_better=True)
    assert ranks.tolist() == [3, 3]


def test_several_gallery_entries_per_identity_use_the_best():
    scores = np.array([[0.1, 0.5, 0.9, 0.7]])
    ranks = match_ranks(scores, np.array(["a"]), np.array(["a", "b", "a", "b"]), higher_is_better=True)
    assert ranks.tolist() == [1]


def test_cmc_and_rank_k_of_a_crafted_half_right_case():
    # Probe 0 and 2 are right at rank 1, probe 1 at rank 2, probe 3 at rank 3.
    scores = np.array(
        [[0.9, 0.1, 0.0], [0.5, 0.4, 0.0], [0.0, 0.1, 0.9], [0.9, 0.5, 0.1]]
    )
    probes = np.array(["a", "b", "c", "c"])
    assert rank_k_accuracy(scores, probes, GALLERY, 1, higher_is_better=True) == 0.5
    assert rank_k_accuracy(scores, probes, GALLERY, 2, higher_is_better=True) == 0.75
    np.testing.assert_allclose(
        cmc_curve(scores, probes, GALLERY, higher_is_better=True), [0.5, 0.75, 1.0]
    )
    np.testing.assert_allclose(
        cmc_curve(scores, probes, GALLERY, higher_is_better=True, max_rank=5),
        [0.5, 0.75, 1.0, 1.0, 1.0],
    )


def test_average_precision_with_one_and_with_several_relevant_entries():
    one_relevant = np.array([[0.9, 0.8, 0.7]])  # the right subject "c" ranks third
    np.testing.assert_allclose(
        average_precisions(one_relevant, np.array(["c"]), GALLERY, higher_is_better=True), [1 / 3]
    )
    # Ranked list: a (right), b (wrong), a (right) -> (1/1 + 2/3) / 2.
    two_relevant = np.array([[0.9, 0.8, 0.7]])
    ap = average_precisions(two_relevant, np.array(["a"]), np.array(["a", "b", "a"]), higher_is_better=True)
    np.testing.assert_allclose(ap, [(1 + 2 / 3) / 2])


def test_mean_average_precision_of_a_hand_computed_gallery():
    # Gallery of five sequences, distances from two probes.
    gallery = np.array(["x", "y", "x", "y", "x"])
    distances = np.array(
        [
            [0.1, 0.2, 0.3, 0.4, 0.5],  # probe x: ranked x y x y x -> (1/1 + 2/3 + 3/5) / 3
            [0.1, 0.5, 0.2, 0.3, 0.4],  # probe y: ranked x x y x y -> (1/3 + 2/5) / 2
        ]
    )
    probes = np.array(["x", "y"])
    ap_x = (1 + 2 / 3 + 3 / 5) / 3
    ap_y = (1 / 3 + 2 / 5) / 2
    np.testing.assert_allclose(
        average_precisions(distances, probes, gallery, higher_is_better=False), [ap_x, ap_y]
    )
    assert mean_average_precision(distances, probes, gallery, higher_is_better=False) == pytest.approx(
        (ap_x + ap_y) / 2
    )
    # Not the mean reciprocal rank: that only sees the first right entry (ranks 1 and 3).
    assert mean_reciprocal_rank(distances, probes, gallery, higher_is_better=False) == pytest.approx(
        (1 + 1 / 3) / 2
    )


def test_mean_average_precision_is_the_mean_of_the_per_probe_values_even_with_ties():
    rng = np.random.default_rng(3)
    gallery = np.array(list("aabbbcd"))
    probes = np.array(list("abcdabcd"))
    scores = rng.integers(0, 3, size=(probes.size, gallery.size)).astype(float)  # many ties
    per_probe = average_precisions(scores, probes, gallery, higher_is_better=True)
    assert mean_average_precision(scores, probes, gallery, higher_is_better=True) == pytest.approx(
        per_probe.mean()
    )


def test_mean_average_precision_of_perfect_and_of_constant_scores():
    identity = np.eye(3)
    assert mean_average_precision(identity, GALLERY, GALLERY, higher_is_better=True) == 1.0
    # Constant scores: ties go against the probe, so its single match is last.
    assert mean_average_precision(np.zeros((3, 3)), GALLERY, GALLERY, higher_is_better=True) == pytest.approx(1 / 3)


def test_mean_reciprocal_rank_of_known_ranks():
    # Ranks 1, 2, 3 (see test_match_ranks_of_scores_and_of_distances).
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.9], [0.1, 0.2, 0.3]])
    probes = np.array(["a", "b", "a"])
    assert mean_reciprocal_rank(scores, probes, GALLERY, higher_is_better=True) == pytest.approx(
        (1 + 1 / 2 + 1 / 3) / 3
    )


def test_genuine_impostor_split():
    scores = np.arange(6.0).reshape(2, 3)
    genuine, impostor = genuine_impostor_scores(scores, np.array(["a", "c"]), GALLERY)
    assert genuine.tolist() == [0.0, 5.0]
    assert sorted(impostor.tolist()) == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("genuine", "impostor", "eer"),
    [
        ([0.9, 0.8], [0.1, 0.2], 0.0),  # separable
        ([0.9, 0.7, 0.5, 0.3], [0.6, 0.4, 0.2, 0.1], 0.25),  # one of four on the wrong side each
        ([0.5, 0.5], [0.5, 0.5], 0.5),  # indistinguishable
        ([0.1, 0.2], [0.8, 0.9], 1.0),  # perfectly inverted
    ],
)
def test_equal_error_rate_of_known_score_sets(genuine, impostor, eer):
    assert equal_error_rate(genuine, impostor) == pytest.approx(eer)
    # Negated scores read as distances give the same EER.
    assert equal_error_rate(-np.array(genuine), -np.array(impostor), higher_is_better=False) == pytest.approx(eer)


def test_roc_runs_from_nothing_to_everything_and_matches_sklearn_auc():
    rng = np.random.default_rng(0)
    genuine = rng.normal(1.0, 1.0, 200).round(1)  # rounded: plenty of ties
    impostor = rng.normal(0.0, 1.0, 300).round(1)
    roc = roc_curve(genuine, impostor)
    assert (roc.false_accept_rate[0], roc.true_accept_rate[0]) == (0.0, 0.0)
    assert (roc.false_accept_rate[-1], roc.true_accept_rate[-1]) == (1.0, 1.0)
    assert np.all(np.diff(roc.false_accept_rate) >= 0) and np.all(np.diff(roc.true_accept_rate) >= 0)
    assert np.isinf(roc.thresholds[0]) and np.all(np.diff(roc.thresholds) < 0)
    auc = np.trapezoid(roc.true_accept_rate, roc.false_accept_rate)
    expected = roc_auc_score(np.r_[np.ones(200), np.zeros(300)], np.r_[genuine, impostor])
    assert auc == pytest.approx(expected)


def test_cmc_from_ranks():
    np.testing.assert_allclose(cmc_from_ranks(np.array([1, 3, 2, 1]), 3), [0.5, 0.75, 1.0])


@pytest.mark.parametrize(
    ("scores", "probes", "gallery", "message"),
    [
        (np.zeros((0, 3)), np.array([], dtype=str), GALLERY, "no probes"),
        (np.zeros((2, 0)), np.array(["a", "b"]), np.array([], dtype=str), "no gallery"),
        (np.zeros(3), np.array(["a"]), GALLERY, r"\(P, G\) matrix"),
        (np.zeros((2, 3)), np.array(["a"]), GALLERY, "probe_ids shape"),
        (np.zeros((1, 3)), np.array(["a"]), GALLERY[:2], "gallery_ids shape"),
        (np.array([[np.nan, 0, 0]]), np.array(["a"]), GALLERY, "NaN"),
        (np.zeros((2, 3)), np.array(["a", "z"]), GALLERY, "identities z"),
    ],
)
def test_matrix_errors(scores, probes, gallery, message):
    with pytest.raises(ValueError, match=message):
        match_ranks(scores, probes, gallery, higher_is_better=True)
    with pytest.raises(ValueError, match=message):
        mean_average_precision(scores, probes, gallery, higher_is_better=True)
    with pytest.raises(ValueError, match=message):
        mean_reciprocal_rank(scores, probes, gallery, higher_is_better=True)


def test_rank_and_curve_argument_errors():
    with pytest.raises(ValueError, match="k must be at least 1"):
        rank_k_accuracy(np.eye(3), GALLERY, GALLERY, 0, higher_is_better=True)
    with pytest.raises(ValueError, match="max_rank"):
        cmc_from_ranks(np.array([1]), 0)
    with pytest.raises(ValueError, match="non-empty"):
        cmc_from_ranks(np.array([], dtype=int), 3)
    with pytest.raises(ValueError, match="1-based"):
        cmc_from_ranks(np.array([0]), 3)


def test_roc_errors():
    with pytest.raises(ValueError, match="no genuine"):
        equal_error_rate([], [0.1])
    with pytest.raises(ValueError, match="no impostor"):
        roc_curve([0.1], [])
    with pytest.raises(ValueError, match="NaN"):
        roc_curve([np.nan], [0.1])
