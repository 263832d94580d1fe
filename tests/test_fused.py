"""The fused (numba) backend against exact values, hand-written NumPy and the NumPy kernels.

Skipped with a reason when numba is not installed; a failure when the environment variable
CI is set, because CI installs every extra (.ci/run).
"""

from __future__ import annotations

import inspect
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import compile_gradient, derive, evaluate_gradients, load, mlp, threads
from symgrad import kernels as numpy_kernels
from symgrad import fused, fused_kernels
from symgrad.cli import main
from symgrad.errors import InvalidArgument, MissingDependency
from symgrad.fitting import compile_network, dataset
from symgrad.spec import builtin_examples

from .helpers import mlp_3_4_2_batch_gradients
from .property.test_random_networks import _network, networks

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def numba():
    """numba, or a skip with the install command (a failure under CI, which installs every extra)."""
    try:
        import numba as module
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI installs every extra, but numba is missing: python -m pip install \".[fast]\"")
        pytest.skip("numba is not installed: python -m pip install \"symgrad[fast]\"")
    return module


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Fused modules go to one cache directory for the session, never the user's ~/.cache."""
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "fused-cache"))


def _exact(derivation, at=None):
    g = evaluate_gradients(derivation, at=at, digits=30)
    return float(g.values[derivation.output]), {p: float(g.gradients[p]) for p in derivation.network.params}


# -- without numba -----------------------------------------------------------------------
def test_missing_numba_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    with pytest.raises(MissingDependency, match=r'pip install "symgrad\[fast\]"') as info:
        compile_gradient(derive(load("mazur")), backend="numba")
    assert info.value.extra == "fast" and info.value.module == "numba"


def test_bad_backend_is_an_invalid_argument():
    with pytest.raises(InvalidArgument, match="backend must be 'numpy' or 'numba', got 'cuda'"):
        compile_gradient(derive(load("mazur")), backend="cuda")


def test_every_numpy_kernel_has_a_scalar_twin_that_agrees():
    numpy_names = {n for n, f in vars(numpy_kernels).items() if inspect.isfunction(f)} - {"logsumexp_rows"}
    fused_names = {n for n, f in vars(fused_kernels).items() if inspect.isfunction(f)}
    assert fused_names == numpy_names | {"fast_exp", *fused_kernels.INTRINSICS}
    grid = [-1000.0, -30.0, -1.5, -0.0, 0.0, 0.5, 2.0, 30.0, 1000.0]
    for name in ("sigmoid", "relu", "softplus", "zero_one"):
        for x in grid:
            with np.errstate(over="ignore"):
                expected = float(getattr(numpy_kernels, name)(np.float64(x)))
            assert float(getattr(fused_kernels, name)(x)) == pytest.approx(expected, rel=1e-15, abs=1e-300), (name, x)
    for args in [(1.0, 2.0), (2.0, 2.0), (-1000.0, 1000.0, 1000.0), (3.0, -1.0, 0.5)]:
        for name in ("maximum", "minimum", "logsumexp"):
            expected = float(getattr(numpy_kernels, name)(*map(np.float64, args)))
            assert float(getattr(fused_kernels, name)(*args)) == pytest.approx(expected, rel=1e-15), (name, args)
        for name in ("max_share", "min_share"):
            expected = float(getattr(numpy_kernels, name)(np.float64(args[0]), *map(np.float64, args)))
            assert float(getattr(fused_kernels, name)(args[0], *args)) == expected, (name, args)
    assert fused_kernels.heaviside(0.0, 0.5) == 0.5 and fused_kernels.heaviside(-2.0, 0.5) == 0.0


