"""Benchmark: the store on object storage (s3://) against the store on local disk, same machine.

What runs, with an S3-compatible server (moto's server mode, a test dependency) on 127.0.0.1:

- **Stages**: `ingest_archive`, `extract_features` (an untrained small HumanPoseNN: weights do
  not change the cost), `describe` (an untrained GaitNN) and `evaluate`, on one local Dask
  cluster of 2 workers x 1 thread and a private Prefect server, once with the store on local
  disk and once on `s3://`, alternating, twice each; the best of each is compared (the first
  round also warms the workers' TensorFlow). The archive is synthetic CASIA-B-style walks.
- **Listing**: N synthetic index entries (a group with the attributes ingest records, no arrays,
  as `benchmarks/store_index.py` writes them on disk) committed into an object store, then timed:
  the first `SequenceStore.all_sequence_attrs()` (reads the snapshot's groups: the cost after
  any commit), the same on the unchanged store from another client of this machine (the
  listing cached under the snapshot's id: a re-run with nothing new), and the skip decision
  of `storage.ingest.current_sequences` against it; then one small sequence written into a store
  of that size (each write is a commit, and a commit rewrites the snapshot).

The server runs on this machine, so network latency is loopback's, not a cloud's; but the server
(Python) also takes CPU time from the same cores the workers use, which a remote object store
would not: `s3_server_cpu_s` records how much.

Quick: 48 walks of 16 frames, 5,000 listed sequences; full: 96 walks of 24 frames, 100,000.
Targets (full): object-store stages within 1.5x of the local run; listing + skipping 100,000
stored sequences of an unchanged store within 10 s (the target the local store's catalogue
meets).

Run: `python -m benchmarks.object_store [--full]` or `python -m benchmarks --only object_store`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from benchmarks.harness import Target, run_standalone

NAME = "object_store"
OBJECT_OVER_LOCAL_TARGET = 1.5
LISTING_TARGET_S = 10.0


@contextlib.contextmanager
def s3_server() -> Iterator[dict]:
    """moto's S3 server on a free port of 127.0.0.1, the AWS variables pointing at it for the
    block; yields {"url", "pid"}."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    variables = {"AWS_ACCESS_KEY_ID": "benchmark", "AWS_SECRET_ACCESS_KEY": "benchmark", "AWS_REGION": "us-east-1",
                 "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_EC2_METADATA_DISABLED": "true"}
    saved = {name: os.environ.get(name) for name in variables}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start (is the `test` extra installed?)")
                time.sleep(0.1)
        os.environ.update(variables)
        yield {"url": variables["AWS_ENDPOINT_URL"], "pid": server.pid}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.terminate()
        server.wait(timeout=10)


def new_bucket() -> str:
    import boto3

    name = f"gaitflow-benchmark-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return f"s3://{name}"


# ---------------------------------------------------------------------------------------------
# The stages, local disk vs object store
# ---------------------------------------------------------------------------------------------

def stages_run(archive: Path, store, models: dict, compute, tracking) -> dict:
    """Seconds of each stage on `store` (a local path or an s3:// URL)."""
    from flows.describe import describe
    from flows.evaluate import evaluate_descriptors
    from flows.features import extract_features
    from flows.ingest import ingest_archive
    from params import ProtocolOptions

    stage = dict(compute=compute, tracking=tracking)
    seconds = {}
    started = time.perf_counter()
    ingested = ingest_archive(archive=archive, store=store, layout="casia-b", frame_size=136, **stage)
    seconds["ingest_s"] = time.perf_counter() - started
    started = time.perf_counter()
    features = extract_features(store=store, pose_model=models["pose"], **stage)
    seconds["features_s"] = time.perf_counter() - started
    started = time.perf_counter()
    described = describe(store=store, gait_model=models["gait"], features=features["pose_model"], **stage)
    seconds["describe_s"] = time.perf_counter() - started
    started = time.perf_counter()
    evaluated = evaluate_descriptors(store=store, descriptors=described["gait_model"],
                                     protocol=ProtocolOptions(train_subjects="1"), classifiers=("nn",),
                                     tracking=tracking)
    seconds["evaluate_s"] = time.perf_counter() - started
    if ingested.counts().get("failed") or features["failed"] or described["failed"]:
        raise RuntimeError(f"stage failures on {store}: {ingested.counts()} {features['failed']} {described['failed']}")
    seconds["total_s"] = sum(seconds.values())
    seconds["sequences"] = described["described"]
    seconds["nn_rank1_nm"] = evaluated["results"]["nn"]["standard_rank1"]["nm"]
    return seconds


