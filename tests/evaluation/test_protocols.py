import numpy as np
import pytest

from evaluation.protocols import evaluate
from tests.evaluation.synthetic import (
    CASIA_WALKS,
    build,
    casia_rows,
    separable,
    tum_rows,
    view_swapping,
)

SUBJECTS = ("075", "076", "077")
THREE_VIEWS = (0, 90, 180)


@pytest.mark.parametrize("classifier", ["svm", "nn"])
def test_casia_b_separable_descriptors_score_perfectly(classifier):
    descriptors, labels = build(casia_rows(SUBJECTS, views=THREE_VIEWS))
    report = evaluate(descriptors, labels, "casia-b", classifier=classifier)
    assert list(report.standard_rank1) == ["nm", "bg", "cl"]
    for condition in ("nm", "bg", "cl"):
        assert report.standard_rank1_by_view[condition] == {0: 1.0, 90: 1.0, 180: 1.0}
        assert report.standard_rank1[condition] == 1.0
        assert report.pooled_rank1[condition] == 1.0
        assert report.chance[condition] == pytest.approx(1 / 3)
        matrix = report.cross_view[condition]
        assert matrix.gallery_views == THREE_VIEWS and matrix.probe_views == THREE_VIEWS
        assert np.all(matrix.rank1 == 1.0)
    assert report.standard_rank1_average == {"all": 1.0}
    np.testing.assert_array_equal(report.cmc, [1.0, 1.0, 1.0])
    assert report.mean_average_precision == 1.0
    assert report.mean_reciprocal_rank == 1.0
    assert report.equal_error_rate == 0.0
    assert report.absent_conditions == ()
    assert report.probe_counts == {"nm": 18, "bg": 18, "cl": 18}
    assert report.counts["gallery_sequences"] == 3 * 4 * 3
    assert report.counts["probe_sequences"] == 54
    # Each probe meets the single-view galleries of the two other views.
    assert report.counts["queries"] == 54 * 2


