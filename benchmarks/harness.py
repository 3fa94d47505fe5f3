"""The shared benchmark harness: targets, result tables and result files.

A benchmark is a module `benchmarks/<name>.py` with one entry point::

    from benchmarks.harness import Target

    def run(quick: bool) -> dict:
        '''quick=True: the short set `python -m benchmarks` runs; False: `--full`.'''
        seconds = ...
        return {
            "figures": {"frames_per_second": 412.0, "frames": 2000},   # JSON-able values
            "targets": [Target("frames_per_second", 412.0, ">=", 200.0)],
        }

`python -m benchmarks [--full] [--only NAME ...]` imports it, calls `run`, prints a table,
writes `benchmarks/results/<name>.json` and exits non-zero when any target is missed. A module
can also run alone with::

    if __name__ == "__main__":
        raise SystemExit(run_standalone("my_benchmark", run))

API:
  Target(name, value, op, limit): a figure and the bound it must meet; `op` is one of
    "<", "<=", ">", ">=", "=="; `passed` is `value <op> limit` (a NaN value never passes).
  BenchmarkResult(benchmark, quick, figures, targets, wall_s, load_average, source): one
    benchmark's outcome; `passed`, `to_dict()`.
  result_from_run(name, quick, returned, wall_s, load_average=None, source=None): checks a `run`
    return value and builds the result (ValueError/TypeError naming the benchmark when it is
    malformed).
  print_result(result, console=None): the figures and targets as tables (rich if importable).
  write_result(result, directory=RESULTS_DIR) -> Path: writes `<directory>/<name>.json`.
  machine_info() -> dict: cpu counts, platform, python and tensorflow version (read from the
    installed package metadata unless tensorflow is already imported; never imports it).
  load_average() -> [1, 5, 15 min] or None where the platform has none.
  git_state(directory=PROJECT_ROOT) -> {"commit", "dirty"}: `git rev-parse HEAD` and whether
    tracked or untracked files differ from it (`benchmarks/results/`, the outputs, excluded);
    both None when `directory` is not in a git checkout or git is missing.
  source_info() -> {"git": git_state(), "code_version": provenance.code_version(*CODE_PACKAGES)}
    (code_version None when a package cannot be found).
  run_benchmark(name, run, quick, directory=RESULTS_DIR) -> BenchmarkResult: takes the load
    average and source_info(), times `run`, takes the load average again, prints and writes the
    result.
  run_standalone(name, run, argv=None) -> int: a `__main__` for one module (`--full`).

Result file (`benchmarks/results/<name>.json`)::

    {"benchmark": name, "quick": bool, "wall_s": seconds run() took,
     "machine": {"cpu_count", "usable_cpus", "platform", "python", "tensorflow", "gpus"},
     "load_average": {"start": [1, 5, 15 min] | null, "end": [...] | null},
     "git": {"commit": "<40 hex>" | null, "dirty": bool | null},
     "code_version": "<16 hex>" | null,
     "figures": {...}, "targets": [{"name", "value", "limit", "op", "passed"}],
     "passed": bool}

`git` and `code_version` are taken before run() starts. `code_version` hashes the source of the
project's packages (`CODE_PACKAGES`), so two results with the same value ran the same code even
when the working tree was dirty.

Non-finite numbers are written as null so the file is strict JSON; numpy scalars and arrays
become numbers and lists.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import math
import numbers
import operator
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# The packages whose source makes a result: their hash is every result's `code_version`.
CODE_PACKAGES: tuple[str, ...] = (
    "gaitflow", "flows", "tasks", "nets", "stages", "storage", "synth", "evaluation", "tracking", "footage",
    "benchmarks",
)

Comparison = Literal["<", "<=", ">", ">=", "=="]
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}

RunFunction = Callable[[bool], Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class Target:
    """A measured figure and the bound it must meet: passed = `value <op> limit`."""

    name: str
    value: float
    op: Comparison
    limit: float

    def __post_init__(self) -> None:
        if self.op not in _COMPARISONS:
            raise ValueError(f"target {self.name!r}: op must be one of {tuple(_COMPARISONS)}, got {self.op!r}")
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "limit", float(self.limit))

    @property
    def passed(self) -> bool:
        return not math.isnan(self.value) and _COMPARISONS[self.op](self.value, self.limit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _json_safe(self.value),
            "limit": _json_safe(self.limit),
            "op": self.op,
            "passed": self.passed,
        }


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark's figures and targets."""

    benchmark: str
    quick: bool
    figures: Mapping[str, Any]
    targets: tuple[Target, ...]
    wall_s: float | None = None
    # {"start": [1, 5, 15 min] | None, "end": ...}; None: not measured.
    load_average: Mapping[str, Any] | None = None
    # source_info() taken when the run started; None: taken when the result is written.
    source: Mapping[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.targets)

    def to_dict(self, machine: Mapping[str, Any] | None = None) -> dict[str, Any]:
        load = self.load_average or {}
        source = source_info() if self.source is None else self.source
        git = source.get("git") or {}
        return {
            "benchmark": self.benchmark,
            "quick": self.quick,
            "wall_s": _json_safe(self.wall_s),
            "machine": dict(machine_info() if machine is None else machine),
            "load_average": {"start": _json_safe(load.get("start")), "end": _json_safe(load.get("end"))},
            "git": {"commit": git.get("commit"), "dirty": git.get("dirty")},
            "code_version": source.get("code_version"),
            "figures": _json_safe(dict(self.figures)),
            "targets": [t.to_dict() for t in self.targets],
            "passed": self.passed,
        }


