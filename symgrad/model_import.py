"""What importing a PyTorch or JAX model needs, whichever framework it comes from.

A tensor becomes a NumPy array of SymPy expressions, one per entry: leaves named by the tensor's
name and index (``layer0_weight_1_2`` is ``weight[1, 2]`` of layer 0), nodes named the same way
(``z0_1`` is unit 1 of layer 0's weighted sum, ``z0_3_1`` the same for sample 3 of a batch).
``torch_models.py`` and ``jax_models.py`` build networks with ``ModelGraph`` and return an
``ImportedModel``.

Every number is taken exactly: a float64 (or float32) value becomes the rational number it is
(``0.1`` becomes 3602879701896397/36028797018963968, the double nearest 0.1, not 1/10), so
symgrad's exact gradient is the exact gradient of the very model the framework holds, and
agrees with the framework's float64 autograd to its rounding.

>>> g = ModelGraph("demo")
>>> w = g.leaves("param", "w", np.array([[0.5, -2.0]]), source="weight")
>>> x = g.leaves("input", "x", np.array([1.0, 3.0]))
>>> z = g.nodes("z", affine(x, w, None))
>>> g.finish(z[0] ** 2).network.expanded("E_total")
(w_0_0*x_0 + w_0_1*x_1)**2
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import sympy

from .compile import compile_gradient
from .errors import InvalidArgument, MissingDependency
from .gradcheck_report import GradcheckReport
from .gradient_check import gradcheck
from .graph import Network
from .limits import MAX_NODES, MAX_TERMS

__all__ = ["ParamSource", "TensorSource", "ImportedModel", "ModelGraph", "exact", "affine", "index_suffix", "require"]


@dataclass(frozen=True)
class ParamSource:
    """Where a symgrad parameter came from: the framework's name for its tensor and the entry's index.

    For PyTorch ``name`` is the ``named_parameters()`` name (``"0.weight"``); for JAX it is the
    pytree key path (``"[0]['W']"``). ``index`` is the entry's index in that tensor, 0-based.
    """

    name: str
    index: tuple[int, ...]


@dataclass(frozen=True)
class TensorSource:
    """Where a matrix-form array (``W1``, ``b1``, …) came from: the framework's name for the tensor, its
    shape, and whether symgrad's array (W out × in) is its transpose (a JAX ``x @ W`` holds W in × out).
    """

    name: str
    shape: tuple[int, ...]
    transposed: bool = False


@dataclass(frozen=True)
class ImportedModel:
    """A model brought into symgrad: the network, and which framework parameter each of its parameters is.

    ``network`` is an ordinary ``Network`` (derive, evaluate, report, gradcheck and draw it);
    its output ``E_total`` is the framework's loss on the example batch. ``sources`` maps each
    parameter name, in the network's order, to its ``ParamSource``.

    In the matrix form (beyond ``limits.MAX_SCALAR_PARAMS``) ``network`` is an ``mlp`` declared
    in matrix form only: ``compiled_gradients()`` is its loss and gradients at the framework's values,
    and ``gradcheck()`` checks them there; derivations, documents and pictures refuse it (they need
    a scalar name per parameter).
    """

    network: Network
    sources: Mapping[str, ParamSource] = field(repr=False)
    #: The matrix form (a model beyond the scalar form's size): the framework's values as W1, b1, …
    #: arrays, the example batch as rows, the reduction over it, and W1 → its ``TensorSource``; else None.
    params: Mapping[str, np.ndarray] | None = field(default=None, repr=False)
    inputs: np.ndarray | None = field(default=None, repr=False)
    targets: np.ndarray | None = field(default=None, repr=False)
    reduction: str = "mean"
    matrix_sources: Mapping[str, TensorSource] | None = field(default=None, repr=False)

    @property
    def form(self) -> str:
        """"scalar" (one symgrad name per parameter) or "matrix" (W1, b1, … arrays, ``params``)."""
        return "scalar" if self.params is None else "matrix"

    def compiled_gradients(self) -> tuple[float, dict[str, np.ndarray]]:
        """The matrix form's loss and gradients at the framework's values on the example batch, keyed
        by the framework's parameter names (float64; compare them with autograd)."""
        if self.params is None:
            raise InvalidArgument("compiled_gradients is for a model imported in the matrix form; this one is in "
                                  "the scalar form: use symgrad.evaluate_gradients(symgrad.derive(imported.network))")
        compiled = compile_gradient(self.network, form="matrix", reduction=self.reduction)
        loss, grads = compiled(dict(self.params), self.inputs, self.targets)
        return float(loss), self.gradient_arrays(grads)

    def gradcheck(self, **options) -> GradcheckReport:
        """``symgrad.gradcheck`` at the framework's values on the example batch (``options`` as gradcheck's).

        In the scalar form the network already holds them. In the matrix form the check is
        ``gradcheck(network, at=params | {"inputs": inputs, "targets": targets, "reduction": reduction})``;
        an ``at`` in ``options`` overrides entries of that.

        >>> import symgrad
        >>> from symgrad.dense_stack import DenseLayer, dense_stack, matrix_import
        >>> layer = DenseLayer(np.array([[0.5, -1.0]]), np.array([0.25]), TensorSource("0.weight", (1, 2)),
        ...                    TensorSource("0.bias", (1,)), "layer 0")
        >>> stack = dense_stack([layer], [], output_activation="sigmoid", loss="bce", reduction="sum",
        ...                     framework="torch")
        >>> imported = matrix_import(stack, np.array([[1.0, 2.0]]), np.array([[1.0]]), description="demo")
        >>> report = imported.gradcheck()
        >>> report.ok, sorted(row.param for row in report.rows), report.notes[1]
        (True, ['W1[0,0]', 'W1[0,1]', 'b1[0]'], 'at the given W1, b1; 1 sample, the sum over them')
        """
        if self.params is None:
            return gradcheck(self.network, **options)
        at = {**self.params, "inputs": self.inputs, "targets": self.targets, "reduction": self.reduction}
        return gradcheck(self.network, **{**options, "at": at | dict(options.get("at") or {})})

    def gradient_arrays(self, gradients: Mapping[str, object]) -> dict[str, np.ndarray]:
        """Gradients by symgrad name (``evaluate_gradients(...).gradients``, or the matrix form's
        ``W1``, ``b1``, … arrays) as float64 arrays shaped like the framework's tensors, keyed by the
        framework's names: ready to compare with autograd.
        """
        if self.matrix_sources is not None:
            out = {}
            for key, source in self.matrix_sources.items():
                array = np.array(gradients[key], dtype=np.float64)
                out[source.name] = (array.T if source.transposed else array).reshape(source.shape)
            return out
        shapes: dict[str, tuple[int, ...]] = {}
        for source in self.sources.values():
            old = shapes.get(source.name, ())
            shapes[source.name] = tuple(max(a, b + 1) for a, b in zip(old or (0,) * len(source.index), source.index))
        out = {name: np.zeros(shape) for name, shape in shapes.items()}
        for param, source in self.sources.items():
            out[source.name][source.index] = float(gradients[param])
        return out


