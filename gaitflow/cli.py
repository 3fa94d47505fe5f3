"""The `gaitflow` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from gaitflow.options import Option, add_options, flow_arguments, given
from gaitflow.settings import Settings, load_settings
from params import (
    ComputeParams, DescribeParams, EnrollParams, EvaluateParams, ExtractFeaturesParams, FeatureOptions,
    GaitTrainingOptions, IdentifyParams, IngestParams, PipelineParams, PoseTrainingOptions, ProtocolOptions, SynthesizeParams, TrackingParams,
    TrainGaitParams, TrainPoseParams,
)
from pretrained import PACKAGED_MODELS

# 0: everything done; 1: the command ran but some sequences failed; 2: nothing ran (bad input).
EXIT_OK, EXIT_FAILURES, EXIT_ERROR = 0, 1, 2
_DASK_CONNECT_TIMEOUT_S = 3.0


class CommandError(ValueError):
    """A problem with what the command was given, found before anything starts."""


class BadOption(SystemExit):
    """An option argparse refused; already reported on stderr."""

    def __init__(self, message: str):
        super().__init__(EXIT_ERROR)
        self.message = message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One `gaitflow: error:` line, like every other problem with what a command was given."""
        command = self.prog.removeprefix("gaitflow").strip()
        message = f"{command + ': ' if command else ''}{message} (see {self.prog} --help)"
        print(f"gaitflow: error: {message}", file=sys.stderr)
        raise BadOption(message)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except BadOption as error:
        if "--json" in argv:
            print(json.dumps({"error": error.message}))
        return EXIT_ERROR
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_ERROR
    settings = load_settings(args.home)
    try:
        _preflight(args, settings)
    except (ValueError, OSError, RuntimeError) as error:
        _fail(args, error)
        return EXIT_ERROR
    from gaitflow.native_logs import native_notices_filtered
    from gaitflow.services import prefect_api, prepare_environment

    prepare_environment(settings)
    _end_on_sigterm()
    try:
        with native_notices_filtered():
            if args.command in _STANDALONE:  # no flow runs: no Prefect server, no MLflow run
                return args.handler(args, settings)
            with prefect_api(settings):
                _close_interrupted_runs(args, settings)
                return args.handler(args, settings)
    except (ValueError, OSError, RuntimeError) as error:
        _fail(args, error)
        return EXIT_ERROR


def _preflight(args: argparse.Namespace, settings: Settings) -> None:
    """Archive-level problems, caught in a second before any server or cluster starts.

    Raises:
      CommandError, StoreError, ArchiveError: with a message naming the path or address.
    """
    from storage.store import SequenceStore, StoreError

    if args.command == "pose":
        from gaitflow.pose_command import IMAGE_SUFFIXES, check_output_file

        if not args.media.is_file():
            raise CommandError(f"{args.media}: no such file")
        _pose_model_reference(args.pose_model)
        check_output_file(args.out, video=args.media.suffix.lower() not in IMAGE_SUFFIXES)
        return
    if args.command == "ui":
        for port in (args.port, *((args.prefect_port,) if args.prefect else ())):
            _check_port_free(args.host, port)
        return
    if args.command in _STANDALONE:
        return
    if args.command == "enroll":
        _preflight_enroll(args)
    if args.command == "identify":
        _preflight_identify(args)
    pose_model = getattr(args, "pose_model", None)
    if args.command in ("ingest", "run", "features") and pose_model and not _is_uri(pose_model):
        _pose_model_reference(pose_model)
    initial_model = getattr(args, "initial_pose_model", None)
    if initial_model and not _is_uri(initial_model):
        _pose_model_reference(initial_model)
    archive: Path | None = getattr(args, "archive", None)
    if archive is not None and args.command in ("ingest", "run"):
        from storage.manifest import discover

        manifest = discover(archive, args.layout, with_hashes=False)
        if not manifest.entries:
            raise CommandError(
                f"{archive}: no sequences for layout {args.layout} ({len(manifest.unmatched)} files fit no "
                "pattern); nothing to do"
            )
    store: Path | str | None = getattr(args, "store", None)
    if isinstance(store, Path):
        if store.exists() and not store.is_dir():
            raise StoreError(f"{store.resolve()}: is a file, not a gaitflow store")
        if args.command not in ("ingest", "run") and not (args.command == "enroll" and not store.exists()):
            SequenceStore(store)
    elif store is not None:  # an object store: reachable, and holding a store unless this run creates one
        from storage.object_store import store_exists

        if not store_exists(store) and args.command not in ("ingest", "run", "enroll"):
            SequenceStore(store)  # says it is not a store
    address = getattr(args, "dask_address", None) or settings.dask_address
    if address and args.command not in _COMPUTELESS:
        _check_scheduler(address)


def _enroll_videos(args: argparse.Namespace) -> tuple[str | None, list[Path]]:
    """(the person's name, their videos) from `--name NAME [VIDEO...]` and the positional videos."""
    name = args.name[0] if args.name else None
    return name, [*args.videos, *(Path(v) for v in (args.name or [])[1:])]


