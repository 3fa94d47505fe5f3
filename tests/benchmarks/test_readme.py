"""The README's results are generated from `benchmarks/results/*.json`; every results file
records its load average, commit and code version; `provenance.code_version` follows the source.

Nothing here runs a benchmark: the README tests read the committed JSON (or edited copies of it
in a temporary folder), the harness tests run a throwaway `run` function.
"""

from __future__ import annotations

import ast
import copy
import importlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import provenance
from benchmarks import harness, readme
from benchmarks.harness import Target

PROJECT = Path(__file__).resolve().parents[2]
GENERATED = re.compile(r"<!-- results:begin (\S+) -->\n(.*?)<!-- results:end \1 -->", re.S)


@pytest.fixture(scope="module")
def committed() -> dict[str, dict]:
    return readme.load_results(harness.RESULTS_DIR)


@pytest.fixture
def results(tmp_path) -> Path:
    """An editable copy of the committed results."""
    folder = tmp_path / "results"
    shutil.copytree(harness.RESULTS_DIR, folder, ignore=shutil.ignore_patterns("*.png", "*.partial"))
    return folder


@pytest.fixture
def readme_copy(tmp_path) -> Path:
    path = tmp_path / "README.md"
    shutil.copyfile(readme.README, path)
    return path


def _edit(results: Path, name: str, edit) -> None:
    path = results / f"{name}.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _row(table: readme.Table, start: str) -> readme.Row:
    (row,) = [r for r in table.rows if r.what.startswith(start)]
    return row


def _target(data: dict, name: str) -> dict:
    (target,) = [t for t in data["targets"] if t["name"] == name]
    return target


# ------------------------------------------------------------------------- the README itself


def test_the_readme_is_what_the_committed_results_generate(capsys):
    status = readme.main(["--check"])
    assert status == 0, "README.md is out of date; run `python -m benchmarks.readme`:\n" + capsys.readouterr().out


# What the committed results cannot fill yet: they were written before the evaluation report's
# format `gaitflow.protocol_report/2` (standard single-view-gallery CASIA-B figures), and their
# old keys hold figures of another protocol. These read "not measured" until the benchmarks are
# re-run; tests/benchmarks/test_protocol_figures.py checks that the keys they read are the keys
# the benchmarks now write.
AWAITING_RERUN_BLOCKS = {"accuracy-casia", "accuracy-tum", "accuracy-targets", "accuracy-difficulty", "accuracy-setup"}
AWAITING_RERUN_ROWS = ("ground-truth-joint baseline, CASIA-B-like",)


def _awaiting_rerun(committed: dict, name: str) -> bool:
    """Whether a committed results file predates the protocol_report/2 keys."""
    figures = committed[name]["figures"]
    if name == "accuracy":
        return "casia_std_learned_nn_rank1_nm" not in figures
    if name == "synth_walker":
        return "gt_rank1_std_nm" not in figures
    return False


def test_every_generated_block_is_measured_from_the_committed_results(committed):
    """A mistyped key or target name would read "not measured": every declared row must be found,
    except the rows whose results file predates the protocol_report/2 keys."""
    text = readme.render(readme.README.read_text(), committed)
    blocks = dict(GENERATED.findall(text))
    assert set(blocks) == set(readme.BLOCKS)
    accuracy_stale = _awaiting_rerun(committed, "accuracy")
    synth_stale = _awaiting_rerun(committed, "synth_walker")
    for name, body in blocks.items():
        if name in AWAITING_RERUN_BLOCKS and accuracy_stale:
            continue
        lines = body.splitlines()
        if synth_stale:
            lines = [line for line in lines if not any(line.startswith(f"| {start}") for start in AWAITING_RERUN_ROWS)]
        kept = "\n".join(lines)
        assert readme.NOT_MEASURED not in kept, f"block {name!r} has a row that reads no committed figure"
        assert "?" not in re.sub(r"`[^`]*`", "", kept), f"block {name!r} has a field with no figure"


