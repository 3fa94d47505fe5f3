"""The pose model that ships with gaitflow: there, a small HumanPoseNN, made from people no
archive here tests on, and a pose estimator on a walker it never saw."""

from __future__ import annotations

import json

import numpy as np

from pretrained import PACKAGED_MODELS, SYNTHETIC_POSE_MODEL, SYNTHETIC_POSE_RECORD


def test_the_packaged_pose_model_says_how_it_was_made_from_people_no_benchmark_tests_on():
    from benchmarks.accuracy import ARCHIVE_SEED
    from gaitflow import packaged_pose

    assert PACKAGED_MODELS["synthetic"] == SYNTHETIC_POSE_MODEL and SYNTHETIC_POSE_MODEL.is_file()
    record = json.loads(SYNTHETIC_POSE_RECORD.read_text())
    assert record["made_by"] == "python -m gaitflow.packaged_pose" and record["backbone"] == "small"
    assert record["archive"]["seed"] == packaged_pose.SEED
    # The accuracy benchmark's archives (and the demo's) use ARCHIVE_SEED and ARCHIVE_SEED + 1.
    assert packaged_pose.SEED not in (ARCHIVE_SEED, ARCHIVE_SEED + 1)
    assert record["metrics"]["heldout/pck_0.1"] > 0.6  # measured on its own held-out synthetic people


def test_the_packaged_pose_model_finds_the_joints_of_a_walker_it_never_saw():
    from evaluation.pose_quality import pose_quality
    from nets.checkpoints import load_model
    from nets.pose_api import estimate_poses
    from nets.pose_network import model_input_size
    from synth.archive import ArchiveSpec, plan_archive, render_item

    model = load_model(SYNTHETIC_POSE_MODEL)
    assert model_input_size(model) == 136
    job = plan_archive(ArchiveSpec(subjects=1, views=(90,), walks=(("nm", 1),), frames=12, size=136, seed=5))[0]
    item = render_item(job)
    truth = np.asarray(item.document["joints_xy"], dtype=np.float32)
    estimates = estimate_poses(model, item.frames, return_heatmaps=False)
    quality = pose_quality(estimates.joints_xy, truth, np.asarray(item.document["visible"], bool)).to_dict()
    # Hips, torso and head are where a trained network is sure (0.99 on the accuracy benchmark's
    # held-out people); an untrained one puts them nowhere near.
    assert quality["torso_head/pck_0.1"] > 0.8 and quality["hips/pck_0.1"] > 0.8


def test_a_run_given_the_packaged_model_by_name_sizes_its_frames_for_it():
    from tasks.pipeline import pose_input_size

    # The pipeline sizes ingested frames for its pose model before anything is stored.
    assert pose_input_size.fn("synthetic", "inception_resnet_v2") == 136
