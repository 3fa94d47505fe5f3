"""Inference tasks mapped over the Dask cluster: features and identification vectors."""

from __future__ import annotations

from prefect import task

from flows.params import FeatureOptions
from stages.descriptors import describe_sequences
from stages.features import extract_features, sequences_without
from storage.store import SequenceStore



@task(name="sequences-without")
def pending_sequences(store: str, stage: str, tag: str) -> list[str]:
    return sequences_without(SequenceStore(store), stage, tag)


@task(name="extract-features")
def extract_features_task(
    store: str, sequence_ids: list[str], model_path: str, model_tag: str, options: FeatureOptions, threads: int
) -> dict[str, int]:
    """Features of a bundle of sequences; frames done per sequence."""
    return extract_features(
        SequenceStore(store), sequence_ids, model_path, model_tag,
        batch_frames=options.batch_frames, dtype=options.dtype, threads=threads, device=options.device,
        mixed_precision=options.mixed_precision, network_batch=options.network_batch,
    )


@task(name="describe-sequences")
def describe_task(
    store: str, sequence_ids: list[str], model_path: str, model_tag: str, features_tag: str, threads: int
) -> int:
    """Identification vectors of a bundle of sequences; how many were written."""
    return describe_sequences(SequenceStore(store), sequence_ids, model_path, model_tag, features_tag, threads=threads)
