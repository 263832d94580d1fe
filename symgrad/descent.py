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

import keyword
import re
from fractions import Fraction
from typing import Callable, Iterable, Mapping

import mpmath

from .arithmetic import GmpySource, Unsupported, from_mpfr, gmpy2, mp_closure, to_mpfr
from .chain import Derivation
from .errors import GraphError, PrecisionError
from .graph import as_number
from .limits import MAX_DECIMAL_EXPONENT
from .precision import (TRAJECTORY_AGREEMENT_EXTRA, TRAJECTORY_CHECK_EXTRA, TRAJECTORY_EXTRA,
                        TRAJECTORY_PADE_GUARD_BITS, TRAJECTORY_TRIES, Rounding)

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



# -- many steps as generated gmpy2 code (the fast path of certified_steps) ---------------------
class _Source:
    """One update step of a ``_Program`` as one generated Python function over gmpy2 numbers.

    The same quantities as ``_Program`` (forward values, local factors, δ, θ − η·g, group by
    group), as straight-line code: one call per step instead of a tree of closures per number,
    some ten times faster. The roundings differ in three places, each at the working precision
    and each seen by the second run at a finer precision like any other round-off: δ carries η
    from the output down (η·δ, not η·(δ·x)), a value computed twice (a layerwise step's second
    group) is read, not recomputed, and in the loop each exp(±v) is carried from the step before
    (``_incremental``). Only exp, log, sin, cos, tanh, σ and powers are
    generated; anything else, or a value that is not finite (divergence, a log of a negative
    number, a division by zero), falls back to ``_Program``, whose behaviour then decides.
    """

    def __init__(self, program: _Program):
        d = program.derivation
        net = d.network
        self.printer = GmpySource()
        self.one = self.printer.one
        moving = [p for group in program.groups for p in group]
        names = {n: f"v{k}" for k, n in enumerate(net.quantities)}
        self.fixed = [n for n in net.leaves if n not in moving]
        self.moving = moving
        self.recorded = [n for n in d.order if n in net.nodes]
        lines = [f"def step({', '.join(names[p] for p in moving)}):"]
        lines += [f"    {names[n]} = {self.printer.code(net.nodes[n].expr, names)}" for n in self.recorded]
        current = dict(names)
        new = {}
        for k, group in enumerate(program.groups):
            steps = self.gradients(program, current, lines, k, set(group))  # η·g, η carried in from the output
            for p in group:
                new[p] = f"u{names[p]}"
                lines.append(f"    {new[p]} = {names[p]} - {steps[p]}")
            current.update({p: new[p] for p in group})
        lines.append(f"    return ({', '.join(new[p] for p in moving)},)")
        lines = [_NEGATED.sub(r"- \1", line) for line in _live(_shared(lines))]  # a + (-b) is a - b, to the last bit
        lines += _loop(lines, [names[p] for p in moving], [new[p] for p in moving])
        lines.append(f"def values({', '.join(names[p] for p in moving)}):")
        lines += [f"    {names[n]} = {self.printer.code(net.nodes[n].expr, names)}" for n in self.recorded]
        lines.append(f"    return ({', '.join(names[n] for n in moving + self.recorded)},)")
        self.text = "\n".join(lines)
        self.names = names

    def gradients(self, program: _Program, names: dict, lines: list, k: int, params: set) -> dict:
        """η·∂E/∂x for every x: the output's δ is η (not 1), so every δ below it is already scaled and a
        parameter moves by one subtraction; a parameter's δ is written into its update, not named."""
        d = program.derivation
        factor = {}
        for j, key in enumerate(program.factors):
            expr = d.factors[key].expr
            factor[key] = self.printer.code(expr, names) if expr.is_Symbol or expr.is_Number else f"f{k}_{j}"
            if factor[key] == f"f{k}_{j}":
                lines.append(f"    {factor[key]} = {self.printer.code(expr, names)}")
        delta = {d.output: "eta"}
        for j, (name, terms) in enumerate(program.adjoints):  # a factor of exactly 1 is not multiplied by
            products = [" * ".join(x for x in (delta[c], factor[key]) if x != self.one) or self.one for c, key in terms]
            if name in params:
                delta[name] = products[0] if len(products) == 1 else "(" + " + ".join(products) + ")"
                continue
            delta[name] = products[0] if len(products) == 1 and " " not in products[0] else f"g{k}_{j}"
            if delta[name] == f"g{k}_{j}":
                lines.append(f"    {delta[name]} = " + " + ".join(products))
        return delta

    def run(self, program: _Program, point: Mapping[str, object], wanted: list[int]) -> dict:
        """What ``program.run`` gives, at mpmath's current precision, through gmpy2 at the same precision."""
        with gmpy2.context(precision=mpmath.mp.prec):
            space = {"eta": to_mpfr(program.eta), "zero": gmpy2.mpfr(0), "one": gmpy2.mpfr(1), "half": gmpy2.mpfr(0.5),
                     "pade_limit": _exactly(pade_limit(mpmath.mp.prec)),
                     "pade_below": -_exactly(pade_limit(mpmath.mp.prec)), **self.printer.namespace()}
            space.update({name: _exactly(c) for name, c in PADE.items()})
            space.update({self.names[n]: to_mpfr(to_mpf(point[n])) for n in self.fixed})
            exec(compile(self.text, "<descent step>", "exec"), space)  # generated above from the derivation only
            steps, values = space["steps"], space["values"]
            params = tuple(to_mpfr(to_mpf(point[p])) for p in self.moving)
            kept, done = {}, 0
            for k in wanted:
                params = steps(k - done, *params) if k > done else params
                done = k
                kept[k] = dict(zip(self.moving + self.recorded, map(from_mpfr, values(*params))))
                kept[k].update({n: to_mpf(point[n]) for n in self.fixed})
        return kept


