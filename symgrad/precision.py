"""The precision policy, in one place: how many digits are computed, certified, rounded and printed.

- Exact evaluation works at ``digits + WORKING_EXTRA`` decimal digits, then again at twice
  that; a number is *certified* when both runs agree to ``digits`` significant digits.
- A sum that cancels to within ``10**-(working digits - CANCELLATION_GUARD)`` of its largest
  term is zero (``sigmoid(x) + sigmoid(-x) - 1`` is 0, not round-off noise); a small sum above
  that (``1 - sigmoid(20)``) is a value, however few digits are asked for.
- Reports evaluate ``GUARD_DIGITS`` more digits than they print; JSON prints at least
  ``JSON_MIN_DIGITS`` significant digits (enough to round-trip a float64).
- A ``Rounding`` policy rounds every intermediate as it is produced, the way a person
  computes by hand: none, N significant digits, or N decimals.
- Numbers print in plain notation for 1e-7 <= |x| < 1e15, in scientific notation outside.
- Gradient descent (``train``, the claims checker's ``w5@100``) works at
  ``digits + TRAJECTORY_EXTRA`` (``descent_working_digits``). A many-step run is repeated
  ``TRAJECTORY_CHECK_EXTRA`` digits finer and certified when both agree to ``TRAJECTORY_AGREEMENT_EXTRA`` digits beyond
  those asked for, doubling the precision up to ``TRAJECTORY_TRIES`` times.
- The claims checker certifies every number ``CLAIM_GUARD_DIGITS`` beyond the most any claim
  states (at least ``CLAIM_MIN_DIGITS``) and judges at that plus ``WORKING_EXTRA``; a symbolic
  claim's numeric spot checks must vanish to ``SPOT_CHECK_DIGITS`` at
  ``SPOT_CHECK_WORKING_DIGITS``.
- Gradcheck certifies its exact derivatives to ``GRADCHECK_DIGITS`` at
  ``GRADCHECK_WORKING_DIGITS``; its complex step runs in ``FLOAT64_DIGITS`` (53 bits).
- The property helpers sum a batch's exact gradients at ``digits + PROPERTY_TEST_EXTRA``;
  ``assert_vjp_matches`` certifies its reference to ``VJP_DIGITS``, and diagnoses match ratios
  against activation derivatives to ``DIAGNOSIS_DIGITS``. Symbolic claims are evaluated at
  ``SYMBOLIC_WORKING_DIGITS`` (zero below ``SYMBOLIC_ZERO_DIGITS``); claims reports show at most
  ``CLAIM_SHOWN_DIGITS`` digits.
- Converting an mpmath number or a SymPy constant keeps ``CONVERSION_GUARD`` digits beyond the
  working precision; a claim's Decimal comparisons run at ``DECIMAL_EXTRA`` beyond it (at
  least ``DECIMAL_MIN_PRECISION``) and allow ``TIE_NOISE_DIGITS`` of noise at a rounding tie.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

import mpmath
import sympy

from .errors import InvalidArgument
from .limits import MAX_DIGITS

__all__ = [
    "DEFAULT_DIGITS",
    "GUARD_DIGITS",
    "JSON_MIN_DIGITS",
    "WORKING_EXTRA",
    "TRAJECTORY_EXTRA",
    "TRAJECTORY_DEFAULT_DIGITS",
    "TRAJECTORY_AGREEMENT_EXTRA",
    "TRAJECTORY_TRIES",
    "TRAJECTORY_CHECK_EXTRA",
    "TRAJECTORY_PADE_GUARD_BITS",
    "CLAIM_GUARD_DIGITS",
    "CLAIM_MIN_DIGITS",
    "CLAIM_STEPS_MIN_DIGITS",
    "SPOT_CHECK_DIGITS",
    "SPOT_CHECK_WORKING_DIGITS",
    "CLAIM_ARITHMETIC_DIGITS",
    "GRADCHECK_DIGITS",
    "GRADCHECK_WORKING_DIGITS",
    "FLOAT64_DIGITS",
    "PLAIN_RANGE",
    "VJP_DIGITS",
    "DIAGNOSIS_DIGITS",
    "SLIP_CONFIDENCE",
    "CLAIM_SHOWN_DIGITS",
    "SYMBOLIC_ZERO_DIGITS",
    "SYMBOLIC_WORKING_DIGITS",
    "CANCELLATION_GUARD",
    "CONVERSION_GUARD",
    "DECIMAL_EXTRA",
    "DECIMAL_MIN_PRECISION",
    "TIE_NOISE_DIGITS",
    "PROPERTY_TEST_EXTRA",
    "Rounding",
    "validate_digits",
    "descent_working_digits",
    "to_decimal",
    "format_number",
    "format_decimals",
]

DEFAULT_DIGITS = 30  # significant digits certified by default by the Python API
GUARD_DIGITS = 2  # digits evaluated beyond those printed
JSON_MIN_DIGITS = 17  # a float64 round-trips through 17 significant digits
WORKING_EXTRA = 15  # working precision is digits + this, then twice that
TRAJECTORY_EXTRA = 20  # gradient descent works at digits + this (a many-step run then again at twice that)
TRAJECTORY_DEFAULT_DIGITS = 15  # the digits of a float64 descent run (digits=None), for its mpmath context
TRAJECTORY_AGREEMENT_EXTRA = 2  # a many-step run's two precisions must agree to digits + this
TRAJECTORY_CHECK_EXTRA = 10  # a many-step run is checked by the same run this many digits finer (exp at twice the
#   digits costs some four times as much, and the check's run needs only to be much finer than the tolerance)
TRAJECTORY_PADE_GUARD_BITS = 4  # the generated descent loop takes exp(d) of a small step d from its [4/4] Padé
#   approximant where that is within 2**-(precision + this) of exp(d), else from exp itself
TRAJECTORY_TRIES = 4  # precisions a many-step run tries, each twice the last, before PrecisionError
CLAIM_GUARD_DIGITS = 3  # claims: digits certified and shown beyond those a claim states
CLAIM_MIN_DIGITS = 20  # claims: significant digits certified of every exact value, at least
CLAIM_STEPS_MIN_DIGITS = 10  # claims after k update steps: digits certified of the trajectory (at least; else the
#   digits the longest such claim states plus CLAIM_GUARD_DIGITS), so E_total@100000 costs two runs at ~30 digits
SPOT_CHECK_DIGITS = 30  # a symbolic claim minus the derived expression must be below 10**-this at each point
SPOT_CHECK_WORKING_DIGITS = 40  # the mpmath precision of those spot checks
CLAIM_ARITHMETIC_DIGITS = 30  # a claim's arithmetic on exact inputs (0.15*0.05 + 0.35) is judged to this many digits
GRADCHECK_DIGITS = 30  # significant digits gradcheck certifies of the exact derivatives
GRADCHECK_WORKING_DIGITS = 3 * GRADCHECK_DIGITS  # gradcheck's mpmath working precision
FLOAT64_DIGITS = 15  # mpmath at 15 digits works in 53 bits, as float64 does: the complex step's arithmetic
PLAIN_RANGE = (-7, 15)  # decimal exponents printed without scientific notation
SYMBOLIC_WORKING_DIGITS = 60  # a symbolic claim's evaluations at rational points run at this precision
SYMBOLIC_ZERO_DIGITS = 45  # there a difference below 10**-this (relative to the terms' size) is zero
CLAIM_SHOWN_DIGITS = 15  # an exact value in the claims report shows at most this many digits plus the guard digits
DIAGNOSIS_DIGITS = 30  # digits of the activation derivatives a gradient ratio is matched against
SLIP_CONFIDENCE = 0.9  # a hand calculation's slip is named only when a chance match is below 1 - this (slips.py)
VJP_DIGITS = 30  # digits of assert_vjp_matches' exact reference
CANCELLATION_GUARD = 5  # a sum within 10**-(working digits - this) of its largest term is round-off: zero
CONVERSION_GUARD = 5  # digits beyond the working precision when a constant or an mpf becomes text or a Decimal
DECIMAL_EXTRA = 10  # a claim's Decimal comparisons work at the mpmath precision + this ...
DECIMAL_MIN_PRECISION = 60  # ... and at least this many digits
TIE_NOISE_DIGITS = 5  # a value that rounds to a tie may be off by 10**-(working precision - this) relative
PROPERTY_TEST_EXTRA = 10  # the property helpers sum a batch's exact gradients at digits + this

_MODES = ("none", "significant", "decimals")


def validate_digits(digits: object, *, what: str = "digits") -> int:
    """``digits`` as a validated int from 1 to ``MAX_DIGITS``, else ``InvalidArgument``."""
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= MAX_DIGITS:
        raise InvalidArgument(f"{what} must be an integer from 1 to {MAX_DIGITS}, got {digits!r}")
    return digits


def descent_working_digits(digits: int | None) -> int:
    """The mpmath precision of a descent step certifying ``digits`` (``None``: float64)."""
    return (digits or TRAJECTORY_DEFAULT_DIGITS) + TRAJECTORY_EXTRA


@dataclass(frozen=True)
class Rounding:
    """Round every intermediate to N significant digits or N decimals, half away from zero.

    >>> print(Rounding.significant(3)(mpmath.mpf("0.59326999")))
    0.593
    >>> print(Rounding.decimals(2)(mpmath.mpf("-1.005")))
    -1.01
    """

    mode: str = "none"
    digits: int = 0

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise InvalidArgument(f"rounding mode must be one of {', '.join(_MODES)}, got {self.mode!r}")
        if self.mode != "none":
            validate_digits(self.digits, what="rounding digits")

    @classmethod
    def significant(cls, digits: int) -> Rounding:
        return cls("significant", digits)

    @classmethod
    def decimals(cls, digits: int) -> Rounding:
        return cls("decimals", digits)

    @property
    def active(self) -> bool:
        return self.mode != "none"

    def __call__(self, value):
        """``value`` rounded by this policy (an mpf stays an mpf, a float stays a float)."""
        if self.mode == "none" or not value:
            return value
        is_float = isinstance(value, float)
        text = repr(value) if is_float else mpmath.nstr(value, mpmath.mp.dps, min_fixed=-mpmath.inf,
                                                          max_fixed=mpmath.inf)
        with localcontext() as context:
            context.prec = max(mpmath.mp.dps, 40)
            number = Decimal(text)
            if self.mode == "significant":
                exponent = number.adjusted() - self.digits + 1
            else:
                exponent = -self.digits
            rounded = number.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
        return float(rounded) if is_float else mpmath.mpf(str(rounded))

    def describe(self) -> str:
        if self.mode == "none":
            return "no rounding of intermediates"
        unit = "significant digits" if self.mode == "significant" else "decimals"
        return f"every intermediate rounded to {self.digits} {unit}"


def _as_mpf(value):
    if isinstance(value, sympy.Rational):
        return mpmath.mpf(value.p) / value.q
    if isinstance(value, (int, float)):
        return mpmath.mpf(value)
    return value


def to_decimal(value, digits: int) -> str:
    """``value`` rounded to ``digits`` significant digits, trailing zeros kept.

    Plain notation for 1e-7 <= |value| < 1e15, scientific notation outside, so a huge or tiny
    number never prints thousands of digits.

    >>> to_decimal(mpmath.mpf(-7), 4)
    '-7.000'
    >>> to_decimal(mpmath.exp(1000), 5)
    '1.9701e+434'
    """
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    with mpmath.workdps(digits + 10):
        value = mpmath.mpf(_as_mpf(value))
        if not mpmath.isfinite(value):
            return str(value)
        if value == 0:
            return "0." + "0" * (digits - 1) if digits > 1 else "0"
        # Always scientific here (correctly rounded by mpmath), reformatted below.
        text = mpmath.nstr(value, digits, strip_zeros=False, min_fixed=0, max_fixed=0)
    head, _, tail = text.partition("e")
    sign = "-" if head.startswith("-") else ""
    mantissa = head.lstrip("-").replace(".", "")[:digits].ljust(digits, "0")
    exponent = int(tail) if tail else 0
    low, high = PLAIN_RANGE
    if low <= exponent < high:
        if exponent >= digits - 1:  # an integer part with no decimals: 1234567 at 4 digits
            return sign + mantissa + "0" * (exponent - digits + 1)
        if exponent >= 0:
            return f"{sign}{mantissa[:exponent + 1]}.{mantissa[exponent + 1:]}"
        return f"{sign}0.{'0' * (-exponent - 1)}{mantissa}"
    body = mantissa[0] + ("." + mantissa[1:] if digits > 1 else "")
    return f"{sign}{body}e{exponent:+d}"


def format_number(value, digits: int) -> str:
    """``digits`` significant digits with trailing zeros dropped (0.15, not 0.150000000).

    >>> format_number(mpmath.mpf("0.15"), 9)
    '0.15'
    """
    text = to_decimal(value, digits)
    mantissa, _, exponent = text.partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    if mantissa in ("-0", ""):
        mantissa = "0"
    return f"{mantissa}e{exponent}" if exponent else mantissa



def format_decimals(value, decimals: int) -> str:
    """``value`` rounded to ``decimals`` places, trailing zeros dropped, as the lectures print.

    Outside 1e-7…1e15 (and for a value that rounds to 0 but is not 0) the number prints with
    significant digits in scientific notation instead, so nothing is lost silently.

    >>> format_decimals(mpmath.mpf("0.0821670405642"), 9)
    '0.082167041'
    >>> format_decimals(mpmath.mpf("0.35891647971"), 9)
    '0.35891648'
    """
    with mpmath.workdps(decimals + 30):
        value = mpmath.mpf(_as_mpf(value))
        if not mpmath.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        exponent = int(mpmath.floor(mpmath.log10(abs(value))))
        if not PLAIN_RANGE[0] <= exponent < PLAIN_RANGE[1] or exponent < -decimals:
            return format_number(value, max(decimals, 1))
        text = mpmath.nstr(value, exponent + decimals + 8, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    with localcontext() as context:
        context.prec = exponent + decimals + 40
        rounded = Decimal(text).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    out = format(rounded, "f")
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out
