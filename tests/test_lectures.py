"""Every number the lectures print, asserted at the printed digits (../shared/reference)."""

from __future__ import annotations

import mpmath
import pytest
import sympy

import symgrad
from symgrad import derive, evaluate_gradients, load, step, total_derivative

from symgrad.evaluation import evaluate_expr

from .helpers import close, printed


# -- L1: the 2-2-2 network (fourth lecture) ---------------------------------------------
@pytest.fixture(scope="module")
def mazur():
    d = derive(load("mazur"))
    return d, evaluate_gradients(d, digits=30), step(d, digits=30)


@pytest.mark.parametrize(
    "name, as_printed",
    [
        ("net_h1", "0.3775"),
        ("out_h1", "0.593269992"),
        ("out_h2", "0.596884378"),
        ("net_o1", "1.105905967"),
        ("out_o1", "0.75136507"),
        ("out_o2", "0.772928465"),
        ("E_o1", "0.274811083"),
        ("E_o2", "0.023560026"),
        ("E_total", "0.298371109"),
    ],
)
def test_mazur_forward(mazur, name, as_printed):
    _, g, _ = mazur
    assert printed(g.values[name], as_printed) == as_printed


def test_mazur_dE_dw5_and_its_three_factors(mazur):
    d, g, _ = mazur
    chain = d.chain("w5")
    assert chain.head == "out_o1"
    assert [f.leibniz for f in chain.factors] == ["dout_o1/dnet_o1", "dnet_o1/dw5"]
    assert printed(g.adjoints["out_o1"], "0.74136507") == "0.74136507"  # -(t1 - out_o1)
    assert printed(g.factors["out_o1", "net_o1"], "0.186815602") == "0.186815602"
    assert printed(g.factors["net_o1", "w5"], "0.593269992") == "0.593269992"
    assert printed(g.gradients["w5"], "0.082167041") == "0.082167041"
    # The printed product of the printed factors, as the lecture multiplies them.
    assert printed(mpmath.mpf("0.74136507") * mpmath.mpf("0.186815602") * mpmath.mpf("0.593269992"),
                   "0.082167041") == "0.082167041"


def test_mazur_local_factors_are_the_lecture_formulas(mazur):
    d, _, _ = mazur
    out_o1, net_o1, out_h1, t1 = sympy.symbols("out_o1 net_o1 out_h1 t1", real=True)
    assert sympy.simplify(d.factors["out_o1", "net_o1"].expr - out_o1 * (1 - out_o1)) == 0
    assert d.factors["net_o1", "w5"].expr == out_h1
    assert sympy.simplify(d.expression("out_o1") - (-(t1 - out_o1))) == 0


@pytest.mark.parametrize(
    "param, as_printed",
    [
        ("w5", "0.35891648"),
        ("w6", "0.408666186"),
        ("w7", "0.511301270"),
        ("w8", "0.561370121"),
        ("w1", "0.149780716"),
        ("w2", "0.19956143"),
        ("w3", "0.24975114"),
        ("w4", "0.29950229"),
    ],
)
def test_mazur_updates(mazur, param, as_printed):
    _, _, s = mazur
    assert printed(s.after[param], as_printed) == as_printed


def test_mazur_hidden_gradient_sums_two_paths(mazur):
    d, g, _ = mazur
    net = d.network
    total = total_derivative(net, "E_o1", "out_h1") + total_derivative(net, "E_o2", "out_h1")
    env = {**{k: v for k, v in g.values.items()}}
    with mpmath.workdps(40):
        value = evaluate_expr(total, env)
    assert close(value, g.adjoints["out_h1"], 25)
    assert d.count_paths("w1") == 2


def test_mazur_slide_slip_is_not_our_value(mazur):
    # One slide prints (0.01 - 0.751366507); the correct out_o1 is 0.75136507 (to 8 places).
    _, g, _ = mazur
    assert printed(g.values["out_o1"], "0.751366507") != "0.751366507"


def test_mlp_shorthand_reproduces_mazur():
    spec = """
    [mlp]
    widths = [2, 2, 2]
    bias = "layer"
    [values]
    i1 = 0.05
    i2 = 0.10
    t1 = 0.01
    t2 = 0.99
    w1 = 0.15
    w2 = 0.20
    w3 = 0.25
    w4 = 0.30
    w5 = 0.40
    w6 = 0.45
    w7 = 0.50
    w8 = 0.55
    b1 = 0.35
    b2 = 0.60
    """
    g = evaluate_gradients(derive(symgrad.loads(spec)), digits=20)
    assert printed(g.gradients["w5"], "0.082167041") == "0.082167041"
    assert printed(g.values["E_total"], "0.298371109") == "0.298371109"


# -- L2: two neurons, 1-D input (first lecture) ----------------------------------------
def test_two_neurons():
    d = derive(load("two_neurons"))
    g = evaluate_gradients(d, digits=10)
    assert g.values["h"] == -7 and g.values["f"] == -10
    assert {p: int(v) for p, v in g.gradients.items()} == {"w1": -4, "w_b1": 2, "w2": -7, "w_b2": 1}
    assert [f.leibniz for p in d.paths("w1") for f in p.factors] == ["df/dh", "dh/dw1"]


# -- L3: circuits (second lecture) -----------------------------------------------------
def test_circuit_difference():
    g = evaluate_gradients(derive(load("circuit_difference")), digits=10)
    assert g.adjoints["x1"] == 1 and g.adjoints["x2"] == -1


def test_circuit_sum():
    d = derive(load("circuit_sum"))
    g = evaluate_gradients(d, digits=10)
    assert g.adjoints["x3"] == -1 and g.adjoints["x4"] == -1 and g.adjoints["x5"] == -1
    assert [[f.leibniz for f in p.factors] for p in d.paths("x3")] == [["df/dx2", "dx2/dx3"]]


