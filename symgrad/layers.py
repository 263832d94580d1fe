"""Builders: neurons, dense layers, activations, losses, L2 regularization and MLPs.

The spec files' ``[mlp]`` shorthand and Python users build networks with these same
functions. Each builder adds named nodes the way the lectures name them: ``net_h1``,
``out_h1``, ``E_o1``, ``E_total``.

MLP naming scheme: ``symgrad.layout.param_names``, read by both the scalar and the matrix form
(documented in docs/reference/spec-format.md). Losses: ``LOSSES``, one row per loss, read by
both forms.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import sympy

from .errors import GraphError, InvalidArgument
from .functions import logsumexp, zero_one
from .graph import Network, as_number
from .layout import MLPStructure, neuron_names, param_names
from .limits import MAX_LAYER_PARAMS, MAX_LAYERS, MAX_MLP_PARAMS, MAX_SCALAR_PARAMS, MAX_WIDTH

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "LossRule",
    "neuron",
    "maxout_neuron",
    "dense",
    "add_loss",
    "add_l2",
    "mlp",
    "MLPStructure",
    "MAX_SCALAR_PARAMS",
    "count_params",
    "default_output_activation",
    "warn_mse",
]



def count_params(widths: Sequence[int], *, bias: str = "neuron", activation: str = "sigmoid") -> int:
    """How many parameters an MLP of these widths has (weights and biases)."""
    pieces = 2 if activation == "maxout" else 1
    weights = sum(pieces * m * n for m, n in zip(widths[:-1], widths[1:]))
    biases = {"neuron": sum(widths[1:]), "layer": len(widths) - 1, "none": 0}.get(bias, 0)
    return weights + biases


# One table: activation name -> expression text of the activation applied to `x`.
ACTIVATIONS: dict[str, Callable[[str, str], str]] = {
    "sigmoid": lambda x, slope: f"sigmoid({x})",
    "tanh": lambda x, slope: f"tanh({x})",
    "relu": lambda x, slope: f"relu({x})",
    "leaky_relu": lambda x, slope: f"max({slope}*{x}, {x})",  # the slide's max(0.1x, x)
    "identity": lambda x, slope: x,
}
_ACTIVATION_NAMES = tuple(ACTIVATIONS) + ("maxout",)


def _weighted_sum(inputs: Sequence[str], weights: Sequence[str], bias: str | None) -> str:
    if len(inputs) != len(weights):
        raise GraphError(f"{len(inputs)} inputs but {len(weights)} weights")
    terms = [f"{w}*{x}" for w, x in zip(weights, inputs)]
    if bias is not None:
        terms.append(f"{bias}*1")
    return " + ".join(terms)


def neuron(net: Network, name: str, inputs: Sequence[str], weights: Sequence[str], bias: str | None = None,
           *, activation: str = "sigmoid", slope: str = "0.1") -> str:
    """Add ``net_{name} = Σ w·x + b`` and ``out_{name} = act(net_{name})``; return ``out_{name}``."""
    if activation not in ACTIVATIONS:
        raise GraphError(f"unknown activation {activation!r}; choose one of {', '.join(_ACTIVATION_NAMES)}")
    for w in weights:
        if w not in net.leaves:
            net.param(w)
    if bias is not None and bias not in net.leaves:
        net.param(bias)
    net.node(f"net_{name}", _weighted_sum(inputs, weights, bias), max_text=None)
    net.node(f"out_{name}", ACTIVATIONS[activation](f"net_{name}", slope))
    return f"out_{name}"


def maxout_neuron(net: Network, name: str, inputs: Sequence[str], weights: Sequence[Sequence[str]],
                  biases: Sequence[str | None]) -> str:
    """Maxout: ``out = max(w1ᵀx + b1, w2ᵀx + b2, ...)``, one ``net_{name}_{k}`` per piece."""
    pieces = []
    for k, (ws, b) in enumerate(zip(weights, biases), start=1):
        for w in ws:
            net.param(w)
        if b is not None:
            net.param(b)
        net.node(f"net_{name}_{k}", _weighted_sum(inputs, ws, b), max_text=None)
        pieces.append(f"net_{name}_{k}")
    net.node(f"out_{name}", f"max({', '.join(pieces)})")
    return f"out_{name}"


def dense(net: Network, inputs: Sequence[str], neurons: Sequence[str], *, activation: str = "sigmoid",
          bias: str = "neuron", layer_bias_name: str | None = None, first_weight: int = 1,
          slope: str = "0.1") -> tuple[list[str], int]:
    """A fully connected layer of ``neurons`` over ``inputs``; returns (outputs, next weight number)."""
    if bias not in ("neuron", "layer", "none"):
        raise GraphError(f"bias must be 'neuron', 'layer' or 'none', got {bias!r}")
    k = first_weight
    outs = []
    for name in neurons:
        if activation == "maxout":
            ws = [[f"w{k + p * len(inputs) + i}" for i in range(len(inputs))] for p in range(2)]
            k += 2 * len(inputs)
            bs = [None if bias == "none" else f"b_{name}_{p}" for p in (1, 2)]
            outs.append(maxout_neuron(net, name, inputs, ws, bs))
            continue
        ws = [f"w{k + i}" for i in range(len(inputs))]
        k += len(inputs)
        b = None if bias == "none" else (layer_bias_name if bias == "layer" else f"b_{name}")
        outs.append(neuron(net, name, inputs, ws, b, activation=activation, slope=slope))
    return outs, k


def _sum_node(net: Network, name: str, parts: Sequence[str]) -> None:
    net.node(name, " + ".join(parts), max_text=None)


@dataclass(frozen=True)
class LossRule:
    """One loss. ``term(o, t)`` is the per-output loss as expression text, summed into ``E_total``
    (the matrix form parses the same text); a loss that is not such a sum has ``term=None`` and
    its own ``build`` over (network, outputs, targets, suffixes). ``mean_over_outputs``: the sum
    is divided by the number of outputs K (``mse``, as ``torch.nn.MSELoss``)."""

    term: Callable[[str, str], str] | None
    build: Callable | None = None
    differentiable: bool = True
    mean_over_outputs: bool = False


def _zero_one_nodes(net, outs, targets, suffixes):
    # Evaluable, not differentiable: zero_one is not allowed in spec text, so it is built in SymPy.
    for o, t, s in zip(outs, targets, suffixes):
        net.node(f"E_{s}", zero_one(net.symbol(t) * net.symbol(o)))
    _sum_node(net, "E_total", [f"E_{s}" for s in suffixes])


def _loss_softmax_ce(net, outs, targets, suffixes):
    # The outputs are logits. Softmax is written with log-sum-exp so it stays finite for any
    # logit: p_k = exp(net_k − LSE), E = −Σ t_k (net_k − LSE).
    logits = [net.symbol(o) for o in outs]
    net.node("lse", logsumexp(*logits))
    lse = net.symbol("lse")
    for o, s in zip(outs, suffixes):
        net.node(f"p_{s}", sympy.exp(net.symbol(o) - lse))
    # As text, so documents print the lecture's form −(t1·(out_o1 − lse) + …), not SymPy's reordering.
    net.node("E_total", "-(" + " + ".join(f"{t} * ({o} - lse)" for t, o in zip(targets, outs)) + ")", max_text=None)


# One table: loss name -> rule, read by add_loss (scalar form) and symgrad.matrix (matrix form).
LOSSES: dict[str, LossRule] = {
    "half_sse": LossRule(lambda o, t: f"1/2*({t} - {o})**2"),  # ½ (t − o)², the lectures' E_total
    "sse": LossRule(lambda o, t: f"({o} - {t})**2"),  # Σ(o − t)², the L2 loss (what "mse" was before)
    # (1/K) Σ_k (o_k − t_k)² per sample: with reduction="mean" over the batch, torch's
    # MSELoss(reduction="mean") = (1/(N·K)) Σ_n Σ_k (o − t)²
    "mse": LossRule(lambda o, t: f"({o} - {t})**2", mean_over_outputs=True),
    # −[t log o + (1 − t) log(1 − o)], o a probability (a sigmoid output, mlp's default for it)
    "bce": LossRule(lambda o, t: f"-({t}*log({o}) + (1 - {t})*log(1 - {o}))"),
    "l1": LossRule(lambda o, t: f"abs({o} - {t})"),  # |o − t|
    "hinge": LossRule(lambda o, t: f"max(0, 1 - {t}*{o})"),  # labels ±1
    "zero_one": LossRule(None, _zero_one_nodes, differentiable=False),
    "softmax_cross_entropy": LossRule(None, _loss_softmax_ce),  # −Σ t log softmax(o), one-hot targets
}


def add_loss(net: Network, outputs: Sequence[str], targets: Sequence[str], loss: str = "half_sse") -> str:
    """Add the loss nodes (``E_o1``, …, ``E_total``); return the loss name."""
    if loss not in LOSSES:
        raise GraphError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if len(outputs) != len(targets):
        raise GraphError(f"{len(outputs)} outputs but {len(targets)} targets")
    suffixes = [o.removeprefix("out_").removeprefix("net_") for o in outputs]
    rule = LOSSES[loss]
    if rule.term is None:
        rule.build(net, list(outputs), list(targets), suffixes)
    else:
        for o, t, s in zip(outputs, targets, suffixes):
            net.node(f"E_{s}", rule.term(o, t))
        parts = [f"E_{s}" for s in suffixes]
        if rule.mean_over_outputs and len(parts) > 1:
            net.node("E_total", f"({' + '.join(parts)})/{len(parts)}", max_text=None)
        else:
            _sum_node(net, "E_total", parts)
    return "E_total"


def add_l2(net: Network, loss: str, params: Sequence[str], strength: object, *, name: str = "J") -> str:
    """``J = loss + λ‖θ‖²`` with λ a constant named ``lam``; returns ``J``."""
    net.constant("lam", strength)
    net.node(name, f"{loss} + lam*(" + " + ".join(f"{p}**2" for p in params) + ")", max_text=None)
    net.output = name
    return name


def mlp(widths: Sequence[int], *, activation: str = "sigmoid", output_activation: str | None = None,
        loss: str = "half_sse", bias: str = "neuron", slope: str = "0.1", l2: object = None,
        seed: int = 0, description: str = "", scalar: bool = True) -> Network:
    """A fully connected network with the documented naming scheme and seeded default values.

    With ``scalar=False`` only the inputs, targets and the layer structure are declared: the
    matrix form (``compile_network``) needs no scalar symbol per weight, which is how a
    784-100-10 network (79,510 parameters) is compiled. Sizes are checked before anything is
    allocated (``symgrad.limits``).

    >>> net = mlp([3, 4, 2])
    >>> len(net.params)
    26
    """
    _check_widths(widths, bias=bias, activation=activation, scalar=scalar)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidArgument(f"seed must be a non-negative integer, got {seed!r}")
    structure = _structure(tuple(widths), activation, output_activation, loss, bias, slope, l2, seed)
    if loss == "mse" and structure.widths[-1] > 1:
        warn_mse(structure.widths[-1], where="loss='mse'")
    net = Network(description=description or f"{'-'.join(map(str, widths))} {activation} MLP, {loss} loss")
    rng = np.random.default_rng(seed)

    def draw(low: int, high: int) -> str:
        return f"{int(rng.integers(low, high + 1)) / 100:.2f}"

    inputs = [f"i{k}" for k in range(1, widths[0] + 1)]
    for x in inputs:
        net.input(x, draw(0, 100))
    targets = [f"t{k}" for k in range(1, widths[-1] + 1)]
    if scalar:
        outputs = _layers(net, structure, inputs)
    for t in targets:
        net.target(t)
    _default_targets(net, targets, loss, draw, rng)
    if scalar:
        for p in net.params:
            net.values[p] = sympy.Rational(draw(-100, 100))
        out = add_loss(net, outputs, targets, loss)
        if l2 is not None:
            add_l2(net, out, net.params, l2)
    net.structure = structure
    return net


def warn_mse(outputs: int, *, where: str) -> None:
    """The DeprecationWarning of ``mse`` over several outputs (its meaning changed), ``where`` naming what asked
    for it (``loss='mse'``, or a spec file's ``[mlp] loss``), attributed to the first caller outside symgrad."""
    package = os.path.dirname(os.path.abspath(__file__))
    level, frame = 2, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        level, frame = level + 1, frame.f_back
    warnings.warn(f"{where}: mse over {outputs} outputs is now the mean over them, (1/K) Σ(o − t)², as "
                  "torch.nn.MSELoss; before this release it was the sum, which is now loss='sse': write 'sse' to "
                  "keep the sum, or keep 'mse' for the mean (this warning goes in the next release)",
                  DeprecationWarning, stacklevel=level)


def _check_widths(widths: Sequence[int], *, bias: str, activation: str, scalar: bool) -> None:
    """Refuse widths that are not positive integers, or a network too big to allocate, up front."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) < 2 or any(
            not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
        raise GraphError(f"widths must list at least two positive integers, got {_quoted_widths(widths)}")
    if len(widths) - 1 > MAX_LAYERS:
        raise GraphError(f"widths asks for {len(widths) - 1} layers, more than the limit of {MAX_LAYERS}")
    if max(widths) > MAX_WIDTH:
        raise GraphError(f"widths asks for a layer of {max(widths)} units, more than the limit of {MAX_WIDTH}")
    biggest = max(m * n for m, n in zip(widths[:-1], widths[1:]))
    if biggest > MAX_LAYER_PARAMS:
        raise GraphError(f"widths asks for a layer of {biggest:,} weights ({biggest * 8 / 2**30:.1f} GiB of float64), "
                         f"more than the limit of {MAX_LAYER_PARAMS:,} per layer")
    total = count_params(widths, bias=bias, activation=activation)
    if total > MAX_MLP_PARAMS:
        raise GraphError(f"widths asks for {total:,} parameters ({total * 8 / 2**30:.1f} GiB of float64), more than "
                         f"the limit of {MAX_MLP_PARAMS:,}")
    if scalar and total > MAX_SCALAR_PARAMS:
        raise GraphError(f"widths asks for {total:,} parameters, more than the {MAX_SCALAR_PARAMS:,} that get a "
                         "scalar name each; build it with scalar=False (the matrix form)")


def _quoted_widths(value: object) -> str:
    """``widths`` for a message; a long list is cut and says how many entries it has (not ``errors.shorten``)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}… ({len(value)} entries)" if hasattr(value, "__len__") \
        else text[:80] + "…"


