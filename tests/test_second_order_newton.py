"""Newton and Gauss–Newton steps with the exact second derivatives, against hand calculations."""

from __future__ import annotations

import mpmath
import pytest

import symgrad
from symgrad.errors import DomainError, InvalidArgument


def _one_weight():
    net = symgrad.Network()
    net.input("x", "1.5")
    net.target("t", "0.25")
    net.param("w", "0.5")
    net.node("out", "sigmoid(w*x)")
    net.node("E", "(out - t)**2/2")
    return net


def _hand(w, x, t):
    with mpmath.workdps(50):
        o = 1 / (1 + mpmath.exp(-w * x))
        s1 = o * (1 - o)
        g = (o - t) * s1 * x
        gn = (s1 * x) ** 2                          # Jᵀ J: the loss's curvature only
        h = gn + (o - t) * s1 * (1 - 2 * o) * x ** 2  # plus the σ″ term
        return g, h, gn


def test_newton_and_gauss_newton_on_one_weight_match_the_hand_formula():
    d = symgrad.derive(_one_weight())
    w, x, t = mpmath.mpf("0.5"), mpmath.mpf("1.5"), mpmath.mpf("0.25")
    g, h, gn = _hand(w, x, t)
    newton = symgrad.step(d, rule="newton", digits=30)
    assert newton.rule == "newton"
    gauss = symgrad.newton_step(d, rule="gauss-newton", learning_rate="0.5", damping="0.1", digits=30)
    with mpmath.workdps(50):
        assert abs(newton.after["w"] - (w - g / h)) < mpmath.mpf(10) ** -28
        assert abs(gauss.after["w"] - (w - mpmath.mpf("0.5") * g / (gn + mpmath.mpf("0.1")))) < mpmath.mpf(10) ** -28


def test_repeated_newton_steps_converge_to_the_target():
    net = _one_weight()
    d = symgrad.derive(net)
    with mpmath.workdps(40):
        best = mpmath.log(mpmath.mpf(1) / 3) / mpmath.mpf("1.5")  # sigmoid(1.5 w) = 0.25
    w, errors = "-0.5", []
    for _ in range(5):
        w = symgrad.step(d, rule="newton", at={"w": w}, digits=30).after["w"]
        with mpmath.workdps(40):
            errors.append(abs(w - best))
    assert errors[-1] < mpmath.mpf(10) ** -20
    assert all(b <= 2 * a ** 2 for a, b in zip(errors, errors[1:]))  # quadratic convergence


def test_singular_matrices_and_bad_options_are_refused_with_the_fix():
    d = symgrad.derive(symgrad.load("mazur"))
    with pytest.raises(DomainError, match="singular.*damping"):
        symgrad.step(d, rule="newton")
    with pytest.raises(DomainError, match="Gauss–Newton matrix is singular"):
        symgrad.newton_step(d, rule="gauss-newton")
    with pytest.raises(InvalidArgument, match="newton or gauss-newton"):
        symgrad.step(d, rule="netwon")
    with pytest.raises(InvalidArgument, match="at least 0"):
        symgrad.newton_step(d, damping=-1)
