"""assert_vjp_matches: custom backward rules (torch, JAX, NumPy) against exact derivatives.

References are independent of the code under test: hand-derived derivatives evaluated in
mpmath at the drawn points, and Fraction arithmetic for a polynomial.
"""

from fractions import Fraction

import mpmath
import numpy as np
import pytest

import symgrad
from symgrad.errors import InvalidArgument
from symgrad.testing import GradientMismatch, assert_vjp_matches
from symgrad.vjp import compare_vjp


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# -- NumPy pairs ----------------------------------------------------------------------------------
def test_a_right_numpy_pair_passes_and_its_exact_values_match_mpmath_by_hand():
    comparison = compare_vjp(_sigmoid, "sigmoid(x)", backward=lambda g, x: g * _sigmoid(x) * (1 - _sigmoid(x)),
                             draws=2, shape=(2, 2), seed=5)
    assert len(comparison.backward) == 8
    rng = np.random.default_rng(5)  # the draws are seeded: the first draw's first x is the first uniform
    x0 = float(rng.uniform(-2.0, 2.0))
    with mpmath.workdps(40):
        s = 1 / (1 + mpmath.exp(-mpmath.mpf(x0)))
        hand = s * (1 - s)  # σ′ = σ(1 − σ), times g below
    first = comparison.backward[0]
    g = first.exact / hand
    assert abs(g) <= 1 and first.name == "x[0, 0] draw 1"
    assert abs(float(comparison.forward[0].exact) - float(s)) < 1e-16
    assert_vjp_matches(_sigmoid, "sigmoid(x)", backward=lambda g, x: g * _sigmoid(x) * (1 - _sigmoid(x)))


def test_a_two_input_polynomial_against_fractions():
    # f = x²y + 3x: ∂f/∂x = 2xy + 3, ∂f/∂y = x²; at x = 1/2, y = −3/4, g = 1/4 (all exact in binary)
    x, y, g = Fraction(1, 2), Fraction(-3, 4), Fraction(1, 4)
    comparison = compare_vjp(lambda a, b: a * a * b + 3 * a, "x**2*y + 3*x",
                             backward=lambda g, a, b: (g * (2 * a * b + 3), g * a * a),
                             at={"x": [float(x)], "y": [float(y)]}, upstream=[float(g)])
    exact = {e.name: e.exact for e in comparison.backward}
    assert exact == {"x[0]": float(g * (2 * x * y + 3)), "y[0]": float(g * x * x)}
    with pytest.raises(GradientMismatch) as failure:  # ∂f/∂y forgotten
        assert_vjp_matches(lambda a, b: a * a * b + 3 * a, "x**2*y + 3*x",
                           backward=lambda g, a, b: (g * (2 * a * b + 3), 0 * a))
    assert [d.kind for d in failure.value.diagnoses] == ["missing term"]
    assert all(r.parameter.startswith("y") for r in failure.value.rows if not r.ok)


def test_the_table_comes_first_and_the_ratio_reads_2_for_a_doubled_gradient():
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(np.tanh, "tanh(x)", backward=lambda g, x: 2 * g * (1 - np.tanh(x) ** 2))
    lines = str(failure.value).splitlines()
    assert lines[0].split()[:2] == ["parameter", "expected"] and lines[1].split()[-2:] == ["2", "mismatch"]
    headline = next(k for k, line in enumerate(lines) if "entries of g·J are wrong" in line)
    assert all(line.startswith("  ") for line in lines[:headline])  # the table, then the headline after it


def test_a_wrong_forward_is_reported_before_its_backward():
    with pytest.raises(GradientMismatch, match="outputs of the forward differ"):
        assert_vjp_matches(np.sin, "cos(x)", backward=lambda g, x: -g * np.sin(x))


def test_float32_is_judged_with_float32_epsilon():
    f32 = lambda x: (1 / (1 + np.exp(-x))).astype(np.float32)
    assert_vjp_matches(f32, "sigmoid(x)", backward=lambda g, x: g * f32(x) * (1 - f32(x)), dtype="float32")
    with pytest.raises(GradientMismatch, match="ε = 1.19e-07"):
        assert_vjp_matches(f32, "sigmoid(x)", backward=lambda g, x: 1.001 * g * f32(x) * (1 - f32(x)),
                           dtype="float32")


