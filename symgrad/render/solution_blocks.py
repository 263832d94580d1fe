"""The blocks of a worked solution: the network, forward pass, loss, backward pass, gradients, update.

``solution_blocks`` reads a ``Solution`` (``symgrad.solve``) and only formats it: every number was
computed once. The LaTeX article, the MathJax display and the Markdown document are these blocks
written by ``latex_writer`` and ``markdown_writer``. This module reads the solution through its
attributes and does not import solution.py, so that ``Solution.latex()`` and ``.markdown()`` can
call it (solution.py imports this module, not the other way round).
"""

from __future__ import annotations

import re

import mpmath
import sympy
from decimal import Decimal
from math import prod

from ..arithmetic import mp_value_at
from ..expr import Parsed
from ..limits import MAX_FORMULA_PRINT
from ..precision import format_number

from .author_form import local_form
from .piecewise_form import PiecewiseForm, piecewise_form
from .blocks import Block, Byline, Equations, Heading, Paragraph, Table, equation_rows, join_terms
from .matrix_blocks import matrix_blocks
from .node_text import expression_pieces, written
from .notation import delta_pieces, latex_name, partial, symbolic_latex, total, total_inline

__all__ = ["solution_blocks", "shown_deltas", "trivial_deltas"]

_UNDEFINED = r"\text{(does not exist at this point)}"


class _Numbers:
    """A number as the documents print it: the solution's digits, in scientific notation
    (``4.59 \\times 10^{-6}``) below ``SCIENTIFIC_BELOW``; the numbers of a row of arithmetic with as many
    more digits as it takes for that arithmetic to give the printed result (``reproducing``)."""

    def __init__(self, solution):
        self.solution = solution

    def __call__(self, value, digits: int | None = None, *, name: str | None = None) -> str:
        """``value`` at ``digits``, else as the solution prints quantity ``name`` (its own digits, if chosen)."""
        if digits is not None:
            text = format_number(value, digits)
        else:
            text = self.solution.format(value) if name is None else self.solution.format_of(name, value)
        return _scientific(text)

    def paren(self, value, digits: int | None = None) -> str:
        text = self(value, digits)
        return rf"\left({text}\right)" if text.startswith("-") or "times" in text else text

    def reproducing(self, values: list, combine, result, *, name: str | None = None) -> int | None:
        """The fewest significant digits (from the solution's) at which ``combine`` of ``values`` rounded
        to them prints as ``result`` does (as quantity ``name`` prints, if given); ``None`` keeps the usual
        print (decimal places, or no such digits)."""
        solution = self.solution
        if solution.decimals is not None or result is None or any(v is None for v in values):
            return None
        shown = dict(solution.digits_for).get(name, solution.digits) if name is not None else solution.digits
        target = format_number(result, shown)
        for digits in range(solution.digits, solution.working_digits + 1):
            try:
                got = combine([Decimal(format_number(v, digits)) for v in values])
            except (ArithmeticError, ValueError):
                return None
            if format_number(mpmath.mpf(str(got)), shown) == target:
                return digits
        return None


#: Documents print a nonzero number below this in magnitude in scientific notation.
SCIENTIFIC_BELOW = Decimal("1e-4")


def _scientific(text: str) -> str:
    """A printed number in LaTeX: ``1.5e-7`` and ``0.0000459`` as ``1.5 \\times 10^{-7}``, ``4.59 \\times 10^{-5}``.

    >>> print(_scientific("0.0000458895"), _scientific("0.00012"))
    4.58895 \\times 10^{-5} 0.00012
    """
    mantissa, _, exponent = text.partition("e")
    if exponent:
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    try:
        number = Decimal(text)
    except ArithmeticError:
        return text
    if number == 0 or abs(number) >= SCIENTIFIC_BELOW or not number.is_finite():
        return text
    sign, digits, exp = number.as_tuple()
    shown = "".join(map(str, digits)).lstrip("0")
    power = len(shown) + exp - 1
    body = shown[0] + ("." + shown[1:] if len(shown) > 1 else "")
    return rf"{'-' if sign else ''}{body} \times 10^{{{power}}}"


