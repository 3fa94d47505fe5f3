"""TensorFlow process settings for batch work (Dask workers, the flow's process): threads, device, precision."""

from __future__ import annotations

import functools

import tensorflow as tf


@functools.cache
def configure_tensorflow(threads: int | None, device: str = "auto") -> str:
    """Sets TensorFlow's thread pools and visible devices once per process; returns the device used.

    Dask runs several worker processes on one machine, and TensorFlow would otherwise give each
    of them every core (it ignores OMP_NUM_THREADS). Must run before the first TensorFlow op;
    later calls with other values are ignored, as TensorFlow cannot change them then.

    Args:
      threads: intra-op threads (inter-op gets 1: the pose and gait graphs are chains); None keeps
        TensorFlow's own pools (every core), for work in a process that also trains networks.
      device: "cpu" hides GPUs; "gpu" requires one; "auto" uses one when present.
    """
    if device not in ("auto", "cpu", "gpu"):
        raise ValueError(f"device must be auto, cpu or gpu, got {device!r}")
    gpus = tf.config.list_physical_devices("GPU")
    try:
        if threads is not None:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        if device == "cpu" and gpus:
            tf.config.set_visible_devices([], "GPU")
        for gpu in gpus if device != "cpu" else ():
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass  # TensorFlow already started in this process; keep its settings.
    if device == "gpu" and not gpus:
        raise RuntimeError("device 'gpu' was asked for but TensorFlow sees no GPU on this worker")
    return "gpu" if gpus and device != "cpu" else "cpu"
