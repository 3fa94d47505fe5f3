"""Validated parameters shared by the flows. Unknown keys are rejected."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComputeParams(Params):
    """Where tasks run."""

    dask_address: str | None = Field(
        None, description="Address of an existing Dask scheduler (tcp://host:8786); None starts a local cluster."
    )
    n_workers: int = Field(2, ge=1, le=256, description="Worker processes of the local cluster.")
    threads_per_worker: int = Field(1, ge=1, le=64, description="Threads per local worker (also TensorFlow's).")
    scratch_dir: Path | None = Field(None, description="Dask's spill and scratch folder for local workers.")


class TrackingParams(Params):
    """Where runs are recorded."""

    tracking_uri: str = Field(
        "sqlite:///.gaitflow/mlflow.db", min_length=1, description="MLflow tracking URI (a SQLite file by default)."
    )
    experiment: str = Field("gaitflow", min_length=1, max_length=200, description="MLflow experiment name.")
    artifact_root: Path | None = Field(
        Path(".gaitflow/mlartifacts"), description="Folder for artifacts of experiments this run creates."
    )
    parent_run_id: str | None = Field(None, description="MLflow run to nest this run under.")


class IngestParams(Params):
    """Parameters of `ingest_archive`."""

    archive: Path = Field(description="Top folder of the video archive.")
    store: Path = Field(description="The zarr store to write (created if missing).")
    layout: Literal["casia-b", "tum-gaid", "folder"] = Field("casia-b", description="How the archive names sequences.")
    frame_size: int = Field(299, ge=16, le=2048, description="Side of the stored square frames in pixels.")
    fps: float | None = Field(None, gt=0, le=240, description="Resample to this frame rate; None keeps the source's.")
    crop: Literal["center", "person"] = Field(
        "center", description="center: the largest centred square; person: follow the moving person (static camera)."
    )
    chunk_frames: int = Field(16, ge=1, le=1024, description="Frames per zarr chunk along time.")
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)
