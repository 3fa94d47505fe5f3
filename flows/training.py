"""Flows `train_pose` and `train_gait`: train a network, keep the best epoch, log it to MLflow.

Training runs in the flow's own process (every core, or its GPU) rather than on a Dask
worker; a finished training is reused by later runs with the same data and options.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.common import beside_store, tracked_run
from params import TrainGaitParams, TrainPoseParams, keyword_parameters
from tasks.models import resolve_model
from tracking.flow_runs import log_run_metrics
from tasks.training import log_model, protocol_training_people, train_gait_task, train_pose_task


def model_dir(store: Path | str) -> str:
    return str(beside_store(store, "models"))


@flow(name="train-pose")
@keyword_parameters(TrainPoseParams)
def train_pose(params: TrainPoseParams) -> dict:
    """Trains HumanPoseNN on the store's frames with ground-truth joints."""
    with tracked_run(params.tracking, "train-pose", params) as run_id:
        people = None
        if params.protocol is not None:
            people = sorted(protocol_training_people(str(params.store), params.protocol.protocol,
                                                     params.protocol.train_subjects))
        initial = None
        if params.training.initial_model is not None:
            initial = resolve_model(params.training.initial_model, params.tracking,
                                    str(Path(model_dir(params.store)) / "downloaded"))
        arguments = (str(params.store), params.training, people, model_dir(params.store), params.tracking, run_id,
                     initial)
        trained, reused = _cached_or_fresh(train_pose_task, arguments)
        return _finish(params.tracking, run_id, trained, reused)


@flow(name="train-gait")
@keyword_parameters(TrainGaitParams)
def train_gait(params: TrainGaitParams) -> dict:
    """Trains GaitNN on the features of the protocol's training people."""
    with tracked_run(params.tracking, "train-gait", params) as run_id:
        arguments = (
            str(params.store), params.features, params.protocol.protocol, params.protocol.train_subjects,
            params.training, model_dir(params.store), params.tracking, run_id,
        )
        trained, reused = _cached_or_fresh(train_gait_task, arguments)
        return _finish(params.tracking, run_id, trained, reused)


def _cached_or_fresh(training_task, arguments: tuple) -> tuple[dict, bool]:
    """The task's (possibly cached) result; trains again if a cached model file was deleted."""
    state = training_task(*arguments, return_state=True)
    trained = state.result()
    if not Path(trained["path"]).is_file():
        return training_task.with_options(refresh_cache=True)(*arguments), False
    return trained, state.name == "Cached"


def _finish(tracking, run_id: str, trained: dict, reused: bool) -> dict:
    log_run_metrics(tracking, run_id, {k: v for k, v in trained["record"].get("metrics", {}).items()})
    uri = log_model(tracking, run_id, trained["path"])
    return {
        "model_path": trained["path"], "model_tag": trained["digest"], "model_uri": uri, "reused": reused,
        "metrics": trained["record"].get("metrics", {}), "mlflow_run_id": run_id,
    }


__all__ = ["train_gait", "train_pose", "resolve_model"]
