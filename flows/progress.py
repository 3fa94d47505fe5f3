"""Progress of a flow's mapped tasks, for whoever is watching (the CLI's progress bar).

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
