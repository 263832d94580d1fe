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


def test_the_mistakes_people_make_are_refused_with_what_to_write_instead():
    _refused(r"the primitive 'while'.*write the layers as a Python for loop", lambda p, x, t: jnp.sum(
        jax.lax.while_loop(lambda h: jnp.sum(h) > 10, lambda h: 2 * h, mlp(p, x)) - t))
    _refused(r"the primitive 'iota'.*one-hot float rows", lambda p, x, t: -jnp.mean(
        jax.nn.log_softmax(mlp(p, x))[jnp.arange(4), t]), t=np.array([0, 1, 1, 0]))
    _refused(r"takes 2 positional arguments but 3 were given", lambda p, x: jnp.sum(mlp(p, x)))


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
    _refused(r"params holds no arrays", tanh_regression, params={})
    _refused(r"must be an array of numbers", tanh_regression, t="targets")


# -- beyond the scalar form: the matrix form -----------------------------------------------

BIG_RNG = np.random.default_rng(784)
BIG = [{"W": BIG_RNG.normal(size=(784, 100)) * 0.05, "b": BIG_RNG.normal(size=100)},
       {"W": BIG_RNG.normal(size=(100, 10)) * 0.3, "b": BIG_RNG.normal(size=10)}]  # 79,510 parameters
BIG_X = BIG_RNG.normal(size=(16, 784))
BIG_ONE_HOT = np.eye(10)[BIG_RNG.integers(0, 10, 16)]
BIG_REGRESSION = BIG_RNG.normal(size=(16, 10))


def softmax_cross_entropy(params, x, t):
    return -jnp.mean(jnp.sum(t * jax.nn.log_softmax(mlp(params, x)), axis=-1))


def relu_mse(params, x, t):
    return jnp.mean((mlp(params, x, jax.nn.relu) - t) ** 2)


def _assert_matches_jax_grad(fn, params, x, t):
    imported = from_jax(fn, params, example_input=x, example_target=t)
    assert imported.form == "matrix"
    loss, grads = imported.compiled_gradients()
    reference = jax.grad(fn)(params, x, t)
    leaves = jax.tree_util.tree_flatten_with_path(reference)[0]
    assert set(grads) == {jax.tree_util.keystr(path) for path, _ in leaves}
    for path, leaf in leaves:
        leaf = np.asarray(leaf)
        assert grads[jax.tree_util.keystr(path)].shape == leaf.shape
        np.testing.assert_allclose(grads[jax.tree_util.keystr(path)], leaf, rtol=1e-12,
                                   atol=1e-12 * np.abs(leaf).max(), err_msg=jax.tree_util.keystr(path))
    assert loss == pytest.approx(float(fn(params, x, t)), rel=1e-13)
    return imported


def test_a_784_100_10_classifier_is_imported_in_the_matrix_form_and_agrees_with_jax_grad():
    imported = _assert_matches_jax_grad(softmax_cross_entropy, BIG, BIG_X, BIG_ONE_HOT)
    structure = imported.network.structure
    assert structure.widths == (784, 100, 10) and structure.activation == "tanh"
    assert structure.loss == "softmax_cross_entropy" and imported.reduction == "mean"
    assert np.array_equal(imported.params["W1"], BIG[0]["W"].T)  # symgrad's W is out × in: x @ W's W, transposed


def test_a_784_100_10_regression_with_mean_squared_error_agrees_with_jax_grad():
    imported = _assert_matches_jax_grad(relu_mse, BIG, BIG_X, BIG_REGRESSION)
    assert imported.network.structure.activation == "relu" and imported.network.structure.loss == "mse"


def _wide(n_in=60, hidden=90, out=3):
    rng = np.random.default_rng(n_in)
    return {"W1": rng.normal(size=(hidden, n_in)) * 0.2, "b1": rng.normal(size=(1, hidden)),
            "W2": rng.normal(size=(out, hidden)) * 0.2, "b2": rng.normal(size=out)}  # 5,763 parameters


