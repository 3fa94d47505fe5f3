import keras
import numpy as np
import pytest

from nets.gait_network import GaitNN
from nets.gait_training import SequenceBatches, fit_gait
from nets.heatmaps import binary_disk_heatmaps, image_to_heatmap
from nets.pose_network import HumanPoseNN, JOINT_NAMES
from nets.pose_training import FLIP_PERMUTATION, PoseBatches, PoseTrainer, fit_pose
from tests.nets.conftest import stick_figures


class _EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def test_flip_permutation_swaps_sides():
    flipped = [JOINT_NAMES[i] for i in FLIP_PERMUTATION]
    assert flipped[0] == "l_ankle" and flipped[15] == "r_wrist" and flipped[8] == "upper_neck"
    assert sorted(FLIP_PERMUTATION) == list(range(16))


def test_augmented_joints_follow_the_image():
    """A dot drawn at the right wrist must sit at the right wrist's coordinates after
    augmentation, or at the left wrist's when the frame was mirrored."""
    rng = np.random.default_rng(0)
    frames = np.zeros((12, 64, 64, 3), np.uint8)
    joints = rng.uniform(20, 44, (12, 16, 2)).astype(np.float32)
    joints[:, 10] = np.round(joints[:, 10])
    for frame, pose in zip(frames, joints):
        x, y = pose[10].astype(int)
        frame[y, x] = 255
    batches = PoseBatches(frames, joints, np.ones((12, 16)), 64, batch_size=12, augment=True,
                          shuffle=False, max_scale=0.1, max_shift=0.05, seed=3)
    images, labels = batches[0]
    flips = 0
    for image, pose in zip(images, labels["joints_xy"]):
        y, x = np.unravel_index(image[..., 0].argmax(), image.shape[:2])
        right, left = np.linalg.norm(pose[10] - [x, y]), np.linalg.norm(pose[15] - [x, y])
        assert min(right, left) <= 1.5
        flips += left < right
    assert 0 < flips < 12
    assert labels["presence"].shape == (12, 16) and labels["inside"].dtype == np.float32


def test_pose_loss_falls_when_a_small_model_overfits_a_few_frames():
    frames, joints, visible = stick_figures(8)
    keras.utils.set_random_seed(0)
    model = HumanPoseNN("small")
    counter = _EpochCounter()
    history = fit_pose(model, frames, joints, visible, epochs=40, batch_size=8, augment=False,
                       learning_rate=5e-3, callbacks=[counter])  # cosine-decayed: about half on average
    losses = history.history["loss"]
    assert counter.epochs == 40
    assert losses[-1] < 0.75 * losses[0]
    assert np.all(np.isfinite(losses))
    assert "mean_joint_distance" in history.history


def test_swap_tolerant_loss_accepts_either_labelling_of_a_frame_and_unknown_modes_are_refused():
    """The swap-tolerant loss scores a frame's maps against the labelling of its limbs that fits
    them best: exchanging every left and right label changes nothing; the labelled loss rises."""
    keras.utils.set_random_seed(0)
    model = HumanPoseNN("small")
    rng = np.random.default_rng(2)
    size = 136
    joints = rng.uniform(10, size - 10, (2, 16, 2)).astype(np.float32)
    presence = np.ones((2, 16), np.float32)
    mirror = list(FLIP_PERMUTATION)
    disks = np.asarray(binary_disk_heatmaps(image_to_heatmap(joints, size), presence))

    def loss(mode, xy, present):
        trainer = PoseTrainer(model, left_right=mode)
        labels = {"joints_xy": xy, "presence": present, "inside": present}
        return float(trainer._loss({"heatmap_logits": 12.0 * (2.0 * disks - 1.0)}, labels))

    exchanged = (joints[:, mirror], presence[:, mirror])
    assert loss("swap_tolerant", *exchanged) == pytest.approx(loss("swap_tolerant", joints, presence), rel=1e-5)
    assert loss("labelled", joints, presence) < 0.1 * loss("labelled", *exchanged)
    frames, truth, visible = stick_figures(2)
    with pytest.raises(ValueError, match="left_right"):
        fit_pose(model, frames, truth, visible, epochs=1, left_right="guess")


