"""One interpreter of SymPy expression trees over numbers, in three modes.

Every mode reads the same function table (``functions.FUNCTIONS``) and gives Add, Mul and
Pow the same meaning; they differ in what numbers they carry and what they check:

* ``CheckedArithmetic(exact=True, digits=None)`` — real mpmath at the current precision,
  checked: a value that is not real, not finite or beyond 10**MAX_MAGNITUDE_DIGITS raises
  ``Undefined`` with the reason (the caller names the node and the point). With ``digits``, a
  sum that cancels to within the working precision's round-off of its largest term is zero.
  ``exact=False`` is float64
  through the NumPy kernels, where inf and NaN pass through. ``.value(expr, env)``.
* ``mp_value(expr, env)`` — mpmath at the current precision, real or complex (the complex
  step), unchecked: mpmath's own errors pass through.
* ``mp_closure(expr, slot)`` — ``expr`` compiled once into Python closures over a list of
  mpmath numbers (``env[slot[name]]``), unchecked, for straight-line code run many times.

In every mode ``env`` maps a symbol's name to its number; a symbol without one raises
``GraphError``. Rational constants are exact (1/20 is mpf(1)/20), other constants (π, E)
are computed at the working precision plus five digits.

>>> import sympy
>>> x = sympy.Symbol("x")
>>> mp_value(2 * x + 1, {"x": mpmath.mpf(3)})
mpf('7.0')
>>> mp_closure(x ** 2, {"x": 0})([mpmath.mpc(0, 1)])
mpc(real='-1.0', imag='0.0')
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Mapping

import mpmath
import numpy as np
import sympy

try:  # the fast extra: long descent runs as generated gmpy2 code (else mpmath closures, the same numbers)
    import gmpy2
except ImportError:  # pragma: no cover - the fast extra is installed in the test environment
    gmpy2 = None

from .errors import GraphError, shorten
from .functions import FUNCTIONS, logsumexp, sigmoid
from .limits import MAX_MAGNITUDE_DIGITS
from .precision import CANCELLATION_GUARD, CONVERSION_GUARD, format_number

__all__ = ["Undefined", "MpmathArithmetic", "CheckedArithmetic", "mp_value", "mp_value_at", "mp_closure", "constant",
           "checked_closure", "Fallback", "GmpySource", "Unsupported", "GMPY_FUNCTIONS", "to_mpfr", "from_mpfr"]

# |x| above 2**_MAX_MAG is beyond 10**MAX_MAGNITUDE_DIGITS.
_MAX_MAG = int(MAX_MAGNITUDE_DIGITS * math.log2(10)) + 1
_TOO_LARGE = f"exceeds 10^{MAX_MAGNITUDE_DIGITS} in magnitude, beyond what exact evaluation attempts"


def _mp_logsumexp(*args):
    """log Σ e^a, shifted by the largest real part so no e^a overflows; complex arguments too."""
    top = max(mpmath.re(a) for a in args)
    return top + mpmath.log(mpmath.fsum(mpmath.exp(a - top) for a in args))


#: The mpmath function of every head of the table (sqrt is Pow, handled as a power).
_MPMATH: dict[type, Callable] = {r.head: r.mpmath for r in FUNCTIONS if r.head is not sympy.Pow}
_MPMATH[logsumexp] = _mp_logsumexp
_NUMPY: dict[type, Callable] = {r.head: r.numpy for r in FUNCTIONS if r.head is not sympy.Pow}


class Undefined(Exception):
    """A sub-expression has no real value; the message says why, the caller names the node and the point."""


def constant(expr: sympy.Expr):
    """A SymPy number as mpmath: a Rational exactly, π or E at the working precision plus five digits."""
    if expr.is_Rational:
        return mpmath.mpf(expr.p) / expr.q
    return mpmath.mpf(sympy.N(expr, mpmath.mp.dps + CONVERSION_GUARD))


def _function(table: dict, expr: sympy.Expr) -> Callable:
    try:
        return table[expr.func]
    except KeyError:
        raise GraphError(f"cannot evaluate {expr.func.__name__} in {sympy.sstr(expr)}") from None


def _leaf(expr: sympy.Symbol, env: Mapping[str, object]):
    try:
        return env[expr.name]
    except KeyError:
        raise GraphError(f"no value for {expr.name!r}") from None


class MpmathArithmetic:
    """The one walk over a tree: mpmath at the current precision, real or complex, nothing checked."""

    def value(self, expr: sympy.Expr, env: Mapping[str, object]):
        """The number ``expr`` stands for, ``env`` giving each symbol's number by name."""
        if expr.is_Symbol:
            return _leaf(expr, env)
        if expr.is_Number or expr.is_NumberSymbol:
            return self.number(expr)
        return self.combine(expr, [self.value(a, env) for a in expr.args])

    def number(self, expr: sympy.Expr):
        return constant(expr)

    def combine(self, expr: sympy.Expr, args: list):
        """The value of ``expr`` from its arguments' values."""
        if expr.is_Add:
            return self.add(args)
        if expr.is_Mul:
            out = args[0]
            for a in args[1:]:
                out = out * a
            return out
        if expr.is_Pow:
            return self.power(expr, *args)
        return self.function(expr, args)

    def add(self, terms: list):
        return mpmath.fsum(terms)

    def power(self, expr: sympy.Expr, base, exponent):
        if expr.exp.is_Integer:
            return base ** int(expr.exp)
        if expr.exp == sympy.S.Half:
            return mpmath.sqrt(base)
        return mpmath.power(base, exponent)

    def function(self, expr: sympy.Expr, args: list):
        return _function(_MPMATH, expr)(*args)


