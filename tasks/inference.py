"""Inference tasks, on the Dask cluster or the flow's own threads: features and identification vectors."""

from __future__ import annotations

from prefect import task

from params import FeatureOptions
from stages.descriptors import describe_sequences
from stages.features import FEATURE_FRAMES_TOPIC, extract_features, sequences_without, stage_code_version
from storage.store import SequenceStore
from tracking import progress


@task(name="sequences-without")
def pending_sequences(store: str, stage: str, tag: str, made_with: dict | None = None) -> list[str]:
    """Sequences lacking `<stage>/<tag>` or holding one made by other code or, with `made_with`,
    from other inputs (`stages.features.sequences_without`)."""
    return sequences_without(SequenceStore(store), stage, tag, stage_code_version(stage), made_with=made_with)


@task(name="extract-features")
def extract_features_task(
    store: str, lease: str, sequence_ids: list[str], model_path: str, model_tag: str, options: FeatureOptions, threads: int | None
) -> dict:
    """Features of a bundle of sequences: {"done": {id: frames}, "failed": {id: reason}}."""
    return extract_features(
        SequenceStore(store, lease=lease), sequence_ids, model_path, model_tag,
        batch_frames=options.batch_frames, dtype=options.dtype, threads=threads, device=options.device,
        mixed_precision=options.mixed_precision, network_batch=options.network_batch,
        on_frames=progress.worker_events(FEATURE_FRAMES_TOPIC),
    )


@task(name="frame-count")
def frame_count(store: str, sequence_ids: list[str]) -> int:
    """Frames the sequences hold (for a progress display)."""
    opened = SequenceStore(store)
    with opened.reading():
        return sum(int(opened.open_sequence(i)["frames"].shape[0]) for i in sequence_ids)


@task(name="describe-sequences")
def describe_task(
    store: str, lease: str, sequence_ids: list[str], model_path: str, model_tag: str, features_tag: str, threads: int | None
) -> dict:
    """Identification vectors of a bundle of sequences: {"done": [ids], "failed": {id: reason}}."""
    return describe_sequences(SequenceStore(store, lease=lease), sequence_ids, model_path, model_tag, features_tag, threads=threads)