def test_a_network_is_a_reference_too():
    net = symgrad.Network()
    net.input("x")
    net.param("w", "0.5")
    net.node("h", "w*x")
    net.node("out", "tanh(h)")  # out = tanh(0.5 x): d/dx = 0.5 (1 − tanh²)
    assert_vjp_matches(lambda x: np.tanh(0.5 * x), net, inputs=("x",),
                       backward=lambda g, x: g * 0.5 * (1 - np.tanh(0.5 * x) ** 2))
    with pytest.raises(GradientMismatch):
        assert_vjp_matches(lambda x: np.tanh(0.5 * x), net, inputs=("x",),
                           backward=lambda g, x: g * (1 - np.tanh(0.5 * x) ** 2))


# -- hostile input --------------------------------------------------------------------------------
class _Exit(BaseException):
    pass


def _raises(g, x):
    raise _Exit("boom")


@pytest.mark.parametrize("call, message", [
    (lambda: assert_vjp_matches(3, "sigmoid(x)"), "give a torch.autograd.Function subclass"),
    (lambda: assert_vjp_matches(_sigmoid, "sigmoid(x)", backward=5), "backward=5 is not callable"),
    (lambda: assert_vjp_matches(_sigmoid, "sigmoid(x)", backward=lambda g, x: g[:1]), r"gradient for input 1 \(x\) of .* has shape \(1,\); expected \(3,\)"),
    (lambda: assert_vjp_matches(lambda x: x[:2], "x", backward=lambda g, x: g), r"forward output of .* has shape \(2,\)"),
    (lambda: assert_vjp_matches(_sigmoid, "sigmoid(x)", backward=_raises), "raised _Exit: boom"),
    (lambda: assert_vjp_matches(_sigmoid, "__import__('os')", backward=lambda g, x: g), "not allowed|not a valid"),
    (lambda: assert_vjp_matches(_sigmoid, 42, backward=lambda g, x: g), "expression string"),
    (lambda: assert_vjp_matches(_sigmoid, "sigmoid(x)", backward=lambda g, x: g, dtype="float16"), "dtype='float16'"),
    (lambda: assert_vjp_matches(np.log, "log(x)", backward=lambda g, x: g / x, max_value=-1.0, min_value=-2.0),
     "undefined at 100 points"),
    (lambda: assert_vjp_matches(_sigmoid, "sigmoid(x)", backward=lambda g, x: ["a"] * 3), "dtype <U1"),
    (lambda: assert_vjp_matches(_sigmoid, "sigmoid(x)", backward=lambda g, x: g, shape=(10_000,)), "the limit is"),
])
def test_hostile_input_is_an_invalid_argument_naming_the_problem(call, message):
    with pytest.raises((InvalidArgument, symgrad.ParseError), match=message):
        call()


