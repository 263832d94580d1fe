"""Judging the numbers substituted into a chain: is 0.593269992 really ∂net_o1/∂w5 = out_h1?

A gradient claim written as a product of numbers, ``dE_total/dw5 = 0.74136507*0.186815602*0.593269992``,
states which numbers the person multiplied. Each is matched to a quantity of the chain rule for
that claim (``chain_factors``), then judged as that quantity (``judge_factors``).

The rule, as the how-to states it: the chain for dA/dB walks up from B through quantities
with one consumer each (∂net_o1/∂w5, ∂out_o1/∂net_o1, ∂E_o1/∂out_o1, …) and stops at the
output or at the first quantity with several consumers, whose whole derivative dA/dhead is
one factor (δ_out_h1 for w1). When the person wrote as many numbers as the chain has factors,
with or without the factors that are 1 (∂E_total/∂E_o1, ∂q/∂x of q = x + y), they are matched to
them in the order that fits best (the written order wins a tie); otherwise each number is
matched to the quantity of the chain, or the derivative of A with respect to a quantity on it
(a δ), whose value is nearest (by ratio).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

import mpmath
import sympy

from .chain import Derivation
from .claim_data import Claim, World, as_decimal, rounded, rounds_to
from .evaluation import evaluate_gradients

__all__ = ["ChainFactor", "MAX_ORDERED_FACTORS", "chain_factors", "judge_factors"]

#: Products of at most this many numbers are matched to the chain in the order that fits best
#: (at most 6! = 720 orders tried); longer ones number by number, by nearest value.
MAX_ORDERED_FACTORS = 6
_FAR = 50.0  # a ratio's log beyond which a number is simply far (a sign or a zero)


@dataclass(frozen=True)
class ChainFactor:
    """One quantity of the chain rule for a claim: its name as people write it, its exact value,
    and the key of the person's own earlier number for it (kind, key), if they wrote one."""

    label: str
    value: object
    keys: tuple[tuple[str, object], ...]


def chain_factors(derivation: Derivation, wrt: str, *, digits: int) -> tuple[list[ChainFactor], list[ChainFactor]]:
    """(the chain's factors in order, output side first; every quantity a number may stand for).

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> [f.label.split(" ")[0] for f in chain_factors(d, "w5", digits=20)[0]]
    ['∂E_total/∂E_o1', '∂E_o1/∂out_o1', '∂out_o1/∂net_o1', '∂net_o1/∂w5']
    """
    numbers = evaluate_gradients(derivation, digits=digits)
    top = derivation.output
    chain = derivation.chain(wrt, depth=len(derivation.order) + 1)
    ordered: list[ChainFactor] = []
    if chain is not None and chain.head != top:
        ordered.append(_delta(derivation, numbers, chain.head))
    for f in chain.factors if chain is not None else ():
        keys = [("factors", (f.of, f.wrt))]
        if isinstance(f.expr, sympy.Symbol):
            keys.append(("values", str(f.expr)))
        ordered.append(ChainFactor(f"∂{f.of}/∂{f.wrt} (= {sympy.sstr(f.expr)})", numbers.factors[f.of, f.wrt],
                                   tuple(keys)))
    candidates = list(ordered)
    above = [wrt]
    while above:  # every δ on a path from wrt up: what a partial product of the chain stands for
        name = above.pop()
        for term in derivation.adjoint(name).terms:
            if term.consumer != top and all(c.label != _delta_label(derivation, term.consumer) for c in candidates):
                candidates.append(_delta(derivation, numbers, term.consumer))
                above.append(term.consumer)
            key = (term.consumer, term.factor.wrt)
            if all(("factors", key) not in c.keys for c in candidates) and term.factor.expr != 1:
                candidates.append(ChainFactor(f"∂{key[0]}/∂{key[1]} (= {sympy.sstr(term.factor.expr)})",
                                              numbers.factors[key], (("factors", key),)))
    return ordered, candidates


