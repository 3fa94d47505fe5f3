"""Progress of flows and trainings, for whoever is watching (the CLI's progress bars).

A context variable rather than a flow parameter: a display is not part of what a run computes.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Callable, Iterator

# (stage, done, total, item) -> None
ProgressCallback = Callable[[str, int, int, str], None]
_reporter: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar("gaitflow_progress", default=None)
# Where `worker_events` goes when the work runs on a thread of this process instead of a Dask
# worker (a stage with few sequences, `flows.compute.stage_runner`): {topic: event handler}.
_local_topics: contextvars.ContextVar[dict[str, Callable[[dict], None]] | None] = contextvars.ContextVar(
    "gaitflow_local_topics", default=None)


@contextlib.contextmanager
def reporting_to(callback: ProgressCallback) -> Iterator[None]:
    token = _reporter.set(callback)
    try:
        yield
    finally:
        _reporter.reset(token)


def current_reporter() -> ProgressCallback | None:
    """Who watches in this context (None: nobody), for code that reports from another thread."""
    return _reporter.get()


def report(stage: str, done: int, total: int, item: str = "") -> None:
    callback = _reporter.get()
    if callback is not None:
        callback(stage, done, total, item)


def training_progress(stage: str):
    """A Keras callback that reports every training step to the current reporter as
    `(stage, steps done, steps in all, "epoch e/E loss x")`."""
    import keras

    class TrainingProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._epochs = int(self.params.get("epochs") or 1)
            self._steps = int(self.params.get("steps") or 0)
            self._epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if _reporter.get() is None or not self._steps:
                return
            loss = (logs or {}).get("loss")
            item = f"epoch {self._epoch + 1}/{self._epochs}" + (f", loss {float(loss):.4g}" if loss is not None else "")
            report(stage, self._epoch * self._steps + batch + 1, self._epochs * self._steps, item)

    return TrainingProgress()


def worker_events(topic: str) -> Callable[[str, int], None]:
    """`(item, amount)` -> an event on `topic`: in a Dask worker, into Dask's event log; on a thread
    of the watcher's own process, straight to the `forwarded_worker_events` block around it; else
    nowhere.

    Work inside a Dask task cannot reach the watcher's context; Dask's event log can
    (`forwarded_worker_events` subscribes to it in the client's process).
    """

    def send(item: str, amount: int) -> None:
        message = {"item": item, "amount": int(amount)}
        try:
            from distributed import get_worker

            worker = get_worker()
        except (ImportError, ValueError):
            handler = (_local_topics.get() or {}).get(topic)
            if handler is not None:
                handler(message)
            return
        worker.log_event(topic, message)

    return send


@contextlib.contextmanager
def forwarded_worker_events(client, topic: str, stage: str, total: int) -> Iterator[None]:
    """Within the block, `worker_events(topic)` amounts add up into `(stage, done, total, item)`
    reports to the current watcher: those sent to `client`'s cluster, or with `client` None those
    sent from this process's threads (tasks that inherit this context). Nothing happens without
    a watcher or a total."""
    callback = _reporter.get()
    if callback is None or total <= 0:
        yield
        return
    done = [0]
    lock = threading.Lock()

    def add(message: dict) -> None:
        with lock:
            done[0] = min(total, done[0] + int(message.get("amount", 0)))
            callback(stage, done[0], total, str(message.get("item", "")))

    callback(stage, 0, total, "")
    if client is None:
        token = _local_topics.set({**(_local_topics.get() or {}), topic: add})
        try:
            yield
        finally:
            _local_topics.reset(token)
        return
    client.subscribe_topic(topic, lambda event: add(event[1]))
    try:
        yield
    finally:
        client.unsubscribe_topic(topic)
