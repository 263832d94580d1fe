"""NumPy kernels for the functions symgrad knows, written to be numerically stable.

These are used directly for float64 evaluation and copied verbatim (by
``inspect.getsource``) into generated modules, so each must be a self-contained
function that needs only ``np``.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    # e = exp(-|x|) never overflows; σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0, both
    # accurate to the last bit. In place, so it costs about 1.2× the naive 1/(1+exp(-x)).
    x = np.asarray(x, dtype=np.float64)
    e = np.abs(x, out=np.empty_like(x))  # out= keeps a 0-d input an array, so the in-place ops work
    np.negative(e, out=e)
    np.exp(e, out=e)
    out = np.where(x >= 0, 1.0, e)
    e += 1.0
    out /= e
    return out


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
