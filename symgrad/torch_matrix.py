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

The model is read into a ``dense_stack.DenseStack`` (what ``from_jax`` reads a large JAX loss
into too); ``ImportedModel.compiled_gradients`` is then the compiled matrix form's loss and
gradients at the torch values, keyed by torch's parameter names.
"""

from __future__ import annotations

import numpy as np

from .dense_stack import DenseLayer, dense_stack, matrix_import
from .errors import InvalidArgument
from .model_import import ImportedModel, TensorSource

__all__ = ["matrix_model", "ACTIVATION_NAMES"]

#: torch activation class → mlp activation name.
ACTIVATION_NAMES = {"Sigmoid": "sigmoid", "Tanh": "tanh", "ReLU": "relu", "LeakyReLU": "leaky_relu"}


def _between(layers: list, linear: list[int]) -> list[tuple[str, str | None]]:
    """The activation between each two Linear layers, as (mlp name, leaky slope or None)."""
    if linear[0] != 0:
        raise InvalidArgument(f"layer 0 ({type(layers[0]).__name__}): the matrix form starts with a Linear layer")
    gaps = [layers[a + 1:b] for a, b in zip(linear, linear[1:])]
    if any(len(g) != 1 or type(g[0]).__name__ not in ACTIVATION_NAMES for g in gaps):
        raise InvalidArgument("the matrix form takes Linear layers with one activation between each two "
                              f"({', '.join(ACTIVATION_NAMES)}); the model has "
                              f"{' → '.join(type(x).__name__ for x in layers)}")
    return [(ACTIVATION_NAMES[type(g[0]).__name__],
             str(float(g[0].negative_slope)) if type(g[0]).__name__ == "LeakyReLU" else None) for g in gaps]


def _last_module(layers: list, linear: list[int]) -> str:
    """The class name of the one module after the last Linear layer, or "" if there is none."""
    tail = layers[linear[-1] + 1:]
    if len(tail) > 1:
        raise InvalidArgument(f"after the last Linear layer the matrix form takes one activation, not "
                              f"{' → '.join(type(x).__name__ for x in tail)}")
    return type(tail[0]).__name__ if tail else ""


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
    linear = [k for k, layer in enumerate(layers) if type(layer).__name__ == "Linear"]
    between = _between(layers, linear)
    last = _last_module(layers, linear)
    dense = []
    for k in linear:
        layer = layers[k]
        weight, bias = values(layer.weight), None if layer.bias is None else values(layer.bias)
        dense.append(DenseLayer(weight, bias, TensorSource(f"{k}.weight", weight.shape),
                                None if bias is None else TensorSource(f"{k}.bias", bias.shape),
                                f"layer {k} (Linear({layer.in_features}, {layer.out_features}))"))
    loss, output = _loss_name(loss_name, reduction, last, dense[-1].weight.shape[0])
    stack = dense_stack(dense, between, output_activation=output, loss=loss, reduction=reduction, framework="torch")
    return matrix_import(stack, x, targets, description=type(module).__name__)
