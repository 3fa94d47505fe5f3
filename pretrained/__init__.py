"""Model files that ship with gaitflow, and where they are.

`synthetic_pose_small.keras`: the small HumanPoseNN trained on gaitflow's own synthetic
walkers (96 people of a seed no demo, test or benchmark archive uses), made by
`python -m gaitflow.packaged_pose`; `synthetic_pose_small.json` records how and its quality
on held-out synthetic people. Trained on synthetic frames only: a starting point for
`train-pose` (`initial_model="synthetic"`), not a pose estimator for real footage.
"""

from __future__ import annotations

from pathlib import Path

SYNTHETIC_POSE_MODEL = Path(__file__).resolve().parent / "synthetic_pose_small.keras"
SYNTHETIC_POSE_RECORD = SYNTHETIC_POSE_MODEL.with_suffix(".json")

# The packaged models by the name a model option takes for them (`--pose-model synthetic`).
PACKAGED_MODELS: dict[str, Path] = {"synthetic": SYNTHETIC_POSE_MODEL}

__all__ = ["PACKAGED_MODELS", "SYNTHETIC_POSE_MODEL", "SYNTHETIC_POSE_RECORD"]
