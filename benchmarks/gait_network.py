"""Benchmark: GaitNN with batches of masked sequences against the seed's one sequence per step.

The seed trains and infers one sequence per step (`GaitNetwork.train` / `feed_forward`).
GaitNN here takes padded batches with a mask. Both ways are timed on the same model and the
same random feature sequences (lengths like CASIA-B walks at 25 fps):
  - training as `train_gait` trains: random clips of `clip_frames` frames (the pipeline's
    default), one clip per step against `people_per_batch x sequences_per_person` clips per
    step (steps/s, sequences/s, frames/s);
  - inference as `describe` runs: whole walks, one per call against batches of 16
    (descriptors/s, frames/s).
The model is the pipeline's default layout (`GaitTrainingOptions`); full runs add the layout
with the seed's extra residual blocks chained.

Targets: batched training and batched inference each process >= 3x the sequences per
second of one sequence per step. Timings on a shared machine are noisy: each figure is the
best of several timed rounds.

Run: `python -m benchmarks.gait_network [--full]` or `python -m benchmarks --only
gait_network`; writes `benchmarks/results/gait_network.json` (benchmarks.harness format).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.harness import Target, run_standalone

NAME = "gait_network"
SPEEDUP_TARGET = 3.0
INFERENCE_BATCH = 16  # `gait_descriptors`' default
ANALYSIS = (
    "Batching shares the per-step overheads, the recurrent layers' weight reads and the "
    "optimizer update among the sequences of a step. On training clips those dominate a "
    "one-clip step. Inference over whole walks (50+ frames) is bound by the per-frame "
    "convolutions, the same work either way, so batching gains little there on a CPU."
)


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


def _clips(sequences: list[np.ndarray], frames: int, seed: int = 1) -> list[np.ndarray]:
    """A random window of `frames` frames from each sequence, as `train_gait` cuts them."""
    rng = np.random.default_rng(seed)
    return [s[start : start + frames] for s in sequences
            for start in [int(rng.integers(0, len(s) - frames + 1))]]


def _measure(model_kwargs: dict, sequences: list[np.ndarray], clips: list[np.ndarray],
             train_batch: int, rounds: int) -> dict:
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
    clip_frames = sum(len(c) for c in clips)

    def one(sequence):
        return {"features": sequence[None], "mask": np.ones((1, len(sequence)), bool)}

    batches = []
    for start in range(0, len(clips), train_batch):
        features, mask = pad_sequences(clips[start : start + train_batch])
        batches.append(({"features": features, "mask": mask}, labels[start : start + train_batch]))

    # Warm up every path on two shapes, so tracing and shape relaxation are done.
    for sequence, clip, label in zip(sequences[:3], clips[:3], labels[:3]):
        trainer.train_on_batch(one(clip), label[None])
        model.predict_on_batch(one(sequence))
    for inputs, batch_labels in batches[:2]:
        trainer.train_on_batch(inputs, batch_labels)
    gait_descriptors(model, sequences[: 2 * INFERENCE_BATCH], batch_size=INFERENCE_BATCH)

    def train_seed():
        for clip, label in zip(clips, labels):
            trainer.train_on_batch(one(clip), label[None])

    def train_batched():
        for inputs, batch_labels in batches:
            trainer.train_on_batch(inputs, batch_labels)

    def infer_seed():
        for sequence in sequences:
            model.predict_on_batch(one(sequence))

    def infer_batched():
        gait_descriptors(model, sequences, batch_size=INFERENCE_BATCH)

    n = len(sequences)
    results = {}
    for mode, train, infer, steps in (("seed", train_seed, infer_seed, n),
                                      ("batched", train_batched, infer_batched, len(batches))):
        train_rate = _best_rate(train, n, rounds)
        infer_rate = _best_rate(infer, n, rounds)
        results[mode] = {
            "train_sequences_per_step": 1 if mode == "seed" else train_batch,
            "train_steps_per_second": round(train_rate * steps / n, 3),
            "train_sequences_per_second": round(train_rate, 3),
            "train_frames_per_second": round(train_rate * clip_frames / n, 1),
            "descriptors_per_second": round(infer_rate, 3),
            "inference_frames_per_second": round(infer_rate * frames / n, 1),
        }
    results["train_speedup"] = round(results["batched"]["train_sequences_per_second"]
                                     / results["seed"]["train_sequences_per_second"], 2)
    results["inference_speedup"] = round(results["batched"]["descriptors_per_second"]
                                         / results["seed"]["descriptors_per_second"], 2)
    keras.backend.clear_session()
    return results


def measure(quick: bool) -> dict:
    """Times both ways for the pipeline's GaitNN (and, in full runs, the chained layout)."""
    from params import GaitTrainingOptions
    from nets.gait_network import GaitNN
    from nets.model_flops import model_flops

    options = GaitTrainingOptions()
    train_batch = options.people_per_batch * options.sequences_per_person
    count, low, high, rounds = (train_batch, 50, 80, 1) if quick else (2 * train_batch, 50, 110, 2)
    sequences = _sequences(count, low, high)
    clips = _clips(sequences, options.clip_frames)
    pipeline = {"extra_residual_blocks": options.residual_blocks, "rnn_layers": options.rnn_layers,
                "recurrent_unit": options.recurrent_unit}
    configurations = {"pipeline": pipeline}
    if not quick:
        configurations["chained"] = {**pipeline, "extra_residual_blocks": "chained"}
    measured = {}
    for name, kwargs in configurations.items():
        measured[name] = {
            "model": kwargs,
            "gflop_per_frame": round(model_flops(GaitNN(**kwargs)) / 1e9, 3),
            **_measure(kwargs, sequences, clips, train_batch, rounds),
        }
    return {
        "sequences": {"count": count, "frames": sum(len(s) for s in sequences),
                      "length_range": [low, high], "inference_batch": INFERENCE_BATCH,
                      "clip_frames": options.clip_frames, "train_batch": train_batch},
        "configurations": measured,
    }


