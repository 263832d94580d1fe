"""Whatever a spec names its quantities, generated code never shadows its own names (issue 7)."""

from __future__ import annotations

import keyword

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from symgrad import Network, compile_gradient, derive
from symgrad.codegen import RESERVED
from symgrad.errors import SymgradError

_HOSTILE = sorted(n for n in RESERVED if not keyword.iskeyword(n) and not keyword.issoftkeyword(n)) + [
    "__w", "_x", "__", "cse_0", "cse0", "delta_x", "delta_f", "v_float", "x_", "f_2"]
names = st.sampled_from(_HOSTILE) | st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}\Z")


@settings(max_examples=60, deadline=None)
@given(st.lists(names, min_size=4, max_size=4, unique=True))
@example(["float", "__w", "dot_total", "total"])
@example(["np", "batch", "grads", "loss"])
def test_any_names_compile_to_the_hand_derived_gradient(chosen):
    x, p1, p2, node = chosen
    assume(not keyword.iskeyword(x) and not keyword.iskeyword(node))
    net = Network()
    try:
        net.input(x, 2)
        net.param(p1, 3)
        net.param(p2, -1)
        net.node(node, f"{p1}*{x} + {p2}")
        net.node("E_hostile", f"{node}*{node} + {p2}*{x}")
    except SymgradError:
        assume(False)  # a name the spec language itself refuses
    compiled = compile_gradient(derive(net), reduction="sum")
    loss, grads = compiled({p1: 3.0, p2: -1.0}, [[2.0]], np.zeros((1, 0)))
    # f = (p1 x + p2)² + p2 x at x = 2, p1 = 3, p2 = −1, by hand
    assert loss == pytest.approx(23.0)
    assert grads[p1] == pytest.approx(2 * 5 * 2) and grads[p2] == pytest.approx(2 * 5 + 2)
    points = compile_gradient(derive(net), reduction="none").at({p1: [3.0, 0.0]})
    assert points.gradients[p2] == pytest.approx([12.0, 2 * (-1) + 2])
