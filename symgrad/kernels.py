"""NumPy kernels for the functions symgrad knows, written to be numerically stable.

These are used directly for float64 evaluation and copied verbatim (by
``inspect.getsource``) into generated modules, so each must be a self-contained
function that needs only ``np``.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    # 1/(1 + e^(−x)) in place: e^(−x) overflows to inf for x < −709, and 1/(1 + inf) is
    # exactly 0, so the result is never inf or NaN; the overflow is expected, not warned.
    # One allocation instead of the naive four, which makes it faster than 1/(1+np.exp(-x)).
    x = np.asarray(x, dtype=np.float64)
    e = np.negative(x, out=np.empty_like(x))  # out= keeps a 0-d input an array for the in-place ops
    with np.errstate(over="ignore", under="ignore"):
        np.exp(e, out=e)
    e += 1.0
    np.reciprocal(e, out=e)
    return e


def relu(x):
    return np.maximum(x, 0.0)


def heaviside(x, at_zero):
    return np.heaviside(x, at_zero)


def maximum(*args):
    out = args[0]
    for a in args[1:]:
        out = np.maximum(out, a)
    return out


def minimum(*args):
    out = args[0]
    for a in args[1:]:
        out = np.minimum(out, a)
    return out


def max_share(x, *args):
    # ∂max/∂x as a subgradient: 1/k when x is one of the k tied maxima of args, else 0.
    top = maximum(*args)
    count = 0.0
    for a in args:
        count = count + np.equal(a, top)
    return np.where(np.equal(x, top), 1.0 / count, 0.0)


def min_share(x, *args):
    # ∂min/∂x as a subgradient: 1/k when x is one of the k tied minima of args, else 0.
    low = minimum(*args)
    count = 0.0
    for a in args:
        count = count + np.equal(a, low)
    return np.where(np.equal(x, low), 1.0 / count, 0.0)


def logsumexp(*args):
    top = maximum(*args)
    total = 0.0
    for a in args:
        total = total + np.exp(a - top)
    return top + np.log(total)


def softplus(x):
    return np.logaddexp(0.0, x)


def zero_one(margin):
    return np.where(np.asarray(margin) <= 0, 1.0, 0.0)


def logsumexp_rows(z):
    # log Σ_k exp(z[k, :]) for each column (sample), shifted by the column maximum.
    top = np.max(z, axis=0)
    return top + np.log(np.sum(np.exp(z - top), axis=0))
