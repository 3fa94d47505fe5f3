"""The stages on the shape of a real cluster: the store on S3 (moto's server on 127.0.0.1), a
separate `dask scheduler` process and a `dask worker` process whose working folder is not the
client's. Ingest, features, describe and evaluate must give what a local run gives."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from storage.store import SequenceStore


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """An untrained small HumanPoseNN and GaitNN, saved (weights do not matter for equality)."""
    import keras

    from nets.gait_network import GaitNN
    from nets.pose_network import HumanPoseNN
    from stages.models import save_trained_model

    folder = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    pose = save_trained_model(HumanPoseNN("small"), folder, "pose", {})
    gait = save_trained_model(GaitNN(extra_residual_blocks="discarded"), folder, "gait", {"features": pose.digest})
    keras.backend.clear_session()
    return pose, gait


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, prefect_server):
    """`dask scheduler` and one `dask worker` (2 threads) as their own processes, on 127.0.0.1."""
    from distributed import Client

    dask = str(Path(sys.executable).with_name("dask"))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    worker_home = tmp_path_factory.mktemp("worker-cwd")
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    # Another home too: the worker's cache (models fetched from the store) is not the client's.
    worker_env = {**env, "HOME": str(worker_home / "home")}
    processes = [subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", "127.0.0.1:0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(1)
        processes.append(subprocess.Popen(
            [dask, "worker", address, "--nworkers", "1", "--nthreads", "2", "--host", "127.0.0.1",
             "--dashboard-address", "127.0.0.1:0", "--local-directory", str(worker_home / "dask")],
            cwd=worker_home, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            worker_dirs = client.run(os.getcwd)
        yield {"address": address, "worker_cwd": worker_home, "worker_dirs": worker_dirs}
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _stages(store, archive, models, compute, settings) -> dict:
    from flows.describe import describe
    from flows.evaluate import evaluate_descriptors
    from flows.features import extract_features
    from flows.ingest import ingest_archive
    from params import ProtocolOptions, TrackingParams

    pose, gait = models
    tracking = TrackingParams(tracking_uri=settings.tracking_uri, experiment="test-object-store",
                              artifact_root=settings.home / "artifacts")
    stage = dict(compute=compute, tracking=tracking)
    ingested = ingest_archive(archive=archive, store=store, layout="casia-b", frame_size=136, **stage)
    features = extract_features(store=store, pose_model=pose.path, **stage)
    described = describe(store=store, gait_model=gait.path, features=features["pose_model"], **stage)
    evaluated = evaluate_descriptors(store=store, descriptors=described["gait_model"],
                                     protocol=ProtocolOptions(train_subjects="1"), classifiers=("nn",), tracking=tracking)
    return {"ingest": ingested, "features": features, "describe": described, "evaluate": evaluated}


def test_stages_on_s3_with_a_separate_scheduler_and_worker_match_a_local_run(
    tmp_path, s3_bucket, cluster, models, prefect_server, gaitflow_settings, monkeypatch
):
    from params import ComputeParams

    monkeypatch.setenv("HOME", str(tmp_path / "client-home"))  # the client's cache of the store
    from synth.archive import ArchiveSpec, write_archive

    write_archive(ArchiveSpec(subjects=3, views=(36, 90), walks=(("nm", 6), ("bg", 1)), frames=8, size=136, seed=3),
                  tmp_path / "archive")
    url = f"{s3_bucket}/stores/casia"
    compute = ComputeParams(dask_address=cluster["address"])
    remote = _stages(url, tmp_path / "archive", models, compute, gaitflow_settings)
    # The same stages with the store on this machine's disk (the worker shares the machine).
    local = _stages(tmp_path / "store.zarr", tmp_path / "archive", models, compute, gaitflow_settings)

    sequences = 3 * 2 * 7
    assert remote["ingest"].counts()["stored"] == sequences == local["ingest"].counts()["stored"]
    assert remote["features"]["sequences_done"] == sequences and remote["describe"]["described"] == sequences
    assert remote["features"]["pose_model"] == local["features"]["pose_model"]
    s3_store, disk_store = SequenceStore(url), SequenceStore(tmp_path / "store.zarr")
    ids = disk_store.sequence_ids()
    assert s3_store.sequence_ids() == ids
    tag, gait_tag = local["features"]["pose_model"], local["describe"]["gait_model"]
    for sequence_id in ids[::5]:
        assert np.array_equal(s3_store.open_sequence(sequence_id)["frames"][:],
                              disk_store.open_sequence(sequence_id)["frames"][:])
        np.testing.assert_allclose(s3_store.open_stage(sequence_id, "features", tag)["spatial"][:],
                                   disk_store.open_stage(sequence_id, "features", tag)["spatial"][:], atol=1e-3)
        np.testing.assert_allclose(s3_store.open_stage(sequence_id, "descriptors", gait_tag)["vector"][:],
                                   disk_store.open_stage(sequence_id, "descriptors", gait_tag)["vector"][:], atol=1e-4)
    assert remote["evaluate"]["results"] == local["evaluate"]["results"]
    # The worker ran in its own folder and wrote no store there; it loaded the models from the
    # copies the flows kept in the store, not from the client's files.
    assert list(cluster["worker_dirs"].values()) == [str(cluster["worker_cwd"])]
    assert not list(Path(cluster["worker_cwd"]).rglob("zarr.json"))
    cache = Path(cluster["worker_cwd"]) / "home" / ".cache" / "gaitflow" / "object-stores"
    fetched = sorted(p.name for p in cache.rglob("*.keras") if p.is_file())
    assert fetched == sorted(Path(model.path).name for model in models)

    again = _stages(url, tmp_path / "archive", models, compute, gaitflow_settings)
    assert again["ingest"].counts()["stored"] == 0 and again["features"]["sequences_done"] == 0
    assert again["describe"]["described"] == 0
