"""Independent re-creations of the seed's TF1 graphs, for checkpoint-import tests.

Variables are created with `tf.compat.v1.get_variable` inside the same variable scopes that
TF-slim opens in the seed's `inception_resnet_v2.py`, `human_pose_nn.py` and `gait_nn.py`,
so their names arise as they did there; the forward pass uses raw `tf.nn` ops. A graph is
run once for reference outputs and saved with the name-based `tf.compat.v1.train.Saver`.
Nothing here uses `nets/`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf
from scipy.stats import norm

v1 = tf.compat.v1


@dataclasses.dataclass
class SeedGraph:
    """A saved seed-style checkpoint and what its graph computed."""

    checkpoint: str
    variable_names: list[str]
    outputs: dict[str, np.ndarray]


class _Variables:
    """Random but well-scaled initial values, so deep stacks keep sane activations."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def get(self, name: str, shape, kind: str) -> tf.Variable:
        if kind == "weights":
            fan_in = int(np.prod(shape[:-1]))
            value = self.rng.normal(0.0, np.sqrt(1.0 / fan_in), shape)
        elif kind == "beta":
            value = self.rng.normal(0.0, 0.1, shape)
        elif kind == "mean":
            value = self.rng.normal(0.0, 0.1, shape)
        elif kind == "variance":
            value = self.rng.uniform(0.5, 1.5, shape)
        elif kind == "bias":
            value = self.rng.normal(0.0, 0.05, shape)
        else:
            raise ValueError(kind)
        return v1.get_variable(name, initializer=value.astype(np.float32))


def _batch_norm(vars_: _Variables, x, epsilon: float, scope: str = "BatchNorm"):
    channels = int(x.shape[-1])
    with v1.variable_scope(scope):
        beta = vars_.get("beta", [channels], "beta")
        mean = vars_.get("moving_mean", [channels], "mean")
        variance = vars_.get("moving_variance", [channels], "variance")
    return (x - mean) * tf.math.rsqrt(variance + epsilon) + beta


