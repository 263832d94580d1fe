"""The plain-text report: forward pass, loss, backward pass, gradients and the update."""

from __future__ import annotations

import ast

import sympy

from ..chain import Derivation
from ..evaluate import GradientValues, to_decimal
from ..train import Step

__all__ = ["render_text", "format_number", "substitute"]


def format_number(value, digits: int) -> str:
    """``digits`` significant digits, trailing zeros dropped (0.15, not 0.150000000)."""
    text = to_decimal(value, digits)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def substitute(text: str, numbers: dict[str, str]) -> str:
    """Rewrite an expression as written with each name replaced by its number.

    ``text`` is the normalised source the allow-list parser produced, so re-reading it
    with ``ast`` interprets nothing new; negative numbers are parenthesised.
    """
    tree = ast.parse(text, mode="eval")

    class Swap(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in numbers:
                value = numbers[node.id]
                return ast.Name(id=f"({value})" if value.startswith("-") else value, ctx=ast.Load())
            return node

    return ast.unparse(Swap().visit(tree))


def _paren(number: str) -> str:
    return f"({number})" if number.startswith("-") else number


def _local(expr: sympy.Expr) -> str:
    return sympy.sstr(expr)


def render_text(derivation: Derivation, values: GradientValues, *, digits: int, update: Step | None = None,
                title: str = "") -> str:
    """The whole report as text, the same bytes for the same input."""
    net = derivation.network
    out = derivation.output
    num = {name: format_number(v, digits) for name, v in values.values.items()}
    lines: list[str] = []
    if title:
        lines += [title, "=" * len(title), ""]
    lines.append(f"Output: {out}    ({digits} significant digits; decimals in the spec are exact)")
    lines.append("")
    lines.append("Inputs and parameters")
    for name, leaf in net.leaves.items():
        if name in derivation.order:
            lines.append(f"  {name} = {num[name]}    ({leaf.kind})")
    lines.append("")
    lines.append("Forward pass")
    for name in derivation.order:
        node = net.nodes.get(name)
        if node is None:
            continue
        pad = " " * (len(name) + 1)
        lines.append(f"  {name} = {node.text}")
        substituted = substitute(node.text, {n: num[n] for n in node.operands})
        if substituted != num[name]:
            lines.append(f"  {pad}= {substituted}")
        lines.append(f"  {pad}= {num[name]}")
    lines.append("")
    lines.append("Loss")
    lines.append(f"  {out} = {num[out]}")
    lines.append("")
    lines.append(f"Backward pass    (d{out}/dx = sum over the consumers c of x of d{out}/dc * dc/dx)")
    adj = {name: format_number(v, digits) for name, v in values.adjoints.items()}
    fac = {key: format_number(v, digits) for key, v in values.factors.items()}
    for a in derivation.adjoints.values():
        if a.name == out:
            lines.append(f"  d{out}/d{out} = 1")
            continue
        symbolic = " + ".join(f"d{out}/d{t.consumer} * {t.factor.leibniz}" for t in a.terms)
        numeric = " + ".join(f"{_paren(adj[t.consumer])} * {_paren(fac[t.consumer, a.name])}" for t in a.terms)
        locals_ = ", ".join(f"{t.factor.leibniz} = {_local(t.factor.expr)}" for t in a.terms)
        pad = " " * (len(out) + len(a.name) + 4)
        lines.append(f"  d{out}/d{a.name} = {symbolic}")
        lines.append(f"  {pad}= {numeric}")
        lines.append(f"  {pad}= {adj[a.name]}")
        lines.append(f"  {pad}  where {locals_}")
    lines.append("")
    lines.append("Gradients")
    params = derivation.params
    if not params:
        lines.append(f"  ({out} depends on no trainable parameter)")
    for p in params:
        label = f"d{out}/d{p}"
        pad = " " * (len(label) + 1)
        chain = derivation.chain(p)
        if chain is None:
            lines.append(f"  {label} = {adj[p]}")
        else:
            names = [f.leibniz for f in chain.factors]
            numbers = [fac[f.of, f.wrt] for f in chain.factors]
            if chain.head != out:
                names.insert(0, f"d{out}/d{chain.head}")
                numbers.insert(0, adj[chain.head])
            if names == [label]:  # the output uses p directly: show the local partial itself
                names = [_local(chain.factors[0].expr)]
            lines.append(f"  {label} = {' * '.join(names)}")
            if len(numbers) > 1:
                lines.append(f"  {pad}= {' * '.join(_paren(n) for n in numbers)}")
            if names != [adj[p]]:
                lines.append(f"  {pad}= {adj[p]}")
        n_paths = derivation.count_paths(p)
        lines.append(f"  {pad}  ({n_paths} path{'s' if n_paths != 1 else ''} from {out} to {p})")
    if update is not None:
        rate = format_number(net.learning_rate, digits)
        lines.append("")
        lines.append(f"Update    (learning rate {rate}; every gradient taken at the old parameters)")
        for p in params:
            before = format_number(update.before[p], digits)
            grad = adj[p]
            after = format_number(update.after[p], digits)
            lines.append(f"  {p}+ = {p} - {rate} * d{out}/d{p} = {before} - {rate} * {_paren(grad)} = {after}")
    return "\n".join(lines) + "\n"
