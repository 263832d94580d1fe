"""Judging a hand calculation: every claim of a claims file against the exact numbers, in file order.

``check`` reads the file (``claim_parser``), judges each claim and returns a
``ClaimsReport`` (``claim_report``). Each claim is judged ``right`` (the exact value rounded
to the stated digits), ``right-given-rounding`` (what the person's own rounded earlier
numbers give), ``consistent-with-earlier`` (what their earlier wrong numbers give: error
carried forward) or ``wrong``, with the slip that explains it (``slips``). A claim after k
steps is judged against ``descent.certified_steps``.
"""

from __future__ import annotations

import random
from functools import cached_property
from typing import Mapping

import mpmath
import sympy

from .chain import Derivation, derive
from .claim_data import Claim, World, rounded, rounds_to
from .claim_parser import parse_claims
from .claim_report import CLAIM_VERDICTS, ClaimRow, ClaimsReport
from .descent import certified_steps
from .errors import DomainError, GraphError, InvalidArgument, PrecisionError, SymgradError
from .evaluation import Overrides, evaluate, evaluate_expr, evaluate_gradients
from .functions import sigmoid
from .graph import Network
from .precision import (CLAIM_GUARD_DIGITS, CLAIM_MIN_DIGITS, SPOT_CHECK_DIGITS, SPOT_CHECK_WORKING_DIGITS,
                        WORKING_EXTRA, Rounding, to_decimal)
from .slips import diagnose, diagnose_symbolic
from .train import step

# CLAIM_VERDICTS, Claim, ClaimRow, ClaimsReport and parse_claims live in the modules below; they are
# named here too, where symgrad/__init__ imports them from.
__all__ = ["CLAIM_VERDICTS", "Claim", "ClaimRow", "ClaimsReport", "parse_claims", "check_claims"]

_SPOT_CHECKS = 5  # random points tried when simplify cannot decide a symbolic claim
_SIMPLIFY_OPS = 150  # larger differences go straight to the spot checks (simplify can take minutes)


# -- judging ---------------------------------------------------------------------------
class _Judge:
    """Judges claims in file order, keeping the person's numbers (``World``) to recompute later claims from."""

    def __init__(self, network: Network, claims: tuple[Claim, ...], *, source: str = "<claims>"):
        self.network = network
        self.source = source
        self.claims = claims
        self.derivations: dict[str, Derivation] = {}
        numeric = [c for c in claims if c.number is not None]
        self.digits = max([c.significant + CLAIM_GUARD_DIGITS for c in numeric]
                          + [c.decimals + CLAIM_GUARD_DIGITS for c in numeric] + [CLAIM_MIN_DIGITS])
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
            run = certified_steps(self.main, max(wanted), digits=self.digits, rule=rule, learning_rate=learning_rate,
                             record=wanted, frozen=frozen)
            for j, values in run.items():
                self.exact_cache[(rule, learning_rate, frozen, j)] = values
        return self.exact_cache[key]

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
                with mpmath.workdps(self.digits + WORKING_EXTRA):
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
        shown = to_decimal(exact, max(claim.significant, 1) + CLAIM_GUARD_DIGITS) if exact else "0"

        def row(verdict: str, explanation: str) -> ClaimRow:
            return ClaimRow(claim.line, claim.lhs, claim.value, shown, verdict, explanation)

        if rounds_to(c, q, exact):
            return row("right", f"the exact value rounded to {_precision(claim)}")
        clean = world.clean()
        policies = (None, Rounding.significant(claim.significant), Rounding.decimals(max(claim.decimals, 0))
                    if claim.decimals > 0 else None)
        tried = []
        # first the person's numbers judged right, then all of them: the verdict each match earns
        for label, w in (("right-given-rounding", clean), ("consistent-with-earlier", world)):
            if label == "consistent-with-earlier" and len(w.verdicts) == len(clean.verdicts):
                break
            for policy in policies:
                if not w.verdicts:  # no earlier numbers of theirs: nothing to have rounded
                    continue
                if (label, policy) in tried:
                    continue
                tried.append((label, policy))
                value = self.quantity(claim, w, rounding=policy)
                if rounds_to(c, q, value):
                    how = "your own rounded earlier numbers" if w.verdicts else "the exact inputs"
                    if policy is not None:
                        how += f" with {policy.describe()}"
                    if label == "right-given-rounding":
                        return row(label, f"what {how} give ({_rounded_text(value, claim)})")
                    earlier = self.earlier_slips(claim, world, policy)
                    if c == 0 and not rounds_to(c, q, exact):
                        # no carried-forward credit for a step an earlier mistake made trivial
                        return row("wrong", f"0 follows from your earlier {earlier}, but that mistake makes this "
                                            "step trivial; no credit is carried forward for it")
                    return row("consistent-with-earlier",
                               f"correct given your earlier {earlier}: {_rounded_text(value, claim)} follows from it")
        explanation = diagnose(self, claim, world, exact)
        return row("wrong", explanation)

    def earlier_slips(self, claim: Claim, world: World, policy: Rounding | None) -> str:
        """The earliest wrong earlier number this claim follows from (the one whose removal breaks the match)."""
        suspects = sorted((j.line, j.lhs, key) for key, j in world.verdicts.items() if j.verdict == "wrong")
        followers = {key for key, j in world.verdicts.items() if j.verdict == "consistent-with-earlier"}
        for line, lhs, suspect in suspects:
            without = world.without({suspect} | followers)  # the slip, and every number worked from some slip
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
        return self.network.inline(expr)

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
        return (f"equal at {_SPOT_CHECKS} random points to {SPOT_CHECK_DIGITS} digits "
                "(numeric spot checks: simplify could not prove it)")

    def spot_checks(self, closed: sympy.Expr) -> bool:
        """True when ``closed`` (in leaves only) vanishes at every one of a few seeded random points."""
        symbols = sorted(closed.free_symbols, key=lambda s: s.name)
        rng = random.Random(0)
        checked = 0
        with mpmath.workdps(SPOT_CHECK_WORKING_DIGITS):
            for _ in range(4 * _SPOT_CHECKS):  # points where a value does not exist (log of a negative) are skipped
                env = {s.name: mpmath.mpf(rng.uniform(-2, 2)) for s in symbols}
                try:
                    value = evaluate_expr(closed, env)
                except SymgradError:
                    continue
                if abs(value) > mpmath.mpf(10) ** -SPOT_CHECK_DIGITS:
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


def _rounded_text(value, claim: Claim) -> str:
    """``value`` as text, to a few decimals beyond the claim's last."""
    return str(rounded(value, claim.quantum.scaleb(-CLAIM_GUARD_DIGITS))) if value else "0"


def check_claims(network: Network, claims_text: str, *, source: str = "<claims>") -> ClaimsReport:
    """Judge every claim of a claims file against ``network``: right, right given rounding,
    consistent with earlier numbers, or wrong with the slip that explains it.

    >>> import symgrad
    >>> report = symgrad.check_claims(symgrad.load("mazur"), "out_o1 = 0.75136507\\nout_o1 = 0.751366507\\n")
    >>> [row.verdict for row in report.rows]
    ['right', 'wrong']
    >>> report.rows[1].explanation
    'a duplicated digit: the 6 is written twice (0.75136507 is the value to 8 decimals)'
    """
    if not isinstance(network, Network):
        raise InvalidArgument(f"check needs a Network (symgrad.load(...)), got {type(network).__name__}")
    claims = parse_claims(claims_text, network, source=source)
    return ClaimsReport(_Judge(network, claims, source=source).judge(), source)