def default_output_activation(activation: str, loss: str) -> str:
    """The output layer's activation when none is given: identity under softmax cross-entropy (the
    outputs are logits) and maxout, sigmoid under BCE (the outputs are probabilities), else the hidden one."""
    if loss == "bce":
        return "sigmoid"
    return "identity" if loss == "softmax_cross_entropy" or activation == "maxout" else activation


def _structure(widths: tuple[int, ...], activation: str, output_activation: str | None, loss: str, bias: str,
               slope: str, l2: object, seed: int) -> MLPStructure:
    """Check the options by name and record them: what the matrix form needs to rebuild the network."""
    if activation not in _ACTIVATION_NAMES:
        raise GraphError(f"unknown activation {activation!r}; choose one of {', '.join(_ACTIVATION_NAMES)}")
    if output_activation is None:
        output_activation = default_output_activation(activation, loss)
    if output_activation not in ACTIVATIONS:
        raise GraphError(f"unknown output activation {output_activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if loss not in LOSSES:
        raise GraphError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if bias not in ("neuron", "layer", "none"):
        raise GraphError(f"bias must be 'neuron', 'layer' or 'none', got {bias!r}")
    return MLPStructure(widths, activation, output_activation, loss, bias, slope,
                        None if l2 is None else as_number(l2), seed)


def _layers(net: Network, structure: MLPStructure, inputs: list[str]) -> list[str]:
    """Add every layer's neurons, named by ``layout.param_names``; return the output layer's names."""
    layer_inputs = inputs
    last = len(structure.widths) - 1
    if structure.activation == "maxout":  # two weight vectors per neuron: dense() names them
        next_weight = 1
        for layer in range(1, last + 1):
            names = list(neuron_names(structure.widths, layer))
            layer_inputs, next_weight = dense(
                net, layer_inputs, names,
                activation=structure.output_activation if layer == last else structure.activation,
                bias=structure.bias, layer_bias_name=f"b{layer}", first_weight=next_weight, slope=structure.slope)
        return layer_inputs
    for layer, names in enumerate(param_names(structure), start=1):
        act = structure.output_activation if layer == last else structure.activation
        layer_inputs = [neuron(net, name, layer_inputs, weights, b, activation=act, slope=structure.slope)
                        for name, weights, b in zip(names.neurons, names.weights, names.biases)]
    return layer_inputs


def _default_targets(net: Network, targets: list[str], loss: str, draw, rng) -> None:
    if loss == "softmax_cross_entropy":
        hot = int(rng.integers(0, len(targets)))
        for k, t in enumerate(targets):
            net.values[t] = sympy.Integer(int(k == hot))
    elif loss in ("hinge", "zero_one"):
        for t in targets:
            net.values[t] = sympy.Integer(1 if rng.integers(0, 2) else -1)
    else:
        for t in targets:
            net.values[t] = sympy.Rational(draw(0, 100))
