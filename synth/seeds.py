"""Random generators keyed by tuples of non-negative integers.

Every random draw of the walker comes from a generator built here, so a walk is a pure
function of its integer keys. Python's hash() is salted per process and never used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Stream numbers: the first key component after the archive seed says what a generator is for,
# so that adding a new kind of draw never shifts the draws of another.
PERSON = 1
WALK = 2
VIEW = 3
SESSION = 4
OUTFIT = 5
SCENE = 6  # multi-walker scenes (synth.scene)


def checked_key(key: Sequence[int]) -> tuple[int, ...]:
    """The key as a tuple of Python ints; raises ValueError on anything else or negatives."""
    out = []
    for part in key:
        if isinstance(part, bool) or not isinstance(part, (int, np.integer)):
            raise ValueError(f"seed keys are non-negative integers, got {part!r} in {tuple(key)!r}")
        if part < 0:
            raise ValueError(f"seed keys are non-negative integers, got {part} in {tuple(key)!r}")
        out.append(int(part))
    if not out:
        raise ValueError("a seed key needs at least one integer")
    return tuple(out)


def rng_for(key: Sequence[int], *more: int) -> np.random.Generator:
    """A generator determined by the integers of `key` followed by `more`."""
    return np.random.default_rng(np.random.SeedSequence(checked_key((*key, *more))))