def test_figures_of_the_old_protocol_are_never_shown_as_the_new_ones(committed):
    """The committed files' pooled-era keys (`casia_gt_rank1_nm`, `gt_rank1_cross_nm`, ...) are
    not read: those rows say "not measured" until the benchmark is re-run."""
    text = readme.render(readme.README.read_text(), committed)
    blocks = dict(GENERATED.findall(text))
    if _awaiting_rerun(committed, "accuracy"):
        for name in ("accuracy-casia", "accuracy-tum", "accuracy-difficulty", "accuracy-targets"):
            body = blocks[name]
            assert not re.search(r"\d%", body.split("\n", 2)[2]), f"block {name!r} shows an old figure"
        assert "97.9%" not in blocks["accuracy-casia"]
        assert "(chance not measured)" in blocks["accuracy-setup"]
    if _awaiting_rerun(committed, "synth_walker"):
        (row,) = [line for line in blocks["benchmarks"].splitlines()
                  if line.startswith("| ground-truth-joint baseline, CASIA-B-like")]
        assert row.endswith("| not measured | not measured |")
        (same,) = [line for line in blocks["benchmarks"].splitlines() if line.startswith("| the same baseline, nm")]
        assert same.endswith("| 99.6% | >= 80%: met |")  # the same-view figure did not change


def test_every_missed_target_of_every_results_file_is_shown_as_missed(committed):
    text = readme.README.read_text()
    runs = dict(GENERATED.findall(text))["runs"]
    for name, data in committed.items():
        (line,) = [line for line in runs.splitlines() if line.startswith(f"| `{name}.json`")]
        for target in data["targets"]:
            if not target["passed"]:
                assert target["name"] in line and "**missed**" in line
        met = sum(t["passed"] for t in data["targets"])
        expected = f"{met} of {len(data['targets'])} met" if data["targets"] else "none (a measurement)"
        assert expected in line


def test_no_results_file_is_claimed_to_record_what_it_does_not(committed):
    runs = dict(GENERATED.findall(readme.README.read_text()))["runs"]
    for name, data in committed.items():
        (line,) = [line for line in runs.splitlines() if line.startswith(f"| `{name}.json`")]
        cells = [c.strip() for c in line.strip("|").split("|")]
        load, commit, version = cells[4], cells[5], cells[6]
        has_load = readme.load_average_1min(data) != (None, None)
        assert (load == readme.NOT_RECORDED) is not has_load
        assert (commit == readme.NOT_RECORDED) is not bool((data.get("git") or {}).get("commit"))
        assert (version == readme.NOT_RECORDED) is not bool(data.get("code_version"))


def test_check_prints_a_diff_and_fails_on_a_stale_readme_and_a_rewrite_fixes_it(results, readme_copy, capsys):
    _edit(results, "synth_walker", lambda d: d["figures"].update(render_128px_frames_per_s=201.4))
    arguments = ["--readme", str(readme_copy), "--results", str(results)]
    before = readme_copy.read_text()
    assert readme.main([*arguments, "--check"]) == 1
    out = capsys.readouterr().out
    assert "-| synthetic walker render speed" in out and "+| synthetic walker render speed" in out
    assert "201 frames/s per process" in out
    assert readme_copy.read_text() == before  # --check changes nothing
    assert readme.main(arguments) == 0
    after = readme_copy.read_text()
    assert "| 201 frames/s per process |" in after and "378 frames/s" not in after
    assert readme.main([*arguments, "--check"]) == 0
    # Only the generated lines changed; the prose around them is kept.
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert len(changed) == 1 and changed[0].startswith("| synthetic walker render speed")


