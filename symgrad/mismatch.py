"""A wrong gradient, as the property helpers report it: the rows, the table first, then the bugs named.

``assert_gradients_match``, ``assert_vjp_matches`` and the property runners raise
``GradientMismatch`` (an ``AssertionError``). Its message starts with the table, most wrong
first, with a ratio column (received ÷ exact, so a doubled gradient reads 2); after the table
come the headline (how many are wrong, of what), the diagnoses and the rule applied.
"""

from __future__ import annotations

import math
import os
import types
from dataclasses import dataclass
from typing import Callable, Sequence

import mpmath

try:
    from hypothesis import HealthCheck, Phase, given, target
    from hypothesis import settings as Settings
except ImportError:  # the property runners check for hypothesis before they get here
    pass

from .diagnosis import Diagnosis, ratio_of
from .limits import MAX_TABLE_ROWS
from .precision import to_decimal
from .table import format_table

__all__ = ["GradientRow", "GradientMismatch", "failure", "worst_relative_error", "run_property", "run_campaign",
           "judged_rows"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep  # symgrad's own source files


@dataclass(frozen=True)
class GradientRow:
    """One parameter's comparison: the exact value, the value received, their errors and the verdict."""

    parameter: str
    expected: mpmath.mpf
    received: float
    error: float  # |received − exact|
    rel_error: float  # |received − exact| / max(|received|, |exact|)
    tolerance: float  # within it: ok
    bound: float  # beyond the tolerance but within this: precision; beyond both: mismatch
    verdict: str  # "ok", "precision" or "mismatch"

    @property
    def ok(self) -> bool:
        return self.verdict != "mismatch"


class GradientMismatch(AssertionError):
    """A backprop returned wrong gradients; ``rows`` holds the comparison, most wrong first, and
    ``diagnoses`` the bugs named from its pattern (a missing σ′, a sign, the ½ of the loss, …)."""

    def __init__(self, message: str, *, rows: tuple[GradientRow, ...] = (), diagnoses: tuple[Diagnosis, ...] = ()):
        self.rows = rows
        self.diagnoses = diagnoses  # the bugs named from the pattern of received ÷ exact (symgrad.diagnosis)
        super().__init__(message)


def _ratio_text(row: GradientRow) -> str:
    """received ÷ exact, so that a doubled gradient reads 2 (``-`` where both are 0)."""
    if row.expected == 0:
        return "-" if row.received == 0 else "inf"
    return f"{ratio_of(row.received, float(row.expected)):.6g}"


def _table(rows: Sequence[GradientRow]) -> list[str]:
    shown = rows[:MAX_TABLE_ROWS]
    lines = format_table(("parameter", "expected (exact)", "received", "error", "ratio", "verdict"),
                         [(r.parameter, to_decimal(r.expected, 17), repr(r.received), f"{r.error:.2e}",
                           _ratio_text(r), r.verdict) for r in shown], indent="  ")
    if len(rows) > len(shown):
        lines.append(f"  ... and {len(rows) - len(shown)} more")
    return lines


def failure(rows: tuple[GradientRow, ...], headline: str, found: Sequence[Diagnosis], rule: str) -> GradientMismatch:
    """The GradientMismatch: the table (most wrong first), the headline, the bugs named, the rule applied.

    >>> row = GradientRow("w1", mpmath.mpf(1), 2.0, 1.0, 0.5, 1e-14, 1e-14, "mismatch")
    >>> print(failure((row,), "1 of 1 gradients are wrong", (), "(ok within …)"))
      parameter  expected (exact)    received  error     ratio  verdict
      w1         1.0000000000000000  2.0       1.00e+00  2      mismatch
    1 of 1 gradients are wrong
    (ok within …)
    """
    lines = _table(rows) + [headline] + [f"diagnosis: {d.sentence}" for d in found] + [rule]
    return GradientMismatch("\n".join(lines), rows=rows, diagnoses=tuple(found))


def worst_relative_error(rows: Sequence[GradientRow]) -> float:
    """The largest relative error over the rows, finite (at most 2), for hypothesis.target."""
    return max((r.rel_error if math.isfinite(r.rel_error) else 2.0 for r in rows), default=0.0)


def run_property(test: Callable[[], None]) -> None:
    """Run a Hypothesis property; a ``GradientMismatch`` leaves it without symgrad's own frames.

    Hypothesis calls the property through a wrapper it writes, which takes the property's name,
    file and line but not its locals, so pytest cannot see that frame's ``__tracebackhide__`` and
    prints it (two lines of symgrad's source). The failure is re-raised here with every frame of
    symgrad's files dropped from its traceback: the user's frames (their test, a ``grad_fn`` it
    went through) stay, and this frame hides itself.

    >>> def prop():                              # a user's frame: it stays
    ...     raise GradientMismatch("wrong")
    >>> try:
    ...     run_property(prop)
    ... except GradientMismatch as caught:
    ...     [frame.f_code.co_name for frame, _ in __import__("traceback").walk_tb(caught.__traceback__)]
    ['<module>', 'run_property', 'prop']
    """
    __tracebackhide__ = True
    try:
        test()
    except GradientMismatch as mismatch:
        raise mismatch.with_traceback(_without_own_frames(mismatch.__traceback__))


def run_campaign(prop: Callable, strategy, settings=None) -> None:
    """Run ``prop`` over ``strategy`` under ``settings`` (default: the loaded profile) as the property runners
    do: no deadline, no explain phase (it traces coverage, which takes 15-40 s after a failure found in under
    one, and its "these lines were always and only run by failing examples" points into symgrad's own code),
    one failure reported (the smallest, even where a bug fails in two ways, e.g. a wrong shape on one network
    and wrong numbers on another), and a failure without symgrad's frames (``run_property``)."""
    __tracebackhide__ = True
    base = settings if settings is not None else Settings()
    chosen = Settings(base, deadline=None, phases=[p for p in base.phases if p is not Phase.explain],
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                      report_multiple_bugs=False)  # one failure, its table first, not an ExceptionGroup of several
    run_property(chosen(given(strategy)(prop)))


def judged_rows(judge: Callable[[], Sequence[GradientRow]]) -> Sequence[GradientRow]:
    """``judge()``'s rows; a campaign steers toward the largest errors (``hypothesis.target`` on the worst
    relative error), whether the rows pass or fail."""
    __tracebackhide__ = True
    rows: Sequence[GradientRow] = ()
    try:
        rows = judge()
    except GradientMismatch as caught:
        rows = caught.rows
        raise
    finally:
        if rows:
            target(worst_relative_error(rows), label="worst relative error")
    return rows


def _without_own_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback ``tb`` with the entries whose code lies in symgrad's package left out."""
    kept = []
    while tb is not None:
        if not os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_PACKAGE):
            kept.append(tb)
        tb = tb.tb_next
    out = None
    for entry in reversed(kept):
        out = types.TracebackType(out, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return out
