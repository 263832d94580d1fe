"""A bug zoo: eight classic backprop bugs, each caught by the property and shrunk to a minimal network.

``backprop`` is the hand-written code of numpy_mlp_backprop.py with a switch that plants one
bug at a time:

- ``sigmoid_prime_of_preactivation``: σ′ computed as z(1 − z) from the pre-activation z = Wh + b
  instead of h(1 − h) from the activation h = σ(z);
- ``missing_transpose``: δ_l = (W_{l+1} δ_{l+1}) ⊙ σ′ instead of W_{l+1}ᵀ;
- ``bias_not_summed``: ∂E/∂b_l = δ_l, one column per sample, instead of the sum over the batch;
- ``mean_forgotten``: E summed over the batch, not averaged (δ_L not divided by the batch size);
- ``sigmoid_prime_missing``: the output layer's σ′ left out of δ_L;
- ``sign_flipped``: δ_L = (t − h) instead of (h − t);
- ``weight_gradient_transposed``: ∂E/∂W_l = h_{l−1} δ_lᵀ instead of δ_l h_{l−1}ᵀ;
- ``half_dropped``: the gradient of Σ(t − h)² for the loss ½Σ(t − h)².

symgrad names the last four, and the batch mean and the missing transpose, in its diagnosis
(tests/test_bug_zoo.py checks each name).

For each, ``property_test_backprop`` runs the same property as the correct code and prints the
smallest failing example Hypothesis finds (derandomized, so the output is the same every run;
docs/how-to/property-tests.md shows it, and this script checks that it still does).

Run it with the test extra installed: python worked_examples/backprop_bug_zoo.py
"""

from pathlib import Path

import numpy as np

try:
    from hypothesis import Phase, settings
except ImportError:  # pragma: no cover
    raise SystemExit("this example needs Hypothesis: pip install 'symgrad[test]'")

from symgrad.strategies import networks
from symgrad.testing import property_test_backprop

BUGS = ("sigmoid_prime_of_preactivation", "missing_transpose", "bias_not_summed", "mean_forgotten",
        "sigmoid_prime_missing", "sign_flipped", "weight_gradient_transposed", "half_dropped")


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def backprop(Ws, bs, X, T, bug=None):
    """numpy_mlp_backprop.backprop with one planted bug (each marked where it differs)."""
    batch = X.shape[0]
    hs, zs = [X.T], []
    for W, b in zip(Ws, bs):
        zs.append(W @ hs[-1] + b[:, None])
        hs.append(sigmoid(zs[-1]))

    def sigmoid_prime(layer):  # layer l's σ′, from its activation h_l (or, with the bug, from z_l)
        if bug == "sigmoid_prime_of_preactivation":
            return zs[layer - 1] * (1 - zs[layer - 1])
        return hs[layer] * (1 - hs[layer])

    scale = (1 if bug == "mean_forgotten" else 1 / batch) * (2 if bug == "half_dropped" else 1)
    error = T.T - hs[-1] if bug == "sign_flipped" else hs[-1] - T.T
    delta = error * (1 if bug == "sigmoid_prime_missing" else sigmoid_prime(len(Ws))) * scale
    dWs, dbs = [], []
    for layer in reversed(range(len(Ws))):
        dWs.insert(0, hs[layer] @ delta.T if bug == "weight_gradient_transposed" else delta @ hs[layer].T)
        dbs.insert(0, delta if bug == "bias_not_summed" else delta.sum(axis=1))
        if layer:
            W_next = Ws[layer] if bug == "missing_transpose" else Ws[layer].T
            delta = (W_next @ delta) * sigmoid_prime(layer)
    return dWs, dbs


SIGMOID_MLPS = networks(max_depth=3, max_width=3, activations=("sigmoid",), losses=("half_sse",),
                        biases=("neuron",))
# Derandomized: the same examples, the same shrunk failures, every run. Without the explain
# phase (it traces coverage, which is slow).
SETTINGS = settings(max_examples=50, derandomize=True, database=None, print_blob=False,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink])


def counterexample(bug):
    """The shrunk failure of one planted bug, as Hypothesis reports it."""
    try:
        property_test_backprop(lambda Ws, bs, X, T: backprop(Ws, bs, X, T, bug=bug), networks=SIGMOID_MLPS,
                        max_batch_size=4, settings=SETTINGS)
    except Exception as failure:  # the property failed: what we want to see
        return f"{type(failure).__name__}: {failure}"  # Hypothesis's notes below it change with its version
    raise SystemExit(f"the property missed the bug {bug!r}")


if __name__ == "__main__":
    # Without a bug the same property passes: numpy_mlp_backprop.py runs it.
    shown = {}
    for bug in BUGS:
        text = counterexample(bug).rstrip()
        print(f"== {bug} ==\n{text}", end="\n\n")
        # The whole failure: the table first, then the headline naming the shrunk network, the
        # diagnosis and the rule (or NumPy's shape error).
        shown[bug] = text
    # docs/how-to/property-tests.md shows this output: keep the page in step with it.
    page = Path(__file__).resolve().parent.parent / "docs" / "how-to" / "property-tests.md"
    if page.exists():
        stale = [bug for bug, text in shown.items() if text not in page.read_text()]
        if stale:
            raise SystemExit(f"{page} does not show the current counterexample of {', '.join(stale)}")
