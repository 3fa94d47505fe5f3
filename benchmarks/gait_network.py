"""Benchmark: GaitNN with batches of masked sequences against the seed's one sequence per step.

The seed trains and infers one sequence per step (`GaitNetwork.train` / `feed_forward`).
GaitNN here takes padded batches with a mask. Both ways are timed on the same model and the
same random feature sequences (lengths like CASIA-B walks at 25 fps), for training (steps/s,
sequences/s, frames/s) and for inference (descriptors/s, frames/s).

Targets: batched training and batched inference each process >= 3x the sequences per
second of one sequence per step. Timings on a shared machine are noisy: each figure is the
best of several timed rounds.

Run: `python -m benchmarks.gait_network [--quick]`; writes
`benchmarks/results/gait_network.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "gait_network.json"
SPEEDUP_TARGET = 3.0
BATCH_SIZE = 16


def _sequences(count: int, low: int, high: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 50, (int(t), 17, 17, 32)).astype(np.float32)
            for t in rng.integers(low, high + 1, count)]


def _best_rate(work, items: int, rounds: int) -> float:
    """Best items/s over `rounds` timed runs of `work()`."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        best = max(best, items / (time.perf_counter() - start))
    return best


def _measure(model_kwargs: dict, sequences: list[np.ndarray], rounds: int) -> dict:
    import keras

    from nets.gait_network import GaitNN, gait_descriptors, pad_sequences
    from nets.gait_training import GaitTrainer

    keras.utils.set_random_seed(0)
    identities = 8
    labels = np.arange(len(sequences)) % identities
    model = GaitNN(num_identities=identities, **model_kwargs)
    trainer = GaitTrainer(model)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-4, global_clipnorm=0.1),
                    jit_compile=False)
    trainer.optimizer.build(model.trainable_variables)
    frames = sum(len(s) for s in sequences)

    def one(sequence):
        return {"features": sequence[None], "mask": np.ones((1, len(sequence)), bool)}

    order = np.argsort([len(s) for s in sequences], kind="stable")
    batches = []
    for start in range(0, len(order), BATCH_SIZE):
        rows = order[start : start + BATCH_SIZE]
        features, mask = pad_sequences([sequences[i] for i in rows], length_multiple=8)
        batches.append(({"features": features, "mask": mask}, labels[rows]))

    # Warm up every path on two shapes, so tracing and shape relaxation are done.
    for sequence, label in zip(sequences[:3], labels[:3]):
        trainer.train_on_batch(one(sequence), label[None])
        model.predict_on_batch(one(sequence))
    for inputs, batch_labels in batches[:2]:
        trainer.train_on_batch(inputs, batch_labels)
    gait_descriptors(model, sequences[: 2 * BATCH_SIZE], batch_size=BATCH_SIZE)

    def train_seed():
        for sequence, label in zip(sequences, labels):
            trainer.train_on_batch(one(sequence), label[None])

    def train_batched():
        for inputs, batch_labels in batches:
            trainer.train_on_batch(inputs, batch_labels)

    def infer_seed():
        for sequence in sequences:
            model.predict_on_batch(one(sequence))

    def infer_batched():
        gait_descriptors(model, sequences, batch_size=BATCH_SIZE)

    n = len(sequences)
    results = {}
    for mode, train, infer, steps in (("seed", train_seed, infer_seed, n),
                                      ("batched", train_batched, infer_batched, len(batches))):
        train_rate = _best_rate(train, n, rounds)
        infer_rate = _best_rate(infer, n, rounds)
        results[mode] = {
            "sequences_per_step": 1 if mode == "seed" else BATCH_SIZE,
            "train_steps_per_second": round(train_rate * steps / n, 3),
            "train_sequences_per_second": round(train_rate, 3),
            "train_frames_per_second": round(train_rate * frames / n, 1),
            "descriptors_per_second": round(infer_rate, 3),
            "inference_frames_per_second": round(infer_rate * frames / n, 1),
        }
    results["train_speedup"] = round(results["batched"]["train_sequences_per_second"]
                                     / results["seed"]["train_sequences_per_second"], 2)
    results["inference_speedup"] = round(results["batched"]["descriptors_per_second"]
                                         / results["seed"]["descriptors_per_second"], 2)
    keras.backend.clear_session()
    return results


def run(quick: bool) -> dict:
    """Times both ways for the default GaitNN (and, in full runs, the seed's own layout)."""
    import keras
    import tensorflow as tf

    from nets.gait_network import GaitNN
    from nets.model_flops import model_flops

    count, low, high, rounds = (16, 20, 40, 1) if quick else (32, 50, 110, 2)
    sequences = _sequences(count, low, high)
    configurations = {"default": {}}
    if not quick:
        configurations["seed_layout"] = {"extra_residual_blocks": "discarded"}
    measured = {}
    for name, kwargs in configurations.items():
        measured[name] = {
            "model": kwargs,
            "gflop_per_frame": round(model_flops(GaitNN(**kwargs)) / 1e9, 3),
            **_measure(kwargs, sequences, rounds),
        }
    default = measured["default"]
    return {
        "benchmark": "gait_network",
        "quick": quick,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                    "tensorflow": tf.__version__, "keras": keras.__version__,
                    "note": "shared machine: timings are best-of-rounds and still noisy"},
        "sequences": {"count": count, "frames": sum(len(s) for s in sequences),
                      "length_range": [low, high], "batch_size": BATCH_SIZE},
        "configurations": measured,
        "targets": [
            {"name": "batched training sequences/s >= 3x one sequence per step",
             "target": SPEEDUP_TARGET, "measured": default["train_speedup"],
             "pass": default["train_speedup"] >= SPEEDUP_TARGET},
            {"name": "batched descriptors/s >= 3x one sequence per step",
             "target": SPEEDUP_TARGET, "measured": default["inference_speedup"],
             "pass": default["inference_speedup"] >= SPEEDUP_TARGET},
        ],
    }


def _table(results: dict) -> str:
    lines = [f"{'model':<12} {'mode':<8} {'steps/s':>8} {'train seq/s':>11} "
             f"{'train fr/s':>10} {'desc/s':>8} {'infer fr/s':>10}"]
    for name, config in results["configurations"].items():
        for mode in ("seed", "batched"):
            row = config[mode]
            lines.append(
                f"{name:<12} {mode:<8} {row['train_steps_per_second']:>8.2f} "
                f"{row['train_sequences_per_second']:>11.2f} "
                f"{row['train_frames_per_second']:>10.0f} {row['descriptors_per_second']:>8.2f} "
                f"{row['inference_frames_per_second']:>10.0f}")
        lines.append(f"{name:<12} speed-up: training x{config['train_speedup']}, "
                     f"inference x{config['inference_speedup']} "
                     f"({config['gflop_per_frame']} GFLOP/frame)")
    for target in results["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        lines.append(f"{verdict}: {target['name']}: x{target['measured']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter sequences")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = run(args.quick)
    print(_table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
