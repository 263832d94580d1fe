"""Checking a hand calculation: parse a claims file, judge every number, explain each slip.

A claims file holds one claim per line, ``LHS = VALUE`` (``#`` starts a comment):

- ``out_h1 = 0.593269992``: a node or leaf;
- ``dE_total/dw5 = 0.082167041``: dA/dB along every path, B held free (one edge: the local partial);
- ``w5@1 = 0.35891648`` (or ``w5+``), ``E_total@10000 = ...``: a quantity after k update steps.

VALUE is a decimal whose digits set its stated precision (0.40 states two decimals) or, for
a symbolic claim, an expression over the network's names read by the safe parser. The file
is untrusted text: it is matched against a fixed grammar and never evaluated.

Each claim is judged ``right`` (the exact value rounded to the stated digits),
``right-given-rounding`` (what the person's own rounded earlier numbers give),
``consistent-with-earlier`` (what their earlier wrong numbers give: error carried forward) or
``wrong``, with the slip that explains it (``symgrad.slips``).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Callable, Mapping

import mpmath
import sympy

from .chain import Derivation, derive
from .claim_data import Claim, World, rounded, rounds_to
from .errors import DomainError, GraphError, InvalidArgument, ParseError, PrecisionError, SymgradError
from .evaluation import Overrides, evaluate, evaluate_gradients, evaluate_expr
from .expr import parse_expression
from .functions import rule_for, sigmoid
from .graph import Network
from .limits import MAX_CLAIM_STEPS, MAX_CLAIMS, MAX_CLAIMS_TEXT, MAX_DECIMAL_EXPONENT, MAX_LITERAL
from .precision import Rounding, to_decimal
from .slips import diagnose, diagnose_symbolic
from .train import layers_from_output, step

__all__ = ["VERDICTS", "Claim", "ClaimRow", "ClaimsReport", "parse_claims", "check"]

#: Every verdict, best first. Only ``wrong`` makes a check fail.
VERDICTS = ("right", "right-given-rounding", "consistent-with-earlier", "wrong")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_LHS = re.compile(rf"d(?P<of>{_NAME})/d(?P<wrt>{_NAME})\Z|(?P<name>{_NAME})(?:(?P<plus>\+)|@(?P<steps>.*))?\Z")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_SPOT_CHECKS = 5  # random points tried when simplify cannot decide a symbolic claim
_SIMPLIFY_OPS = 150  # larger differences go straight to the spot checks (simplify can take minutes)


@dataclass(frozen=True)
class ClaimRow:
    """The verdict on one claim."""

    line: int
    claim: str  # LHS as written
    claimed: str  # VALUE as written
    exact: str  # the exact value (a few digits beyond the claim's) or the derived expression
    verdict: str  # one of VERDICTS
    explanation: str


@dataclass(frozen=True)
class ClaimsReport:
    """Every claim's verdict, in file order; ``ok`` when none is wrong.

    >>> import symgrad
    >>> r = symgrad.check(symgrad.load("two_neurons"), "h = -7\\ndf/dw1 = 4\\n")
    >>> [row.verdict for row in r.rows], r.ok
    (['right', 'wrong'], False)
    """

    rows: tuple[ClaimRow, ...]
    source: str = "<claims>"

    @property
    def ok(self) -> bool:
        return all(row.verdict != "wrong" for row in self.rows)

    @property
    def first_slip(self) -> ClaimRow | None:
        return next((row for row in self.rows if row.verdict == "wrong"), None)

    def summary(self) -> str:
        counts = {v: sum(row.verdict == v for row in self.rows) for v in VERDICTS}
        text = f"{len(self.rows)} claims: " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
        slip = self.first_slip
        if slip is None:
            return text + "; every claim holds"
        return text + f"; first slip on line {slip.line} ({slip.claim} = {slip.claimed}): {slip.explanation}"

    def to_text(self) -> str:
        header = ("line", "claim", "your value", "exact value", "verdict", "explanation")
        rows = [(str(r.line), r.claim, r.claimed, r.exact, r.verdict, r.explanation) for r in self.rows]
        widths = [max([len(h)] + [len(row[k]) for row in rows]) for k, h in enumerate(header[:-1])]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1]
                 for row in [header] + rows]
        return "\n".join(line.rstrip() for line in lines) + "\n\n" + self.summary() + "\n"

    def to_json(self) -> str:
        claims = [{"line": r.line, "claim": r.claim, "claimed": r.claimed, "exact": r.exact, "verdict": r.verdict,
                   "explanation": r.explanation} for r in self.rows]
        return json.dumps({"ok": self.ok, "claims": claims}, indent=2, ensure_ascii=False) + "\n"


# -- parsing ---------------------------------------------------------------------------
def parse_claims(text: str, network: Network, *, source: str = "<claims>") -> tuple[Claim, ...]:
    """Read a claims file against ``network``; a bad line raises ``ParseError`` naming it.

    >>> import symgrad
    >>> parse_claims("w5+ = 0.35891648  # the lecture", symgrad.load("mazur"))[0].steps
    1
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"claims must be text, got {type(text).__name__}")
    if len(text) > MAX_CLAIMS_TEXT:
        raise ParseError(f"{source}: {len(text)} characters; a claims file may hold at most {MAX_CLAIMS_TEXT}")
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some editors write
    claims = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", text), start=1):  # the line numbers an editor shows
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        if len(claims) >= MAX_CLAIMS:
            raise ParseError(f"{source}: line {number}: more than {MAX_CLAIMS} claims; split the file")
        claims.append(_parse_line(body, number, network, source))
    return tuple(claims)


