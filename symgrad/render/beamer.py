"""The worked solution as lecture slides: a Beamer presentation that compiles with pdflatex.

It only formats a ``Solution``, writing the same blocks as the LaTeX article (``solution_blocks``)
with ``beamer_writer``: a title slide, then the network, the forward pass, each δ, each requested
gradient and its update, one idea per frame.
"""

from __future__ import annotations

from ..solution import Solution
from .beamer_writer import write_beamer
from .solution_blocks import solution_blocks

__all__ = ["render_beamer"]


def render_beamer(solution: Solution, *, title: str | None = None, author: str = "", date: str = "") -> str:
    """The worked solution as Beamer slides (pdflatex), the same bytes for the same input.

    ``title`` defaults to the spec's title or description, ``author`` and ``date`` to the spec's;
    all are escaped, never run.

    >>> import symgrad
    >>> s = symgrad.solve(symgrad.derive(symgrad.load("mazur")), digits=9).restrict(["w5"])
    >>> r"\\documentclass[10pt,aspectratio=169]{beamer}" in render_beamer(s).splitlines()[:2]
    True
    """
    return write_beamer(solution_blocks(solution, title=title, author=author, date=date))
