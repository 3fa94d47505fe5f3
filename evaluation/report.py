"""The result of an evaluation protocol: tables, curves, JSON, Markdown and plots."""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.metrics import RocCurve

REPORT_FORMAT = "gaitflow.protocol_report/1"


@dataclasses.dataclass(frozen=True)
class CrossViewMatrix:
    """Rank-1 of one probe condition for every gallery view x probe view pair.

    The gallery of row g holds only the gallery sequences recorded at view g; the diagonal is
    the same-view setting.

    Attributes:
      gallery_views: (Vg,) int degrees, row order.
      probe_views: (Vp,) int degrees, column order.
      rank1: (Vg, Vp) float in [0, 1]; NaN where no probe could be scored (no probe of that
        view has a gallery entry at that gallery view).
    """

    gallery_views: tuple[int, ...]
    probe_views: tuple[int, ...]
    rank1: np.ndarray

    def __post_init__(self) -> None:
        rank1 = np.array(self.rank1, dtype=np.float64)
        if rank1.shape != (len(self.gallery_views), len(self.probe_views)):
            raise ValueError(
                f"cross-view matrix shape {rank1.shape} does not match "
                f"{len(self.gallery_views)} gallery x {len(self.probe_views)} probe views"
            )
        rank1.flags.writeable = False
        object.__setattr__(self, "gallery_views", tuple(int(v) for v in self.gallery_views))
        object.__setattr__(self, "probe_views", tuple(int(v) for v in self.probe_views))
        object.__setattr__(self, "rank1", rank1)


