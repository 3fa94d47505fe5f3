"""Saving and loading HumanPoseNN / GaitNN, and importing the seed's TF1 checkpoints.

Keras' own `.keras` format is the native one: `save_model` / `load_model` round-trip the
whole model (architecture, custom layers, weights, batch-norm statistics).

The seed saved TF1 name-based checkpoints (`tf.train.Saver`). Our layer names are the seed's
variable scopes with `/` written as `.`, so every Keras variable has one checkpoint name:

    layer `InceptionResnetV2.Repeat.block35_1.Branch_0.Conv2d_1x1`, kernel
    <- `InceptionResnetV2/Repeat/block35_1/Branch_0/Conv2d_1x1/weights`

(`weights`/`biases` for convolutions and dense layers, `beta`/`moving_mean`/
`moving_variance` (and `gamma` if present) for batch-norm). Recurrent layers are converted:
TF1's GRU keeps `gates` ([r | u]) and `candidate` matrices over `[x, h]`, Keras keeps the
input and recurrent kernels apart in [z | r | h] order; TF1's LSTM keeps [i | j | f | o] and
adds `forget_bias` (1.0) at run time, Keras keeps [i | f | j | o] with the bias folded in.
TF >= 1.2 names (`kernel`/`bias`) and TF 1.0/1.1 names (`weights`/`biases`) are both accepted.

Checkpoints are read with `tf.train.load_checkpoint`; no TF1 graph is built. Anything
missing or of the wrong shape is reported in one `SeedCheckpointError` listing every
offending name before any variable is assigned.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

# Names a training run may add that no model variable corresponds to.
_OPTIMIZER_NAME = re.compile(
    r"(^global_step$|/(RMSProp|RMSProp_1|Momentum|Adam|Adam_1|ExponentialMovingAverage)$"
    r"|^beta[12]_power|/OptimizeLoss/|^OptimizeLoss/)"
)
_GAIT_DEAD_BLOCK = re.compile(r"^GaitNN/DownSampling/[^/]+/Repeat/")
_GAIT_TRAINING_HEAD = re.compile(r"^GaitNN/Logits/")
_LSTM_FORGET_BIAS = 1.0


class SeedCheckpointError(ValueError):
    """A seed checkpoint does not fit the model; the message lists every problem."""

    def __init__(
        self,
        checkpoint: str,
        missing: Sequence[str],
        mis_shaped: Sequence[tuple[str, tuple, tuple]],
        unused: Sequence[str] = (),
    ):
        self.checkpoint = checkpoint
        self.missing = list(missing)
        self.mis_shaped = list(mis_shaped)
        self.unused = list(unused)
        lines = [f"checkpoint {checkpoint!r} does not fit the model:"]
        if self.missing:
            lines.append(f"  {len(self.missing)} missing variable(s):")
            lines += [f"    {name}" for name in self.missing]
        if self.mis_shaped:
            lines.append(f"  {len(self.mis_shaped)} variable(s) with the wrong shape:")
            lines += [
                f"    {name}: checkpoint {got}, model expects {want}"
                for name, got, want in self.mis_shaped
            ]
        if self.unused:
            lines.append(
                f"  {len(self.unused)} checkpoint variable(s) the model has no place for "
                "(pass strict=False to ignore them):"
            )
            lines += [f"    {name}" for name in self.unused]
        super().__init__("\n".join(lines))


@dataclasses.dataclass(frozen=True)
class ImportReport:
    """What an import did: checkpoint names loaded, and names left unused (optimizer slots,
    the seed's dead GaitNN blocks, or whatever `strict=False` let through)."""

    loaded: tuple[str, ...]
    unused: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _Target:
    """Keras variables filled from checkpoint tensors.

    `sources` lists, per needed tensor, the accepted checkpoint names (first found wins);
    `convert` turns the tensors, in `sources` order, into values for `variables`.
    """

    variables: tuple
    sources: tuple[tuple[str, ...], ...]
    convert: Callable[[list[np.ndarray]], list[np.ndarray]]


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Saves the whole model in Keras' `.keras` format."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"a Keras model file must end in '.keras', got {path!r}")
    model.save(path)


def load_model(path: str | os.PathLike) -> keras.Model:
    """Loads a model written by `save_model` (our custom layers register themselves)."""
    import nets.layers  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(os.fspath(path), compile=False)


def saved_input_shape(path: str | os.PathLike) -> tuple[int | None, ...]:
    """The first input's shape, batch included, of a model saved by `save_model`, read from the
    file's `config.json` without building the model (which takes about a second).

    Raises:
      ValueError: the file is not a `.keras` archive of a functional model (naming the file).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))["config"]
        # One input: ["frames", 0, 0]; several: [["a", 0, 0], ...] or, for dict inputs, {"a": ["a", 0, 0], ...}.
        inputs = config["input_layers"]
        first = next(iter(inputs.values())) if isinstance(inputs, dict) else inputs[0]
        name = first if isinstance(first, str) else first[0]
        layer = next(item for item in config["layers"] if item["name"] == name)
        return tuple(layer["config"]["batch_shape"])
    except (OSError, KeyError, IndexError, StopIteration, TypeError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{os.fspath(path)}: no input shape in a .keras model file ({error})") from error


def seed_checkpoint_shapes(model: keras.Model) -> dict[str, tuple[int, ...]]:
    """Every checkpoint name the model reads, with the shape it expects (first spelling)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for target in _targets(model):
        for alternatives, shape in zip(target.sources, _source_shapes(target)):
            shapes[alternatives[0]] = shape
    return shapes


def import_seed_pose_checkpoint(
    model: keras.Model, checkpoint: str, *, strict: bool = True, from_imagenet: bool = False
) -> ImportReport:
    """Loads a seed HumanPoseNN checkpoint (`Human3.6m.ckpt`, `MPII+LSP.ckpt`) into `model`.

    Args:
        model: a `HumanPoseNN(backbone="inception_resnet_v2", ...)`.
        checkpoint: the checkpoint prefix (`path/MPII+LSP.ckpt`) or a directory.
        strict: also fail on checkpoint variables under the model's scopes that the model
            does not use (e.g. loading the full seed into a reduced-depth model).
        from_imagenet: the checkpoint is slim's ImageNet Inception-ResNet-v2: take the trunk
            and auxiliary tower, leave the scoring head at its initialisation (the seed's
            `is_pre_trained_imagenet_checkpoint`) and ignore the classifier's variables.
    """
    if "InceptionResnetV2.Conv2d_1a_3x3" not in {layer.name for layer in model.layers}:
        raise ValueError("seed pose checkpoints fit the 'inception_resnet_v2' backbone only")
    head = ("NewInceptionResnetV2/",)
    return _import(
        model,
        checkpoint,
        scopes=("InceptionResnetV2/",) + head,
        strict=strict and not from_imagenet,
        optional_prefixes=head if from_imagenet else (),
    )


def import_seed_gait_checkpoint(
    model: keras.Model, checkpoint: str, *, strict: bool = True
) -> ImportReport:
    """Loads a seed GaitNN checkpoint (`H3.6m-GRU-1.ckpt`, `M+L-GRU-2.ckpt`) into `model`.

    The model must match the checkpoint: same `recurrent_unit` and `rnn_layers`;
    `share_rnn_weights=True` when the checkpoint holds one cell for several layers (the
    seed's TF >= 1.2 behaviour); `extra_residual_blocks="discarded"` to compute what the seed
    computed. The seed's unused `Repeat` blocks in the checkpoint are then reported as
    unused, never an error; so are its `Logits` when the model has no training head (a
    head must have as many identities as the checkpoint's).
    """
    return _import(model, checkpoint, scopes=("GaitNN/",), strict=strict)


def _import(
    model: keras.Model,
    checkpoint: str,
    *,
    scopes: tuple[str, ...],
    strict: bool,
    optional_prefixes: tuple[str, ...] = (),
) -> ImportReport:
    reader = tf.train.load_checkpoint(checkpoint)
    available = reader.get_variable_to_shape_map()
    targets = [t for t in _targets(model) if any(t.sources[0][0].startswith(s) for s in scopes)]
    if not targets:
        raise ValueError(f"model {model.name!r} has no layers under {scopes}")

    missing: list[str] = []
    mis_shaped: list[tuple[str, tuple, tuple]] = []
    used: set[str] = set()
    plan: list[tuple[_Target, list[str]]] = []
    for target in targets:
        names: list[str | None] = []
        for alternatives, want in zip(target.sources, _source_shapes(target)):
            name = next((n for n in alternatives if n in available), None)
            names.append(name)
            if name is None:
                optional = bool(optional_prefixes) and alternatives[0].startswith(optional_prefixes)
                if not optional:
                    missing.append(" or ".join(alternatives))
                continue
            used.add(name)
            got = tuple(available[name])
            if got != want:
                mis_shaped.append((name, got, want))
        if None not in names:
            plan.append((target, names))

    unused = sorted(
        name
        for name in available
        if name not in used and name.startswith(scopes) and not _OPTIMIZER_NAME.search(name)
    )
    layer_names = {layer.name for layer in model.layers}
    ignorable = []
    if not any(".Repeat." in name for name in layer_names):
        ignorable.append(_GAIT_DEAD_BLOCK)
    if "GaitNN.Logits.fully_connected" not in layer_names:
        ignorable.append(_GAIT_TRAINING_HEAD)
    unexpected = [name for name in unused if not any(p.match(name) for p in ignorable)]
    if missing or mis_shaped or (strict and unexpected):
        raise SeedCheckpointError(
            checkpoint, missing, mis_shaped, unexpected if strict else ()
        )

    for target, names in plan:
        values = target.convert([reader.get_tensor(name) for name in names])
        for variable, value in zip(target.variables, values):
            variable.assign(np.asarray(value, dtype=variable.dtype))
    return ImportReport(
        loaded=tuple(sorted(used)),
        unused=tuple(sorted(n for n in available if n not in used and n.startswith(scopes))),
    )


def _targets(model: keras.Model) -> list[_Target]:
    """The checkpoint sources of every weight-holding layer named after a TF1 scope."""
    targets: list[_Target] = []
    seen: set[int] = set()
    for layer in model.layers:
        if id(layer) in seen or "." not in layer.name or not layer.weights:
            continue
        seen.add(id(layer))
        scope = layer.name.replace(".", "/")
        if isinstance(layer, keras.layers.BatchNormalization):
            variables, sources = [], []
            for attr in ("gamma", "beta", "moving_mean", "moving_variance"):
                variable = getattr(layer, attr)
                if variable is not None:
                    variables.append(variable)
                    sources.append((f"{scope}/{attr}",))
            targets.append(_Target(tuple(variables), tuple(sources), _identity))
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose,
                                keras.layers.Dense)):
            variables = [layer.kernel] + ([layer.bias] if layer.bias is not None else [])
            sources = [(f"{scope}/weights",)] + ([(f"{scope}/biases",)] if layer.bias is not None
                                                  else [])
            targets.append(_Target(tuple(variables), tuple(sources), _identity))
        elif isinstance(layer, keras.layers.GRU):
            targets.append(_gru_target(layer, scope))
        elif isinstance(layer, keras.layers.LSTM):
            targets.append(_lstm_target(layer, scope))
        else:
            raise TypeError(f"no checkpoint mapping for layer {layer.name!r} ({type(layer)})")
    return targets


