"""The function table: every family of rules covers the same functions, and each rule is right."""

from __future__ import annotations

import inspect

import mpmath
import numpy as np
import pytest
import sympy

from symgrad import (
    ACTIVATIONS,
    Network,
    derive,
    evaluate_gradients,
    logsumexp,
    parse_expression,
    relu,
    sigmoid,
)
from symgrad import kernels  # the NumPy kernels and the function table themselves are under test here
from symgrad.functions import FUNCTIONS, SPEC_FUNCTIONS

from .helpers import close


def test_spec_names_are_exactly_the_issue_list():
    assert set(SPEC_FUNCTIONS) == {"exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "max", "min"}


@pytest.mark.parametrize("rule", FUNCTIONS, ids=lambda r: r.head.__name__ + (f"-{r.spec_name}" if r.spec_name else ""))
def test_every_row_has_every_translation(rule):
    assert callable(rule.numpy) and callable(rule.mpmath) and isinstance(rule.smooth, bool)
    if rule.numpy.__module__ == kernels.__name__:
        assert "np." in inspect.getsource(rule.numpy)  # kernels are copied into generated code
    arity = rule.min_args
    args = [0.3 + 0.2 * k for k in range(arity)] if rule.head is not sympy.Heaviside else [0.3]
    with mpmath.workdps(30):
        exact = rule.mpmath(*[mpmath.mpf(a) for a in args]) if rule.head is not sympy.Heaviside else rule.mpmath(
            mpmath.mpf(0.3), mpmath.mpf(0))
    fast = rule.numpy(*[np.float64(a) for a in args]) if rule.head is not sympy.Heaviside else rule.numpy(0.3, 0.0)
    built = rule.build(*[sympy.Rational(a).limit_denominator(100) for a in args])
    assert float(exact) == pytest.approx(float(fast), rel=1e-12)
    assert float(sympy.N(built.rewrite(sympy.exp) if rule.head in (sigmoid, logsumexp) else built)) == pytest.approx(
        float(fast), rel=1e-12)


# Textbook definitions, written with mpmath only: the independent reference for each rule.
TEXTBOOK = {
    "exp": mpmath.exp, "log": mpmath.log, "sqrt": mpmath.sqrt, "abs": abs, "sin": mpmath.sin,
    "cos": mpmath.cos, "tanh": mpmath.tanh, "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
    "relu": lambda z: max(mpmath.mpf(0), z), "max": max, "min": min,
}
ACTIVATION_TEXTBOOK = {
    "sigmoid": TEXTBOOK["sigmoid"], "tanh": mpmath.tanh, "relu": TEXTBOOK["relu"],
    "leaky_relu": lambda z: max(z / 10, z), "identity": lambda z: z,
}


def test_textbook_table_covers_every_spec_function():
    assert set(TEXTBOOK) == set(SPEC_FUNCTIONS)
    assert set(ACTIVATION_TEXTBOOK) == set(ACTIVATIONS)


def _gradient(text, values):
    """δ of every leaf of f = text, after checking f's value against the textbook definition."""
    net = Network()
    for name, value in values.items():
        net.input(name, value)
    net.node("f", text)
    g = evaluate_gradients(derive(net), digits=30)
    return g.values["f"], g.adjoints


@pytest.mark.parametrize("name", sorted(SPEC_FUNCTIONS))
@pytest.mark.parametrize("x, y", [("0.7", "0.3"), ("-0.4", "0.9")])
def test_every_spec_function_derivative_matches_numerical_derivative(name, x, y):
    if name in ("log", "sqrt") and x.startswith("-"):
        x = x[1:]
    two = name in ("max", "min")
    value, grads = _gradient(f"{name}(x, y)" if two else f"{name}(x)", {"x": x, "y": y} if two else {"x": x})
    with mpmath.workdps(50):
        fx = (lambda a: TEXTBOOK[name](a, mpmath.mpf(y))) if two else TEXTBOOK[name]
        assert close(value, fx(mpmath.mpf(x)), 28), name
        assert close(grads["x"], mpmath.diff(fx, mpmath.mpf(x)), 25), name
        if two:
            assert close(grads["y"], mpmath.diff(lambda b: TEXTBOOK[name](mpmath.mpf(x), b), mpmath.mpf(y)), 25)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("z", ["0.7", "-0.7"])
def test_every_activation_derivative_matches_numerical_derivative(name, z):
    text = ACTIVATIONS[name]("net_h1", "0.1")
    parse_expression(text)  # within the allow-list
    value, grads = _gradient(text, {"net_h1": z})
    with mpmath.workdps(50):
        assert close(value, ACTIVATION_TEXTBOOK[name](mpmath.mpf(z)), 28), name
        assert close(grads["net_h1"], mpmath.diff(ACTIVATION_TEXTBOOK[name], mpmath.mpf(z)), 25), name


def test_sigmoid_rule_is_sigma_one_minus_sigma_and_matches_exp_form():
    x = sympy.Symbol("x")
    assert sympy.diff(sigmoid(x), x) == sigmoid(x) * (1 - sigmoid(x))
    reference = sympy.diff(1 / (1 + sympy.exp(-x)), x)
    assert sympy.simplify(sympy.diff(sigmoid(x), x).rewrite(sympy.exp) - reference) == 0


def test_kernels_are_stable_at_extremes():
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = kernels.sigmoid(z)
        lse = kernels.logsumexp(z, -z)
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 1.0
    np.testing.assert_allclose(lse, np.abs(z) + np.log1p(np.exp(-2 * np.abs(z))))


def test_relu_and_logsumexp_derivatives():
    x, y = sympy.symbols("x y")
    assert sympy.diff(relu(x), x) == sympy.Heaviside(x, 0)
    assert sympy.simplify(sympy.diff(logsumexp(x, y), x).rewrite(sympy.exp)
                          - sympy.exp(x) / (sympy.exp(x) + sympy.exp(y))) == 0


def test_every_function_has_a_latex_name():
    assert all(rule.latex for rule in FUNCTIONS)
    assert len({rule.latex for rule in FUNCTIONS}) == len(FUNCTIONS)