_NEGATED = re.compile(r"\+ \(-([A-Za-z_]\w*)\)")


def _loop(step: list[str], params: list[str], new: list[str]) -> list[str]:
    """``steps(n, *params)``: ``step`` n times in one generated loop, every name it reads from the module
    bound once as a local, each parameter updated in place (no call, no tuple and no global look-up per
    step), each exp(±v) carried from the step before (``_incremental``)."""
    body = _in_place(step[1:-1], params, new)
    new = [u if any(_assigns(line, u) for line in body) else p for p, u in zip(params, new)]
    start, body = _incremental(body)
    assigned = {line.strip().partition(" = ")[0] for line in body}
    read = {w for line in body for w in re.findall(r"[A-Za-z_]\w*", line.partition(" = ")[2] or line)}
    outer = sorted(read - assigned - set(params) - set(keyword.kwlist))
    header = ", ".join(["n", *params, *(f"{w}={w}" for w in outer)])
    return ([f"def steps({header}):", *start, "    for _ in range(n):"] + ["    " + line for line in body]
            + [f"        {', '.join(moved)} = {', '.join(u for p, u in zip(params, new) if p != u)}" for moved in
               [[p for p, u in zip(params, new) if p != u]] if moved]
            + [f"    return ({', '.join(params)},)"])


_EXP = re.compile(r"exp\((-?)([A-Za-z_]\w*)\)")
#: exp(d) ≈ P(d)/P(−d) with P(d) = 1 + d/2 + 3d²/28 + d³/84 + d⁴/1680 (the [4/4] Padé approximant), whose
#: relative error is below 4·10⁻⁸·|d|⁹ for |d| ≤ 1/8: at |d| ≤ pade_limit(bits), below 2**-(bits + guard).
PADE = {"pade2": Fraction(3, 28), "pade3": Fraction(1, 84), "pade4": Fraction(1, 1680)}


