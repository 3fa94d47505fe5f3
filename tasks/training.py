"""Training tasks. They run in the flow's own process (all its cores, or its GPU), and their
results are cached across runs under keys that say what the model was trained from."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from prefect import task
from prefect.context import TaskRunContext

from params import GaitTrainingOptions, PoseTrainingOptions, TrackingParams
from provenance import module_version
from stages.gait_training import feature_table, train_gait_model
from stages.pose_training import groundtruth_sequences, train_pose_model
from storage.store import SequenceStore
from tasks.caching import task_code
from tasks.retries import TRACKING_RETRIES
from tracking import mlflow_tracking
from tracking.progress import training_progress


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _code(context: TaskRunContext, stage_module: str) -> str:
    """The task's source and the source of the stage it runs, with all the project code that imports."""
    return task_code(context) + module_version(stage_module)


def _stored_as(sequence_id: str, attrs: dict) -> tuple:
    """What a stored sequence's frames are: its source's bytes, how they were decoded (size, crop,
    rate) and by which ingest code. The source alone is not enough: re-ingesting the same video at
    another frame size rewrites the frames under the same content hash."""
    return sequence_id, attrs["content_hash"], attrs.get("extraction"), attrs.get("code_version")


def pose_training_key(context: TaskRunContext, parameters: dict) -> str:
    """Cache key of `train_pose_task`: the stored sequences with ground truth of the people it
    may use (`_stored_as`: source content, extraction and ingest code), those people, the
    training options, and the task's code.

    A cached model is reused until the training data change (a sequence is added, removed,
    replaced, or ingested again another way), an option changes, the content of the model it
    starts from changes, or this task's code changes.
    """
    store = SequenceStore(parameters["store"])
    allowed = parameters["only_subjects"]
    data = sorted(
        _stored_as(i, a) for i, a in groundtruth_sequences(store).items()
        if allowed is None or a["subject"] in allowed
    )
    options = parameters["options"].model_dump(mode="json")
    initial = parameters["initial_model"]
    return "pose:" + _digest(str(store.path), data, options, parameters["only_subjects"],
                             initial and initial[1], _code(context, "stages.pose_training"))


def gait_training_key(context: TaskRunContext, parameters: dict) -> str:
    """Cache key of `train_gait_task`: the pose model whose features it trains on, the training
    people's sequences that have them (`_stored_as`), the protocol split, the
    options, and the code: this task's and `stages.gait_training` with every project module it
    imports.

    A cached model is reused until any of those changes; new videos of test people do not
    invalidate it.
    """
    from evaluation.protocols import split_subjects

    store = SequenceStore(parameters["store"])
    table = feature_table(store, parameters["features_tag"])
    train, _ = split_subjects([a["subject"] for a in table.values()], parameters["protocol"], parameters["train_subjects"])
    data = sorted(_stored_as(i, a) for i, a in table.items() if a["subject"] in train)
    return "gait:" + _digest(
        str(store.path), parameters["features_tag"], data, parameters["protocol"], parameters["train_subjects"],
        parameters["options"].model_dump(mode="json"), _code(context, "stages.gait_training"),
    )


@task(name="train-pose-model", cache_key_fn=pose_training_key, persist_result=True, result_serializer="json")
def train_pose_task(
    store: str,
    options: PoseTrainingOptions,
    only_subjects: list[str] | None,
    model_dir: str,
    tracking: TrackingParams,
    run_id: str,
    initial_model: tuple[str, str] | None = None,
) -> dict:
    """Trains HumanPoseNN, from the weights of `initial_model` ((path, digest), the resolved
    `options.initial_model`) when given; returns {"path", "digest", "record"} of the saved model."""
    trained = train_pose_model(
        SequenceStore(store), model_dir, **options.model_dump(exclude={"initial_model"}), only_subjects=only_subjects,
        initial_model=initial_model and initial_model[0],
        callbacks=[mlflow_tracking.metrics_callback(tracking.tracking_uri, run_id), training_progress("train pose")],
        backup_dir=Path(model_dir) / "checkpoints" / "pose",
    )
    return {"path": trained.path, "digest": trained.digest, "record": trained.record}


@task(name="train-gait-model", cache_key_fn=gait_training_key, persist_result=True, result_serializer="json")
def train_gait_task(
    store: str,
    features_tag: str,
    protocol: str,
    train_subjects: str | None,
    options: GaitTrainingOptions,
    model_dir: str,
    tracking: TrackingParams,
    run_id: str,
) -> dict:
    """Trains GaitNN on the training people's features; returns {"path", "digest", "record"}."""
    trained = train_gait_model(
        SequenceStore(store), model_dir, features_tag=features_tag, protocol=protocol,
        train_subjects=train_subjects, **options.model_dump(),
        callbacks=[mlflow_tracking.metrics_callback(tracking.tracking_uri, run_id), training_progress("train gait")],
    )
    return {"path": trained.path, "digest": trained.digest, "record": trained.record}


@task(name="protocol-training-people")
def protocol_training_people(store: str, protocol: str, train_subjects: str | None) -> frozenset[str]:
    """The people the protocol trains on, among those stored."""
    from evaluation.protocols import split_subjects

    subjects = [a["subject"] for a in SequenceStore(store).all_sequence_attrs().values()]
    return split_subjects(subjects, protocol, train_subjects)[0]


@task(name="log-model", **TRACKING_RETRIES)
def log_model(tracking: TrackingParams, run_id: str, model_path: str) -> str:
    """Stores the model file and its record in the MLflow run; returns the model's URI."""
    return mlflow_tracking.log_model_file(tracking.tracking_uri, run_id, model_path)