class CheckedArithmetic(MpmathArithmetic):
    """Real values only, each checked (``Undefined`` otherwise); exact (mpmath) or float64."""

    def __init__(self, exact: bool, digits: int | None):
        self.exact = exact
        # A sum that cancels to within the working precision's round-off of its largest term is
        # zero (sigmoid(x) + sigmoid(-x) - 1). The floor follows the precision this arithmetic is
        # made at, not the digits asked for: 1 - sigmoid(20) = 2.1e-9 is a value at any digits.
        self.floor = (mpmath.mpf(10) ** (CANCELLATION_GUARD - mpmath.mp.dps)
                      if exact and digits is not None else None)

    def number(self, expr: sympy.Expr):
        if not self.exact:
            return float(expr)
        if expr.is_Rational:
            return constant(expr)
        return self.check(constant(expr), expr)

    def combine(self, expr: sympy.Expr, args: list):
        try:
            return self.check(super().combine(expr, args), expr)
        except ZeroDivisionError:
            raise Undefined(f"{_quote(expr)} divides by zero there") from None
        except (ValueError, OverflowError, TypeError) as exc:
            raise Undefined(f"{_quote(expr)} cannot be evaluated there ({exc})") from None

    def check(self, value, expr: sympy.Expr):
        """``value`` if it is a real, finite number of sensible size; else ``Undefined``."""
        if not self.exact:
            return value
        if isinstance(value, mpmath.mpc):
            if value.imag != 0:
                raise Undefined(f"{_quote(expr)} is not a real number there ({_complex_text(value)})")
            value = value.real
        if not mpmath.isfinite(value):
            raise Undefined(f"{_quote(expr)} is {'infinite' if mpmath.isinf(value) else 'undefined'} there")
        if value and mpmath.mag(value) > _MAX_MAG:
            raise Undefined(f"{_quote(expr)} {_TOO_LARGE}")
        return value

    def add(self, terms: list):
        if not self.exact:
            return float(math.fsum(terms)) if all(map(math.isfinite, terms)) else float(np.sum(terms))
        total = mpmath.fsum(terms)
        if self.floor is not None and total and len(terms) > 1:
            if abs(total) <= self.floor * max(abs(t) for t in terms):
                return mpmath.mpf(0)
        return total

    def function(self, expr: sympy.Expr, args: list):
        if not self.exact:
            kernel = _function(_NUMPY, expr)
            with np.errstate(all="ignore"):
                return float(kernel(*[np.float64(a) for a in args]))
        fn = _function(_MPMATH, expr)
        if expr.func is sympy.exp and args[0] > _MAX_MAG:  # refuse before mpmath builds the number
            raise Undefined(f"{_quote(expr)} {_TOO_LARGE}")
        return fn(*args)

    def power(self, expr: sympy.Expr, base, exponent):
        if not self.exact:
            with np.errstate(all="ignore"):
                return float(np.power(base, exponent))
        if base == 0 and exponent < 0:
            raise ZeroDivisionError
        if base and abs(exponent * mpmath.mag(base)) > 4 * _MAX_MAG:
            raise Undefined(f"{_quote(expr)} {_TOO_LARGE}")
        if not expr.exp.is_Integer and base < 0:
            raise Undefined(f"{_quote(expr)} is not a real number there (a negative number to the power "
                            f"{sympy.sstr(expr.exp)})")
        return super().power(expr, base, exponent)


def _quote(expr: sympy.Expr) -> str:
    return shorten(sympy.sstr(expr))


def _complex_text(value: mpmath.mpc) -> str:
    return f"{format_number(value.real, 6)} + {format_number(value.imag, 6)}i"


_MPMATH_ARITHMETIC = MpmathArithmetic()


