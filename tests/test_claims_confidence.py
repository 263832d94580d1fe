"""The likeliest explanation first, with a stated confidence (issue 18).

References: the 2-2-2 example worked by hand in Decimal (every intermediate rounded to the
digits the person wrote) and mpmath, independently of symgrad.
"""

from decimal import ROUND_HALF_UP, Context, Decimal

import mpmath

import symgrad
from symgrad.precision import SLIP_CONFIDENCE

W = {"i1": "0.05", "i2": "0.10", "w1": "0.15", "w2": "0.20", "w3": "0.25", "w4": "0.30", "b1": "0.35",
     "w5": "0.40", "w6": "0.45", "w7": "0.50", "w8": "0.55", "b2": "0.60", "t1": "0.01", "t2": "0.99"}


def _sig(x):
    with mpmath.workdps(40):
        return 1 / (1 + mpmath.exp(-mpmath.mpf(str(x))))


def _forward(w):
    """out_h1, out_h2, out_o1 of the 2-2-2 at the weights ``w`` (mpmath, 40 digits)."""
    with mpmath.workdps(40):
        m = {k: mpmath.mpf(v) for k, v in w.items()}
        h1 = _sig(m["w1"] * m["i1"] + m["w2"] * m["i2"] + m["b1"])
        h2 = _sig(m["w3"] * m["i1"] + m["w4"] * m["i2"] + m["b1"])
        return h1, h2, _sig(m["w5"] * h1 + m["w6"] * h2 + m["b2"])


def _by_hand_rounded(digits):
    """dE_total/dw5 with every intermediate rounded to ``digits`` significant digits, half up."""
    c = Context(prec=digits, rounding=ROUND_HALF_UP)
    r = lambda x: c.plus(Decimal(x))  # noqa: E731
    s = lambda x: r(mpmath.nstr(_sig(x), 30))  # noqa: E731
    h1 = s(r(Decimal("0.15") * Decimal("0.05") + Decimal("0.20") * Decimal("0.10") + Decimal("0.35")))
    h2 = s(r(Decimal("0.25") * Decimal("0.05") + Decimal("0.30") * Decimal("0.10") + Decimal("0.35")))
    o1 = s(r(Decimal("0.40") * h1 + Decimal("0.45") * h2 + Decimal("0.60")))
    return o1, r(r(r(o1 - Decimal("0.01")) * r(o1 * (1 - o1))) * h1)


def test_a_sign_slip_in_the_persons_own_rounding_is_named():
    o1, dw5 = _by_hand_rounded(3)
    _, _, o1_exact = _forward(W)
    assert o1 != Decimal(mpmath.nstr(o1_exact, 3))  # the person's rounding changes the last digit
    rows = symgrad.check_claims(symgrad.load("mazur"), f"dE/dw5 = {-dw5}\nout_o1 = {-o1}\n").rows
    for row, value in zip(rows, (dw5, o1)):
        assert row.verdict == "wrong"
        assert row.explanation == (f"a sign error: the value is {value}, the opposite sign, with every "
                                   "intermediate rounded to 3 significant digits")
        assert row.confidence >= SLIP_CONFIDENCE


def test_a_match_that_could_be_chance_is_not_a_diagnosis():
    # 0.1896 for ∂out_o1/∂net_o1 is what w5 in place of w6 gives, to 4 digits; but a number 28 units
    # off lands within one unit of one recomputation 1 time in 28 at best: not a diagnosis
    w = dict(W, w6=W["w5"])
    _, _, o1 = _forward(w)
    assert mpmath.nstr(o1 * (1 - o1), 4) == "0.1896"
    _, _, exact_o1 = _forward(W)
    bound = 1 - 0.0001 / abs(0.1896 - float(exact_o1 * (1 - exact_o1)))  # with a single recomputation tried
    (row,) = symgrad.check_claims(symgrad.load("mazur"), "dout_o1/dnet_o1 = 0.1896").rows
    assert row.verdict == "wrong" and row.confidence is None
    assert row.explanation.startswith("no common slip explains this value")
    assert "nearest: the wrong weight: w5 used where w6 belongs matches, but a match this close could be chance" \
        in row.explanation
    stated = float(row.explanation.split("(confidence ")[1].split(",")[0])
    assert stated < SLIP_CONFIDENCE and stated <= bound


def test_no_common_slip_names_the_nearest_candidates_and_how_near():
    w = dict(W, b2=W["b1"])  # b1 where b2 belongs
    _, _, o1 = _forward(w)
    near = Decimal(mpmath.nstr(o1, 4))
    (row,) = symgrad.check_claims(symgrad.load("mazur"), "out_o1 = 0.7000").rows
    units = abs(near - Decimal("0.7000")) / Decimal("0.0001")
    assert f"nearest: the wrong weight: b1 used where b2 belongs gives {near} ({units:.0f} units of the last " \
           "digit away)" in row.explanation


def test_two_lines_swapped():
    h1, h2, _ = _forward(W)
    a, b = mpmath.nstr(h1, 9), mpmath.nstr(h2, 9)
    rows = symgrad.check_claims(symgrad.load("mazur"), f"out_h1 = {b}\nout_h2 = {a}\nout_o1 = 0.7000\n").rows
    assert [r.verdict for r in rows] == ["wrong", "wrong", "wrong"]
    assert rows[0].explanation == "two lines swapped: this is the value of out_h2, and line 2 has this one's"
    assert rows[1].explanation == "two lines swapped: this is the value of out_h1, and line 1 has this one's"
    assert rows[0].confidence >= SLIP_CONFIDENCE
    assert "swapped" not in rows[2].explanation  # one number alone is not a swap


def test_the_threshold_is_a_named_constant():
    assert 0.5 < SLIP_CONFIDENCE < 1
