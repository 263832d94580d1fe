"""``symgrad report``: derive, evaluate and (with a learning rate) update, then render."""

from __future__ import annotations

from .chain import derive
from .errors import SymgradError
from .evaluate import evaluate_gradients
from .graph import Network
from .render.json import JSON_MIN_DIGITS, render_json
from .render.text import render_text
from .train import step

__all__ = ["report", "FORMATS"]

FORMATS = ("text", "json")


def report(network: Network, *, digits: int = 9, format: str = "text", title: str = "") -> str:
    """The full derivation of ``network`` as text or JSON.

    >>> import symgrad
    >>> print(report(symgrad.load("two_neurons"), digits=3).splitlines()[-2])
      df/dw_b2 = 1
    """
    if format not in FORMATS:
        raise SymgradError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    derivation = derive(network)
    working = max(digits, JSON_MIN_DIGITS) if format == "json" else digits
    values = evaluate_gradients(derivation, digits=working + 2)
    update = None
    if network.learning_rate is not None and derivation.params:
        update = step(derivation, digits=working + 2)
    if format == "json":
        return render_json(derivation, values, digits=working, update=update)
    return render_text(derivation, values, digits=digits, update=update, title=title)
