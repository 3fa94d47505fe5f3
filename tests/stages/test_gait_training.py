"""Training GaitNN on stored features: who it trains on, what it records, which layout it builds."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from stages.features import FEATURES_STAGE
from storage.store import ChunkedArray, SequenceStore

TAG = "feed00000001"
PEOPLE = ("001", "002", "003", "004")


@pytest.fixture(scope="module")
def feature_store(tmp_path_factory):
    """Four people, two nm walks each, with random 6-frame features under `TAG`."""
    store = SequenceStore(tmp_path_factory.mktemp("store") / "s.zarr", create=True)
    rng = np.random.default_rng(0)
    for person in PEOPLE:
        for index in (1, 2):
            sequence_id = f"{person}-nm-0{index}-090"
            frames = np.zeros((6, 8, 8, 3), np.uint8)
            attrs = {"subject": person, "condition": "nm", "index": index, "view": 90, "session": 1,
                     "content_hash": sequence_id, "has_groundtruth": False}
            store.write_sequence(sequence_id, attrs, {"frames": ChunkedArray(frames.shape, "uint8", frames.shape, [frames])})
            spatial = rng.normal(0, 50, (6, 17, 17, 32)).astype(np.float16)
            store.write_stage(sequence_id, FEATURES_STAGE, TAG, {"pose_model": TAG},
                              {"spatial": ChunkedArray(spatial.shape, "float16", spatial.shape, [spatial])})
    return store


def _train(store, model_dir, residual_blocks):
    from stages.gait_training import train_gait_model

    return train_gait_model(
        store, model_dir, features_tag=TAG, protocol="casia-b", train_subjects="2", recurrent_unit="GRU",
        rnn_layers=1, residual_blocks=residual_blocks, loss="softmax", epochs=1, people_per_batch=2,
        sequences_per_person=2, clip_frames=4, learning_rate=1e-3, patience=1, validation_fraction=0.0, seed=0,
    )


def test_training_uses_only_the_training_people_and_records_the_layout(feature_store, tmp_path):
    trained = _train(feature_store, tmp_path, "discarded")
    record = json.loads((tmp_path / f"gait-{trained.digest}.json").read_text())
    assert record["fit_people"] == ["001", "002"]  # "2": the first two people; 003 and 004 are tested
    assert record["training_sequences"] == 4 and record["residual_blocks"] == "discarded"
    model = keras.saving.load_model(trained.path, compile=False)
    assert not [layer.name for layer in model.layers if ".Repeat." in layer.name]
    assert model.get_layer("GaitNN.Logits.fully_connected").units == 2


def test_the_chained_layout_applies_the_seeds_extra_blocks(feature_store, tmp_path):
    trained = _train(feature_store, tmp_path, "chained")
    model = keras.saving.load_model(trained.path, compile=False)
    repeat_convs = {layer.name for layer in model.layers if ".Repeat." in layer.name and isinstance(layer, keras.layers.Conv2D)}
    assert len(repeat_convs) == 3 * (3 + 2 + 1)  # three convs in each of the 3 + 2 + 1 extra blocks