def pade_limit(bits: int) -> Fraction:
    """The largest power of two |d| may reach for the [4/4] Padé approximant to give exp(d) to ``bits`` bits.

    >>> pade_limit(103)  # 30 digits: steps below 2**-10
    Fraction(1, 1024)
    """
    return Fraction(1, 2 ** max(3, -(-(bits + TRAJECTORY_PADE_GUARD_BITS - 24) // 9)))


def _exactly(c: Fraction):
    """A fraction as a gmpy2 number at the current precision (one rounding)."""
    return gmpy2.mpfr(c.numerator) / c.denominator


def _incremental(body: list[str]) -> tuple[list[str], list[str]]:
    """``body`` with each exp(±v) of a value v computed in the loop carried from one step to the next:
    e ← e·exp(±(v − v_before)). The step d = ±(v − v_before) is small once training settles, and
    exp(d) is then the [4/4] Padé approximant (``PADE``, a dozen multiplications and additions
    instead of an exp: to within the working precision, ``pade_limit``). One or two roundings more
    per step, which the second run at a finer precision sees like any other. The first step starts
    from v_before = 0, e = 1, so it computes exp(±v) itself."""
    assigned = {line.strip().partition(" = ")[0] for line in body}
    start: list[str] = []
    out: list[str] = []
    for line in body:
        indent = line[:len(line) - len(line.lstrip())]
        for sign, name in dict.fromkeys(_EXP.findall(line)):
            if name not in assigned:
                continue
            e, before = f"e_{name}", f"x_{name}"
            start += [f"    {before} = zero", f"    {e} = one"]
            out += [f"{indent}d_ = {before} - {name}" if sign else f"{indent}d_ = {name} - {before}",
                    f"{indent}if pade_below < d_ < pade_limit:",
                    f"{indent}    s_ = d_ * d_",
                    f"{indent}    o_ = d_ * (half + s_ * pade3)",
                    f"{indent}    m_ = one + s_ * (pade2 + s_ * pade4)",
                    f"{indent}    {e} = {e} * ((m_ + o_) / (m_ - o_))",
                    f"{indent}else:",
                    f"{indent}    {e} = {e} * exp(d_)",
                    f"{indent}{before} = {name}"]
            line = line.replace(f"exp({sign}{name})", e)
        out.append(line)
    return start, out


def _assigns(line: str, name: str) -> bool:
    return line.strip().partition(" = ")[0] == name


def _in_place(body: list[str], params: list[str], new: list[str]) -> list[str]:
    """``body`` with each new parameter value written over the old one where no later line reads the old
    one (no tuple to build and unpack per step; the same arithmetic)."""
    body = list(body)
    for p, u in zip(params, new):
        at = next(i for i, line in enumerate(body) if _assigns(line, u))
        word = re.compile(rf"\b{p}\b")
        if not any(word.search(line) for line in body[at + 1:]):
            renamed = re.compile(rf"\b{u}\b")
            body[at:] = [renamed.sub(p, line) for line in body[at:]]
    return body


def _shared(lines: list[str]) -> list[str]:
    """``lines`` (each name assigned once) with a value computed again under a new name read from its first
    name (a layerwise step's second group recomputes the output layer's factors and δ unchanged)."""
    first: dict[str, str] = {}
    alias: dict[str, str] = {}
    kept = []
    for line in lines:
        target, _, rest = line.strip().partition(" = ")
        if rest:
            rest = re.sub(r"[A-Za-z_]\w*", lambda m: alias.get(m.group(), m.group()), rest)
            if rest in first:
                alias[target] = first[rest]
                continue
            first[rest] = target
            line = f"{line[:len(line) - len(line.lstrip())]}{target} = {rest}"
        else:
            line = re.sub(r"[A-Za-z_]\w*", lambda m: alias.get(m.group(), m.group()), line)
        kept.append(line)
    return kept


def _live(lines: list[str]) -> list[str]:
    """``lines`` without the assignments nothing later reads (the loss inside an update step)."""
    kept: list[str] = []
    used: set[str] = set()
    for line in reversed(lines):
        target, _, rest = line.strip().partition(" = ")
        if rest and target not in used:
            continue
        kept.append(line)
        used.update(re.findall(r"[A-Za-z_]\w*", rest or line))
    return kept[::-1]


def _run(program: _Program, point: Mapping[str, object], wanted: list[int]) -> dict:
    """``program.run``, through generated gmpy2 code where it can (the same numbers, faster)."""
    if gmpy2 is not None and wanted[-1] > 1:
        try:
            return _Source(program).run(program, point, wanted)
        except (Unsupported, ArithmeticError, ValueError, TypeError):
            pass
    return program.run(point, wanted)


def certified_steps(derivation: Derivation, steps: int, *, digits: int, rule: str = "simultaneous",
                    learning_rate=None, at: Mapping[str, object] | None = None, record: tuple[int, ...] = (),
                    frozen: tuple[str, ...] = ()) -> dict:
    """Every quantity after each of the ``record`` step counts, certified to ``digits`` significant digits.

    ``frozen`` parameters are left out of the update (a tutorial that never trains its biases).

    The whole run is repeated ``TRAJECTORY_CHECK_EXTRA`` digits finer and every recorded number
    must agree to ``TRAJECTORY_AGREEMENT_EXTRA`` digits beyond ``digits``: straight-line
    arithmetic, checked once at the end rather than at every step.

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
        for precision in (dps, dps + TRAJECTORY_CHECK_EXTRA):
            with mpmath.workdps(precision):
                program = _Program(derivation, rule=rule, learning_rate=learning_rate, frozen=frozen)
                runs.append(_run(program, point, wanted))
        low, high = runs
        tolerance = mpmath.mpf(10) ** (-digits - TRAJECTORY_AGREEMENT_EXTRA)
        if all(abs(low[k][n] - v) <= tolerance * max(abs(v), mpmath.mpf(10) ** -MAX_DECIMAL_EXPONENT)
               for k in wanted for n, v in high[k].items()):
            return {k: high[k] for k in record}
        dps *= 2
    raise PrecisionError(f"could not certify {digits} digits of {steps} steps even at {dps} working digits")