def test_prose_outside_the_markers_is_kept_and_old_generated_lines_are_replaced(results):
    _edit(results, "accuracy", lambda d: d["figures"].update(
        difficulty_2_std_gt_rank1_nm=0.9167, difficulty_2_std_gt_rank1_bg=0.8542, difficulty_2_std_gt_rank1_cl=0.8438))
    text = textwrap.dedent("""\
        # t
        Some prose with 12 %.
        <!-- results:begin accuracy-difficulty -->
        | a stale | table |
        <!-- results:end accuracy-difficulty -->
        More prose.
        """)
    blocks = {"accuracy-difficulty": readme.DIFFICULTY_GRID}
    out = readme.render(text, readme.load_results(results), blocks)
    assert out.startswith("# t\nSome prose with 12 %.\n<!-- results:begin accuracy-difficulty -->\n| difficulty |")
    assert out.endswith("<!-- results:end accuracy-difficulty -->\nMore prose.\n")
    assert "stale" not in out and "| 2.0 | 91.7% | 85.4% | 84.4% |" in out
    assert readme.render(out, readme.load_results(results), blocks) == out


@pytest.mark.parametrize("text, message", [
    ("no markers at all\n", "no markers"),
    ("<!-- results:begin nope -->\n<!-- results:end nope -->\n", "unknown results block"),
    ("<!-- results:begin runs -->\n", "never closed"),
    ("<!-- results:end runs -->\n", "without its begin"),
    ("<!-- results:begin runs -->\n<!-- results:end runs -->\n" * 2, "twice"),
])
def test_broken_markers_are_an_error(results, tmp_path, text, message, capsys):
    with pytest.raises(readme.MarkerError, match=message):
        readme.render(text, readme.load_results(results), {"runs": readme.RUNS})
    path = tmp_path / "BROKEN.md"
    path.write_text(text)
    assert readme.main(["--check", "--readme", str(path), "--results", str(results)]) == 2


# ---------------------------------------------------------------------------- the row rules


def test_met_and_missed_come_from_the_results_files_own_verdicts(committed):
    render_row = _row(readme.BENCHMARK_ROWS, "synthetic walker render speed")
    data = copy.deepcopy(committed["synth_walker"])
    assert readme.render_row(render_row, data)[3] == ">= 150: met"
    # The file's verdict is shown even where the figure would say otherwise: it is never recomputed.
    _target(data, "render frames/s at 128 px (kinematics + video included)")["passed"] = False
    assert readme.render_row(render_row, data)[3] == ">= 150: **missed**"
    _target(data, "render frames/s at 128 px (kinematics + video included)")["limit"] = 400.0
    assert readme.render_row(render_row, data)[3] == ">= 400: **missed**"

    frames = _row(readme.BENCHMARK_ROWS, "zarr frames: writes")
    storage = copy.deepcopy(committed["storage_throughput"])
    assert readme.render_row(frames, storage)[3] == ">= 500 / >= 1,000: **missed** (1 of 3)"
    _target(storage, "frames_299: full read frames/s")["passed"] = True
    assert readme.render_row(frames, storage)[3] == ">= 500 / >= 1,000: met"
    for target in storage["targets"]:
        target["passed"] = False
    assert readme.render_row(frames, storage)[3] == ">= 500 / >= 1,000: **missed**"


def test_a_missing_results_file_key_or_target_reads_not_measured(committed, results):
    row = _row(readme.BENCHMARK_ROWS, "GaitNN,")
    data = copy.deepcopy(committed["gait_network"])
    assert readme.render_row(row, data)[2:] == ["2.80x / 1.77x", ">= 3x: **missed**"]

    no_key = copy.deepcopy(data)
    del no_key["figures"]["pipeline_inference_speedup"]
    figure, target = readme.render_row(row, no_key)[2:]
    assert figure == readme.NOT_MEASURED and "2.80" not in figure and target == ">= 3x: **missed**"

    null_value = copy.deepcopy(data)
    null_value["figures"]["pipeline_train_speedup"] = None
    assert readme.render_row(row, null_value)[2] == readme.NOT_MEASURED

    no_target = copy.deepcopy(data)
    no_target["targets"] = no_target["targets"][:1]
    assert readme.render_row(row, no_target)[3] == readme.NOT_MEASURED

    what, command, figure, target = readme.render_row(row, None)
    assert (figure, target) == (readme.NOT_MEASURED, readme.NOT_MEASURED)
    assert "?" in what and command == "`python -m benchmarks --full --only gait_network`"

    (results / "gait_network.json").unlink()
    table = "\n".join(readme.render_table(readme.BENCHMARK_ROWS, readme.load_results(results)))
    assert "2.80x" not in table and "| not measured | not measured |" in table
    runs = "\n".join(readme.render_runs(readme.RUNS, readme.load_results(results)))
    assert "| `gait_network.json` | not measured |" in runs


