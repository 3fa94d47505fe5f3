"""Progress of flows and trainings, for whoever is watching (the CLI's progress bars).

A context variable rather than a flow parameter: a display is not part of what a run computes.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator

# (stage, done, total, item) -> None
ProgressCallback = Callable[[str, int, int, str], None]
_reporter: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar("gaitflow_progress", default=None)


@contextlib.contextmanager
def reporting_to(callback: ProgressCallback) -> Iterator[None]:
    token = _reporter.set(callback)
    try:
        yield
    finally:
        _reporter.reset(token)


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
