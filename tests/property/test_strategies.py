"""symgrad.strategies: each strategy draws what it promises, keeps its margin (checked with a
NumPy forward pass written here), shrinks toward the simplest example, and refuses bad options."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.strategies import EXPRESSION_FUNCTIONS, batches, expressions, networks, points

ROOT = Path(__file__).resolve().parent.parent.parent
SHRINK = settings(max_examples=50, database=None, phases=[Phase.generate, Phase.shrink])
KINKED = networks(activations=("relu", "leaky_relu"), losses=("l1", "hinge"), margin=0.05)


def numpy_forward(net: symgrad.Network, point: dict | None = None):
    """Pre-activations of every layer and the outputs, from the mlp naming scheme, in NumPy."""
    s = net.structure
    values = {name: float(v) for name, v in net.point(point).items()}
    act = {"relu": lambda z: np.maximum(z, 0), "leaky_relu": lambda z: np.maximum(0.1 * z, z)}[s.activation]
    h, k, zs = np.array([values[x] for x in net.inputs]), 1, []
    for layer, (m, n) in enumerate(zip(s.widths[:-1], s.widths[1:]), start=1):
        W = np.array([[values[f"w{k + j * m + i}"] for i in range(m)] for j in range(n)])
        k += n * m
        names = [f"o{j}" for j in range(1, n + 1)] if layer == len(s.widths) - 1 else \
            [f"h{j}" if len(s.widths) == 3 else f"h{layer}_{j}" for j in range(1, n + 1)]
        b = {"none": np.zeros(n), "layer": np.full(n, values.get(f"b{layer}", 0.0)),
             "neuron": np.array([values.get(f"b_{name}", 0.0) for name in names])}[s.bias]
        zs.append(W @ h + b)
        h = act(zs[-1])
    return zs, h, np.array([values[t] for t in net.targets])


def assert_clear_of_kinks(net, point, margin):
    zs, out, targets = numpy_forward(net, point)
    assert min(np.min(np.abs(z)) for z in zs) >= margin * 0.999  # relu and leaky relu bend at z = 0
    kink = np.abs(out - targets) if net.structure.loss == "l1" else np.abs(1 - targets * out)
    assert np.min(kink) >= margin * 0.999


# -- networks ---------------------------------------------------------------------------
@given(networks(min_depth=2, max_depth=3, min_width=2, max_width=3, activations=("tanh", "relu"),
                losses=("sse", "softmax_cross_entropy"), biases=("layer",)))
def test_networks_respect_their_options(net):
    s = net.structure
    assert 3 <= len(s.widths) <= 4 and all(2 <= w <= 3 for w in s.widths)
    assert s.activation in ("tanh", "relu") and s.loss in ("sse", "softmax_cross_entropy") and s.bias == "layer"


@given(networks())
def test_networks_are_what_an_mlp_spec_builds(net):
    s = net.structure
    spec = (f'[mlp]\nwidths = {list(s.widths)}\nactivation = "{s.activation}"\nloss = "{s.loss}"\n'
            f'bias = "{s.bias}"\nseed = {s.seed}\n')
    from_spec = symgrad.loads(spec)
    assert [(n.name, n.text) for n in from_spec.nodes.values()] == [(n.name, n.text) for n in net.nodes.values()]
    assert from_spec.point() == net.point()


@given(KINKED)
def test_networks_keep_their_margin_from_kinks(net):
    assert_clear_of_kinks(net, None, 0.05)


# -- points and batches -----------------------------------------------------------------
@given(st.data())
def test_points_are_decimals_in_range_and_clear_of_kinks(data):
    net = data.draw(KINKED, label="network")
    point = data.draw(points(net, min_value=-0.5, max_value=2.0, places=1, margin=0.05), label="point")
    assert set(point) == set(net.inputs + net.params)
    for value in point.values():
        assert -0.5 <= value <= 2.0 and sympy.Rational(repr(value)) * 10 == round(value * 10)
    assert_clear_of_kinks(net, point, 0.05)


@given(st.data())
def test_batches_fit_the_network_and_its_loss(data):
    net = data.draw(networks(losses=("half_sse", "hinge", "softmax_cross_entropy")), label="network")
    batch = data.draw(batches(net, min_size=2, max_size=5, min_value=-3.0, max_value=3.0), label="batch")
    n = len(batch.inputs)
    assert 2 <= n <= 5 and batch.inputs.shape == (n, len(net.inputs)) and batch.targets.shape == (n, len(net.targets))
    assert np.all(np.abs(batch.inputs) <= 3)
    if net.structure.loss == "softmax_cross_entropy":
        assert np.all(batch.targets.sum(axis=1) == 1) and set(np.unique(batch.targets)) <= {0.0, 1.0}
    elif net.structure.loss == "hinge":
        assert set(np.unique(batch.targets)) <= {-1.0, 1.0}
    else:
        assert np.all((0 <= batch.targets) & (batch.targets <= 1))


# -- circuits ---------------------------------------------------------------------------
@given(expressions(functions=tuple(EXPRESSION_FUNCTIONS), max_nodes=8, max_leaves=3))
def test_expressions_are_connected_valid_circuits(net):
    assert net.output == f"n{len(net.nodes)}" and len(net.nodes) <= 8
    assert set(net.ancestors(net.output)) >= set(net.nodes)  # the output uses every node
    assert 1 <= len(net.params) <= 3 and 1 <= len(net.inputs) <= 3
    values = symgrad.evaluate(net, digits=20).values  # exact evaluation: every domain holds
    assert all(abs(values[n]) <= symgrad.limits.MAX_GENERATED_MAGNITUDE for n in net.nodes)


# -- shrinking --------------------------------------------------------------------------
def test_networks_shrink_to_the_simplest_network():
    net = find(networks(), lambda net: len(net.params) >= 3, settings=SHRINK)
    s = net.structure
    assert len(s.widths) == 2 and sum(s.widths) <= 4 and len(net.params) <= 4  # one layer, 3 or 4 parameters
    assert (s.activation, s.loss, s.seed) == ("sigmoid", "half_sse", 0)


def test_expressions_shrink_to_the_first_function_on_one_leaf_each():
    net = find(expressions(), lambda net: len(net.nodes) >= 3, settings=SHRINK)
    assert [n.text for n in net.nodes.values()] == ["x1 + x1", "n1 + n1", "n2 + n2"]
    assert net.params == ("w1",) and net.inputs == ("x1",)


def test_points_and_batches_shrink_to_zeros():
    net = symgrad.mlp([2, 2, 1])
    assert set(find(points(net), lambda p: True, settings=SHRINK).values()) == {0.0}
    batch = find(batches(net, min_size=2), lambda b: True, settings=SHRINK)
    assert batch.inputs.shape == (2, 2) and not batch.inputs.any() and not batch.targets.any()


# -- bad options ------------------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: networks(min_width=0), "networks(min_width=0): give an integer from 1 to"),
    (lambda: networks(min_depth=3, max_depth=2), "min_depth is above max_depth"),
    (lambda: networks(activations=("softplus",)), "'softplus' is not one of sigmoid, tanh"),
    (lambda: networks(losses=("zero_one",)), "'zero_one' has no gradient"),
    (lambda: networks(biases="neuron"), "give a non-empty tuple of names"),
    (lambda: networks(margin=-1), "networks(margin=-1): a distance cannot be negative"),
    (lambda: expressions(functions=("erf",)), "'erf' is not one of +, -"),
    (lambda: expressions(min_value=0.001, max_value=0.002, places=2), "no 2-place decimal lies in the range"),
    (lambda: points(symgrad.mlp([1, 1]), min_value=1, max_value=0), "min_value is above max_value"),
    (lambda: points("mazur"), "points(network='mazur'): give a symgrad.Network"),
    (lambda: batches(symgrad.mlp([1, 1]), min_size=0), "batches(min_size=0): give an integer from 1 to"),
    (lambda: batches(symgrad.mlp([1, 1]), places=9), "batches(places=9): give an integer from 0 to 6"),
])
def test_bad_options_are_invalid_arguments(make, message):
    with pytest.raises(symgrad.InvalidArgument, match=re.escape(message)):
        make()


def test_without_hypothesis_the_import_says_how_to_install_it():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "import symgrad, symgrad.testing\n"
            "try:\n    import symgrad.strategies\n"
            "except symgrad.MissingDependency as error:\n    print(error.extra, error.module, error)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == ('test hypothesis symgrad.strategies needs hypothesis, which is not installed; '
                           'install it with: python -m pip install "symgrad[test]"')


@given(networks(activations=("tanh",), output_activations=("identity",), losses=("half_sse",)))
def test_networks_pin_a_linear_output_under_a_tanh_hidden_layer(net):
    # a regression MLP: tanh hidden units, identity output (the output node is the weighted sum itself)
    assert net.structure.activation == "tanh" and net.structure.output_activation == "identity"
    assert net.nodes["out_o1"].text == "net_o1"


def test_networks_refuse_an_unknown_output_activation():
    with pytest.raises(symgrad.InvalidArgument, match="output_activations"):
        networks(output_activations=("softmax",))
