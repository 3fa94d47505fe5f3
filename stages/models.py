"""Saving trained models under their content digest, with a record of how they were made."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras


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

    from keras import ops

    broken = [weight.path for weight in model.weights if not np.isfinite(ops.convert_to_numpy(weight)).all()]
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


def is_seed_checkpoint(reference: str | os.PathLike) -> bool:
    """Whether `reference` is the prefix of a TF1 checkpoint (`<prefix>.index` beside it), as the
    seed's `MPII+LSP.ckpt` and `Human3.6m.ckpt` are."""
    text = os.fspath(reference)
    return not text.endswith(".keras") and Path(text + ".index").is_file()


def checkpoint_digest(prefix: str | os.PathLike) -> str:
    """First 16 hex digits of the SHA-256 over a TF1 checkpoint's index and data shards."""
    prefix = Path(prefix)
    files = [Path(f"{prefix}.index"), *sorted(prefix.parent.glob(f"{prefix.name}.data-*"))]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.removeprefix(prefix.name).encode())
        with open(path, "rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()[:16]


def converted_seed_pose_model(prefix: str | os.PathLike, cache_dir: str | Path, **model_kwargs) -> TrainedModel:
    """The seed's TF1 pose checkpoint as a `.keras` model, converted once and then re-used.

    The cache key is the checkpoint's content (`checkpoint_digest`), the version of the
    converting code and `model_kwargs` (for reduced test models), so a replaced checkpoint or a
    changed importer converts again. The model is saved like a trained one
    (`<cache_dir>/pose-<digest>.keras` with its record); `seed-pose-<key>.json` points to it.

    Raises:
      nets.checkpoints.SeedCheckpointError: variables missing or mis-shaped, all listed; nothing is saved.
    """
    from nets.pose_network import HumanPoseNN
    from provenance import module_version

    prefix = os.path.abspath(os.fspath(prefix))
    content = checkpoint_digest(prefix)
    converter = module_version("nets.checkpoints")
    key = hashlib.sha256(json.dumps([content, converter, model_kwargs], sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(cache_dir)
    pointer = folder / f"seed-pose-{key}.json"
    if pointer.is_file():
        saved = json.loads(pointer.read_text())
        if Path(saved["path"]).is_file():
            return TrainedModel(saved["path"], saved["digest"], read_record(saved["path"]))
    model = HumanPoseNN("inception_resnet_v2", weights=prefix, **model_kwargs)
    record = {"source": "seed TF1 checkpoint", "checkpoint": prefix, "checkpoint_sha256": content,
              "converter_code_version": converter, "backbone": "inception_resnet_v2", "model_kwargs": model_kwargs}
    trained = save_trained_model(model, folder, "pose", record)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".seed-pose-", suffix=".json")
    with os.fdopen(handle, "w") as stream:
        json.dump({"path": trained.path, "digest": trained.digest, "checkpoint": prefix}, stream)
    os.replace(temporary, pointer)
    return trained


@functools.lru_cache(maxsize=2)
def load_cached(model_path: str, digest: str) -> keras.Model:
    """A model loaded once per worker process (keyed by digest, so a changed file reloads).

    `model_path` is a file, or a model kept in an object store (`s3://...#models/<file>`, see
    `storage.object_store.publish_model_file`), fetched into this machine's cache first.
    """
    from nets.checkpoints import load_model

    return load_model(local_model_file(model_path))


def local_model_file(reference: str) -> str:
    """A model file on this machine: the path itself, or the cached copy of a model kept in an
    object store."""
    from storage.object_store import fetch_model_file, is_model_reference

    return str(fetch_model_file(reference)) if is_model_reference(reference) else reference