def test_sides_merged_loss_ignores_which_side_is_which_and_the_labelled_loss_does_not():
    """Exchanging every joint's left and right label leaves the sides-merged loss as it is; the
    seed's labelled loss rises for maps that named the sides. Maps that hold both limbs of each
    pair are what the merged loss asks for."""
    keras.utils.set_random_seed(0)
    model = HumanPoseNN("small")
    rng = np.random.default_rng(1)
    size = 136
    joints = rng.uniform(10, size - 10, (2, 16, 2)).astype(np.float32)
    presence = np.ones((2, 16), np.float32)
    presence[1, 0] = 0.0  # a hidden right ankle: its twin still has a target
    mirror = list(FLIP_PERMUTATION)
    disks = np.asarray(binary_disk_heatmaps(image_to_heatmap(joints, size), presence))

    def loss(mode, maps, xy, present):
        trainer = PoseTrainer(model, left_right=mode)
        labels = {"joints_xy": xy, "presence": present, "inside": present}
        return float(trainer._loss({"heatmap_logits": 12.0 * (2.0 * maps - 1.0)}, labels))

    exchanged = (joints[:, mirror], presence[:, mirror])
    for maps in (disks, rng.uniform(0, 1, disks.shape).astype(np.float32)):
        assert loss("sides_merged", maps, joints, presence) == pytest.approx(
            loss("sides_merged", maps, *exchanged), rel=1e-5)
    assert loss("labelled", disks, joints, presence) < 0.1 * loss("labelled", disks, *exchanged)
    both_limbs = np.maximum(disks, disks[..., mirror])
    assert loss("sides_merged", both_limbs, joints, presence) < 0.1 * loss("labelled", both_limbs, joints, presence)
    assert loss("sides_merged", both_limbs, joints, presence) < 0.1 * loss("sides_merged", disks, joints, presence)


def test_fit_pose_validates_and_reports_validation_metrics():
    frames, joints, visible = stick_figures(4, size=150)
    keras.utils.set_random_seed(0)
    model = HumanPoseNN("small")
    history = fit_pose(model, frames, joints, visible, epochs=1, batch_size=4, loss="MSE",
                       validation=(frames, joints, visible))
    assert {"loss", "mean_joint_distance", "val_loss", "val_mean_joint_distance"} <= set(
        history.history)
    with pytest.raises(ValueError, match="joints_xy"):
        fit_pose(model, frames, joints[:, :5], visible, epochs=1)


