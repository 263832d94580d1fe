"""Document blocks as Beamer slides for pdflatex, paced one idea per frame as lecture slides are.

A frame holds a section's text and one block of equations: the network (its given numbers grouped),
the forward pass, each δ, each gradient's chain form with its factors, its product and its update get
a frame each, a step too short for a slide sharing its neighbour's (``_packed``). A frame whose
equations do not fit continues on the next slide (``allowframebreaks``), breaking between rows. A
frame of text only (the notation, the network) takes the largest type it fills without running over
(``_text_size``), and a group of given numbers too long for one line is a grid under its label.
Text from the spec (title, author, date) is escaped, so it can never run a LaTeX command.
"""

from __future__ import annotations

import re

from .blocks import Block, Byline, Heading, Paragraph, Table
from .latex_writer import escape_text, paragraph_latex

__all__ = ["write_beamer"]

_PREAMBLE = r"""\PassOptionsToPackage{fleqn}{amsmath}
\documentclass[10pt,aspectratio=169]{beamer}
\usetheme{default}
\setbeamertemplate{navigation symbols}{}
\setbeamertemplate{footline}{\hfill\usebeamerfont{page number in head/foot}\insertframenumber\kern1em\vskip4pt}
\setbeamertemplate{frametitle continuation}[from second][(continued)]
\usepackage{amsmath,amssymb}
\setlength{\mathindent}{0.5em}
\setbeamersize{text margin left=0.6cm,text margin right=0.6cm}
\allowdisplaybreaks
\setlength{\jot}{5pt}
"""


def _frame(title: str, body: list[str]) -> str:
    if not any("\\begin{align*}" in part for part in body):
        size = _text_size(body)  # a frame of text only (the notation, the network): as large as it fits
        body = [size + "\\setlength{\\parskip}{0.4em}"] + body  # the paragraphs spaced, as on a slide
    return f"\\begin{{frame}}[t,allowframebreaks]{{{title}}}\n" + "\n\n".join(body) + "\n\\end{frame}"


# A frame of text only takes the largest of these sizes (scale against 10 pt) its text fills at most
# _TEXT_LINES lines of; the 16:9 frame holds about 17 lines of 10 pt text under its title.
_SIZES = (("\\LARGE", 1.728), ("\\Large", 1.44), ("\\large", 1.2))
_TEXT_LINES = 16.5
_GRID_ROWS = 8  # rows of one grid: a longer group is several grids, so that a slide can break between them
_GRID_WIDTH = 70  # characters of visible text a row of the given numbers' grid takes at most (fits \Large)


def _visible(latex: str) -> int:
    """About how many characters ``latex`` shows: commands that only format count nothing, a symbol one."""
    text = re.sub(r"\\hangindent=[\d.]+em\\hangafter=\d+", "", latex)
    text = re.sub(r"\\(mathrm|mbox|textbf|operatorname|frac|left|right|begin\{\w+\*?\}|end\{\w+\*?\})", "", text)
    text = re.sub(r"\\[A-Za-z]+", "x", text)
    return len(re.sub(r"[{}$_^&\\]", "", text))