def _identity(values: list[np.ndarray]) -> list[np.ndarray]:
    return values


def _rnn_cell_scope(scope: str) -> tuple[str, str]:
    """`GaitNN/Recurrent/cell_0` -> (`GaitNN/Recurrent`, `0`)."""
    match = re.fullmatch(r"(.*)/cell_(\d+)", scope)
    if match is None:
        raise ValueError(f"recurrent layer scope {scope!r} does not end in cell_<i>")
    return match.group(1), match.group(2)


def _rnn_names(parent: str, level: str, cell: str, leaf: str, kind: str) -> tuple[str, ...]:
    """Accepted spellings of one recurrent tensor: TF >= 1.2 first, then TF 1.0/1.1."""
    base = f"{parent}/rnn/multi_rnn_cell/cell_{level}/{cell}"
    leaf = f"{leaf}/" if leaf else ""
    new, old = ("kernel", "weights") if kind == "kernel" else ("bias", "biases")
    return (f"{base}/{leaf}{new}", f"{base}/{leaf}{old}")


def _gru_target(layer: keras.layers.GRU, scope: str) -> _Target:
    if layer.cell.reset_after:
        raise ValueError(f"{layer.name}: the seed's GRU needs reset_after=False")
    parent, level = _rnn_cell_scope(scope)
    units = layer.cell.units
    sources = (
        _rnn_names(parent, level, "gru_cell", "gates", "kernel"),
        _rnn_names(parent, level, "gru_cell", "gates", "bias"),
        _rnn_names(parent, level, "gru_cell", "candidate", "kernel"),
        _rnn_names(parent, level, "gru_cell", "candidate", "bias"),
    )

    def convert(values: list[np.ndarray]) -> list[np.ndarray]:
        gates_kernel, gates_bias, candidate_kernel, candidate_bias = values
        inputs = gates_kernel.shape[0] - units
        reset, update = slice(0, units), slice(units, 2 * units)
        kernel = np.concatenate(
            [gates_kernel[:inputs, update], gates_kernel[:inputs, reset],
             candidate_kernel[:inputs]], axis=1)
        recurrent = np.concatenate(
            [gates_kernel[inputs:, update], gates_kernel[inputs:, reset],
             candidate_kernel[inputs:]], axis=1)
        bias = np.concatenate([gates_bias[update], gates_bias[reset], candidate_bias])
        return [kernel, recurrent, bias]

    cell = layer.cell
    return _Target((cell.kernel, cell.recurrent_kernel, cell.bias), sources, convert)