class _Symbolic:
    """SymPy expressions (local partials) in lecture names, or with numbers substituted."""

    def __init__(self, solution, fmt: _Numbers):
        self.solution = solution
        self.fmt = fmt

    def __call__(self, expr: sympy.Expr, *, substituted: bool = False, value=None, name: str | None = None) -> str:
        """``expr`` in lecture names, or with numbers substituted that give ``value`` as quantity ``name`` prints."""
        if not substituted:
            return _capped(symbolic_latex(expr))
        values = self.solution.numbers.values
        symbols = sorted(expr.free_symbols, key=lambda symbol: symbol.name)
        digits = self.fmt.reproducing([values[x.name] for x in symbols], _evaluator(expr, symbols), value, name=name)
        names = {x: self.fmt.paren(values[x.name], digits) for x in symbols}
        return _capped(sympy.latex(expr, symbol_names=names, mul_symbol="dot"))


_MAX_CHECKED_OPERANDS = 60  # larger rows print at the usual digits, unchecked
_MAX_CHECKED_OPERATIONS = 120


def _evaluator(expr: sympy.Expr, symbols: list):
    """``expr`` at printed numbers (Decimals), to 45 digits by ``arithmetic``: the arithmetic a reader redoes."""

    if len(symbols) > _MAX_CHECKED_OPERANDS or sympy.count_ops(expr) > _MAX_CHECKED_OPERATIONS:
        def evaluate(numbers: list[Decimal]) -> Decimal:
            raise ValueError("too large to redo")  # the usual digits are printed
        return evaluate

    def evaluate(numbers: list[Decimal]) -> Decimal:
        with mpmath.workdps(50):
            env = {x.name: mpmath.mpf(str(n)) for x, n in zip(symbols, numbers)}
            found = mp_value_at(expr, env, 50)
            if not isinstance(found, mpmath.mpf) or not mpmath.isfinite(found):
                raise ValueError("not a real number")
            return Decimal(mpmath.nstr(found, 45, min_fixed=-mpmath.inf, max_fixed=mpmath.inf))

    return evaluate


def _capped(latex: str) -> str:
    """A formula, or a note where it is longer than ``MAX_FORMULA_PRINT`` (no page could hold it)."""
    if len(latex) <= MAX_FORMULA_PRINT:
        return latex
    return rf"\text{{(a formula of {len(latex):,} characters; over {MAX_FORMULA_PRINT:,}, not printed)}}"


# -- the blocks of a worked solution -----------------------------------------------------------
def solution_blocks(solution, *, title: str | None = None, author: str = "", date: str = "") -> list[Block]:
    """Every block of the worked solution (a ``Solution``), in reading order, for the LaTeX and Markdown writers.

    ``title`` defaults to the spec's title or else the network's description; ``""`` leaves the
    title out. ``author`` and ``date`` (default: the spec's) go on a line under it.

    >>> import symgrad
    >>> blocks = solution_blocks(symgrad.solve(symgrad.derive(symgrad.load("mazur")), digits=4))
    >>> [b.parts[0][1] for b in blocks if isinstance(b, Heading)][1:4]
    ['The network', 'Forward pass', 'Loss']
    """
    network = solution.network
    title = (network.title or network.description) if title is None else title
    author, date = author or network.author, date or network.date
    fmt = _Numbers(solution)
    sym = _Symbolic(solution, fmt)
    out = solution.output
    blocks: list[Block] = []
    if title:
        blocks.append(Heading(0, (("text", title),)))
    if author or date:
        blocks.append(Byline(author, date))
    note = solution.rounding.describe() if solution.rounding.active else "computed exactly, then rounded for print"
    blocks.append(Paragraph((
        ("text", f"Numbers to {solution.precision_note} ({note}). A local partial "),
        ("math", r"\partial c/\partial x"),
        ("text", " differentiates one node's own expression, its other operands held fixed; a total derivative "),
        ("math", total_inline(out, "x")), ("text", " follows every path from "), ("math", latex_name(out)),
        ("text", " down to "), ("math", "x"), ("text", " and is the sum over the consumers "), ("math", "c"),
        ("text", " of "), ("math", "x"), ("text", ": "),
        ("math", rf"{total_inline(out, 'x')} = \sum_c {total_inline(out, 'c')} \cdot \partial c/\partial x"),
        ("text", "."),
    )))
    blocks += _network(solution, fmt)
    blocks += _forward(solution, fmt)
    blocks += [Heading(1, (("text", "Loss"),)), Equations(((latex_name(out), f"= {fmt(solution.loss, name=out)}"),))]
    blocks += _backward(solution, fmt, sym)
    for gradient in solution.gradients:
        blocks += _gradient(solution, gradient, fmt, sym)
    if solution.matrix is not None:
        blocks += matrix_blocks(solution.matrix, solution.network)
    return blocks


