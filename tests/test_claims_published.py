"""Published worked examples other than the 2-2-2, transcribed as their authors printed them (issue 18).

Each printed number is first checked against an independent hand calculation (Fraction and
mpmath, written out here), so the test knows which numbers are the author's mistakes; then
the checker's verdicts must agree and name them.
"""

from fractions import Fraction
from pathlib import Path

import mpmath

import symgrad

EXAMPLES = Path(__file__).resolve().parents[1] / "worked_examples" / "claims"


def _check(name: str):
    net = symgrad.load(EXAMPLES / f"{name}.toml")
    return symgrad.check_claims(net, (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8")).rows


def _round(x, places: int) -> str:
    return mpmath.nstr(mpmath.mpf(x), places + 1, strip_zeros=False) if abs(x) >= 1 else \
        format(float(mpmath.nint(mpmath.mpf(x) * 10 ** places)) / 10 ** places, f".{places}f")


def test_cs231n_circuit_every_printed_number_holds():
    # f(x, y, z) = (x + y) z at x = -2, y = 5, z = -4, by hand in fractions
    x, y, z = Fraction(-2), Fraction(5), Fraction(-4)
    q = x + y
    hand = {"q": q, "f": q * z, "df/dz": q, "df/dq": z, "df/dx": z, "df/dy": z}
    assert hand == {"q": 3, "f": -12, "df/dz": 3, "df/dq": -4, "df/dx": -4, "df/dy": -4}  # the printed values
    rows = _check("cs231n_circuit")
    assert len(rows) == 8 and all(r.verdict == "right" for r in rows)
    # "dfdx = 1.0 * dfdq": each substituted number is the quantity it stands for (∂q/∂x = 1, ∂f/∂q = z)
    assert [r.claimed for r in rows if r.claim == "df/dx"][0] == "1.0 * -4"


def test_cs231n_sigmoid_neuron_figure_every_printed_number_holds():
    with mpmath.workdps(30):
        w0, w1, w2, x0, x1 = 2, -3, -3, -1, -2
        dot = mpmath.mpf(w0 * x0 + w1 * x1 + w2)
        e = mpmath.exp(-dot)
        f = 1 / (1 + e)
        ddot = f * (1 - f)  # the notes' (1 - f) * f
        printed = {"df/dw0": (x0 * ddot, "-0.20"), "df/dx0": (w0 * ddot, "0.39"), "df/dw1": (x1 * ddot, "-0.39"),
                   "df/dx1": (w1 * ddot, "-0.59"), "df/dw2": (ddot, "0.20"), "e": (e, "0.37"),
                   "df/de": (-1 / (1 + e) ** 2, "-0.53"), "den": (1 + e, "1.37"), "f": (f, "0.73"),
                   "df/dneg": (-ddot, "-0.20")}
        for value, text in printed.values():
            assert abs(value - mpmath.mpf(text)) <= mpmath.mpf("0.005")  # the figure's two decimals hold
    rows = _check("cs231n_sigmoid")
    assert {r.claim: r.claimed for r in rows if r.claim in printed and r.claim != "df/ddot"} == \
        {k: v[1] for k, v in printed.items()}
    assert all(r.verdict == "right" for r in rows), [r for r in rows if r.verdict != "right"]


def _postnetwork_by_hand():
    """The PostNetwork 3-2-2 softmax example: the exact values, and the ones its printed z4 = 0.185 gives."""
    with mpmath.workdps(30):
        s = lambda t: 1 / (1 + mpmath.exp(-t))  # noqa: E731
        m = mpmath.mpf
        a1, a2 = s(m("0.2") - m("0.6") - m("0.4") + m("0.5")), s(m(0))
        z3 = m("0.3") * a1 + m("0.4") * a2 + m("0.1")
        z4 = m("-0.1") * a1 + m("0.2") * a2 + m("0.1")
        yhat1 = mpmath.exp(z3) / (mpmath.exp(z3) + mpmath.exp(z4))
        carried = 1 / (1 + mpmath.exp(m("0.185") - m("0.428")))  # ŷ1 from the printed z3 and z4
        return {"a1": a1, "z3": z3, "z4": z4, "yhat1": yhat1, "carried_yhat1": carried,
                "carried_L": -mpmath.log(carried)}


def test_postnetwork_softmax_the_authors_mistakes_are_named():
    hand = _postnetwork_by_hand()
    assert mpmath.nstr(hand["z4"], 3) == "0.157"  # the page prints z4 ≈ 0.185: the author's mistake
    assert mpmath.nstr(hand["yhat1"], 3) == "0.567"  # it prints ŷ1 ≈ 0.561, computed from its z4
    assert mpmath.nstr(hand["carried_L"], 3) == "0.579"  # L ≈ 0.579 follows from its own z3 and z4
    rows = _check("postnetwork_softmax")
    by = {}
    for r in rows:
        by.setdefault((r.claim, r.claimed), r)
    z4 = by["z4", "0.185"]
    assert z4.verdict == "wrong" and z4.explanation.startswith("no common slip explains this value")
    for claimed in ("0.561", "0.579"):
        row = next(r for r in rows if r.claimed == claimed)
        assert row.verdict == "consistent-with-earlier" and "line 20 (z4)" in row.explanation, row
    # ŷ2 ≈ 0.439 is one unit from what its own numbers give (1 − 0.56045): no chance story about a dropped digit
    own = mpmath.nstr(1 - hand["carried_yhat1"], 5)
    assert next(r for r in rows if r.claimed == "0.439").explanation.startswith(
        f"within one unit of the last digit of what your earlier numbers give ({own})")
    # Step 6-13: ∂L/∂w8 and ∂L/∂w9 are each other's formulas (z3 = w7·a1 + w9·a2 + b2 in its Step 3);
    # sympy.diff of the page's own loss gives ∂L/∂w8 = (ŷ2 − y2)·a1 and ∂L/∂w9 = (ŷ1 − y1)·a2
    w8, w9 = by["∂L/∂w8", "(ŷ1 - y1)a2"], by["∂L/∂w9", "(ŷ2 - y2)a1"]
    assert w8.verdict == w9.verdict == "wrong"
    assert w8.explanation.startswith("swapped with line 29: the expression of dL/dw9")
    assert w9.explanation.startswith("swapped with line 28: the expression of dL/dw8")
    for claim in ("∂L/∂w7", "∂L/∂w10"):  # true for one-hot targets
        row = next(r for r in rows if r.claim == claim)
        assert row.verdict == "right-at-these-values" and "y1 + y2 = 1" in row.explanation
