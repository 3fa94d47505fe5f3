"""What every flow does the same way: an MLflow run around it, bundles of work, progress."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Sequence, TypeVar

from prefect import get_run_logger
from prefect.futures import PrefectFuture, as_completed

from tracking import progress
from params import Params, TrackingParams
from tracking.flow_runs import close_tracking_run, open_tracking_run

Item = TypeVar("Item")


@contextlib.contextmanager
def tracked_run(tracking: TrackingParams, name: str, params: Params) -> Iterator[str]:
    """An MLflow run for the flow's whole body, marked failed if the body raises."""
    run_id = open_tracking_run(tracking, name, params.model_dump(mode="json"))
    try:
        yield run_id
    except BaseException:
        close_tracking_run(tracking, run_id, failed=True)
        raise
    close_tracking_run(tracking, run_id)


@contextlib.contextmanager
def store_writer(store: Path, *, create: bool = False) -> Iterator[tuple[str, list[str]]]:
    """The store's writer lock for the flow's body: (lease for the tasks, what recovery cleaned up).

    A second run on the same store waits here, saying who holds the lock. Nested flows of the
    same process re-enter the lock their parent holds.
    """
    from storage.store import SequenceStore

    logger = get_run_logger()
    sequence_store = SequenceStore(store, create=create)
    with sequence_store.writer(on_wait=logger.warning) as lease:
        for action in sequence_store.recovered:
            logger.warning(f"{store}: cleaned up after an interrupted run: {action}")
        yield lease, list(sequence_store.recovered)


def beside_store(store: Path | str, name: str) -> Path:
    """A local folder for files kept with a store (trained and downloaded models, identification
    pictures): `<store>/<name>` for a store on disk; for one on object storage, a folder of the
    user's cache named after its URL, since those files are read by path.
    """
    from storage.object_store import local_folder

    return store / name if isinstance(store, Path) else local_folder(store) / name


def bundles(items: Sequence[Item], size: int) -> list[list[Item]]:
    """Consecutive groups of `size` items, so one task amortises its start-up over several."""
    return [list(items[start:start + size]) for start in range(0, len(items), size)]


def gather(futures: Sequence[PrefectFuture], stage: str | None) -> tuple[list, list[tuple[int, str]]]:
    """Results of `futures` as they finish, reporting progress as `stage` (None: not); failures
    as (index, reason).

    One failed task never stops the others.
    """
    index_of = {future.task_run_id: number for number, future in enumerate(futures)}
    results: list = [None] * len(futures)
    failures: list[tuple[int, str]] = []
    for done, future in enumerate(as_completed(futures), start=1):
        number = index_of[future.task_run_id]
        try:
            results[number] = future.result()
        except Exception as error:  # noqa: BLE001 - reported per item, the rest go on
            failures.append((number, f"{type(error).__name__}: {error}"))
        if stage is not None:
            progress.report(stage, done, len(futures))
    return results, sorted(failures)
