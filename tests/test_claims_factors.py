"""Each number substituted into a chain is judged as the quantity it stands for (issue 18).

The references are the 2-2-2 example worked by hand in mpmath, independently of symgrad.
"""

import mpmath
import pytest

import symgrad
from symgrad.claim_factors import MAX_ORDERED_FACTORS, chain_factors


def _hand():
    """The 2-2-2 forward pass and the chain-rule factors, by hand at 40 digits."""
    with mpmath.workdps(40):
        m = mpmath.mpf
        s = lambda x: 1 / (1 + mpmath.exp(-x))  # noqa: E731
        i1, i2, w1, w2, w3, w4, b1 = m("0.05"), m("0.10"), m("0.15"), m("0.20"), m("0.25"), m("0.30"), m("0.35")
        w5, w6, w7, w8, b2, t1, t2 = m("0.40"), m("0.45"), m("0.50"), m("0.55"), m("0.60"), m("0.01"), m("0.99")
        h1, h2 = s(w1 * i1 + w2 * i2 + b1), s(w3 * i1 + w4 * i2 + b1)
        o1, o2 = s(w5 * h1 + w6 * h2 + b2), s(w7 * h1 + w8 * h2 + b2)
        d_o1, d_o2 = (o1 - t1) * o1 * (1 - o1), (o2 - t2) * o2 * (1 - o2)
        return {"out_h1": h1, "out_h2": h2, "dE/dout_o1": o1 - t1, "dout_o1/dnet_o1": o1 * (1 - o1),
                "delta_o1": d_o1, "dE/dout_h1": d_o1 * w5 + d_o2 * w7, "dout_h1/dnet_h1": h1 * (1 - h1)}


def _fmt(x, places):
    return mpmath.nstr(x, places, strip_zeros=False)


def test_the_chain_of_w5_is_the_lectures_three_factors():
    hand = _hand()
    ordered, _ = chain_factors(symgrad.derive(symgrad.load("mazur")), "w5", digits=30)
    assert [f.label.split(" ")[0] for f in ordered] == ["∂E_total/∂E_o1", "∂E_o1/∂out_o1", "∂out_o1/∂net_o1",
                                                        "∂net_o1/∂w5"]
    assert ordered[0].value == 1
    for f, key in zip(ordered[1:], ["dE/dout_o1", "dout_o1/dnet_o1", "out_h1"]):
        assert abs(f.value - hand[key]) < mpmath.mpf(10) ** -25


def test_every_substituted_number_is_judged_as_its_quantity():
    hand = _hand()
    a, b, c = _fmt(hand["dE/dout_o1"], 8), _fmt(hand["dout_o1/dnet_o1"], 9), _fmt(hand["out_h1"], 9)
    h2 = _fmt(hand["out_h2"], 9)  # out_h2 written where out_h1 belongs
    wrong_b = _fmt(hand["dout_o1/dnet_o1"] * 2, 9)
    text = "\n".join([f"dE_total/dw5 = {a}*{b}*{c}",              # the lecture's line: right
                      f"dE_total/dw5 = {c}*{a}*{b}",              # any order of the same factors: right
                      f"dE_total/dw5 = {a}*{b}*{h2} = 0.0822",     # a chain: the product wrong, its value right
                      f"dE_total/dw5 = {a}*{wrong_b}*{c}",         # two factors, one wrong
                      f"dE/dw5 = {_fmt(hand['delta_o1'], 9)}*{c}",  # δ_o1 · out_h1: fewer numbers, nearest value
                      f"dE/dw5 = {_fmt(hand['delta_o1'], 4)}*{_fmt(hand['out_h2'], 4)}"])
    rows = symgrad.check_claims(symgrad.load("mazur"), text).rows
    assert [r.verdict for r in rows] == ["right", "right", "wrong", "right", "wrong", "right", "wrong"]
    assert rows[2].explanation == (f"a wrong number substituted: {h2} is not ∂net_o1/∂w5 (= out_h1), "
                                   f"which is {c}")
    assert f"{wrong_b} is not ∂out_o1/∂net_o1 (= out_o1*(1 - out_o1)), which is {b}" in rows[4].explanation
    assert rows[4].explanation.count(" is not ") == 1  # only the wrong factor is named
    assert f"is not ∂net_o1/∂w5 (= out_h1), which is {_fmt(hand['out_h1'], 4)}" in rows[6].explanation


def test_a_hidden_weight_chain_starts_at_the_shared_delta():
    hand = _hand()
    d = _fmt(hand["dE/dout_h1"], 8)
    s = _fmt(hand["dout_h1/dnet_h1"], 9)
    rows = symgrad.check_claims(symgrad.load("mazur"), f"dE/dw1 = {d}*{s}*0.05\ndE/dw1 = {d}*{s}*0.10\n"
                                                       f"dE/dw1 = {_fmt(-hand['dE/dout_h1'], 8)}*{s}*0.05").rows
    assert [r.verdict for r in rows] == ["right", "wrong", "wrong"]
    assert "0.10 is not ∂net_h1/∂w1 (= i1), which is 0.05" in rows[1].explanation
    assert f"is not dE_total/dout_h1, which is {d}" in rows[2].explanation


def test_a_factor_may_be_the_persons_own_earlier_number():
    # σ′ written wrong (0.1896 for 0.18682) and then used as written: the factor is theirs, so the
    # product is error carried forward, not a new wrong factor
    hand = _hand()
    a, c = _fmt(hand["dE/dout_o1"], 8), _fmt(hand["out_h1"], 9)
    rows = symgrad.check_claims(symgrad.load("mazur"), f"dout_o1/dnet_o1 = 0.1896\ndE_total/dw5 = {a}*0.1896*{c}\n"
                                f"dE_total/dw5 = {a}*0.1986*{c}\n").rows
    assert [r.verdict for r in rows] == ["wrong", "consistent-with-earlier", "wrong"]
    assert rows[2].explanation.startswith("a wrong number substituted: 0.1986 is not ∂out_o1/∂net_o1")


def test_the_ordering_bound_is_small():
    assert MAX_ORDERED_FACTORS <= 6


def test_a_factor_of_one_multiplies_nothing_and_a_zero_is_named_with_digits():
    hand = _hand()
    d, s = _fmt(hand["dE/dout_h1"], 8), _fmt(hand["dout_h1/dnet_h1"], 9)
    rows = symgrad.check_claims(symgrad.load("mazur"), f"dE/dw1 = {d}*{s}*0.05*1*1.0\ndE/dw5 = 0*0*0\n").rows
    assert [r.verdict for r in rows] == ["right", "wrong"]
    assert f"which is {mpmath.nstr(hand['out_h1'], 6)}" in rows[1].explanation
