"""The accuracy and synth_walker benchmarks read `gaitflow.protocol_report/2` reports into the
figure names the README declares.

Nothing here runs a benchmark: tiny descriptor sets are scored by the real
`evaluation.protocols.evaluate`, and the benchmarks' own figure functions name the results. The
README rows are then rendered from the committed results with those figures added: a row that
read "not measured" would name a key or target the benchmark does not write.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from benchmarks import accuracy, harness, readme, synth_walker
from evaluation.labels import SequenceLabels
from evaluation.protocols import evaluate

CASIA_VIEWS = (36, 90, 144)
CASIA_WALKS = (("nm", 6), ("bg", 2), ("cl", 2))
TUM_WALKS = (("n", 6), ("b", 2), ("s", 2))
DIFFICULTY_TAGS = ("difficulty_0p5", "difficulty_1", "difficulty_1p5", "difficulty_2")


def _descriptors(records: list[dict], seed: int) -> tuple[np.ndarray, SequenceLabels]:
    """One far-apart direction per subject plus noise: clearly better than chance, not perfect."""
    rng = np.random.default_rng(seed)
    subjects = sorted({r["subject"] for r in records})
    centre = {s: 3.0 * rng.standard_normal(8) for s in subjects}
    vectors = np.stack([centre[r["subject"]] + rng.standard_normal(8) for r in records])
    return vectors, SequenceLabels.from_records(records)


@pytest.fixture(scope="module")
def casia() -> dict[str, dict]:
    records = [dict(subject=f"{s:03d}", condition=c, index=i, view=v, session=1)
               for s in range(1, 9) for c, walks in CASIA_WALKS for i in range(1, walks + 1) for v in CASIA_VIEWS]
    vectors, labels = _descriptors(records, 7)
    train = [f"{s:03d}" for s in range(1, 5)]
    return {name: evaluate(vectors, labels, "casia-b", classifier=name, train_subjects=train).to_dict()
            for name in ("nn", "svm")}


@pytest.fixture(scope="module")
def tum() -> dict[str, dict]:
    records = [dict(subject=f"p{s:03d}", condition=c, index=i, view=90, session=1)
               for s in range(1, 9) for c, walks in TUM_WALKS for i in range(1, walks + 1)]
    records += [dict(subject=f"p{s:03d}", condition=c, index=i, view=90, session=2)
                for s in range(1, 4) for c, _ in TUM_WALKS for i in (1, 2)]
    vectors, labels = _descriptors(records, 8)
    train = [f"p{s:03d}" for s in range(5, 9)]  # p001-p003, who have session 2, are tested
    return {name: evaluate(vectors, labels, "tum-gaid", classifier=name, train_subjects=train).to_dict()
            for name in ("nn", "svm")}


def _experiment_figures(tag: str, protocol: str, reports: dict[str, dict]) -> dict:
    """What `accuracy._experiment` adds for one experiment, the baselines scored like the learned nn."""
    figures: dict = {}
    for kind, report in (("learned_nn", reports["nn"]), ("learned_svm", reports["svm"]),
                         ("pred", reports["nn"]), ("gt", reports["nn"])):
        accuracy.merge_figures(figures, accuracy.report_figures(tag, kind, report))
    figures.update(accuracy._minus_pred(tag, protocol, figures))
    return figures


@pytest.fixture(scope="module")
def accuracy_figures(casia, tum) -> dict:
    figures = _experiment_figures("casia", "casia-b", casia)
    figures.update(_experiment_figures("tum", "tum-gaid", tum))
    for tag in DIFFICULTY_TAGS:
        accuracy.merge_figures(figures, accuracy.report_figures(tag, "gt", casia["nn"]))
    figures.update(accuracy._identity_retained(figures))
    quality = _pose_quality_dict()
    figures.update(accuracy._pose_figures("pose", quality))
    figures.update(accuracy._pose_figures("pose_style_shift", quality))
    return figures


def _pose_quality_dict() -> dict:
    """A real `evaluation.pose_quality` dict: a walking stick figure and a noisy estimate of it."""
    from evaluation.pose_quality import pose_quality

    rng = np.random.default_rng(0)
    frames = 12
    truth = np.zeros((frames, 16, 2))
    truth[:, :, 1] = np.linspace(100, 0, 16)[None, :]  # ankles low, head top high
    truth[:, :, 0] = 50 + 5 * np.sin(np.arange(frames))[:, None] * np.linspace(1, 0, 16)[None, :]
    truth[:, 9, 1] = 0.0
    truth[:, (0, 5), 1] = 100.0
    predicted = truth + rng.normal(0, 2, truth.shape)
    return pose_quality(predicted, truth, np.ones((frames, 16), bool)).to_dict()


# ----------------------------------------------------------------------------------- accuracy


def test_accuracy_writes_the_standard_pooled_and_chance_figures_under_their_names(casia, accuracy_figures):
    figures = accuracy_figures
    for kind in ("learned_svm", "learned_nn", "gt", "pred"):
        for condition in ("nm", "bg", "cl"):
            assert figures[f"casia_std_{kind}_rank1_{condition}"] == pytest.approx(
                casia["svm" if kind == "learned_svm" else "nn"]["standard_rank1"][condition], abs=5e-5)
            assert figures[f"casia_pooled_{kind}_rank1_{condition}"] == pytest.approx(
                casia["svm" if kind == "learned_svm" else "nn"]["pooled_rank1"][condition], abs=5e-5)
            for view in CASIA_VIEWS:
                assert f"casia_std_{kind}_rank1_{condition}_{view:03d}" in figures
                assert f"casia_pooled_{kind}_rank1_{condition}_{view:03d}" in figures
        assert f"casia_std_{kind}_rank1_average_all" in figures
        for name in ("cmc_rank1", "cmc_rank5", "mean_average_precision", "mean_reciprocal_rank",
                     "equal_error_rate"):
            assert 0.0 <= figures[f"casia_std_{kind}_{name}"] <= 1.0
    # 4 test people, every one in every single-view gallery.
    assert figures["casia_std_chance"] == figures["casia_pooled_chance"] == 0.25
    assert figures["casia_std_chance_cl"] == 0.25
    assert figures["casia_std_learned_nn_minus_pred_nm"] == 0.0  # the same report here
    # No key of the old report format is written.
    assert not [k for k in figures if re.fullmatch(r"casia_(learned_(nn|svm)|gt|pred)_rank1_.*", k)]


def test_accuracy_tum_figures_have_their_chance_per_gallery(tum, accuracy_figures):
    figures = accuracy_figures
    for condition in ("n", "b", "s", "tn", "tb", "ts"):
        assert figures[f"tum_std_learned_nn_rank1_{condition}"] == pytest.approx(
            tum["nn"]["standard_rank1"][condition], abs=5e-5)
        assert f"tum_std_gt_rank1_{condition}_090" in figures
    assert figures["tum_std_chance"] == figures["tum_std_chance_n"] == 0.25  # 4 test people
    assert figures["tum_std_chance_tn"] == pytest.approx(1 / 3, abs=5e-5)  # 3 with a second session
    assert "tum_std_learned_nn_rank1_average_time-elapsed" in figures
    assert not [k for k in figures if k.startswith("tum_pooled_")]  # one view: nothing pooled


def test_accuracy_refuses_a_report_of_the_old_format(casia):
    old = copy.deepcopy(casia["nn"])
    old["format"] = "gaitflow.protocol_report/1"
    with pytest.raises(ValueError, match="protocol_report/2"):
        accuracy.report_figures("casia", "gt", old)


def test_accuracy_chance_is_kept_from_the_first_report():
    figures = {"casia_std_chance": 0.25}
    accuracy.merge_figures(figures, {"casia_std_chance": 0.5, "casia_std_gt_rank1_nm": 0.75})
    assert figures == {"casia_std_chance": 0.25, "casia_std_gt_rank1_nm": 0.75}


def test_accuracy_targets_read_the_standard_figure_and_the_pooled_baseline(accuracy_figures):
    assert accuracy.targets(accuracy_figures, quick=True) == []
    by_name = {t.name: t for t in accuracy.targets(accuracy_figures, quick=False)}
    chance = accuracy_figures["casia_std_chance"]
    assert by_name["CASIA-like learned nm standard rank-1 (nn) > 4x chance"].limit == 4 * chance
    assert by_name["CASIA-like learned nm standard rank-1 (nn) > 2x chance"].value \
        == accuracy_figures["casia_std_learned_nn_rank1_nm"]
    assert by_name["CASIA-like gt-joint baseline nm pooled-gallery rank-1"].value \
        == accuracy_figures["casia_pooled_gt_rank1_nm"]
    assert by_name["CASIA-like learned nm standard rank-1 (nn) minus predicted-joint baseline"].value \
        == accuracy_figures["casia_std_learned_nn_minus_pred_nm"]


def test_every_accuracy_block_is_measured_from_what_the_benchmark_now_writes(accuracy_figures):
    data = copy.deepcopy(readme.load_results(harness.RESULTS_DIR)["accuracy"])
    data["figures"].update(accuracy_figures)
    data["targets"] = [t.to_dict() for t in accuracy.targets(data["figures"], quick=False)]
    for name, block in readme.BLOCKS.items():
        if name.startswith("accuracy-"):
            text = "\n".join(readme.render_block(block, {"accuracy": data}))
            assert readme.NOT_MEASURED not in text, f"block {name!r} reads a key accuracy.py does not write"
            assert "?" not in re.sub(r"`[^`]*`", "", text)


# ------------------------------------------------------------------------------- synth_walker


def test_synth_walker_reads_standard_pooled_same_view_and_chance(casia):
    from evaluation.report import ProtocolReport

    report = ProtocolReport.from_dict(casia["nn"])
    figures = synth_walker.report_figures("gt_", report)
    for condition in ("nm", "bg", "cl"):
        assert figures[f"gt_rank1_std_{condition}"] == round(report.standard_rank1[condition], 4)
        assert figures[f"gt_rank1_pooled_{condition}"] == round(report.pooled_rank1[condition], 4)
        matrix = report.cross_view[condition]
        assert figures[f"gt_rank1_same_{condition}"] == round(float(np.mean(np.diag(matrix.rank1))), 4)
    assert figures["baseline_chance_std"] == figures["baseline_chance_pooled"] == 0.25
    assert not [k for k in figures if "cross" in k]


def test_the_synth_walker_rows_are_measured_from_what_the_benchmark_now_writes(casia):
    from evaluation.report import ProtocolReport

    report = ProtocolReport.from_dict(casia["nn"])
    data = copy.deepcopy(readme.load_results(harness.RESULTS_DIR)["synth_walker"])
    for name in ("gt_", "gt_noisy_"):
        data["figures"].update(synth_walker.report_figures(name, report))
    baseline = {t.name for t in synth_walker.baseline_targets(data["figures"])}
    data["targets"] = [t for t in data["targets"] if not t["name"].startswith("baseline ")]
    data["targets"] += [t.to_dict() for t in synth_walker.baseline_targets(data["figures"])]
    assert baseline == {"baseline rank-1 nm cross-view, pooled gallery", "baseline rank-1 nm same-view"}
    rows = [r for r in readme.BENCHMARK_ROWS.rows if r.benchmark == readme.SYNTH]
    for row in rows:
        cells = readme.render_row(row, data)
        assert readme.NOT_MEASURED not in " ".join(cells), row.what
    (pooled,) = [r for r in rows if "pooled" in r.what]
    figure, target = readme.render_row(pooled, data)[2:]
    assert figure == (f"{report.standard_rank1['nm']:.1%} / {report.pooled_rank1['nm']:.1%} (chance 25.0%)")
    assert target.startswith(">= 70%: ")
