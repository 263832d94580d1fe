"""The JSON report: one object, every number a decimal string of at least 15 significant digits."""

from __future__ import annotations

import json

from ..chain import Derivation
from ..evaluate import GradientValues, to_decimal
from ..train import Step

__all__ = ["render_json", "JSON_MIN_DIGITS"]

JSON_MIN_DIGITS = 17


def render_json(derivation: Derivation, values: GradientValues, *, digits: int, update: Step | None = None) -> str:
    """``{"output", "values", "adjoints", "gradients", "updated"?}`` as stable, indented JSON."""
    n = max(digits, JSON_MIN_DIGITS)
    report = {
        "output": derivation.output,
        "values": {k: to_decimal(v, n) for k, v in values.values.items()},
        "adjoints": {k: to_decimal(values.adjoints[k], n) for k in derivation.order[::-1] if k in values.adjoints},
        "gradients": {p: to_decimal(values.gradients[p], n) for p in derivation.network.params},
    }
    if update is not None:
        report["updated"] = {p: to_decimal(v, n) for p, v in update.after.items()}
    return json.dumps(report, indent=2) + "\n"