def _network(solution, fmt: _Numbers) -> list[Block]:
    """The table of symbols (every input, target, parameter and node, its meaning and value) and the nodes' order."""
    blocks: list[Block] = [Heading(1, (("text", "The network"),))]
    blocks.append(_symbols(solution, fmt))
    names = [node.name for node in solution.nodes]
    blocks.append(Paragraph((("text", f"The {len(names)} nodes, in the order they are computed, are defined "
                                      "below with their values; the output is "),
                             ("math", latex_name(solution.output)), ("text", "."))))
    return blocks


_LEAF_MEANINGS = {"input": "input", "target": "target (the wanted output)", "param": "parameter (trained)",
                  "constant": "constant"}
_MEANING_TEXT = 50  # characters of a definition the table of symbols quotes; a longer one is named, not quoted
_CALL = re.compile(r"([A-Za-z_]\w*)\(([A-Za-z_]\w*)\)")


def _written(solution, node) -> str:
    """The node's definition as the author wrote it, their parentheses kept (``node_text.written``)."""
    own = solution.network.nodes.get(node.name)
    return written(own.source, node.text) if own is not None else node.text


def _meaning(solution, node, targets: set) -> tuple[tuple[str, str], ...]:
    """What a node is, in a few words: the loss, a loss term, an activation, a weighted sum, or a node."""
    if node.name == solution.output:
        return (("text", "the loss (the output)"),)
    used = {name for name, _ in node.operands}
    if used & targets:
        return (("text", "loss term for "), ("math", ", ".join(latex_name(t) for t in sorted(used & targets))))
    call = _CALL.fullmatch(node.text)
    if call:
        return (("text", "activation "), ("math", join_terms(expression_pieces(_written(solution, node)))))
    call = re.fullmatch(r"([A-Za-z_]\w*)\(.*\)", node.text)
    if call and len(node.text) <= _MEANING_TEXT:
        return (("text", "function "), ("math", join_terms(expression_pieces(_written(solution, node)))))
    if call:
        return (("text", f"function {call[1]} of {len(node.operands)} operands"),)
    if re.fullmatch(r"[A-Za-z_]\w*", node.text):
        return (("text", "equal to "), ("math", latex_name(node.text)), ("text", " (identity)"))
    params = {leaf.name for leaf in solution.leaves if leaf.kind == "param"}
    if " * " in node.text and used & params and "(" not in node.text:
        return (("text", "weighted sum of its inputs"),)
    return (("text", "node"),)


def _symbols(solution, fmt: _Numbers) -> Table:
    """The table of symbols: every leaf and node, what it is and its value (leaves first, then nodes in order)."""
    targets = {leaf.name for leaf in solution.leaves if leaf.kind == "target"}
    rows = [(latex_name(leaf.name), (("text", _LEAF_MEANINGS.get(leaf.kind, leaf.kind)),), fmt(leaf.value, name=leaf.name))
            for leaf in solution.leaves]
    rows += [(latex_name(node.name), _meaning(solution, node, targets), fmt(node.value, name=node.name)) for node in solution.nodes]
    given = list(range(len(solution.leaves)))
    if solution.learning_rate is not None:
        given.append(len(rows))
        rows.append((r"\eta", (("text", "learning rate"),), fmt(solution.learning_rate)))
    return Table(("Symbol", "Meaning", "Value"), tuple(rows), tuple(given))


def _forward(solution, fmt: _Numbers) -> list[Block]:
    rows: list[tuple[str, str]] = []
    for node in solution.nodes:
        text = _written(solution, node)
        definition = expression_pieces(text)
        symbols = [solution.network.symbol(n) for n, _ in node.operands]
        digits = fmt.reproducing([v for _, v in node.operands], _evaluator(node.expr, symbols), node.value,
                                name=node.name)
        substituted = expression_pieces(text, {n: fmt(v, digits) for n, v in node.operands})
        value = fmt(node.value, name=node.name)
        steps = [definition]
        if substituted != definition and join_terms(substituted) != value:
            steps.append(substituted)
        if join_terms(definition) != value:
            steps.append([("+", value)])
        rows += equation_rows(latex_name(node.name), steps)
    return [Heading(1, (("text", "Forward pass"),)), Equations(tuple(rows))]


