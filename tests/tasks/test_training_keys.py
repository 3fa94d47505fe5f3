"""The training tasks' cache keys: a model is reused only for frames stored the same way."""

from __future__ import annotations

import types

import pytest

import tasks.training as training
from params import GaitTrainingOptions, PoseTrainingOptions

CENTRE_136 = {"size": 136, "crop": "center", "fps": None}
PERSON_299 = {"size": 299, "crop": "person", "fps": 12.5}


def _sequences(extraction: dict, code_version: str = "ingest-1") -> dict[str, dict]:
    return {f"00{s}-nm-01-090": {"content_hash": f"h{s}", "subject": f"00{s}", "has_groundtruth": True,
                                  "extraction": extraction, "code_version": code_version} for s in range(1, 5)}


@pytest.fixture
def stored(monkeypatch):
    """Points both keys at a store whose sequences' attributes the test sets."""
    holder = {}
    monkeypatch.setattr(training, "SequenceStore", lambda path: types.SimpleNamespace(path=path))
    monkeypatch.setattr(training, "groundtruth_sequences", lambda store: holder["attrs"])
    monkeypatch.setattr(training, "feature_table", lambda store, tag: holder["attrs"])
    return holder


def _keys(stored, attrs: dict) -> tuple[str, str]:
    stored["attrs"] = attrs
    pose = training.pose_training_key(
        types.SimpleNamespace(task=training.train_pose_task),
        dict(store="/s", only_subjects=None, options=PoseTrainingOptions(), initial_model=None))
    gait = training.gait_training_key(
        types.SimpleNamespace(task=training.train_gait_task),
        dict(store="/s", features_tag="t", protocol="casia-b", train_subjects="2", options=GaitTrainingOptions()))
    return pose, gait


def test_the_same_videos_ingested_another_way_train_a_new_model(stored):
    first = _keys(stored, _sequences(CENTRE_136))
    assert _keys(stored, _sequences(CENTRE_136)) == first  # nothing changed: reused
    resized = _keys(stored, _sequences(PERSON_299))
    assert resized[0] != first[0] and resized[1] != first[1]
    reingested = _keys(stored, _sequences(CENTRE_136, code_version="ingest-2"))
    assert reingested[0] != first[0] and reingested[1] != first[1]
