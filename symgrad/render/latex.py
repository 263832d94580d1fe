"""The LaTeX worked solution: a standalone article that compiles with pdflatex, or MathJax for Jupyter.

It only formats a ``Solution``; every number was computed once by ``symgrad.solve``. The document
is built once as blocks (``solution_blocks``) and written by ``latex_writer``; ``render.markdown``
writes the same blocks as Markdown.
"""

from __future__ import annotations

from ..solution import Solution
from .latex_writer import write_article, write_math
from .solution_blocks import solution_blocks

__all__ = ["render_latex", "render_latex_math"]


def render_latex(solution: Solution, *, title: str | None = None, author: str = "", date: str = "") -> str:
    """The worked solution as a standalone LaTeX article (pdflatex), the same bytes for the same input.

    ``title`` defaults to the spec's title or description, ``author`` and ``date`` to the spec's; it is escaped, never run.

    >>> import symgrad
    >>> s = symgrad.solve(symgrad.derive(symgrad.load("mazur")), digits=9)
    >>> tex = render_latex(s)
    >>> r"\\frac{\\partial \\mathrm{out}_{\\mathrm{o1}}}{\\partial \\mathrm{net}_{\\mathrm{o1}}}" in tex
    True
    """
    return write_article(solution_blocks(solution, title=title, author=author, date=date))


def render_latex_math(solution: Solution) -> str:
    """The worked solution for MathJax (Jupyter's ``_repr_latex_``): text with ``$…$`` and ``$$…$$`` math."""
    return write_math(solution_blocks(solution, title=""))
