"""Benchmark: HumanPoseNN training steps, the whole network against the branch the loss needs.

The seed's loss reads the smoothed heat-map logits; the second smoothing, the sigmoid and the
joint decoder after them take no part in it. `nets.pose_training.PoseTrainer` therefore runs a
model sharing the network's layers that stops at the logits. This benchmark times one compiled
training step (forward, loss, gradients, Adam update) of the small backbone both ways, in
alternating rounds so both see the same machine load, and reports frames/s and their ratio.

Pose quality is bounded by how many training steps fit the budget (40 minutes on two CPU cores
for the accuracy benchmark), so frames/s of a step is what this measures.

Target: the logits branch is at least 1.2x the whole network (a step that gains nothing would
not be worth the second model).

Run: `python -m benchmarks.pose_training [--full]` or `python -m benchmarks --only pose_training`;
writes `benchmarks/results/pose_training.json` (benchmarks.harness format).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.harness import Target, run_standalone

NAME = "pose_training"
SPEEDUP_TARGET = 1.2


def _step_function(trainer, frames, labels):
    import tensorflow as tf

    @tf.function
    def step():
        return trainer.train_step((frames, labels))

    return step


def measure(quick: bool) -> dict:
    import keras
    import tensorflow as tf

    from nets.pose_network import HumanPoseNN, model_input_size
    from nets.pose_training import PoseTrainer

    batch, rounds, steps = (8, 2, 2) if quick else (16, 4, 4)
    keras.utils.set_random_seed(0)
    model = HumanPoseNN("small")
    size = model_input_size(model)
    rng = np.random.default_rng(0)
    frames = tf.constant(rng.integers(0, 256, (batch, size, size, 3)).astype(np.uint8))
    joints = rng.uniform(0.2 * size, 0.8 * size, (batch, 16, 2)).astype(np.float32)
    labels = {"joints_xy": tf.constant(joints), "presence": tf.ones((batch, 16)), "inside": tf.ones((batch, 16))}
    variants = {}
    for name, training_network in (("whole_network", model), ("logits_branch", None)):
        trainer = PoseTrainer(model)
        if training_network is not None:
            trainer.training_network = training_network  # the step as it was: every output computed
        trainer.compile(optimizer=keras.optimizers.Adam(1e-4))
        trainer.optimizer.build(model.trainable_variables)
        step = _step_function(trainer, frames, labels)
        step()  # trace and warm up
        variants[name] = step
    best = {name: 0.0 for name in variants}
    for _ in range(rounds):
        for name, step in variants.items():
            started = time.perf_counter()
            for _ in range(steps):
                step()
            best[name] = max(best[name], batch * steps / (time.perf_counter() - started))
    return {"batch": batch, "rounds": rounds, "steps_per_round": steps, "frames_per_s": best}


def run(quick: bool) -> dict:
    measured = measure(quick)
    rates = measured["frames_per_s"]
    speedup = rates["logits_branch"] / rates["whole_network"]
    figures = {
        "batch": measured["batch"],
        "whole_network_frames_per_s": round(rates["whole_network"], 2),
        "logits_branch_frames_per_s": round(rates["logits_branch"], 2),
        "logits_branch_speedup": round(speedup, 3),
        "note": "small backbone, 136 px; best of alternating rounds on a shared machine",
    }
    targets = [Target("logits-branch training step vs whole network (frames/s ratio)", speedup, ">=", SPEEDUP_TARGET)]
    return {"figures": figures, "targets": targets}


def main(argv: list[str] | None = None) -> int:
    return run_standalone(NAME, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
