"""The `gaitflow` command line: help for every command, errors as clear messages and exit codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from gaitflow.cli import build_parser
from tests.videos import moving_square_frames, write_video

COMMANDS = ("ingest", "synth", "train-pose", "features", "train-gait", "describe", "evaluate", "run", "demo")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_its_options(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--json" in text and "--dask-address" in text and "--tracking-uri" in text


def test_arguments_parse_into_the_flow_parameters():
    args = build_parser().parse_args(
        ["synth", "out", "--views", "36,90", "--subjects", "4", "--difficulty", "1.5", "--json"])
    assert args.views == (36, 90) and args.subjects == 4 and args.difficulty == 1.5 and args.json
    with pytest.raises(SystemExit):
        build_parser().parse_args(["synth", "out", "--views", "left,right"])


def _gaitflow(home, *args, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "GAITFLOW_"))}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "gaitflow.cli", "--home", str(home), *args],
                            capture_output=True, text=True, env=env, timeout=timeout)
    return result, time.monotonic() - started


def test_a_missing_archive_is_a_json_error_with_its_path(tmp_path):
    result, _ = _gaitflow(tmp_path / "home", "ingest", str(tmp_path / "nowhere"), "--store", str(tmp_path / "s.zarr"),
                          "--json")
    assert result.returncode == 2
    error = json.loads(result.stdout.strip().splitlines()[-1])["error"]
    assert "nowhere" in error and "does not exist" in error
    assert "gaitflow: error:" in result.stderr


def _one_line_error(result, seconds, *expected):
    """Exit 2, one `gaitflow: error:` line naming the problem, no traceback, and fast (no server started)."""
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gaitflow: error:"), result.stderr[-2000:]
    for text in expected:
        assert text in lines[0]
    assert seconds < 30, f"took {seconds:.0f} s: a server or cluster was started before the check"


def test_archive_level_problems_are_one_line_before_anything_starts(tmp_path):
    home = tmp_path / "home"
    empty = tmp_path / "empty-archive"
    empty.mkdir()
    result, seconds = _gaitflow(home, "ingest", str(empty), "--store", str(tmp_path / "s.zarr"))
    _one_line_error(result, seconds, "empty-archive", "nothing to do")
    assert not (tmp_path / "s.zarr").exists()

    archive = tmp_path / "archive" / "video"
    archive.mkdir(parents=True)
    write_video(archive / "001-nm-01-090.avi", moving_square_frames(4))
    store_file = tmp_path / "store-file"
    store_file.write_text("precious")
    result, seconds = _gaitflow(home, "ingest", str(archive.parent), "--store", str(store_file))
    _one_line_error(result, seconds, "store-file", "is a file")
    assert store_file.read_text() == "precious"

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result, seconds = _gaitflow(home, "ingest", str(archive.parent), "--store", str(tmp_path / "s.zarr"),
                                "--dask-address", f"tcp://127.0.0.1:{port}", "--json")
    _one_line_error(result, seconds, f"127.0.0.1:{port}", "no Dask scheduler")
    assert "no Dask scheduler" in json.loads(result.stdout)["error"]
    assert not (tmp_path / "s.zarr").exists()

    result, seconds = _gaitflow(home, "describe", "--store", str(tmp_path / "no-store.zarr"), "--gait-model", "m.keras")
    _one_line_error(result, seconds, "no-store.zarr", "not a gaitflow store")


def test_gait_options_reach_the_training_parameters():
    from gaitflow.cli import _gait_training

    args = build_parser().parse_args(
        ["train-gait", "--store", "s.zarr", "--features", "abc", "--residual-blocks", "chained", "--rnn-layers", "1"])
    options = _gait_training(args)
    assert options.residual_blocks == "chained" and options.rnn_layers == 1
    defaults = _gait_training(build_parser().parse_args(["train-gait", "--store", "s.zarr", "--features", "abc"]))
    assert defaults.residual_blocks == "discarded"  # what the seed computed
