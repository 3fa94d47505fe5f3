import json
import math

import numpy as np
import pytest

from evaluation.protocols import evaluate
from evaluation.report import ProtocolReport
from tests.evaluation.synthetic import build, casia_rows, tum_rows


@pytest.fixture(scope="module")
def casia_report() -> ProtocolReport:
    descriptors, labels = build(casia_rows(("075", "076", "077"), views=(0, 90)))
    # Noise so that rank-1, mAP and EER are not all trivially perfect.
    descriptors += np.random.default_rng(1).normal(scale=3.0, size=descriptors.shape)
    return evaluate(descriptors, labels, "casia-b", classifier="nn")


def test_to_dict_is_strict_json_and_round_trips(casia_report):
    data = casia_report.to_dict()
    text = json.dumps(data, allow_nan=False)
    again = ProtocolReport.from_dict(json.loads(text))
    assert again.to_dict() == data
    assert again.rank1 == casia_report.rank1
    np.testing.assert_array_equal(again.roc.thresholds, casia_report.roc.thresholds)


def test_nan_cross_view_cells_become_null_and_come_back():
    # This report's cells are all finite; blank one as a cell without scorable probes would be.
    descriptors, labels = build(casia_rows(("075", "076"), views=(0, 90)))
    report = evaluate(descriptors, labels, "casia-b", classifier="nn")
    data = report.to_dict()
    data["cross_view"]["nm"]["rank1"][0][1] = None
    again = ProtocolReport.from_dict(json.loads(json.dumps(data, allow_nan=False)))
    assert math.isnan(again.cross_view["nm"].rank1[0, 1])
    assert again.to_dict()["cross_view"]["nm"]["rank1"][0][1] is None


def test_from_dict_rejects_other_formats():
    with pytest.raises(ValueError, match="gaitflow.protocol_report/1"):
        ProtocolReport.from_dict({"format": "something else"})


def test_report_is_read_only(casia_report):
    with pytest.raises(TypeError):
        casia_report.rank1["nm"][0] = 0.0
    with pytest.raises(ValueError):
        casia_report.cmc[0] = 0.0


def test_to_metrics_names(casia_report):
    metrics = casia_report.to_metrics()
    assert {"cmc_rank1", "cmc_rank5", "mean_average_precision", "equal_error_rate"} <= set(metrics)
    assert "rank1/nm/000" in metrics and "rank1/cl/090" in metrics and "rank1_mean/bg" in metrics
    assert "average/all" in metrics
    assert all(isinstance(v, float) for v in metrics.values())


def test_to_markdown_shows_the_table(casia_report):
    text = casia_report.to_markdown()
    assert "| condition | probes | 0° | 90° | mean |" in text
    for condition in ("nm", "bg", "cl"):
        assert f"| {condition} | 12 |" in text
        assert f"Cross-view rank-1 (%), {condition}" in text
    assert "EER" in text and "mAP" in text


def test_cmc_at_beyond_the_gallery_is_the_last_value(casia_report):
    assert casia_report.cmc_at(100) == casia_report.cmc[-1] == 1.0
    with pytest.raises(ValueError):
        casia_report.cmc_at(0)


def test_write_plots(tmp_path, casia_report):
    paths = casia_report.write_plots(tmp_path / "plots")
    assert [p.name for p in paths] == ["cmc.png", "roc.png", "cross_view.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    descriptors, labels = build(tum_rows(("p151", "p152")))
    tum = evaluate(descriptors, labels, "tum-gaid", classifier="nn")
    assert [p.name for p in tum.write_plots(tmp_path / "tum")] == ["cmc.png", "roc.png"]
