"""PyTorch models in: a ``torch.nn.Sequential`` of dense layers and a loss, as a symgrad network.

Two tables say what is supported: ``LAYERS`` (module type → how it acts on a tensor of
expressions) and ``LOSSES`` (loss name → the loss of outputs and targets). Anything else is
refused with ``InvalidArgument`` naming the layer or option and listing what is supported.

Names: parameter ``layer{k}_weight_{j}_{i}`` is ``module[k].weight[j, i]`` and
``layer{k}_bias_{j}`` is ``module[k].bias[j]``; inputs ``x_…`` and targets ``t_…`` are indexed
like the example tensors; layer k's outputs are nodes ``z{k}_…`` (a Linear layer) or
``a{k}_…`` (an activation), and the loss is ``E_total``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

from .errors import InvalidArgument
from .functions import logsumexp, relu, sigmoid
from .limits import MAX_SCALAR_PARAMS
from .model_import import ImportedModel, ModelGraph, affine, exact, require
from .torch_matrix import matrix_model

__all__ = ["from_torch", "LAYERS", "LOSSES"]


#: Modules people often have in a Sequential, with what to do about them.
_LAYER_HINTS = {
    "Dropout": "; Dropout is the identity in eval mode and random in training: remove it from the Sequential "
               "to import the model (it computes what model.eval() computes)",
    **{kind: "; symgrad imports dense networks (Linear layers) only, not convolutions"
       for kind in ("Conv1d", "Conv2d", "Conv3d", "MaxPool2d", "AvgPool2d")},
    "Flatten": "; give example_input already flat, (N, in_features), and remove Flatten",
    "Sequential": "; flatten nested Sequentials into one: nn.Sequential(*outer[0], *outer[1:])",
}


def _rows(a: np.ndarray) -> list[tuple[int, ...]]:
    """The index of every vector along the last axis (one per sample)."""
    return list(np.ndindex(*a.shape[:-1]))


def _softmax_parts(graph: ModelGraph, k: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-sum-exp over the last axis as nodes ``lse{k}_…``; returns (z, lse broadcast to z's shape)."""
    lse = np.empty(z.shape[:-1], dtype=object)
    for index in _rows(z):
        lse[index] = logsumexp(*z[index])
    lse = graph.nodes(f"lse{k}", lse)
    return z, np.broadcast_to(lse[..., None], z.shape)


def _elementwise(function: Callable[[sympy.Expr], sympy.Expr]):
    def apply(graph: ModelGraph, k: int, layer, z: np.ndarray) -> np.ndarray:
        return graph.nodes(f"a{k}", np.vectorize(function, otypes=[object])(z))
    return apply


def _leaky_relu(graph: ModelGraph, k: int, layer, z: np.ndarray) -> np.ndarray:
    slope = exact(layer.negative_slope, what=f"layer {k} (LeakyReLU) negative_slope")
    pick = sympy.Max if slope <= 1 else sympy.Min  # x for x > 0, slope·x below: the larger for slope < 1
    return graph.nodes(f"a{k}", np.vectorize(lambda x: pick(slope * x, x), otypes=[object])(z))


def _check_last_dim(k: int, layer, z: np.ndarray) -> None:
    dim = layer.dim
    if dim is None or dim not in (-1, z.ndim - 1):
        raise InvalidArgument(f"layer {k} ({type(layer).__name__}(dim={dim})): only softmax over the last "
                              f"dimension is supported (dim=-1 or dim={z.ndim - 1})")


def _softmax(graph: ModelGraph, k: int, layer, z: np.ndarray) -> np.ndarray:
    _check_last_dim(k, layer, z)
    z, lse = _softmax_parts(graph, k, z)
    return graph.nodes(f"a{k}", np.vectorize(lambda a, b: sympy.exp(a - b), otypes=[object])(z, lse))


