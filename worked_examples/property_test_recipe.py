"""A Hypothesis recipe: test a hand-written NumPy backprop, and a custom layer's backward, against exact gradients.

Run it with the test extra installed: python worked_examples/property_test_recipe.py
"""

import numpy as np

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    raise SystemExit("this recipe needs Hypothesis: pip install 'symgrad[test]'")

import symgrad
from symgrad.symbolic_arrays import softmax
from symgrad.testing import property_test_vjp


def my_backprop(values, n_in, n_hid):
    """The code under test: a 1-hidden-layer sigmoid network with E = ½(t − o)²."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    x = np.array([values[f"i{i + 1}"] for i in range(n_in)])
    W1 = np.array([[values[f"w{j * n_in + i + 1}"] for i in range(n_in)] for j in range(n_hid)])
    b1 = np.array([values[f"b_h{j + 1}"] for j in range(n_hid)])
    w2 = np.array([values[f"w{n_in * n_hid + j + 1}"] for j in range(n_hid)])
    h = sig(W1 @ x + b1)
    o = sig(w2 @ h + values["b_o1"])
    delta_o = (o - values["t1"]) * o * (1 - o)
    delta_h = w2 * delta_o * h * (1 - h)
    grads = {f"w{j * n_in + i + 1}": delta_h[j] * x[i] for j in range(n_hid) for i in range(n_in)}
    grads.update({f"b_h{j + 1}": delta_h[j] for j in range(n_hid)})
    grads.update({f"w{n_in * n_hid + j + 1}": delta_o * h[j] for j in range(n_hid)})
    grads["b_o1"] = delta_o
    return grads


@settings(max_examples=25, deadline=None)
@given(n_in=st.integers(1, 3), n_hid=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_my_backprop(n_in, n_hid, seed):
    net = symgrad.mlp([n_in, n_hid, 1], seed=seed)
    exact = symgrad.evaluate_gradients(symgrad.derive(net), digits=20).gradients
    mine = my_backprop({k: float(v) for k, v in net.point().items()}, n_in, n_hid)
    for p in net.params:
        assert np.isclose(mine[p], float(exact[p]), rtol=1e-10, atol=1e-14), p


def dense_softmax(x, W):
    """A custom layer's forward: softmax(x Wᵀ) over the last axis."""
    z = x @ W.T
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def dense_softmax_backward(g, x, W):
    """Its hand-written backward: dz = y ⊙ (g − Σ g·y), then dx = dz W and dW = dzᵀ x."""
    y = dense_softmax(x, W)
    dz = y * (g - (g * y).sum(-1, keepdims=True))
    return dz @ W, dz.T @ x


def test_my_custom_layer():
    # The reference is the same forward over symbolic arrays; dtype, inputs and g are drawn.
    property_test_vjp(dense_softmax, lambda x, W: softmax(x @ W.T), backward=dense_softmax_backward,
                      shapes={"x": (2, 3), "W": (4, 3)}, settings=settings(max_examples=20, database=None))


if __name__ == "__main__":
    test_my_backprop()
    print("my_backprop agrees with symgrad on every generated network")
    test_my_custom_layer()
    print("dense_softmax_backward agrees with the exact g·J in float64 and float32")
