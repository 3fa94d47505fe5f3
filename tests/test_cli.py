"""The `gaitflow` command line: help for every command, errors as clear messages and exit codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gaitflow.cli import build_parser
from tests.videos import moving_square_frames, write_video

COMMANDS = ("ingest", "synth", "train-pose", "features", "train-gait", "describe", "evaluate", "run", "demo", "enroll",
            "identify")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_its_options(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--json" in text and "--tracking-uri" in text
    assert ("--dask-address" in text) == (command not in ("evaluate", "train-pose", "train-gait"))


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

    # Streaming features needs a pose model that exists: refused before the store is created.
    result, seconds = _gaitflow(home, "ingest", str(archive.parent), "--store", str(tmp_path / "s.zarr"),
                                "--pose-model", str(tmp_path / "no-model.keras"))
    _one_line_error(result, seconds, "no-model.keras", "not a saved Keras pose model")
    assert not (tmp_path / "s.zarr").exists()
    # So does pose training that starts from a model.
    result, seconds = _gaitflow(home, "train-pose", "--store", str(tmp_path / "s.zarr"),
                                "--initial-pose-model", str(tmp_path / "start.keras"))
    _one_line_error(result, seconds, "start.keras", "not a saved Keras pose model")


def test_object_store_problems_are_one_line_within_seconds(tmp_path, s3_endpoint, s3_bucket, monkeypatch):
    archive = tmp_path / "archive" / "video"
    archive.mkdir(parents=True)
    write_video(archive / "001-nm-01-090.avi", moving_square_frames(4))
    result, seconds = _gaitflow(tmp_path / "home", "describe", "--store", f"{s3_bucket}/none", "--gait-model", "m.keras")
    _one_line_error(result, seconds, f"{s3_bucket}/none", "not a gaitflow store")

    with socket.socket() as probe:  # an endpoint nobody answers on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    result, seconds = _gaitflow(tmp_path / "home", "ingest", str(archive.parent), "--store", "s3://away/store")
    _one_line_error(result, seconds, "s3://away/store")


def test_gait_options_reach_the_training_parameters():
    from gaitflow.options import flow_arguments

    args = build_parser().parse_args(
        ["train-gait", "--store", "s.zarr", "--features", "abc", "--residual-blocks", "chained", "--rnn-layers", "1"])
    options = flow_arguments(args, args.options)["training"]
    assert options.residual_blocks == "chained" and options.rnn_layers == 1
    defaults = build_parser().parse_args(["train-gait", "--store", "s.zarr", "--features", "abc"])
    assert flow_arguments(defaults, defaults.options)["training"].residual_blocks == "discarded"  # the seed's


def _help(command, capsys) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_shows_its_default_taken_from_the_parameter_models(command, capsys):
    import argparse

    from params import GaitTrainingOptions, IngestParams, PoseTrainingOptions

    text = _help(command, capsys)
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    for action in parser._actions:
        if not isinstance(action, argparse._HelpAction):
            assert "(default: " in action.help or "(required)" in action.help, (command, action.dest)
    if command == "ingest":
        frame_size = IngestParams.model_fields["frame_size"]
        assert f"{frame_size.description} (default: {frame_size.default})" in text
    if command == "run":
        epochs = GaitTrainingOptions.model_fields["epochs"]
        assert f"--gait-epochs GAIT_EPOCHS {epochs.description} (default: {epochs.default})" in text
        assert f"(default: {PoseTrainingOptions.model_fields['epochs'].default})" in text


def test_options_set_the_flow_keywords_and_leave_the_rest_to_the_models():
    from gaitflow.options import flow_arguments
    from params import FeatureOptions, GaitTrainingOptions, PipelineParams

    args = build_parser().parse_args(
        ["run", "arch", "--store", "s.zarr", "--frame-size", "136", "--crop", "person", "--gait-epochs", "3",
         "--mixed-precision", "--protocol", "tum-gaid", "--train-subjects", "1-20", "--pose-epochs", "2",
         "--initial-pose-model", "synthetic"])
    arguments = flow_arguments(args, args.options)
    PipelineParams(**arguments)  # every key is a flow parameter
    assert arguments["archive"].is_absolute() and arguments["frame_size"] == 136 and arguments["crop"] == "person"
    assert arguments["gait_training"] == GaitTrainingOptions(epochs=3)
    assert arguments["features"] == FeatureOptions(mixed_precision=True)
    assert arguments["protocol"].protocol == "tum-gaid" and arguments["protocol"].train_subjects == "1-20"
    assert arguments["pose_training"].epochs == 2 and arguments["pose_training"].initial_model == "synthetic"


def test_train_pose_keeps_test_people_out_with_train_subjects_alone(tmp_path):
    from gaitflow.cli import _flow_arguments
    from gaitflow.settings import load_settings
    from params import TrainPoseParams

    args = build_parser().parse_args(["train-pose", "--store", "s.zarr", "--train-subjects", "5"])
    protocol = TrainPoseParams(**_flow_arguments(args, load_settings(tmp_path))).protocol
    assert protocol is not None and protocol.protocol == "casia-b" and protocol.train_subjects == "5"


def test_the_options_the_readme_names_exist():
    args = build_parser().parse_args(["run", "a", "--store", "s", "--feature-centering", "walk", "--appearance-jitter"])
    from gaitflow.options import flow_arguments

    arguments = flow_arguments(args, args.options)
    assert arguments["gait_training"].feature_centering == "walk"
    assert arguments["pose_training"].appearance_jitter is True


@pytest.mark.parametrize("arguments, expected", [
    (["ingest", "a", "--store", "s", "--frame-size", "5"], "--frame-size: '5': Input should be greater than or equal to 16"),
    (["synth", "a", "--size", "33"], "--size: '33': Input should be a multiple of 2"),
    (["train-gait", "--store", "s", "--features", "f", "--train-subjects", "x"], "--train-subjects: 'x'"),
    (["run", "a", "--store", "s", "--layout", "casia"], "--layout: 'casia': Input should be 'casia-b', 'tum-gaid' or 'folder'"),
    (["evaluate", "--store", "gs://bucket/s.zarr", "--descriptors", "d"], "--store: 'gs://bucket/s.zarr': "
     "gs://bucket/s.zarr: the gs:// scheme is not supported; a store is a local path, a file:// URL or "
     "s3://bucket/prefix"),
    (["ingest", "s3://bucket/archive", "--store", "s"], "ARCHIVE: 's3://bucket/archive': s3://bucket/archive: the "
     "s3:// scheme is not supported; the store and archives take a local or mounted path"),
    (["synth", "a", "--views", "36,7"], "--views: '36,7': Input should be a multiple of 18"),
    (["enroll", "g", "--gait-model", "g.keras", "--pose-model", "synthetic", "--from-store", "o", "--store", "s",
      "--sequences", "["], "--sequences: '[': not a regular expression"),
    (["ui", "--port", "70000"], "--port: 70000: a port is 1 to 65535"),
    (["demo", "--subjects", "1"], "--subjects: 1: the demo takes 6 to 500 people"),
    (["pose", "p.jpg", "--pose-model", "synthetic", "--out", "o.png", "--max-frames", "0"],
     "--max-frames: 0: must be at least 1"),
])
def test_out_of_bounds_values_are_one_error_line_and_exit_2(arguments, expected, capsys):
    from gaitflow.cli import main

    assert main([*arguments, "--json"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gaitflow: error:") and expected in lines[0], captured.err
    assert expected in json.loads(captured.out)["error"]


@pytest.mark.parametrize("command, model", [
    (["ingest", "a"], "IngestParams"), (["synth", "a"], "SynthesizeParams"),
    (["train-pose"], "TrainPoseParams"), (["features", "--pose-model", "m.keras"], "ExtractFeaturesParams"),
    (["train-gait", "--features", "abc"], "TrainGaitParams"), (["describe", "--gait-model", "g.keras"], "DescribeParams"),
    (["evaluate", "--descriptors", "abc"], "EvaluateParams"), (["run", "a"], "PipelineParams"),
    (["enroll", "g", "--gait-model", "g.keras", "--pose-model", "p.keras", "--from-store", "o.zarr"], "EnrollParams"),
    (["identify", "f.avi", "--gallery", "g"], "IdentifyParams"), (["ingest", "a", "--crop", "track"], "IngestParams"),
])
def test_each_command_calls_its_flow_with_that_flows_keywords(command, model, tmp_path):
    import params
    from gaitflow.cli import _flow_arguments
    from gaitflow.settings import load_settings

    store = [] if command[0] == "synth" else ["--store", "s.zarr"]
    args = build_parser().parse_args([*command, *store])
    arguments = _flow_arguments(args, load_settings(tmp_path), compute=command[0] != "evaluate")
    validated = getattr(params, model)(**arguments)
    assert validated.tracking.tracking_uri.endswith("mlflow.db") and str(tmp_path) in validated.tracking.tracking_uri
    if command[0] == "train-pose":
        assert validated.protocol is None  # no --protocol: every person trains


DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")


@pytest.mark.skipif(not os.path.isfile(os.path.join(DATA, "messi5.jpg")), reason="../shared/data/messi5.jpg missing")
def test_pose_draws_a_photograph_without_any_server_and_bad_input_is_one_line(tmp_path):
    from nets.checkpoints import save_model
    from nets.pose_network import HumanPoseNN

    model = tmp_path / "pose.keras"
    save_model(HumanPoseNN("small"), model)
    out = tmp_path / "messi-pose.png"
    # The packaged model by its name.
    result, seconds = _gaitflow(tmp_path / "home", "pose", os.path.join(DATA, "messi5.jpg"), "--pose-model", "synthetic",
                                "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert out.is_file() and summary["frames"] == 1 and len(summary["poses"][0]["joints"]) == 16
    assert not (tmp_path / "home" / "prefect-server.log").exists()  # no Prefect server for a standalone command
    noise = [line for line in result.stderr.splitlines() if "oneDNN" in line or "absl::InitializeLog" in line]
    assert noise == []

    result, seconds = _gaitflow(tmp_path / "home", "pose", str(tmp_path / "none.jpg"), "--pose-model", str(model),
                                "--out", str(out))
    _one_line_error(result, seconds, "none.jpg: no such file")
    result, seconds = _gaitflow(tmp_path / "home", "pose", os.path.join(DATA, "messi5.jpg"), "--pose-model",
                                str(tmp_path / "weights.h5"), "--out", str(out))
    _one_line_error(result, seconds, "weights.h5: not a saved Keras pose model")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ui_serves_mlflow_and_prefect_on_loopback_only(tmp_path):
    import urllib.request

    import psutil

    port, prefect_port = _free_port(), _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GAITFLOW_", "PREFECT_"))}
    process = subprocess.Popen([sys.executable, "-m", "gaitflow.cli", "--home", str(tmp_path / "home"), "ui",
                                "--port", str(port), "--prefect", "--prefect-port", str(prefect_port)],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        for url in (f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{prefect_port}/api/health"):
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=2) as answer:
                        assert answer.status == 200
                        break
                except OSError:
                    assert process.poll() is None, process.stderr.read().decode()[-2000:]
                    assert time.monotonic() < deadline, f"{url} did not answer within 3 minutes"
                    time.sleep(0.5)
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        listening = {c.laddr.ip for p in tree for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def test_crop_track_and_its_minimum_length_reach_ingest_and_run():
    from gaitflow.options import flow_arguments

    for command in ("ingest", "run"):
        args = build_parser().parse_args([command, "a", "--store", "s", "--crop", "track", "--min-track-frames", "40"])
        arguments = flow_arguments(args, args.options)
        assert arguments["crop"] == "track" and arguments["min_track_frames"] == 40


def test_enroll_takes_a_name_and_its_videos_either_side_of_the_options(tmp_path):
    from gaitflow.cli import _enroll_videos

    args = build_parser().parse_args(["enroll", "lab", "--name", "ann", "a.avi", "b.avi", "--store", "s",
                                      "--gait-model", "g.keras", "--pose-model", "p.keras"])
    assert args.gallery == "lab" and _enroll_videos(args) == ("ann", [Path("a.avi"), Path("b.avi")])
    args = build_parser().parse_args(["enroll", "lab", "c.avi", "--name", "bob", "--store", "s",
                                      "--gait-model", "g.keras", "--pose-model", "p.keras"])
    assert _enroll_videos(args) == ("bob", [Path("c.avi")])


@pytest.mark.parametrize("arguments, expected", [
    (["enroll", "lab", "--gait-model", "g.keras", "--pose-model", "p.keras"], "either --name NAME VIDEO"),
    (["enroll", "lab", "--name", "ann", "--gait-model", "g.keras", "--pose-model", "p.keras"], "no videos of ann"),
    (["enroll", "../x", "--from-store", "s.zarr", "--gait-model", "g.keras", "--pose-model", "p.keras"],
     "argument GALLERY"),
    (["identify", "nothing.avi", "--gallery", "lab"], "no such file"),
])
def test_enroll_and_identify_refuse_bad_input_in_one_line(arguments, expected, tmp_path, capsys):
    from gaitflow.cli import main

    assert main(["--home", str(tmp_path / "home"), *arguments, "--store", str(tmp_path / "s.zarr"), "--json"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gaitflow: error:") and expected in lines[0], captured.err
    assert expected in json.loads(captured.out)["error"]


def test_identify_against_a_missing_or_other_models_gallery_is_refused_naming_it(tmp_path, capsys):
    import numpy as np

    from gaitflow.cli import main
    from storage.galleries import enroll
    from storage.store import SequenceStore

    store = SequenceStore(tmp_path / "s.zarr", create=True)
    video = write_video(tmp_path / "clip.avi", moving_square_frames(8))
    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "identify", str(video), "--gallery", "lab", "--store", str(store.path)]) == 2
    assert "gallery 'lab' is not in" in capsys.readouterr().err
    enroll(store, "solo", np.ones((1, 4)), ["ann"], ["a"], gait_model="other", gait_model_path="/m/other.keras",
           features="f", pose_model="/m/p.keras", frame_size=32)
    assert main([*home, "identify", str(video), "--gallery", "solo", "--store", str(store.path)]) == 2
    assert "gallery 'solo' holds 1 person" in capsys.readouterr().err
    enroll(store, "lab", np.ones((1, 4)), ["ann"], ["a"], gait_model="other", gait_model_path="/m/other.keras",
           features="f", pose_model="/m/p.keras", frame_size=32)
    gait = tmp_path / "gait.keras"
    gait.write_bytes(b"not really a model")
    pose = tmp_path / "pose.keras"
    pose.write_bytes(b"nor this")
    assert main([*home, "enroll", "lab", "--name", "bob", str(video), "--store", str(store.path), "--gait-model",
                 str(gait), "--pose-model", str(pose)]) == 2
    err = capsys.readouterr().err
    assert "gallery 'lab'" in err and "other" in err and "this command uses gait model" in err


@pytest.mark.parametrize("calibration, expected", [
    ("strangers", "on 720 impostor attempts (walks of 24 labelled people outside the gallery"),
    ("gallery", "on 32 impostor attempts (the gallery's own people, each left out in turn: the store has 64 "
                "labelled walks of 4 people outside the gallery, too few"),
])
def test_identify_says_where_its_threshold_came_from(calibration, expected, capsys):
    from types import SimpleNamespace

    from gaitflow.cli import _print_identification

    result = {
        "gallery": "lab", "people": ["ann", "bob"], "classifier": "nn", "threshold": 4.2, "far": 0.0097,
        "far_target": 0.01, "tar": 0.5, "calibration": calibration,
        "impostor_attempts": 720 if calibration == "strangers" else 32,
        "stranger_walks": 720 if calibration == "strangers" else 64, "stranger_people": 24 if calibration == "strangers" else 4,
        "tracks": [{"track": "a.avi#t001", "identity": "ann", "score": 3.1, "frames": [0, 40], "best": "ann"}],
        "footage": "a.avi", "skipped": [], "removed": ["a.avi#t002"], "failed": [], "contact_sheet": None,
        "mlflow_run_id": "r1",
    }
    _print_identification(result, SimpleNamespace(tracking_uri="sqlite:///m.db"))
    printed = " ".join(capsys.readouterr().out.split())
    assert expected in printed and "removed track a.avi#t002" in printed


@pytest.mark.parametrize("out, expected", [("folder", "is a folder; --out takes a file name"),
                                           ("afile/x.png", "afile is a file, not a folder")])
def test_pose_refuses_an_output_it_cannot_write_before_any_work(tmp_path, capsys, out, expected):
    import cv2
    import numpy as np

    from gaitflow.cli import main

    image = tmp_path / "walker.png"
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("")
    assert main(["pose", str(image), "--pose-model", "synthetic", "--out", str(tmp_path / out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder", "walker.png"]  # nothing written


def test_ui_on_a_port_in_use_is_one_line_and_a_failure(tmp_path, capsys):
    import socket

    from gaitflow.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--home", str(tmp_path), "ui", "--port", str(port)]) == 2
    assert f"127.0.0.1:{port}: cannot serve there" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["evaluate", "--descriptors", "d"], ["train-pose"], ["train-gait", "--features", "f"]])
def test_commands_that_run_in_their_own_process_take_no_dask_options(command, capsys):
    from gaitflow.cli import main

    assert main([*command, "--store", "s", "--dask-address", "tcp://127.0.0.1:1"]) == 2
    assert "unrecognized arguments: --dask-address" in capsys.readouterr().err

