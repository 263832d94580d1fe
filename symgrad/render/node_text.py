"""A node's definition as written in the spec, tokenised once: with numbers substituted, or as LaTeX.

The text is the normalised source the allow-list parser produced. It is tokenised by Python's
tokenizer (``tokens``), never parsed or run, so a sum of any length works. ``substitute`` puts
numbers in place of names for the plain-text report; ``expression_pieces`` writes the same text
as LaTeX in lecture names (or with numbers), split at its top-level + and −, for the documents.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from ..functions import FUNCTIONS
from .blocks import join_terms
from .notation import latex_name

__all__ = ["tokens", "written", "substitute", "expression_pieces"]

# Function names in expression text → (opening, closing) LaTeX, from the one function table.
_CALLS = {rule.spec_name or rule.head.__name__: (rule.latex + "(", ")") for rule in FUNCTIONS
          if rule.latex.startswith("\\") and "cdot" not in rule.latex and rule.latex != r"\sqrt"}
_CALLS.update({"abs": (r"\left|", r"\right|"), "sqrt": (r"\sqrt{", "}")})

# Longer author texts print in the parser's normal form (finding their parentheses is not worth it).
_MAX_WRITTEN = 20_000

# After these (or at the start) a + or − is a sign, not a binary operator.
_BEFORE_SIGN = (None, "(", ",", "+", "-", "*", "/", "**")


def tokens(text: str) -> list[tokenize.TokenInfo]:
    """The tokens of one line of expression text, without line ends and indentation."""
    return [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in (tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.NL) and t.string.strip()]


def written(source: str, normal: str) -> str:
    """The author's ``source`` in the spacing of the parser's ``normal`` text, with every pair of
    parentheses the author wrote around an operation kept, even where they change nothing, and none
    doubled: one pair where the author wrote ``((a + b))``, none around a lone name or number ``(w)``
    or a call's only argument ``sigmoid((x + b))``.

    The text is parsed with ``ast`` (never run); ``normal`` is returned where ``source`` is empty,
    too long, or does not read as the same expression.

    >>> written("(w1*i1) + (w2*i2) + b1", "w1 * i1 + w2 * i2 + b1")
    '(w1 * i1) + (w2 * i2) + b1'
    >>> written("((t1 - out_o1)**2)/2", "(t1 - out_o1) ** 2 / 2")
    '((t1 - out_o1) ** 2) / 2'
    """
    if not source or len(source) > _MAX_WRITTEN or getattr(ast, "_Unparser", None) is None:
        return normal
    try:
        root = ast.parse(source, mode="eval").body
        found = tokens(source)
        if ast.unparse(root) != normal:
            return normal
        grouped = _grouped_spans(found)
        alone = {id(n.args[0]) for n in ast.walk(root) if isinstance(n, ast.Call) and len(n.args) == 1}
        kept = {id(n) for n in ast.walk(root) if isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Call))
                and id(n) not in alone
                and ((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) in grouped}
        text = _KeepingUnparser(kept).visit(root)
        same = ast.dump(ast.parse(text, mode="eval")) == ast.dump(ast.parse(normal, mode="eval"))
    except (SyntaxError, ValueError, RecursionError, tokenize.TokenError):
        return normal
    return text if same else normal


def _grouped_spans(found: list[tokenize.TokenInfo]) -> set[tuple[tuple[int, int], tuple[int, int]]]:
    """The (start, end) of what each grouping pair of parentheses encloses (not a call's)."""
    spans, opened = set(), []
    for k, token in enumerate(found):
        if token.string == "(":
            call = k > 0 and found[k - 1].type == tokenize.NAME
            opened.append((k, call))
        elif token.string == ")" and opened:
            start, call = opened.pop()
            if not call and start + 1 < k:
                spans.add((found[start + 1].start, found[k - 1].end))
    return spans


class _KeepingUnparser(ast._Unparser if hasattr(ast, "_Unparser") else object):
    """``ast.unparse`` that writes the kept nodes in parentheses, at the lowest precedence inside them
    so that no second pair is added."""

    def __init__(self, kept: set[int]):
        super().__init__()
        self.kept = kept

    def traverse(self, node):
        if isinstance(node, ast.AST) and id(node) in self.kept:
            self.write("(")
            self.set_precedence(ast._Precedence.TEST, node)
            super().traverse(node)
            self.write(")")
        else:
            super().traverse(node)


def substitute(text: str, numbers: dict[str, str]) -> str:
    """Rewrite an expression as written with each name replaced by its number.

    A name called as a function (a parameter named ``sigmoid`` in ``sigmoid(sigmoid * x)``) is
    left alone; negative numbers are parenthesised, except alone between a call's parentheses.

    >>> substitute("sigmoid(sigmoid * x)", {"sigmoid": "3", "x": "-2"})
    'sigmoid(3 * (-2))'
    >>> substitute("tanh(x)", {"x": "-2"})
    'tanh(-2)'
    """
    found = tokens(text)
    out: list[str] = []
    column = 0
    for k, token in enumerate(found):
        start, end = token.start[1], token.end[1]
        out.append(text[column:start])
        called = k + 1 < len(found) and found[k + 1].string == "("
        if token.type == tokenize.NAME and token.string in numbers and not called:
            value = numbers[token.string]
            alone = (k > 0 and found[k - 1].string in ("(", ",")
                     and (k + 1 == len(found) or found[k + 1].string in (")", ",")))  # tanh(-0.255)
            out.append(f"({value})" if value.startswith("-") and not alone else value)
        else:
            out.append(token.string)
        column = end
    out.append(text[column:])
    return "".join(out)


def expression_pieces(text: str, numbers: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Expression text as LaTeX, split at its top-level + and − into (operator, term) pieces.

    Names become lecture names (or, given ``numbers``, their values); ``**`` becomes a superscript;
    functions print by the function table.

    >>> expression_pieces("w5*out_h1 - 1/2", {"w5": "0.4"})
    [('+', '0.4 \\\\cdot \\\\mathrm{out}_{\\\\mathrm{h1}}'), ('-', '\\\\frac{1}{2}')]
    """
    writer = _LatexWriter([t.string for t in tokens(text)], numbers or {})
    pieces = writer.pieces(0, len(writer.tokens), top=True)
    return [(op, re.sub(r"\s+", " ", term).strip()) for op, term in pieces]


class _LatexWriter:
    """Writes tokens ``[i, stop)`` as LaTeX, one atom (a name, a call, a parenthesis, a power…) at a time."""

    def __init__(self, tokens: list[str], numbers: dict[str, str]):
        self.tokens = tokens
        self.numbers = numbers

    def closing(self, i: int) -> int:
        """The index of the parenthesis closing the one at ``i``."""
        depth = 0
        for j in range(i, len(self.tokens)):
            depth += self.tokens[j] == "("
            depth -= self.tokens[j] == ")"
            if depth == 0:
                return j
        return len(self.tokens) - 1

    def atom_end(self, i: int) -> int:
        """The last token of the atom starting at ``i`` (the exponent after ``**``)."""
        tokens = self.tokens
        while i < len(tokens) - 1 and tokens[i] in "+-":
            i += 1
        if tokens[i] == "(":
            end = self.closing(i)
        elif i + 1 < len(tokens) and tokens[i + 1] == "(":
            end = self.closing(i + 1)
        else:
            end = i
        if end + 1 < len(tokens) and tokens[end + 1] == "**":
            return self.atom_end(end + 2)
        return end

    def pieces(self, i: int, stop: int, *, top: bool) -> list[tuple[str, str]]:
        """Tokens ``[i, stop)`` as (operator, term) pieces; only at the ``top`` level is a sum split."""
        pieces: list[tuple[str, str]] = []
        op, current = "+", ""
        previous = None
        while i < stop:
            tok = self.tokens[i]
            if tok in "+-" and previous not in _BEFORE_SIGN and current != "":
                if top:
                    pieces.append((op, current))
                    op, current = tok, ""
                else:
                    current += f" {tok} "
                previous, i = tok, i + 1
                continue
            text, i, previous = self.atom(i, stop, previous)
            current += text
        pieces.append((op, current))
        return pieces

    def nested(self, i: int, stop: int) -> str:
        return join_terms(self.pieces(i, stop, top=False))

    def atom(self, i: int, stop: int, previous: str | None) -> tuple[str, int, str]:
        """The LaTeX of the token (or group of tokens) at ``i``, the index after it, and the token to
        treat as the one before the next."""
        tokens, numbers = self.tokens, self.numbers
        tok = tokens[i]
        if tok in "+-":
            return tok, i + 1, tok
        if tok == "**":
            start, end = i + 1, self.atom_end(i + 1)
            if tokens[start] == "(" and self.closing(start) == end:
                start, end = start + 1, end - 1
            return f"^{{{self.nested(start, end + 1)}}}", self.atom_end(i + 1) + 1, ")"
        if tok == "*" and i + 1 < stop and tokens[i + 1] == "(" and previous is not None \
                and (previous == r"\frac" or (previous[0].isalpha() or previous[0] == "_") and previous not in numbers):
            return " ", i + 1, tok  # a name or ½ times a parenthesis, side by side: out (1 − out), ½ (t − o)²
        if tok in ("*", "/", ","):
            return {"*": r" \cdot ", "/": " / ", ",": ", "}[tok], i + 1, tok
        if tok == "(":
            end = self.closing(i)
            return r"\left(" + self.nested(i + 1, end) + r"\right)", end + 1, ")"
        if i + 1 < stop and tokens[i + 1] == "(" and (tok[0].isalpha() or tok[0] == "_"):
            end = self.closing(i + 1)
            opening, close = _CALLS.get(tok, (rf"\operatorname{{{tok}}}(", ")"))
            return opening + self.nested(i + 2, end) + close, end + 1, ")"
        if (tok[0].isdigit() and i + 2 < stop and tokens[i + 1] == "/" and tokens[i + 2][0].isdigit()
                and tokens[i + 2] not in numbers and (i + 3 >= stop or tokens[i + 3] != "**")):
            return rf"\frac{{{tok}}}{{{tokens[i + 2]}}}", i + 3, r"\frac"  # 1 / 2 as a fraction
        if tok in numbers:
            value = numbers[tok]
            alone = previous in (None, "(", ",") and (i + 1 >= stop or tokens[i + 1] in (")", ","))  # σ(−2)
            wrapped = (value.startswith("-") or "times" in value) and not alone
            return (rf"\left({value}\right)" if wrapped else value), i + 1, tok
        if tok[0].isalpha() or tok[0] == "_":
            return latex_name(tok), i + 1, tok
        return tok, i + 1, tok
