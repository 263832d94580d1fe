"""Diagnosing a wrong claim: search the common slips and name the one that explains it.

Each slip recomputes the claimed quantity the way a person who made it would have (a digit
swapped, the ½ dropped, σ′ left out, the output weights updated first, degrees on the
calculator...) and is offered only when that number rounds to the claim, so a diagnosis is
never a guess. ``SLIPS`` is the list ``diagnose`` walks, cheapest and most specific first:
the slips in writing a number down, then the slips in the calculation. The first that
explains the claim is named; when none does, the explanation says so.

The judge is reached only through ``claim_data.ClaimJudge``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Callable, Iterator, NamedTuple

import mpmath
import sympy

from .chain import accumulate
from .claim_data import Claim, ClaimJudge, World, as_decimal, rounded, rounds_to
from .descent import layers_from_output, to_mpf
from .errors import SymgradError
from .evaluation import evaluate_expr
from .functions import sigmoid
from .graph import as_number
from .precision import CLAIM_GUARD_DIGITS, SLIP_CONFIDENCE, Rounding
from .train import step

__all__ = ["Slip", "WrittenSlip", "ComputedSlip", "SLIPS", "MAX_CANDIDATES", "Diagnosis", "diagnose", "diagnosis",
           "diagnose_symbolic"]

#: The bound on the search: each computed slip redoes the claimed quantity at most this many ways
#: (the first ones in its order: nearest neighbouring weights first), once per quantity and set of
#: the person's numbers, against the exact value and against the person's own: at most
#: 2 × 64 × 11 = 1,408 recomputations for a quantity, however many claims name it.
MAX_CANDIDATES = 64

#: A slip in a claim after k steps is redone in the person's own rounding (every step rounded, as by
#: hand) for k up to this; beyond it, a calculation no one does by hand, only in the exact numbers.
MAX_ROUNDED_STEPS = 20

Candidates = Iterator[tuple[str, Callable[[], object]]]  # (explanation, the quantity redone with that slip)


@dataclass(frozen=True)
class WrittenSlip:
    """A slip in writing a correct number down: ``explain(claim, value)`` is the explanation, or ""."""

    name: str
    explain: Callable[[Claim, object], str]


@dataclass(frozen=True)
class ComputedSlip:
    """A slip in the calculation: ``candidates(judge, claim, world, correct)`` redoes it each way it can happen."""

    name: str
    candidates: Callable[[ClaimJudge, Claim, World, object], Candidates]


Slip = WrittenSlip | ComputedSlip

_NOTHING = ("no common slip explains this value (digits, rounding, sign, ½, σ′, learning rate, weights, "
            "update order, step count and degrees were tried); the exact value is shown")
_TRIG = (sympy.sin, sympy.cos)


def _plain(value: Decimal) -> str:
    return format(value, "f").lstrip("-")


class Diagnosis(NamedTuple):
    """The likeliest explanation of a wrong number, and how sure: 1 − the chance of a match by accident."""

    text: str
    confidence: float | None  # None where no slip was named


def diagnose(judge: ClaimJudge, claim: Claim, world: World, exact) -> str:
    """The explanation of a wrong numeric claim (``diagnosis(...).text``)."""
    return diagnosis(judge, claim, world, exact).text


def diagnosis(judge: ClaimJudge, claim: Claim, world: World, exact) -> Diagnosis:
    """The first of ``SLIPS`` that reproduces the claim with confidence at least ``SLIP_CONFIDENCE``,
    else "no common slip" with the nearest recomputations and how near they came.

    Each slip is tried against the exact value, then against the value the person's own
    earlier numbers give (when that differs), then with every intermediate rounded to the
    digits the person wrote. The confidence of a match is 1 − the chance that a wrong number
    lands that close to one of the recomputations tried so far by accident (``_chance``).
    """
    q = claim.quantum
    references = [("", exact)]
    if world.verdicts:
        person = judge.quantity(claim, world)
        if abs(as_decimal(person) - as_decimal(exact)) > q.scaleb(-CLAIM_GUARD_DIGITS):
            references.append((", given your earlier numbers", person))
    worlds = [("", World(), exact, judge)] + ([(references[-1][0], world, references[-1][1], judge)]
                                              if len(references) > 1 else [])
    policy = Rounding.significant(claim.significant)
    own = _OwnRounding(judge, policy)
    for given, w, _, _ in list(worlds):
        try:
            value = _own(judge, claim, w, policy)
        except (SymgradError, ArithmeticError, ValueError):
            continue
        if all(rounded(value, q) != rounded(r, q) for _, r in references):  # else their rounding changes nothing
            label = f"{given}, with {policy.describe()}"
            references.append((label, value))
            worlds.append((label, w, value, own))
    slack = 2 if claim.significant > 3 else 1  # a last digit off by one is condoned only in long numbers
    tried: list[tuple[str, Decimal]] = []
    near: list[tuple[str, Decimal, float]] = []
    for slip in SLIPS:  # in order: the likeliest explanation first
        if getattr(slip, "explain", None) is _digit_slip and len(references) > 1 and references[1][0].startswith(", given") \
                and abs(claim.number - as_decimal(references[1][1])) <= q:
            person = rounded(references[1][1], q.scaleb(-2))  # near what their own numbers give: no digit story
            return Diagnosis(f"within one unit of the last digit of what your earlier numbers give ({person}), "
                             "not the exact value: a slip in the last digit on top of the earlier mistake", None)
        if isinstance(slip, WrittenSlip):
            for given, r in references:
                found = slip.explain(claim, r)
                if found:
                    confidence = 1 - _chance(claim, r, found, len(tried) + 1, slack)
                    if confidence >= SLIP_CONFIDENCE:
                        return Diagnosis(found + given, confidence)
                    near.append((found + given, claim.number, confidence))
        elif claim.significant >= 2:
            found = _computed(slip, judge, claim, worlds, slack, tried)
            if found:
                label, r, value = found
                confidence = 1 - _chance(claim, r, label, len(tried), slack)
                if confidence >= SLIP_CONFIDENCE:
                    return Diagnosis(label, confidence)
                near.append((label, value, confidence))
    if claim.significant < 2:
        return Diagnosis("not the exact value rounded; one significant digit is too few to tell which slip it was",
                         None)
    return Diagnosis(_NOTHING + _nearest(claim, tried, near), None)


def _own(judge: ClaimJudge, claim: Claim, world: World, policy: Rounding):
    """The claimed quantity in the person's own rounding: after k > 1 steps (from the spec's point, no
    step of theirs written), every step rounded; else the last calculation rounded (``quantity``)."""
    k = claim.steps
    if k and k > 1 and not world.steps and claim.wrt is None and k <= MAX_ROUNDED_STEPS:
        return judge.rounded_steps(k, rounding=policy)[claim.name]
    return judge.quantity(claim, world, rounding=policy)


def _after(judge: ClaimJudge, claim: Claim, k: int, **options):
    """``claim``'s quantity after ``k`` steps: exact, or for the person's own rounding (``_OwnRounding``)
    every step rounded as by hand (k up to ``MAX_ROUNDED_STEPS``)."""
    policy = getattr(judge, "_policy", None)
    if policy is None or k > MAX_ROUNDED_STEPS:
        return judge.exact_steps(k, **options)[claim.name]
    return judge.rounded_steps(k, rounding=policy, **options)[claim.name]


class _OwnRounding:
    """The judge, with every quantity a slip recomputes rounded as the person rounds (``policy``)."""

    def __init__(self, judge: ClaimJudge, policy: Rounding):
        self._judge, self._policy = judge, policy

    def __getattr__(self, name: str):
        return getattr(self._judge, name)

    def quantity(self, claim: Claim, world: World, **changes):
        changes.setdefault("rounding", self._policy)
        return self._judge.quantity(claim, world, **changes)


def _chance(claim: Claim, reference, label: str, tried: int, slack: int) -> float:
    """The chance that the claim's match with a slip is an accident.

    A recomputed slip: a wrong number as far from the right one as the claim is lands within
    one unit of the last digit written (the numbers that round to it) of one of the ``tried``
    recomputations with chance at most tried × unit / distance. A story about the digits
    written (swapped, dropped, doubled): one of about as many such edits as there are digits
    among the 10^(digits − 1) numbers of that length.
    """
    distance = abs(claim.number - as_decimal(reference))
    if label.startswith(_DIGIT_STORIES):
        return min(1.0, claim.significant / 10.0 ** (claim.significant - 1))
    if not distance:
        return 1.0
    return min(1.0, float(tried * claim.quantum / distance))


def _nearest(claim: Claim, tried: list, near: list) -> str:
    """The two recomputations nearest the claim, in units of its last digit (and any match too weak to name)."""
    parts = [f"{label} matches, but a match this close could be chance (confidence {c:.2f}, "
             f"below {SLIP_CONFIDENCE})" for label, _, c in near[:2]]
    named = {n[0] for n in near}
    scored = sorted((((abs(claim.number - v) / claim.quantum).to_integral_value(), len(label), label, v)
                     for label, v in tried if label not in named))
    seen = set()
    for units, _, label, v in scored:  # one line per number: the shorter story (the exact numbers') of two that agree
        if len(parts) >= 2:
            break
        shown = rounded(v, claim.quantum)
        if label in seen or shown in seen:
            continue
        seen.update((label, shown))
        parts.append(f"{label} gives {_plain_signed(rounded(v, claim.quantum))} "
                     f"({units:.0f} units of the last digit away)")
    return ("; nearest: " + "; ".join(parts)) if parts else ""


def _plain_signed(value: Decimal) -> str:
    return format(value, "f")


def _computed(slip: ComputedSlip, judge: ClaimJudge, claim: Claim, worlds, slack: int, tried: list):
    """(label, reference, value) of the first way ``slip`` reproduces the claim; every value compared is
    added to ``tried``."""
    for given, w, correct, j in worlds:
        reference = as_decimal(correct)
        for label, value in _candidates(slip, j, claim, w, correct):
            if value is None:
                continue
            tried.append((label + given, value))
            if rounds_to(claim.number, claim.quantum, value, slack=slack) and abs(value - reference) > claim.quantum:
                return label + given, correct, value
    return None


def _candidates(slip: ComputedSlip, judge: ClaimJudge, claim: Claim, world: World, correct) -> list:
    """(explanation, the redone quantity as a Decimal or None) for each way ``slip`` can happen, computed
    once per quantity and set of the person's numbers: every claim of it, on every sheet, shares them."""
    key = ("slip", slip.name, claim.name, claim.wrt, claim.steps, claim.quantum, world.signature(), correct,
           getattr(judge, "_policy", None))

    def compute() -> list:
        found = []
        for label, redo in itertools.islice(slip.candidates(judge, claim, world, correct), MAX_CANDIDATES):
            try:
                value = redo()
            except (SymgradError, ArithmeticError, ValueError, KeyError):
                value = None
            found.append((label, None if value is None else as_decimal(value)))
        return found
    return _memo(judge, key, compute)


