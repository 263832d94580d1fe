"""Judging a hand calculation: every claim of a claims file against the exact numbers, in file order.

``check`` reads the file (``claim_parser``), judges each claim and returns a
``ClaimsReport`` (``claim_report``). Each claim is judged ``right`` (the exact value rounded
to the stated digits), ``right-given-rounding`` (what the person's own rounded earlier
numbers give), ``consistent-with-earlier`` (what their earlier wrong numbers give: error
carried forward) or ``wrong``, with the slip that explains it (``slips``). A claim after k
steps is judged against ``descent.certified_steps``.
"""

from __future__ import annotations

import dataclasses
import itertools
from decimal import ROUND_DOWN, Decimal
from functools import cached_property
from typing import Mapping

import mpmath
import sympy

from .chain import Derivation, derive
from .claim_factors import judge_factors
from .claim_data import Claim, World, as_decimal, rounded, rounds_to
from .claim_parser import parse_claims, read_claims_file
from .claim_report import CLAIM_VERDICTS, RIGHT_VERDICTS, ClaimRow, ClaimsReport
from .claim_symbolic import MAX_INLINED_NODES, compare, larger_than, short_difference
from .descent import certified_steps
from .errors import DomainError, InvalidArgument, PrecisionError, SymgradError
from .evaluation import Overrides, evaluate, evaluate_expr, evaluate_gradients
from .graph import Network
from .precision import CLAIM_GUARD_DIGITS, CLAIM_MIN_DIGITS, CLAIM_STEPS_MIN_DIGITS, CLAIM_SHOWN_DIGITS, Rounding, WORKING_EXTRA, to_decimal
from .slips import diagnose_symbolic, diagnosis
from .train import step

# CLAIM_VERDICTS, Claim, ClaimRow, ClaimsReport and parse_claims live in the modules below; they are
# named here too, where symgrad/__init__ imports them from.
__all__ = ["CLAIM_VERDICTS", "ROUNDINGS", "Claim", "ClaimRow", "ClaimsReport", "parse_claims", "read_claims_file",
           "check_claims"]


#: Two lines swapped are looked for among at most this many wrong numeric claims (pairs: its square / 2).
MAX_SWAP_ROWS = 200

#: What counts as the person's own rounding of a last digit (``check_claims(rounding=...)``).
ROUNDINGS = ("half-up", "half-even", "truncate", "any")