def result_from_run(
    name: str,
    quick: bool,
    returned: Any,
    wall_s: float | None = None,
    load_average: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
) -> BenchmarkResult:
    """Checks what a benchmark's `run(quick)` returned and wraps it as a BenchmarkResult."""
    if not isinstance(returned, Mapping):
        raise TypeError(
            f"benchmark {name!r}: run() must return a dict with 'figures' and 'targets', "
            f"got {type(returned).__name__}"
        )
    unknown = set(returned) - {"figures", "targets"}
    if unknown:
        raise ValueError(f"benchmark {name!r}: run() returned unknown keys {sorted(unknown)}")
    figures = returned.get("figures", {})
    targets = returned.get("targets", [])
    if not isinstance(figures, Mapping):
        raise TypeError(f"benchmark {name!r}: 'figures' must be a dict, got {type(figures).__name__}")
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        raise TypeError(f"benchmark {name!r}: 'targets' must be a list of Target")
    for target in targets:
        if not isinstance(target, Target):
            raise TypeError(
                f"benchmark {name!r}: 'targets' holds a {type(target).__name__}, expected Target"
            )
    return BenchmarkResult(name, quick, dict(figures), tuple(targets), wall_s, load_average, source)


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    try:
        usable_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable_cpus = os.cpu_count()
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": None,
        "gpus": None,
    }
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None:
        # Already imported by the benchmark: ask it directly, GPUs included.
        info["tensorflow"] = getattr(tensorflow, "__version__", None)
        try:
            info["gpus"] = [d.name for d in tensorflow.config.list_physical_devices("GPU")]
        except Exception:  # a half-initialised tensorflow must not lose the result
            info["gpus"] = None
    else:
        # Importing tensorflow costs seconds and memory; the package metadata is enough.
        for distribution in ("tensorflow", "tensorflow-cpu"):
            try:
                info["tensorflow"] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return info


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the platform has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def git_state(directory: str | Path = PROJECT_ROOT) -> dict[str, Any]:
    """{"commit": HEAD's hash, "dirty": bool}; both None outside a git checkout or without git.

    Dirty means a tracked file differs from HEAD or an untracked, not ignored file exists,
    anywhere but `benchmarks/results/` (the results themselves, rewritten by every run).
    `--no-optional-locks`: reading the state never rewrites the index.
    """
    unknown: dict[str, Any] = {"commit": None, "dirty": None}
    git = ["git", "--no-optional-locks", "-C", str(directory)]
    try:
        head = subprocess.run([*git, "rev-parse", "--verify", "HEAD"], capture_output=True, text=True,
                              timeout=30, check=False)
        if head.returncode != 0:
            return unknown
        status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=normal", "--", ".",
                                 ":(exclude)benchmarks/results"], capture_output=True, text=True,
                                timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return unknown
    commit = head.stdout.strip() or None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return {"commit": commit, "dirty": dirty}


