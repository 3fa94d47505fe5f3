"""Open-set threshold from the verification ROC at a stated false-accept rate."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.classifiers import SubjectScores
from evaluation.open_set import (
    UNKNOWN, OpenSetAnswer, calibrated_threshold, gallery_threshold, identify, identify_probes, leave_out_scores,
    min_stranger_walks, open_set_rates, stranger_scores, threshold_at_far,
)


def test_threshold_accepts_at_most_the_stated_share_of_impostors():
    impostor = np.arange(100, dtype=float)  # similarities 0..99
    genuine = np.array([50.0, 98.5, 99.5, 120.0])
    result = threshold_at_far(genuine, impostor, 0.05, higher_is_better=True)
    assert result.far == pytest.approx(0.05) and 94 < result.threshold <= 95
    assert result.tar == pytest.approx(0.75) and result.impostors == 100 and result.genuine == 4
    strict = threshold_at_far(genuine, impostor, 0.0, higher_is_better=True)
    assert strict.far == 0.0 and strict.threshold > 99 and strict.tar == pytest.approx(0.5)


def test_distances_are_thresholded_from_below_and_ties_never_exceed_the_rate():
    impostor = np.array([1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    result = threshold_at_far([0.5, 1.5], impostor, 0.2, higher_is_better=False)
    assert result.far <= 0.2 and result.accepts(np.array([0.5]))[0]
    assert not result.accepts(np.array([1.0]))[0]  # three tied impostors at 1.0 would be 30 %
    assert result.tar == pytest.approx(0.5)


def test_threshold_refuses_bad_input():
    with pytest.raises(ValueError, match="two people"):
        threshold_at_far([1.0], [], 0.01, higher_is_better=True)
    with pytest.raises(ValueError, match="far"):
        threshold_at_far([1.0], [0.0], 1.0, higher_is_better=True)


def _clusters(people=5, walks=4, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 8))
    vectors = np.concatenate([c + spread * rng.normal(size=(walks, 8)) for c in centres])
    return vectors, np.repeat([f"p{i}" for i in range(people)], walks), centres


def test_gallery_leave_out_scores_separate_known_from_unknown_people():
    vectors, subjects, _ = _clusters()
    genuine, impostor = leave_out_scores(vectors, subjects)
    assert len(genuine) == len(impostor) == len(vectors) and genuine.max() < impostor.min()
    threshold = gallery_threshold(vectors, subjects, 0.01)
    assert threshold.far == 0.0 and threshold.tar == 1.0 and not threshold.higher_is_better
    with pytest.raises(ValueError, match="two people"):
        gallery_threshold(vectors[:4], subjects[:4])


def test_identify_names_known_probes_and_calls_strangers_unknown():
    vectors, subjects, centres = _clusters()
    threshold = gallery_threshold(vectors, subjects, 0.01)
    rng = np.random.default_rng(1)
    known = centres[[0, 3]] + 0.05 * rng.normal(size=(2, 8))
    stranger = rng.normal(size=(1, 8)) * 3
    probes = np.concatenate([known, stranger])
    distances = np.linalg.norm(probes[:, None] - vectors[None], axis=-1)
    people = np.unique(subjects)
    per_person = np.stack([distances[:, subjects == p].min(axis=1) for p in people], axis=1)
    answer = identify(SubjectScores(per_person, people, higher_is_better=False), threshold)
    assert answer.identity.tolist() == ["p0", "p3", UNKNOWN]
    assert answer.best.shape == answer.score.shape == (3,)
    for classifier in ("nn", "svm"):
        answer = identify_probes(classifier, vectors, subjects, probes, threshold)
        assert answer.identity.tolist() == ["p0", "p3", UNKNOWN], classifier
        assert np.allclose(answer.score, per_person.min(axis=1))


def test_open_set_rates_count_strangers_named_and_known_people_named_right():
    best = np.array(["a", "b", "a", "b", "a", "b"])
    named = np.array([True, False, True, True, False, True])
    answer = OpenSetAnswer(best, np.zeros(6), np.where(named, best, UNKNOWN))
    truth = np.array(["a", "b", "b", "x", "y", "y"])  # x and y were never enrolled
    rates = open_set_rates(answer, truth, np.array(["a", "b"]))
    # known probes 0-2: 0 named right, 1 unknown, 2 named a (wrong); best right for 0 and 1
    assert rates.detection_identification_rate == pytest.approx(1 / 3)
    assert rates.rank1 == pytest.approx(2 / 3)
    # strangers 3-5: 3 named b, 4 unknown, 5 named b
    assert rates.false_accept_rate == pytest.approx(2 / 3)
    assert (rates.genuine_probes, rates.impostor_probes) == (3, 3)
    with pytest.raises(ValueError, match="2 probe subjects for 6 answers"):
        open_set_rates(answer, truth[:2], np.array(["a"]))
    assert np.isnan(open_set_rates(answer, np.array(["a"] * 6), np.array(["a"])).false_accept_rate)


def test_strangers_set_the_threshold_when_there_are_enough_of_them():
    vectors, subjects, centres = _clusters(people=3, walks=4, spread=0.05)
    rng = np.random.default_rng(2)
    # Strangers walk close to the gallery's people: half of them nearer than any gallery person
    # is to another, so the gallery's own attempts would set a far more lenient threshold.
    near = centres[rng.integers(0, 3, 100)] + 0.3 * rng.normal(size=(100, 8))
    people = np.array([f"s{i % 10}" for i in range(100)])
    own = calibrated_threshold(vectors, subjects, 0.05, near[:10], people[:10])  # too few for 5 %: 20 needed
    assert own.calibration == "gallery" and own.impostors == len(vectors)
    assert own == gallery_threshold(vectors, subjects, 0.05)
    few_people = calibrated_threshold(vectors, subjects, 0.05, near, np.array([f"s{i % 4}" for i in range(100)]))
    assert few_people == own  # 100 walks, but of 4 people: MIN_STRANGER_PEOPLE is 5
    with pytest.raises(ValueError, match="subjects"):
        calibrated_threshold(vectors, subjects, 0.05, near)
    calibrated = calibrated_threshold(vectors, subjects, 0.05, near, people)
    assert calibrated.calibration == "strangers" and calibrated.impostors == 100 and calibrated.far <= 0.05
    assert calibrated.threshold < own.threshold
    assert calibrated.accepts(stranger_scores(vectors, near)).mean() <= 0.05
    assert own.accepts(stranger_scores(vectors, near)).mean() > 0.05
    assert calibrated.tar == 1.0  # the gallery's own walks still pass
    with pytest.raises(ValueError, match="do not match"):
        stranger_scores(vectors, near[:, :4])


def test_stranger_walks_needed_resolve_the_rate():
    assert min_stranger_walks(0.01) == 100 and min_stranger_walks(0.05) == 20 and min_stranger_walks(0.5) == 10
