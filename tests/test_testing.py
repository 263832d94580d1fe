"""symgrad.testing: the assertion passes a correct hand-written backprop, names the wrong
parameter first for a wrong one, and the property runner shrinks a bug to a small network.

The reference backprop below is plain NumPy written from the lecture's equations; the
lecture's printed numbers pin the exact column of the table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, settings

import symgrad
import symgrad.strategies
import symgrad.testing
from symgrad.strategies import networks
from symgrad.testing import Batch, GradientMismatch, assert_gradients_match, property_test_backprop

ROOT = Path(__file__).resolve().parent.parent
QUICK = settings(max_examples=15, derandomize=True, database=None, phases=[Phase.generate, Phase.shrink])

ACTIVATIONS = {  # activation, and its derivative from (pre-activation z, activation h)
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, h: h * (1 - h)),
    "tanh": (np.tanh, lambda z, h: 1 - h * h),
    "identity": (lambda z: z, lambda z, h: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, h: (z > 0) * 1.0),
}
LOSS_GRADIENTS = {"half_sse": lambda y, t: y - t, "sse": lambda y, t: 2 * (y - t)}


def reference_backprop(Ws, bs, X, T, *, activation="sigmoid", loss="half_sse", reduction="mean"):
    """Rows are samples: z = h Wᵀ + b, δ_L = ∂ℓ/∂y ⊙ act′, δ_l = (δ_{l+1} W_{l+1}) ⊙ act′."""
    f, df = ACTIVATIONS[activation]
    hs, zs = [X], []
    for W, b in zip(Ws, bs):
        zs.append(hs[-1] @ W.T + (0 if b is None else b))
        hs.append(f(zs[-1]))
    delta = LOSS_GRADIENTS[loss](hs[-1], T) * df(zs[-1], hs[-1])
    if reduction == "mean":
        delta = delta / len(X)
    dWs, dbs = [], []
    for layer in reversed(range(len(Ws))):
        dWs.insert(0, delta.T @ hs[layer])
        b = bs[layer]
        dbs.insert(0, None if b is None else (delta.sum() if np.ndim(b) == 0 else delta.sum(axis=0)))
        if layer:
            delta = (delta @ Ws[layer]) * df(zs[layer - 1], hs[layer])
    return dWs, dbs


def leaves_backprop(widths, bias, **options):
    """The same backprop in the leaves convention, reading the documented mlp naming scheme."""

    def grad_fn(values):
        Ws, bs, names, k = [], [], [], 1
        for layer, (m, n) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            Ws.append(np.array([[values[f"w{k + j * m + i}"] for i in range(m)] for j in range(n)]))
            names.append([[f"w{k + j * m + i}" for i in range(m)] for j in range(n)])
            k += n * m
            bs.append(np.float64(values[f"b{layer}"]) if bias == "layer" else None)
        X = np.array([[values[f"i{i}"] for i in range(1, widths[0] + 1)]])
        T = np.array([[values[f"t{i}"] for i in range(1, widths[-1] + 1)]])
        dWs, dbs = reference_backprop(Ws, bs, X, T, **options)
        grads = {name: dW[j, i] for dW, rows in zip(dWs, names) for j, row in enumerate(rows) for i, name in
                 enumerate(row)}
        grads |= {f"b{layer}": float(db) for layer, db in enumerate(dbs, start=1) if db is not None}
        return grads

    return grad_fn


MAZUR = leaves_backprop([2, 2, 2], "layer")


# -- the assertion -----------------------------------------------------------------------
def test_the_lecture_network_passes():
    assert_gradients_match(MAZUR, symgrad.load("mazur"))


def test_a_wrong_gradient_is_named_first_with_the_lectures_exact_value():
    def wrong_w5(values):
        return MAZUR(values) | {"w5": 0.09}

    with pytest.raises(GradientMismatch) as caught:
        assert_gradients_match(wrong_w5, symgrad.load("mazur"))
    failure = caught.value
    assert isinstance(failure, AssertionError)
    assert failure.rows[0].parameter == "w5" and not failure.rows[0].ok
    assert all(row.ok for row in failure.rows[1:])
    assert symgrad.to_decimal(failure.rows[0].expected, 8) == "0.082167041"  # the lecture's printed ∂E/∂w5
    lines = str(failure).splitlines()
    assert lines[0].split()[:6] == ["parameter", "expected", "(exact)", "received", "error", "ratio"]
    assert lines[11].startswith("1 of 10 gradients of ")  # the table comes first, the headline after its 10 rows
    name, expected, received = lines[1].split()[:3]
    assert (name, expected[:10], received) == ("w5", "0.08216704", "0.09")


def test_point_none_means_the_networks_own_values_and_point_overrides_them():
    net = symgrad.mlp([2, 2, 2], bias="layer", seed=3)
    seen = []

    def spy(values):
        seen.append(values)
        return leaves_backprop([2, 2, 2], "layer")(values)

    assert_gradients_match(spy, net)
    assert seen[-1] == {name: float(value) for name, value in net.point().items()}
    assert_gradients_match(spy, net, {"w1": 0.5, "i2": -0.25})
    assert seen[-1]["w1"] == 0.5 and seen[-1]["i2"] == -0.25

    def stale(values):  # ignores the point it is given
        return spy({name: float(value) for name, value in net.point().items()})

    with pytest.raises(GradientMismatch):
        assert_gradients_match(stale, net, {"w1": 0.5})


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "identity", "relu"])
@pytest.mark.parametrize("bias", ["neuron", "layer", "none"])
def test_the_layers_convention_over_a_batch(activation, bias):
    net = symgrad.mlp([3, 2, 2], activation=activation, bias=bias, seed=1)
    batch = Batch(np.array([[0.5, -0.25, 1.0], [0.1, 0.2, 0.3], [-1.0, 0.75, 0.0]]),
                  np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.25]]))
    for reduction in ("mean", "sum"):
        def backprop(Ws, bs, X, T):
            return reference_backprop(Ws, bs, X, T, activation=activation, reduction=reduction)

        assert_gradients_match(backprop, net, batch=batch, reduction=reduction)


def test_the_mean_forgotten_is_caught_only_with_more_than_one_sample():
    net = symgrad.mlp([2, 2, 1], seed=2)

    def summed(Ws, bs, X, T):
        return reference_backprop(Ws, bs, X, T, reduction="sum")

    assert_gradients_match(summed, net)  # one sample: the mean is the sum
    batch = Batch(np.array([[0.5, 0.25], [0.1, -0.2]]), np.array([[0.3], [0.9]]))
    with pytest.raises(GradientMismatch, match="batch of 2, mean over the batch") as caught:
        assert_gradients_match(summed, net, batch=batch)
    row = caught.value.rows[0]
    assert row.received == pytest.approx(2 * float(row.expected), rel=1e-12)
    assert re.match(r"\w+ = [Wb]\d", row.parameter)


def test_float32_gradients_are_judged_at_float32_precision():
    net = symgrad.mlp([2, 3, 1], seed=5)

    def in_float32(Ws, bs, X, T):
        dWs, dbs = reference_backprop([W.astype(np.float32) for W in Ws], [b.astype(np.float32) for b in bs],
                                      X.astype(np.float32), T.astype(np.float32))
        return dWs, dbs

    assert_gradients_match(in_float32, net)  # float32 rounding is not a bug

    def off_by_1e5(Ws, bs, X, T):
        dWs, dbs = reference_backprop(Ws, bs, X, T)
        return [dW * (1 + 1e-5) for dW in dWs], dbs

    with pytest.raises(GradientMismatch):  # in float64 it is
        assert_gradients_match(off_by_1e5, net)


@pytest.mark.parametrize("returned, message", [
    (lambda v: [1.0], "expected a dict of gradients"),
    (lambda v: {"w1": 0.0}, "missing 'b_o1'"),
    (lambda v: {"w1": 0.0, "b_o1": 0.0, "i1": 0.0}, "not parameters 'i1'"),
    (lambda v: {"w1": "0.1", "b_o1": 0.0}, "the gradient for 'w1' is '0.1'; expected a real number"),
    (lambda v: {"w1": np.zeros(2), "b_o1": 0.0}, "expected a real number"),
])
def test_what_a_leaves_function_returns_is_checked(returned, message):
    with pytest.raises(GradientMismatch, match=re.escape(message)):
        assert_gradients_match(returned, symgrad.mlp([1, 1]))


@pytest.mark.parametrize("returned, message", [
    (lambda Ws, bs, X, T: Ws[0], "expected a pair (dWs, dbs)"),
    (lambda Ws, bs, X, T: (Ws[0], bs), "grad_fn returned dWs of type ndarray"),
    (lambda Ws, bs, X, T: (Ws[:1], bs), "expected a list of 2 arrays, one per layer"),
    (lambda Ws, bs, X, T: ([W.T for W in Ws], bs), "dWs[0] of shape (2, 3); the matrix form's W1 has shape (3, 2)"),
    (lambda Ws, bs, X, T: (Ws, [b[:, None] for b in bs]), "dbs[0] of shape (3, 1); the matrix form's b1 has shape (3,)"),
])
def test_what_a_layers_function_returns_is_checked(returned, message):
    with pytest.raises(GradientMismatch, match=re.escape(message)):
        assert_gradients_match(returned, symgrad.mlp([2, 3, 1]))


def test_a_non_finite_gradient_is_the_worst_row():
    def nan_w2(values):
        return MAZUR(values) | {"w2": float("nan")}

    with pytest.raises(GradientMismatch) as caught:
        assert_gradients_match(nan_w2, symgrad.load("mazur"))
    assert caught.value.rows[0].parameter == "w2" and caught.value.rows[0].error == float("inf")


def test_the_table_shows_the_worst_rows_and_counts_the_rest():
    net = symgrad.mlp([4, 5, 3], seed=1)  # 43 parameters
    with pytest.raises(GradientMismatch) as caught:
        assert_gradients_match(lambda v: {p: 1.0 for p in net.params}, net)
    text = str(caught.value)
    assert f"\n  ... and {43 - symgrad.limits.MAX_TABLE_ROWS} more\n" in text
    errors = [row.error for row in caught.value.rows]
    assert errors == sorted(errors, reverse=True)


@pytest.mark.parametrize("call, message", [
    (lambda: assert_gradients_match(MAZUR, symgrad.load("mazur"), convention="columns"), "convention='columns'"),
    (lambda: assert_gradients_match(MAZUR, symgrad.load("mazur"), reduction="avg"), "reduction='avg'"),
    (lambda: assert_gradients_match(MAZUR, symgrad.load("mazur"), ulps=-1), "ulps=-1"),
    (lambda: assert_gradients_match(MAZUR, symgrad.load("mazur"), digits=0), "digits=0"),
    (lambda: assert_gradients_match(lambda a, b: {}, symgrad.load("mazur")), "cannot tell the convention"),
    (lambda: assert_gradients_match(MAZUR, symgrad.load("mazur"), batch=Batch(np.zeros((1, 2)), np.zeros((1, 2)))),
     "batch= needs convention='layers'"),
    (lambda: assert_gradients_match(reference_backprop, symgrad.load("mazur")), "needs a dense network built by mlp"),
    (lambda: assert_gradients_match(reference_backprop, symgrad.mlp([2, 1]), batch=Batch(np.zeros((2, 3)),
                                                                                     np.zeros((2, 1)))),
     "batch shapes (2, 3) and (2, 1) do not fit 2 inputs and 1 targets"),
    (lambda: property_test_backprop(MAZUR, networks="mlp"), "networks='mlp': give a Hypothesis strategy"),
])
def test_bad_options_are_invalid_arguments(call, message):
    with pytest.raises(symgrad.InvalidArgument, match=re.escape(message)):
        call()


# -- the property runner -----------------------------------------------------------------
def test_check_gradients_passes_a_correct_backprop():
    property_test_backprop(lambda Ws, bs, X, T: reference_backprop(Ws, bs, X, T, activation="tanh"),
                    networks=networks(max_depth=3, activations=("tanh",), losses=("half_sse",)), settings=QUICK)


def test_check_gradients_shrinks_a_bug_to_the_smallest_network():
    def bias_sign_flipped(Ws, bs, X, T):
        dWs, dbs = reference_backprop(Ws, bs, X, T)
        return dWs, [None if db is None else -db for db in dbs]

    with pytest.raises(GradientMismatch) as caught:
        property_test_backprop(bias_sign_flipped, networks=networks(activations=("sigmoid",), losses=("half_sse",)),
                        settings=QUICK)
    headline = next(line for line in str(caught.value).splitlines() if " gradients of " in line)
    assert "mlp([1, 1], activation='sigmoid', loss='half_sse', bias='neuron', seed=0)" in headline
    assert "batch of 1" in headline
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "Draw 1 (network): mlp(" in notes  # pasteable into @example, as the how-to says


# -- docs and public surface -------------------------------------------------------------
def test_the_how_to_gives_each_profiles_example_counts():
    from tests.conftest import CI_EXAMPLES, THOROUGH_EXAMPLES

    import tests.property.test_engine_properties as engine
    import tests.property.test_strategies as strategies_tests

    page = (ROOT / "docs" / "how-to" / "property-tests.md").read_text()
    rows = dict(re.findall(r"^\| `(test_\w+)` \| (\d+ \| \d+) \|$", page, re.M))
    assert settings.get_profile("ci").max_examples == CI_EXAMPLES
    assert settings.get_profile("thorough").max_examples == THOROUGH_EXAMPLES
    for module in (engine, strategies_tests):
        for name in dir(module):
            test = getattr(module, name)
            if name.startswith("test_") and hasattr(test, "hypothesis"):
                share = test._hypothesis_internal_use_settings.max_examples / settings.default.max_examples
                expected = f"{round(share * CI_EXAMPLES)} | {round(share * THOROUGH_EXAMPLES)}"
                assert rows.get(name) == expected, name


def test_the_api_reference_lists_exactly_the_public_names():
    page = (ROOT / "docs" / "reference" / "api.md").read_text()
    for module in (symgrad.strategies, symgrad.testing):
        section = page.split(f"## `{module.__name__}`")[1].split("\n## ")[0]
        listed = set(re.findall(r"^- `(\w+)", section, re.M))
        assert listed == set(module.__all__), module.__name__


def test_rounding_beyond_the_ulps_rule_but_within_what_finite_differences_resolve_passes():
    def scaled(factor):
        return lambda values: {p: g * factor for p, g in MAZUR(values).items()}

    assert_gradients_match(scaled(1 + 1e-13), symgrad.load("mazur"))  # "precision", as gradcheck calls it
    with pytest.raises(GradientMismatch) as caught:
        assert_gradients_match(scaled(1 + 1e-6), symgrad.load("mazur"))
    assert {row.verdict for row in caught.value.rows} == {"mismatch"}


def test_without_hypothesis_the_assertion_works_and_the_runner_says_how_to_install_it():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "import symgrad, symgrad.testing as t\n"
            "t.assert_gradients_match(lambda v: {'w1': (v['w1'] * v['i1'] - v['t1']) * v['i1']},\n"
            "                         symgrad.mlp([1, 1], activation='identity', bias='none'))\n"
            "try:\n    t.property_test_backprop(lambda v: {})\n"
            "except symgrad.MissingDependency as error:\n    print(error.extra, error.module, error)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == ('test hypothesis symgrad.testing.property_test_backprop needs hypothesis, which is not '
                           'installed; install it with: python -m pip install "symgrad[test]"')


def test_batch_is_one_class_wherever_it_is_imported_from():
    assert symgrad.testing.Batch is symgrad.strategies.Batch


def test_the_old_name_check_gradients_works_for_one_release_and_names_the_new_one():
    import symgrad.testing as testing

    with pytest.warns(DeprecationWarning, match="property_test_backprop"):
        assert testing.check_gradients is testing.property_test_backprop


# -- failure output under pytest (issue 21) ------------------------------------------------
FAILING_TEST = '''
import numpy as np
from hypothesis import settings
from symgrad.strategies import networks
from symgrad.testing import property_test_backprop


def doubled(Ws, bs, X, T):              # one linear layer, E = mean of ½|W x − t|², the gradient doubled
    R = X @ Ws[0].T - T
    return [2 * R.T @ X / len(X)], [None]


def test_doubled():
    property_test_backprop(doubled, networks=networks(max_depth=1, activations=("identity",),
                                                      losses=("half_sse",), biases=("none",)))


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_softmax_without_its_sum_term():
    from symgrad.symbolic_arrays import softmax
    from symgrad.testing import property_test_vjp

    property_test_vjp(np_softmax, lambda z: softmax(z), backward=lambda g, z: np_softmax(z) * g, shapes=[(2, 3)],
                      settings=settings(max_examples=20, database=None))
'''


def _traceback_lines(out: str) -> list[str]:
    """The lines of pytest's FAILURES section that are not the exception's own ("E   …")."""
    section = out[out.index("= FAILURES ="):out.index("short test summary info")]
    return [line for line in section.splitlines()[1:] if line.strip() and not line.startswith("E ")]


def test_a_pytest_failure_shows_the_table_and_hides_symgrads_frames(tmp_path):
    import subprocess
    import sys
    import time

    (tmp_path / "test_user.py").write_text(FAILING_TEST)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           "test_user.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - started
    out = done.stdout
    assert done.returncode == 1 and out.count("FAILED test_user.py") == 2, out[-3000:]
    assert "ratio" in out and "diagnosis: half of the loss" in out  # received ÷ exact = 2 everywhere
    assert "missing sum term" in out
    # symgrad's frames hidden: every line of the tracebacks is the user's source, a location in the
    # user's file, or a separator; no line of symgrad's source, no explain phase pointing in
    user_source = FAILING_TEST.splitlines()
    for line in _traceback_lines(out):
        if re.fullmatch(r"[_= ]+|_+ test_\w+ _+", line):  # separators
            continue
        location = re.fullmatch(r"(\S+\.py):\d+:( \S+)?\s*", line)
        if location:
            assert location.group(1) == "test_user.py", line
            continue
        assert line.lstrip(">").strip() in {source.strip() for source in user_source}, line
    assert "symgrad/" not in out.replace("symgrad/strategies", "")  # no path into symgrad's source
    assert "__tracebackhide__" not in out
    assert elapsed < 120  # default settings: found and shrunk without the slow explain phase


# -- the losses people train with: MSE and BCE ----------------------------------------------------
def _exact_gradient(net):
    from symgrad.chain import derive
    from symgrad.evaluation import evaluate_gradients

    return evaluate_gradients(derive(net), digits=30).gradients


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_mse_and_bce_gradients_match_sympy_diff_of_the_expanded_loss(loss):
    import mpmath
    import sympy

    net = symgrad.mlp([2, 2, 1], activation="tanh", loss=loss, bias="neuron", seed=3)
    E = net.expanded("E_total")
    at = {net.symbol(n): v for n, v in net.point().items()}
    exact = _exact_gradient(net)
    for p in net.params:
        reference = sympy.N(sympy.diff(E, net.symbol(p)).xreplace(at), 30)
        with mpmath.workdps(30):
            assert abs(exact[p] - mpmath.mpf(str(reference))) < mpmath.mpf("1e-25"), p


def test_bce_with_a_sigmoid_output_has_the_hand_gradient_sigma_minus_t():
    import mpmath

    net = symgrad.mlp([1, 1], loss="bce", bias="none", seed=1)   # E = −[t log σ(w i) + (1 − t) log(1 − σ(w i))]
    assert net.structure.output_activation == "sigmoid"          # BCE's outputs are probabilities
    with mpmath.workdps(30):
        v = {n: mpmath.mpf(x.p) / x.q for n, x in net.point().items()}   # the exact decimals
        hand = (1 / (1 + mpmath.exp(-v["w1"] * v["i1"])) - v["t1"]) * v["i1"]   # ∂E/∂w = (σ − t)·i
    with mpmath.workdps(30):
        assert abs(_exact_gradient(net)["w1"] - hand) < mpmath.mpf("1e-25")


def test_mse_of_a_linear_unit_has_the_hand_gradient():
    from fractions import Fraction

    net = symgrad.mlp([1, 1], activation="identity", loss="mse", bias="none", seed=2)   # E = (w i − t)²
    w, i, t = (Fraction(str(float(net.point()[n]))) for n in ("w1", "i1", "t1"))
    hand = 2 * (w * i - t) * i
    import mpmath

    with mpmath.workdps(30):
        assert abs(_exact_gradient(net)["w1"] - mpmath.mpf(hand.numerator) / hand.denominator) < mpmath.mpf("1e-27")


def test_networks_draw_and_pin_mse_and_bce_and_a_regression_mlp_passes():
    def backprop(Ws, bs, X, T):  # tanh hidden, linear output, MSE (mean over K outputs): δ_L = 2(ŷ − t)/K
        H = np.tanh(X @ Ws[0].T + (bs[0] if bs[0] is not None else 0))
        Y = H @ Ws[1].T + (bs[1] if bs[1] is not None else 0)
        D2 = 2 * (Y - T) / (len(X) * Y.shape[1])
        D1 = (D2 @ Ws[1]) * (1 - H ** 2)
        db = [None if b is None else (D.sum(axis=0) if b.ndim else D.sum()) for b, D in zip(bs, (D1, D2))]
        return [D1.T @ X, D2.T @ H], db

    regression = networks(min_depth=2, max_depth=2, activations=("tanh",), output_activations=("identity",),
                          losses=("mse",), biases=("none", "neuron", "layer"))
    property_test_backprop(backprop, networks=regression, settings=settings(max_examples=15, database=None))

    def bce_backprop(Ws, bs, X, T):  # sigmoid output under BCE: δ_L = σ − t
        Y = 1 / (1 + np.exp(-(X @ Ws[0].T)))
        return [(Y - T).T @ X / len(X)], [None]

    property_test_backprop(bce_backprop, networks=networks(max_depth=1, losses=("bce",), biases=("none",)),
                           settings=settings(max_examples=15, database=None))
    with pytest.raises(GradientMismatch) as failure:  # the half of the loss forgotten: ratio ½ → named
        property_test_backprop(lambda Ws, bs, X, T: ([x / 2 for x in backprop(Ws, bs, X, T)[0]],
                                                      [None if b is None else b / 2 for b in backprop(Ws, bs, X, T)[1]]),
                               networks=regression, settings=settings(max_examples=15, database=None))
    assert any(d.kind == "half of the loss" for d in failure.value.diagnoses)


def test_dtypes_draw_float64_and_float32():
    from hypothesis import find

    quick = settings(max_examples=20, phases=[Phase.generate, Phase.shrink], database=None)
    assert find(symgrad.strategies.dtypes(), lambda d: True, settings=quick) == "float64"
    assert find(symgrad.strategies.dtypes(), lambda d: d == "float32", settings=quick) == "float32"
    with pytest.raises(symgrad.InvalidArgument, match="'float16' is not one of"):
        symgrad.strategies.dtypes(names=("float16",))


# -- mse is torch's MSELoss: the mean over the K outputs and over the batch (issue 21) --------------
def _torch_mse_backprop(Ws, bs, X, T):
    """torch autograd of torch.nn.MSELoss(reduction="mean") = (1/(N·K)) Σ_n Σ_k (ŷ − t)², tanh hidden layer."""
    torch = pytest.importorskip("torch", reason="torch is an optional extra (symgrad[torch]); CI installs CPU torch")
    W = [torch.tensor(w, requires_grad=True) for w in Ws]
    b = [torch.tensor(v, requires_grad=True) for v in bs]
    Y = torch.tanh(torch.tensor(X) @ W[0].T + b[0]) @ W[1].T + b[1]
    torch.nn.MSELoss(reduction="mean")(Y, torch.tensor(T)).backward()
    return [w.grad.numpy() for w in W], [v.grad.numpy() for v in b]


MSE_BATCH = Batch(np.array([[0.5, -1.0, 0.25], [1.0, 0.5, -0.5], [0.125, 0.25, 0.75]]),
                  np.array([[0.3, -0.2, 0.1], [1.0, 0.4, -0.6], [0.0, 0.5, 0.25]]))


def test_mse_with_three_outputs_is_torchs_mse_loss_and_sse_keeps_the_old_sum():
    with pytest.warns(DeprecationWarning, match="loss='sse'"):
        net = symgrad.mlp([3, 2, 3], activation="tanh", output_activation="identity", loss="mse", seed=4)
    assert_gradients_match(_torch_mse_backprop, net, batch=MSE_BATCH)
    old = symgrad.mlp([3, 2, 3], activation="tanh", output_activation="identity", loss="sse", seed=4)

    def times_k(Ws, bs, X, T):  # the old mse (Σ over outputs) is 3 × torch's here
        dWs, dbs = _torch_mse_backprop(Ws, bs, X, T)
        return [3 * d for d in dWs], [3 * d for d in dbs]

    assert_gradients_match(times_k, old, batch=MSE_BATCH)
    with pytest.raises(GradientMismatch):
        assert_gradients_match(times_k, net, batch=MSE_BATCH)


def test_the_matrix_form_of_mse_is_torchs_mse_loss_too():
    torch = pytest.importorskip("torch", reason="torch is an optional extra (symgrad[torch]); CI installs CPU torch")
    with pytest.warns(DeprecationWarning):
        net = symgrad.mlp([3, 2, 3], activation="tanh", output_activation="identity", loss="mse", seed=4)
    compiled = symgrad.compile_gradient(net, form="matrix")
    params = compiled.initial_params(net)
    loss, grads = compiled(params, MSE_BATCH.inputs, MSE_BATCH.targets)
    Ws = [np.asarray(params["W1"]), np.asarray(params["W2"])]
    bs = [np.asarray(params["b1"]), np.asarray(params["b2"])]
    dWs, dbs = _torch_mse_backprop(Ws, bs, MSE_BATCH.inputs, MSE_BATCH.targets)
    np.testing.assert_allclose(grads["W1"], dWs[0], rtol=1e-12)
    np.testing.assert_allclose(grads["W2"], dWs[1], rtol=1e-12)
    np.testing.assert_allclose(grads["b2"], dbs[1], rtol=1e-12)
    T = torch.tensor(MSE_BATCH.targets)
    Y = torch.tanh(torch.tensor(MSE_BATCH.inputs) @ torch.tensor(Ws[0]).T + torch.tensor(bs[0])) @ \
        torch.tensor(Ws[1]).T + torch.tensor(bs[1])
    assert loss == pytest.approx(float(torch.nn.MSELoss()(Y, T)), rel=1e-13)


# -- dtype draws in batches() and property_test_backprop (issue 21) -------------------------------
def _float32_backprop(Ws, bs, X, T):
    """One linear layer with bias, E = mean of ½|W x + b − t|², in the dtype it is given."""
    R = X @ Ws[0].T + bs[0] - T
    return [R.T @ X / len(X)], [R.sum(axis=0) / len(X)]


LINEAR = networks(max_depth=1, activations=("identity",), losses=("half_sse",), biases=("neuron",))


def test_batches_draw_float32_when_asked_and_float64_by_default():
    from hypothesis import find

    quick = settings(max_examples=20, phases=[Phase.generate, Phase.shrink], database=None)
    net = symgrad.mlp([2, 1])
    assert find(symgrad.strategies.batches(net), lambda b: True, settings=quick).inputs.dtype == np.float64
    drawn = find(symgrad.strategies.batches(net, dtypes=("float64", "float32")),
                 lambda b: b.inputs.dtype == np.float32, settings=quick)
    assert drawn.targets.dtype == np.float32
    with pytest.raises(symgrad.InvalidArgument, match="'float16' is not one of"):
        symgrad.strategies.batches(net, dtypes=("float16",))


def test_property_test_backprop_draws_float32_batches_judged_with_float32s_epsilon(monkeypatch):
    seen, targets = set(), []
    monkeypatch.setattr(symgrad.mismatch, "target", lambda value, label: targets.append(value))

    def recording(Ws, bs, X, T):
        seen.add((Ws[0].dtype, X.dtype))
        return _float32_backprop(Ws, bs, X, T)

    property_test_backprop(recording, networks=LINEAR, dtypes=("float64", "float32"),
                           settings=settings(max_examples=25, database=None))
    assert seen == {(np.dtype(np.float32), np.dtype(np.float32)), (np.dtype(np.float64), np.dtype(np.float64))}
    assert targets and max(targets) < 1e-5
    with pytest.raises(GradientMismatch, match="ε = 1.19e-07"):  # a 1e-4 relative slip: beyond float32's rounding
        property_test_backprop(lambda Ws, bs, X, T: ([d * np.float32(1.0001) for d in _float32_backprop(Ws, bs, X, T)[0]],
                                                     _float32_backprop(Ws, bs, X, T)[1]),
                               networks=LINEAR, dtypes=("float32",), settings=settings(max_examples=25, database=None))


def test_the_mse_warning_points_at_the_callers_line_and_names_the_spec_file_and_key(tmp_path):
    spec = tmp_path / "regression.toml"
    spec.write_text('[mlp]\nwidths = [2, 3, 2]\nactivation = "tanh"\noutput_activation = "identity"\n'
                    'loss = "mse"\n', encoding="utf-8")
    with pytest.warns(DeprecationWarning) as caught:
        symgrad.load(spec)
    assert [w.filename for w in caught] == [__file__]  # this line, not symgrad's spec.py
    assert str(caught[0].message).startswith(f'{spec}, key mlp.loss = "mse": mse over 2 outputs is now the mean')
    with pytest.warns(DeprecationWarning, match=r"^loss='mse': .*write 'sse' to keep the sum") as caught:
        symgrad.mlp([2, 3, 2], loss="mse")
    assert [w.filename for w in caught] == [__file__]