# -- torch ----------------------------------------------------------------------------------------
def _torch_sigmoids():
    torch = pytest.importorskip("torch", reason="torch is an optional extra (symgrad[torch]); CI installs CPU torch")

    class Sigmoid(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = 1 / (1 + torch.exp(-x))
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y * (1 - y)

    class SigmoidNoDerivative(Sigmoid):
        @staticmethod
        def backward(ctx, g):
            return g  # σ′ forgotten

    class SigmoidFlipped(Sigmoid):
        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return -g * y * (1 - y)

    return Sigmoid, SigmoidNoDerivative, SigmoidFlipped


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_right_torch_function_passes(dtype):
    right, _, _ = _torch_sigmoids()
    assert_vjp_matches(right, "sigmoid(x)", dtype=dtype, shape=(2, 3))


def test_wrong_torch_functions_are_named():
    _, no_derivative, flipped = _torch_sigmoids()
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(no_derivative, "sigmoid(x)")
    assert [d.kind for d in failure.value.diagnoses] == ["missing activation derivative"]
    assert "SigmoidNoDerivative (torch.autograd.Function)" in str(failure.value)
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(flipped, "sigmoid(x)", dtype="float32")
    assert [d.kind for d in failure.value.diagnoses] == ["sign"]


def test_a_torch_backward_of_the_wrong_shape_is_the_users_error():
    torch = pytest.importorskip("torch", reason="torch is an optional extra (symgrad[torch]); CI installs CPU torch")

    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g[:1]

    with pytest.raises(InvalidArgument, match=r"Bad \(torch.autograd.Function\) against 2 \* x raised RuntimeError: .*invalid gradient"):
        assert_vjp_matches(Bad, "2*x")


# -- JAX ------------------------------------------------------------------------------------------
def _jax_softplus(wrong: bool):
    jax = pytest.importorskip("jax", reason="jax is an optional extra (symgrad[jax]); CI installs CPU jax")
    jnp = jax.numpy

    @jax.custom_vjp
    def softplus(x):
        return jnp.log1p(jnp.exp(x))

    def fwd(x):
        return softplus(x), x

    def bwd(x, g):
        s = 1 / (1 + jnp.exp(-x))  # softplus′ = σ
        return ((s - 1) * g,) if wrong else (s * g,)  # wrong: σ(−x) = 1 − σ(x) with the sign lost

    softplus.defvjp(fwd, bwd)
    return softplus


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_right_jax_custom_vjp_passes(dtype):
    assert_vjp_matches(_jax_softplus(False), "log(1 + exp(x))", dtype=dtype)


def test_a_wrong_jax_custom_vjp_fails_with_the_exact_values():
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(_jax_softplus(True), "log(1 + exp(x))", at={"x": [0.0]}, upstream=[1.0])
    (row,) = failure.value.rows
    assert row.expected == mpmath.mpf("0.5") and row.received == -0.5  # σ(0) = ½ by hand


# -- array forwards: dense layers, softmax, reductions (issue 21) --------------------------------
from symgrad.symbolic_arrays import log_softmax, logsumexp, mean, softmax, total  # noqa: E402

LINEAR_SHAPES = {"x": (2, 3), "W": (3, 3), "b": (3,)}  # W square, so a transposed dW has dW's shape


def _linear(x, W, b):
    return x @ W.T + b


def _by_name(entries):
    return {e.name: e for e in entries}


def test_the_exact_vjp_of_a_dense_layer_is_the_hand_formula_in_float64():
    # y = x Wᵀ + b: dx = g W, dW = gᵀ x, db = Σ_rows g (hand formulas, float64)
    rng = np.random.default_rng(3)
    x, W, b, g = rng.normal(size=(2, 3)), rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4))
    comparison = compare_vjp(_linear, _linear, backward=lambda g, x, W, b: (g @ W, g.T @ x, g.sum(0)),
                             at={"x": x, "W": W, "b": b}, upstream=g)
    exact = _by_name(comparison.backward)
    for name, hand in (("x", g @ W), ("W", g.T @ x), ("b", g.sum(0))):
        for index in np.ndindex(*hand.shape):
            assert float(exact[f"{name}{list(index)}"].exact) == pytest.approx(hand[index], rel=1e-14, abs=1e-15)
    assert [float(e.exact) for e in comparison.forward] == pytest.approx(list((x @ W.T + b).flat), rel=1e-15)


def test_the_exact_vjp_of_softmax_and_logsumexp_match_mpmath_by_hand():
    z, g = np.array([[0.5, -1.0, 2.0]]), np.array([[0.25, -0.5, 1.0]])
    comparison = compare_vjp(lambda z: z, lambda z: softmax(z), backward=lambda g, z: g, at={"z": z}, upstream=g)
    with mpmath.workdps(40):
        e = [mpmath.exp(mpmath.mpf(v)) for v in z[0]]
        y = [v / sum(e) for v in e]
        dot = sum(mpmath.mpf(gk) * yk for gk, yk in zip(g[0], y))
        hand = [yi * (mpmath.mpf(gi) - dot) for yi, gi in zip(y, g[0])]  # y ⊙ (g − Σ g·y)
    lse = compare_vjp(lambda z: z.sum(), lambda z: logsumexp(z), backward=lambda g, z: g * z,
                      at={"z": z[0]}, upstream=0.75)
    with mpmath.workdps(40):
        for k, value in enumerate(hand):
            assert abs(_by_name(comparison.backward)[f"z[0, {k}]"].exact - value) < mpmath.mpf(10) ** -28
        for k, yk in enumerate(y):  # ∂ logsumexp/∂z_k = softmax_k
            assert abs(lse.backward[k].exact - mpmath.mpf("0.75") * yk) < mpmath.mpf(10) ** -28


def _numpy_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_numpy_dense_layer_right_and_transposed():
    assert_vjp_matches(_linear, _linear, backward=lambda g, x, W, b: (g @ W, g.T @ x, g.sum(0)), shapes=LINEAR_SHAPES)
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(_linear, _linear, backward=lambda g, x, W, b: (g @ W, x.T @ g, g.sum(0)),
                           shapes=LINEAR_SHAPES)
    assert [d.kind for d in failure.value.diagnoses] == ["transposed gradient"]
    assert all(r.parameter.startswith("W[") for r in failure.value.rows if not r.ok)
    wide = {"x": (2, 3), "W": (4, 3), "b": (4,)}  # not square: the transpose has the wrong shape, named
    with pytest.raises(InvalidArgument, match=r"has shape \(3, 4\); expected \(4, 3\) \(its transpose"):
        assert_vjp_matches(_linear, _linear, backward=lambda g, x, W, b: (g @ W, x.T @ g, g.sum(0)), shapes=wide)


