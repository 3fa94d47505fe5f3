"""Tasks of `synthesize_archive`: each wires one call into `synth/`."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from synth.archive import ArchiveSpec, WalkJob, plan_archive, render_job


@task(name="plan-walks")
def plan_walks(spec: ArchiveSpec) -> tuple[WalkJob, ...]:
    return plan_archive(spec)


@task(name="render-walks")
def render_walks(jobs: tuple[WalkJob, ...], root: str) -> list[tuple[str, str]]:
    """Renders a bundle of walk views; returns (path, "rendered" | "skipped") per job.

    Rendering is compute, not retried; a re-run renders only what is missing.
    """
    return [(job.path, render_job(job, Path(root))) for job in jobs]
