"""The seed's heat-map losses and identity losses for GaitNN.

Heat-map losses follow the seed's `_adjust_loss`: the per-pixel loss is summed over each
joint's map, joints that are not present contribute nothing, and the sum is divided by the
number of present joints in the batch (zero present joints give a loss of 0, not NaN).
"""

from __future__ import annotations

from typing import Literal

from keras import ops

HeatmapLoss = Literal["SCE", "MSE"]


def sigmoid_cross_entropy_loss(logits, targets, presence):
    """`SCE`: sigmoid cross-entropy of `heatmap_logits` against binary-disk targets.

    Args:
        logits: (B, H, W, J) heat-map logits (HumanPoseNN's `heatmap_logits`).
        targets: (B, H, W, J) in [0, 1].
        presence: (B, J) 0/1.
    Returns:
        scalar.
    """
    logits = ops.cast(logits, "float32")
    targets = ops.cast(targets, "float32")
    # max(l, 0) - l * t + log(1 + exp(-|l|)): stable for large |l|.
    per_pixel = ops.relu(logits) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
    return _mean_over_present_joints(per_pixel, presence)


def mean_squared_error_loss(logits, targets, presence):
    """`MSE`: squared error between sigmoid(`heatmap_logits`) and Gaussian targets.

    Shapes as `sigmoid_cross_entropy_loss`.
    """
    error = ops.sigmoid(ops.cast(logits, "float32")) - ops.cast(targets, "float32")
    return _mean_over_present_joints(error * error, presence)


def heatmap_loss(kind: HeatmapLoss):
    """The loss function for `"SCE"` (binary disks) or `"MSE"` (Gaussian bumps)."""
    if kind == "SCE":
        return sigmoid_cross_entropy_loss
    if kind == "MSE":
        return mean_squared_error_loss
    raise ValueError(f"heat-map loss must be 'SCE' or 'MSE', got {kind!r}")


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
