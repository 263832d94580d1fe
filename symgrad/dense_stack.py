"""A framework's dense network beyond the scalar form's size, described once: what both importers read.

``from_torch`` and ``from_jax`` name one symgrad leaf per parameter up to
``limits.MAX_SCALAR_PARAMS``. Beyond it, each reads the model into a ``DenseStack`` — its layers
(weight out × in and bias, as float64 arrays, with the framework's names for them), the
activation between layers (one for all), the output activation, the loss and its reduction
over the batch — and ``dense_stack`` checks that it is the shape ``mlp`` builds, so that both
importers refuse the same things with the same words. ``matrix_import`` then builds an
``mlp(..., scalar=False)`` network and an ``ImportedModel`` carrying the framework's values as
``W1``, ``b1``, … arrays; ``ImportedModel.compiled_gradients`` is the compiled matrix form at them.

>>> layer = DenseLayer(np.array([[0.5, -1.0]]), np.array([0.25]), TensorSource("0.weight", (1, 2)),
...                    TensorSource("0.bias", (1,)), "layer 0")
>>> stack = dense_stack([layer], [], output_activation="sigmoid", loss="bce", reduction="sum",
...                     framework="torch")
>>> stack.widths, stack.bias
((2, 1), 'neuron')
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import InvalidArgument
from .layers import mlp
from .model_import import ImportedModel, TensorSource

__all__ = ["DenseLayer", "DenseStack", "dense_stack", "matrix_import", "HIDDEN_ACTIVATIONS"]

#: The activations the matrix form takes between layers (mlp's names).
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")


@dataclass(frozen=True)
class DenseLayer:
    """One dense layer as the framework holds it: ``weight`` is out × in (symgrad's ``W``), float64.

    ``name`` says which layer it is in the framework's terms ("layer 2 (Linear(90, 3))"), for errors.
    """

    weight: np.ndarray
    bias: np.ndarray | None
    weight_source: TensorSource
    bias_source: TensorSource | None
    name: str


@dataclass(frozen=True)
class DenseStack:
    """Dense layers with one hidden activation, an output activation and a loss: an ``mlp`` in matrix form."""

    layers: tuple[DenseLayer, ...]
    activation: str
    output_activation: str
    slope: str | None
    loss: str
    reduction: str
    framework: str

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.layers[0].weight.shape[1],) + tuple(layer.weight.shape[0] for layer in self.layers)

    @property
    def bias(self) -> str:
        """mlp's ``bias`` option: "neuron" (every layer has one) or "none"."""
        return "none" if self.layers[0].bias is None else "neuron"


def dense_stack(layers: Sequence[DenseLayer], between: Sequence[tuple[str, str | None]], *, output_activation: str,
                loss: str, reduction: str, framework: str) -> DenseStack:
    """Check ``layers`` and the activations ``between`` them ((mlp name, leaky slope or None), one per gap).

    The matrix form takes one activation between each two layers, the same one everywhere (the
    same slope for leaky ReLU), biases on every layer or on none, and sizes that chain.
    """
    if not layers:
        raise InvalidArgument("the model has no dense layer, so no parameters to differentiate")
    names = [name for name, _ in between]
    if len(between) != len(layers) - 1 or any(name not in HIDDEN_ACTIVATIONS for name in names):
        raise InvalidArgument(f"the matrix form takes dense layers with one activation between each two "
                              f"({', '.join(HIDDEN_ACTIVATIONS)}); the model has {len(layers)} layers and "
                              f"{', '.join(names) or 'no activation'} between them")
    slopes = {slope for name, slope in between if name == "leaky_relu"}
    if len(set(names)) > 1 or len(slopes) > 1:
        raise InvalidArgument(f"the matrix form takes one hidden activation for every layer; the model has "
                              f"{', '.join(sorted(set(names)))}{' with slopes ' + str(sorted(slopes)) if slopes else ''}")
    if len({layer.bias is None for layer in layers}) > 1:
        raise InvalidArgument("the matrix form takes biases on every layer or on none; the model mixes them")
    for before, layer in zip(layers, layers[1:]):
        if layer.weight.shape[1] != before.weight.shape[0]:
            raise InvalidArgument(f"{layer.name} receives {before.weight.shape[0]} features from the layer before "
                                  "it; the sizes do not chain")
    for layer in layers:
        if layer.bias is not None and layer.bias.shape != (layer.weight.shape[0],):
            raise InvalidArgument(f"{layer.name}: a bias of {layer.bias.size} entries for {layer.weight.shape[0]} "
                                  "units")
    return DenseStack(tuple(layers), names[0] if names else "identity", output_activation,
                      slopes.pop() if slopes else None, loss, reduction, framework)


def matrix_import(stack: DenseStack, inputs: np.ndarray, targets: np.ndarray, *, description: str) -> ImportedModel:
    """The ``ImportedModel`` of ``stack``: an ``mlp`` network in matrix form, the framework's values as W1, b1, ….

    ``inputs`` and ``targets`` are the example batch, one sample per row (or one sample).
    """
    widths = stack.widths
    rows = np.asarray(inputs, dtype=np.float64).reshape(-1, widths[0])
    with warnings.catch_warnings():  # mse over K outputs: the framework's meaning, asked for here
        warnings.simplefilter("ignore", DeprecationWarning)
        network = mlp(widths, activation=stack.activation, output_activation=stack.output_activation,
                      loss=stack.loss, bias=stack.bias, slope=stack.slope or "0.1", scalar=False,
                      description=f"from {stack.framework}: {description}, {'-'.join(map(str, widths))} "
                                  f"{stack.activation} network, {stack.loss} loss ({stack.reduction}) on "
                                  f"{len(rows)} sample{'s' if len(rows) != 1 else ''}")
    params, sources = {}, {}
    for k, layer in enumerate(stack.layers, start=1):
        params[f"W{k}"], sources[f"W{k}"] = layer.weight, layer.weight_source
        if layer.bias is not None:
            params[f"b{k}"], sources[f"b{k}"] = layer.bias, layer.bias_source
    return ImportedModel(network, {}, params=params, inputs=rows,
                         targets=np.asarray(targets, dtype=np.float64).reshape(len(rows), -1),
                         reduction=stack.reduction, matrix_sources=sources)
