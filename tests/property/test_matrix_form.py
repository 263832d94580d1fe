"""The matrix form and the scalar form of the same network agree: identical symbolic
gradients after expansion, and identical numbers."""

from __future__ import annotations

import numpy as np
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from symgrad import derive, derive_matrix, mlp
from symgrad.fitting import compile_network


@st.composite
def small_mlps(draw):
    depth = draw(st.integers(1, 2))
    widths = [draw(st.integers(1, 3)) for _ in range(depth + 1)]
    activation = draw(st.sampled_from(["sigmoid", "tanh", "identity", "relu"]))
    loss = draw(st.sampled_from(["half_sse", "sse", "softmax_cross_entropy"]))
    bias = draw(st.sampled_from(["neuron", "layer", "none"]))
    return mlp(widths, activation=activation, loss=loss, bias=bias, seed=draw(st.integers(0, 99)))


@settings(max_examples=25, deadline=None)
@given(small_mlps())
@example(mlp([2, 2, 2], bias="layer"))
def test_symbolic_gradients_are_identical_after_expansion(net):
    scalar = derive(net)
    explicit = derive_matrix(net.structure).explicit(net)
    assert set(explicit) == set(net.params)
    for p in net.params:
        difference = sympy.expand((scalar.closed_form(p) - explicit[p]).rewrite(sympy.exp))
        if difference != 0:  # expansion leaves equal terms in different arrangements only rarely
            difference = sympy.simplify(difference)
        assert difference == 0, p


@settings(max_examples=40, deadline=None)
@given(small_mlps(), st.integers(1, 50), st.sampled_from(["mean", "sum"]))
def test_compiled_numbers_are_identical(net, batch, reduction):
    rng = np.random.default_rng(batch)
    n_in, n_out = len(net.inputs), len(net.targets)
    x, t = rng.normal(size=(batch, n_in)), rng.uniform(size=(batch, n_out))
    scalar = compile_network(net, form="scalar", reduction=reduction)
    matrix = compile_network(net, form="matrix", reduction=reduction)
    loss_s, grads_s = scalar(scalar.initial_params(net), x, t)
    loss_m, grads_m = matrix(matrix.initial_params(net), x, t)
    assert np.isclose(loss_s, loss_m, rtol=1e-12, atol=1e-14)
    ours = matrix.scalar_gradients(net, grads_m)
    for p in net.params:
        assert np.isclose(ours[p], grads_s[p], rtol=1e-10, atol=1e-13), p