def _without_ones(factors: list[ChainFactor]) -> list[ChainFactor]:
    return [f for f in factors if f.value != 1 or f.label.startswith("d")]


def _delta_label(derivation: Derivation, name: str) -> str:
    return f"d{derivation.output}/d{name}"


def _delta(derivation: Derivation, numbers, name: str) -> ChainFactor:
    return ChainFactor(_delta_label(derivation, name), numbers.adjoints[name],
                       (("deltas", (derivation.output, name)), ("factors", (derivation.output, name))))


def _ratio(a: Decimal, b) -> float:
    b = as_decimal(b)
    if not a or not b:
        return _FAR
    sign = 1.0 if (a < 0) != (b < 0) else 0.0  # a sign slip still stands for the quantity of that size
    return sign + abs(float(mpmath.log(abs(mpmath.mpf(str(a)) / mpmath.mpf(str(b))))))


def _match(written: list[Decimal], ordered: list[ChainFactor], candidates: list[ChainFactor]) -> list[ChainFactor]:
    """The quantity each written number stands for: the chain's factors in the order written, or in
    the order that fits best (the first such, so the written order wins a tie); by nearest value
    when the count differs."""
    for chain in (ordered, _without_ones(ordered)):  # with the factors of 1 written, or left out
        if len(written) == len(chain) and len(chain) <= MAX_ORDERED_FACTORS:
            return list(min(itertools.permutations(chain),
                            key=lambda way: sum(min(_ratio(w, f.value), _FAR) for w, f in zip(written, way))))
    nearest: dict[Decimal, ChainFactor] = {}  # each distinct number matched once (a product of 1,000 equal numbers)
    for w in written:
        if w not in nearest:
            nearest[w] = min(candidates, key=lambda f: _ratio(w, f.value))
    return [nearest[w] for w in written]


def _quantum(number: Decimal) -> Decimal:
    return Decimal(1).scaleb(min(number.as_tuple().exponent, 0))


def judge_factors(claim: Claim, derivation: Derivation, world: World, *, digits: int,
                  memo: dict | None = None) -> list[str]:
    """One sentence per substituted number of ``claim`` that is not the quantity it stands for ([] when all are).

    A number is right when it is the exact value rounded to the digits written, or the
    person's own earlier number for that quantity. ``memo`` keeps each chain for the next claim.

    >>> import symgrad
    >>> from symgrad.claim_parser import parse_claims
    >>> net = symgrad.load("mazur")
    >>> (claim,) = parse_claims("dE/dw5 = 0.74136507*0.186815602*0.596884378", net)
    >>> judge_factors(claim, symgrad.derive(net), World(), digits=20)[0][:64]
    '0.596884378 is not ∂net_o1/∂w5 (= out_h1), which is 0.593269992'
    """
    written = [Decimal(t) for t in claim.product]
    memo = {} if memo is None else memo  # one chain per quantity, shared by every claim of it
    key = ("chain", derivation.output, claim.wrt, digits)
    if key not in memo:
        memo[key] = chain_factors(derivation, claim.wrt, digits=digits)
    ordered, candidates = memo[key]
    if not candidates:
        return []
    wrong = []
    for text, number, factor in zip(claim.product, written, _match(written, ordered, candidates)):
        if number == 1:  # a factor of one multiplies nothing (dq/dx = 1.0 written out)
            continue
        q = _quantum(number)
        slack = 2 if len(number.normalize().as_tuple().digits) > 3 else 1
        if rounds_to(number, q, factor.value, slack=slack):
            continue
        own = [getattr(world, kind).get(key) for kind, key in factor.keys if key in getattr(world, kind)]
        if any(v is not None and rounds_to(number, q, v, slack=slack) for v in own):
            continue
        exact = rounded(factor.value, q) if number else mpmath.nstr(factor.value, 6)  # 0 states no digits
        wrong.append(f"{text} is not {factor.label}, which is {exact}")
    return wrong
