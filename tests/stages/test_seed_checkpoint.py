"""The seed's TF1 pose checkpoint as a pose model: converted once, keyed by its content."""

from __future__ import annotations

import numpy as np
import pytest

from nets.checkpoints import SeedCheckpointError
from stages.models import checkpoint_digest, converted_seed_pose_model, is_seed_checkpoint
from tests.nets.seed_reference import build_seed_pose_checkpoint

REDUCED = {"block35_repeats": 1, "block17_repeats": 1}


@pytest.fixture(scope="module")
def reduced_seed(tmp_path_factory):
    frames = np.random.default_rng(5).integers(0, 256, (1, 299, 299, 3)).astype(np.uint8)
    directory = str(tmp_path_factory.mktemp("seed"))
    return frames, build_seed_pose_checkpoint(directory, frames.astype(np.float32), block35=1, block17=1)


def test_a_checkpoint_is_converted_once_and_reproduces_the_seed(reduced_seed, tmp_path, monkeypatch):
    from nets.checkpoints import load_model

    frames, graph = reduced_seed
    assert is_seed_checkpoint(graph.checkpoint) and not is_seed_checkpoint(graph.checkpoint + ".keras")
    first = converted_seed_pose_model(graph.checkpoint, tmp_path, **REDUCED)
    assert first.record["checkpoint_sha256"] == checkpoint_digest(graph.checkpoint)
    outputs = load_model(first.path).predict_on_batch(frames)
    np.testing.assert_allclose(outputs["heatmaps"], graph.outputs["heatmaps"], atol=1e-4)

    import nets.pose_network

    monkeypatch.setattr(nets.pose_network, "HumanPoseNN", lambda *a, **k: pytest.fail("converted again"))
    again = converted_seed_pose_model(graph.checkpoint, tmp_path, **REDUCED)
    assert (again.path, again.digest) == (first.path, first.digest)


def test_a_checkpoint_that_does_not_fit_lists_its_variables_and_saves_nothing(reduced_seed, tmp_path):
    _, graph = reduced_seed
    with pytest.raises(SeedCheckpointError, match=r"(?s)missing.*block35_2"):
        converted_seed_pose_model(graph.checkpoint, tmp_path / "cache")  # full depth wants 10 + 20 blocks
    assert not list((tmp_path / "cache").glob("*.keras")) and not list((tmp_path / "cache").glob("*.json"))


@pytest.mark.slow
def test_a_full_shape_replica_of_the_seed_checkpoint_converts(tmp_path):
    from nets.checkpoints import load_model

    frames = np.random.default_rng(7).integers(0, 256, (1, 299, 299, 3)).astype(np.uint8)
    graph = build_seed_pose_checkpoint(str(tmp_path / "seed"), frames.astype(np.float32))
    converted = converted_seed_pose_model(graph.checkpoint, tmp_path / "cache")
    outputs = load_model(converted.path).predict_on_batch(frames)
    np.testing.assert_allclose(outputs["features"], graph.outputs["features"], atol=1e-4)
