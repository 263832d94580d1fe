"""Document blocks as Beamer slides for pdflatex, paced one idea per frame as lecture slides are.

A frame holds a section's text and one block of equations: the network, the forward pass, each δ,
each gradient's chain form, its factors, its product and its update get a frame each. A frame whose
equations do not fit continues on the next slide (``allowframebreaks``), breaking between rows.
Text from the spec (title, author, date) is escaped, so it can never run a LaTeX command.
"""

from __future__ import annotations

from .blocks import Block, Byline, Heading, Paragraph, Table
from .latex_writer import escape_text, paragraph_latex

__all__ = ["write_beamer"]

_PREAMBLE = r"""\documentclass[10pt,aspectratio=169]{beamer}
\usetheme{default}
\setbeamertemplate{navigation symbols}{}
\setbeamertemplate{footline}[frame number]
\setbeamertemplate{frametitle continuation}[from second][(continued)]
\usepackage{amsmath,amssymb}
\allowdisplaybreaks
\setlength{\jot}{5pt}
"""


def _frame(title: str, body: list[str]) -> str:
    return f"\\begin{{frame}}[t,allowframebreaks]{{{title}}}\n\\small\n" + "\n\n".join(body) + "\n\\end{frame}"


def write_beamer(blocks: list[Block]) -> str:
    """Document blocks as a Beamer presentation (pdflatex), the same bytes for the same blocks.

    >>> from symgrad.render.blocks import Heading, Equations
    >>> tex = write_beamer([Heading(0, (("text", "w5"),)), Heading(1, (("text", "Loss"),)),
    ...                     Equations((("E", "= 0.298"),))])
    >>> tex.count(r"\\begin{frame}")
    2
    """
    header: list[str] = []
    frames: list[str] = []
    section, body = "Notation", []
    for block in blocks:
        if isinstance(block, Heading) and block.level == 0:
            header.append(f"\\title{{{paragraph_latex(block)}}}")
        elif isinstance(block, Byline):
            header.append(f"\\author{{{escape_text(block.author)}}}\n\\date{{{escape_text(block.date)}}}")
        elif isinstance(block, Heading):
            if body:
                frames.append(_frame(section, body))
            section, body = paragraph_latex(block), []
        elif isinstance(block, Paragraph):
            body.append(paragraph_latex(block))
        elif isinstance(block, Table):  # on a slide, the symbols and their values as one list
            body.append(", ".join(f"${symbol} = {value}$" for symbol, _, value in block.rows) + ".")
        else:
            rows = " \\\\\n".join(f"{left} &{right}" for left, right in block.rows)
            body.append(f"\\begin{{align*}}\n{rows}\n\\end{{align*}}")
            frames.append(_frame(section, body))
            body = []
    if body:
        frames.append(_frame(section, body))
    if not any(line.startswith("\\author") for line in header):
        header.append("\\author{}\n\\date{}")
    title = "\\begin{frame}\n\\titlepage\n\\end{frame}" if any(h.startswith("\\title") for h in header) else ""
    return "\n\n".join([_PREAMBLE + "\n".join(header), "\\begin{document}", *filter(None, [title]), *frames,
                        "\\end{document}"]) + "\n"
