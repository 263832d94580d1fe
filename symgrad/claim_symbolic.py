"""Deciding whether a symbolic claim equals the derived expression: an identity, true only at the
spec's values, or different, and how that was decided.

First exact simplification (``expand``, then ``simplify`` on small differences); when that
cannot decide, exact evaluation at rational points drawn from a fixed list spread over many
magnitudes, at ``SYMBOLIC_WORKING_DIGITS``, where a point at which either side does not exist
as a real number (outside the domain) is skipped, never used. A nonzero difference at one
point inside the domain decides "different" for certain; agreement at every point is
reported as such, never as a proof.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy

from .errors import SymgradError
from .evaluation import evaluate_expr
from .functions import sigmoid
from .graph import Network
from .precision import SYMBOLIC_WORKING_DIGITS, SYMBOLIC_ZERO_DIGITS

__all__ = ["Equality", "MAX_INLINED_NODES", "compare", "larger_than", "short_difference"]

_SIMPLIFY_OPS = 150  # larger differences go straight to the points (simplify can take minutes)
_POINTS = 8  # points inside the domain that must agree
_TRIES = 200  # points drawn to find them
_SHORT = 90  # characters of a difference worth showing whole
#: The most nodes (as a tree) an expression may have written out; a deep graph's closed form can
#: grow exponentially (30 nodes each using the two before), and is then not written out at all.
MAX_INLINED_NODES = 20_000
#: the rationals points are drawn from: small and large, both signs, never a round number only
_RATIONALS = tuple(Fraction(p, q) * s for p, q in ((1, 7), (2, 3), (5, 4), (7, 3), (13, 4), (9, 2), (37, 5),
                                                    (31, 3), (101, 7), (250, 3), (3, 11), (17, 13))
                   for s in (1, -1))


@dataclass(frozen=True)
class Equality:
    """How a claim compares with the truth: ``kind`` is "identity", "at-values" or "different"."""

    kind: str
    how: str


def _explicit(expr: sympy.Expr) -> sympy.Expr:
    return expr.rewrite(sympy.exp) if expr.has(sigmoid) else expr


def _value(expr: sympy.Expr, point: dict):
    """The value of ``expr`` at ``point`` (exact rationals), or None outside its domain."""
    with mpmath.workdps(SYMBOLIC_WORKING_DIGITS):
        env = {name: mpmath.mpf(v.numerator) / v.denominator if isinstance(v, Fraction) else mpmath.mpf(v)
               for name, v in point.items()}
        try:
            return evaluate_expr(expr, env)
        except (SymgradError, ArithmeticError, ValueError, TypeError):
            return None


def _agree(a: sympy.Expr, b: sympy.Expr, point: dict) -> bool | None:
    """Whether ``a`` = ``b`` at ``point``; None when either does not exist there."""
    x, y = _value(a, point), _value(b, point)
    if x is None or y is None:
        return None
    with mpmath.workdps(SYMBOLIC_WORKING_DIGITS):
        scale = max(abs(x), abs(y), mpmath.mpf(1))
        return abs(x - y) <= scale * mpmath.mpf(10) ** -SYMBOLIC_ZERO_DIGITS


def _at_points(a: sympy.Expr, b: sympy.Expr, symbols: list[str], first: dict | None = None) -> tuple[int, bool]:
    """(points inside the domain where a = b, whether some point inside the domain has a ≠ b)."""
    rng = random.Random(0)
    agreed = 0
    points = ([first] if first else []) + [{s: rng.choice(_RATIONALS) for s in symbols} for _ in range(_TRIES)]
    for point in points:
        same = _agree(a, b, point)
        if same is None:
            continue
        if not same:
            return agreed, True
        agreed += 1
        if agreed >= _POINTS:
            break
    return agreed, False


def _proved(difference: sympy.Expr) -> bool:
    if sympy.expand(difference) == 0:
        return True
    return sympy.count_ops(difference) <= _SIMPLIFY_OPS and sympy.simplify(_explicit(difference)) == 0


def compare(claim: sympy.Expr, truth: sympy.Expr, network: Network) -> Equality:
    """Whether ``claim`` = ``truth`` for every value, only at the spec's values, or not, and how it was decided.

    >>> import symgrad
    >>> net = symgrad.load("mazur")
    >>> s = {n: net.symbol(n) for n in ("w5", "w6")}
    >>> compare(s["w5"] + s["w6"], s["w6"] + s["w5"], net).kind
    'identity'
    """
    if sympy.expand(claim - truth) == 0:
        return Equality("identity", "proved equal: claim − derived expands to 0")
    stepwise = _inline_stepwise(claim, truth, network)
    if stepwise:
        return Equality("identity", f"proved equal: claim − derived expands to 0 with {stepwise} written out")
    a, b = _inline_bounded(claim, network), _inline_bounded(truth, network)
    if a is None or b is None:
        return Equality("too-large", f"not decided: written out down to the leaves, the expressions have more than "
                                     f"{MAX_INLINED_NODES:,} terms (a deep graph whose closed form grows "
                                     "exponentially); write the claim with the nodes of the layer below")
    symbols = sorted({s.name for s in (a - b).free_symbols})
    spec = {n: _fraction(v) for n, v in network.point().items() if n in symbols}
    agreed, differs = _at_points(a, b, symbols)
    if differs:
        if _agree(a, b, spec):
            relies = _relies_on(a, b, network, symbols, spec)
            if relies:
                return Equality("at-values", relies)
            shown = ", ".join(f"{n} = {_text(spec[n])}" for n in symbols[:6])
            return Equality("different", f"equal only at the spec's values ({shown}), not as a formula: "
                                         "different at another rational point inside the domain")
        return Equality("different", "different at a rational point inside the domain (exact evaluation)")
    for difference, how in ((claim - truth, ""), (a - b, " with every node written out")):
        if _proved(difference):
            return Equality("identity", f"proved equal: claim − derived simplifies to 0{how}")
    if agreed:
        return Equality("identity", f"equal at {agreed} rational points inside the domain, by exact evaluation to "
                                    f"{SYMBOLIC_ZERO_DIGITS} digits (simplify could not prove it)")
    return Equality("different", f"no point inside both sides' domain was found among {_TRIES} rational points")


def _inline_stepwise(claim: sympy.Expr, truth: sympy.Expr, network: Network) -> str:
    """The nodes whose definitions, substituted latest first into both sides, make them expand
    equal (n30 = n30 with n30 written out); "" when none do before the sides grow too large."""
    done = []
    for node in reversed(network.nodes.values()):
        if node.symbol not in claim.free_symbols | truth.free_symbols:
            continue
        claim, truth = claim.xreplace({node.symbol: node.expr}), truth.xreplace({node.symbol: node.expr})
        done.append(node.name)
        if larger_than(claim - truth, _SIMPLIFY_OPS):
            return ""
        if sympy.expand(claim - truth) == 0:
            return ", ".join(done)
    return ""


def _inline_bounded(expr: sympy.Expr, network: Network) -> sympy.Expr | None:
    """``network.inline(expr)``, one node at a time, or None once it has more than MAX_INLINED_NODES nodes."""
    for node in reversed(network.nodes.values()):
        if node.symbol in expr.free_symbols:
            expr = expr.xreplace({node.symbol: node.expr})
            if larger_than(expr, MAX_INLINED_NODES):
                return None
    return expr


def larger_than(expr: sympy.Expr, limit: int) -> bool:
    """Whether ``expr`` has more than ``limit`` nodes as a tree (counted only up to ``limit``)."""
    for count, _ in enumerate(sympy.preorder_traversal(expr)):
        if count >= limit:
            return True
    return False


def _relies_on(a: sympy.Expr, b: sympy.Expr, network: Network, symbols: list[str], spec: dict) -> str:
    """What a claim that holds at the spec's values relies on: a fixed sum of its targets or inputs
    (one-hot targets: y1 + y2 = 1); "" when no such relation makes it an identity."""
    for kind in ("target", "input"):
        group = [n for n in network.names(kind) if n in symbols]
        if len(group) < 2:
            continue
        total = sum(spec[n] for n in group)
        last = network.symbol(group[-1])
        rest = sympy.Rational(total.numerator, total.denominator) - sum(network.symbol(n) for n in group[:-1])
        agreed, differs = _at_points(a.xreplace({last: rest}), b.xreplace({last: rest}),
                                     [s for s in symbols if s != group[-1]])
        if agreed and not differs:
            return (f"true where {' + '.join(group)} = {_text(total)}, as at the spec's values "
                    f"(not an identity: it relies on {' + '.join(group)} = {_text(total)})")
    return ""


def short_difference(claim: sympy.Expr, truth: sympy.Expr) -> str:
    """claim − truth, simplified where that is cheap, as short text."""
    difference = claim - truth
    if sympy.count_ops(difference) <= _SIMPLIFY_OPS // 3:
        difference = sympy.factor_terms(sympy.simplify(difference))
    text = sympy.sstr(difference)
    return text if len(text) <= _SHORT else text[:_SHORT - 1] + "…"


def _fraction(value) -> Fraction:
    if hasattr(value, "p"):
        return Fraction(int(value.p), int(value.q))
    return Fraction(str(value))


def _text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(float(value))