def _ulps(got, expected):
    """|got − expected| in units of the spacing at ``expected`` (NaN and inf must match exactly)."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    return np.where(same, 0.0, np.abs(got - expected) / np.spacing(np.abs(expected)))


_EXP_EDGES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, -1e-300, 1.0, -1.0, 0.5 * np.log(2.0), 709.78, 709.79,
              710.0, 1000.0, -708.4, -745.1, -745.2, -746.0, -1000.0, np.log(2.0) * 3.5, -np.log(2.0) * 3.5]


def test_fast_exp_in_python_is_within_one_ulp_of_numpy():
    rng = np.random.default_rng(7)
    xs = [*_EXP_EDGES, *rng.uniform(-745.0, 709.7, 300), *rng.uniform(-2.0, 2.0, 300)]
    with np.errstate(over="ignore", invalid="ignore"):
        worst = max(float(_ulps(fused_kernels.fast_exp(x), np.exp(x))) for x in xs)
    assert worst <= 1.0


# -- with numba --------------------------------------------------------------------------
def test_fast_exp_compiled_is_within_one_ulp_of_numpy_and_vectorised(numba, tmp_path, monkeypatch):
    """Over a million points and the edges; and (on x86-64) the loop over them runs in SIMD registers."""
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))  # compiled here, so numba keeps the assembly
    source = "\n".join([*fused.IMPORTS, *fused.kernel_lines({"fast_exp"}), "",
                        f"@{fused.JIT}", "def many(xs, out):", "    for i in range(xs.size):",
                        "        out[i] = fast_exp(xs[i])"])
    many = fused.load_module(source).many
    rng = np.random.default_rng(8)
    xs = np.concatenate([_EXP_EDGES, rng.uniform(-745.0, 709.7, 500_000), rng.uniform(-3.0, 3.0, 500_000)])
    out = np.empty_like(xs)
    many(xs, out)
    with np.errstate(over="ignore", invalid="ignore"):
        assert _ulps(out, np.exp(xs)).max() <= 1.0
    if platform.machine() in ("x86_64", "AMD64"):
        assembly = next(iter(many.inspect_asm().values()))
        assert re.search(r"\bv(fmadd|mul)\w*pd\s+%[yz]mm", assembly), "the loop over fast_exp did not vectorise"


@pytest.mark.parametrize("name", [e.name for e in builtin_examples()])
def test_every_builtin_example_agrees_with_exact_values(numba, name):
    net = load(name)
    d = derive(net)
    f = compile_gradient(d, backend="numba", reduction="sum")
    x, t = dataset(net)
    loss, grads = f({p: float(net.values[p]) for p in net.params}, x, t)
    if net.n_samples and net.n_samples > 1:  # a data set: the exact sum over its samples
        rows = [_exact(d, at={n: net.data[n][k] for n in net.data}) for k in range(net.n_samples)]
        exact_loss = sum(r[0] for r in rows)
        exact_grads = {p: sum(r[1][p] for r in rows) for p in net.params}
    else:
        exact_loss, exact_grads = _exact(d)
    assert loss == pytest.approx(exact_loss, rel=1e-13, abs=1e-15)
    for p in net.params:
        assert grads[p] == pytest.approx(exact_grads[p], rel=1e-12, abs=1e-15), p


def test_mazur_lecture_numbers(numba):
    net = load("mazur")
    f = compile_gradient(derive(net), backend="numba", reduction="sum")
    loss, grads = f(f.initial_params(net), *dataset(net))
    assert f"{loss:.9f}" == "0.298371109" and f"{grads['w5']:.9f}" == "0.082167041"


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_batch_gradients_match_hand_written_backprop(numba, reduction):
    net = mlp([3, 4, 2], seed=11)
    f = compile_network(net, form="scalar", backend="numba", reduction=reduction)
    assert f.form == "scalar" and f.backend == "numba"
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(300, 3)), rng.uniform(size=(300, 2))  # more rows than chunks
    loss, grads = f(f.initial_params(net), x, t)
    expected = mlp_3_4_2_batch_gradients(net, x, t, reduction=reduction)
    assert set(expected) == set(grads)
    np.testing.assert_allclose([grads[p] for p in expected], list(expected.values()), rtol=1e-12)


def test_agrees_with_the_numpy_module_to_a_few_ulps(numba):
    net = mlp([3, 5, 3], seed=3)
    d = derive(net)
    fused = compile_gradient(d, backend="numba", reduction="sum")
    plain = compile_gradient(d, reduction="sum")
    rng = np.random.default_rng(5)
    x, t = rng.normal(size=(1, 3)), rng.uniform(size=(1, 3))  # one row: no summation order to differ
    params = plain.initial_params(net)
    a, b = fused(params, x, t), plain(params, x, t)
    np.testing.assert_array_max_ulp(np.float64(a[0]), np.float64(b[0]), maxulp=4)
    np.testing.assert_array_max_ulp(np.array([a[1][p] for p in net.params]), np.array([b[1][p] for p in net.params]),
                                    maxulp=64)


def test_many_parameter_points_in_one_call(numba):
    net = load("mazur")
    d = derive(net)
    f = compile_gradient(d, backend="numba", reduction="sum")
    x, t = dataset(net)
    base = {p: float(net.values[p]) for p in net.params}
    P = 2 * len(net.params)  # the gradient checker's ± perturbation of every parameter
    stack = {p: np.full(P, v) for p, v in base.items()}
    for k, p in enumerate(net.params):
        stack[p][2 * k] += 1e-3
        stack[p][2 * k + 1] -= 1e-3
    result = f.many(stack, x, t)
    assert result.loss.shape == (P,) and all(g.shape == (P,) for g in result.gradients.values())
    for k in range(P):
        loss, grads = _exact(d, at={p: repr(float(stack[p][k])) for p in net.params})
        assert result.loss[k] == pytest.approx(loss, rel=1e-13)
        for p in net.params:
            assert result.gradients[p][k] == pytest.approx(grads[p], rel=1e-12), (k, p)


def test_many_broadcasts_scalars_and_refuses_bad_stacks(numba):
    net = load("mazur")
    f = compile_gradient(derive(net), backend="numba", reduction="sum")
    x, t = dataset(net)
    base = {p: float(net.values[p]) for p in net.params}
    one = f.many({**base, "w5": np.array([0.40, 0.45])}, x, t)
    assert [round(float(g), 9) for g in one.gradients["w5"]] == [0.082167041, 0.081538033]
    with pytest.raises(InvalidArgument, match="different numbers of points"):
        f.many({**base, "w5": np.zeros(2), "w6": np.zeros(3)}, x, t)
    with pytest.raises(InvalidArgument, match="'w9' is not a parameter"):
        f.many({**base, "w9": 1.0}, x, t)
    with pytest.raises(InvalidArgument, match="no value for the parameter 'w1'"):
        f.many({k: v for k, v in base.items() if k != "w1"}, x, t)


def test_refuses_what_it_does_not_compile(numba):
    with pytest.raises(InvalidArgument, match="reduction must be one of 'mean', 'sum', got 'none'"):
        compile_gradient(derive(load("mazur")), backend="numba", reduction="none")
    with pytest.raises(InvalidArgument, match="matrix form only, without scalar names; compile it with form='matrix'"):
        compile_network(mlp([80, 70, 2], scalar=False), form="scalar", backend="numba")
    assert compile_network(mlp([80, 70, 2], scalar=False), backend="numba").form == "matrix"


@pytest.mark.parametrize("loss", ["half_sse", "softmax_cross_entropy"])
def test_stable_for_pre_activations_up_to_1000(numba, loss):
    net = mlp([2, 3, 3], loss=loss, seed=2)
    f = compile_network(net, form="scalar", backend="numba")
    x = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, 1000.0], [0.0, 0.0]])
    t = np.eye(3)[[0, 1, 2, 0]]
    params = {k: np.asarray(v) * 100 for k, v in f.initial_params(net).items()}  # pre-activations in the thousands
    loss_value, grads = f(params, x, t)
    assert np.isfinite(loss_value)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_log_sigmoid_is_compiled_as_softplus(numba):
    net = symgrad.Network()
    net.input("x", 1)
    net.param("w", 1)
    net.node("E", "-log(sigmoid(w*x))")
    f = compile_gradient(derive(net), backend="numba")
    assert "softplus" in f.source and "np.log(" not in f.source
    loss, grads = f({"w": 1.0}, np.array([[-1000.0]]), np.zeros((1, 0)))
    assert loss == pytest.approx(1000.0) and grads["w"] == pytest.approx(1000.0)


def test_softmax_log_sum_exp_is_finite_at_1000(numba):
    net = mlp([2, 3], loss="softmax_cross_entropy", output_activation="identity", seed=0)
    f = compile_network(net, form="scalar", backend="numba", reduction="sum")
    x, t = np.array([[1000.0, -1000.0]]), np.array([[1.0, 0.0, 0.0]])
    params = {k: 1.0 for k in net.params}
    params.update({"w3": 2.0, "w5": -1.0})  # logits 1, 1001 and -1999
    loss, grads = f(params, x, t)
    z = np.array([sum(params[f"w{2 * j + i + 1}"] * x[0, i] for i in range(2)) + params[f"b_o{j + 1}"]
                  for j in range(3)])
    top = z.max()
    expected = top + np.log(np.sum(np.exp(z - top))) - z[0]  # log-sum-exp by hand, shifted
    assert loss == pytest.approx(expected, rel=1e-15)
    assert all(np.isfinite(g) for g in grads.values())


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(networks())
@example(_network({"x0": "0.5"}, {"w0": "-0.7"}, {"n0": "x0 * x0", "n1": "sigmoid(x0)", "n2": "n0 / (1 + (n1)**2)",
                                                  "n3": "n2 * w0"}))
def test_random_networks_agree_with_exact_values(numba, net):
    d = derive(net)
    f = compile_gradient(d, backend="numba", reduction="sum")
    x, t = dataset(net)
    loss, grads = f({p: float(net.values[p]) for p in net.params}, x, t)
    exact_loss, exact_grads = _exact(d)
    assert loss == pytest.approx(exact_loss, rel=1e-12, abs=1e-14)
    for p in net.params:
        assert grads[p] == pytest.approx(exact_grads[p], rel=1e-11, abs=1e-14), p


def test_cli_writes_a_module_that_needs_numba(numba, tmp_path):
    out = tmp_path / "grad_mazur.py"
    assert main(["compile", "mazur", "-o", str(out), "--backend", "numba", "--reduction", "sum"]) == 0
    source = out.read_text(encoding="utf-8")
    assert "from numba import njit, prange" in source and "cache=CACHE" in source
    script = ("import grad_mazur as m\n"
              "p = dict(w1=.15, w2=.2, w3=.25, w4=.3, w5=.4, w6=.45, w7=.5, w8=.55, b1=.35, b2=.6)\n"
              "loss, g = m.value_and_grad(p, [[0.05, 0.10]], [[0.01, 0.99]])\n"
              "print(f'{loss:.9f} {g[\"w5\"]:.9f}')\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.stdout.split() == ["0.298371109", "0.082167041"], run.stderr


def test_second_process_loads_the_machine_code_from_disk(numba, tmp_path):
    script = ("import numpy as np, symgrad\n"
              "net = symgrad.load('chain_sin')\n"
              "f = symgrad.compile_gradient(symgrad.derive(net), backend='numba')\n"
              "from symgrad.fitting import dataset\n"
              "print(f({p: float(net.values[p]) for p in net.params}, *dataset(net))[0])\n")
    env = {**os.environ, "SYMGRAD_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}

    def run():
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return {p: p.stat().st_mtime_ns for p in (tmp_path / "__pycache__").iterdir()}

    first = run()
    assert any(p.suffix == ".nbc" for p in first)  # machine code written to disk
    assert run() == first  # the second process read it and wrote nothing new


def test_a_written_module_loads_under_any_name(numba, tmp_path):
    """numba's cache records the module name: under another name the module compiles afresh, never fails."""
    assert main(["compile", "mazur", "--backend", "numba", "-o", str(tmp_path / "grad_mazur.py")]) == 0
    by_import = "import sys; sys.path.insert(0, sys.argv[1]); import grad_mazur as m\n"
    by_path = ("import sys, importlib.util\n"
               "spec = importlib.util.spec_from_file_location('made_up_name', sys.argv[1] + '/grad_mazur.py')\n"
               "m = importlib.util.module_from_spec(spec); sys.modules['made_up_name'] = m; spec.loader.exec_module(m)\n")
    call = ("import numpy as np\n"
            "print(m.value_and_grad({k: 0.1 for k in m.PARAMS}, np.ones((3, 2)), np.ones((3, 2)))[0])\n")
    outputs = []
    for header in (by_import, by_path, by_import):
        done = subprocess.run([sys.executable, "-c", header + call, str(tmp_path)], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert any(p.suffix == ".nbc" for p in (tmp_path / "__pycache__").iterdir())  # cached under its own name


def test_threads_change_nothing(numba):
    net = mlp([3, 4, 2], seed=11)
    f = compile_network(net, form="scalar", backend="numba", reduction="sum")
    rng = np.random.default_rng(4)
    x, t = rng.normal(size=(20_000, 3)), rng.uniform(size=(20_000, 2))  # above FUSED_PARALLEL_ROWS: prange
    theta = np.array([[float(net.values[p]) for p in f.params]])
    run_serial, run_parallel = f.function.__globals__["run_serial"], f.function.__globals__["run_parallel"]
    serial, parallel = run_serial(theta, x, t), run_parallel(theta, x, t)
    assert np.array_equal(serial[0], parallel[0]) and np.array_equal(serial[1], parallel[1])  # same chunk order
    params = {p: float(net.values[p]) for p in f.params}
    with threads.limited(numba_threads=1):  # through the public call, on one thread and on the free cores
        one = f(params, x, t)
    assert one[0] == f(params, x, t)[0] == parallel[0][0] and [one[1][p] for p in f.params] == list(parallel[1][0])
    v = {k: float(val) for k, val in net.point().items()}
    W1 = np.array([[v[f"w{j * 3 + i + 1}"] for i in range(3)] for j in range(4)])
    W2 = np.array([[v[f"w{12 + k * 4 + j + 1}"] for j in range(4)] for k in range(2)])
    b1 = np.array([v[f"b_h{j + 1}"] for j in range(4)])
    b2 = np.array([v[f"b_o{k + 1}"] for k in range(2)])
    h = 1 / (1 + np.exp(-(x @ W1.T + b1)))  # hand-written batched backprop
    o = 1 / (1 + np.exp(-(h @ W2.T + b2)))
    delta_o = (o - t) * o * (1 - o)
    grads = dict(zip(f.params, parallel[1][0]))
    np.testing.assert_allclose([[grads[f"w{12 + k * 4 + j + 1}"] for j in range(4)] for k in range(2)],
                               delta_o.T @ h, rtol=1e-11)
    assert parallel[0][0] == pytest.approx(0.5 * np.sum((t - o) ** 2), rel=1e-12)


def test_the_row_loop_runs_in_simd_lanes(numba, tmp_path, monkeypatch):
    """A deterministic cost measure: the 2-2-2 row loop compiles to packed (SIMD) double arithmetic."""
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"the check reads x86-64 assembly; this machine is {platform.machine()}")
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path))  # compiled here, so numba keeps the assembly
    f = compile_network(mlp([2, 2, 2], seed=3), backend="numba", reduction="sum")
    chunk_sums = f.function.__globals__["chunk_sums"]
    f(f.initial_params(mlp([2, 2, 2], seed=3)), np.zeros((40, 2)), np.zeros((40, 2)))
    assembly = "\n".join(chunk_sums.inspect_asm().values())
    packed = re.findall(r"\bv(?:fmadd|fnmadd|fmsub|mul|add|sub|div)\w*pd\s+%[yz]mm", assembly)
    assert len(packed) >= 40, f"only {len(packed)} packed double operations: the lane loop did not vectorise"


