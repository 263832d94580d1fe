"""Shared test helpers: rounding at a lecture's printed digits, and independent references.

The references never call symgrad's derivation, evaluation or training code: an output is
written out in its leaves (by hand from the lecture text, or by substituting each node's own
parsed expression), differentiated with ``sympy.diff`` and evaluated with ``sympy.N`` at
``REFERENCE_DIGITS`` digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

import mpmath
import sympy

import symgrad

REFERENCE_DIGITS = 60


def printed(value, as_printed: str) -> str:
    """``value`` rounded to the same number of decimal places as the lecture printed."""
    places = len(as_printed.split(".")[1]) if "." in as_printed else 0
    with mpmath.workdps(60):
        text = mpmath.nstr(mpmath.mpf(value), 50, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(text).quantize(quantum, rounding=ROUND_HALF_EVEN))


def close(a, b, digits: int) -> bool:
    """|a − b| < 10^−digits, computed at 80 digits so the check itself loses nothing."""
    with mpmath.workdps(80):
        return abs(mpmath.mpf(a) - mpmath.mpf(b)) < mpmath.mpf(10) ** -digits


def sig(z):
    """The logistic sigmoid written out, 1/(1 + exp(−z)): not symgrad's ``sigmoid``."""
    return 1 / (1 + sympy.exp(-z))


def number(value, digits: int = REFERENCE_DIGITS) -> mpmath.mpf:
    """A real SymPy expression without free symbols, evaluated with ``sympy.N`` at ``digits``."""
    v = sympy.N(value, digits)
    real, imag = v.as_real_imag()
    assert abs(imag) < sympy.Float(10, digits) ** -(digits - 5), f"reference is not real: {v}"
    with mpmath.workdps(digits + 10):
        return mpmath.mpf(str(sympy.Float(real, digits)))


def reference_derivative(expr: sympy.Expr, wrt: sympy.Symbol, point: Mapping, digits: int = REFERENCE_DIGITS):
    """``sympy.diff(expr, wrt)`` at ``point`` (a symbol → exact number mapping), at ``digits`` digits."""
    return number(sympy.diff(expr, wrt).xreplace(dict(point)), digits)


# -- the fourth lecture's 2-2-2 network, typed in from the lecture text -----------------------
MAZUR_GIVEN = {
    "i1": "0.05", "i2": "0.10", "t1": "0.01", "t2": "0.99",
    "w1": "0.15", "w2": "0.20", "w3": "0.25", "w4": "0.30",
    "w5": "0.40", "w6": "0.45", "w7": "0.50", "w8": "0.55",
    "b1": "0.35", "b2": "0.60",
}
MAZUR_PARAMS = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2")
MAZUR_LEARNING_RATE = sympy.Rational(1, 2)


def mazur_by_hand() -> tuple[dict[str, sympy.Expr], dict[sympy.Symbol, sympy.Rational]]:
    """Every quantity of the lecture's 2-2-2 network as a SymPy expression in the leaves.

    Returns ``(quantities, point)``: ``quantities`` maps lecture names (``net_h1``, …,
    ``E_total``) to expressions in plain SymPy symbols; ``point`` maps those symbols to the
    lecture's given values as exact rationals.
    """
    s = {name: sympy.Symbol(name) for name in MAZUR_GIVEN}
    q: dict[str, sympy.Expr] = {}
    q["net_h1"] = s["w1"] * s["i1"] + s["w2"] * s["i2"] + s["b1"]
    q["net_h2"] = s["w3"] * s["i1"] + s["w4"] * s["i2"] + s["b1"]
    q["out_h1"], q["out_h2"] = sig(q["net_h1"]), sig(q["net_h2"])
    q["net_o1"] = s["w5"] * q["out_h1"] + s["w6"] * q["out_h2"] + s["b2"]
    q["net_o2"] = s["w7"] * q["out_h1"] + s["w8"] * q["out_h2"] + s["b2"]
    q["out_o1"], q["out_o2"] = sig(q["net_o1"]), sig(q["net_o2"])
    q["E_o1"] = sympy.Rational(1, 2) * (s["t1"] - q["out_o1"]) ** 2
    q["E_o2"] = sympy.Rational(1, 2) * (s["t2"] - q["out_o2"]) ** 2
    q["E_total"] = q["E_o1"] + q["E_o2"]
    point = {s[name]: sympy.Rational(text) for name, text in MAZUR_GIVEN.items()}
    return q, point


