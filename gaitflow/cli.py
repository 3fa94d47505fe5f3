"""The `gaitflow` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from gaitflow.settings import Settings, load_settings

# 0: everything done; 1: the command ran but some sequences failed; 2: nothing ran (bad input).
EXIT_OK, EXIT_FAILURES, EXIT_ERROR = 0, 1, 2
_DASK_CONNECT_TIMEOUT_S = 3.0


class CommandError(ValueError):
    """A problem with what the command was given, found before anything starts."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_ERROR
    settings = load_settings(args.home)
    try:
        _preflight(args, settings)
    except (ValueError, OSError, RuntimeError) as error:
        _fail(args, error)
        return EXIT_ERROR
    from gaitflow.services import prefect_api, prepare_environment

    prepare_environment(settings)
    _end_on_sigterm()
    try:
        with prefect_api(settings):
            _close_interrupted_runs(args, settings)
            return args.handler(args, settings)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        _fail(args, error)
        return EXIT_ERROR


def _preflight(args: argparse.Namespace, settings: Settings) -> None:
    """Archive-level problems, caught in a second before any server or cluster starts.

    Raises:
      CommandError, StoreError, ArchiveError: with a message naming the path or address.
    """
    from storage.store import SequenceStore, StoreError

    archive: Path | None = getattr(args, "archive", None)
    if archive is not None and args.command in ("ingest", "run"):
        from storage.manifest import discover

        manifest = discover(archive, args.layout, with_hashes=False)
        if not manifest.entries:
            raise CommandError(
                f"{archive}: no sequences for layout {args.layout} ({len(manifest.unmatched)} files fit no "
                "pattern); nothing to do"
            )
    store: Path | None = getattr(args, "store", None)
    if store is not None:
        if store.exists() and not store.is_dir():
            raise StoreError(f"{store.resolve()}: is a file, not a gaitflow store")
        if args.command not in ("ingest", "run"):
            SequenceStore(store)
    address = getattr(args, "dask_address", None) or settings.dask_address
    if address:
        _check_scheduler(address)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gaitflow",
        description="Gait recognition as a batch system: Prefect flows on Dask, zarr storage, MLflow tracking.",
    )
    parser.add_argument(
        "--home", type=Path, default=None,
        help="project data folder for Prefect's home, the MLflow store and Dask scratch space "
        "(default: $GAITFLOW_HOME or ./.gaitflow)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ingest = commands.add_parser(
        "ingest", help="decode a video archive into the zarr store (only what is new or changed)",
        description="Discover the sequences of a video archive and store their frames in a zarr store. "
        "Sequences already stored from the same bytes are skipped; bad files are reported and the rest go on.",
    )
    ingest.add_argument("archive", type=Path, help="top folder of the video archive")
    ingest.add_argument("--store", type=Path, required=True, help="zarr store to write (created if missing)")
    ingest.add_argument(
        "--layout", choices=("casia-b", "tum-gaid", "folder"), default="casia-b",
        help="casia-b: SSS-cc-NN-VVV videos; tum-gaid: pNNN/n01 image folders; folder: any videos (default: casia-b)",
    )
    ingest.add_argument("--frame-size", type=int, default=299, help="side of the stored square frames in px (default: 299)")
    ingest.add_argument("--fps", type=float, default=None, help="resample to this frame rate (default: keep the source's)")
    ingest.add_argument(
        "--crop", choices=("center", "person"), default="center",
        help="center: largest centred square; person: follow the moving person, for a static camera (default: center)",
    )
    ingest.add_argument("--chunk-frames", type=int, default=16, help="frames per zarr chunk along time (default: 16)")
    ingest.add_argument(
        "--allow-partial", action="store_true",
        help="store sources with damaged or missing frames without those frames, recording them in the "
        "sequence's attributes (default: such a source fails with the file and frame named)",
    )
    _add_common(ingest)
    ingest.set_defaults(handler=_run_ingest)

    synth = commands.add_parser(
        "synth", help="render a labelled synthetic walking archive (CASIA-B or TUM GAID layout)",
        description="Render walking people whose identity lives only in body shape and motion, as real videos "
        "with ground-truth joints beside them. Re-running the same command renders nothing new.",
    )
    synth.add_argument("archive", type=Path, help="folder to write the archive into")
    synth.add_argument("--layout", choices=("casia-b", "tum-gaid"), default="casia-b", help="data set layout (default: casia-b)")
    synth.add_argument("--subjects", type=int, default=10, help="number of people (default: 10)")
    synth.add_argument(
        "--views", type=_int_list, default=None,
        help="comma-separated views in degrees, e.g. 36,90,144 (default: CASIA-B's 11 views; TUM GAID: 90)",
    )
    synth.add_argument("--frames", type=int, default=60, help="frames per walk (default: 60)")
    synth.add_argument("--size", type=int, default=128, help="side of the square frames in px, even (default: 128)")
    synth.add_argument("--seed", type=int, default=0, help="seed: the same seed gives the same archive (default: 0)")
    synth.add_argument(
        "--difficulty", type=float, default=1.0,
        help="0..3: scales walk-to-walk drift, covariate ranges and image degradation (default: 1)",
    )
    synth.add_argument("--spread", type=float, default=1.0, help="0..3: scales differences between people (default: 1)")
    synth.add_argument("--style", choices=("standard", "shifted"), default="standard",
                       help="standard: the look pose training uses; shifted: a look it never saw (default: standard)")
    _add_common(synth)
    synth.set_defaults(handler=_run_synth)

    train_pose = commands.add_parser(
        "train-pose", help="train HumanPoseNN on stored frames with ground-truth joints",
        description="Train the pose network on a store's sequences that carry ground-truth joints (synthetic "
        "archives). The best epoch's model goes to the store's models/ folder and to MLflow.",
    )
    train_pose.add_argument("--store", type=Path, required=True, help="store with ground-truth joints")
    _add_protocol(train_pose, optional=True)
    _add_pose_training(train_pose)
    _add_common(train_pose)
    train_pose.set_defaults(handler=_run_train_pose)

    features = commands.add_parser(
        "features", help="compute pose features of every stored sequence",
        description="Run HumanPoseNN over every stored sequence that lacks features of this model, batched, on the "
        "Dask cluster (a GPU when TensorFlow sees one).",
    )
    features.add_argument("--store", type=Path, required=True, help="store with ingested frames")
    features.add_argument("--pose-model", required=True, help="a saved .keras pose model or an MLflow URI (runs:/...)")
    _add_feature_options(features)
    _add_common(features)
    features.set_defaults(handler=_run_features)

    train_gait = commands.add_parser(
        "train-gait", help="train GaitNN on the training people's pose features",
        description="Train GaitNN on the features of the protocol's training people, with validation rank-1 per "
        "epoch and early stopping. The model goes to the store's models/ folder and to MLflow.",
    )
    train_gait.add_argument("--store", type=Path, required=True, help="store with pose features")
    train_gait.add_argument("--features", required=True, help="tag of the pose model whose features to use")
    _add_protocol(train_gait)
    _add_gait_training(train_gait)
    _add_common(train_gait)
    train_gait.set_defaults(handler=_run_train_gait)

    describe = commands.add_parser(
        "describe", help="compute the 512-d identification vector of every sequence",
        description="Run GaitNN over the pose features of every sequence lacking a vector for this model.",
    )
    describe.add_argument("--store", type=Path, required=True, help="store with pose features")
    describe.add_argument("--gait-model", required=True, help="a saved .keras GaitNN or an MLflow URI (runs:/...)")
    describe.add_argument("--features", default=None, help="pose feature tag (default: what the model recorded)")
    _add_common(describe)
    describe.set_defaults(handler=_run_describe)

    evaluate = commands.add_parser(
        "evaluate", help="score identification vectors under a data set's protocol",
        description="Linear SVM and nearest neighbour on the gallery; rank-1 per probe condition and view, "
        "cross-view matrix, CMC, mAP and EER; tables and plots go to MLflow.",
    )
    evaluate.add_argument("--store", type=Path, required=True, help="store with identification vectors")
    evaluate.add_argument("--descriptors", required=True, help="tag of the GaitNN whose vectors to evaluate")
    _add_protocol(evaluate)
    _add_common(evaluate)
    evaluate.set_defaults(handler=_run_evaluate)

    run = commands.add_parser(
        "run", help="from a video archive to identification results, re-using what is done",
        description="ingest -> train-pose (when no pose model is given) -> features -> train-gait -> describe -> "
        "evaluate. Every stage skips what is already done. On an archive without ground-truth joints and "
        "with no --pose-model, it renders a synthetic archive, trains the pose network on it, and says so.",
    )
    run.add_argument("archive", type=Path, help="top folder of the video archive")
    run.add_argument("--store", type=Path, required=True, help="zarr store for every stage (created if missing)")
    run.add_argument("--layout", choices=("casia-b", "tum-gaid", "folder"), default="casia-b", help="archive layout (default: casia-b)")
    run.add_argument("--pose-model", default=None, help="a trained pose model (.keras or runs:/...); default: train one")
    run.add_argument("--fps", type=float, default=None, help="resample to this frame rate (default: the source's)")
    run.add_argument("--frame-size", type=int, default=None,
                     help="side of the stored square frames in px (default: the pose network's input size)")
    run.add_argument("--crop", choices=("center", "person"), default="center",
                     help="center: largest centred square; person: follow the moving person (default: center)")
    _add_protocol(run)
    _add_pose_training(run)
    _add_feature_options(run)
    _add_gait_training(run)
    _add_common(run)
    run.set_defaults(handler=_run_pipeline)

    demo = commands.add_parser(
        "demo", help="everything on a small synthetic archive (about 8 minutes on 2 idle cores)",
        description="Render a small synthetic CASIA-B-like archive, then run the whole pipeline on it with the small "
        "pose backbone, print the rank-1 table, and say where to look in the MLflow UI.",
    )
    demo.add_argument("--workdir", type=Path, default=None, help="where the archive and store go (default: HOME/demo)")
    demo.add_argument("--subjects", type=int, default=12, help="people in the demo archive (default: 12)")
    _add_common(demo)
    demo.set_defaults(handler=_run_demo)
    return parser