def _identity_sequences(identities=4, per_identity=2, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(0, 60, (identities, 17, 17, 32))
    sequences, labels = [], []
    for identity in range(identities):
        for _ in range(per_identity):
            length = int(rng.integers(2, 6))
            noise = rng.normal(0, 40, (length, 17, 17, 32))
            sequences.append((prototypes[identity] + noise).astype(np.float32))
            labels.append(identity)
    return sequences, labels


def test_gait_softmax_loss_falls_on_a_few_sequences():
    sequences, labels = _identity_sequences()
    keras.utils.set_random_seed(0)
    model = GaitNN(num_identities=4)
    counter = _EpochCounter()
    history = fit_gait(model, sequences, labels, epochs=6, batch_size=4, callbacks=[counter],
                       validation=(sequences, labels))
    losses = history.history["loss"]
    assert counter.epochs == 6
    assert losses[-1] < 0.5 * losses[0]
    assert history.history["accuracy"][-1] == 1.0
    assert "val_accuracy" in history.history


def test_gait_triplet_training_runs_on_the_embedding():
    sequences, labels = _identity_sequences(identities=4, per_identity=3, seed=1)
    keras.utils.set_random_seed(0)
    model = GaitNN(extra_residual_blocks="discarded")
    history = fit_gait(model, sequences, labels, epochs=2, batch_size=6, loss="triplet",
                       max_frames=3)
    assert len(history.history["loss"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))


def test_gait_softmax_plus_triplet_learns_on_person_by_walks_batches():
    sequences, labels = _identity_sequences(identities=4, per_identity=3, seed=2)
    keras.utils.set_random_seed(0)
    model = GaitNN(num_identities=4, extra_residual_blocks="discarded", rnn_layers=1)
    history = fit_gait(model, sequences, labels, epochs=6, batch_size=6, loss="softmax+triplet",
                       identities_per_batch=2)
    losses = history.history["loss"]
    assert losses[-1] < 0.6 * losses[0]
    assert history.history["accuracy"][-1] >= 0.75  # chance is 0.25
    with pytest.raises(ValueError, match="num_identities"):
        fit_gait(GaitNN(), sequences, labels, epochs=1, loss="softmax+triplet")
    with pytest.raises(ValueError, match="schedule"):
        fit_gait(model, sequences, labels, epochs=1, schedule="linear")


def test_softmax_needs_a_training_head():
    sequences, labels = _identity_sequences()
    with pytest.raises(ValueError, match="num_identities"):
        fit_gait(GaitNN(), sequences, labels, epochs=1)


def test_sequence_batches_pad_group_and_sample_identities():
    sequences, labels = _identity_sequences(identities=4, per_identity=3)
    batches = SequenceBatches(sequences, labels, batch_size=5, shuffle=True)
    seen = []
    for inputs, batch_labels in batches:
        assert inputs["features"].shape[1] % 8 == 0
        assert inputs["mask"].sum(axis=1).tolist() == [
            len(sequences[i]) for i in _rows(sequences, inputs)]
        seen.extend(batch_labels.tolist())
    assert sorted(seen) == sorted(labels) and len(batches) == 3
    triplet = SequenceBatches(sequences, labels, batch_size=6, shuffle=True,
                              identities_per_batch=2, max_frames=2)
    for inputs, batch_labels in triplet:
        assert len(set(batch_labels.tolist())) == 2 and len(batch_labels) == 6
        assert inputs["mask"].sum(axis=1).max() <= 2


def test_person_by_walks_batches_cover_the_walks_each_pass():
    """An epoch is a pass over the walks: 4 people x 30 walks in P=2 x K=3 batches is 20
    steps, and each person's walks are all drawn before any repeats."""
    sequences = [np.full((3, 17, 17, 32), i, np.float32) for i in range(120)]
    labels = [i // 30 for i in range(120)]
    batches = SequenceBatches(sequences, labels, batch_size=6, shuffle=True, identities_per_batch=2)
    rows = np.concatenate(batches._batches())
    assert len(batches) == 20 and len(rows) == 120
    for person in range(4):
        drawn = [row for row in rows.tolist() if labels[row] == person]
        assert len(drawn) == 30 and len(set(drawn)) == 30
        assert len(set(row // 30 for row in drawn)) == 1
    for batch in batches._batches():
        assert sorted(np.bincount(np.asarray(labels)[batch], minlength=4).tolist()) == [0, 0, 3, 3]


def _rows(sequences, inputs):
    """Which sequences a padded batch holds (matched by their first frame)."""
    rows = []
    for first_frame in inputs["features"][:, 0]:
        rows.append(next(i for i, s in enumerate(sequences) if np.array_equal(s[0], first_frame)))
    return rows


def test_pose_epochs_take_new_frames_until_the_cycle_wraps():
    frames = np.zeros((10, 32, 32, 3), np.uint8)
    frames[:, 0, 0, 0] = np.arange(10)  # each frame's number in one pixel
    joints = np.full((10, 16, 2), 16.0, np.float32)
    batches = PoseBatches(frames, joints, np.ones((10, 16)), 32, batch_size=2, augment=False, shuffle=True,
                          frames_per_epoch=5, seed=1)
    assert len(batches) == 3

    def one_epoch():
        seen = [int(n) for i in range(len(batches)) for n in batches[i][0][:, 0, 0, 0]]
        batches.on_epoch_end()
        return seen

    first, second, third = one_epoch(), one_epoch(), one_epoch()
    assert len(first) == len(second) == 5
    assert sorted(first + second) == list(range(10))  # two epochs: every frame once
    assert len(set(third)) == 5
    with pytest.raises(ValueError, match="frames_per_epoch"):
        PoseBatches(frames, joints, np.ones((10, 16)), 32, batch_size=2, augment=False, shuffle=True,
                    frames_per_epoch=11)
