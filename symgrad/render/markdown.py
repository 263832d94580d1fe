"""The Markdown worked solution: headings, text and ``$…$`` / ``$$…$$`` math for GitHub and Jupyter.

It only formats a ``Solution``, writing the same blocks as the LaTeX article
(``solution_blocks``) with ``markdown_writer``: the math is the same LaTeX, the text is escaped
for Markdown so a spec's description cannot add markup, links, HTML or math.
"""

from __future__ import annotations

from ..solution import Solution
from .markdown_writer import write_markdown
from .solution_blocks import solution_blocks

__all__ = ["render_markdown"]


def render_markdown(solution: Solution, *, title: str | None = None, author: str = "", date: str = "") -> str:
    """The worked solution as Markdown, the same bytes for the same input.

    ``title`` defaults to the spec's title or description, ``author`` and ``date`` to the spec's; it is escaped.

    >>> import symgrad
    >>> md = render_markdown(symgrad.solve(symgrad.derive(symgrad.load("perceptron")), digits=4))
    >>> print(md.splitlines()[0])
    # The world's smallest perceptron y = w\\*x on four (x, y) pairs, squared error (fifth lecture)
    """
    return write_markdown(solution_blocks(solution, title=title, author=author, date=date))
