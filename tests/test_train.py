"""Gradient-descent updates: simultaneous steps, N steps, SGD and mini-batches."""

from __future__ import annotations

import mpmath
import pytest
import sympy

import symgrad
from symgrad import GraphError, InvalidArgument, derive, descend, load, sgd, step

from .helpers import close


def test_step_uses_old_parameters_for_every_gradient():
    d = derive(load("mazur"))
    s = step(d, digits=30)
    g = symgrad.evaluate_gradients(d, digits=30)
    for p in d.network.params:
        with mpmath.workdps(40):
            expected = g.values[p] - mpmath.mpf(1) / 2 * g.gradients[p]
        assert close(s.after[p], expected, 28)


def test_descend_n_steps_equals_n_single_steps():
    d = derive(load("chain_4layer"))
    run = descend(d, steps=3, digits=25)
    at = {}
    for _ in range(3):
        at = step(d, at=at, digits=25).after
    for p in d.network.params:
        assert close(run.params[p], at[p], 20)
    assert len(run.losses) == 3 and run.losses[0] > run.losses[-1]
    floats = descend(d, steps=3, digits=None)
    assert all(abs(floats.params[p] - float(run.params[p])) < 1e-14 for p in d.network.params)


def test_sgd_sum_is_batch_size_times_mean():
    d = derive(load("perceptron"))
    mean = sgd(d, batch_size=4, epochs=1, reduction="mean", learning_rate="0.004", digits=30)
    total = sgd(d, batch_size=4, epochs=1, reduction="sum", learning_rate="0.001", digits=30)
    assert close(mean.params["w"], total.params["w"], 25)


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


def test_shuffling_is_seeded():
    d = derive(load("perceptron"))
    a = sgd(d, epochs=2, seed=7, digits=None)
    b = sgd(d, epochs=2, seed=7, digits=None)
    c = sgd(d, epochs=2, seed=8, digits=None)
    assert a.losses == b.losses and a.losses != c.losses


def test_bad_training_options():
    d = derive(load("perceptron"))
    with pytest.raises(InvalidArgument, match="batch_size"):
        sgd(d, batch_size=5)
    with pytest.raises(InvalidArgument, match="reduction"):
        sgd(d, reduction="median")
    with pytest.raises(GraphError, match="no learning rate"):
        step(derive(load("two_neurons")))
