"""HumanPoseNN over stored frames: the spatial features and decoded joints of each frame.

`pose_outputs` is the decoding both this module's feature function and `nets.pose_api` use:
the model's heat-maps, optionally averaged with those of the mirrored frame (flip test),
decoded to sub-pixel joints.
"""

from __future__ import annotations

from typing import Callable, Literal

import cv2
import keras
import numpy as np
from keras import ops

from nets.joint_tracks import MIRROR_PERMUTATION
from nets.layers import JOINT_DECODINGS, heatmap_peaks, mirror_heatmaps, refine_peaks
from nets.pose_network import model_input_size

Decoding = Literal["argmax", "quadratic"]


def cpu_network_batch(input_size: int) -> int:
    """Frames per network call that run fastest on a CPU: as many as keep one call's largest
    activations within a few MiB of cache (measured in `benchmarks/pose_network.py`: the
    299 px trunk runs about 2x faster one frame at a time than 16 at a time)."""
    return max(1, round(8 * (136 / input_size) ** 2))


def pose_outputs(
    model: keras.Model,
    frames,
    *,
    decoding: Decoding = "quadratic",
    flip: bool = False,
    outputs: tuple[str, ...] = ("features", "joints"),
) -> dict:
    """Runs a HumanPoseNN on (B, S, S, 3) uint8 frames (S its input size) and decodes joints.

    Args:
        model: a HumanPoseNN (any model with its `joints` and `heatmaps` outputs).
        frames: (B, S, S, 3) uint8, a tensor or an array; runs eagerly or traced.
        decoding: `"argmax"`: the model's own `joints` output (the seed's integer arg-max
            for a default HumanPoseNN). `"quadratic"`: each peak refined to sub-pixel
            precision by a quadratic fit to the log heat-map (`nets.layers.refine_peaks`);
            about 10x closer than the arg-max on synthetic heat-maps whose peak lies between
            pixels (0.04 against 0.38 heat-map pixels; tests/nets/test_layers.py).
        flip: also run the network on the horizontally mirrored frames and average the
            heat-maps, the mirrored ones brought back with left and right exchanged
            (`mirror_heatmaps`): twice the network's cost, for joints only (`features` are
            the unmirrored frame's). Joints are then decoded from the averaged maps with
            `decoding` ("argmax": the seed's arg-max of the averaged maps) and p is the mean
            of the two passes' p.
        outputs: which of "features", "joints", "heatmaps" (the maps the joints were decoded
            from, averaged with `flip`) to return.
    Returns:
        A dict of tensors: `features` (B, 17, 17, 32), `joints` (B, 16, 3) float32 `(y, x, p)`
        in model-input pixels (heat-map row/column times S / 289, the seed's convention),
        `heatmaps` (B, 289, 289, 16) float32.
    """
    if decoding not in JOINT_DECODINGS:
        raise ValueError(f"`decoding` must be one of {JOINT_DECODINGS}, got {decoding!r}")
    unknown = set(outputs) - {"features", "joints", "heatmaps"}
    if unknown:
        raise ValueError(f"unknown outputs {sorted(unknown)}")
    size = model_input_size(model)
    result = model(frames, training=False)
    heatmaps = ops.cast(result["heatmaps"], "float32")  # (B, 289, 289, 16)
    joints = ops.cast(result["joints"], "float32")  # (B, 16, 3)
    scale = size / heatmaps.shape[1]
    if flip:
        mirrored = model(ops.flip(frames, axis=2), training=False)
        mirrored_maps = ops.cast(mirrored["heatmaps"], "float32")
        heatmaps = 0.5 * (heatmaps + mirror_heatmaps(mirrored_maps, size, MIRROR_PERMUTATION))
        p = ops.take(ops.cast(mirrored["joints"][..., 2], "float32"), MIRROR_PERMUTATION, axis=1)
        p = 0.5 * (joints[..., 2] + p)  # (B, 16)
        peaks = heatmap_peaks(heatmaps, decoding) * scale  # (B, 16, 2)
        joints = ops.concatenate([peaks, p[..., None]], axis=-1)
    elif decoding == "quadratic":
        # Refine the model's own peaks: the heat-map pixel its joints were decoded from.
        pixels = ops.cast(ops.round(joints[..., :2] / scale), "int32")  # (B, 16, 2)
        peaks = refine_peaks(heatmaps, pixels) * scale
        joints = ops.concatenate([peaks, joints[..., 2:]], axis=-1)
    named = {"features": result.get("features"), "joints": joints, "heatmaps": heatmaps}
    return {name: named[name] for name in outputs}


def frame_feature_function(
    model: keras.Model,
    max_batch: int | None = None,
    *,
    decoding: Decoding = "quadratic",
    flip: bool = False,
) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """A function from frames (n, S, S, 3) uint8 to
    `features` (n, 17, 17, 32) float32 and `joints` (n, 16, 3) `(y, x, p)` in frame pixels.

    Frames of another size than the model's input are resized (they are square already).
    The model is compiled once into a traced inference function, which sees at most
    `max_batch` frames a call (None: all `n`). `decoding` and `flip` as in `pose_outputs`:
    sub-pixel joints by default; `flip=True` doubles the network's work for the joints'
    sake (the features do not change).
    """
    if max_batch is not None and max_batch < 1:
        raise ValueError(f"`max_batch` must be >= 1 or None, got {max_batch}")
    if decoding not in JOINT_DECODINGS:
        raise ValueError(f"`decoding` must be one of {JOINT_DECODINGS}, got {decoding!r}")
    size = model_input_size(model)
    predict = _inference_function(model, size, decoding, flip)

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


def _inference_function(model: keras.Model, size: int, decoding: Decoding, flip: bool):
    import tensorflow as tf

    # An open batch dimension: the last, shorter batch of a sequence does not retrace.
    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)])
    def run(frames):
        return pose_outputs(model, frames, decoding=decoding, flip=flip)

    return lambda frames: {k: v.numpy() for k, v in run(tf.convert_to_tensor(frames)).items()}


def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if frame.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(frame, (size, size), interpolation=interpolation)
