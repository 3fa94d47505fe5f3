"""Flow `run_pipeline`: ingest -> (train_pose) -> extract_features -> train_gait -> describe -> evaluate.

Each stage is its own flow (and MLflow run, nested under this one) and re-uses what is done:
unchanged videos are not decoded, a model trained on the same data is not trained again,
sequences that have features or vectors for a model are skipped.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow

from evaluation.report import headline_metrics
from flows.common import beside_store, store_writer, tracked_run
from flows.compute import shared_cluster
from flows.describe import describe
from flows.evaluate import evaluate_descriptors
from flows.features import extract_features
from flows.ingest import ingest_archive
from flows.synthesize import synthesize_archive
from flows.training import train_gait, train_pose
from params import PipelineParams, keyword_parameters
from tasks.pipeline import pose_input_size, store_has_groundtruth
from tracking.flow_runs import log_run_document, log_run_metrics


@flow(name="run-pipeline")
@keyword_parameters(PipelineParams)
def run_pipeline(params: PipelineParams) -> dict:
    """From a video archive to rank-1 tables, re-using every stage that is already done."""
    started = time.perf_counter()
    notes: list[str] = []
    # The whole run holds the store's writer lock, so a second run waits instead of interleaving.
    with tracked_run(params.tracking, "run-pipeline", params) as run_id, \
            store_writer(params.store, create=True), \
            shared_cluster(params.compute, gpu=params.features.device == "gpu") as compute:
        tracking = params.tracking.model_copy(update={"parent_run_id": run_id})
        frame_size = params.frame_size or pose_input_size(params.pose_model, params.pose_training.backbone)
        stage = dict(compute=compute, tracking=tracking)
        # With a pose model given, each bundle's features are computed as soon as its frames are stored.
        ingested = ingest_archive(
            archive=params.archive, store=params.store, layout=params.layout, frame_size=frame_size,
            fps=params.fps, crop=params.crop, min_track_frames=params.min_track_frames,
            pose_model=params.pose_model, features=params.features, **stage,
        )
        pose_model, pose_training = params.pose_model, None
        if pose_model is None:
            pose_store, protocol = params.store, params.protocol
            if not store_has_groundtruth(str(params.store)):
                pose_store, protocol = _synthetic_pose_store(params, frame_size, stage)
                notes.append(
                    f"{params.archive} has no ground-truth joints and no pose model was given: rendered a "
                    f"synthetic archive and trained the pose network on it ({pose_store})"
                )
            pose_training = train_pose(store=pose_store, protocol=protocol, training=params.pose_training, **stage)
            pose_model = pose_training["model_path"]
        features = extract_features(store=params.store, pose_model=pose_model, options=params.features, **stage)
        gait_training = train_gait(
            store=params.store, features=features["pose_model"], protocol=params.protocol,
            training=params.gait_training, **stage)
        described = describe(
            store=params.store, gait_model=gait_training["model_path"], features=features["pose_model"], **stage)
        evaluation = evaluate_descriptors(
            store=params.store, descriptors=described["gait_model"], protocol=params.protocol,
            classifiers=params.classifiers, tracking=tracking)
        summary = {
            "archive": str(params.archive), "store": str(params.store), "notes": notes,
            "ingest": ingested.counts(), "pose_training": pose_training, "features": features,
            "gait_training": gait_training, "describe": described, "evaluation": evaluation,
            "seconds": round(time.perf_counter() - started, 3), "mlflow_run_id": run_id,
        }
        log_run_document(params.tracking, run_id, summary, "pipeline_summary.json")
        log_run_metrics(params.tracking, run_id, headline_metrics(evaluation["results"]))
    return summary


def _synthetic_pose_store(params: PipelineParams, frame_size: int, stage: dict):
    """Renders and ingests the synthetic archive the pose network learns from."""
    options = params.synthetic_pose_data
    if isinstance(params.store, Path):
        archive = params.store.parent / f"{params.store.name}.pose-archive"
        store = params.store.parent / f"{params.store.name}.pose-store"
    else:  # an object store: its pose store beside it there, the rendered videos on this machine
        archive, store = beside_store(params.store, "pose-archive"), f"{params.store}.pose-store"
    synthesize_archive(
        archive=archive, layout="casia-b", subjects=options.subjects, views=options.views,
        frames=options.frames, size=frame_size + frame_size % 2, seed=options.seed, **stage,
    )
    ingest_archive(archive=archive, store=store, layout="casia-b", frame_size=frame_size, **stage)
    return store, None
