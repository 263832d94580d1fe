"""Second derivatives of chosen parameters worked out step by step, for documents.

For one entry ∂²E/∂a∂b, forward over reverse along b (``second_order``) gives two lists
of steps, each a sum of products of named factors with their certified values:

- the tangents dy/db = Σ_o ∂y/∂o · do/db of every node that b moves;
- the derivatives d/db (dE/dx) = Σ_c [ d/db(dE/dc) · ∂c/∂x + dE/dc · Σ_y ∂(∂c/∂x)/∂y · dy/db ]
  of every δ on the way down to a, ending with d²E/da db.

``render.hessian_blocks`` writes them in the lecture's notation (text, LaTeX, Markdown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import mpmath

from .chain import Derivation
from .errors import InvalidArgument
from .precision import GUARD_DIGITS, validate_digits
from .second_order import certify, ExactPass, check_params, derive_second

__all__ = ["Piece", "Step", "SolvedHessianEntry", "HessianSolution", "solve_hessian", "hessian_pairs"]


@dataclass(frozen=True)
class Piece:
    """One named factor of a product: ``kind`` is "delta" (dE/dx), "ddelta" (d/db dE/dx), "local" (∂c/∂x),
    "dlocal" (∂(∂c/∂x)/∂y, with its ``formula``) or "tangent" (dy/db); ``names`` the quantities it names."""

    kind: str
    names: tuple[str, ...]
    value: mpmath.mpf
    formula: object = None  # the SymPy expression of a "dlocal" piece


@dataclass(frozen=True)
class Step:
    """``left`` = Σ over ``products`` of the product of its pieces = ``value``."""

    left: Piece
    products: tuple[tuple[Piece, ...], ...]
    value: mpmath.mpf


@dataclass(frozen=True)
class SolvedHessianEntry:
    """∂²output/∂a∂b with the tangent steps and the δ-derivative steps that give it."""

    a: str
    b: str
    value: mpmath.mpf
    tangents: tuple[Step, ...]
    deltas: tuple[Step, ...]


@dataclass(frozen=True)
class HessianSolution:
    """The entries a document shows, with what it needs to print them."""

    title: str
    output: str
    entries: tuple[SolvedHessianEntry, ...]
    digits: int
    kinks: tuple[str, ...]


def hessian_pairs(names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Every pair (a, b) with a at or before b: w5, w6 gives (w5, w5), (w5, w6), (w6, w6)."""
    return tuple((a, b) for k, a in enumerate(names) for b in names[k:])


def solve_hessian(derivation: Derivation, params: Sequence[str], *, at: Mapping[str, object] | None = None,
                  digits: int = 9) -> HessianSolution:
    """∂²output/∂a∂b for every pair of ``params``, step by step, certified to ``digits`` + guard digits.

    >>> import symgrad
    >>> s = solve_hessian(symgrad.derive(symgrad.load("mazur")), ["w5"])
    >>> symgrad.to_decimal(s.entries[0].value, 9), [st.left.names[0] for st in s.entries[0].tangents]
    ('-0.0122229542', ['net_o1', 'out_o1', 'E_o1', 'E_total'])
    """
    validate_digits(digits)
    names = check_params(derivation, params)
    if not names:
        raise InvalidArgument("--hessian names no parameter; give some, such as w5,w6")
    second = derive_second(derivation)
    entries, kinks = [], set()
    for a, b in hessian_pairs(names):
        holder: dict = {}

        def compute(digits_, a=a, b=b):
            exact = ExactPass(second, at, digits_)
            holder["kinks"] = exact.kinks()
            tangents, dots = exact.passes({b: 1})
            holder["steps"] = _steps(second, exact, tangents, dots, a)
            return {f"{k}": step.value for k, step in enumerate(holder["steps"][0] + holder["steps"][1])} | {
                "entry": dots.get(a, exact.zero)}

        numbers = certify(compute, digits + GUARD_DIGITS)
        kinks.update(holder["kinks"])
        tangent_steps, delta_steps = holder["steps"]
        entries.append(SolvedHessianEntry(a, b, numbers["entry"], tangent_steps, delta_steps))
    network = derivation.network
    return HessianSolution(network.title or network.description, derivation.output, tuple(entries), digits,
                           tuple(sorted(kinks)))


def _steps(second, exact, tangents: dict, dots: dict, a: str) -> tuple[tuple[Step, ...], tuple[Step, ...]]:
    derivation = second.derivation
    network = derivation.network
    factors, deltas = exact.gradients.factors, exact.gradients.adjoints
    tangent_steps = []
    for y in derivation.order:
        node = network.nodes.get(y)
        if node is None or tangents[y] == 0:
            continue
        products = tuple((Piece("local", (y, o), factors[y, o]), Piece("tangent", (o,), tangents[o]))
                         for o in node.operands if tangents[o] != 0)
        tangent_steps.append(Step(Piece("tangent", (y,), tangents[y]), products, tangents[y]))
    below = {x for x in derivation.adjoints if a in network.ancestors(x)}
    delta_steps = []
    for x, adjoint in derivation.adjoints.items():
        if x == derivation.output or x not in below:
            continue
        products = []
        for t in adjoint.terms:
            key = (t.factor.of, t.factor.wrt)
            if dots.get(t.consumer, 0) != 0:
                products.append((Piece("ddelta", (t.consumer,), dots[t.consumer]),
                                 Piece("local", key, factors[key])))
            for s in second.seconds[key]:
                if tangents.get(s.wrt, 0) != 0 and deltas[t.consumer] != 0:
                    products.append((Piece("delta", (t.consumer,), deltas[t.consumer]),
                                     Piece("dlocal", key + (s.wrt,), exact.seconds[s], s.expr),
                                     Piece("tangent", (s.wrt,), tangents[s.wrt])))
        if products or x == a:
            delta_steps.append(Step(Piece("ddelta", (x,), dots.get(x, exact.zero)), tuple(products),
                                    dots.get(x, exact.zero)))
    return tuple(tangent_steps), tuple(delta_steps)
