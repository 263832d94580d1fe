"""Gradient descent, written once: which parameters move together, one update, and many updates.

Every update in symgrad is taken by ``descent_step``; only where the gradients come from
differs. ``train.step`` asks ``evaluation`` for certified gradients at each step;
``certified_steps`` (the claims checker's ``w5@1000``) runs thousands of steps as
straight-line mpmath code and certifies the digits once, at the end. Two update rules:

- ``"simultaneous"``: one group, every gradient taken at the old parameters.
- ``"layerwise"``: the layers from the output (``layers_from_output``), each layer's
  gradients taken with the layers before it already updated, the forward pass not rerun.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import mpmath

from .arithmetic import mp_closure
from .chain import Derivation
from .errors import GraphError, PrecisionError
from .graph import as_number
from .limits import MAX_DECIMAL_EXPONENT
from .precision import TRAJECTORY_AGREEMENT_EXTRA, TRAJECTORY_EXTRA, TRAJECTORY_TRIES, Rounding

__all__ = ["UPDATE_RULES", "layers_from_output", "update_groups", "descent_step", "updated", "learning_rate_of",
           "to_mpf", "certified_steps"]

UPDATE_RULES = ("simultaneous", "layerwise")


def to_mpf(value) -> mpmath.mpf:
    """An exact rational (``p/q``) or a float as an mpf at the current precision."""
    return mpmath.mpf(value.p) / value.q if hasattr(value, "p") else mpmath.mpf(value)


def learning_rate_of(derivation: Derivation, learning_rate: object = None):
    """``learning_rate``, else the spec's ``[train] learning_rate``, as an exact number."""
    rate = learning_rate if learning_rate is not None else derivation.network.learning_rate
    if rate is None:
        raise GraphError("no learning rate; pass learning_rate= or set [train] learning_rate in the spec")
    return as_number(rate, what="learning rate")


def layers_from_output(derivation: Derivation) -> tuple[tuple[str, ...], ...]:
    """The parameters grouped by layer, the output side first.

    A parameter's layer is the length of the longest path from it to the output: w5…w8 and b2
    of the 2-2-2 network are 4 edges from E_total, w1…w4 and b1 are 6.

    >>> import symgrad
    >>> layers_from_output(symgrad.derive(symgrad.load("mazur")))[0]
    ('w5', 'w6', 'w7', 'w8', 'b2')
    """
    depth = {derivation.output: 0}
    for adj in derivation.adjoints.values():  # reverse graph order: consumers come first
        if adj.name != derivation.output:
            depth[adj.name] = 1 + max(depth[t.consumer] for t in adj.terms)
    params = [p for p in derivation.params]
    levels = sorted({depth[p] for p in params})
    return tuple(tuple(p for p in params if depth[p] == level) for level in levels)