# -- the matrix form: BLAS products, fused elementwise passes ----------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matrix_form_matches_hand_written_backprop(numba, reduction):
    net = mlp([3, 4, 2], seed=11)
    f = compile_network(net, form="matrix", backend="numba", reduction=reduction)
    assert f.form == "matrix" and "def forward_1(f, b):" in f.source
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(64, 3)), rng.uniform(size=(64, 2))
    loss, grads = f(f.initial_params(net), x, t)
    ours = f.scalar_gradients(net, grads)
    expected = mlp_3_4_2_batch_gradients(net, x, t, reduction=reduction)
    np.testing.assert_allclose([ours[p] for p in expected], list(expected.values()), rtol=1e-12)


@pytest.mark.parametrize("options", [
    dict(activation="tanh", loss="half_sse"),
    dict(activation="relu", loss="l1", output_activation="identity"),
    dict(activation="leaky_relu", loss="hinge", output_activation="identity"),
    dict(activation="sigmoid", loss="sse", bias="layer", l2="0.01"),
    dict(activation="identity", loss="half_sse", bias="none"),
    dict(activation="sigmoid", loss="mse"),  # the mean over the K = 2 outputs, loss value included
], ids=lambda o: "-".join(map(str, o.values())))
def test_matrix_form_agrees_with_exact_values(numba, options):
    """Every activation and per-output loss, against the exact gradient summed sample by sample."""
    net = mlp([3, 4, 2], seed=5, **options)
    f = compile_network(net, form="matrix", backend="numba", reduction="sum")
    rng = np.random.default_rng(1)
    x, t = rng.normal(size=(5, 3)), rng.choice([-1.0, 1.0], (5, 2))
    loss, grads = f(f.initial_params(net), x, t)
    ours = f.scalar_gradients(net, grads)
    d = derive(net)
    rows = [_exact(d, at={**{n: float(x[k, i]) for i, n in enumerate(net.inputs)},
                          **{n: float(t[k, i]) for i, n in enumerate(net.targets)}}) for k in range(len(x))]
    assert loss == pytest.approx(sum(r[0] for r in rows), rel=1e-12)  # each sample's loss has the L2 term
    for p in net.params:
        assert ours[p] == pytest.approx(sum(r[1][p] for r in rows), rel=1e-11, abs=1e-13), p


