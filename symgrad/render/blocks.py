"""The document model every LaTeX and Markdown document is built as, and how its long rows wrap.

A document is a list of blocks: headings, paragraphs (plain text and inline math) and aligned
equations. The worked solution (``solution_blocks``) and the symbolic chain rule (``chain_rule``)
build blocks; the writers (``latex_writer``, ``markdown_writer``) only write them. A displayed
row is a relation and its right side as (operator, term) pieces, joined by ``join_terms`` and
broken before a top-level + or − once wider than ``LINE_WIDTH``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Heading", "Byline", "Paragraph", "Equations", "Table", "Block", "LINE_WIDTH", "join_terms", "equation_rows"]

#: A displayed row is broken at a top-level + or − once it is wider than this many characters.
LINE_WIDTH = 75


@dataclass(frozen=True)
class Heading:
    level: int  # 0 the title, 1 a section
    parts: tuple[tuple[str, str], ...]  # ("text", plain, escaped by the writer) or ("math", LaTeX math)


@dataclass(frozen=True)
class Byline:
    """The author and date under the title (plain text, escaped by the writer; either may be empty)."""

    author: str
    date: str


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[tuple[str, str], ...]  # ("text", plain) or ("math", LaTeX math)


@dataclass(frozen=True)
class Equations:
    rows: tuple[tuple[str, str], ...]  # (left side or "", right side starting with its relation)


@dataclass(frozen=True)
class Table:
    """A table of symbols: each row a symbol (LaTeX math), what it means (paragraph parts) and its value (math)."""

    header: tuple[str, str, str]  # plain text
    rows: tuple[tuple[str, tuple[tuple[str, str], ...], str], ...]
    given: tuple[int, ...] = ()  # the rows of numbers given (inputs, targets, parameters, η), not computed


Block = Heading | Byline | Paragraph | Equations | Table


def join_terms(pieces: list[tuple[str, str]]) -> str:
    """(operator, term) pieces as one sum: ``a + b - c``; a leading − is written ``-a``.

    >>> join_terms([("-", "a"), ("+", "b"), ("-", r"\\left(c\\right)")])
    '-a + b - \\\\left(c\\\\right)'
    """
    text = ""
    for op, term in pieces:
        if not text:
            text = term if op == "+" else f"-{term}"
        else:
            text += f" {op} {term}"
    return text


def _width(latex: str) -> int:
    """Roughly how many characters wide ``latex`` prints (a fraction counts as its wider line)."""
    while True:
        match = re.search(r"\\frac\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", latex)
        if not match:
            break
        wide = max(match.group(1), match.group(2), key=_width)
        latex = latex[:match.start()] + wide + latex[match.end():]
    latex = re.sub(r"\\(left|right|mathrm|mathbf|boldsymbol|operatorname)", "", latex)
    latex = re.sub(r"\\[A-Za-z]+", "x", latex)
    return len(re.sub(r"[{}_^\s\\]", "", latex)) + latex.count(" + ") + latex.count(" - ")


def _split_inside(term: str, width: int = LINE_WIDTH) -> list[tuple[str, str]]:
    """A term too wide for a line, split at every binary + and − outside braces (parentheses made plain);
    a piece still too wide is split again at its products (a continuation line then starts with ·)."""
    term = term.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\left|", "|").replace(r"\right|", "|")
    pieces: list[tuple[str, str]] = []
    for op, piece in _split_at(term, (" + ", " - ")):
        if _width(piece) <= width:
            pieces.append((op, piece))
            continue
        products = _split_at(piece, (r" \cdot ",))
        pieces += [(op if k == 0 else r"\cdot", part) for k, (_, part) in enumerate(products)]
    return pieces


def _split_at(term: str, operators: tuple[str, ...]) -> list[tuple[str, str]]:
    """``term`` cut before every one of ``operators`` outside braces, as (operator, piece) pairs."""
    pieces: list[tuple[str, str]] = []
    op, start, depth, k = "+", 0, 0, 0
    while k < len(term):
        depth += term[k] == "{"
        depth -= term[k] == "}"
        found = next((o for o in operators if term.startswith(o, k)), None) if depth == 0 else None
        if found:
            pieces.append((op, term[start:k]))
            op, start = found.strip(), k + len(found)
            k = start
            continue
        k += 1
    pieces.append((op, term[start:]))
    return pieces


def _wrap(pieces: list[tuple[str, str]], width: int = LINE_WIDTH) -> list[str]:
    """Join (operator, term) pieces into lines no wider than ``width``, breaking before an operator."""
    if any(_width(term) > width for _, term in pieces):
        split: list[tuple[str, str]] = []
        for op, term in pieces:
            inner = _split_inside(term) if _width(term) > width else [(op, term)]
            split += [(op if k == 0 else o, t) for k, (o, t) in enumerate(inner)]
        pieces = split
    lines: list[str] = []
    line: list[tuple[str, str]] = []
    for op, term in pieces:
        longer = line + [(op, term)]
        if join_terms(line) and _width(join_terms(longer)) > width:
            lines.append(join_terms(line))
            line = [("+", f"{op} {term}")]  # a continuation line starts with its operator
        else:
            line = longer
    lines.append(join_terms(line))
    return lines


def equation_rows(left: str, steps: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """``left = step1 = step2 …``, each step wrapped, continuation lines indented."""
    found: list[tuple[str, str]] = []
    whole = " = ".join(join_terms(pieces) for pieces in steps)
    if _width(left + whole) <= LINE_WIDTH:  # short enough for one line
        return [(left, f"= {whole}")]
    for k, pieces in enumerate(steps):
        for j, line in enumerate(_wrap(pieces)):
            if j == 0:
                found.append((left if k == 0 else "", f"= {line}"))
            else:
                found.append(("", rf"\quad {line}"))
    return found
