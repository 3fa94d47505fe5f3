"""The archive writer: spec validation, planning, layouts, atomic idempotent rendering."""

from __future__ import annotations

import dataclasses
import json

import av
import numpy as np
import pytest

from storage.groundtruth import read_groundtruth
from synth.archive import ArchiveSpec, plan_archive, render_job, write_archive
from synth.sidecar import sidecar_path
from synth.skeleton import JOINT_NAMES

TINY = dict(subjects=2, frames=12, size=48)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"layout": "casia"}, "layout"),
        ({"subjects": 0}, "subjects"),
        ({"subjects": True}, "subjects"),
        ({"size": 63}, "even"),
        ({"size": 16}, "size"),
        ({"frames": 3}, "frames"),
        ({"views": (0, 200)}, "view"),
        ({"views": (18, 18)}, "repeat"),
        ({"views": ()}, "at least one"),
        ({"walks": (("xx", 2),)}, "conditions"),
        ({"walks": (("nm", 0),)}, "count"),
        ({"walks": (("nm",),)}, "pairs"),
        ({"difficulty": -1}, "difficulty"),
        ({"spread": "lots"}, "spread"),
        ({"seed": -5}, "seed"),
        ({"video_format": "mkv"}, "video_format"),
        ({"session2_subjects": 1}, "tum-gaid only"),
    ],
)
def test_spec_rejects_bad_knobs_with_a_clear_message(changes, message):
    with pytest.raises(ValueError, match=message):
        ArchiveSpec(**changes)


def test_tum_gaid_spec_only_at_the_side_view():
    with pytest.raises(ValueError, match="90"):
        ArchiveSpec(layout="tum-gaid", views=(0,))
    assert ArchiveSpec(layout="tum-gaid").views == (90,)


def test_casia_b_plan_names_every_walk_and_view():
    spec = ArchiveSpec(subjects=2, views=(0, 90))
    jobs = plan_archive(spec)
    assert len(jobs) == 2 * 10 * 2
    assert jobs == plan_archive(spec)  # pure
    assert len({hash(job) for job in jobs}) == len(jobs)  # hashable, distinct
    paths = {job.path for job in jobs}
    assert "video/001-nm-01-000.avi" in paths and "video/002-cl-02-090.avi" in paths
    job = next(j for j in jobs if j.path == "video/002-bg-02-090.avi")
    assert (job.subject, job.condition, job.index, job.view, job.session) == ("002", "bg", 2, 90, 1)
    # One walk's views share the walk's seeds, differ in the view's.
    twin = next(j for j in jobs if j.path == "video/002-bg-02-000.avi")
    assert twin.walk_seed == job.walk_seed and twin.view_seed != job.view_seed
    assert all(isinstance(k, int) for k in job.person_seed + job.walk_seed + job.view_seed)


def test_tum_gaid_plan_has_a_later_session_for_some_subjects():
    spec = ArchiveSpec(layout="tum-gaid", subjects=4, session2_subjects=2)
    paths = {job.path: job for job in plan_archive(spec)}
    assert {"p001/n01", "p001/n06", "p001/b02", "p001/s02", "p004/s01"} <= set(paths)
    assert {"p001/tn01", "p002/tb02", "p002/ts02"} <= set(paths)
    assert not any(p.startswith("p003/t") for p in paths)
    later = paths["p002/tb02"]
    assert (later.subject, later.condition, later.index, later.session, later.view) == ("p002", "b", 2, 2, 90)
    assert len(paths) == 4 * 10 + 2 * 6


def test_video_item_is_written_atomically_decodes_and_is_idempotent(tmp_path):
    job = plan_archive(ArchiveSpec(**TINY, views=(54,), walks=(("nm", 1),)))[0]
    assert render_job(job, tmp_path) == "rendered"
    video = tmp_path / job.path
    assert video.is_file() and sidecar_path(video) == video.with_name("001-nm-01-054.gt.json")
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == job.frames
    assert frames[0].shape == (job.size, job.size, 3)
    assert [p.name for p in video.parent.iterdir() if p.name.startswith(".")] == []  # no temporaries left
    stamp = video.stat().st_mtime_ns
    assert render_job(job, tmp_path) == "skipped"
    assert video.stat().st_mtime_ns == stamp


def test_changed_job_or_missing_video_renders_again(tmp_path):
    job = plan_archive(ArchiveSpec(**TINY, views=(90,), walks=(("nm", 1),)))[0]
    render_job(job, tmp_path)
    changed = dataclasses.replace(job, frames=job.frames + 2)
    assert render_job(changed, tmp_path) == "rendered"
    assert len(read_groundtruth(sidecar_path(tmp_path / job.path))) == job.frames + 2
    (tmp_path / job.path).unlink()  # a crash after the sidecar, before the video
    assert render_job(changed, tmp_path) == "rendered"


