"""Issue 18: structural slips over several steps redone in the person's own rounding.

The reference is a hand calculation in Decimal: a one-hidden-unit network trained the way a
student does it on paper, every number (net inputs, activations, local factors, δ, gradients,
η·g, the new weights) rounded half-up to the digits they write; the same function at 40 digits
gives the exact values. Independent of symgrad's evaluation, rounding and descent code.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest

import symgrad
from symgrad.precision import SLIP_CONFIDENCE

SPEC = """output = "E"
[symbols]
inputs = ["x", "t"]
params = ["w1", "b1", "w2", "b2"]
[values]
x = 2
t = 1
w1 = -0.4
b1 = -0.3
w2 = 2
b2 = -1
[train]
learning_rate = 3
[nodes]
net_h = "w1*x + b1"
h = "sigmoid(net_h)"
net_o = "w2*h + b2"
o = "sigmoid(net_o)"
E = "(t - o)**2/2"
"""

SEQUENTIAL = ("a sequential instead of a simultaneous update: the output-layer weights were already updated when "
              "the hidden-layer gradients were computed")


def by_hand(steps: int, digits: int, *, layerwise: bool = False, frozen: bool = False) -> dict:
    """Every quantity after ``steps`` updates with η = 3, each number rounded to ``digits`` significant digits."""
    with localcontext() as ctx:
        ctx.prec = 80

        def r(v: Decimal) -> Decimal:
            return v.quantize(Decimal(1).scaleb(v.adjusted() - digits + 1), rounding=ROUND_HALF_UP) if v else v

        def sigma(z: Decimal) -> Decimal:
            return r(1 / (1 + (-z).exp()))

        x, t, eta = Decimal(2), Decimal(1), Decimal(3)
        w1, b1, w2, b2 = Decimal("-0.4"), Decimal("-0.3"), Decimal(2), Decimal(-1)
        for k in range(steps + 1):
            net_h = r(w1 * x + b1)
            h = sigma(net_h)
            net_o = r(w2 * h + b2)
            o = sigma(net_o)
            if k == steps:
                return {"w1": w1, "b1": b1, "w2": w2, "b2": b2, "h": h, "o": o, "E": r((t - o) ** 2 / 2)}
            delta_o = r(r(o - t) * r(o * (1 - o)))  # ∂E/∂net_o
            new_w2 = r(w2 - r(eta * r(delta_o * h)))
            new_b2 = b2 if frozen else r(b2 - r(eta * delta_o))
            delta_h = r(r(delta_o * (new_w2 if layerwise else w2)) * r(h * (1 - h)))  # ∂E/∂net_h
            w1, b1 = r(w1 - r(eta * r(delta_h * x))), b1 if frozen else r(b1 - r(eta * delta_h))
            w2, b2 = new_w2, new_b2


def _row(claim: str):
    (row,) = symgrad.check_claims(symgrad.loads(SPEC), claim + "\n").rows
    return row


def _units_apart(written: Decimal, exact: Decimal) -> Decimal:
    return abs(written - exact) / Decimal(1).scaleb(written.adjusted() - len(written.as_tuple().digits) + 1)


@pytest.mark.parametrize("name, steps, digits, layerwise, frozen, slip", [
    ("w1", 1, 4, True, False, SEQUENTIAL),  # one step: the hidden δ taken with w2 already updated
    ("h", 1, 4, True, False, SEQUENTIAL),
    ("b1", 2, 3, True, False, SEQUENTIAL),  # two steps, both sequential
    ("E", 2, 4, True, False, SEQUENTIAL),
    ("w1", 2, 3, False, True, "the biases (b1, b2) left out of the update"),
])
def test_a_structural_slip_in_the_persons_own_rounding(name, steps, digits, layerwise, frozen, slip):
    written = by_hand(steps, digits, layerwise=layerwise, frozen=frozen)[name]
    exact_slip = by_hand(steps, 40, layerwise=layerwise, frozen=frozen)[name]
    assert _units_apart(written, exact_slip) > 1  # the slip in exact numbers does not explain it: the rounding does
    row = _row(f"{name}@{steps} = {written}")
    assert row.verdict == "wrong"
    assert row.explanation == f"{slip}, with every intermediate rounded to {digits} significant digits", row
    assert row.confidence >= SLIP_CONFIDENCE


def test_one_step_too_few_in_the_persons_own_rounding():
    written = by_hand(1, 3)["E"]  # E after one step, written as E after two
    assert _units_apart(written, by_hand(1, 40)["E"]) > 1 and _units_apart(written, by_hand(2, 3)["E"]) > 1
    row = _row(f"E@2 = {written}")
    assert row.explanation == ("one step too few: this is the value after 1 step, with every intermediate rounded "
                               "to 3 significant digits"), row


def test_the_right_numbers_in_the_persons_own_rounding_are_right_or_near():
    """The unslipped hand calculation is not diagnosed as a slip: right, right given rounding, or no slip."""
    for steps in (1, 2):
        written = by_hand(steps, 4)["w1"]
        row = _row(f"w1@{steps} = {written}")
        assert "sequential" not in row.explanation and "left out" not in row.explanation, row


def test_an_unrelated_step_claim_does_not_change_a_verdict():
    """w5 after one step reads only the person's step-0 numbers: their E_total@1 or w1@1 cannot feed it.
    By hand: 0.4 − 0.5 × 0.082167041 = 0.3589164795, which 0.35891 truncates."""
    assert Decimal("0.4") - Decimal("0.5") * Decimal("0.082167041") == Decimal("0.3589164795")
    net = symgrad.load("mazur")
    (alone,) = symgrad.check_claims(net, "w5+ = 0.35891\n").rows
    assert alone.verdict == "right-truncated"
    for earlier in ("E_total@1 = 0.295", "w1@1 = 0.146", "w1@1 = 0.1461"):
        rows = symgrad.check_claims(net, f"{earlier}\nw5+ = 0.35891\n").rows
        assert (rows[1].verdict, rows[1].explanation) == (alone.verdict, alone.explanation), earlier
    (later,) = symgrad.check_claims(net, "E_total@8 = 0.1967\n").rows  # nor E_total@7 the loss after 8 steps
    assert later.verdict == "right-truncated"
    rows = symgrad.check_claims(net, "E_total@7 = 0.2043\nE_total@8 = 0.1967\n").rows
    assert (rows[1].verdict, rows[1].explanation) == (later.verdict, later.explanation)
