"""Network.inline and Network.expanded against expressions written out by hand."""

from __future__ import annotations

import sympy

from symgrad import Network, load, sigmoid

x, w, b, t = sympy.symbols("x w b t", real=True)
h, f, g = sympy.symbols("h f g", real=True)


def _net() -> Network:
    net = Network()
    net.input("x", 2)
    net.param("w", 3)
    net.param("b", 1)
    net.target("t", 0)
    net.node("h", "w*x + b")
    net.node("f", "sigmoid(h)")
    net.node("g", "(f - t)**2 + h")
    return net


def test_expanded_writes_every_node_in_the_leaves():
    net = _net()
    assert net.expanded("h") == w * x + b
    assert net.expanded("f") == sigmoid(w * x + b)
    assert net.expanded("g") == (sigmoid(w * x + b) - t) ** 2 + w * x + b
    assert net.expanded("x") == x  # a leaf is itself


def test_inline_substitutes_nested_nodes_in_any_expression():
    net = _net()
    assert net.inline(g * f) == ((sigmoid(w * x + b) - t) ** 2 + w * x + b) * sigmoid(w * x + b)
    assert net.inline(f * (1 - f)) == sigmoid(w * x + b) * (1 - sigmoid(w * x + b))
    assert net.inline(sympy.exp(-h) / (1 + sympy.exp(-h))) == sympy.exp(-w * x - b) / (1 + sympy.exp(-w * x - b))


def test_inline_leaves_leaves_and_foreign_symbols_alone():
    net = _net()
    other = sympy.Symbol("other", real=True)
    assert net.inline(other + x) == other + x
    assert net.inline(sympy.Integer(7)) == 7


def test_inline_matches_sympy_diff_of_a_lecture_network():
    # mazur: out_o1 = σ(w5·out_h1 + w6·out_h2 + b2), out_h1 = σ(w1·i1 + w2·i2 + b1): by hand.
    net = load("mazur")
    s = {n: net.symbol(n) for n in net.leaves}
    out_h1 = sigmoid(s["w1"] * s["i1"] + s["w2"] * s["i2"] + s["b1"])
    out_h2 = sigmoid(s["w3"] * s["i1"] + s["w4"] * s["i2"] + s["b1"])
    out_o1 = sigmoid(s["w5"] * out_h1 + s["w6"] * out_h2 + s["b2"])
    assert sympy.expand(net.expanded("out_o1") - out_o1) == 0
    # the local factor ∂out_o1/∂net_o1 = out_o1(1 − out_o1), written out in the leaves
    factor = net.symbol("out_o1") * (1 - net.symbol("out_o1"))
    assert sympy.expand(net.inline(factor) - out_o1 * (1 - out_o1)) == 0
