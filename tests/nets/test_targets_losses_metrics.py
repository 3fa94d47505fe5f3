import numpy as np
import pytest

from nets.heatmaps import binary_disk_heatmaps, gaussian_heatmaps, image_to_heatmap, joint_feature_maps
from nets.losses import (
    batch_hard_triplet_loss,
    heatmap_loss,
    mean_squared_error_loss,
    per_joint_heatmap_loss,
    sigmoid_cross_entropy_loss,
    swap_tolerant_loss,
)
from nets.metrics import inside_frame, joint_distances, mean_joint_distance, pck


def _seed_binary_heat_map(shape, is_present, centers, diameter):
    """utils.get_binary_heat_map of the seed, centres (B, 2 [y, x], J) integers."""
    d = diameter
    s = int(d / 2)
    y, x = np.ogrid[-s : d - s, -s : d - s]
    disk = (x * x + y * y <= (d / 2) ** 2).astype(np.float32)
    n, r, hn, qn = d, int(d / 2), int(2 * d), int(4 * d)
    canvas = np.zeros((shape[0], shape[1] + qn, shape[2] + qn, shape[3]), np.float32)
    for i in range(shape[0]):
        for j in range(shape[3]):
            my, mx = centers[i, 0, j] - r, centers[i, 1, j] - r
            if -n < my < shape[1] and -n < mx < shape[2] and is_present[i, j]:
                canvas[i, my + hn : my + 3 * n, mx + hn : mx + 3 * n, j] = disk
    return canvas[:, hn:-hn, hn:-hn, :]


def test_binary_disks_match_the_seed():
    rng = np.random.default_rng(0)
    joints_xy = rng.integers(-10, 299, (3, 16, 2))
    joints_xy[0, 0] = [0, 0]
    joints_xy[0, 1] = [288, 5]
    presence = rng.integers(0, 2, (3, 16))
    ours = np.asarray(binary_disk_heatmaps(joints_xy, presence))
    seed = _seed_binary_heat_map((3, 289, 289, 16), presence,
                                 joints_xy[..., ::-1].transpose(0, 2, 1), 15)
    np.testing.assert_array_equal(ours, seed)


def test_disk_area_and_absent_joints():
    joints_xy = np.full((1, 16, 2), 144.0)
    presence = np.zeros((1, 16))
    presence[0, 3] = 1
    maps = np.asarray(binary_disk_heatmaps(joints_xy, presence))
    assert maps[..., 3].sum() == 177  # lattice points within radius 7.5
    assert maps[..., [0, 1, 2] + list(range(4, 16))].sum() == 0


def test_gaussian_targets_peak_at_subpixel_joint():
    joints_xy = np.array([[[100.0, 50.0]] * 16])
    maps = np.asarray(gaussian_heatmaps(joints_xy, np.ones((1, 16)), sigma=5.0))
    assert maps[0, 50, 100, 0] == pytest.approx(1.0)
    assert maps[0, 50, 105, 0] == pytest.approx(np.exp(-0.5), rel=1e-5)
    assert np.unravel_index(maps[0, ..., 0].argmax(), (289, 289)) == (50, 100)


def test_joint_feature_maps_put_each_joint_on_its_cell_at_two_widths():
    joints = np.full((1, 16, 2), 68.0, np.float32)
    joints[0, 0] = (20.0, 100.0)  # x, y in 136 px input: cell (row 12, column 2) of 17
    joints[0, 5] = (100.0, 100.0)
    presence = np.ones((1, 16))
    presence[0, 9] = 0
    maps = np.asarray(joint_feature_maps(joints, presence, input_size=136))
    assert maps.shape == (1, 17, 17, 32)
    assert np.unravel_index(maps[0, ..., 0].argmax(), (17, 17)) == (12, 2)
    assert maps[0, ..., 0].max() == pytest.approx(30.0)
    assert not maps[0, ..., 9].any() and not maps[0, ..., 25].any()  # absent joint, both widths
    # The wider channel of the same joint spreads further.
    assert maps[0, 12, 4, 16] > maps[0, 12, 4, 0]


def test_joint_feature_maps_can_merge_the_sides():
    joints = np.full((1, 16, 2), 68.0, np.float32)
    joints[0, 0], joints[0, 5] = (20.0, 100.0), (100.0, 100.0)
    merged = np.asarray(joint_feature_maps(joints, np.ones((1, 16)), input_size=136, side_pairs=((0, 5),)))
    exact = np.asarray(joint_feature_maps(joints, np.ones((1, 16)), input_size=136))
    np.testing.assert_allclose(merged[..., 0], merged[..., 5])
    np.testing.assert_allclose(merged[..., 0], np.maximum(exact[..., 0], exact[..., 5]))
    np.testing.assert_allclose(merged[..., 1], exact[..., 1])  # other joints untouched
    with pytest.raises(ValueError, match="sigmas"):
        joint_feature_maps(joints, np.ones((1, 16)), input_size=136, sigmas=())


def test_image_to_heatmap_scales_like_the_seed():
    np.testing.assert_allclose(np.asarray(image_to_heatmap([[[299.0, 0.0]]], 299)),
                               [[[289.0, 0.0]]])


def _reference_loss(per_pixel, presence):
    per_joint = per_pixel.sum(axis=(1, 2))
    return (per_joint * presence).sum() / presence.sum()