def test_matrix_form_agrees_with_the_numpy_matrix_form_to_a_few_ulps_on_784_100_10(numba):
    net = mlp([784, 100, 10], scalar=False)
    fused_f = compile_network(net, form="matrix", backend="numba", reduction="sum")
    numpy_f = compile_network(net, form="matrix", reduction="sum")
    rng = np.random.default_rng(3)
    x, t = rng.uniform(size=(256, 784)), rng.uniform(size=(256, 10))
    params = numpy_f.initial_params(net)
    a, b = fused_f(params, x, t), numpy_f(params, x, t)
    np.testing.assert_array_max_ulp(np.float64(a[0]), np.float64(b[0]), maxulp=64)
    for name in params:
        np.testing.assert_allclose(a[1][name], b[1][name], rtol=1e-11, atol=1e-14 * np.abs(b[1][name]).max())
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    h = 1 / (1 + np.exp(-(x @ W1.T + b1)))  # hand-written batched backprop
    o = 1 / (1 + np.exp(-(h @ W2.T + b2)))
    delta_o = (o - t) * o * (1 - o)
    np.testing.assert_allclose(a[1]["W2"], delta_o.T @ h, rtol=1e-10)
    np.testing.assert_allclose(a[1]["b1"], ((delta_o @ W2) * h * (1 - h)).sum(axis=0), rtol=1e-10)


