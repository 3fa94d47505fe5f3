"""How well predicted 2-D joints match the ground truth, in shares of body height.

Every figure is normalised by the person's body height in the same frame, so it does not depend
on frame size or on how far the person is from the camera. Joints are in MPII order (see
DEVELOPMENT.md, "Ground-truth sidecar"); left and right are the person's own. Only joints the
ground truth marks visible are scored: an occluded or out-of-frame joint's prediction is a guess
the network cannot be held to, and its true position may be missing (NaN) in real annotations.

Figures (all pooled over every sequence, so a longer sequence weighs more):
  mean error: mean over visible joints of |predicted - true| / body height.
  PCK@a: share of visible joints with |predicted - true| <= a x body height (a = 0.1, 0.2 by
    default), overall and per joint group (`JOINT_GROUPS`).
  swap rate: share of frames whose leg joints (hips, knees, ankles) fit the truth better, by a
    clear margin, with the prediction's left and right exchanged (`leg_swap_frames`).
  jitter: mean over visible joints of the Euclidean norm of the second difference of the
    prediction error, per body height (`_error_accelerations`). The second difference of the
    error (p - g) is, by linearity, the prediction's acceleration minus the truth's: the real
    motion (a swinging foot accelerates a lot) cancels, and so does any constant or linearly
    drifting bias, leaving only frame-to-frame noise the truth does not have. For white noise of
    standard deviation s per coordinate (in body heights) it is s * sqrt(3 * pi) ~= 3.07 s.
  collapse rate: share of knee and ankle pairs, over frames where the truth holds the two more
    than 2 x `DEFAULT_COLLAPSE_DISTANCE` apart (both visible), that the prediction puts within
    `DEFAULT_COLLAPSE_DISTANCE` of each other: both joints on one limb (`limb_collapses`). A
    network that cannot tell a person's left leg from the right paints both feet on both maps,
    and each map's maximum then finds the same foot; the swap rate cannot see this.
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
    "l_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)
R_ANKLE, R_KNEE, R_HIP, L_HIP, L_KNEE, L_ANKLE = 0, 1, 2, 3, 4, 5
HEAD_TOP = 9

JOINT_GROUPS: Mapping[str, tuple[int, ...]] = types.MappingProxyType({
    "legs": (R_ANKLE, R_KNEE, L_KNEE, L_ANKLE),
    "hips": (R_HIP, L_HIP, 6),
    "torso_head": (7, 8, HEAD_TOP),
    "arms": (10, 11, 12, 13, 14, 15),
})
"""Group name -> MPII joint indices; the groups cover every joint exactly once."""

RIGHT_LEG: tuple[int, ...] = (R_HIP, R_KNEE, R_ANKLE)
LEFT_LEG: tuple[int, ...] = (L_HIP, L_KNEE, L_ANKLE)
"""Leg joints paired by position: RIGHT_LEG[k] is the right counterpart of LEFT_LEG[k]."""

DEFAULT_PCK_THRESHOLDS: tuple[float, ...] = (0.1, 0.2)
DEFAULT_SWAP_MARGIN = 0.05
DEFAULT_COLLAPSE_DISTANCE = 0.05
LIMB_PAIRS: tuple[tuple[int, int], ...] = ((R_KNEE, L_KNEE), (R_ANKLE, L_ANKLE))


@dataclasses.dataclass(frozen=True)
class PoseQuality:
    """What `pose_quality` found. Errors and jitter are in body heights; rates in [0, 1].

    A figure with nothing to measure (a group with no visible joint, no frame whose legs can be
    compared, no sequence of three frames) is NaN here and null in `to_dict`.

    Attributes:
      mean_error: mean over visible joints of |predicted - true| / body height.
      pck: threshold a -> share of visible joints within a x body height.
      mean_error_by_group: group name (`JOINT_GROUPS`) -> mean error of its visible joints.
      pck_by_group: group name -> threshold -> PCK of its visible joints.
      joints_evaluated_by_group: group name -> visible joints scored.
      swap_rate: swapped frames / frames whose legs were compared.
      jitter: mean over visible joint triples (t-1, t, t+1) of |second difference of the
        prediction error| / body height at t.
      sequences, frames: how many were scored.
      joints_evaluated: visible joints scored (joint-frames).
      swap_frames: frames counted as left/right swapped.
      swap_frames_evaluated: frames with at least one left/right leg pair visible on both sides.
      jitter_samples: joint triples that went into `jitter`.
      swap_margin: the margin a swap had to win by (mean leg-joint error, body heights).
      collapse_rate: collapsed knee and ankle pairs / pairs evaluated (`limb_collapses`).
      collapse_pairs_evaluated: pair-frames whose truth holds the two joints apart.
    """

    mean_error: float
    pck: Mapping[float, float]
    mean_error_by_group: Mapping[str, float]
    pck_by_group: Mapping[str, Mapping[float, float]]
    joints_evaluated_by_group: Mapping[str, int]
    swap_rate: float
    jitter: float
    sequences: int
    frames: int
    joints_evaluated: int
    swap_frames: int
    swap_frames_evaluated: int
    jitter_samples: int
    swap_margin: float
    collapse_rate: float = math.nan
    collapse_pairs_evaluated: int = 0

    def __post_init__(self) -> None:
        freeze = types.MappingProxyType
        object.__setattr__(self, "pck", freeze({float(a): float(x) for a, x in self.pck.items()}))
        object.__setattr__(self, "mean_error_by_group",
                           freeze({g: float(x) for g, x in self.mean_error_by_group.items()}))
        object.__setattr__(self, "pck_by_group", freeze({
            g: freeze({float(a): float(x) for a, x in by_threshold.items()})
            for g, by_threshold in self.pck_by_group.items()
        }))
        object.__setattr__(self, "joints_evaluated_by_group",
                           freeze({g: int(n) for g, n in self.joints_evaluated_by_group.items()}))
        for name in ("mean_error", "swap_rate", "jitter", "swap_margin", "collapse_rate"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("sequences", "frames", "joints_evaluated", "swap_frames",
                     "swap_frames_evaluated", "jitter_samples", "collapse_pairs_evaluated"):
            object.__setattr__(self, name, int(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-serialisable dict (non-finite numbers become None).

        Keys: "mean_error", "pck_<a>" per threshold (a as `format(a, "g")`: "pck_0.1",
        "pck_0.2"), "<group>/mean_error", "<group>/pck_<a>", "<group>/joints_evaluated" per
        group of `JOINT_GROUPS`, "swap_rate", "jitter", "sequences", "frames",
        "joints_evaluated", "swap_frames", "swap_frames_evaluated", "jitter_samples",
        "swap_margin", "collapse_rate", "collapse_pairs_evaluated". The names are valid MLflow metric names.
        """
        data: dict[str, Any] = {"mean_error": _finite_or_none(self.mean_error)}
        for a, share in self.pck.items():
            data[_pck_key(a)] = _finite_or_none(share)
        for group, error in self.mean_error_by_group.items():
            data[f"{group}/mean_error"] = _finite_or_none(error)
            for a, share in self.pck_by_group[group].items():
                data[f"{group}/{_pck_key(a)}"] = _finite_or_none(share)
            data[f"{group}/joints_evaluated"] = self.joints_evaluated_by_group[group]
        data["swap_rate"] = _finite_or_none(self.swap_rate)
        data["jitter"] = _finite_or_none(self.jitter)
        for name in ("sequences", "frames", "joints_evaluated", "swap_frames",
                     "swap_frames_evaluated", "jitter_samples"):
            data[name] = getattr(self, name)
        data["swap_margin"] = self.swap_margin
        data["collapse_rate"] = _finite_or_none(self.collapse_rate)
        data["collapse_pairs_evaluated"] = self.collapse_pairs_evaluated
        return data