def summarise(measured: dict) -> dict:
    """`measure`'s results as the harness's flat figures and targets."""
    sequences = measured["sequences"]
    figures: dict = {
        "sequences": sequences["count"],
        "frames": sequences["frames"],
        "sequence_length_range": list(sequences["length_range"]),
        "training_clip_frames": sequences["clip_frames"],
        "training_sequences_per_batch": sequences["train_batch"],
        "inference_sequences_per_batch": sequences["inference_batch"],
    }
    for name, config in measured["configurations"].items():
        figures[f"{name}_gflop_per_frame"] = config["gflop_per_frame"]
        for mode in ("seed", "batched"):
            row = config[mode]
            prefix = f"{name}_{mode}"
            figures[f"{prefix}_train_steps_per_s"] = row["train_steps_per_second"]
            figures[f"{prefix}_train_sequences_per_s"] = row["train_sequences_per_second"]
            figures[f"{prefix}_train_frames_per_s"] = row["train_frames_per_second"]
            figures[f"{prefix}_descriptors_per_s"] = row["descriptors_per_second"]
            figures[f"{prefix}_inference_frames_per_s"] = row["inference_frames_per_second"]
        figures[f"{name}_train_speedup"] = config["train_speedup"]
        figures[f"{name}_inference_speedup"] = config["inference_speedup"]
    figures["analysis"] = ANALYSIS
    figures["note"] = "shared 2-core machine: best-of-rounds figures, still noisy"
    pipeline = measured["configurations"]["pipeline"]
    targets = [
        Target("batched training sequences/s over one sequence per step",
               pipeline["train_speedup"], ">=", SPEEDUP_TARGET),
        Target("batched descriptors/s over one sequence per step",
               pipeline["inference_speedup"], ">=", SPEEDUP_TARGET),
    ]
    return {"figures": figures, "targets": targets}


def run(quick: bool) -> dict:
    """The harness entry point: `{"figures": ..., "targets": [Target]}`."""
    return summarise(measure(quick))


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.gait_network [--full]`: prints the tables and writes
    `benchmarks/results/gait_network.json` (benchmarks.harness format)."""
    return run_standalone(NAME, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