def _add_protocol(command: argparse.ArgumentParser, optional: bool = False) -> None:
    command.add_argument(
        "--protocol", choices=("casia-b", "tum-gaid"), default=None if optional else "casia-b",
        help="evaluation protocol whose training people are used" + (" (default: every person)" if optional else " (default: casia-b)"),
    )
    command.add_argument(
        "--train-subjects", default=None,
        help="training people: N (the first N) or A-B (numbers A to B); default: the data set's standard split",
    )


def _add_pose_training(command: argparse.ArgumentParser) -> None:
    command.add_argument("--backbone", choices=("small", "inception_resnet_v2"), default="small",
                         help="pose network trunk to train (default: small)")
    command.add_argument("--pose-epochs", type=int, default=None, help="pose training epochs")


def _add_feature_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                         help="auto: a GPU when TensorFlow sees one (default: auto)")
    command.add_argument("--feature-dtype", choices=("float16", "float32"), default="float16",
                         help="stored precision of the spatial features (default: float16)")
    command.add_argument("--mixed-precision", action="store_true",
                         help="compute the pose network in mixed float16 (fast on GPUs with tensor cores)")


def _add_gait_training(command: argparse.ArgumentParser) -> None:
    command.add_argument("--rnn", choices=("GRU", "LSTM"), default="GRU", help="recurrent cell (default: GRU)")
    command.add_argument("--rnn-layers", type=int, default=None, help="stacked recurrent layers")
    command.add_argument("--gait-loss", choices=("softmax", "triplet", "softmax+triplet"), default=None,
                         help="softmax cross-entropy (the seed's), batch-hard triplet, or their sum "
                         "(default: softmax+triplet)")
    command.add_argument("--gait-epochs", type=int, default=None, help="maximum GaitNN training epochs")
    command.add_argument("--residual-blocks", choices=("discarded", "chained"), default=None,
                         help="the seed's extra residual blocks: left out as the seed computed them (default), "
                         "or chained")

