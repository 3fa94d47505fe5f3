"""What cached task results are keyed on besides their inputs: the code that made them."""

from __future__ import annotations

import hashlib
import inspect
import sys
from pathlib import Path

from prefect.cache_policies import CacheKeyFnPolicy, CachePolicy
from prefect.context import TaskRunContext

from provenance import module_version


def task_code(context: TaskRunContext) -> str:
    """A digest of the task function's own source; where the source cannot be read (a task
    rebuilt on a Dask worker may have lost its file reference), of its module's file, as a
    last resort of its bytecode."""
    fn = context.task.fn
    try:
        source = inspect.getsource(fn).encode()
    except (OSError, TypeError):
        module = sys.modules.get(fn.__module__)
        path = getattr(module, "__file__", None)
        source = Path(path).read_bytes() if path and Path(path).is_file() else fn.__code__.co_code
    return hashlib.sha256(source).hexdigest()[:16]


def code_of(*modules: str) -> CachePolicy:
    """A cache-policy part that changes when the source of `modules`, or of any project module
    they import, changes (`provenance.module_version`); add it to INPUTS + TASK_SOURCE so a fix
    in a metric or a training loop recomputes the results it made, and only those."""

    def module_code_key(context: TaskRunContext, parameters: dict) -> str:
        return "code:" + module_version(*modules)

    return CacheKeyFnPolicy(cache_key_fn=module_code_key)
