"""A torch model beyond the scalar form's size, in the matrix form: the same weights as W1, b1, … arrays.

``from_torch`` names one symgrad leaf per parameter up to ``limits.MAX_SCALAR_PARAMS``. A larger
``Sequential`` of the shape ``mlp`` builds — Linear layers, one hidden activation between them,
an optional output activation — becomes an ``mlp(..., scalar=False)`` network with the torch
weights carried in ``ImportedModel.params`` (``W{l}`` is ``module[k].weight``, out × in, as
torch holds it) and the example batch in ``inputs``/``targets``. The loss must be one the
matrix form computes exactly as torch does:

- ``MSELoss`` (mean: symgrad's ``mse``, (1/K)Σ over the K outputs, mean over the batch; sum:
  ``sse`` summed over the batch);
- ``CrossEntropyLoss`` on logits, or ``NLLLoss`` after ``LogSoftmax``: ``softmax_cross_entropy``;
- ``BCELoss`` after ``Sigmoid`` and ``L1Loss``: ``bce``/``l1``, with one output under "mean"
  (torch's mean also divides by K; symgrad's sums the outputs).

``ImportedModel.compiled_gradients`` is then the compiled matrix form's loss and gradients at
the torch values, keyed by torch's parameter names.
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import InvalidArgument
from .layers import mlp
from .model_import import ImportedModel

__all__ = ["matrix_model", "ACTIVATION_NAMES"]

#: torch activation class → mlp activation name.
ACTIVATION_NAMES = {"Sigmoid": "sigmoid", "Tanh": "tanh", "ReLU": "relu", "LeakyReLU": "leaky_relu"}


def _structure(layers: list) -> tuple[list[int], str, str, str, list[int], str | None]:
    """(widths, hidden activation, last layer's module name or "", bias, Linear indices, leaky slope)."""
    linear = [k for k, layer in enumerate(layers) if type(layer).__name__ == "Linear"]
    if linear[0] != 0:
        raise InvalidArgument(f"layer 0 ({type(layers[0]).__name__}): the matrix form starts with a Linear layer")
    between = [layers[a + 1:b] for a, b in zip(linear, linear[1:])]
    if any(len(g) != 1 or type(g[0]).__name__ not in ACTIVATION_NAMES for g in between):
        raise InvalidArgument("the matrix form takes Linear layers with one activation between each two "
                              f"({', '.join(ACTIVATION_NAMES)}); the model has "
                              f"{' → '.join(type(x).__name__ for x in layers)}")
    hidden = {type(g[0]).__name__ for g in between}
    slopes = {float(g[0].negative_slope) for g in between if type(g[0]).__name__ == "LeakyReLU"}
    if len(hidden) > 1 or len(slopes) > 1:
        raise InvalidArgument(f"the matrix form takes one hidden activation for every layer; the model has "
                              f"{', '.join(sorted(hidden))}{' with slopes ' + str(sorted(slopes)) if slopes else ''}")
    tail = layers[linear[-1] + 1:]
    if len(tail) > 1:
        raise InvalidArgument(f"after the last Linear layer the matrix form takes one activation, not "
                              f"{' → '.join(type(x).__name__ for x in tail)}")
    biases = {layers[k].bias is not None for k in linear}
    if len(biases) > 1:
        raise InvalidArgument("the matrix form takes biases on every Linear layer or on none; the model mixes them")
    widths = [layers[0].in_features] + [layers[k].out_features for k in linear]
    for a, b in zip(linear, linear[1:]):
        if layers[b].in_features != layers[a].out_features:
            raise InvalidArgument(f"layer {b} (Linear({layers[b].in_features}, {layers[b].out_features})) receives "
                                  f"{layers[a].out_features} features from the layer before it; the sizes do not chain")
    activation = ACTIVATION_NAMES[hidden.pop()] if hidden else "identity"
    slope = str(slopes.pop()) if slopes else None
    return widths, activation, type(tail[0]).__name__ if tail else "", "neuron" if biases.pop() else "none", \
        linear, slope


def _loss_name(torch_loss: str, reduction: str, last: str, outputs: int) -> tuple[str, str]:
    """(mlp loss, output activation) for a torch loss after the model's last module."""
    if last == "LeakyReLU":
        raise InvalidArgument("a LeakyReLU output layer is imported in the scalar form only")
    table = {("mse", "mean"): "mse", ("mse", "sum"): "sse", ("cross_entropy", ""): "softmax_cross_entropy",
             ("nll", "LogSoftmax"): "softmax_cross_entropy", ("bce", "Sigmoid"): "bce", ("l1", "mean"): "l1",
             ("l1", "sum"): "l1"}
    key = (torch_loss, reduction if torch_loss in ("mse", "l1") else last)
    name = table.get(key)
    if name is None or (last in ("Softmax", "LogSoftmax") and torch_loss != "nll"):
        raise InvalidArgument(f"the {torch_loss} loss after {last or 'a Linear layer'} is not one the matrix form "
                              "computes; use MSELoss, CrossEntropyLoss on logits, NLLLoss after LogSoftmax, BCELoss "
                              "after Sigmoid or L1Loss")
    if name in ("bce", "l1") and reduction == "mean" and outputs > 1:
        raise InvalidArgument(f"{torch_loss} with reduction='mean' over {outputs} outputs divides by them too; the "
                              "matrix form's sums them: use reduction='sum' or one output")
    output = {"": "identity", "LogSoftmax": "identity"}.get(last, ACTIVATION_NAMES.get(last, "identity"))
    return name, output


def matrix_model(module, layers: list, loss_name: str, reduction: str, x: np.ndarray, targets: np.ndarray,
                 values) -> ImportedModel:
    """The matrix-form import; ``values(tensor)`` is a tensor's float64 array, ``targets`` shaped like the output."""
    widths, activation, last, bias, linear, slope = _structure(layers)
    loss, output = _loss_name(loss_name, reduction, last, widths[-1])
    rows = x.reshape(-1, widths[0])
    with warnings.catch_warnings():  # mse over K outputs: torch's meaning, asked for here
        warnings.simplefilter("ignore", DeprecationWarning)
        network = mlp(widths, activation=activation, output_activation=output, loss=loss, bias=bias,
                      slope=slope or "0.1", scalar=False,
                      description=f"from torch: {'-'.join(map(str, widths))} {activation} network, {loss} loss "
                                  f"({reduction}) on {len(rows)} samples")
    params, sources = {}, {}
    for layer, k in enumerate(linear, start=1):
        params[f"W{layer}"], sources[f"W{layer}"] = values(layers[k].weight), f"{k}.weight"
        if bias == "neuron":
            params[f"b{layer}"], sources[f"b{layer}"] = values(layers[k].bias), f"{k}.bias"
    return ImportedModel(network, {}, params=params, inputs=rows, targets=targets.reshape(len(rows), -1),
                         reduction=reduction, matrix_sources=sources)
