"""Small decisions `run_pipeline` takes from the store and the models."""

from __future__ import annotations

from prefect import task

from pretrained import PACKAGED_MODELS
from stages.models import is_seed_checkpoint, read_record
from storage.store import SequenceStore


@task(name="store-has-groundtruth")
def store_has_groundtruth(store: str) -> bool:
    from stages.pose_training import groundtruth_sequences  # Keras with it: only when a run asks

    return bool(groundtruth_sequences(SequenceStore(store)))


@task(name="pose-input-size")
def pose_input_size(pose_model: str | None, backbone: str) -> int:
    """The frame side the pose network reads: the given model's, else the backbone's."""
    from nets.pose_network import INPUT_SIZES

    if pose_model in PACKAGED_MODELS:
        pose_model = str(PACKAGED_MODELS[pose_model])
    if pose_model is None or "://" in pose_model or pose_model.startswith("runs:/"):
        return INPUT_SIZES[backbone]
    if is_seed_checkpoint(pose_model):  # the seed's networks are all Inception-ResNet-v2
        return INPUT_SIZES["inception_resnet_v2"]
    record = read_record(pose_model)
    if record.get("backbone") in INPUT_SIZES:
        return INPUT_SIZES[record["backbone"]]
    from nets.checkpoints import saved_input_shape

    return int(saved_input_shape(pose_model)[1])