def _log_softmax(graph: ModelGraph, k: int, layer, z: np.ndarray) -> np.ndarray:
    _check_last_dim(k, layer, z)
    z, lse = _softmax_parts(graph, k, z)
    return graph.nodes(f"a{k}", z - lse)


def _linear(graph: ModelGraph, k: int, layer, x: np.ndarray) -> np.ndarray:
    if x.shape[-1] != layer.in_features:
        raise InvalidArgument(f"layer {k} (Linear({layer.in_features}, {layer.out_features})) receives "
                              f"{x.shape[-1]} features per sample; give example_input a last dimension of "
                              f"{layer.in_features}" if k == 0 else
                              f"layer {k} (Linear({layer.in_features}, {layer.out_features})) receives "
                              f"{x.shape[-1]} features from the layer before it; the model's sizes do not chain")
    weight = graph.leaves("param", f"layer{k}_weight", _values(layer.weight), source=f"{k}.weight",
                          what=f"layer {k}'s weight")
    bias = None
    if layer.bias is not None:
        bias = graph.leaves("param", f"layer{k}_bias", _values(layer.bias), source=f"{k}.bias",
                            what=f"layer {k}'s bias")
    return graph.nodes(f"z{k}", affine(x, weight, bias))


def _identity(graph: ModelGraph, k: int, layer, x: np.ndarray) -> np.ndarray:
    return x


#: Module class name → how it acts on an array of expressions (graph, layer index, module, x) → y.
LAYERS: dict[str, Callable] = {
    "Linear": _linear,
    "Sigmoid": _elementwise(sigmoid),
    "Tanh": _elementwise(sympy.tanh),
    "ReLU": _elementwise(relu),
    "LeakyReLU": _leaky_relu,
    "Softmax": _softmax,
    "LogSoftmax": _log_softmax,
    "Identity": _identity,
}


@dataclass(frozen=True)
class LossRule:
    """One loss: the sum of ``term`` over entries, divided by ``count`` under reduction "mean".

    ``term(o, t)`` is one entry's loss; for ``per_row`` losses it takes a whole row (one sample's
    outputs and targets) and ``count`` counts rows, as PyTorch's mean does for cross-entropy.
    ``classes`` losses accept class-index targets, turned into one-hot rows.
    """

    term: Callable
    per_row: bool = False
    classes: bool = False


def _cross_entropy(z: np.ndarray, t: np.ndarray) -> sympy.Expr:
    lse = logsumexp(*z)
    return -sympy.Add(*[ti * (zi - lse) for zi, ti in zip(z, t)])


#: Loss name → rule. PyTorch loss classes map to these names (``_LOSS_CLASSES``).
LOSSES: dict[str, LossRule] = {
    "mse": LossRule(lambda o, t: (o - t) ** 2),
    "l1": LossRule(lambda o, t: sympy.Abs(o - t)),
    "bce": LossRule(lambda p, t: -(t * sympy.log(p) + (1 - t) * sympy.log(1 - p))),
    # −[t log σ(z) + (1 − t) log(1 − σ(z))] = (1 − t) z + log(1 + e^(−z)), the last as LSE(0, −z).
    "bce_with_logits": LossRule(lambda z, t: (1 - t) * z + logsumexp(sympy.S.Zero, -z)),
    "cross_entropy": LossRule(_cross_entropy, per_row=True, classes=True),
    "nll": LossRule(lambda z, t: -sympy.Add(*[zi * ti for zi, ti in zip(z, t)]), per_row=True, classes=True),
}

_LOSS_CLASSES = {"MSELoss": "mse", "L1Loss": "l1", "BCELoss": "bce", "BCEWithLogitsLoss": "bce_with_logits",
                 "CrossEntropyLoss": "cross_entropy", "NLLLoss": "nll"}
#: Loss-module attributes that must keep their default for the loss to be the rule above.
_DEFAULTS = {"weight": None, "pos_weight": None, "label_smoothing": 0.0}