# -- slips in writing the number down ------------------------------------------------------
def _truncation(claim: Claim, r) -> str:
    c, q = claim.number, claim.quantum
    if r and c and rounded(r, q, rounding=ROUND_DOWN) == c and rounded(r, q) != c:
        finer = _plain(rounded(r, q.scaleb(-1)))
        return f"truncated instead of rounded: {finer}... rounds to {rounded(r, q)}"
    return ""


def _sign_or_decimal_point(claim: Claim, r) -> str:
    c, q = claim.number, claim.quantum
    if r and rounds_to(c, q, -r):
        return f"a sign error: the value is {rounded(r, q)}, the opposite sign"
    for k in (1, -1, 2, -2, 3, -3):
        if r and claim.significant >= 2 and rounds_to(c, q, r * mpmath.mpf(10) ** k):
            shifted = rounded(r, q.scaleb(-k))
            return f"a misplaced decimal point: {claim.value} is {shifted} × 10^{k}"
    return ""


def _digit_slip(claim: Claim, r) -> str:
    c, q = claim.number, claim.quantum
    if r == 0 or (c < 0) != (r < 0) or c == 0 or claim.significant < 2:
        return ""
    written = _plain(c)
    same = _plain(rounded(r, q))
    if len(same) == len(written):
        for i in range(len(same) - 1):
            a, b = same[i], same[i + 1]
            if a.isdigit() and b.isdigit() and a != b and same[:i] + b + a + same[i + 2:] == written:
                return f"two digits swapped: {b}{a} written for {a}{b} ({same} is the value to {_places(q)})"
    finer = _plain(rounded(r, q.scaleb(-1)))
    for i in range(len(finer) - 1):  # dropping the last digit is truncation, not a dropped digit
        if finer[i].isdigit() and finer[:i] + finer[i + 1:] == written:
            return f"a dropped digit: the {finer[i]} {_position(finer, i)} of {finer} is missing"
    coarser = _plain(rounded(r, q.scaleb(1)))
    for i in range(len(written)):
        if written[i].isdigit() and written[:i] + written[i + 1:] == coarser:
            twice = (i > 0 and written[i - 1] == written[i]) or (i + 1 < len(written) and written[i + 1] == written[i])
            what = f"a duplicated digit: the {written[i]} is written twice" if twice else \
                f"an extra digit: the {written[i]} {_position(written, i)} does not belong"
            return f"{what} ({coarser} is the value to {_places(q.scaleb(1))})"
    return ""