# -- any network: its output written out by substitution, not by symgrad's closed_form --------
def expanded(net, name: str | None = None) -> sympy.Expr:
    """Node ``name`` (default: the output) written out in the leaves, sigmoid as exp.

    Substitutes each node's own parsed expression in definition order; it does not use
    ``Network.expanded`` or anything from the derivation.
    """
    return expanded_nodes(net)[name or net.output]


def expanded_nodes(net) -> dict[str, sympy.Expr]:
    """Every node of ``net`` written out in the leaves (see :func:`expanded`)."""
    out: dict[sympy.Symbol, sympy.Expr] = {}
    for node in net.nodes.values():
        out[node.symbol] = node.expr.xreplace(out)
    return {node.name: written_out(out[node.symbol]) for node in net.nodes.values()}


def written_out(expr: sympy.Expr) -> sympy.Expr:
    """symgrad's own function heads replaced by their textbook definitions, so that
    ``sympy.diff`` uses only SymPy's rules (sigmoid → 1/(1 + exp(−z)), relu → Max(0, z),
    logsumexp → log Σ exp)."""
    return expr.replace(symgrad.sigmoid, sig).replace(
        symgrad.relu, lambda z: sympy.Max(0, z)).replace(
        symgrad.logsumexp, lambda *a: sympy.log(sympy.Add(*[sympy.exp(t) for t in a])))


def decimal_float(value, digits: int = REFERENCE_DIGITS) -> sympy.Float:
    """An mpmath or SymPy number as a SymPy Float carrying ``digits`` digits (no detour via str at 15)."""
    with mpmath.workdps(digits + 10):
        return sympy.Float(mpmath.nstr(mpmath.mpf(value), digits + 5), digits)


def leaf_point(net, at: Mapping[str, object] | None = None) -> dict[sympy.Symbol, sympy.Rational]:
    """The network's leaf values (overridden by ``at``) keyed by symbol, as exact rationals."""
    values = {**net.point(), **{k: sympy.Rational(str(v)) for k, v in (at or {}).items()}}
    return {net.symbol(name): sympy.Rational(v) for name, v in values.items()}


def reference_gradients(net, at: Mapping[str, object] | None = None, *, wrt=None) -> dict[str, mpmath.mpf]:
    """``sympy.diff`` of the expanded output with respect to each leaf (or each name in ``wrt``)."""
    full = expanded(net)
    point = leaf_point(net, at)
    names = wrt if wrt is not None else list(net.leaves)
    return {name: reference_derivative(full, net.symbol(name), point) for name in names}


def mlp_3_4_2_batch_gradients(net, x, t, *, reduction: str) -> dict[str, float]:
    """Textbook float64 backprop of ``mlp([3, 4, 2])`` over a batch, by the scalar parameter names.

    Written from the naming scheme of docs/reference/spec-format.md (w1…w12 hidden, w13…w20
    output, b_h*, b_o*), not from symgrad's layout code.
    """
    import numpy as np

    v = {k: float(val) for k, val in net.point().items()}
    W1 = np.array([[v[f"w{j * 3 + i + 1}"] for i in range(3)] for j in range(4)])
    W2 = np.array([[v[f"w{12 + k * 4 + j + 1}"] for j in range(4)] for k in range(2)])
    b1 = np.array([v[f"b_h{j + 1}"] for j in range(4)])
    b2 = np.array([v[f"b_o{k + 1}"] for k in range(2)])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    gW1, gb1, gW2, gb2 = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)
    for xi, ti in zip(x, t):
        h = sig(W1 @ xi + b1)
        o = sig(W2 @ h + b2)
        delta_o = (o - ti) * o * (1 - o)
        delta_h = (W2.T @ delta_o) * h * (1 - h)
        gW1 += np.outer(delta_h, xi)
        gb1 += delta_h
        gW2 += np.outer(delta_o, h)
        gb2 += delta_o
    scale = 1 / len(x) if reduction == "mean" else 1.0
    out = {f"w{j * 3 + i + 1}": gW1[j, i] * scale for j in range(4) for i in range(3)}
    out |= {f"w{12 + k * 4 + j + 1}": gW2[k, j] * scale for k in range(2) for j in range(4)}
    out |= {f"b_h{j + 1}": gb1[j] * scale for j in range(4)}
    out |= {f"b_o{k + 1}": gb2[k] * scale for k in range(2)}
    return out
