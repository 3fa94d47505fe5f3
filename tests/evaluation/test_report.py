import json
import math

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from evaluation import plots
from evaluation.protocols import evaluate
from evaluation.report import REPORT_FORMAT, CrossViewMatrix, ProtocolReport
from tests.evaluation.synthetic import build, casia_rows, tum_rows, view_swapping


@pytest.fixture(scope="module")
def casia_report() -> ProtocolReport:
    descriptors, labels = build(casia_rows(("075", "076", "077"), views=(0, 90)))
    # Noise so that rank-1, mAP and EER are not all trivially perfect.
    descriptors += np.random.default_rng(1).normal(scale=3.0, size=descriptors.shape)
    return evaluate(descriptors, labels, "casia-b", classifier="nn")


@pytest.fixture(scope="module")
def swapping_report() -> ProtocolReport:
    # Known by construction (see `view_swapping`): standard 1/3, pooled 2/3, chance 1/3.
    descriptors, labels = build(casia_rows(("075", "076", "077"), views=(0, 90, 180)), view_swapping)
    return evaluate(descriptors, labels, "casia-b", classifier="nn")


@pytest.fixture(scope="module")
def tum_report() -> ProtocolReport:
    descriptors, labels = build(tum_rows(("p151", "p152", "p153", "p154"), ("p151", "p152")))
    return evaluate(descriptors, labels, "tum-gaid", classifier="nn")


def test_to_dict_is_strict_json_and_round_trips(casia_report, tum_report):
    for report in (casia_report, tum_report):
        data = report.to_dict()
        text = json.dumps(data, allow_nan=False)
        again = ProtocolReport.from_dict(json.loads(text))
        assert again.to_dict() == data
        assert again.standard_rank1_by_view == report.standard_rank1_by_view
        np.testing.assert_array_equal(again.roc.thresholds, report.roc.thresholds)


def test_to_dict_keys_hold_fractions(swapping_report):
    data = swapping_report.to_dict()
    assert data["format"] == REPORT_FORMAT == "gaitflow.protocol_report/2"
    assert data["standard_rank1"] == pytest.approx({"nm": 1 / 3, "bg": 1 / 3, "cl": 1 / 3})
    assert data["standard_rank1_by_view"]["nm"] == {"0": 0.5, "90": 0.5, "180": 0.0}
    assert data["standard_rank1_average"] == pytest.approx({"all": 1 / 3})
    assert data["pooled_rank1"] == pytest.approx({"nm": 2 / 3, "bg": 2 / 3, "cl": 2 / 3})
    assert data["pooled_rank1_by_view"]["cl"] == {"0": 1.0, "90": 1.0, "180": 0.0}
    assert data["chance"] == pytest.approx({"nm": 1 / 3, "bg": 1 / 3, "cl": 1 / 3})
    assert data["pooled_chance"] == pytest.approx({"nm": 1 / 3, "bg": 1 / 3, "cl": 1 / 3})
    for key in ("cmc_rank1", "cmc_rank5", "chance_cmc_rank1", "mean_average_precision",
                "mean_reciprocal_rank", "equal_error_rate", "counts", "cross_view", "cmc", "roc"):
        assert key in data
    for old in ("rank1", "rank1_mean", "averages"):
        assert old not in data


def test_nan_cross_view_cells_become_null_and_come_back():
    # This report's cells are all finite; blank one as a cell without scorable probes would be.
    descriptors, labels = build(casia_rows(("075", "076"), views=(0, 90)))
    report = evaluate(descriptors, labels, "casia-b", classifier="nn")
    data = report.to_dict()
    data["cross_view"]["nm"]["rank1"][0][1] = None
    again = ProtocolReport.from_dict(json.loads(json.dumps(data, allow_nan=False)))
    assert math.isnan(again.cross_view["nm"].rank1[0, 1])
    assert again.to_dict()["cross_view"]["nm"]["rank1"][0][1] is None


@pytest.mark.parametrize("format_", ["something else", "gaitflow.protocol_report/1"])
def test_from_dict_rejects_other_formats(format_):
    with pytest.raises(ValueError, match="gaitflow.protocol_report/2"):
        ProtocolReport.from_dict({"format": format_})


def test_report_is_read_only(casia_report):
    with pytest.raises(TypeError):
        casia_report.standard_rank1_by_view["nm"][0] = 0.0
    with pytest.raises(TypeError):
        casia_report.chance["nm"] = 0.0
    with pytest.raises(ValueError):
        casia_report.cmc[0] = 0.0


def test_to_metrics_are_percent(swapping_report):
    metrics = swapping_report.to_metrics()
    assert metrics["standard_rank1/nm"] == pytest.approx(100 / 3)
    assert metrics["standard_rank1_by_view/bg/090"] == pytest.approx(50.0)
    assert metrics["standard_rank1_by_view/cl/180"] == 0.0
    assert metrics["standard_rank1_average/all"] == pytest.approx(100 / 3)
    assert metrics["pooled_rank1/nm"] == pytest.approx(200 / 3)
    assert metrics["pooled_rank1_by_view/nm/000"] == pytest.approx(100.0)
    assert metrics["chance/nm"] == pytest.approx(100 / 3)
    assert metrics["pooled_chance/cl"] == pytest.approx(100 / 3)
    assert metrics["chance_cmc_rank1"] == pytest.approx(100 / 3)
    assert metrics["cmc_rank1"] == pytest.approx(100 / 3)
    assert metrics["cmc_rank5"] == 100.0
    for name in ("mean_average_precision", "mean_reciprocal_rank", "equal_error_rate"):
        assert metrics[name] == pytest.approx(100 * getattr(swapping_report, name))
    assert all(isinstance(v, float) for v in metrics.values())


