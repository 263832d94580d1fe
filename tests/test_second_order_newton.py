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


def _softmax_lse():
    """A tanh hidden unit, two logits, softmax cross-entropy with log-sum-exp in nodes of its own."""
    net = symgrad.Network()
    net.input("x", "0.7")
    net.target("t1", "1")
    net.target("t2", "0")
    for name, value in (("u", "0.9"), ("c", "-0.2"), ("w1", "1.3"), ("b1", "0.1"), ("w2", "-0.6"), ("b2", "0.4")):
        net.param(name, value)
    net.node("h", "tanh(u*x + c)")
    net.node("z1", "w1*h + b1")
    net.node("z2", "w2*h + b2")
    net.node("e1", "exp(z1)")
    net.node("e2", "exp(z2)")
    net.node("lse", "log(e1 + e2)")
    net.node("E", "lse - (t1*z1 + t2*z2)")
    return net


def test_gauss_newton_keeps_the_curvature_of_a_loss_node_without_a_target():
    """GN = Jᵀ·(diag(p) − p·pᵀ)·J with J = ∂(z1, z2)/∂θ, by hand in mpmath: the outputs are the logits z,
    and lse (which reads no target) is part of the loss, its curvature kept."""
    net = _softmax_lse()
    outputs, loss = symgrad.second_order.gauss_newton_split(net)
    assert outputs == ("z1", "z2") and set(loss) == {"e1", "e2", "lse", "E"}
    gn = symgrad.gauss_newton(symgrad.derive(net), digits=30)
    with mpmath.workdps(60):
        x, u, c, w1, b1, w2, b2 = (mpmath.mpf(v) for v in ("0.7", "0.9", "-0.2", "1.3", "0.1", "-0.6", "0.4"))
        h = mpmath.tanh(u * x + c)
        dh = 1 - h ** 2
        z = [w1 * h + b1, w2 * h + b2]
        p = [mpmath.exp(zi) / (mpmath.exp(z[0]) + mpmath.exp(z[1])) for zi in z]
        curvature = mpmath.matrix([[p[0] - p[0] ** 2, -p[0] * p[1]], [-p[1] * p[0], p[1] - p[1] ** 2]])
        order = ("u", "c", "w1", "b1", "w2", "b2")
        jacobian = mpmath.matrix([[w1 * dh * x, w1 * dh, h, 1, 0, 0],
                                  [w2 * dh * x, w2 * dh, 0, 0, h, 1]])
        expected = jacobian.T * curvature * jacobian
        for i, a in enumerate(order):
            for j, b in enumerate(order):
                assert abs(gn.entry(a, b) - expected[i, j]) < mpmath.mpf(10) ** -28, (a, b)
        assert abs(expected[2, 2]) > mpmath.mpf("0.03")  # the old target-reading rule gave 0 here (E is linear in z)


def test_gauss_newton_needs_a_target():
    net = symgrad.Network()
    net.input("x", "1")
    net.param("w", "2")
    net.node("f", "sigmoid(w*x)")
    with pytest.raises(InvalidArgument, match="no targets.*rule='newton'"):
        symgrad.gauss_newton(symgrad.derive(net))


def test_step_takes_a_damping_for_a_singular_hessian():
    """step(rule="newton", damping=λ) solves (H + λI)·Δ = ∇E, checked row by row against the exact Hessian
    and gradient; the singular step's message names step's own option; a first-order rule refuses one."""
    d = symgrad.derive(symgrad.load("mazur"))
    with pytest.raises(DomainError, match=r"step\(\.\.\., rule='newton', damping=0.01\)"):
        symgrad.step(d, rule="newton", digits=20)
    s = symgrad.step(d, rule="newton", damping="0.01", digits=20)
    h = symgrad.hessian(d, digits=20)
    grads = symgrad.evaluate_gradients(d, digits=20).gradients
    with mpmath.workdps(50):
        for i, p in enumerate(h.params):
            row = sum((h.matrix[i][j] + (mpmath.mpf("0.01") if i == j else 0)) * (s.before[q] - s.after[q])
                      for j, q in enumerate(h.params))
            assert abs(row - grads[p]) < mpmath.mpf(10) ** -17, p
    assert s.rule == "newton"
    one = symgrad.derive(_one_weight())  # one weight, by hand: w − g / (h + λ)
    w, x, t = mpmath.mpf("0.5"), mpmath.mpf("1.5"), mpmath.mpf("0.25")
    g, hh, _ = _hand(w, x, t)
    damped = symgrad.step(one, rule="newton", damping="0.2", digits=30)
    with mpmath.workdps(50):
        assert abs(damped.after["w"] - (w - g / (hh + mpmath.mpf("0.2")))) < mpmath.mpf(10) ** -28
    with pytest.raises(InvalidArgument, match="damping=.*is for rule='newton'"):
        symgrad.step(d, damping="0.01")
    with pytest.raises(InvalidArgument, match="at least 0"):
        symgrad.step(d, rule="gauss-newton", damping="-1")
