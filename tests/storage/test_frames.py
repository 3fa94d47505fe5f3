from __future__ import annotations

import numpy as np
import pytest

from storage.frames import FrameDecodeError, FrameSpec, LostFrames, extract_frames, map_joints_to_frames
from tests.videos import (
    cut_file,
    garble_bytes,
    moving_square_frames,
    noise_frames,
    packet_spans,
    sliding_texture_frames,
    write_image_folder,
    write_video,
)


def _all(source, spec, **kwargs):
    batches = list(extract_frames(source, "video", spec, batch_frames=4, **kwargs))
    return batches, np.concatenate([b.frames for b in batches])


def _all_images(folder, **kwargs):
    batches = list(extract_frames(folder, "images", FrameSpec(size=32), batch_frames=4, **kwargs))
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


def _cut_video(tmp_path):
    """12 key frames of about equal size, the file cut at 93 %: inside frame 10's data, so frame
    10 decodes concealed and frame 11 is gone; 11 of the 12 frames still come out."""
    return cut_file(write_video(tmp_path / "cut.avi", noise_frames(12), fps=25), 0.93)


def _garbled_video(tmp_path):
    """A sliding texture with a key frame at least every 4 frames, 16 bytes of frame 5's data
    overwritten: FFmpeg conceals the damage and still yields all 12 frames."""
    video = write_video(tmp_path / "garbled.avi", sliding_texture_frames(12), gop=4)
    offset, size, is_key = packet_spans(video)[5]
    assert not is_key and packet_spans(video)[7][2]  # frame 6 is predicted from 5; 7 starts clean
    return garble_bytes(video, offset + size // 2, 16)


def _indices(batches):
    return np.concatenate([b.source_indices for b in batches]).tolist()


def test_video_cut_at_93_percent_fails_naming_the_file_and_frame(tmp_path):
    with pytest.raises(FrameDecodeError, match=r"cut\.avi: frame 10 \(counting from 0\) is damaged"):
        _all(_cut_video(tmp_path), FrameSpec(size=32))


def test_garbled_video_fails_naming_the_file_and_frame(tmp_path):
    with pytest.raises(FrameDecodeError, match=r"garbled\.avi: frame 5 \(counting from 0\) is damaged"):
        _all(_garbled_video(tmp_path), FrameSpec(size=32))


def test_allow_partial_keeps_the_intact_frames_of_a_cut_video_and_records_the_rest(tmp_path):
    _, intact = _all(write_video(tmp_path / "whole.avi", noise_frames(12), fps=25), FrameSpec(size=32))
    lost = LostFrames()
    batches, frames = _all(_cut_video(tmp_path), FrameSpec(size=32), allow_partial=True, lost=lost)
    assert _indices(batches) == list(range(10))
    np.testing.assert_array_equal(frames, intact[:10])
    assert lost.as_attrs() == {"declared": 12, "decoded": 10, "corrupt": [10], "missing": 1, "errors": []}


def test_allow_partial_skips_a_garbled_frame_and_the_frames_predicted_from_it(tmp_path):
    frames_in = sliding_texture_frames(12)
    _, intact = _all(write_video(tmp_path / "whole.avi", frames_in, gop=4), FrameSpec(size=32))
    lost = LostFrames()
    batches, frames = _all(_garbled_video(tmp_path), FrameSpec(size=32), allow_partial=True, lost=lost)
    kept = [0, 1, 2, 3, 4, 7, 8, 9, 10, 11]
    assert _indices(batches) == kept
    np.testing.assert_array_equal(frames, intact[kept])  # no concealed frame slipped through
    assert lost.as_attrs() == {"declared": 12, "decoded": 10, "corrupt": [5, 6], "missing": 0, "errors": []}
    assert lost.summary() == "lost 2 of 12 frames (corrupt: 5, 6)"


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_half_written_image_in_a_folder_fails_naming_the_file_and_frame(tmp_path, suffix):
    folder = tmp_path / "p001" / "n01"
    paths = write_image_folder(folder, moving_square_frames(12, 64, 64), suffix=suffix)
    cut_file(paths[7], 0.5)
    with pytest.raises(FrameDecodeError, match=rf"n01/007\{suffix}: frame 7 \(counting from 0\) is damaged: truncated"):
        list(extract_frames(folder, "images", FrameSpec(size=32), batch_frames=4))


def test_allow_partial_skips_a_half_written_image_without_grey_filling_it(tmp_path):
    folder = tmp_path / "p001" / "n01"
    paths = write_image_folder(folder, moving_square_frames(12, 64, 64))
    _, intact = _all_images(folder)
    cut_file(paths[7], 0.5)
    lost = LostFrames()
    batches, frames = _all_images(folder, allow_partial=True, lost=lost)
    kept = [i for i in range(12) if i != 7]
    assert _indices(batches) == kept
    np.testing.assert_array_equal(frames, intact[kept])
    assert lost.as_attrs() == {"declared": 12, "decoded": 11, "corrupt": [7], "missing": 0, "errors": []}


def test_spec_rejects_out_of_range_values():
    with pytest.raises(ValueError, match="frame size"):
        FrameSpec(size=4)
    with pytest.raises(ValueError, match="crop"):
        FrameSpec(crop="face")


def test_person_crop_follows_a_walker_in_real_footage(shared_data):
    spec = FrameSpec(size=64, fps=2, crop="person")
    lost = LostFrames()
    batches = list(extract_frames(shared_data / "vtest.avi", "video", spec, batch_frames=16, lost=lost))
    boxes = np.concatenate([b.boxes for b in batches])
    assert len(boxes) > 100
    # Strict decoding passes real footage: every declared frame decodes intact.
    assert lost.complete and (lost.declared, lost.decoded) == (795, 795)
    # Once the background model settles, crops are smaller than the frame and move.
    sides = boxes[20:, 2] - boxes[20:, 0]
    assert np.median(sides) < 576 and np.ptp(boxes[20:, 0]) > 20
