"""Gradient-descent updates: simultaneous and layerwise steps, N steps (evaluated each step, or as
one certified straight-line run), SGD and mini-batches."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy

from symgrad import InvalidArgument, SymgradError, derive, descend, load, sgd, step
from symgrad.descent import certified_steps

from .helpers import close, decimal_float, expanded, leaf_point, number, reference_gradients


def test_step_uses_old_parameters_for_every_gradient():
    net = load("mazur")
    s = step(derive(net), digits=30)
    reference = reference_gradients(net, wrt=net.params)  # sympy.diff of the expanded E_total
    for p in net.params:
        expected = number(net.point()[p] - sympy.Rational(1, 2) * decimal_float(reference[p]))
        assert close(s.after[p], expected, 28), p
        assert close(s.gradients[p], reference[p], 28), p
        assert s.before[p] == net.point()[p] or close(s.before[p], number(net.point()[p]), 28)


def _gradient_descent_by_hand(net, steps, eta):
    """Plain gradient descent on sympy.diff of the expanded output, at 60 digits."""
    full = expanded(net)
    grads = {p: sympy.diff(full, net.symbol(p)) for p in net.params}
    point = leaf_point(net)
    losses = []
    for _ in range(steps):
        losses.append(number(full.xreplace(point)))
        new = {net.symbol(p): point[net.symbol(p)] - eta * decimal_float(number(grads[p].xreplace(point)))
               for p in net.params}
        point = {**point, **new}
    return {p: number(point[net.symbol(p)]) for p in net.params}, losses


def test_descend_equals_gradient_descent_by_hand():
    net = load("chain_4layer")
    d = derive(net)
    run = descend(d, steps=3, digits=25)
    params, losses = _gradient_descent_by_hand(net, 3, sympy.Rational(1, 10))
    assert net.learning_rate == sympy.Rational(1, 10)
    for p in net.params:
        assert close(run.params[p], params[p], 22), p
    assert len(run.losses) == 3
    for ours, reference in zip(run.losses, losses):
        assert close(ours, reference, 22)
    assert losses[0] > losses[-1]
    floats = descend(d, steps=3, digits=None)
    assert all(abs(floats.params[p] - float(params[p])) < 1e-14 for p in d.network.params)


def _full_batch_by_hand(eta, reduction):
    """One full-batch step on the lecture's four samples, exact rational arithmetic."""
    xs = [sympy.Rational(t) for t in ("10", "2", "3.5", "1")]
    ys = [sympy.Rational(t) for t in ("10.1", "1.9", "3.4", "1.1")]
    w = sympy.Rational(1, 2)
    grad = sum(-(y - w * x) * x for x, y in zip(xs, ys))
    return w - sympy.Rational(eta) * (grad / 4 if reduction == "mean" else grad)


@pytest.mark.parametrize("reduction, eta", [("mean", "0.004"), ("sum", "0.001"), ("sum", "0.004")])
def test_sgd_full_batch_mean_and_sum_by_hand(reduction, eta):
    d = derive(load("perceptron"))
    run = sgd(d, batch_size=4, epochs=1, reduction=reduction, learning_rate=eta, digits=30)
    assert close(run.params["w"], number(_full_batch_by_hand(eta, reduction)), 28)


def test_one_mini_batch_of_two_by_hand():
    net = load("perceptron")
    d = derive(net)
    run = sgd(d, batch_size=2, epochs=1, shuffle=False, reduction="mean", digits=30)
    w, eta = sympy.Rational(1, 2), net.learning_rate
    xs, ys = net.data["x"][:2], net.data["y"][:2]
    grad = sum(-(y - w * x) * x for x, y in zip(xs, ys)) / 2
    w = w - eta * grad
    xs, ys = net.data["x"][2:], net.data["y"][2:]
    grad = sum(-(y - w * x) * x for x, y in zip(xs, ys)) / 2
    w = w - eta * grad  # exact rational arithmetic, independent of symgrad
    assert close(run.params["w"], sympy.N(w, 50), 28)


_SGD_LOSSES = "import symgrad; d = symgrad.derive(symgrad.load('perceptron')); " \
              "print(repr(symgrad.sgd(d, epochs=2, seed={seed}, digits=None).losses))"


def _in_a_new_process(code: str, hash_seed: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=True).stdout


def test_shuffling_is_seeded():
    d = derive(load("perceptron"))
    here = repr(sgd(d, epochs=2, seed=7, digits=None).losses)
    assert _in_a_new_process(_SGD_LOSSES.format(seed=7), "3").strip() == here  # another process and hash seed
    assert repr(sgd(d, epochs=2, seed=8, digits=None).losses) != here


