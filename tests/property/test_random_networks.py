"""Random circuits: the chain rule agrees with sympy.diff of the expanded output."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from symgrad import Network, derive, evaluate_gradients

from ..helpers import close, expanded, leaf_point, reference_derivative

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


def _network(inputs, params, nodes):
    net = Network()
    for name, value in inputs.items():
        net.input(name, value)
    for name, value in params.items():
        net.param(name, value)
    for name, text in nodes.items():
        net.node(name, text)
    return net


@settings(max_examples=40)
@given(networks())
# a leaf used by two consumers, one of them twice (x0 * x0): the δ sums three terms
@example(_network({"x0": "0.5"}, {"w0": "-0.7"}, {"n0": "x0 * x0", "n1": "sigmoid(x0)", "n2": "n0 / (1 + (n1)**2)",
                                                  "n3": "n2 * w0"}))
# a leaf the output does not depend on: its gradient is exactly 0
@example(_network({"x0": "2", "x1": "0.1"}, {"w0": "1.5"}, {"n0": "tanh(x0)", "n1": "n0 - w0"}))
def test_gradients_equal_sympy_diff_of_expanded_output(net):
    d = derive(net)
    g = evaluate_gradients(d, digits=25)
    full = expanded(net)  # substituted node by node, not symgrad's closed_form
    point = leaf_point(net)
    for name in net.leaves:
        reference = reference_derivative(full, net.symbol(name), point)
        ours = g.adjoints.get(name, 0)
        assert close(ours, reference, 18), name
