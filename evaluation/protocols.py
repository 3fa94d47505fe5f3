"""The CASIA-B and TUM GAID evaluation protocols, and their train/test subject splits.

`evaluate` scores probe walks against gallery walks of the subjects outside the training split
and returns a `ProtocolReport`.

CASIA-B (one experiment, "all"), the single-view-gallery protocol of GaitSet and OpenGait
(`single_view_gallery_evaluation`):
  gallery nm-01..04; probe conditions nm (nm-05..06), bg (bg-01..02), cl (cl-01..02). For every
  probe view p and gallery view g the gallery is the nm-01..04 walks at view g ONLY, and
  acc[c, p, g] is the share of condition-c probes at view p whose best gallery match is their own
  subject (the `cross_view` matrices). Identical view excluded: the figure of probe view p is the
  mean of acc[c, p, g] over g != p (`standard_rank1_by_view`), and the headline of condition c
  is the mean of those over p (`standard_rank1`). The views are those present in the data.
  Secondary, and easier: each probe at view p against ONE gallery pooling every view but p
  (`pooled_rank1*`), where the nearest view usually holds the answer.

TUM GAID (two experiments):
  "session-1": gallery session-1 n-01..04; probes n (n-05..06), b (b-01..02), s (s-01..02).
  "time-elapsed": gallery session-1 n-01..04 of only the subjects with session-2 recordings;
  probes tn, tb, ts = every session-2 walk of condition n, b, s.
  All TUM GAID walks are at view 90, so there is one gallery per experiment and nothing pooled.

Whole probe set (CMC, mAP, MRR, ROC/EER): every scored probe x gallery query of the standard
protocol, i.e. for CASIA-B each probe against each single-view gallery of another view.

Standard splits (`split_subjects`), by the number in the subject id:
  CASIA-B: 001-074 train, 075-124 test (the common 74/50 split).
  TUM GAID: p001-p150 train, p151-p305 test. The published protocol fixes 150 development
  subjects (100 train + 50 validation) and 155 test subjects by id lists; this uses the same
  150/155 sizes by id order, not those lists.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable
from typing import Literal

import numpy as np

from evaluation.classifiers import CLASSIFIERS, ClassifierName, score_gallery
from evaluation.labels import SequenceLabels
from evaluation.metrics import (
    cmc_from_ranks,
    equal_error_rate_of,
    genuine_impostor_scores,
    match_ranks,
    mean_average_precision,
    roc_curve,
)
from evaluation.report import CrossViewMatrix, ProtocolReport

ProtocolName = Literal["casia-b", "tum-gaid"]
PROTOCOLS: tuple[str, ...] = ("casia-b", "tum-gaid")

# Inclusive subject-number ranges of the standard training split.
STANDARD_TRAIN_NUMBERS: dict[str, tuple[int, int]] = {"casia-b": (1, 74), "tum-gaid": (1, 150)}


@dataclasses.dataclass(frozen=True)
class _Walks:
    """A kind of sequence: condition, walk numbers (None = any) and session (None = any)."""

    condition: str
    indices: tuple[int, ...] | None
    session: int | None

    def mask(self, labels: SequenceLabels) -> np.ndarray:
        mask = labels.condition == self.condition
        if self.indices is not None:
            mask &= np.isin(labels.index, self.indices)
        if self.session is not None:
            mask &= labels.session == self.session
        return mask

    def describe(self) -> str:
        walks = self.condition
        if self.indices is not None:
            walks += f"-{min(self.indices):02d}..{max(self.indices):02d}"
        return walks if self.session is None else f"session-{self.session} {walks}"


@dataclasses.dataclass(frozen=True)
class _Experiment:
    name: str
    gallery: _Walks
    probes: tuple[tuple[str, _Walks], ...]  # (condition key in the report, its walks)
    # Restrict the gallery to subjects that have a recording in this session.
    gallery_subjects_with_session: int | None = None
    # CASIA-B: one gallery per view, identical view excluded (module docstring).
    single_view_galleries: bool = False


_EXPERIMENTS: dict[str, tuple[_Experiment, ...]] = {
    "casia-b": (
        _Experiment(
            name="all",
            gallery=_Walks("nm", (1, 2, 3, 4), None),
            probes=(
                ("nm", _Walks("nm", (5, 6), None)),
                ("bg", _Walks("bg", (1, 2), None)),
                ("cl", _Walks("cl", (1, 2), None)),
            ),
            single_view_galleries=True,
        ),
    ),
    "tum-gaid": (
        _Experiment(
            name="session-1",
            gallery=_Walks("n", (1, 2, 3, 4), 1),
            probes=(
                ("n", _Walks("n", (5, 6), 1)),
                ("b", _Walks("b", (1, 2), 1)),
                ("s", _Walks("s", (1, 2), 1)),
            ),
        ),
        _Experiment(
            name="time-elapsed",
            gallery=_Walks("n", (1, 2, 3, 4), 1),
            probes=(
                ("tn", _Walks("n", None, 2)),
                ("tb", _Walks("b", None, 2)),
                ("ts", _Walks("s", None, 2)),
            ),
            gallery_subjects_with_session=2,
        ),
    ),
}


def evaluate(
    descriptors: np.ndarray,
    labels: SequenceLabels,
    protocol: ProtocolName,
    *,
    classifier: ClassifierName = "svm",
    train_subjects: Collection[str] = (),
) -> ProtocolReport:
    """Runs a data set's identification protocol on per-sequence gait descriptors.

    Args:
      descriptors: (N, D) float, one descriptor per sequence.
      labels: N sequence labels (subject, condition, index, view, session).
      protocol: "casia-b" | "tum-gaid" (see the module docstring).
      classifier: "svm" (linear SVM on the gallery, the seed's choice) or "nn" (nearest
        gallery neighbour, euclidean).
      train_subjects: subjects the descriptor network was trained on; they are left out.
        `split_subjects` gives the standard split.

    Returns:
      The ProtocolReport of the remaining (test) subjects. Probe conditions without any
      sequence are listed in `absent_conditions`.

    Raises:
      ValueError: on misshapen inputs, an unknown protocol/classifier, no test subject left
        after removing the training subjects, an empty gallery, a probe subject without gallery
        sequences, (CASIA-B) a view with probe sequences but no gallery sequence or only one
        view, or no probe sequence at all.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}")
    if isinstance(train_subjects, str):
        raise TypeError(
            "train_subjects is a collection of subject ids, not a string; "
            "use split_subjects() to turn a split string into ids"
        )
    descriptors = np.asarray(descriptors, dtype=np.float64)
    if descriptors.ndim != 2:
        raise ValueError(f"descriptors must be an (N, D) array, got shape {descriptors.shape}")
    if descriptors.shape[0] != len(labels):
        raise ValueError(
            f"{descriptors.shape[0]} descriptors but {len(labels)} labels; they must pair up"
        )
    if not np.isfinite(descriptors).all():
        bad = int((~np.isfinite(descriptors)).any(axis=1).sum())
        raise ValueError(f"{protocol}: {bad} descriptors contain NaN or infinite values")

    all_subjects = np.asarray(labels.subject).astype(str)
    train = {str(s) for s in train_subjects}
    evaluated = ~np.isin(all_subjects, list(train))
    if not evaluated.any():
        raise ValueError(
            f"{protocol}: all {np.unique(all_subjects).size} subjects are training subjects; "
            "no test subject is left to evaluate"
        )
    run = _ProtocolRun(
        protocol=protocol,
        classifier=classifier,
        descriptors=descriptors[evaluated],
        labels=labels.select(evaluated),
    )
    return run.report(excluded_train_subjects=len(set(all_subjects[~evaluated])))