@dataclasses.dataclass(frozen=True)
class ProtocolReport:
    """What `evaluation.protocols.evaluate` found.

    Rank-1 values are fractions in [0, 1]; `to_markdown` shows them as percentages.

    Attributes:
      protocol: "casia-b" | "tum-gaid".
      classifier: "svm" | "nn".
      rank1: condition -> probe view -> rank-1 accuracy. CASIA-B conditions "nm", "bg", "cl"
        (identical view excluded from the gallery); TUM GAID "n", "b", "s" (session 1) and
        "tn", "tb", "ts" (time-elapsed, session 2).
      rank1_mean: condition -> mean of its per-view rank-1 values (views weigh equally, as the
        CASIA-B literature reports it).
      averages: experiment -> mean of its conditions' `rank1_mean`: CASIA-B "all"; TUM GAID
        "session-1" and "time-elapsed" (only experiments with at least one probe).
      cross_view: condition -> gallery view x probe view rank-1 (CASIA-B only, else empty).
      cmc: (R,) float, identification rate at ranks 1..R over the whole probe set, each probe
        scored against the gallery its condition uses (identical view excluded for CASIA-B).
      mean_average_precision: mean AP over the whole probe set (one gallery entry per subject,
        so this is the mean reciprocal rank).
      roc: verification ROC of all probe x gallery-subject pairs.
      equal_error_rate: EER of `roc`.
      counts: "evaluated_subjects", "excluded_train_subjects", "gallery_sequences",
        "gallery_subjects", "probe_sequences", "cross_view_unscored_probes" (probe x gallery
        view pairs left out of a cross-view cell because the subject has no gallery sequence at
        that view).
      probe_counts: condition -> number of probe sequences.
      absent_conditions: probe conditions of the protocol that had no probe sequence.
      evaluated_subjects: the subjects evaluated (not in the training split), sorted.
    """

    protocol: str
    classifier: str
    rank1: Mapping[str, Mapping[int, float]]
    rank1_mean: Mapping[str, float]
    averages: Mapping[str, float]
    cross_view: Mapping[str, CrossViewMatrix]
    cmc: np.ndarray
    mean_average_precision: float
    roc: RocCurve
    equal_error_rate: float
    counts: Mapping[str, int]
    probe_counts: Mapping[str, int]
    absent_conditions: tuple[str, ...]
    evaluated_subjects: tuple[str, ...]

    def __post_init__(self) -> None:
        freeze = types.MappingProxyType
        object.__setattr__(
            self,
            "rank1",
            freeze({c: freeze({int(v): float(x) for v, x in by_view.items()})
                    for c, by_view in self.rank1.items()}),
        )
        for name in ("rank1_mean", "averages"):
            object.__setattr__(self, name, freeze({k: float(v) for k, v in getattr(self, name).items()}))
        for name in ("counts", "probe_counts"):
            object.__setattr__(self, name, freeze({k: int(v) for k, v in getattr(self, name).items()}))
        object.__setattr__(self, "cross_view", freeze(dict(self.cross_view)))
        cmc = np.array(self.cmc, dtype=np.float64)
        cmc.flags.writeable = False
        object.__setattr__(self, "cmc", cmc)
        object.__setattr__(self, "absent_conditions", tuple(self.absent_conditions))
        object.__setattr__(self, "evaluated_subjects", tuple(self.evaluated_subjects))

    def cmc_at(self, rank: int) -> float:
        """Identification rate at `rank` (1-based); ranks beyond the gallery's size are 1.0."""
        if rank < 1:
            raise ValueError(f"rank must be at least 1, got {rank}")
        return float(self.cmc[min(rank, self.cmc.size) - 1])

    def to_metrics(self) -> dict[str, float]:
        """Flat name -> value pairs for an experiment tracker (names use only [a-z0-9_./-])."""
        metrics = {
            "cmc_rank1": self.cmc_at(1),
            "cmc_rank5": self.cmc_at(5),
            "mean_average_precision": self.mean_average_precision,
            "equal_error_rate": self.equal_error_rate,
        }
        for condition, by_view in self.rank1.items():
            metrics[f"rank1_mean/{condition}"] = self.rank1_mean[condition]
            for view, value in by_view.items():
                metrics[f"rank1/{condition}/{view:03d}"] = value
        for experiment, value in self.averages.items():
            metrics[f"average/{experiment}"] = value
        return metrics

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (non-finite numbers become null); `from_dict` reads it."""
        return {
            "format": REPORT_FORMAT,
            "protocol": self.protocol,
            "classifier": self.classifier,
            "rank1": {c: {str(v): x for v, x in by_view.items()} for c, by_view in self.rank1.items()},
            "rank1_mean": dict(self.rank1_mean),
            "averages": dict(self.averages),
            "cross_view": {
                c: {
                    "gallery_views": list(m.gallery_views),
                    "probe_views": list(m.probe_views),
                    "rank1": [[_finite_or_none(x) for x in row] for row in m.rank1.tolist()],
                }
                for c, m in self.cross_view.items()
            },
            "cmc": self.cmc.tolist(),
            "cmc_rank1": self.cmc_at(1),
            "cmc_rank5": self.cmc_at(5),
            "mean_average_precision": self.mean_average_precision,
            "equal_error_rate": self.equal_error_rate,
            "roc": {
                "false_accept_rate": self.roc.false_accept_rate.tolist(),
                "true_accept_rate": self.roc.true_accept_rate.tolist(),
                "thresholds": [_finite_or_none(x) for x in self.roc.thresholds.tolist()],
            },
            "counts": dict(self.counts),
            "probe_counts": dict(self.probe_counts),
            "absent_conditions": list(self.absent_conditions),
            "evaluated_subjects": list(self.evaluated_subjects),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ProtocolReport":
        """Rebuilds a report from `to_dict`'s output."""
        if data.get("format") != REPORT_FORMAT:
            raise ValueError(f"not a {REPORT_FORMAT} dict (format {data.get('format')!r})")
        roc = data["roc"]
        return cls(
            protocol=data["protocol"],
            classifier=data["classifier"],
            rank1={c: {int(v): x for v, x in by_view.items()} for c, by_view in data["rank1"].items()},
            rank1_mean=data["rank1_mean"],
            averages=data["averages"],
            cross_view={
                c: CrossViewMatrix(
                    m["gallery_views"],
                    m["probe_views"],
                    np.array(
                        [[np.nan if x is None else x for x in row] for row in m["rank1"]],
                        dtype=np.float64,
                    ).reshape(len(m["gallery_views"]), len(m["probe_views"])),
                )
                for c, m in data["cross_view"].items()
            },
            cmc=np.asarray(data["cmc"], dtype=np.float64),
            mean_average_precision=data["mean_average_precision"],
            roc=RocCurve(
                np.asarray(roc["false_accept_rate"], dtype=np.float64),
                np.asarray(roc["true_accept_rate"], dtype=np.float64),
                # The only non-finite threshold is the leading "accept nothing" +inf.
                np.asarray([np.inf if x is None else x for x in roc["thresholds"]], dtype=np.float64),
            ),
            equal_error_rate=data["equal_error_rate"],
            counts=data["counts"],
            probe_counts=data["probe_counts"],
            absent_conditions=tuple(data["absent_conditions"]),
            evaluated_subjects=tuple(data["evaluated_subjects"]),
        )

    def to_markdown(self) -> str:
        """The rank-1 table, summary figures and cross-view matrices as Markdown."""
        lines = [f"### {self.protocol} — {self.classifier} classifier", ""]
        lines.append(
            f"{self.counts.get('evaluated_subjects', 0)} subjects evaluated "
            f"({self.counts.get('excluded_train_subjects', 0)} training subjects left out), "
            f"{self.counts.get('gallery_sequences', 0)} gallery and "
            f"{self.counts.get('probe_sequences', 0)} probe sequences."
        )
        lines.append("")
        views = sorted({v for by_view in self.rank1.values() for v in by_view})
        lines.append("Rank-1 (%) per probe condition and probe view"
                     + (", identical view excluded:" if self.protocol == "casia-b" else ":"))
        lines.append("")
        lines.append("| condition | probes | " + " | ".join(f"{v}°" for v in views) + " | mean |")
        lines.append("|---|---:|" + "---:|" * (len(views) + 1))
        for condition, by_view in self.rank1.items():
            cells = [_percent(by_view.get(v)) for v in views]
            lines.append(
                f"| {condition} | {self.probe_counts.get(condition, 0)} | " + " | ".join(cells)
                + f" | **{_percent(self.rank1_mean[condition])}** |"
            )
        lines.append("")
        if self.averages:
            lines.append("Averages: " + ", ".join(
                f"{name} **{_percent(value)} %**" for name, value in self.averages.items()))
            lines.append("")
        lines.append(
            f"Whole probe set: rank-1 {_percent(self.cmc_at(1))} %, rank-5 {_percent(self.cmc_at(5))} %, "
            f"mAP {_percent(self.mean_average_precision)} %, EER {_percent(self.equal_error_rate)} %."
        )
        if self.absent_conditions:
            lines.append("")
            lines.append("Absent probe conditions (no sequences): " + ", ".join(self.absent_conditions) + ".")
        for condition, matrix in self.cross_view.items():
            lines.extend(["", f"#### Cross-view rank-1 (%), {condition}: rows gallery view, columns probe view", ""])
            lines.append("| gallery \\ probe | " + " | ".join(f"{v}°" for v in matrix.probe_views) + " |")
            lines.append("|---|" + "---:|" * len(matrix.probe_views))
            for g, row in zip(matrix.gallery_views, matrix.rank1):
                lines.append(f"| {g}° | " + " | ".join(_percent(x) for x in row) + " |")
        if self.counts.get("cross_view_unscored_probes"):
            lines.extend(["", f"{self.counts['cross_view_unscored_probes']} probe x gallery-view pairs "
                              "had no gallery sequence of the subject at that view and are not in the "
                              "cross-view cells."])
        return "\n".join(lines) + "\n"

    def write_plots(self, directory: str | Path) -> list[Path]:
        """Writes cmc.png, roc.png and (CASIA-B) cross_view.png into `directory`; returns their paths."""
        from evaluation import plots  # matplotlib is heavy; only plotting callers pay for it

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        title = f"{self.protocol}, {self.classifier}"
        paths = [
            plots.write_cmc(self.cmc, directory / "cmc.png", title=title),
            plots.write_roc(self.roc, self.equal_error_rate, directory / "roc.png", title=title),
        ]
        if self.cross_view:
            paths.append(plots.write_cross_view(self.cross_view, directory / "cross_view.png", title=title))
        return paths


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _percent(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100.0 * x:.1f}"
