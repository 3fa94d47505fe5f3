"""GaitNN over stored features: one 512-d identification vector per sequence into the store."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from stages.features import NonFiniteError, check_finite, stage_code_version
from stages.gait_training import read_features
from stages.models import load_cached
from storage.store import ChunkedArray, SequenceStore, StoreError

DESCRIPTORS_STAGE = "descriptors"


def describe_sequences(
    store: SequenceStore,
    sequence_ids: Sequence[str],
    model_path: str,
    model_tag: str,
    features_tag: str,
    *,
    threads: int | None,
    device: str = "auto",
) -> dict:
    """Writes `descriptors/<model_tag>/vector` (512,) float32 for each sequence lacking it (or
    holding one made by other code).

    Returns:
      {"done": [sequence ids], "failed": {sequence id: reason}}: a sequence without features of
      `features_tag`, or whose features or vector are not finite, fails alone.
    """
    from nets.gait_network import gait_descriptors
    from nets.runtime import configure_tensorflow

    code_version = stage_code_version(DESCRIPTORS_STAGE)
    failed: dict[str, str] = {}
    features: dict[str, np.ndarray] = {}
    with store.reading():
        todo = [i for i in sequence_ids
                if (store.stage_attrs(i, DESCRIPTORS_STAGE, model_tag) or {}).get("code_version") != code_version]
        for sequence_id in todo:
            try:
                [features[sequence_id]] = read_features(store, [sequence_id], features_tag)
                check_finite(sequence_id, "pose features", features[sequence_id])
            except (StoreError, NonFiniteError) as error:
                failed[sequence_id] = str(error)
                features.pop(sequence_id, None)
    if not features:
        return {"done": [], "failed": failed}
    configure_tensorflow(threads, device)
    vectors = gait_descriptors(load_cached(model_path, model_tag), list(features.values()))
    done = []
    with store.batched():  # on object storage, one commit for the bundle
        for sequence_id, vector in zip(features, vectors):
            vector = np.asarray(vector, np.float32)
            try:
                check_finite(sequence_id, "identification vector", vector)
            except NonFiniteError as error:
                failed[sequence_id] = str(error)
                continue
            store.write_stage(
                sequence_id, DESCRIPTORS_STAGE, model_tag,
                {"gait_model": model_tag, "features": features_tag, "code_version": code_version},
                {"vector": ChunkedArray(vector.shape, "float32", vector.shape, [vector])},
            )
            done.append(sequence_id)
    return {"done": done, "failed": failed}