def _text_height(body: list[str], scale: float) -> float:
    """About how many lines of 10 pt ``body`` takes at ``scale``: its paragraphs, grids and displays."""
    per_line = _LINE / scale
    total = 0.0
    for part in body:
        text, _, grid = part.partition("\\begin{tabular}")
        text, _, display = text.partition("\\[")
        total += 0.4 + -(-_visible(text) // per_line)  # a paragraph, and the skip before it
        total += 1.15 * (grid.count("\\\\") + 1) if grid else 0
        total += (2.8 if "\\sum" in display else 2.0) if display else 0
    return total * scale


def _text_size(body: list[str]) -> str:
    """The size command for a frame of text only: the largest that it fills without running over."""
    return next((command for command, scale in _SIZES if _text_height(body, scale) <= _TEXT_LINES), "")


_ROWS_PER_FRAME = 6  # rows of equations a 16:9 frame holds at 10pt with fractions, before it looks crowded
_ROWS_SHORT = 3  # a frame of at most this many rows is nearly empty: it joins the next step of its section
_HEIGHT_MAX = 11.5  # ... while the two fit in this many lines (``_height``)
_LINE = 110  # characters of text a line of a 16:9 frame holds at 10pt


def _rows(body: list[str]) -> int:
    """About how many rows of equations ``body`` takes (a line of text counts as one)."""
    total = 0
    for part in body:
        text, _, equations = part.partition("\\begin{align*}")
        total += (equations.count("\\\\") + 1 if equations else 0) + (1 + len(text) // _LINE if text.strip() else 0)
    return total


def _height(body: list[str]) -> float:
    """About how tall ``body`` is, in lines of text: a row with a fraction is taller than a line, and a block of
    equations that no text leads into opens with an empty line."""
    total = 0.0
    for part in body:
        text, _, equations = part.partition("\\begin{align*}")
        rows = equations.split("\\\\") if equations else []
        total += sum(1.3 if "\\frac" in row else 1.0 for row in rows) + (1 + len(text) // _LINE if text.strip() else 1)
    return total


def _packed(frames: list[tuple[str, list[str]]]) -> list[str]:
    """The frames, packed so that none is a near-empty slide: a section that is one short line (the loss) goes
    under the frame before it; consecutive steps of one section (two short δ's) share a frame while they fit
    in ``_ROWS_PER_FRAME`` rows; and a near-empty step (a chain form; a section's last step, the product)
    joins its neighbour in the section while the two fit in ``_HEIGHT_MAX`` lines."""
    out: list[tuple[str, list[str]]] = []
    carried: list[str] = []  # a one-line section that did not fit the frame before: it opens the next one
    for k, (section, body) in enumerate(frames):
        alone = len(body) == 1 and body[0].startswith("\\begin{align*}") and "\\\\" not in body[0]
        before = _rows(out[-1][1]) if out and out[-1][0] == section else None
        last = k + 1 == len(frames) or frames[k + 1][0] != section
        if alone and out and _rows(out[-1][1]) + 2 <= _ROWS_PER_FRAME:
            out[-1] = (out[-1][0], out[-1][1] + [f"\\textbf{{{section}}}", body[0]])
        elif alone and out and not carried:
            carried = [f"\\textbf{{{section}}}", body[0]]
        elif before is not None and (before + _rows(body) <= _ROWS_PER_FRAME or (
                (before <= _ROWS_SHORT or (last and _rows(body) <= _ROWS_SHORT))
                and _height(out[-1][1]) + _height(body) <= _HEIGHT_MAX)):
            out[-1] = (section, out[-1][1] + body)
        else:
            out.append((section, carried + body))
            carried = []
    if carried:
        out.append((out[-1][0], carried))
    return [_frame(section, body) for section, body in out]


def _paragraph(block: Paragraph) -> str:
    """A paragraph on a slide; one that ends in a formula after a colon (the notation's sum over the
    consumers) shows the formula displayed under it, as a slide would."""
    parts = block.parts
    if len(parts) >= 3 and parts[-3] == ("text", ": ") and parts[-2][0] == "math" and parts[-1] == ("text", "."):
        return paragraph_latex(Paragraph(parts[:-3] + (("text", ":"),))) + f"\n\\[ {parts[-2][1]} \\]"
    return paragraph_latex(block)


def _given(table: Table) -> list[str]:
    """On a slide, the given numbers grouped by what they are (**Inputs:** i1 = 0.05, i2 = 0.1.); a group too
    long for one line is a grid under its label, in as many columns as fit. The computed values come with
    the forward pass. A table without given rows lists every row."""
    if not table.given:
        return [", ".join(f"\\mbox{{${symbol} = {value}$}}" for symbol, _, value in table.rows) + "."]
    groups: dict[str, list[str]] = {}
    for k in table.given:
        symbol, meaning, value = table.rows[k]
        label = "".join(text for kind, text in meaning if kind == "text")
        groups.setdefault(label, []).append(f"${symbol} = {value}$")
    found = []
    for label, items in groups.items():
        first, _, rest = label.partition(" ")
        label = escape_text(first.capitalize() + ("s" if len(items) > 1 else "") + (" " + rest if rest else ""))
        inline = ", ".join(f"\\mbox{{{item}}}" for item in items) + "."
        widest = max(_visible(item) + 2 * item.count("-") for item in items) + 4  # a minus sign is wide
        if len(label) + sum(_visible(item) + 2 for item in items) <= _GRID_WIDTH or widest * 2 > _GRID_WIDTH:
            found.append(f"\\hangindent=1.5em\\hangafter=1 \\textbf{{{label}:}} " + inline)
            continue
        columns = min(len(items), _GRID_WIDTH // widest, 6)
        if -(-len(items) // columns) > _GRID_ROWS:  # too long for large type anyway: as wide as 10 pt allows
            columns = min(len(items), (_LINE - 10) // widest, 8)
        rows = [" & ".join(items[k:k + columns]) for k in range(0, len(items), columns)]
        grids = ["\\begin{tabular}{@{}" + "l" * columns + "@{}}\n" + " \\\\\n".join(rows[k:k + _GRID_ROWS])
                 + "\n\\end{tabular}" for k in range(0, len(rows), _GRID_ROWS)]  # a slide may break between two
        found.append(f"\\textbf{{{label}:}}\\par\\vspace{{0.3em}}\n" + "\\par\n".join(grids))
    return found


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
            body.append(_paragraph(block))
        elif isinstance(block, Table):
            body += _given(block)
        else:
            rows = "".join(f"{left} &{right}" + ("" if k + 1 == len(block.rows) else
                                                 " \\\\*\n" if not block.rows[k + 1][0] else " \\\\\n")
                           for k, (left, right) in enumerate(block.rows))  # never a frame break inside one equation
            align = f"\\begin{{align*}}\n{rows}\n\\end{{align*}}"
            if body and "\\begin{align*}" not in body[-1]:  # the text that leads to it, in one paragraph with it
                body[-1] += "\n" + align
            else:
                body.append(align)
            frames.append((section, body))
            body = []
    if body:
        frames.append((section, body))
    if not any(line.startswith("\\author") for line in header):
        header.append("\\author{}\n\\date{}")
    title = "\\begin{frame}\n\\titlepage\n\\end{frame}" if any(h.startswith("\\title") for h in header) else ""
    return "\n\n".join([_PREAMBLE + "\n".join(header), "\\begin{document}", *filter(None, [title]), *_packed(frames),
                        "\\end{document}"]) + "\n"
