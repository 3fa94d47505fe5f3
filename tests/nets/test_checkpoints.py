import keras
import numpy as np
import pytest
import tensorflow as tf

from nets.checkpoints import (
    SeedCheckpointError,
    describe_mapping,
    import_seed_gait_checkpoint,
    import_seed_pose_checkpoint,
    load_model,
    save_model,
    saved_input_shape,
    seed_checkpoint_shapes,
)
from nets.gait_network import GaitNN, pad_sequences
from nets.pose_network import HumanPoseNN
from tests.nets.seed_reference import build_seed_gait_checkpoint, build_seed_pose_checkpoint


def _assert_outputs_close(ours: dict, reference: dict, names, atol=1e-4):
    for name in names:
        np.testing.assert_allclose(np.asarray(ours[name]), reference[name], rtol=1e-4,
                                   atol=atol, err_msg=name)


# ----------------------------------------------------------------------------- .keras


@pytest.mark.parametrize("fixture", ["small_pose_model", "reduced_pose_model"])
def test_pose_model_round_trips_through_keras_format(fixture, request, tmp_path):
    model = request.getfixturevalue(fixture)
    size = model.inputs[0].shape[1]
    frames = np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    path = tmp_path / "pose.keras"
    save_model(model, path)
    loaded = load_model(path)
    expected, got = model.predict_on_batch(frames), loaded.predict_on_batch(frames)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert saved_input_shape(path) == tuple(model.inputs[0].shape)  # read without building the model


def test_gait_model_round_trips_through_keras_format(tmp_path, feature_sequences):
    keras.utils.set_random_seed(0)
    model = GaitNN(num_identities=3, rnn_layers=2, share_rnn_weights=True)
    inputs = dict(zip(("features", "mask"), pad_sequences(feature_sequences)))
    path = tmp_path / "gait.keras"
    save_model(model, path)
    loaded = load_model(path)
    expected, got = model.predict_on_batch(inputs), loaded.predict_on_batch(inputs)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    # the shared recurrent layer stays one layer
    assert len(loaded.trainable_variables) == len(model.trainable_variables)
    assert saved_input_shape(path) == (None, None, 17, 17, 32)  # dict inputs: the first, "features"


def test_saved_input_shape_of_a_file_that_is_no_model_names_it(tmp_path):
    path = tmp_path / "notes.keras"
    path.write_text("not a zip")
    with pytest.raises(ValueError, match=r"notes.keras: no input shape in a .keras model file"):
        saved_input_shape(path)


def test_save_model_wants_keras_suffix(small_pose_model, tmp_path):
    with pytest.raises(ValueError, match=".keras"):
        save_model(small_pose_model, tmp_path / "pose.h5")


# ----------------------------------------------------------------------- seed TF1 pose


@pytest.fixture(scope="module")
def seed_pose(tmp_path_factory):
    frames = np.random.default_rng(5).integers(0, 256, (2, 299, 299, 3)).astype(np.uint8)
    directory = str(tmp_path_factory.mktemp("seed_pose"))
    graph = build_seed_pose_checkpoint(directory, frames.astype(np.float32), block35=1,
                                       block17=1)
    return frames, graph


def test_every_seed_pose_variable_is_mapped_and_outputs_reproduced(seed_pose):
    frames, graph = seed_pose
    model = HumanPoseNN(block35_repeats=1, block17_repeats=1)
    assert sorted(seed_checkpoint_shapes(model)) == graph.variable_names
    report = import_seed_pose_checkpoint(model, graph.checkpoint)
    assert sorted(report.loaded) == graph.variable_names and report.unused == ()
    outputs = model.predict_on_batch(frames)
    _assert_outputs_close(outputs, graph.outputs, ["features", "heatmap_logits", "heatmaps"])
    np.testing.assert_allclose(outputs["joints"], graph.outputs["joints"], atol=1e-4)


def test_checkpoint_shapes_agree_with_the_tf1_reader(seed_pose):
    _, graph = seed_pose
    reader = tf.train.load_checkpoint(graph.checkpoint)
    shapes = reader.get_variable_to_shape_map()
    model = HumanPoseNN(block35_repeats=1, block17_repeats=1)
    for name, shape in seed_checkpoint_shapes(model).items():
        assert tuple(shapes[name]) == shape, name
    assert describe_mapping(model)["InceptionResnetV2/Conv2d_1a_3x3/weights"].endswith(
        "InceptionResnetV2.Conv2d_1a_3x3/kernel")


def test_weights_argument_imports_a_seed_checkpoint(seed_pose):
    frames, graph = seed_pose
    model = HumanPoseNN(block35_repeats=1, block17_repeats=1, weights=graph.checkpoint)
    _assert_outputs_close(model.predict_on_batch(frames), graph.outputs, ["features"])


def test_deeper_model_reports_every_missing_variable(seed_pose):
    _, graph = seed_pose
    model = HumanPoseNN(block35_repeats=2, block17_repeats=1)
    with pytest.raises(SeedCheckpointError) as error:
        import_seed_pose_checkpoint(model, graph.checkpoint)
    missing = error.value.missing
    assert len(missing) == 26  # block35_2: 6 conv+BN (4 each) and the biased up conv (2)
    assert all("Repeat/block35_2/" in name for name in missing)
    assert "InceptionResnetV2/Repeat/block35_2/Conv2d_1x1/biases" in str(error.value)


def test_shallower_model_needs_strict_false(seed_pose):
    frames, graph = seed_pose
    model = HumanPoseNN(block35_repeats=0, block17_repeats=1)
    with pytest.raises(SeedCheckpointError, match="no place for") as error:
        import_seed_pose_checkpoint(model, graph.checkpoint)
    assert all("block35_1" in name for name in error.value.unused)
    report = import_seed_pose_checkpoint(model, graph.checkpoint, strict=False)
    assert len(report.unused) == 26


