"""Reading stored sequences for later stages, and writing their per-frame outputs.

Nothing here knows about networks: a stage hands in a `transform` from a batch of frames to
named arrays, and frames stream through it one chunk at a time so memory stays flat.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

import numpy as np

from storage.store import ChunkedArray, SequenceStore

FrameTransform = Callable[[np.ndarray], Mapping[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """One per-frame output of a stage: name, shape after the time axis, dtype."""

    name: str
    frame_shape: tuple[int, ...]
    dtype: str


def transform_frames(
    store: SequenceStore,
    sequence_id: str,
    stage: str,
    name: str,
    attrs: Mapping,
    transform: FrameTransform,
    outputs: Sequence[OutputSpec],
    batch_frames: int,
) -> int:
    """Streams a sequence's frames through `transform` into `<stage>/<name>`; returns frames done.

    The first output is written chunk by chunk as batches come; the others are small per-frame
    records gathered and written after it. The group appears only once complete.

    The frames and the write share one reading block: on object storage a sequence replaced
    after its frames were read refuses the stage (StoreConflict) rather than storing outputs of
    frames it no longer holds.

    Args:
      transform: (n, S, S, 3) uint8 -> {output name: (n, *frame_shape)}.
      batch_frames: frames per transform call and per chunk of the outputs.
    """
    with store.reading():
        frames = store.open_sequence(sequence_id)["frames"]
        count = frames.shape[0]
        first, rest = outputs[0], outputs[1:]
        gathered: dict[str, list[np.ndarray]] = {spec.name: [] for spec in rest}

        def first_pieces():
            for start in range(0, count, batch_frames):
                result = transform(np.asarray(frames[start:start + batch_frames]))
                for spec in rest:
                    gathered[spec.name].append(np.asarray(result[spec.name], dtype=spec.dtype))
                yield np.asarray(result[first.name], dtype=first.dtype)

        def gathered_piece(spec: OutputSpec):
            parts = gathered[spec.name]
            yield np.concatenate(parts) if parts else np.zeros((0, *spec.frame_shape), spec.dtype)

        arrays = {first.name: ChunkedArray((count, *first.frame_shape), first.dtype,
                                           (batch_frames, *first.frame_shape), first_pieces())}
        for spec in rest:
            arrays[spec.name] = ChunkedArray((count, *spec.frame_shape), spec.dtype,
                                             (max(count, 1), *spec.frame_shape), gathered_piece(spec))
        store.write_stage(sequence_id, stage, name, {**attrs, "frame_count": count}, arrays)
        return count


def read_stage_array(store: SequenceStore, sequence_id: str, stage: str, name: str, array: str) -> np.ndarray:
    """The whole of one stage array of one sequence."""
    return np.asarray(store.open_stage(sequence_id, stage, name)[array][:])


def sample_groundtruth_frames(
    store: SequenceStore, sequence_ids: Sequence[str], frames_per_sequence: int, seed: int
) -> dict[str, np.ndarray]:
    """Evenly spaced frames with their ground-truth joints, for training a pose network.

    Returns:
      frames (N, S, S, 3) uint8, joints_xy (N, 16, 2) float32 in stored-frame pixels,
      visible (N, 16) bool, sequence (N,) int index into `sequence_ids`.
    """
    rng = np.random.default_rng(seed)
    frames, joints, visible, owner = [], [], [], []
    for number, sequence_id in enumerate(sequence_ids):
        group = store.open_sequence(sequence_id)
        if "joints_gt" not in group:
            raise ValueError(f"{store.path}: sequence {sequence_id!r} has no ground-truth joints")
        count = group["frames"].shape[0]
        take = min(frames_per_sequence, count)
        offset = rng.integers(0, max(1, count // take))
        picks = np.unique(np.linspace(offset, count - 1, take).astype(int))
        frames.append(group["frames"].get_orthogonal_selection((picks,)))
        joints.append(group["joints_gt"].get_orthogonal_selection((picks,)))
        visible.append(group["visible_gt"].get_orthogonal_selection((picks,)))
        owner.append(np.full(len(picks), number))
    if not frames:
        raise ValueError(f"{store.path}: no sequences to sample pose training frames from")
    return {
        "frames": np.concatenate(frames),
        "joints_xy": np.concatenate(joints).astype(np.float32),
        "visible": np.concatenate(visible).astype(bool),
        "sequence": np.concatenate(owner),
    }


def read_vectors(store: SequenceStore, stage: str, name: str, array: str = "vector") -> tuple[list[str], np.ndarray, list[dict]]:
    """One vector per sequence that has `<stage>/<name>`, with the sequence's attributes.

    Returns:
      ids: sequence ids, sorted; vectors: (N, D); attrs: the sequences' attributes.
    """
    ids, vectors, attrs = [], [], []
    with store.reading():
        for sequence_id, sequence_attrs in sorted(store.all_sequence_attrs().items()):
            if store.has_stage(sequence_id, stage, name):
                ids.append(sequence_id)
                vector = np.asarray(store.open_stage(sequence_id, stage, name)[array][:])
                if not np.isfinite(vector).all():
                    raise ValueError(f"{store.path}: sequence {sequence_id!r} has a {stage}/{name} {array} with "
                                     "NaN or infinity; describe it again")
                vectors.append(vector)
                attrs.append(sequence_attrs)
    if not vectors:
        raise ValueError(f"{store.path}: no sequence has {stage}/{name}; run that stage first")
    return ids, np.stack(vectors), attrs
