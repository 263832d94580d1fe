"""The Markdown worked solution: headings, text and ``$…$`` / ``$$…$$`` math for GitHub and Jupyter.

It only formats a ``Solution``, writing the same blocks as the LaTeX article
(``render.latex.document_blocks``): the math is the same LaTeX, the text is escaped for
Markdown so a spec's description cannot add markup, links, HTML or math.
"""

from __future__ import annotations

import re

from ..solution import Solution
from .latex import Block, Heading, Paragraph, document_blocks

__all__ = ["render_markdown", "escape_markdown", "write_markdown"]

_SPECIAL = set("\\`*_[]#|$~")  # with < > & as entities: no markup, link, HTML or math


def escape_markdown(text: str) -> str:
    """``text`` as inert Markdown: punctuation backslash-escaped, ``<`` and ``&`` as entities, one line.

    >>> print(escape_markdown("<b>$x$</b>"))
    &lt;b&gt;\\$x\\$&lt;/b&gt;
    """
    out = []
    for ch in re.sub(r"\s+", " ", text):
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _SPECIAL:
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
    return "".join(out)


def render_markdown(solution: Solution, *, title: str | None = None) -> str:
    """The worked solution as Markdown, the same bytes for the same input.

    ``title`` defaults to the network's description; it is escaped.

    >>> import symgrad
    >>> md = render_markdown(symgrad.solve(symgrad.derive(symgrad.load("perceptron")), digits=4))
    >>> print(md.splitlines()[0])
    # The world's smallest perceptron y = w\\*x on four (x, y) pairs, squared error (fifth lecture)
    """
    title = solution.network.description if title is None else title
    return write_markdown(document_blocks(solution, title=title))


def write_markdown(blocks: list[Block]) -> str:
    """Document blocks as Markdown: text escaped, math as ``$…$`` and ``$$…$$`` (every Markdown document)."""
    parts = []
    for block in blocks:
        if isinstance(block, (Heading, Paragraph)):
            text = "".join(escape_markdown(text) if kind == "text" else f"${text}$" for kind, text in block.parts)
            parts.append(f"{'#' * (block.level + 1)} {text}" if isinstance(block, Heading) else text)
        else:
            body = " \\\\\n".join(f"{left} &{right}" for left, right in block.rows)
            parts.append(f"$$\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n$$")
    return "\n\n".join(parts) + "\n"
