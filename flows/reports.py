"""What flows return: JSON-ready summaries the CLI prints and MLflow stores."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from storage.ingest import IngestOutcome
from storage.manifest import ArchiveManifest


class FailedItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    reason: str


class StreamedFeatures(BaseModel):
    """Pose features an ingest run computed as it stored frames (ingest's `pose_model`)."""

    model_config = ConfigDict(frozen=True)

    pose_model: str
    sequences_done: int
    frames_done: int
    failed: list[FailedItem] = Field(default_factory=list)

    @classmethod
    def from_results(cls, tag: str, results: dict) -> "StreamedFeatures":
        """From the merged {"done": {id: frames}, "failed": {id: reason}} of the bundles."""
        return cls(
            pose_model=tag, sequences_done=len(results["done"]), frames_done=sum(results["done"].values()),
            failed=[FailedItem(id=i, reason=reason) for i, reason in sorted(results["failed"].items())],
        )


class IngestReport(BaseModel):
    """Counts of one ingest run, with every failure and every unmatched file named.

    With crop "track", `stored` and `skipped` hold walker sequence ids (`<source>#tNNN`),
    `too_short` the tracks left out with their length, `removed` the tracks of an earlier
    extraction that a new one did not find, and `failed` the sources where no walker was found
    (reason: "... no walker found ...")."""

    model_config = ConfigDict(frozen=True)

    archive: str
    layout: str
    sequences: int
    stored: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    failed: list[FailedItem] = Field(default_factory=list)
    too_short: list[FailedItem] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unmatched: list[FailedItem] = Field(default_factory=list)
    recovered: list[str] = Field(default_factory=list)
    frames_stored: int = 0
    decode_seconds: float = 0.0
    seconds: float = 0.0
    features: StreamedFeatures | None = None
    mlflow_run_id: str | None = None

    @classmethod
    def from_outcomes(cls, outcomes: list[IngestOutcome], manifest: ArchiveManifest, recovered: list[str]) -> "IngestReport":
        by_status = {"stored": [], "skipped": [], "failed": [], "too_short": [], "removed": []}
        for outcome in sorted(outcomes, key=lambda o: o.sequence_id):
            by_status[outcome.status].append(outcome)
        return cls(
            archive=manifest.root,
            layout=manifest.layout,
            sequences=len(manifest.entries),
            stored=[o.sequence_id for o in by_status["stored"]],
            skipped=[o.sequence_id for o in by_status["skipped"]],
            failed=[FailedItem(id=o.sequence_id, reason=o.reason) for o in by_status["failed"]],
            too_short=[FailedItem(id=o.sequence_id, reason=o.reason) for o in by_status["too_short"]],
            removed=[o.sequence_id for o in by_status["removed"]],
            unmatched=[FailedItem(id=u.path, reason=u.reason) for u in manifest.unmatched],
            recovered=recovered,
            frames_stored=sum(o.frames for o in by_status["stored"]),
            decode_seconds=sum(o.seconds for o in by_status["stored"]),
        )

    def metrics(self) -> dict[str, float]:
        streamed = {} if self.features is None else {
            "features_sequences_done": self.features.sequences_done, "features_frames_done": self.features.frames_done,
            "features_failed": len(self.features.failed),
        }
        return streamed | {
            "sequences": self.sequences,
            "stored": len(self.stored),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "too_short": len(self.too_short),
            "removed": len(self.removed),
            "unmatched": len(self.unmatched),
            "frames_stored": self.frames_stored,
            "decode_seconds": self.decode_seconds,
            "wall_seconds": self.seconds,
            "frames_per_second": self.frames_stored / self.seconds if self.seconds else 0.0,
        }

    def counts(self) -> dict:
        """The CLI's JSON summary: counts, plus each failure and unmatched file with its reason."""
        return {
            "archive": self.archive,
            "layout": self.layout,
            "sequences": self.sequences,
            "stored": len(self.stored),
            "skipped": len(self.skipped),
            "failed": [item.model_dump() for item in self.failed],
            "too_short": [item.model_dump() for item in self.too_short],
            "removed": list(self.removed),
            "unmatched": [item.model_dump() for item in self.unmatched],
            "frames_stored": self.frames_stored,
            "seconds": round(self.seconds, 3),
            **({} if self.features is None else {"features": self.features.model_dump()}),
            "mlflow_run_id": self.mlflow_run_id,
        }
