"""Second order and forward mode: Hessians, H·v and J·v against independent references.

References: sympy.diff taken twice (or once) of the expanded expression, evaluated with
mpmath at 60 digits; a hand calculation of ∂²E/∂w5² for the 2-2-2 in mpmath; torch.func
and jax where installed. Never the code under test against itself.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.errors import InvalidArgument
from symgrad.second_order import derive_second
from symgrad.strategies import networks

REFERENCE_DIGITS = 60


def _point(net, at=None):
    return {net.symbol(k): v for k, v in net.point(at).items()}


def _reference_hessian(net, at=None) -> list[list[mpmath.mpf]]:
    """sympy.diff twice on the expanded loss, evaluated at 60 digits."""
    expr = net.expanded(net.output)
    point = _point(net, at)
    params = net.params
    out = []
    with mpmath.workdps(REFERENCE_DIGITS):
        for a in params:
            first = sympy.diff(expr, net.symbol(a))
            row = []
            for b in params:
                value = _away_from_kinks(sympy.diff(first, net.symbol(b))).xreplace(point)
                row.append(mpmath.mpf(sympy.N(value, REFERENCE_DIGITS)))
            out.append(row)
    return out


def _away_from_kinks(expr: sympy.Expr) -> sympy.Expr:
    """Drop the terms that are zero away from a kink (networks() keeps every point off them):
    DiracDelta, and the unevaluated derivative of sign that sympy.diff leaves for |u|."""
    expr = expr.replace(lambda e: isinstance(e, sympy.Derivative) and isinstance(e.expr, sympy.sign),
                        lambda e: sympy.S.Zero)
    return expr.replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)


def _close(a, b, digits=25) -> bool:
    with mpmath.workdps(REFERENCE_DIGITS):
        return abs(a - b) <= mpmath.mpf(10) ** -digits * max(1, abs(a), abs(b))


def test_mazur_w5_w5_against_a_hand_calculation():
    # ∂E/∂w5 = (out_o1 − t1)·σ'(net_o1)·out_h1, so by the product rule, with σ' = o(1 − o), σ'' = σ'(1 − 2o):
    # ∂²E/∂w5² = out_h1² · (σ'² + (out_o1 − t1)·σ'').
    with mpmath.workdps(50):
        sig = lambda z: 1 / (1 + mpmath.exp(-z))  # noqa: E731
        i1, i2, t1 = mpmath.mpf("0.05"), mpmath.mpf("0.10"), mpmath.mpf("0.01")
        out_h1 = sig(mpmath.mpf("0.15") * i1 + mpmath.mpf("0.20") * i2 + mpmath.mpf("0.35"))
        out_h2 = sig(mpmath.mpf("0.25") * i1 + mpmath.mpf("0.30") * i2 + mpmath.mpf("0.35"))
        o = sig(mpmath.mpf("0.40") * out_h1 + mpmath.mpf("0.45") * out_h2 + mpmath.mpf("0.60"))
        s1 = o * (1 - o)
        hand = out_h1 ** 2 * (s1 ** 2 + (o - t1) * s1 * (1 - 2 * o))
        h = symgrad.hessian(symgrad.derive(symgrad.load("mazur")), digits=30)
        assert _close(h.entry("w5", "w5"), hand, 28)
        assert symgrad.to_decimal(h.entry("w5", "w5"), 9) == "-0.0122229542"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_depth=2, max_width=2))
def test_hessian_equals_sympy_diff_twice_at_60_digits(net):
    d = symgrad.derive(net)
    h = symgrad.hessian(d, digits=30)
    reference = _reference_hessian(net)
    n = len(net.params)
    for i in range(n):
        for j in range(n):
            assert _close(h.matrix[i][j], reference[i][j]), (net.params[i], net.params[j])
            assert h.matrix[i][j] == h.matrix[j][i] or _close(h.matrix[i][j], h.matrix[j][i], 28)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_depth=2, max_width=2), st.integers(0, 2 ** 31 - 1))
def test_hvp_and_jvp_equal_matrix_products(net, seed):
    d = symgrad.derive(net)
    rng = np.random.default_rng(seed)
    v = {p: sympy.Rational(int(rng.integers(-9, 10)), 7) for p in net.params}
    reference = _reference_hessian(net)
    product = symgrad.hvp(d, v, digits=30).product
    expr = net.expanded(net.output)
    point = _point(net)
    with mpmath.workdps(REFERENCE_DIGITS):
        for i, a in enumerate(net.params):
            hv = mpmath.fsum(reference[i][j] * mpmath.mpf(v[b].p) / v[b].q for j, b in enumerate(net.params))
            assert _close(product[a], hv)
        jv = mpmath.fsum(mpmath.mpf(sympy.N(sympy.diff(expr, net.symbol(b)).xreplace(point), REFERENCE_DIGITS))
                         * mpmath.mpf(v[b].p) / v[b].q for b in net.params)
    assert _close(symgrad.jvp(d, v, digits=30).value, jv)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_depth=2, max_width=2))
def test_compiled_forms_agree_with_exact_over_a_batch(net):
    d = symgrad.derive(net)
    f = symgrad.compile_second_order(d)
    first = net.params[0]
    base = float(net.values[first])
    batch = np.array([base, base + 0.125, base - 0.25])
    compiled = f.hessian({first: batch})
    for k, x in enumerate(batch):
        exact = symgrad.hessian(d, at={first: float(x)}, digits=20).array()
        scale = np.abs(exact).max() + 1
        np.testing.assert_allclose(compiled[k], exact, rtol=1e-10, atol=1e-12 * scale)
    v = {p: 0.5 for p in net.params}
    exact_jvp = float(symgrad.jvp(d, v, digits=20).value)
    assert f.jvp({}, v)[0] == pytest.approx(exact_jvp, rel=1e-10, abs=1e-14)


def test_jvp_along_an_input_is_the_derivative_by_that_input():
    net = symgrad.load("mazur")
    expr = net.expanded(net.output)
    reference = sympy.N(sympy.diff(expr, net.symbol("i1")).xreplace(_point(net)), 40)
    got = symgrad.jvp(symgrad.derive(net), {"i1": 1}, digits=30).value
    with mpmath.workdps(50):
        assert _close(got, mpmath.mpf(reference), 28)


def test_relu_second_derivative_is_zero_away_from_a_kink_and_reported_at_one():
    net = symgrad.Network()
    net.input("x", "0.5")
    net.param("w", 2)
    net.param("b", "-1")
    net.node("h", "relu(w*x + b)")
    net.node("E", "h*w")
    d = symgrad.derive(net)
    # away from the kink: E = (w x + b) w, ∂²E/∂w² = 2x, ∂²E/∂w∂b = 1, ∂²E/∂b² = 0
    away = symgrad.hessian(d, at={"x": "0.75"}, digits=20)
    assert away.kinks == ()
    assert float(away.entry("w", "w")) == 1.5 and float(away.entry("w", "b")) == 1 and away.entry("b", "b") == 0
    at_kink = symgrad.hessian(d, digits=20)  # w x + b = 0
    assert at_kink.kinks and "does not exist" in at_kink.kinks[0]
    assert symgrad.hvp(d, {"w": 1}, digits=20).kinks == at_kink.kinks
    assert derive_second(d).kinks  # the factor Heaviside(w x + b) jumps


def test_bad_directions_are_refused_with_the_fix():
    d = symgrad.derive(symgrad.load("mazur"))
    with pytest.raises(InvalidArgument, match="'i9'.*not parameters"):
        symgrad.hvp(d, {"i9": 1})
    with pytest.raises(InvalidArgument, match="i1"):
        symgrad.hvp(d, {"i1": 1})
    with pytest.raises(InvalidArgument, match="dict"):
        symgrad.jvp(d, [1, 2])
    with pytest.raises(symgrad.SymgradError, match="not a number"):
        symgrad.hvp(d, {"w5": object()})
    with pytest.raises(symgrad.GraphError, match="not a parameter"):
        symgrad.hessian(d, digits=10).entry("w5", "zz")


def test_against_torch_func_hessian():
    torch = pytest.importorskip("torch")
    net = symgrad.load("mazur")
    values = {k: float(v) for k, v in net.point().items()}
    params = net.params

    def loss(theta):
        p = dict(zip(params, theta))
        h1 = torch.sigmoid(p["w1"] * values["i1"] + p["w2"] * values["i2"] + p["b1"])
        h2 = torch.sigmoid(p["w3"] * values["i1"] + p["w4"] * values["i2"] + p["b1"])
        o1 = torch.sigmoid(p["w5"] * h1 + p["w6"] * h2 + p["b2"])
        o2 = torch.sigmoid(p["w7"] * h1 + p["w8"] * h2 + p["b2"])
        return 0.5 * (values["t1"] - o1) ** 2 + 0.5 * (values["t2"] - o2) ** 2

    theta = torch.tensor([values[p] for p in params], dtype=torch.float64)
    expected = torch.func.hessian(loss)(theta).numpy()
    got = symgrad.hessian(symgrad.derive(net), digits=20).array()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_against_jax_hessian():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    net = symgrad.mlp([2, 3, 2], activation="tanh", loss="sse", seed=3)
    d = symgrad.derive(net)
    point = {k: float(v) for k, v in net.point().items()}
    params = net.params

    def loss(theta):
        env = dict(point)
        env.update(dict(zip(params, theta)))
        return _jax_eval(net, env, jnp)

    theta = jnp.array([point[p] for p in params], dtype=jnp.float64)
    expected = np.asarray(jax.hessian(loss)(theta))
    got = symgrad.hessian(d, digits=20).array()
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-14)


def _jax_eval(net, env, jnp):
    """The network's nodes evaluated with jax.numpy, node by node (lambdify, our own expressions)."""
    env = dict(env)
    for name, node in net.nodes.items():
        symbols = sorted(node.expr.free_symbols, key=lambda s: s.name)
        f = sympy.lambdify(symbols, node.expr, modules=[{"sigmoid": lambda x: 1 / (1 + jnp.exp(-x))}, jnp])
        env[name] = f(*[env[s.name] for s in symbols])
    return env[net.output]