def _values(tensor) -> np.ndarray:
    """A tensor's values as a float64 NumPy array (float32 values are exact in float64)."""
    return tensor.detach().cpu().double().numpy()


def _loss_rule(loss: object) -> tuple[str, LossRule, str, object]:
    """(name, rule, reduction, ignore_index) of a loss given by name or as a torch loss module."""
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise InvalidArgument(f"unknown loss {loss!r}; give one of {', '.join(map(repr, LOSSES))} "
                                  f"or a torch loss module ({', '.join(_LOSS_CLASSES)})")
        return loss, LOSSES[loss], "mean", -100
    kind = type(loss).__name__
    if kind not in _LOSS_CLASSES or not type(loss).__module__.startswith("torch.nn"):
        raise InvalidArgument(f"loss {loss!r} is not supported; give one of {', '.join(_LOSS_CLASSES)} "
                              f"(torch.nn) or a name: {', '.join(map(repr, LOSSES))}")
    for option, default in _DEFAULTS.items():
        value = getattr(loss, option, default)
        if (value is not None) if default is None else (value != default):
            raise InvalidArgument(f"{kind}({option}=…) is not supported; only {option}={default!r}")
    reduction = loss.reduction
    if reduction not in ("mean", "sum"):
        raise InvalidArgument(f"{kind}(reduction={reduction!r}) is not supported: the loss must be one number; "
                              "use reduction='mean' or 'sum'")
    return _LOSS_CLASSES[kind], LOSSES[_LOSS_CLASSES[kind]], reduction, getattr(loss, "ignore_index", -100)


def _targets(name: str, rule: LossRule, target: np.ndarray, output_shape: tuple[int, ...],
             ignore_index: object) -> np.ndarray:
    """The target values shaped like the output: class indices become one-hot rows."""
    if rule.classes and np.issubdtype(target.dtype, np.integer):
        if target.shape != output_shape[:-1]:
            raise InvalidArgument(f"example_target holds class indices of shape {target.shape}; the model's "
                                  f"output has shape {output_shape}, so give shape {output_shape[:-1]}")
        classes = output_shape[-1]
        if np.any(target == ignore_index):
            raise InvalidArgument(f"example_target contains ignore_index={ignore_index}; ignored samples are "
                                  "not supported, leave them out of the example batch")
        if np.any((target < 0) | (target >= classes)):
            raise InvalidArgument(f"example_target holds class indices outside 0..{classes - 1}: "
                                  f"{sorted(set(target[(target < 0) | (target >= classes)].tolist()))[:5]}")
        return np.eye(classes)[target]
    if target.shape != output_shape:
        hint = " (or class indices of shape " + str(output_shape[:-1]) + ")" if rule.classes else ""
        raise InvalidArgument(f"example_target has shape {target.shape}; the {name} loss needs the model's "
                              f"output shape {output_shape}{hint}")
    return target.astype(np.float64)


def _loss(rule: LossRule, reduction: str, outputs: np.ndarray, targets: np.ndarray) -> sympy.Expr:
    if rule.per_row:
        terms = [rule.term(outputs[i], targets[i]) for i in _rows(outputs)]
    else:
        terms = [rule.term(outputs[i], targets[i]) for i in np.ndindex(*outputs.shape)]
    total = sympy.Add(*terms)
    return total / len(terms) if reduction == "mean" else total


def _describe(layers: list, loss_name: str, reduction: str, batch: str) -> str:
    names = []
    for layer in layers:
        kind = type(layer).__name__
        names.append(f"Linear({layer.in_features}→{layer.out_features})" if kind == "Linear" else kind)
    return f"from torch: {' → '.join(names)}; {loss_name} loss ({reduction}) on {batch}"