def test_results_from_the_other_set_are_not_shown_for_a_row(committed):
    row = _row(readme.BENCHMARK_ROWS, "GaitNN,")
    quick = copy.deepcopy(committed["gait_network"])
    quick["quick"] = True
    figure, target = readme.render_row(row, quick)[2:]
    assert figure.startswith(readme.NOT_MEASURED) and "quick set" in figure and "2.80" not in figure
    assert target == readme.NOT_MEASURED


def test_the_accuracy_tables_read_the_keys_that_exist(committed):
    data = copy.deepcopy(committed["accuracy"])
    for condition in ("nm", "bg", "cl"):  # the keys of the old protocol are not read
        data["figures"].pop(f"casia_std_gt_rank1_{condition}", None)
        data["figures"][f"casia_gt_rank1_{condition}"] = 0.979
    casia = "\n".join(readme.render_grid(readme.BLOCKS["accuracy-casia"], {"accuracy": data}))
    assert "97.9%" not in casia
    data["figures"].update({f"casia_std_{kind}_rank1_{condition}": value
                            for kind, value in (("learned_svm", 0.24), ("learned_nn", 0.25), ("pred", 0.083),
                                                ("gt", 0.979))
                            for condition in ("nm", "bg", "cl")})
    casia = "\n".join(readme.render_grid(readme.BLOCKS["accuracy-casia"], {"accuracy": data}))
    assert "| nm-05..06 | 24.0% | 25.0% | 8.3% | 97.9% |" in casia
    data["figures"]["casia_std_learned_svm_rank1_bg"] = 0.5
    del data["figures"]["casia_std_gt_rank1_cl"]
    casia = "\n".join(readme.render_grid(readme.BLOCKS["accuracy-casia"], {"accuracy": data}))
    assert "| bg-01..02 | 50.0% |" in casia
    assert "| cl-01..02 | 24.0% | 25.0% | 8.3% | not measured |" in casia


def test_load_average_is_read_from_the_harness_field_and_the_older_figures():
    assert readme.load_average_1min({"load_average": {"start": [0.5, 1, 1], "end": [1.5, 1, 1]}}) == (0.5, 1.5)
    assert readme.load_average_1min({"load_average": {"start": None, "end": None}, "figures": {}}) == (None, None)
    assert readme.load_average_1min({"figures": {"load_average_1min_at_start": 1.69,
                                                 "load_average_1min_at_end": 2.33}}) == (1.69, 2.33)
    assert readme.load_average_1min({"figures": {"load_average_1_5_15_at_start": [0.09, 1, 1],
                                                 "load_average_1_5_15_at_end": [1.96, 1, 1]}}) == (0.09, 1.96)
    assert readme.load_average_1min({"figures": {"load_averages_1_5_15": [[0.2, 1, 1], [3, 1, 1], [2.0, 1, 1]]}}) \
        == (0.2, 2.0)
    assert readme.load_average_1min({"figures": {}}) == (None, None)


def test_fill_looks_keys_up_literally_walks_paths_and_reads_targets():
    data = {"wall_s": 12.5, "figures": {"a.b": 1234.5, "series": [1.25, {"x": 3}], "name": "n"}}
    targets = [{"value": 0.5}]
    assert readme.fill("{a.b:,.0f} {series/0:.1f} {series/1/x} {@wall_s:.0f} {target[0]:.0%} {name}",
                       data, targets) == "1,234 1.2 3 12 50% n"
    with pytest.raises(KeyError):
        readme.fill("{nope}", data)
    with pytest.raises(KeyError):
        readme.fill("{target[1]}", data, targets)
    assert readme.fill("x {nope} y", data, missing="?") == "x ? y"


