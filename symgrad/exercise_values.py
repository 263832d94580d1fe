"""Nice values for exercise variants: the rules, a judge of one set of values, and the seeded draw.

A variant keeps the network and every value the teacher fixes, and draws the others from a
short list of numbers a person can compute with (``candidates``). A draw is kept only when it
is *nice* by the rules of ``NICE`` (each rule named in docs/reference/spec-format.md); else it
is drawn again, as Numbas' "condition to satisfy" or WeBWorK's ``non_zero_random`` do, up to
``MAX_VARIANT_DRAWS`` times per variant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Mapping, Sequence

import mpmath
import sympy

from .chain import Derivation
from .errors import InvalidArgument, SymgradError
from .evaluation import evaluate_gradients
from .functions import sigmoid
from .kinks import kink_arguments
from .limits import MAX_VARIANT_DRAWS
from .precision import to_decimal

__all__ = ["NiceRules", "NICE", "candidates", "nice_problems", "draw_variants", "preactivations", "is_tie",
           "WORKING_DIGITS"]

#: The functions whose argument must stay out of the flat tails (and off the linear middle).
SQUASHING = (sigmoid, sympy.tanh)
WORKING_DIGITS = 20  # exact evaluation of a draw: far beyond the 2-9 digits an exercise asks for


@dataclass(frozen=True)
class NiceRules:
    """The thresholds of a nice variant; every varied value is k·step with 1 ≤ k ≤ ``steps``.

    >>> NICE.min_preactivation, NICE.max_preactivation
    (Fraction(1, 10), Fraction(3, 1))
    """

    steps: int = 20  # a varied value |v| ≤ 1 is a multiple of 0.05 up to 1.00 (two decimals at most)
    min_preactivation: Fraction = Fraction(1, 10)  # |z| of sigmoid(z) or tanh(z): off the linear middle...
    max_preactivation: Fraction = Fraction(3)  # ...and out of the flat tails (σ'(3) ≈ 0.045)
    min_gradient: Fraction = Fraction(1, 10_000)  # every parameter's gradient is at least this in magnitude
    max_value: Fraction = Fraction(1_000)  # every value and gradient stays below this in magnitude
    min_sum_share: Fraction = Fraction(1, 10)  # a sum keeps at least this share of its largest term (no cancelling)


NICE = NiceRules()


def _step(original: Fraction, steps: int) -> Fraction:
    """The grid of a varied value: 1/steps of the power of ten at or above its magnitude (at least 1)."""
    scale = Fraction(1)
    while scale < abs(original):
        scale *= 10
    return scale / steps


def candidates(original, *, rules: NiceRules = NICE) -> tuple[Fraction, ...]:
    """The values a varied leaf may take: k·step for k = 1…steps, with the sign of the original
    (both signs when it is 0). For |v| ≤ 1 that is 0.05, 0.10, …, 1.00.

    >>> [str(c) for c in candidates(Fraction(-3, 10))[:3]]
    ['-1/20', '-1/10', '-3/20']
    """
    value = Fraction(str(original)) if not isinstance(original, Fraction) else original
    step = _step(value, rules.steps)
    grid = tuple(k * step for k in range(1, rules.steps + 1))
    if value < 0:
        return tuple(-c for c in grid)
    if value == 0:
        return tuple(-c for c in reversed(grid)) + grid
    return grid


def preactivations(derivation: Derivation, values: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    """(name of z, z) for every sigmoid(z) or tanh(z) in the network's nodes, z evaluated at ``values``
    (the node values of an evaluation), in graph order."""
    found = []
    for name, sub in _subexpressions(derivation):
        if isinstance(sub, sympy.Function) and sub.func in SQUASHING:
            arg = sub.args[0]
            label = arg.name if isinstance(arg, sympy.Symbol) else f"the argument of {sub.func.__name__} in {name}"
            found.append((label, _value_of(arg, values)))
    return tuple(found)


def _subexpressions(derivation: Derivation):
    """(node name, subexpression) for every subexpression of every node's definition, in graph order."""
    for name in derivation.order:
        node = derivation.network.nodes.get(name)
        if node is not None:
            for sub in sympy.preorder_traversal(node.expr):
                yield name, sub


def _value_of(expr: sympy.Expr, values: Mapping[str, object]):
    if isinstance(expr, sympy.Symbol):
        return values[expr.name]
    with mpmath.workdps(WORKING_DIGITS):
        numbers = {s: sympy.Float(mpmath.mpf(values[s.name]), WORKING_DIGITS) for s in expr.free_symbols}
        return mpmath.mpf(str(sympy.N(expr.xreplace(numbers), WORKING_DIGITS)))


def _sums(derivation: Derivation, values: Mapping[str, object]):
    """(node, sum, largest term) for every sum inside a node's definition."""
    for name, sub in _subexpressions(derivation):
        if isinstance(sub, sympy.Add):
            terms = [abs(_value_of(t, values)) for t in sub.args]
            yield name, _value_of(sub, values), max(terms)


