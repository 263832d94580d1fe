"""Scalar kernels for the fused (numba) backend: one float in, one float out, no arrays.

The fused code computes one batch row at a time, so each function of ``symgrad.kernels`` has a
scalar twin here with the same name and the same stable formula. They are plain Python (so
this module imports without numba); the code generator copies them by ``inspect.getsource``
into generated modules under ``@njit``.

>>> [float(f(x)) for f in (sigmoid, softplus) for x in (-1000.0, 1000.0)]
[0.0, 1.0, 0.0, 1000.0]
>>> bool(logsumexp(1000.0, 1000.0) == 1000.0 + np.log(2.0))
True
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    # e^(−|x|) never overflows: 1/(1 + e^(−x)) for x ≥ 0, e^x/(1 + e^x) below. Written
    # as a select rather than a branch, so a random sign costs no misprediction.
    e = np.exp(-abs(x))
    s = 1.0 / (1.0 + e)
    return s if x >= 0.0 else e * s


def relu(x):
    # NaN propagates, as np.maximum(x, 0.0) does.
    return x if (x > 0.0 or x != x) else 0.0


def heaviside(x, at_zero):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return 0.0
    return at_zero if x == 0.0 else x


def maximum(*args):
    out = args[0]
    for a in args[1:]:
        if a > out or a != a:
            out = a
    return out


def minimum(*args):
    out = args[0]
    for a in args[1:]:
        if a < out or a != a:
            out = a
    return out


def max_share(x, *args):
    # ∂max/∂x as a subgradient: 1/k when x is one of the k tied maxima of args, else 0.
    top = maximum(*args)
    count = 0.0
    for a in args:
        if a == top:
            count += 1.0
    return 1.0 / count if x == top else 0.0


def min_share(x, *args):
    # ∂min/∂x as a subgradient: 1/k when x is one of the k tied minima of args, else 0.
    low = minimum(*args)
    count = 0.0
    for a in args:
        if a == low:
            count += 1.0
    return 1.0 / count if x == low else 0.0


def logsumexp(*args):
    top = maximum(*args)
    total = 0.0
    for a in args:
        total += np.exp(a - top)
    return top + np.log(total)


def softplus(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^(−|x|)): finite for every finite x.
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


def zero_one(margin):
    return 1.0 if margin <= 0.0 else 0.0
