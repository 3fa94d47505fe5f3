"""Heat-map training targets from joint coordinates.

Coordinates are `(x, y)` on the heat-map grid (289x289 for HumanPoseNN: multiply model-input
pixels by 289 / input_size), pixel centres at integers. Joints whose presence is 0 get an
empty map. Both functions use `keras.ops`, so they run on numpy arrays (returning tensors;
wrap in `np.asarray`) and inside a compiled training step alike.
"""

from __future__ import annotations

from keras import ops

from nets.pose_network import HEATMAP_SIZE

DISK_DIAMETER = 15  # the seed's POINT_DIAMETER for the SCE loss
GAUSSIAN_SIGMA = 5.0  # the seed's default sigma for the MSE loss


def binary_disk_heatmaps(
    joints_xy, presence, *, size: int = HEATMAP_SIZE, diameter: int = DISK_DIAMETER
):
    """The seed's SCE targets: 1 inside a disk of `diameter` px at each present joint.

    Args:
        joints_xy: (B, J, 2) float, heat-map pixels.
        presence: (B, J) 0/1.
    Returns:
        (B, size, size, J) float32.

    The centre is rounded to the nearest pixel and a pixel belongs to the disk when its
    squared distance is at most (diameter / 2)^2, the seed's `get_binary_mask`. Disks may
    be cut by the border; joints outside the grid give empty or partial maps as in the seed.
    """
    squared = _squared_distances(ops.round(ops.cast(joints_xy, "float32")), size)
    radius = diameter / 2.0
    disks = ops.cast(squared <= radius * radius, "float32")
    return disks * ops.cast(presence, "float32")[:, None, None, :]


def gaussian_heatmaps(
    joints_xy, presence, *, size: int = HEATMAP_SIZE, sigma: float = GAUSSIAN_SIGMA
):
    """The seed's MSE targets: a Gaussian bump of peak 1 and std `sigma` px at each joint.

    Shapes as `binary_disk_heatmaps`. Unlike the seed, the centre is not rounded and the
    bump is not cut to an 8-sigma square (outside it the values are below 4e-4).
    """
    squared = _squared_distances(ops.cast(joints_xy, "float32"), size)
    bumps = ops.exp(-squared / (2.0 * sigma * sigma))
    return bumps * ops.cast(presence, "float32")[:, None, None, :]


def joint_feature_maps(
    joints_xy,
    presence,
    *,
    input_size: int,
    grid: int = 17,
    sigmas: tuple[float, ...] = (0.6, 1.2),
    peak: float = 30.0,
    side_pairs: tuple[tuple[int, int], ...] = (),
):
    """Ideal pose features: Gaussian maps of the true joints on HumanPoseNN's feature grid.

    What a pose network that found every joint exactly would hand GaitNN, in the stored
    features' layout (`grid` x `grid` cells, one channel per joint and width), so GaitNN's own
    ceiling can be measured apart from the pose network's error (`benchmarks/gait_ceiling.py`).

    Args:
        joints_xy: (B, J, 2) float, model-input pixels (x right, y down).
        presence: (B, J) 0/1.
        input_size: the model-input side the pixels refer to.
        sigmas: Gaussian widths in cells; each gives J channels, so sub-cell position is
            carried by the ratio of neighbouring cells at two scales.
        peak: the maps' maximum, near the trained network's feature magnitudes (1st-99th
            percentile about +-15, maximum about 50).
        side_pairs: (right, left) joint pairs whose two channels both get the larger of the
            two maps: a network that finds both limbs but cannot say which is which. That is
            what the trained small network does: on the demo's held-out walks its left and
            right ankle maps differ at the true ankles by about 1e-4 (maps peak near 1), and
            favour the true sides in 46 % of frames.
    Returns:
        (B, grid, grid, J * len(sigmas)) float32.
    """
    if not sigmas or min(sigmas) <= 0:
        raise ValueError(f"`sigmas` must be positive, got {sigmas}")
    # Pixel centres at integers on the grid: cell i covers input pixels [i, i + 1) * input_size / grid.
    cells = ops.cast(joints_xy, "float32") * (grid / input_size) - 0.5
    squared = _squared_distances(cells, grid)  # (B, grid, grid, J)
    present = ops.cast(presence, "float32")[:, None, None, :]
    mirrored = list(range(squared.shape[-1]))  # each joint's channel with the sides exchanged
    for right, left in side_pairs:
        mirrored[right], mirrored[left] = left, right
    channels = []
    for sigma in sigmas:
        maps = peak * ops.exp(-squared / (2.0 * sigma * sigma)) * present
        if side_pairs:
            maps = ops.maximum(maps, ops.take(maps, mirrored, axis=-1))
        channels.append(maps)
    return ops.concatenate(channels, axis=-1)


def _squared_distances(joints_xy, size: int):
    """(B, size, size, J) squared distance from every pixel to every joint."""
    grid = ops.arange(size, dtype="float32")
    dx = grid[None, None, :, None] - joints_xy[:, None, None, :, 0]  # (B, 1, size, J)
    dy = grid[None, :, None, None] - joints_xy[:, None, None, :, 1]  # (B, size, 1, J)
    return dx * dx + dy * dy


def image_to_heatmap(joints_xy, input_size: int, size: int = HEATMAP_SIZE):
    """Model-input pixel coordinates -> heat-map grid coordinates (the seed's scaling)."""
    return ops.cast(joints_xy, "float32") * (size / input_size)


__all__ = [
    "DISK_DIAMETER",
    "GAUSSIAN_SIGMA",
    "binary_disk_heatmaps",
    "gaussian_heatmaps",
    "image_to_heatmap",
    "joint_feature_maps",
]
