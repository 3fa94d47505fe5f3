"""The benchmark harness and `python -m benchmarks`, driven with throwaway benchmark modules.

The throwaway modules are real files in a temporary folder appended to the `benchmarks`
package's search path, so `__main__` finds and imports them exactly as it does real ones;
every result goes to a temporary results folder.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import benchmarks
import benchmarks.__main__ as cli
from benchmarks import harness
from benchmarks.harness import BenchmarkResult, Target

PASSING = """
    from benchmarks.harness import Target

    def run(quick):
        return {"figures": {"frames_per_second": 412.0, "frames": 2000, "quick_seen": quick},
                "targets": [Target("frames_per_second", 412.0, ">=", 200.0)]}
"""
MISSING_TARGET = """
    from benchmarks.harness import Target

    def run(quick):
        return {"figures": {"seconds": 9.5}, "targets": [Target("seconds", 9.5, "<=", 5.0)]}
"""
RAISING = """
    def run(quick):
        raise RuntimeError("the benchmark fell over")
"""
MALFORMED = """
    def run(quick):
        return [1, 2, 3]
"""
NO_RUN = """
    FIGURES = {}
"""
RESULT_FIELDS = {"benchmark", "quick", "wall_s", "machine", "load_average", "git", "code_version", "figures",
                 "targets", "passed"}
MACHINE_FIELDS = {"cpu_count", "usable_cpus", "platform", "python", "tensorflow", "gpus"}
TARGET_FIELDS = {"name", "value", "limit", "op", "passed"}


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """Registers throwaway benchmarks: `registry(name=source or None)`; None lists a name with no file."""
    folder = tmp_path / "throwaway_benchmarks"
    folder.mkdir()
    monkeypatch.setattr(benchmarks, "__path__", [*benchmarks.__path__, str(folder)])
    written: list[str] = []

    def register(**modules: str | None) -> None:
        for name, source in modules.items():
            if source is not None:
                (folder / f"{name}.py").write_text(textwrap.dedent(source))
                written.append(name)
        importlib.invalidate_caches()
        monkeypatch.setattr(cli, "BENCHMARKS", tuple(modules))

    yield register
    for name in written:
        sys.modules.pop(f"benchmarks.{name}", None)


@pytest.fixture
def results(tmp_path) -> Path:
    return tmp_path / "results"


def _run(results: Path, *arguments: str) -> int:
    return cli.main([*arguments, "--results", str(results)])


def _result(results: Path, name: str) -> dict:
    return json.loads((results / f"{name}.json").read_text())


def test_a_passing_benchmark_exits_zero_and_writes_the_documented_json(registry, results, capsys):
    registry(zz_passing=PASSING)
    assert _run(results) == 0
    written = _result(results, "zz_passing")
    assert set(written) == RESULT_FIELDS
    assert set(written["machine"]) == MACHINE_FIELDS
    assert written["benchmark"] == "zz_passing" and written["quick"] is True and written["passed"] is True
    assert isinstance(written["wall_s"], float) and written["wall_s"] >= 0
    assert written["figures"] == {"frames_per_second": 412.0, "frames": 2000, "quick_seen": True}
    assert written["targets"] == [
        {"name": "frames_per_second", "value": 412.0, "limit": 200.0, "op": ">=", "passed": True}
    ]
    out = capsys.readouterr().out
    assert "zz_passing" in out and "passed" in out
    assert not (harness.RESULTS_DIR / "zz_passing.json").exists()


def test_full_runs_the_full_set(registry, results):
    registry(zz_passing=PASSING)
    assert _run(results, "--full") == 0
    written = _result(results, "zz_passing")
    assert written["quick"] is False and written["figures"]["quick_seen"] is False


def test_a_missed_target_exits_non_zero_and_is_recorded(registry, results, capsys):
    registry(zz_passing=PASSING, zz_missing_target=MISSING_TARGET)
    assert _run(results) == 1
    written = _result(results, "zz_missing_target")
    assert written["passed"] is False
    assert set(written["targets"][0]) == TARGET_FIELDS and written["targets"][0]["passed"] is False
    assert _result(results, "zz_passing")["passed"] is True
    assert "missed" in capsys.readouterr().out


def test_an_exception_is_reported_and_the_others_still_run(registry, results, capsys):
    registry(zz_raising=RAISING, zz_passing=PASSING)
    assert _run(results) == 1
    out = capsys.readouterr().out
    assert "the benchmark fell over" in out and "error" in out
    assert not (results / "zz_raising.json").exists()
    assert _result(results, "zz_passing")["passed"] is True


@pytest.mark.parametrize("source", [MALFORMED, NO_RUN], ids=["returns-a-list", "no-run"])
def test_a_malformed_module_is_an_error(registry, results, capsys, source):
    registry(zz_broken=source)
    assert _run(results) == 1
    assert "error" in capsys.readouterr().out
    assert not (results / "zz_broken.json").exists()


def test_a_listed_module_that_does_not_exist_is_skipped(registry, results, capsys):
    registry(zz_not_written=None, zz_passing=PASSING)
    assert _run(results) == 0
    out = capsys.readouterr().out
    assert "skip" in out and "zz_not_written" in out
    assert not (results / "zz_not_written.json").exists()


def test_naming_a_missing_module_with_only_fails(registry, results):
    registry(zz_not_written=None, zz_passing=PASSING)
    assert _run(results, "--only", "zz_not_written") == 1


def test_only_runs_just_the_named_ones_comma_separated_or_repeated(registry, results):
    registry(zz_a=PASSING, zz_b=PASSING, zz_c=MISSING_TARGET)
    assert _run(results, "--only", "zz_a,zz_b") == 0
    assert _run(results, "--only", "zz_a", "--only", "zz_c") == 1
    assert sorted(p.stem for p in results.glob("*.json")) == ["zz_a", "zz_b", "zz_c"]


def test_an_unknown_name_is_a_usage_error(registry, results):
    registry(zz_passing=PASSING)
    with pytest.raises(SystemExit) as raised:
        _run(results, "--only", "no_such_benchmark")
    assert raised.value.code == 2


def test_list_names_each_benchmark_and_whether_it_exists(registry, results, capsys):
    registry(zz_passing=PASSING, zz_not_written=None)
    assert _run(results, "--list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("zz_passing" in line and "present" in line for line in lines)
    assert any("zz_not_written" in line and "not written yet" in line for line in lines)
    assert not results.exists()


# ---------------------------------------------------------------------------------- harness
def test_targets_compare_and_a_nan_never_passes():
    assert Target("a", 1.0, "<", 2.0).passed and not Target("a", 2.0, "<", 2.0).passed
    assert Target("a", 2.0, "<=", 2.0).passed and Target("a", 3, "==", 3).passed
    assert not Target("a", math.nan, ">=", 0.0).passed and not Target("a", math.nan, "<=", 0.0).passed
    with pytest.raises(ValueError, match="op must be one of"):
        Target("a", 1.0, "=>", 0.0)


def test_result_from_run_names_the_benchmark_when_malformed():
    with pytest.raises(TypeError, match="'zz'"):
        harness.result_from_run("zz", True, [1])
    with pytest.raises(ValueError, match="unknown keys"):
        harness.result_from_run("zz", True, {"figures": {}, "target": []})
    with pytest.raises(TypeError, match="Target"):
        harness.result_from_run("zz", True, {"targets": [("a", 1, ">", 0)]})


def test_written_json_is_strict_with_numpy_nan_and_paths(tmp_path):
    result = BenchmarkResult(
        "zz_values", True,
        {"rate": np.float32(2.5), "count": np.int64(3), "curve": np.arange(3), "missing": math.nan,
         "where": Path("/x"), "nested": {"inf": math.inf}},
        (Target("rate", math.nan, ">", 0.0),), wall_s=0.25,
    )
    path = harness.write_result(result, tmp_path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    written = json.loads(text)
    assert written["figures"] == {"rate": 2.5, "count": 3, "curve": [0, 1, 2], "missing": None,
                                  "where": "/x", "nested": {"inf": None}}
    assert written["targets"][0]["value"] is None and written["passed"] is False
    assert not list(tmp_path.glob("*.partial"))


def test_run_standalone_writes_to_results_and_exits_by_the_targets(tmp_path, capsys):
    def passing(quick):
        return {"figures": {"quick": quick}, "targets": [Target("x", 1.0, ">", 0.0)]}

    def missing(quick):
        return {"figures": {}, "targets": [Target("x", 0.0, ">", 1.0)]}

    assert harness.run_standalone("zz_alone", passing, ["--full", "--results", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "zz_alone.json").read_text())["figures"] == {"quick": False}
    assert harness.run_standalone("zz_alone", missing, ["--results", str(tmp_path)]) == 1


def test_machine_info_never_imports_tensorflow():
    already = "tensorflow" in sys.modules
    info = harness.machine_info()
    assert set(info) == MACHINE_FIELDS and info["usable_cpus"] >= 1
    assert ("tensorflow" in sys.modules) == already
