"""The seed's heat-map losses and identity losses for GaitNN.

Heat-map losses follow the seed's `_adjust_loss`: the per-pixel loss is summed over each
joint's map, joints that are not present contribute nothing, and the sum is divided by the
number of present joints in the batch (zero present joints give a loss of 0, not NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from keras import ops

HeatmapLoss = Literal["SCE", "MSE"]
LeftRightLabels = Literal["labelled", "swap_tolerant", "sides_merged"]


def sigmoid_cross_entropy_loss(logits, targets, presence):
    """`SCE`: sigmoid cross-entropy of `heatmap_logits` against binary-disk targets.

    Args:
        logits: (B, H, W, J) heat-map logits (HumanPoseNN's `heatmap_logits`).
        targets: (B, H, W, J) in [0, 1].
        presence: (B, J) 0/1.
    Returns:
        scalar.
    """
    return _mean_over_present_joints(_sce_per_pixel(logits, targets), presence)


def mean_squared_error_loss(logits, targets, presence):
    """`MSE`: squared error between sigmoid(`heatmap_logits`) and Gaussian targets.

    Shapes as `sigmoid_cross_entropy_loss`.
    """
    return _mean_over_present_joints(_mse_per_pixel(logits, targets), presence)


def _sce_per_pixel(logits, targets):
    logits = ops.cast(logits, "float32")
    targets = ops.cast(targets, "float32")
    # max(l, 0) - l * t + log(1 + exp(-|l|)): stable for large |l|.
    return ops.relu(logits) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))


def _mse_per_pixel(logits, targets):
    error = ops.sigmoid(ops.cast(logits, "float32")) - ops.cast(targets, "float32")
    return error * error


def heatmap_loss(kind: HeatmapLoss):
    """The loss function for `"SCE"` (binary disks) or `"MSE"` (Gaussian bumps)."""
    if kind == "SCE":
        return sigmoid_cross_entropy_loss
    if kind == "MSE":
        return mean_squared_error_loss
    raise ValueError(f"heat-map loss must be 'SCE' or 'MSE', got {kind!r}")


def per_joint_heatmap_loss(kind: HeatmapLoss, logits, targets):
    """(B, J): each joint's map summed per-pixel loss (`kind` as `heatmap_loss`), presence ignored."""
    per_pixel = {"SCE": _sce_per_pixel, "MSE": _mse_per_pixel}.get(kind)
    if per_pixel is None:
        raise ValueError(f"heat-map loss must be 'SCE' or 'MSE', got {kind!r}")
    return ops.sum(per_pixel(logits, targets), axis=(1, 2))


def swap_tolerant_loss(
    labelled, exchanged, presence, exchanged_presence, groups: Sequence[Sequence[int]], num_joints: int
):
    """Heat-map loss that lets each frame's limbs take either side's label.

    A network that sees one frame cannot always tell a walker's left leg from the right (in a
    side view the two differ only by which one hides the other). Trained on the true labels, it
    hedges: both maps of a pair get both limbs, and each map's maximum then finds the same one.
    Here each group of joints (e.g. the legs: both hips, knees and ankles) costs the smaller of
    its loss under the true labels and under the labels exchanged, so the maps must separate the
    two limbs but may name them either way; `nets.joint_tracks.fix_left_right` then names them
    consistently over time. Not the default: on held-out people after 4 epochs the maps still
    held both limbs in 95 % of the knee and ankle pairs (99 % with the true labels; README).

    Args:
        labelled: (B, J) per-joint loss against the true targets (`per_joint_heatmap_loss`).
        exchanged: (B, J) the same against targets whose left and right joints are exchanged
            (joint j's target is its mirror joint's).
        presence, exchanged_presence: (B, J) 0/1, the true and the exchanged presence.
        groups: joint indices exchanged together, e.g. `((0, 1, 2, 3, 4, 5), (10, ..., 15))`.
        num_joints: J.
    Returns:
        scalar: the summed loss over the present joints divided by their number.
    """
    presence = ops.cast(presence, "float32")
    exchanged_presence = ops.cast(exchanged_presence, "float32")
    grouped = sorted({j for group in groups for j in group})
    ungrouped = [j for j in range(num_joints) if j not in grouped]
    total = ops.sum(ops.take(labelled * presence, ungrouped, axis=1), axis=1) if ungrouped else 0.0
    for group in groups:
        as_labelled = ops.sum(ops.take(labelled * presence, list(group), axis=1), axis=1)  # (B,)
        as_exchanged = ops.sum(ops.take(exchanged * exchanged_presence, list(group), axis=1), axis=1)
        total = total + ops.minimum(as_labelled, as_exchanged)
    return ops.sum(total) / ops.maximum(ops.sum(presence), 1.0)


def _mean_over_present_joints(per_pixel, presence):
    per_joint = ops.sum(per_pixel, axis=(1, 2))  # (B, J)
    presence = ops.cast(presence, "float32")
    return ops.sum(per_joint * presence) / ops.maximum(ops.sum(presence), 1.0)


def batch_hard_triplet_loss(labels, embeddings, margin: float = 0.2):
    """Batch-hard triplet loss (Hermans et al. 2017) on L2-normalised embeddings.

    For every anchor, the farthest same-label and the nearest other-label embedding in the
    batch form the triplet; anchors without a positive or a negative are left out.

    Args:
        labels: (B,) integer identities.
        embeddings: (B, D), e.g. GaitNN's `embedding` output.
    Returns:
        scalar.
    """
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    embeddings = ops.cast(embeddings, "float32")
    squared = ops.sum(embeddings * embeddings, axis=1)
    distances = squared[:, None] - 2.0 * ops.matmul(embeddings, ops.transpose(embeddings))
    distances = ops.sqrt(ops.maximum(distances + squared[None, :], 1e-12))  # (B, B)

    same = ops.equal(labels[:, None], labels[None, :])
    not_self = ops.logical_not(ops.eye(ops.shape(labels)[0], dtype="bool"))
    positive = ops.logical_and(same, not_self)
    negative = ops.logical_not(same)

    hardest_positive = ops.max(ops.where(positive, distances, 0.0), axis=1)
    hardest_negative = ops.min(ops.where(negative, distances, 1e9), axis=1)
    valid = ops.cast(
        ops.logical_and(ops.any(positive, axis=1), ops.any(negative, axis=1)), "float32"
    )
    losses = ops.relu(hardest_positive - hardest_negative + margin) * valid
    return ops.sum(losses) / ops.maximum(ops.sum(valid), 1.0)
