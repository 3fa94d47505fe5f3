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

# /2: CASIA-B's standard figures are the single-view-gallery protocol; /1 pooled the gallery views.
REPORT_FORMAT = "gaitflow.protocol_report/2"


@dataclasses.dataclass(frozen=True)
class CrossViewMatrix:
    """Rank-1 of one probe condition for every gallery view x probe view pair: acc[c, p, g].

    The gallery of row g holds only the gallery sequences recorded at view g; the diagonal is
    the same-view setting, which the standard (identical-view-excluded) figure leaves out.

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
    """What `evaluation.protocols.evaluate` found, for one classifier.

    Every rate is a fraction in [0, 1] here and in `to_dict`; `to_metrics` and `to_markdown`
    give the same figures in percent, under the same names.

    Attributes:
      protocol: "casia-b" | "tum-gaid".
      classifier: "svm" | "nn".
      standard_rank1: condition -> the protocol's headline rank-1. CASIA-B "nm", "bg", "cl":
        mean over probe views of `standard_rank1_by_view` (single-view gallery, identical view
        excluded, as GaitSet/OpenGait report it); TUM GAID "n", "b", "s" (session 1) and "tn",
        "tb", "ts" (time-elapsed), the rank-1 against the experiment's gallery.
      standard_rank1_by_view: condition -> probe view -> rank-1. CASIA-B: the mean of the
        cross-view cells acc[c, p, g] over gallery views g != p. TUM GAID: {90: rank-1}.
      standard_rank1_average: experiment -> mean of its conditions' `standard_rank1`: CASIA-B
        "all"; TUM GAID "session-1", "time-elapsed" (experiments with at least one probe).
      pooled_rank1: condition -> mean over probe views of `pooled_rank1_by_view` (CASIA-B
        only, else empty). A secondary, easier figure, not the literature's.
      pooled_rank1_by_view: condition -> probe view -> rank-1 against ONE gallery holding the
        gallery walks of every view but the probe's (CASIA-B only, else empty).
      chance: condition -> the rank-1 of guessing, 1 / gallery identities, averaged exactly as
        `standard_rank1` averages its galleries.
      pooled_chance: condition -> the same for `pooled_rank1` (CASIA-B only, else empty).
      cross_view: condition -> gallery view x probe view rank-1, acc[c, p, g] with the gallery
        at view g only (CASIA-B only, else empty); the diagonal is the same-view setting.
      cmc: (R,) float, identification rate at ranks 1..R over every query of the standard
        protocol (CASIA-B: each probe against each single-view gallery of another view), ranks
        counted over gallery subjects.
      chance_cmc_rank1: the chance level of `cmc[0]` (mean over queries of 1 / identities).
      mean_average_precision: mAP over the same queries: per query the average precision of
        the classifier's ranked gallery (nearest neighbour: every gallery sequence, relevant =
        same subject; SVM: its per-subject scores, one relevant entry, so there it equals
        `mean_reciprocal_rank`).
      mean_reciprocal_rank: mean over the same queries of 1 / the rank of the right subject.
      roc: verification ROC of all query x gallery-subject pairs.
      equal_error_rate: EER of `roc`.
      counts: "evaluated_subjects", "excluded_train_subjects", "gallery_sequences",
        "gallery_subjects", "probe_sequences", "queries" (probe x gallery scorings in the
        whole-probe-set figures), "unscored_probe_gallery_view_pairs" (CASIA-B probe x
        other-view gallery pairs left out of the standard table because the probe's subject
        has no gallery sequence at that view).
      probe_counts: condition -> number of probe sequences.
      absent_conditions: probe conditions of the protocol that had no probe sequence.
      evaluated_subjects: the subjects evaluated (not in the training split), sorted.
    """

    protocol: str
    classifier: str
    standard_rank1: Mapping[str, float]
    standard_rank1_by_view: Mapping[str, Mapping[int, float]]
    standard_rank1_average: Mapping[str, float]
    pooled_rank1: Mapping[str, float]
    pooled_rank1_by_view: Mapping[str, Mapping[int, float]]
    chance: Mapping[str, float]
    pooled_chance: Mapping[str, float]
    cross_view: Mapping[str, CrossViewMatrix]
    cmc: np.ndarray
    chance_cmc_rank1: float
    mean_average_precision: float
    mean_reciprocal_rank: float
    roc: RocCurve
    equal_error_rate: float
    counts: Mapping[str, int]
    probe_counts: Mapping[str, int]
    absent_conditions: tuple[str, ...]
    evaluated_subjects: tuple[str, ...]

    def __post_init__(self) -> None:
        freeze = types.MappingProxyType
        for name in _BY_VIEW_FIELDS:
            object.__setattr__(
                self,
                name,
                freeze({c: freeze({int(v): float(x) for v, x in by_view.items()})
                        for c, by_view in getattr(self, name).items()}),
            )
        for name in _BY_KEY_FIELDS:
            object.__setattr__(self, name, freeze({k: float(v) for k, v in getattr(self, name).items()}))
        for name in ("counts", "probe_counts"):
            object.__setattr__(self, name, freeze({k: int(v) for k, v in getattr(self, name).items()}))
        for name in _SCALAR_FIELDS:
            object.__setattr__(self, name, float(getattr(self, name)))
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
        """Flat name -> value pairs for an experiment tracker, every value in percent (0-100).

        The names are those `to_markdown` prints (only [a-z0-9_/-] characters; no name is the
        folder of another, which MLflow's file store cannot hold):
          standard_rank1/<condition>, standard_rank1_by_view/<condition>/<view:03d>,
          standard_rank1_average/<experiment>, chance/<condition>,
          pooled_rank1/<condition>, pooled_rank1_by_view/<condition>/<view:03d>,
          pooled_chance/<condition> (CASIA-B), and cmc_rank1, cmc_rank5, chance_cmc_rank1,
          mean_average_precision, mean_reciprocal_rank, equal_error_rate.
        """
        metrics: dict[str, float] = {}
        for prefix in ("standard", "pooled"):
            for condition, value in getattr(self, f"{prefix}_rank1").items():
                metrics[f"{prefix}_rank1/{condition}"] = 100.0 * value
            for condition, by_view in getattr(self, f"{prefix}_rank1_by_view").items():
                for view, value in by_view.items():
                    metrics[f"{prefix}_rank1_by_view/{condition}/{view:03d}"] = 100.0 * value
        for experiment, value in self.standard_rank1_average.items():
            metrics[f"standard_rank1_average/{experiment}"] = 100.0 * value
        for name in ("chance", "pooled_chance"):
            for condition, value in getattr(self, name).items():
                metrics[f"{name}/{condition}"] = 100.0 * value
        for name, value in self._whole_probe_set().items():
            metrics[name] = 100.0 * value
        return metrics

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of fractions in [0, 1] (non-finite numbers become null);
        `from_dict` reads it."""
        data: dict[str, Any] = {"format": REPORT_FORMAT, "protocol": self.protocol,
                                "classifier": self.classifier}
        for name in _BY_VIEW_FIELDS:
            data[name] = {c: {str(v): x for v, x in by_view.items()}
                          for c, by_view in getattr(self, name).items()}
        for name in _BY_KEY_FIELDS:
            data[name] = dict(getattr(self, name))
        data["cross_view"] = {
            c: {
                "gallery_views": list(m.gallery_views),
                "probe_views": list(m.probe_views),
                "rank1": [[_finite_or_none(x) for x in row] for row in m.rank1.tolist()],
            }
            for c, m in self.cross_view.items()
        }
        data["cmc"] = self.cmc.tolist()
        data.update(self._whole_probe_set())
        data["roc"] = {
            "false_accept_rate": self.roc.false_accept_rate.tolist(),
            "true_accept_rate": self.roc.true_accept_rate.tolist(),
            "thresholds": [_finite_or_none(x) for x in self.roc.thresholds.tolist()],
        }
        data["counts"] = dict(self.counts)
        data["probe_counts"] = dict(self.probe_counts)
        data["absent_conditions"] = list(self.absent_conditions)
        data["evaluated_subjects"] = list(self.evaluated_subjects)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ProtocolReport":
        """Rebuilds a report from `to_dict`'s output."""
        if data.get("format") != REPORT_FORMAT:
            raise ValueError(
                f"not a {REPORT_FORMAT} dict (format {data.get('format')!r}); reports of an "
                "older format hold figures of another protocol and are not read"
            )
        roc = data["roc"]
        return cls(
            protocol=data["protocol"],
            classifier=data["classifier"],
            **{name: {c: {int(v): x for v, x in by_view.items()} for c, by_view in data[name].items()}
               for name in _BY_VIEW_FIELDS},
            **{name: data[name] for name in _BY_KEY_FIELDS},
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
            **{name: data[name] for name in _SCALAR_FIELDS},
            roc=RocCurve(
                np.asarray(roc["false_accept_rate"], dtype=np.float64),
                np.asarray(roc["true_accept_rate"], dtype=np.float64),
                # The only non-finite threshold is the leading "accept nothing" +inf.
                np.asarray([np.inf if x is None else x for x in roc["thresholds"]], dtype=np.float64),
            ),
            counts=data["counts"],
            probe_counts=data["probe_counts"],
            absent_conditions=tuple(data["absent_conditions"]),
            evaluated_subjects=tuple(data["evaluated_subjects"]),
        )

    def to_markdown(self) -> str:
        """The rank-1 tables (each with its chance level), whole-probe-set figures and
        cross-view matrices as Markdown, in percent, labelled with the `to_metrics` names."""
        lines = [f"### {self.protocol} — {self.classifier} classifier", ""]
        lines.append(
            f"{self.counts.get('evaluated_subjects', 0)} subjects evaluated "
            f"({self.counts.get('excluded_train_subjects', 0)} training subjects left out), "
            f"{self.counts.get('gallery_sequences', 0)} gallery and "
            f"{self.counts.get('probe_sequences', 0)} probe sequences. "
            "Figures in %; chance = 1 / gallery identities."
        )
        lines.extend(["", _STANDARD_DESCRIPTION.get(self.protocol, "Standard protocol."), ""])
        lines.extend(self._rank1_table("standard_rank1", self.standard_rank1_by_view,
                                       self.standard_rank1, "chance", self.chance))
        if self.standard_rank1_average:
            lines.append("")
            lines.append("standard_rank1_average: " + ", ".join(
                f"{name} **{_percent(value)}**" for name, value in self.standard_rank1_average.items()))
        if self.pooled_rank1:
            lines.extend(["", "Secondary, pooled gallery: each probe at view p against one gallery "
                              "holding nm-01..04 of every view but p (easier than the standard "
                              "protocol, not the literature's figure).", ""])
            lines.extend(self._rank1_table("pooled_rank1", self.pooled_rank1_by_view,
                                           self.pooled_rank1, "pooled_chance", self.pooled_chance))
        lines.extend(["", f"Whole probe set, {self.counts.get('queries', 0)} queries "
                          f"({_QUERIES_DESCRIPTION.get(self.protocol, 'each probe against its gallery')}):",
                      "", "| metric | % |", "|---|---:|"])
        for name, value in self._whole_probe_set().items():
            lines.append(f"| {name} | {_percent(value)} |")
        if self.absent_conditions:
            lines.append("")
            lines.append("Absent probe conditions (no sequences): " + ", ".join(self.absent_conditions) + ".")
        for condition, matrix in self.cross_view.items():
            lines.extend(["", f"#### Cross-view rank-1 (%), {condition}: rows gallery view, columns "
                              f"probe view; diagonal = same view, left out of standard_rank1; "
                              f"chance {_percent(self.chance.get(condition))}", ""])
            lines.append("| gallery \\ probe | " + " | ".join(f"{v}°" for v in matrix.probe_views) + " |")
            lines.append("|---|" + "---:|" * len(matrix.probe_views))
            for g, row in zip(matrix.gallery_views, matrix.rank1):
                lines.append(f"| {g}° | " + " | ".join(_percent(x) for x in row) + " |")
        if self.counts.get("unscored_probe_gallery_view_pairs"):
            lines.extend(["", f"{self.counts['unscored_probe_gallery_view_pairs']} probe x "
                              "gallery-view pairs had no gallery sequence of the subject at that "
                              "view and are not in the standard table."])
        return "\n".join(lines) + "\n"

    def write_plots(self, directory: str | Path) -> list[Path]:
        """Writes cmc.png, roc.png and (CASIA-B) cross_view.png into `directory`; returns their paths."""
        from evaluation import plots  # matplotlib is heavy; only plotting callers pay for it

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        title = f"{self.protocol}, {self.classifier}"
        paths = [
            plots.write_cmc(self.cmc, directory / "cmc.png", title=title,
                            chance_rank1=self.chance_cmc_rank1),
            plots.write_roc(self.roc, self.equal_error_rate, directory / "roc.png", title=title),
        ]
        if self.cross_view:
            paths.append(plots.write_cross_view(self.cross_view, directory / "cross_view.png", title=title))
        return paths

    def _whole_probe_set(self) -> dict[str, float]:
        return {
            "cmc_rank1": self.cmc_at(1),
            "cmc_rank5": self.cmc_at(5),
            "chance_cmc_rank1": self.chance_cmc_rank1,
            "mean_average_precision": self.mean_average_precision,
            "mean_reciprocal_rank": self.mean_reciprocal_rank,
            "equal_error_rate": self.equal_error_rate,
        }

    def _rank1_table(
        self,
        name: str,
        by_view: Mapping[str, Mapping[int, float]],
        headline: Mapping[str, float],
        chance_name: str,
        chance: Mapping[str, float],
    ) -> list[str]:
        views = sorted({v for values in by_view.values() for v in values})
        lines = [f"Rank-1 per probe condition and probe view (cells: {name}_by_view/<condition>/<view>):", ""]
        lines.append(f"| condition | probes | " + " | ".join(f"{v}°" for v in views)
                     + f" | {name} | {chance_name} |")
        lines.append("|---|---:|" + "---:|" * (len(views) + 2))
        for condition, values in by_view.items():
            cells = [_percent(values.get(v)) for v in views]
            lines.append(
                f"| {condition} | {self.probe_counts.get(condition, 0)} | " + " | ".join(cells)
                + f" | **{_percent(headline[condition])}** | {_percent(chance.get(condition))} |"
            )
        return lines


_BY_VIEW_FIELDS = ("standard_rank1_by_view", "pooled_rank1_by_view")
_BY_KEY_FIELDS = ("standard_rank1", "standard_rank1_average", "pooled_rank1", "chance", "pooled_chance")
_SCALAR_FIELDS = ("chance_cmc_rank1", "mean_average_precision", "mean_reciprocal_rank", "equal_error_rate")

_STANDARD_DESCRIPTION = {
    "casia-b": "Standard protocol (GaitSet / OpenGait single-view gallery): gallery nm-01..04 at "
               "one view g; each probe view p is the mean over the gallery views g != p "
               "(identical view excluded); the condition's figure is the mean over probe views.",
    "tum-gaid": "Standard protocol: gallery session-1 n-01..04 (time-elapsed conditions tn, tb, "
                "ts: of the subjects with session-2 recordings only).",
}
_QUERIES_DESCRIPTION = {
    "casia-b": "each probe against each single-view gallery of another view",
    "tum-gaid": "each probe against its experiment's gallery",
}


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _percent(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100.0 * x:.1f}"


_HEADLINE_PREFIXES = ("standard_rank1/", "standard_rank1_average/", "chance/")
_HEADLINE_NAMES = ("mean_average_precision", "equal_error_rate")


def headline_metrics(reports: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """The figures a run is compared by, for each classifier's report dict, in percent.

    Args:
      reports: classifier -> `ProtocolReport.to_dict()`.
    Returns:
      "<classifier>/standard_rank1/<condition>", ".../standard_rank1_average/<experiment>",
      ".../chance/<condition>", ".../mean_average_precision", ".../equal_error_rate": the
      names `to_metrics` gives them, under the classifier.
    """
    headline = {}
    for classifier, report in reports.items():
        for name, value in ProtocolReport.from_dict(report).to_metrics().items():
            if name.startswith(_HEADLINE_PREFIXES) or name in _HEADLINE_NAMES:
                headline[f"{classifier}/{name}"] = value
    return headline
