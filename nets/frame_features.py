"""HumanPoseNN over stored frames: the spatial features and decoded joints of each frame."""

from __future__ import annotations

from typing import Callable

import cv2
import keras
import numpy as np

from nets.pose_network import model_input_size


def cpu_network_batch(input_size: int) -> int:
    """Frames per network call that run fastest on a CPU: as many as keep one call's largest
    activations within a few MiB of cache (measured in `benchmarks/pose_network.py`: the
    299 px trunk runs about 2x faster one frame at a time than 16 at a time)."""
    return max(1, round(8 * (136 / input_size) ** 2))


def frame_feature_function(
    model: keras.Model, max_batch: int | None = None
) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """A function from frames (n, S, S, 3) uint8 to
    `features` (n, 17, 17, 32) float32 and `joints` (n, 16, 3) `(y, x, p)` in frame pixels.

    Frames of another size than the model's input are resized (they are square already).
    The model is compiled once into a traced inference function, which sees at most
    `max_batch` frames a call (None: all `n`).
    """
    if max_batch is not None and max_batch < 1:
        raise ValueError(f"`max_batch` must be >= 1 or None, got {max_batch}")
    size = model_input_size(model)
    predict = _inference_function(model, size)

    def features_of(frames: np.ndarray) -> dict[str, np.ndarray]:
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[1] != frames.shape[2]:
            raise ValueError(f"frames must be (n, S, S, 3), got {frames.shape}")
        side = frames.shape[1]
        inputs = frames if side == size else np.stack([_resize(frame, size) for frame in frames])
        step = max_batch or len(inputs)
        parts = [predict(inputs[first : first + step]) for first in range(0, len(inputs), step)]
        joints = np.concatenate([p["joints"] for p in parts]).astype(np.float32)
        joints[..., :2] *= side / size
        features = np.concatenate([p["features"] for p in parts]).astype(np.float32, copy=False)
        return {"features": features, "joints": joints}

    return features_of


def _inference_function(model: keras.Model, size: int):
    import tensorflow as tf

    # An open batch dimension: the last, shorter batch of a sequence does not retrace.
    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)])
    def run(frames):
        outputs = model(frames, training=False)
        return {"features": outputs["features"], "joints": outputs["joints"]}

    return lambda frames: {k: v.numpy() for k, v in run(tf.convert_to_tensor(frames)).items()}


def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if frame.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(frame, (size, size), interpolation=interpolation)
