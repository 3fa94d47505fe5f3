"""Saving trained models under their content digest, with a record of how they were made."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import keras
import numpy as np


@dataclasses.dataclass(frozen=True)
class TrainedModel:
    """A saved model: its file, digest (the tag its outputs are stored under) and record."""

    path: str
    digest: str
    record: dict


def file_digest(path: str | Path) -> str:
    """First 12 hex digits of the SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:12]


def save_trained_model(model: keras.Model, model_dir: str | Path, kind: str, record: dict) -> TrainedModel:
    """Saves `model` as `<model_dir>/<kind>-<digest>.keras` plus a `.json` record, atomically.

    Raises:
      ValueError: a weight holds NaN or infinity (a diverged training); nothing is saved.
    """
    from nets.checkpoints import save_model

    broken = [weight.path for weight in model.weights if not np.isfinite(keras.ops.convert_to_numpy(weight)).all()]
    if broken:
        raise ValueError(
            f"{kind} model: training produced non-finite weights in {len(broken)} variables "
            f"({', '.join(broken[:3])}); nothing was saved"
        )
    folder = Path(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".saving-") as scratch:
        temporary = Path(scratch) / "model.keras"
        save_model(model, temporary)
        digest = file_digest(temporary)
        final = folder / f"{kind}-{digest}.keras"
        full_record = {**record, "kind": kind, "digest": digest}
        record_tmp = Path(scratch) / "model.json"
        record_tmp.write_text(json.dumps(full_record, indent=1, default=str))
        os.replace(record_tmp, final.with_suffix(".json"))
        os.replace(temporary, final)
    return TrainedModel(str(final), digest, full_record)


def read_record(model_path: str | Path) -> dict:
    """The record saved beside a model file, or {} for a model made elsewhere."""
    record = Path(model_path).with_suffix(".json")
    return json.loads(record.read_text()) if record.is_file() else {}


@functools.lru_cache(maxsize=2)
def load_cached(model_path: str, digest: str) -> keras.Model:
    """A model loaded once per worker process (keyed by digest, so a changed file reloads)."""
    from nets.checkpoints import load_model

    return load_model(model_path)
