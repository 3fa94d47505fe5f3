"""`python -m benchmarks`: runs the benchmarks and checks their targets.

Usage::

    python -m benchmarks                      # the quick set of every benchmark
    python -m benchmarks --full               # the full set
    python -m benchmarks --only scale,accuracy --only gait_network
    python -m benchmarks --list

Each name in BENCHMARKS is a module `benchmarks/<name>.py` with `run(quick: bool) -> dict`
(see `benchmarks.harness`). A listed module that does not exist yet is skipped with a message.
Results go to `benchmarks/results/<name>.json`.

Exit status: 0 when every benchmark that ran met its targets; 1 when a target was missed, a
benchmark raised, or a benchmark named with --only does not exist; 2 on a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import traceback
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import RESULTS_DIR, run_benchmark

# The registry, in the order they run: cheap, self-contained benchmarks first.
BENCHMARKS: tuple[str, ...] = (
    "synth_walker",
    "tracking",
    "pose_network",
    "pose_training",
    "gait_network",
    "storage_throughput",
    "store_index",
    "object_store",
    "feature_flow",
    "scale",
    "accuracy",
    "gait_ceiling",
    "demo",
)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.list:
        for name in BENCHMARKS:
            state = "present" if _exists(name) else "not written yet"
            print(f"{name:20s} {state}")
        return 0
    explicit = _selected(arguments.only)
    names = explicit or list(BENCHMARKS)
    quick = not arguments.full
    console = _console()

    outcomes: dict[str, str] = {}
    for name in names:
        if not _exists(name):
            _say(console, f"[yellow]skip[/yellow] {name}: benchmarks/{name}.py does not exist yet")
            outcomes[name] = "missing" if explicit else "skipped"
            continue
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            run = getattr(module, "run", None)
            if not callable(run):
                raise TypeError(f"benchmarks/{name}.py has no run(quick: bool) -> dict")
            result = run_benchmark(name, run, quick, directory=arguments.results, console=console)
        except Exception:  # one broken benchmark must not hide the others' results
            _say(console, f"[bold red]error[/bold red] {name}:", detail=traceback.format_exc())
            outcomes[name] = "error"
            continue
        outcomes[name] = "passed" if result.passed else "missed"

    _summary(console, outcomes, quick)
    failed = [n for n, outcome in outcomes.items() if outcome in ("missed", "error", "missing")]
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="run the full sets (default: quick)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these (repeatable or comma-separated); one of {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="directory for the JSON files")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return parser


def _selected(only: list[str] | None) -> list[str]:
    if not only:
        return []
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        _parser().error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    return list(dict.fromkeys(names))


def _exists(name: str) -> bool:
    return importlib.util.find_spec(f"benchmarks.{name}") is not None


def _console():
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console()


def _say(console, markup: str, detail: str | None = None) -> None:
    """Prints a line of rich markup (plain without rich), then `detail` verbatim."""
    if console is None:
        print(re.sub(r"\[/?[a-z ]+\]", "", markup))
        if detail:
            print(detail)
        return
    console.print(markup, highlight=False)
    if detail:
        console.print(detail, markup=False, highlight=False)


def _summary(console, outcomes: dict[str, str], quick: bool) -> None:
    colours = {"passed": "green", "missed": "bold red", "error": "bold red", "missing": "bold red",
               "skipped": "yellow"}
    mode = "quick" if quick else "full"
    _say(console, f"\nbenchmarks ({mode}):")
    for name, outcome in outcomes.items():
        colour = colours[outcome]
        _say(console, f"  {name:20s} [{colour}]{outcome}[/{colour}]")


if __name__ == "__main__":
    raise SystemExit(main())
