"""Rewrites that keep an expression finite in float64 for arguments of any size.

``stabilize`` turns 1/(1 + e^z) into σ(−z) and e^z·σ(−z) into σ(z) (the gradient of
softplus), so no e^z overflows to inf/inf. Both the float64 evaluator (``evaluation``) and
the code printers (``codegen``, ``rowcode``) use it, so float64 numbers and generated code
compute the same formulas.
"""

from __future__ import annotations

import sympy

from .functions import sigmoid

__all__ = ["stabilize", "one_plus_exp"]


def one_plus_exp(base: sympy.Expr) -> sympy.Expr | None:
    """z when ``base`` is 1 + e^z, else None."""
    if base.is_Add and len(base.args) == 2 and sympy.S.One in base.args:
        other = base.args[0] if base.args[1] == 1 else base.args[1]
        if other.func is sympy.exp:
            return other.args[0]
    return None


def stabilize(expr: sympy.Expr) -> sympy.Expr:
    """Rewrite 1/(1 + e^z) as σ(−z) and e^z·σ(−z) as σ(z), so no e^z overflows to inf/inf.

    >>> z = sympy.Symbol("z")
    >>> stabilize(sympy.diff(sympy.log(1 + sympy.exp(z)), z))
    sigmoid(z)
    """
    if not expr.has(sympy.exp):
        return expr
    done: dict = {}

    def walk(e: sympy.Expr) -> sympy.Expr:
        if e.is_Atom:
            return e
        if e in done:
            return done[e]
        args = tuple(walk(a) for a in e.args)
        out = e.func(*args) if args != e.args else e
        if out.is_Pow and out.exp.is_Integer and out.exp < 0:
            z = one_plus_exp(out.base)
            if z is not None:
                out = sigmoid(-z) ** (-out.exp)
        if out.is_Mul:
            out = _merge_exp_sigmoid(out)
        done[e] = out
        return out

    return walk(expr)


def _merge_exp_sigmoid(product: sympy.Expr) -> sympy.Expr:
    """e^(kz) · σ(−z)^n = σ(z)^k · σ(−z)^(n−k) for whole k ≤ n: no e^(kz) left to overflow."""
    factors = list(sympy.Mul.make_args(product))
    changed = False
    for i, f in enumerate(factors):
        if f.func is not sympy.exp:
            continue
        for j, g in enumerate(factors):
            base, n = g.as_base_exp()
            if j == i or not isinstance(base, sigmoid) or not n.is_Integer or n < 1:
                continue
            z = -base.args[0]
            k = f.args[0] / z if z != 0 else None
            if k is not None and k.is_Integer and 1 <= k <= n:
                factors[i] = sigmoid(z) ** k
                factors[j] = base ** (n - k)
                changed = True
                break
    return sympy.Mul(*factors) if changed else product