def test_matrix_form_threads_change_nothing_and_it_is_stable_at_1000(numba):
    net = mlp([2, 3, 3], seed=2)
    f = compile_network(net, form="matrix", backend="numba")
    x = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, 1000.0], [0.0, 0.0]] * 50)
    t = np.tile(np.eye(3)[[0, 1, 2, 0]], (50, 1))
    params = {k: v * 10 for k, v in f.initial_params(net).items()}
    numba.set_num_threads(1)
    try:
        one = f(params, x, t)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    every = f(params, x, t)
    assert one[0] == every[0] and all(np.array_equal(one[1][k], every[1][k]) for k in params)
    assert np.isfinite(every[0]) and all(np.isfinite(g).all() for g in every[1].values())


def test_matrix_form_refusals(numba):
    with pytest.raises(InvalidArgument, match="softmax cross-entropy .* use backend='numpy'"):
        compile_network(mlp([2, 3, 3], loss="softmax_cross_entropy"), form="matrix", backend="numba")
    with pytest.raises(InvalidArgument, match="dense network built by mlp"):
        compile_gradient(derive(load("mazur")), form="matrix", backend="numba")
    f = compile_network(mlp([2, 2, 2]), form="matrix", backend="numba")
    with pytest.raises(InvalidArgument, match="need the scalar form"):
        f.many({}, np.zeros((1, 2)), np.zeros((1, 2)))


