"""Flow `synthesize_archive`: a labelled synthetic walking archive, rendered on Dask."""

from __future__ import annotations

import time

from prefect import flow
from prefect.futures import as_completed

from tracking import progress
from flows.common import tracked_run
from flows.compute import dask_task_runner
from params import SynthesizeParams, keyword_parameters
from synth.archive import ArchiveSpec
from tasks.synthesize import plan_walks, render_walks
from tracking.flow_runs import log_run_metrics


@flow(name="synthesize-archive")
@keyword_parameters(SynthesizeParams)
def synthesize_archive(params: SynthesizeParams) -> dict:
    """Renders every walk view the archive lacks; re-running the same parameters renders nothing."""
    started = time.perf_counter()
    with tracked_run(params.tracking, "synthesize-archive", params) as run_id:
        counts = render_archive(params)
        seconds = time.perf_counter() - started
        frames = counts["rendered"] * params.frames
        log_run_metrics(params.tracking, run_id, {**counts, "wall_seconds": seconds, "frames_rendered": frames})
    return {"archive": str(params.archive), "layout": params.layout, **counts,
            "seconds": round(seconds, 3), "mlflow_run_id": run_id}


def render_archive(params: SynthesizeParams) -> dict:
    """Renders the archive's walk views in bundles on the Dask cluster; {"items", "rendered", "skipped"}."""
    spec = ArchiveSpec(
        layout=params.layout, subjects=params.subjects, views=params.views, frames=params.frames,
        size=params.size, seed=params.seed, difficulty=params.difficulty, spread=params.spread, style=params.style,
    )
    jobs = plan_walks(spec)
    bundles = [jobs[i:i + params.jobs_per_task] for i in range(0, len(jobs), params.jobs_per_task)]
    counts = {"items": len(jobs), "rendered": 0, "skipped": 0}
    if not bundles:
        return counts
    with dask_task_runner(params.compute) as runner:
        futures = [runner.submit(render_walks, dict(jobs=bundle, root=str(params.archive))) for bundle in bundles]
        for done, future in enumerate(as_completed(futures), start=1):
            for _, status in future.result():
                counts[status] += 1
            progress.report("synthesize", done, len(futures))
    return counts