def _preflight_enroll(args: argparse.Namespace) -> None:
    from stages.models import file_digest
    from storage.galleries import check_gallery_name, check_models
    from storage.store import SequenceStore, store_exists

    check_gallery_name(args.gallery)
    name, videos = _enroll_videos(args)
    if name and not videos:
        raise CommandError(f"enroll: no videos of {name} given (--name NAME VIDEO...)")
    if videos and not name:
        raise CommandError("enroll: videos need the person's --name")
    if bool(videos) == (args.from_store is not None):
        raise CommandError("enroll: give either --name NAME VIDEO... (one person) or --from-store STORE, "
                           "not both or neither")
    for video in videos:
        if not video.is_file():
            raise CommandError(f"{video}: no such video file")
    if args.from_store is not None:
        SequenceStore(args.from_store)
    if not _is_uri(args.pose_model):
        _pose_model_reference(args.pose_model)
    gait = Path(args.gait_model).expanduser()
    if not _is_uri(args.gait_model):
        if not gait.is_file() or gait.suffix != ".keras":
            raise CommandError(f"{args.gait_model}: not a saved Keras gait model (.keras)")
        if store_exists(args.store):
            check_models(SequenceStore(args.store), args.gallery, file_digest(gait))


def _is_uri(reference: str) -> bool:
    return "://" in reference or reference.startswith(("runs:/", "models:/"))


def _preflight_identify(args: argparse.Namespace) -> None:
    from storage.galleries import check_open_set, read_gallery
    from storage.store import SequenceStore
    from storage.tracks import footage_entries

    if not footage_entries(args.footage, with_hashes=False):
        raise CommandError(f"{args.footage}: no videos to identify")
    check_open_set(read_gallery(SequenceStore(args.store), args.gallery))


