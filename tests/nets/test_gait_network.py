import keras
import numpy as np
import pytest
import tensorflow as tf

from nets.gait_network import GaitNN, gait_descriptors, pad_sequences


def _alone(model, sequence, output="identification"):
    inputs = {"features": sequence[None], "mask": np.ones((1, len(sequence)), bool)}
    return model.predict_on_batch(inputs)[output][0]


def test_output_shapes_and_dtypes(gait_model, feature_sequences):
    features, mask = pad_sequences(feature_sequences)
    assert features.shape == (3, 5, 17, 17, 32) and mask.shape == (3, 5)
    outputs = gait_model.predict_on_batch({"features": features, "mask": mask})
    assert {k: v.shape for k, v in outputs.items()} == {
        "pose_descriptors": (3, 5, 512),
        "identification": (3, 512),
        "embedding": (3, 512),
        "logits": (3, 4),
    }
    assert all(str(v.dtype) == "float32" for v in outputs.values())
    np.testing.assert_allclose(np.linalg.norm(outputs["embedding"], axis=1), 1.0, rtol=1e-5)
    assert np.all(outputs["pose_descriptors"][~mask] == 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"recurrent_unit": "LSTM", "rnn_layers": 2},
        {"rnn_layers": 2, "share_rnn_weights": True, "extra_residual_blocks": "discarded"},
        {"feature_centering": "walk"},
    ],
    ids=["gru", "lstm-2", "seed-defects", "walk-centred"],
)
def test_masked_batch_gives_the_descriptor_of_each_sequence_alone(kwargs, feature_sequences):
    keras.utils.set_random_seed(0)
    model = GaitNN(**kwargs)
    features, mask = pad_sequences(feature_sequences, length_multiple=4)  # T = 8, 6 padded
    batched = model.predict_on_batch({"features": features, "mask": mask})
    # Batched and alone, float32 sums of terms of size ~10 run in another order (and, on a busy
    # machine, other kernels): elements near zero differ by ~1e-5 absolute. Masking errors are
    # of the size of the values themselves.
    for row, sequence in enumerate(feature_sequences):
        np.testing.assert_allclose(
            batched["identification"][row], _alone(model, sequence), rtol=1e-4, atol=1e-4
        )
        np.testing.assert_allclose(
            batched["pose_descriptors"][row, : len(sequence)],
            _alone(model, sequence, "pose_descriptors"),
            rtol=1e-4, atol=1e-4,
        )


def test_gait_descriptors_keeps_input_order(gait_model, feature_sequences):
    descriptors = gait_descriptors(gait_model, feature_sequences, batch_size=2)
    assert descriptors.shape == (3, 512)
    for row, sequence in enumerate(feature_sequences):
        np.testing.assert_allclose(descriptors[row], _alone(gait_model, sequence),
                                   rtol=1e-4, atol=1e-5)


def test_gradients_reach_every_trainable_weight(feature_sequences):
    keras.utils.set_random_seed(0)
    model = GaitNN(num_identities=3, rnn_layers=2)
    features, mask = pad_sequences(feature_sequences)
    with tf.GradientTape() as tape:
        outputs = model({"features": features, "mask": mask}, training=True)
        loss = keras.losses.sparse_categorical_crossentropy(
            np.array([0, 1, 2]), outputs["logits"], from_logits=True
        )
        loss = tf.reduce_mean(loss)
    gradients = tape.gradient(loss, model.trainable_variables)
    for variable, gradient in zip(model.trainable_variables, gradients, strict=True):
        assert gradient is not None, variable.path
        assert np.any(np.asarray(gradient) != 0), variable.path


def test_seed_defects_are_selectable():
    fixed = GaitNN(rnn_layers=2)
    seed_like = GaitNN(rnn_layers=2, share_rnn_weights=True, extra_residual_blocks="discarded")
    names_fixed = {layer.name for layer in fixed.layers}
    names_seed = {layer.name for layer in seed_like.layers}
    assert "GaitNN.DownSampling.17x17.Repeat.residual_block_3.Conv_2" in names_fixed
    assert not any(".Repeat." in name for name in names_seed)
    assert {"GaitNN.Recurrent.cell_0", "GaitNN.Recurrent.cell_1"} <= names_fixed
    assert "GaitNN.Recurrent.cell_0" in names_seed and "GaitNN.Recurrent.cell_1" not in names_seed
    # One recurrent layer applied twice: half the recurrent weights.
    assert fixed.count_params() - seed_like.count_params() > 1_500_000


def test_pad_sequences_rejects_bad_input():
    with pytest.raises(ValueError, match="no sequences"):
        pad_sequences([])
    with pytest.raises(ValueError, match="frames"):
        pad_sequences([np.zeros((2, 17, 17, 32)), np.zeros((2, 17, 17, 16))])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"recurrent_unit": "RNN"}, "recurrent_unit"),
        ({"rnn_layers": 0}, "rnn_layers"),
        ({"num_identities": 1}, "num_identities"),
        ({"extra_residual_blocks": "dropped"}, "extra_residual_blocks"),
        ({"feature_centering": "frame"}, "feature_centering"),
        ({"input_dropout_rate": 1.0}, "input_dropout_rate"),
        ({"feature_centering": "walk", "weights": "H3.6m-GRU-1.ckpt"}, "uncentred"),
    ],
)
def test_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GaitNN(**kwargs)


def test_walk_centring_ignores_what_stays_constant_through_a_walk(feature_sequences, tmp_path):
    keras.utils.set_random_seed(0)
    model = GaitNN(feature_centering="walk", extra_residual_blocks="discarded")
    sequence = feature_sequences[0]
    offset = np.random.default_rng(1).normal(0, 5, (1, 17, 17, 32)).astype(np.float32)
    np.testing.assert_allclose(_alone(model, sequence + offset), _alone(model, sequence), rtol=1e-4, atol=1e-5)
    uncentred = GaitNN(extra_residual_blocks="discarded")
    assert not np.allclose(_alone(uncentred, sequence + offset), _alone(uncentred, sequence), atol=1e-3)
    model.save(tmp_path / "gait.keras")
    loaded = keras.saving.load_model(tmp_path / "gait.keras")
    np.testing.assert_allclose(_alone(loaded, sequence), _alone(model, sequence), rtol=1e-5, atol=1e-6)


def test_input_channel_dropout_drops_whole_channels_of_a_walk_in_training_only(feature_sequences, tmp_path):
    keras.utils.set_random_seed(0)
    model = GaitNN(input_dropout_rate=0.5, extra_residual_blocks="discarded", num_identities=3)
    dropout = model.get_layer("feature_channel_dropout")
    walks = np.stack([feature_sequences[0][:4], feature_sequences[2]]) + 0.5  # (2, 4, 17, 17, 32)
    dropped = np.asarray(dropout(walks, training=True))
    gone = (dropped == 0).all(axis=(1, 2, 3))  # (2, 32): a channel is zero in every frame and cell, or nowhere
    kept = (dropped != 0).all(axis=(1, 2, 3))
    assert (gone | kept).all() and 0 < gone.sum() < gone.size
    assert not (gone[0] == gone[1]).all()  # each walk draws its own channels
    np.testing.assert_array_equal(np.asarray(dropout(walks, training=False)), walks)
    model.save(tmp_path / "gait.keras")
    loaded = keras.saving.load_model(tmp_path / "gait.keras")
    np.testing.assert_allclose(_alone(loaded, walks[0]), _alone(model, walks[0]), rtol=1e-5, atol=1e-6)
