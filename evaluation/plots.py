"""PNG plots of evaluation results, drawn without pyplot so no global backend state is touched.

`*_figure` functions build a matplotlib Figure (tests read its axes and texts); `write_*` save
one as a PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from evaluation.metrics import RocCurve

if TYPE_CHECKING:
    from evaluation.report import CrossViewMatrix

DPI = 150
# Heat-map cell edge in inches: a one-decimal "100.0" at CELL_FONT_POINTS fits with room to spare.
CELL_INCHES = 0.55
CELL_FONT_POINTS = 7.0


def cmc_figure(cmc: np.ndarray, *, title: str = "", chance_rank1: float | None = None) -> Figure:
    """CMC curve, cmc (R,) identification rate at ranks 1..R, ranks on integer ticks.

    chance_rank1: the rank-1 of guessing (1 / gallery identities), marked at rank 1.
    """
    cmc = np.asarray(cmc, dtype=np.float64)
    figure = Figure(figsize=(5, 4), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    ranks = np.arange(1, cmc.size + 1)
    axes.plot(ranks, 100.0 * cmc, marker="o", markersize=3, label="CMC")
    if chance_rank1 is not None:
        axes.plot([1], [100.0 * chance_rank1], marker="x", linestyle="none", color="grey",
                  label=f"chance rank-1 {100.0 * chance_rank1:.1f} %")
        axes.legend(loc="lower right")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_xlabel("rank")
    axes.set_ylabel("identification rate (%)")
    axes.set_ylim(0, 101)
    axes.set_xlim(0.5, max(cmc.size, 1) + 0.5)
    axes.grid(alpha=0.3)
    axes.set_title(f"CMC — {title}" if title else "CMC")
    return figure


def write_cmc(
    cmc: np.ndarray, path: Path, *, title: str = "", chance_rank1: float | None = None
) -> Path:
    """`cmc_figure` as a PNG at `path`."""
    return _save(cmc_figure(cmc, title=title, chance_rank1=chance_rank1), path)


def write_roc(roc: RocCurve, equal_error_rate: float, path: Path, *, title: str = "") -> Path:
    """Verification ROC (false vs true accept rate) with its EER point marked, as a PNG."""
    figure = Figure(figsize=(5, 4), dpi=DPI, layout="constrained")
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


def cross_view_figure(matrices: Mapping[str, "CrossViewMatrix"], *, title: str = "") -> Figure:
    """One heat-map per condition of gallery view x probe view rank-1 (%), side by side.

    Every finite cell carries its value with one decimal; cells are CELL_INCHES square so the
    labels stay readable at the saved size whatever the number of views. Same-view cells
    (left out of the standard figure) are outlined with a dashed line; blank cells had no
    scorable probe.
    """
    count = max(len(matrices), 1)
    rows = max((len(m.gallery_views) for m in matrices.values()), default=1)
    columns = max((len(m.probe_views) for m in matrices.values()), default=1)
    panel_width = max(columns * CELL_INCHES + 1.0, 2.5)
    panel_height = max(rows * CELL_INCHES + 1.2, 2.5)
    figure = Figure(figsize=(panel_width * count + 1.2, panel_height + 0.5), dpi=DPI,
                    layout="constrained")
    axes_row = figure.subplots(1, count, squeeze=False)[0]
    image = None
    for axes, (condition, matrix) in zip(axes_row, matrices.items()):
        values = 100.0 * np.asarray(matrix.rank1, dtype=np.float64)
        image = axes.imshow(np.ma.masked_invalid(values), vmin=0, vmax=100, cmap="viridis")
        axes.set_xticks(range(len(matrix.probe_views)), [str(v) for v in matrix.probe_views],
                        fontsize=CELL_FONT_POINTS)
        axes.set_yticks(range(len(matrix.gallery_views)), [str(v) for v in matrix.gallery_views],
                        fontsize=CELL_FONT_POINTS)
        axes.set_xlabel("probe view (°)")
        axes.set_ylabel("gallery view (°)")
        axes.set_title(condition)
        for (g, p), value in np.ndenumerate(values):
            if matrix.gallery_views[g] == matrix.probe_views[p]:
                # Inset so that neighbouring diagonal cells stay separate boxes.
                axes.add_patch(Rectangle((p - 0.42, g - 0.42), 0.84, 0.84, fill=False,
                                         linestyle="--", linewidth=1.0, edgecolor="red"))
            if np.isfinite(value):
                axes.text(p, g, f"{value:.1f}", ha="center", va="center",
                          fontsize=CELL_FONT_POINTS, color="white" if value < 60 else "black")
    if image is not None:
        figure.colorbar(image, ax=list(axes_row), label="rank-1 (%)", shrink=0.8)
    heading = "Cross-view rank-1 (%), dashed = same view (excluded)"
    figure.suptitle(f"{heading} — {title}" if title else heading, fontsize=9)
    return figure


def write_cross_view(
    matrices: Mapping[str, "CrossViewMatrix"], path: Path, *, title: str = ""
) -> Path:
    """`cross_view_figure` as a PNG at `path`."""
    return _save(cross_view_figure(matrices, title=title), path)


def _save(figure: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A bare Figure renders with the Agg canvas; pyplot's current backend is never consulted.
    figure.savefig(path, format="png")
    return path