def _check_port_free(host: str, port: int) -> None:
    """CommandError unless this process could listen on host:port (a server that cannot bind
    would print a trace and exit 0)."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as error:
        raise CommandError(f"{host}:{port}: cannot serve there ({error.strerror or error})") from None


def _check_scheduler(address: str) -> None:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
        raise CommandError(f"--dask-address {address}: expected tcp://HOST:PORT")
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=_DASK_CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise CommandError(f"--dask-address {address}: no Dask scheduler answers there ({error})") from error


def _end_on_sigterm() -> None:
    """SIGTERM ends the command like Ctrl-C, so open MLflow runs are closed as FAILED."""
    import signal

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _close_interrupted_runs(args: argparse.Namespace, settings: Settings) -> None:
    """Runs an earlier command left RUNNING when it was killed are marked FAILED, and said so."""
    import socket

    from tracking import mlflow_tracking

    tracking = _tracking(args, settings)
    try:
        closed = mlflow_tracking.fail_interrupted_runs(tracking.tracking_uri, tracking.experiment,
                                                       host=socket.gethostname())
    except Exception as error:  # noqa: BLE001 - bookkeeping must not stop the command
        print(f"gaitflow: warning: could not check for interrupted MLflow runs: {error}", file=sys.stderr)
        return
    for run_id in closed:
        print(f"gaitflow: MLflow run {run_id} of an interrupted command marked FAILED", file=sys.stderr)


# Commands whose work runs in the command's own process (training uses all its cores or its GPU;
# evaluation is one small matrix job): they take no Dask options.
_COMPUTELESS = ("evaluate", "train-pose", "train-gait")


def _common_options() -> list[Option]:
    """Where a command runs and records; their command-line defaults come from settings."""
    return [
        Option("--dask-address", ComputeParams, "dask_address", "compute",
               default="$GAITFLOW_DASK_ADDRESS, else a local cluster"),
        Option("--workers", ComputeParams, "n_workers", "compute"),
        Option("--in-process-sequences", ComputeParams, "in_process_sequences", "compute"),
        Option("--tracking-uri", TrackingParams, "tracking_uri", "tracking",
               default="$MLFLOW_TRACKING_URI, else a SQLite store in the project data folder"),
        Option("--experiment", TrackingParams, "experiment", "tracking"),
    ]


def _protocol_options(group: str, *, optional: bool = False) -> list[Option]:
    return [
        Option("--protocol", ProtocolOptions, "protocol", group, default="every person" if optional else None),
        Option("--train-subjects", ProtocolOptions, "train_subjects", group),
    ]


def _pose_training_options(group: str) -> list[Option]:
    return [
        Option("--backbone", PoseTrainingOptions, "backbone", group),
        Option("--pose-epochs", PoseTrainingOptions, "epochs", group),
        Option("--initial-pose-model", PoseTrainingOptions, "initial_model", group),
        Option("--appearance-jitter", PoseTrainingOptions, "appearance_jitter", group),
    ]


def _feature_options(group: str) -> list[Option]:
    return [
        Option("--device", FeatureOptions, "device", group),
        Option("--feature-dtype", FeatureOptions, "dtype", group),
        Option("--mixed-precision", FeatureOptions, "mixed_precision", group),
    ]


def _gait_training_options(group: str) -> list[Option]:
    return [
        Option("--rnn", GaitTrainingOptions, "recurrent_unit", group),
        Option("--rnn-layers", GaitTrainingOptions, "rnn_layers", group),
        Option("--gait-loss", GaitTrainingOptions, "loss", group),
        Option("--gait-epochs", GaitTrainingOptions, "epochs", group),
        Option("--residual-blocks", GaitTrainingOptions, "residual_blocks", group),
        Option("--feature-centering", GaitTrainingOptions, "feature_centering", group),
    ]


def _commands() -> dict[str, dict]:
    """Each command: its help, description, options (each naming the parameter field it sets) and handler."""
    return {
        "ingest": dict(
            help="decode a video archive into the zarr store (only what is new or changed)",
            description="Discover the sequences of a video archive and store their frames in a zarr store. "
            "Sequences already stored from the same bytes are skipped; bad files are reported and the rest go on.",
            options=[*(Option(flag, IngestParams, field) for flag, field in (
                ("archive", "archive"), ("--store", "store"), ("--layout", "layout"), ("--frame-size", "frame_size"),
                ("--fps", "fps"), ("--crop", "crop"), ("--min-track-frames", "min_track_frames"),
                ("--chunk-frames", "chunk_frames"),
                ("--allow-partial", "allow_partial"), ("--pose-model", "pose_model"))),
                *_feature_options("features")],
            handler=_run_ingest,
        ),
        "synth": dict(
            help="render a labelled synthetic walking archive (CASIA-B or TUM GAID layout)",
            description="Render walking people whose identity lives only in body shape and motion, as real videos "
            "with ground-truth joints beside them. Re-running the same command renders nothing new.",
            options=[Option(flag, SynthesizeParams, field) for flag, field in (
                ("archive", "archive"), ("--layout", "layout"), ("--subjects", "subjects"), ("--views", "views"),
                ("--frames", "frames"), ("--size", "size"), ("--seed", "seed"), ("--difficulty", "difficulty"),
                ("--spread", "spread"), ("--style", "style"))],
            handler=_run_synth,
        ),
        "train-pose": dict(
            help="train HumanPoseNN on stored frames with ground-truth joints",
            description="Train the pose network on a store's sequences that carry ground-truth joints (synthetic "
            "archives). The best epoch's model goes to the store's models/ folder and to MLflow.",
            options=[Option("--store", TrainPoseParams, "store"), *_protocol_options("protocol", optional=True),
                     *_pose_training_options("training")],
            handler=_run_train_pose,
        ),
        "features": dict(
            help="compute pose features of every stored sequence",
            description="Run HumanPoseNN over every stored sequence that lacks features of this model, batched, on "
            "the Dask cluster (a GPU when TensorFlow sees one).",
            options=[Option("--store", ExtractFeaturesParams, "store"),
                     Option("--pose-model", ExtractFeaturesParams, "pose_model"), *_feature_options("options")],
            handler=_run_features,
        ),
        "train-gait": dict(
            help="train GaitNN on the training people's pose features",
            description="Train GaitNN on the features of the protocol's training people, with validation rank-1 per "
            "epoch and early stopping. The model goes to the store's models/ folder and to MLflow.",
            options=[Option("--store", TrainGaitParams, "store"), Option("--features", TrainGaitParams, "features"),
                     *_protocol_options("protocol"), *_gait_training_options("training")],
            handler=_run_train_gait,
        ),
        "describe": dict(
            help="compute the 512-d identification vector of every sequence",
            description="Run GaitNN over the pose features of every sequence lacking a vector for this model.",
            options=[Option(flag, DescribeParams, field) for flag, field in (
                ("--store", "store"), ("--gait-model", "gait_model"), ("--features", "features"))],
            handler=_run_describe,
        ),
        "evaluate": dict(
            help="score identification vectors under a data set's protocol",
            description="Linear SVM and nearest neighbour on the gallery; rank-1 per probe condition and view, "
            "cross-view matrix, CMC, mAP and EER; tables and plots go to MLflow.",
            options=[Option("--store", EvaluateParams, "store"), Option("--descriptors", EvaluateParams, "descriptors"),
                     *_protocol_options("protocol")],
            handler=_run_evaluate,
        ),
        "run": dict(
            help="from a video archive to identification results, re-using what is done",
            description="ingest -> train-pose (when no pose model is given) -> features -> train-gait -> describe "
            "-> evaluate. Every stage skips what is already done. On an archive without ground-truth joints and "
            "with no --pose-model, it renders a synthetic archive, trains the pose network on it, and says so.",
            options=[
                *(Option(flag, PipelineParams, field) for flag, field in (
                    ("archive", "archive"), ("--store", "store"), ("--layout", "layout"), ("--pose-model", "pose_model"),
                    ("--fps", "fps"), ("--frame-size", "frame_size"), ("--crop", "crop"),
                    ("--min-track-frames", "min_track_frames"))),
                *_protocol_options("protocol"), *_pose_training_options("pose_training"),
                *_feature_options("features"), *_gait_training_options("gait_training"),
            ],
            handler=_run_pipeline,
        ),
        "enroll": dict(
            help="add a person (from videos) or a store's labelled people to a named gallery",
            description="Enroll people into a gallery kept in the store: --name NAME VIDEO... adds one person (each "
            "video's longest walker, found and cropped with --crop track); --from-store S adds the labelled "
            "sequences of a store (--subjects, --sequences to choose). Vectors come from --gait-model over the "
            "features of --pose-model; a gallery made with other models is refused.",
            options=[Option(flag, EnrollParams, field) for flag, field in (
                ("gallery", "gallery"), ("--store", "store"), ("--gait-model", "gait_model"),
                ("--pose-model", "pose_model"), ("--from-store", "from_store"), ("--subjects", "subjects"),
                ("--sequences", "sequences"), ("--features", "features"), ("--frame-size", "frame_size"),
                ("--fps", "fps"), ("--min-track-frames", "min_track_frames"))],
            handler=_run_enroll,
        ),
        "identify": dict(
            help="who walks in a video or a folder of videos, against a gallery (open set)",
            description="Find every walker of the footage (one track each, --crop track), compute pose features "
            "and identification vectors with the gallery's models, and name each track after the best-matching "
            "gallery person, or 'unknown' when its score misses the threshold chosen at --far on the store's "
            "labelled walks of people outside the gallery (else on the gallery's own people). Writes an annotated "
            "contact sheet; --json prints {tracks, threshold, far}.",
            options=[Option(flag, IdentifyParams, field) for flag, field in (
                ("footage", "footage"), ("--gallery", "gallery"), ("--store", "store"), ("--far", "far"),
                ("--classifier", "classifier"), ("--min-track-frames", "min_track_frames"), ("--fps", "fps"),
                ("--only-new", "only_new"), ("--out", "out"))],
            handler=_run_identify,
        ),
        "demo": dict(
            help="everything on a small synthetic archive (about 8 minutes on 2 idle cores)",
            description="Render a small synthetic CASIA-B-like archive, then run the whole pipeline on it with the "
            "small pose backbone, print the rank-1 table, and say where to look in the MLflow UI.",
            options=[],
            handler=_run_demo,
        ),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gaitflow",
        description="Gait recognition as a batch system: Prefect flows on Dask, zarr storage, MLflow tracking.",
    )
    parser.add_argument(
        "--home", type=Path, default=None,
        help="project data folder for Prefect's home, the MLflow store and Dask scratch space "
        "(default: $GAITFLOW_HOME or ./.gaitflow)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in _commands().items():
        sub = commands.add_parser(name, help=command["help"], description=command["description"])
        add_options(sub, command["options"])
        if name == "enroll":
            _add_enroll_arguments(sub)
        if name == "demo":
            sub.add_argument("--workdir", type=Path, default=None,
                             help="where the archive and store go (default: HOME/demo)")
            sub.add_argument("--subjects", type=_bounded_int(6, 500, "the demo takes 6 to 500 people (two thirds train)"),
                             default=12, help="people in the demo archive, 6 to 500 (default: 12)")
        add_options(sub, [o for o in _common_options() if o.group != "compute" or name not in _COMPUTELESS])
        sub.add_argument("--json", action="store_true",
                         help="print one JSON object with the results on stdout (default: off)")
        sub.set_defaults(handler=command["handler"], options=command["options"])
    _add_standalone_commands(commands)
    return parser


_STANDALONE = ("pose", "ui")


def _add_enroll_arguments(parser: argparse.ArgumentParser) -> None:
    """The person and their videos: `--name NAME VIDEO...` (videos may also follow GALLERY)."""
    from params import field_description

    parser.add_argument("videos", nargs="*", type=Path, metavar="VIDEO",
                        help=f"{field_description(EnrollParams.model_fields['videos'])} (default: none)")
    parser.add_argument("--name", nargs="+", metavar=("NAME", "VIDEO"), default=None,
                        help=f"{field_description(EnrollParams.model_fields['name'])} Videos may follow it. (default: none)")


def _bounded_int(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value}: {what}")
        return value

    return parse


_positive_int = _bounded_int(1, 2**31 - 1, "must be at least 1")
_port = _bounded_int(1, 65535, "a port is 1 to 65535")


def _add_standalone_commands(commands) -> None:
    """Commands that run no flow: the pose estimator alone, and the local MLflow UI."""
    pose = commands.add_parser(
        "pose", help="draw the pose network's skeletons on an image or a video",
        description="Run HumanPoseNN alone on a photograph or a video: the frames are letter-boxed into the "
        "network's input, and each joint is drawn with its confidence (in per cent) unless it is below "
        "--min-confidence or outside the picture. With --json, stdout holds every joint of every frame.",
    )
    pose.add_argument("media", type=Path, help="an image (.jpg, .png, ...) or a video file (required)")
    pose.add_argument("--pose-model", required=True,
                      help="a saved .keras pose model, 'synthetic' (the small model that ships with gaitflow, "
                      "trained on synthetic walkers only), or the prefix of a seed TF1 checkpoint "
                      "(.../MPII+LSP.ckpt, converted once and cached under HOME/models) (required)")
    pose.add_argument("--out", type=Path, required=True,
                      help="the annotated copy: an image file for an image, .mp4 or .avi for a video (required)")
    pose.add_argument("--min-confidence", type=float, default=0.2,
                      help="joints below this heat-map peak are not drawn (default: 0.2)")
    pose.add_argument("--max-frames", type=_positive_int, default=None,
                      help="only the first N frames of a video (default: all)")
    pose.add_argument("--flip", action="store_true",
                      help="average with the mirrored frame's heat-maps: steadier joints, twice the work (default: off)")
    pose.add_argument("--json", action="store_true", help="print the joints as one JSON object on stdout (default: off)")
    pose.set_defaults(handler=_run_pose)

    ui = commands.add_parser(
        "ui", help="open the MLflow UI on this project's runs (127.0.0.1, telemetry off)",
        description="Serve the MLflow UI for the project's tracking store (and with --prefect the Prefect UI) "
        "on 127.0.0.1 until Ctrl-C.",
    )
    ui.add_argument("--port", type=_port, default=5000, help="port on 127.0.0.1 (default: 5000)")
    ui.add_argument("--host", default="127.0.0.1",
                    help="address to listen on; anything but 127.0.0.1 exposes every run to the network "
                    "(default: 127.0.0.1)")
    ui.add_argument("--prefect", action="store_true",
                    help="also serve the Prefect UI of this project's runs and deployments (default: off)")
    ui.add_argument("--prefect-port", type=_port, default=4200, help="the Prefect UI's port (default: 4200)")
    ui.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    ui.set_defaults(handler=_run_ui)


def _local_model_path(reference: str) -> Path:
    """A packaged model's file by its name, else the reference as a path."""
    return PACKAGED_MODELS[reference] if reference in PACKAGED_MODELS else Path(reference).expanduser()


