"""A person's numbers: one parsed claim, the numbers they have claimed so far, decimal rounding.

Shared by ``claims`` (parsing and judging) and ``slips`` (explaining a wrong number), so
neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

import mpmath
import sympy

from .expr import parse_number

__all__ = ["Claim", "World", "as_decimal", "rounds_to", "rounded"]


@dataclass(frozen=True)
class Claim:
    """One line of a claims file: the quantity claimed and the value as written."""

    line: int
    lhs: str  # as written
    name: str  # the quantity; A in dA/dB
    wrt: str | None  # B in dA/dB
    steps: int | None  # k in A@k
    value: str  # as written
    number: Decimal | None  # a numeric claim
    expr: sympy.Expr | None  # a symbolic claim

    @property
    def quantum(self) -> Decimal:
        """One unit in the last stated digit: 0.40 → 0.01."""
        return Decimal(1).scaleb(self.number.as_tuple().exponent)

    @property
    def significant(self) -> int:
        digits = self.number.as_tuple().digits
        return max(len(digits) - next((k for k, d in enumerate(digits) if d), len(digits)), 1)

    @property
    def decimals(self) -> int:
        return -self.number.as_tuple().exponent


@dataclass
class World:
    """The person's own numbers, from the claims judged so far."""

    values: dict = field(default_factory=dict)  # name -> number
    factors: dict = field(default_factory=dict)  # (node, operand) -> number
    deltas: dict = field(default_factory=dict)  # (A, B) -> number
    steps: dict = field(default_factory=dict)  # (name, k) -> number
    lines: dict = field(default_factory=dict)  # key -> (line, verdict, lhs)

    def add(self, claim: Claim, key, kind: str, verdict: str) -> None:
        value = parse_number(str(claim.number))
        getattr(self, kind)[key] = value
        self.lines[kind, key] = (claim.line, verdict, claim.lhs)

    def clean(self) -> World:
        keep = {k for k, (_, verdict, _) in self.lines.items() if verdict in ("right", "right-given-rounding")}
        return World({k: v for k, v in self.values.items() if ("values", k) in keep},
                      {k: v for k, v in self.factors.items() if ("factors", k) in keep},
                      {k: v for k, v in self.deltas.items() if ("deltas", k) in keep},
                      {k: v for k, v in self.steps.items() if ("steps", k) in keep},
                      {k: v for k, v in self.lines.items() if k in keep})


def as_decimal(value) -> Decimal:
    """An mpf (or int) as a Decimal with every digit of the current precision."""
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    value = mpmath.mpf(value)
    return Decimal(mpmath.libmp.to_str(value._mpf_, mpmath.mp.dps + 5))


def rounds_to(claimed: Decimal, quantum: Decimal, value, *, slack: Decimal | int = 1) -> bool:
    """True when ``claimed`` is ``value`` correctly rounded to ``quantum`` (half a unit; ``slack`` units × ½)."""
    with localcontext() as ctx:
        ctx.prec = max(mpmath.mp.dps + 10, 60)
        value = as_decimal(value)
        # a tie (0.3925 to 3 decimals) may sit a rounding error of the working precision either side
        noise = abs(value).scaleb(-max(mpmath.mp.dps - 5, 10))
        return abs(claimed - value) <= quantum * Decimal(slack) / 2 + noise


def rounded(value, quantum: Decimal, *, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``value`` rounded to ``quantum`` (half up by default)."""
    with localcontext() as ctx:
        ctx.prec = max(mpmath.mp.dps + 10, 60)
        try:
            return as_decimal(value).quantize(quantum, rounding=rounding)
        except InvalidOperation:  # pragma: no cover - magnitudes are bounded by the limits
            return as_decimal(value)