def test_sce_and_mse_follow_the_seed_reduction():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (2, 9, 9, 16)).astype(np.float32)
    targets = (rng.random((2, 9, 9, 16)) < 0.1).astype(np.float32)
    presence = rng.integers(0, 2, (2, 16)).astype(np.float32)
    sce = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    assert float(sigmoid_cross_entropy_loss(logits, targets, presence)) == pytest.approx(
        _reference_loss(sce, presence), rel=1e-5)
    mse = (1 / (1 + np.exp(-logits)) - targets) ** 2
    assert float(mean_squared_error_loss(logits, targets, presence)) == pytest.approx(
        _reference_loss(mse, presence), rel=1e-5)
    assert heatmap_loss("SCE") is sigmoid_cross_entropy_loss
    with pytest.raises(ValueError):
        heatmap_loss("L1")


def test_per_joint_loss_sums_each_map_and_reduces_to_the_seed_loss():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, (2, 9, 9, 16)).astype(np.float32)
    targets = (rng.random((2, 9, 9, 16)) < 0.1).astype(np.float32)
    presence = rng.integers(0, 2, (2, 16)).astype(np.float32)
    for kind, whole in (("SCE", sigmoid_cross_entropy_loss), ("MSE", mean_squared_error_loss)):
        per_joint = np.asarray(per_joint_heatmap_loss(kind, logits, targets))
        assert per_joint.shape == (2, 16)
        assert (per_joint * presence).sum() / presence.sum() == pytest.approx(float(whole(logits, targets, presence)), rel=1e-5)
    with pytest.raises(ValueError):
        per_joint_heatmap_loss("L1", logits, targets)


def test_swap_tolerant_loss_takes_the_better_side_labels_per_group_and_frame():
    mirror = [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]
    legs, arms = (0, 1, 2, 3, 4, 5), (10, 11, 12, 13, 14, 15)
    rng = np.random.default_rng(3)
    labelled = rng.uniform(1, 2, (3, 16)).astype(np.float32)
    exchanged = labelled[:, mirror].copy()
    presence = np.ones((3, 16), np.float32)
    # Frame 0: the legs fit far better exchanged; frame 1: the arms do; frame 2: neither.
    exchanged[0, list(legs)] = 0.0
    exchanged[1, list(arms)] = 0.0
    loss = float(swap_tolerant_loss(labelled, exchanged, presence, presence, (legs, arms), 16))
    expected = labelled.copy()
    expected[0, list(legs)] = 0.0
    expected[1, list(arms)] = 0.0
    assert loss == pytest.approx(expected.sum() / presence.sum(), rel=1e-6)
    # Ungrouped joints (pelvis, thorax, neck, head) always keep their own labels.
    only_torso = swap_tolerant_loss(labelled, np.zeros_like(labelled), presence, presence, (legs, arms), 16)
    assert float(only_torso) == pytest.approx(labelled[:, 6:10].sum() / presence.sum(), rel=1e-6)
    # Absent joints count in neither labelling; no joint present gives 0.
    assert float(swap_tolerant_loss(labelled, exchanged, 0 * presence, 0 * presence, (legs, arms), 16)) == 0.0


def test_absent_joints_do_not_count_and_no_joint_gives_zero():
    logits = np.zeros((1, 4, 4, 16), np.float32)
    targets = np.zeros_like(logits)
    targets[..., 5] = 1.0  # wrong, but absent
    presence = np.zeros((1, 16), np.float32)
    assert float(sigmoid_cross_entropy_loss(logits, targets, presence)) == 0.0
    presence[0, 0] = 1
    assert float(sigmoid_cross_entropy_loss(logits, targets, presence)) == pytest.approx(
        16 * np.log(2), rel=1e-6)


def test_mean_joint_distance_counts_joints_inside_frame():
    true_xy = np.zeros((1, 16, 2), np.float32)
    predicted = true_xy.copy()
    predicted[0, 0] = [3, 4]
    predicted[0, 1] = [30, 40]
    inside = np.ones((1, 16), bool)
    inside[0, 1] = False
    assert float(mean_joint_distance(predicted, true_xy, inside)) == pytest.approx(5 / 15)
    assert float(mean_joint_distance(predicted, true_xy, np.zeros((1, 16)))) == 0.0
    np.testing.assert_allclose(np.asarray(joint_distances(predicted, true_xy))[0, :2], [5, 50])


def test_inside_frame():
    joints = np.array([[[0, 0], [319, 239], [320, 10], [-1, 5]]], np.float32)
    assert np.asarray(inside_frame(joints, (240, 320))).tolist() == [[True, True, False, False]]


def test_pck_uses_head_or_torso_size():
    true_xy = np.zeros((1, 16, 2), np.float32)
    true_xy[0, 9] = [0, 10]  # head top 10 px above the upper neck: head size 10
    true_xy[0, 12] = [0, 0]
    true_xy[0, 3] = [30, 40]  # r_shoulder to l_hip: 50
    predicted = true_xy.copy()
    predicted[0, 0] += [4, 0]  # within 0.5 x 10
    predicted[0, 1] += [6, 0]  # beyond 0.5 x 10, within 0.2 x 50
    inside = np.ones((1, 16))
    assert float(pck(predicted, true_xy, inside, threshold=0.5)) == pytest.approx(15 / 16)
    assert float(pck(predicted, true_xy, inside, threshold=0.2,
                     reference="torso")) == pytest.approx(1.0)


def test_batch_hard_triplet_loss():
    labels = np.array([0, 0, 1, 1])
    separated = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    assert float(batch_hard_triplet_loss(labels, separated, margin=0.2)) == pytest.approx(0.0)
    mixed = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], np.float32)
    # hardest positive sqrt(2), hardest negative 0: sqrt(2) + 0.2 for every anchor
    assert float(batch_hard_triplet_loss(labels, mixed, margin=0.2)) == pytest.approx(
        np.sqrt(2) + 0.2, rel=1e-4)