def _pose_model_reference(reference: str) -> bool:
    """True for a seed TF1 checkpoint prefix, False for a .keras file or a packaged model's name;
    CommandError for anything else."""
    from stages.models import is_seed_checkpoint

    if is_seed_checkpoint(reference):
        return True
    path = _local_model_path(reference)
    if not path.is_file() or path.suffix != ".keras":
        raise CommandError(f"{reference}: not a saved Keras pose model (.keras), a packaged model's name "
                           f"({', '.join(PACKAGED_MODELS)}) or a seed TF1 checkpoint prefix")
    return False


def _pose_model_file(reference: str, settings: Settings) -> str:
    from stages.models import converted_seed_pose_model

    if _pose_model_reference(reference):
        return converted_seed_pose_model(reference, settings.home / "models").path
    return str(_local_model_path(reference))


def _run_pose(args: argparse.Namespace, settings: Settings) -> int:
    from gaitflow.pose_command import estimate_and_draw, read_media
    from nets.checkpoints import load_model

    if not 0.0 <= args.min_confidence <= 1.0:
        raise CommandError(f"--min-confidence {args.min_confidence}: must be in [0, 1]")
    media = read_media(args.media, args.max_frames)
    model = load_model(_pose_model_file(args.pose_model, settings))
    summary = estimate_and_draw(model, media, args.out, min_confidence=args.min_confidence, flip=args.flip)
    if args.json:
        print(json.dumps(summary))
    else:
        drawn = sum(joint[3] for pose in summary["poses"] for joint in pose["joints"])
        print(f"{summary['frames']} frame(s) of {summary['source']}: {drawn} joints drawn at confidence >= "
              f"{args.min_confidence:g} into {summary['out']}")
    return EXIT_OK


