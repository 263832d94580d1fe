"""symgrad's own engine, tested with its own strategies against independent references.

- the chain rule (adjoints over the graph) equals sympy.diff of the expanded output;
- the compiled NumPy code (scalar and matrix form) equals the exact evaluation;
- central differences of the exact forward pass agree with the exact gradient;
- the matrix form and the scalar form give the same numbers.

Every property runs the loaded profile's example count (conftest.py).
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.strategies import batches, expressions, networks, points
from symgrad.testing import assert_gradients_match

from ..helpers import close, expanded

SMALL = networks(max_depth=2, max_width=2)  # expanded closed forms stay small
ALL_FUNCTIONS = tuple(symgrad.strategies.EXPRESSION_FUNCTIONS)  # kinked ones too, away from their kinks


# SymPy's derivative evaluated by mpmath (SymPy's own substitution trips on Max of a sine).
_MPMATH = [{"Heaviside": lambda x, at_zero=0.5: mpmath.mpf(x > 0) if x != 0 else at_zero, "Max": max, "Min": min,
            "Abs": abs, "sign": mpmath.sign}, "mpmath"]


def _sympy_diff_at(net: symgrad.Network, point: dict, names) -> dict:
    """sympy.diff of the output written out in the leaves, symgrad's own functions by their definitions."""
    full = expanded(net)  # substituted node by node in the test helpers, not by symgrad
    leaves = list(net.leaves)
    args = [net.symbol(n) for n in leaves]
    with mpmath.workdps(40):
        at = [mpmath.mpf(v.p) / v.q for v in (net.point(point)[n] for n in leaves)]
        return {n: sympy.lambdify(args, sympy.diff(full, net.symbol(n)), modules=_MPMATH)(*at) for n in names}


def share(fraction: float) -> settings:
    """A fraction of the profile's examples, for the properties whose reference is slow to build."""
    return settings(max_examples=max(1, round(settings.default.max_examples * fraction)))


@given(expressions(functions=ALL_FUNCTIONS))
def test_chain_rule_equals_sympy_diff_on_circuits(net):
    ours = symgrad.evaluate_gradients(symgrad.derive(net), digits=25).adjoints
    reference = _sympy_diff_at(net, {}, net.params + net.inputs)
    for name, value in reference.items():
        assert close(ours.get(name, 0), value, 18), name


@share(0.5)
@given(st.data())
def test_chain_rule_equals_sympy_diff_on_networks_at_drawn_points(data):
    net = data.draw(SMALL, label="network")
    point = data.draw(points(net), label="point")
    name = data.draw(st.sampled_from(net.params), label="parameter")
    ours = symgrad.evaluate_gradients(symgrad.derive(net), at=point, digits=25).gradients[name]
    assert close(ours, _sympy_diff_at(net, point, [name])[name], 18), name


@given(st.one_of(expressions(functions=ALL_FUNCTIONS), networks()), st.data())
def test_central_differences_of_the_forward_pass_agree(net, data):
    name = data.draw(st.sampled_from(net.params), label="parameter")
    exact = symgrad.evaluate_gradients(symgrad.derive(net), digits=30).gradients[name]
    h = sympy.Rational(1, 10**20)  # truncation error ~h²·f‴ ≈ 1e-40; the forward pass is certified to 50 digits
    here = net.point()
    up = symgrad.evaluate(net, at={**here, name: here[name] + h}, digits=50).values[net.output]
    down = symgrad.evaluate(net, at={**here, name: here[name] - h}, digits=50).values[net.output]
    with mpmath.workdps(60):
        estimate = (up - down) * 10**20 / 2
    assert close(estimate, exact, 25), name


@given(st.one_of(expressions(functions=ALL_FUNCTIONS), networks()))
@example(symgrad.load("mazur"))  # the lecture's network, with its shared layer biases
def test_compiled_scalar_code_equals_exact_evaluation(net):
    compiled = symgrad.compile_gradient(symgrad.derive(net), reduction="sum")

    def grad_fn(values):
        x = np.array([[values[n] for n in compiled.inputs]]).reshape(1, len(compiled.inputs))
        t = np.array([[values[n] for n in compiled.targets]]).reshape(1, len(compiled.targets))
        return compiled({p: values[p] for p in compiled.params}, x, t)[1]

    assert_gradients_match(grad_fn, net)


@given(st.data())
def test_compiled_matrix_code_equals_exact_evaluation_over_a_batch(data):
    net = data.draw(networks(max_depth=3), label="network")
    batch = data.draw(batches(net, max_size=5), label="batch")
    reduction = data.draw(st.sampled_from(["mean", "sum"]), label="reduction")
    compiled = symgrad.compile_gradient(symgrad.derive(net), form="matrix", reduction=reduction)

    def grad_fn(Ws, bs, X, T):
        params = {f"W{k}": W for k, W in enumerate(Ws, start=1)}
        params |= {f"b{k}": b for k, b in enumerate(bs, start=1) if b is not None}
        grads = compiled(params, X, T)[1]
        return [grads[f"W{k}"] for k in range(1, len(Ws) + 1)], [grads.get(f"b{k}") for k in range(1, len(Ws) + 1)]

    assert_gradients_match(grad_fn, net, batch=batch, reduction=reduction)


@given(st.data())
def test_matrix_and_scalar_forms_give_the_same_numbers(data):
    net = data.draw(networks(max_depth=3), label="network")
    batch = data.draw(batches(net, max_size=8), label="batch")
    scalar = symgrad.compile_gradient(symgrad.derive(net), form="scalar")
    matrix = symgrad.compile_gradient(symgrad.derive(net), form="matrix")
    loss_s, grads_s = scalar(scalar.initial_params(net), batch.inputs, batch.targets)
    loss_m, grads_m = matrix(matrix.initial_params(net), batch.inputs, batch.targets)
    assert np.isclose(loss_s, loss_m, rtol=1e-12, atol=1e-15)
    by_name = matrix.scalar_gradients(net, grads_m)
    for p in net.params:
        assert np.isclose(by_name[p], grads_s[p], rtol=1e-10, atol=1e-14), p