def test_names_of_the_fused_module_itself_cannot_be_shadowed(numba):
    """Symbols named like the fused module's kernels, intrinsics and loop variables stay the user's."""
    from symgrad.spec import loads

    net = loads('output = "E"\n[symbols]\ninputs = ["fast_exp", "scratch"]\ntargets = ["lane"]\n'
                'params = ["double_from_bits", "width", "base", "LANES", "k"]\n[values]\nfast_exp = 0.5\n'
                'scratch = -0.3\nlane = 1.0\ndouble_from_bits = 0.2\nwidth = -0.4\nbase = 0.1\nLANES = 0.7\nk = 0.3\n'
                '[nodes]\nz = "double_from_bits*fast_exp + width*scratch + base"\ny = "sigmoid(z)*LANES + exp(k)"\n'
                'E = "(y - lane)**2"\n')
    d = derive(net)
    loss, grads = compile_gradient(d, backend="numba", reduction="sum")(
        {p: float(net.values[p]) for p in net.params}, np.array([[0.5, -0.3]]), np.array([[1.0]]))
    exact_loss, exact = _exact(d)
    assert loss == pytest.approx(exact_loss, rel=1e-14)
    assert all(grads[p] == pytest.approx(exact[p], rel=1e-13) for p in net.params)


@st.composite
def _dense(draw):
    widths = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    return mlp(widths, activation=draw(st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu", "identity"])),
               output_activation=draw(st.sampled_from([None, "identity", "sigmoid"])),
               loss=draw(st.sampled_from(["half_sse", "sse", "l1", "hinge"])),
               bias=draw(st.sampled_from(["neuron", "layer", "none"])), seed=draw(st.integers(0, 99)))


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_dense())
def test_random_dense_networks_in_matrix_form_agree_with_exact_values(numba, net):
    f = compile_network(net, form="matrix", backend="numba", reduction="sum")
    rng = np.random.default_rng(6)
    x, t = rng.normal(size=(3, len(net.inputs))), rng.choice([-1.0, 1.0], (3, len(net.targets)))
    loss, grads = f(f.initial_params(net), x, t)
    ours = f.scalar_gradients(net, grads)
    d = derive(net)
    rows = [_exact(d, at={**{n: float(x[k, i]) for i, n in enumerate(net.inputs)},
                          **{n: float(t[k, i]) for i, n in enumerate(net.targets)}}) for k in range(len(x))]
    assert loss == pytest.approx(sum(r[0] for r in rows), rel=1e-12, abs=1e-14)
    for p in net.params:
        assert ours[p] == pytest.approx(sum(r[1][p] for r in rows), rel=1e-11, abs=1e-13), p


