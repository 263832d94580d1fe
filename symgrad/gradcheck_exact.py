"""Gradcheck's exact side as one generated function over gmpy2 numbers, certified the way the walk is.

``evaluation.evaluate_gradients(digits=GRADCHECK_DIGITS)`` walks every node, local factor and
δ at two working precisions (45 and 90 digits) and insists they agree to 30 digits + 3; a
check needs it at 1 + 4 points per row. Here the same derivation (forward values, local
factors, δ) is written once per check as straight-line Python source over gmpy2 (MPFR)
numbers (``arithmetic.GmpySource``), run at the same two precisions, and the numbers the
check reads (the loss, the gradient over the checked coordinates, the kink arguments) must agree to the same tolerance. The 90-digit run is returned, converted
exactly to mpmath: the same digits as the walk's to far beyond the 30 certified (they
differ in the last few of the 90 bits' worth, where the two libraries round differently).

Anything it does not carry falls back to the walk, whose behaviour then decides: a head
without a gmpy2 form (``Unsupported``), a value that is not finite or beyond
10**MAX_MAGNITUDE_DIGITS anywhere (a log of a negative, a division by zero, an overflow),
a disagreement of the two precisions (a sum that cancels, as the walk's zero rule would
decide), or no gmpy2 installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Mapping

import mpmath
import sympy
from mpmath.libmp import from_man_exp

from .arithmetic import GmpySource, Unsupported, gmpy2
from .chain import Derivation
from .functions import logsumexp, max_share, min_share, relu, zero_one
from .limits import GRADCHECK_NUMBERS_KEPT, MAX_MAGNITUDE_DIGITS
from .precision import GRADCHECK_DIGITS, WORKING_EXTRA

__all__ = ["ExactProgram", "exact_program"]

_MAX_MAG = int(MAX_MAGNITUDE_DIGITS * 3.3219280948873626) + 1  # 2**this exceeds 10**MAX_MAGNITUDE_DIGITS
_DPS = GRADCHECK_DIGITS + WORKING_EXTRA  # the walk's first working precision; it certifies at it and twice it


class _Source(GmpySource):
    """``GmpySource`` with the kinked heads and their derivatives (relu, |x|, max, min, H, sgn) and logsumexp."""

    def code(self, e: sympy.Expr, names: Mapping[str, str]) -> str:
        if e.func in _EXTRA:
            return f"{_EXTRA[e.func]}({', '.join(self.code(a, names) for a in e.args)})"
        return super().code(e, names)


_ZERO, _ONE = (gmpy2.mpfr(0), gmpy2.mpfr(1)) if gmpy2 is not None else (None, None)  # exact at any precision


def _relu(x):
    return x if x > 0 else _ZERO


def _logsumexp(*args):
    top = max(args)
    return top + gmpy2.log(gmpy2.fsum([gmpy2.exp(a - top) for a in args]))


def _heaviside(x, at_zero):
    return _ONE if x > 0 else (_ZERO if x < 0 else at_zero)


def _sign(x):
    return _ONE if x > 0 else (-_ONE if x < 0 else _ZERO)


def _share(pick):
    def share(x, *args):
        best = pick(args)
        return _ONE / sum(1 for a in args if a == best) if x == best else _ZERO
    return share


def _zero_one(m):
    return _ONE if m <= 0 else _ZERO


#: The heads beyond ``GmpySource``'s, by the name the source calls, as functions.functions's mpmath forms are.
_EXTRA = {relu: "relu", sympy.Abs: "abs", sympy.Max: "max", sympy.Min: "min", logsumexp: "logsumexp",
          sympy.Heaviside: "heaviside", sympy.sign: "sign", max_share: "max_share", min_share: "min_share",
          zero_one: "zero_one"}
_SPACE = {"relu": _relu, "logsumexp": _logsumexp, "heaviside": _heaviside, "sign": _sign, "max_share": _share(max),
          "min_share": _share(min), "zero_one": _zero_one, "fsum": gmpy2.fsum if gmpy2 else None}


class ExactProgram:
    """One derivation's exact loss, gradient over ``names`` and kink ``arguments``, as generated gmpy2 code.

    ``at(leaves)`` gives (loss, gradient, values) as mpmath numbers, or None where the walk must
    decide; values hold each kink argument's value under the argument itself
    (``kinks.kink_within`` reads it there).
    """

    def __init__(self, derivation: Derivation, names: tuple[str, ...], arguments: tuple[sympy.Expr, ...]):
        net = derivation.network
        self.printer = _Source()
        self.leaves = list(net.leaves)
        var = {n: f"v{k}" for k, n in enumerate(net.quantities)}
        lines = [f"def run({', '.join(var[n] for n in self.leaves)}):"]
        nodes = [n for n in derivation.order if n in net.nodes]
        lines += [f"    {var[n]} = {self.printer.code(net.nodes[n].expr, var)}" for n in nodes]
        factor = {}
        for j, (key, f) in enumerate(derivation.factors.items()):
            factor[key] = f"f{j}"
            lines.append(f"    f{j} = {self.printer.code(f.expr, var)}")
        delta = {derivation.output: self.printer.one}
        for j, adj in enumerate(derivation.adjoints.values()):
            if adj.name == derivation.output:
                continue
            delta[adj.name] = f"g{j}"
            lines.append(f"    g{j} = " + " + ".join(f"{delta[t.consumer]} * {factor[t.consumer, adj.name]}"
                                                   for t in adj.terms))
        out = [var[derivation.output]] + [delta.get(n, "zero") for n in names] + [self.printer.code(a, var) for a in arguments]
        lines.append(f"    return ({', '.join(out)},)")
        self.text = "\n".join(lines)
        self.count = len(names)
        self.arguments = arguments
        self.precisions = tuple(_precision(d) for d in (_DPS, 2 * _DPS))
        # every operation that overflows beyond the walk's magnitude, divides by zero or has no real
        # value (log or √ of a negative) raises, as the walk's checks do: the walk then decides
        self.contexts = {p: gmpy2.context(precision=p, emax=_MAX_MAG, trap_overflow=True, trap_invalid=True,
                                          trap_divzero=True) for p in self.precisions}
        self.code = compile(self.text, "<gradcheck exact side>", "exec")  # generated from the derivation only
        self.functions = {p: self._function(p) for p in self.precisions}
        self.tolerance = gmpy2.mpfr(10, self.precisions[1]) ** (-GRADCHECK_DIGITS - 3)
        self.numbers: dict[float, object] = {}  # each float leaf as an mpfr (exact at any precision), made once

    def _function(self, prec: int):
        """The generated function with its constants at ``prec`` bits."""
        with mpmath.workprec(prec), gmpy2.context(precision=prec):
            space = {**self.printer.namespace(), **_SPACE, "zero": gmpy2.mpfr(0)}
        exec(self.code, space)
        return space["run"]

    def _mpfr(self, value: float):
        if value not in self.numbers:
            if len(self.numbers) > GRADCHECK_NUMBERS_KEPT:
                self.numbers.clear()
            self.numbers[value] = gmpy2.mpfr(value)
        return self.numbers[value]

    def at(self, leaves: Mapping[str, float], *, along: Sequence[int] | None = None):
        """(loss, [gradient by name], {kink argument: value}) certified to GRADCHECK_DIGITS; None: walk instead.

        ``leaves``: every leaf's float value by name. ``along``: the gradient entries wanted (all
        when None); only those are certified and can be read, each converted to mpmath when read.
        """
        args = [self._mpfr(float(leaves[n])) for n in self.leaves]
        low_prec, high_prec = self.precisions
        wanted = range(1, 1 + self.count) if along is None else [1 + k for k in along]
        checked = [0, *wanted, *range(1 + self.count, 1 + self.count + len(self.arguments))]
        try:
            with self.contexts[low_prec]:
                low = self.functions[low_prec](*args)
            with self.contexts[high_prec]:
                high = self.functions[high_prec](*args)
                tolerance = self.tolerance
                for a, b in ((low[j], high[j]) for j in checked):
                    if a != b and abs(a - b) > tolerance * max(abs(a), abs(b)):
                        return None
        except (ArithmeticError, ValueError, TypeError):
            return None
        values = dict(zip(self.arguments, map(_to_mpf, high[1 + self.count:])))
        return _to_mpf(high[0]), _Converted(high[1:1 + self.count], [j - 1 for j in wanted]), values


class _Converted(Sequence):
    """gmpy2 numbers read as mpmath numbers, each converted (exactly) when first read; only the certified ones."""

    def __init__(self, numbers, certified: Sequence[int]):
        self.numbers = numbers
        self.certified = set(certified)
        self.converted: dict[int, mpmath.mpf] = {}

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        if k not in self.converted:
            if not 0 <= k < len(self.numbers):
                raise IndexError(k)
            if k not in self.certified:
                raise LookupError(f"gradient entry {k} was not asked for (along=), so it is not certified")
            self.converted[k] = _to_mpf(self.numbers[k])
        return self.converted[k]


def _to_mpf(value) -> mpmath.mpf:
    """An mpfr as an mpmath number, exactly (``arithmetic.from_mpfr`` without a precision to round to)."""
    if not value:
        return mpmath.mpf(0)
    man, exp = value.as_mantissa_exp()
    return mpmath.mp.make_mpf(from_man_exp(man, int(exp)))


def _precision(dps: int) -> int:
    with mpmath.workdps(dps):
        return mpmath.mp.prec


def exact_program(derivation: Derivation, names: tuple[str, ...],
                  arguments: tuple[sympy.Expr, ...]) -> ExactProgram | None:
    """The generated exact side of a check, or None without gmpy2 or for a head it cannot write.

    >>> import symgrad
    >>> net = symgrad.load("mazur")
    >>> program = exact_program(symgrad.derive(net), ("w5",), ())
    >>> loss, gradient, _ = program.at({k: float(v) for k, v in net.point().items()})
    >>> symgrad.to_decimal(gradient[0], 9)
    '0.0821670406'
    """
    if gmpy2 is None:
        return None
    try:
        return ExactProgram(derivation, names, arguments)
    except (Unsupported, KeyError):
        return None
