"""`gaitflow pose`: the pose network alone on a real photograph and real footage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gaitflow.pose_command import annotate, estimate_and_draw, inside_picture, read_media

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def pose_model():
    from nets.pose_network import HumanPoseNN

    return HumanPoseNN("small")


def test_joints_outside_the_picture_or_below_the_threshold_are_not_drawn():
    frame = np.zeros((1, 60, 80, 3), np.uint8)
    joints = np.full((1, 16, 2), -5.0)  # all in the letter-box padding, left of the picture
    confident = np.ones((1, 16))
    assert not inside_picture(joints, frame.shape[1:]).any()
    assert (annotate(frame, joints, confident, 0.2) == 0).all()
    joints[0, 6] = (40, 30)  # the pelvis inside, sure; every other joint still outside
    assert (annotate(frame, joints, confident * 0.1, 0.2) == 0).all()  # below the threshold
    drawn = annotate(frame, joints, confident, 0.2)[0]
    changed = np.argwhere(drawn.any(axis=-1))
    assert len(changed) and (np.abs(changed - [30, 40]).max(axis=1) <= 3).all()  # only a dot at the pelvis


@pytest.mark.skipif(not (DATA / "messi5.jpg").is_file(), reason="../shared/data/messi5.jpg is not there")
def test_a_photograph_gets_an_annotated_copy_and_every_joint(pose_model, tmp_path):
    import cv2

    media = read_media(DATA / "messi5.jpg")
    summary = estimate_and_draw(pose_model, media, tmp_path / "out" / "messi.png", min_confidence=0.0)
    written = cv2.imread(summary["out"])
    assert written.shape == media.frames[0].shape[:2] + (3,)
    assert summary["frames"] == 1 and len(summary["poses"][0]["joints"]) == 16
    for x, y, confidence, drawn in summary["poses"][0]["joints"]:
        assert 0.0 <= confidence <= 1.0
        assert drawn == bool(0 <= x <= media.frames.shape[2] - 1 and 0 <= y <= media.frames.shape[1] - 1)


@pytest.mark.skipif(not (DATA / "vtest.avi").is_file(), reason="../shared/data/vtest.avi is not there")
def test_footage_becomes_an_annotated_video(pose_model, tmp_path):
    media = read_media(DATA / "vtest.avi", max_frames=3)
    summary = estimate_and_draw(pose_model, media, tmp_path / "vtest.mp4")
    again = read_media(summary["out"])
    assert len(again.frames) == 3 and again.frames.shape[1:] == media.frames.shape[1:]
    assert summary["fps"] == pytest.approx(media.fps) and len(summary["poses"]) == 3


def test_bad_input_names_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"missing\.jpg: no such file"):
        read_media(tmp_path / "missing.jpg")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(ValueError, match=r"notes\.mp4: not a readable image or video"):
        read_media(text)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match=r"broken\.png: not a readable image"):
        read_media(broken)
