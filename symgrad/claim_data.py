"""A person's numbers: one parsed claim, the numbers they have claimed so far, decimal rounding.

The layer under the claims parser, the judge (``claims``) and the slips (``slips``): it holds
what they share, and ``ClaimJudge``, the few things a slip may ask of the judge, so slips
never import the judge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Mapping, NamedTuple, Protocol

import mpmath
import sympy

from .chain import Derivation
from .expr import parse_number
from .graph import Network
from .precision import CONVERSION_GUARD, DECIMAL_EXTRA, DECIMAL_MIN_PRECISION, TIE_NOISE_DIGITS, Rounding

__all__ = ["Claim", "Judged", "World", "ClaimJudge", "as_decimal", "rounds_to", "rounded"]

_KINDS = ("values", "factors", "deltas", "steps")  # the kinds of number a person claims


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
    problem: str = ""  # why the line could not be read (verdict "unreadable")
    arithmetic: Decimal | None = None  # the exact value of a right side of numbers only (0.15*0.05 + 0.35)
    stage: int = 0  # k for the k-th right side of a chain a = b = c (0: a single right side)
    product: tuple[str, ...] = ()  # the numbers of a right side written as a product (0.7414*0.1868*0.5933)
    spread: Decimal = Decimal(0)  # how far a product of rounded numbers may be from the exact value (their rounding)

    @property
    def quantum(self) -> Decimal:
        """One unit in the last stated digit: 0.40 → 0.01; a zero states no digits beyond the units (0e300 → 1)."""
        exponent = self.number.as_tuple().exponent
        if not self.number:
            exponent = min(exponent, 0)
        return Decimal(1).scaleb(exponent)

    @property
    def informative(self) -> bool:
        """Whether the number carries a digit of information forward (0.000 carries none)."""
        return self.number is not None and self.number != 0

    @property
    def significant(self) -> int:
        digits = self.number.as_tuple().digits
        return max(len(digits) - next((k for k, d in enumerate(digits) if d), len(digits)), 1)

    @property
    def decimals(self) -> int:
        return -self.quantum.as_tuple().exponent


class Judged(NamedTuple):
    """Where a number of the person's came from, and the verdict on it."""

    line: int
    verdict: str
    lhs: str


@dataclass
class World:
    """The person's own numbers, from the claims judged so far."""

    values: dict = field(default_factory=dict)  # name -> number
    factors: dict = field(default_factory=dict)  # (node, operand) -> number
    deltas: dict = field(default_factory=dict)  # (A, B) -> number
    steps: dict = field(default_factory=dict)  # (name, k) -> number
    verdicts: dict[tuple[str, object], Judged] = field(default_factory=dict)  # (kind, key) -> Judged

    def add(self, claim: Claim, key, kind: str, verdict: str) -> None:
        value = parse_number(str(claim.number))
        getattr(self, kind)[key] = value
        self.verdicts[kind, key] = Judged(claim.line, verdict, claim.lhs)

    def signature(self) -> tuple:
        """The numbers as a hashable key (the verdicts left out: they change no computed quantity)."""
        return tuple(frozenset(getattr(self, kind).items()) for kind in _KINDS)

    def without(self, drop: set) -> World:
        """A copy without the numbers at ``drop``, a set of (kind, key) pairs."""
        kept = [{k: v for k, v in getattr(self, kind).items() if (kind, k) not in drop} for kind in _KINDS]
        return World(*kept, {k: v for k, v in self.verdicts.items() if k not in drop})

    def only(self, keep) -> World:
        """A copy with only the numbers for which ``keep(kind, key)`` is true."""
        return self.without({(kind, k) for kind in _KINDS for k in getattr(self, kind) if not keep(kind, k)})

    def clean(self) -> World:
        """Only the numbers judged right, or right given the person's rounding."""
        return self.without({k for k, judged in self.verdicts.items()
                             if judged.verdict not in ("right", "right-given-rounding")})


class ClaimJudge(Protocol):
    """What a slip may ask of the judge: the network and its derivations, and a claimed
    quantity recomputed from the person's numbers under changed assumptions."""

    network: Network
    digits: int  # significant digits every exact value is certified to
    memo: dict  # computed once per judge, shared by every claim: the quantities, the slips' numbers

    def derivation(self, output: str | None = None) -> Derivation:
        """The derivation of ``output`` (the network's output when None)."""

    def quantity(self, claim: Claim, world: World, *, rounding: Rounding | None = None,
                 at: Mapping[str, object] | None = None, factors: Mapping | None = None,
                 values: Mapping | None = None, rule: str = "simultaneous", learning_rate=None):
        """The claimed quantity computed from ``world``'s numbers, with the given changes."""

    def exact_steps(self, k: int, *, rule: str = "simultaneous", learning_rate=None, around: int = 0,
                    frozen: tuple[str, ...] = ()) -> dict:
        """Every quantity after ``k`` exact update steps."""

    def rounded_steps(self, k: int, *, rounding: Rounding, rule: str = "simultaneous", learning_rate=None,
                      frozen: tuple[str, ...] = ()) -> dict:
        """Every quantity after ``k`` update steps taken as by hand, every intermediate rounded."""

    def equal(self, a: sympy.Expr, b: sympy.Expr) -> str:
        """How ``a`` = ``b`` was shown ("" when it was not)."""


def as_decimal(value) -> Decimal:
    """An mpf (or int) as a Decimal with every digit of the current precision."""
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    value = mpmath.mpf(value)
    return Decimal(mpmath.libmp.to_str(value._mpf_, mpmath.mp.dps + CONVERSION_GUARD))


def rounds_to(claimed: Decimal, quantum: Decimal, value, *, slack: Decimal | int = 1) -> bool:
    """True when ``claimed`` is ``value`` correctly rounded to ``quantum`` (half a unit; ``slack`` units × ½)."""
    with localcontext() as ctx:
        ctx.prec = max(mpmath.mp.dps + DECIMAL_EXTRA, DECIMAL_MIN_PRECISION)
        value = as_decimal(value)
        # a tie (0.3925 to 3 decimals) may sit a rounding error of the working precision either side
        noise = abs(value).scaleb(-max(mpmath.mp.dps - TIE_NOISE_DIGITS, 10))
        return abs(claimed - value) <= quantum * Decimal(slack) / 2 + noise


def rounded(value, quantum: Decimal, *, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``value`` rounded to ``quantum`` (half up by default)."""
    with localcontext() as ctx:
        ctx.prec = max(mpmath.mp.dps + DECIMAL_EXTRA, DECIMAL_MIN_PRECISION)
        try:
            return as_decimal(value).quantize(quantum, rounding=rounding)
        except InvalidOperation:  # pragma: no cover - magnitudes are bounded by the limits
            return as_decimal(value)