def save_models(folder: Path) -> dict:
    import keras

    from nets.gait_network import GaitNN
    from nets.pose_network import HumanPoseNN
    from stages.models import save_trained_model

    keras.utils.set_random_seed(0)
    pose = save_trained_model(HumanPoseNN("small"), folder, "pose", {"benchmark": NAME})
    gait = save_trained_model(GaitNN(extra_residual_blocks="discarded"), folder, "gait",
                              {"benchmark": NAME, "features": pose.digest})
    keras.backend.clear_session()
    return {"pose": pose.path, "gait": gait.path}


def measure_stages(work: Path, quick: bool, server_pid: int, rounds: int = 2) -> dict:
    from benchmarks.feature_flow import prefect_session, write_synthetic_archive
    from flows.compute import shared_cluster
    from params import ComputeParams

    subjects, walks, frames = (4, 6, 16) if quick else (8, 6, 24)  # nm-05, nm-06: the probes
    archive = work / "archive"
    write_synthetic_archive(archive, subjects=subjects, views=(36, 90), walks=walks, frames=frames, size=160)
    models = save_models(work / "models")
    runs: dict[str, list[dict]] = {"local": [], "s3": []}
    with prefect_session(work / "home") as session:
        compute = ComputeParams(n_workers=2, threads_per_worker=1, scratch_dir=session["scratch"])
        with shared_cluster(compute) as shared:
            for number in range(rounds):
                runs["local"].append(stages_run(archive, work / f"store-{number}.zarr", models, shared,
                                                session["tracking"]))
                server_cpu = _cpu_seconds(server_pid)
                runs["s3"].append(stages_run(archive, f"{new_bucket()}/store", models, shared, session["tracking"]))
                runs["s3"][-1]["server_cpu_s"] = _cpu_seconds(server_pid) - server_cpu
    best = {kind: min(found, key=lambda run: run["total_s"]) for kind, found in runs.items()}
    if best["local"]["nn_rank1_nm"] != best["s3"]["nn_rank1_nm"]:
        raise AssertionError(f"the two stores evaluate differently: {best['local']} vs {best['s3']}")
    return {"walks": subjects * 2 * walks, "frames_per_walk": frames, "rounds": rounds, "runs": runs, "best": best,
            "s3_over_local": best["s3"]["total_s"] / best["local"]["total_s"]}


# ---------------------------------------------------------------------------------------------
# Listing at archive scale
# ---------------------------------------------------------------------------------------------

