"""Gradient-descent updates on the exact (or float64) gradients of a derivation.

``step`` is one simultaneous update θ⁺ = θ − η∇θ with every gradient taken at the old
parameters, as the lecture's w1⁺…w8⁺ are. ``descend`` repeats it; ``sgd`` walks a data
set in seeded shuffled mini-batches, summing or averaging the per-sample gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import mpmath
import numpy as np

from .chain import Derivation
from .errors import GraphError
from .evaluate import DEFAULT_DIGITS, evaluate_gradients
from .graph import as_number

__all__ = ["Step", "Trajectory", "step", "descend", "sgd"]


@dataclass(frozen=True)
class Step:
    """One update: the loss and gradients at the old parameters, and the new parameters."""

    loss: mpmath.mpf | float
    gradients: dict[str, mpmath.mpf | float]
    before: dict[str, mpmath.mpf | float]
    after: dict[str, mpmath.mpf | float]


@dataclass(frozen=True)
class Trajectory:
    """A training run: the loss before each update, and the parameters at the end."""

    losses: tuple[mpmath.mpf | float, ...]
    params: dict[str, mpmath.mpf | float]


def _rate(derivation: Derivation, learning_rate: object):
    rate = learning_rate if learning_rate is not None else derivation.network.learning_rate
    if rate is None:
        raise GraphError("no learning rate; pass learning_rate= or set [train] learning_rate in the spec")
    return as_number(rate, what="learning rate")


def _num(value, digits):
    if digits is None:
        return float(value)
    return mpmath.mpf(value.p) / value.q if hasattr(value, "p") else mpmath.mpf(value)


def step(derivation: Derivation, *, learning_rate: object = None, at: Mapping[str, object] | None = None,
         digits: int | None = DEFAULT_DIGITS) -> Step:
    """One simultaneous gradient-descent step from the network's point (``at`` overrides).

    >>> import symgrad
    >>> s = symgrad.step(symgrad.derive(symgrad.load("mazur")), digits=12)
    >>> symgrad.to_decimal(s.after["w5"], 8)
    '0.35891648'
    """
    rate = _rate(derivation, learning_rate)
    grads = evaluate_gradients(derivation, at=at, digits=digits)
    with mpmath.workdps((digits or 15) + 20):
        eta = _num(rate, digits)
        before = {p: grads.values[p] for p in derivation.network.params}
        after = {p: before[p] - eta * grads.gradients[p] for p in before}
    return Step(grads.values[derivation.output], grads.gradients, before, after)


def descend(derivation: Derivation, *, steps: int, learning_rate: object = None,
            digits: int | None = DEFAULT_DIGITS) -> Trajectory:
    """``steps`` full gradient-descent steps from the network's point."""
    if not isinstance(steps, int) or steps < 0:
        raise GraphError(f"steps must be a non-negative integer, got {steps!r}")
    params: dict = {}
    losses = []
    for _ in range(steps):
        s = step(derivation, learning_rate=learning_rate, at=params, digits=digits)
        losses.append(s.loss)
        params = s.after
    if not params:
        params = {p: _num(derivation.network.values[p], digits) for p in derivation.network.params}
    return Trajectory(tuple(losses), dict(params))


def sgd(derivation: Derivation, *, learning_rate: object = None, batch_size: int = 1, epochs: int = 1,
        reduction: str = "mean", shuffle: bool = True, seed: int = 0,
        digits: int | None = DEFAULT_DIGITS) -> Trajectory:
    """Stochastic / mini-batch gradient descent over the network's data set.

    Each batch's gradient is the sum or mean (``reduction``) of the per-sample gradients at
    the same parameters; samples are shuffled each epoch by a generator seeded with ``seed``.
    The losses recorded are each batch's reduced loss before its update.
    """
    network = derivation.network
    n = network.n_samples
    if n == 0:
        raise GraphError("the network has no data set; add a [data] table or call Network.set_data")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise GraphError(f"batch_size must be an integer from 1 to {n}, got {batch_size!r}")
    if reduction not in ("mean", "sum"):
        raise GraphError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    rate = _rate(derivation, learning_rate)
    rng = np.random.default_rng(seed)
    params = {p: network.values[p] for p in network.params}
    losses = []
    with mpmath.workdps((digits or 15) + 20):
        eta = _num(rate, digits)
        for _ in range(epochs):
            order: Sequence[int] = rng.permutation(n) if shuffle else range(n)
            for start in range(0, n, batch_size):
                batch = order[start:start + batch_size]
                total_grad = {p: 0 for p in params}
                total_loss = 0
                for k in batch:
                    at = dict(params)
                    at.update({name: column[int(k)] for name, column in network.data.items()})
                    g = evaluate_gradients(derivation, at=at, digits=digits)
                    total_loss += g.values[derivation.output]
                    for p in params:
                        total_grad[p] += g.gradients[p]
                scale = 1 / mpmath.mpf(len(batch)) if digits is not None else 1.0 / len(batch)
                if reduction == "sum":
                    scale = 1
                losses.append(total_loss * scale)
                params = {p: _num(params[p], digits) - eta * scale * total_grad[p] for p in params}
    return Trajectory(tuple(losses), params)
