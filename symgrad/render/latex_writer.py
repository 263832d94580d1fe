"""Document blocks as LaTeX: a standalone article for pdflatex, or text with math for MathJax.

Every LaTeX document symgrad writes (the worked solution, the symbolic chain rule) is written here
from its blocks (``render.blocks``). Text from the spec (title, description) is escaped, so it
can never run a LaTeX command.
"""

from __future__ import annotations

import unicodedata

from .blocks import Block, Byline, Equations, Heading, Paragraph, Table

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
\usepackage[fleqn]{amsmath}
\usepackage{amssymb,longtable}
\setlength{\mathindent}{1.5em}
\setlength{\LTleft}{1.5em}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\setlength{\emergencystretch}{3em}
\setlength{\jot}{7pt}
\makeatletter
\g@addto@macro\normalsize{\setlength\abovedisplayskip{6pt plus 2pt}\setlength\belowdisplayskip{6pt plus 2pt}%
  \setlength\abovedisplayshortskip{2pt plus 2pt}\setlength\belowdisplayshortskip{4pt plus 2pt}}
\postdisplaypenalty=10000
\ifdefined\NewMarkClass % a page that breaks inside a block says so at its foot and the next page's head
  \NewMarkClass{symgrad}\def\symgradmark#1{\InsertMark{symgrad}{#1}}
  \def\symgrad@top{\TopMark{symgrad}}\def\symgrad@last{\LastMark{symgrad}}
\else % LaTeX before 2022-06: e-TeX's mark class 7
  \def\symgradmark#1{\marks7{#1}}\def\symgrad@top{\topmarks7}\def\symgrad@last{\botmarks7}
\fi
\def\symgrad@openmark{open}
\def\symgrad@ifopen#1#2{\edef\@tempa{#1}\ifx\@tempa\symgrad@openmark#2\fi}
\def\ps@symgrad{\let\@mkboth\@gobbletwo
  \def\@oddhead{\symgrad@ifopen{\symgrad@top}{\rlap{\small\itshape (continued from the previous page)}}\hfil}%
  \def\@oddfoot{\hfil\thepage\hfil\symgrad@ifopen{\symgrad@last}{\llap{\small\itshape (continued on the next page)}}}%
  \let\@evenhead\@oddhead\let\@evenfoot\@oddfoot}
