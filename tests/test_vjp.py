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
    assert "entries of g·J are wrong" in lines[0] and lines[1].split()[:2] == ["parameter", "expected"]
    assert lines[2].split()[-2:] == ["2", "mismatch"]


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
    assert "SigmoidNoDerivative (torch.autograd.Function)" in str(failure.value).splitlines()[0]
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