def mp_value(expr: sympy.Expr, env: Mapping[str, object]):
    """``expr``'s value in mpmath (real or complex) at the current precision, unchecked.

    >>> x = sympy.Symbol("x")
    >>> mp_value(sympy.sqrt(x), {"x": mpmath.mpf(-4)})
    mpc(real='0.0', imag='2.0')
    """
    return _MPMATH_ARITHMETIC.value(expr, env)


def mp_value_at(expr: sympy.Expr, env: Mapping[str, object], digits: int):
    """``mp_value`` in ``digits`` significant digits (the precision is restored after).

    >>> x = sympy.Symbol("x")
    >>> mp_value_at(sympy.exp(x) + 1, {"x": mpmath.mpf(0)}, 15)
    mpf('2.0')
    """
    with mpmath.workdps(digits):
        return mp_value(expr, env)


def mp_closure(expr: sympy.Expr, slot: Mapping[str, int]) -> Callable[[list], object]:
    """``expr`` as a tree of Python closures over a list of mpmath numbers, ``slot`` giving each
    symbol's index; unchecked, and fast: the tree is walked once, here, not at every call.

    Constants are computed now, at the current precision.

    >>> x, y = sympy.symbols("x y")
    >>> mp_closure(x * y + 1, {"x": 0, "y": 1})([mpmath.mpf(2), mpmath.mpf(3)])
    mpf('7.0')
    """
    if expr.is_Symbol:
        if expr.name not in slot:
            raise GraphError(f"no value for {expr.name!r}")
        i = slot[expr.name]
        return lambda env: env[i]
    if expr.is_Number or expr.is_NumberSymbol:
        c = constant(expr)
        return lambda env: c
    args = [mp_closure(a, slot) for a in expr.args]
    if expr.is_Add or expr.is_Mul:
        return _sum_closure(args) if expr.is_Add else _product_closure(args)
    if expr.is_Pow:
        base, exponent = args
        if expr.exp.is_Integer:
            n = int(expr.exp)
            return lambda env: base(env) ** n
        if expr.exp == sympy.S.Half:
            return lambda env: mpmath.sqrt(base(env))
        return lambda env: mpmath.power(base(env), exponent(env))
    fn = _function(_MPMATH, expr)
    if len(args) == 1:
        (a,) = args
        return lambda env: fn(a(env))
    return lambda env: fn(*[f(env) for f in args])


def _sum_closure(args: list[Callable]) -> Callable:
    if len(args) == 2:  # a + b of two mpmath numbers is correctly rounded, as fsum is
        a, b = args
        return lambda env: a(env) + b(env)
    return lambda env: mpmath.fsum(f(env) for f in args)


def _product_closure(args: list[Callable]) -> Callable:
    if len(args) == 2:
        a, b = args
        return lambda env: a(env) * b(env)

    def product(env):
        out = args[0](env)
        for f in args[1:]:
            out = out * f(env)
        return out

    return product


class Fallback(Exception):
    """A checked closure met something it leaves to ``CheckedArithmetic`` (an error, a check failing)."""


def checked_closure(expr: sympy.Expr) -> Callable[[Mapping[str, object], object], object]:
    """``CheckedArithmetic(exact=True, …).value(expr, env)`` as closures: ``f(env, floor)``.

    The same mpmath operations in the same order, so a value it returns is the tree walk's to
    the bit; constants are made at the precision of the call, as the walk makes them; ``floor``
    is the walk's ``self.floor``. Wherever the walk would raise or a check would fail it raises
    ``Fallback`` instead: the caller walks the tree again, for the walk's own error. Built once
    per expression (cached), so a derivation evaluated at many points is walked once.

    >>> x, y = sympy.symbols("x y")
    >>> checked_closure(x * y + sympy.Rational(1, 2))({"x": mpmath.mpf(2), "y": mpmath.mpf(3)}, None)
    mpf('6.5')
    """
    return _checked(expr)


@functools.lru_cache(maxsize=65536)
def _checked(expr: sympy.Expr) -> Callable:
    if expr.is_Symbol:
        name = expr.name
        return lambda env, floor: env[name]
    if expr.is_Number or expr.is_NumberSymbol:
        cache: dict = {}

        def number(env, floor):
            prec = mpmath.mp.prec
            if prec not in cache:
                cache[prec] = _checked_value(constant(expr))
            return cache[prec]
        return number
    args = [_checked(a) for a in expr.args]
    if expr.is_Add:
        def combine(values, floor):
            total = mpmath.fsum(values)
            if floor is not None and total and len(values) > 1:
                if abs(total) <= floor * max(abs(t) for t in values):
                    return mpmath.mpf(0)
            return total
    elif expr.is_Mul:
        def combine(values, floor):
            out = values[0]
            for a in values[1:]:
                out = out * a
            return out
    elif expr.is_Pow:
        combine = _checked_power(expr)
    elif expr.func not in _MPMATH:
        def combine(values, floor):  # the walk names the function in its error
            raise Fallback
    else:
        fn = _function(_MPMATH, expr)
        exp = expr.func is sympy.exp

        def combine(values, floor):
            if exp and values[0] > _MAX_MAG:
                raise Fallback
            return fn(*values)

    def closure(env, floor):
        try:
            return _checked_value(combine([f(env, floor) for f in args], floor))
        except Fallback:
            raise
        except Exception:
            raise Fallback from None
    return closure