def test_networks_above_the_size_get_the_matrix_form_whose_kernels_do_not_grow(numba):
    """A cold JIT costs about 50 ms a parameter in the scalar form's one row function; above
    limits.FUSED_SCALAR_MAX_PARAMS a dense network gets the matrix form, whose source (what numba
    compiles) is the same length for any width, and the gradient is still the exact one."""
    from symgrad.compile import fused_form
    from symgrad.limits import FUSED_SCALAR_MAX_PARAMS
    from symgrad.fused_matrix import fused_matrix_source
    small, big = mlp([2, 2, 2]), mlp([4, 8, 8, 8, 4], seed=2)
    assert len(small.params) <= FUSED_SCALAR_MAX_PARAMS < len(mlp([4, 8, 4]).params)
    assert [fused_form(n) for n in (small, mlp([4, 8, 4]), big)] == ["scalar", "matrix", "matrix"]
    assert fused_form(big, "scalar") == "scalar" and fused_form(derive(big)) == "scalar"  # as asked, as given
    assert fused_form(mlp([4, 8, 8, 8, 4], loss="softmax_cross_entropy")) == "scalar"  # the matrix form refuses it
    lines = {w: len(fused_matrix_source(mlp([4, w, w, w, 4], scalar=False))[0].splitlines()) for w in (8, 64)}
    assert lines[8] == lines[64] < 400
    assert len(fused.fused_source(derive(big)).splitlines()) > 700  # what the scalar form would have compiled
    f = compile_network(big, backend="numba", reduction="sum")
    assert f.form == "matrix"
    rng = np.random.default_rng(4)
    x, t = rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))
    loss, grads = f(f.initial_params(big), x, t)
    ours = f.scalar_gradients(big, grads)
    d = derive(big)
    rows = [_exact(d, at={**{n: float(x[k, i]) for i, n in enumerate(big.inputs)},
                          **{n: float(t[k, i]) for i, n in enumerate(big.targets)}}) for k in range(len(x))]
    assert loss == pytest.approx(sum(r[0] for r in rows), rel=1e-12)
    for p in list(big.params)[::37]:
        assert ours[p] == pytest.approx(sum(r[1][p] for r in rows), rel=1e-11, abs=1e-13), p


def _sigmoid_chain(depth: int) -> symgrad.Network:
    """A hand-written graph (not an mlp): x through ``depth`` sigmoid units, one weight and bias each."""
    return symgrad.loads(_sigmoid_chain_spec(depth))


def _sigmoid_chain_spec(depth: int) -> str:
    params = [f"{k}{i}" for i in range(1, depth + 1) for k in ("w", "b")]
    nodes = [f'a1 = "w1*x + b1"', 'f1 = "sigmoid(a1)"']
    for i in range(2, depth + 1):
        nodes += [f'a{i} = "w{i}*f{i - 1} + b{i}"', f'f{i} = "sigmoid(a{i})"']
    values = [f"{p} = {0.1 * (k % 7) - 0.3}" for k, p in enumerate(params)]
    return "\n".join(['output = "L"', "[symbols]", 'inputs = ["x"]', 'targets = ["y"]',
                      f"params = {params!r}".replace("'", '"'), "[values]", "x = 0.5", "y = 0.8",
                      *values, "[nodes]", *nodes, f'L = "1/2*(y - f{depth})**2"'])


def test_jit_cost_counts_an_inlined_kernel_at_every_call():
    """numba types an inline="always" kernel's body anew at each call: the cost counts it each time."""
    from symgrad.fused_module import JIT, JIT_KERNEL, jit_cost
    source = "\n".join(["import numpy as np", f"@{JIT_KERNEL}", "def k(x):", "    return x*x + 1.0",
                        f"@{JIT}", "def plain(x):", "    return x*x + 1.0",
                        f"@{JIT}", "def once(x):", "    return k(x)", f"@{JIT}", "def twice(x):", "    return k(k(x))",
                        f"@{JIT}", "def other(x):", "    return plain(plain(x))"])
    one_call = 3  # the extra call's nodes: Call, Name k and its Load context
    assert jit_cost(source, "twice") - jit_cost(source, "once") == jit_cost(source, "k") + one_call
    # a function compiled on its own: each call costs its call's nodes only
    assert jit_cost(source, "other") == jit_cost(source, "twice") - 2 * jit_cost(source, "k")


