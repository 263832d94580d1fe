"""A hand-written NumPy backprop for sigmoid MLPs, checked by a Hypothesis property against symgrad.

The code under test is ``backprop``: the third lecture's matrix equations for any depth and
width, each sample a column, E = mean over the batch of ½‖t − ŷ‖²:

    δ_L = (ŷ − t) ⊙ σ′,   δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ σ′,   σ′ = h ⊙ (1 − h),
    ∂E/∂W_l = δ_l h_{l−1}ᵀ,   ∂E/∂b_l = Σ_batch δ_l.

``symgrad.testing.property_test_backprop`` draws networks (1 to 3 layers, 1 to 3 units each) and
batches (1 to 4 samples) and compares every entry with symgrad's exact gradient.

Run it with the test extra installed: python worked_examples/numpy_mlp_backprop.py
"""

import numpy as np

try:
    from hypothesis import settings
except ImportError:  # pragma: no cover
    raise SystemExit("this example needs Hypothesis: pip install 'symgrad[test]'")

from symgrad.strategies import networks
from symgrad.testing import property_test_backprop


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def backprop(Ws, bs, X, T):
    """Gradients of the mean half squared error: Ws[l] is (n_l, n_{l-1}), bs[l] is (n_l,), X is (batch, n_0)."""
    batch = X.shape[0]
    hs = [X.T]  # each sample a column
    for W, b in zip(Ws, bs):
        hs.append(sigmoid(W @ hs[-1] + b[:, None]))
    delta = (hs[-1] - T.T) * hs[-1] * (1 - hs[-1]) / batch
    dWs, dbs = [], []
    for layer in reversed(range(len(Ws))):
        dWs.insert(0, delta @ hs[layer].T)
        dbs.insert(0, delta.sum(axis=1))
        if layer:
            delta = (Ws[layer].T @ delta) * hs[layer] * (1 - hs[layer])
    return dWs, dbs


# The networks this backprop claims to handle: sigmoid units, a bias per neuron, ½‖t − ŷ‖².
SIGMOID_MLPS = networks(max_depth=3, max_width=3, activations=("sigmoid",), losses=("half_sse",),
                        biases=("neuron",))

if __name__ == "__main__":
    property_test_backprop(backprop, networks=SIGMOID_MLPS, max_batch_size=4,
                    settings=settings(max_examples=30, derandomize=True, database=None))
    print("backprop agrees with symgrad's exact gradients on 30 generated networks and batches")