def test_circuit_weights_df_dw3_is_minus_sigma_prime_x3():
    d = derive(load("circuit_weights"))
    x2, x3 = sympy.symbols("x2 x3", real=True)
    assert sympy.simplify(d.expression("w3") - (-x2 * (1 - x2) * x3)) == 0


def test_circuit_multipath_df_dx3_is_one_minus_sigma_prime_w3():
    d = derive(load("circuit_multipath"))
    x2, w3 = sympy.symbols("x2 w3", real=True)
    assert sympy.simplify(d.expression("x3") - (1 - x2 * (1 - x2) * w3)) == 0
    assert d.count_paths("x3") == 2
    g = evaluate_gradients(d, digits=20)
    with mpmath.workdps(40):
        s = 1 / (1 + mpmath.exp(-(mpmath.mpf(1) / 2 * 2 + mpmath.mpf(1) / 4 * -1)))
        expected = 1 - s * (1 - s) / 2
    assert close(g.adjoints["x3"], expected, 18)


# -- L4/L5: perceptrons, the 3-4-2 MLP, the 4-layer chain -------------------------------
def test_perceptron_per_sample_update_is_w_plus_eta_error_x():
    net = load("perceptron")
    d = derive(net)
    for x, y in zip(net.data["x"], net.data["y"]):
        w = sympy.Rational(1, 2)
        s = step(d, at={"x": x, "y": y}, digits=30)
        expected = w + net.learning_rate * (y - w * x) * x  # w <- w + eta (y - yhat) x, exactly
        assert close(s.after["w"], sympy.N(expected, 40), 25)


def test_perceptron_least_squares_optimum_is_2356_over_2345():
    net = load("perceptron")
    d = derive(net)
    w = net.symbol("w")
    # Sum the symbolic per-sample gradient over the data set and solve dL/dw = 0 exactly.
    grad = d.closed_form("w")
    total = sum(grad.subs({net.symbol("x"): x, net.symbol("y"): y}) for x, y in zip(net.data["x"], net.data["y"]))
    assert sympy.solve(total, w) == [sympy.Rational(2356, 2345)]
    assert printed(mpmath.mpf(2356) / 2345, "1.00469083") == "1.00469083"


def test_perceptron_full_batch_descent_converges_to_w_star():
    run = symgrad.sgd(derive(load("perceptron")), batch_size=4, epochs=150, shuffle=False, digits=None)
    assert abs(run.params["w"] - 2356 / 2345) < 1e-12
    assert run.losses[-1] < run.losses[0]


def test_perceptron_eta_one_diverges_on_x_10():
    run = symgrad.sgd(derive(load("perceptron")), learning_rate=1, epochs=3, shuffle=False, digits=None)
    # Each visit to x = 10 multiplies the error by 1 - 100 = -99: the losses blow up.
    assert max(run.losses) > 1e6


def test_two_parameter_perceptron_gradient():
    d = derive(load("perceptron_two"))
    y, yhat, x1, x2 = sympy.symbols("y yhat x1 x2", real=True)
    assert sympy.simplify(d.expression("w1") - (-(y - yhat) * x1)) == 0
    assert sympy.simplify(d.expression("w2") - (-(y - yhat) * x2)) == 0


def test_3_4_2_mlp_has_26_parameters():
    net = load("mlp_3_4_2")
    weights = [p for p in net.params if p.startswith("w")]
    neurons = [n for n in net.nodes if n.startswith("out_")]
    assert (len(neurons), len(weights), len(net.params)) == (6, 20, 26)


def test_four_layer_chain_dL_dw3():
    d = derive(load("chain_4layer"))
    y, f3, f2 = sympy.symbols("y f3 f2", real=True)
    assert sympy.simplify(d.expression("w3") - (-(y - f3) * f3 * (1 - f3) * f2)) == 0


# -- L6: chain rule in practice, the sigmoid circuit, L2 regularization -----------------
def test_chain_sin():
    net = load("chain_sin")
    x = net.symbol("x")
    assert sympy.simplify(derive(net).closed_form("x") - sympy.cos(x**2 / 2) * x) == 0


def test_sigmoid_circuit_derivative_is_z_one_minus_z():
    net = load("sigmoid_circuit")
    g = evaluate_gradients(derive(net), digits=30)
    z = g.values["z"]
    with mpmath.workdps(40):
        assert close(g.adjoints["x"], z * (1 - z), 28)
    x = net.symbol("x")
    closed = derive(net).closed_form("x")
    assert sympy.simplify(closed - sympy.exp(-x) / (1 + sympy.exp(-x)) ** 2) == 0


def test_l2_regularization_adds_two_lambda_theta():
    net = symgrad.mlp([2, 2, 1], l2="0.01")
    plain = symgrad.mlp([2, 2, 1])
    g = evaluate_gradients(derive(net), digits=20)
    g0 = evaluate_gradients(derive(plain), digits=20)
    for p in net.params:
        with mpmath.workdps(40):
            expected = g0.gradients[p] + 2 * mpmath.mpf(net.values[p].p) / net.values[p].q / 100
        assert close(g.gradients[p], expected, 18)


def test_names_print_the_way_the_lectures_print_them():
    net = load("mazur")
    assert [sympy.latex(net.symbol(n)) for n in ("out_o1", "E_total", "net_h1", "w5")] == [
        "out_{o1}", "E_{total}", "net_{h1}", "w_{5}"]
    assert sympy.latex(load("two_neurons").symbol("w_b1")) == "w_{b1}"
    assert sympy.latex(net.nodes["out_h1"].expr) == r"\sigma\left(net_{h1}\right)"
