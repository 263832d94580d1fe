"""Exact and float64 evaluation of values, local factors, adjoints and gradients.

"Exact" means: leaves are exact rationals (0.05 is 1/20) and every transcendental step is
computed with mpmath at a working precision well above the digits asked for; the whole
evaluation is then repeated at twice that precision and every number must agree to the
digits asked for, so each printed digit is certified (else ``PrecisionError``). The policy
(working digits, the cancellation floor, rounding) is in ``symgrad.precision``.

Any leaf, node value, local factor or δ can be fixed to a given number (``Overrides``);
everything downstream is recomputed from it. A ``Rounding`` policy rounds every
intermediate as it is produced, the way a person computes by hand.

A value that does not exist as a real number at the point (division by zero, log of zero,
a square root of a negative, a magnitude beyond 10**MAX_MAGNITUDE_DIGITS) raises
``DomainError`` naming the node and the point. Only the local factors some parameter's
gradient needs must exist: where another one does not (∂sqrt(x)/∂x at x = 0 for an input
x), the δ that need it are reported as undefined instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, Mapping

import mpmath
import sympy
from mpmath.libmp import mpf_abs, mpf_eq, mpf_gt, mpf_le, mpf_mul, mpf_sub

from .arithmetic import CheckedArithmetic, Fallback, Undefined, checked_closure
from .chain import Derivation, Term, accumulate
from .errors import DomainError, GraphError, PrecisionError
from .graph import Network, as_number
from .limits import LONG_OPERANDS
from .precision import DEFAULT_DIGITS, WORKING_EXTRA, Rounding, validate_digits, format_number
from .stable import stabilize

__all__ = ["Values", "GradientValues", "Overrides", "evaluate", "evaluate_gradients", "evaluate_expr", "Solver",
           "certified"]

_NO_ROUNDING = Rounding()


@dataclass(frozen=True)
class Overrides:
    """Numbers to use instead of computing them; everything downstream follows from them.

    ``values`` fixes leaves or nodes by name, ``factors`` local partials by (node, operand),
    ``deltas`` adjoints δ_x = ∂output/∂x by name.
    """

    values: Mapping[str, object] = field(default_factory=dict)
    factors: Mapping[tuple[str, str], object] = field(default_factory=dict)
    deltas: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Values:
    """The value of every leaf and node, in graph order."""

    values: dict[str, mpmath.mpf | float]
    digits: int | None  # None: float64


@dataclass(frozen=True)
class GradientValues:
    """Numbers for a whole derivation: forward values, each local factor, each δ term, each δ, each gradient.

    ``terms[x, c]`` is δ_c · ∂c/∂x, one term of δ_x. A factor that does not exist at the point
    is an error when a parameter's gradient needs it; otherwise the δ of the inputs that need
    it are None, with the reason in ``undefined``.
    """

    output: str
    values: dict[str, mpmath.mpf | float]
    factors: dict[tuple[str, str], mpmath.mpf | float]
    terms: dict[tuple[str, str], mpmath.mpf | float]
    adjoints: dict[str, mpmath.mpf | float]
    gradients: dict[str, mpmath.mpf | float]
    digits: int | None
    rounding: Rounding = _NO_ROUNDING
    undefined: dict[str, str] = field(default_factory=dict)  # δ of an input or target that does not exist here


def evaluate_expr(expr: sympy.Expr, env: Mapping[str, object], *, exact: bool = True):
    """Evaluate a SymPy expression with ``env`` giving each symbol's number.

    With ``exact`` the arithmetic is mpmath at the current ``mpmath.mp.dps``; otherwise float64.
    A value that is not real raises ``DomainError``.

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> evaluate_expr(2 * x + 1, {"x": mpmath.mpf(3)})
    mpf('7.0')
    """
    try:
        return CheckedArithmetic(exact, None).value(expr, env)
    except Undefined as exc:
        raise DomainError(f"{exc} (at {_point_text(env, expr.free_symbols)})") from None


def _point_text(env: Mapping[str, object], symbols) -> str:
    names = sorted(s.name for s in symbols)
    return ", ".join(f"{n} = {format_number(env[n], 9)}" for n in names if n in env) or "this point"


# -- whole graphs ----------------------------------------------------------------------
class Solver:
    """One evaluation of a derivation (or a network's forward pass) at one precision."""

    def __init__(self, network: Network, *, exact: bool, digits: int | None, rounding: Rounding,
                 overrides: Overrides):
        self.network = network
        self.exact = exact
        self.arith = CheckedArithmetic(exact, digits)
        self.round = rounding if rounding.active else (lambda v: v)
        self.overrides = overrides
        self.fixed_values = {k: self.number(v) for k, v in overrides.values.items()}

    def number(self, value):
        value = as_number(value) if not isinstance(value, (mpmath.mpf, float)) else value
        if not self.exact:
            return float(value)
        if isinstance(value, sympy.Rational):
            return mpmath.mpf(value.p) / value.q
        return mpmath.mpf(value)

    def leaves(self, at: Mapping[str, object] | None) -> dict:
        point = self.network.point(at)
        env = {name: self.number(v) for name, v in point.items()}
        env.update({k: v for k, v in self.fixed_values.items() if k in self.network.leaves})
        return env

    def forward(self, env: dict, names) -> dict:
        for name in names:
            node = self.network.nodes.get(name)
            if node is None:
                continue
            if name in self.fixed_values:
                env[name] = self.fixed_values[name]
                continue
            env[name] = self.round(self.guard(lambda: self.value(node.expr, env),
                                              f"node {name!r} = {node.text}", env, node.expr))
        return env

    def value(self, expr: sympy.Expr, env: Mapping):
        """``self.arith.value(expr, env)``; exact values through compiled closures, the same bits."""
        if self.exact:
            try:
                return checked_closure(expr)(env, self.arith.floor)
            except Fallback:
                pass  # walk the tree: its value, or its error
        return self.arith.value(expr, env)

    def guard(self, compute: Callable, what: str | Callable[[], str], env: Mapping, expr: sympy.Expr):
        """``compute()``, or a DomainError naming ``what`` (a callable is called only then: printing
        an expression costs more than evaluating it)."""
        try:
            return compute()
        except Undefined as exc:
            label = what() if callable(what) else what
            raise DomainError(f"{label}: {exc} (at {_point_text(env, expr.free_symbols)})") from None

    def products_of_others(self, derivation: Derivation, env: Mapping) -> dict:
        """∂(a_1⋯a_n)/∂a_k = a_1⋯a_{k−1} · a_{k+1}⋯a_n for long products, from prefix and suffix products.

        Linear in n, where evaluating each local partial's own product of n − 1 factors is quadratic.
        """
        out: dict = {}
        for name in derivation.order:
            node = self.network.nodes.get(name)
            if node is None or not node.expr.is_Mul or len(node.expr.args) <= LONG_OPERANDS:
                continue
            args = node.expr.args
            values = [self.guard(lambda a=a: self.value(a, env), f"node {name!r}", env, a) for a in args]
            prefix, suffix = [self.number(1)], [self.number(1)]
            for v in values:
                prefix.append(prefix[-1] * v)
            for v in reversed(values):
                suffix.append(suffix[-1] * v)
            suffix.reverse()
            for k, arg in enumerate(args):
                if arg.is_Symbol and arg.name in node.operands:
                    out[name, arg.name] = prefix[k] * suffix[k + 1]
        return out

    def backward(self, derivation: Derivation, env: dict) -> GradientValues:
        fixed_factors = self.overrides.factors
        fixed_deltas = self.overrides.deltas
        factors: dict = {}
        undefined: dict[str, str] = {}
        needed = derivation.needed
        products = self.products_of_others(derivation, env)
        for key, factor in derivation.factors.items():
            if key in fixed_factors:
                factors[key] = self.number(fixed_factors[key])
                continue
            if key in products:
                factors[key] = self.round(products[key])
                continue
            what = lambda factor=factor: f"the local partial {factor.leibniz} = {sympy.sstr(factor.expr)}"  # noqa: E731
            # float64 uses the compiled code's stable rewrites (e^z/(1+e^z) → σ(z)), so it stays finite
            expr = factor.expr if self.exact else _stabilized(factor.expr)
            try:
                factors[key] = self.round(self.guard(lambda: self.value(expr, env), what, env, expr))
            except DomainError as exc:
                if key[1] in needed:  # a parameter's gradient needs it
                    raise
                undefined[key[1]] = str(exc)  # only δ of inputs or targets need it: mark that δ undefined
        terms: dict = {}

        def term(delta, t: Term):
            return t, delta

        def total(name: str, pairs: list):
            if name in fixed_deltas:
                return self.number(fixed_deltas[name])
            values = []
            for t, delta in pairs:
                if delta is None or (t.consumer, name) not in factors:
                    undefined.setdefault(name, undefined.get(t.consumer, ""))
                    return None
                value = self.round(delta * factors[t.consumer, name])
                terms[name, t.consumer] = value
                values.append(value)
            return self.round(self.arith.add(values)) if len(values) > 1 else values[0]

        one = self.number(fixed_deltas.get(derivation.output, 1))
        adjoints = accumulate(derivation, one, term, total)
        zero = self.number(0)
        gradients = {p: adjoints.get(p, zero) for p in derivation.network.params}
        values = {n: env[n] for n in self.network.quantities if n in env}
        return GradientValues(derivation.output, values, factors, terms, adjoints, gradients, None,
                              undefined={k: v for k, v in undefined.items() if adjoints.get(k) is None})


@functools.lru_cache(maxsize=4096)
def _stabilized(expr: sympy.Expr) -> sympy.Expr:
    return stabilize(expr)




def certified(compute: Callable[[int], object], digits: int):
    """Run ``compute(digits)`` at two working precisions and insist every number agrees to ``digits``."""
    dps = digits + WORKING_EXTRA
    tolerance = mpmath.mpf(10) ** (-digits - 3)
    for _ in range(5):
        with mpmath.workdps(dps):
            low = compute(digits)
        with mpmath.workdps(2 * dps):
            high = compute(digits)
            if all(_agree(a, b, tolerance) for a, b in zip(_numbers_of(low), _numbers_of(high))):
                return high
        dps *= 2
    raise PrecisionError(f"could not certify {digits} digits even at {dps} working digits; ask for fewer digits")


def _agree(a, b, tolerance) -> bool:
    """``a == b or abs(a - b) <= tolerance * max(abs(a), abs(b))`` at the working precision.

    The same operations, rounded the same way, on mpmath's raw numbers: certifying compares
    every number of an evaluation, and the wrapped operators cost most of that.
    """
    if type(a) is not mpmath.mpf or type(b) is not mpmath.mpf:
        return a == b or abs(a - b) <= tolerance * max(abs(a), abs(b))
    x, y = a._mpf_, b._mpf_
    if mpf_eq(x, y):
        return True
    prec, rounding = mpmath.mp._prec_rounding
    size_x, size_y = mpf_abs(x, prec, rounding), mpf_abs(y, prec, rounding)
    largest = size_y if mpf_gt(size_y, size_x) else size_x  # max() keeps the first of equals
    return mpf_le(mpf_abs(mpf_sub(x, y, prec, rounding), prec, rounding),
                  mpf_mul(tolerance._mpf_, largest, prec, rounding))


def _numbers_of(result) -> list:
    if isinstance(result, Values):
        return list(result.values.values())
    numbers = (list(result.values.values()) + list(result.factors.values()) + list(result.terms.values())
               + list(result.adjoints.values()) + list(result.gradients.values()))
    return [n for n in numbers if n is not None]


def evaluate(network: Network, *, at: Mapping[str, object] | None = None,
             digits: int | None = DEFAULT_DIGITS, rounding: Rounding | None = None,
             overrides: Overrides | None = None) -> Values:
    """The value of every leaf and node at the network's point (``at`` overrides leaves).

    >>> import symgrad
    >>> v = symgrad.evaluate(symgrad.load("two_neurons"))
    >>> int(v.values["f"])
    -10
    """
    rounding = rounding or _NO_ROUNDING
    overrides = overrides or Overrides()

    def compute(digits_: int | None) -> Values:
        solver = Solver(network, exact=digits_ is not None, digits=digits_, rounding=rounding, overrides=overrides)
        env = solver.forward(solver.leaves(at), network.nodes)
        return Values({n: env[n] for n in network.quantities}, digits_)

    if digits is None:
        return compute(None)
    validate_digits(digits)
    return Values(certified(compute, digits).values, digits)


def evaluate_gradients(derivation: Derivation, *, at: Mapping[str, object] | None = None,
                       digits: int | None = DEFAULT_DIGITS, rounding: Rounding | None = None,
                       overrides: Overrides | None = None) -> GradientValues:
    """Forward values, the local factors, δ terms, δs and gradients, exactly or in float64.

    >>> import symgrad
    >>> g = symgrad.evaluate_gradients(symgrad.derive(symgrad.load("mazur")), digits=12)
    >>> symgrad.to_decimal(g.gradients["w5"], 9)
    '0.0821670406'
    """
    network = derivation.network
    rounding = rounding or _NO_ROUNDING
    overrides = overrides or Overrides()
    _check_overrides(derivation, overrides)

    def compute(digits_: int | None) -> GradientValues:
        solver = Solver(network, exact=digits_ is not None, digits=digits_, rounding=rounding, overrides=overrides)
        env = solver.forward(solver.leaves(at), derivation.order)
        return solver.backward(derivation, env)

    if digits is None:
        result = compute(None)
    else:
        validate_digits(digits)
        result = certified(compute, digits)
    return GradientValues(result.output, result.values, result.factors, result.terms, result.adjoints,
                          result.gradients, digits, rounding, result.undefined)


def _check_overrides(derivation: Derivation, overrides: Overrides) -> None:
    network = derivation.network
    for name in overrides.values:
        network.symbol(name)  # a clear GraphError for an unknown name
    for key in overrides.factors:
        if key not in derivation.factors:
            raise GraphError(f"there is no local partial d{key[0]}/d{key[1]}: {key[1]!r} is not an operand of "
                             f"{key[0]!r}")
    for name in overrides.deltas:
        network.symbol(name)
