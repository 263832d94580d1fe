"""from_jax: symgrad's exact gradients of a jaxpr-read model agree with jax.grad in float64.

The reference is JAX itself (``jax.grad`` with x64 enabled) on the same function and point.
A primitive outside the table, and other hostile input, ends in one InvalidArgument naming it.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import symgrad
from symgrad.errors import InvalidArgument, MissingDependency
from symgrad.jax_models import from_jax
from symgrad.model_import import ParamSource

jax = pytest.importorskip("jax", reason="from_jax needs the jax extra: pip install 'symgrad[jax]'")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RNG = np.random.default_rng(17)
PARAMS = [{"W": RNG.normal(size=(3, 4)), "b": RNG.normal(size=4)},
          {"W": RNG.normal(size=(4, 2)), "b": RNG.normal(size=2)}]
BATCH = RNG.normal(size=(4, 3))
REGRESSION = RNG.uniform(0.1, 0.9, size=(4, 2))
ONE_HOT = np.eye(2)[[0, 1, 1, 0]]


def mlp(params, x, activation=jnp.tanh):
    for layer in params[:-1]:
        x = activation(x @ layer["W"] + layer["b"])
    return x @ params[-1]["W"] + params[-1]["b"]


def tanh_regression(params, x, t):
    return jnp.mean((mlp(params, x) - t) ** 2)


def sigmoid_half_sse(params, x, t):
    return 0.5 * jnp.sum((jax.nn.sigmoid(mlp(params, x, jax.nn.sigmoid)) - t) ** 2)


def relu_logsumexp_cross_entropy(params, x, t):
    z = mlp(params, x, jax.nn.relu)
    return jnp.mean(jax.nn.logsumexp(z, axis=-1) - jnp.sum(t * z, axis=-1))


def log_softmax_cross_entropy(params, x, t):
    return -jnp.mean(jnp.sum(t * jax.nn.log_softmax(mlp(params, x)), axis=-1))


def leaky_relu_sse(params, x, t):
    return jnp.sum((mlp(params, x, lambda z: jnp.maximum(z, 0.1 * z)) - t) ** 2)


def bce(params, x, t):
    p = jax.nn.sigmoid(mlp(params, x))
    return -jnp.mean(t * jnp.log(p) + (1 - t) * jnp.log(1 - p))


def transposed_layout(params, x, t):  # torch's layout: W is out × in, x @ W.T
    h = jnp.tanh(x @ params["W1"].T + params["b1"])
    return jnp.sum(jnp.square(params["W2"] @ h - t))


CASES = {
    "tanh MLP, mean squared error, batch": (tanh_regression, PARAMS, BATCH, REGRESSION),
    "tanh MLP, one sample": (tanh_regression, PARAMS, BATCH[0], REGRESSION[0]),
    "sigmoid, half sum of squares": (sigmoid_half_sse, PARAMS, BATCH, REGRESSION),
    "relu, cross-entropy by logsumexp": (relu_logsumexp_cross_entropy, PARAMS, BATCH, ONE_HOT),
    "softmax classifier, log_softmax cross-entropy": (log_softmax_cross_entropy, PARAMS, BATCH, ONE_HOT),
    "leaky relu as maximum(z, 0.1 z)": (leaky_relu_sse, PARAMS, BATCH, REGRESSION),
    "sigmoid output, binary cross-entropy": (bce, PARAMS, BATCH, ONE_HOT),
    "dict params, transposes, one sample": (
        transposed_layout, {"W1": RNG.normal(size=(4, 3)), "b1": RNG.normal(size=4), "W2": RNG.normal(size=(2, 4))},
        BATCH[0], REGRESSION[0]),
}


@pytest.mark.parametrize("case", CASES)
def test_exact_gradients_agree_with_jax_grad(case):
    fn, params, x, t = CASES[case]
    imported = from_jax(fn, params, example_input=x, example_target=t)
    ours = imported.gradient_arrays(symgrad.evaluate_gradients(symgrad.derive(imported.network)).gradients)
    reference = jax.grad(fn)(params, x, t)
    leaves = jax.tree_util.tree_flatten_with_path(reference)[0]
    scale = max(float(np.max(np.abs(leaf))) for _, leaf in leaves)
    assert set(ours) == {jax.tree_util.keystr(path) for path, _ in leaves}
    for path, leaf in leaves:
        np.testing.assert_allclose(ours[jax.tree_util.keystr(path)], np.asarray(leaf), rtol=1e-12,
                                   atol=1e-12 * scale, err_msg=jax.tree_util.keystr(path))
    value = float(symgrad.evaluate(imported.network).values["E_total"])
    assert value == pytest.approx(float(fn(params, x, t)), rel=1e-14)


def test_names_follow_the_pytree_and_the_example_arrays():
    imported = from_jax(tanh_regression, PARAMS, example_input=BATCH, example_target=REGRESSION)
    net = imported.network
    assert net.params[0] == "params_0_W_0_0" and "params_1_b_1" in net.params
    assert imported.sources["params_0_W_1_2"] == ParamSource("[0]['W']", (1, 2))
    assert float(net.values["params_0_W_1_2"]) == PARAMS[0]["W"][1, 2]
    assert net.inputs[:2] == ("x_0_0", "x_0_1") and net.targets[-1] == "t_3_1"
    assert "z1_3_2" in net.nodes and "a1_3_2" in net.nodes and net.output == "E_total"


def test_report_and_gradcheck_work_on_an_imported_function():
    params = [{"W": PARAMS[0]["W"][:2, :2], "b": PARAMS[0]["b"][:2]}, {"W": PARAMS[1]["W"][:2], "b": PARAMS[1]["b"]}]
    imported = from_jax(log_softmax_cross_entropy, params, example_input=BATCH[0, :2], example_target=ONE_HOT[0])
    reference = jax.grad(log_softmax_cross_entropy)(params, BATCH[0, :2], ONE_HOT[0])
    text = symgrad.report(imported.network, digits=9, params=["params_1_W_1_0"])
    assert f"= {symgrad.format_number(float(reference[1]['W'][1, 0]), 9)}" in text
    report = symgrad.gradcheck(imported.network)
    assert report.ok
    row = next(r for r in report.rows if r.param == "params_0_b_1")
    assert row.exact == pytest.approx(float(reference[0]["b"][1]), rel=1e-14)


# -- hostile input -------------------------------------------------------------------------


def _refused(match: str, fn, params=PARAMS, x=BATCH, t=REGRESSION):
    with pytest.raises(InvalidArgument, match=match):
        from_jax(fn, params, example_input=x, example_target=t)


def test_an_unsupported_primitive_is_named():
    _refused(r"the primitive 'sin'.*it reads", lambda p, x, t: jnp.sum(jnp.sin(mlp(p, x)) - t))
    _refused(r"the primitive 'cumsum'", lambda p, x, t: jnp.sum(jnp.cumsum(mlp(p, x)) - t.sum()))


def test_a_choice_that_depends_on_the_data_is_refused_with_the_rewrite():
    _refused(r"the primitive 'ge'.*jnp.maximum\(x, slope \* x\)",
             lambda p, x, t: jnp.sum((jax.nn.leaky_relu(mlp(p, x)) - t) ** 2))


def test_wrong_shapes_are_reported_as_the_trace_failing():
    _refused(r"tracing fn.*failed: TypeError", tanh_regression, x=BATCH[:, :2])
    _refused(r"one scalar loss; it returns 1 value\(s\) of shape \(4, 2\)", lambda p, x, t: mlp(p, x) - t)
    _refused(r"example_input must be an array of numbers", tanh_regression, x=[[1.0, 2.0], [1.0]])


def test_nan_parameters_and_other_bad_arguments_are_named():
    bad = [{"W": PARAMS[0]["W"].copy(), "b": PARAMS[0]["b"]}, PARAMS[1]]
    bad[0]["W"][2, 1] = np.nan
    _refused(r"params\[0\]\['W'\]\[2, 1\] is nan", tanh_regression, params=bad)
    _refused(r"fn must be a function", "tanh_regression")
    _refused(r"params has 5,001 parameters", tanh_regression, params={"W": np.ones((5001,))})
    _refused(r"params holds no arrays", tanh_regression, params={})
    _refused(r"must be an array of numbers", tanh_regression, t="targets")


def test_without_jax_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(MissingDependency, match=r'pip install "symgrad\[jax\]"'):
        from_jax(tanh_regression, PARAMS, example_input=BATCH, example_target=REGRESSION)