def _delta_rows(solution, delta, fmt: _Numbers, sym: _Symbolic) -> list[tuple[str, str]]:
    out = solution.output
    left = total(out, delta.name)
    symbolic = delta_pieces(out, delta.terms)
    if delta.value is None:
        return equation_rows(left, [symbolic, [("+", _UNDEFINED)]])
    values = [v for t in delta.terms for v in (t.delta, t.factor.value)]
    digits = fmt.reproducing(values, lambda d: sum(d[k] * d[k + 1] for k in range(0, len(d), 2)), delta.value,
                             name=delta.name)
    numeric = [("+", rf"{fmt.paren(t.delta, digits)} \cdot {fmt.paren(t.factor.value, digits)}") for t in delta.terms]
    return equation_rows(left, [symbolic, numeric, [("+", fmt(delta.value, name=delta.name))]])


def _factor_rows(factor, sym: _Symbolic, fmt: _Numbers) -> list[tuple[str, str]]:
    return equation_rows(partial(factor.of, factor.wrt), _factor_steps(factor, sym, fmt))


def _factor_steps(factor, sym: _Symbolic, fmt: _Numbers, *, name: str | None = None) -> list[list[tuple[str, str]]]:
    """A local partial's formula, the numbers substituted into it (where that shows something) and its value
    (printed as quantity ``name``, where the partial is that parameter's whole gradient).

    The formula is the author's form (``author_form``: −(t1 − out_o1), as the lectures derive it)
    where the rules give one, else SymPy's."""
    network = sym.solution.network
    form = local_form(network, factor) or piecewise_form(network, factor, values=sym.solution.numbers.values)
    if form is not None:
        return _form_steps(form, factor, sym, fmt, name=name)
    steps = [[("+", sym(factor.expr))]]
    if factor.value is None:  # only for the δ of an input or target: no gradient needs it
        return steps + [[("+", _UNDEFINED)]]
    substituted = sym(factor.expr, substituted=True, value=factor.value, name=name)
    value = fmt(factor.value, name=name)
    if factor.expr.free_symbols and not factor.expr.is_Symbol and substituted != value:
        steps.append([("+", substituted)])
    if steps[0][0][1] != value:
        steps.append([("+", value)])
    return steps