# ------------------------------------------------------------------------------ the harness


def test_the_harness_records_load_average_commit_and_code_version(tmp_path, monkeypatch):
    loads = iter([[1.0, 1.5, 2.0], [3.0, 3.5, 4.0]])
    calls: list[str] = []

    def fake_load_average():
        calls.append("load")
        return next(loads)

    def run(quick):
        calls.append("run")
        return {"figures": {"x": 1.0}, "targets": [Target("x", 1.0, ">", 0.0)]}

    monkeypatch.setattr(harness, "load_average", fake_load_average)
    harness.run_benchmark("zz_provenance", run, quick=True, directory=tmp_path)
    written = json.loads((tmp_path / "zz_provenance.json").read_text())
    assert calls == ["load", "run", "load"]
    assert written["load_average"] == {"start": [1.0, 1.5, 2.0], "end": [3.0, 3.5, 4.0]}

    head = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert written["git"]["commit"] == head.stdout.strip()
        assert isinstance(written["git"]["dirty"], bool)
    else:  # not a git checkout (an unpacked source archive)
        assert written["git"] == {"commit": None, "dirty": None}
    assert re.fullmatch(r"[0-9a-f]{16}", written["code_version"])
    assert written["code_version"] == provenance.code_version(*harness.CODE_PACKAGES)


def test_the_real_load_average_is_three_numbers():
    measured = harness.load_average()
    if measured is None:
        pytest.skip("no load average on this platform")
    assert len(measured) == 3 and all(isinstance(x, float) and x >= 0 for x in measured)


def test_git_state_is_null_outside_a_checkout_and_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    outside = tmp_path / "not-a-checkout"
    outside.mkdir()
    assert harness.git_state(outside) == {"commit": None, "dirty": None}
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    assert harness.git_state(PROJECT) == {"commit": None, "dirty": None}


def test_git_state_reads_the_commit_and_whether_the_tree_is_dirty(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "repo"
    (repo / "benchmarks" / "results").mkdir(parents=True)
    (repo / "a.py").write_text("A = 1\n")
    (repo / "benchmarks" / "results" / "old.json").write_text("{}\n")

    def git(*arguments: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                               "-c", "commit.gpgsign=false", *arguments],
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    assert harness.git_state(repo) == {"commit": None, "dirty": None}  # no commit yet
    git("add", ".")
    git("commit", "-q", "-m", "one")
    head = git("rev-parse", "HEAD")
    assert harness.git_state(repo) == {"commit": head, "dirty": False}
    # Results written by a run do not make the tree dirty; source does.
    (repo / "benchmarks" / "results" / "old.json").write_text('{"new": 1}\n')
    (repo / "benchmarks" / "results" / "new.json").write_text("{}\n")
    assert harness.git_state(repo) == {"commit": head, "dirty": False}
    (repo / "a.py").write_text("A = 2\n")
    assert harness.git_state(repo) == {"commit": head, "dirty": True}
    git("checkout", "-q", "--", "a.py")
    (repo / "b.py").write_text("B = 1\n")
    assert harness.git_state(repo) == {"commit": head, "dirty": True}


def test_a_result_written_without_run_benchmark_still_says_where_it_came_from(tmp_path):
    result = harness.BenchmarkResult("zz_direct", True, {}, ())
    written = json.loads(harness.write_result(result, tmp_path).read_text())
    assert written["load_average"] == {"start": None, "end": None}  # not measured, not invented
    assert re.fullmatch(r"[0-9a-f]{16}", written["code_version"])
    assert set(written["git"]) == {"commit", "dirty"}


# ------------------------------------------------------------------------------- provenance

TINY = {
    "tinypkg/__init__.py": "from tinypkg.core import VALUE\n",
    "tinypkg/core.py": "VALUE = 1\n",
    "tinypkg/sub/__init__.py": "",
    "tinypkg/sub/deep.py": "def f():\n    return 2\n",
    "tinypkg/notes.txt": "not source\n",
}


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> Path:
    """A tiny package `tinypkg` on sys.path; yields its folder."""
    root = tmp_path / "site"
    _write_tree(root, TINY)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, "tinypkg", raising=False)
    yield root / "tinypkg"
    for name in [m for m in sys.modules if m == "tinypkg" or m.startswith("tinypkg.")]:
        del sys.modules[name]


