import numpy as np
import pytest

from evaluation.classifiers import (
    nearest_neighbour_distances,
    score_gallery,
    subject_scores,
    svm_scores,
)


def _clusters(subjects=("s1", "s2", "s3"), per_subject=4, dimension=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = {s: 5.0 * rng.normal(size=dimension) for s in subjects}
    names = np.repeat(np.array(subjects), per_subject)
    points = np.stack([centres[s] + 0.1 * rng.normal(size=dimension) for s in names])
    return points, names


@pytest.mark.parametrize("subjects", [("s1", "s2", "s3"), ("s1", "s2")])
def test_svm_picks_the_right_subject_of_separable_clusters(subjects):
    gallery, gallery_subjects = _clusters(subjects)
    probes, probe_subjects = _clusters(subjects, per_subject=2, seed=0)
    scores = svm_scores(gallery, gallery_subjects, probes)
    assert scores.matrix.shape == (probes.shape[0], len(subjects))
    assert scores.subjects.tolist() == sorted(subjects)
    assert scores.higher_is_better
    assert scores.subjects[scores.matrix.argmax(axis=1)].tolist() == probe_subjects.tolist()


def test_svm_with_a_single_gallery_subject_scores_it_first():
    scores = svm_scores(np.ones((2, 3)), np.array(["only", "only"]), np.zeros((4, 3)))
    assert scores.matrix.shape == (4, 1) and scores.subjects.tolist() == ["only"]


def test_nearest_neighbour_takes_each_subjects_closest_sequence():
    gallery = np.array([[0.0], [10.0], [3.0]])
    scores = nearest_neighbour_distances(gallery, np.array(["a", "b", "a"]), np.array([[4.0]]))
    assert scores.subjects.tolist() == ["a", "b"]
    np.testing.assert_allclose(scores.matrix, [[1.0, 6.0]])
    assert not scores.higher_is_better


def test_nearest_neighbour_cosine_ignores_length():
    gallery = np.array([[1.0, 0.0], [0.0, 1.0]])
    scores = nearest_neighbour_distances(
        gallery, np.array(["x", "y"]), np.array([[5.0, 0.0]]), metric="cosine"
    )
    np.testing.assert_allclose(scores.matrix, [[0.0, 1.0]], atol=1e-12)


def test_score_gallery_ranks_sequences_for_nn_and_subjects_for_svm():
    gallery = np.array([[0.0], [10.0], [3.0]])
    names = np.array(["a", "b", "a"])
    nn = score_gallery("nn", gallery, names, np.array([[4.0]]))
    np.testing.assert_allclose(nn.by_entry, [[4.0, 6.0, 1.0]])  # one column per sequence
    assert nn.entry_subjects.tolist() == ["a", "b", "a"]
    np.testing.assert_allclose(nn.by_subject.matrix, [[1.0, 6.0]])
    assert not nn.higher_is_better
    svm = score_gallery("svm", gallery, names, np.array([[4.0]]))
    assert svm.by_entry.shape == (1, 2) and svm.entry_subjects.tolist() == ["a", "b"]
    assert svm.higher_is_better
    with pytest.raises(ValueError, match="classifier must be"):
        score_gallery("knn", gallery, names, np.array([[4.0]]))


def test_subject_scores_dispatches():
    gallery, names = _clusters()
    assert subject_scores("svm", gallery, names, gallery[:2]).higher_is_better
    assert not subject_scores("nn", gallery, names, gallery[:2]).higher_is_better


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: svm_scores(np.zeros((0, 3)), np.array([], dtype=str), np.zeros((1, 3))), "gallery must be"),
        (lambda: svm_scores(np.zeros((2, 3)), np.array(["a", "b"]), np.zeros((0, 3))), "probes must be"),
        (lambda: svm_scores(np.zeros((2, 3)), np.array(["a", "b"]), np.zeros((1, 4))), "D = 4"),
        (lambda: svm_scores(np.zeros((2, 3)), np.array(["a"]), np.zeros((1, 3))), "gallery_subjects shape"),
        (lambda: nearest_neighbour_distances(np.full((2, 3), np.nan), np.array(["a", "b"]), np.zeros((1, 3))), "NaN"),
        (lambda: nearest_neighbour_distances(np.zeros((2, 3)), np.array(["a", "b"]), np.zeros((1, 3)), metric="manhattan"), "metric"),
        (lambda: subject_scores("knn", np.zeros((2, 3)), np.array(["a", "b"]), np.zeros((1, 3))), "classifier must be"),
    ],
)
def test_classifier_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
