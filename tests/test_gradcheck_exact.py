"""Gradcheck's exact side as generated gmpy2 code (symgrad/gradcheck_exact.py), against independent references.

References: ``sympy.diff`` of the expanded loss, evaluated by SymPy at 60 digits; the
tree walk (``evaluate_gradients``, the slow path that existed before and still decides every
case the generated code hands back); hand-computed kink arguments.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy

import symgrad
from symgrad import gradcheck_exact, gradcheck_problems
from symgrad.gradcheck_problems import scalar_problem

pytest.importorskip("gmpy2")

EXAMPLES = [e.name for e in symgrad.builtin_examples()]


def _sympy_reference(network, point: dict[str, float], names) -> tuple[sympy.Float, list[sympy.Float]]:
    """Loss and ∂loss/∂name from the expanded expression, by sympy.diff, at 60 digits."""
    loss = network.expanded(network.output)
    at = {network.symbol(n): sympy.Rational(v) for n, v in point.items()}
    return (sympy.N(loss.xreplace(at), 60),
            [sympy.N(sympy.diff(loss, network.symbol(n)).xreplace(at), 60) for n in names])


def _agree(value, reference, digits: int = 30) -> bool:
    reference = mpmath.mpf(str(reference))
    return abs(value - reference) <= mpmath.mpf(10) ** -digits * max(abs(reference), mpmath.mpf(10) ** -40)


@pytest.mark.parametrize("example", EXAMPLES)
def test_generated_exact_side_matches_sympy_diff_on_every_example(example):
    network = symgrad.load(example)
    problem = scalar_problem(network, None)
    assert problem.program is not None, f"{example}: every built-in example is carried by the generated code"
    rng = np.random.default_rng(0)
    x = np.array([problem.point[n] for n in problem.names])
    for moved in (x, x + 1e-3 * rng.standard_normal(len(x))):
        leaves = problem.point | dict(zip(problem.names, moved.tolist()))
        loss, gradient, _ = problem.program.at(leaves)
        ref_loss, ref_gradient = _sympy_reference(network, leaves, problem.names)
        with mpmath.workdps(60):
            assert _agree(loss, ref_loss), (example, loss, ref_loss)
            for name, g, ref in zip(problem.names, gradient, ref_gradient):
                assert _agree(g, ref), (example, name, g, ref)


def _walked(network, **options) -> symgrad.GradcheckReport:
    """The report with the exact side walked (the generated code disabled)."""
    saved = gradcheck_problems._PREPARED.copy()
    gradcheck_problems._PREPARED.clear()
    real = gradcheck_exact.gmpy2
    try:
        gradcheck_exact.gmpy2 = None  # as without the fast extra: exact_program gives None
        return symgrad.gradcheck(network, **options)
    finally:
        gradcheck_exact.gmpy2 = real
        gradcheck_problems._PREPARED.clear()
        gradcheck_problems._PREPARED.update(saved)


@pytest.mark.parametrize("example, scheme", [(e, "central") for e in EXAMPLES]
                         + [("mazur", s) for s in ("forward", "backward", "richardson", "complex")]
                         + [("mlp_3_4_2", "richardson")])
def test_reports_are_the_walks_to_the_bit(example, scheme):
    fast = symgrad.gradcheck(symgrad.load(example), scheme=scheme)
    walked = _walked(symgrad.load(example), scheme=scheme)
    assert fast.to_json() == walked.to_json()
    assert str(fast) == str(walked)


def test_the_exact_side_is_never_walked_on_the_built_in_examples(monkeypatch):
    walks = []
    real = gradcheck_problems.evaluate_gradients
    monkeypatch.setattr(gradcheck_problems, "evaluate_gradients", lambda *a, **k: walks.append(1) or real(*a, **k))
    for example in EXAMPLES:
        symgrad.gradcheck(symgrad.load(example))
    assert walks == []


def _relu_at_kink():
    net = symgrad.mlp([2, 3, 1], activation="relu")
    v = net.point()
    return net, {"b_h1": -(v["i1"] * v["w1"] + v["i2"] * v["w2"])}


def test_kink_arguments_come_from_the_generated_code_and_the_verdict_is_the_walks():
    net, at = _relu_at_kink()
    problem = scalar_problem(net, at)
    leaves = problem.point
    _, _, values = problem.program.at(leaves)
    arguments = [arg for *_, arg in problem.kinks]
    assert arguments and all(arg in values for arg in arguments)
    with mpmath.workdps(100):  # net_h1 exactly: products of two doubles, and their sum, fit in 332 bits
        by_hand = (mpmath.mpf(leaves["i1"]) * leaves["w1"] + mpmath.mpf(leaves["i2"]) * leaves["w2"]) + leaves["b_h1"]
    assert values[net.symbol("net_h1")] == by_hand
    fast = symgrad.gradcheck(net, at=at)
    assert any(r.verdict == "kink" for r in fast.rows)
    assert fast.to_json() == _walked(net, at=at).to_json()


def test_values_outside_the_domain_hand_back_to_the_walk():
    net = symgrad.Network(description="log near 0")
    net.input("x", 1)
    net.param("w", sympy.Rational(1, 10**9))
    net.node("f", "log(w) * x")
    problem = scalar_problem(net, None)
    assert problem.program.at({"x": 1.0, "w": -1e-9}) is None  # log of a negative: MPFR's invalid trap
    assert problem.program.at({"x": 1.0, "w": 0.0}) is None  # log(0) = −∞: the division-by-zero trap
    report = symgrad.gradcheck(net)
    assert report.ok and report.to_json() == _walked(net).to_json()  # the step is halved as the walk decides


def test_a_sum_that_cancels_hands_back_to_the_walk():
    net = symgrad.Network(description="sigmoid(w) + sigmoid(-w) - 1 cancels")
    net.param("w", 2)
    net.node("z", "sigmoid(w) + sigmoid(-w) - 1")
    net.node("f", "z * w")
    problem = scalar_problem(net, None)
    assert problem.program.at(problem.point) is None  # the two precisions leave different residues
    assert symgrad.gradcheck(net).to_json() == _walked(net).to_json()


def test_a_changed_network_is_prepared_again():
    net = symgrad.load("mazur")
    before = {r.param: r.exact for r in symgrad.gradcheck(net).rows}
    net.param("w_extra", 3)
    net.node("E_more", f"{net.output} + w_extra**2")
    net.output = "E_more"
    after = symgrad.gradcheck(net)
    row = next(r for r in after.rows if r.param == "w_extra")
    assert row.exact == 6.0 and row.verdict == "ok"  # d(w²)/dw at 3, by hand
    assert {r.param: r.exact for r in after.rows if r.param != "w_extra"} == before  # w_extra² adds to nothing else


@pytest.mark.parametrize("at", [{"w1": 1e6}, {"w1": -800.0, "i1": 3.0}, {"w1": 1e-300}, {"w5": 5e3, "w6": 5e3},
                                {"i1": 1e150, "w1": 1e150}])
def test_extreme_points_give_the_walks_report(at):
    """Saturated sigmoids, tiny and huge values: the generated side or its fallback, never a different report."""
    assert symgrad.gradcheck(symgrad.load("mazur"), at=at).to_json() == _walked(symgrad.load("mazur"), at=at).to_json()


def test_a_loss_undefined_at_the_point_raises_the_walks_error():
    def net():
        n = symgrad.Network(description="log of a negative")
        n.param("w", -1)
        n.node("f", "log(w)")
        return n
    with pytest.raises(symgrad.SymgradError) as fast:
        symgrad.gradcheck(net())
    with pytest.raises(symgrad.SymgradError) as walked:
        _walked(net())
    assert str(fast.value) == str(walked.value) and "log" in str(fast.value)


def test_at_most_the_limits_number_of_networks_is_kept():
    from symgrad.limits import GRADCHECK_NETWORKS_KEPT

    networks = [symgrad.mlp([2, k, 1]) for k in range(1, GRADCHECK_NETWORKS_KEPT + 4)]  # all different shapes
    for net in networks:
        symgrad.gradcheck(net)
    kept = [entry[0].network for entry in gradcheck_problems._PREPARED.values()]
    assert len(kept) == GRADCHECK_NETWORKS_KEPT and kept == networks[-GRADCHECK_NETWORKS_KEPT:]  # the latest ones


def _derives(monkeypatch) -> list:
    calls = []
    real = gradcheck_problems.derive
    monkeypatch.setattr(gradcheck_problems, "derive", lambda net: calls.append(net) or real(net))
    return calls


def test_a_new_network_of_the_same_shape_is_not_derived_again(monkeypatch):
    """Same leaves, nodes and constants, other weights: the kept derivation, checked at the new weights."""
    import copy

    gradcheck_problems._PREPARED.clear()
    calls = _derives(monkeypatch)
    first = symgrad.mlp([3, 4, 2], seed=1)
    second = symgrad.mlp([3, 4, 2], seed=2)  # the same shape, other weights
    symgrad.gradcheck(first)
    report = symgrad.gradcheck(second)
    symgrad.gradcheck(copy.deepcopy(first))
    symgrad.gradcheck(symgrad.load("mazur"))
    symgrad.gradcheck(symgrad.load("mazur"))
    assert calls == [first, calls[1]] and calls[1].description == symgrad.load("mazur").description
    # the rows are second's: its exact gradient, from sympy.diff of the expanded loss at its own point
    names = [row.param for row in report.rows]
    _, reference = _sympy_reference(second, {k: float(v) for k, v in second.point().items()}, names)
    for row, ref in zip(report.rows, reference):
        assert math.isclose(row.exact, float(ref), rel_tol=1e-12), (row.param, row.exact, ref)


def test_a_changed_shape_or_constant_is_prepared_again(monkeypatch):
    gradcheck_problems._PREPARED.clear()
    calls = _derives(monkeypatch)

    def net(scale):
        n = symgrad.Network(description="scaled square")
        n.param("w", 0.5)
        n.constant("c", scale)
        n.node("f", "c*w*w")
        return n

    a = net(3)
    symgrad.gradcheck(a)
    b = net(5)  # another constant: compiled in as a literal, so prepared again
    report = symgrad.gradcheck(b)
    assert len(calls) == 2 and math.isclose(report.rows[0].exact, 2 * 5 * 0.5)
    a.node("g", "f + w")  # changed in place: a new shape
    report = symgrad.gradcheck(a)
    assert len(calls) == 3 and math.isclose(report.rows[0].exact, 2 * 3 * 0.5 + 1)
    c = net(3)  # the shape a had before its change: that entry's network has changed since, so prepared again
    report = symgrad.gradcheck(c)
    assert len(calls) == 4 and math.isclose(report.rows[0].exact, 2 * 3 * 0.5)
