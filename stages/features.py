"""HumanPoseNN over stored sequences: spatial features and decoded joints into the store."""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from provenance import module_version
from stages.models import load_cached
from storage.stages import OutputSpec, transform_frames
from storage.store import SequenceStore, StoreError

FEATURES_STAGE = "features"
# Workers tell the flow of each chunk of frames done on this Dask event topic (progress displays).
FEATURE_FRAMES_TOPIC = "gaitflow-feature-frames"


class NonFiniteError(ValueError):
    """A stage produced or was given NaN or infinity; the message names the sequence."""


def sequences_without(store: SequenceStore, stage: str, tag: str, code_version: str | None = None,
                      among: Sequence[str] | None = None, made_with: Mapping[str, Any] | None = None) -> list[str]:
    """Stored sequences that lack `<stage>/<tag>`, or hold one made by other code, sorted.

    With `code_version`, an output whose attributes record another version (or none) counts
    as missing, so a fixed stage recomputes what the old code made. With `made_with`, so does
    one whose attributes record other values of those keys (features stored in another
    precision, vectors of other features). With `among`, only those (stored) sequences are
    looked at.
    """
    pending = []
    with store.reading():
        for sequence_id in sorted(among) if among is not None else store.sequence_ids():
            attrs = store.stage_attrs(sequence_id, stage, tag)
            if attrs is None or (code_version is not None and attrs.get("code_version") != code_version) or any(
                    attrs.get(key) != value for key, value in (made_with or {}).items()):
                pending.append(sequence_id)
    return pending


@functools.lru_cache(maxsize=4)
def stage_code_version(stage: str) -> str:
    """The version of the code that computes `stage` ("features" or "descriptors")."""
    return module_version({FEATURES_STAGE: __name__, "descriptors": "stages.descriptors"}[stage])


def check_finite(sequence_id: str, what: str, values: np.ndarray, first_frame: int = 0) -> None:
    """Raises NonFiniteError naming the sequence and the first bad frame when `values` is not all finite.

    Args:
      values: (T, ...) per-frame values, or one vector.
    """
    finite = np.isfinite(values)
    if finite.all():
        return
    bad = np.flatnonzero(~finite.reshape(len(values), -1).all(axis=1)) if values.ndim > 1 else []
    where = f" from frame {first_frame + int(bad[0])} ({len(bad)} frames)" if len(bad) else ""
    raise NonFiniteError(f"{sequence_id}: {what} hold NaN or infinity{where}; nothing was stored for it")


def check_frames_fit_model(store: SequenceStore, sequence_ids: Sequence[str], input_size: int) -> None:
    """Raises ValueError, naming the store and one sequence, when stored frames are smaller than
    the pose network's input: up-scaling invents no detail, so such features would be garbage
    computed quietly. Larger frames are fine (they are scaled down).
    """
    with store.reading():
        sides = {sequence_id: int(store.open_sequence(sequence_id)["frames"].shape[1]) for sequence_id in sequence_ids}
    for sequence_id, side in sides.items():
        if side < input_size:
            raise ValueError(
                f"{store.path}: sequence {sequence_id!r} has {side}x{side} px frames, smaller than the pose "
                f"network's {input_size}x{input_size} input; ingest again with --frame-size {input_size} "
                "(into another store) or use a pose model for smaller frames"
            )


def extract_features(
    store: SequenceStore,
    sequence_ids: Sequence[str],
    model_path: str,
    model_tag: str,
    *,
    batch_frames: int,
    dtype: str,
    threads: int | None,
    device: str = "auto",
    mixed_precision: bool = False,
    network_batch: int | None = None,
    on_frames: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Writes `features/<model_tag>/{spatial (T, 17, 17, 32), joints (T, 16, 3)}` for each sequence.

    `joints` are `(y, x, p)` in stored-frame pixels. Sequences that already have them are
    left alone. `threads`: TensorFlow's intra-op threads (None: its own pools,
    `nets.runtime.configure_tensorflow`). `mixed_precision` computes in float16 (for GPUs with tensor cores).
    `network_batch` caps the frames of one network call (a chunk of `batch_frames` is split);
    None: the whole chunk on a GPU, `cpu_network_batch` on a CPU. `on_frames(sequence id,
    frames)` is told of every chunk done, for progress displays.

    Returns:
      {"done": {sequence id: frames}, "failed": {sequence id: reason}}: a sequence whose
      features are not finite, or that vanished from the store, fails alone; the rest go on.
    """
    from nets.runtime import configure_tensorflow

    used = configure_tensorflow(threads, device)
    features_of = _feature_function(model_path, model_tag, mixed_precision, network_batch, used)
    check_frames_fit_model(store, sequence_ids, features_of.input_size)
    outputs = [OutputSpec("spatial", (17, 17, 32), dtype), OutputSpec("joints", (16, 3), "float32")]
    code_version = stage_code_version(FEATURES_STAGE)
    done, failed = {}, {}
    with store.batched():  # on object storage, one commit for the bundle
        for sequence_id in sequence_ids:
            if (store.stage_attrs(sequence_id, FEATURES_STAGE, model_tag) or {}).get("code_version") == code_version:
                continue
            frames_seen = [0]

            def transform(frames, sequence_id=sequence_id, frames_seen=frames_seen):
                result = features_of(frames)
                spatial, joints = np.asarray(result["features"]), np.asarray(result["joints"])
                check_finite(sequence_id, "pose features", spatial, frames_seen[0])
                check_finite(sequence_id, "decoded joints", joints, frames_seen[0])
                frames_seen[0] += len(frames)
                if on_frames is not None:
                    on_frames(sequence_id, len(frames))
                return {"spatial": spatial, "joints": joints}

            attrs = {"pose_model": model_tag, "dtype": dtype, "code_version": code_version}
            try:
                done[sequence_id] = transform_frames(
                    store, sequence_id, FEATURES_STAGE, model_tag, attrs, transform, outputs, batch_frames
                )
            except (NonFiniteError, StoreError) as error:
                failed[sequence_id] = str(error)
    return {"done": done, "failed": failed}


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
    features_of = frame_feature_function(model, network_batch)
    features_of.input_size = model_input_size(model)
    return features_of