\pagestyle{symgrad}
% a short section starts a new page rather than split (as the needspace package does it)
\newcommand\symgradneed[1]{\par\begingroup\setlength{\dimen@}{#1}\vskip\z@\@plus\dimen@\penalty-100
  \vskip\z@\@plus-\dimen@\vskip\dimen@\penalty9999\vskip-\dimen@\vskip\z@skip\endgroup}
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


def _rows(rows: tuple[tuple[str, str], ...]) -> list[str]:
    """Rows of one aligned block; a row continuing the equation above (no left side) is joined with ``\\\\*``,
    so a page can break between equations but never inside one."""
    lines = []
    for k, (left, right) in enumerate(rows):
        end = "" if k + 1 == len(rows) else (" \\\\*" if not rows[k + 1][0] else " \\\\")
        lines.append(f"{left} &{right}{end}")
    return lines


def _section_align(run: list[Equations | Paragraph]) -> str:
    """A section's equations as one ``align*``, flush left and aligned at the equals sign throughout;
    the text between them is ``\\intertext``. Marks around it make a page that breaks inside it say so
    at its foot, and the next page at its head (the ``symgrad`` page style)."""
    lines: list[str] = []
    for k, block in enumerate(run):
        if isinstance(block, Paragraph):
            lines.append(f"\\intertext{{{paragraph_latex(block)}}}")
            continue
        rows = _rows(block.rows)
        if k + 1 < len(run) and isinstance(run[k + 1], Equations):
            rows[-1] += " \\\\"
        lines += rows
    return ("\\symgradmark{open}\\nobreak\\vspace{-\\baselineskip}\n\\begin{align*}\n" + "\n".join(lines)
            + "\n\\end{align*}\n\\par\\symgradmark{closed}")


def _table(table: Table) -> str:
    """A table of symbols (``longtable``: it may run over a page, marked continued there, its header repeated)."""
    head = " & ".join(f"\\textbf{{{escape_text(h)}}}" for h in table.header) + r" \\ \hline"
    rows = [f"${symbol}$ & {paragraph_latex(Paragraph(meaning))} & ${value}$ \\\\"
            for symbol, meaning, value in table.rows]
    more = r"\multicolumn{3}{@{}l@{}}{\small\itshape (continued from the previous page)} \\"
    foot = r"\multicolumn{3}{@{}r@{}}{\small\itshape (continued on the next page)} \\"
    return ("\\begin{longtable}{@{}lp{0.55\\linewidth}l@{}}\n" + head + "\n\\endfirsthead\n" + more + "\n" + head
            + "\n\\endhead\n" + foot + "\n\\endfoot\n\\endlastfoot\n" + "\n".join(rows) + "\n\\end{longtable}")


def _sections(blocks: list[Block]) -> list[Block | list]:
    """``blocks`` with every stretch from a section's first equations to its last as one list (one aligned block)."""
    out: list[Block | list] = []
    k = 0
    while k < len(blocks):
        block = blocks[k]
        if not isinstance(block, Equations):
            out.append(block)
            k += 1
            continue
        end = k
        j = k + 1
        while j < len(blocks) and isinstance(blocks[j], (Equations, Paragraph)):
            if isinstance(blocks[j], Equations):
                end = j
            j += 1
        out.append(list(blocks[k:end + 1]))
        k = end + 1
    return out


def paragraph_latex(paragraph: Paragraph | Heading) -> str:
    return "".join(escape_text(text) if kind == "text" else f"${text}$" for kind, text in paragraph.parts)


def _byline(block: Byline) -> str:
    lines = [escape_text(line) for line in (block.author, block.date) if line]
    return "{\\raggedright " + "\\\\\n".join(lines) + "\\par}"


_SHORT_SECTION = 40  # lines (of \\baselineskip) a section may take and still be kept on one page
_SPLITTABLE = 8  # ... and fewer than this never splits anyway (a heading and one equation: the loss)


def _lines(blocks: list[Block | list]) -> float:
    """About how many lines of text the section that starts ``blocks`` takes, up to its next heading."""
    total = 3.0  # the heading
    for block in blocks[1:]:
        if isinstance(block, (Heading, Table)):
            break
        for item in block if isinstance(block, list) else [block]:
            if isinstance(item, Paragraph):
                total += 1.5 + len(paragraph_latex(item)) // 150
            elif isinstance(item, Equations):
                total += sum(2.3 if "\\frac" in left + right else 1.4 for left, right in item.rows)
    return total


def write_article(blocks: list[Block]) -> str:
    """Document blocks as a standalone LaTeX article (pdflatex), the same bytes for the same blocks."""
    parts = [_PREAMBLE]
    sections = _sections(blocks)
    for k, block in enumerate(sections):
        if isinstance(block, Heading) and block.level and _SPLITTABLE <= _lines(sections[k:]) <= _SHORT_SECTION:
            parts.append(f"\\symgradneed{{{_lines(sections[k:]):.0f}\\baselineskip}}")
        if isinstance(block, list):
            parts.append(_section_align(block))
        elif isinstance(block, Table):
            parts.append(_table(block))
        elif isinstance(block, Heading):
            text = paragraph_latex(block)
            parts.append(f"\\section*{{{text}}}" if block.level else f"{{\\raggedright\\Large\\bfseries {text}\\par}}")
        elif isinstance(block, Byline):
            parts.append(_byline(block))
        else:
            parts.append(paragraph_latex(block))
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
        elif isinstance(block, Table):
            continue  # the notebook shows the derivation; its symbols are in the text around it
        else:
            parts.append("$$" + _align(block.rows, "aligned") + "$$")
    return "\n\n".join(parts) + "\n"
