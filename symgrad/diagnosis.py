"""Naming the bug behind wrong gradients: the pattern of received ÷ exact over the parameters.

``gradcheck``, ``assert_gradients_match`` and ``assert_vjp_matches`` call ``diagnose`` once some
gradient is a mismatch. Each pattern is one entry of ``PATTERNS``' order, most specific first:

- a ratio constant over one unit's parameters and equal to 1/f′ of its activation (f′ at
  that unit's pre-activation): **the activation derivative is missing** at that unit (equal to
  f′: applied twice);
- in a dense network, the rows of one layer each off by the ratio that W δ makes of Wᵀ δ
  (W the square weight above it): **the transpose is missing** in the backward step;
- dW equal to the exact dWᵀ: **a transposed weight**, whose wrong entries pair up
  symmetrically about the diagonal, which is right;
- ratio −1: **the sign**; 2 or ½ over every parameter: **the ½ of the loss**; B, 1/B, B/(B±1)
  or (B−1)/B over every parameter: **the batch mean**;
- a received 0 where the exact value is not: **a missing term**.

The ratio is received ÷ exact, so a doubled gradient reads 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import sympy

from .arithmetic import mp_value_at
from .graph import Network
from .layout import MLPStructure, param_names
from .precision import DIAGNOSIS_DIGITS

__all__ = ["Diagnosis", "diagnose", "ratio_of", "RATIO_TOLERANCE"]

RATIO_TOLERANCE = 1e-6  # two ratios are the same pattern when they agree to this relative difference


@dataclass(frozen=True)
class Diagnosis:
    """One named bug: its ``kind`` (a short name), the parameters it explains, and the sentence."""

    kind: str
    params: tuple[str, ...]
    sentence: str

    def __str__(self) -> str:
        return self.sentence


def ratio_of(received: float, exact: float) -> float:
    """received ÷ exact (a doubled gradient reads 2); inf where the exact value is 0 and the received is not.

    >>> ratio_of(2.0, 1.0), ratio_of(0.0, 0.0)
    (2.0, 1.0)
    """
    if exact == 0:
        return 1.0 if received == 0 else float("inf")
    return float(received) / float(exact)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= RATIO_TOLERANCE * max(abs(a), abs(b))


def _names(params: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(params[:limit])
    return shown + (f" and {len(params) - limit} more" if len(params) > limit else "")


def diagnose(network: Network | None, expected: Mapping[str, float], received: Mapping[str, float],
             wrong: Sequence[str], *, values=None, batch_size: int | None = None) -> tuple[Diagnosis, ...]:
    """The named bugs that explain the ``wrong`` parameters, most specific first.

    ``expected`` and ``received`` hold every checked parameter; ``values`` (a ``GradientValues``
    of one sample) enables the unit and transpose patterns; ``batch_size`` the batch-mean ones.

    >>> [d.kind for d in diagnose(None, {"w1": 0.5, "w2": -0.25}, {"w1": -0.5, "w2": 0.25}, ["w1", "w2"])]
    ['sign']
    """
    chosen = set(wrong)
    wrong = [p for p in expected if p in chosen and p in received]  # in the network's order
    if not wrong:
        return ()
    ratios = {p: ratio_of(received[p], expected[p]) for p in expected}
    found: list[Diagnosis] = []
    if network is not None and values is not None:
        found += _units(network, values, ratios, wrong, {p for p in expected if expected[p] == 0})
    if network is not None and isinstance(network.structure, MLPStructure) and network.params:
        layers = param_names(network.structure)
        if values is not None:
            found += _missing_transposes(layers, values, ratios, wrong)
        found += _transposed_weights(layers, expected, received, wrong)
    explained = {p for d in found for p in d.params}
    found += _constant_ratios(ratios, expected, [p for p in wrong if p not in explained], batch_size)
    explained = {p for d in found for p in d.params}
    zeros = [p for p in wrong if p not in explained and received[p] == 0 and expected[p] != 0]
    if zeros:
        found.append(Diagnosis("missing term", tuple(zeros), f"missing term: {_names(zeros)} "
                               f"{'is' if len(zeros) == 1 else 'are'} 0 where the exact gradient is not; a term of "
                               "the chain rule (a path, a δ, an input factor) is left out"))
    return tuple(found)


# -- one unit: out = f(net), its parameters feed net -------------------------------------------
def _unit_list(network: Network):
    """(unit, pre-activation, parameters feeding it) for every node ``out = f(net)`` of one node argument."""
    candidates = []
    for name, node in network.nodes.items():
        free = [str(s) for s in node.expr.free_symbols]
        if len(free) != 1 or free[0] not in network.nodes or node.expr == network.symbol(free[0]):
            continue
        inner = {str(s) for s in network.nodes[free[0]].expr.free_symbols}
        candidates.append((name, free[0], [p for p in network.params if p in inner]))
    uses: dict[str, int] = {}
    for _, _, feeding in candidates:
        for p in feeding:
            uses[p] = uses.get(p, 0) + 1
    out = []  # a parameter shared by several units (one bias per layer) sums their gradients: left out
    for name, pre, feeding in candidates:
        own = tuple(p for p in feeding if uses[p] == 1)
        if own:
            out.append((name, pre, own))
    return out


def _units(network: Network, values, ratios: dict[str, float], wrong: Sequence[str],
           exact_zero: set[str]) -> list[Diagnosis]:
    found = []
    wrong_set = set(wrong)
    for unit, pre, feeding in _unit_list(network):
        feeding = tuple(p for p in feeding if p in ratios and p not in exact_zero)
        if not feeding or not set(feeding) <= wrong_set:  # (a gradient exactly 0 both ways says nothing)
            continue
        first = ratios[feeding[0]]
        if not np.isfinite(first) or not all(_same(ratios[p], first) for p in feeding):
            continue
        node = network.nodes[unit]
        slope = sympy.diff(node.expr, network.symbol(pre))
        env = {k: v for k, v in values.values.items()}
        try:
            f_prime = float(mp_value_at(slope, env, DIAGNOSIS_DIGITS))
        except (ArithmeticError, ValueError, TypeError):
            continue
        if f_prime == 0 or _same(f_prime, 1.0):
            continue
        if _same(first, 1 / f_prime):
            found.append(Diagnosis("missing activation derivative", feeding,
                                   f"missing activation derivative at {unit}: the gradients of {_names(feeding)} are "
                                   f"all {first:.6g} times the exact ones, and 1/{unit}′ = 1/{f_prime:.6g} = "
                                   f"{1 / f_prime:.6g}: the factor ∂{unit}/∂{pre} is left out of δ there"))
        elif _same(first, f_prime):
            found.append(Diagnosis("activation derivative twice", feeding,
                                   f"activation derivative applied twice at {unit}: the gradients of {_names(feeding)} "
                                   f"are all ∂{unit}/∂{pre} = {f_prime:.6g} times the exact ones"))
    return found


# -- dense layers: transposes ---------------------------------------------------------------
def _missing_transposes(layers, values, ratios: dict[str, float], wrong: Sequence[str]) -> list[Diagnosis]:
    """Layer l wrong, its rows each off by (W δ)_i / (Wᵀ δ)_i with W the square weight of layer l+1."""
    found = []
    wrong_set = set(wrong)
    for below, above in zip(layers[:-1], layers[1:]):
        n = len(above.neurons)
        if n != len(below.neurons) or any(p in wrong_set for row in above.weights for p in row):
            continue
        if not any(p in wrong_set for row in below.weights for p in row):
            continue
        W = np.array([[float(values.values[w]) for w in row] for row in above.weights])
        delta = np.array([float(values.adjoints[f"net_{u}"]) for u in above.neurons])
        right, transposed = W.T @ delta, W @ delta
        if np.any(right == 0):
            continue
        expected_ratio = transposed / right
        if all(_same(ratios[p], expected_ratio[i]) for i, row in enumerate(below.weights) for p in row):
            params = tuple(p for row in below.weights for p in row)
            params += tuple(b for b in below.biases if b is not None and below.biases.count(b) == 1)
            found.append(Diagnosis("missing transpose", params,
                                   f"missing transpose: the gradients of layer {below.neurons[0]}…'s weights "
                                   f"({_names(params)}) are off row by row by exactly (W δ)ᵢ/(Wᵀ δ)ᵢ, with W the "
                                   f"square weight above it: δ is sent back through W instead of Wᵀ"))
    return found


def _transposed_weights(layers, expected, received, wrong: Sequence[str]) -> list[Diagnosis]:
    """dW_l received as the exact dW_lᵀ: the wrong entries in symmetric pairs, the diagonal right."""
    found = []
    wrong_set = set(wrong)
    for k, layer in enumerate(layers, start=1):
        names = layer.weights
        if len(names) != len(names[0]) or not any(p in wrong_set for row in names for p in row):
            continue
        n = len(names)
        if all(_same(received[names[i][j]], expected[names[j][i]]) or
               abs(received[names[i][j]] - expected[names[j][i]]) <= 1e-300 for i in range(n) for j in range(n)):
            params = tuple(p for row in names for p in row if p in wrong_set)
            found.append(Diagnosis("transposed weight", params,
                                   f"transposed weight gradient: dW{k} is the exact dW{k}ᵀ, its wrong entries "
                                   f"({_names(params)}) in symmetric pairs (i, j) ↔ (j, i) about a right diagonal; "
                                   f"compute dW as δ hᵀ, not h δᵀ"))
    return found


# -- one ratio over many parameters ------------------------------------------------------------
def _named_ratio(r: float, batch_size: int | None) -> tuple[str, str] | None:
    """(kind, what it means) for a ratio that names a bug."""
    if _same(r, -1.0):
        return "sign", "the sign is flipped (ratio −1)"
    if batch_size == 2 and _same(r, 2.0):
        return "batch mean", ("ratio 2 = B: summed over the batch instead of averaged, or the ½ of the loss "
                              "(a batch of another size tells them apart)")
    if _same(r, 2.0) or _same(r, 0.5):
        return "half of the loss", (f"ratio {r:g}: the ½ of the loss — the gradient of "
                                    + ("Σ(t − o)² where the loss is ½Σ(t − o)²" if r > 1 else
                                       "½Σ(t − o)² where the loss is Σ(t − o)²")
                                    + " (or a factor 2 of a square dropped)")
    if batch_size and batch_size > 1:
        b = batch_size
        for value, text in ((b, f"summed over the batch instead of averaged (ratio B = {b})"),
                            (1 / b, f"averaged twice over the batch (ratio 1/B = 1/{b})"),
                            (b / (b + 1), f"the batch mean divides by B + 1 = {b + 1} (ratio B/(B+1))"),
                            (b / (b - 1), f"the batch mean divides by B − 1 = {b - 1} (ratio B/(B−1))"),
                            ((b - 1) / b, f"the batch mean is off by one sample (ratio (B−1)/B = {b - 1}/{b})")):
            if _same(r, value):
                return "batch mean", text
    return None


def _constant_ratios(ratios: dict[str, float], expected, wrong: Sequence[str],
                     batch_size: int | None) -> list[Diagnosis]:
    groups: list[tuple[float, list[str]]] = []
    for p in wrong:
        r = ratios[p]
        if not np.isfinite(r) or r == 0:
            continue
        for ratio, members in groups:
            if _same(ratio, r):
                members.append(p)
                break
        else:
            groups.append((r, [p]))
    found = []
    nonzero = [p for p in expected if expected[p] != 0]
    for r, members in groups:
        named = _named_ratio(r, batch_size)
        if named is None:
            continue
        kind, meaning = named
        everywhere = set(members) >= set(nonzero)
        if kind in ("half of the loss", "batch mean") and not everywhere:
            kind, meaning = "constant factor", f"a constant factor {r:g} at these parameters only"
        where = "every parameter" if everywhere else _names(members)
        found.append(Diagnosis(kind, tuple(members), f"{kind}: {meaning}, at {where}"))
    return found