def nice_problems(derivation: Derivation, at: Mapping[str, object], *, rules: NiceRules = NICE) -> tuple[str, ...]:
    """Why the values ``at`` do not make a nice variant (empty when they do), one line per broken rule.

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> nice_problems(d, {})
    ()
    >>> nice_problems(d, {"w1": 8, "w2": 8, "b1": 8})[0]
    'net_h1 = 9.2 is a saturated pre-activation (|z| > 3)'
    """
    try:
        numbers = evaluate_gradients(derivation, at=at, digits=WORKING_DIGITS)
    except SymgradError as exc:
        return (f"cannot be evaluated: {exc}",)
    low, high, least, most, share = (_mp(r) for r in (rules.min_preactivation, rules.max_preactivation,
                                                       rules.min_gradient, rules.max_value, rules.min_sum_share))
    problems = []
    for name, z in preactivations(derivation, numbers.values):
        if abs(z) > high:
            problems.append(f"{name} = {_show(z)} is a saturated pre-activation (|z| > {rules.max_preactivation})")
        elif abs(z) < low:
            problems.append(f"{name} = {_show(z)} is a pre-activation in the linear middle "
                            f"(|z| < {float(rules.min_preactivation):g})")
    for name, value in numbers.values.items():
        if abs(value) > most:
            problems.append(f"{name} = {_show(value)} is too large (over {rules.max_value})")
    for param, gradient in numbers.gradients.items():
        if abs(gradient) < least:
            problems.append(f"the gradient of {param} = {_show(gradient)} vanishes (|g| < {float(rules.min_gradient):g})")
        elif abs(gradient) > most:
            problems.append(f"the gradient of {param} = {_show(gradient)} is too large (over {rules.max_value})")
    for name, total, largest in _sums(derivation, numbers.values):
        if abs(total) < share * largest:
            problems.append(f"a sum in {name} cancels: {_show(total)} from terms up to {_show(largest)}")
    net = derivation.network
    for name, head, argument in kink_arguments(net, tuple(net.nodes)):
        if _value_of(argument, numbers.values) == 0:
            problems.append(f"the argument {argument} of {head} in {name} is 0, a kink (no derivative there)")
    return tuple(problems)


def is_tie(value, digits: int) -> bool:
    """Whether ``value`` lies exactly halfway between two roundings to ``digits`` significant digits
    (1.4925 at 4): half-up and half-even would then disagree.

    >>> is_tie(mpmath.mpf("1.4925"), 4), is_tie(mpmath.mpf("1.49251"), 4), is_tie(mpmath.mpf("0.5"), 4)
    (True, False, False)
    """
    wide = to_decimal(value, digits + 12).lstrip("-").replace(".", "").lstrip("0")
    return wide[digits:digits + 1] == "5" and not wide[digits + 1:].strip("0")


def _mp(fraction: Fraction):
    return mpmath.mpf(fraction.numerator) / fraction.denominator


def _show(value) -> str:
    return mpmath.nstr(mpmath.mpf(value), 4)


def draw_variants(derivation: Derivation, count: int, *, seed: int = 0, fixed: Sequence[str] = (),
                  rules: NiceRules = NICE,
                  also: Callable[[Mapping[str, object]], tuple[str, ...]] | None = None) -> tuple[dict[str, Fraction], ...]:
    """``count`` distinct nice value sets for the network's inputs, targets and parameters, reproducible
    from ``seed``; the names in ``fixed`` (and constants) keep the spec's values. ``also`` is one more
    judge of a draw (the problems it finds; none when the draw is kept), as the exercise's answers use.

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> first = draw_variants(d, 2, seed=1)
    >>> first == draw_variants(d, 2, seed=1), first[0] != first[1], nice_problems(d, first[0])
    (True, True, ())
    """
    net = derivation.network
    varied = [n for n, leaf in net.leaves.items()
              if leaf.kind in ("input", "target", "param") and n not in fixed and n in net.values]
    if not varied:
        raise InvalidArgument("every value is fixed, so all variants would be the same; remove a name from "
                              "[exercise] fixed")
    grids = {n: candidates(net.values[n], rules=rules) for n in varied}
    rng = random.Random(seed)
    found: list[dict[str, Fraction]] = []
    seen: set[tuple] = set()
    for index in range(count):
        last: tuple[str, ...] = ()
        for _ in range(MAX_VARIANT_DRAWS):
            values = {n: grids[n][rng.randrange(len(grids[n]))] for n in varied}
            key = tuple(values.values())
            if key in seen:
                continue
            at = {n: sympy.Rational(v.numerator, v.denominator) for n, v in values.items()}
            last = nice_problems(derivation, at, rules=rules) or (also(at) if also else ())
            if not last:
                seen.add(key)
                found.append(values)
                break
        else:
            why = f" (the last draw: {'; '.join(last[:2])})" if last else ""
            raise InvalidArgument(f"no nice values for variant {index + 1} in {MAX_VARIANT_DRAWS} draws (seed {seed})"
                                  f"{why}; fix fewer values in [exercise] fixed, ask for fewer variants, or choose "
                                  "spec values nearer the nice ranges (docs/reference/spec-format.md, [exercise])")
    return tuple(found)
