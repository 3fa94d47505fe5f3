"""Benchmark: HumanPoseNN feature extraction throughput against the CPU's matmul limit.

For each backbone, frames/s of the frames -> spatial-features path (what the pipeline runs;
the 289x289 heat-map head is skipped) at several batch sizes, the analytic operations per
frame (`nets.model_flops`), the GFLOP/s this makes, and the GFLOP/s of a large fp32 matrix
product measured in the same process, so the efficiency ratio is visible.

Target: the full Inception-ResNet-v2 trunk reaches >= 80 % of the matmul rate at its best
batch size. Timings on a shared machine are noisy: each figure is the best of several
timed rounds.

Run: `python -m benchmarks.pose_network [--quick]`; writes
`benchmarks/results/pose_network.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "pose_network.json"
EFFICIENCY_TARGET = 0.80


class MatmulProbe:
    """GFLOP/s of chained (size x size) fp32 matrix products, sampled between model
    rounds so that the model and the limit see the same machine load; `best` is the
    highest sample (the least loaded moment), the conservative denominator."""

    def __init__(self, size: int = 3072, products: int = 2):
        import tensorflow as tf

        self.flops = 2.0 * size**3 * products
        self._a = tf.random.normal((size, size))
        b = tf.random.normal((size, size)) / size**0.5

        @tf.function
        def chain(x):
            for _ in range(products):
                x = tf.matmul(x, b)
            return x

        self._chain = chain
        self._chain(self._a).numpy()
        self.best = 0.0

    def sample(self) -> float:
        start = time.perf_counter()
        self._chain(self._a).numpy()
        rate = self.flops / (time.perf_counter() - start) / 1e9
        self.best = max(self.best, rate)
        return rate


def frames_per_second(extractor, batch_size: int, *, min_seconds: float, rounds: int,
                      probe: MatmulProbe) -> float:
    """Best frames/s of `extractor` (a compiled call) on random uint8 frames; the matmul
    probe is sampled before every round."""
    import tensorflow as tf

    size = extractor.inputs[0].shape[1]
    frames = tf.constant(
        np.random.default_rng(0).integers(0, 256, (batch_size, size, size, 3), dtype=np.uint8)
    )
    call = tf.function(lambda x: extractor(x, training=False))
    call(frames).numpy()  # trace and warm up
    best = 0.0
    for _ in range(rounds):
        probe.sample()
        calls, start = 0, time.perf_counter()
        while True:
            call(frames).numpy()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = max(best, calls * batch_size / elapsed)
    probe.sample()
    return best


def run(quick: bool) -> dict:
    """Measures both backbones; returns the results dict (also what `main` writes)."""
    import keras
    import tensorflow as tf

    from nets.model_flops import model_flops
    from nets.pose_network import HumanPoseNN, feature_extractor

    keras.utils.set_random_seed(0)
    probe = MatmulProbe()
    plans = {
        "inception_resnet_v2": [1, 8] if quick else [1, 4, 8, 16],
        "small": [8, 32] if quick else [1, 8, 32, 64],
    }
    min_seconds, rounds = (1.0, 2) if quick else (3.0, 3)

    backbones = {}
    for backbone, batch_sizes in plans.items():
        extractor = feature_extractor(HumanPoseNN(backbone))
        flops = model_flops(extractor)
        rows = []
        for batch_size in batch_sizes:
            fps = frames_per_second(extractor, batch_size, min_seconds=min_seconds,
                                    rounds=rounds, probe=probe)
            rows.append({"batch_size": batch_size, "frames_per_second": round(fps, 2),
                         "gflops_per_second": round(flops * fps / 1e9, 1)})
        backbones[backbone] = {
            "input_size": extractor.inputs[0].shape[1],
            "gflop_per_frame": round(flops / 1e9, 3),
            "parameters": extractor.count_params(),
            "batches": rows,
        }
        del extractor
        keras.backend.clear_session()

    limit = probe.best
    for backbone in backbones.values():
        for row in backbone["batches"]:
            row["efficiency"] = round(row["gflops_per_second"] / limit, 3)
    best = max(row["efficiency"] for row in backbones["inception_resnet_v2"]["batches"])
    return {
        "benchmark": "pose_network",
        "quick": quick,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                    "tensorflow": tf.__version__, "keras": keras.__version__,
                    "note": "shared machine: timings are best-of-rounds and still noisy"},
        "matmul_gflops_per_second": round(limit, 1),
        "backbones": backbones,
        "targets": [{
            "name": "inception_resnet_v2 feature extraction >= 80% of fp32 matmul GFLOP/s",
            "target": EFFICIENCY_TARGET,
            "measured": best,
            "pass": best >= EFFICIENCY_TARGET,
        }],
    }


def _table(results: dict) -> str:
    lines = [f"fp32 matmul: {results['matmul_gflops_per_second']:.0f} GFLOP/s",
             f"{'backbone':<20} {'batch':>5} {'frames/s':>9} {'GFLOP/s':>8} {'of matmul':>9}"]
    for name, backbone in results["backbones"].items():
        for row in backbone["batches"]:
            lines.append(f"{name:<20} {row['batch_size']:>5} {row['frames_per_second']:>9.1f} "
                         f"{row['gflops_per_second']:>8.0f} {row['efficiency']:>9.0%}")
        lines.append(f"{'':<20} ({backbone['gflop_per_frame']} GFLOP/frame, "
                     f"{backbone['input_size']} px input)")
    for target in results["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        lines.append(f"{verdict}: {target['name']}: {target['measured']:.0%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes, shorter runs")
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
