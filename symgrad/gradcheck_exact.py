"""Gradcheck's exact side as one generated function over gmpy2 numbers, certified the way the walk is.

``evaluation.evaluate_gradients(digits=GRADCHECK_DIGITS)`` walks every node, local factor and
δ at two working precisions (45 and 90 digits) and insists they agree to 30 digits + 3; a
check needs it at 1 + 4 points per row. Here the same derivation (forward values, local
factors, δ) is written once per check as straight-line Python source over gmpy2 (MPFR)
numbers (``arithmetic.GmpySource``), run at the same two precisions, and the numbers the
check reads (the loss, the gradient over the checked coordinates, the quantities in kink
arguments) must agree to the same tolerance. The 90-digit run is returned, converted
exactly to mpmath: the same digits as the walk's to far beyond the 30 certified (they
differ in the last few of the 90 bits' worth, where the two libraries round differently).

Anything it does not carry falls back to the walk, whose behaviour then decides: a head
without a gmpy2 form (``Unsupported``), a value that is not finite or beyond
10**MAX_MAGNITUDE_DIGITS anywhere (a log of a negative, a division by zero, an overflow),
a disagreement of the two precisions (a sum that cancels, as the walk's zero rule would
decide), or no gmpy2 installed.
"""

from __future__ import annotations

from typing import Mapping

import mpmath
import sympy

from .arithmetic import GmpySource, Unsupported, from_mpfr, gmpy2
from .chain import Derivation
from .functions import logsumexp, max_share, min_share, relu, zero_one
from .limits import MAX_MAGNITUDE_DIGITS
from .precision import GRADCHECK_DIGITS, WORKING_EXTRA

__all__ = ["ExactProgram", "exact_program"]

_MAX_MAG = int(MAX_MAGNITUDE_DIGITS * 3.3219280948873626) + 1  # 2**this exceeds 10**MAX_MAGNITUDE_DIGITS


class _Source(GmpySource):
    """``GmpySource`` with the kinked heads and their derivatives (relu, |x|, max, min, H, sgn) and logsumexp."""

    def code(self, e: sympy.Expr, names: Mapping[str, str]) -> str:
        if e.func in _EXTRA:
            return f"{_EXTRA[e.func]}({', '.join(self.code(a, names) for a in e.args)})"
        return super().code(e, names)


def _relu(x):
    return x if x > 0 else gmpy2.mpfr(0)


def _logsumexp(*args):
    top = max(args)
    return top + gmpy2.log(gmpy2.fsum([gmpy2.exp(a - top) for a in args]))


def _heaviside(x, at_zero):
    return gmpy2.mpfr(1) if x > 0 else (gmpy2.mpfr(0) if x < 0 else at_zero)


def _sign(x):
    return gmpy2.mpfr(1) if x > 0 else (gmpy2.mpfr(-1) if x < 0 else gmpy2.mpfr(0))


def _share(pick):
    def share(x, *args):
        best = pick(args)
        return gmpy2.mpfr(1) / sum(1 for a in args if a == best) if x == best else gmpy2.mpfr(0)
    return share


def _zero_one(m):
    return gmpy2.mpfr(1) if m <= 0 else gmpy2.mpfr(0)


#: The heads beyond ``GmpySource``'s, by the name the source calls, as functions.functions's mpmath forms are.
_EXTRA = {relu: "relu", sympy.Abs: "abs", sympy.Max: "max", sympy.Min: "min", logsumexp: "logsumexp",
          sympy.Heaviside: "heaviside", sympy.sign: "sign", max_share: "max_share", min_share: "min_share",
          zero_one: "zero_one"}
_SPACE = {"relu": _relu, "logsumexp": _logsumexp, "heaviside": _heaviside, "sign": _sign, "max_share": _share(max),
          "min_share": _share(min), "zero_one": _zero_one, "fsum": gmpy2.fsum if gmpy2 else None}


class ExactProgram:
    """One derivation's exact loss, gradient over ``names`` and ``shown`` values, as generated gmpy2 code.

    ``at(point)`` gives (loss, gradient, values) as mpmath numbers, or None where the walk must decide.
    """

    def __init__(self, derivation: Derivation, names: tuple[str, ...], shown: tuple[str, ...]):
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
        every = [var[n] for n in nodes] + list(factor.values()) + [d for d in delta.values() if d[0] == "g"]
        out = [var[derivation.output]] + [delta.get(n, "zero") for n in names] + [var[n] for n in shown]
        lines.append(f"    return ({', '.join(out)},), fsum([{', '.join(f'abs({x})' for x in every)}])")
        self.text = "\n".join(lines)
        self.count = len(names)
        self.shown = shown
        self.functions = {}

    def _function(self, prec: int):
        """The generated function with its constants at ``prec`` bits (made once per precision)."""
        if prec not in self.functions:
            with mpmath.workprec(prec), gmpy2.context(precision=prec):
                space = {**self.printer.namespace(), **_SPACE, "zero": gmpy2.mpfr(0)}
            exec(compile(self.text, "<gradcheck exact side>", "exec"), space)  # generated from the derivation only
            self.functions[prec] = space["run"]
        return self.functions[prec]

    def _run(self, prec: int, point: Mapping[str, float]):
        with gmpy2.context(precision=prec):
            numbers, size = self._function(prec)(*[gmpy2.mpfr(float(point[n])) for n in self.leaves])
        if not gmpy2.is_finite(size) or (size and gmpy2.get_exp(size) > _MAX_MAG):
            raise Unsupported("a value that is not finite, or too large")
        return numbers

    def at(self, point: Mapping[str, float]):
        """(loss, [gradient by name], {shown name: value}) certified to GRADCHECK_DIGITS; None: walk instead."""
        dps = GRADCHECK_DIGITS + WORKING_EXTRA
        with mpmath.workdps(dps):
            low_prec = mpmath.mp.prec
        with mpmath.workdps(2 * dps):
            high_prec = mpmath.mp.prec
        try:
            low, high = self._run(low_prec, point), self._run(high_prec, point)
        except (Unsupported, ArithmeticError, ValueError, TypeError):
            return None
        with gmpy2.context(precision=high_prec):
            tolerance = gmpy2.mpfr(10) ** (-GRADCHECK_DIGITS - 3)
            if not all(a == b or abs(a - b) <= tolerance * max(abs(a), abs(b)) for a, b in zip(low, high)):
                return None
        with mpmath.workprec(high_prec):
            numbers = [from_mpfr(x) for x in high]
        return numbers[0], numbers[1:1 + self.count], dict(zip(self.shown, numbers[1 + self.count:]))


def exact_program(derivation: Derivation, names: tuple[str, ...], shown: tuple[str, ...]) -> ExactProgram | None:
    """The generated exact side of a check, or None without gmpy2 or for a head it cannot write."""
    if gmpy2 is None:
        return None
    try:
        return ExactProgram(derivation, names, shown)
    except (Unsupported, KeyError):
        return None
