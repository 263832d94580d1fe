"""Compiled NumPy gradients: against references, stable at extremes, readable and standalone."""

from __future__ import annotations

import linecache
import re
import subprocess
import sys
import traceback

import numpy as np
import pytest

import symgrad
from symgrad import compile_gradient, derive, load, mlp
from symgrad.cli import main
from symgrad.fitting import compile_network, dataset, fit

from .helpers import mlp_3_4_2_batch_gradients


def _finite_difference(compiled, params, x, t, name, index=(), h=1e-6):
    up = {k: np.array(v, dtype=float) for k, v in params.items()}
    down = {k: np.array(v, dtype=float) for k, v in params.items()}
    up[name][index] += h
    down[name][index] -= h
    return (compiled(up, x, t)[0] - compiled(down, x, t)[0]) / (2 * h)


def test_mazur_compiled_matches_the_lecture():
    net = load("mazur")
    f = compile_gradient(derive(net), reduction="sum")
    loss, grads = f(f.initial_params(net), *dataset(net))
    assert f"{loss:.9f}" == "0.298371109"
    assert f"{grads['w5']:.9f}" == "0.082167041"


@pytest.mark.parametrize("form", ["scalar", "matrix"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_batch_gradients_match_hand_written_backprop(form, reduction):
    widths = [3, 4, 2]
    net = mlp(widths, seed=11)
    f = compile_network(net, form=form, reduction=reduction)
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(64, 3)), rng.uniform(size=(64, 2))
    loss, grads = f(f.initial_params(net), x, t)
    ours = f.scalar_gradients(net, grads)
    expected = mlp_3_4_2_batch_gradients(net, x, t, reduction=reduction)
    assert set(expected) == set(ours)
    np.testing.assert_allclose([ours[p] for p in expected], list(expected.values()), rtol=1e-12)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
@pytest.mark.parametrize("options", [
    dict(activation="tanh", loss="softmax_cross_entropy"),
    dict(activation="relu", loss="l1", output_activation="identity"),
    dict(activation="leaky_relu", loss="hinge", output_activation="identity"),
    dict(activation="sigmoid", loss="sse", bias="layer", l2="0.01"),
    dict(activation="identity", loss="half_sse", bias="none"),
], ids=lambda o: "-".join(map(str, o.values())))
def test_gradients_match_finite_differences(form, options):
    net = mlp([3, 5, 4, 2], seed=5, **options)
    f = compile_network(net, form=form)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 3))
    t = np.eye(2)[rng.integers(0, 2, 16)] if options["loss"] == "softmax_cross_entropy" else rng.choice([-1.0, 1.0], (16, 2))
    params = f.initial_params(net)
    _, grads = f(params, x, t)
    for name, value in params.items():
        for index in np.ndindex(np.shape(value)):
            fd = _finite_difference(f, params, x, t, name, index)
            assert np.asarray(grads[name])[index] == pytest.approx(fd, rel=1e-5, abs=1e-8), (name, index)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
@pytest.mark.parametrize("loss", ["half_sse", "softmax_cross_entropy"])
def test_stable_for_pre_activations_up_to_1000(form, loss):
    net = mlp([2, 3, 3], loss=loss, seed=2)
    f = compile_network(net, form=form)
    x = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, 1000.0], [0.0, 0.0]])
    t = np.eye(3)[[0, 1, 2, 0]]
    params = {k: np.asarray(v) * 100 for k, v in f.initial_params(net).items()}  # pre-activations in the thousands
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss_value, grads = f(params, x, t)
    assert np.isfinite(loss_value)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_log_sigmoid_is_compiled_as_softplus():
    net = symgrad.Network()
    net.input("x", 1)
    net.param("w", 1)
    net.node("E", "-log(sigmoid(w*x))")
    f = compile_gradient(derive(net))
    assert "softplus" in f.source and "np.log(" not in f.source
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, grads = f({"w": 1.0}, np.array([[-1000.0]]), np.zeros((1, 0)))
    assert loss == pytest.approx(1000.0) and grads["w"] == pytest.approx(1000.0)


