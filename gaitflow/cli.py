"""The `gaitflow` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from gaitflow.settings import Settings, load_settings

EXIT_OK, EXIT_FAILURES, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_ERROR
    settings = load_settings(args.home)
    from gaitflow.services import prefect_api, prepare_environment

    prepare_environment(settings)
    try:
        with prefect_api(settings):
            return args.handler(args, settings)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        _fail(args, error)
        return EXIT_ERROR


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
    _add_common(synth)
    synth.set_defaults(handler=_run_synth)
    return parser


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
        compute=_compute(args, settings),
        tracking=_tracking(args, settings),
    )
    report = _with_progress(args, lambda: ingest_archive(params))
    summary = report.counts()
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
        compute=_compute(args, settings), tracking=_tracking(args, settings),
    )
    summary = _with_progress(args, lambda: synthesize_archive(params))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['items']} walk views in {summary['archive']} ({summary['layout']}): "
              f"{summary['rendered']} rendered, {summary['skipped']} already there, in {summary['seconds']:.1f} s")
    return EXIT_OK


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
    console.print(f"MLflow run {summary['mlflow_run_id']} ({settings.tracking_uri})", highlight=False)


def _fail(args: argparse.Namespace, error: BaseException) -> None:
    message = f"{type(error).__name__}: {error}"
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    print(f"gaitflow: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
