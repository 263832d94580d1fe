"""The LaTeX worked solution: a standalone article that compiles with pdflatex.

It only formats a ``Solution``; every number was computed once by ``symgrad.solve``. The
document is built once as a list of blocks (headings, paragraphs of text and inline math,
aligned equations); this module writes them as a LaTeX article, ``render.markdown`` writes the
same blocks as Markdown. Names print as the lectures print them (``out_o1`` → out_{o1},
``E_total`` → E_{total}); local partials of one node's own expression are written ∂c/∂x,
total derivatives along all paths dE/dx. Text from the spec (title, description) is escaped,
so it can never run a LaTeX command.
"""

from __future__ import annotations

import io
import re
import tokenize
import unicodedata
from dataclasses import dataclass

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..functions import FUNCTIONS
from ..chain import Factor, Term
from ..solution import Solution, SolvedDelta, SolvedFactor, SolvedGradient, SolvedTerm

__all__ = ["render_latex", "render_latex_math", "latex_name", "symbolic_latex", "escape_text", "document_blocks",
           "write_article", "write_math", "Heading", "Paragraph", "Equations", "LINE_WIDTH"]

#: A displayed row is broken at a top-level + or − once it is wider than this many characters.
LINE_WIDTH = 75

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
          "nu", "xi", "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
          "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega"}

# Function names in expression text → (opening, closing) LaTeX, from the one function table.
_CALLS = {rule.spec_name or rule.head.__name__: (rule.latex + "(", ")") for rule in FUNCTIONS
          if rule.latex.startswith("\\") and "cdot" not in rule.latex and rule.latex != r"\sqrt"}
_CALLS.update({"abs": (r"\left|", r"\right|"), "sqrt": (r"\sqrt{", "}")})

# Text characters LaTeX treats specially, and a few common non-ASCII ones pdflatex cannot take as they are.
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
    "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "|": r"\textbar{}", '"': "''", "σ": r"$\sigma$", "δ": r"$\delta$", "η": r"$\eta$", "∂": r"$\partial$",
    "−": "-", "·": r"$\cdot$", "×": r"$\times$", "²": r"$^2$", "→": r"$\to$", "′": r"$'$", "⊙": r"$\odot$",
    "ŷ": r"$\hat{y}$", "’": "'", "‘": "`", "“": "``", "”": "''", "–": "--", "—": "---", "…": r"\dots{}",
}


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


def _upright(part: str) -> str:
    if part.isdigit():
        return part
    return rf"\mathrm{{{part}}}" if len(part) > 1 else part


def latex_name(name: str) -> str:
    """A graph name as the lectures print it: ``out_o1`` → out_{o1}, ``w5`` → w_5, ``E_total`` → E_{total}.

    The first underscore starts the subscript, further ones separate its parts with commas;
    a name without one takes its trailing digits as the subscript. Multi-letter parts print
    upright, Greek names as Greek letters, ``yhat`` as ŷ.

    >>> latex_name("out_o1"), latex_name("w5"), latex_name("E_total")
    ('\\\\mathrm{out}_{\\\\mathrm{o1}}', 'w_{5}', 'E_{\\\\mathrm{total}}')
    """
    base, _, sub = name.partition("_")
    parts = sub.split("_") if sub else []
    if not sub:
        match = re.fullmatch(r"([A-Za-z]+?)(\d+)", name)
        if match:
            base, parts = match.group(1), [match.group(2)]
    if not base or ("_" in name and (not sub or any(not p for p in parts))) or not re.fullmatch(r"[A-Za-z0-9]+", base):
        return r"\mathrm{" + name.replace("_", r"\_") + "}"  # _x, x__1, x_: print the name as it is
    if base in _GREEK:
        head = "\\" + base
    elif len(base) > 3 and base.endswith("hat") and len(base) == 4:
        head = rf"\hat{{{base[0]}}}"
    else:
        head = _upright(base)
    if not parts:
        return head
    return f"{head}_{{{','.join(_upright(p) for p in parts)}}}"


