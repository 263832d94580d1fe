"""The chain rule against independent references: sympy.diff of the expanded output,
central finite differences in high precision, and a hand-written NumPy backprop."""

from __future__ import annotations

from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy

import symgrad
from symgrad import PathLimitError, derive, evaluate, evaluate_gradients, load, mlp

from .helpers import (close, expanded, expanded_nodes, leaf_point, mazur_by_hand, number, reference_gradients, sig,
                      written_out)


@pytest.mark.parametrize("example", ["mazur", "chain_4layer", "circuit_multipath", "perceptron_two", "chain_sin",
                                     "sigmoid_circuit"])
def test_closed_form_equals_sympy_diff_of_expanded_output(example):
    net = load(example)
    d = derive(net)
    reference = reference_gradients(net)  # sympy.diff of the output substituted node by node
    point = leaf_point(net)
    for name in net.leaves:
        if name not in d.adjoints:
            assert reference[name] == 0, name
            continue
        assert close(number(written_out(d.closed_form(name)).xreplace(point)), reference[name], 50), name


def _by_hand_outputs() -> dict[str, sympy.Expr]:
    """Each example's output typed in from its description (the lecture's formula), in plain symbols."""
    x, y, w1, b1, w2, w3, w4, x3, x4, x5 = sympy.symbols("x y w1 b1 w2 w3 w4 x3 x4 x5")
    q, _ = mazur_by_hand()
    return {"mazur": q["E_total"],
            "chain_4layer": (y - sig(w3 * sig(w2 * sig(w1 * x + b1)))) ** 2 / 2,  # y = f3(w3 f2(w2 f1(w1 x + b1)))
            "circuit_multipath": (x3 + x5) - sig(w3 * x3 + w4 * x4)}


def test_net_expanded_is_the_lectures_formula():
    for example, formula in _by_hand_outputs().items():
        net = load(example)
        plain = {net.symbol(name): sympy.Symbol(name) for name in net.leaves}  # no assumptions, as typed in
        ours = written_out(net.expanded(net.output)).xreplace(plain)
        rng = np.random.default_rng(0)
        for _ in range(3):  # at three random rational points
            point = {sympy.Symbol(n): sympy.Rational(int(rng.integers(-90, 90)), 37) for n in net.leaves}
            assert close(number(ours.xreplace(point)), number(formula.xreplace(point)), 50), example


def test_closed_form_is_symbolically_equal_on_a_small_chain():
    net = load("chain_4layer")
    d = derive(net)
    full = expanded(net)
    for p in ("w3", "w2"):
        assert sympy.simplify(written_out(d.closed_form(p)) - sympy.diff(full, net.symbol(p))) == 0


def _central_difference(net, name, h=mpmath.mpf(10) ** -25):
    base = net.point()
    with mpmath.workdps(80):
        x = mpmath.mpf(base[name].p) / base[name].q if hasattr(base[name], "p") else mpmath.mpf(base[name])
        plus = evaluate(net, at={name: sympy.Rational(str(x + h))}, digits=60).values[net.output]
        minus = evaluate(net, at={name: sympy.Rational(str(x - h))}, digits=60).values[net.output]
        width = sympy.Rational(str(x + h)) - sympy.Rational(str(x - h))
        return (plus - minus) / (mpmath.mpf(width.p) / width.q)


@pytest.mark.parametrize(
    "options",
    [
        dict(activation="sigmoid", loss="half_sse"),
        dict(activation="tanh", loss="sse"),
        dict(activation="relu", loss="l1", output_activation="identity"),
        dict(activation="leaky_relu", loss="hinge", output_activation="identity"),
        dict(activation="maxout", loss="half_sse"),
        dict(activation="sigmoid", loss="softmax_cross_entropy"),
        dict(activation="tanh", loss="half_sse", bias="layer", l2="0.01"),
    ],
    ids=lambda o: "-".join(str(v) for v in o.values()),
)
def test_gradients_match_finite_differences(options):
    net = mlp([2, 3, 2], seed=3, **options)
    g = evaluate_gradients(derive(net), digits=30)
    for p in net.params:
        assert close(g.gradients[p], _central_difference(net, p), 20), p