def _parse_line(body: str, line: int, network: Network, source: str) -> Claim:
    where = f"{source}: line {line}"
    lhs, sep, value = body.partition("=")
    lhs, value = lhs.strip(), value.strip().replace("\u2212", "-")
    if not sep or not lhs or not value:
        raise ParseError(f"{where}: {_show(body)} is not a claim; write NAME = VALUE, such as out_h1 = 0.593269992")
    match = _LHS.match(lhs)
    if match is None:
        raise ParseError(f"{where}: {_show(lhs)} is not a quantity; write a name (out_h1), a derivative "
                         "(dE_total/dw5), or a name after k steps (w5@1, w5+)")
    name = match["of"] or match["name"]
    wrt = match["wrt"]
    steps = None
    if match["plus"]:
        steps = 1
    elif match["steps"] is not None:
        text = match["steps"].strip()
        if not text.isdigit() or not text.isascii():
            raise ParseError(f"{where}: the step count {_show(text)} in {_show(lhs)} is not a whole number; "
                             "write A@k with k = 0, 1, 2, ...")
        steps = int(text[:8]) if len(text) <= 8 else MAX_CLAIM_STEPS + 1
        if steps > MAX_CLAIM_STEPS:
            raise ParseError(f"{where}: {text} steps is more than the limit of {MAX_CLAIM_STEPS}")
    for n in (name, wrt):
        if n is not None and n not in network.leaves and n not in network.nodes:
            raise ParseError(f"{where}: unknown name {n!r}; the network's names are "
                             + ", ".join(network.quantities))
    if steps is not None and network.learning_rate is None:
        raise ParseError(f"{where}: {lhs} needs a learning rate; set [train] learning_rate in the spec")
    if steps is not None and name in network.leaves and network.leaves[name].kind != "param":
        raise ParseError(f"{where}: {name!r} is an {network.leaves[name].kind}, which no update step changes")
    number = expr = None
    if _DECIMAL.match(value):
        number = _decimal(value, where)
    else:
        if steps is not None:
            raise ParseError(f"{where}: a claim after update steps needs a number, got {_show(value)}")
        try:
            parsed = parse_expression(value)
        except ParseError as exc:
            raise ParseError(f"{where}: {_show(value)} is neither a decimal nor an expression: {exc}") from None
        unknown = [n for n in parsed.names if n not in network.leaves and n not in network.nodes]
        if unknown:
            raise ParseError(f"{where}: unknown name {unknown[0]!r} in {_show(value)}; the network's names are "
                             + ", ".join(network.quantities))
        expr = parsed.expr.xreplace({sympy.Symbol(n): network.symbol(n) for n in parsed.names})
    return Claim(line, lhs, name, wrt, steps, value, number, expr)


