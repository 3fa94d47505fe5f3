"""Which sequences a features or describe run still has to do."""

from __future__ import annotations

import numpy as np

from stages.features import sequences_without
from storage.store import ChunkedArray, SequenceStore


def _store_with_outputs(tmp_path) -> SequenceStore:
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    for sequence_id, dtype in (("a", "float16"), ("b", "float32")):
        frames = np.zeros((2, 4, 4, 3), np.uint8)
        store.write_sequence(sequence_id, {}, {"frames": ChunkedArray(frames.shape, "uint8", frames.shape, [frames])})
        store.write_stage(sequence_id, "features", "m", {"dtype": dtype, "code_version": "v1"},
                          {"spatial": ChunkedArray((2, 1), dtype, (2, 1), [np.zeros((2, 1), dtype)])})
    store.write_sequence("c", {}, {"frames": ChunkedArray((2, 4, 4, 3), "uint8", (2, 4, 4, 3),
                                                          [np.zeros((2, 4, 4, 3), np.uint8)])})
    return store


def test_outputs_of_other_code_or_other_inputs_count_as_missing(tmp_path):
    store = _store_with_outputs(tmp_path)
    assert sequences_without(store, "features", "m") == ["c"]
    assert sequences_without(store, "features", "m", "v2") == ["a", "b", "c"]  # a fix recomputes
    # Features asked in float32: the float16 ones are not reused.
    assert sequences_without(store, "features", "m", "v1", made_with={"dtype": "float32"}) == ["a", "c"]
    assert sequences_without(store, "features", "m", "v1", among=["a", "b"], made_with={"dtype": "float16"}) == ["b"]