def _conv(vars_, x, filters, kernel, scope, *, stride=1, padding="SAME", bias=False,
          bn_epsilon=None, activation=None):
    """slim.conv2d: weights (+ biases without a normaliser) (+ BatchNorm) (+ activation)."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    with v1.variable_scope(scope):
        weights = vars_.get("weights", [kh, kw, int(x.shape[-1]), filters], "weights")
        y = tf.nn.conv2d(x, weights, [1, stride, stride, 1], padding)
        if bn_epsilon is not None:
            y = _batch_norm(vars_, y, bn_epsilon)
        elif bias:
            y = y + vars_.get("biases", [filters], "bias")
    return activation(y) if activation is not None else y


# --------------------------------------------------------------------------------------
# HumanPoseNN


def _irv2_conv(vars_, x, filters, kernel, scope, **kw):
    return _conv(vars_, x, filters, kernel, scope, bn_epsilon=1e-3, activation=tf.nn.relu, **kw)


def _block35(vars_, net, scope):
    with v1.variable_scope(scope):
        with v1.variable_scope("Branch_0"):
            t0 = _irv2_conv(vars_, net, 32, 1, "Conv2d_1x1")
        with v1.variable_scope("Branch_1"):
            t1 = _irv2_conv(vars_, net, 32, 1, "Conv2d_0a_1x1")
            t1 = _irv2_conv(vars_, t1, 32, 3, "Conv2d_0b_3x3")
        with v1.variable_scope("Branch_2"):
            t2 = _irv2_conv(vars_, net, 32, 1, "Conv2d_0a_1x1")
            t2 = _irv2_conv(vars_, t2, 48, 3, "Conv2d_0b_3x3")
            t2 = _irv2_conv(vars_, t2, 64, 3, "Conv2d_0c_3x3")
        mixed = tf.concat([t0, t1, t2], 3)
        up = _conv(vars_, mixed, int(net.shape[-1]), 1, "Conv2d_1x1", bias=True)
        return tf.nn.relu(net + 0.17 * up)


def _block17(vars_, net, scope):
    with v1.variable_scope(scope):
        with v1.variable_scope("Branch_0"):
            t0 = _irv2_conv(vars_, net, 192, 1, "Conv2d_1x1")
        with v1.variable_scope("Branch_1"):
            t1 = _irv2_conv(vars_, net, 128, 1, "Conv2d_0a_1x1")
            t1 = _irv2_conv(vars_, t1, 160, [1, 7], "Conv2d_0b_1x7")
            t1 = _irv2_conv(vars_, t1, 192, [7, 1], "Conv2d_0c_7x1")
        mixed = tf.concat([t0, t1], 3)
        up = _conv(vars_, mixed, int(net.shape[-1]), 1, "Conv2d_1x1", bias=True)
        return tf.nn.relu(net + 0.10 * up)


def _seed_gauss_filter(size, std, kernel_sum):
    samples = norm.pdf(np.linspace(-2, 2, size), 0, std)
    samples /= np.sum(samples)
    samples *= kernel_sum ** 0.5
    weights = np.zeros((1, size, 16, 1), dtype=np.float32)
    for i in range(16):
        weights[:, :, i, 0] = samples
    return weights


def _seed_smoothing(net, size, std, kernel_sum):
    filter_h = _seed_gauss_filter(size, std, kernel_sum)
    filter_v = filter_h.swapaxes(0, 1)
    net = tf.nn.depthwise_conv2d(net, filter_h, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(net, filter_v, [1, 1, 1, 1], "SAME")


def build_seed_pose_checkpoint(
    directory: str, images: np.ndarray, *, block35: int = 10, block17: int = 20, seed: int = 0
) -> SeedGraph:
    """The seed's HumanPoseIRNetwork (inference) with `block35`/`block17` repeats."""
    graph = tf.Graph()
    with graph.as_default():
        vars_ = _Variables(seed)
        inputs = v1.placeholder(tf.float32, (None, 299, 299, 3))
        net = ((inputs / 255) - 0.5) * 2.0
        with v1.variable_scope("InceptionResnetV2"):
            net = _irv2_conv(vars_, net, 32, 3, "Conv2d_1a_3x3", stride=2, padding="VALID")
            net = _irv2_conv(vars_, net, 32, 3, "Conv2d_2a_3x3", padding="VALID")
            net = _irv2_conv(vars_, net, 64, 3, "Conv2d_2b_3x3")
            net = tf.nn.max_pool2d(net, 3, 2, "VALID")
            net = _irv2_conv(vars_, net, 80, 1, "Conv2d_3b_1x1", padding="VALID")
            net = _irv2_conv(vars_, net, 192, 3, "Conv2d_4a_3x3", padding="VALID")
            net = tf.nn.max_pool2d(net, 3, 2, "VALID")
            with v1.variable_scope("Mixed_5b"):
                with v1.variable_scope("Branch_0"):
                    t0 = _irv2_conv(vars_, net, 96, 1, "Conv2d_1x1")
                with v1.variable_scope("Branch_1"):
                    t1 = _irv2_conv(vars_, net, 48, 1, "Conv2d_0a_1x1")
                    t1 = _irv2_conv(vars_, t1, 64, 5, "Conv2d_0b_5x5")
                with v1.variable_scope("Branch_2"):
                    t2 = _irv2_conv(vars_, net, 64, 1, "Conv2d_0a_1x1")
                    t2 = _irv2_conv(vars_, t2, 96, 3, "Conv2d_0b_3x3")
                    t2 = _irv2_conv(vars_, t2, 96, 3, "Conv2d_0c_3x3")
                with v1.variable_scope("Branch_3"):
                    t3 = tf.nn.avg_pool2d(net, 3, 1, "SAME")
                    t3 = _irv2_conv(vars_, t3, 64, 1, "Conv2d_0b_1x1")
                net = tf.concat([t0, t1, t2, t3], 3)
            with v1.variable_scope("Repeat"):  # slim.repeat(net, 10, block35)
                for i in range(block35):
                    net = _block35(vars_, net, f"block35_{i + 1}")
            with v1.variable_scope("Mixed_6a"):
                with v1.variable_scope("Branch_0"):
                    t0 = _irv2_conv(vars_, net, 384, 3, "Conv2d_1a_3x3", stride=2,
                                    padding="VALID")
                with v1.variable_scope("Branch_1"):
                    t1 = _irv2_conv(vars_, net, 256, 1, "Conv2d_0a_1x1")
                    t1 = _irv2_conv(vars_, t1, 256, 3, "Conv2d_0b_3x3")
                    t1 = _irv2_conv(vars_, t1, 384, 3, "Conv2d_1a_3x3", stride=2,
                                    padding="VALID")
                with v1.variable_scope("Branch_2"):
                    t2 = tf.nn.max_pool2d(net, 3, 2, "VALID")
                net = tf.concat([t0, t1, t2], 3)
            with v1.variable_scope("Repeat_1"):
                for i in range(block17):
                    net = _block17(vars_, net, f"block17_{i + 1}")
            with v1.variable_scope("AuxLogits"):
                aux = tf.nn.avg_pool2d(net, 5, 1, "SAME")
                aux = _irv2_conv(vars_, aux, 128, 1, "Conv2d_1b_1x1")
                aux = _irv2_conv(vars_, aux, 768, 5, "Conv2d_2a_5x5")
        with v1.variable_scope("NewInceptionResnetV2"):
            with v1.variable_scope("AuxiliaryScoring"):
                feature = _conv(vars_, aux, 32, 1, "Scoring_layer", bias=True)
                with v1.variable_scope("Upsampling_layer"):
                    weights = vars_.get("weights", [17, 17, 16, 32], "weights")
                    biases = vars_.get("biases", [16], "bias")
                    batch = tf.shape(feature)[0]
                    logits = tf.nn.conv2d_transpose(
                        feature, weights, tf.stack([batch, 289, 289, 16]), [1, 17, 17, 1],
                        "VALID") + biases
            logits = _seed_smoothing(logits, 21, 1.0, 0.2)
        sigm = tf.sigmoid(logits)
        smoothed = _seed_smoothing(sigm, 15, 0.7, 1.0)
        x = tf.cast(tf.argmax(tf.reduce_max(smoothed, 1), 1), tf.float32) * (299 / 289)
        y = tf.cast(tf.argmax(tf.reduce_max(smoothed, 2), 1), tf.float32) * (299 / 289)
        p = tf.reduce_max(sigm, [1, 2])
        joints = tf.stack([y, x, p], axis=-1)
        return _run_and_save(graph, directory, "pose.ckpt", {inputs: images}, {
            "features": feature, "heatmap_logits": logits, "heatmaps": smoothed,
            "joints": joints,
        })