def _numpy_backprop(W1, b1, W2, b2, x, t):
    """Textbook backprop for a 1-hidden-layer sigmoid MLP with E = ½Σ(t − o)²."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h = sig(W1 @ x + b1)
    o = sig(W2 @ h + b2)
    delta_o = (o - t) * o * (1 - o)
    delta_h = (W2.T @ delta_o) * h * (1 - h)
    return np.outer(delta_h, x), delta_h, np.outer(delta_o, h), delta_o


@pytest.mark.parametrize("widths", [[2, 2, 2], [3, 4, 2], [4, 5, 3]])
def test_gradients_match_hand_written_numpy_backprop(widths):
    n_in, n_hid, n_out = widths
    net = mlp(widths, seed=7)
    v = {k: float(val) for k, val in net.point().items()}
    W1 = np.array([[v[f"w{j * n_in + i + 1}"] for i in range(n_in)] for j in range(n_hid)])
    off = n_in * n_hid
    W2 = np.array([[v[f"w{off + k * n_hid + j + 1}"] for j in range(n_hid)] for k in range(n_out)])
    b1 = np.array([v[f"b_h{j + 1}"] for j in range(n_hid)])
    b2 = np.array([v[f"b_o{k + 1}"] for k in range(n_out)])
    x = np.array([v[f"i{i + 1}"] for i in range(n_in)])
    t = np.array([v[f"t{k + 1}"] for k in range(n_out)])
    gW1, gb1, gW2, gb2 = _numpy_backprop(W1, b1, W2, b2, x, t)
    for digits in (20, None):  # exact and float64 evaluation
        g = evaluate_gradients(derive(net), digits=digits)
        ours_W1 = np.array([[float(g.gradients[f"w{j * n_in + i + 1}"]) for i in range(n_in)] for j in range(n_hid)])
        ours_W2 = np.array([[float(g.gradients[f"w{off + k * n_hid + j + 1}"]) for j in range(n_hid)] for k in range(n_out)])
        np.testing.assert_allclose(ours_W1, gW1, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ours_W2, gW2, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose([float(g.gradients[f"b_h{j + 1}"]) for j in range(n_hid)], gb1, rtol=1e-12)
        np.testing.assert_allclose([float(g.gradients[f"b_o{k + 1}"]) for k in range(n_out)], gb2, rtol=1e-12)


def test_total_derivatives():
    net = load("mazur")
    out_h1, out_o2, t2, w7 = (net.symbol(n) for n in ("out_h1", "out_o2", "t2", "w7"))
    assert symgrad.total_derivative(net, "out_h1", "net_h1") == out_h1 * (1 - out_h1)
    expected = -(t2 - out_o2) * out_o2 * (1 - out_o2) * w7
    assert sympy.simplify(symgrad.total_derivative(net, "E_o2", "out_h1") - expected) == 0
    assert symgrad.total_derivative(net, "E_o2", "out_o1") == 0  # no path


@pytest.mark.parametrize("example, leaf", [("mazur", "w1"), ("mazur", "b1"), ("circuit_multipath", "x3"),
                                           ("chain_4layer", "w1")])
def test_sum_over_paths_equals_sympy_diff(example, leaf):
    """Form (a): the sum over paths of the product of local factors, each node name replaced by
    its expanded expression, equals sympy.diff of the expanded output."""
    net = load(example)
    d = derive(net)
    summed = sympy.Add(*[sympy.Mul(*[f.expr for f in p.factors]) for p in d.paths(leaf)])
    nodes = {net.symbol(n): e for n, e in expanded_nodes(net).items()}
    point = leaf_point(net)
    value = number(written_out(summed).xreplace(nodes).xreplace(point))
    assert close(value, reference_gradients(net, wrt=[leaf])[leaf], 50)


def test_adjoint_form_is_the_lectures_delta():
    d = derive(load("mazur"))
    w5, w7 = d.network.symbol("w5"), d.network.symbol("w7")
    assert d.adjoint_expr("out_h1") == sympy.Symbol("δ_net_o1") * w5 + sympy.Symbol("δ_net_o2") * w7


def _ladder(depth):
    """Each layer feeds the next twice, so the paths double with every layer."""
    net = symgrad.Network()
    net.input("x", "0.5")
    prev = "x"
    for k in range(1, depth + 1):
        net.node(f"a{k}", f"sin({prev})")
        net.node(f"b{k}", f"cos({prev})")
        net.node(f"s{k}", f"a{k} + b{k}")
        prev = f"s{k}"
    return net


def test_path_form_refuses_above_the_limit_and_points_to_adjoints():
    d = derive(_ladder(16))
    assert d.count_paths("x") == 2**16
    with pytest.raises(PathLimitError, match="adjoint form"):
        d.paths("x")
    assert len(derive(_ladder(6)).paths("x")) == 2**6
    g = evaluate_gradients(d, digits=20)  # the adjoint form needs no enumeration
    assert close(g.adjoints["x"], _central_difference(d.network, "x"), 15)
    explanation = (Path(__file__).resolve().parent.parent / "docs" / "explanation" / "chain-rule.md").read_text()
    assert f"has {2**16:,} paths" in explanation and f"`MAX_PATHS` ({symgrad.MAX_PATHS:,})" in explanation
    assert 2**6 <= symgrad.MAX_PATHS < 2**16


def test_derivation_cost_is_linear_in_the_graph():
    """Deterministic cost: one local factor per edge, each of bounded size, at every width/depth."""
    sizes = []
    for widths in ([2, 2, 2], [4, 8, 4], [4, 8, 8, 4], [4, 8, 8, 8, 4], [8, 16, 16, 8]):
        net = mlp(widths)
        d = derive(net)
        edges = sum(len(node.operands) for node in net.nodes.values())
        assert len(d.factors) == edges
        ops = sum(sympy.count_ops(f.expr) for f in d.factors.values())
        adjoint_terms = sum(len(a.terms) for a in d.adjoints.values())
        assert adjoint_terms == edges
        sizes.append(ops / edges)
    assert max(sizes) <= 2.0  # operations per edge stay bounded as the network grows
