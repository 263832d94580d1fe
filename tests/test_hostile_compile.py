"""Hostile and extreme input to compile and train (issue 7), and the compile core's seams (issue 6).

References are independent of the code under test: hand-derived subgradients, ``sympy.diff``
of the expression, NumPy written out by hand, and exact evaluation at 30 digits.
"""

from __future__ import annotations

import ast
import pathlib
import time

import numpy as np
import pytest
import sympy

import symgrad
from symgrad import (
    GraphError,
    InvalidArgument,
    Network,
    NotDifferentiable,
    compile_gradient,
    derive,
    evaluate_gradients,
    load,
    mlp,
)
from symgrad.cli import main
from symgrad.errors import DomainError, SpecError
from symgrad.fitting import compile_network, dataset, fit, history_steps
from symgrad.layers import LOSSES
from symgrad.layout import param_names
from symgrad.matrix import LOSS_TERMS, MATRIX_LOSSES

RAISE = dict(over="raise", invalid="raise", divide="raise")  # underflow to 0 is fine
PACKAGE = pathlib.Path(symgrad.__file__).parent


def _no_targets(n: int = 1) -> np.ndarray:
    return np.zeros((n, 0))


# -- max/min ties: a subgradient, the same in every path ---------------------------------
def _tie_network(head: str, k: int, values: dict[str, float]) -> Network:
    net = Network()
    net.input("x", 1)
    names = [f"a{i}" for i in range(1, k + 1)]
    for name in names:
        net.param(name, values.get(name, 1))
    net.node("f", f"{head}({', '.join(names)})")
    return net


@pytest.mark.parametrize("head", ["max", "min"])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_tied_max_and_min_give_one_over_k_to_each_tied_argument(head, k):
    net = _tie_network(head, k, {})
    expected = {f"a{i}": 1 / k for i in range(1, k + 1)}  # hand-derived: k tied arguments share 1 evenly
    exact = evaluate_gradients(derive(net), digits=20).gradients
    fast = evaluate_gradients(derive(net), digits=None).gradients
    compiled = compile_gradient(derive(net), reduction="sum")
    _, grads = compiled(compiled.initial_params(net), [[1.0]], _no_targets())
    points = compile_gradient(derive(net), reduction="none").at({}).gradients
    for name, share in expected.items():
        assert float(exact[name]) == pytest.approx(share, rel=1e-15)
        assert fast[name] == pytest.approx(share, rel=1e-15)
        assert grads[name] == pytest.approx(share, rel=1e-15)
        assert points[name][0] == pytest.approx(share, rel=1e-15)
    assert sum(float(v) for v in exact.values()) == pytest.approx(1.0)


def test_partial_ties_and_scaled_arguments():
    # f = max(2a, b, c, d) at a = 0.5, b = c = 1, d = 0: three tied maxima (2a, b, c), so
    # ∂f/∂a = 2 · 1/3, ∂f/∂b = ∂f/∂c = 1/3, ∂f/∂d = 0 (hand-derived).
    net = Network()
    net.input("x", 1)
    for name, value in (("a", "1/2"), ("b", 1), ("c", 1), ("d", 0)):
        net.param(name, value)
    net.node("f", "max(2*a, b, c, d) + min(b, c, d)")
    expected = {"a": 2 / 3, "b": 1 / 3, "c": 1 / 3, "d": 2 / 3 * 0 + 1.0}  # min(b, c, d) = d alone
    exact = evaluate_gradients(derive(net), digits=20).gradients
    compiled = compile_gradient(derive(net), reduction="sum")
    _, grads = compiled(compiled.initial_params(net), [[1.0]], _no_targets())
    for name, value in expected.items():
        assert float(exact[name]) == pytest.approx(value, rel=1e-15)
        assert grads[name] == pytest.approx(value, rel=1e-15)


# -- generated names -------------------------------------------------------------------
@pytest.mark.parametrize("param, node", [("__w", "f"), ("float", "dot_total"), ("np", "total"),
                                         ("batch", "cse0"), ("w", "value_and_grad"), ("sigmoid_", "grads"),
                                         ("per_point", "leaves")])