def _d(of: str, wrt: str) -> str:
    """The total derivative d of / d wrt (along all paths)."""
    return rf"\frac{{\mathrm{{d}}{latex_name(of)}}}{{\mathrm{{d}}{latex_name(wrt)}}}"


def _d_inline(of: str, wrt: str) -> str:
    """The total derivative for running text: dE/dx with a slash."""
    return rf"\mathrm{{d}}{latex_name(of)}/\mathrm{{d}}{latex_name(wrt)}"


def _partial(factor: Factor) -> str:
    """The local partial ∂c/∂x of one node's own expression."""
    return rf"\frac{{\partial {latex_name(factor.of)}}}{{\partial {latex_name(factor.wrt)}}}"


# -- the document as blocks ------------------------------------------------------------------
@dataclass(frozen=True)
class Heading:
    level: int  # 0 the title, 1 a section
    parts: tuple[tuple[str, str], ...]  # ("text", plain, escaped by the writer) or ("math", LaTeX math)


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[tuple[str, str], ...]  # ("text", plain) or ("math", LaTeX math)


@dataclass(frozen=True)
class Equations:
    rows: tuple[tuple[str, str], ...]  # (left side or "", right side starting with its relation)


Block = Heading | Paragraph | Equations


class _Numbers:
    def __init__(self, solution: Solution):
        self.solution = solution

    def __call__(self, value) -> str:
        text = self.solution.format(value)
        mantissa, _, exponent = text.partition("e")
        if exponent:
            text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
        return text

    def paren(self, value) -> str:
        text = self(value)
        return rf"\left({text}\right)" if text.startswith("-") or "times" in text else text


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


def _split_inside(term: str) -> list[tuple[str, str]]:
    """A term too wide for a line, split at every binary + and − outside braces (parentheses made plain)."""
    term = term.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\left|", "|").replace(r"\right|", "|")
    pieces: list[tuple[str, str]] = []
    op, start, depth = "+", 0, 0
    for k, ch in enumerate(term):
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0 and term[k:k + 3] in (" + ", " - "):
            pieces.append((op, term[start:k]))
            op, start = term[k + 1], k + 3
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
    current = ""
    for op, term in pieces:
        chunk = f" {op} {term}" if current or op == "-" else term
        if op == "-" and not current:
            chunk = f"-{term}"
        if current and _width(current + chunk) > width:
            lines.append(current)
            current = f"{op} {term}"
        else:
            current += chunk
    lines.append(current)
    return lines


