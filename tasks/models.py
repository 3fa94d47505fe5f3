"""Task that finds a model file given as a local path or an MLflow artifact URI."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from params import TrackingParams
from pretrained import PACKAGED_MODELS
from stages.models import converted_seed_pose_model, file_digest, is_seed_checkpoint
from tasks.retries import IO_RETRIES
from tracking import mlflow_tracking


def is_model_uri(reference: str) -> bool:
    return reference.startswith(("runs:/", "models:/", "mlflow-artifacts:/"))


def _not_retried(task, run, state) -> bool:
    """A checkpoint that does not fit the network stays unfit: only I/O errors are retried."""
    from nets.checkpoints import SeedCheckpointError

    try:
        state.result()
    except SeedCheckpointError:
        return False
    except Exception:  # noqa: BLE001 - any other failure may be passing I/O trouble
        return True
    return True


@task(name="resolve-model", retry_condition_fn=_not_retried, **IO_RETRIES)
def resolve_model(reference: str, tracking: TrackingParams, download_dir: str) -> tuple[str, str]:
    """(local .keras path, digest) of a model given as a file path, an MLflow artifact URI, the
    name of a model that ships with gaitflow (`PACKAGED_MODELS`: "synthetic"), or the prefix of one of the seed's TF1 pose checkpoints (`.../MPII+LSP.ckpt`), which is converted
    once into a `.keras` model cached beside `download_dir` (keyed by the checkpoint's content)."""
    if reference in PACKAGED_MODELS:
        packaged = PACKAGED_MODELS[reference]
        if not packaged.is_file():
            raise FileNotFoundError(f"{packaged}: the packaged {reference!r} model is missing from this installation; "
                                    "make it with `python -m gaitflow.packaged_pose`")
        return str(packaged), file_digest(packaged)
    if is_seed_checkpoint(reference):
        converted = converted_seed_pose_model(reference, Path(download_dir).with_name("converted"))
        return converted.path, converted.digest
    if is_model_uri(reference):
        local = mlflow_tracking.fetch_model_file(tracking.tracking_uri, reference, Path(download_dir))
    else:
        local = Path(reference).expanduser().resolve()
    if not local.is_file() or local.suffix != ".keras":
        raise FileNotFoundError(
            f"{reference}: not a saved Keras model (.keras file), an MLflow model URI, or a seed TF1 checkpoint "
            "prefix (the path without .index / .data-*)"
        )
    return str(local), file_digest(local)


@task(name="share-model", **IO_RETRIES)
def shared_model(store: str, model_path: str) -> str:
    """What workers load a model by: on a store on disk, its path (the workers share the disk); on
    an object store, the copy kept in the store (`<store URL>#models/<file>`), uploaded once."""
    from storage.object_store import ObjectSequenceStore, publish_model_file
    from storage.store import SequenceStore

    opened = SequenceStore(store)
    return publish_model_file(opened, model_path) if isinstance(opened, ObjectSequenceStore) else model_path