# --------------------------------------------------------------------------------------
# GaitNN


def _gait_conv(vars_, x, filters, kernel, scope):
    return _conv(vars_, x, filters, kernel, scope, bn_epsilon=1e-4, activation=tf.nn.elu)


def _residual_block(vars_, net, ch, ch_inner, stride, scope):
    """gait_nn.py's residual_block; slim names unnamed layers Conv, Conv_1, ... in order."""
    with v1.variable_scope(scope):
        names = iter(["Conv", "Conv_1", "Conv_2", "Conv_3"])
        in_net = net
        if stride > 1:
            net = _conv(vars_, net, ch, 1, next(names), stride=stride, bias=True)
        in_net = tf.nn.relu(_batch_norm(vars_, in_net, 1e-4, "BatchNorm"))
        in_net = _conv(vars_, in_net, ch_inner, 1, next(names), bias=True)
        in_net = tf.nn.relu(_batch_norm(vars_, in_net, 1e-4, "BatchNorm_1"))
        in_net = _conv(vars_, in_net, ch_inner, 3, next(names), stride=stride, bias=True)
        in_net = tf.nn.relu(_batch_norm(vars_, in_net, 1e-4, "BatchNorm_2"))
        in_net = _conv(vars_, in_net, ch, 1, next(names), bias=True)
        return tf.nn.relu(in_net + net)


def _repeat(vars_, net, count, ch, ch_inner, chain):
    """slim.repeat(net, count, residual_block): the seed drops the result (chain=False)."""
    out = net
    with v1.variable_scope("Repeat"):
        for i in range(count):
            out = _residual_block(vars_, out, ch, ch_inner, 1, f"residual_block_{i + 1}")
    return out if chain else net


def _dense(vars_, x, units, scope):
    with v1.variable_scope(scope):
        weights = vars_.get("weights", [int(x.shape[-1]), units], "weights")
        return tf.matmul(x, weights) + vars_.get("biases", [units], "bias")


