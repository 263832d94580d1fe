"""Document blocks as Markdown: headings, text and ``$…$`` / ``$$…$$`` math for GitHub and Jupyter.

Every Markdown document symgrad writes (the worked solution, the symbolic chain rule) is written
here from its blocks (``render.blocks``): the math is the same LaTeX as in the article, the text
is escaped for Markdown so a spec's description cannot add markup, links, HTML or math.
"""

from __future__ import annotations

import re

from .blocks import Block, Byline, Heading, Paragraph, Table

__all__ = ["escape_markdown", "write_markdown"]

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


def _inline(parts: tuple[tuple[str, str], ...]) -> str:
    return "".join(escape_markdown(text) if kind == "text" else f"${text}$" for kind, text in parts)


def write_markdown(blocks: list[Block]) -> str:
    """Document blocks as Markdown: text escaped, math as ``$…$`` and ``$$…$$``, the same bytes for the same blocks."""
    parts = []
    for block in blocks:
        if isinstance(block, Byline):
            parts.append("*" + escape_markdown(", ".join(line for line in (block.author, block.date) if line)) + "*")
        elif isinstance(block, (Heading, Paragraph)):
            text = "".join(escape_markdown(text) if kind == "text" else f"${text}$" for kind, text in block.parts)
            parts.append(f"{'#' * (block.level + 1)} {text}" if isinstance(block, Heading) else text)
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(escape_markdown(h) for h in block.header) + " |", "|---|---|---|"]
            lines += [f"| ${symbol}$ | {_inline(meaning)} | ${value}$ |" for symbol, meaning, value in block.rows]
            parts.append("\n".join(lines))
        else:
            body = " \\\\\n".join(f"{left} &{right}" for left, right in block.rows)
            parts.append(f"$$\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n$$")
    return "\n\n".join(parts) + "\n"