def _run_ui(args: argparse.Namespace, settings: Settings) -> int:
    import os
    import subprocess

    from gaitflow.services import QUIET_ENVIRONMENT

    environment = {**os.environ, **QUIET_ENVIRONMENT}
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow), "ui", "--backend-store-uri", settings.tracking_uri, "--host", args.host,
               "--port", str(args.port)]
    if settings.artifact_root is not None:
        command += ["--default-artifact-root", str(settings.artifact_root)]
    servers = []
    try:
        if args.prefect:
            # The project's Prefect database (its deployments, schedules and runs), with its UI.
            prefect_environment = {**environment, "PREFECT_HOME": str(settings.prefect_home), "PREFECT_UI_ENABLED": "true"}
            prefect_environment.pop("PREFECT_API_URL", None)
            servers.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", args.host,
                 "--port", str(args.prefect_port)], env=prefect_environment))
            print(f"Prefect UI on http://{args.host}:{args.prefect_port} for {settings.prefect_home}", file=sys.stderr)
        print(f"MLflow UI on http://{args.host}:{args.port} for {settings.tracking_uri} (Ctrl-C to stop)",
              file=sys.stderr)
        return subprocess.run(command, env=environment, check=False).returncode
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def _compute(args: argparse.Namespace, settings: Settings) -> ComputeParams:
    return ComputeParams(**{
        "dask_address": settings.dask_address, "scratch_dir": settings.scratch,
        **given(args, _common_options(), "compute"),
    })


def _tracking(args: argparse.Namespace, settings: Settings) -> TrackingParams:
    return TrackingParams(**{
        "tracking_uri": settings.tracking_uri, "artifact_root": settings.artifact_root,
        **given(args, _common_options(), "tracking"),
    })


def _flow_arguments(args: argparse.Namespace, settings: Settings, *, compute: bool = True) -> dict:
    """The command's options as the flow's keyword arguments, with where it runs and records."""
    arguments = flow_arguments(args, args.options)
    if args.command == "train-pose" and args.protocol is None and args.train_subjects is None:
        arguments["protocol"] = None  # neither given: every person trains
    if compute:
        arguments["compute"] = _compute(args, settings)
    arguments["tracking"] = _tracking(args, settings)
    return arguments


def _run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from flows.ingest import ingest_archive

    arguments = _flow_arguments(args, settings)
    report = _with_progress(args, lambda: ingest_archive(**arguments))
    summary = report.counts()
    summary["recovered"] = list(report.recovered)
    if args.json:
        print(json.dumps(summary))
    else:
        _print_ingest(summary, settings)
    return EXIT_FAILURES if report.failed or (report.features is not None and report.features.failed) else EXIT_OK


def _run_synth(args: argparse.Namespace, settings: Settings) -> int:
    from flows.synthesize import synthesize_archive

    arguments = _flow_arguments(args, settings)
    summary = _with_progress(args, lambda: synthesize_archive(**arguments))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['items']} walk views in {summary['archive']} ({summary['layout']}): "
              f"{summary['rendered']} rendered, {summary['skipped']} already there, in {summary['seconds']:.1f} s")
    return EXIT_OK


