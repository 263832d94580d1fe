"""The verdicts on a claims file: one row per claim, and the report as a text table or JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import shorten
from .table import format_table

__all__ = ["CLAIM_VERDICTS", "RIGHT_VERDICTS", "ClaimRow", "ClaimsReport"]

#: Every verdict, best first. The first five are right in some sense; the rest make a check fail.
CLAIM_VERDICTS = ("right", "right-given-rounding", "consistent-with-earlier", "right-at-these-values",
                  "right-truncated", "wrong", "undecided", "unreadable")
RIGHT_VERDICTS = CLAIM_VERDICTS[:5]
_ALWAYS_COUNTED = ("right", "right-given-rounding", "consistent-with-earlier", "wrong")


@dataclass(frozen=True)
class ClaimRow:
    """The verdict on one claim."""

    line: int
    claim: str  # LHS as written
    claimed: str  # VALUE as written
    exact: str  # the exact value (a few digits beyond the claim's) or the derived expression
    verdict: str  # one of CLAIM_VERDICTS
    explanation: str
    confidence: float | None = None  # how sure the named slip is (1 − the chance of a match by accident)

    @property
    def stated(self) -> str:
        """The explanation with the named slip's confidence."""
        if self.confidence is None:
            return self.explanation
        return f"{self.explanation} (confidence {self.confidence:.2f})"


@dataclass(frozen=True)
class ClaimsReport:
    """Every claim's verdict, in file order; ``ok`` when none is wrong.

    >>> import symgrad
    >>> r = symgrad.check_claims(symgrad.load("two_neurons"), "h = -7\\ndf/dw1 = 4\\n")
    >>> [row.verdict for row in r.rows], r.ok
    (['right', 'wrong'], False)
    """

    rows: tuple[ClaimRow, ...]
    source: str = "<claims>"

    @property
    def ok(self) -> bool:
        """True when every claim is right in one of ``RIGHT_VERDICTS``."""
        return all(row.verdict in RIGHT_VERDICTS for row in self.rows)

    @property
    def first_slip(self) -> ClaimRow | None:
        return next((row for row in self.rows if row.verdict not in RIGHT_VERDICTS), None)

    @property
    def counts(self) -> dict[str, int]:
        """How many claims got each verdict, in ``CLAIM_VERDICTS`` order."""
        return {v: sum(row.verdict == v for row in self.rows) for v in CLAIM_VERDICTS}

    @property
    def score(self) -> float:
        """The share of claims judged right in one of ``RIGHT_VERDICTS`` (1.0 for an empty sheet)."""
        return sum(row.verdict in RIGHT_VERDICTS for row in self.rows) / len(self.rows) if self.rows else 1.0

    def summary(self) -> str:
        counts = self.counts
        shown = [v for v in CLAIM_VERDICTS if v in _ALWAYS_COUNTED or counts[v]]
        text = f"{len(self.rows)} claims: " + ", ".join(f"{counts[v]} {v}" for v in shown)
        slip = self.first_slip
        if slip is None:
            return text + "; every claim holds"
        return (text + f"; first slip on line {slip.line} ({shorten(slip.claim, 80)} = {shorten(slip.claimed, 80)}): "
                f"{slip.explanation}")

    def to_text(self) -> str:
        header = ("line", "claim", "your value", "exact value", "verdict", "explanation")
        # a long value (a chain of thousands of factors) is cut in the table, kept whole in the JSON
        rows = [(str(r.line), shorten(r.claim, 80), shorten(r.claimed, 80), r.exact, r.verdict, r.stated)
                for r in self.rows]
        return "\n".join(format_table(header, rows)) + "\n\n" + self.summary() + "\n"

    def to_json(self) -> str:
        claims = [{"line": r.line, "claim": r.claim, "claimed": r.claimed, "exact": r.exact, "verdict": r.verdict,
                   "explanation": r.stated} for r in self.rows]
        return json.dumps({"ok": self.ok, "claims": claims}, indent=2, ensure_ascii=False) + "\n"