def _rows(left: str, steps: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """``left = step1 = step2 …``, each step wrapped, continuation lines indented."""
    rows: list[tuple[str, str]] = []
    whole = " = ".join(_join(pieces) for pieces in steps)
    if _width(left + whole) <= LINE_WIDTH:  # short enough for one line
        return [(left, f"= {whole}")]
    for k, pieces in enumerate(steps):
        for j, line in enumerate(_wrap(pieces)):
            if j == 0:
                rows.append((left if k == 0 else "", f"= {line}"))
            else:
                rows.append(("", rf"\quad {line}"))
    return rows


def _expression_pieces(text: str, numbers: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Expression text (as the allow-list parser normalised it) as LaTeX, split at its top-level + and −.

    Names become lecture names (or, given ``numbers``, their values); ``**`` becomes a superscript;
    functions print by the function table. The text is tokenised, never parsed or run.
    """
    tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline)
              if t.type not in (tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.NL) and t.string.strip()]
    numbers = numbers or {}

    def closing(i: int) -> int:
        depth = 0
        for j in range(i, len(tokens)):
            depth += tokens[j] == "("
            depth -= tokens[j] == ")"
            if depth == 0:
                return j
        return len(tokens) - 1

    def atom_end(i: int) -> int:  # the last token of the atom starting at i (after **)
        while i < len(tokens) - 1 and tokens[i] in "+-":
            i += 1
        if tokens[i] == "(":
            end = closing(i)
        elif i + 1 < len(tokens) and tokens[i + 1] == "(":
            end = closing(i + 1)
        else:
            end = i
        if end + 1 < len(tokens) and tokens[end + 1] == "**":
            return atom_end(end + 2)
        return end

    def convert(i: int, stop: int) -> tuple[list[tuple[str, str]], int]:
        pieces: list[tuple[str, str]] = []
        op, current = "+", ""
        previous = None
        while i < stop:
            tok = tokens[i]
            if tok in "+-" and previous not in (None, "(", ",", "+", "-", "*", "/", "**") and not current == "":
                if depth_zero:
                    pieces.append((op, current))
                    op, current = tok, ""
                else:
                    current += f" {tok} "
            elif tok in "+-":
                current += tok
            elif tok == "**":
                end = atom_end(i + 1)
                start = i + 1
                if tokens[start] == "(" and closing(start) == end:
                    start, end = start + 1, end - 1
                inner = _join(convert_nested(start, end + 1))
                current += f"^{{{inner}}}"
                i = atom_end(i + 1) + 1
                previous = ")"
                continue
            elif tok == "*":
                current += r" \cdot "
            elif tok == "/":
                current += " / "
            elif tok == ",":
                current += ", "
            elif tok == "(":
                end = closing(i)
                current += r"\left(" + _join(convert_nested(i + 1, end)) + r"\right)"
                i = end + 1
                previous = ")"
                continue
            elif i + 1 < stop and tokens[i + 1] == "(" and (tok[0].isalpha() or tok[0] == "_"):
                end = closing(i + 1)
                opening, close = _CALLS.get(tok, (rf"\operatorname{{{tok}}}(", ")"))
                current += opening + _join(convert_nested(i + 2, end)) + close
                i = end + 1
                previous = ")"
                continue
            elif (tok[0].isdigit() and i + 2 < stop and tokens[i + 1] == "/" and tokens[i + 2][0].isdigit()
                  and tokens[i + 2] not in numbers and (i + 3 >= stop or tokens[i + 3] != "**")):
                current += rf"\frac{{{tok}}}{{{tokens[i + 2]}}}"  # 1 / 2 as a fraction
                previous = tokens[i + 2]
                i += 3
                continue
            elif tok in numbers:
                value = numbers[tok]
                alone = previous in (None, "(", ",") and (i + 1 >= stop or tokens[i + 1] in (")", ","))  # σ(−2)
                current += rf"\left({value}\right)" if (value.startswith("-") or "times" in value) and not alone \
                    else value
            elif tok[0].isalpha() or tok[0] == "_":
                current += latex_name(tok)
            else:
                current += tok
            previous = tok
            i += 1
        pieces.append((op, current))
        return pieces, i

    depth_zero = True

    def convert_nested(i: int, stop: int) -> list[tuple[str, str]]:
        nonlocal depth_zero
        saved, depth_zero = depth_zero, False
        try:
            return convert(i, stop)[0]
        finally:
            depth_zero = saved

    pieces, _ = convert(0, len(tokens))
    return [(op, re.sub(r"\s+", " ", term).strip()) for op, term in pieces]


def _join(pieces: list[tuple[str, str]]) -> str:
    text = ""
    for op, term in pieces:
        if not text:
            text = term if op == "+" else f"-{term}"
        else:
            text += f" {op} {term}"
    return text


def symbolic_latex(expr: sympy.Expr) -> str:
    """A SymPy expression (a local partial's formula) in lecture names, as every document prints it.

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> print(symbolic_latex(d.factors["out_o1", "net_o1"].expr))
    \\mathrm{out}_{\\mathrm{o1}} \\left(1 - \\mathrm{out}_{\\mathrm{o1}}\\right)
    """
    return sympy.latex(expr, symbol_names={symbol: latex_name(symbol.name) for symbol in expr.free_symbols})


class _Symbolic:
    """SymPy expressions (local partials) in lecture names, or with numbers substituted."""

    def __init__(self, solution: Solution, fmt: _Numbers):
        self.solution = solution
        self.fmt = fmt

    def __call__(self, expr: sympy.Expr, *, substituted: bool = False) -> str:
        if not substituted:
            return symbolic_latex(expr)
        names = {symbol: self.fmt.paren(self.solution.numbers.values[symbol.name]) for symbol in expr.free_symbols}
        return sympy.latex(expr, symbol_names=names, mul_symbol="dot")


# -- the blocks of a worked solution -----------------------------------------------------------
def document_blocks(solution: Solution, *, title: str = "") -> list[Block]:
    """Every block of the worked solution, in reading order (read by the LaTeX and Markdown writers)."""
    fmt = _Numbers(solution)
    sym = _Symbolic(solution, fmt)
    out = solution.output
    blocks: list[Block] = []
    if title:
        blocks.append(Heading(0, (("text", title),)))
    note = solution.rounding.describe() if solution.rounding.active else "computed exactly, then rounded for print"
    blocks.append(Paragraph((
        ("text", f"Numbers to {solution.precision_note} ({note}). A local partial "),
        ("math", r"\partial c/\partial x"),
        ("text", " differentiates one node's own expression, its other operands held fixed; a total derivative "),
        ("math", _d_inline(out, "x")), ("text", " follows every path from "), ("math", latex_name(out)),
        ("text", " down to "), ("math", "x"), ("text", " and is the sum over the consumers "), ("math", "c"),
        ("text", " of "), ("math", "x"), ("text", ": "),
        ("math", rf"{_d_inline(out, 'x')} = \sum_c {_d_inline(out, 'c')} \cdot \partial c/\partial x"),
        ("text", "."),
    )))
    blocks += _network(solution, fmt)
    blocks += _forward(solution, fmt)
    blocks += [Heading(1, (("text", "Loss"),)), Equations(((latex_name(out), f"= {fmt(solution.loss)}"),))]
    blocks += _backward(solution, fmt, sym)
    for gradient in solution.gradients:
        blocks += _gradient(solution, gradient, fmt, sym)
    if solution.matrix is not None:
        blocks += _matrix_form(solution)
    return blocks


def _network(solution: Solution, fmt: _Numbers) -> list[Block]:
    blocks: list[Block] = [Heading(1, (("text", "The network"),))]
    kinds = (("input", "Inputs"), ("target", "Targets"), ("param", "Parameters"), ("constant", "Constants"))
    for kind, label in kinds:
        leaves = [leaf for leaf in solution.leaves if leaf.kind == kind]
        if not leaves:
            continue
        parts: list[tuple[str, str]] = [("text", f"{label}: ")]
        for k, leaf in enumerate(leaves):
            parts.append(("math", f"{latex_name(leaf.name)} = {fmt(leaf.value)}"))
            parts.append(("text", ", " if k + 1 < len(leaves) else "."))
        blocks.append(Paragraph(tuple(parts)))
    if solution.learning_rate is not None:
        blocks.append(Paragraph((("text", "Learning rate: "), ("math", rf"\eta = {fmt(solution.learning_rate)}"),
                                 ("text", "."))))
    names = [node.name for node in solution.nodes]
    blocks.append(Paragraph((("text", f"The {len(names)} nodes, in the order they are computed, are defined "
                                      "below with their values; the output is "),
                             ("math", latex_name(solution.output)), ("text", "."))))
    return blocks


def _forward(solution: Solution, fmt: _Numbers) -> list[Block]:
    rows: list[tuple[str, str]] = []
    for node in solution.nodes:
        definition = _expression_pieces(node.text)
        substituted = _expression_pieces(node.text, {n: fmt(v) for n, v in node.operands})
        value = fmt(node.value)
        steps = [definition]
        if substituted != definition and _join(substituted) != value:
            steps.append(substituted)
        if _join(definition) != value:
            steps.append([("+", value)])
        rows += _rows(latex_name(node.name), steps)
    return [Heading(1, (("text", "Forward pass"),)), Equations(tuple(rows))]


def _delta_rows(solution: Solution, delta: SolvedDelta, fmt: _Numbers, sym: _Symbolic) -> list[tuple[str, str]]:
    out = solution.output
    left = _d(out, delta.name)
    symbolic = _delta_pieces(out, delta.terms)
    if delta.value is None:
        return _rows(left, [symbolic, [("+", _UNDEFINED)]])
    numeric = [("+", rf"{fmt.paren(t.delta)} \cdot {fmt.paren(t.factor.value)}") for t in delta.terms]
    rows = _rows(left, [symbolic, numeric, [("+", fmt(delta.value))]])
    return rows


def _delta_pieces(out: str, terms: tuple[Term, ...] | tuple[SolvedTerm, ...]) -> list[tuple[str, str]]:
    """The symbolic sum over the consumers c of x: dE/dc ∂c/∂x for each term of δ_x."""
    return [("+", rf"{_d(out, t.consumer)} \, {_partial(t.factor)}") for t in terms]


_UNDEFINED = r"\text{(does not exist at this point)}"


def _factor_rows(factor: SolvedFactor, sym: _Symbolic, fmt: _Numbers) -> list[tuple[str, str]]:
    return _rows(_partial(factor), _factor_steps(factor, sym, fmt))


def _factor_steps(factor: SolvedFactor, sym: _Symbolic, fmt: _Numbers) -> list[list[tuple[str, str]]]:
    """A local partial's formula, the numbers substituted into it (where that shows something) and its value."""
    steps = [[("+", sym(factor.expr))]]
    if factor.value is None:  # only for the δ of an input or target: no gradient needs it
        return steps + [[("+", _UNDEFINED)]]
    substituted = sym(factor.expr, substituted=True)
    value = fmt(factor.value)
    if factor.expr.free_symbols and not factor.expr.is_Symbol and substituted != value:
        steps.append([("+", substituted)])
    if steps[0][0][1] != value:
        steps.append([("+", value)])
    return steps


def _backward(solution: Solution, fmt: _Numbers, sym: _Symbolic) -> list[Block]:
    out = solution.output
    blocks: list[Block] = [Heading(1, (("text", "Backward pass"),)), Paragraph((
        ("text", "Each total derivative is the sum over the consumers of the quantity, starting from "),
        ("math", f"{_d_inline(out, out)} = 1"), ("text", "; the local partials it uses follow it."),
    ))]
    params = {g.param for g in solution.gradients}
    shown = set(solution.derivation.needed)  # the δ's some gradient is built from
    if not solution.network.targets:  # a circuit: the derivative for every input too, and all above
        shown |= {delta.name for delta in solution.deltas}
    for delta in solution.deltas:
        if delta.name == out or delta.name in params or delta.name not in shown:
            continue
        rows = _delta_rows(solution, delta, fmt, sym)
        for term in delta.terms:
            rows += _factor_rows(term.factor, sym, fmt)
        blocks.append(Equations(tuple(rows)))
        if delta.value is None and delta.undefined:
            blocks.append(Paragraph((("text", delta.undefined),)))
    return blocks


def _gradient(solution: Solution, gradient: SolvedGradient, fmt: _Numbers, sym: _Symbolic) -> list[Block]:
    out, p = solution.output, gradient.param
    label = _d(out, p)
    paths = gradient.paths
    blocks: list[Block] = [Heading(1, (("text", "The gradient for "), ("math", latex_name(p))))]
    count = f"{paths} path{'s' if paths != 1 else ''} from "
    chain = gradient.chain
    if chain is None or len(chain.factors) == 0:
        delta = next(d for d in solution.deltas if d.name == p)
        rows = _delta_rows(solution, delta, fmt, sym)
        for term in delta.terms:
            rows += _factor_rows(term.factor, sym, fmt)
        blocks.append(Paragraph((("math", latex_name(p)), ("text", f" feeds {len(delta.terms)} consumers, so its "
                                 f"gradient is the sum over them ({count}"), ("math", latex_name(out)),
                                 ("text", "):"))))
        blocks.append(Equations(tuple(rows)))
    elif chain.head_delta is None and len(chain.factors) == 1:  # the output uses p directly
        factor = chain.factors[0]
        blocks.append(Paragraph((("math", latex_name(out)), ("text", " uses "), ("math", latex_name(p)),
                                 ("text", " directly, so the gradient is one local partial:"))))
        blocks.append(Equations(tuple(_rows(label, [[("+", _partial(factor))]] + _factor_steps(factor, sym, fmt)))))
    else:
        names = [_partial(f) for f in chain.factors]
        numbers = [fmt.paren(f.value) for f in chain.factors]
        if chain.head_delta is not None:
            names.insert(0, _d(out, chain.head))
            numbers.insert(0, fmt.paren(chain.head_delta))
        blocks.append(Paragraph((("text", f"The chain rule in Leibniz notation ({count}"), ("math", latex_name(out)),
                                 ("text", " to "), ("math", latex_name(p)), ("text", "):"))))
        rows = _rows(label, [[("+", r" \cdot ".join(names))]])
        blocks.append(Equations(tuple(rows)))
        blocks.append(Paragraph((("text", "Each factor:"),)))
        rows = []
        if chain.head_delta is not None:
            rows.append((_d(out, chain.head), rf"= {fmt(chain.head_delta)} \quad \text{{(backward pass)}}"))
        for factor in chain.factors:
            rows += _factor_rows(factor, sym, fmt)
        blocks.append(Equations(tuple(rows)))
        blocks.append(Paragraph((("text", "The product:"),)))
        product = [[("+", r" \cdot ".join(numbers))]] if len(numbers) > 1 else []
        blocks.append(Equations(tuple(_rows(label, product + [[("+", fmt(gradient.value))]]))))
    update = next((u for u in solution.updates if u.param == p), None)
    if update is not None:
        rate = fmt(solution.learning_rate)
        name = latex_name(p)
        rows = _rows(f"{name}^{{+}}", [[("+", name), ("-", rf"\eta \, {label}")],
                                        [("+", fmt(update.before)), ("-", rf"{rate} \cdot {fmt.paren(update.gradient)}")],
                                        [("+", fmt(update.after))]])
        how = ("every gradient taken at the old parameters" if solution.update_rule == "simultaneous"
               else "layer by layer from the output")
        blocks.append(Paragraph((("text", f"The update ({how}):"),)))
        blocks.append(Equations(tuple(rows)))
    return blocks


# -- the matrix form ---------------------------------------------------------------------------
def _vector(name: str) -> str:
    """A matrix symbol of the matrix form: h1 → bold h_1, W2 → W_2, delta1 → bold δ_1."""
    if name == "dL_dyhat":
        return r"\frac{\partial \ell}{\partial \hat{\mathbf{y}}}"
    match = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    base, index = (match.group(1), match.group(2)) if match else (name, "")
    head = {"delta": r"\boldsymbol{\delta}", "W": r"W", "h": r"\mathbf{h}", "f": r"\mathbf{f}",
            "b": r"\mathbf{b}"}.get(base, rf"\mathrm{{{base}}}")
    return f"{head}_{{{index}}}" if index else head


def _matrix_latex(expr) -> str:
    if isinstance(expr, sympy.MatrixSymbol):
        return _vector(expr.name)
    if isinstance(expr, sympy.Transpose):
        return _matrix_latex(expr.arg) + r"^{\top}"
    if isinstance(expr, sympy.MatMul):
        return " ".join(_matrix_wrapped(a) for a in expr.args)
    if isinstance(expr, sympy.MatAdd):
        args = sorted(expr.args, key=lambda a: isinstance(a, sympy.MatrixSymbol))  # W h + b, as written
        return " + ".join(_matrix_latex(a) for a in args)
    if isinstance(expr, sympy.HadamardProduct):
        args = [a for a in expr.args if not (isinstance(a, ElementwiseApplyFunction) and a.function.expr == 1)]
        return r" \odot ".join(_matrix_wrapped(a) for a in args) if len(args) > 1 else _matrix_latex(args[0])
    if isinstance(expr, ElementwiseApplyFunction):
        var, body = expr.function.variables[0], expr.function.expr
        return sympy.latex(body, symbol_names={var: _matrix_wrapped(expr.expr)}, mul_symbol=r" \odot ")
    return sympy.latex(expr)


def _matrix_wrapped(expr) -> str:
    text = _matrix_latex(expr)
    if isinstance(expr, (sympy.MatrixSymbol, sympy.Transpose)):
        return text
    return rf"\left({text}\right)"


def _matrix_form(solution: Solution) -> list[Block]:
    matrix = solution.matrix
    widths = matrix.structure.widths
    L = len(widths) - 1
    u, t = sympy.Symbol("u", real=True), sympy.Symbol("t", real=True)
    blocks: list[Block] = [Heading(1, (("text", "The same derivation in matrix form"),)), Paragraph((
        ("text", "Vectors are columns; "), ("math", r"\mathbf{h}_0"), ("text", " is the input and "),
        ("math", rf"\hat{{\mathbf{{y}}}} = \mathbf{{h}}_{{{L}}}"),
        ("text", " the output. Functions of a vector act elementwise and "), ("math", r"\odot"),
        ("text", " is the elementwise product. Layout: each gradient has the shape of its parameter "
                 "(denominator layout), so "), ("math", r"\partial \ell/\partial W_l"),
        ("text", " is a matrix of the same shape as "), ("math", "W_l"), ("text", "; the entry "),
        ("math", "(W_l)_{jk}"), ("text", " multiplies unit "), ("math", "k"), ("text", " of layer "),
        ("math", "l-1"), ("text", " into unit "), ("math", "j"), ("text", " of layer "), ("math", "l"),
        ("text", ". In the scalar names above, "),
        ("math", r"\mathbf{h}_0 = (" + ", ".join(latex_name(n) for n in solution.network.inputs) + r")^{\top}"),
        ("text", " and "),
        ("math", r"\mathbf{t} = (" + ", ".join(latex_name(n) for n in solution.network.targets) + r")^{\top}"),
        ("text", "."),
    ))]
    shapes: list[tuple[str, str]] = []
    for layer in range(1, L + 1):
        n, m = widths[layer], widths[layer - 1]
        shapes.append(("text", ", " if shapes else "Shapes: "))
        shapes.append(("math", rf"W_{{{layer}}} \in \mathbb{{R}}^{{{n} \times {m}}}"))
        if matrix.structure.bias != "none":
            shape = "" if matrix.layer_bias else rf" \in \mathbb{{R}}^{{{n}}}"
            shapes.append(("text", ", "))
            shapes.append(("math", rf"\mathbf{{b}}_{{{layer}}}{shape}" if shape else rf"b_{{{layer}}} \in \mathbb{{R}}"))
        shapes.append(("text", ", "))
        shapes.append(("math", rf"\mathbf{{f}}_{{{layer}}}, \mathbf{{h}}_{{{layer}}}, \boldsymbol{{\delta}}_{{{layer}}}"
                               rf" \in \mathbb{{R}}^{{{n}}}"))
    shapes.append(("text", "."))
    blocks.append(Paragraph(tuple(shapes)))
    blocks.append(Paragraph((("text", "Forward pass:"),)))
    blocks.append(Equations(tuple((_vector(e.name), f"= {_matrix_latex(e.expr)}") for e in matrix.forward)))
    if matrix.loss_grad is not None:
        grad = sympy.latex(matrix.loss_grad, symbol_names={u: r"\hat{\mathbf{y}}", t: r"\mathbf{t}"}, order="none")
    else:
        grad = r"\operatorname{softmax}(\hat{\mathbf{y}}) \, (\mathbf{1}^{\top}\mathbf{t}) - \mathbf{t}"
    rows = [(_vector("dL_dyhat"), f"= {grad}")]
    rows += [(_vector(e.name), f"= {_matrix_latex(e.expr)}") for e in matrix.backward]
    blocks.append(Paragraph((("text", "Backward pass, from the output layer down (one sample, loss "),
                             ("math", r"\ell"), ("text", "):"))))
    blocks.append(Equations(tuple(rows)))
    rows = []
    for name, expr in matrix.gradients.items():
        if name.startswith("b") and matrix.structure.bias == "none":
            continue
        target = _vector(name) if not (name.startswith("b") and matrix.layer_bias) else f"b_{{{name[1:]}}}"
        value = _matrix_latex(expr)
        if name.startswith("b") and matrix.layer_bias:
            value = rf"\mathbf{{1}}^{{\top}} {value}"
        rows.append((rf"\frac{{\partial \ell}}{{\partial {target}}}", f"= {value}"))
    blocks.append(Paragraph((("text", "Gradients:"),)))
    blocks.append(Equations(tuple(rows)))
    return blocks


# -- writers -------------------------------------------------------------------------------------
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


def _align(rows: tuple[tuple[str, str], ...], environment: str) -> str:
    body = " \\\\\n".join(f"{left} &{right}" for left, right in rows)
    return f"\\begin{{{environment}}}\n{body}\n\\end{{{environment}}}"


def _paragraph_latex(paragraph: Paragraph | Heading) -> str:
    return "".join(escape_text(text) if kind == "text" else f"${text}$" for kind, text in paragraph.parts)


def render_latex(solution: Solution, *, title: str | None = None) -> str:
    """The worked solution as a standalone LaTeX article (pdflatex), the same bytes for the same input.

    ``title`` defaults to the network's description; it is escaped, never run.

    >>> import symgrad
    >>> s = symgrad.solve(symgrad.derive(symgrad.load("mazur")), digits=9)
    >>> tex = render_latex(s)
    >>> r"\\frac{\\partial \\mathrm{out}_{\\mathrm{o1}}}{\\partial \\mathrm{net}_{\\mathrm{o1}}}" in tex
    True
    """
    title = solution.network.description if title is None else title
    return write_article(document_blocks(solution, title=title))


def write_article(blocks: list[Block]) -> str:
    """Document blocks as a standalone LaTeX article (read by every LaTeX document symgrad writes)."""
    parts = [_PREAMBLE]
    for block in blocks:
        if isinstance(block, Heading):
            text = _paragraph_latex(block)
            parts.append(f"\\section*{{{text}}}" if block.level else f"{{\\raggedright\\Large\\bfseries {text}\\par}}")
        elif isinstance(block, Paragraph):
            parts.append(_paragraph_latex(block))
        else:
            parts.append(_align(block.rows, "align*"))
    parts.append("\\end{document}")
    return "\n\n".join(parts) + "\n"


def render_latex_math(solution: Solution) -> str:
    """The worked solution for MathJax (Jupyter's ``_repr_latex_``): text with ``$…$`` and ``$$…$$`` math."""
    return write_math(document_blocks(solution, title=""))


def write_math(blocks: list[Block]) -> str:
    """Document blocks for MathJax: text with ``$…$`` and ``$$…$$`` math, no preamble or sections."""
    parts = []
    for block in blocks:
        if isinstance(block, (Heading, Paragraph)):
            parts.append("".join(text.replace("$", r"\$") if kind == "text" else f"${text}$"
                                 for kind, text in block.parts))
        else:
            parts.append("$$" + _align(block.rows, "aligned") + "$$")
    return "\n\n".join(parts) + "\n"
