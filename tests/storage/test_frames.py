from __future__ import annotations

import numpy as np
import pytest

from storage.frames import FrameDecodeError, FrameSpec, extract_frames, map_joints_to_frames
from tests.videos import moving_square_frames, write_video


def _all(source, spec, **kwargs):
    batches = list(extract_frames(source, "video", spec, batch_frames=4, **kwargs))
    return batches, np.concatenate([b.frames for b in batches])


def test_decodes_every_frame_in_chunk_sized_batches(tmp_path):
    video = write_video(tmp_path / "a.avi", moving_square_frames(10), fps=20)
    batches, frames = _all(video, FrameSpec(size=32))
    assert [len(b.frames) for b in batches] == [4, 4, 2]
    assert frames.shape == (10, 32, 32, 3) and frames.dtype == np.uint8
    assert np.concatenate([b.source_indices for b in batches]).tolist() == list(range(10))


def test_resampling_keeps_one_frame_per_target_period(tmp_path):
    video = write_video(tmp_path / "a.avi", moving_square_frames(20), fps=20)
    batches, frames = _all(video, FrameSpec(size=32, fps=5))
    assert np.concatenate([b.source_indices for b in batches]).tolist() == [0, 4, 8, 12, 16]


def test_box_crop_keeps_a_marked_point_where_the_joint_mapping_says(tmp_path):
    frames = np.zeros((4, 60, 80, 3), np.uint8)
    frames[:, 28:33, 48:53] = 255  # a dot centred at x=50, y=30
    video = write_video(tmp_path / "dot.avi", frames, fps=10)
    spec = FrameSpec(size=40, crop="box", margin=0.0)
    batches, out = _all(video, spec, box_finder=lambda i, f: (30.0, 10.0, 70.0, 50.0))
    joint = map_joints_to_frames(np.array([[[50.0, 30.0]]] * 4), batches[0].boxes, 40)[0, 0]
    ys, xs = np.nonzero(out[0, ..., 0] > 128)
    assert abs(xs.mean() - joint[0]) <= 1.0 and abs(ys.mean() - joint[1]) <= 1.0


def test_center_crop_is_the_middle_square(tmp_path):
    video = write_video(tmp_path / "a.avi", moving_square_frames(2, height=40, width=80), fps=10)
    batches, _ = _all(video, FrameSpec(size=20))
    assert batches[0].boxes[0].tolist() == [20.0, 0.0, 60.0, 40.0]


def test_not_a_video_is_named_in_the_error(tmp_path):
    bad = tmp_path / "fake.avi"
    bad.write_bytes(b"this is text, not a video" * 100)
    with pytest.raises(FrameDecodeError, match="fake.avi"):
        _all(bad, FrameSpec(size=32))


def test_truncated_video_is_detected(tmp_path):
    video = write_video(tmp_path / "cut.avi", moving_square_frames(60), fps=25)
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 3])
    with pytest.raises(FrameDecodeError, match="cut.avi"):
        _all(video, FrameSpec(size=32))


def test_video_without_frames_is_an_error(tmp_path):
    video = write_video(tmp_path / "empty.avi", moving_square_frames(0), fps=25)
    with pytest.raises(FrameDecodeError, match="empty.avi"):
        _all(video, FrameSpec(size=32))


def test_spec_rejects_out_of_range_values():
    with pytest.raises(ValueError, match="frame size"):
        FrameSpec(size=4)
    with pytest.raises(ValueError, match="crop"):
        FrameSpec(crop="face")


def test_person_crop_follows_a_walker_in_real_footage(shared_data):
    spec = FrameSpec(size=64, fps=2, crop="person")
    batches = list(extract_frames(shared_data / "vtest.avi", "video", spec, batch_frames=16))
    boxes = np.concatenate([b.boxes for b in batches])
    assert len(boxes) > 100
    # Once the background model settles, crops are smaller than the frame and move.
    sides = boxes[20:, 2] - boxes[20:, 0]
    assert np.median(sides) < 576 and np.ptp(boxes[20:, 0]) > 20