def build_seed_gait_checkpoint(
    directory: str,
    features: np.ndarray,
    *,
    unit: str = "GRU",
    rnn_layers: int = 1,
    shared_cell: bool = True,
    chain_repeats: bool = False,
    num_identities: int = 5,
    tf_names: str = "1.2",
    seed: int = 1,
) -> SeedGraph:
    """The seed's GaitNetwork on ONE sequence `features` (T, 17, 17, 32).

    `shared_cell` reproduces `MultiRNNCell([cell] * n)` from TF 1.2 on (variables of cell_0
    only); `tf_names` "1.2" writes `kernel`/`bias`, "1.0" writes `weights`/`biases`.
    """
    kernel_name, bias_name = ("kernel", "bias") if tf_names == "1.2" else ("weights", "biases")
    graph = tf.Graph()
    with graph.as_default():
        vars_ = _Variables(seed)
        inputs = v1.placeholder(tf.float32, features.shape)
        net = inputs / 100.0
        with v1.variable_scope("GaitNN"):
            with v1.variable_scope("DownSampling"):
                with v1.variable_scope("17x17"):
                    net = _gait_conv(vars_, net, 256, 1, "Conv")
                    net = _repeat(vars_, net, 3, 256, 64, chain_repeats)
                with v1.variable_scope("8x8"):
                    net = _residual_block(vars_, net, 512, 64, 2, "ResidualBlock")
                    net = _repeat(vars_, net, 2, 512, 128, chain_repeats)
                with v1.variable_scope("4x4"):
                    net = _residual_block(vars_, net, 512, 128, 2, "ResidualBlock")
                    net = _repeat(vars_, net, 1, 512, 256, chain_repeats)
                    net = _gait_conv(vars_, net, 256, 1, "Conv")
                    net = _gait_conv(vars_, net, 256, 3, "Conv_1")
            with v1.variable_scope("FullyConnected"):
                net = tf.reshape(net, [-1, 5 * 5 * 256])
                descriptors = _dense(vars_, net, 512, "fully_connected")
            with v1.variable_scope("Recurrent"):
                sequence = descriptors
                cells = {}
                for level in range(rnn_layers):
                    cell_level = 0 if shared_cell else level
                    scope = f"rnn/multi_rnn_cell/cell_{cell_level}"
                    if cell_level not in cells:
                        cells[cell_level] = _make_cell(vars_, scope, unit, kernel_name,
                                                       bias_name)
                    sequence = _run_cell(sequence, unit, cells[cell_level])
                signature = tf.reduce_mean(sequence, 0)
            with v1.variable_scope("Logits"):
                logits = _dense(vars_, signature[None], num_identities, "fully_connected")
        return _run_and_save(graph, directory, "gait.ckpt", {inputs: features}, {
            "pose_descriptors": descriptors, "identification": signature, "logits": logits[0],
        })


def _make_cell(vars_, scope, unit, kernel_name, bias_name):
    units = 512
    with v1.variable_scope(scope):
        if unit == "GRU":
            with v1.variable_scope("gru_cell"):
                with v1.variable_scope("gates"):
                    wg = vars_.get(kernel_name, [2 * units, 2 * units], "weights")
                    bg = vars_.get(bias_name, [2 * units], "bias")
                with v1.variable_scope("candidate"):
                    wc = vars_.get(kernel_name, [2 * units, units], "weights")
                    bc = vars_.get(bias_name, [units], "bias")
            return wg, bg, wc, bc
        with v1.variable_scope("lstm_cell"):
            w = vars_.get(kernel_name, [2 * units, 4 * units], "weights")
            b = vars_.get(bias_name, [4 * units], "bias")
        return w, b


def _run_cell(sequence, unit, weights):
    """tf.nn.dynamic_rnn over one sequence (T, 512) with TF1 cell equations."""
    steps = sequence.shape[0]
    h = tf.zeros([1, 512])
    c = tf.zeros([1, 512])
    outputs = []
    for t in range(steps):
        x = sequence[t : t + 1]
        if unit == "GRU":
            wg, bg, wc, bc = weights
            gates = tf.sigmoid(tf.matmul(tf.concat([x, h], 1), wg) + bg)
            r, u = tf.split(gates, 2, axis=1)
            candidate = tf.tanh(tf.matmul(tf.concat([x, r * h], 1), wc) + bc)
            h = u * h + (1 - u) * candidate
        else:
            w, b = weights
            i, j, f, o = tf.split(tf.matmul(tf.concat([x, h], 1), w) + b, 4, axis=1)
            c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
            h = tf.sigmoid(o) * tf.tanh(c)
        outputs.append(h)
    return tf.concat(outputs, 0)


def _run_and_save(graph, directory, filename, feed, fetches) -> SeedGraph:
    with graph.as_default():
        variables = v1.global_variables()
        saver = v1.train.Saver(variables)
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            outputs = session.run(fetches, feed_dict=feed)
            path = saver.save(session, os.path.join(directory, filename))
    return SeedGraph(path, sorted(v.op.name for v in variables), outputs)