def _decimal(text: str, where: str) -> Decimal:
    if len(text) > MAX_LITERAL:
        raise ParseError(f"{where}: the number {_show(text)} is longer than {MAX_LITERAL} characters")
    number = Decimal(text)
    if abs(number.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise ParseError(f"{where}: the number {_show(text)} is beyond 1e±{MAX_DECIMAL_EXPONENT}")
    return number


def _show(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


# -- numbers ---------------------------------------------------------------------------
# -- the straight-line trajectory -------------------------------------------------------
def _closure(expr: sympy.Expr, slot: Mapping[str, int]) -> Callable[[list], object]:
    """``expr`` as a tree of Python closures over a list of mpf values (no checks: fast)."""
    if expr.is_Symbol:
        i = slot[expr.name]
        return lambda env: env[i]
    if expr.is_Number or expr.is_NumberSymbol:
        c = mpmath.mpf(expr.p) / expr.q if expr.is_Rational else mpmath.mpf(sympy.N(expr, mpmath.mp.dps + 5))
        return lambda env: c
    args = [_closure(a, slot) for a in expr.args]
    if expr.is_Add:
        if len(args) == 2:
            a, b = args
            return lambda env: a(env) + b(env)
        return lambda env: mpmath.fsum(f(env) for f in args)
    if expr.is_Mul:
        if len(args) == 2:
            a, b = args
            return lambda env: a(env) * b(env)

        def product(env):
            out = args[0](env)
            for f in args[1:]:
                out = out * f(env)
            return out
        return product
    if expr.is_Pow:
        base, exponent = args
        if expr.exp.is_Integer:
            n = int(expr.exp)
            return lambda env: base(env) ** n
        if expr.exp == sympy.S.Half:
            return lambda env: mpmath.sqrt(base(env))
        return lambda env: mpmath.power(base(env), exponent(env))
    rule = rule_for(expr.func)
    if rule is None:
        raise GraphError(f"cannot evaluate {expr.func.__name__} in {sympy.sstr(expr)}")
    fn = rule.mpmath
    if len(args) == 1:
        (a,) = args
        return lambda env: fn(a(env))
    return lambda env: fn(*[f(env) for f in args])


class _Program:
    """Gradient descent on one derivation as straight-line mpmath code at the current precision."""

    def __init__(self, derivation: Derivation, *, rule: str = "simultaneous", learning_rate=None,
                 frozen: tuple[str, ...] = ()):
        net = derivation.network
        self.derivation = derivation
        names = list(net.quantities)
        self.slot = {n: k for k, n in enumerate(names)}
        self.nodes = [(self.slot[n], _closure(net.nodes[n].expr, self.slot)) for n in derivation.order
                      if n in net.nodes]
        needed = derivation.needed
        self.factors = {key: _closure(f.expr, self.slot) for key, f in derivation.factors.items() if key[1] in needed}
        self.adjoints = [(a.name, [(t.consumer, (t.consumer, a.name)) for t in a.terms])
                         for a in derivation.adjoints.values() if a.name != derivation.output and a.name in needed]
        params = [p for p in derivation.params if p not in frozen]
        self.layers = [params] if rule == "simultaneous" else [[p for p in layer if p not in frozen] for layer in
                                                               layers_from_output(derivation)]
        rate = learning_rate if learning_rate is not None else net.learning_rate
        self.eta = mpmath.mpf(rate.p) / rate.q if hasattr(rate, "p") else mpmath.mpf(rate)
        self.size = len(names)

    def start(self, point: Mapping[str, object]) -> list:
        env = [None] * self.size
        for name, value in point.items():
            env[self.slot[name]] = mpmath.mpf(value.p) / value.q if hasattr(value, "p") else mpmath.mpf(value)
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
        new = {}
        current = env
        for k, layer in enumerate(self.layers):
            if k > 0:  # layerwise: the layers above already updated, the forward pass not rerun
                current = list(env)
                for p, v in new.items():
                    current[slot[p]] = v
            delta = self.gradients(current)
            for p in layer:
                new[p] = env[slot[p]] - eta * delta[p]
        for p, v in new.items():
            env[slot[p]] = v


def trajectory(derivation: Derivation, steps: int, *, digits: int, rule: str = "simultaneous",
               learning_rate=None, at: Mapping[str, object] | None = None, record: tuple[int, ...] = (),
               frozen: tuple[str, ...] = ()) -> dict:
    """Every quantity after each of the ``record`` step counts, certified to ``digits`` significant digits.

    ``frozen`` parameters are left out of the update (a tutorial that never trains its biases).

    The whole run is repeated at twice the working precision and every recorded number must
    agree: straight-line arithmetic, checked once at the end rather than at every step.

    >>> import symgrad
    >>> run = trajectory(symgrad.derive(symgrad.load("mazur")), 1, digits=10, record=(1,))
    >>> to_decimal(run[1]["w5"], 8)
    '0.35891648'
    """
    point = derivation.network.point(at)
    wanted = sorted(set(record) | {steps})
    dps = digits + 20
    for _ in range(4):
        runs = []
        for precision in (dps, 2 * dps):
            with mpmath.workdps(precision):
                program = _Program(derivation, rule=rule, learning_rate=learning_rate, frozen=frozen)
                env = program.start(point)
                program.forward(env)
                kept = {}
                for k in range(wanted[-1] + 1):
                    if k in wanted:
                        kept[k] = {n: env[program.slot[n]] for n in derivation.network.quantities
                                   if env[program.slot[n]] is not None}
                    if k < wanted[-1]:
                        program.step(env)
                        program.forward(env)
                runs.append(kept)
        low, high = runs
        tolerance = mpmath.mpf(10) ** (-digits - 2)
        if all(abs(low[k][n] - v) <= tolerance * max(abs(v), mpmath.mpf(10) ** -MAX_DECIMAL_EXPONENT)
               for k in wanted for n, v in high[k].items()):
            return {k: high[k] for k in record}
        dps *= 2
    raise PrecisionError(f"could not certify {digits} digits of {steps} steps even at {dps} working digits")


# -- judging ---------------------------------------------------------------------------
class _Judge:
    """Judges claims in file order, keeping the person's numbers (``World``) to recompute later claims from."""

    def __init__(self, network: Network, claims: tuple[Claim, ...], *, source: str = "<claims>"):
        self.network = network
        self.source = source
        self.claims = claims
        self.derivations: dict[str, Derivation] = {}
        numeric = [c for c in claims if c.number is not None]
        self.digits = max([c.significant + 3 for c in numeric] + [c.decimals + 3 for c in numeric] + [20])
        self.exact_cache: dict = {}

    def derivation(self, output: str | None = None) -> Derivation:
        output = output or self.network.output
        if output not in self.derivations:
            self.derivations[output] = derive(self.network, output=output)
        return self.derivations[output]

    @cached_property
    def main(self) -> Derivation:
        return self.derivation()

    # -- the quantity a claim names, in some world ---------------------------------------
    def quantity(self, claim: Claim, world: World, *, rounding: Rounding | None = None,
                 at: Mapping[str, object] | None = None, factors: Mapping | None = None,
                 values: Mapping | None = None, rule: str = "simultaneous", learning_rate=None):
        """The claimed quantity computed from ``world``'s numbers (the claim's own excluded)."""
        own_values = {k: v for k, v in world.values.items() if not (claim.wrt is None and claim.steps is None
                                                                   and k == claim.name)}
        if at:
            own_values = {k: v for k, v in own_values.items() if k not in at}
        own_values.update(values or {})
        if claim.steps:
            return self.after_steps(claim, world, own_values, rounding=rounding, at=at, factors=factors, rule=rule,
                                    learning_rate=learning_rate)
        if claim.wrt is None:
            numbers = evaluate(self.network, at=at, digits=self.digits, rounding=rounding,
                               overrides=Overrides(values=own_values))
            return numbers.values[claim.name]
        d = self.derivation(claim.name)
        fixed_factors = {k: v for k, v in world.factors.items() if k in d.factors and k != (claim.name, claim.wrt)}
        fixed_factors.update({k: v for k, v in (factors or {}).items() if k in d.factors})
        deltas = {b: v for (a, b), v in world.deltas.items() if a == claim.name and b != claim.wrt}
        if claim.wrt not in d.adjoints:
            return mpmath.mpf(0)
        numbers = evaluate_gradients(d, at=at, digits=self.digits, rounding=rounding,
                                     overrides=Overrides(values=own_values, factors=fixed_factors, deltas=deltas))
        return numbers.adjoints[claim.wrt]

    def after_steps(self, claim: Claim, world: World, own_values: dict, *, rounding, at, factors, rule,
                    learning_rate):
        """A@k from the person's parameters after k − 1 steps, one step computed here."""
        k = claim.steps
        d = self.main
        params = set(self.network.params)
        if k == 1 and rule == "layerwise":
            s = step(d, at=at, digits=self.digits, rule=rule, rounding=rounding, learning_rate=learning_rate)
        elif k == 1:
            fixed_factors = {key: v for key, v in world.factors.items() if key in d.factors}
            fixed_factors.update(factors or {})
            deltas = {b: v for (a, b), v in world.deltas.items() if a == d.output}
            overrides = Overrides(values={n: v for n, v in own_values.items() if n in params or n in d.order},
                                  factors=fixed_factors, deltas=deltas)
            grads = evaluate_gradients(d, at=at, digits=self.digits, rounding=rounding, overrides=overrides)
            s = step(d, at=at, digits=self.digits, rule=rule, rounding=rounding, gradients=grads,
                     learning_rate=learning_rate)
        if k == 1:
            before = dict(s.after)
        else:
            before = dict(self.exact_params(k - 1, rule=rule, learning_rate=learning_rate))
            before.update({n: v for (n, j), v in world.steps.items() if j == k - 1 and n in params})
            if at:
                before.update(at)
            s = step(d, at=before, digits=self.digits, rule=rule, rounding=rounding, learning_rate=learning_rate)
            before = dict(s.after)
        before.update({n: v for (n, j), v in world.steps.items() if j == k and n in params and n != claim.name})
        if claim.name in params:
            return before[claim.name]
        fixed = {n: v for (n, j), v in world.steps.items() if j == k and n not in params and n != claim.name}
        return evaluate(self.network, at=before, digits=self.digits, rounding=rounding,
                        overrides=Overrides(values=fixed)).values[claim.name]

    def exact_params(self, k: int, *, rule: str = "simultaneous", learning_rate=None) -> dict:
        values = self.exact_steps(k, rule=rule, learning_rate=learning_rate)
        return {p: values[p] for p in self.network.params}

    def exact_steps(self, k: int, *, rule: str = "simultaneous", learning_rate=None, around: int = 0,
                    frozen: tuple[str, ...] = ()) -> dict:
        key = (rule, learning_rate, frozen, k)
        if key not in self.exact_cache:
            wanted = tuple(j for j in (k - around, k, k + around) if j >= 0) if around else (k,)
            run = trajectory(self.main, max(wanted), digits=self.digits, rule=rule, learning_rate=learning_rate,
                             record=wanted, frozen=frozen)
            for j, values in run.items():
                self.exact_cache[(rule, learning_rate, frozen, j)] = values
        return self.exact_cache[key]

    @cached_property
    def biases(self) -> tuple[str, ...]:
        """Parameters that are only ever added (every local partial ∂node/∂b is 1): the biases."""
        d = self.main
        return tuple(p for p in d.params if all(d.factors[t.consumer, p].expr == 1 for t in d.adjoints[p].terms))

    def exact(self, claim: Claim):
        if claim.steps:
            return self.exact_steps(claim.steps, around=1)[claim.name]
        return self.quantity(claim, World())

    # -- verdicts -------------------------------------------------------------------------
    def judge(self) -> tuple[ClaimRow, ...]:
        world = World()
        rows = []
        for claim in self.claims:
            try:
                with mpmath.workdps(self.digits + 15):
                    row = self.symbolic(claim) if claim.expr is not None else self.numeric(claim, world)
            except (GraphError, DomainError, PrecisionError) as exc:
                raise type(exc)(f"{self.source}: line {claim.line} ({claim.lhs}): {exc}") from None
            rows.append(row)
            if claim.number is not None:
                kind, key = self.key(claim)
                if kind is not None:
                    world.add(claim, key, kind, row.verdict)
        return tuple(rows)

    def key(self, claim: Claim):
        if claim.steps:
            return "steps", (claim.name, claim.steps)
        if claim.wrt is None:
            return "values", claim.name
        d = self.derivation(claim.name)
        if (claim.name, claim.wrt) in d.factors and d.count_paths(claim.wrt) == 1:
            return "factors", (claim.name, claim.wrt)
        return "deltas", (claim.name, claim.wrt)

    def numeric(self, claim: Claim, world: World) -> ClaimRow:

        exact = self.exact(claim)
        c, q = claim.number, claim.quantum
        shown = to_decimal(exact, max(claim.significant, 1) + 3) if exact else "0"

        def row(verdict: str, explanation: str) -> ClaimRow:
            return ClaimRow(claim.line, claim.lhs, claim.value, shown, verdict, explanation)

        if rounds_to(c, q, exact):
            return row("right", f"the exact value rounded to {_precision(claim)}")
        clean = world.clean()
        policies = (None, Rounding.significant(claim.significant), Rounding.decimals(max(claim.decimals, 0))
                    if claim.decimals > 0 else None)
        tried = []
        for label, w in (("rgr", clean), ("cf", world)):
            if label == "cf" and len(w.lines) == len(clean.lines):
                break
            for policy in policies:
                if not w.lines:  # no earlier numbers of theirs: nothing to have rounded
                    continue
                if (label, policy) in tried:
                    continue
                tried.append((label, policy))
                value = self.quantity(claim, w, rounding=policy)
                if rounds_to(c, q, value):
                    how = "your own rounded earlier numbers" if w.lines else "the exact inputs"
                    if policy is not None:
                        how += f" with {policy.describe()}"
                    if label == "rgr":
                        return row("right-given-rounding", f"what {how} give ({_fmt(value, claim)})")
                    earlier = self.earlier_slips(claim, world, policy)
                    if c == 0 and not rounds_to(c, q, exact):
                        # no carried-forward credit for a step an earlier mistake made trivial
                        return row("wrong", f"0 follows from your earlier {earlier}, but that mistake makes this "
                                            "step trivial; no credit is carried forward for it")
                    return row("consistent-with-earlier",
                               f"correct given your earlier {earlier}: {_fmt(value, claim)} follows from it")
        explanation = diagnose(self, claim, world, exact)
        return row("wrong", explanation)

    def earlier_slips(self, claim: Claim, world: World, policy: Rounding | None) -> str:
        """The earliest wrong earlier number this claim follows from (the one whose removal breaks the match)."""
        suspects = sorted((entry[0], entry[2], key) for key, entry in world.lines.items() if entry[1] == "wrong")
        followers = [key for key, entry in world.lines.items() if entry[1] == "consistent-with-earlier"]
        for line, lhs, suspect in suspects:
            without = World(**{k: dict(getattr(world, k)) for k in ("values", "factors", "deltas", "steps", "lines")})
            for kind, key in [suspect] + followers:  # the slip, and every number worked from some slip
                del getattr(without, kind)[key]
                del without.lines[kind, key]
            if not rounds_to(claim.number, claim.quantum, self.quantity(claim, without, rounding=policy)):
                return f"value on line {line} ({lhs})"
        return "numbers"

    def symbolic(self, claim: Claim) -> ClaimRow:

        derived = self.derived_expr(claim)
        shown = sympy.sstr(derived)

        def row(verdict: str, explanation: str) -> ClaimRow:
            return ClaimRow(claim.line, claim.lhs, claim.value, shown, verdict, explanation)

        how = self.equal(claim.expr, derived)
        if how:
            return row("right", how)
        return row("wrong", diagnose_symbolic(self, claim, derived))

    def derived_expr(self, claim: Claim) -> sympy.Expr:
        if claim.wrt is None:
            node = self.network.nodes.get(claim.name)
            return node.expr if node is not None else self.network.symbol(claim.name)
        return self.derivation(claim.name).expression(claim.wrt)

    def closed(self, expr: sympy.Expr) -> sympy.Expr:
        for name in reversed(self.network.quantities):
            node = self.network.nodes.get(name)
            if node is not None and expr.has(node.symbol):
                expr = expr.xreplace({node.symbol: node.expr})
        return expr

    def equal(self, a: sympy.Expr, b: sympy.Expr) -> str:
        """How ``a`` = ``b`` was shown ("" when it was not)."""
        closed = self.closed(a) - self.closed(b)
        if not self.spot_checks(closed):
            return ""  # different at some point: no proof to attempt
        for difference, how in ((a - b, ""), (closed, " with every node written out")):
            if sympy.expand(difference) == 0:
                return f"proved equal: claim - derived expands to 0{how}"
            if sympy.count_ops(difference) <= _SIMPLIFY_OPS and sympy.simplify(_explicit(difference)) == 0:
                return f"proved equal: simplify(claim - derived) = 0{how}"
        return (f"equal at {_SPOT_CHECKS} random points to 30 digits (numeric spot checks: simplify could not "
                "prove it)")

    def spot_checks(self, closed: sympy.Expr) -> bool:
        """True when ``closed`` (in leaves only) vanishes at every one of a few seeded random points."""
        symbols = sorted(closed.free_symbols, key=lambda s: s.name)
        rng = random.Random(0)
        checked = 0
        with mpmath.workdps(40):
            for _ in range(4 * _SPOT_CHECKS):  # points where a value does not exist (log of a negative) are skipped
                env = {s.name: mpmath.mpf(rng.uniform(-2, 2)) for s in symbols}
                try:
                    value = evaluate_expr(closed, env)
                except SymgradError:
                    continue
                if abs(value) > mpmath.mpf(10) ** -30:
                    return False
                checked += 1
                if checked == _SPOT_CHECKS:
                    return True
        return False


def _explicit(expr: sympy.Expr) -> sympy.Expr:
    return expr.rewrite(sympy.exp) if expr.has(sigmoid) else expr


def _precision(claim: Claim) -> str:
    if claim.decimals > 0:
        return f"{claim.decimals} decimal{'s' if claim.decimals != 1 else ''}"
    return "a whole number" if claim.decimals == 0 else f"the nearest {claim.quantum}"


def _fmt(value, claim: Claim) -> str:
    return str(rounded(value, claim.quantum.scaleb(-3))) if value else "0"


def check(network: Network, claims_text: str, *, source: str = "<claims>") -> ClaimsReport:
    """Judge every claim of a claims file against ``network``: right, right given rounding,
    consistent with earlier numbers, or wrong with the slip that explains it.

    >>> import symgrad
    >>> report = symgrad.check(symgrad.load("mazur"), "out_o1 = 0.75136507\\nout_o1 = 0.751366507\\n")
    >>> [row.verdict for row in report.rows]
    ['right', 'wrong']
    >>> report.rows[1].explanation
    'a duplicated digit: the 6 is written twice (0.75136507 is the value to 8 decimals)'
    """
    if not isinstance(network, Network):
        raise InvalidArgument(f"check needs a Network (symgrad.load(...)), got {type(network).__name__}")
    claims = parse_claims(claims_text, network, source=source)
    return ClaimsReport(_Judge(network, claims, source=source).judge(), source)
