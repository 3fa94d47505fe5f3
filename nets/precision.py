"""Running a trained model in mixed precision (float16 compute, float32 weights)."""

from __future__ import annotations

import keras

MIXED = "mixed_float16"


def mixed_precision_copy(model: keras.Model) -> keras.Model:
    """A copy of a functional `model` whose layers compute in float16 and keep float32 weights.

    Saved models remember each layer's dtype policy, so a global policy set before loading
    would not apply; the copy is rebuilt from the configuration with the policy swapped, and
    the trained weights copied over. Worth it on GPUs with tensor cores; slower on CPUs.
    """
    config = _with_policy(model.get_config(), MIXED)
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def _with_policy(node, policy: str):
    if isinstance(node, dict):
        updated = {key: _with_policy(value, policy) for key, value in node.items()}
        dtype = updated.get("dtype")
        if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":
            updated["dtype"] = {**dtype, "config": {**dtype.get("config", {}), "name": policy}}
        return updated
    if isinstance(node, list):
        return [_with_policy(item, policy) for item in node]
    return node
