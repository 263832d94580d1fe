"""Diagnosing a wrong claim: search the common slips and name the one that explains it.

Each slip recomputes the claimed quantity the way a person who made it would have (a digit
swapped, the ½ dropped, σ′ left out, the output weights updated first, degrees on the
calculator...) and is offered only when that number rounds to the claim, so a diagnosis is
never a guess. The slips are tried in a fixed order, cheapest and most specific first; the
first that explains the claim is named. When none does, the explanation says so.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Callable, Iterator

import mpmath
import sympy

from .chain import accumulate
from .claim_data import Claim, World, as_decimal, rounded, rounds_to
from .errors import SymgradError
from .evaluation import evaluate_expr
from .functions import sigmoid
from .graph import as_number
from .train import layers_from_output, step

if TYPE_CHECKING:  # pragma: no cover
    from .claims import _Judge

__all__ = ["SLIPS", "diagnose", "diagnose_symbolic"]

#: The slips searched, in the order they are tried.
SLIPS = (
    "transposed digits",
    "dropped digit",
    "duplicated digit",
    "truncation",
    "sign error",
    "misplaced decimal point",
    "factor of 2 (the ½ dropped)",
    "σ′ missing",
    "learning rate missing or applied twice",
    "wrong weight",
    "sequential update",
    "biases left out of the update",
    "one step too many or too few",
    "degrees instead of radians",
)

_NOTHING = "no common slip explains this value (digits, rounding, sign, ½, σ′, learning rate, weights, update order, " \
           "step count and degrees were tried); the exact value is shown"
_TRIG = (sympy.sin, sympy.cos)


def _plain(value: Decimal) -> str:
    return format(value, "f").lstrip("-")


def diagnose(judge: _Judge, claim: Claim, world: World, exact) -> str:
    """The explanation of a wrong numeric claim: the first slip that reproduces it, or a plain 'none'."""
    c, q = claim.number, claim.quantum
    references = [("", exact)]
    if world.lines:
        person = judge.quantity(claim, world)
        if abs(as_decimal(person) - as_decimal(exact)) > q.scaleb(-3):
            references.append((", given your earlier numbers", person))
    for given, r in references:
        if r and rounded(r, q, rounding=ROUND_DOWN) == c and rounded(r, q) != c:
            finer = _plain(rounded(r, q.scaleb(-1)))
            return f"truncated instead of rounded: {finer}... rounds to {rounded(r, q)}" + given
    for given, r in references:
        found = _digit_slip(c, q, r, claim)
        if found:
            return found + given
    for given, r in references:
        if r and rounds_to(c, q, -r):
            return f"a sign error: the value is {rounded(r, q)}, the opposite sign" + given
        for k in (1, -1, 2, -2, 3, -3):
            if r and claim.significant >= 2 and rounds_to(c, q, r * mpmath.mpf(10) ** k):
                shifted = rounded(r, q.scaleb(-k))
                return f"a misplaced decimal point: {claim.value} is {shifted} × 10^{k}" + given
    if claim.significant < 2:
        return "not the exact value rounded; one significant digit is too few to tell which slip it was"
    slack = 2 if claim.significant > 3 else 1  # a last digit off by one is condoned only in long numbers
    worlds = [("", World(), exact)] + ([(references[-1][0], world, references[-1][1])] if len(references) > 1 else [])
    for given, w, correct in worlds:
        for label, compute in _computed_slips(judge, claim, w, correct):
            try:
                value = compute()
            except (SymgradError, ArithmeticError, ValueError, KeyError):
                continue
            if value is None:
                continue
            if rounds_to(c, q, value, slack=slack) and abs(as_decimal(value) - as_decimal(correct)) > q:
                return label + given
    return _NOTHING


def _digit_slip(c: Decimal, q: Decimal, r, claim: Claim) -> str:
    if r == 0 or (c < 0) != (r < 0) or c == 0 or claim.significant < 2:
        return ""
    written = _plain(c)
    same = _plain(rounded(r, q))
    if len(same) == len(written):
        for i in range(len(same) - 1):
            a, b = same[i], same[i + 1]
            if a.isdigit() and b.isdigit() and a != b and same[:i] + b + a + same[i + 2:] == written:
                return f"two digits swapped: {b}{a} written for {a}{b} ({same} is the value to {_places(q)})"
    finer = _plain(rounded(r, q.scaleb(-1)))
    for i in range(len(finer) - 1):  # dropping the last digit is truncation, not a dropped digit
        if finer[i].isdigit() and finer[:i] + finer[i + 1:] == written:
            return f"a dropped digit: the {finer[i]} at position {i + 1} of {finer} is missing"
    coarser = _plain(rounded(r, q.scaleb(1)))
    for i in range(len(written)):
        if written[i].isdigit() and written[:i] + written[i + 1:] == coarser:
            twice = (i > 0 and written[i - 1] == written[i]) or (i + 1 < len(written) and written[i + 1] == written[i])
            what = f"a duplicated digit: the {written[i]} is written twice" if twice else \
                f"an extra digit: the {written[i]} at position {i + 1} does not belong"
            return f"{what} ({coarser} is the value to {_places(q.scaleb(1))})"
    return ""


def _places(q: Decimal) -> str:
    n = -q.as_tuple().exponent if q < 1 else 0
    return f"{n} decimals" if n != 1 else "1 decimal"


# -- slips that change the computation ----------------------------------------------------
def _half_squares(judge: _Judge) -> set[str]:
    """Nodes written as ½ times a square (the squared-error loss)."""
    found = set()
    for name, node in judge.network.nodes.items():
        e = node.expr
        if e.is_Mul and sympy.Rational(1, 2) in e.args and any(a.is_Pow and a.exp == 2 for a in e.args):
            found.add(name)
    return found


def _on_path(judge: _Judge, low: str, high: str) -> bool:
    return low in judge.network.ancestors(high)


def _sigmoid_edges(judge: _Judge, claim: Claim) -> list[tuple[str, str]]:
    d = judge.derivation(claim.name if claim.wrt else None)
    start = claim.wrt
    edges = []
    for (node, operand) in d.factors:
        expr = judge.network.nodes[node].expr
        if isinstance(expr, sigmoid) and (start is None or _on_path(judge, start, operand)):
            edges.append((node, operand))
    return edges


def _neighbours(judge: _Judge, names: set[str]) -> list[tuple[str, str]]:
    params = list(judge.network.params)
    pairs = []
    for distance in (1, 2):
        for i, p in enumerate(params):
            if p not in names:
                continue
            for j in (i - distance, i + distance):
                if 0 <= j < len(params):
                    pairs.append((p, params[j]))
    return pairs


def _degree_world(judge: _Judge, claim: Claim):
    """Every node value and local partial with sin and cos read in degrees, as a calculator in DEG mode does."""
    net = judge.network
    if not any(node.expr.has(*_TRIG) for node in net.nodes.values()):
        return None

    def degrees(expr: sympy.Expr) -> sympy.Expr:
        return expr.replace(lambda e: isinstance(e, _TRIG), lambda e: e.func(e.args[0] * sympy.pi / 180))

    env = {}
    for name, value in net.point().items():
        value = as_number(value)
        env[name] = mpmath.mpf(value.p) / value.q if hasattr(value, "p") else mpmath.mpf(value)
    for name, node in net.nodes.items():
        env[name] = evaluate_expr(degrees(node.expr), env)
    d = judge.derivation(claim.name if claim.wrt else None)
    factors = {key: evaluate_expr(degrees(f.expr), env) for key, f in d.factors.items()}
    return {n: env[n] for n in net.nodes}, factors


def _computed_slips(judge: _Judge, claim: Claim, world: World, correct) -> Iterator[tuple[str, Callable]]:
    net = judge.network
    eta = net.learning_rate
    eta_value = mpmath.mpf(as_number(eta).p) / as_number(eta).q if eta is not None else None
    halves = _half_squares(judge)
    quantity = judge.quantity
    if claim.steps:
        k = claim.steps
        is_param = claim.name in net.params
        if k == 1 and is_param:
            same = " (with η = 1/2 this is also what dropping the ½ of the squared error gives)" \
                if halves and 2 * as_number(eta) == 1 else ""
            yield ("the learning rate missing: θ − ∇ instead of θ − η∇" + same,
                   lambda: quantity(claim, world, learning_rate=1))
            if halves and not same:
                yield ("the ½ of the squared error dropped: the update used twice the gradient",
                       lambda: quantity(claim, world, learning_rate=2 * as_number(eta)))
            yield ("the learning rate applied twice: θ − η²∇ instead of θ − η∇",
                   lambda: quantity(claim, world, learning_rate=as_number(eta) ** 2))
            yield ("a sign error in the update: θ + η∇ instead of θ − η∇",
                   lambda: quantity(claim, world, learning_rate=-as_number(eta)))
            for edge in _sigmoid_edges(judge, claim):
                yield (_sigma_label(judge, edge), lambda e=edge: quantity(claim, world, factors={e: 1}))
        yield (f"one step too few: this is the value after {k - 1} steps",
               lambda: judge.exact_steps(k - 1)[claim.name])
        yield (f"one step too many: this is the value after {k + 1} steps",
               lambda: judge.exact_steps(k + 1)[claim.name])
        first = set(layers_from_output(judge.main)[0])
        if not (k == 1 and claim.name in first):
            yield (_SEQUENTIAL, lambda: judge.exact_steps(k, rule="layerwise")[claim.name])
        biases = judge.biases
        if biases and not (is_param and k == 1):  # weights after one step do not depend on the biases' update
            fixed = ", ".join(biases)
            yield (f"the biases ({fixed}) left out of the update",
                   lambda: judge.exact_steps(k, frozen=biases)[claim.name])
            yield (f"{_SEQUENTIAL}, with the biases ({fixed}) left out of the update",
                   lambda: judge.exact_steps(k, rule="layerwise", frozen=biases)[claim.name])
        if k > 1:
            yield ("the learning rate missing in every step (η = 1)",
                   lambda: judge.exact_steps(k, learning_rate=1)[claim.name])
        return
    if claim.wrt is None:
        node_names = set(net.ancestors(claim.name))
        if claim.name in net.nodes and halves & node_names:
            yield "the ½ of the squared error dropped (a factor of 2)", lambda: 2 * correct
        for p, other in _neighbours(judge, node_names):
            yield (f"the wrong weight: {other} used where {p} belongs",
                   lambda p=p, o=other: quantity(claim, world, at={p: _value_of(judge, world, o)}))
        degree = _degree_world(judge, claim)
        if degree is not None and claim.name in degree[0]:
            yield _DEGREES, lambda: degree[0][claim.name]
        return
    a, b = claim.name, claim.wrt
    if any(_on_path(judge, h, a) and _on_path(judge, b, h) for h in halves):
        yield "the ½ of the squared error dropped (a factor of 2)", lambda: 2 * correct
    edges = _sigmoid_edges(judge, claim)
    if len(edges) > 1:
        yield ("σ′ missing: every sigmoid derivative out(1 − out) left out",
               lambda: quantity(claim, world, factors={e: 1 for e in edges}))
    for edge in edges:
        yield _sigma_label(judge, edge), lambda e=edge: quantity(claim, world, factors={e: 1})
    if eta_value is not None:
        yield (f"the learning rate η = {eta} multiplied into the gradient (it belongs in the update)",
               lambda: eta_value * correct)
    for p, other in _neighbours(judge, set(net.ancestors(a))):
        yield (f"the wrong weight: {other} used where {p} belongs",
               lambda p=p, o=other: quantity(claim, world, at={p: _value_of(judge, world, o)}))
    if a == net.output and b in net.params and eta is not None and b not in layers_from_output(judge.main)[0]:
        yield _SEQUENTIAL, lambda: step(judge.main, digits=judge.digits, rule="layerwise").gradients[b]
    degree = _degree_world(judge, claim)
    if degree is not None:
        yield _DEGREES, lambda: quantity(claim, world, values=degree[0], factors=degree[1])


_SEQUENTIAL = ("a sequential instead of a simultaneous update: the output-layer weights were already updated when "
               "the hidden-layer gradients were computed")
_DEGREES = "degrees instead of radians: sin and cos were evaluated with the angle in degrees"


def _sigma_label(judge: _Judge, edge: tuple[str, str]) -> str:
    node, operand = edge
    factor = judge.main.factors.get(edge) or judge.derivation(node).factors[edge]
    return f"σ′ missing: the factor ∂{node}/∂{operand} = {sympy.sstr(factor.expr)} left out"


def _value_of(judge: _Judge, world: World, name: str):
    if name in world.values:
        return world.values[name]
    return judge.network.point()[name]


# -- symbolic claims ------------------------------------------------------------------------
def diagnose_symbolic(judge: _Judge, claim: Claim, derived: sympy.Expr) -> str:
    """Why a symbolic claim differs from the derived expression, with the correct expression."""
    given = claim.expr
    correct = f"the correct expression is {sympy.sstr(derived)}"
    if judge.equal(given, -derived):
        return f"a sign error: {correct}"
    if judge.equal(given, 2 * derived) and _half_squares(judge):
        return f"the ½ of the squared error dropped (a factor of 2): {correct}"
    if claim.wrt is not None:
        d = judge.derivation(claim.name)
        edges = {e for e in d.factors if isinstance(judge.network.nodes[e[0]].expr, sigmoid)}
        if edges:
            without = accumulate(d, sympy.S.One,
                                 lambda delta, t: delta * (1 if (t.consumer, t.factor.wrt) in edges else t.factor.expr),
                                 lambda _, terms: sympy.Add(*terms)).get(claim.wrt, sympy.S.Zero)
            if without != derived and judge.equal(given, without):
                return f"σ′ missing: the sigmoid derivative out(1 − out) is left out; {correct}"
        eta = judge.network.learning_rate
        if eta is not None and judge.equal(given, as_number(eta) * derived):
            return f"the learning rate multiplied into the gradient (it belongs in the update): {correct}"
    return f"no common slip explains it; {correct}"