def _run_train_pose(args: argparse.Namespace, settings: Settings) -> int:
    from flows.training import train_pose

    arguments = _flow_arguments(args, settings)
    result = _with_progress(args, lambda: train_pose(**arguments))
    return _print_model(args, result, "pose")


def _run_train_gait(args: argparse.Namespace, settings: Settings) -> int:
    from flows.training import train_gait

    arguments = _flow_arguments(args, settings)
    result = _with_progress(args, lambda: train_gait(**arguments))
    return _print_model(args, result, "gait")


def _print_model(args: argparse.Namespace, result: dict, kind: str) -> int:
    if args.json:
        print(json.dumps(result, default=str))
    else:
        how = "re-used (same data and options)" if result["reused"] else "trained"
        print(f"{kind} model {result['model_tag']} {how}: {result['model_path']}")
        print(f"  MLflow: {result['model_uri']}")
        for name, value in sorted(result["metrics"].items()):
            print(f"  {name}: {value:.4g}")
    return EXIT_OK


def _run_features(args: argparse.Namespace, settings: Settings) -> int:
    from flows.features import extract_features

    arguments = _flow_arguments(args, settings)
    result = _with_progress(args, lambda: extract_features(**arguments))
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(f"pose features {result['pose_model']}: {result['sequences_done']} sequences "
              f"({result['frames_done']} frames) computed, {result['pending'] - result['sequences_done']} not, "
              f"in {result['seconds']:.1f} s")
        for item in result["failed"]:
            print(f"  failed {', '.join(item['ids'])}: {item['reason']}")
    return EXIT_FAILURES if result["failed"] else EXIT_OK


def _run_describe(args: argparse.Namespace, settings: Settings) -> int:
    from flows.describe import describe

    arguments = _flow_arguments(args, settings)
    result = _with_progress(args, lambda: describe(**arguments))
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(f"identification vectors {result['gait_model']}: {result['described']} sequences described "
              f"in {result['seconds']:.1f} s")
        for item in result["failed"]:
            print(f"  failed {', '.join(item['ids'])}: {item['reason']}")
    return EXIT_FAILURES if result["failed"] else EXIT_OK


def _run_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from flows.evaluate import evaluate_descriptors

    arguments = _flow_arguments(args, settings, compute=False)
    result = _with_progress(args, lambda: evaluate_descriptors(**arguments))
    _print_results(args, result, settings)
    return EXIT_OK


def _run_pipeline(args: argparse.Namespace, settings: Settings) -> int:
    from flows.pipeline import run_pipeline

    arguments = _flow_arguments(args, settings)
    summary = _with_progress(args, lambda: run_pipeline(**arguments))
    for note in summary["notes"]:
        print(f"note: {note}", file=sys.stderr)
    _print_results(args, summary["evaluation"], settings, summary)
    return EXIT_OK


def _run_enroll(args: argparse.Namespace, settings: Settings) -> int:
    from flows.identify import enroll_gallery

    arguments = _flow_arguments(args, settings)
    name, videos = _enroll_videos(args)
    if videos:
        arguments.update(name=name, videos=tuple(video.resolve() for video in videos))
    summary = _with_progress(args, lambda: enroll_gallery(**arguments))
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(f"gallery {summary['gallery']}: {summary['enrolled']} walk(s) enrolled; it now holds "
              f"{summary['walks']} walk(s) of {len(summary['people'])} people ({', '.join(summary['people'])}); "
              f"gait model {summary['gait_model']}, pose features {summary['features']}")
        for note in summary["notes"]:
            print(f"  {note}")
        for item in summary["failed"]:
            print(f"  failed {item['id']}: {item['reason']}")
    return EXIT_FAILURES if summary["failed"] else EXIT_OK


def _run_identify(args: argparse.Namespace, settings: Settings) -> int:
    from flows.identify import identify_footage

    arguments = _flow_arguments(args, settings)
    result = _with_progress(args, lambda: identify_footage(**arguments))
    if args.json:
        tracks = [{key: row[key] for key in ("track", "identity", "score", "frames")} for row in result["tracks"]]
        print(json.dumps({"tracks": tracks, "threshold": result["threshold"], "far": result["far"]}))
        for item in result["skipped"]:
            print(f"gaitflow: skipped track {item['id']}: {item['reason']}", file=sys.stderr)
        for sequence_id in result.get("removed", []):
            print(f"gaitflow: removed track {sequence_id}: an earlier extraction's, not found again", file=sys.stderr)
        for item in result["failed"]:
            print(f"gaitflow: failed {item['id']}: {item['reason']}", file=sys.stderr)
    else:
        _print_identification(result, settings)
    return EXIT_FAILURES if result["failed"] else EXIT_OK


def _calibration_source(result: dict) -> str:
    """Where the open-set threshold's impostor attempts came from, in words."""
    if result["calibration"] == "strangers":
        return f"walks of {result['stranger_people']} labelled people outside the gallery"
    return (f"the gallery's own people, each left out in turn: the store has {result['stranger_walks']} labelled "
            f"walks of {result['stranger_people']} people outside the gallery, too few")


