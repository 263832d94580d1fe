"""What gradient checking returns: ``GradcheckReport`` (rows and verdicts) and ``StepSweep``.

Results only, with their text, HTML and JSON forms; ``gradient_check`` and ``step_sweep``
compute them, and ``render/picture.py`` draws a sweep.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from typing import Callable

from .precision import to_decimal
from .table import format_table

__all__ = ["GRADCHECK_VERDICTS", "GradcheckRow", "GradcheckReport", "StepSweep"]

GRADCHECK_VERDICTS = ("mismatch", "precision", "step", "round-off", "kink", "ok")  # worst first


@dataclass(frozen=True)
class GradcheckRow:
    """One checked parameter or direction: the numbers, the error of the gradient under check
    (the user's, else the compiled one) against the exact value, the bound and the verdict."""

    param: str
    exact: float | None  # None where no exact value exists (matrix-form networks); an mpmath.mpf beyond float64
    #                      (the exact value printed as it is, 1e+400, never inf)
    compiled: float | None  # None for derivatives with respect to inputs
    numerical: float
    user: float | None
    abs_error: float
    rel_error: float
    bound: float
    verdict: str
    cause: str  # one sentence: why this verdict


@dataclass(frozen=True)
class GradcheckReport:
    """The outcome of ``gradcheck``: rows worst first; ``ok`` unless some row is a mismatch."""

    title: str
    scheme: str
    rows: tuple[GradcheckRow, ...]
    notes: tuple[str, ...]
    has_user: bool
    diagnoses: tuple[str, ...] = ()  # the bugs named from the pattern of received ÷ exact (symgrad.diagnosis)

    @property
    def ok(self) -> bool:
        return all(row.verdict != "mismatch" for row in self.rows)

    def _columns(self) -> list[tuple[str, Callable[[GradcheckRow], str]]]:
        cols = [("param", lambda r: r.param), ("exact", lambda r: _num(r.exact, 17)),
                ("compiled", lambda r: _num(r.compiled, 17)), ("numerical", lambda r: _num(r.numerical, 12))]
        if self.has_user:
            cols.append(("user", lambda r: _num(r.user, 12)))
        cols += [("abs error", lambda r: _err(r.abs_error)), ("rel error", lambda r: _err(r.rel_error)),
                 ("bound", lambda r: _err(r.bound)), ("verdict", lambda r: r.verdict)]
        return cols

    def table(self) -> str:
        """The report as plain text: a title, the table, a summary and the causes."""
        cols = self._columns()
        lines = [self.title, *self.notes, ""]
        lines += format_table([head for head, _ in cols], ([fmt(row) for _, fmt in cols] for row in self.rows))
        lines += ["", self.summary()]
        lines += [f"  {row.param}: {row.cause}" for row in self.rows if row.verdict != "ok"]
        lines += [f"diagnosis: {d}" for d in self.diagnoses]
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        counts = {v: sum(r.verdict == v for r in self.rows) for v in GRADCHECK_VERDICTS}
        parts = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        head = "OK" if self.ok else "MISMATCH"
        return f"{head}: {len(self.rows)} checked ({parts})"

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        cols = self._columns()
        head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in cols)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(row))}</td>" for _, fmt in cols) + "</tr>"
                       for row in self.rows)
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (f"<div><p><b>{html.escape(self.title)}</b></p>{notes}<table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table><p>{html.escape(self.summary())}</p></div>")

    def as_dict(self) -> dict:
        """The JSON form: {"ok", "scheme", "rows": [{param, exact, compiled, numerical, [user], …}]}.

        Always valid JSON: a value that is not a finite float64 (an overflow, NaN) is ``null``,
        and an exact value beyond float64's range is its decimal as a string, such as ``"-1.0e+400"``.
        """
        rows = []
        for r in self.rows:
            row = {"param": r.param, "exact": _json_number(r.exact), "compiled": _finite(r.compiled),
                   "numerical": _finite(r.numerical)}
            if self.has_user:
                row["user"] = _finite(r.user)
            row |= {"abs_error": _json_number(r.abs_error), "rel_error": _finite(r.rel_error),
                    "bound": _finite(r.bound), "verdict": r.verdict}
            rows.append(row)
        out = {"ok": self.ok, "scheme": self.scheme, "rows": rows}
        if self.diagnoses:
            out["diagnoses"] = list(self.diagnoses)
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"


def _finite(x: float | None) -> float | None:
    return None if x is None or not isinstance(x, float) and not isinstance(x, int) or not math.isfinite(x) else x


def _json_number(x) -> float | str | None:
    """A finite float as itself; an exact value beyond float64 (mpmath) as its decimal string; else null."""
    if x is None or isinstance(x, (int, float)):
        return _finite(x)
    return to_decimal(x, 17)


def _num(x, digits: int) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}g}" if isinstance(x, (int, float)) else to_decimal(x, digits)


def _err(x) -> str:
    return f"{x:.2e}" if isinstance(x, (int, float)) else to_decimal(x, 3)


@dataclass(frozen=True)
class StepSweep:
    """Finite-difference error against step size for one parameter, and the fitted slope."""

    param: str
    scheme: str
    steps: tuple[float, ...]
    errors: tuple[float, ...]  # measured |D(h) − exact|
    truncation: tuple[float, ...]  # the bound's truncation term at each step, C·hⁿ·|f⁽ⁿ⁺¹⁾|
    roundoff: tuple[float, ...]  # the bound's round-off term at each step, R·ε_f/h
    fit_range: tuple[float, float]  # the steps fitted: where truncation dominates round-off 100-fold
    slope: float | None  # None when truncation never dominates round-off (e.g. f is polynomial in param)
    expected: int
    margin: float

    @property
    def ok(self) -> bool:
        return self.slope is None or abs(self.slope - self.expected) <= self.margin

    def summary(self) -> str:
        if self.slope is None:
            return (f"step sweep of {self.param}: no slope to measure (the truncation error stays below "
                    "round-off at every step tried, e.g. f is a low-degree polynomial in it)")
        return (f"step sweep of {self.param}: measured slope {self.slope:.3f} for h in "
                f"[{self.fit_range[0]:.2g}, {self.fit_range[1]:.2g}], expected {self.expected} ± {self.margin}: "
                + ("ok" if self.ok else "NOT ok"))
