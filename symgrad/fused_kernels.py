"""Scalar kernels for the fused (numba) backend: one float in, one float out, no arrays.

The fused code computes one batch row at a time, so each function of ``symgrad.kernels`` has a
scalar twin here with the same name and the same stable formula. They are plain Python (so
this module imports without numba); the code generator copies them by ``inspect.getsource``
into generated modules under ``@njit``.

Every ``exp`` goes through ``fast_exp``: arithmetic, selects and bit casts only, no call into
the C library, so LLVM runs a loop over rows in SIMD lanes (numba's own ``exp`` is one libm
call per value, and llvmlite's PyPI build has no vector math library). It stays within 1 ulp
of ``np.exp``. Its two bit casts are numba intrinsics in generated modules; here they are
plain Python, so every kernel also runs (slowly) without numba.

>>> [float(f(x)) for f in (sigmoid, softplus) for x in (-1000.0, 1000.0)]
[0.0, 1.0, 0.0, 1000.0]
>>> bool(logsumexp(1000.0, 1000.0) == 1000.0 + np.log(2.0))
True
>>> [bool(abs(fast_exp(x) - np.exp(x)) <= np.spacing(np.exp(x))) for x in (-700.0, -1.0, 1.0, 700.0)]
[True, True, True, True]
"""

from __future__ import annotations

import numpy as np

#: Bit casts: plain Python here, numba intrinsics (an LLVM ``bitcast``) in generated modules.
INTRINSICS = ("double_from_bits", "bits_from_double")


def double_from_bits(bits):
    # The float64 whose IEEE 754 bits are ``bits`` (taken modulo 2**64, as int64 arithmetic wraps).
    return np.array(bits & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64).view(np.float64)[()]


def bits_from_double(x):
    # The IEEE 754 bits of the float64 ``x``, as a signed integer.
    return int(np.array(x, dtype=np.float64).view(np.int64)[()])


def fast_exp(x):
    # e^x = 2^k · e^r with k = round(x/ln 2) and |r| ≤ ln(2)/2. k is rounded by adding 1.5·2^52
    # (its integer value n is then t's low bits); r by Cody–Waite reduction (ln 2 in two parts,
    # the first with trailing zeros, so k times it is exact); e^r by its Taylor series to r^13
    # (truncation below 0.05 ulp); 2^n from its exponent bits, as two factors 2^(n>>1)·2^(n−(n>>1))
    # so that subnormal results and overflow come out as np.exp's do. x is clamped to [−746, 710]
    # first (beyond, the result is 0 or inf anyway); NaN fails both comparisons and stays NaN.
    y = 710.0 if x > 710.0 else x
    y = -746.0 if y < -746.0 else y
    shifter = 6755399441055744.0
    t = y * 1.4426950408889634 + shifter
    k = t - shifter
    r = (y - k * 0.6931471803691238) - k * 1.9082149292705877e-10
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    n = bits_from_double(t) - bits_from_double(shifter)
    n1 = n >> 1
    return p * double_from_bits((n1 + 1023) << 52) * double_from_bits((n - n1 + 1023) << 52)


def sigmoid(x):
    # e^(−|x|) never overflows: 1/(1 + e^(−x)) for x ≥ 0, e^x/(1 + e^x) below. Written
    # as a select rather than a branch, so a random sign costs no misprediction.
    e = fast_exp(-abs(x))
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
        total += fast_exp(a - top)
    return top + np.log(total)


def softplus(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^(−|x|)): finite for every finite x.
    return max(x, 0.0) + np.log1p(fast_exp(-abs(x)))


def zero_one(margin):
    return 1.0 if margin <= 0.0 else 0.0