def source_info() -> dict[str, Any]:
    """The git state and the code version of CODE_PACKAGES, for a result file."""
    try:
        from provenance import code_version

        version: str | None = code_version(*CODE_PACKAGES)
    except (ImportError, ValueError, OSError):  # a missing package must not lose the result
        version = None
    return {"git": git_state(), "code_version": version}


def print_result(result: BenchmarkResult, console: Any = None) -> None:
    """Prints the benchmark's figures and targets, with rich tables when rich is installed."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        _print_plain(result)
        return
    console = console or Console()
    mode = "quick" if result.quick else "full"
    wall = "" if result.wall_s is None else f", {result.wall_s:.1f} s"
    console.print(f"[bold]{result.benchmark}[/bold] ({mode}{wall})", highlight=False)
    figures = Table()
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    for key, value in result.figures.items():
        figures.add_row(str(key), _format(value))
    console.print(figures)
    if result.targets:
        targets = Table()
        for column in ("target", "value", "bound", "result"):
            targets.add_column(column, justify="right" if column != "target" else "left")
        for t in result.targets:
            verdict = "[green]pass[/green]" if t.passed else "[bold red]MISS[/bold red]"
            targets.add_row(t.name, _format(t.value), f"{t.op} {_format(t.limit)}", verdict)
        console.print(targets)


def write_result(result: BenchmarkResult, directory: str | Path = RESULTS_DIR) -> Path:
    """Writes `<directory>/<benchmark>.json` (strict JSON) and returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.benchmark}.json"
    text = json.dumps(result.to_dict(), indent=2, allow_nan=False)
    # Write then rename so a reader never sees half a file.
    partial = path.with_suffix(".json.partial")
    partial.write_text(text + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def run_benchmark(
    name: str, run: RunFunction, quick: bool, directory: str | Path = RESULTS_DIR, console: Any = None
) -> BenchmarkResult:
    """Times `run(quick)`, checks its result, prints it and writes its JSON file, with the load
    average before and after the run and the source it ran (taken before it starts)."""
    source = source_info()
    load_at_start = load_average()
    started = time.perf_counter()
    returned = run(quick)
    wall_s = time.perf_counter() - started
    result = result_from_run(name, quick, returned, wall_s=wall_s,
                             load_average={"start": load_at_start, "end": load_average()}, source=source)
    print_result(result, console)
    write_result(result, directory)
    return result


def run_standalone(name: str, run: RunFunction, argv: Sequence[str] | None = None) -> int:
    """Command line for one benchmark module: `python -m benchmarks.<name> [--full]`."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}")
    parser.add_argument("--full", action="store_true", help="run the full set, not the quick one")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where to write the JSON")
    arguments = parser.parse_args(argv)
    result = run_benchmark(name, run, quick=not arguments.full, directory=arguments.results)
    return 0 if result.passed else 1


def _json_safe(value: Any) -> Any:
    """Numpy scalars/arrays to Python, non-finite floats to None, paths to str, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays
        return _json_safe(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):  # numpy integers register here too
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    text = json.dumps(_json_safe(value))
    return text if len(text) <= 80 else text[:77] + "..."


def _print_plain(result: BenchmarkResult) -> None:
    mode = "quick" if result.quick else "full"
    print(f"== {result.benchmark} ({mode}) ==")
    for key, value in result.figures.items():
        print(f"  {key}: {_format(value)}")
    for t in result.targets:
        verdict = "pass" if t.passed else "MISS"
        print(f"  [{verdict}] {t.name}: {_format(t.value)} {t.op} {_format(t.limit)}")
