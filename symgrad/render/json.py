"""The JSON report: one object, every number a decimal string of at least 17 significant digits.

It only formats a ``Solution``; every number was computed once by ``symgrad.solve``.
"""

from __future__ import annotations

import json

from ..precision import JSON_MIN_DIGITS, to_decimal
from ..solution import Solution

__all__ = ["render_json"]


def render_json(solution: Solution) -> str:
    """``{"output", "values", "adjoints", "gradients", "updated"?}`` as stable, indented JSON."""
    n = max(solution.digits, JSON_MIN_DIGITS)
    report = {
        "output": solution.output,
        "values": {k: to_decimal(v, n) for k, v in solution.numbers.values.items()},
        "adjoints": {d.name: to_decimal(d.value, n) if d.value is not None else None for d in solution.deltas},
        "gradients": {p: to_decimal(g, n) for p, g in solution.numbers.gradients.items()},
    }
    if solution.rounding.active:
        report["rounding"] = {"mode": solution.rounding.mode, "digits": solution.rounding.digits}
    if solution.updates:
        if solution.update_rule != "simultaneous":
            report["update_rule"] = solution.update_rule
        report["updated"] = {u.param: to_decimal(u.after, n) for u in solution.updates}
    return json.dumps(report, indent=2) + "\n"