_DIGIT_STORIES = ("two digits swapped", "a dropped digit", "a duplicated digit", "an extra digit")


def _position(text: str, i: int) -> str:
    """Where the digit at ``text[i]`` sits, as people count: the 5th decimal, the 3rd significant digit."""
    if "." in text and i > text.index("."):
        return f"in the {_ordinal(i - text.index('.'))} decimal"
    first = next(k for k, ch in enumerate(text) if ch.isdigit() and ch != "0")
    return f"in the {_ordinal(len([c for c in text[first:i + 1] if c.isdigit()]))} significant digit"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _places(q: Decimal) -> str:
    n = -q.as_tuple().exponent if q < 1 else 0
    return f"{n} decimals" if n != 1 else "1 decimal"


# -- slips that change the computation ----------------------------------------------------
def _half_squares(judge: ClaimJudge) -> set[str]:
    """Nodes written as ½ times a square (the squared-error loss)."""
    found = set()
    for name, node in judge.network.nodes.items():
        e = node.expr
        if e.is_Mul and sympy.Rational(1, 2) in e.args and any(a.is_Pow and a.exp == 2 for a in e.args):
            found.add(name)
    return found


def _on_path(judge: ClaimJudge, low: str, high: str) -> bool:
    return low in judge.network.ancestors(high)