def test_every_builtin_example_keeps_the_fused_scalar_form_within_the_jit_cost():
    """The deterministic cost measure behind the ≤ 5 s cold first call (docs/performance.md §6)."""
    from symgrad.compile import fused_form
    from symgrad.fused_module import jit_cost
    from symgrad.limits import FUSED_JIT_MAX_COST
    costs = {e.name: jit_cost(fused.fused_source(derive(load(e.name)))) for e in builtin_examples()}
    assert {name for name, cost in costs.items() if cost > FUSED_JIT_MAX_COST} == {"mlp_3_4_2"}, costs
    assert fused_form(load("mlp_3_4_2")) == "matrix"  # an [mlp]: its matrix form, not NumPy
    assert jit_cost(fused.fused_source(derive(mlp([2, 2, 2])))) < jit_cost(fused.fused_source(derive(mlp([4, 8, 4]))))
    assert jit_cost(fused.fused_source(derive(mlp([4, 8, 4])))) > FUSED_JIT_MAX_COST
    assert fused_form(mlp([3, 4, 3])) == "matrix"  # 31 parameters, but its row costs more than the limit
    assert jit_cost(fused.fused_source(derive(mlp([3, 4, 3])))) > FUSED_JIT_MAX_COST
    chain = [jit_cost(fused.fused_source(derive(_sigmoid_chain(n)))) for n in (4, 8, 16)]
    assert chain[2] - chain[1] == 2 * (chain[1] - chain[0])  # linear in the graph: no hidden blow-up


def test_a_graph_over_the_jit_cost_takes_the_numpy_scalar_form_with_exact_values(numba):
    from symgrad.fused_module import jit_cost
    from symgrad.limits import FUSED_JIT_MAX_COST
    net = _sigmoid_chain(12)
    d = derive(net)
    assert jit_cost(fused.fused_source(d)) > FUSED_JIT_MAX_COST
    for what in (net, d):
        f = compile_gradient(what, backend="numba", reduction="sum")
        assert (f.form, f.backend) == ("scalar", "numpy") and "FUSED_JIT_MAX_COST" in f.note
        assert "numba" not in f.source  # a NumPy module: nothing to JIT
        loss, grads = f(f.initial_params(net), [[0.5]], [[0.8]])
        exact_loss, exact_grads = _exact(d)
        assert loss == pytest.approx(exact_loss, rel=1e-13)
        for p in net.params:
            assert grads[p] == pytest.approx(exact_grads[p], rel=1e-12, abs=1e-16), p
    points = f.many({"w1": np.array([0.2, -0.4]), **{p: float(net.values[p]) for p in net.params if p != "w1"}},
                    [[0.5]], [[0.8]])
    for k, w1 in enumerate((0.2, -0.4)):
        exact_loss, exact_grads = _exact(d, at={"w1": repr(w1)})
        assert points.loss[k] == pytest.approx(exact_loss, rel=1e-13)
        assert points.gradients["b12"][k] == pytest.approx(exact_grads["b12"], rel=1e-12)
    small = compile_gradient(_sigmoid_chain(3), backend="numba")
    assert (small.backend, small.note) == ("numba", "")


def test_cli_says_why_it_wrote_a_numpy_module(numba, tmp_path, capsys):
    spec = tmp_path / "chain.toml"
    spec.write_text(_sigmoid_chain_spec(12), encoding="utf-8")
    out = tmp_path / "grad_chain.py"
    assert main(["compile", str(spec), "-o", str(out), "--backend", "numba", "--reduction", "sum"]) == 0
    said = capsys.readouterr().out
    assert "NumPy scalar form" in said and "FUSED_JIT_MAX_COST" in said and "--form scalar" in said
    net = _sigmoid_chain(12)
    script = ("import grad_chain as m\n"
              f"loss, g = m.value_and_grad({dict(net.values)!r}, [[0.5]], [[0.8]])\n"
              "print(repr(loss), repr(g['w1']))\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    loss, w1 = map(float, run.stdout.split())
    exact_loss, exact_grads = _exact(derive(net))
    assert loss == pytest.approx(exact_loss, rel=1e-13) and w1 == pytest.approx(exact_grads["w1"], rel=1e-12)
