"""HumanPoseNN over stored sequences: spatial features and decoded joints into the store."""

from __future__ import annotations

import functools
from typing import Sequence

from stages.models import load_cached
from storage.stages import OutputSpec, transform_frames
from storage.store import SequenceStore

FEATURES_STAGE = "features"


def sequences_without(store: SequenceStore, stage: str, tag: str) -> list[str]:
    """Stored sequences that lack `<stage>/<tag>`, sorted."""
    return [i for i in store.sequence_ids() if not store.has_stage(i, stage, tag)]


def extract_features(
    store: SequenceStore,
    sequence_ids: Sequence[str],
    model_path: str,
    model_tag: str,
    *,
    batch_frames: int,
    dtype: str,
    threads: int,
    device: str = "auto",
    mixed_precision: bool = False,
    network_batch: int | None = None,
) -> dict[str, int]:
    """Writes `features/<model_tag>/{spatial (T, 17, 17, 32), joints (T, 16, 3)}` for each sequence.

    `joints` are `(y, x, p)` in stored-frame pixels. Sequences that already have them are
    left alone. `mixed_precision` computes in float16 (for GPUs with tensor cores).
    `network_batch` caps the frames of one network call (a chunk of `batch_frames` is split);
    None: the whole chunk on a GPU, `cpu_network_batch` on a CPU. Returns frames done per
    sequence.
    """
    from nets.runtime import configure_tensorflow

    used = configure_tensorflow(threads, device)
    features_of = _feature_function(model_path, model_tag, mixed_precision, network_batch, used)

    def transform(frames):
        result = features_of(frames)
        return {"spatial": result["features"], "joints": result["joints"]}

    outputs = [OutputSpec("spatial", (17, 17, 32), dtype), OutputSpec("joints", (16, 3), "float32")]
    done = {}
    for sequence_id in sequence_ids:
        if store.has_stage(sequence_id, FEATURES_STAGE, model_tag):
            continue
        attrs = {"pose_model": model_tag, "dtype": dtype}
        done[sequence_id] = transform_frames(
            store, sequence_id, FEATURES_STAGE, model_tag, attrs, transform, outputs, batch_frames
        )
    return done


@functools.lru_cache(maxsize=2)
def _feature_function(model_path: str, model_tag: str, mixed_precision: bool, network_batch: int | None,
                      device: str):
    """The compiled feature function, built once per worker process and model."""
    from nets.frame_features import cpu_network_batch, frame_feature_function
    from nets.pose_network import model_input_size

    model = load_cached(model_path, model_tag)
    if mixed_precision:
        from nets.precision import mixed_precision_copy

        model = mixed_precision_copy(model)
    if network_batch is None and device == "cpu":
        network_batch = cpu_network_batch(model_input_size(model))
    return frame_feature_function(model, network_batch)
