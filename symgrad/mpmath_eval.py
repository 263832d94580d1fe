"""One SymPy expression tree evaluated in mpmath, real or complex, at a given precision.

Gradient checking needs values the exact engine does not give: a kink argument's sign at
each stencil point, and the complex step f(x + ih) in 53-bit arithmetic. Each function
comes from the one table in ``functions.py``.
"""

from __future__ import annotations

import math
from typing import Mapping

import mpmath
import sympy

from .functions import logsumexp, rule_for

__all__ = ["mpmath_value"]


def mpmath_value(expr: sympy.Expr, values: Mapping[str, object], digits: int):
    """``expr`` with every symbol replaced by ``values[name]`` (mpf or mpc), in ``digits`` significant digits.

    >>> x = sympy.Symbol("x")
    >>> mpmath_value(sympy.exp(x) + 1, {"x": mpmath.mpf(0)}, 15)
    mpf('2.0')
    """
    with mpmath.workdps(digits):
        return _value(expr, values)


def _value(expr: sympy.Expr, env: Mapping[str, object]):
    if expr.is_Symbol:
        return env[expr.name]
    if expr.is_Rational:
        return mpmath.mpf(expr.p) / expr.q
    if expr.is_Number or expr.is_NumberSymbol:
        return mpmath.mpf(sympy.N(expr, mpmath.mp.dps + 5))
    args = [_value(a, env) for a in expr.args]
    if expr.is_Add:
        return mpmath.fsum(args)
    if expr.is_Mul:
        return math.prod(args[1:], start=args[0])
    if expr.is_Pow:
        if expr.exp.is_Integer:
            return args[0] ** int(expr.exp)
        return mpmath.sqrt(args[0]) if expr.exp == sympy.S.Half else mpmath.power(*args)
    if expr.func is logsumexp:  # the table's version takes max(args), which complex values lack
        top = max(mpmath.re(a) for a in args)
        return top + mpmath.log(mpmath.fsum(mpmath.exp(a - top) for a in args))
    return rule_for(expr.func).mpmath(*args)