def require(module: str, *, feature: str, extra: str):
    """Import an optional framework, or raise ``MissingDependency`` with the install command."""
    try:
        return __import__(module)
    except ImportError:
        raise MissingDependency(feature, extra=extra, module=module) from None


def exact(value: object, *, what: str) -> sympy.Rational:
    """The exact rational value of a float (or int): a double is a dyadic rational, taken whole.

    >>> exact(0.75, what="w")
    3/4
    """
    number = float(value)
    if not math.isfinite(number):
        raise InvalidArgument(f"{what} is {number}; symgrad needs finite numbers (check the model for "
                              "NaN or infinite weights, and the example data)")
    return sympy.Rational(*number.as_integer_ratio())


def index_suffix(index: tuple[int, ...]) -> str:
    """``(1, 2)`` → ``"_1_2"``; a scalar's empty index gives ``""``."""
    return "".join(f"_{i}" for i in index)


def affine(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``x Wᵀ + b`` over the last axis of ``x`` (PyTorch's Linear layout: W is out × in), as one sum per entry."""
    out = np.empty(x.shape[:-1] + (weight.shape[0],), dtype=object)
    for index in np.ndindex(*x.shape[:-1]):
        row = x[index]
        for j in range(weight.shape[0]):
            terms = [weight[j, i] * row[i] for i in range(weight.shape[1])]
            if bias is not None:
                terms.append(bias[j])
            out[index + (j,)] = sympy.Add(*terms)
    return out


def _object_array(shape: tuple[int, ...]) -> np.ndarray:
    return np.empty(shape, dtype=object)


class ModelGraph:
    """A ``Network`` under construction from tensors: leaves and nodes declared a tensor at a time."""

    def __init__(self, description: str):
        self.network = Network(description=description)
        self.sources: dict[str, ParamSource] = {}

    def leaves(self, kind: str, base: str, values: np.ndarray, *, source: str | None = None,
               what: str | None = None) -> np.ndarray:
        """Declare one leaf per entry of ``values`` (named ``base`` + index), with its exact value.

        ``source`` (parameters) is the framework's name of the tensor; ``what`` names the tensor in
        errors. Returns the array of symbols.
        """
        values = np.asarray(values)
        self._check_room(values.size, what or base)
        declare = {"param": self.network.param, "input": self.network.input, "target": self.network.target,
                   "constant": self.network.constant}[kind]
        out = _object_array(values.shape)
        for index in np.ndindex(*values.shape):
            label = f"{what or base}[{', '.join(map(str, index))}]" if index else (what or base)
            name = base + index_suffix(index)
            out[index] = declare(name, exact(values[index], what=label))
            if source is not None:
                self.sources[name] = ParamSource(source, tuple(int(i) for i in index))
        return out

    def nodes(self, base: str, exprs: np.ndarray) -> np.ndarray:
        """One node per entry of ``exprs`` (named ``base`` + index); returns the array of their symbols."""
        exprs = np.asarray(exprs, dtype=object)
        self._check_room(exprs.size, base)
        out = _object_array(exprs.shape)
        for index in np.ndindex(*exprs.shape):
            expr = sympy.sympify(exprs[index])
            if expr.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
                raise InvalidArgument(f"{base}{index_suffix(index)} = {sympy.sstr(expr)[:80]} is not finite; "
                                      "an infinite constant may only vanish (as in max(-inf, x))")
            if isinstance(expr, sympy.Add) and len(expr.args) > MAX_TERMS:
                raise InvalidArgument(f"{base}: a sum of {len(expr.args):,} terms, more than the limit of "
                                      f"{MAX_TERMS:,}")
            out[index] = self.network.node(base + index_suffix(index), expr, max_text=None)
        return out

    def finish(self, loss: sympy.Expr, *, name: str = "E_total") -> ImportedModel:
        """Declare the loss node (the network's output) and return the imported model."""
        self.network.node(name, sympy.sympify(loss), max_text=None)
        return ImportedModel(self.network, dict(self.sources))

    def _check_room(self, count: int, what: str) -> None:
        used = len(self.network.leaves) + len(self.network.nodes)
        if used + count >= MAX_NODES:
            raise InvalidArgument(f"{what} would take the network past {MAX_NODES:,} names (leaves and nodes); "
                                  "import a smaller model or a smaller example batch")