@pytest.mark.parametrize("classifier", ["svm", "nn"])
def test_casia_b_standard_protocol_uses_one_gallery_view_at_a_time(classifier):
    # See `view_swapping`: the standard answer is 1/3, the pooled one 2/3.
    descriptors, labels = build(casia_rows(SUBJECTS, views=THREE_VIEWS), view_swapping)
    report = evaluate(descriptors, labels, "casia-b", classifier=classifier)
    for condition in ("nm", "bg", "cl"):
        np.testing.assert_array_equal(
            report.cross_view[condition].rank1, [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
        )
        assert report.standard_rank1_by_view[condition] == {0: 0.5, 90: 0.5, 180: 0.0}
        assert report.standard_rank1[condition] == pytest.approx(1 / 3)
        assert report.chance[condition] == pytest.approx(1 / 3)
    assert report.standard_rank1_average["all"] == pytest.approx(1 / 3)
    # Whole probe set: of each probe's two other-view galleries, only 0 <-> 90 answer right.
    assert report.cmc_at(1) == pytest.approx(1 / 3)
    assert report.chance_cmc_rank1 == pytest.approx(1 / 3)


def test_casia_b_pooled_gallery_is_kept_as_the_secondary_figure():
    descriptors, labels = build(casia_rows(SUBJECTS, views=THREE_VIEWS), view_swapping)
    report = evaluate(descriptors, labels, "casia-b", classifier="nn")
    for condition in ("nm", "bg", "cl"):
        assert report.pooled_rank1_by_view[condition] == {0: 1.0, 90: 1.0, 180: 0.0}
        assert report.pooled_rank1[condition] == pytest.approx(2 / 3)
        assert report.pooled_chance[condition] == pytest.approx(1 / 3)
        assert report.pooled_rank1[condition] > report.standard_rank1[condition]


def test_casia_b_crafted_half_right_condition():
    # Every subject's bg-02 walk looks like the next subject; bg-01 is right.
    def descriptor(subject, condition, index, view, session):
        if condition == "bg" and index == 2:
            return separable(75 + (subject - 75 + 1) % 3, "nm", 1, view, session)
        return separable(subject, condition, index, view, session)

    descriptors, labels = build(casia_rows(SUBJECTS), descriptor)
    report = evaluate(descriptors, labels, "casia-b", classifier="nn")
    assert report.standard_rank1_by_view["bg"] == {0: 0.5, 90: 0.5}
    assert report.standard_rank1 == {"nm": 1.0, "bg": 0.5, "cl": 1.0}
    assert report.standard_rank1_average["all"] == pytest.approx(2.5 / 3)
    # 12 probes per condition, one other-view gallery each; 6 of the 36 queries are wrong.
    assert report.cmc_at(1) == pytest.approx(30 / 36)
    assert report.cmc_at(5) == 1.0


def test_casia_b_excludes_the_probes_own_view_from_the_gallery():
    # Same view: every walk matches its own subject exactly. Across views the subjects swap,
    # so only a gallery that still holds the probe's view gets anything right.
    layout = {(75, 0): [0.0, 0.0], (76, 0): [10.0, 0.0], (75, 90): [10.0, 0.1], (76, 90): [0.0, 0.5]}

    def descriptor(subject, condition, index, view, session):
        return np.array(layout[subject, view])

    descriptors, labels = build(casia_rows(("075", "076"), views=(0, 90)), descriptor)
    report = evaluate(descriptors, labels, "casia-b", classifier="nn")
    assert report.standard_rank1_by_view["nm"] == {0: 0.0, 90: 0.0}
    assert report.pooled_rank1_by_view["nm"] == {0: 0.0, 90: 0.0}
    assert report.cmc_at(1) == 0.0
    for condition in ("nm", "bg", "cl"):
        np.testing.assert_array_equal(report.cross_view[condition].rank1, [[1.0, 0.0], [0.0, 1.0]])


def test_casia_b_leaves_out_training_subjects():
    descriptors, labels = build(casia_rows(("001", "002") + SUBJECTS))
    report = evaluate(descriptors, labels, "casia-b", classifier="nn", train_subjects={"001", "002"})
    assert report.evaluated_subjects == SUBJECTS
    assert report.counts["excluded_train_subjects"] == 2
    assert report.counts["evaluated_subjects"] == 3
    assert report.cmc.size == 3
    assert report.chance["nm"] == pytest.approx(1 / 3)


def test_casia_b_absent_conditions_are_reported_not_raised():
    walks = (("nm", (1, 2, 3, 4, 5, 6)),)
    descriptors, labels = build(casia_rows(SUBJECTS, walks=walks))
    report = evaluate(descriptors, labels, "casia-b", classifier="nn")
    assert list(report.standard_rank1) == ["nm"]
    assert report.absent_conditions == ("bg", "cl")
    assert list(report.cross_view) == ["nm"]


def test_casia_b_leaves_out_probes_without_a_gallery_walk_at_that_view():
    # Subject 077 has no gallery walk at view 90: the view-90 gallery holds 2 identities and
    # cannot score 077, whose probes still count against the other views' galleries.
    rows = [
        r for r in casia_rows(SUBJECTS, views=THREE_VIEWS)
        if not (r[0] == "077" and r[1] == "nm" and r[2] <= 4 and r[3] == 90)
    ]
    descriptors, labels = build(rows)
    report = evaluate(descriptors, labels, "casia-b", classifier="nn")
    assert report.standard_rank1 == {"nm": 1.0, "bg": 1.0, "cl": 1.0}
    assert np.all(report.cross_view["nm"].rank1 == 1.0)
    # 077's 2 probe walks per condition x 3 conditions x probe views 0 and 180 (view 90 is
    # the identical view, not in the standard table) against gallery view 90.
    assert report.counts["unscored_probe_gallery_view_pairs"] == 2 * 3 * 2
    # Chance per probe view: mean of 1/identities over the other gallery views.
    # p=0: (1/2 + 1/3) / 2; p=90: (1/3 + 1/3) / 2; p=180: (1/3 + 1/2) / 2.
    assert report.chance["nm"] == pytest.approx((5 / 12 + 1 / 3 + 5 / 12) / 3)


@pytest.mark.parametrize("classifier", ["svm", "nn"])
def test_tum_gaid_both_experiments(classifier):
    descriptors, labels = build(tum_rows(("p151", "p152", "p153", "p154"), ("p151", "p152")))
    report = evaluate(descriptors, labels, "tum-gaid", classifier=classifier)
    assert list(report.standard_rank1) == ["n", "b", "s", "tn", "tb", "ts"]
    assert all(by_view == {90: 1.0} for by_view in report.standard_rank1_by_view.values())
    assert report.standard_rank1_average == {"session-1": 1.0, "time-elapsed": 1.0}
    assert report.cross_view == {} and report.pooled_rank1 == {} and report.pooled_rank1_by_view == {}
    # Session 1 ranks among 4 identities; time-elapsed only among the 2 with session 2.
    assert report.chance == {"n": 0.25, "b": 0.25, "s": 0.25, "tn": 0.5, "tb": 0.5, "ts": 0.5}
    assert report.chance_cmc_rank1 == pytest.approx((24 * 0.25 + 12 * 0.5) / 36)
    assert report.probe_counts == {"n": 8, "b": 8, "s": 8, "tn": 4, "tb": 4, "ts": 4}
    assert report.counts["probe_sequences"] == 36 == report.counts["queries"]
    assert report.cmc.size == 4


def test_tum_gaid_mean_average_precision_ranks_gallery_sequences():
    # One-dimensional descriptors. p151's gallery walks n-01..04 lie at 0.0, 0.1, 5.0, 5.1 and
    # p152's at 2.0..2.3; every p151 probe lies at 0.0, every p152 probe at 2.15.
    # p151 probe, ranked gallery: R R W W W W R R -> AP = (1/1 + 2/2 + 3/7 + 4/8) / 4 = 41/56.
    # p152 probe: its own four walks come first -> AP = 1.
    # Both find their subject first, so the mean reciprocal rank is 1: mAP is not MRR.
    p151_gallery = {1: 0.0, 2: 0.1, 3: 5.0, 4: 5.1}

    def descriptor(subject, condition, index, view, session):
        gallery_walk = condition == "n" and index <= 4
        if subject == 151:
            return np.array([p151_gallery[index] if gallery_walk else 0.0])
        return np.array([2.0 + 0.1 * (index - 1) if gallery_walk else 2.15])

    descriptors, labels = build(tum_rows(("p151", "p152")), descriptor)
    report = evaluate(descriptors, labels, "tum-gaid", classifier="nn")
    assert report.mean_average_precision == pytest.approx((41 / 56 + 1) / 2)
    assert report.mean_reciprocal_rank == 1.0
    assert report.cmc_at(1) == 1.0
    # The SVM ranks subjects, one entry each: its AP is the reciprocal rank.
    svm = evaluate(descriptors, labels, "tum-gaid", classifier="svm")
    assert svm.mean_average_precision == pytest.approx(svm.mean_reciprocal_rank)


def test_tum_gaid_time_elapsed_gallery_holds_only_subjects_with_session_2():
    # Session-2 walks of p151 look like p153, who has no session 2: a full gallery would
    # mistake them, the time-elapsed gallery (p151, p152 only) cannot.
    def descriptor(subject, condition, index, view, session):
        if session == 2 and subject == 151:
            return separable(153, condition, index, view, 1) + 0.4 * separable(151, "n", 1, view, 1)
        return separable(subject, condition, index, view, session)

    descriptors, labels = build(tum_rows(("p151", "p152", "p153"), ("p151", "p152")), descriptor)
    report = evaluate(descriptors, labels, "tum-gaid", classifier="nn")
    assert report.standard_rank1["tn"] == 1.0
    assert report.standard_rank1_average["time-elapsed"] == 1.0
    assert report.chance["tn"] == 0.5 and report.chance["n"] == pytest.approx(1 / 3)


def test_tum_gaid_without_session_2_reports_time_elapsed_absent():
    descriptors, labels = build(tum_rows(("p151", "p152")))
    report = evaluate(descriptors, labels, "tum-gaid", classifier="nn")
    assert report.absent_conditions == ("tn", "tb", "ts")
    assert report.standard_rank1_average == {"session-1": 1.0}


def _casia(subjects=SUBJECTS, views=(0, 90), walks=CASIA_WALKS):
    return build(casia_rows(subjects, views=views, walks=walks))


def test_error_view_without_gallery_sequences_names_the_view():
    rows = [r for r in casia_rows(SUBJECTS, views=THREE_VIEWS)
            if not (r[1] == "nm" and r[2] <= 4 and r[3] == 180)]
    descriptors, labels = build(rows)
    with pytest.raises(ValueError, match=r"casia-b: no gallery sequence \(nm-01..04\) at view 180°"):
        evaluate(descriptors, labels, "casia-b", classifier="nn")


def test_error_views_without_gallery_sequences_are_all_named():
    rows = [r for r in casia_rows(SUBJECTS, views=(0, 54, 90, 180))
            if not (r[1] == "nm" and r[2] <= 4 and r[3] in (54, 180))]
    descriptors, labels = build(rows)
    with pytest.raises(ValueError, match=r"at views 54°, 180°"):
        evaluate(descriptors, labels, "casia-b", classifier="svm")


def test_error_empty_gallery():
    descriptors, labels = _casia(walks=(("bg", (1, 2)),))
    with pytest.raises(ValueError, match=r"casia-b: the gallery \(nm-01..04\) is empty"):
        evaluate(descriptors, labels, "casia-b")


def test_error_single_subject_gallery():
    descriptors, labels = _casia(subjects=("075",))
    with pytest.raises(ValueError, match="only subject 075"):
        evaluate(descriptors, labels, "casia-b")


def test_error_probe_subject_without_gallery_names_the_subjects():
    rows = casia_rows(SUBJECTS) + [(s, "cl", 1, 0, 1) for s in ("090", "091")]
    descriptors, labels = build(rows)
    with pytest.raises(ValueError, match=r"casia-b: gallery .* probe subjects 090, 091 .*condition cl"):
        evaluate(descriptors, labels, "casia-b", classifier="nn")


def test_error_tum_time_elapsed_probe_subject_without_gallery():
    rows = tum_rows(("p151", "p152"), ("p151",)) + [("p160", "b", 1, 90, 2)]
    descriptors, labels = build(rows)
    with pytest.raises(ValueError, match="tum-gaid time-elapsed: gallery .* probe subjects p160"):
        evaluate(descriptors, labels, "tum-gaid", classifier="nn")


def test_error_no_probes():
    descriptors, labels = _casia(walks=(("nm", (1, 2, 3, 4)),))
    with pytest.raises(ValueError, match="casia-b: no probe sequences.*bg \\(bg-01..02\\)"):
        evaluate(descriptors, labels, "casia-b")


def test_error_single_view_cannot_exclude_the_identical_view():
    descriptors, labels = _casia(views=(90,))
    with pytest.raises(ValueError, match="no gallery sequence outside probe view 90"):
        evaluate(descriptors, labels, "casia-b", classifier="nn")


def test_error_probe_subject_only_in_the_excluded_view():
    rows = [r for r in casia_rows(SUBJECTS) if not (r[0] == "077" and r[1] == "nm" and r[2] <= 4 and r[3] == 0)]
    descriptors, labels = build(rows)
    with pytest.raises(ValueError, match="without view 90° for the probes at view 90° .* probe subjects 077"):
        evaluate(descriptors, labels, "casia-b", classifier="nn")


def test_error_no_test_subject_left():
    descriptors, labels = _casia()
    with pytest.raises(ValueError, match="all 3 subjects are training subjects; no test subject is left"):
        evaluate(descriptors, labels, "casia-b", train_subjects=SUBJECTS)


def test_error_train_subjects_given_as_a_string():
    descriptors, labels = _casia()
    with pytest.raises(TypeError, match="split_subjects"):
        evaluate(descriptors, labels, "casia-b", train_subjects="074")


@pytest.mark.parametrize(
    ("mutate", "kwargs", "message"),
    [
        (lambda d: d[:-1], {}, "pair up"),
        (lambda d: d[:, 0], {}, r"\(N, D\)"),
        (lambda d: np.where(np.arange(d.shape[0])[:, None] == 0, np.nan, d), {}, "1 descriptors contain NaN"),
        (lambda d: d, {"protocol": "oumvlp"}, "protocol must be"),
        (lambda d: d, {"classifier": "knn"}, "classifier must be"),
    ],
)
def test_error_bad_arguments(mutate, kwargs, message):
    descriptors, labels = _casia()
    arguments = {"protocol": "casia-b"} | kwargs
    with pytest.raises(ValueError, match=message):
        evaluate(mutate(descriptors), labels, arguments.pop("protocol"), **arguments)