def update_groups(derivation: Derivation, rule: str, params: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """``params`` in the groups ``rule`` updates in turn: one group, or the layers from the output
    (parameters the output does not depend on last)."""
    params = tuple(params)
    if rule == "simultaneous":
        return (params,)
    layers = tuple(tuple(p for p in layer if p in params) for layer in layers_from_output(derivation))
    left = tuple(p for p in params if not any(p in layer for layer in layers))
    return layers + ((left,) if left else ())


def updated(before, eta, gradient, rounding: Rounding | None = None):
    """θ − η·g; under an active ``rounding``, η·g and the difference each rounded, as by hand."""
    if rounding is None or not rounding.active:
        return before - eta * gradient
    return rounding(before - rounding(eta * gradient))


def descent_step(before: Mapping[str, object], groups: tuple[tuple[str, ...], ...],
                 gradients_at: Callable[[int, Mapping[str, object]], Mapping[str, object]],
                 update: Callable[[object, object], object]) -> tuple[dict, dict]:
    """One update of every group in turn: the new parameters, and the gradient each was updated with.

    ``gradients_at(k, params)`` gives group ``k``'s gradients at ``params``, where the groups
    before it already hold their new values (group 0 sees ``before``); ``update(θ, g)`` is the
    new value of one parameter.
    """
    after = dict(before)
    used = {}
    for k, group in enumerate(groups):
        gradients = gradients_at(k, after)
        for p in group:
            used[p] = gradients[p]
            after[p] = update(before[p], used[p])
    return after, used


# -- many steps as straight-line code (arithmetic.mp_closure) --------------------------------
class _Program:
    """Gradient descent on one derivation as straight-line mpmath code at the current precision."""

    def __init__(self, derivation: Derivation, *, rule: str = "simultaneous", learning_rate=None,
                 frozen: tuple[str, ...] = ()):
        net = derivation.network
        self.derivation = derivation
        names = list(net.quantities)
        self.slot = {n: k for k, n in enumerate(names)}
        self.nodes = [(self.slot[n], mp_closure(net.nodes[n].expr, self.slot)) for n in derivation.order
                      if n in net.nodes]
        needed = derivation.needed
        self.factors = {key: mp_closure(f.expr, self.slot) for key, f in derivation.factors.items() if key[1] in needed}
        self.adjoints = [(a.name, [(t.consumer, (t.consumer, a.name)) for t in a.terms])
                         for a in derivation.adjoints.values() if a.name != derivation.output and a.name in needed]
        self.groups = update_groups(derivation, rule, [p for p in derivation.params if p not in frozen])
        self.eta = to_mpf(learning_rate_of(derivation, learning_rate))
        self.size = len(names)

    def start(self, point: Mapping[str, object]) -> list:
        env = [None] * self.size
        for name, value in point.items():
            env[self.slot[name]] = to_mpf(value)
        return env

    def forward(self, env: list) -> None:
        for i, f in self.nodes:
            env[i] = f(env)

    def gradients(self, env: list) -> dict:
        factors = {key: f(env) for key, f in self.factors.items()}
        delta = {self.derivation.output: mpmath.mpf(1)}
        for name, terms in self.adjoints:
            total = delta[terms[0][0]] * factors[terms[0][1]]
            for c, key in terms[1:]:  # plain sums: the second run at twice the precision certifies the digits
                total += delta[c] * factors[key]
            delta[name] = total
        return delta

    def step(self, env: list) -> None:
        """One update in place; ``env`` must hold the forward values at the current parameters."""
        slot, eta = self.slot, self.eta

        def gradients_at(k: int, params: Mapping[str, object]) -> dict:
            if k == 0:
                return self.gradients(env)
            current = list(env)  # layerwise: the layers above already updated, the forward pass not rerun
            for p, v in params.items():
                current[slot[p]] = v
            return self.gradients(current)

        before = {p: env[slot[p]] for group in self.groups for p in group}
        after, _ = descent_step(before, self.groups, gradients_at, lambda theta, g: updated(theta, eta, g))
        for p, v in after.items():
            env[slot[p]] = v

    def run(self, point: Mapping[str, object], wanted: list[int]) -> dict:
        """Every quantity after each step count in ``wanted`` (ascending), at the current precision."""
        names = self.derivation.network.quantities
        env = self.start(point)
        self.forward(env)
        kept = {}
        for k in range(wanted[-1] + 1):
            if k in wanted:
                kept[k] = {n: env[self.slot[n]] for n in names if env[self.slot[n]] is not None}
            if k < wanted[-1]:
                self.step(env)
                self.forward(env)
        return kept


def certified_steps(derivation: Derivation, steps: int, *, digits: int, rule: str = "simultaneous",
                    learning_rate=None, at: Mapping[str, object] | None = None, record: tuple[int, ...] = (),
                    frozen: tuple[str, ...] = ()) -> dict:
    """Every quantity after each of the ``record`` step counts, certified to ``digits`` significant digits.

    ``frozen`` parameters are left out of the update (a tutorial that never trains its biases).

    The whole run is repeated at twice the working precision and every recorded number must
    agree: straight-line arithmetic, checked once at the end rather than at every step.

    >>> import symgrad
    >>> from symgrad.precision import to_decimal
    >>> run = certified_steps(symgrad.derive(symgrad.load("mazur")), 1, digits=10, record=(1,))
    >>> to_decimal(run[1]["w5"], 8)
    '0.35891648'
    """
    point = derivation.network.point(at)
    wanted = sorted(set(record) | {steps})
    dps = digits + TRAJECTORY_EXTRA
    for _ in range(TRAJECTORY_TRIES):
        runs = []
        for precision in (dps, 2 * dps):
            with mpmath.workdps(precision):
                program = _Program(derivation, rule=rule, learning_rate=learning_rate, frozen=frozen)
                runs.append(program.run(point, wanted))
        low, high = runs
        tolerance = mpmath.mpf(10) ** (-digits - TRAJECTORY_AGREEMENT_EXTRA)
        if all(abs(low[k][n] - v) <= tolerance * max(abs(v), mpmath.mpf(10) ** -MAX_DECIMAL_EXPONENT)
               for k in wanted for n, v in high[k].items()):
            return {k: high[k] for k in record}
        dps *= 2
    raise PrecisionError(f"could not certify {digits} digits of {steps} steps even at {dps} working digits")