def test_numpy_reductions_right_and_a_mean_without_its_one_over_n():
    def forward(z):
        return z.mean(-1)

    assert_vjp_matches(forward, lambda z: mean(z, axis=-1), backward=lambda g, z: np.repeat(g[:, None] / 5, 5, 1),
                       shapes=[(2, 5)])
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(forward, lambda z: mean(z, axis=-1), backward=lambda g, z: np.repeat(g[:, None], 5, 1),
                           shapes=[(2, 5)])
    assert [d.kind for d in failure.value.diagnoses] == ["mean"] and "1/5" in str(failure.value)
    lse = lambda z: np.log(np.exp(z).sum(-1))  # noqa: E731
    assert_vjp_matches(lse, lambda z: logsumexp(z, axis=-1), backward=lambda g, z: g[:, None] * _numpy_softmax(z),
                       shapes=[(2, 3)])
    assert_vjp_matches(lambda z: z.sum(), lambda z: total(z), backward=lambda g, z: np.full_like(z, g), shapes=[(4,)])


def test_the_failure_message_starts_with_the_table_for_an_array_forward():
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(_numpy_softmax, lambda z: softmax(z), backward=lambda g, z: _numpy_softmax(z) * g,
                           shapes=[(2, 4)])
    lines = str(failure.value).splitlines()
    assert lines[0].split()[:3] == ["parameter", "expected", "(exact)"]
    assert any(line.startswith("diagnosis: missing sum term") for line in lines)


def _torch_array_functions():
    torch = pytest.importorskip("torch", reason="torch is an optional extra (symgrad[torch]); CI installs CPU torch")

    class Linear(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, W, b):
            ctx.save_for_backward(x, W)
            return x @ W.T + b

        @staticmethod
        def backward(ctx, g):
            x, W = ctx.saved_tensors
            return g @ W, g.T @ x, g.sum(0)

    class LinearTransposed(Linear):
        @staticmethod
        def backward(ctx, g):
            x, W = ctx.saved_tensors
            return g @ W, x.T @ g, g.sum(0)  # dW transposed

    class Softmax(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            y = torch.softmax(z, -1)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return y * (g - (g * y).sum(-1, keepdim=True))

    class SoftmaxNoSum(Softmax):
        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return y * g  # the −y Σ g·y term forgotten

    return Linear, LinearTransposed, Softmax, SoftmaxNoSum


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_linear_and_softmax_right_and_wrong(dtype):
    linear, transposed, softmax_fn, no_sum = _torch_array_functions()
    assert_vjp_matches(linear, _linear, shapes=LINEAR_SHAPES, dtype=dtype)
    assert_vjp_matches(softmax_fn, lambda z: softmax(z), shapes=[(2, 4)], dtype=dtype)
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(transposed, _linear, shapes=LINEAR_SHAPES, dtype=dtype)
    assert [d.kind for d in failure.value.diagnoses] == ["transposed gradient"]
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(no_sum, lambda z: softmax(z), shapes=[(2, 4)], dtype=dtype)
    assert [d.kind for d in failure.value.diagnoses] == ["missing sum term"]
    assert "SoftmaxNoSum (torch.autograd.Function)" in str(failure.value)


def test_torch_linear_agrees_with_torch_autograd_and_the_exact_values():
    torch = pytest.importorskip("torch", reason="torch is an optional extra (symgrad[torch]); CI installs CPU torch")
    linear, *_ = _torch_array_functions()
    rng = np.random.default_rng(11)
    at = {"x": rng.normal(size=(2, 3)), "W": rng.normal(size=(3, 3)), "b": rng.normal(size=3)}
    g = rng.normal(size=(2, 3))
    comparison = compare_vjp(linear, _linear, at=at, upstream=g)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in at.items()}
    (tensors["x"] @ tensors["W"].T + tensors["b"]).backward(torch.tensor(g))  # torch's own autograd
    exact = _by_name(comparison.backward)
    for name, tensor in tensors.items():
        for index in np.ndindex(*tensor.shape):
            assert float(exact[f"{name}{list(index)}"].exact) == pytest.approx(tensor.grad.numpy()[index], rel=1e-13,
                                                                                 abs=1e-15)