# -- judging ---------------------------------------------------------------------------
class _Judge:
    """Judges claims in file order, keeping the person's numbers (``World``) to recompute later claims from."""

    def __init__(self, network: Network, claims: tuple[Claim, ...], *, source: str = "<claims>",
                 rounding: str = "half-up"):
        self.network = network
        self.source = source
        self.claims = claims
        self.rounding = rounding
        self.derivations: dict[str, Derivation] = {}
        numeric = [c for c in claims if c.number is not None]
        self.digits = max([c.significant + CLAIM_GUARD_DIGITS for c in numeric]
                          + [c.decimals + CLAIM_GUARD_DIGITS for c in numeric] + [CLAIM_MIN_DIGITS])
        self.exact_cache: dict = {}
        # a trajectory is certified to the digits its claims state (plus the guard), not to CLAIM_MIN_DIGITS
        self.steps_digits = max([c.significant + CLAIM_GUARD_DIGITS for c in numeric if c.steps]
                                + [CLAIM_STEPS_MIN_DIGITS])
        self.exact_values: dict = {}  # (name, wrt) -> the exact value, from one evaluation per output
        self.memo: dict = {}  # one evaluation per quantity and set of overrides, shared by every claim (and slip)
        # every step count the file names (and one either side, for the step-count slips): one run records all
        self.planned = tuple(sorted({j for c in claims if c.steps for j in (c.steps - 1, c.steps, c.steps + 1)}))

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
        """The claimed quantity computed from ``world``'s numbers (the claim's own excluded).

        Memoised: every claim of the same quantity, and every slip that redoes it the same way,
        shares one evaluation (a class of sheets with the same wrong number costs one search).
        """
        key = (claim.name, claim.wrt, claim.steps, world.signature(), rounding, _frozen(at), _frozen(factors),
               _frozen(values), rule, learning_rate)
        if key not in self.memo:
            self.memo[key] = self.computed_quantity(claim, world, rounding=rounding, at=at, factors=factors,
                                                    values=values, rule=rule, learning_rate=learning_rate)
        return self.memo[key]

    def computed_quantity(self, claim: Claim, world: World, *, rounding: Rounding | None, at, factors, values,
                          rule: str, learning_rate):
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
            wanted = tuple(sorted({j for j in (k - around, k, k + around) + self.planned if j >= 0}))
            run = certified_steps(self.main, max(wanted), digits=self.steps_digits, rule=rule, learning_rate=learning_rate,
                             record=wanted, frozen=frozen)
            for j, values in run.items():
                self.exact_cache[(rule, learning_rate, frozen, j)] = values
        return self.exact_cache[key]

    def rounded_steps(self, k: int, *, rounding: Rounding, rule: str = "simultaneous", learning_rate=None,
                      frozen: tuple[str, ...] = ()) -> dict:
        """Every quantity after ``k`` steps taken as by hand: each step from the last one's rounded
        parameters, every intermediate (forward values, gradients, η·g, θ − η·g) rounded by ``rounding``;
        ``frozen`` parameters keep their values. Each step count is kept, so k − 1, k and k + 1 share."""
        def key(j: int) -> tuple:
            return ("rounded steps", rounding, rule, learning_rate, frozen, j)
        done = max((j for j in range(k + 1) if key(j) in self.memo), default=None)
        if done is None:
            done = 0
            self.memo[key(0)] = evaluate(self.network, digits=self.digits, rounding=rounding).values
        at = {p: self.memo[key(done)][p] for p in self.network.params}
        for j in range(done + 1, k + 1):
            s = step(self.main, at=at, digits=self.digits, rule=rule, rounding=rounding, learning_rate=learning_rate)
            at = {p: at[p] if p in frozen else s.after[p] for p in self.network.params}
            self.memo[key(j)] = evaluate(self.network, at=at, digits=self.digits, rounding=rounding).values
        return self.memo[key(k)]

    def exact(self, claim: Claim):
        if claim.steps:
            return self.exact_steps(claim.steps, around=1)[claim.name]
        key = (claim.name, claim.wrt)
        if key not in self.exact_values:
            if claim.wrt is None:
                numbers = evaluate(self.network, digits=self.digits).values
                self.exact_values.update({(n, None): v for n, v in numbers.items()})
            else:
                adjoints = evaluate_gradients(self.derivation(claim.name), digits=self.digits).adjoints
                self.exact_values.update({(claim.name, n): v for n, v in adjoints.items()})
                self.exact_values.setdefault(key, mpmath.mpf(0))
        return self.exact_values[key]

    # -- verdicts -------------------------------------------------------------------------
    def judge(self) -> tuple[ClaimRow, ...]:
        world = World()
        rows = []
        for claim in self.claims:
            row = self.judge_one(claim, world)
            rows.append(row)
            if claim.informative and row.verdict not in ("unreadable", "undecided"):  # 0.000 carries nothing
                kind, key = self.key(claim)
                if kind is not None:
                    world.add(claim, key, kind, row.verdict)
        with mpmath.workdps(self.digits + WORKING_EXTRA):
            return _swaps(self.swapped_lines(tuple(rows)))

    def swapped_lines(self, rows: tuple[ClaimRow, ...]) -> tuple[ClaimRow, ...]:
        """Two wrong numbers that are each other's quantities' values: two lines swapped (among the first
        ``MAX_SWAP_ROWS`` wrong numeric claims)."""
        wrong = [k for k, row in enumerate(rows) if row.verdict == "wrong" and self.claims[k].number is not None
                 and self.claims[k].informative][:MAX_SWAP_ROWS]
        wrong = [k for k in wrong if rows[k].exact not in ("", "undefined")]
        exact = {k: self.exact(self.claims[k]) for k in wrong}  # each computed when its claim was judged
        out, paired = list(rows), set()
        for k, j in itertools.combinations(wrong, 2):
            a, b = self.claims[k], self.claims[j]
            if (a.name, a.wrt, a.steps) == (b.name, b.wrt, b.steps) or k in paired or j in paired:
                continue
            if self.matches(a, exact[j]) and self.matches(b, exact[k]) and not self.matches(a, exact[k]):
                paired.update((k, j))
                chance = min(1.0, float(a.quantum / abs(a.number - as_decimal(exact[k]))
                                        * b.quantum / abs(b.number - as_decimal(exact[j]))))
                for me, other, row_other in ((k, b, rows[j]), (j, a, rows[k])):
                    out[me] = dataclasses.replace(
                        rows[me], confidence=1 - chance,
                        explanation=f"two lines swapped: this is the value of {other.lhs}, and line {row_other.line} "
                                    f"has this one's")
        return tuple(out)

    def judge_one(self, claim: Claim, world: World) -> ClaimRow:
        """One claim's row; a value that does not exist or cannot be computed is a verdict, never an error."""
        if claim.problem:
            return ClaimRow(claim.line, claim.lhs, claim.value, "", "unreadable", claim.problem)
        try:
            with mpmath.workdps(self.digits + WORKING_EXTRA):
                return self.symbolic(claim) if claim.expr is not None else self.numeric(claim, world)
        except DomainError as exc:
            return ClaimRow(claim.line, claim.lhs, claim.value, "undefined", "wrong",
                            f"the exact value does not exist as a real number: {_one_line(exc)}")
        except (SymgradError, ArithmeticError, ValueError, TypeError, RecursionError) as exc:
            reason = _one_line(exc) if isinstance(exc, SymgradError) else type(exc).__name__
            if isinstance(exc, (ArithmeticError, PrecisionError)):
                reason = f"the numbers overflow or cannot be certified ({reason}); does training diverge?"
            return ClaimRow(claim.line, claim.lhs, claim.value, "", "undecided",
                            f"{claim.lhs} cannot be computed: {reason}")

    def upstream(self, claim: Claim, world: World) -> World:
        """Only the person's numbers this claim's quantity is computed from (no action at a distance)."""
        net = self.network
        if claim.steps:
            return world.only(lambda kind, key: kind != "steps" or key[1] < claim.steps
                              or (key[1] == claim.steps and key[0] != claim.name))
        ancestors = set(net.ancestors(claim.name))
        if claim.wrt is None:
            return world.only(lambda kind, key: kind == "values" and key in ancestors and key != claim.name)
        below = claim.wrt

        def feeds(kind: str, key) -> bool:
            if kind == "values":
                return key in ancestors
            if kind == "factors":
                return key[0] in ancestors and key != (claim.name, below) and below in net.ancestors(key[1])
            if kind == "deltas":
                return key[0] == claim.name and key[1] != below and below in net.ancestors(key[1])
            return False
        return world.only(feeds)

    def key(self, claim: Claim):
        if claim.steps:
            return "steps", (claim.name, claim.steps)
        if claim.wrt is None:
            return "values", claim.name
        d = self.derivation(claim.name)
        if (claim.name, claim.wrt) in d.factors and d.count_paths(claim.wrt) == 1:
            return "factors", (claim.name, claim.wrt)
        return "deltas", (claim.name, claim.wrt)

    def matches(self, claim: Claim, value, *, slack: int = 1) -> bool:
        """Whether ``claim``'s number is ``value`` written down with the person's rounding (``--rounding``)."""
        c, q = claim.number, claim.quantum
        if self.rounding != "truncate" and rounds_to(c, q, value, slack=slack):
            return True
        return self.rounding in ("truncate", "any") and truncates_to(c, q, value)

    def numeric(self, claim: Claim, world: World) -> ClaimRow:
        if claim.steps:  # only the person's numbers after_steps reads: the rest is left out of every world tried
            world = world.only(self.feeds(claim))
        exact = self.exact(claim)
        c = claim.number
        shown = to_decimal(exact, min(max(claim.significant, 1), CLAIM_SHOWN_DIGITS) + CLAIM_GUARD_DIGITS) if exact else "0"

        def row(verdict: str, explanation: str) -> ClaimRow:
            return ClaimRow(claim.line, claim.lhs, claim.value, shown, verdict, explanation)

        if claim.product and claim.wrt is not None and not claim.steps:
            wrong = judge_factors(claim, self.derivation(claim.name), self.upstream(claim, world), digits=self.digits,
                                  memo=self.memo)
            if wrong:
                return row("wrong", "a wrong number substituted: " + "; ".join(wrong))
        if claim.arithmetic is not None:
            arithmetic = f"your arithmetic gives {_plain(claim.arithmetic)}"
            if abs(claim.arithmetic - as_decimal(exact)) <= abs(claim.arithmetic).scaleb(-CLAIM_MIN_DIGITS):
                return row("right", f"{arithmetic}, the exact value")
            if self.matches(claim, exact, slack=2) or abs(claim.arithmetic - as_decimal(exact)) <= claim.spread:
                return row("right", f"{arithmetic}, the exact value to the precision of your rounded inputs")
        if self.matches(claim, exact):
            return row("right", f"the exact value rounded to {_precision(claim)}")
        world = self.upstream(claim, world)
        found = self.carried(claim, world)
        if found:
            return row(*found)
        if self.rounding in ("half-up", "half-even") and truncates_to(c, claim.quantum, exact):
            finer = rounded(exact, claim.quantum.scaleb(-1), rounding=ROUND_DOWN)
            return row("right-truncated", f"right, truncated instead of rounded: {format(finer, 'f')}… rounds to "
                                          f"{rounded(exact, claim.quantum)}")
        found = diagnosis(self, claim, world, exact)
        return dataclasses.replace(row("wrong", found.text), confidence=found.confidence)

    def feeds(self, claim: Claim):
        """``keep(kind, key)``: whether a number of the person's can change ``claim``'s quantity after k steps
        (``after_steps``): their step-0 numbers feed step 1 only; a parameter after k steps is its value after
        k − 1 steps moved once; any other quantity also reads their numbers after k steps."""
        k, params, own = claim.steps, self.network.params, claim.name

        def keep(kind: str, key) -> bool:
            if kind != "steps":
                return k == 1
            name, j = key
            if j == k - 1:
                return k > 1 and name in params
            return j == k and name != own and own not in params
        return keep

    def carried(self, claim: Claim, world: World) -> tuple[str, str] | None:
        """(verdict, explanation) when the person's own earlier numbers give the claim, else None.

        The numbers judged right come first (right given rounding), then every number, then each
        earlier wrong number alone with the right ones: error carried forward from any earlier set.
        """
        if not world.verdicts:
            return None
        clean = world.clean()
        worlds = [("right-given-rounding", clean), ("consistent-with-earlier", world)]
        suspects = sorted((j.line, key) for key, j in world.verdicts.items() if j.verdict not in RIGHT_VERDICTS)
        for _, suspect in suspects:
            worlds.append(("consistent-with-earlier", world.without(set(world.verdicts) - set(clean.verdicts)
                                                                    - {suspect})))
        policies = (None, Rounding.significant(claim.significant),
                    Rounding.decimals(claim.decimals) if claim.decimals > 0 else None)
        tried = set()
        for label, w in worlds:
            if not w.verdicts or (label == "consistent-with-earlier" and len(w.verdicts) == len(clean.verdicts)):
                continue
            for policy in policies:
                if (frozenset(w.verdicts), policy) in tried:
                    continue
                tried.add((frozenset(w.verdicts), policy))
                value = self.quantity(claim, w, rounding=policy)
                twice = not self.matches(claim, value) and rounded_twice(claim, value)
                if not (twice or self.matches(claim, value)):
                    continue
                how = "your own rounded earlier numbers" + (f" with {policy.describe()}" if policy else "")
                if twice:
                    how += f", the result rounded twice ({twice})"
                if label == "right-given-rounding":
                    return label, f"what {how} give ({_rounded_text(value, claim)})"
                earlier = self.earlier_slips(claim, w, policy)
                if claim.number == 0:
                    return "wrong", (f"0 follows from your earlier {earlier}, but that mistake makes this step "
                                     "trivial; no credit is carried forward for it")
                rounding = f" (rounded twice: {twice})" if twice else ""
                return label, (f"correct given your earlier {earlier}: {_rounded_text(value, claim)} follows from "
                               f"it{rounding}")
        return None

    def earlier_slips(self, claim: Claim, world: World, policy: Rounding | None) -> str:
        """The earliest wrong earlier number this claim follows from (the one whose removal breaks the match)."""
        suspects = sorted((j.line, j.lhs, key) for key, j in world.verdicts.items() if j.verdict == "wrong")
        followers = {key for key, j in world.verdicts.items() if j.verdict == "consistent-with-earlier"}
        for line, lhs, suspect in suspects:
            without = world.without({suspect} | followers)  # the slip, and every number worked from some slip
            if not self.matches(claim, self.quantity(claim, without, rounding=policy)):
                return f"value on line {line} ({lhs})"
        return "numbers"

    def symbolic(self, claim: Claim) -> ClaimRow:
        derived = self.derived_expr(claim)
        if larger_than(derived, MAX_INLINED_NODES):
            return self.too_large(claim)
        shown = sympy.sstr(derived)

        def row(verdict: str, explanation: str) -> ClaimRow:
            return ClaimRow(claim.line, claim.lhs, claim.value, shown, verdict, explanation)

        equality = compare(claim.expr, derived, self.network)
        if equality.kind == "identity":
            return row("right", equality.how)
        if equality.kind == "at-values":
            return row("right-at-these-values", equality.how)
        if equality.kind == "too-large":
            return row("undecided", equality.how)
        note = f" ({equality.how})" if equality.how.startswith("equal only") else ""
        return row("wrong", diagnose_symbolic(self, claim, derived) + note + "; claim − derived = "
                   + short_difference(claim.expr, derived))

    def too_large(self, claim: Claim) -> ClaimRow:
        """A derivative whose expression is too large to write out (a deep graph): decided at the spec's
        values by exact evaluation of the graph (shared nodes, linear cost), never written out."""
        shown = f"(more than {MAX_INLINED_NODES:,} terms)"
        try:
            exact = self.exact(claim)
            value = evaluate_expr(claim.expr, dict(evaluate(self.network, digits=self.digits).values))
        except (SymgradError, ArithmeticError, ValueError) as exc:
            return ClaimRow(claim.line, claim.lhs, claim.value, shown, "undecided",
                            f"not decided: written out the derivative has more than {MAX_INLINED_NODES:,} terms, "
                            f"and at the spec's values it cannot be evaluated ({_one_line(exc)})")
        scale = max(abs(exact), abs(value), mpmath.mpf(1))
        if abs(value - exact) > scale * mpmath.mpf(10) ** (CLAIM_GUARD_DIGITS - self.digits):
            return ClaimRow(claim.line, claim.lhs, claim.value, shown, "wrong",
                            f"different at the spec's values (exact evaluation): the claim gives "
                            f"{mpmath.nstr(value, 12)}, the derivative is {mpmath.nstr(exact, 12)}; written out the "
                            f"derivative has more than {MAX_INLINED_NODES:,} terms, so it is not shown")
        return ClaimRow(claim.line, claim.lhs, claim.value, shown, "undecided",
                        f"equal at the spec's values, but written out the derivative has more than "
                        f"{MAX_INLINED_NODES:,} terms, too many to prove an identity; write the claim with the "
                        "nodes of the layer below")

    def derived_expr(self, claim: Claim) -> sympy.Expr:
        if claim.wrt is None:
            node = self.network.nodes.get(claim.name)
            return node.expr if node is not None else self.network.symbol(claim.name)
        return self.derivation(claim.name).expression(claim.wrt)

    def equal(self, a: sympy.Expr, b: sympy.Expr) -> str:
        """How ``a`` = ``b`` was shown for every value, or wherever the spec's fixed sums hold (one-hot
        targets: y1 + y2 = 1); "" when it was not."""
        equality = compare(a, b, self.network)
        return equality.how if equality.kind in ("identity", "at-values") else ""