def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error


def _add_common(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--dask-address", default=None,
        help="address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: $GAITFLOW_DASK_ADDRESS, "
        "else a local cluster)",
    )
    command.add_argument("--workers", type=int, default=2, help="worker processes of the local Dask cluster (default: 2)")
    command.add_argument(
        "--tracking-uri", default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else a SQLite store in the project data folder)",
    )
    command.add_argument("--experiment", default="gaitflow", help="MLflow experiment name (default: gaitflow)")
    command.add_argument("--json", action="store_true", help="print one JSON object with the results on stdout")


def _compute(args: argparse.Namespace, settings: Settings):
    from flows.params import ComputeParams

    return ComputeParams(
        dask_address=args.dask_address or settings.dask_address,
        n_workers=args.workers,
        scratch_dir=settings.scratch,
    )


def _tracking(args: argparse.Namespace, settings: Settings):
    from flows.params import TrackingParams

    return TrackingParams(
        tracking_uri=args.tracking_uri or settings.tracking_uri,
        experiment=args.experiment,
        artifact_root=settings.artifact_root,
    )


def _run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from flows.ingest import ingest_archive
    from flows.params import IngestParams

    params = IngestParams(
        archive=args.archive.resolve(),
        store=args.store.resolve(),
        layout=args.layout,
        frame_size=args.frame_size,
        fps=args.fps,
        crop=args.crop,
        chunk_frames=args.chunk_frames,
        allow_partial=args.allow_partial,
        compute=_compute(args, settings),
        tracking=_tracking(args, settings),
    )
    report = _with_progress(args, lambda: ingest_archive(params))
    summary = report.counts()
    summary["recovered"] = list(report.recovered)
    if args.json:
        print(json.dumps(summary))
    else:
        _print_ingest(summary, settings)
    return EXIT_FAILURES if report.failed else EXIT_OK