def _form_pieces(form: Parsed | PiecewiseForm, numbers: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """A local partial's form as LaTeX pieces: its own brackets for a piecewise one, else its text's."""
    return form.pieces(numbers) if isinstance(form, PiecewiseForm) else expression_pieces(form.text, numbers)


def _form_steps(form: Parsed | PiecewiseForm, factor, sym: _Symbolic, fmt: _Numbers, *, name: str | None = None
                ) -> list[list[tuple[str, str]]]:
    steps = [[(op, _capped(term)) for op, term in _form_pieces(form)]]
    if factor.value is None:
        return steps + [[("+", _UNDEFINED)]]
    value = fmt(factor.value, name=name)
    values = sym.solution.numbers.values
    one_name = form.text.lstrip("-") in form.names  # t1 or −t2: the number itself says it (no −0)
    if form.names and not one_name:
        symbols = sorted(form.expr.free_symbols, key=lambda symbol: form.names.index(symbol.name))
        digits = fmt.reproducing([values[n] for n in form.names], _evaluator(form.expr, symbols), factor.value,
                                 name=name)
        substituted = _form_pieces(form, {n: fmt(values[n], digits) for n in form.names})
        if join_terms(substituted) != value:
            steps.append([(op, _capped(term)) for op, term in substituted])
    if join_terms(steps[0]) != value:
        steps.append([("+", value)])
    return steps


def shown_deltas(solution) -> list:
    """The total derivatives a document derives in its backward pass, as the LaTeX and Markdown show them:
    those some gradient is built from (every one, for a circuit with no targets), less the output's own
    and the parameters' (each parameter's has its own section)."""
    params = {g.param for g in solution.gradients}
    shown = set(solution.derivation.needed)
    if not solution.network.targets:
        shown |= {delta.name for delta in solution.deltas}
    found = [d for d in solution.deltas if d.name != solution.output and d.name not in params and d.name in shown]
    return found


def trivial_deltas(solution) -> list:
    """The δ's that are 1 because the output is their plain sum (E_total = E_o1 + E_o2): stated once, in words."""
    out = solution.output
    order = {node.name: k for k, node in enumerate(solution.nodes)}
    return sorted((d for d in shown_deltas(solution) if len(d.terms) == 1 and d.terms[0].consumer == out
                   and d.terms[0].factor.expr == 1), key=lambda d: order.get(d.name, -1))


def _backward(solution, fmt: _Numbers, sym: _Symbolic) -> list[Block]:
    out = solution.output
    blocks: list[Block] = [Heading(1, (("text", "Backward pass"),)), Paragraph((
        ("text", "Each total derivative is the sum over the consumers of the quantity, starting from "),
        ("math", f"{total_inline(out, out)} = 1"), ("text", "; the local partials it uses follow it."),
    ))]
    trivial = trivial_deltas(solution)
    if trivial:
        names = " = ".join(total_inline(out, d.name) for d in trivial)
        blocks.append(Paragraph((("math", f"{names} = 1"), ("text", f": {'it is a term' if len(trivial) == 1 else 'each is a term'} of the sum "),
                                 ("math", latex_name(out)), ("text", "."))))
    for delta in shown_deltas(solution):
        if delta in trivial:
            continue
        rows = _delta_rows(solution, delta, fmt, sym)
        for term in delta.terms:
            rows += _factor_rows(term.factor, sym, fmt)
        blocks.append(Equations(tuple(rows)))
        if delta.value is None and delta.undefined:
            blocks.append(Paragraph((("text", delta.undefined),)))
    return blocks


def _gradient(solution, gradient, fmt: _Numbers, sym: _Symbolic) -> list[Block]:
    """A parameter's gradient: the sum over its consumers, one local partial, or the lecture's chain form."""
    out, p = solution.output, gradient.param
    label = total(out, p)
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
        steps = [[("+", partial(factor.of, factor.wrt))]] + _factor_steps(factor, sym, fmt, name=p)
        blocks.append(Equations(tuple(equation_rows(label, steps))))
    else:
        blocks.append(Paragraph((("text", f"The chain rule in Leibniz notation ({count}"), ("math", latex_name(out)),
                                 ("text", " to "), ("math", latex_name(p)), ("text", "):"))))
        blocks += _chain(solution, gradient, fmt, sym)
    update = next((u for u in solution.updates if u.param == p), None)
    if update is not None:
        blocks += _update(solution, update, fmt)
    return blocks


def _chain(solution, gradient, fmt: _Numbers, sym: _Symbolic) -> list[Block]:
    """The chain form dE/dw5 = dE/dout_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5, each factor, and the product."""
    out, chain = solution.output, gradient.chain
    label = total(out, gradient.param)
    names = [partial(f.of, f.wrt) for f in chain.factors]
    values = ([chain.head_delta] if chain.head_delta is not None else []) + [f.value for f in chain.factors]
    digits = fmt.reproducing(values, prod, gradient.value, name=gradient.param)
    numbers = [fmt.paren(v, digits) for v in values]
    if chain.head_delta is not None:
        names.insert(0, total(out, chain.head))
    blocks: list[Block] = [Equations(tuple(equation_rows(label, [[("+", r" \cdot ".join(names))]])))]
    blocks.append(Paragraph((("text", "Each factor:"),)))
    rows = []
    if chain.head_delta is not None:
        rows.append((total(out, chain.head), rf"= {fmt(chain.head_delta, name=chain.head)} \quad \text{{(backward pass)}}"))
    for factor in chain.factors:
        rows += _factor_rows(factor, sym, fmt)
    blocks.append(Equations(tuple(rows)))
    blocks.append(Paragraph((("text", "The product:"),)))
    product = [[("+", r" \cdot ".join(numbers))]] if len(numbers) > 1 else []
    blocks.append(Equations(tuple(equation_rows(label, product + [[("+", fmt(gradient.value, name=gradient.param))]]))))
    return blocks


def _update(solution, update, fmt: _Numbers) -> list[Block]:
    """θ⁺ = θ − η · dE/dθ with its numbers, and which update rule gave them."""
    name = latex_name(update.param)
    label = total(solution.output, update.param)
    digits = fmt.reproducing([update.before, solution.learning_rate, update.gradient],
                             lambda d: d[0] - d[1] * d[2], update.after, name=update.param)
    rows = equation_rows(f"{name}^{{+}}", [[("+", name), ("-", rf"\eta \, {label}")],
                                           [("+", fmt(update.before, digits)),
                                            ("-", rf"{fmt(solution.learning_rate, digits)} \cdot "
                                                  rf"{fmt.paren(update.gradient, digits)}")],
                                           [("+", fmt(update.after, name=update.param))]])
    how = ("every gradient taken at the old parameters" if solution.update_rule == "simultaneous"
           else "layer by layer from the output")
    return [Paragraph((("text", f"The update ({how}):"),)), Equations(tuple(rows))]