def _as_array(torch, value: object, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.numpy() if not value.is_floating_point() else value.double().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{what} must be a tensor or array of numbers ({exc})") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InvalidArgument(f"{what} must be a tensor or array of numbers, got {value!r:.80}")
    return array


def from_torch(module: object, *, loss: object, example_input: object, example_target: object) -> ImportedModel:
    """A ``torch.nn.Sequential`` and its loss as a symgrad network with the same parameter values.

    ``loss`` is a torch loss module (``MSELoss``, ``L1Loss``, ``BCELoss``, ``BCEWithLogitsLoss``,
    ``CrossEntropyLoss``, ``NLLLoss``; reduction mean or sum) or one of the names in ``LOSSES``.
    ``example_input`` is one sample (shape ``(in_features,)``) or a batch (``(N, in_features)``);
    the network's output ``E_total`` is the loss PyTorch computes on it. Cross-entropy and NLL
    targets may be class indices or one-hot/probability rows.

    The example needs the ``torch`` extra; docs/how-to/import-torch-jax.md runs it.

    >>> import torch  # doctest: +SKIP
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid())  # doctest: +SKIP
    >>> imported = from_torch(model, loss=torch.nn.MSELoss(), example_input=[0.5, -1.0],
    ...                       example_target=[1.0])  # doctest: +SKIP
    >>> imported.network.params  # doctest: +SKIP
    ('layer0_weight_0_0', 'layer0_weight_0_1', 'layer0_bias_0')
    """
    torch = require("torch", feature="from_torch", extra="torch")
    if not isinstance(module, torch.nn.Sequential):
        raise InvalidArgument(f"from_torch takes a torch.nn.Sequential, got {type(module).__name__}; write the "
                              "model as torch.nn.Sequential(Linear, activation, …)")
    layers = list(module)
    if not layers:
        raise InvalidArgument("the Sequential is empty; give it at least one Linear layer")
    for k, layer in enumerate(layers):
        kind = type(layer).__name__
        if kind not in LAYERS or not type(layer).__module__.startswith("torch.nn"):
            raise InvalidArgument(f"layer {k} ({kind}) is not supported; from_torch supports "
                                  f"{', '.join(LAYERS)} (torch.nn){_LAYER_HINTS.get(kind, '')}")
    if not any(type(layer).__name__ == "Linear" for layer in layers):
        raise InvalidArgument("the Sequential has no Linear layer, so no parameters to differentiate")
    count = sum(p.numel() for p in module.parameters())
    loss_name, rule, reduction, ignore_index = _loss_rule(loss)
    x = _as_array(torch, example_input, "example_input").astype(np.float64)
    target = _as_array(torch, example_target, "example_target")
    if x.ndim not in (1, 2) or x.size == 0:
        raise InvalidArgument(f"example_input has shape {x.shape}; give one sample (in_features,) or a batch "
                              "(N, in_features)")
    if count > MAX_SCALAR_PARAMS:  # beyond the scalar form: the matrix form, with the torch weights
        first, last = layers[0], [m for m in layers if type(m).__name__ == "Linear"][-1]
        if type(first).__name__ == "Linear" and x.shape[-1] != first.in_features:
            raise InvalidArgument(f"layer 0 (Linear({first.in_features}, {first.out_features})) receives "
                                  f"{x.shape[-1]} features per sample; give example_input a last dimension of "
                                  f"{first.in_features}")
        shape = x.shape[:-1] + (last.out_features,)
        return matrix_model(module, layers, loss_name, reduction, x,
                            _targets(loss_name, rule, target, shape, ignore_index), _values)
    batch = "one sample" if x.ndim == 1 else f"a batch of {x.shape[0]}"
    graph = ModelGraph(_describe(layers, loss_name, reduction, batch))
    values = graph.leaves("input", "x", x, what="example_input")
    for k, layer in enumerate(layers):
        values = LAYERS[type(layer).__name__](graph, k, layer, values)
    targets = graph.leaves("target", "t", _targets(loss_name, rule, target, values.shape, ignore_index),
                           what="example_target")
    return graph.finish(_loss(rule, reduction, values, targets))
