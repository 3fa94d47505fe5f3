"""Benchmark: how the pipeline's wall time and memory grow with the archive.

On synthetic CASIA-B-style archives of three doubling sizes (people x views x 8 walks; quick:
2 views; the protocol needs a second view):

- growth: wall time of the pipeline per size. Quick mode runs the CPU-bound stage flows
  (`ingest_archive` + `extract_features` with a fixed small pose model) on one shared cluster;
  full mode runs `run_pipeline` (ingest streaming features, extract_features finding nothing
  left, train_gait with a few steps, describe, evaluate) with a fixed small pose model. Rule: every doubling of the archive may
  at most multiply the wall time by `DOUBLING_LIMIT` (2 = linear, plus 10 % noise tolerance);
  the figure is the largest doubling ratio. The linear fit t = a + b * sequences is reported.
- workers: the stage flows (ingest + features) on the largest quick / middle full archive,
  Dask 2 workers x 1 thread against 1 worker x 1 thread (same machine, 2 cores); target
  >= 1.6x.
- incremental: after the largest run, the same run repeated with nothing new (the fixed cost
  of a run that re-uses everything: cluster start, flow and MLflow bookkeeping, cache checks),
  then a new person's first walks (~5 % new videos) are added and the run repeated again; it
  must cost at most 15 % of the full run. So few walks run in the flow's own process
  (`in_process_sequences`); another person's as many walks, added after, run on the Dask workers
  for comparison (`incremental_on_dask_*`).
- memory: peak RSS of this process and of each Dask worker (sampled every 0.1 s; the
  Prefect server excluded) per size; "flat" = the largest size's peak at most
  `MEMORY_GROWTH_LIMIT` x the smallest's.

Run: `python -m benchmarks.scale [--full]` or `python -m benchmarks --only scale`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.feature_flow import PeakRSS, load_average, prefect_session, save_pose_model
from benchmarks.harness import Target, run_standalone

NAME = "scale"
DOUBLING_LIMIT = 2.2
WORKER_SPEEDUP_TARGET = 1.6
INCREMENTAL_TARGET = 0.15
MEMORY_GROWTH_LIMIT = 1.25
VIEWS = (36, 90)
WALKS = (("nm", 6), ("bg", 1), ("cl", 1))


def write_people(root: Path, first: int, last: int, frames: int, size: int, limit: int | None = None,
                 views: tuple[int, ...] = VIEWS) -> int:
    """Renders people first..last (inclusive) into a casia-b archive, at most `limit` walk
    views; returns sequences written."""
    from synth.archive import ArchiveSpec, plan_archive, render_job

    spec = ArchiveSpec(subjects=last, views=views, walks=WALKS, frames=frames, size=size, seed=11)
    count = 0
    for job in plan_archive(spec):
        if first <= int(job.subject) <= last and (limit is None or count < limit):
            render_job(job, root)
            count += 1
    return count


def stage_flows(archive: Path, store: Path, model_path: str, compute, tracking) -> dict:
    """ingest_archive + extract_features on the cluster `compute` points at."""
    from flows.features import extract_features
    from flows.ingest import ingest_archive

    start = time.perf_counter()
    ingested = ingest_archive(archive=archive, store=store, layout="casia-b", frame_size=136,
                              compute=compute, tracking=tracking)
    middle = time.perf_counter()
    features = extract_features(store=store, pose_model=model_path, compute=compute, tracking=tracking)
    end = time.perf_counter()
    return {"ingest_s": middle - start, "features_s": end - middle, "stored": ingested.counts()["stored"],
            "featured": features["sequences_done"]}


def one_run(mode: str, archive: Path, store: Path, model_path: str, subjects: int, n_workers: int,
            threads: int, session: dict, in_process_sequences: int | None = None) -> dict:
    """One timed run (cluster start included) with peak memory; `in_process_sequences` None: the default."""
    from flows.compute import shared_cluster
    from params import ComputeParams

    chosen = {} if in_process_sequences is None else {"in_process_sequences": in_process_sequences}
    compute = ComputeParams(n_workers=n_workers, threads_per_worker=threads, scratch_dir=session["scratch"], **chosen)
    exclude = (session["server_pid"],) if session["server_pid"] else ()
    with PeakRSS(exclude=exclude) as memory:
        start = time.perf_counter()
        if mode == "pipeline":
            summary = run_pipeline_once(archive, store, model_path, subjects, compute, session["tracking"])
            # Given a pose model, the pipeline computes features as ingest stores frames (streamed).
            streamed = (summary["ingest"].get("features") or {}).get("sequences_done", 0)
            detail = {"stored": summary["ingest"]["stored"],
                      "featured": summary["features"]["sequences_done"] + streamed,
                      "described": summary["describe"]["described"],
                      "gait_reused": bool(summary["gait_training"].get("reused"))}
        else:
            with shared_cluster(compute) as shared:
                detail = stage_flows(archive, store, model_path, shared, session["tracking"])
        seconds = time.perf_counter() - start
    return {"seconds": seconds, **detail, "peak_rss_total_mib": memory.peak_total,
            "peak_rss_main_mib": memory.peak_self, "peak_rss_largest_child_mib": memory.peak_child}


def run_pipeline_once(archive: Path, store: Path, model_path: str, subjects: int, compute, tracking) -> dict:
    from flows.pipeline import run_pipeline
    from params import GaitTrainingOptions, ProtocolOptions

    return run_pipeline(
        archive=archive, store=store, layout="casia-b", pose_model=model_path,
        protocol=ProtocolOptions(train_subjects=str(subjects // 2)),
        gait_training=GaitTrainingOptions(epochs=1, rnn_layers=1, people_per_batch=2,
                                          sequences_per_person=2, clip_frames=8, validation_fraction=0.0),
        classifiers=("nn",), compute=compute, tracking=tracking,
    )


def measure(quick: bool) -> dict:
    if quick:
        mode, people, frames, worker_size, views = "stages", (1, 2, 4), 16, 1, VIEWS
    else:
        mode, people, frames, worker_size, views = "pipeline", (4, 8, 16), 16, 1, VIEWS
    loads = [load_average()]
    out: dict = {"mode": mode, "frames_per_walk": frames, "views": views, "sizes": []}
    with tempfile.TemporaryDirectory(prefix="gaitflow-scale-") as scratch:
        work = Path(scratch)
        with prefect_session(work / "home") as session:
            model_path, _ = save_pose_model("small", work / "models")
            rendered = 0
            start = time.perf_counter()
            archives = []
            for number, subjects in enumerate(people):
                archive = work / f"archive-{subjects}"
                rendered += write_people(archive, 1, subjects, frames, 160, views=views)
                archives.append(archive)
            out["render_s"] = time.perf_counter() - start
            for subjects, archive in zip(people, archives):
                run = one_run(mode, archive, work / f"store-{subjects}.zarr", model_path, subjects, 2, 1, session)
                sequences = subjects * len(views) * sum(n for _, n in WALKS)
                out["sizes"].append({"subjects": subjects, "sequences": sequences, **run})
                loads.append(load_average())

            # Nothing new: what a re-run costs when every stage is re-used.
            largest = people[-1]
            noop = one_run(mode, archives[-1], work / f"store-{largest}.zarr", model_path, largest, 2, 1, session)
            out["noop"] = noop
            # Incremental: ~5 % new videos (a new person's first walks) into the largest archive, same run again.
            five_percent = max(1, round(0.05 * out["sizes"][-1]["sequences"]))
            added = write_people(archives[-1], largest + 1, largest + 1, frames, 160, limit=five_percent, views=views)
            try:
                inc = one_run(mode, archives[-1], work / f"store-{largest}.zarr", model_path, largest, 2, 1, session)
            except Exception as error:  # keep the other figures; the miss is reported
                inc = {"seconds": float("nan"), "error": repr(error)[:300]}
            out["incremental"] = {"added_sequences": added, **inc}
            # The same again with every task on the Dask workers: what running few in the flow's process saves.
            added = write_people(archives[-1], largest + 2, largest + 2, frames, 160, limit=five_percent, views=views)
            try:
                on_dask = one_run(mode, archives[-1], work / f"store-{largest}.zarr", model_path, largest, 2, 1, session,
                                  in_process_sequences=0)
            except Exception as error:  # keep the other figures
                on_dask = {"seconds": float("nan"), "error": repr(error)[:300]}
            out["incremental_on_dask"] = {"added_sequences": added, **on_dask}
            loads.append(load_average())

            # Workers: the CPU-bound stage flows on fresh stores, 1 vs 2 workers.
            archive = archives[worker_size]
            workers = {}
            for n_workers, threads in ((1, 1), (2, 1)):
                workers[f"{n_workers}x{threads}"] = one_run(
                    "stages", archive, work / f"store-w{n_workers}x{threads}.zarr", model_path, people[worker_size],
                    n_workers, threads, session)
                loads.append(load_average())
            out["workers"] = {"sequences": out["sizes"][worker_size]["sequences"], **workers}
    out["loads"] = loads
    return out


def summarise(m: dict) -> dict:
    sizes = m["sizes"]
    n = np.array([s["sequences"] for s in sizes], float)
    t = np.array([s["seconds"] for s in sizes], float)
    slope, intercept = np.polyfit(n, t, 1)
    doubling = [t[i + 1] / t[i] for i in range(len(t) - 1)]
    figures: dict = {"mode": m["mode"], "frames_per_walk": m["frames_per_walk"], "views": list(m["views"]), "render_s": round(m["render_s"], 1)}
    for s in sizes:
        k = f"size{s['sequences']}"
        figures[f"{k}_wall_s"] = round(s["seconds"], 2)
        figures[f"{k}_s_per_sequence"] = round(s["seconds"] / s["sequences"], 3)
        figures[f"{k}_peak_rss_total_mib"] = round(s["peak_rss_total_mib"])
        figures[f"{k}_peak_rss_main_mib"] = round(s["peak_rss_main_mib"])
        figures[f"{k}_peak_rss_largest_worker_mib"] = round(s["peak_rss_largest_child_mib"])
    figures["doubling_ratios"] = [round(x, 3) for x in doubling]
    figures["fit_fixed_s"] = round(float(intercept), 2)
    figures["fit_s_per_sequence"] = round(float(slope), 4)
    figures["growth_rule"] = (f"each doubling of sequences may multiply wall time by at most {DOUBLING_LIMIT} "
                              "(linear + 10% noise); value = largest doubling ratio")
    inc = m["incremental"]
    full = sizes[-1]["seconds"]
    figures["incremental_added_sequences"] = inc["added_sequences"]
    figures["incremental_added_fraction"] = round(inc["added_sequences"] / sizes[-1]["sequences"], 3)
    figures["incremental_wall_s"] = round(inc["seconds"], 2)
    figures["incremental_fraction_of_full"] = round(inc["seconds"] / full, 3)
    figures["incremental_detail"] = {k: v for k, v in inc.items() if k in ("stored", "featured", "described",
                                                                             "gait_reused", "error")}
    on_dask = m["incremental_on_dask"]
    figures["incremental_on_dask_added_sequences"] = on_dask["added_sequences"]
    figures["incremental_on_dask_wall_s"] = round(on_dask["seconds"], 2)
    figures["incremental_on_dask_fraction_of_full"] = round(on_dask["seconds"] / full, 3)
    figures["incremental_on_dask_detail"] = {k: v for k, v in on_dask.items()
                                             if k in ("stored", "featured", "described", "gait_reused", "error")}
    figures["noop_rerun_wall_s"] = round(m["noop"]["seconds"], 2)
    figures["noop_rerun_fraction_of_full"] = round(m["noop"]["seconds"] / full, 3)
    figures["noop_rerun_detail"] = {k: v for k, v in m["noop"].items() if k in ("stored", "featured", "described",
                                                                                "gait_reused")}
    w = m["workers"]
    figures["workers_sequences"] = w["sequences"]
    for key in ("1x1", "2x1", "1x2"):
        if key not in w:
            continue
        r = w[key]
        figures[f"workers_{key}_wall_s"] = round(r["seconds"], 2)
        figures[f"workers_{key}_ingest_s"] = round(r["ingest_s"], 2)
        figures[f"workers_{key}_features_s"] = round(r["features_s"], 2)
    speedup = w["1x1"]["seconds"] / w["2x1"]["seconds"]
    figures["workers_speedup_2x1_over_1x1"] = round(speedup, 3)
    figures["workers_speedup_ingest"] = round(w["1x1"]["ingest_s"] / w["2x1"]["ingest_s"], 3)
    figures["workers_speedup_features"] = round(w["1x1"]["features_s"] / w["2x1"]["features_s"], 3)
    if "1x2" in w:
        figures["workers_speedup_2x1_over_1x2"] = round(w["1x2"]["seconds"] / w["2x1"]["seconds"], 3)
    memory = sizes[-1]["peak_rss_total_mib"] / sizes[0]["peak_rss_total_mib"]
    figures["memory_growth_largest_over_smallest"] = round(memory, 3)
    figures["load_averages_1_5_15"] = m["loads"]
    figures["note"] = ("wall times include the Dask cluster start, TF import and model loads; quick mode: ingest + "
                       "extract_features flows; full: run_pipeline with a fixed pose model and a few gait steps")
    targets = [
        Target(f"growth: largest wall-time ratio per doubling ({m['mode']})", round(max(doubling), 3), "<=",
               DOUBLING_LIMIT),
        Target("Dask 2 workers / 1 worker speed-up (ingest + features)", round(speedup, 3), ">=",
               WORKER_SPEEDUP_TARGET),
        Target(f"incremental re-run (+{inc['added_sequences']} sequences) / full run", round(inc["seconds"] / full, 3),
               "<=", INCREMENTAL_TARGET),
        Target("peak RSS (process tree) largest / smallest archive", round(memory, 3), "<=", MEMORY_GROWTH_LIMIT),
    ]
    return {"figures": figures, "targets": targets}


def run(quick: bool) -> dict:
    """The harness entry point."""
    return summarise(measure(quick))


if __name__ == "__main__":
    raise SystemExit(run_standalone(NAME, run))
