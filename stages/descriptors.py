"""GaitNN over stored features: one 512-d identification vector per sequence into the store."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from stages.gait_training import read_features
from stages.models import load_cached
from storage.store import ChunkedArray, SequenceStore

DESCRIPTORS_STAGE = "descriptors"


def describe_sequences(
    store: SequenceStore,
    sequence_ids: Sequence[str],
    model_path: str,
    model_tag: str,
    features_tag: str,
    *,
    threads: int,
    device: str = "auto",
) -> int:
    """Writes `descriptors/<model_tag>/vector` (512,) float32 for each sequence lacking it.

    Raises:
      StoreError: a sequence has no features of `features_tag`.
    """
    from nets.gait_network import gait_descriptors
    from nets.runtime import configure_tensorflow

    todo = [i for i in sequence_ids if not store.has_stage(i, DESCRIPTORS_STAGE, model_tag)]
    if not todo:
        return 0
    configure_tensorflow(threads, device)
    vectors = gait_descriptors(load_cached(model_path, model_tag), read_features(store, todo, features_tag))
    for sequence_id, vector in zip(todo, vectors):
        store.write_stage(
            sequence_id, DESCRIPTORS_STAGE, model_tag, {"gait_model": model_tag, "features": features_tag},
            {"vector": ChunkedArray(vector.shape, "float32", vector.shape, [np.asarray(vector, np.float32)])},
        )
    return len(todo)