def body_height(joints_xy: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Per-frame body height: the distance from head top to the midpoint of the two ankles.

    Head top to mid-ankle is the body's full extent along its axis and, unlike a bounding box,
    does not change with arm swing or outstretched limbs; taking the ankles' midpoint keeps it
    nearly constant over the gait cycle (the stance foot stays down while the other swings;
    a few percent of variation remain). It is the straight-line image distance, so it stays
    meaningful for any walking direction. It is taken per frame, not once per sequence, so it
    follows the change of scale of a person walking towards or away from the camera.

    A frame is measured where head top and both ankles are visible, finite, and the distance is
    positive. Every other frame gets the median of the sequence's measured frames (the body's
    size changes slowly, so a neighbouring value is a fair stand-in). When no frame has all
    three visible (an ankle hidden behind the other leg for a whole frontal walk), frames where
    the truth gives them finite places although hidden are measured instead.

    Args:
      joints_xy: (T, 16, 2) float, the true joints in pixels, MPII order.
      visible: (T, 16) bool (or 0/1), the truth's visibility.

    Returns:
      (T,) float, body height in pixels, every entry positive.

    Raises:
      ValueError: on misshapen inputs, or when no frame of the sequence can be measured.
    """
    joints_xy = np.asarray(joints_xy, dtype=np.float64)
    visible = np.asarray(visible) != 0
    _check_sequence_shapes(joints_xy, visible, "joints_xy", "visible")
    mid_ankle = 0.5 * (joints_xy[:, R_ANKLE] + joints_xy[:, L_ANKLE])
    with np.errstate(invalid="ignore"):
        heights = np.linalg.norm(joints_xy[:, HEAD_TOP] - mid_ankle, axis=-1)
        known = np.isfinite(heights) & (np.where(np.isfinite(heights), heights, 0.0) > 0.0)
    measured = visible[:, [HEAD_TOP, R_ANKLE, L_ANKLE]].all(axis=1) & known
    if not measured.any():
        # Seen from the front or back, one ankle can hide behind the other for a whole walk;
        # where the truth still knows where hidden joints are (synthetic walkers), they measure.
        measured = known
    if not measured.any():
        raise ValueError(
            "no frame has head top and both ankles visible or at known places, so the body height "
            f"cannot be measured ({len(heights)} frames)"
        )
    return np.where(measured, heights, np.median(heights[measured]))


def leg_swap_frames(
    predicted: np.ndarray,
    truth: np.ndarray,
    visible: np.ndarray,
    heights: np.ndarray,
    *,
    margin: float = DEFAULT_SWAP_MARGIN,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames whose predicted legs fit the truth clearly better with left and right exchanged.

    Per frame, over the leg pairs (hips, knees, ankles) whose right and left joints are both
    visible: `direct` = mean of |p_right - g_right| and |p_left - g_left|, `exchanged` = mean
    of |p_right - g_left| and |p_left - g_right|, both in body heights. The frame is swapped
    when exchanged < direct - margin. The margin keeps ambiguous frames out: where the legs
    cross or overlap in the image (mid-stance in a side view) both fits are about equally
    good and noise alone would decide; a true swap of legs that are d body heights apart on
    average wins by d. The default 0.05 counts swaps of legs more than about a twentieth of
    the body height apart, well above a useful pose network's per-joint noise.

    Args:
      predicted: (T, 16, 2) float, predicted joints in pixels.
      truth: (T, 16, 2) float, true joints in pixels.
      visible: (T, 16) bool, the truth's visibility.
      heights: (T,) float, body height per frame in pixels.
      margin: how much lower, in body heights, the exchanged fit's mean error must be.

    Returns:
      (swapped, evaluated): (T,) bool each. `evaluated` marks frames with at least one leg
      pair visible on both sides; `swapped` is only ever True on those.
    """
    if margin < 0:
        raise ValueError(f"margin must not be negative, got {margin}")
    right, left = list(RIGHT_LEG), list(LEFT_LEG)
    visible = np.asarray(visible) != 0
    pair_visible = visible[:, right] & visible[:, left]  # (T, 3)

    def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (T, 3, 2) x2 -> (T, 3)
        # Zero for pairs not visible on both sides (NaNs there never reach the sums).
        return np.linalg.norm(np.where(pair_visible[..., None], a - b, 0.0), axis=-1)

    predicted, truth = np.asarray(predicted, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    p_right, p_left = predicted[:, right], predicted[:, left]
    g_right, g_left = truth[:, right], truth[:, left]
    direct = distance(p_right, g_right) + distance(p_left, g_left)
    exchanged = distance(p_right, g_left) + distance(p_left, g_right)
    joints = 2 * pair_visible.sum(axis=1)
    evaluated = joints > 0
    scale = np.where(evaluated, joints * heights, 1.0)
    direct_error = direct.sum(axis=1) / scale
    exchanged_error = exchanged.sum(axis=1) / scale
    return evaluated & (exchanged_error < direct_error - margin), evaluated


def limb_collapses(
    predicted: np.ndarray,
    truth: np.ndarray,
    visible: np.ndarray,
    heights: np.ndarray,
    *,
    distance: float = DEFAULT_COLLAPSE_DISTANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Knee and ankle pairs the prediction puts on one limb while the truth holds them apart.

    Args:
      predicted, truth: (T, 16, 2) float, pixels.
      visible: (T, 16) bool, the truth's visibility.
      heights: (T,) float, body height per frame in pixels.
      distance: in body heights: a pair is collapsed when its predicted joints lie within
        `distance` of each other; it is evaluated when both are visible and its true joints
        lie more than twice that apart.

    Returns:
      (collapsed, evaluated): (T, len(LIMB_PAIRS)) bool each; `collapsed` only where evaluated.
    """
    if distance <= 0:
        raise ValueError(f"distance must be positive, got {distance}")
    right, left = [r for r, _ in LIMB_PAIRS], [l for _, l in LIMB_PAIRS]
    visible = np.asarray(visible) != 0
    both = visible[:, right] & visible[:, left]
    predicted, truth = np.asarray(predicted, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        true_gap = np.linalg.norm(truth[:, right] - truth[:, left], axis=-1) / heights[:, None]
        predicted_gap = np.linalg.norm(predicted[:, right] - predicted[:, left], axis=-1) / heights[:, None]
        evaluated = both & (np.where(both, true_gap, 0.0) > 2.0 * distance)
        return evaluated & (np.where(evaluated, predicted_gap, np.inf) <= distance), evaluated


def pose_quality(
    predicted: np.ndarray | Sequence[np.ndarray],
    truth: np.ndarray | Sequence[np.ndarray],
    visible: np.ndarray | Sequence[np.ndarray],
    *,
    pck_thresholds: Sequence[float] = DEFAULT_PCK_THRESHOLDS,
    swap_margin: float = DEFAULT_SWAP_MARGIN,
) -> PoseQuality:
    """Scores predicted joints against the ground truth (see the module docstring).

    Body height comes from the truth (`body_height`), per frame. Figures are pooled over all
    sequences; the jitter's frame triples never span two sequences.

    Args:
      predicted: (N, T, 16, 2) float array, or a list of N (T_i, 16, 2) arrays (sequences may
        differ in length), or one (T, 16, 2) sequence; pixels, MPII order. Must be finite where
        the truth is visible.
      truth: the same shape(s), the true joints; may be NaN where not visible.
      visible: (N, T, 16), a list of (T_i, 16), or one (T, 16); bool or 0/1, the truth's
        visibility. Only visible joints are scored.
      pck_thresholds: the a of PCK@a, in body heights, each positive and distinct.
      swap_margin: see `leg_swap_frames`.

    Returns:
      The figures as a `PoseQuality`.

    Raises:
      ValueError: on misshapen or mismatched inputs, no sequence, a non-finite visible joint,
        no visible joint at all, or a sequence whose body height cannot be measured.
    """
    thresholds = tuple(float(a) for a in pck_thresholds)
    if not thresholds or any(not (a > 0 and math.isfinite(a)) for a in thresholds):
        raise ValueError(f"pck_thresholds must be positive finite numbers, got {pck_thresholds}")
    if len(set(thresholds)) != len(thresholds):
        raise ValueError(f"pck_thresholds must be distinct, got {pck_thresholds}")
    predicted_seqs = _as_sequences(predicted, 3, "predicted")
    truth_seqs = _as_sequences(truth, 3, "truth")
    visible_seqs = _as_sequences(visible, 2, "visible")
    if not len(predicted_seqs) == len(truth_seqs) == len(visible_seqs):
        raise ValueError(
            f"predicted, truth and visible hold {len(predicted_seqs)}, {len(truth_seqs)} and "
            f"{len(visible_seqs)} sequences; they must hold the same number"
        )
    if not predicted_seqs:
        raise ValueError("no sequence to evaluate")

    errors, visibles, swapped, swap_evaluated, accelerations = [], [], [], [], []
    collapsed, collapse_evaluated = [], []
    for i, (p, g, v) in enumerate(zip(predicted_seqs, truth_seqs, visible_seqs)):
        p = np.asarray(p, dtype=np.float64)
        g = np.asarray(g, dtype=np.float64)
        v = np.asarray(v) != 0
        _check_sequence_shapes(g, v, f"truth[{i}]", f"visible[{i}]")
        if p.shape != g.shape:
            raise ValueError(f"predicted[{i}] has shape {p.shape}, truth[{i}] {g.shape}")
        if not np.isfinite(g[v]).all():
            raise ValueError(f"truth[{i}] has non-finite coordinates at visible joints")
        if not np.isfinite(p[v]).all():
            raise ValueError(f"predicted[{i}] has non-finite coordinates at visible joints")
        try:
            heights = body_height(g, v)
        except ValueError as error:
            raise ValueError(f"sequence {i}: {error}") from None
        # Zero where not visible, so NaNs there never reach a sum.
        error_xy = np.where(v[..., None], p - g, 0.0)  # (T, 16, 2) pixels
        errors.append(np.linalg.norm(error_xy, axis=-1) / heights[:, None])
        visibles.append(v)
        frame_swapped, frame_evaluated = leg_swap_frames(p, g, v, heights, margin=swap_margin)
        swapped.append(frame_swapped)
        swap_evaluated.append(frame_evaluated)
        accelerations.append(_error_accelerations(error_xy, v, heights))
        pair_collapsed, pair_evaluated = limb_collapses(p, g, v, heights)
        collapsed.append(pair_collapsed)
        collapse_evaluated.append(pair_evaluated)

    error = np.concatenate(errors)  # (sum T_i, 16), body heights
    visible_all = np.concatenate(visibles)
    joints_evaluated = int(visible_all.sum())
    if joints_evaluated == 0:
        raise ValueError("no visible joint to evaluate")

    def summary(columns: Sequence[int]) -> tuple[float, dict[float, float], int]:
        scored = error[:, columns][visible_all[:, columns]]
        if scored.size == 0:
            return math.nan, {a: math.nan for a in thresholds}, 0
        return (float(scored.mean()), {a: float(np.mean(scored <= a)) for a in thresholds},
                int(scored.size))

    mean_error, pck, _ = summary(range(NUM_JOINTS))
    by_group = {group: summary(columns) for group, columns in JOINT_GROUPS.items()}
    swapped_all = np.concatenate(swapped)
    swap_frames_evaluated = int(np.concatenate(swap_evaluated).sum())
    jitter_samples = np.concatenate(accelerations)
    collapses, collapse_pairs = int(np.concatenate(collapsed).sum()), int(np.concatenate(collapse_evaluated).sum())
    return PoseQuality(
        mean_error=mean_error,
        pck=pck,
        mean_error_by_group={g: s[0] for g, s in by_group.items()},
        pck_by_group={g: s[1] for g, s in by_group.items()},
        joints_evaluated_by_group={g: s[2] for g, s in by_group.items()},
        swap_rate=(int(swapped_all.sum()) / swap_frames_evaluated if swap_frames_evaluated
                   else math.nan),
        jitter=float(jitter_samples.mean()) if jitter_samples.size else math.nan,
        sequences=len(predicted_seqs),
        frames=int(error.shape[0]),
        joints_evaluated=joints_evaluated,
        swap_frames=int(swapped_all.sum()),
        swap_frames_evaluated=swap_frames_evaluated,
        jitter_samples=int(jitter_samples.size),
        swap_margin=swap_margin,
        collapse_rate=collapses / collapse_pairs if collapse_pairs else math.nan,
        collapse_pairs_evaluated=collapse_pairs,
    )


def _error_accelerations(error_xy: np.ndarray, visible: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """|e[t+1] - 2 e[t] + e[t-1]| / height[t] for each joint visible at t-1, t and t+1.

    Args:
      error_xy: (T, 16, 2) float, predicted - true in pixels (anything where not visible).
      visible: (T, 16) bool.
      heights: (T,) float, body height in pixels.

    Returns:
      (K,) float, one entry per joint triple with all three frames visible (K = 0 if T < 3).
    """
    if error_xy.shape[0] < 3:
        return np.empty(0)
    second_difference = error_xy[2:] - 2.0 * error_xy[1:-1] + error_xy[:-2]  # (T-2, 16, 2)
    triple_visible = visible[2:] & visible[1:-1] & visible[:-2]
    magnitude = np.linalg.norm(second_difference, axis=-1) / heights[1:-1, None]
    return magnitude[triple_visible]


def _as_sequences(value: np.ndarray | Sequence[np.ndarray], sequence_ndim: int, name: str) -> list:
    """A list of per-sequence arrays from an (N, T, ...) array, one (T, ...) array or a list."""
    if isinstance(value, np.ndarray):
        if value.ndim == sequence_ndim + 1:
            return list(value)
        if value.ndim == sequence_ndim:
            return [value]
        raise ValueError(
            f"{name} must have {sequence_ndim + 1} dimensions (N sequences) or {sequence_ndim} "
            f"(one sequence), got shape {value.shape}"
        )
    sequences = list(value)
    for i, sequence in enumerate(sequences):
        if np.ndim(sequence) != sequence_ndim:
            raise ValueError(
                f"{name}[{i}] must have {sequence_ndim} dimensions, got shape {np.shape(sequence)}"
            )
    return sequences


def _check_sequence_shapes(joints_xy: np.ndarray, visible: np.ndarray, joints_name: str,
                           visible_name: str) -> None:
    if joints_xy.ndim != 3 or joints_xy.shape[1:] != (NUM_JOINTS, 2) or joints_xy.shape[0] == 0:
        raise ValueError(f"{joints_name} must have shape (T, {NUM_JOINTS}, 2) with T >= 1, "
                         f"got {joints_xy.shape}")
    if visible.shape != joints_xy.shape[:2]:
        raise ValueError(f"{visible_name} must have shape {joints_xy.shape[:2]}, got {visible.shape}")


def _pck_key(threshold: float) -> str:
    return f"pck_{format(threshold, 'g')}"


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
