"""`gaitflow demo` as a new user runs it: its wall time and what it prints, with targets.

The demo renders a small synthetic archive and runs the whole pipeline on it (see
`gaitflow/cli.py`). This benchmark runs the real command in a fresh home folder, as a
subprocess, and reads its `--json` output: the standard-protocol rank-1 of each classifier
beside chance, GaitNN's final training accuracy beside the chance of guessing among the
people it trains on, and the pose network's quality on people it never trained on.

Targets (full mode, the demo as shipped): it ends within 15 minutes on two cores; GaitNN's
training accuracy is at least three times its chance; the mean standard rank-1 of the SVM is
at least twice chance. Quick mode runs a smaller demo (fewer people) to check the machinery
and sets no targets.

Run: `python -m benchmarks --full --only demo`; results go to benchmarks/results/demo.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Target, run_standalone

NAME = "demo"
DEMO_SECONDS_LIMIT = 15 * 60


def run(quick: bool) -> dict[str, Any]:
    subjects = 6 if quick else None
    with tempfile.TemporaryDirectory(prefix="gaitflow-demo-bench-") as folder:
        home = Path(folder) / "home"
        command = [sys.executable, "-m", "gaitflow.cli", "--home", str(home), "demo", "--json"]
        if subjects is not None:
            command += ["--subjects", str(subjects)]
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "GAITFLOW_"))}
        started = time.perf_counter()
        finished = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
        wall = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"gaitflow demo exited {finished.returncode}: {finished.stderr[-3000:]}")
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    figures: dict[str, Any] = {"wall_s": round(wall, 1), "test_people": summary["test_subjects"],
                               "training_people": summary["train_subjects"]}
    for classifier, report in summary["results"].items():
        rank1 = report["standard_rank1"]
        figures[f"{classifier}_standard_rank1_mean"] = sum(rank1.values()) / len(rank1)
        for condition, value in rank1.items():
            figures[f"{classifier}_standard_rank1_{condition}"] = value
    chance = summary["results"]["svm"]["chance"]
    figures["chance"] = sum(chance.values()) / len(chance)
    gait = summary["gait_training"]
    figures["gait_training_accuracy"] = gait.get("accuracy", float("nan"))
    figures["gait_training_chance"] = 1.0 / figures["training_people"]
    for name, value in summary.get("pose_training", {}).items():
        if name.startswith("heldout/"):
            figures["pose_" + name.removeprefix("heldout/").replace("/", "_").replace(".", "p")] = value
    targets = []
    if not quick:
        targets = [
            Target("demo wall time (s)", wall, "<=", DEMO_SECONDS_LIMIT),
            Target("GaitNN training accuracy / its chance", figures["gait_training_accuracy"] / figures["gait_training_chance"], ">=", 3.0),
            Target("SVM mean standard rank-1 / chance", figures["svm_standard_rank1_mean"] / figures["chance"], ">=", 2.0),
        ]
    print(f"gaitflow demo: {wall:.0f} s; SVM rank-1 {100 * figures['svm_standard_rank1_mean']:.1f} % "
          f"(chance {100 * figures['chance']:.1f} %); GaitNN training accuracy "
          f"{100 * figures['gait_training_accuracy']:.1f} % (chance {100 * figures['gait_training_chance']:.1f} %)")
    return {"figures": figures, "targets": targets}


def main(argv=None) -> int:
    return run_standalone(NAME, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