def _torch_layout(activation):  # W out × in as torch holds it, x @ W.T; a (1, hidden) bias
    def forward(p, x):
        return activation(x @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"]
    return forward


def _bce(p, x, t):
    o = jax.nn.sigmoid(_torch_layout(jnp.tanh)(p, x))
    return -jnp.mean(jnp.sum(t * jnp.log(o) + (1 - t) * jnp.log(1 - o), axis=-1))


def _logsumexp_cross_entropy(p, x, t):  # one sample: W @ x, as a column-vector textbook writes it
    z = p["W2"] @ jax.nn.sigmoid(p["W1"] @ x + p["b1"][0]) + p["b2"]
    return jax.nn.logsumexp(z) - jnp.dot(t, z)


WIDE_X = np.random.default_rng(5).normal(size=(5, 60))
WIDE_T = np.random.default_rng(6).uniform(0.1, 0.9, size=(5, 3))
LEAKY = _torch_layout(lambda z: jnp.maximum(z, 0.2 * z))
MATRIX_CASES = {
    "leaky relu, half sum of squares, sum over the batch": (
        lambda p, x, t: 0.5 * jnp.sum((LEAKY(p, x) - t) ** 2), WIDE_X, WIDE_T, ("leaky_relu", "half_sse", "sum")),
    "sigmoid output, binary cross-entropy": (_bce, WIDE_X, WIDE_T, ("tanh", "bce", "mean")),
    "sigmoid hidden, logsumexp cross-entropy, one sample, W @ x": (
        _logsumexp_cross_entropy, WIDE_X[0], np.eye(3)[1], ("sigmoid", "softmax_cross_entropy", "mean")),
    "sigmoid output, mean squared error": (
        lambda p, x, t: jnp.mean((jax.nn.sigmoid(_torch_layout(jnp.tanh)(p, x)) - t) ** 2), WIDE_X, WIDE_T,
        ("tanh", "mse", "mean")),
    "inputs as 5 × 6 × 10 images, reshaped to rows": (
        lambda p, x, t: jnp.mean((_torch_layout(jnp.tanh)(p, x.reshape(5, 60)) - t) ** 2), WIDE_X.reshape(5, 6, 10),
        WIDE_T, ("tanh", "mse", "mean")),
    "tanh output, l1": (
        lambda p, x, t: jnp.sum(jnp.abs(jnp.tanh(_torch_layout(jax.nn.relu)(p, x)) - t)), WIDE_X, WIDE_T,
        ("relu", "l1", "sum")),
}


@pytest.mark.parametrize("case", MATRIX_CASES)
def test_matrix_form_imports_agree_with_jax_grad(case):
    fn, x, t, (activation, loss, reduction) = MATRIX_CASES[case]
    imported = _assert_matches_jax_grad(fn, _wide(), x, t)
    structure = imported.network.structure
    assert (structure.activation, structure.loss) == (activation, loss)
    assert imported.reduction == reduction or x.ndim == 1


def _big_refused(match: str, fn, params=None, x=WIDE_X, t=WIDE_T):
    _refused(match, fn, params=_wide() if params is None else params, x=x, t=t)


def test_a_large_function_outside_the_dense_shape_is_refused_naming_the_primitive_or_the_shape():
    forward = _torch_layout(jnp.tanh)
    _big_refused(r"the primitive 'while'", lambda p, x, t: jnp.sum((jax.lax.while_loop(
        lambda h: jnp.sum(h) > 1, jnp.tanh, forward(p, x)) - t) ** 2))
    _big_refused(r"the layers use 'exp'.*where a dense layer was expected",
                 lambda p, x, t: jnp.sum((_torch_layout(jnp.exp)(p, x) - t) ** 2))
    _big_refused(r"the primitive 'ge'.*jnp.maximum",
                 lambda p, x, t: jnp.sum((_torch_layout(jax.nn.leaky_relu)(p, x) - t) ** 2))
    _big_refused(r"the loss reads params\['W1'\].*L2 penalty",
                 lambda p, x, t: jnp.sum((forward(p, x) - t) ** 2) + 0.1 * jnp.sum(p["W1"] ** 2))
    _big_refused(r"the loss of the last layer's output is none the matrix form computes",
                 lambda p, x, t: jnp.sum((forward(p, x) - t) ** 4))
    _big_refused(r"one activation between each two",
                 lambda p, x, t: jnp.sum(((x @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"] - t) ** 2))
    _big_refused(r"one hidden activation for every layer", lambda p, x, t: jnp.sum(
        (jnp.tanh(jax.nn.sigmoid(x @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"]) @ p["W3"] - t) ** 2),
        params={**_wide(), "W3": np.ones((3, 3))})
    _big_refused(r"params\['extra'\] is not a weight or bias", lambda p, x, t: jnp.sum((forward(p, x) - t) ** 2),
                 params={**_wide(), "extra": np.ones(2)})
    _big_refused(r"example_target has shape \(5,\).*\(5, 3\)", lambda p, x, t: jnp.sum(forward(p, x).sum(axis=1) - t),
                 t=WIDE_T[:, 0])
    _big_refused(r"the layers use 'convert_element_type' .*new_dtype=float32",
                 lambda p, x, t: jnp.sum((forward(p, x.astype(jnp.float32)) - t) ** 2))
    _big_refused(r"params\['b2'\]\[1\] is nan", lambda p, x, t: jnp.sum((forward(p, x) - t) ** 2),
                 params={**_wide(), "b2": np.array([0.0, np.nan, 1.0])})


def test_the_matrix_form_needs_float64():
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(InvalidArgument, match=r"jax_enable_x64"):
            from_jax(relu_mse, _wide(), example_input=WIDE_X, example_target=WIDE_T)
    finally:
        jax.config.update("jax_enable_x64", True)


def test_without_jax_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(MissingDependency, match=r'pip install "symgrad\[jax\]"'):
        from_jax(tanh_regression, PARAMS, example_input=BATCH, example_target=REGRESSION)


def test_the_same_network_from_torch_and_from_jax_is_the_same_dense_stack():
    torch = pytest.importorskip("torch", reason="the comparison needs the torch extra too")
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(60, 90), torch.nn.Sigmoid(), torch.nn.Linear(90, 3)).double()
    params = {name.replace(".", "_"): p.detach().numpy() for name, p in model.named_parameters()}

    def loss(p, x, t):  # the torch model, written in JAX: x @ W.T + b
        return jnp.mean((jax.nn.sigmoid(x @ p["0_weight"].T + p["0_bias"]) @ p["2_weight"].T + p["2_bias"] - t) ** 2)

    from_t = symgrad.from_torch(model, loss=torch.nn.MSELoss(), example_input=WIDE_X, example_target=WIDE_T)
    from_j = from_jax(loss, params, example_input=WIDE_X, example_target=WIDE_T)
    assert from_t.network.structure == from_j.network.structure
    assert all(np.array_equal(from_t.params[k], from_j.params[k]) for k in ("W1", "b1", "W2", "b2"))
    (_, g_t), (_, g_j) = from_t.compiled_gradients(), from_j.compiled_gradients()
    for name in g_t:
        np.testing.assert_array_equal(g_t[name], g_j[f"['{name.replace('.', '_')}']"])


def test_gradcheck_of_a_784_100_10_import_is_at_the_jax_values_and_batch():
    imported = from_jax(softmax_cross_entropy, BIG, example_input=BIG_X, example_target=BIG_ONE_HOT)
    report = imported.gradcheck(sample=30)
    assert report.ok and len(report.rows) == 30 + 3
    assert "at the given W1, b1, W2, b2; 16 samples, the mean over them" in report.notes
    reference = jax.tree_util.tree_flatten_with_path(jax.grad(softmax_cross_entropy)(BIG, BIG_X, BIG_ONE_HOT))[0]
    by_name = {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in reference}
    ours = {}  # jax.grad in symgrad's layout: W out × in
    for key, source in imported.matrix_sources.items():
        g = by_name[source.name]
        ours[key] = (g.T if source.transposed else g).reshape(np.shape(imported.params[key]))
    coordinates = [row for row in report.rows if not row.param.startswith("direction")]
    assert len(coordinates) == 30
    for row in coordinates:
        key, index = row.param.rstrip("]").split("[")
        expected = ours[key][tuple(int(i) for i in index.split(","))]
        assert row.compiled == pytest.approx(expected, rel=1e-12, abs=1e-12 * np.abs(ours[key]).max()), row.param
