"""How the joint-based identifier's rank-1 falls as its joints get worse.

`noise_sensitivity` perturbs true joint tracks with `synth.joint_noise` at several sizes
(independent and temporally smooth noise of 0, 1, 2, 5, 10 % of body height) and left/right swap
rates, fits the identifier on the training people and scores the test people with the data set's
standard protocol (`evaluation.protocols.evaluate`, nearest neighbour; for CASIA-B the
single-view-gallery figure, identical view excluded). The result is a JSON-ready dict.

Who gets the errors (`fit_on`):
  "noisy": every walk, training people's too, as when the joints come from a pose network for
    everyone (benchmarks/accuracy.py's `pred` figures fit the projection on predicted joints).
  "true": the identifier is fitted on the training people's true joints and meets noisy joints
    only in the test people (a ground-truth-trained identifier applied to predictions).
The draws are keyed by (seed, the noise condition's parameters, the walk's subject, condition,
index, view and session), so two identifiers scored with the same seed see exactly the same
errors, whatever other conditions or walks are in the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from evaluation.labels import SequenceLabels
from evaluation.protocols import evaluate
from synth.joint_noise import SWAP_PARTS as PARTS
from synth.joint_noise import JointNoise, error_rms

NOISE_CURVE_FORMAT = "gaitflow.noise_curve/1"
NOISE_SIZES: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.10)
SWAP_RATES: tuple[float, ...] = (0.05, 0.10, 0.20)
SWAP_PARTS: tuple[str, ...] = ("legs", "limbs")


class Identifier(Protocol):
    """What `noise_sensitivity` scores: fitted on walks' joints, maps walks to vectors compared by
    euclidean distance."""

    def fit(self, tracks: Sequence[np.ndarray], fps: Sequence[float], subjects: Sequence[str]) -> "Identifier": ...

    def transform(self, tracks: Sequence[np.ndarray], fps: Sequence[float]) -> np.ndarray: ...


def noise_conditions(sizes: Sequence[float] = NOISE_SIZES, swap_rates: Sequence[float] = SWAP_RATES,
                     swap_parts: Sequence[str] = SWAP_PARTS) -> dict[str, JointNoise]:
    """Named conditions: "clean", "independent_<p>pct", "smooth_<p>pct", "swap_<parts>_<p>pct"."""
    conditions: dict[str, JointNoise] = {}
    for size in sizes:
        if size == 0:
            conditions["clean"] = JointNoise()
            continue
        conditions[f"independent_{_percent(size)}pct"] = JointNoise(independent=size)
        conditions[f"smooth_{_percent(size)}pct"] = JointNoise(smooth=size)
    for parts in swap_parts:
        for rate in swap_rates:
            if rate > 0:
                conditions[f"swap_{parts}_{_percent(rate)}pct"] = JointNoise(swap_rate=rate, swap_parts=parts)
    return conditions


def noise_sensitivity(
    tracks: Sequence[np.ndarray],
    fps: Sequence[float],
    labels: SequenceLabels | Sequence[Mapping[str, Any]],
    train_subjects: Sequence[str],
    *,
    identifier: Callable[[], Identifier] | None = None,
    protocol: str = "casia-b",
    sizes: Sequence[float] = NOISE_SIZES,
    swap_rates: Sequence[float] = SWAP_RATES,
    swap_parts: Sequence[str] = SWAP_PARTS,
    fit_on: str = "noisy",
    seed: int = 0,
) -> dict[str, Any]:
    """The identifier's standard-protocol rank-1 at each noise condition.

    Args:
      tracks: per walk its true joints (T_i, 16, 2) in pixels.
      fps: per walk its frame rate.
      labels: SequenceLabels, or records with subject, condition, index, view, session.
      train_subjects: the people the identifier is fitted on; the others are scored.
      identifier: a factory of unfitted identifiers (fit / transform on tracks); None =
        `synth.baseline.JointIdentifier`.
      protocol: "casia-b" | "tum-gaid".
      sizes: noise sizes, SD per coordinate as a share of body height; 0 = the clean figure.
      swap_rates: shares of frames with left and right exchanged, for each of `swap_parts`.
      fit_on: "noisy" (every walk perturbed) or "true" (training walks left clean).
      seed: non-negative integer keying every draw.

    Returns:
      {"format", "protocol", "fit_on", "seed", "walks", "train_subjects", "test_subjects",
       "chance" (standard-protocol chance of the first condition),
       "conditions": {name: {"noise": JointNoise fields, "error_rms": the errors' measured RMS per
                             coordinate as a share of body height (mean over walks; swaps
                             count too), "rank1": {condition: standard rank-1},
                             "rank1_first": the first condition's figure}},
       "curves": {"independent": {size: rank1}, "smooth": {...}, "swap_<parts>": {rate: rank1}}}
      with the first probe condition's figure (nm / n) in the curves; sizes and rates as str keys.
    """
    if fit_on not in ("noisy", "true"):
        raise ValueError(f"fit_on must be 'noisy' or 'true', got {fit_on!r}")
    if len(tracks) != len(fps) or len(tracks) != len(labels):
        raise ValueError(f"tracks ({len(tracks)}), fps ({len(fps)}) and labels ({len(labels)}) must pair up")
    if identifier is None:
        from synth.baseline import JointIdentifier

        identifier = JointIdentifier
    if not isinstance(labels, SequenceLabels):
        labels = SequenceLabels.from_records(labels)
    subjects = np.asarray(labels.subject).astype(str)
    train = sorted({str(s) for s in train_subjects})
    in_train = np.isin(subjects, train)
    if not in_train.any() or in_train.all():
        raise ValueError("train_subjects must name some, but not all, of the walks' subjects")
    walk_keys = [_walk_key(labels, i) for i in range(len(labels))]

    conditions = noise_conditions(sizes, swap_rates, swap_parts)
    results: dict[str, Any] = {}
    chance = None
    curves: dict[str, dict[str, float]] = {}
    model = None
    for name, noise in conditions.items():
        noisy = [noise.apply(track, (seed, *_noise_key(noise), *key)) for track, key in zip(tracks, walk_keys)]
        if fit_on == "noisy" or model is None:  # fitted on true joints: once for every condition
            fit_tracks = noisy if fit_on == "noisy" else tracks
            model = identifier().fit([np.asarray(fit_tracks[i], dtype=np.float64) for i in np.flatnonzero(in_train)],
                                     [float(fps[i]) for i in np.flatnonzero(in_train)], subjects[in_train])
        vectors = model.transform(noisy, [float(f) for f in fps])
        report = evaluate(vectors, labels, protocol, classifier="nn", train_subjects=train)
        first = next(iter(report.standard_rank1))
        if chance is None:
            chance = round(float(report.chance[first]), 4)
        rank1 = {c: round(float(v), 4) for c, v in report.standard_rank1.items()}
        measured = float(np.mean([error_rms(n, t) for n, t in zip(noisy, tracks)]))
        results[name] = {"noise": noise.to_json(), "error_rms": round(measured, 5), "rank1": rank1,
                         "rank1_first": rank1[first]}
        for curve, level in _curve_points(noise):
            curves.setdefault(curve, {})[level] = rank1[first]
    for name in list(curves):
        if "clean" in results:
            curves[name] = {"0": results["clean"]["rank1_first"], **curves[name]}
    return {
        "format": NOISE_CURVE_FORMAT,
        "protocol": protocol,
        "fit_on": fit_on,
        "seed": seed,
        "walks": len(tracks),
        "train_subjects": len(train),
        "test_subjects": int(np.unique(subjects[~in_train]).size),
        "chance": chance,
        "conditions": results,
        "curves": curves,
    }


def _curve_points(noise: JointNoise) -> list[tuple[str, str]]:
    if noise.is_zero:
        return []
    if noise.swap_rate > 0:
        return [(f"swap_{noise.swap_parts}", f"{noise.swap_rate:g}")]
    if noise.independent > 0:
        return [("independent", f"{noise.independent:g}")]
    return [("smooth", f"{noise.smooth:g}")]


def _noise_key(noise: JointNoise) -> tuple[int, ...]:
    """Integers naming a noise condition, so that it draws the same errors whatever other
    conditions are asked for."""
    return (round(noise.independent * 1e4), round(noise.smooth * 1e4), round(noise.swap_rate * 1e4),
            list(PARTS).index(noise.swap_parts), round(noise.correlation_frames * 100), noise.swap_run_frames)


def _walk_key(labels: SequenceLabels, i: int) -> tuple[int, ...]:
    """Integers naming walk i: its subject's digits, condition (by sorted name), index, view,
    session; the same walk gets the same draws whatever else is in the set."""
    subject = "".join(ch for ch in str(labels.subject[i]) if ch.isdigit()) or "0"
    condition = sum(ord(ch) * 256**k for k, ch in enumerate(str(labels.condition[i])[:4]))
    return (int(subject), int(condition), int(labels.index[i]), int(labels.view[i]), int(labels.session[i]))


def _percent(share: float) -> str:
    return f"{100 * share:g}".replace(".", "p")