def _jax_cross_entropy(targets, wrong: bool):
    jax = pytest.importorskip("jax", reason="jax is an optional extra (symgrad[jax]); CI installs CPU jax")
    jnp = jax.numpy

    @jax.custom_vjp
    def cross_entropy(z):  # mean over the batch of −Σ t log softmax(z)
        return -jnp.mean(jnp.sum(targets * jax.nn.log_softmax(z), axis=-1))

    def fwd(z):
        return cross_entropy(z), z

    def bwd(z, g):
        grad = jax.nn.softmax(z) - targets
        return (g * grad if wrong else g * grad / z.shape[0],)  # wrong: the 1/B of the mean dropped

    cross_entropy.defvjp(fwd, bwd)
    return cross_entropy


def _jax_log_softmax(wrong: bool):
    jax = pytest.importorskip("jax", reason="jax is an optional extra (symgrad[jax]); CI installs CPU jax")
    jnp = jax.numpy

    @jax.custom_vjp
    def log_sm(z):
        return jax.nn.log_softmax(z)

    def bwd(z, g):
        return (g,) if wrong else (g - jax.nn.softmax(z) * jnp.sum(g, axis=-1, keepdims=True),)

    log_sm.defvjp(lambda z: (log_sm(z), z), bwd)
    return log_sm


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_jax_custom_vjp_softmax_cross_entropy_right_and_without_the_batch_mean(dtype):
    targets = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]])

    def reference(z):
        return mean(total(-targets * log_softmax(z), axis=-1))

    assert_vjp_matches(_jax_cross_entropy(targets, False), reference, shapes=[(3, 4)], dtype=dtype)
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(_jax_cross_entropy(targets, True), reference, shapes=[(3, 4)], dtype=dtype)
    assert [d.kind for d in failure.value.diagnoses] == ["mean"] and "1/3" in str(failure.value)


def test_jax_custom_vjp_log_softmax_right_and_without_its_sum_term():
    assert_vjp_matches(_jax_log_softmax(False), lambda z: log_softmax(z), shapes=[(2, 3)])
    with pytest.raises(GradientMismatch) as failure:
        assert_vjp_matches(_jax_log_softmax(True), lambda z: log_softmax(z), shapes=[(2, 3)])
    assert [d.kind for d in failure.value.diagnoses] == ["missing sum term"]


