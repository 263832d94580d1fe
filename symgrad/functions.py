"""The one table of functions symgrad knows.

Each row says, for one function: the name allowed in spec expressions (if any), how to
build it in SymPy, its arity, its NumPy kernel, its mpmath evaluation, and whether it is
smooth (a kink is a point where the derivative jumps; the gradient checker's kink detection
reads it) or differentiable at all. The parser, the evaluator and the code generator read
this table; ``tests/test_functions.py`` checks that they cover the same set. LaTeX names
live with each class's ``_latex`` printer.

Local derivative rules are SymPy's own ``fdiff`` (for built-ins) or the ``fdiff`` written
right beside each custom function below. ``local_derivative`` is ``sympy.diff`` except at
ties of max/min: SymPy gives ½ to every tied argument, which for three or more is not a
subgradient; here each of k tied arguments gets 1/k (``max_share``, ``min_share``), the
same in exact, float64 and compiled evaluation.

>>> a, b, c = sympy.symbols("a b c", real=True)
>>> local_derivative(sympy.Max(a, b, c), a).subs({a: 1, b: 1, c: 1})
1/3
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import mpmath
import sympy

from . import kernels
from .errors import NotDifferentiable

__all__ = [
    "sigmoid",
    "relu",
    "zero_one",
    "logsumexp",
    "max_share",
    "min_share",
    "local_derivative",
    "kinks",
    "FunctionRule",
    "FUNCTIONS",
    "SPEC_FUNCTIONS",
    "rule_for",
]


class sigmoid(sympy.Function):
    """σ(x) = 1 / (1 + e^(−x)); its local derivative is σ(1 − σ), as the lectures write it."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sympy.S.Half

    def fdiff(self, argindex=1):
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer):
        return r"\sigma\left(%s\right)" % printer._print(self.args[0])


class relu(sympy.Function):
    """max(0, x); derivative H(x) with the convention H(0) = 0 (a kink at 0)."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_nonnegative:
            return x
        if x.is_negative:
            return sympy.S.Zero

    def fdiff(self, argindex=1):
        return sympy.Heaviside(self.args[0], 0)

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sympy.Max(0, x)

    def _latex(self, printer):
        return r"\operatorname{relu}\left(%s\right)" % printer._print(self.args[0])


class zero_one(sympy.Function):
    """The zero-one loss of a margin m = y·ŷ: 1 if m ≤ 0 (a mistake), else 0.

    It is piecewise constant, so it has no useful gradient: asking for one raises.
    """

    nargs = 1

    @classmethod
    def eval(cls, m):
        if m.is_number and m.is_comparable:
            return sympy.S.One if m <= 0 else sympy.S.Zero

    def fdiff(self, argindex=1):
        raise NotDifferentiable(
            "the zero-one loss is piecewise constant and has no gradient; "
            "evaluate it, or train on a differentiable surrogate such as the hinge loss"
        )

    def _latex(self, printer):
        return r"\mathbb{1}\left[%s \le 0\right]" % printer._print(self.args[0])


class logsumexp(sympy.Function):
    """log Σ exp(a_k), the stable core of softmax; ∂/∂a_k = softmax_k."""

    @classmethod
    def eval(cls, *args):
        if len(args) == 1:
            return args[0]

    def fdiff(self, argindex=1):
        return sympy.exp(self.args[argindex - 1] - self)

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        return sympy.log(sympy.Add(*[sympy.exp(a) for a in args]))

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _latex(self, printer):
        return r"\operatorname{LSE}\left(%s\right)" % ", ".join(printer._print(a) for a in self.args)


class _TieShare(sympy.Function):
    """∂pick(a_1, …, a_n)/∂x for x one of the a_i: 1/k when x is one of the k tied picks, else 0.

    Arguments (x, a_1, …, a_n). The shares of all arguments sum to 1: a subgradient.
    """

    pick = staticmethod(max)
    latex_name = r"\operatorname{share}"

    @classmethod
    def eval(cls, x, *args):
        if all(a.is_number and a.is_comparable for a in (x, *args)):
            best = cls.pick(args)
            return sympy.Rational(1, sum(1 for a in args if a == best)) if x == best else sympy.S.Zero

    def fdiff(self, argindex=1):
        return sympy.S.Zero  # piecewise constant

    def _latex(self, printer):
        return r"%s\left(%s\right)" % (self.latex_name, ", ".join(printer._print(a) for a in self.args))


class max_share(_TieShare):
    """∂max(a_1, …, a_n)/∂x: 1/k when x is one of k tied maxima, else 0. Arguments (x, a_1, …, a_n)."""

    pick = staticmethod(max)
    latex_name = r"\operatorname{share}_{\max}"


class min_share(_TieShare):
    """∂min(a_1, …, a_n)/∂x: 1/k when x is one of k tied minima, else 0. Arguments (x, a_1, …, a_n)."""

    pick = staticmethod(min)
    latex_name = r"\operatorname{share}_{\min}"


class _TieMax(sympy.Function):
    """Max while it is differentiated: its partials are shares of the tied maxima."""

    def fdiff(self, argindex=1):
        return max_share(self.args[argindex - 1], *self.args)


class _TieMin(sympy.Function):
    def fdiff(self, argindex=1):
        return min_share(self.args[argindex - 1], *self.args)


def _wide(e) -> bool:
    return isinstance(e, (sympy.Max, sympy.Min)) and len(e.args) >= 3


class _RealAbs(sympy.Function):
    """|u| for a real u. Every value symgrad evaluates is real (a complex one is refused), so
    d|u| = sign(u)·du; SymPy's own Abs derivative allows a complex u and brings re, im and atan2."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sympy.sign(self.args[0])


