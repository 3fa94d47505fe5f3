"""Pose metrics: mean joint distance and PCK.

Coordinates are `(x, y)` pixels, shapes (N, J, 2); masks are (N, J). Written with
`keras.ops`, so they accept numpy arrays or tensors and return scalar tensors (`float()`
them). Joint indices follow MPII order (`nets.pose_network.JOINT_NAMES`).
"""

from __future__ import annotations

from typing import Literal

from keras import ops

from nets.pose_network import JOINT_NAMES

Reference = Literal["head", "torso"]

# PCKh uses the head segment (upper neck - head top); torso PCK the right shoulder - left
# hip diagonal, as LSP's protocol does.
_REFERENCE_JOINTS: dict[str, tuple[int, int]] = {
    "head": (JOINT_NAMES.index("upper_neck"), JOINT_NAMES.index("head_top")),
    "torso": (JOINT_NAMES.index("r_shoulder"), JOINT_NAMES.index("l_hip")),
}


def joint_distances(predicted_xy, true_xy):
    """(N, J) Euclidean distance per joint, in pixels."""
    difference = ops.cast(predicted_xy, "float32") - ops.cast(true_xy, "float32")
    return ops.sqrt(ops.sum(difference * difference, axis=-1))


def inside_frame(joints_xy, frame_size: tuple[int, int]):
    """(N, J) True where a joint lies in a frame of `(height, width)` pixels."""
    height, width = frame_size
    x = ops.cast(joints_xy[..., 0], "float32")
    y = ops.cast(joints_xy[..., 1], "float32")
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def mean_joint_distance(predicted_xy, true_xy, inside):
    """The seed's validation metric: mean distance (px) over joints inside the frame.

    `inside` (N, J) marks the joints that count (the seed's `inside_box_joints`).
    Returns 0 when no joint counts.
    """
    weights = ops.cast(inside, "float32")
    total = ops.sum(joint_distances(predicted_xy, true_xy) * weights)
    return total / ops.maximum(ops.sum(weights), 1.0)


def reference_size(true_xy, reference: Reference = "head"):
    """(N,) body-size reference per frame from the true joints (see `pck`)."""
    if reference not in _REFERENCE_JOINTS:
        raise ValueError(f"`reference` must be one of {sorted(_REFERENCE_JOINTS)}")
    first, second = _REFERENCE_JOINTS[reference]
    return joint_distances(true_xy[:, first : first + 1], true_xy[:, second : second + 1])[:, 0]


def pck(predicted_xy, true_xy, inside, *, threshold: float = 0.5,
        reference: Reference = "head"):
    """Percentage of correct keypoints, in [0, 1].

    A joint is correct when its distance is at most `threshold` times the frame's reference
    size: `"head"` (upper neck to head top, PCKh; use threshold 0.5) or `"torso"` (right
    shoulder to left hip; use 0.2). Only joints marked in `inside` count.
    """
    size = reference_size(true_xy, reference)[:, None]  # (N, 1)
    correct = ops.cast(joint_distances(predicted_xy, true_xy) <= threshold * size, "float32")
    weights = ops.cast(inside, "float32")
    return ops.sum(correct * weights) / ops.maximum(ops.sum(weights), 1.0)
