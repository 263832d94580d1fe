"""Array forwards written symbolically: the reference of a backward rule that is not elementwise.

A custom backward pass for a dense layer, a softmax or a reduction is checked against the
exact derivative of its forward. That forward is written once more, as a Python function of
arrays of SymPy symbols, with NumPy's own array arithmetic (``@``, ``.T``, ``+``, ``*``,
broadcasting, indexing) and the operations below::

    lambda x, W, b: x @ W.T + b                      # torch.nn.Linear's forward
    lambda z: softmax(z, axis=-1)
    lambda z: mean(total(-T * log_softmax(z), axis=-1))   # cross-entropy against targets T

Each entry of the result is an exact SymPy expression of the input entries (``"W[1, 2]"``);
``symgrad.vjp`` differentiates it and evaluates g·J in mpmath. Elementwise functions come from
symgrad's one function table (``functions.py``), so their derivatives are the ones every other
part of symgrad uses.
"""

from __future__ import annotations

import numpy as np
import sympy

from .errors import InvalidArgument
from .functions import SPEC_FUNCTIONS
from .functions import logsumexp as _lse

__all__ = ["symbols", "apply", "exp", "log", "tanh", "sigmoid", "relu", "total", "mean", "logsumexp", "softmax",
           "log_softmax"]


def symbols(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """An object array of real SymPy symbols named by entry: ``symbols("W", (2, 3))[1, 2]`` is ``W[1, 2]``.

    >>> symbols("x", (2,))
    array([x[0], x[1]], dtype=object)
    """
    array = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        array[index] = sympy.Symbol(f"{name}{list(index)}", real=True)
    return array


def _array(a: object) -> np.ndarray:
    return np.asarray(a, dtype=object)


def apply(function: str, a: object) -> np.ndarray:
    """A function of symgrad's table (``"sigmoid"``, ``"tanh"``, ``"exp"``, …) applied entry by entry.

    >>> apply("tanh", symbols("z", (1,)))
    array([tanh(z[0])], dtype=object)
    """
    rule = SPEC_FUNCTIONS.get(function)
    if rule is None or rule.min_args != 1:
        raise InvalidArgument(f"apply({function!r}, …): choose a one-argument function of symgrad's table: "
                              f"{', '.join(n for n, r in SPEC_FUNCTIONS.items() if r.min_args == 1)}")
    array = _array(a)
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(*array.shape):
        out[index] = rule.build(array[index])
    return out


def exp(a: object) -> np.ndarray:
    """exp, entry by entry."""
    return apply("exp", a)


def log(a: object) -> np.ndarray:
    """log, entry by entry."""
    return apply("log", a)


def tanh(a: object) -> np.ndarray:
    """tanh, entry by entry."""
    return apply("tanh", a)


def sigmoid(a: object) -> np.ndarray:
    """σ, entry by entry."""
    return apply("sigmoid", a)


def relu(a: object) -> np.ndarray:
    """relu, entry by entry (its derivative at 0 is 0, as torch's and JAX's)."""
    return apply("relu", a)


def _reduce(a: object, axis: int | None, combine, keepdims: bool) -> np.ndarray:
    array = _array(a)
    if axis is None:
        out = np.empty((), dtype=object)
        out[()] = combine(list(array.flat))
        return out.reshape((1,) * array.ndim) if keepdims else out
    if not isinstance(axis, int) or isinstance(axis, bool) or not -array.ndim <= axis < array.ndim:
        raise InvalidArgument(f"axis={axis!r}: give an axis of the array's {array.ndim} axes, or None for all")
    moved = np.moveaxis(array, axis, -1)
    out = np.empty(moved.shape[:-1], dtype=object)
    for index in np.ndindex(*out.shape):
        out[index] = combine(list(moved[index]))
    return np.expand_dims(out, axis) if keepdims else out


def total(a: object, axis: int | None = None, *, keepdims: bool = False) -> np.ndarray:
    """The sum over ``axis`` (all entries when None), as ``np.sum``.

    >>> total(symbols("x", (2,)))
    array(x[0] + x[1], dtype=object)
    """
    return _reduce(a, axis, lambda v: sympy.Add(*v), keepdims)


def mean(a: object, axis: int | None = None, *, keepdims: bool = False) -> np.ndarray:
    """The mean over ``axis`` (all entries when None), as ``np.mean``: the sum times 1/n exactly.

    >>> mean(symbols("x", (2,)))
    array(x[0]/2 + x[1]/2, dtype=object)
    """
    return _reduce(a, axis, lambda v: sympy.Add(*v) * sympy.Rational(1, len(v)), keepdims)


def logsumexp(a: object, axis: int | None = None, *, keepdims: bool = False) -> np.ndarray:
    """log Σ exp over ``axis`` (all entries when None), as ``scipy.special.logsumexp``.

    >>> logsumexp(symbols("z", (2,)))
    array(logsumexp(z[0], z[1]), dtype=object)
    """
    return _reduce(a, axis, lambda v: _lse(*v), keepdims)


def log_softmax(a: object, axis: int = -1) -> np.ndarray:
    """z − logsumexp(z) over ``axis``, as ``torch.log_softmax`` and ``jax.nn.log_softmax``."""
    return _array(a) - logsumexp(a, axis, keepdims=True)


def softmax(a: object, axis: int = -1) -> np.ndarray:
    """exp(z − logsumexp(z)) over ``axis``, as ``torch.softmax`` and ``jax.nn.softmax``.

    >>> softmax(symbols("z", (2,)))[0]
    exp(z[0] - logsumexp(z[0], z[1]))
    """
    return exp(log_softmax(a, axis))