def test_spec_names_never_collide_with_generated_names(param, node):
    net = Network()
    net.input("x", 2)
    net.param(param, 3)
    net.node(node, f"{param}*{param}*x")
    net.node("E", f"{node} + sin({param})")
    start = time.perf_counter()
    compiled = compile_gradient(derive(net), reduction="sum")
    assert time.perf_counter() - start < 5
    loss, grads = compiled({param: 3.0}, [[2.0]], _no_targets())
    w, x = sympy.symbols("w x")
    reference = sympy.diff(w * w * x + sympy.sin(w), w).subs({w: 3, x: 2})
    assert loss == pytest.approx(18 + np.sin(3.0))
    assert grads[param] == pytest.approx(float(reference), rel=1e-14)
    trained = fit(compiled, {param: 3.0}, [[2.0]], _no_targets(), steps=2, learning_rate=0.01)
    assert trained.steps == 2


def test_spec_with_dunder_param_compiles_and_trains_from_the_cli(tmp_path, capsys):
    spec = tmp_path / "dunder.toml"
    spec.write_text('[symbols]\ninputs = ["x"]\nparams = ["__w"]\n[values]\nx = 1\n__w = 2\n'
                    '[nodes]\nf = "(__w*x - 1)**2"\n[train]\nlearning_rate = 0.1\n')
    assert main(["compile", str(spec), "-o", str(tmp_path / "out.py")]) == 0
    assert main(["train", str(spec), "--steps", "3"]) == 0
    assert "__w" in capsys.readouterr().out


# -- constants beyond float64 ------------------------------------------------------------
def test_constant_above_the_float_range_is_refused_naming_the_node():
    net = Network()
    net.input("x", 1)
    net.param("w", 1)
    net.node("f", "w*x*10**400")
    with pytest.raises(GraphError, match=r"node 'f'.*1\.0000e\+400.*float64"):
        compile_gradient(derive(net))


def test_constant_leaf_with_401_digits_is_refused_naming_it():
    net = Network()
    net.input("x", 1)
    net.param("w", 1)
    net.constant("c", 10**400)
    net.node("f", "w*x*c")
    with pytest.raises(GraphError, match=r"constant 'c'.*float64"):
        compile_gradient(derive(net))
    # The per-point mode compiles it and needs the constant given as a float64 point.
    points = compile_gradient(derive(net), reduction="none").at({"c": 2.0})
    assert points.gradients["w"][0] == 2.0


# -- stable rewrites at pre-activations of ±1000 ---------------------------------------
def _one_node(expr: str) -> Network:
    net = Network()
    net.input("x", 1)
    net.param("w", 1)
    net.node("E", expr)
    return net


@pytest.mark.parametrize("expr, loss, grad", [
    # softplus: E = log(1 + e^(wx)); ∂E/∂w = x σ(wx)
    ("log(1 + exp(w*x))", lambda z: np.logaddexp(0, z), lambda z, x: x / (1 + np.exp(-z)) if z > 0 else 0.0 * x),
    # log-sigmoid: E = −log σ(wx) = softplus(−wx); ∂E/∂w = −x σ(−wx)
    ("-log(sigmoid(w*x))", lambda z: np.logaddexp(0, -z), lambda z, x: -x / (1 + np.exp(z)) if z < 0 else 0.0 * x),
    # sigmoid written out by hand: E = 1/(1 + e^(−wx)); ∂E/∂w = x σ(wx) σ(−wx)
    ("1/(1 + exp(-w*x))", lambda z: 1.0 if z > 0 else 0.0, lambda z, x: 0.0),
    # the gradient written out: E = e^(wx)/(1 + e^(wx)) = σ(wx)
    ("exp(w*x)/(1 + exp(w*x))", lambda z: 1.0 if z > 0 else 0.0, lambda z, x: 0.0),
    ("sigmoid(w*x)", lambda z: 1.0 if z > 0 else 0.0, lambda z, x: 0.0),
], ids=["softplus", "log-sigmoid", "sigmoid-by-hand", "sigmoid-ratio", "sigmoid"])
@pytest.mark.parametrize("x", [1000.0, -1000.0])
def test_every_rewrite_is_finite_and_right_at_plus_minus_1000(expr, loss, grad, x):
    net = _one_node(expr)
    batch = compile_gradient(derive(net), reduction="sum")
    points = compile_gradient(derive(net), reduction="none")
    with np.errstate(**RAISE):
        value, grads = batch({"w": 1.0}, [[x]], _no_targets())
        at = points.at({"w": 1.0, "x": x})
    z = x  # w = 1
    assert value == pytest.approx(loss(z), abs=1e-300)
    assert grads["w"] == pytest.approx(grad(z, x), abs=1e-300)
    assert at.loss[0] == pytest.approx(loss(z), abs=1e-300)
    assert at.gradients["w"][0] == pytest.approx(grad(z, x), abs=1e-300)