def test_to_metrics_names_fit_mlflow(swapping_report, tum_report):
    for report in (swapping_report, tum_report):
        names = set(report.to_metrics())
        assert all(set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_/-") for name in names)
        # MLflow's file store keeps a metric as a file: no name may be another's folder.
        assert not any(other.startswith(name + "/") for name in names for other in names)
    tum = tum_report.to_metrics()
    assert tum["chance/n"] == pytest.approx(25.0) and tum["chance/tn"] == pytest.approx(50.0)
    assert tum["standard_rank1/ts"] == 100.0
    assert not any(name.startswith("pooled") for name in tum)


def test_to_markdown_uses_the_metric_names(swapping_report, tum_report):
    for report in (swapping_report, tum_report):
        text = report.to_markdown()
        for name in report.to_metrics():
            assert name.split("/")[0] in text, name
        for name in ("cmc_rank1", "cmc_rank5", "chance_cmc_rank1", "mean_average_precision",
                     "mean_reciprocal_rank", "equal_error_rate"):
            assert f"| {name} | {100 * report._whole_probe_set()[name]:.1f} |" in text


def test_to_markdown_shows_chance_beside_each_rank1_table(swapping_report):
    text = swapping_report.to_markdown()
    assert "| condition | probes | 0° | 90° | 180° | standard_rank1 | chance |" in text
    assert "| nm | 18 | 50.0 | 50.0 | 0.0 | **33.3** | 33.3 |" in text
    assert "| condition | probes | 0° | 90° | 180° | pooled_rank1 | pooled_chance |" in text
    assert "| bg | 18 | 100.0 | 100.0 | 0.0 | **66.7** | 33.3 |" in text
    for condition in ("nm", "bg", "cl"):
        assert f"Cross-view rank-1 (%), {condition}" in text
    assert text.count("chance 33.3") == 3  # one per cross-view table


def test_to_markdown_tum_gaid_chance_per_experiment(tum_report):
    text = tum_report.to_markdown()
    assert "| n | 8 | 100.0 | **100.0** | 25.0 |" in text
    assert "| tn | 4 | 100.0 | **100.0** | 50.0 |" in text
    assert "pooled" not in text and "Cross-view" not in text


def test_cmc_at_beyond_the_gallery_is_the_last_value(casia_report):
    assert casia_report.cmc_at(100) == casia_report.cmc[-1] == 1.0
    with pytest.raises(ValueError):
        casia_report.cmc_at(0)


def test_write_plots(tmp_path, casia_report, tum_report):
    paths = casia_report.write_plots(tmp_path / "plots")
    assert [p.name for p in paths] == ["cmc.png", "roc.png", "cross_view.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tum_report.write_plots(tmp_path / "tum")] == ["cmc.png", "roc.png"]


def test_cmc_plot_has_integer_rank_ticks():
    # Three ranks: matplotlib's default locator would tick at 0.5, 1.0, 1.5, ...
    figure = plots.cmc_figure(np.array([0.5, 0.75, 1.0]), chance_rank1=1 / 3)
    axes = figure.axes[0]
    low, high = axes.get_xlim()
    ticks = [t for t in axes.get_xticks() if low <= t <= high]
    assert ticks == [1.0, 2.0, 3.0]


def test_cross_view_heat_map_labels_every_cell_with_one_decimal_inside_it():
    views = tuple(range(0, 181, 18))  # CASIA-B's 11 views
    values = np.full((11, 11), 1 / 3)
    values[np.diag_indices(11)] = 1.0
    values[0, 5] = np.nan  # a cell without scorable probes stays blank
    matrices = {c: CrossViewMatrix(views, views, values) for c in ("nm", "bg", "cl")}
    figure = plots.cross_view_figure(matrices)
    canvas = FigureCanvasAgg(figure)  # the canvas savefig renders with
    canvas.draw()
    renderer = canvas.get_renderer()
    heat_maps = [axes for axes in figure.axes if axes.get_title() in matrices]
    assert len(heat_maps) == 3
    for axes in heat_maps:
        labels = [text.get_text() for text in axes.texts]
        assert len(labels) == 11 * 11 - 1
        assert labels.count("100.0") == 11 and labels.count("33.3") == 11 * 10 - 1
        box = axes.get_window_extent(renderer)
        cell_width, cell_height = box.width / 11, box.height / 11
        for text in axes.texts:
            assert text.get_fontsize() >= 6
            extent = text.get_window_extent(renderer)
            assert extent.width < 0.9 * cell_width and extent.height < 0.9 * cell_height