def test_bad_training_options():
    d = derive(load("perceptron"))
    with pytest.raises(InvalidArgument, match="batch_size"):
        sgd(d, batch_size=5)
    with pytest.raises(InvalidArgument, match="reduction"):
        sgd(d, reduction="median")
    with pytest.raises(SymgradError, match="no learning rate"):
        step(derive(load("two_neurons")))


def test_full_batch_descent_matches_hand_written_loops():
    """150 full-batch steps on the lecture's data: float64 against a NumPy loop, exact against
    Fractions. The NumPy loop also pins the w the README and CLI reference print."""
    xs, ys = np.array([10, 2, 3.5, 1.0]), np.array([10.1, 1.9, 3.4, 1.1])
    w = 0.5
    for _ in range(150):
        w -= 0.01 * np.mean(-(ys - w * xs) * xs)
    assert repr(float(w)) == "1.0046908315565029"
    d = derive(load("perceptron"))
    floats = sgd(d, batch_size=4, epochs=150, shuffle=False, digits=None)
    assert abs(floats.params["w"] - w) <= 4 * np.spacing(w)
    exact = Fraction(1, 2)
    data = [(Fraction(x), Fraction(y)) for x, y in zip(("10", "2", "3.5", "1"), ("10.1", "1.9", "3.4", "1.1"))]
    for _ in range(150):
        exact -= Fraction(1, 100) * sum(-(y - exact * x) * x for x, y in data) / 4
    run = sgd(d, batch_size=4, epochs=150, shuffle=False, digits=30)
    assert close(run.params["w"], number(sympy.Rational(exact.numerator, exact.denominator)), 25)


# -- many steps as one certified run, and the layerwise rule, against hand-written descent --------
def test_certified_steps_equal_gradient_descent_by_hand():
    net = load("chain_4layer")
    run = certified_steps(derive(net), 3, digits=20, record=(0, 2, 3))
    assert set(run) == {0, 2, 3}
    for steps in (2, 3):
        params, losses = _gradient_descent_by_hand(net, steps, sympy.Rational(1, 10))
        for p in net.params:
            assert close(run[steps][p], params[p], 19), (steps, p)
    for k in (0, 2):  # losses[k]: the loss after k steps, before the next
        assert close(run[k]["L"], losses[k], 19), k


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _mazur_by_hand(steps: int, *, layerwise: bool = False, biases: bool = True):
    """The 2-2-2 network's weights after ``steps`` updates (η = 0.5), float64, written out."""
    i, t = np.array([.05, .1]), np.array([.01, .99])
    w1, b1, w2, b2 = np.array([[.15, .2], [.25, .3]]), .35, np.array([[.4, .45], [.5, .55]]), .6
    for _ in range(steps):
        h = _sig(w1 @ i + b1)
        o = _sig(w2 @ h + b2)
        d2 = (o - t) * o * (1 - o)
        new_w2, new_b2 = w2 - 0.5 * np.outer(d2, h), b2 - 0.5 * d2.sum() * biases
        d1 = (new_w2 if layerwise else w2).T @ d2 * h * (1 - h)  # layerwise: the new output weights
        w1, b1 = w1 - 0.5 * np.outer(d1, i), b1 - 0.5 * d1.sum() * biases
        w2, b2 = new_w2, new_b2
    return {"w1": w1[0, 0], "w2": w1[0, 1], "w3": w1[1, 0], "w4": w1[1, 1], "b1": b1,
            "w5": w2[0, 0], "w6": w2[0, 1], "w7": w2[1, 0], "w8": w2[1, 1], "b2": b2}


@pytest.mark.parametrize("layerwise", [False, True])
def test_a_step_of_either_rule_equals_the_hand_written_update(layerwise):
    rule = "layerwise" if layerwise else "simultaneous"
    d = derive(load("mazur"))
    expected = _mazur_by_hand(1, layerwise=layerwise)
    evaluated = step(d, digits=20, rule=rule).after
    straight_line = certified_steps(d, 1, digits=20, rule=rule, record=(1,))[1]
    for p, value in expected.items():
        assert abs(float(evaluated[p]) - value) <= 1e-15 and abs(float(straight_line[p]) - value) <= 1e-15, p


def test_frozen_parameters_are_left_out_of_the_update():
    d = derive(load("mazur"))
    expected = _mazur_by_hand(5, layerwise=True, biases=False)
    run = certified_steps(d, 5, digits=20, rule="layerwise", frozen=("b1", "b2"), record=(5,))[5]
    assert close(run["b1"], number(sympy.Rational(7, 20)), 20) and close(run["b2"], number(sympy.Rational(3, 5)), 20)
    for p, value in expected.items():
        assert abs(float(run[p]) - value) <= 1e-14, p
