"""Enrolment and open-set identification end to end: a tiny trained pipeline, a gallery made
from some walks, other walks named, strangers called unknown; footage with several walkers;
`gaitflow identify` on real footage. Real Prefect, Dask, zarr and MLflow; slow (minutes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from storage.store import SequenceStore

pytestmark = pytest.mark.slow

TRAIN_PEOPLE = 4
FAR = 0.01
GALLERY_WALKS = r"-nm-0[1-4]-"


def _tracking(settings, experiment="test-identify"):
    from params import TrackingParams

    return TrackingParams(tracking_uri=settings.tracking_uri, experiment=experiment,
                          artifact_root=settings.home / "artifacts")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, prefect_server, gaitflow_settings):
    """A synthetic archive of 10 people, run through the pipeline with tiny models (people 1-4 train)."""
    from flows.pipeline import run_pipeline
    from params import ComputeParams, GaitTrainingOptions, PoseTrainingOptions, ProtocolOptions
    from synth.archive import ArchiveSpec, write_archive

    root = tmp_path_factory.mktemp("identify")
    write_archive(ArchiveSpec(subjects=10, views=(36, 90), walks=(("nm", 6), ("bg", 1), ("cl", 1)), frames=24,
                              size=136, seed=5), root / "archive")
    compute = ComputeParams(n_workers=2, scratch_dir=gaitflow_settings.scratch)
    summary = run_pipeline(
        archive=root / "archive", store=root / "store.zarr", layout="casia-b",
        protocol=ProtocolOptions(train_subjects=str(TRAIN_PEOPLE)),
        pose_training=PoseTrainingOptions(epochs=2, frames_per_sequence=2, batch_size=8),
        gait_training=GaitTrainingOptions(epochs=6, rnn_layers=1, people_per_batch=4, sequences_per_person=2,
                                          clip_frames=12, validation_fraction=0.0),
        compute=compute, tracking=_tracking(gaitflow_settings))
    return {"root": root, "store": root / "store.zarr", "summary": summary, "compute": compute,
            "pose": summary["features"]["model_path"], "gait": summary["describe"]["model_path"]}


@pytest.fixture(scope="module")
def gallery(trained, gaitflow_settings):
    """Four test people's first four normal walks, enrolled in one command (people 9, 10 stay strangers)."""
    from flows.identify import enroll_gallery

    test_people = [f"{n:03d}" for n in range(TRAIN_PEOPLE + 1, 9)]
    result = enroll_gallery(gallery="lab", store=trained["store"], from_store=trained["store"],
                            gait_model=trained["gait"], pose_model=trained["pose"], subjects=tuple(test_people),
                            sequences=GALLERY_WALKS, compute=trained["compute"], tracking=_tracking(gaitflow_settings))
    assert result["people"] == test_people and result["walks"] == 4 * 2 * len(test_people)  # four walks at two views
    return result


def test_other_walks_are_named_at_about_the_protocols_rank1_and_strangers_are_unknown(trained, gallery):
    from stages.identification import identify_tracks, stored_vectors
    from storage.galleries import read_gallery

    store = SequenceStore(trained["store"])
    enrolled = read_gallery(store, "lab")
    attrs = store.all_sequence_attrs()
    known = [i for i, a in attrs.items() if a["subject"] in enrolled.people and not re.search(GALLERY_WALKS, i)
             and a["condition"] == "nm"]
    strangers = [i for i, a in attrs.items() if a["subject"] in ("009", "010")]  # never trained on nor enrolled
    ids, vectors, missing = stored_vectors(store, known + strangers, enrolled.gait_model)
    assert not missing
    rows, threshold = identify_tracks(enrolled, store, ids, vectors, far=FAR, classifier="nn")
    truth = {i: attrs[i]["subject"] for i in ids}
    named = [row for row in rows if row["track"] in known]
    closed_rank1 = np.mean([row["best"] == truth[row["track"]] for row in named])
    open_named = np.mean([row["identity"] == truth[row["track"]] for row in named])
    unknown = np.mean([row["identity"] == "unknown" for row in rows if row["track"] in strangers])
    protocol = trained["summary"]["evaluation"]["results"]["nn"]
    reference = protocol.get("pooled_rank1", {}).get("nm") or protocol["standard_rank1"].get("nm")
    print(f"\nclosed-set rank-1 {closed_rank1:.3f} (protocol nm {reference}), named at the threshold "
          f"{open_named:.3f}, strangers unknown {unknown:.3f} (threshold {threshold.threshold:.4g}, FAR "
          f"{threshold.far:.3f} on {threshold.impostors} impostor attempts)")
    assert threshold.far <= FAR
    if reference is not None:
        assert abs(closed_rank1 - reference) <= 0.35
    # A gallery of 32 walks gives 32 impostor attempts: at 1 % the threshold lies below all of them,
    # and how often a stranger still passes it is measured, not promised, with models at chance.
    assert unknown >= 0.5 and threshold.calibration == "gallery"
    # The training people's 64 walks can set a 5 % threshold as strangers; people 9 and 10 stay
    # out of it, so their rate is a measurement.
    training = [i for i, a in attrs.items() if int(a["subject"]) <= TRAIN_PEOPLE]
    training_ids, calibration, _ = stored_vectors(store, training, enrolled.gait_model)
    # Four training people are fewer than the five a stranger calibration needs; the fifth here
    # is a test stranger (009), so person 010 alone stays out as the measurement.
    extra = [i for i, a in attrs.items() if a["subject"] == "009"]
    extra_ids, extra_vectors, _ = stored_vectors(store, extra, enrolled.gait_model)
    calibration = np.concatenate([calibration, extra_vectors])
    people = np.array([attrs[i]["subject"] for i in training_ids + extra_ids])
    rows, calibrated = identify_tracks(enrolled, store, ids, vectors, far=0.05, classifier="nn", strangers=calibration,
                                       stranger_subjects=people)
    strangers = [i for i in strangers if attrs[i]["subject"] == "010"]
    unknown = np.mean([row["identity"] == "unknown" for row in rows if row["track"] in strangers])
    print(f"stranger 010 unknown at a 5 % threshold set on {calibrated.impostors} other walks: {unknown:.3f}")
    assert calibrated.calibration == "strangers" and calibrated.impostors == len(people) and calibrated.far <= 0.05
    assert unknown >= 0.5