def test_code_version_is_stable_and_never_imports_the_package(tiny):
    first = provenance.code_version("tinypkg")
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert provenance.code_version("tinypkg") == first == provenance.code_version("tinypkg", "tinypkg")
    assert "tinypkg" not in sys.modules


def test_code_version_changes_when_a_source_file_changes_and_only_then(tiny):
    import os

    first = provenance.code_version("tinypkg")
    # Not source: other files, caches, modification times.
    (tiny / "notes.txt").write_text("edited\n")
    (tiny / "__pycache__").mkdir()
    (tiny / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\0junk")
    (tiny / "data.json").write_text("{}")
    os.utime(tiny / "core.py", (1, 1))
    assert provenance.code_version("tinypkg") == first

    (tiny / "core.py").write_text("VALUE = 2\n")  # one byte differs
    edited = provenance.code_version("tinypkg")
    assert edited != first
    (tiny / "core.py").write_text("VALUE = 1\n")  # content, not history, decides
    assert provenance.code_version("tinypkg") == first

    (tiny / "sub" / "deep.py").write_text("def f():\n    return 3\n")  # a nested module counts
    assert provenance.code_version("tinypkg") != first
    (tiny / "sub" / "deep.py").write_text(TINY["tinypkg/sub/deep.py"])

    (tiny / "extra.py").write_text("")  # a new, even empty, module counts
    assert provenance.code_version("tinypkg") != first
    (tiny / "extra.py").rename(tiny / "other.py")  # so does its name
    renamed = provenance.code_version("tinypkg")
    assert renamed not in (first, edited)
    (tiny / "other.py").unlink()
    importlib.invalidate_caches()
    assert provenance.code_version("tinypkg") == first


def test_code_version_does_not_depend_on_where_the_package_lives(tiny, tmp_path):
    first = provenance.code_version("tinypkg")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tiny, elsewhere / "tinypkg")
    assert provenance.code_version("tinypkg") == first  # still the first on sys.path
    shutil.rmtree(tiny)
    sys.path.insert(0, str(elsewhere))
    try:
        importlib.invalidate_caches()
        assert provenance.code_version("tinypkg") == first
    finally:
        sys.path.remove(str(elsewhere))


def test_code_version_covers_every_named_package_and_names_the_missing(tiny, tmp_path):
    _write_tree(tmp_path / "site", {"otherpkg/__init__.py": "X = 1\n", "single.py": "Y = 1\n"})
    importlib.invalidate_caches()
    both = provenance.code_version("tinypkg", "otherpkg")
    assert both != provenance.code_version("tinypkg")
    assert both == provenance.code_version("otherpkg", "tinypkg")
    (tmp_path / "site" / "otherpkg" / "__init__.py").write_text("X = 2\n")
    assert provenance.code_version("tinypkg", "otherpkg") != both
    assert re.fullmatch(r"[0-9a-f]{16}", provenance.code_version("single"))
    with pytest.raises(ModuleNotFoundError, match="no_such_package_xyz"):
        provenance.code_version("tinypkg", "no_such_package_xyz")
    with pytest.raises(ValueError, match="top-level"):
        provenance.code_version("tinypkg.core")


def test_the_projects_code_version_follows_its_packages():
    version = provenance.code_version(*harness.CODE_PACKAGES)
    assert re.fullmatch(r"[0-9a-f]{16}", version)
    assert version != provenance.code_version(*harness.CODE_PACKAGES[:-1])


def test_provenance_depends_on_the_standard_library_only():
    source = Path(provenance.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}