def test_generated_source_is_readable_and_registered_for_tracebacks():
    f = compile_gradient(derive(load("mazur")))
    for name in ("out_h1 = sigmoid(net_h1)", "delta_net_o1 =", "'w5': scale * dot_total(delta_net_o1, out_h1, batch)"):
        assert name in f.source
    assert linecache.getline(f.filename, 1) == f.source.splitlines(True)[0]
    with pytest.raises(KeyError) as exc:
        f({"w1": 0.1}, np.ones((1, 2)), np.ones((1, 2)))
    frames = traceback.extract_tb(exc.value.__traceback__)
    assert frames[-1].filename == f.filename and "params['w2']" in frames[-1].line


@pytest.mark.parametrize("spec, form", [("mazur", None), ("mlp_3_4_2", None), ("mlp_3_4_2", "scalar")])
def test_standalone_module_needs_only_numpy(tmp_path, spec, form):
    out = tmp_path / "grad_module.py"
    assert main(["compile", spec, "-o", str(out)] + (["--form", form] if form else [])) == 0
    script = f"""
import sys
sys.modules["sympy"] = None  # importing sympy would fail
sys.path.insert(0, {str(tmp_path)!r})
import numpy as np, grad_module as m
params = {{k: np.full(s, 0.1) for k, s in m.PARAMS.items()}}
loss, grads = m.value_and_grad(params, np.ones((5, m.N_INPUTS)), np.ones((5, m.N_TARGETS)) / 2)
assert set(grads) == set(m.PARAMS) and all(np.shape(grads[k]) == m.PARAMS[k] for k in m.PARAMS)
assert "mean over the batch" in m.value_and_grad.__doc__
print(loss)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _operation_count(source: str) -> int:
    body = source.split("def value_and_grad", 1)[1]
    return len(re.findall(r"[-+*/@]|\w+\(", body))


def test_operation_count_grows_linearly_with_network_size():
    """Deterministic cost: operations per parameter stay bounded as depth and width double."""
    per_param = {}
    for widths in ([4, 4, 4], [4, 8, 4], [4, 8, 8, 4], [4, 16, 16, 4], [4, 16, 16, 16, 16, 4]):
        net = mlp(widths)
        f = compile_gradient(derive(net))
        per_param[tuple(widths)] = _operation_count(f.source) / len(net.params)
    values = list(per_param.values())
    assert max(values) <= 1.5 * min(values), per_param
    assert max(values) < 12, per_param


def test_training_loops_on_compiled_code():
    net = load("perceptron")
    f = compile_network(net)
    x, t = dataset(net)
    full = fit(f, f.initial_params(net), x, t, steps=150, learning_rate=0.01)
    assert abs(float(full.params["w"]) - 2356 / 2345) < 1e-12
    assert len(full.losses) == 150 and full.losses[-1] < full.losses[0]
    sgd = fit(f, f.initial_params(net), x, t, steps=400, learning_rate=0.002, batch_size=2, seed=3)
    again = fit(f, f.initial_params(net), x, t, steps=400, learning_rate=0.002, batch_size=2, seed=3)
    assert np.array_equal(sgd.losses, again.losses)  # seeded: the same run twice
    assert abs(float(sgd.params["w"]) - 2356 / 2345) < 1e-2


def test_progress_bar_only_on_a_terminal(capsys):
    net = load("perceptron")
    f = compile_network(net)
    fit(f, f.initial_params(net), *dataset(net), steps=200, learning_rate=0.01)
    assert capsys.readouterr().err == ""  # not a terminal under pytest


def test_train_cli(capsys):
    assert main(["train", "perceptron", "--steps", "150"]) == 0
    out = capsys.readouterr().out
    assert "w = 1.00469083155" in out
    assert main(["train", "two_neurons", "--steps", "3"]) == 2
    assert "no learning rate" in capsys.readouterr().err


def test_description_cannot_inject_code_into_generated_modules(tmp_path):
    marker = tmp_path / "pwned"
    spec = f'''description = """x\\"\\"\\"; import os; os.system("touch {marker}"); \\"\\"\\" """
[symbols]
inputs = ["x"]
params = ["w"]
[values]
x = 1
w = 2
[nodes]
f = "w*x"
'''
    net = symgrad.loads(spec)
    f = compile_gradient(derive(net))
    assert f({"w": 2.0}, np.ones((1, 1)), np.zeros((1, 0)))[0] == 2.0
    assert not marker.exists()
    assert 'os.system("touch' in f.function.__doc__  # the text is kept, as inert data
