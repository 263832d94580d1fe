"""Builders: neurons, dense layers, activations, losses, L2 regularization and MLPs.

The spec files' ``[mlp]`` shorthand and Python users build networks with these same
functions. Each builder adds named nodes the way the lectures name them: ``net_h1``,
``out_h1``, ``E_o1``, ``E_total``.

MLP naming scheme (documented in docs/reference/spec-format.md):
inputs ``i1..in``, targets ``t1..tm``; hidden neurons ``h1..hk`` with one hidden layer,
``h{layer}_{j}`` with several; output neurons ``o1..om``; weights ``w1, w2, ...`` numbered
layer by layer, neuron by neuron, input by input (so the 2-2-2 network's w5 joins h1 to o1);
biases ``b1, b2, ...`` one per layer (``bias="layer"``, as in the lecture) or
``b_h1, b_o1, ...`` one per neuron (``bias="neuron"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import sympy

from .errors import GraphError
from .functions import logsumexp, zero_one
from .graph import Network, as_number
from .limits import MAX_SCALAR_PARAMS

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "neuron",
    "maxout_neuron",
    "dense",
    "add_loss",
    "add_l2",
    "mlp",
    "MLPStructure",
    "MAX_SCALAR_PARAMS",
    "count_params",
]



def count_params(widths: Sequence[int], *, bias: str = "neuron", activation: str = "sigmoid") -> int:
    """How many parameters an MLP of these widths has (weights and biases)."""
    pieces = 2 if activation == "maxout" else 1
    weights = sum(pieces * m * n for m, n in zip(widths[:-1], widths[1:]))
    biases = {"neuron": sum(widths[1:]), "layer": len(widths) - 1, "none": 0}.get(bias, 0)
    return weights + biases


@dataclass(frozen=True)
class MLPStructure:
    """How ``mlp`` built a network: what the matrix form needs to redo it with matrices."""

    widths: tuple[int, ...]
    activation: str
    output_activation: str
    loss: str
    bias: str
    slope: str
    l2: object  # λ as an exact number, or None
    seed: int = 0

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


# One table: per-output loss terms ℓ(o, t) as the lectures write them; E_total sums them.
_TERMS: dict[str, Callable] = {
    "half_sse": lambda net, o, t: f"1/2*({t} - {o})**2",  # ½ (t − o)², the lectures' E_total
    "sse": lambda net, o, t: f"({o} - {t})**2",  # (o − t)², the L2 loss
    "l1": lambda net, o, t: f"abs({o} - {t})",  # |o − t|
    "hinge": lambda net, o, t: f"max(0, 1 - {t}*{o})",  # labels ±1
    "zero_one": lambda net, o, t: zero_one(net.symbol(t) * net.symbol(o)),  # evaluable, not differentiable
}


def _summed(term: Callable) -> Callable:
    def build(net, outs, targets, suffixes):
        for o, t, s in zip(outs, targets, suffixes):
            net.node(f"E_{s}", term(net, o, t))
        _sum_node(net, "E_total", [f"E_{s}" for s in suffixes])

    return build


def _loss_softmax_ce(net, outs, targets, suffixes):
    # The outputs are logits. Softmax is written with log-sum-exp so it stays finite for any
    # logit: p_k = exp(net_k − LSE), E = −Σ t_k (net_k − LSE).
    logits = [net.symbol(o) for o in outs]
    net.node("lse", logsumexp(*logits))
    lse = net.symbol("lse")
    for o, s in zip(outs, suffixes):
        net.node(f"p_{s}", sympy.exp(net.symbol(o) - lse))
    net.node("E_total", -sympy.Add(*[net.symbol(t) * (z - lse) for t, z in zip(targets, logits)]))


# One table: loss name -> builder over (network, outputs, targets, suffixes).
LOSSES: dict[str, Callable] = {name: _summed(term) for name, term in _TERMS.items()}
LOSSES["softmax_cross_entropy"] = _loss_softmax_ce  # −Σ t log softmax(o), one-hot targets


def add_loss(net: Network, outputs: Sequence[str], targets: Sequence[str], loss: str = "half_sse") -> str:
    """Add the loss nodes (``E_o1``, …, ``E_total``); return the loss name."""
    if loss not in LOSSES:
        raise GraphError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if len(outputs) != len(targets):
        raise GraphError(f"{len(outputs)} outputs but {len(targets)} targets")
    suffixes = [o.removeprefix("out_").removeprefix("net_") for o in outputs]
    LOSSES[loss](net, list(outputs), list(targets), suffixes)
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
    784-100-10 network (79,510 parameters) is compiled.

    >>> net = mlp([3, 4, 2])
    >>> len(net.params)
    26
    """
    if len(widths) < 2 or any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
        raise GraphError(f"widths must list at least two positive integers, got {list(widths)!r}")
    if activation not in _ACTIVATION_NAMES:
        raise GraphError(f"unknown activation {activation!r}; choose one of {', '.join(_ACTIVATION_NAMES)}")
    if output_activation is None:
        output_activation = "identity" if loss == "softmax_cross_entropy" or activation == "maxout" else activation
    if output_activation not in ACTIVATIONS:
        raise GraphError(f"unknown output activation {output_activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if loss not in LOSSES:
        raise GraphError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    net = Network(description=description or f"{'-'.join(map(str, widths))} {activation} MLP, {loss} loss")
    rng = np.random.default_rng(seed)

    def draw(low: int, high: int) -> str:
        return f"{int(rng.integers(low, high + 1)) / 100:.2f}"

    inputs = [f"i{k}" for k in range(1, widths[0] + 1)]
    for x in inputs:
        net.input(x, draw(0, 100))
    targets = [f"t{k}" for k in range(1, widths[-1] + 1)]
    structure = MLPStructure(tuple(widths), activation, output_activation, loss, bias, slope,
                             None if l2 is None else as_number(l2), seed)
    if not scalar:
        for t in targets:
            net.target(t)
        _default_targets(net, targets, loss, draw, rng)
        net.structure = structure
        return net
    hidden_layers = len(widths) - 2
    layer_inputs, next_weight = inputs, 1
    for layer in range(1, len(widths)):
        last = layer == len(widths) - 1
        if last:
            names = [f"o{j}" for j in range(1, widths[layer] + 1)]
        elif hidden_layers == 1:
            names = [f"h{j}" for j in range(1, widths[layer] + 1)]
        else:
            names = [f"h{layer}_{j}" for j in range(1, widths[layer] + 1)]
        layer_inputs, next_weight = dense(
            net, layer_inputs, names, activation=output_activation if last else activation, bias=bias,
            layer_bias_name=f"b{layer}", first_weight=next_weight, slope=slope)
    for t in targets:
        net.target(t)
    _default_targets(net, targets, loss, draw, rng)
    for p in net.params:
        net.values[p] = sympy.Rational(draw(-100, 100))
    out = add_loss(net, layer_inputs, targets, loss)
    if l2 is not None:
        add_l2(net, out, net.params, l2)
    net.structure = structure
    return net


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
