"""Document blocks as LaTeX: a standalone article for pdflatex, or text with math for MathJax.

Every LaTeX document symgrad writes (the worked solution, the symbolic chain rule) is written here
from its blocks (``render.blocks``). Text from the spec (title, description) is escaped, so it
can never run a LaTeX command.
"""

from __future__ import annotations

import unicodedata

from .blocks import Block, Byline, Heading, Paragraph

__all__ = ["escape_text", "paragraph_latex", "write_article", "write_math"]

# Text characters LaTeX treats specially, and a few common non-ASCII ones pdflatex cannot take as they are.
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
    "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "|": r"\textbar{}", '"': "''", "σ": r"$\sigma$", "δ": r"$\delta$", "η": r"$\eta$", "∂": r"$\partial$",
    "−": "-", "·": r"$\cdot$", "×": r"$\times$", "²": r"$^2$", "→": r"$\to$", "′": r"$'$", "⊙": r"$\odot$",
    "ŷ": r"$\hat{y}$", "’": "'", "‘": "`", "“": "``", "”": "''", "–": "--", "—": "---", "…": r"\dots{}",
}

_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\setlength{\emergencystretch}{3em}
\setlength{\jot}{7pt}
\makeatletter
\g@addto@macro\normalsize{\setlength\abovedisplayskip{6pt plus 2pt}\setlength\belowdisplayskip{6pt plus 2pt}%
  \setlength\abovedisplayshortskip{2pt plus 2pt}\setlength\belowdisplayshortskip{4pt plus 2pt}}
\makeatother
\begin{document}
"""


def escape_text(text: str) -> str:
    """``text`` as inert LaTeX text: special characters escaped, control characters dropped.

    Accented letters lose their accents and other non-ASCII characters become ``?``, so any
    text compiles with pdflatex.

    >>> print(escape_text(r"50% of $x_1$ \\input{f}"))
    50\\% of \\$x\\_1\\$ \\textbackslash{}input\\{f\\}
    """
    out = []
    for ch in text:
        if ch in _TEXT_ESCAPES:
            out.append(_TEXT_ESCAPES[ch])
        elif ch in "\n\t\r":
            out.append(" ")
        elif " " <= ch <= "~":
            out.append(ch)
        elif unicodedata.category(ch).startswith("C"):
            continue
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
            out.append("".join(_TEXT_ESCAPES.get(c, c) for c in plain if " " <= c <= "~") or "?")
    return "".join(out)


def _align(rows: tuple[tuple[str, str], ...], environment: str) -> str:
    body = " \\\\\n".join(f"{left} &{right}" for left, right in rows)
    return f"\\begin{{{environment}}}\n{body}\n\\end{{{environment}}}"


def paragraph_latex(paragraph: Paragraph | Heading) -> str:
    return "".join(escape_text(text) if kind == "text" else f"${text}$" for kind, text in paragraph.parts)


def _byline(block: Byline) -> str:
    lines = [escape_text(line) for line in (block.author, block.date) if line]
    return "{\\raggedright " + "\\\\\n".join(lines) + "\\par}"


def write_article(blocks: list[Block]) -> str:
    """Document blocks as a standalone LaTeX article (pdflatex), the same bytes for the same blocks."""
    parts = [_PREAMBLE]
    for block in blocks:
        if isinstance(block, Heading):
            text = paragraph_latex(block)
            parts.append(f"\\section*{{{text}}}" if block.level else f"{{\\raggedright\\Large\\bfseries {text}\\par}}")
        elif isinstance(block, Byline):
            parts.append(_byline(block))
        elif isinstance(block, Paragraph):
            parts.append(paragraph_latex(block))
        else:
            parts.append(_align(block.rows, "align*"))
    parts.append("\\end{document}")
    return "\n\n".join(parts) + "\n"


def write_math(blocks: list[Block]) -> str:
    """Document blocks for MathJax (Jupyter's ``_repr_latex_``): text with ``$…$`` and ``$$…$$`` math,
    no preamble or sections."""
    parts = []
    for block in blocks:
        if isinstance(block, Byline):
            parts.append(", ".join(line.replace("$", r"\$") for line in (block.author, block.date) if line))
        elif isinstance(block, (Heading, Paragraph)):
            parts.append("".join(text.replace("$", r"\$") if kind == "text" else f"${text}$"
                                 for kind, text in block.parts))
        else:
            parts.append("$$" + _align(block.rows, "aligned") + "$$")
    return "\n\n".join(parts) + "\n"