def test_identify_footage_names_every_walker_of_a_clip_and_records_the_run(trained, gallery, gaitflow_settings,
                                                                          tmp_path):
    from flows.identify import identify_footage
    from synth.scene import SceneSpec, render_scene
    from tests.videos import write_video

    scene = render_scene(SceneSpec(walkers=2, frames=60, size=200, seed=1))
    footage = tmp_path / "drop"
    write_video(footage / "crossing.avi", scene.frames, codec="libx264")
    blank = np.repeat(np.random.default_rng(0).integers(0, 255, (1, 64, 64, 3), dtype=np.uint8), 30, axis=0)
    write_video(footage / "empty.avi", blank, codec="libx264")
    arguments = dict(footage=footage, store=trained["store"], gallery="lab", min_track_frames=20,
                     compute=trained["compute"], tracking=_tracking(gaitflow_settings), out=tmp_path / "out")
    result = identify_footage(**arguments)
    assert [row["track"] for row in result["tracks"]] == ["crossing.avi#t001", "crossing.avi#t002"]
    people = set(gallery["people"]) | {"unknown"}
    assert all(row["identity"] in people and len(row["frames"]) == 2 for row in result["tracks"])
    assert [item["id"] for item in result["failed"]] == ["empty.avi"]
    # 96 labelled walks outside the gallery (people 1-4, 9, 10) cannot resolve 1 %: the gallery's own 32 set it.
    assert result["calibration"] == "gallery" and result["impostor_attempts"] == 32
    assert result["stranger_walks"] == 96 and result["stranger_people"] == 6 and result["removed"] == []
    assert "no walker found" in result["failed"][0]["reason"]
    assert (tmp_path / "out" / "contact_sheet.png").stat().st_size > 1000
    artifacts = {a.path for a in MlflowClient(gaitflow_settings.tracking_uri).list_artifacts(
        result["mlflow_run_id"], "identification")}
    assert {"identification/contact_sheet.png", "identification/tracks.csv"} <= artifacts
    again = identify_footage(**{**arguments, "only_new": True})
    assert again["tracks"] == []  # nothing new was dropped into the folder


def test_gaitflow_identify_answers_one_entry_per_walker_of_real_footage(trained, gallery, gaitflow_settings,
                                                                        shared_data, tmp_path):
    video = shared_data / "vtest.avi"
    if not video.is_file():
        pytest.skip("vtest.avi missing")
    command = [str(Path(sys.executable).with_name("gaitflow")), "--home", str(tmp_path / "home"), "identify",
               str(video), "--gallery", "lab", "--store", str(trained["store"]), "--json",
               "--tracking-uri", gaitflow_settings.tracking_uri, "--out", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "PREFECT_API_URL": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout)
    assert set(answer) == {"tracks", "threshold", "far"}
    store = SequenceStore(trained["store"])
    tracks = sorted(i for i, a in store.all_sequence_attrs().items() if a.get("track_source") == "vtest.avi")
    assert [row["track"] for row in answer["tracks"]] == tracks and len(tracks) >= 2
    for row in answer["tracks"]:
        assert set(row) == {"track", "identity", "score", "frames"} and row["frames"][0] <= row["frames"][1]
