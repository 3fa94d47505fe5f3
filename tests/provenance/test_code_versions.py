"""Results know the code that made them: edit the code in a copy of the project, see them recomputed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.videos import moving_square_frames, write_video

PROJECT = Path(__file__).resolve().parents[2]
PACKAGES = ("provenance", "storage", "evaluation", "stages", "nets")

_INGEST_AND_VERSIONS = """
import json, sys
from provenance import module_version
from storage.frames import FrameSpec
from storage.ingest import ingest_sequence
from storage.manifest import discover
from storage.store import SequenceStore

archive, store_path = sys.argv[1], sys.argv[2]
store = SequenceStore(store_path, create=True)
outcomes = [ingest_sequence(store, entry, FrameSpec(size=32), layout="casia-b").status
            for entry in discover(archive, "casia-b").entries]
print(json.dumps({
    "outcomes": outcomes,
    "evaluation": module_version("evaluation.protocols"),
    "pose_training": module_version("stages.pose_training"),
}))
"""


def _run_in(copy: Path, archive: Path, store: Path) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(copy)}
    finished = subprocess.run([sys.executable, "-c", _INGEST_AND_VERSIONS, str(archive), str(store)],
                              cwd=copy, env=environment, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_a_code_change_recomputes_exactly_what_that_code_made(tmp_path):
    copy = tmp_path / "project"
    for package in PACKAGES:
        shutil.copytree(PROJECT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    archive, store = tmp_path / "archive", tmp_path / "store.zarr"
    write_video(archive / "video" / "001-nm-01-090.avi", moving_square_frames(8), fps=25)

    first = _run_in(copy, archive, store)
    again = _run_in(copy, archive, store)
    assert first["outcomes"] == ["stored"] and again["outcomes"] == ["skipped"]
    assert again["evaluation"] == first["evaluation"] and again["pose_training"] == first["pose_training"]

    # A fix in the decoding code: the stored sequence was made by the old code, so it is decoded again.
    with open(copy / "storage" / "frames.py", "a") as source:
        source.write("\n# a bug fix\n")
    after_decoding_fix = _run_in(copy, archive, store)
    assert after_decoding_fix["outcomes"] == ["stored"]
    assert after_decoding_fix["evaluation"] == first["evaluation"]

    # A fix in a metric: the evaluation's version moves, the pose training's does not.
    with open(copy / "evaluation" / "protocols.py", "a") as source:
        source.write("\n# a metric fix\n")
    after_metric_fix = _run_in(copy, archive, store)
    assert after_metric_fix["outcomes"] == ["skipped"]
    assert after_metric_fix["evaluation"] != first["evaluation"]
    assert after_metric_fix["pose_training"] == first["pose_training"]


def test_a_file_edited_in_the_same_process_is_parsed_again(tmp_path):
    from provenance import _imported_names

    source = tmp_path / "module.py"
    source.write_text("import storage.store\n")
    stat = source.stat()
    assert _imported_names(str(source), stat.st_mtime_ns, stat.st_size, "flows") == ("storage.store",)
    source.write_text("from . import common\nfrom nets.layers import ScaledResidual\n")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    stat = source.stat()
    assert _imported_names(str(source), stat.st_mtime_ns, stat.st_size, "flows") == (
        "flows", "flows.common", "nets.layers", "nets.layers.ScaledResidual")
