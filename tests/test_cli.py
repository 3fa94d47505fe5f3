"""The `gaitflow` command line: help for every command, errors as clear messages and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gaitflow.cli import build_parser

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


def test_a_missing_archive_is_a_json_error_with_its_path(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    result = subprocess.run(
        [sys.executable, "-m", "gaitflow.cli", "--home", str(tmp_path / "home"), "ingest", str(tmp_path / "nowhere"),
         "--store", str(tmp_path / "s.zarr"), "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 2
    error = json.loads(result.stdout.strip().splitlines()[-1])["error"]
    assert "nowhere" in error and "does not exist" in error
    assert "gaitflow: error:" in result.stderr


def test_gait_options_reach_the_training_parameters():
    from gaitflow.cli import _gait_training

    args = build_parser().parse_args(
        ["train-gait", "--store", "s.zarr", "--features", "abc", "--residual-blocks", "chained", "--rnn-layers", "1"])
    options = _gait_training(args)
    assert options.residual_blocks == "chained" and options.rnn_layers == 1
    defaults = _gait_training(build_parser().parse_args(["train-gait", "--store", "s.zarr", "--features", "abc"]))
    assert defaults.residual_blocks == "discarded"  # what the seed computed