def measure_listing(count: int) -> dict:
    from benchmarks.store_index import SPEC, _entry, synthetic_attrs
    from storage.ingest import current_sequences
    from storage.object_store import ObjectSequenceStore
    from storage.store import ChunkedArray, SequenceStore

    store = SequenceStore(f"{new_bucket()}/index", create=True)
    assert isinstance(store, ObjectSequenceStore)
    entries = [_entry(number) for number in range(count)]
    started = time.perf_counter()
    _commit_index_entries(store, entries, synthetic_attrs)
    write_s = time.perf_counter() - started
    cold_s, listed = _timed(store.all_sequence_attrs)
    cached_s, listed_again = _timed(SequenceStore(store.path).all_sequence_attrs)
    skip_s, current = _timed(lambda: current_sequences(listed_again, entries, SPEC))
    if listed != listed_again or len(current) != count:
        raise AssertionError(f"listings differ or not every entry is current ({len(current)} of {count})")
    # One more sequence written into a store of this size: a commit rewrites the snapshot.
    frames = np.zeros((16, 8, 8, 3), np.uint8)
    commit_s, _ = _timed(lambda: store.write_sequence(
        "probe", {"content_hash": "0"}, {"frames": ChunkedArray(frames.shape, "uint8", frames.shape, [frames])}))
    return {"sequences": count, "write_synthetic_s": write_s, "cold_listing_s": cold_s, "one_sequence_write_s": commit_s,
            "cold_listing_ms_per_sequence": 1000 * cold_s / count, "cached_listing_s": cached_s,
            "skip_decision_s": skip_s, "cached_listing_and_skip_s": cached_s + skip_s}


def _commit_index_entries(store, entries, attrs_of) -> None:
    """Synthetic sequence groups (metadata only) in one commit, written as raw `zarr.json`
    documents: building them through zarr's group API costs ~10 ms each."""
    from zarr.core.buffer import default_buffer_prototype

    from storage.object_store import BRANCH
    from storage.store import SEQUENCES

    session = store._repository.writable_session(BRANCH)
    buffers = default_buffer_prototype().buffer

    async def write() -> None:
        for first in range(0, len(entries), 2000):
            await asyncio.gather(*[session.store.set(
                f"{SEQUENCES}/{entry.sequence_id}/zarr.json",
                buffers.from_bytes(json.dumps({"zarr_format": 3, "node_type": "group",
                                               "attributes": attrs_of(entry)}).encode()),
            ) for entry in entries[first:first + 2000]])

    asyncio.run(write())
    session.commit("benchmark: synthetic index entries")


def _cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _timed(call):
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def run(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gaitflow-object-store-") as folder, s3_server() as server:
        stages = measure_stages(Path(folder), quick, server["pid"])
        listing = measure_listing(5_000 if quick else 100_000)
    best = stages["best"]
    figures: dict[str, Any] = {
        "walks": stages["walks"], "frames_per_walk": stages["frames_per_walk"], "rounds": stages["rounds"],
        "local_total_s": round(best["local"]["total_s"], 2), "s3_total_s": round(best["s3"]["total_s"], 2),
        "s3_over_local": round(stages["s3_over_local"], 3),
        # The server shares the 2 cores with the workers: CPU time a remote object store would
        # spend on its own machines.
        "s3_server_cpu_s": round(best["s3"]["server_cpu_s"], 2),
    }
    for kind in ("local", "s3"):
        for stage in ("ingest_s", "features_s", "describe_s", "evaluate_s"):
            figures[f"{kind}_{stage}"] = round(best[kind][stage], 2)
    figures.update({f"listing_{k}": round(v, 3) if isinstance(v, float) else v for k, v in listing.items()})
    figures["server"] = "moto (S3-compatible) on 127.0.0.1"
    print(f"{'stages':>12}: local {figures['local_total_s']} s, s3 {figures['s3_total_s']} s "
          f"(x{figures['s3_over_local']})")
    print(f"{'listing':>12}: {listing['sequences']:,} sequences, first {figures['listing_cold_listing_s']} s, "
          f"unchanged {figures['listing_cached_listing_s']} s + skip {figures['listing_skip_decision_s']} s")
    targets = [] if quick else [
        Target("object-store stages (ingest, features, describe, evaluate) / local-disk stages",
               figures["s3_over_local"], "<=", OBJECT_OVER_LOCAL_TARGET),
        Target("object store: listing + skip decision of 100,000 stored sequences, unchanged store (s)",
               figures["listing_cached_listing_and_skip_s"], "<=", LISTING_TARGET_S),
    ]
    return {"figures": figures, "targets": targets}


if __name__ == "__main__":
    raise SystemExit(run_standalone(NAME, run))
