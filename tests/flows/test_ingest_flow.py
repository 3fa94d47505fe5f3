"""`ingest_archive` with the real things: Prefect server, Dask local cluster, zarr, MLflow."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
from mlflow.tracking import MlflowClient

from storage.store import SequenceStore
from tests.videos import moving_square_frames, write_video


def _arguments(archive, store, settings, **overrides) -> dict:
    from params import ComputeParams, TrackingParams

    return dict(
        archive=archive, store=store, layout="casia-b", frame_size=32, chunk_frames=8,
        compute=ComputeParams(n_workers=2, scratch_dir=settings.scratch),
        tracking=TrackingParams(tracking_uri=settings.tracking_uri, experiment="test-ingest",
                                artifact_root=settings.home / "artifacts"),
        **overrides,
    )


def test_ingest_stores_reports_failures_and_redoes_only_what_changed(tmp_path, prefect_server, gaitflow_settings):
    from flows.ingest import ingest_archive

    archive, store_path = tmp_path / "archive", tmp_path / "store.zarr"
    for number in (1, 2, 3):
        write_video(archive / "video" / f"00{number}-nm-01-090.avi", moving_square_frames(12, seed=number), fps=25)
    (archive / "video" / "004-nm-01-090.avi").write_bytes(b"not a video at all" * 50)
    write_video(archive / "video" / "walk.avi", moving_square_frames(4))

    first = ingest_archive(**_arguments(archive, store_path, gaitflow_settings))
    assert first.stored == ["001-nm-01-090", "002-nm-01-090", "003-nm-01-090"]
    assert [f.id for f in first.failed] == ["004-nm-01-090"] and "004-nm-01-090.avi" in first.failed[0].reason
    assert [u.id for u in first.unmatched] == ["video/walk.avi"]
    store = SequenceStore(store_path)
    assert store.sequence_ids() == first.stored
    assert store.open_sequence("002-nm-01-090")["frames"].shape == (12, 32, 32, 3)

    run = MlflowClient(gaitflow_settings.tracking_uri).get_run(first.mlflow_run_id)
    assert run.data.params["layout"] == "casia-b" and run.data.metrics["stored"] == 3
    assert run.data.metrics["failed"] == 1 and run.info.status == "FINISHED"

    frames_before = store.open_sequence("001-nm-01-090")["frames"][:]
    again = ingest_archive(**_arguments(archive, store_path, gaitflow_settings))
    assert again.stored == [] and again.frames_stored == 0
    assert again.skipped == first.stored and [f.id for f in again.failed] == ["004-nm-01-090"]

    write_video(archive / "video" / "005-bg-01-018.avi", moving_square_frames(6, seed=5))
    write_video(archive / "video" / "002-nm-01-090.avi", moving_square_frames(9, seed=22))
    third = ingest_archive(**_arguments(archive, store_path, gaitflow_settings))
    assert third.stored == ["002-nm-01-090", "005-bg-01-018"]
    assert third.skipped == ["001-nm-01-090", "003-nm-01-090"]
    assert store.open_sequence("002-nm-01-090")["frames"].shape[0] == 9
    np.testing.assert_array_equal(store.open_sequence("001-nm-01-090")["frames"][:], frames_before)


def test_missing_archive_fails_the_flow_with_its_path(tmp_path, prefect_server, gaitflow_settings):
    from flows.ingest import ingest_archive

    with pytest.raises(Exception, match="does not exist"):
        ingest_archive(**_arguments(tmp_path / "nowhere", tmp_path / "s.zarr", gaitflow_settings))


def _cli(home, *args, **kwargs):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "gaitflow.cli", "--home", str(home), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kwargs,
    )


def test_killed_ingest_resumes_into_a_complete_correct_store(tmp_path):
    archive, store_path = tmp_path / "archive", tmp_path / "store.zarr"
    count = 24
    for number in range(count):
        write_video(archive / "video" / f"{number:03d}-nm-01-090.avi",
                    moving_square_frames(90, 120, 160, seed=number), fps=25)
    args = ["ingest", str(archive), "--store", str(store_path), "--frame-size", "96", "--workers", "2", "--json"]
    process = _cli(tmp_path / "home", *args, start_new_session=True)
    sequences = store_path / "sequences"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        done = [p for p in sequences.iterdir() if (p / "zarr.json").exists()] if sequences.is_dir() else []
        if len(done) >= 3:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the ingest finished before it could be interrupted"
    children = psutil.Process(process.pid).children(recursive=True)
    server = [c for c in children if "prefect" in " ".join(c.cmdline()) and "server" in c.cmdline()]
    assert len(server) == 1, [c.cmdline() for c in children]
    os.kill(process.pid, signal.SIGKILL)  # the command alone, as the OOM killer or kill -9 would
    process.wait()
    try:
        _, alive = psutil.wait_procs(server, timeout=20)
        assert not alive, "the private Prefect server outlived its command"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever else is left, so the next run starts clean
    interrupted = SequenceStore(store_path).sequence_ids()
    assert 3 <= len(interrupted) < count
    tracking = MlflowClient(f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}")
    [killed_run] = tracking.search_runs(tracking.get_experiment_by_name("gaitflow").experiment_id)
    assert killed_run.info.status == "RUNNING"

    process = _cli(tmp_path / "home", *args)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["failed"] == [] and summary["stored"] + summary["skipped"] == count
    assert summary["skipped"] >= len(interrupted)
    assert summary["recovered"], "the clean-up of the interrupted run was not reported"
    assert f"MLflow run {killed_run.info.run_id}" in err and "marked FAILED" in err
    assert tracking.get_run(killed_run.info.run_id).info.status == "FAILED"
    store = SequenceStore(store_path)
    assert len(store.sequence_ids()) == count
    for sequence_id in store.sequence_ids():
        group = store.open_sequence(sequence_id)
        assert group["frames"].shape == (90, 96, 96, 3)
        assert group["frames"][-1].max() > 150  # the last chunk holds real frames, not fill
    assert not any((store_path / "_staging").iterdir())


def test_real_footage_ingests_with_the_folder_layout(tmp_path, shared_data):
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(shared_data / "vtest.avi", archive / "vtest.avi")  # symlinks out of an archive are skipped
    process = _cli(tmp_path / "home", "ingest", str(archive), "--store", str(tmp_path / "s.zarr"),
                   "--layout", "folder", "--frame-size", "64", "--fps", "2", "--crop", "person", "--json")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["stored"] == 1 and summary["frames_stored"] == 159
    group = SequenceStore(tmp_path / "s.zarr").open_sequence("vtest.avi")
    assert group["frames"].shape == (159, 64, 64, 3)


def test_crop_track_stores_each_walker_and_names_footage_with_nobody(tmp_path, prefect_server, gaitflow_settings):
    from flows.ingest import ingest_archive
    from synth.scene import SceneSpec, render_scene

    archive, store_path = tmp_path / "footage", tmp_path / "store.zarr"
    scene = render_scene(SceneSpec(walkers=2, frames=60, size=160, seed=1))
    write_video(archive / "crossing.avi", scene.frames, codec="libx264")
    still = np.repeat(np.random.default_rng(0).integers(0, 255, (1, 64, 64, 3), dtype=np.uint8), 30, axis=0)
    write_video(archive / "empty.avi", still, codec="libx264")
    arguments = _arguments(archive, store_path, gaitflow_settings, crop="track", min_track_frames=20)
    arguments["layout"] = "folder"
    first = ingest_archive(**arguments)
    assert first.stored == ["crossing.avi#t001", "crossing.avi#t002"]
    assert [f.id for f in first.failed] == ["empty.avi"] and "no walker found" in first.failed[0].reason
    assert "\n" not in first.failed[0].reason
    assert SequenceStore(store_path).sequence_ids() == first.stored
    again = ingest_archive(**arguments)
    assert again.stored == [] and again.skipped == first.stored
