"""Benchmark: pose features, frames/s of the `extract_features` flow end to end.

On a synthetic CASIA-B-style archive, per backbone:

- network alone: `nets.frame_features.frame_feature_function` (what the flow runs: features
  and decoded joints) on the stored frames already in memory, chunks of `batch_frames` split
  into network calls as the flow splits them (`cpu_network_batch` on a CPU);
  also the features-only trunk (`nets.pose_network.feature_extractor`) for reference;
- compute limit: analytic FLOPs per frame (`nets.model_flops`) over the GFLOP/s of a large
  fp32 matrix product measured in the same run (`benchmarks.pose_network.MatmulProbe`);
- seed-style serial loop: in this process, decode one sequence, crop, run the network, write
  its features, next (`storage.ingest.ingest_sequence` + `stages.features.extract_features`);
- streamed: `ingest_archive` given the pose model, so each bundle's features are computed by
  the worker that has just stored its frames while others decode (`stages.streaming`), then
  `extract_features` as `run_pipeline` follows it; on a fresh cluster, cold like the staged run;
- the flows end to end: `ingest_archive` (decode + crop + zarr write) then `extract_features`
  (read, network, zarr write) on a Dask cluster of 1 worker x 2 threads and 2 workers x 1
  thread, with a private Prefect server. The cluster is started once per configuration
  outside the timing (as `run_pipeline` shares one cluster across its stages); TensorFlow's
  import and the model load in the workers are inside it ("cold"). A second
  `extract_features` run with another model on the warmed workers gives the "warm" rate.

Targets (CPU): network (full model as the flow runs it) >= 80 % of the compute limit; flow
end to end (ingest + features, cold, best worker configuration) >= 85 % of the network alone.
On a GPU the network is also measured with mixed precision.

Run: `python -m benchmarks.feature_flow [--full]` or `python -m benchmarks --only feature_flow`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from benchmarks.harness import Target, run_standalone

NAME = "feature_flow"
NETWORK_OF_LIMIT_TARGET = 0.80
FLOW_OF_NETWORK_TARGET = 0.85


# ---------------------------------------------------------------------------------------------
# Helpers shared with benchmarks/scale.py
# ---------------------------------------------------------------------------------------------

class PeakRSS:
    """Samples the resident memory of this process and all its descendants (Dask workers,
    the Prefect server) in a thread; `peak_total`, `peak_self`, `peak_workers` in MiB."""

    def __init__(self, interval: float = 0.1, exclude: tuple[int, ...] = ()):
        import psutil

        self._psutil = psutil
        self._interval = interval
        self._exclude = set(exclude)
        self._stop = threading.Event()
        self.peak_total = self.peak_self = self.peak_child = 0.0
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = self._psutil.Process()
        while not self._stop.is_set():
            try:
                own = me.memory_info().rss
                children = 0
                largest = 0
                for child in me.children(recursive=True):
                    if child.pid in self._exclude:
                        continue
                    try:
                        rss = child.memory_info().rss
                    except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                        continue
                    children += rss
                    largest = max(largest, rss)
                mib = 1 / 2**20
                self.peak_self = max(self.peak_self, own * mib)
                self.peak_child = max(self.peak_child, largest * mib)
                self.peak_total = max(self.peak_total, (own + children) * mib)
            except self._psutil.Error:
                pass
            self._stop.wait(self._interval)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def prefect_session(home: Path) -> Iterator[dict]:
    """A private Prefect server and MLflow store under `home` (the tests/conftest.py pattern).
    Yields {"tracking": TrackingParams, "scratch": Path, "server_pid": int | None}."""
    from gaitflow.services import in_process_prefect
    from gaitflow.settings import Settings

    settings = Settings(home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
                        prefect_api_url=None, dask_address=None)
    from params import TrackingParams

    with in_process_prefect(settings):
        tracking = TrackingParams(tracking_uri=settings.tracking_uri, experiment="benchmark",
                                  artifact_root=home / "artifacts")
        yield {"tracking": tracking, "scratch": settings.scratch, "server_pid": _server_pid()}


def _server_pid() -> int | None:
    import psutil

    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if "prefect" in " ".join(child.cmdline()) and "server" in child.cmdline():
                return child.pid
    return None


def write_synthetic_archive(root: Path, *, subjects: int, views: tuple[int, ...], walks: int,
                            frames: int, size: int, seed: int = 0, first_subject: int = 1) -> int:
    """A casia-b archive of `subjects * len(views) * walks` nm walks; returns frames written.

    `first_subject` > 1 adds people to an existing archive (for incremental runs)."""
    from synth.archive import ArchiveSpec, write_archive

    spec = ArchiveSpec(subjects=first_subject + subjects - 1, views=views, walks=(("nm", walks),),
                       frames=frames, size=size, seed=seed)
    if first_subject > 1:
        # Render only the new people: the same plan restricted to subjects >= first_subject.
        from synth.archive import plan_archive, render_job

        for job in plan_archive(spec):
            if _job_subject(job) >= first_subject:
                render_job(job, root)
    else:
        write_archive(spec, root)
    return subjects * len(views) * walks * frames


def _job_subject(job) -> int:
    for attribute in ("subject", "person", "subject_number"):
        value = getattr(job, attribute, None)
        if value is not None:
            return int(str(value).lstrip("p"))
    raise AttributeError("WalkJob has no subject attribute")


def save_pose_model(backbone: str, folder: Path, seed: int = 0) -> tuple[str, str]:
    """An untrained HumanPoseNN saved as a .keras file (weights do not change the cost)."""
    import keras

    from nets.pose_network import HumanPoseNN
    from stages.models import save_trained_model

    keras.utils.set_random_seed(seed)
    model = HumanPoseNN(backbone)
    saved = save_trained_model(model, folder, f"pose-{backbone}-s{seed}", {"benchmark": NAME, "seed": seed})
    del model
    keras.backend.clear_session()
    return saved.path, saved.digest


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------

def _stored_frames(store_path: Path) -> np.ndarray:
    from storage.store import SequenceStore

    store = SequenceStore(store_path)
    return np.concatenate([np.asarray(store.open_sequence(i)["frames"][:]) for i in store.sequence_ids()])


def network_alone(model_path: str, frames: np.ndarray, batch: int, probe, *, rounds: int,
                  mixed_precision: bool = False, network_batch: int | None = None) -> dict:
    """Frames/s of the flow's frame function over `frames` in chunks of `batch`, each split
    into network calls of `network_batch` as the flow splits them (best of `rounds` passes)."""
    from nets.frame_features import frame_feature_function
    from stages.models import load_cached

    model = load_cached(model_path, Path(model_path).stem)
    if mixed_precision:
        from nets.precision import mixed_precision_copy

        model = mixed_precision_copy(model)
    features_of = frame_feature_function(model, network_batch)
    features_of(frames[:batch])  # trace
    if len(frames) % batch:
        features_of(frames[-(len(frames) % batch):])  # trace the tail shape too
    best = 0.0
    for _ in range(rounds):
        probe.sample()
        start = time.perf_counter()
        for first in range(0, len(frames), batch):
            features_of(frames[first:first + batch])
        best = max(best, len(frames) / (time.perf_counter() - start))
    probe.sample()
    return {"frames_per_s": best}


def trunk_alone(model_path: str, batch: int, probe, *, rounds: int) -> tuple[float, float, float]:
    """(features-only frames/s, FLOPs/frame of the trunk, FLOPs/frame of the full model)."""
    from benchmarks.pose_network import frames_per_second
    from nets.model_flops import model_flops
    from nets.pose_network import feature_extractor
    from stages.models import load_cached

    model = load_cached(model_path, Path(model_path).stem)
    extractor = feature_extractor(model)
    fps = frames_per_second(extractor, batch, min_seconds=1.0, rounds=rounds, probe=probe)
    return fps, float(model_flops(extractor)), float(model_flops(model))


def serial_loop(archive: Path, store_path: Path, model_path: str, frame_size: int, batch: int) -> dict:
    """Seed style, one process: decode a sequence, crop, run it, write it, next."""
    from stages.features import extract_features
    from storage.frames import FrameSpec
    from storage.ingest import ingest_sequence
    from storage.manifest import discover
    from storage.store import SequenceStore

    store = SequenceStore(store_path, create=True)
    spec = FrameSpec(size=frame_size)
    tag = Path(model_path).stem
    frames = 0
    start = time.perf_counter()
    for entry in discover(archive, "casia-b").entries:
        ingest_sequence(store, entry, spec, layout="casia-b")
        done = extract_features(store, [entry.sequence_id], model_path, tag, batch_frames=batch,
                                dtype="float16", threads=2, device="cpu")
        frames += sum(done["done"].values())
    seconds = time.perf_counter() - start
    return {"frames": frames, "seconds": seconds, "frames_per_s": frames / seconds}


def flow_run(archive: Path, store_path: Path, models: list[tuple[str, str]], frame_size: int,
             n_workers: int, session: dict, *, device: str = "cpu", mixed_precision: bool = False) -> dict:
    """ingest_archive then extract_features (cold), then extract_features with a second model
    (warm), on one local cluster of `n_workers` x (2 / n_workers) threads."""
    from flows.compute import shared_cluster
    from flows.features import extract_features
    from flows.ingest import ingest_archive
    from params import ComputeParams, FeatureOptions

    # On the workers even for the 16 walks of the full trunk, which the product would run in the
    # flow's own process (`in_process_sequences`): this measures the distributed path.
    compute = ComputeParams(n_workers=n_workers, threads_per_worker=max(1, 2 // n_workers),
                            scratch_dir=session["scratch"], in_process_sequences=0)
    options = FeatureOptions(device=device, mixed_precision=mixed_precision)
    out = {"n_workers": n_workers, "threads_per_worker": compute.threads_per_worker,
           "batch_frames": options.batch_frames, "sequences_per_task": options.sequences_per_task}
    with shared_cluster(compute) as shared:
        stage = dict(compute=shared, tracking=session["tracking"])
        start = time.perf_counter()
        ingested = ingest_archive(archive=archive, store=store_path, layout="casia-b", frame_size=frame_size,
                                  **stage)
        out["ingest_s"] = time.perf_counter() - start
        start = time.perf_counter()
        report = extract_features(store=store_path, pose_model=models[0][0], options=options, **stage)
        out["features_cold_s"] = time.perf_counter() - start
        out["frames"] = report["frames_done"]
        if report["failed"] or ingested.counts().get("failed"):
            raise RuntimeError(f"flow failures: {report['failed']} {ingested.counts()}")
        if len(models) > 1:
            start = time.perf_counter()
            warm = extract_features(store=store_path, pose_model=models[1][0], options=options, **stage)
            out["features_warm_s"] = time.perf_counter() - start
            out["features_warm_frames_per_s"] = warm["frames_done"] / out["features_warm_s"]
    out["end_to_end_s"] = out["ingest_s"] + out["features_cold_s"]
    out["end_to_end_frames_per_s"] = out["frames"] / out["end_to_end_s"]
    out["ingest_frames_per_s"] = out["frames"] / out["ingest_s"]
    out["features_cold_frames_per_s"] = out["frames"] / out["features_cold_s"]
    return out


def streamed_run(archive: Path, store_path: Path, model: tuple[str, str], frame_size: int, n_workers: int,
                 session: dict, *, device: str = "cpu", mixed_precision: bool = False) -> dict:
    """`ingest_archive` with the pose model (each bundle's features right after its frames, in the
    same task), then `extract_features` as `run_pipeline` follows it (finding nothing left), on a
    fresh cluster like `flow_run`'s cold part."""
    from flows.compute import shared_cluster
    from flows.features import extract_features
    from flows.ingest import ingest_archive
    from params import ComputeParams, FeatureOptions

    compute = ComputeParams(n_workers=n_workers, threads_per_worker=max(1, 2 // n_workers),
                            scratch_dir=session["scratch"], in_process_sequences=0)  # as in flow_run
    options = FeatureOptions(device=device, mixed_precision=mixed_precision)
    with shared_cluster(compute) as shared:
        stage = dict(compute=shared, tracking=session["tracking"])
        start = time.perf_counter()
        ingested = ingest_archive(archive=archive, store=store_path, layout="casia-b", frame_size=frame_size,
                                  pose_model=model[0], features=options, **stage)
        left = extract_features(store=store_path, pose_model=model[0], options=options, **stage)
        seconds = time.perf_counter() - start
    streamed = ingested.features
    if streamed is None or streamed.failed or ingested.failed or left["pending"]:
        raise RuntimeError(f"streamed flow: {ingested.counts()}, {left['pending']} sequences left for features")
    return {"n_workers": n_workers, "end_to_end_s": seconds, "frames": streamed.frames_done,
            "end_to_end_frames_per_s": streamed.frames_done / seconds}


def measure_backbone(backbone: str, work: Path, session: dict, probe, *, subjects: int,
                     views: tuple[int, ...], walks: int, frames: int, workers: tuple[int, ...],
                     rounds: int, serial: bool, warm: bool, gpu: bool) -> dict:
    from nets.pose_network import INPUT_SIZES

    size = INPUT_SIZES[backbone]
    archive = work / f"archive-{backbone}"
    start = time.perf_counter()
    total = write_synthetic_archive(archive, subjects=subjects, views=views, walks=walks, frames=frames,
                                    size=size + 24 + (size % 2))  # larger source: crop + resize happen
    result: dict = {"sequences": subjects * len(views) * walks, "frames": total,
                    "render_s": time.perf_counter() - start, "input_px": size}
    models = [save_pose_model(backbone, work / "models", seed) for seed in ((0, 1) if warm else (0,))]
    from params import FeatureOptions
    from nets.frame_features import cpu_network_batch

    batch = FeatureOptions().batch_frames  # what the flow uses: chunks of this many frames,
    network_batch = None if gpu else cpu_network_batch(size)  # split like this for the network
    result["network_batch"] = network_batch or batch

    for n_workers in workers:
        result[f"flow_{n_workers}w"] = flow_run(archive, work / f"store-{backbone}-{n_workers}w.zarr", models,
                                                size, n_workers, session, device="gpu" if gpu else "cpu")
        result[f"streamed_{n_workers}w"] = streamed_run(
            archive, work / f"store-{backbone}-streamed-{n_workers}w.zarr", models[0], size, n_workers, session,
            device="gpu" if gpu else "cpu")

    frames_in_memory = _stored_frames(work / f"store-{backbone}-{workers[0]}w.zarr")
    from nets.runtime import configure_tensorflow

    configure_tensorflow(2, "auto")
    result["network"] = network_alone(models[0][0], frames_in_memory, batch, probe, rounds=rounds,
                                      network_batch=network_batch)
    trunk_fps, trunk_flops, full_flops = trunk_alone(models[0][0], network_batch or batch, probe, rounds=rounds)
    result.update(trunk_frames_per_s=trunk_fps, trunk_gflop_per_frame=trunk_flops / 1e9,
                  full_gflop_per_frame=full_flops / 1e9)
    if gpu:
        result["network_mixed"] = network_alone(models[0][0], frames_in_memory, batch, probe, rounds=rounds,
                                                mixed_precision=True)
    if serial:
        result["serial"] = serial_loop(archive, work / f"store-{backbone}-serial.zarr", models[0][0], size, batch)
    return result


def measure(quick: bool) -> dict:
    from benchmarks.pose_network import MatmulProbe

    loads = [load_average()]
    with tempfile.TemporaryDirectory(prefix="gaitflow-feature-flow-") as scratch:
        work = Path(scratch)
        with prefect_session(work / "home") as session:
            import tensorflow as tf

            gpu = bool(tf.config.list_physical_devices("GPU"))
            probe = MatmulProbe()
            plans = {"small": dict(subjects=2, views=(36, 90), walks=4, frames=30, workers=(1, 2), rounds=2,
                                   serial=True, warm=False)}
            if not quick:
                plans["small"] = dict(subjects=4, views=(36, 90), walks=4, frames=50, workers=(1, 2), rounds=3,
                                      serial=True, warm=True)
                plans["inception_resnet_v2"] = dict(subjects=2, views=(36, 90), walks=4, frames=12, workers=(2,),
                                                    rounds=1, serial=False, warm=False)
            backbones = {}
            for backbone, plan in plans.items():
                backbones[backbone] = measure_backbone(backbone, work, session, probe, gpu=gpu, **plan)
                loads.append(load_average())
            import keras

            keras.backend.clear_session()
    return {"matmul_gflop_per_s": probe.best, "backbones": backbones, "gpu": gpu, "loads": loads}


def summarise(measured: dict) -> dict:
    limit = measured["matmul_gflop_per_s"]
    figures: dict = {"matmul_gflop_per_s": round(limit, 1), "gpu": measured["gpu"],
                     "load_average_1_5_15_at_start": measured["loads"][0],
                     "load_average_1_5_15_at_end": measured["loads"][-1]}
    targets = []
    for name, b in measured["backbones"].items():
        p = name if name == "small" else "irv2"
        limit_fps = limit * 1e9 / (b["full_gflop_per_frame"] * 1e9)
        network = b["network"]["frames_per_s"]
        figures.update({
            f"{p}_sequences": b["sequences"], f"{p}_frames": b["frames"], f"{p}_input_px": b["input_px"],
            f"{p}_frames_per_network_call": b["network_batch"],
            f"{p}_gflop_per_frame_full_model": round(b["full_gflop_per_frame"], 3),
            f"{p}_gflop_per_frame_trunk": round(b["trunk_gflop_per_frame"], 3),
            f"{p}_limit_frames_per_s": round(limit_fps, 1),
            f"{p}_network_frames_per_s": round(network, 1),
            f"{p}_network_fraction_of_limit": round(network / limit_fps, 3),
            f"{p}_trunk_only_frames_per_s": round(b["trunk_frames_per_s"], 1),
            f"{p}_trunk_only_fraction_of_limit": round(
                b["trunk_frames_per_s"] * b["trunk_gflop_per_frame"] / limit, 3),
        })
        if "network_mixed" in b:
            figures[f"{p}_network_mixed_frames_per_s"] = round(b["network_mixed"]["frames_per_s"], 1)
        if "serial" in b:
            figures[f"{p}_serial_frames_per_s"] = round(b["serial"]["frames_per_s"], 1)
            figures[f"{p}_serial_fraction_of_network"] = round(b["serial"]["frames_per_s"] / network, 3)
        best = 0.0
        for key in sorted(k for k in b if k.startswith("flow_")):
            f = b[key]
            q = f"{p}_{key}"
            figures.update({
                f"{q}_ingest_s": round(f["ingest_s"], 2),
                f"{q}_features_cold_s": round(f["features_cold_s"], 2),
                f"{q}_ingest_frames_per_s": round(f["ingest_frames_per_s"], 1),
                f"{q}_features_cold_frames_per_s": round(f["features_cold_frames_per_s"], 1),
                f"{q}_end_to_end_frames_per_s": round(f["end_to_end_frames_per_s"], 1),
                f"{q}_end_to_end_fraction_of_network": round(f["end_to_end_frames_per_s"] / network, 3),
            })
            if "features_warm_frames_per_s" in f:
                figures[f"{q}_features_warm_frames_per_s"] = round(f["features_warm_frames_per_s"], 1)
                figures[f"{q}_features_warm_fraction_of_network"] = round(
                    f["features_warm_frames_per_s"] / network, 3)
            best = max(best, f["end_to_end_frames_per_s"])
        for key in sorted(k for k in b if k.startswith("streamed_")):
            f, staged = b[key], b[key.replace("streamed_", "flow_")]
            q = f"{p}_{key}"
            figures.update({
                f"{q}_end_to_end_s": round(f["end_to_end_s"], 2),
                f"{q}_end_to_end_frames_per_s": round(f["end_to_end_frames_per_s"], 1),
                f"{q}_end_to_end_fraction_of_network": round(f["end_to_end_frames_per_s"] / network, 3),
                f"{q}_over_staged": round(f["end_to_end_frames_per_s"] / staged["end_to_end_frames_per_s"], 3),
            })
            best = max(best, f["end_to_end_frames_per_s"])
        flows = [k for k in b if k.startswith("flow_")]
        if "flow_1w" in b and "flow_2w" in b:
            figures[f"{p}_flow_2w_over_1w_end_to_end"] = round(
                b["flow_2w"]["end_to_end_frames_per_s"] / b["flow_1w"]["end_to_end_frames_per_s"], 3)
        if name == "small" or not quick_plan(measured):
            targets.append(Target(f"{name}: network (flow's frame function) / compute limit",
                                  round(network / limit_fps, 3), ">=", NETWORK_OF_LIMIT_TARGET))
            if flows:
                targets.append(Target(f"{name}: flow end to end (ingest+features, best of staged and streamed, "
                                      "best workers) / network alone",
                                      round(best / network, 3), ">=", FLOW_OF_NETWORK_TARGET))
    figures["note"] = ("flow = ingest_archive + extract_features on a pre-started local Dask cluster (TF import and "
                       "model load in workers included, 'cold'); streamed = ingest_archive with the pose model "
                       "(features per bundle as its frames are stored) on a fresh cluster, then extract_features "
                       "finding nothing; warm = a 2nd extract_features with another model; "
                       "limit = matmul GFLOP/s / full-model analytic GFLOP per frame; shared 2-core machine")
    return {"figures": figures, "targets": targets}


def quick_plan(measured: dict) -> bool:
    return "inception_resnet_v2" not in measured["backbones"]


def run(quick: bool) -> dict:
    """The harness entry point."""
    return summarise(measure(quick))


if __name__ == "__main__":
    raise SystemExit(run_standalone(NAME, run))
