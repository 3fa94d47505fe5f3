"""The storage benchmark's helpers on tiny inputs. The benchmark itself (`run`) is never run
here: benchmarks are not part of the test suite (see DEVELOPMENT.md)."""

from __future__ import annotations

import numpy as np
import pytest
from zarr.codecs import ZstdCodec

import storage.store as store_module
from benchmarks import storage_throughput as bench


def test_chunk_pieces_are_chunk_aligned_and_cover_the_array():
    array = np.arange(37)
    pieces = list(bench.chunk_pieces(array, 16))
    assert [len(p) for p in pieces] == [16, 16, 5]
    assert np.array_equal(np.concatenate(pieces), array)
    with pytest.raises(ValueError):
        list(bench.chunk_pieces(array, 0))


def test_random_starts_stay_inside_and_align_when_asked():
    aligned = bench.random_starts(100, 16, 50, seed=0, aligned=True)
    assert all(s % 16 == 0 and s + 16 <= 100 for s in aligned)
    free = bench.random_starts(100, 40, 50, seed=0, aligned=False)
    assert all(0 <= s <= 60 for s in free) and free == bench.random_starts(100, 40, 50, seed=0, aligned=False)
    with pytest.raises(ValueError, match="longer than the sequence"):
        bench.random_starts(10, 16, 1, seed=0, aligned=True)


def test_folder_size_counts_bytes_and_allocated_blocks(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 5000)
    size = bench.folder_size(tmp_path)
    assert size.apparent == 5010 and size.files == 2 and size.on_disk % 512 == 0
    assert bench.folder_size(tmp_path / "a").apparent == 10


def test_format_table_aligns_columns_and_marks_missing_values():
    rows = [{"name": "features", "rate": 1234.5, "ratio": 1.0662}, {"name": "frames", "rate": None, "ratio": 2}]
    lines = bench.format_table(rows, [("name", "content"), ("rate", "MB/s"), ("ratio", "ratio")]).splitlines()
    assert lines[0].split() == ["content", "MB/s", "ratio"]
    assert lines[2].split() == ["features", "1,234", "1.066"] and lines[3].split() == ["frames", "-", "2"]
    assert len({len(line) for line in lines}) == 1


def test_pose_features_are_deterministic_dense_and_signed():
    features = bench.pose_features(6, "float16", seed=5)
    assert features.shape == (6, 17, 17, 32) and features.dtype == np.float16
    assert np.array_equal(features, bench.pose_features(6, "float16", seed=5))
    assert (features < 0).any() and (features > 0).any() and (features == 0).mean() < 0.01
    relu = bench.pose_features(6, "float16", seed=5, relu_only=True)
    assert relu.min() == 0 and 0.4 < (relu == 0).mean() < 0.8


def test_walking_frames_are_image_like_and_move():
    frames = bench.walking_frames(3, 48, seed=1)
    assert frames.shape == (3, 48, 48, 3) and frames.dtype == np.uint8
    assert frames.std() > 10 and not np.array_equal(frames[0], frames[1])
    assert np.array_equal(frames, bench.walking_frames(3, 48, seed=1))


def test_the_store_writes_with_the_swapped_codec_and_gets_its_default_back(tmp_path):
    original = store_module.default_compressors
    data = np.arange(8 * 4 * 4 * 3, dtype=np.uint8).reshape(8, 4, 4, 3)
    content = bench.Content("tiny", data, "frames", 4, "test frames")
    backend = bench._StoreBackend(tmp_path, content, 4, "zstd1", lambda: (ZstdCodec(level=1),), slots=3)
    row = bench.measure(backend, repetitions=1, random_reads=2, seed=0, durable=True)
    assert store_module.default_compressors is original
    assert row["compressors"][0].startswith("ZstdCodec") and row["chunk_frames"] == 4
    assert row["bytes_per_frame_raw"] == 48 and row["write_fps"] > 0 and row["durable_write_fps"] > 0

    with pytest.raises(RuntimeError), bench._store_compressors(lambda: ()):
        raise RuntimeError("a write failed")
    assert store_module.default_compressors is original


def test_summarise_sweep_sets_the_production_row_beside_the_best():
    def row(codec, chunk, size, write, read):
        return {"content": "f", "codec": codec, "chunk_frames": chunk, "compression_ratio": 100 / size,
                "bytes_per_frame_disk": size, "write_fps": write, "read_fps": read, "clip_read_ms": 1.0}

    sweep = [row("store default", 32, 90, 10, 10), row("zstd3", 32, 80, 20, 5), row("none", 64, 100, 5, 30)]
    summary = bench.summarise_sweep(sweep, {"f": 32})["f"]
    assert summary["production"]["codec"] == "store default" and summary["smallest"]["codec"] == "zstd3"
    assert summary["fastest_write"]["codec"] == "zstd3" and summary["fastest_read"]["chunk_frames"] == 64
    assert bench.summarise_sweep(sweep, {})["f"]["production"] is None
