"""PNG plots of evaluation results, drawn without pyplot so no global backend state is touched."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from evaluation.metrics import RocCurve

if TYPE_CHECKING:
    from evaluation.report import CrossViewMatrix


def write_cmc(cmc: np.ndarray, path: Path, *, title: str = "") -> Path:
    """CMC curve, cmc (R,) identification rate at ranks 1..R, as a PNG at `path`."""
    figure = Figure(figsize=(5, 4), dpi=100)
    axes = figure.add_subplot()
    ranks = np.arange(1, len(cmc) + 1)
    axes.plot(ranks, 100.0 * np.asarray(cmc), marker="o", markersize=3)
    axes.set_xlabel("rank")
    axes.set_ylabel("identification rate (%)")
    axes.set_ylim(0, 101)
    axes.set_xlim(0.5, max(len(cmc), 1) + 0.5)
    axes.grid(alpha=0.3)
    axes.set_title(f"CMC — {title}" if title else "CMC")
    return _save(figure, path)


def write_roc(roc: RocCurve, equal_error_rate: float, path: Path, *, title: str = "") -> Path:
    """Verification ROC (false vs true accept rate) with its EER point marked, as a PNG."""
    figure = Figure(figsize=(5, 4), dpi=100)
    axes = figure.add_subplot()
    axes.plot(roc.false_accept_rate, roc.true_accept_rate, label="ROC")
    axes.plot([0, 1], [1, 0], linestyle=":", color="grey", label="FAR = 1 - TAR")
    axes.plot([equal_error_rate], [1 - equal_error_rate], "o", color="C3",
              label=f"EER {100 * equal_error_rate:.1f} %")
    axes.set_xlabel("false accept rate")
    axes.set_ylabel("true accept rate")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    axes.set_title(f"ROC — {title}" if title else "ROC")
    return _save(figure, path)


def write_cross_view(
    matrices: Mapping[str, "CrossViewMatrix"], path: Path, *, title: str = ""
) -> Path:
    """One heat-map per condition of gallery view x probe view rank-1, side by side, as a PNG."""
    count = max(len(matrices), 1)
    figure = Figure(figsize=(4.5 * count + 1, 4.2), dpi=100, layout="constrained")
    axes_row = figure.subplots(1, count, squeeze=False)[0]
    image = None
    for axes, (condition, matrix) in zip(axes_row, matrices.items()):
        values = 100.0 * matrix.rank1
        image = axes.imshow(np.ma.masked_invalid(values), vmin=0, vmax=100, cmap="viridis")
        axes.set_xticks(range(len(matrix.probe_views)), [str(v) for v in matrix.probe_views],
                        rotation=90, fontsize=7)
        axes.set_yticks(range(len(matrix.gallery_views)), [str(v) for v in matrix.gallery_views],
                        fontsize=7)
        axes.set_xlabel("probe view (°)")
        axes.set_ylabel("gallery view (°)")
        axes.set_title(condition)
        if values.size <= 15 * 15:
            for (g, p), value in np.ndenumerate(values):
                if np.isfinite(value):
                    axes.text(p, g, f"{value:.0f}", ha="center", va="center", fontsize=6,
                              color="white" if value < 60 else "black")
    if image is not None:
        figure.colorbar(image, ax=list(axes_row), label="rank-1 (%)", shrink=0.8)
    figure.suptitle(f"Cross-view rank-1 — {title}" if title else "Cross-view rank-1")
    return _save(figure, path)


def _save(figure: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A bare Figure renders with the Agg canvas; pyplot's current backend is never consulted.
    figure.savefig(path, format="png")
    return path
