"""The plain-text report: forward pass, loss, backward pass, gradients and the update.

It only formats a ``Solution``; every number was computed once by ``symgrad.solve``. A node's
definition is shown with its numbers substituted by ``node_text.substitute``.
"""

from __future__ import annotations

import unicodedata

import sympy

from ..solution import Solution, SolvedDelta, SolvedGradient
from .node_text import substitute, written
from .author_form import local_form
from .piecewise_form import piecewise_form
from .solution_blocks import shown_deltas, trivial_deltas

__all__ = ["render_text", "printable"]


def printable(text: str) -> str:
    """``text`` with control and format characters escaped (an ANSI escape cannot reach the terminal).

    >>> printable("net\\x1b[2J")
    'net\\\\x1b[2J'
    """
    return "".join(ch if not unicodedata.category(ch).startswith("C") else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def _paren(number: str) -> str:
    return f"({number})" if number.startswith("-") else number


class _Formatter:
    def __init__(self, solution: Solution):
        self.solution = solution

    def __call__(self, value, *, name: str | None = None) -> str:
        """``value`` as printed; as quantity ``name`` prints it (its own digits, if chosen) when named."""
        return self.solution.format(value) if name is None else self.solution.format_of(name, value)


def render_text(solution: Solution, *, title: str = "", author: str = "", date: str = "") -> str:
    """The whole report as text, the same bytes for the same input; ``author`` and ``date`` go under the title."""
    fmt = _Formatter(solution)
    lines: list[str] = []
    if title:
        title = printable(title)
        lines += [title, "=" * len(title)]
        lines += [printable(line) for line in (author, date) if line] + [""]
    note = "decimals in the spec are exact"
    if solution.rounding.active:
        note = solution.rounding.describe()
    lines += [f"Output: {solution.output}    ({solution.precision_note}; {note})", ""]
    lines += _leaves(solution, fmt) + [""] + _forward(solution, fmt) + [""]
    lines += ["Loss", f"  {solution.output} = {fmt(solution.loss, name=solution.output)}", ""]
    lines += _backward(solution, fmt) + [""] + _gradients(solution, fmt)
    if solution.updates:
        lines += [""] + _updates(solution, fmt)
    return "\n".join(lines) + "\n"


def _leaves(solution: Solution, fmt: _Formatter) -> list[str]:
    return ["Inputs and parameters"] + [f"  {leaf.name} = {fmt(leaf.value, name=leaf.name)}    ({leaf.kind})"
                                        for leaf in solution.leaves]


def _forward(solution: Solution, fmt: _Formatter) -> list[str]:
    lines = ["Forward pass"]
    for node in solution.nodes:
        pad = " " * (len(node.name) + 1)
        value = fmt(node.value, name=node.name)
        own = solution.network.nodes.get(node.name)
        text = written(own.source, node.text) if own is not None else node.text
        lines.append(f"  {node.name} = {text}")
        substituted = substitute(text, {n: fmt(v) for n, v in node.operands})
        if substituted != value:
            lines.append(f"  {pad}= {substituted}")
        lines.append(f"  {pad}= {value}")
    return lines


def _partial(factor) -> str:
    """A local partial of one node's own expression: ∂of/∂wrt (a total derivative is written d)."""
    return f"∂{factor.of}/∂{factor.wrt}"


def _formula(solution: Solution, factor) -> str:
    """A local partial's formula: the author's form (−(t1 - out_o1)) where there is one, else SymPy's."""
    form = local_form(solution.network, factor) or piecewise_form(solution.network, factor,
                                                                  values=solution.numbers.values)
    return form.text if form is not None else sympy.sstr(factor.expr)


def _backward(solution: Solution, fmt: _Formatter) -> list[str]:
    out = solution.output
    lines = [f"Backward pass    (d{out}/dx = sum over the consumers c of x of d{out}/dc * ∂c/∂x;",
             "                  ∂: a local partial of one node's expression; d: a total derivative, every path)"]
    trivial = trivial_deltas(solution)
    if trivial:
        names = " = ".join(f"d{out}/d{d.name}" for d in trivial)
        lines.append(f"  {names} = 1: {'it is a term' if len(trivial) == 1 else 'each is a term'} of the sum {out}")
    for delta in shown_deltas(solution):
        if delta not in trivial:
            lines += _delta(solution, delta, fmt)
    return lines


def _delta(solution: Solution, delta: SolvedDelta, fmt: _Formatter) -> list[str]:
    out = solution.output
    symbolic = " + ".join(f"d{out}/d{t.consumer} * {_partial(t.factor)}" for t in delta.terms)
    pad = " " * (len(out) + len(delta.name) + 4)
    if delta.value is None:
        return [f"  d{out}/d{delta.name} = {symbolic}", f"  {pad}is undefined here: {delta.undefined}"]
    numeric = " + ".join(f"{_paren(fmt(t.delta))} * {_paren(fmt(t.factor.value))}" for t in delta.terms)
    locals_ = ", ".join(f"{_partial(t.factor)} = {_formula(solution, t.factor)}" for t in delta.terms)
    return [f"  d{out}/d{delta.name} = {symbolic}", f"  {pad}= {numeric}", f"  {pad}= {fmt(delta.value, name=delta.name)}",
            f"  {pad}  where {locals_}"]


def _gradients(solution: Solution, fmt: _Formatter) -> list[str]:
    lines = ["Gradients"]
    if not solution.gradients:
        lines.append(f"  ({solution.output} depends on no trainable parameter)")
    for gradient in solution.gradients:
        lines += _gradient(solution, gradient, fmt)
    return lines


def _gradient(solution: Solution, gradient: SolvedGradient, fmt: _Formatter) -> list[str]:
    out = solution.output
    p = gradient.param
    label = f"d{out}/d{p}"
    pad = " " * (len(label) + 1)
    value = fmt(gradient.value, name=gradient.param)
    chain = gradient.chain
    lines = []
    if chain is None:
        lines.append(f"  {label} = {value}")
    else:
        names = [_partial(f) for f in chain.factors]
        numbers = [fmt(f.value) for f in chain.factors]
        if chain.head_delta is not None:
            names.insert(0, f"d{out}/d{chain.head}")
            numbers.insert(0, fmt(chain.head_delta, name=chain.head))
        if chain.head_delta is None and len(chain.factors) == 1:  # the output uses p directly: one local partial
            formula = _formula(solution, chain.factors[0])
            shown = f" = {formula}" if formula != value else ""
            return [f"  {label} = {names[0]}{shown} = {value}", f"  {pad}  (1 path from {out} to {p})"]
        lines.append(f"  {label} = {' * '.join(names)}")
        if len(numbers) > 1:
            lines.append(f"  {pad}= {' * '.join(_paren(n) for n in numbers)}")
        if names != [value]:
            lines.append(f"  {pad}= {value}")
    n = gradient.paths
    lines.append(f"  {pad}  ({n} path{'s' if n != 1 else ''} from {out} to {p})")
    return lines


def _updates(solution: Solution, fmt: _Formatter) -> list[str]:
    out = solution.output
    rate = fmt(solution.learning_rate)
    how = ("every gradient taken at the old parameters" if solution.update_rule == "simultaneous"
           else "layer by layer from the output: each layer's gradients use the layers above already updated")
    lines = [f"Update    (learning rate {rate}; {how})"]
    for u in solution.updates:
        lines.append(f"  {u.param}+ = {u.param} - {rate} * d{out}/d{u.param} = {fmt(u.before)} - {rate} * "
                     f"{_paren(fmt(u.gradient))} = {fmt(u.after, name=u.param)}")
    return lines
