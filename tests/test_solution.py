"""The core every consumer reads: one accumulation routine, overrides, rounding, update rules, solve().

References are independent of symgrad: a hand-written Decimal or NumPy backprop of the 2-2-2
network, sympy.diff of the expanded expression, and exact rational arithmetic.
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Decimal, getcontext

import mpmath
import numpy as np
import pytest
import sympy

import symgrad
from symgrad import Overrides, Rounding, derive, evaluate_gradients, load, solve, step
from symgrad.chain import accumulate

from .helpers import close, mazur_by_hand, number, printed, sig

MAZUR = dict(i1=0.05, i2=0.10, t1=0.01, t2=0.99, w1=0.15, w2=0.20, w3=0.25, w4=0.30, w5=0.40, w6=0.45, w7=0.50,
             w8=0.55, b1=0.35, b2=0.60)


def _numpy_mazur(p, *, layerwise=False, eta=0.5):
    """A hand-written float64 backprop of the 2-2-2 network (the lecture's algorithm)."""
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    h1 = sig(p["w1"] * p["i1"] + p["w2"] * p["i2"] + p["b1"])
    h2 = sig(p["w3"] * p["i1"] + p["w4"] * p["i2"] + p["b1"])
    o1 = sig(p["w5"] * h1 + p["w6"] * h2 + p["b2"])
    o2 = sig(p["w7"] * h1 + p["w8"] * h2 + p["b2"])
    d_o1 = (o1 - p["t1"]) * o1 * (1 - o1)
    d_o2 = (o2 - p["t2"]) * o2 * (1 - o2)
    g = {"w5": d_o1 * h1, "w6": d_o1 * h2, "w7": d_o2 * h1, "w8": d_o2 * h2, "b2": d_o1 + d_o2}
    new = dict(p)
    if layerwise:  # output layer updated first; its new weights carry the hidden deltas
        for k in ("w5", "w6", "w7", "w8", "b2"):
            new[k] = p[k] - eta * g[k]
    w = new if layerwise else p
    d_h1 = (d_o1 * w["w5"] + d_o2 * w["w7"]) * h1 * (1 - h1)
    d_h2 = (d_o1 * w["w6"] + d_o2 * w["w8"]) * h2 * (1 - h2)
    g.update({"w1": d_h1 * p["i1"], "w2": d_h1 * p["i2"], "w3": d_h2 * p["i1"], "w4": d_h2 * p["i2"],
              "b1": d_h1 + d_h2})
    return g, {k: p[k] - eta * g[k] for k in g}


def test_accumulate_counts_paths_and_builds_the_derivative():
    """Counted by hand from the lecture's figure; the derivative against ``sympy.diff`` of the loss written out."""
    net = load("mazur")
    d = derive(net)
    counts = accumulate(d, 1, lambda count, t: count, lambda name, counts: sum(counts))
    # w5 → net_o1 → out_o1 → E_o1 → E_total; w1 reaches both outputs through out_h1; b1 feeds both hidden nets.
    assert (counts["w5"], counts["w1"], counts["out_h1"], counts["b1"], counts["b2"]) == (1, 2, 2, 4, 2)
    expr = accumulate(d, sympy.S.One, lambda delta, t: delta * t.factor.expr, lambda n, terms: sympy.Add(*terms))
    q, point = mazur_by_hand()  # every quantity typed in from the lecture, in the leaves
    nodes = {net.symbol(name): q[name] for name in net.nodes}
    nodes |= {net.symbol(name): sympy.Symbol(name) for name in net.leaves}  # the by-hand leaves carry no assumptions
    for param in ("w5", "w1", "b1"):
        written_out = expr[param].xreplace(nodes).xreplace(point)
        reference = sympy.diff(q["E_total"], sympy.Symbol(param)).xreplace(point)
        assert close(number(written_out), number(reference), 50), param


def test_layerwise_update_matches_a_hand_written_tutorial_backprop():
    d = derive(load("mazur"))
    s = step(d, digits=30, rule="layerwise")
    g, after = _numpy_mazur(MAZUR, layerwise=True)
    _, simultaneous = _numpy_mazur(MAZUR)
    for p in after:
        assert abs(float(s.after[p]) - after[p]) < 1e-15
        assert abs(float(s.gradients[p]) - g[p]) < 1e-15
    # the two rules differ in the hidden layer only
    assert abs(after["w1"] - simultaneous["w1"]) > 1e-6 and after["w5"] == simultaneous["w5"]
    assert symgrad.layers_from_output(d) == (("w5", "w6", "w7", "w8", "b2"), ("w1", "w2", "w3", "w4", "b1"))


def test_simultaneous_update_matches_hand_written_backprop():
    s = step(derive(load("mazur")), digits=30)
    _, after = _numpy_mazur(MAZUR)
    assert all(abs(float(s.after[p]) - after[p]) < 1e-15 for p in after)


def _decimal_sigmoid(z: Decimal) -> Decimal:
    with mpmath.workdps(60):
        return Decimal(mpmath.nstr(1 / (1 + mpmath.exp(-mpmath.mpf(str(z)))), 50))


def test_rounding_every_intermediate_matches_a_person_carrying_nine_digits():
    getcontext().prec = 60

    def r(x: Decimal) -> Decimal:  # 9 significant digits, half up, as a person rounds
        return x.quantize(Decimal(1).scaleb(x.adjusted() - 8), rounding=ROUND_HALF_UP) if x else x

    v = {k: Decimal(str(x)) for k, x in MAZUR.items()}
    h1 = r(_decimal_sigmoid(r(v["w1"] * v["i1"] + v["w2"] * v["i2"] + v["b1"])))
    h2 = r(_decimal_sigmoid(r(v["w3"] * v["i1"] + v["w4"] * v["i2"] + v["b1"])))
    o1 = r(_decimal_sigmoid(r(v["w5"] * h1 + v["w6"] * h2 + v["b2"])))
    o2 = r(_decimal_sigmoid(r(v["w7"] * h1 + v["w8"] * h2 + v["b2"])))
    d_out_o1 = r(o1 - v["t1"])
    d_net_o1 = r(d_out_o1 * r(o1 * (1 - o1)))
    d_out_o2 = r(o2 - v["t2"])
    d_net_o2 = r(d_out_o2 * r(o2 * (1 - o2)))
    d_out_h1 = r(r(d_net_o1 * v["w5"]) + r(d_net_o2 * v["w7"]))
    d_net_h1 = r(d_out_h1 * r(h1 * (1 - h1)))
    expected = {"w5": r(d_net_o1 * h1), "w1": r(d_net_h1 * v["i1"]), "out_h1": h1, "out_o1": o1}
    expected_w5_new = r(v["w5"] - r(Decimal("0.5") * expected["w5"]))

    s = solve(derive(load("mazur")), digits=9, rounding=Rounding.significant(9))
    got = {"w5": s.numbers.gradients["w5"], "w1": s.numbers.gradients["w1"], "out_h1": s.value("out_h1"),
           "out_o1": s.value("out_o1")}
    for k, want in expected.items():
        assert symgrad.to_decimal(got[k], 9) == symgrad.to_decimal(mpmath.mpf(str(want)), 9), k
    w5 = next(u for u in s.updates if u.param == "w5")
    assert symgrad.to_decimal(w5.after, 9) == symgrad.to_decimal(mpmath.mpf(str(expected_w5_new)), 9)
    # rounding changes some digit somewhere: exact and rounded gradients of w1 differ beyond the 9th digit
    exact = evaluate_gradients(derive(load("mazur")), digits=20).gradients["w1"]
    assert symgrad.to_decimal(exact, 12) != symgrad.to_decimal(got["w1"], 12)


def test_rounding_decimals_policy():
    assert float(Rounding.decimals(3)(mpmath.mpf("0.12351"))) == 0.124
    assert float(Rounding.decimals(3)(mpmath.mpf("-0.0005"))) == -0.001
    assert float(Rounding.significant(2)(mpmath.mpf("98765"))) == 99000
    with pytest.raises(symgrad.InvalidArgument, match="rounding mode"):
        Rounding("nearest", 3)


def test_override_a_node_value_recomputes_everything_downstream():
    net = symgrad.Network()
    net.input("x", 2)
    net.param("w", 3)
    net.node("h", "w*x")
    net.node("f", "h**2 + w")
    d = derive(net)
    g = evaluate_gradients(d, overrides=Overrides(values={"h": 5}), digits=20)
    # f = h² + w with h fixed at 5: f = 28, ∂f/∂w = 2h·x + 1 = 21 (h's value 5, not w·x = 6)
    assert g.values["f"] == 28 and g.gradients["w"] == 21


def test_override_a_factor_and_a_delta():
    d = derive(load("mazur"))
    base = evaluate_gradients(d, digits=25)
    fixed = evaluate_gradients(d, overrides=Overrides(factors={("out_o1", "net_o1"): "0.2"}), digits=25)
    with mpmath.workdps(40):
        expected = base.adjoints["out_o1"] * mpmath.mpf("0.2") * base.values["out_h1"]
    assert close(fixed.gradients["w5"], expected, 22)
    assert close(fixed.gradients["w7"], base.gradients["w7"], 22)  # another path, untouched
    fixed = evaluate_gradients(d, overrides=Overrides(deltas={"net_o1": 1}), digits=25)
    assert close(fixed.gradients["w5"], base.values["out_h1"], 22)
    with pytest.raises(symgrad.GraphError, match="no local partial"):
        evaluate_gradients(d, overrides=Overrides(factors={("w5", "out_o1"): 1}))


def test_report_evaluates_once(monkeypatch):
    import symgrad.evaluation as evaluation

    calls = []
    original = evaluation.Solver.backward

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(evaluation.Solver, "backward", counting)
    symgrad.report(load("mazur"), digits=9)
    assert len(calls) == 2  # one certified evaluation: the same pass at two working precisions


def test_exact_zero_is_zero_not_round_off():
    net = symgrad.Network()
    net.input("x", "0.7")
    net.param("w", 2)
    net.node("f", "w*(sigmoid(x) + sigmoid(-x) - 1)")
    g = evaluate_gradients(derive(net), digits=30)
    assert g.gradients["w"] == 0 and g.values["f"] == 0
    doc = json.loads(symgrad.report(net, format="json"))
    assert float(doc["gradients"]["w"]) == 0.0 and set(doc["gradients"]["w"]) <= set("0.")


def test_a_small_true_value_is_not_mistaken_for_zero():
    net = symgrad.Network()
    net.input("x", "1e-20")
    net.param("w", 1)
    net.node("f", "w*(sigmoid(x) - 1/2)")  # σ(x) − ½ ≈ x/4: 5e-21 of the terms, a value at any digits
    with mpmath.workdps(80):
        expected = 1 / (1 + mpmath.exp(-mpmath.mpf("1e-20"))) - mpmath.mpf(1) / 2
    for digits in (9, 30):  # relative: 2.5e-21 to 9 and to 30 significant digits
        got = evaluate_gradients(derive(net), digits=digits).gradients["w"]
        assert abs(got - expected) <= abs(expected) * mpmath.mpf(10) ** (1 - digits)


def test_long_products_derive_with_one_diff_per_argument(monkeypatch):
    import symgrad.chain as chain

    n = 300
    calls = []
    original = sympy.diff
    monkeypatch.setattr(chain.sympy, "diff", lambda *a, **k: calls.append(1) or original(*a, **k))
    net = symgrad.Network()
    for i in range(n):
        net.param(f"p{i}", sympy.Rational(i + 1, n))
    net.node("f", "*".join(f"p{i}" for i in range(n)))
    d = derive(net)
    assert len(calls) <= n
    monkeypatch.undo()
    g = evaluate_gradients(d, digits=20)
    values = [mpmath.mpf(i + 1) / n for i in range(n)]
    with mpmath.workdps(60):
        total = mpmath.fprod(values)
        for i in (0, 17, n - 1):
            assert close(g.gradients[f"p{i}"], total / values[i], 15)


def test_float64_and_exact_paths_agree_on_every_example():
    for example in symgrad.builtin_examples():
        net = load(example.name)
        if not net.nodes:
            continue
        try:
            d = derive(net)
        except symgrad.NotDifferentiable:
            continue
        exact = evaluate_gradients(d, digits=20)
        floats = evaluate_gradients(d, digits=None)
        for p, value in exact.gradients.items():
            assert abs(floats.gradients[p] - float(value)) <= 1e-12 * max(1.0, abs(float(value))), (example.name, p)


def test_solution_holds_every_number_once():
    s = solve(derive(load("mazur")), digits=9)
    w5 = next(g for g in s.gradients if g.param == "w5")
    assert [f.leibniz for f in w5.chain.factors] == ["dout_o1/dnet_o1", "dnet_o1/dw5"]
    assert symgrad.to_decimal(w5.chain.head_delta, 8) == "0.74136507"
    out_h1 = next(d for d in s.deltas if d.name == "out_h1")
    assert sorted(t.consumer for t in out_h1.terms) == ["net_o1", "net_o2"]
    # The lecture's split of dE/dout_h1: dE_o1/dout_h1 through net_o1, dE_o2/dout_h1 through net_o2, each
    # sympy.diff with out_h1 held free, written out by hand.
    q, point = mazur_by_hand()
    h1 = sympy.Symbol("h1")
    w = {name: sympy.Symbol(name) for name in ("w5", "w6", "w7", "w8", "b2", "t1", "t2")}
    e_o1 = (w["t1"] - sig(w["w5"] * h1 + w["w6"] * q["out_h2"] + w["b2"])) ** 2 / 2
    e_o2 = (w["t2"] - sig(w["w7"] * h1 + w["w8"] * q["out_h2"] + w["b2"])) ** 2 / 2
    at = {**point, h1: q["out_h1"].xreplace(point)}
    reference = {"net_o1": number(sympy.diff(e_o1, h1).xreplace(at)), "net_o2": number(sympy.diff(e_o2, h1).xreplace(at))}
    for term in out_h1.terms:
        assert close(term.value, reference[term.consumer], 9), term.consumer
    assert close(out_h1.value, reference["net_o1"] + reference["net_o2"], 9)
    assert printed(out_h1.value, "0.036350306") == "0.036350306"  # the lecture's dE_total/dout_h1
    assert s.learning_rate == mpmath.mpf("0.5") and s.update_rule == "simultaneous"
    np.testing.assert_allclose(float(s.loss), 0.298371109, atol=5e-10)


LECTURE_PRINTED = ["0.74136507", "0.186815602", "0.593269992", "0.082167041", "0.35891648"]  # the fourth lecture


@pytest.mark.parametrize("fmt", ["text", "latex", "markdown"])
def test_decimals_print_the_lecture_numbers_as_printed(fmt):
    out = symgrad.report(load("mazur"), decimals=9, format=fmt)
    for text in LECTURE_PRINTED:
        assert text in out, (fmt, text)


def test_format_decimals_rounds_half_even_and_drops_trailing_zeros():
    from symgrad.precision import format_decimals

    assert format_decimals(mpmath.mpf("0.1250"), 2) == "0.12"
    assert format_decimals(mpmath.mpf("-2.5000"), 0) == "-2"
    assert format_decimals(mpmath.mpf("1e-12"), 9) == "1e-12"  # never a silent 0
    assert format_decimals(mpmath.mpf(0), 9) == "0"
