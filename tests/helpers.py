"""Shared test helpers: rounding at a lecture's printed digits, independent references."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import mpmath


def printed(value, as_printed: str) -> str:
    """``value`` rounded to the same number of decimal places as the lecture printed."""
    places = len(as_printed.split(".")[1]) if "." in as_printed else 0
    with mpmath.workdps(60):
        text = mpmath.nstr(mpmath.mpf(value), 50, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(text).quantize(quantum, rounding=ROUND_HALF_EVEN))


def close(a, b, digits: int) -> bool:
    """|a − b| < 10^−digits, computed at 80 digits so the check itself loses nothing."""
    with mpmath.workdps(80):
        return abs(mpmath.mpf(a) - mpmath.mpf(b)) < mpmath.mpf(10) ** -digits
