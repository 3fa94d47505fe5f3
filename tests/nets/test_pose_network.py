import keras
import numpy as np
import pytest
import tensorflow as tf

from nets.heatmaps import binary_disk_heatmaps, image_to_heatmap
from nets.losses import sigmoid_cross_entropy_loss
from nets.pose_network import (
    HEATMAP_SIZE,
    INPUT_SIZES,
    HumanPoseNN,
    feature_extractor,
    model_input_size,
)

EXPECTED = {
    "features": ((17, 17, 32), "float32"),
    "heatmap_logits": ((289, 289, 16), "float32"),
    "heatmaps": ((289, 289, 16), "float32"),
    "joints": ((16, 3), "float32"),
}


@pytest.mark.parametrize("fixture", ["small_pose_model", "reduced_pose_model"])
def test_output_shapes_and_dtypes(fixture, request):
    model = request.getfixturevalue(fixture)
    size = model_input_size(model)
    assert model.inputs[0].dtype == "uint8"
    frames = np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    outputs = model.predict_on_batch(frames)
    assert set(outputs) == set(EXPECTED)
    for name, (shape, dtype) in EXPECTED.items():
        assert outputs[name].shape == (2, *shape), name
        assert str(outputs[name].dtype) == dtype, name
    joints = outputs["joints"]
    assert np.all((joints[..., :2] >= 0) & (joints[..., :2] <= size))
    assert np.all((joints[..., 2] > 0) & (joints[..., 2] < 1))
    assert np.all((outputs["heatmaps"] >= 0) & (outputs["heatmaps"] <= 1))


def test_input_sizes_are_exposed(small_pose_model, reduced_pose_model):
    assert model_input_size(small_pose_model) == INPUT_SIZES["small"] == 136
    assert model_input_size(reduced_pose_model) == INPUT_SIZES["inception_resnet_v2"] == 299


def test_feature_extractor_shares_weights(small_pose_model):
    extractor = feature_extractor(small_pose_model)
    frames = np.random.default_rng(1).integers(0, 256, (2, 136, 136, 3), dtype=np.uint8)
    np.testing.assert_allclose(
        extractor.predict_on_batch(frames),
        small_pose_model.predict_on_batch(frames)["features"],
        atol=1e-5,
    )


def test_seed_layer_names_and_repeats():
    model = HumanPoseNN(block35_repeats=2, block17_repeats=3)
    names = {layer.name for layer in model.layers}
    assert "InceptionResnetV2.Repeat.block35_2.Branch_2.Conv2d_0c_3x3" in names
    assert "InceptionResnetV2.Repeat_1.block17_3.Conv2d_1x1" in names
    assert "InceptionResnetV2.Repeat_1.block17_4.Conv2d_1x1" not in names
    assert "NewInceptionResnetV2.AuxiliaryScoring.Upsampling_layer" in names
    trunk_output = model.get_layer("InceptionResnetV2.Repeat_1.block17_3.Relu").output
    assert tuple(trunk_output.shape) == (None, 17, 17, 1088)
    aux = model.get_layer("InceptionResnetV2.AuxLogits.Conv2d_2a_5x5.Relu").output
    assert tuple(aux.shape) == (None, 17, 17, 768)


@pytest.mark.parametrize("fixture", ["small_pose_model", "reduced_pose_model"])
def test_gradients_reach_every_trainable_weight(fixture, request):
    model = request.getfixturevalue(fixture)
    size = model_input_size(model)
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    joints = rng.uniform(20, size - 20, (2, 16, 2)).astype(np.float32)
    presence = np.ones((2, 16), np.float32)
    with tf.GradientTape() as tape:
        outputs = model(frames, training=True)
        targets = binary_disk_heatmaps(image_to_heatmap(joints, size), presence)
        loss = sigmoid_cross_entropy_loss(outputs["heatmap_logits"], targets, presence)
    gradients = tape.gradient(loss, model.trainable_variables)
    assert len(gradients) == len(model.trainable_variables) > 0
    for variable, gradient in zip(model.trainable_variables, gradients):
        assert gradient is not None, variable.path
        assert np.any(np.asarray(gradient) != 0), variable.path


def test_non_trainable_state_is_batch_norm_statistics_only(reduced_pose_model):
    for variable in reduced_pose_model.non_trainable_variables:
        # the dropout layer's random state aside, the fixed Gaussians hold no variables
        if "seed_generator" not in variable.path:
            assert variable.path.endswith(("moving_mean", "moving_variance")), variable.path


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"backbone": "resnet"}, "backbone"),
        ({"block35_repeats": -1}, "repeats"),
        ({"dropout_rate": 1.0}, "dropout_rate"),
        ({"backbone": "small", "weights": "seed.ckpt"}, "inception"),
    ],
)
def test_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HumanPoseNN(**kwargs)


def test_dropout_acts_in_training_only(small_pose_model):
    frames = np.random.default_rng(3).integers(0, 256, (1, 136, 136, 3), dtype=np.uint8)
    first = small_pose_model(frames, training=False)["features"]
    second = small_pose_model(frames, training=False)["features"]
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
    assert HEATMAP_SIZE == 289


@pytest.mark.slow
def test_full_seed_network_builds_with_expected_size():
    keras.utils.set_random_seed(0)
    model = HumanPoseNN()
    # Inception-ResNet-v2 up to block17_20 plus the aux tower and the scoring head.
    assert model.count_params() == 29_663_504
    frames = np.zeros((1, 299, 299, 3), np.uint8)
    assert model.predict_on_batch(frames)["features"].shape == (1, 17, 17, 32)
