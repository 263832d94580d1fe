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

_PREAMBLE = r"""\PassOptionsToPackage{fleqn}{amsmath}
\documentclass[10pt,aspectratio=169]{beamer}
\usetheme{default}
\setbeamertemplate{navigation symbols}{}
\setbeamertemplate{footline}[frame number]
\setbeamertemplate{frametitle continuation}[from second][(continued)]
\usepackage{amsmath,amssymb}
\setlength{\mathindent}{0.5em}
\setbeamersize{text margin left=0.6cm,text margin right=0.6cm}
\allowdisplaybreaks
\setlength{\jot}{5pt}
"""


def _frame(title: str, body: list[str]) -> str:
    return f"\\begin{{frame}}[t,allowframebreaks]{{{title}}}\n" + "\n\n".join(body) + "\n\\end{frame}"


_ROWS_PER_FRAME = 6  # rows of equations a 16:9 frame holds at 10pt with fractions, before it looks crowded


def _rows(body: list[str]) -> int:
    """About how many rows of equations ``body`` takes (a paragraph counts as two)."""
    return sum(part.count("\\\\") + 1 if part.startswith("\\begin{align*}") else 2 for part in body)


def _packed(frames: list[tuple[str, list[str]]]) -> list[str]:
    """The frames, packed so that none is a near-empty slide: a section that is one short line (the loss) goes
    under the frame before it, and consecutive steps of one section (two short δ's) share a frame while
    they fit in ``_ROWS_PER_FRAME`` rows."""
    out: list[tuple[str, list[str]]] = []
    carried: list[str] = []  # a one-line section that did not fit the frame before: it opens the next one
    for section, body in frames:
        alone = len(body) == 1 and body[0].startswith("\\begin{align*}") and "\\\\" not in body[0]
        if alone and out and _rows(out[-1][1]) + 2 <= _ROWS_PER_FRAME:
            out[-1] = (out[-1][0], out[-1][1] + [f"\\textbf{{{section}}}", body[0]])
        elif alone and out and not carried:
            carried = [f"\\textbf{{{section}}}", body[0]]
        elif out and out[-1][0] == section and _rows(out[-1][1]) + _rows(body) <= _ROWS_PER_FRAME:
            out[-1] = (section, out[-1][1] + body)
        else:
            out.append((section, carried + body))
            carried = []
    if carried:
        out.append((out[-1][0], carried))
    return [_frame(section, body) for section, body in out]


def write_beamer(blocks: list[Block]) -> str:
    """Document blocks as a Beamer presentation (pdflatex), the same bytes for the same blocks.

    >>> from symgrad.render.blocks import Heading, Equations
    >>> tex = write_beamer([Heading(0, (("text", "w5"),)), Heading(1, (("text", "Loss"),)),
    ...                     Equations((("E", "= 0.298"),))])
    >>> tex.count(r"\\begin{frame}")
    2
    """
    header: list[str] = []
    frames: list[tuple[str, list[str]]] = []
    section, body = "Notation", []
    for block in blocks:
        if isinstance(block, Heading) and block.level == 0:
            header.append(f"\\title{{{paragraph_latex(block)}}}")
        elif isinstance(block, Byline):
            header.append(f"\\author{{{escape_text(block.author)}}}\n\\date{{{escape_text(block.date)}}}")
        elif isinstance(block, Heading):
            if body:
                frames.append((section, body))
            section, body = paragraph_latex(block), []
        elif isinstance(block, Paragraph):
            body.append(paragraph_latex(block))
        elif isinstance(block, Table):  # on a slide, the symbols and their values as one list
            body.append(", ".join(f"${symbol} = {value}$" for symbol, _, value in block.rows) + ".")
        else:
            rows = "".join(f"{left} &{right}" + ("" if k + 1 == len(block.rows) else
                                                 " \\\\*\n" if not block.rows[k + 1][0] else " \\\\\n")
                           for k, (left, right) in enumerate(block.rows))  # never a frame break inside one equation
            body.append(f"\\begin{{align*}}\n{rows}\n\\end{{align*}}")
            frames.append((section, body))
            body = []
    if body:
        frames.append((section, body))
    if not any(line.startswith("\\author") for line in header):
        header.append("\\author{}\n\\date{}")
    title = "\\begin{frame}\n\\titlepage\n\\end{frame}" if any(h.startswith("\\title") for h in header) else ""
    return "\n\n".join([_PREAMBLE + "\n".join(header), "\\begin{document}", *filter(None, [title]), *_packed(frames),
                        "\\end{document}"]) + "\n"
