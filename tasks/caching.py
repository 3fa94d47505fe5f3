"""What cached task results are keyed on besides their inputs: the code that made them."""

from __future__ import annotations

import hashlib
import inspect

from prefect.cache_policies import CacheKeyFnPolicy, CachePolicy
from prefect.context import TaskRunContext

from provenance import module_version


def task_code(context: TaskRunContext) -> str:
    """A digest of the task function's own source."""
    return hashlib.sha256(inspect.getsource(context.task.fn).encode()).hexdigest()[:16]


def code_of(*modules: str) -> CachePolicy:
    """A cache-policy part that changes when the source of `modules`, or of any project module
    they import, changes (`provenance.module_version`); add it to INPUTS + TASK_SOURCE so a fix
    in a metric or a training loop recomputes the results it made, and only those."""

    def module_code_key(context: TaskRunContext, parameters: dict) -> str:
        return "code:" + module_version(*modules)

    return CacheKeyFnPolicy(cache_key_fn=module_code_key)
