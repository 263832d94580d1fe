"""Gradient-descent updates on the exact (or float64) gradients of a derivation.

``step`` is one update θ⁺ = θ − η∇θ. Two update rules:

- ``"simultaneous"`` (the default): every gradient is taken at the old parameters, as the
  lecture's w1⁺…w8⁺ are.
- ``"layerwise"``: layer by layer from the output. The parameters nearest the output are
  updated first, and the next layer's gradients are computed with those new values (the
  forward pass is not rerun). Some widely copied tutorials do this without saying so; the
  claims checker recognises it.

``descend`` repeats a step; ``sgd`` walks a data set in seeded shuffled mini-batches,
summing or averaging the per-sample gradients. Each update is taken by
``descent.descent_step``, the one step routine, which the claims checker's multi-step runs
use too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import mpmath
import numpy as np

from .chain import Derivation
from .descent import (UPDATE_RULES, descent_step, layers_from_output, learning_rate_of, to_mpf, update_groups,
                      updated)
from .errors import GraphError, InvalidArgument
from .evaluation import GradientValues, Overrides, evaluate_gradients
from .newton import newton_step
from .precision import DEFAULT_DIGITS, Rounding, descent_working_digits

__all__ = ["Update", "Trajectory", "step", "descend", "sgd", "UPDATE_RULES", "layers_from_output"]


@dataclass(frozen=True)
class Update:
    """One update: the loss and gradients at the old parameters, and the new parameters."""

    loss: mpmath.mpf | float
    gradients: dict[str, mpmath.mpf | float]  # the gradient each parameter was updated with
    before: dict[str, mpmath.mpf | float]
    after: dict[str, mpmath.mpf | float]
    rule: str = "simultaneous"
    learning_rate: mpmath.mpf | float | None = None


@dataclass(frozen=True)
class Trajectory:
    """A training run: the loss before each update, and the parameters at the end."""

    losses: tuple[mpmath.mpf | float, ...]
    params: dict[str, mpmath.mpf | float]


def _second_order_step(derivation: Derivation, *, rule: str, learning_rate: object, at, digits, damping) -> Update:
    n = newton_step(derivation, rule=rule, learning_rate=learning_rate, at=at, digits=digits,
                    damping=0 if damping is None else damping)
    return Update(n.loss, n.gradients, n.before, n.after, rule, n.learning_rate)


def _working_number(value, digits: int | None):
    """``value`` in the run's arithmetic: a float for a float64 run (``digits=None``), else an mpf."""
    return float(value) if digits is None else to_mpf(value)


def step(derivation: Derivation, *, learning_rate: object = None, at: Mapping[str, object] | None = None,
         digits: int | None = DEFAULT_DIGITS, rule: str = "simultaneous", rounding: Rounding | None = None,
         gradients: GradientValues | None = None, damping: object = None) -> Update:
    """One gradient-descent step from the network's point (``at`` overrides).

    ``rule`` is ``"simultaneous"`` or ``"layerwise"`` (see the module docstring), or ``"newton"``
    / ``"gauss-newton"`` with the exact second derivatives (``symgrad.newton_step``; η defaults to 1;
    ``damping`` λ ≥ 0 adds λI to the matrix, which a singular one needs; first-order rules take none). ``rounding``
    rounds every intermediate, the update included. ``gradients`` reuses an evaluation already
    made at the same point, digits and rounding.

    >>> import symgrad
    >>> s = symgrad.step(symgrad.derive(symgrad.load("mazur")), digits=12)
    >>> symgrad.to_decimal(s.after["w5"], 8)
    '0.35891648'
    """
    if rule in ("newton", "gauss-newton"):  # exact second-order steps, a teaching aid: symgrad.newton
        return _second_order_step(derivation, rule=rule, learning_rate=learning_rate, at=at, digits=digits,
                                  damping=damping)
    if damping is not None:
        raise InvalidArgument(f"damping={damping!r} is for rule='newton' or 'gauss-newton' (it adds λI to the "
                              f"second-derivative matrix); a {rule!r} gradient step has none: leave it out")
    if rule not in UPDATE_RULES:
        raise InvalidArgument(f"update rule must be one of {', '.join(UPDATE_RULES)}, newton or gauss-newton, "
                              f"got {rule!r}")
    rate = learning_rate_of(derivation, learning_rate)
    grads = gradients or evaluate_gradients(derivation, at=at, digits=digits, rounding=rounding)
    network = derivation.network
    forward = Overrides(values={n: v for n, v in grads.values.items() if n in network.nodes})

    def gradients_at(k: int, params: Mapping[str, object]) -> Mapping[str, object]:
        if k == 0:
            return grads.gradients
        # the next layer's gradients, with the layers above already updated
        return evaluate_gradients(derivation, at={**(at or {}), **params}, digits=digits, rounding=rounding,
                                  overrides=forward).gradients

    with mpmath.workdps(descent_working_digits(digits)):
        eta = _working_number(rate, digits)
        before = {p: grads.values[p] for p in network.params}
        after, used = descent_step(before, update_groups(derivation, rule, network.params), gradients_at,
                                   lambda theta, gradient: updated(theta, eta, gradient, rounding))
    return Update(grads.values[derivation.output], {**grads.gradients, **used}, before, after, rule, eta)


def descend(derivation: Derivation, *, steps: int, learning_rate: object = None,
            digits: int | None = DEFAULT_DIGITS, rule: str = "simultaneous") -> Trajectory:
    """``steps`` full gradient-descent steps from the network's point."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise InvalidArgument(f"steps must be a non-negative integer, got {steps!r}")
    params: dict = {}
    losses = []
    for _ in range(steps):
        s = step(derivation, learning_rate=learning_rate, at=params, digits=digits, rule=rule)
        losses.append(s.loss)
        params = s.after
    if not params:
        params = {p: _working_number(derivation.network.values[p], digits) for p in derivation.network.params}
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
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= n:
        raise InvalidArgument(f"batch_size must be an integer from 1 to {n}, got {batch_size!r}")
    if reduction not in ("mean", "sum"):
        raise InvalidArgument(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidArgument(f"seed must be a non-negative integer, got {seed!r}")
    rate = learning_rate_of(derivation, learning_rate)
    rng = np.random.default_rng(seed)
    params = {p: network.values[p] for p in network.params}
    losses = []
    with mpmath.workdps(descent_working_digits(digits)):
        eta = _working_number(rate, digits)
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
                params, _ = descent_step(params, (tuple(params),), lambda k, at: total_grad,
                                         lambda theta, g: _working_number(theta, digits) - eta * scale * g)
    return Trajectory(tuple(losses), params)