def _natural_key(subject: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", subject) if part]


def split_subjects(
    subjects: Iterable[str], protocol: ProtocolName, train_subjects: str | None
) -> tuple[frozenset[str], frozenset[str]]:
    """Splits subject ids into (train, test).

    Args:
      subjects: the subject ids present (e.g. "001", "p001").
      protocol: "casia-b" | "tum-gaid", which picks the standard split.
      train_subjects: None for the standard split (module docstring); "N" for the first N
        subjects in sorted order; "A-B" for the subjects numbered A..B inclusive, the number
        being the digits of the id ("p012" -> 12).

    Returns:
      (train, test), disjoint, together all of `subjects`.

    Raises:
      ValueError: an unknown protocol, a malformed split string, an id without digits where
        numbers are needed, or a split that leaves no train or no test subject.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if isinstance(subjects, str):
        raise TypeError("subjects must be an iterable of ids, not a single string")
    # In number order where ids hold numbers ("2" before "10"; "p2" before "p10"): zero-padded
    # ids such as CASIA-B's sort the same either way.
    ordered = sorted({str(s) for s in subjects}, key=_natural_key)
    if not ordered:
        raise ValueError(f"{protocol}: no subjects to split")
    if train_subjects is None:
        low, high = STANDARD_TRAIN_NUMBERS[protocol]
        train = {s for s in ordered if low <= _subject_number(s) <= high}
        described = f"the standard {protocol} split (subjects {low}-{high} train)"
    else:
        spec = train_subjects.strip()
        if match := re.fullmatch(r"(\d+)", spec):
            count = int(match.group(1))
            train = set(ordered[:count])
            described = f"split {train_subjects!r} (the first {count} subjects train)"
        elif match := re.fullmatch(r"(\d+)\s*-\s*(\d+)", spec):
            low, high = int(match.group(1)), int(match.group(2))
            if low > high:
                raise ValueError(f"split {train_subjects!r}: the range {low}-{high} runs backwards")
            train = {s for s in ordered if low <= _subject_number(s) <= high}
            described = f"split {train_subjects!r} (subjects {low}-{high} train)"
        else:
            raise ValueError(
                f"split {train_subjects!r} is neither 'N' (the first N subjects train) "
                "nor 'A-B' (subjects numbered A..B train)"
            )
    test = set(ordered) - train
    if not train:
        raise ValueError(f"{protocol}: {described} leaves no training subject among {len(ordered)}")
    if not test:
        raise ValueError(f"{protocol}: {described} leaves no test subject among {len(ordered)}")
    return frozenset(train), frozenset(test)


def _subject_number(subject: str) -> int:
    digits = "".join(re.findall(r"\d", subject))
    if not digits:
        raise ValueError(f"subject id {subject!r} has no digits to number it by")
    return int(digits)


@dataclasses.dataclass
class _ProtocolRun:
    """One evaluation in progress; collects per-probe results across experiments and views."""

    protocol: str
    classifier: ClassifierName
    descriptors: np.ndarray  # (N, D)
    labels: SequenceLabels

    def __post_init__(self) -> None:
        self.subjects = np.asarray(self.labels.subject).astype(str)
        self.views = np.asarray(self.labels.view)
        self.standard_rank1: dict[str, float] = {}
        self.standard_rank1_by_view: dict[str, dict[int, float]] = {}
        self.standard_rank1_average: dict[str, float] = {}
        self.pooled_rank1: dict[str, float] = {}
        self.pooled_rank1_by_view: dict[str, dict[int, float]] = {}
        self.chance: dict[str, float] = {}
        self.pooled_chance: dict[str, float] = {}
        self.cross_view: dict[str, CrossViewMatrix] = {}
        self.probe_counts: dict[str, int] = {}
        self.absent: list[str] = []
        # Whole-probe-set accumulators, one entry per scored block of queries.
        self.ranks: list[np.ndarray] = []
        self.average_precision_sums: list[float] = []
        self.query_chance: list[np.ndarray] = []
        self.genuine: list[np.ndarray] = []
        self.impostor: list[np.ndarray] = []
        self.widest_gallery = 0
        self.unscored_pairs = 0

    def report(self, *, excluded_train_subjects: int) -> ProtocolReport:
        experiments = _EXPERIMENTS[self.protocol]
        main_gallery = experiments[0].gallery.mask(self.labels)
        gallery_subjects = np.unique(self.subjects[main_gallery])
        if gallery_subjects.size == 0:
            raise ValueError(
                f"{self.protocol}: the gallery ({experiments[0].gallery.describe()}) is empty: "
                f"none of the {len(self.labels)} sequences of the "
                f"{np.unique(self.subjects).size} evaluated subjects is a gallery walk"
            )
        if gallery_subjects.size < 2:
            raise ValueError(
                f"{self.protocol}: the gallery ({experiments[0].gallery.describe()}) holds only "
                f"subject {gallery_subjects[0]}; identification needs at least two subjects"
            )
        for experiment in experiments:
            self._run_experiment(experiment)
        if not self.ranks:
            conditions = ", ".join(
                f"{name} ({walks.describe()})" for e in experiments for name, walks in e.probes
            )
            raise ValueError(
                f"{self.protocol}: no probe sequences among the {len(self.labels)} evaluated "
                f"sequences; expected any of {conditions}"
            )
        ranks = np.concatenate(self.ranks)
        roc = roc_curve(np.concatenate(self.genuine), np.concatenate(self.impostor))
        return ProtocolReport(
            protocol=self.protocol,
            classifier=self.classifier,
            standard_rank1=self.standard_rank1,
            standard_rank1_by_view=self.standard_rank1_by_view,
            standard_rank1_average=self.standard_rank1_average,
            pooled_rank1=self.pooled_rank1,
            pooled_rank1_by_view=self.pooled_rank1_by_view,
            chance=self.chance,
            pooled_chance=self.pooled_chance,
            cross_view=self.cross_view,
            cmc=cmc_from_ranks(ranks, self.widest_gallery),
            chance_cmc_rank1=float(np.mean(np.concatenate(self.query_chance))),
            mean_average_precision=float(np.sum(self.average_precision_sums) / ranks.size),
            mean_reciprocal_rank=float(np.mean(1.0 / ranks)),
            roc=roc,
            equal_error_rate=equal_error_rate_of(roc),
            counts={
                "evaluated_subjects": np.unique(self.subjects).size,
                "excluded_train_subjects": excluded_train_subjects,
                "gallery_sequences": int(main_gallery.sum()),
                "gallery_subjects": gallery_subjects.size,
                "probe_sequences": int(sum(self.probe_counts.values())),
                "queries": ranks.size,
                "unscored_probe_gallery_view_pairs": self.unscored_pairs,
            },
            probe_counts=self.probe_counts,
            absent_conditions=tuple(self.absent),
            evaluated_subjects=tuple(np.unique(self.subjects).tolist()),
        )

    def _run_experiment(self, experiment: _Experiment) -> None:
        where = f"{self.protocol}" if experiment.name == "all" else f"{self.protocol} {experiment.name}"
        condition_masks: dict[str, np.ndarray] = {}
        for condition, walks in experiment.probes:
            mask = walks.mask(self.labels)
            if mask.any():
                condition_masks[condition] = mask
                self.probe_counts[condition] = int(mask.sum())
            else:
                self.absent.append(condition)
        if not condition_masks:
            return
        gallery = experiment.gallery.mask(self.labels)
        gallery_description = experiment.gallery.describe()
        if experiment.gallery_subjects_with_session is not None:
            session = experiment.gallery_subjects_with_session
            recorded = np.unique(self.subjects[self.labels.session == session])
            gallery &= np.isin(self.subjects, recorded)
            gallery_description += f" of the subjects with session-{session} recordings"
        if not gallery.any():
            raise ValueError(f"{where}: the gallery ({gallery_description}) is empty")
        probes = np.flatnonzero(np.logical_or.reduce(list(condition_masks.values())))
        probe_condition = np.empty(probes.size, dtype=object)
        for condition, mask in condition_masks.items():
            probe_condition[mask[probes]] = condition
        self._require_gallery(probes, probe_condition, gallery, f"{where}: gallery ({gallery_description})")

        if experiment.single_view_galleries:
            self._single_view_galleries(where, gallery, gallery_description, probes, probe_condition)
        else:
            ranks, subject_count = self._score(probes, gallery, np.ones(probes.size, dtype=bool))
            probe_views = self.views[probes]
            for condition in dict.fromkeys(probe_condition.tolist()):
                in_condition = probe_condition == condition
                self.standard_rank1_by_view[condition] = {
                    int(view): float(np.mean(ranks[in_condition & (probe_views == view)] == 1))
                    for view in np.unique(probe_views[in_condition])
                }
                self.standard_rank1[condition] = float(
                    np.mean(list(self.standard_rank1_by_view[condition].values()))
                )
                self.chance[condition] = 1.0 / subject_count
        self.standard_rank1_average[experiment.name] = float(
            np.mean([self.standard_rank1[c] for c in condition_masks])
        )

    def _single_view_galleries(
        self,
        where: str,
        gallery: np.ndarray,
        gallery_description: str,
        probes: np.ndarray,
        probe_condition: np.ndarray,
    ) -> None:
        """The CASIA-B standard table: acc[c, p, g] per single-view gallery g, then g != p."""
        probe_views = self.views[probes]
        gallery_views = np.unique(self.views[gallery])
        without_gallery = sorted(set(np.unique(probe_views).tolist()) - set(gallery_views.tolist()))
        if without_gallery:
            named = ", ".join(f"{v}°" for v in without_gallery)
            raise ValueError(
                f"{where}: no gallery sequence ({gallery_description}) at view"
                f"{'s' if len(without_gallery) > 1 else ''} {named}, where there are probe "
                f"sequences; the single-view-gallery protocol needs gallery walks at every view "
                f"(gallery views: {', '.join(f'{v}°' for v in gallery_views.tolist())})"
            )
        if gallery_views.size < 2:
            raise ValueError(
                f"{where}: no gallery sequence outside probe view {gallery_views[0]}° (gallery "
                f"views: {gallery_views.tolist()}); the identical-view-excluded protocol needs "
                "gallery walks at another view"
            )
        conditions = list(dict.fromkeys(probe_condition.tolist()))

        # Secondary figure: one gallery pooling every view but the probe's.
        pooled_chance_by_view: dict[int, float] = {}
        for view in np.unique(probe_views):
            rows = np.flatnonzero(probe_views == view)
            pooled_gallery = gallery & (self.views != view)
            self._require_gallery(
                probes[rows], probe_condition[rows], pooled_gallery,
                f"{where}: gallery ({gallery_description}) without view {view}° "
                f"for the probes at view {view}°",
            )
            ranks, subject_count = self._score(probes[rows], pooled_gallery, np.zeros(rows.size, dtype=bool))
            pooled_chance_by_view[int(view)] = 1.0 / subject_count
            for condition in conditions:
                in_condition = probe_condition[rows] == condition
                if in_condition.any():
                    self.pooled_rank1_by_view.setdefault(condition, {})[int(view)] = float(
                        np.mean(ranks[in_condition] == 1)
                    )
        for condition in conditions:
            by_view = dict(sorted(self.pooled_rank1_by_view[condition].items()))
            self.pooled_rank1_by_view[condition] = by_view
            self.pooled_rank1[condition] = float(np.mean(list(by_view.values())))
            self.pooled_chance[condition] = float(np.mean([pooled_chance_by_view[v] for v in by_view]))

        # The standard table: each probe against each single-view gallery.
        correct = np.full((probes.size, gallery_views.size), np.nan)  # (probes, gallery views)
        chance_at = np.full(gallery_views.size, np.nan)  # 1 / identities of gallery view g
        for column, gallery_view in enumerate(gallery_views):
            view_gallery = gallery & (self.views == gallery_view)
            scorable = np.isin(self.subjects[probes], self.subjects[view_gallery])
            off_view = probe_views != gallery_view
            self.unscored_pairs += int((~scorable & off_view).sum())
            rows = np.flatnonzero(scorable)
            if rows.size == 0:
                continue
            ranks, subject_count = self._score(probes[rows], view_gallery, off_view[rows])
            correct[rows, column] = ranks == 1
            chance_at[column] = 1.0 / subject_count

        for condition in conditions:
            in_condition = probe_condition == condition
            condition_views = np.unique(probe_views[in_condition])
            matrix = np.full((gallery_views.size, condition_views.size), np.nan)
            for c, probe_view in enumerate(condition_views):
                cell = in_condition & (probe_views == probe_view)
                for g in range(gallery_views.size):
                    scored = correct[cell, g]
                    scored = scored[np.isfinite(scored)]
                    if scored.size:
                        matrix[g, c] = scored.mean()
            self.cross_view[condition] = CrossViewMatrix(
                tuple(gallery_views.tolist()), tuple(condition_views.tolist()), matrix
            )
            by_view, chance_by_view = {}, []
            for c, probe_view in enumerate(condition_views):
                other = (gallery_views != probe_view) & np.isfinite(matrix[:, c])
                # Never empty: _require_gallery above found a gallery walk of every probe's
                # subject at some other view, so that view's cell has a scored probe.
                by_view[int(probe_view)] = float(matrix[other, c].mean())
                chance_by_view.append(chance_at[other].mean())
            self.standard_rank1_by_view[condition] = by_view
            self.standard_rank1[condition] = float(np.mean(list(by_view.values())))
            self.chance[condition] = float(np.mean(chance_by_view))

    def _score(
        self, probes: np.ndarray, gallery: np.ndarray, whole_set: np.ndarray
    ) -> tuple[np.ndarray, int]:
        """Ranks sequence indices `probes` (p,) against gallery mask (N,) bool.

        The probes where `whole_set` (p,) bool is true count as queries of the whole-probe-set
        figures (CMC, mAP, MRR, ROC).

        Returns:
          (p,) int match ranks among the gallery's subjects, and the number of those subjects.
        """
        scores = score_gallery(
            self.classifier,
            self.descriptors[gallery],
            self.subjects[gallery],
            self.descriptors[probes],
        )
        by_subject = scores.by_subject
        probe_subjects = self.subjects[probes]
        ranks = match_ranks(
            by_subject.matrix, probe_subjects, by_subject.subjects,
            higher_is_better=by_subject.higher_is_better,
        )
        subject_count = int(by_subject.subjects.size)
        if whole_set.any():
            self.ranks.append(ranks[whole_set])
            self.average_precision_sums.append(
                whole_set.sum()
                * mean_average_precision(
                    scores.by_entry[whole_set], probe_subjects[whole_set], scores.entry_subjects,
                    higher_is_better=scores.higher_is_better,
                )
            )
            self.query_chance.append(np.full(int(whole_set.sum()), 1.0 / subject_count))
            # The ROC wants "higher = more genuine"; distances are negated to match.
            oriented = by_subject.matrix if by_subject.higher_is_better else -by_subject.matrix
            genuine, impostor = genuine_impostor_scores(
                oriented[whole_set], probe_subjects[whole_set], by_subject.subjects
            )
            self.genuine.append(genuine)
            self.impostor.append(impostor)
            self.widest_gallery = max(self.widest_gallery, subject_count)
        return ranks, subject_count

    def _require_gallery(
        self, probes: np.ndarray, probe_condition: np.ndarray, gallery: np.ndarray, where: str
    ) -> None:
        missing = ~np.isin(self.subjects[probes], self.subjects[gallery])
        if missing.any():
            subjects = sorted(set(self.subjects[probes[missing]].tolist()))
            conditions = ", ".join(dict.fromkeys(probe_condition[missing].tolist()))
            shown = ", ".join(subjects[:10]) + ("" if len(subjects) <= 10 else f" and {len(subjects) - 10} more")
            raise ValueError(
                f"{where} has no sequence of probe subjects {shown} "
                f"(their probes are in condition {conditions})"
            )
