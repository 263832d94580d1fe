"""The one naming scheme of dense networks, and the two parameter layouts built on it.

``mlp`` names its scalar parameters with ``param_names`` and the matrix form reads the same
function, so ``W1[j, i]`` is always the scalar weight ``param_names(...)[0].weights[j][i]``:

inputs ``i1..in``, targets ``t1..tm``; hidden neurons ``h1..hk`` with one hidden layer,
``h{layer}_{j}`` with several; output neurons ``o1..om``; weights ``w1, w2, ...`` numbered
layer by layer, neuron by neuron, input by input (so the 2-2-2 network's w5 joins h1 to o1);
biases ``b1, b2, ...`` one per layer (``bias="layer"``) or ``b_h1, b_o1, ...`` one per neuron
(``bias="neuron"``).

>>> layer = param_names(MLPStructure((2, 2, 2), "sigmoid", "sigmoid", "half_sse", "layer", "0.1", None))[1]
>>> layer.neurons, layer.weights[0], layer.biases
(('o1', 'o2'), ('w5', 'w6'), ('b2', 'b2'))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import GraphError

__all__ = ["MLPStructure", "LayerNames", "param_names", "matrix_params", "scalar_gradients", "initial_arrays",
           "mlp_structure", "neuron_names"]


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


@dataclass(frozen=True)
class LayerNames:
    """The scalar names of one dense layer: its neurons, W's entries (row j = neuron j), b's entries."""

    neurons: tuple[str, ...]
    weights: tuple[tuple[str, ...], ...]
    biases: tuple[str | None, ...]


def neuron_names(widths: tuple[int, ...], layer: int) -> tuple[str, ...]:
    """``o1..`` for the output layer, ``h1..`` with one hidden layer, ``h{layer}_{j}`` with several."""
    n = widths[layer]
    if layer == len(widths) - 1:
        return tuple(f"o{j}" for j in range(1, n + 1))
    if len(widths) == 3:
        return tuple(f"h{j}" for j in range(1, n + 1))
    return tuple(f"h{layer}_{j}" for j in range(1, n + 1))


def param_names(structure: MLPStructure) -> list[LayerNames]:
    """For each layer (1 to L), the scalar names of its neurons, weights and biases."""
    widths = structure.widths
    out = []
    k = 1
    for layer in range(1, len(widths)):
        n, m = widths[layer], widths[layer - 1]
        neurons = neuron_names(widths, layer)
        weights = tuple(tuple(f"w{k + j * m + i}" for i in range(m)) for j in range(n))
        k += n * m
        if structure.bias == "none":
            biases: tuple[str | None, ...] = (None,) * n
        elif structure.bias == "layer":
            biases = (f"b{layer}",) * n
        else:
            biases = tuple(f"b_{name}" for name in neurons)
        out.append(LayerNames(neurons, weights, biases))
    return out


def mlp_structure(network) -> MLPStructure:
    """The structure ``mlp`` recorded on ``network``; a clear error for any other network."""
    if not isinstance(network.structure, MLPStructure):
        raise GraphError("the matrix form needs a network of dense layers built by mlp() or an [mlp] spec")
    return network.structure


def matrix_params(network, values: dict | None = None) -> dict[str, np.ndarray]:
    """The network's parameters (or ``values``, by scalar name) as W1, b1, … arrays."""
    structure = mlp_structure(network)
    if values is None and not network.params:  # matrix form only: seeded initial weights
        return initial_arrays(structure)
    values = values if values is not None else {p: network.values[p] for p in network.params}
    out: dict[str, np.ndarray] = {}
    for layer, names in enumerate(param_names(structure), start=1):
        out[f"W{layer}"] = np.array([[float(values[n]) for n in row] for row in names.weights], dtype=np.float64)
        if structure.bias == "layer":
            out[f"b{layer}"] = np.float64(float(values[names.biases[0]]))
        elif structure.bias == "neuron":
            out[f"b{layer}"] = np.array([float(values[n]) for n in names.biases], dtype=np.float64)
    return out


def initial_arrays(structure: MLPStructure) -> dict[str, np.ndarray]:
    """Weights drawn N(0, 1/fan_in) and zero biases, from the structure's seed."""
    rng = np.random.default_rng(structure.seed)
    out: dict[str, np.ndarray] = {}
    for layer, (m, n) in enumerate(zip(structure.widths[:-1], structure.widths[1:]), start=1):
        out[f"W{layer}"] = rng.normal(0.0, 1.0 / np.sqrt(m), size=(n, m))
        if structure.bias == "neuron":
            out[f"b{layer}"] = np.zeros(n)
        elif structure.bias == "layer":
            out[f"b{layer}"] = np.float64(0.0)
    return out


def scalar_gradients(network, grads: dict[str, np.ndarray]) -> dict[str, float]:
    """Matrix-form gradients mapped back to the scalar parameter names."""
    structure = mlp_structure(network)
    out: dict[str, float] = {}
    for layer, names in enumerate(param_names(structure), start=1):
        for j, row in enumerate(names.weights):
            for i, name in enumerate(row):
                out[name] = float(grads[f"W{layer}"][j, i])
        if structure.bias == "layer":
            out[names.biases[0]] = float(grads[f"b{layer}"])
        elif structure.bias == "neuron":
            for j, name in enumerate(names.biases):
                out[name] = float(grads[f"b{layer}"][j])
    return out