def test_sidecar_matches_the_contract(tmp_path):
    job = plan_archive(ArchiveSpec(**TINY, views=(126,), walks=(("bg", 1),)))[0]
    render_job(job, tmp_path)
    path = sidecar_path(tmp_path / job.path)
    document = json.loads(path.read_text())
    assert document["format"] == "gaitflow.groundtruth/1"
    assert document["joint_names"] == list(JOINT_NAMES)
    assert document["frame_size"] == [job.size, job.size]
    assert document["job"] == job.digest()
    covariates = document["covariates"]
    for key in ("outfit", "bag", "coat", "shoes", "speed", "camera"):
        assert key in covariates
    assert covariates["bag"] in ("backpack", "shoulder", "hand") and covariates["coat"] is False
    # Latent person parameters never appear, at any depth.
    assert not _keys(covariates) & {"stature", "girth", "cadence", "stride_ratio", "stride_length", "thigh",
                                     "shank", "body", "gait", "person", "subject"}
    truth = read_groundtruth(path)  # storage's reader accepts it
    assert truth.joints_xy.shape == (job.frames, 16, 2)
    assert truth.fps in (20.0, 25.0, 30.0)


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value)) if value else set()
    return set()


def test_visible_joints_lie_inside_the_frame(tmp_path):
    spec = ArchiveSpec(subjects=1, frames=16, size=64, views=(0, 90, 162), walks=(("nm", 1), ("cl", 1)))
    write_archive(spec, tmp_path)
    for job in plan_archive(spec):
        truth = read_groundtruth(sidecar_path(tmp_path / job.path))
        xy = truth.joints_xy
        inside = (xy[..., 0] >= -0.5) & (xy[..., 0] < job.size - 0.5) & (xy[..., 1] >= -0.5) & (xy[..., 1] < job.size - 0.5)
        assert not np.any(truth.visible & ~inside), job.path
        assert truth.visible.mean() > 0.5, job.path  # the camera keeps the walker in frame


def test_side_view_hides_the_far_side(tmp_path):
    # Views lie on the walker's right: at 90 degrees the left hip and shoulder are behind
    # the body far more often than the right ones.
    spec = ArchiveSpec(subjects=2, frames=30, size=96, views=(90,), walks=(("nm", 2),), difficulty=0.0)
    write_archive(spec, tmp_path)
    visible = np.concatenate([read_groundtruth(sidecar_path(tmp_path / j.path)).visible for j in plan_archive(spec)])
    names = {n: i for i, n in enumerate(JOINT_NAMES)}
    assert visible[:, names["r_hip"]].mean() > 0.9
    assert visible[:, names["l_hip"]].mean() < 0.3
    assert visible[:, names["r_shoulder"]].mean() > visible[:, names["l_shoulder"]].mean() + 0.4


def test_tum_gaid_item_is_a_jpeg_folder_with_gt_json(tmp_path):
    spec = ArchiveSpec(layout="tum-gaid", subjects=1, frames=10, size=48, walks=(("s", 1),), session2_subjects=1)
    counts = write_archive(spec, tmp_path)
    assert counts == {"rendered": 1 + 6, "skipped": 0}
    folder = tmp_path / "p001" / "s01"
    images = sorted(folder.glob("*.jpg"))
    assert len(images) == 10 and (folder / "gt.json").is_file()
    assert read_groundtruth(folder / "gt.json").covariates["shoes"] == "coating"
    assert (tmp_path / "p001" / "ts02" / "gt.json").is_file()
    assert not [p for p in (tmp_path / "p001").iterdir() if p.name.startswith(".")]
    assert write_archive(spec, tmp_path) == {"rendered": 0, "skipped": 7}


def test_mp4_container_decodes(tmp_path):
    job = plan_archive(ArchiveSpec(**TINY, views=(36,), walks=(("cl", 1),), video_format="mp4"))[0]
    assert job.path.endswith(".mp4")
    render_job(job, tmp_path)
    with av.open(str(tmp_path / job.path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == job.frames


@pytest.mark.parametrize("layout", ["casia-b", "tum-gaid"])
def test_storage_discovers_the_archive_with_the_same_labels(tmp_path, layout):
    from storage.manifest import discover

    walks = (("nm", 1), ("cl", 1)) if layout == "casia-b" else (("n", 1), ("b", 1))
    views = (0, 108) if layout == "casia-b" else (90,)
    spec = ArchiveSpec(layout=layout, subjects=2, frames=10, size=48, views=views, walks=walks)
    write_archive(spec, tmp_path)
    manifest = discover(tmp_path, layout, with_hashes=False)
    assert manifest.unmatched == ()
    found = sorted((e.subject, e.condition, e.index, e.view, e.session, e.sidecar is not None)
                   for e in manifest.entries)
    planned = sorted((j.subject, j.condition, j.index, j.view, j.session, True) for j in plan_archive(spec))
    assert found == planned


def test_panning_camera_keeps_the_walker_in_frame_at_every_casia_view():
    from synth.archive import job_groundtruth

    spec = ArchiveSpec(subjects=2, frames=75, size=128, walks=(("nm", 1), ("bg", 1)), seed=21)
    for job in plan_archive(spec):
        joints, _ = job_groundtruth(job)
        pelvis_x = joints[:, 6, 0]
        assert np.all((pelvis_x > 0.3 * job.size) & (pelvis_x < 0.7 * job.size)), job.path
        inside = (joints >= 0) & (joints <= job.size - 1)
        assert inside.all(axis=2).mean() > 0.98, job.path
