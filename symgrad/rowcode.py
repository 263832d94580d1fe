"""The scalar form's lines for one quantity at a time, shared by the NumPy and numba backends.

A ``RowWriter`` holds a derivation, the generated names and the printer; each function here
returns source lines over named quantities: the forward pass (one line per node, through the
stable rewrites of ``stable.stabilize``), the local factors (sharing subexpressions through
``sympy.cse``) and the δ lines of the reverse pass (``chain.accumulate``). The same lines run
on whole batch columns in ``symgrad.compile`` and on one row's scalars in ``symgrad.fused``;
only what surrounds them differs.

>>> import symgrad
>>> from symgrad.codegen import Names, NumpyPrinter
>>> names = Names()
>>> w = RowWriter(symgrad.derive(symgrad.load("mazur")), names, NumpyPrinter(names))
>>> forward_lines(w)[:2]
['net_h1 = b1 + i1*w1 + i2*w2', 'out_h1 = sigmoid(net_h1)']
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .chain import Derivation, accumulate
from .codegen import Names, NumpyPrinter, float_literal, joined
from .errors import GraphError
from .graph import Network
from .stable import stabilize

__all__ = ["RowWriter", "constant_literal", "print_factor", "forward_lines", "local_factor_lines", "delta_term", "joined",
           "adjoint_lines"]


@dataclass
class RowWriter:
    """What every step of the scalar form shares: the derivation, the names and the printer."""

    derivation: Derivation
    names: Names
    printer: NumpyPrinter


def constant_literal(net: Network, name: str) -> str:
    return float_literal(net.values[name], what=f"the value of constant {name!r}")


def forward_lines(w: RowWriter) -> list[str]:
    body = []
    for name in w.derivation.order:
        node = w.derivation.network.nodes.get(name)
        if node is not None:
            try:
                body.append(f"{w.names.get(name)} = {w.printer(stabilize(node.expr))}")
            except GraphError as exc:
                raise GraphError(f"cannot compile node {name!r}: {exc}") from None
    return body


def local_factor_lines(w: RowWriter, *, share: bool = True) -> tuple[dict, list[str]]:
    """Every local factor, made stable and sharing common subexpressions: (factor by edge, lines).

    ``share=False`` skips ``sympy.cse``: each factor is then computed where it is used, which
    costs nothing that matters on a few points and saves most of the compile of a new network
    (cse is 40 % of it).
    """
    keys = list(w.derivation.factors)
    stable = [stabilize(w.derivation.factors[k].expr) for k in keys]
    if not share:
        return dict(zip(keys, stable)), []
    shared, reduced = sympy.cse(stable, symbols=sympy.numbered_symbols("cse", cls=sympy.Dummy), optimizations=None)
    body = []
    for k, (sym, expr) in enumerate(shared):
        w.printer.override[sym] = w.names.get(str(k), "cse")
        try:
            body.append(f"{w.printer.override[sym]} = {w.printer(expr)}")
        except GraphError as exc:
            raise GraphError(f"cannot compile the local derivatives of {w.derivation.output!r}: {exc}") from None
    return dict(zip(keys, reduced)), body


def print_factor(w: RowWriter, factor: sympy.Expr, consumer: str, operand: str, *, atom: bool = False) -> str:
    try:
        return w.printer.atom(factor) if atom else w.printer(factor)
    except GraphError as exc:
        raise GraphError(f"cannot compile ∂{consumer}/∂{operand}: {exc}") from None


def delta_term(w: RowWriter, factor: sympy.Expr, consumer: str, operand: str, unit: set[str]) -> str:
    """One term δ_consumer · factor as source; a δ that is exactly 1 is left out."""
    if consumer in unit:
        return print_factor(w, factor, consumer, operand)
    delta = w.names.get(consumer, "delta")
    if factor == 1:
        return delta
    if factor == -1:
        return f"-{delta}"
    return f"{delta}*{print_factor(w, factor, consumer, operand, atom=True)}"


def adjoint_lines(w: RowWriter, local: dict) -> tuple[set[str], list[str]]:
    """One ``delta_x = Σ delta_c * dc/dx`` line per quantity a gradient needs (``chain.accumulate``).

    δ_output = 1 per sample; a δ that is exactly 1 (the output, and a sum node's operands)
    is never materialised, and parameter gradients are reduced term by term, never stored.
    """
    derivation = w.derivation
    unit = {derivation.output}
    params = set(derivation.network.params)
    body: list[str] = []

    def total(name: str, consumers: list[str]) -> str:
        if len(consumers) == 1 and consumers[0] in unit and local[consumers[0], name] == 1:
            unit.add(name)  # δ_name = δ_consumer = 1
        elif name not in params:
            terms = [delta_term(w, local[c, name], c, name, unit) for c in consumers]
            body.append(f"{w.names.get(name, 'delta')} = {joined(terms)}")
        return name

    accumulate(derivation, derivation.output, lambda _, t: t.consumer, total, only=derivation.needed)
    return unit, body