def _checked_power(expr: sympy.Expr) -> Callable:
    integer, half = expr.exp.is_Integer, expr.exp == sympy.S.Half
    n = int(expr.exp) if integer else None

    def power(values, floor):
        base, exponent = values
        if base == 0 and exponent < 0:
            raise Fallback
        if base and abs(exponent * mpmath.mag(base)) > 4 * _MAX_MAG:
            raise Fallback
        if not integer and base < 0:
            raise Fallback
        if integer:
            return base ** n
        return mpmath.sqrt(base) if half else mpmath.power(base, exponent)
    return power


def _checked_value(value):
    """``CheckedArithmetic.check`` for exact values, with ``Fallback`` for every failure."""
    if isinstance(value, mpmath.mpc):
        if value.imag != 0:
            raise Fallback
        value = value.real
    if not mpmath.isfinite(value):
        raise Fallback
    if value and mpmath.mag(value) > _MAX_MAG:
        raise Fallback
    return value


# -- expressions as source over gmpy2 numbers (straight-line code for long descent runs) ----------
class Unsupported(Exception):
    """An expression (or a value) the gmpy2 source cannot carry: use the mpmath closures instead."""


#: The functions the gmpy2 source writes by name (σ is written out as 1/(1 + e^−x)).
GMPY_FUNCTIONS = {sympy.exp: "exp", sympy.log: "log", sympy.sin: "sin", sympy.cos: "cos", sympy.tanh: "tanh"}


class GmpySource:
    """SymPy expressions as Python source over gmpy2 numbers, one expression at a time.

    Symbols become the names given; constants become ``c0``, ``c1``, … collected in
    ``constants``; ``namespace()`` holds what the source reads, at the current precision.
    Anything but + · ** √ exp log sin cos tanh σ raises ``Unsupported``.

    >>> src = GmpySource()
    >>> src.code(sympy.exp(-sympy.Symbol("x")) + 2, {"x": "v0"})
    '(c1 + exp((-v0)))'
    """

    def __init__(self):
        self.constants: dict[sympy.Expr, str] = {}
        self.one = self.code(sympy.S.One, {})

    def code(self, e: sympy.Expr, names: Mapping[str, str]) -> str:
        if e.is_Symbol:
            return names[e.name]
        if e.is_Number or e.is_NumberSymbol:
            return self.constants.setdefault(e, f"c{len(self.constants)}")
        if e.is_Mul and e.args[0] == -1:  # −x exactly, without a multiplication
            return f"(-{self.code(e.func(*e.args[1:]), names)})"
        args = [self.code(a, names) for a in e.args]
        if e.is_Add or e.is_Mul:
            return "(" + (" + " if e.is_Add else " * ").join(args) + ")"
        if e.is_Pow and e.exp.is_Integer:
            return f"({args[0]} ** {int(e.exp)})"
        if e.is_Pow:
            return f"sqrt({args[0]})" if e.exp == sympy.S.Half else f"({args[0]} ** {args[1]})"
        if e.func is sigmoid:
            return f"({self.one} / ({self.one} + exp(-{args[0]})))"
        if e.func in GMPY_FUNCTIONS and len(args) == 1:
            return f"{GMPY_FUNCTIONS[e.func]}({args[0]})"
        raise Unsupported(e.func.__name__)

    def namespace(self) -> dict:
        """The functions and constants the source reads, as gmpy2 numbers at mpmath's current precision."""
        space = {name: getattr(gmpy2, name) for name in GMPY_FUNCTIONS.values()}
        space["sqrt"] = gmpy2.sqrt
        space.update({name: to_mpfr(constant(e)) for e, name in self.constants.items()})
        return space


def to_mpfr(value) -> object:
    """An mpmath number as a gmpy2 mpfr, exactly."""
    sign, man, exp, _ = mpmath.mpf(value)._mpf_
    return gmpy2.mul_2exp(gmpy2.mpfr(-man if sign else man), exp)


def from_mpfr(value) -> mpmath.mpf:
    """A gmpy2 mpfr as an mpmath number, exactly; ``Unsupported`` when it is not finite."""
    if not gmpy2.is_finite(value):
        raise Unsupported("a value that is not finite")
    if not value:
        return mpmath.mpf(0)
    man, exp = value.as_mantissa_exp()
    return mpmath.mpf((int(man), int(exp)))