@pytest.mark.parametrize("definition, kink_at, away, expected", [
    # E = |w x − 1| · w: away from the kink (x = 1.5, w = 2: w x − 1 > 0) E = w²x − w, ∂²E/∂w² = 2x = 3
    ("abs(w*x - 1)*w", {"x": "0.5"}, {"x": "1.5"}, 3),
    # E = max(w x, 1) · w: away (x = 1.5, w = 2: w x > 1) E = w² x, ∂²E/∂w² = 2x = 3
    ("max(w*x, 1)*w", {"x": "0.5"}, {"x": "1.5"}, 3),
])
def test_abs_and_max_second_derivatives_at_and_away_from_kinks(definition, kink_at, away, expected):
    net = symgrad.Network()
    net.input("x", "0.5")
    net.param("w", 2)
    net.node("E", definition)
    d = symgrad.derive(net)
    assert float(symgrad.hessian(d, at=away, digits=20).entry("w", "w")) == expected
    assert symgrad.hessian(d, at=away, digits=20).kinks == ()
    at_kink = symgrad.hessian(d, at=kink_at, digits=20)
    assert at_kink.kinks and "does not exist" in at_kink.kinks[0]


def test_compiled_names_never_collide_with_the_module_s_own():
    net = symgrad.Network()
    net.input("tangent", "0.5")
    net.input("dot_w", "2")
    net.param("w", "0.3")
    net.param("delta_w", "0.7")
    net.node("leaves", "tanh(w*tangent + delta_w*dot_w)")
    net.node("ddelta_w", "leaves*leaves*w")
    d = symgrad.derive(net)
    exact = symgrad.hessian(d, digits=20).array()
    compiled = symgrad.compile_second_order(d).hessian({})[0]
    np.testing.assert_allclose(compiled, exact, rtol=1e-12, atol=1e-15)