def rounded_twice(claim: Claim, value) -> str:
    """"0.56045 → 0.5605 → 0.561" when ``claim`` is ``value`` rounded to one more digit and then again
    (half up, as a person rounds an already rounded number); "" otherwise."""
    q = claim.quantum
    if claim.significant < 2 or not value:
        return ""
    finer = rounded(value, q.scaleb(-1))
    if rounded(finer, q) != claim.number or rounded(value, q) == claim.number:
        return ""
    return f"{rounded(value, q.scaleb(-2))} → {finer} → {claim.number}"


def truncates_to(claimed: Decimal, quantum: Decimal, value) -> bool:
    """True when ``claimed`` is ``value`` cut after its last stated digit (0.2983711087 → 0.298371108)."""
    return bool(value) and bool(claimed) and rounded(value, quantum, rounding=ROUND_DOWN) == claimed


def _frozen(mapping: Mapping | None):
    return None if mapping is None else frozenset(mapping.items())


def _swaps(rows: tuple[ClaimRow, ...]) -> tuple[ClaimRow, ...]:
    """Name two symbolic claims written for each other's quantities as one swap."""
    marks = {}
    for k, row in enumerate(rows):
        if row.verdict == "wrong" and row.explanation.startswith("the expression of "):
            written_for, _, rest = row.explanation.removeprefix("the expression of ").partition(", not of ")
            marks[k] = (written_for, rest.split(":", 1)[0])
    out = list(rows)
    for k, (other, mine) in marks.items():
        for j, (other_j, mine_j) in marks.items():
            if j != k and other == mine_j and mine == other_j:
                out[k] = dataclasses.replace(rows[k], explanation=f"swapped with line {rows[j].line}: "
                                                                  + rows[k].explanation)
    return tuple(out)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f") if abs(value.adjusted()) < 12 else str(value.normalize())
    return text if len(text) <= 20 else text[:19] + "…"