@functools.lru_cache(maxsize=4096)
def local_derivative(expr: sympy.Expr, symbol: sympy.Symbol) -> sympy.Expr:
    """∂expr/∂symbol by SymPy, with two rules of our own.

    Max/min of three or more arguments split ties evenly (with two arguments SymPy's
    Heaviside(a − b), with H(0) = ½, already gives ½ to each), and |u| is differentiated as a
    real function, sign(u)·du. Kept per (expression, symbol), as SymPy keeps ``diff``'s results:
    networks drawn in a campaign share most of their nodes.
    """
    held = expr
    if expr.has(sympy.Max, sympy.Min) and any(_wide(e) for e in sympy.preorder_traversal(expr)):
        held = held.replace(_wide, lambda e: (_TieMax if isinstance(e, sympy.Max) else _TieMin)(*e.args))
    if held.has(sympy.Abs):
        held = held.replace(sympy.Abs, _RealAbs)
    if held is expr:
        return _diff(expr, symbol)
    return (sympy.diff(held, symbol).replace(_TieMax, sympy.Max).replace(_TieMin, sympy.Min)
            .replace(_RealAbs, sympy.Abs))


def _diff(expr: sympy.Expr, s: sympy.Symbol) -> sympy.Expr:
    """``sympy.diff(expr, s)``, the same expression, without SymPy's ``Derivative`` machinery.

    ``sympy.diff`` builds a ``Derivative`` object at every level of the tree and asks the
    assumptions system about each piece, which makes it most of the cost of deriving a new
    network (70 % of ``derive`` on the 3-4-2 MLP with SymPy's cache cold). Here the sum,
    product, power-by-a-constant and function-call rules are SymPy's own ``_eval_derivative``
    formulas, built by the same operations in the same order, so the result is the same
    expression; anything else (Abs, Max, Piecewise, a power with s in the exponent, …) is
    handed to ``sympy.diff`` whole. ``tests/test_local_derivative.py`` compares the two
    with ``srepr`` on every edge of every built-in example and on drawn expressions.
    """
    if expr == s:
        return sympy.S.One
    if not expr.has(s):
        return sympy.S.Zero
    if expr.is_Add:  # SymPy adds every term's derivative; the terms without s give 0, which Add drops
        parts = [_diff(a, s) for a in expr.args if a.has(s)]
        return parts[0] if len(parts) == 1 else expr.func(*parts)
    if expr.is_Mul:  # SymPy's general Leibniz rule at order 1: one term per argument holding s
        args = list(expr.args)
        return sympy.Add(*[sympy.Mul(*(args[:k] + [_diff(a, s)] + args[k + 1:]))
                           for k, a in enumerate(args) if a.has(s)])
    if expr.is_Pow and not expr.exp.has(s):
        dbase = _diff(expr.base, s)
        return expr * (sympy.S.Zero + dbase * expr.exp / expr.base)
    if isinstance(expr, sympy.Function) and type(expr)._eval_derivative is _FUNCTION_DERIVATIVE \
            and not isinstance(expr, sympy.core.function.AppliedUndef):
        terms = []
        for k, a in enumerate(expr.args, start=1):
            da = _diff(a, s)
            if da is sympy.S.Zero or (not da.is_Number and da.is_zero):
                continue
            try:
                df = expr.fdiff(k)
            except sympy.core.function.ArgumentIndexError:
                df = sympy.Function.fdiff(expr, k)
            terms.append(df * da)
        return sympy.Add(*terms)
    return sympy.diff(expr, s)


_FUNCTION_DERIVATIVE = sympy.Function._eval_derivative


def _mp_share(pick):
    def share(x, *args):
        best = pick(args)
        return mpmath.mpf(1) / sum(1 for a in args if a == best) if x == best else mpmath.mpf(0)

    return share


def _mp_heaviside(x, at_zero):
    return mpmath.mpf(1) if x > 0 else (mpmath.mpf(0) if x < 0 else at_zero)


def _mp_logsumexp(*args):
    top = max(args)
    return top + mpmath.log(mpmath.fsum(mpmath.exp(a - top) for a in args))