def _sigmoid_edges(judge: ClaimJudge, claim: Claim) -> list[tuple[str, str]]:
    d = judge.derivation(claim.name if claim.wrt else None)
    start = claim.wrt
    edges = []
    for (node, operand) in d.factors:
        expr = judge.network.nodes[node].expr
        if isinstance(expr, sigmoid) and (start is None or _on_path(judge, start, operand)):
            edges.append((node, operand))
    return edges


def _neighbours(judge: ClaimJudge, names: set[str]) -> list[tuple[str, str]]:
    params = list(judge.network.params)
    pairs = []
    for distance in (1, 2):
        for i, p in enumerate(params):
            if p not in names:
                continue
            for j in (i - distance, i + distance):
                if 0 <= j < len(params):
                    pairs.append((p, params[j]))
    return pairs


def _degree_world(judge: ClaimJudge, claim: Claim):
    """Every node value and local partial with sin and cos read in degrees, as a calculator in DEG mode does."""
    net = judge.network
    if not any(node.expr.has(*_TRIG) for node in net.nodes.values()):
        return None

    def degrees(expr: sympy.Expr) -> sympy.Expr:
        return expr.replace(lambda e: isinstance(e, _TRIG), lambda e: e.func(e.args[0] * sympy.pi / 180))

    env = {name: to_mpf(as_number(value)) for name, value in net.point().items()}
    for name, node in net.nodes.items():
        env[name] = evaluate_expr(degrees(node.expr), env)
    d = judge.derivation(claim.name if claim.wrt else None)
    factors = {key: evaluate_expr(degrees(f.expr), env) for key, f in d.factors.items()}
    return {n: env[n] for n in net.nodes}, factors