@pytest.mark.parametrize("call, message", [
    (lambda: assert_vjp_matches(_linear, _linear, backward=lambda g, x, W, b: g), "one shape per input"),
    (lambda: assert_vjp_matches(_linear, _linear, backward=lambda g, x, W, b: g, shapes={"x": (2, 3)}),
     "one shape per input, by name"),
    (lambda: assert_vjp_matches(_linear, _linear, backward=lambda g, x, W, b: g,
                                shapes={"x": (2, 3), "W": (3, -1), "b": (3,)}), r"shapes\['W'\] = \(3, -1\)"),
    (lambda: assert_vjp_matches(_linear, lambda x: x["a"], backward=lambda g, x: g, shapes=[(2,)]),
     "raised IndexError"),
    (lambda: assert_vjp_matches(_linear, lambda x: np.array(["a"]), backward=lambda g, x: g, shapes=[(2,)]),
     "return SymPy expressions"),
    (lambda: assert_vjp_matches(_linear, _linear, backward=lambda g, x, W, b: g, shapes=[(9, 20), (20, 20), (20,)]),
     "the limit is"),
    (lambda: assert_vjp_matches(np.log, lambda x: np.array([symgrad.symbolic_arrays.log(x)[0]]),
                                backward=lambda g, x: g / x, shapes=[(1,)], min_value=-2.0, max_value=-1.0),
     "undefined at 100 points"),
])
def test_hostile_array_references_are_named(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


def test_an_array_reference_too_large_to_run_as_symbols_is_refused_before_it_runs():
    ran = []
    with pytest.raises(InvalidArgument, match="1,100 input entries"):
        assert_vjp_matches(_linear, lambda x: ran.append(x) or x, backward=lambda g, x: g, shapes=[(1100,)])
    assert ran == []


# -- property_test_vjp: dtype, inputs and upstream gradient drawn (issue 21) ----------------------
def test_property_test_vjp_passes_a_right_rule_in_both_dtypes_and_targets_the_worst_error(monkeypatch):
    from hypothesis import settings

    import symgrad.vjp_testing
    from symgrad.testing import property_test_vjp

    seen, dtypes_seen = [], set()
    monkeypatch.setattr(symgrad.mismatch, "target", lambda value, label: seen.append((label, value)))

    def backward(g, z):
        dtypes_seen.add(z.dtype)
        y = _numpy_softmax(z)
        return y * (g - (g * y).sum(-1, keepdims=True))

    property_test_vjp(_numpy_softmax, lambda z: softmax(z), backward=backward, shapes=[(2, 3)],
                      settings=settings(max_examples=25, database=None))
    assert dtypes_seen == {np.dtype(np.float32), np.dtype(np.float64)}
    assert seen and {label for label, _ in seen} == {"worst relative error"}
    assert all(0 <= value <= 2 for _, value in seen)  # relative errors: symmetric, at most 2


def test_property_test_vjp_finds_and_names_a_wrong_rule():
    from hypothesis import settings

    from symgrad.testing import property_test_vjp

    with pytest.raises(GradientMismatch) as failure:
        property_test_vjp(_numpy_softmax, lambda z: softmax(z), backward=lambda g, z: _numpy_softmax(z) * g,
                          shapes=[(2, 3)], dtypes=("float32",), settings=settings(max_examples=20, database=None))
    assert [d.kind for d in failure.value.diagnoses] == ["missing sum term"]
    assert "ε = 1.19e-07" in str(failure.value)  # judged with float32's ε
    with pytest.raises(GradientMismatch, match="missing activation derivative"):
        property_test_vjp(_sigmoid, "sigmoid(x)", backward=lambda g, x: g, settings=settings(max_examples=10,
                                                                                              database=None))


def test_property_test_vjp_rejects_points_outside_the_domain_and_refuses_bad_options():
    from hypothesis import settings

    from symgrad.testing import property_test_vjp

    property_test_vjp(np.log, "log(x)", backward=lambda g, x: g / x, min_value=0.0, max_value=2.0,
                      settings=settings(max_examples=15, database=None))  # x = 0 drawn: rejected, never run
    with pytest.raises(InvalidArgument, match="'float16' is not one of"):
        property_test_vjp(np.log, "log(x)", backward=lambda g, x: g / x, dtypes=("float16",))
    with pytest.raises(InvalidArgument, match="ulps="):
        property_test_vjp(np.log, "log(x)", backward=lambda g, x: g / x, ulps=-1)


def test_a_torch_weight_gradient_transposed_on_a_non_square_layer_is_named_by_its_shape():
    _, transposed, _, _ = _torch_array_functions()  # skips without torch
    wide = {"x": (2, 3), "W": (4, 3), "b": (4,)}
    with pytest.raises(InvalidArgument, match=r"got \[3, 4\] but expected .*\[4, 3\] \(its transpose: a transposed "
                                              r"gradient\?\) on inputs of shapes x \(2, 3\), W \(4, 3\), b \(4,\)"):
        assert_vjp_matches(transposed, _linear, shapes=wide)


def _dense_softmax(x, W):
    z = x @ W.T
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _dense_softmax_backward(g, x, W):
    y = _dense_softmax(x, W)
    dz = y * (g - (g * y).sum(-1, keepdims=True))
    return dz @ W, dz.T @ x


def test_a_right_backward_whose_sums_cancel_is_not_called_wrong():
    """Found by Hypothesis under CI: dx = dz·W sums terms larger than the result, so its float64 rounding
    (4.5e-16 here) scales with Σ|g||J|, not with |g·J| = 0.011; judged by |g·J| a right rule failed."""
    at = {"x": np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 2.0]]),
          "W": np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [1.96875, 0.0, 1.796875], [0.0, 0.0, 0.0]])}
    g = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    assert_vjp_matches(_dense_softmax, lambda x, W: softmax(x @ W.T), backward=_dense_softmax_backward,
                       shapes={"x": (2, 3), "W": (4, 3)}, at=at, upstream=g)
    wrong = lambda g, x, W: tuple(2 * d for d in _dense_softmax_backward(g, x, W))  # noqa: E731
    with pytest.raises(GradientMismatch):  # the wider scale still catches a doubled gradient
        assert_vjp_matches(_dense_softmax, lambda x, W: softmax(x @ W.T), backward=wrong,
                           shapes={"x": (2, 3), "W": (4, 3)}, at=at, upstream=g)