def _run_synth(args: argparse.Namespace, settings: Settings) -> int:
    from flows.params import SynthesizeParams
    from flows.synthesize import synthesize_archive

    params = SynthesizeParams(
        archive=args.archive.resolve(), layout=args.layout, subjects=args.subjects, views=args.views,
        frames=args.frames, size=args.size, seed=args.seed, difficulty=args.difficulty, spread=args.spread,
        style=args.style,
        compute=_compute(args, settings), tracking=_tracking(args, settings),
    )
    summary = _with_progress(args, lambda: synthesize_archive(params))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['items']} walk views in {summary['archive']} ({summary['layout']}): "
              f"{summary['rendered']} rendered, {summary['skipped']} already there, in {summary['seconds']:.1f} s")
    return EXIT_OK


def _protocol(args: argparse.Namespace):
    from flows.params import ProtocolOptions

    if args.protocol is None:
        return None
    return ProtocolOptions(protocol=args.protocol, train_subjects=args.train_subjects)


def _given(**values) -> dict:
    """Only the options the user gave, so the parameter models keep their defaults otherwise."""
    return {key: value for key, value in values.items() if value is not None}


def _pose_training(args: argparse.Namespace):
    from flows.params import PoseTrainingOptions

    return PoseTrainingOptions(**_given(backbone=args.backbone, epochs=args.pose_epochs))


def _feature_options(args: argparse.Namespace):
    from flows.params import FeatureOptions

    return FeatureOptions(device=args.device, dtype=args.feature_dtype, mixed_precision=args.mixed_precision)


def _gait_training(args: argparse.Namespace):
    from flows.params import GaitTrainingOptions

    return GaitTrainingOptions(**_given(
        recurrent_unit=args.rnn, rnn_layers=args.rnn_layers, loss=args.gait_loss, epochs=args.gait_epochs,
        residual_blocks=args.residual_blocks))


def _run_train_pose(args: argparse.Namespace, settings: Settings) -> int:
    from flows.params import TrainPoseParams
    from flows.training import train_pose

    result = _with_progress(args, lambda: train_pose(TrainPoseParams(
        store=args.store.resolve(), protocol=_protocol(args), training=_pose_training(args),
        compute=_compute(args, settings), tracking=_tracking(args, settings))))
    return _print_model(args, result, "pose")


def _run_train_gait(args: argparse.Namespace, settings: Settings) -> int:
    from flows.params import TrainGaitParams
    from flows.training import train_gait

    result = _with_progress(args, lambda: train_gait(TrainGaitParams(
        store=args.store.resolve(), features=args.features, protocol=_protocol(args),
        training=_gait_training(args), compute=_compute(args, settings), tracking=_tracking(args, settings))))
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
    from flows.params import ExtractFeaturesParams

    result = _with_progress(args, lambda: extract_features(ExtractFeaturesParams(
        store=args.store.resolve(), pose_model=args.pose_model, options=_feature_options(args),
        compute=_compute(args, settings), tracking=_tracking(args, settings))))
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
    from flows.params import DescribeParams

    result = _with_progress(args, lambda: describe(DescribeParams(
        store=args.store.resolve(), gait_model=args.gait_model, features=args.features,
        compute=_compute(args, settings), tracking=_tracking(args, settings))))
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
    from flows.params import EvaluateParams

    result = _with_progress(args, lambda: evaluate_descriptors(EvaluateParams(
        store=args.store.resolve(), descriptors=args.descriptors, protocol=_protocol(args),
        tracking=_tracking(args, settings))))
    _print_results(args, result, settings)
    return EXIT_OK