def test_mis_shaped_variables_are_listed(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        variables = [
            tf.compat.v1.get_variable("NewInceptionResnetV2/AuxiliaryScoring/Scoring_layer/"
                                      "weights", initializer=np.zeros((1, 1, 768, 64),
                                                                      np.float32)),
        ]
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            path = tf.compat.v1.train.Saver(variables).save(session, str(tmp_path / "bad.ckpt"))
    model = HumanPoseNN(block35_repeats=0, block17_repeats=0)
    before = model.get_layer("InceptionResnetV2.Conv2d_1a_3x3").kernel.numpy()
    with pytest.raises(SeedCheckpointError) as error:
        import_seed_pose_checkpoint(model, path)
    assert error.value.mis_shaped == [(
        "NewInceptionResnetV2/AuxiliaryScoring/Scoring_layer/weights",
        (1, 1, 768, 64), (1, 1, 768, 32),
    )]
    assert "InceptionResnetV2/Conv2d_1a_3x3/weights" in error.value.missing
    np.testing.assert_array_equal(  # nothing assigned when the import fails
        model.get_layer("InceptionResnetV2.Conv2d_1a_3x3").kernel.numpy(), before)


# ----------------------------------------------------------------------- seed TF1 gait


@pytest.mark.parametrize(
    "seed_kwargs,model_kwargs,dead_blocks",
    [
        ({}, {"extra_residual_blocks": "discarded"}, 90),
        ({"unit": "LSTM", "rnn_layers": 2, "shared_cell": False, "chain_repeats": True,
          "tf_names": "1.0"},
         {"recurrent_unit": "LSTM", "rnn_layers": 2}, 0),
        ({"rnn_layers": 2, "shared_cell": True},
         {"rnn_layers": 2, "share_rnn_weights": True, "extra_residual_blocks": "discarded"}, 90),
    ],
    ids=["gru-1-seed", "lstm-2-tf1.0-chained", "gru-2-shared-cell"],
)
def test_seed_gait_checkpoint_imports_and_reproduces(seed_kwargs, model_kwargs, dead_blocks,
                                                    tmp_path):
    sequence = np.random.default_rng(6).normal(0, 50, (6, 17, 17, 32)).astype(np.float32)
    graph = build_seed_gait_checkpoint(str(tmp_path), sequence, num_identities=5,
                                       **seed_kwargs)
    model = GaitNN(num_identities=5, **model_kwargs)
    report = import_seed_gait_checkpoint(model, graph.checkpoint)
    assert len(report.unused) == dead_blocks
    assert all("/Repeat/" in name for name in report.unused)
    assert sorted(report.loaded + report.unused) == graph.variable_names
    outputs = model.predict_on_batch({"features": sequence[None],
                                      "mask": np.ones((1, 6), bool)})
    outputs = {name: value[0] for name, value in outputs.items()}
    _assert_outputs_close(outputs, graph.outputs,
                          ["pose_descriptors", "identification", "logits"], atol=1e-5)


def test_gait_checkpoint_of_another_configuration_is_refused(tmp_path):
    sequence = np.zeros((3, 17, 17, 32), np.float32)
    graph = build_seed_gait_checkpoint(str(tmp_path), sequence, rnn_layers=2, shared_cell=False)
    model = GaitNN(num_identities=5, rnn_layers=2, share_rnn_weights=True,
                   extra_residual_blocks="discarded")
    with pytest.raises(SeedCheckpointError, match="cell_1"):
        import_seed_gait_checkpoint(model, graph.checkpoint)
    lstm = GaitNN(recurrent_unit="LSTM", extra_residual_blocks="discarded")
    with pytest.raises(SeedCheckpointError, match="lstm_cell/kernel or .*lstm_cell/weights"):
        import_seed_gait_checkpoint(lstm, graph.checkpoint, strict=False)


@pytest.mark.slow
def test_full_depth_seed_pose_checkpoint(tmp_path):
    frames = np.random.default_rng(7).integers(0, 256, (1, 299, 299, 3)).astype(np.uint8)
    graph = build_seed_pose_checkpoint(str(tmp_path), frames.astype(np.float32))
    model = HumanPoseNN()
    report = import_seed_pose_checkpoint(model, graph.checkpoint)
    assert sorted(report.loaded) == graph.variable_names
    outputs = model.predict_on_batch(frames)
    _assert_outputs_close(outputs, graph.outputs, ["features", "heatmap_logits", "heatmaps"])


def test_inference_model_ignores_the_seed_training_head(tmp_path):
    sequence = np.random.default_rng(8).normal(0, 50, (4, 17, 17, 32)).astype(np.float32)
    graph = build_seed_gait_checkpoint(str(tmp_path), sequence)
    model = GaitNN(extra_residual_blocks="discarded")
    report = import_seed_gait_checkpoint(model, graph.checkpoint)
    assert "GaitNN/Logits/fully_connected/weights" in report.unused
    outputs = model.predict_on_batch({"features": sequence[None], "mask": np.ones((1, 4), bool)})
    np.testing.assert_allclose(outputs["identification"][0], graph.outputs["identification"],
                               rtol=1e-4, atol=1e-5)


def test_small_backbone_has_no_seed_checkpoint(small_pose_model, seed_pose):
    with pytest.raises(ValueError, match="inception_resnet_v2"):
        import_seed_pose_checkpoint(small_pose_model, seed_pose[1].checkpoint)
