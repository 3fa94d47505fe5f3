"""The evaluation's split is a cache input: it must hash the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from prefect.utilities.hashing import hash_objects
from evaluation.labels import SequenceLabels
from tasks.evaluate import choose_split
ids = [f"{s:03d}-nm-01-090" for s in range(1, 13)]
labels = SequenceLabels.from_records([{"subject": i[:3], "condition": "nm", "index": 1,
                                       "view": 90} for i in ids])
train, test = choose_split.fn(labels, "casia-b", "8")
print(hash_objects({"train": train}), len(train), len(test))
"""


def test_the_training_people_hash_the_same_whatever_the_hash_seed():
    outputs = set()
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        outputs.add(done.stdout.strip().splitlines()[-1])
    assert len(outputs) == 1 and outputs.pop().endswith(" 8 4")