def _print_identification(result: dict, settings: Settings) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    tar = "-" if result["tar"] is None else f"{100 * result['tar']:.1f} %"
    console.print(
        f"gallery {result['gallery']} ({len(result['people'])} people), matched by {result['classifier']}: named "
        f"when the distance to that person's nearest walk is at most {result['threshold']:.4g}, the threshold at "
        f"false-accept rate {100 * result['far']:.1f} % on {result['impostor_attempts']} impostor attempts "
        f"({_calibration_source(result)}; asked "
        f"{100 * result['far_target']:.1f} %; the gallery people's own walks pass at {tar})", highlight=False)
    table = Table(title=f"{len(result['tracks'])} walker(s) in {result['footage']}", title_justify="left")
    for column in ("track", "identity", "distance", "frames", "best match"):
        table.add_column(column)
    for row in result["tracks"]:
        table.add_row(row["track"], row["identity"], f"{row['score']:.4g}", f"{row['frames'][0]}..{row['frames'][1]}",
                      row["best"])
    console.print(table)
    for item in result["skipped"]:
        console.print(f"  [yellow]skipped track[/] {item['id']}: {item['reason']}", highlight=False)
    for sequence_id in result.get("removed", []):
        console.print(f"  [yellow]removed track[/] {sequence_id}: an earlier extraction's, not found again",
                      highlight=False)
    for item in result["failed"]:
        console.print(f"  [red]failed[/] {item['id']}: {item['reason']}", highlight=False)
    if result["contact_sheet"]:
        console.print(f"contact sheet: {result['contact_sheet']}", highlight=False)
    console.print(f"MLflow run {result['mlflow_run_id']} ({settings.tracking_uri})", highlight=False)