def _old_name(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    """The updated value written under the parameter's old name (w5 = 0.35891648, which is w5+)."""
    if claim.wrt is None and not claim.steps and claim.name in judge.network.params \
            and judge.network.learning_rate is not None:
        after = judge.exact_steps(1)[claim.name]
        yield (f"the value after one update ({claim.name}+ = {rounded(after, claim.quantum)}) written under the "
               f"old name {claim.name}, which is the value before the update", lambda: after)


def _half_dropped(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    net, halves = judge.network, _half_squares(judge)
    if claim.steps:
        return
    if claim.wrt is None:
        dropped = claim.name in net.nodes and halves & set(net.ancestors(claim.name))
    else:
        dropped = any(_on_path(judge, h, claim.name) and _on_path(judge, claim.wrt, h) for h in halves)
    if dropped:
        yield "the ½ of the squared error dropped (a factor of 2)", lambda: 2 * correct


def _update_rate(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    """The first update with η missing, doubled by a dropped ½, squared, or of the wrong sign."""
    if claim.steps != 1 or claim.name not in judge.network.params:
        return
    eta, quantity = as_number(judge.network.learning_rate), judge.quantity
    halves = _half_squares(judge)
    same = " (with η = 1/2 this is also what dropping the ½ of the squared error gives)" \
        if halves and 2 * eta == 1 else ""
    yield ("the learning rate missing: θ − ∇ instead of θ − η∇" + same,
           lambda: quantity(claim, world, learning_rate=1))
    if halves and not same:
        yield ("the ½ of the squared error dropped: the update used twice the gradient",
               lambda: quantity(claim, world, learning_rate=2 * eta))
    yield ("the learning rate applied twice: θ − η²∇ instead of θ − η∇",
           lambda: quantity(claim, world, learning_rate=eta ** 2))
    yield ("a sign error in the update: θ + η∇ instead of θ − η∇",
           lambda: quantity(claim, world, learning_rate=-eta))


def _sigma_missing(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    if claim.wrt is None and not (claim.steps == 1 and claim.name in judge.network.params):
        return
    edges = _sigmoid_edges(judge, claim)
    if claim.wrt is not None and len(edges) > 1:
        yield ("σ′ missing: every sigmoid derivative out(1 − out) left out",
               lambda: judge.quantity(claim, world, factors={e: 1 for e in edges}))
    for edge in edges:
        yield _sigma_label(judge, edge), lambda e=edge: judge.quantity(claim, world, factors={e: 1})


def _rate_in_gradient(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    eta = judge.network.learning_rate
    if claim.wrt is not None and eta is not None:
        eta_value = to_mpf(as_number(eta))
        yield (f"the learning rate η = {eta} multiplied into the gradient (it belongs in the update)",
               lambda: eta_value * correct)


def _wrong_weight(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    if claim.steps:
        return
    for p, other in _neighbours(judge, set(judge.network.ancestors(claim.name))):
        yield (f"the wrong weight: {other} used where {p} belongs",
               lambda p=p, o=other: judge.quantity(claim, world, at={p: _value_of(judge, world, o)}))


def _step_count(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    k = claim.steps
    if k:
        yield (f"one step too few: this is the value after {k - 1} step{'s' if k - 1 != 1 else ''}",
               lambda: _after(judge, claim, k - 1))
        yield f"one step too many: this is the value after {k + 1} steps", lambda: _after(judge, claim, k + 1)


def _sequential(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    net, k = judge.network, claim.steps
    if k:
        if not (k == 1 and claim.name in layers_from_output(judge.derivation())[0]):
            if k == 1:  # one step is redone by the judge: in the person's own rounding too
                yield _SEQUENTIAL, lambda: judge.quantity(claim, world, rule="layerwise")
            else:
                yield _SEQUENTIAL, lambda: _after(judge, claim, k, rule="layerwise")
    elif claim.wrt is not None:
        b = claim.wrt
        if (claim.name == net.output and b in net.params and net.learning_rate is not None
                and b not in layers_from_output(judge.derivation())[0]):
            yield _SEQUENTIAL, lambda: _memo(judge, ("layerwise gradients",), lambda: step(
                judge.derivation(), digits=judge.digits, rule="layerwise").gradients)[b]


def _biases_frozen(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    k = claim.steps
    if not k:
        return
    biases = _biases(judge)
    if biases and not (claim.name in judge.network.params and k == 1):  # weights after one step ignore biases
        fixed = ", ".join(biases)
        yield (f"the biases ({fixed}) left out of the update",
               lambda: _after(judge, claim, k, frozen=biases))
        yield (f"{_SEQUENTIAL}, with the biases ({fixed}) left out of the update",
               lambda: _after(judge, claim, k, rule="layerwise", frozen=biases))


def _rate_every_step(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    k = claim.steps
    if k and k > 1:
        yield ("the learning rate missing in every step (η = 1)",
               lambda: _after(judge, claim, k, learning_rate=1))


def _degrees(judge: ClaimJudge, claim: Claim, world: World, correct) -> Candidates:
    if claim.steps:
        return
    degree = _degree_world(judge, claim)
    if degree is None:
        return
    if claim.wrt is None:
        if claim.name in degree[0]:
            yield _DEGREES, lambda: degree[0][claim.name]
    else:
        yield _DEGREES, lambda: judge.quantity(claim, world, values=degree[0], factors=degree[1])


def _biases(judge: ClaimJudge) -> tuple[str, ...]:
    """Parameters that are only ever added (every local partial ∂node/∂b is 1): the biases."""
    d = judge.derivation()
    return tuple(p for p in d.params if all(d.factors[t.consumer, p].expr == 1 for t in d.adjoints[p].terms))


_SEQUENTIAL = ("a sequential instead of a simultaneous update: the output-layer weights were already updated when "
               "the hidden-layer gradients were computed")
_DEGREES = "degrees instead of radians: sin and cos were evaluated with the angle in degrees"


def _sigma_label(judge: ClaimJudge, edge: tuple[str, str]) -> str:
    node, operand = edge
    factor = judge.derivation().factors.get(edge) or judge.derivation(node).factors[edge]
    return f"σ′ missing: the factor ∂{node}/∂{operand} = {sympy.sstr(factor.expr)} left out"


def _memo(judge: ClaimJudge, key: tuple, compute: Callable[[], object]):
    """``compute()`` once per judge (every claim of a sheet, or of a class, shares it)."""
    if key not in judge.memo:
        judge.memo[key] = compute()
    return judge.memo[key]


def _value_of(judge: ClaimJudge, world: World, name: str):
    if name in world.values:
        return world.values[name]
    return judge.network.point()[name]


#: Every slip, in the order ``diagnose`` tries them (the computed ones in the exact numbers, then
#: again in the person's own).
SLIPS: tuple[Slip, ...] = (
    WrittenSlip("truncation instead of rounding", _truncation),
    WrittenSlip("a sign error or a misplaced decimal point", _sign_or_decimal_point),
    ComputedSlip("the updated value under the old name", _old_name),
    ComputedSlip("the ½ of the squared error dropped", _half_dropped),
    ComputedSlip("the learning rate missing, doubled, squared or of the wrong sign in the update", _update_rate),
    ComputedSlip("σ′ missing", _sigma_missing),
    ComputedSlip("the learning rate multiplied into the gradient", _rate_in_gradient),
    ComputedSlip("the wrong weight (a neighbour of the right one)", _wrong_weight),
    ComputedSlip("one step too many or too few", _step_count),
    ComputedSlip("a sequential instead of a simultaneous update", _sequential),
    ComputedSlip("the biases left out of the update", _biases_frozen),
    ComputedSlip("the learning rate missing in every step", _rate_every_step),
    ComputedSlip("degrees instead of radians", _degrees),
    WrittenSlip("a digit swapped, dropped, or written twice", _digit_slip),
)


# -- symbolic claims ------------------------------------------------------------------------
def diagnose_symbolic(judge: ClaimJudge, claim: Claim, derived: sympy.Expr) -> str:
    """Why a symbolic claim differs from the derived expression, with the correct expression."""
    given = claim.expr
    correct = f"the correct expression is {sympy.sstr(derived)}"
    if judge.equal(given, -derived):
        return f"a sign error: {correct}"
    if judge.equal(given, 2 * derived) and _half_squares(judge):
        return f"the ½ of the squared error dropped (a factor of 2): {correct}"
    if claim.wrt is not None:
        d = judge.derivation(claim.name)
        edges = {e for e in d.factors if isinstance(judge.network.nodes[e[0]].expr, sigmoid)}
        if edges:
            without = accumulate(d, sympy.S.One,
                                 lambda delta, t: delta * (1 if (t.consumer, t.factor.wrt) in edges else t.factor.expr),
                                 lambda _, terms: sympy.Add(*terms)).get(claim.wrt, sympy.S.Zero)
            if without != derived and judge.equal(given, without):
                return f"σ′ missing: the sigmoid derivative out(1 − out) is left out; {correct}"
        eta = judge.network.learning_rate
        if eta is not None and judge.equal(given, as_number(eta) * derived):
            return f"the learning rate multiplied into the gradient (it belongs in the update): {correct}"
        for other in d.adjoints:
            if other != claim.wrt and other in judge.network.params and \
                    judge.equal(given, d.expression(other)):
                return f"the expression of d{claim.name}/d{other}, not of d{claim.name}/d{claim.wrt}: {correct}"
    return f"no common slip explains it; {correct}"
