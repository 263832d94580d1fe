"""Random circuits: the chain rule agrees with sympy.diff of the expanded output."""

from __future__ import annotations

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symgrad import Network, derive, evaluate_gradients

from ..helpers import close

UNARY = ["sigmoid({})", "tanh({})", "sin({})", "exp({}/4)", "({})**2", "sqrt(1 + ({})**2)", "log(2 + sigmoid({}))"]
BINARY = ["{} + {}", "{} * {}", "{} - {}", "{} / (1 + ({})**2)"]


@st.composite
def networks(draw):
    net = Network()
    names = []
    for k in range(draw(st.integers(1, 3))):
        net.input(f"x{k}", draw(st.sampled_from(["0.5", "-1.25", "2", "0.1"])))
        names.append(f"x{k}")
    for k in range(draw(st.integers(1, 3))):
        net.param(f"w{k}", draw(st.sampled_from(["0.3", "-0.7", "1.5", "0.05"])))
        names.append(f"w{k}")
    for k in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            text = draw(st.sampled_from(UNARY)).format(draw(st.sampled_from(names)))
        else:
            a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
            text = draw(st.sampled_from(BINARY)).format(a, b, b)
        net.node(f"n{k}", text)
        names.append(f"n{k}")
    return net


@settings(max_examples=40)
@given(networks())
def test_gradients_equal_sympy_diff_of_expanded_output(net):
    d = derive(net)
    g = evaluate_gradients(d, digits=25)
    full = net.expanded(net.output).rewrite(sympy.exp)
    point = {net.symbol(n): v for n, v in net.point().items()}
    for name in net.leaves:
        reference = sympy.N(sympy.diff(full, net.symbol(name)).subs(point), 40)
        ours = g.adjoints.get(name, 0)
        assert close(ours, sympy.re(reference), 18), name