def _precision(claim: Claim) -> str:
    if claim.decimals > 0:
        return f"{claim.decimals} decimal{'s' if claim.decimals != 1 else ''}"
    return "a whole number" if claim.decimals == 0 else f"the nearest {claim.quantum}"


def _rounded_text(value, claim: Claim) -> str:
    """``value`` as text, to a few decimals beyond the claim's last."""
    return str(rounded(value, claim.quantum.scaleb(-CLAIM_GUARD_DIGITS))) if value else "0"


def check_claims(network: Network, claims_text: str, *, source: str = "<claims>",
                 rounding: str = "half-up") -> ClaimsReport:
    """Judge every claim of a claims file against ``network``: right (or right given rounding,
    consistent with earlier numbers, right at these values, right but truncated), wrong with
    the slip that explains it, undecided, or unreadable.

    ``rounding`` is what counts as the person's own rounding of a last digit: ``"half-up"``
    (or ``"half-even"``; a truncated digit is then ``right-truncated``), ``"truncate"`` or ``"any"``.

    >>> import symgrad
    >>> report = symgrad.check_claims(symgrad.load("mazur"), "out_o1 = 0.75136507\\nout_o1 = 0.751366507\\n")
    >>> [row.verdict for row in report.rows]
    ['right', 'wrong']
    >>> report.rows[1].explanation
    'a duplicated digit: the 6 is written twice (0.75136507 is the value to 8 decimals)'
    """
    if not isinstance(network, Network):
        raise InvalidArgument(f"check needs a Network (symgrad.load(...)), got {type(network).__name__}")
    if rounding not in ROUNDINGS:
        raise InvalidArgument(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    claims = parse_claims(claims_text, network, source=source)
    return ClaimsReport(_Judge(network, claims, source=source, rounding=rounding).judge(), source)