def _run_pipeline(args: argparse.Namespace, settings: Settings) -> int:
    from flows.params import PipelineParams
    from flows.pipeline import run_pipeline

    params = PipelineParams(
        archive=args.archive.resolve(), store=args.store.resolve(), layout=args.layout, protocol=_protocol(args),
        pose_model=args.pose_model, fps=args.fps, frame_size=args.frame_size, crop=args.crop,
        pose_training=_pose_training(args),
        features=_feature_options(args), gait_training=_gait_training(args),
        compute=_compute(args, settings), tracking=_tracking(args, settings),
    )
    summary = _with_progress(args, lambda: run_pipeline(params))
    for note in summary["notes"]:
        print(f"note: {note}", file=sys.stderr)
    _print_results(args, summary["evaluation"], settings, summary)
    return EXIT_OK


def _run_demo(args: argparse.Namespace, settings: Settings) -> int:
    from flows.params import (
        GaitTrainingOptions, PipelineParams, PoseTrainingOptions, ProtocolOptions, SynthesizeParams,
    )
    from flows.pipeline import run_pipeline
    from flows.synthesize import synthesize_archive

    workdir = (args.workdir or settings.home / "demo").resolve()
    compute, tracking = _compute(args, settings), _tracking(args, settings)
    # Small enough for a short run on two cores. With 4 test people its rank-1 shows that the
    # pipeline works end to end, not how well the method identifies people.
    archive = SynthesizeParams(
        archive=workdir / "archive", subjects=args.subjects, views=(36, 90, 144), frames=32, size=136, seed=2024,
        compute=compute, tracking=tracking,
    )
    params = PipelineParams(
        archive=archive.archive, store=workdir / "store.zarr", layout="casia-b",
        # Two thirds of the people train; with so few, all of them fit and none is held out.
        protocol=ProtocolOptions(train_subjects=str(max(2, 2 * args.subjects // 3))),
        pose_training=PoseTrainingOptions(epochs=4, frames_per_sequence=4),
        gait_training=GaitTrainingOptions(epochs=10, rnn_layers=1, people_per_batch=4, sequences_per_person=4,
                                          clip_frames=16, validation_fraction=0.0),
        compute=compute, tracking=tracking,
    )

    def work():
        synthesize_archive(archive)
        return run_pipeline(params)

    summary = _with_progress(args, work)
    _print_results(args, summary["evaluation"], settings, summary)
    if not args.json:
        print(f"\nArchive: {archive.archive}\nStore:   {params.store}")
        mlflow = Path(sys.executable).with_name("mlflow")
        print(f"MLflow UI: MLFLOW_DISABLE_TELEMETRY=true {mlflow} ui --backend-store-uri {tracking.tracking_uri} "
              "--host 127.0.0.1 --port 5000, then open "
              f"http://127.0.0.1:5000 (experiment '{tracking.experiment}', run {summary['mlflow_run_id']} "
              "with the stages nested under it)")
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
        for condition, value in report["standard_rank1"].items():
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


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _with_progress(args: argparse.Namespace, work: Callable):
    """Runs `work` with a progress bar on a terminal (never with --json or when piped)."""
    from flows import progress

    if args.json or not sys.stderr.isatty():
        return work()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[item]}"), transient=True,
    ) as bar:
        bars: dict[str, int] = {}

        def update(stage: str, done: int, total: int, item: str) -> None:
            if stage not in bars:
                bars[stage] = bar.add_task(stage, total=total, item="")
            bar.update(bars[stage], completed=done, total=total, item=item)

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
    for item in summary["unmatched"]:
        console.print(f"  [yellow]not a sequence[/] {item['id']}: {item['reason']}", highlight=False)
    for action in summary["recovered"]:
        console.print(f"  [yellow]cleaned up after an interrupted run[/]: {action}", highlight=False)
    console.print(f"MLflow run {summary['mlflow_run_id']} ({settings.tracking_uri})", highlight=False)


def _fail(args: argparse.Namespace, error: BaseException) -> None:
    message = f"{type(error).__name__}: {error}"
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    print(f"gaitflow: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