def test_softplus_gradient_at_1000_is_the_exact_value():
    net = _one_node("log(1 + exp(w*x))")
    exact = evaluate_gradients(derive(net), at={"x": 1000}, digits=20).gradients["w"]
    compiled = compile_gradient(derive(net), reduction="sum")
    with np.errstate(**RAISE):
        _, grads = compiled({"w": 1.0}, [[1000.0]], _no_targets())
    assert float(exact) == pytest.approx(1000.0)
    assert grads["w"] == pytest.approx(float(exact), rel=1e-15)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_log_sum_exp_and_sigmoid_layers_at_plus_minus_1000(form, sign):
    # One dense layer, logits z = W x + b with W = I: z = (±1000, ∓1000). Softmax cross-entropy
    # by hand: loss = logaddexp(z1, z2) − z_t, ∂loss/∂W = (softmax(z) − t) xᵀ.
    net = mlp([2, 2], activation="identity", loss="softmax_cross_entropy", seed=0)
    compiled = compile_network(net, form=form, reduction="sum")
    x = np.array([[sign * 1000.0, -sign * 1000.0]])
    t = np.array([[0.0, 1.0]])
    params = ({"W1": np.eye(2), "b1": np.zeros(2)} if form == "matrix" else
              {"w1": 1.0, "w2": 0.0, "w3": 0.0, "w4": 1.0, "b_o1": 0.0, "b_o2": 0.0})
    with np.errstate(**RAISE):
        loss, grads = compiled(params, x, t)
    z = x[0]
    lse = np.logaddexp(z[0], z[1])
    assert loss == pytest.approx(lse - z[1])
    softmax = np.exp(z - lse)
    expected_W = np.outer(softmax - t[0], z)
    got_W = grads["W1"] if form == "matrix" else np.array([[grads["w1"], grads["w2"]], [grads["w3"], grads["w4"]]])
    np.testing.assert_allclose(got_W, expected_W, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_sigmoid_layer_saturated_at_plus_minus_1000(form):
    # h = σ(w x), E = ½(t − h)²; ∂E/∂w = (h − t) h (1 − h) x = 0 exactly once σ saturates.
    net = mlp([1, 1], bias="none", seed=0)
    compiled = compile_network(net, form=form, reduction="sum")
    params = {"W1": np.array([[1.0]])} if form == "matrix" else {"w1": 1.0}
    with np.errstate(**RAISE):
        loss, grads = compiled(params, [[1000.0], [-1000.0]], [[0.5], [0.5]])
    assert loss == pytest.approx(0.25)
    assert np.all(np.asarray(grads["W1" if form == "matrix" else "w1"]) == 0.0)


# -- per-point mode against exact values -------------------------------------------------
@pytest.mark.parametrize("network", [
    lambda: load("mazur"),
    lambda: mlp([2, 3, 2], activation="tanh", loss="sse", l2="0.01", seed=4),  # has the constant lam
    lambda: load("chain_sin"),
], ids=["mazur", "mlp-l2", "chain_sin"])
def test_per_point_mode_matches_exact_gradients_at_random_points(network):
    net = network()
    derivation = derive(net)
    compiled = compile_gradient(derivation, reduction="none")
    rng = np.random.default_rng(7)
    leaves = {name: rng.uniform(-1.5, 1.5, size=6) for name in net.leaves}
    result = compiled.at(leaves)
    assert result.loss.shape == (6,) and all(g.shape == (6,) for g in result.gradients.values())
    assert set(result.gradients) == set(net.params)
    for k in range(6):
        point = {name: sympy.Rational(float(v[k])) for name, v in leaves.items()}
        exact = evaluate_gradients(derivation, at=point, digits=30)
        assert result.loss[k] == pytest.approx(float(exact.values[derivation.output]), rel=1e-12, abs=1e-14)
        for p in net.params:
            assert result.gradients[p][k] == pytest.approx(float(exact.gradients[p]), rel=1e-11, abs=1e-14), (p, k)


def test_per_point_mode_broadcasts_scalars_and_checks_its_arguments():
    net = load("mazur")
    compiled = compile_gradient(derive(net), reduction="none")
    assert compiled.at({}, points=3).loss.shape == (3,)
    both = compiled.at({"w5": [0.4, 0.4]})
    exact = evaluate_gradients(derive(net), digits=20).gradients["w5"]
    assert both.gradients["w5"] == pytest.approx([float(exact)] * 2, rel=1e-14)
    with pytest.raises(InvalidArgument, match="'nope' is not a leaf"):
        compiled.at({"nope": 1.0})
    with pytest.raises(InvalidArgument, match="different numbers of points"):
        compiled.at({"w5": [1.0, 2.0], "w6": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidArgument, match="reduction='none'"):
        compile_gradient(derive(net)).at({})
    loss, grads = compiled(compiled.initial_params(net), [[0.05, 0.10], [0.05, 0.10]], [[0.01, 0.99]] * 2)
    assert loss.shape == (2,) and grads["w5"] == pytest.approx([float(exact)] * 2, rel=1e-14)


# -- sizes, checked up front -----------------------------------------------------------
@pytest.mark.parametrize("widths, message", [
    ([100_000, 100_000], r"10,000,000,000 weights \(74\.5 GiB"),
    ([1] * 100_000, "99999 layers"),
    ([100_001, 2], "layer of 100001 units"),
    ([60, 60, 60], "scalar name each"),
])
def test_oversized_networks_are_refused_before_allocating(widths, message):
    start = time.perf_counter()
    with pytest.raises(GraphError, match=message):
        mlp(widths, scalar=widths == [60, 60, 60])
    assert time.perf_counter() - start < 2


def test_oversized_mlp_spec_names_the_file(tmp_path):
    spec = tmp_path / "huge.toml"
    spec.write_text("[mlp]\nwidths = [100000, 100000]\n")
    with pytest.raises(SpecError, match=r"huge\.toml.*GiB"):
        load(str(spec))


# -- training options and bounded memory -----------------------------------------------
@pytest.mark.parametrize("rate", [float("nan"), float("inf"), -1.0, 0.0, 1e308, "fast"])
def test_bad_learning_rates_are_refused(rate):
    net = load("perceptron")
    f = compile_network(net)
    with pytest.raises(InvalidArgument, match="learning rate"):
        fit(f, f.initial_params(net), *dataset(net), steps=3, learning_rate=rate)


@pytest.mark.parametrize("option, value, message", [
    ("seed", -1, "seed"), ("steps", -1, "steps"), ("steps", 10**12, "steps"), ("batch_size", 0, "batch size"),
    ("steps", True, "steps"),
])
def test_bad_fit_options_are_refused(option, value, message):
    net = load("perceptron")
    f = compile_network(net)
    options = dict(steps=3, learning_rate=0.01) | {option: value}
    with pytest.raises(InvalidArgument, match=message):
        fit(f, f.initial_params(net), *dataset(net), **options)


@pytest.mark.parametrize("args", [["--learning-rate", "nan"], ["--learning-rate", "-1"], ["--learning-rate", "inf"],
                                  ["--learning-rate", "0"], ["--seed", "-1"]])
def test_cli_train_refuses_bad_options_with_exit_2(args, capsys):
    assert main(["train", "perceptron", "--steps", "5", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("learning rate" in err or "seed" in err)


def test_divergence_stops_with_a_domain_error_naming_the_step():
    net = load("perceptron")
    f = compile_network(net)
    with pytest.raises(DomainError, match=r"at step \d+ of 5000"):
        fit(f, f.initial_params(net), *dataset(net), steps=5000, learning_rate=1e5)


def test_loss_history_is_bounded_evenly_spaced_and_keeps_first_and_last():
    kept = history_steps(10**9)
    assert len(kept) <= 1000 and kept[0] == 0 and kept[-1] == 10**9 - 1
    assert np.all(np.diff(kept) > 0)
    net = load("perceptron")
    f = compile_network(net)
    x, t = dataset(net)
    result = fit(f, f.initial_params(net), x, t, steps=2500, learning_rate=0.001)
    assert len(result.losses) == len(result.loss_steps) <= 1000
    assert result.loss_steps[0] == 0 and result.loss_steps[-1] == 2499
    # the recorded losses are the losses at those steps: replay gradient descent by hand
    params = {k: float(v) for k, v in f.initial_params(net).items()}
    wanted = set(result.loss_steps.tolist())
    replay = []
    for k in range(2500):
        loss, grads = f(params, x, t)
        if k in wanted:
            replay.append(loss)
        params = {name: params[name] - 0.001 * grads[name] for name in params}
    np.testing.assert_array_equal(result.losses, replay)


# -- options and classes of error ----------------------------------------------------------
def test_bad_reduction_and_form_are_invalid_arguments():
    d = derive(load("mazur"))
    with pytest.raises(InvalidArgument, match="reduction"):
        compile_gradient(d, reduction="median")
    with pytest.raises(InvalidArgument, match="form"):
        compile_gradient(d, form="tensor")
    with pytest.raises(InvalidArgument, match="reduction"):
        compile_network(mlp([2, 2]), form="matrix", reduction="none")


@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_zero_one_loss_is_not_differentiable_in_both_forms(form):
    net = mlp([2, 1], loss="zero_one", output_activation="identity")
    with pytest.raises(NotDifferentiable, match="zero"):
        compile_network(net, form=form)


def test_a_derivation_passed_in_is_used_as_given():
    net = load("mazur")
    d = derive(net, output="E_o1")  # not the network's output: a re-derivation would lose it
    compiled = compile_gradient(d, reduction="sum")
    loss, grads = compiled(compiled.initial_params(net), [[0.05, 0.10]], [[0.01, 0.99]])
    exact = evaluate_gradients(d, digits=20)
    assert loss == pytest.approx(float(exact.values["E_o1"]), rel=1e-14)
    assert grads["w7"] == 0.0 and grads["w5"] == pytest.approx(float(exact.gradients["w5"]), rel=1e-14)
    with pytest.raises(InvalidArgument, match="form='scalar'"):
        compile_gradient(derive(mlp([2, 2, 2]), output="E_o1"), form="matrix")


# -- one loss table, one naming scheme, no import cycle ----------------------------------
def test_both_forms_cover_every_differentiable_loss():
    assert set(MATRIX_LOSSES) == {name for name, rule in LOSSES.items() if rule.differentiable}
    u, t = sympy.symbols("u t", real=True)
    by_hand = {"half_sse": (t - u) ** 2 / 2, "sse": (u - t) ** 2, "l1": sympy.Abs(u - t),
               "hinge": sympy.Max(0, 1 - t * u), "mse": (u - t) ** 2,
               "bce": -(t * sympy.log(u) + (1 - t) * sympy.log(1 - u))}
    assert set(LOSS_TERMS) == set(by_hand)
    for name, term in LOSS_TERMS.items():
        assert sympy.simplify(term.subs({sympy.Symbol("u", real=True): u}) - by_hand[name]) == 0, name


@pytest.mark.parametrize("options", [dict(), dict(bias="layer"), dict(bias="none"), dict(l2="0.1")])
@pytest.mark.parametrize("widths", [[2, 2, 2], [3, 4, 4, 2], [1, 1]])
def test_scalar_params_follow_the_one_naming_scheme(widths, options):
    net = mlp(widths, **options)
    names = [n for layer in param_names(net.structure) for n in
             [w for row in layer.weights for w in row] + list(dict.fromkeys(b for b in layer.biases if b))]
    assert set(names) == set(net.params) and len(names) == len(net.params)


def test_generated_code_modules_form_no_import_cycle():
    def imports(module: str) -> tuple[set[str], bool]:
        tree = ast.parse((PACKAGE / f"{module}.py").read_text())
        found = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}
        nested = any(isinstance(inner, (ast.Import, ast.ImportFrom))
                     for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                     for inner in ast.walk(fn))
        return found, nested

    for module, forbidden in (("generated", {"compile", "matrix", "fitting"}), ("layout", {"compile", "matrix"}),
                              ("matrix", {"compile", "fitting"}), ("codegen", {"compile", "matrix"})):
        found, nested = imports(module)
        assert not found & forbidden, (module, found & forbidden)
        assert not nested, f"{module} imports inside a function"
    assert not (PACKAGE / "fit.py").exists()


def test_kinks_reads_the_smooth_column():
    from symgrad.functions import kinks, relu

    x, y = sympy.symbols("x y", real=True)
    expr = sympy.exp(x) * relu(y) + sympy.Max(x, y, 1) + sympy.tanh(x)
    assert set(kinks(expr)) == {relu(y), sympy.Max(x, y, 1)}
    assert kinks(sympy.sin(x) + sympy.log(y)) == ()