def _lstm_target(layer: keras.layers.LSTM, scope: str) -> _Target:
    parent, level = _rnn_cell_scope(scope)
    units = layer.cell.units
    sources = (
        _rnn_names(parent, level, "lstm_cell", "", "kernel"),
        _rnn_names(parent, level, "lstm_cell", "", "bias"),
    )

    def convert(values: list[np.ndarray]) -> list[np.ndarray]:
        matrix, bias = values
        inputs = matrix.shape[0] - units
        i, j, f, o = (slice(k * units, (k + 1) * units) for k in range(4))
        order = [i, f, j, o]
        kernel = np.concatenate([matrix[:inputs, s] for s in order], axis=1)
        recurrent = np.concatenate([matrix[inputs:, s] for s in order], axis=1)
        bias = np.concatenate([bias[i], bias[f] + _LSTM_FORGET_BIAS, bias[j], bias[o]])
        return [kernel, recurrent, bias]

    cell = layer.cell
    return _Target((cell.kernel, cell.recurrent_kernel, cell.bias), sources, convert)


def _source_shapes(target: _Target) -> list[tuple[int, ...]]:
    """The checkpoint shape each source must have, derived from the Keras variables."""
    shapes = [tuple(v.shape) for v in target.variables]
    if target.convert is _identity:
        return shapes
    kernel, recurrent = shapes[0], shapes[1]
    inputs, units = kernel[0], recurrent[0]
    if len(target.sources) == 4:  # GRU
        return [(inputs + units, 2 * units), (2 * units,), (inputs + units, units), (units,)]
    return [(inputs + units, 4 * units), (4 * units,)]  # LSTM


def describe_mapping(model: keras.Model) -> Mapping[str, str]:
    """Checkpoint name -> Keras variable path, for documentation and debugging."""
    mapping: dict[str, str] = {}
    for target in _targets(model):
        if target.convert is _identity:
            for alternatives, variable in zip(target.sources, target.variables):
                mapping[alternatives[0]] = variable.path
        else:
            for alternatives in target.sources:
                mapping[alternatives[0]] = "+".join(v.path for v in target.variables)
    return mapping
