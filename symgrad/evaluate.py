"""Exact and float64 evaluation of values, local factors, adjoints and gradients.

"Exact" means: leaves are exact rationals (0.05 is 1/20) and every transcendental step is
computed with mpmath at a working precision well above the digits asked for; the whole
evaluation is then repeated at a higher precision and every number must agree to the
digits asked for, so each printed digit is certified (else ``PrecisionError``).
``digits=None`` evaluates in float64 with the same NumPy kernels the compiled code uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import mpmath
import numpy as np
import sympy

from .chain import Derivation
from .errors import GraphError, PrecisionError
from .functions import rule_for
from .graph import Network

__all__ = ["Values", "GradientValues", "evaluate", "evaluate_gradients", "evaluate_expr", "to_decimal"]

DEFAULT_DIGITS = 30


@dataclass(frozen=True)
class Values:
    """The value of every leaf and node, in graph order."""

    values: dict[str, mpmath.mpf | float]
    digits: int | None  # None: float64


@dataclass(frozen=True)
class GradientValues:
    """Numbers for a whole derivation: forward values, each local factor, each δ, each gradient."""

    output: str
    values: dict[str, mpmath.mpf | float]
    factors: dict[tuple[str, str], mpmath.mpf | float]
    adjoints: dict[str, mpmath.mpf | float]
    gradients: dict[str, mpmath.mpf | float]
    digits: int | None


# -- one expression --------------------------------------------------------------------
def _number(expr: sympy.Expr, exact: bool):
    if exact:
        if expr.is_Rational:
            return mpmath.mpf(expr.p) / expr.q
        return mpmath.mpf(sympy.N(expr, mpmath.mp.dps + 5))
    return float(expr)


def evaluate_expr(expr: sympy.Expr, env: Mapping[str, object], *, exact: bool = True):
    """Evaluate a SymPy expression with ``env`` giving each symbol's number.

    With ``exact`` the arithmetic is mpmath at the current ``mpmath.mp.dps``; otherwise float64.
    """
    if expr.is_Symbol:
        try:
            return env[expr.name]
        except KeyError:
            raise GraphError(f"no value for {expr.name!r}") from None
    if expr.is_Number or expr.is_NumberSymbol:
        return _number(expr, exact)
    args = [evaluate_expr(a, env, exact=exact) for a in expr.args]
    if expr.is_Add:
        return mpmath.fsum(args) if exact else float(np.sum(args))
    if expr.is_Mul:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if expr.is_Pow:
        base, exponent = args
        if exact:
            if expr.exp.is_Integer:
                return base ** int(expr.exp)
            if expr.exp == sympy.S.Half:
                return mpmath.sqrt(base)
            return mpmath.power(base, exponent)
        with np.errstate(all="ignore"):
            return float(np.power(base, exponent))
    rule = rule_for(expr.func)
    if rule is None:
        raise GraphError(f"cannot evaluate {expr.func.__name__} in {sympy.sstr(expr)}")
    if exact:
        return rule.mpmath(*args)
    with np.errstate(all="ignore"):
        return float(rule.numpy(*[np.float64(a) for a in args]))


# -- whole graphs ----------------------------------------------------------------------
def _leaf_env(network: Network, at: Mapping[str, object] | None, exact: bool) -> dict:
    point = network.point(at)
    return {name: (_number(v, True) if isinstance(v, sympy.Rational) else mpmath.mpf(v)) if exact
            else float(v) for name, v in point.items()}


def _forward(network: Network, env: dict, exact: bool, names: tuple[str, ...] | None = None) -> dict:
    wanted = set(names) if names is not None else None
    for name, node in network.nodes.items():
        if wanted is None or name in wanted:
            env[name] = evaluate_expr(node.expr, env, exact=exact)
    return {n: env[n] for n in network.quantities if n in env}


def _backward(derivation: Derivation, env: dict, exact: bool) -> GradientValues:
    values = _forward(derivation.network, env, exact, derivation.order)
    factors = {key: evaluate_expr(f.expr, env, exact=exact) for key, f in derivation.factors.items()}
    adjoints: dict = {}
    one = mpmath.mpf(1) if exact else 1.0
    for adj in derivation.adjoints.values():
        if adj.name == derivation.output:
            adjoints[adj.name] = one
        else:
            terms = [adjoints[t.consumer] * factors[t.consumer, adj.name] for t in adj.terms]
            adjoints[adj.name] = mpmath.fsum(terms) if exact else float(sum(terms))
    zero = mpmath.mpf(0) if exact else 0.0
    gradients = {p: adjoints.get(p, zero) for p in derivation.network.params}
    return GradientValues(derivation.output, values, factors, adjoints, gradients, None)


def _flatten(result) -> list:
    if isinstance(result, Values):
        return list(result.values.values())
    return (list(result.values.values()) + list(result.factors.values())
            + list(result.adjoints.values()) + list(result.gradients.values()))


def _certified(compute: Callable[[], object], digits: int):
    """Run ``compute`` at two working precisions and insist every number agrees to ``digits``."""
    dps = digits + 15
    for _ in range(5):
        with mpmath.workdps(dps):
            low = compute()
        with mpmath.workdps(2 * dps):
            high = compute()
        with mpmath.workdps(2 * dps):
            ok = all(
                abs(a - b) <= mpmath.mpf(10) ** (-digits - 3) * max(abs(a), abs(b))
                or abs(a - b) <= mpmath.mpf(10) ** (-dps + 5)
                for a, b in zip(_flatten(low), _flatten(high))
            )
        if ok:
            return high
        dps *= 2
    raise PrecisionError(f"could not certify {digits} digits even at {dps} working digits; ask for fewer digits")


def evaluate(network: Network, *, at: Mapping[str, object] | None = None,
             digits: int | None = DEFAULT_DIGITS) -> Values:
    """The value of every leaf and node at the network's point (``at`` overrides leaves).

    >>> import symgrad
    >>> v = symgrad.evaluate(symgrad.load("two_neurons"))
    >>> int(v.values["f"])
    -10
    """
    if digits is None:
        return Values(_forward(network, _leaf_env(network, at, False), False), None)
    _check_digits(digits)
    result = _certified(lambda: Values(_forward(network, _leaf_env(network, at, True), True), digits), digits)
    return Values(result.values, digits)


def evaluate_gradients(derivation: Derivation, *, at: Mapping[str, object] | None = None,
                       digits: int | None = DEFAULT_DIGITS) -> GradientValues:
    """Forward values, every local factor, every δ and every gradient, exactly or in float64.

    >>> import symgrad
    >>> g = symgrad.evaluate_gradients(symgrad.derive(symgrad.load("mazur")), digits=12)
    >>> symgrad.to_decimal(g.gradients["w5"], 9)
    '0.0821670406'
    """
    network = derivation.network
    if digits is None:
        result = _backward(derivation, _leaf_env(network, at, False), False)
    else:
        _check_digits(digits)
        result = _certified(lambda: _backward(derivation, _leaf_env(network, at, True), True), digits)
    return GradientValues(result.output, result.values, result.factors, result.adjoints, result.gradients, digits)


def _check_digits(digits: int) -> None:
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 10_000:
        raise GraphError(f"digits must be an integer from 1 to 10000, got {digits!r}")


def to_decimal(value, digits: int) -> str:
    """``value`` rounded to ``digits`` significant digits, in plain (non-scientific) notation.

    >>> to_decimal(mpmath.mpf(-7), 4)
    '-7.000'
    """
    if isinstance(value, float):
        if not np.isfinite(value):
            return repr(value)
        value = mpmath.mpf(value)
    with mpmath.workdps(digits + 10):
        if isinstance(value, sympy.Rational):
            value = mpmath.mpf(value.p) / value.q
        if value == 0:
            return "0." + "0" * (digits - 1) if digits > 1 else "0"
        text = mpmath.nstr(value, digits, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    return text[:-2] if text.endswith(".0") and _sig(text[:-2]) >= digits else text


def _sig(text: str) -> int:
    return len(text.lstrip("-").replace(".", "").lstrip("0"))