def _run_demo(args: argparse.Namespace, settings: Settings) -> int:
    from flows.pipeline import run_pipeline
    from flows.synthesize import synthesize_archive

    from evaluation.report import headline_metrics
    from tracking import mlflow_tracking

    workdir = (args.workdir or settings.home / "demo").resolve()
    archive, store = workdir / "archive", workdir / "store.zarr"
    compute, tracking = _compute(args, settings), _tracking(args, settings)
    # One "demo" run holds both flows' runs (the archive's rendering and the pipeline with its
    # stages), so the MLflow UI shows the demo as one tree with its results on top.
    demo_run = mlflow_tracking.start_run(
        tracking.tracking_uri, tracking.experiment, "demo", {"subjects": args.subjects, "workdir": str(workdir)},
        artifact_root=str(tracking.artifact_root) if tracking.artifact_root else None, tags={"gaitflow.flow": "demo"},
    )
    nested = tracking.model_copy(update={"parent_run_id": demo_run})

    # Small enough for a short run on two cores. With 4 test people its rank-1 shows that the
    # pipeline works end to end, not how well the method identifies people. People twice as
    # different as the walker's default, as in the accuracy benchmark: at spread 1 the true joints
    # identify people only through detail that a pose error of 2 % of body height wipes out.
    def work():
        synthesize_archive(archive=archive, subjects=args.subjects, views=(36, 90, 144), frames=32, size=136,
                           seed=2024, spread=2.0, compute=compute, tracking=nested)
        return run_pipeline(
            archive=archive, store=store, layout="casia-b",
            # Two thirds of the people train; with so few, all of them fit and none is held out.
            protocol=ProtocolOptions(train_subjects=str(max(2, 2 * args.subjects // 3))),
            # Every frame of every training walk once (4 epochs x 8 of 32 frames): the pose budget
            # decides how much of the legs the features carry. Training starts from the packaged
            # pose model (96 synthetic people of another seed, so none of the demo's), at a third
            # of the from-scratch learning rate, as fine-tuning usually is.
            pose_training=PoseTrainingOptions(epochs=4, frames_per_sequence=8, initial_model="synthetic",
                                              learning_rate=3e-4),
            gait_training=GaitTrainingOptions(epochs=10, rnn_layers=1, people_per_batch=4, sequences_per_person=4,
                                              clip_frames=16, validation_fraction=0.0),
            compute=compute, tracking=nested,
        )

    try:
        summary = _with_progress(args, work)
    except BaseException:
        mlflow_tracking.end_run(tracking.tracking_uri, demo_run, failed=True)
        raise
    mlflow_tracking.log_metrics(tracking.tracking_uri, demo_run, headline_metrics(summary["evaluation"]["results"]))
    mlflow_tracking.end_run(tracking.tracking_uri, demo_run)
    _print_results(args, summary["evaluation"], settings, summary)
    if not args.json:
        print(f"\nArchive: {archive}\nStore:   {store}")
        if tracking.tracking_uri == settings.tracking_uri:
            command = f"{Path(sys.executable).with_name('gaitflow')} --home {settings.home} ui"
        else:
            command = (f"MLFLOW_DISABLE_TELEMETRY=true {Path(sys.executable).with_name('mlflow')} ui --backend-store-uri "
                       f"{tracking.tracking_uri} --host 127.0.0.1 --port 5000")
        print(f"MLflow UI: {command}, then open http://127.0.0.1:5000 (experiment '{tracking.experiment}', "
              f"run 'demo' {demo_run} with the "
              "archive's rendering and the pipeline's stages nested under it)")
    return EXIT_OK


_SUMMARY_KEYS = (
    "standard_rank1", "standard_rank1_by_view", "standard_rank1_average", "chance", "pooled_rank1", "pooled_chance",
    "cmc_rank1", "cmc_rank5", "chance_cmc_rank1", "mean_average_precision", "mean_reciprocal_rank",
    "equal_error_rate", "counts",
)


def _print_results(args: argparse.Namespace, evaluation: dict, settings: Settings, summary: dict | None = None) -> None:
    """--json: one object with the rank-1 tables; else a table per classifier with the chance level."""
    if args.json:
        compact = {
            "protocol": evaluation["protocol"],
            "train_subjects": evaluation["train_subjects"], "test_subjects": evaluation["test_subjects"],
            "results": {
                name: {key: report[key] for key in _SUMMARY_KEYS if key in report}
                for name, report in evaluation["results"].items()
            },
            "mlflow_run_id": (summary or evaluation)["mlflow_run_id"],
        }
        if summary is not None:
            compact.update(
                seconds=summary["seconds"], notes=summary["notes"], ingest=summary["ingest"],
                pose_model=summary["features"]["pose_model"], gait_model=summary["describe"]["gait_model"],
                pose_training=(summary["pose_training"] or {}).get("metrics", {}),
                gait_training=summary["gait_training"]["metrics"],
            )
        print(json.dumps(compact, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for classifier, report in evaluation["results"].items():
        table = Table(title=f"{evaluation['protocol']} rank-1 (%), {classifier}, {evaluation['test_subjects']} test people",
                      title_justify="left")
        table.add_column("probe")
        table.add_column("standard", justify="right")
        if report.get("pooled_rank1"):
            table.add_column("pooled gallery", justify="right")
        table.add_column("chance", justify="right")
        for condition, value in _in_protocol_order(report["standard_rank1"]):
            row = [condition, _percent(value)]
            if report.get("pooled_rank1"):
                row.append(_percent(report["pooled_rank1"].get(condition)))
            row.append(_percent(report["chance"].get(condition)))
            table.add_row(*row)
        console.print(table)
        console.print(
            f"  mAP {_percent(report['mean_average_precision'])} %, MRR {_percent(report['mean_reciprocal_rank'])} %, "
            f"EER {_percent(report['equal_error_rate'])} %, CMC rank-5 {_percent(report['cmc_rank5'])} %",
            highlight=False,
        )
    run_id = (summary or evaluation)["mlflow_run_id"]
    console.print(f"MLflow run {run_id} ({settings.tracking_uri})", highlight=False)


# Probe conditions in the order the data sets' papers print them; any other after these.
_CONDITION_ORDER = ("nm", "bg", "cl", "n", "b", "s", "tn", "tb", "ts")


def _in_protocol_order(by_condition: dict) -> list[tuple[str, float]]:
    known = {name: rank for rank, name in enumerate(_CONDITION_ORDER)}
    return sorted(by_condition.items(), key=lambda item: (known.get(item[0], len(known)), item[0]))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _with_progress(args: argparse.Namespace, work: Callable):
    """Runs `work` with progress bars and a line per finished stage with its time, on stderr when
    it is a terminal (stdout stays for results, and with --json for the JSON alone)."""
    import time

    from tracking import progress

    if not sys.stderr.isatty():
        return work()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[item]}"), transient=True, console=Console(stderr=True),
    ) as bar:
        bars: dict[str, int] = {}
        started: dict[str, float] = {}
        finished: set[str] = set()

        def update(stage: str, done: int, total: int, item: str) -> None:
            if stage not in bars:
                bars[stage] = bar.add_task(stage, total=total, item="")
                started[stage] = time.perf_counter()
            bar.update(bars[stage], completed=done, total=total, item=item)
            if total and done >= total and stage not in finished:
                finished.add(stage)
                bar.console.print(f"{stage}: {total} done in {time.perf_counter() - started[stage]:.1f} s",
                                  highlight=False)

        with progress.reporting_to(update):
            return work()


def _print_ingest(summary: dict, settings: Settings) -> None:
    from rich.console import Console

    console = Console()
    console.print(
        f"[bold]{summary['sequences']}[/] sequences in {summary['archive']} ({summary['layout']}): "
        f"[green]{summary['stored']} stored[/], {summary['skipped']} skipped (unchanged), "
        f"[red]{len(summary['failed'])} failed[/] in {summary['seconds']:.1f} s"
    )
    for item in summary["failed"]:
        console.print(f"  [red]failed[/] {item['id']}: {item['reason']}", highlight=False)
    for item in summary.get("too_short", []):
        console.print(f"  [yellow]skipped track[/] {item['id']}: {item['reason']}", highlight=False)
    for sequence_id in summary.get("removed", []):
        console.print(f"  [yellow]removed track[/] {sequence_id}: an earlier extraction's, not found again",
                      highlight=False)
    for item in summary["unmatched"]:
        console.print(f"  [yellow]not a sequence[/] {item['id']}: {item['reason']}", highlight=False)
    for action in summary["recovered"]:
        console.print(f"  [yellow]cleaned up after an interrupted run[/]: {action}", highlight=False)
    if (features := summary.get("features")) is not None:
        console.print(f"pose features {features['pose_model']}: {features['sequences_done']} sequences "
                      f"({features['frames_done']} frames) computed as their frames were stored", highlight=False)
        for item in features["failed"]:
            console.print(f"  [red]features failed[/] {item['id']}: {item['reason']}", highlight=False)
    console.print(f"MLflow run {summary['mlflow_run_id']} ({settings.tracking_uri})", highlight=False)


def _fail(args: argparse.Namespace, error: BaseException) -> None:
    message = f"{type(error).__name__}: {error}"
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    print(f"gaitflow: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
