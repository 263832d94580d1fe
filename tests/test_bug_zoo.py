"""The bug zoo's planted bugs, each named by symgrad's diagnosis (issue 21).

The reference is the zoo's own correct backprop (bug=None), which passes against the exact
gradient; each planted bug's received ÷ exact pattern is predicted by hand below (σ′ at the
output is h(1 − h), the mean of B samples divides by B, …) and must be named.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad.testing import GradientMismatch, assert_gradients_match

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "worked_examples"))
zoo = pytest.importorskip("backprop_bug_zoo", reason="the bug zoo needs Hypothesis (the test extra)")

X3 = np.array([[0.3, -0.2], [0.1, 0.5], [0.7, 0.2]])
T3 = np.array([[0.1, 0.4], [0.9, 0.2], [0.3, 0.3]])
NET = symgrad.mlp([2, 2, 2], seed=3)  # square weights, so a transposed one still has the right shape


def _failure(bug, batch):
    with pytest.raises(GradientMismatch) as caught:
        assert_gradients_match(lambda Ws, bs, X, T: zoo.backprop(Ws, bs, X, T, bug=bug), NET, batch=batch)
    return caught.value


def _kinds(failure):
    return [d.kind for d in failure.diagnoses]


def test_the_correct_backprop_passes():
    assert_gradients_match(lambda Ws, bs, X, T: zoo.backprop(Ws, bs, X, T), NET, batch=symgrad.Batch(X3, T3))


def test_a_missing_sigmoid_prime_is_named_at_its_units():
    failure = _failure("sigmoid_prime_missing", symgrad.Batch(X3[:1], T3[:1]))
    named = [d for d in failure.diagnoses if d.kind == "missing activation derivative"]
    # δ_o = (h − t) instead of (h − t)·h(1 − h): each output unit's weights are off by 1/(h(1 − h))
    assert {d.sentence.split(":")[0] for d in named} == {"missing activation derivative at out_o1",
                                                          "missing activation derivative at out_o2"}
    out = symgrad.evaluate(NET, at={"i1": 0.3, "i2": -0.2, "t1": 0.1, "t2": 0.4}, digits=None).values["out_o1"]
    ratio = next(r for r in failure.rows if r.parameter.startswith("w5 ")).received / float(
        next(r for r in failure.rows if r.parameter.startswith("w5 ")).expected)
    assert ratio == pytest.approx(1 / (out * (1 - out)), rel=1e-9)


def test_a_flipped_sign_is_named():
    assert _kinds(_failure("sign_flipped", symgrad.Batch(X3, T3))) == ["sign"]


def test_a_forgotten_batch_mean_is_named_with_the_batch_size():
    failure = _failure("mean_forgotten", symgrad.Batch(X3, T3))
    assert _kinds(failure) == ["batch mean"] and "ratio B = 3" in failure.diagnoses[0].sentence


def test_a_dropped_half_is_named():
    assert _kinds(_failure("half_dropped", symgrad.Batch(X3, T3))) == ["half of the loss"]


def test_a_transposed_weight_gradient_is_named_by_its_symmetric_pattern():
    failure = _failure("weight_gradient_transposed", symgrad.Batch(X3, T3))
    assert set(_kinds(failure)) == {"transposed weight"}
    wrong = {r.parameter.split(" = ")[1] for r in failure.rows if not r.ok}
    # the diagonals are right; the off-diagonal entries are wrong in pairs (i, j) ↔ (j, i)
    assert wrong == {"W1[0, 1]", "W1[1, 0]", "W2[0, 1]", "W2[1, 0]"}


def test_a_missing_transpose_is_named():
    failure = _failure("missing_transpose", symgrad.Batch(X3[:1], T3[:1]))
    assert _kinds(failure) == ["missing transpose"]


def test_a_non_square_transposed_weight_gradient_is_named_by_its_shape():
    with pytest.raises(GradientMismatch, match="transposed weight gradient"):
        assert_gradients_match(lambda Ws, bs, X, T: zoo.backprop(Ws, bs, X, T, bug="weight_gradient_transposed"),
                               symgrad.mlp([3, 2], seed=1))


@pytest.mark.parametrize("bug, kind", [("sigmoid_prime_missing", "missing activation derivative"),
                                       ("sign_flipped", "sign"), ("mean_forgotten", "batch mean"),
                                       ("half_dropped", "half of the loss")])
def test_the_property_finds_shrinks_and_names_each_bug(bug, kind):
    text = zoo.counterexample(bug)
    assert f"diagnosis: {kind}" in text