@dataclass(frozen=True)
class FunctionRule:
    """One row of the function table."""

    head: type  # the SymPy class an expression's ``.func`` is
    spec_name: str | None  # the name allowed in spec expressions, None if not allowed
    build: Callable[..., sympy.Expr]  # builds the SymPy expression from parsed arguments
    min_args: int
    max_args: int | None  # None: any number
    numpy: Callable  # the kernel in symgrad.kernels (or a numpy ufunc)
    mpmath: Callable
    smooth: bool  # False where the derivative jumps somewhere (relu, abs, max, min); read by kink detection
    differentiable: bool = True
    latex: str = ""  # the name the LaTeX documents print (render/node_text.py reads it)


FUNCTIONS: tuple[FunctionRule, ...] = (
    FunctionRule(sympy.exp, "exp", sympy.exp, 1, 1, kernels.np.exp, mpmath.exp, True, latex=r"\exp"),
    FunctionRule(sympy.log, "log", sympy.log, 1, 1, kernels.np.log, mpmath.log, True, latex=r"\log"),
    # sqrt(x) is Pow(x, 1/2) in SymPy; the row exists so specs may write it.
    FunctionRule(sympy.Pow, "sqrt", sympy.sqrt, 1, 1, kernels.np.sqrt, mpmath.sqrt, True, latex=r"\sqrt"),
    FunctionRule(sympy.Abs, "abs", sympy.Abs, 1, 1, kernels.np.abs, abs, False, latex=r"\left|\cdot\right|"),
    FunctionRule(sympy.sin, "sin", sympy.sin, 1, 1, kernels.np.sin, mpmath.sin, True, latex=r"\sin"),
    FunctionRule(sympy.cos, "cos", sympy.cos, 1, 1, kernels.np.cos, mpmath.cos, True, latex=r"\cos"),
    FunctionRule(sympy.tanh, "tanh", sympy.tanh, 1, 1, kernels.np.tanh, mpmath.tanh, True, latex=r"\tanh"),
    FunctionRule(sigmoid, "sigmoid", sigmoid, 1, 1, kernels.sigmoid,
                 lambda x: 1 / (1 + mpmath.exp(-x)), True, latex=r"\sigma"),
    FunctionRule(relu, "relu", relu, 1, 1, kernels.relu,
                 lambda x: x if x > 0 else mpmath.mpf(0), False, latex=r"\operatorname{relu}"),
    FunctionRule(sympy.Max, "max", sympy.Max, 2, None, kernels.maximum, max, False, latex=r"\max"),
    FunctionRule(sympy.Min, "min", sympy.Min, 2, None, kernels.minimum, min, False, latex=r"\min"),
    # Heads that appear only in derivatives or in built-in losses, never in spec text.
    FunctionRule(sympy.Heaviside, None, sympy.Heaviside, 1, 2, kernels.heaviside,
                 _mp_heaviside, False, latex=r"H"),
    FunctionRule(sympy.sign, None, sympy.sign, 1, 1, kernels.np.sign,
                 mpmath.sign, False, latex=r"\operatorname{sgn}"),
    FunctionRule(logsumexp, None, logsumexp, 1, None, kernels.logsumexp,
                 _mp_logsumexp, True, latex=r"\operatorname{LSE}"),
    FunctionRule(max_share, None, max_share, 2, None, kernels.max_share, _mp_share(max), False,
                 latex=r"\operatorname{share}_{\max}"),
    FunctionRule(min_share, None, min_share, 2, None, kernels.min_share, _mp_share(min), False,
                 latex=r"\operatorname{share}_{\min}"),
    FunctionRule(zero_one, None, zero_one, 1, 1, kernels.zero_one,
                 lambda m: mpmath.mpf(1) if m <= 0 else mpmath.mpf(0), False, differentiable=False,
                 latex=r"\mathbb{1}"),
)

SPEC_FUNCTIONS: dict[str, FunctionRule] = {r.spec_name: r for r in FUNCTIONS if r.spec_name}

_BY_HEAD: dict[type, FunctionRule] = {r.head: r for r in FUNCTIONS if r.head is not sympy.Pow}


def rule_for(head: type) -> FunctionRule | None:
    """The table row for a SymPy function class, or None for arithmetic heads."""
    return _BY_HEAD.get(head)


def kinks(expr: sympy.Expr) -> tuple[sympy.Expr, ...]:
    """The non-smooth applications in ``expr`` (relu, abs, max, min, …): where a derivative may jump.

    Read from the table's ``smooth`` column; the gradient checker looks for kinks near these.

    >>> x = sympy.Symbol("x")
    >>> kinks(relu(x) + sympy.exp(sympy.Abs(x)))
    (Abs(x), relu(x))
    """
    found: list[sympy.Expr] = []
    for sub in sympy.preorder_traversal(expr):
        if not sub.is_Atom:
            rule = rule_for(sub.func)
            if rule is not None and not rule.smooth and sub not in found:
                found.append(sub)
    return tuple(found)
