"""Lecture notation in LaTeX: names, total derivatives d, local partials ∂, and formulas in lecture names.

Names print as the lectures print them (``out_o1`` → out_{o1}, ``E_total`` → E_{total}); a
local partial of one node's own expression is written ∂c/∂x, a total derivative along all paths
dE/dx. Every LaTeX and Markdown document symgrad writes uses these.
"""

from __future__ import annotations

import re
from typing import Iterable

import sympy

from ..limits import MAX_NAME_PRINT

__all__ = ["abbreviate", "latex_name", "total", "total_inline", "partial", "delta_pieces", "symbolic_latex"]

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
          "nu", "xi", "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
          "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega"}


def abbreviate(name: str) -> str:
    """``name`` as documents and pictures print it: whole up to ``MAX_NAME_PRINT`` characters, else its
    start and end around an ellipsis (so a page or a box can hold it).

    >>> abbreviate("w5"), abbreviate("weight_" + "a" * 60 + "_end")
    ('w5', 'weight_aaaaaaaaaaaaaaaaaaa…aaaaaaaaa_end')
    """
    if len(name) <= MAX_NAME_PRINT:
        return name
    tail = MAX_NAME_PRINT // 3
    return name[:MAX_NAME_PRINT - tail - 1] + "…" + name[-tail:]


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
    if len(name) > MAX_NAME_PRINT:
        head, _, tail = abbreviate(name).partition("…")
        return r"\mathrm{" + head.replace("_", r"\_") + r"\ldots " + tail.replace("_", r"\_") + "}"
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


def total(of: str, wrt: str) -> str:
    """The total derivative d of / d wrt (along all paths), as a fraction."""
    return rf"\frac{{\mathrm{{d}}{latex_name(of)}}}{{\mathrm{{d}}{latex_name(wrt)}}}"


def total_inline(of: str, wrt: str) -> str:
    """The total derivative for running text: dE/dx with a slash."""
    return rf"\mathrm{{d}}{latex_name(of)}/\mathrm{{d}}{latex_name(wrt)}"


def partial(of: str, wrt: str) -> str:
    """The local partial ∂of/∂wrt of one node's own expression."""
    return rf"\frac{{\partial {latex_name(of)}}}{{\partial {latex_name(wrt)}}}"


def delta_pieces(out: str, terms: Iterable) -> list[tuple[str, str]]:
    """The symbolic sum over the consumers c of x: dE/dc ∂c/∂x for each term of δ_x.

    ``terms`` are a ``chain.Term`` or ``solution.SolvedTerm`` each (a ``consumer`` and a ``factor``
    with ``of`` and ``wrt``); only those attributes are read.
    """
    return [("+", rf"{total(out, t.consumer)} \, {partial(t.factor.of, t.factor.wrt)}") for t in terms]


def symbolic_latex(expr: sympy.Expr) -> str:
    """A SymPy expression (a local partial's formula) in lecture names, as every document prints it.

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> print(symbolic_latex(d.factors["out_o1", "net_o1"].expr))
    \\mathrm{out}_{\\mathrm{o1}} \\left(1 - \\mathrm{out}_{\\mathrm{o1}}\\right)
    """
    return sympy.latex(expr, symbol_names={symbol: latex_name(symbol.name) for symbol in expr.free_symbols})
