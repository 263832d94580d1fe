"""Every number the lectures print, asserted at the printed digits (../shared/reference).

Each of symgrad's numbers is held to two independent references: the lecture's printed
digits, and ``sympy.diff`` of the output written out by hand from the lecture text (or
substituted node by node), evaluated at 60 digits (tests/helpers.py).
"""

from __future__ import annotations

import mpmath
import pytest
import sympy

import symgrad
from symgrad import derive, evaluate_gradients, load, step, total_derivative

from .helpers import (
    MAZUR_GIVEN,
    MAZUR_LEARNING_RATE,
    MAZUR_PARAMS,
    close,
    decimal_float,
    expanded,
    leaf_point,
    mazur_by_hand,
    number,
    printed,
    reference_derivative,
    reference_gradients,
    sig,
)


# -- L1: the 2-2-2 network (fourth lecture) ---------------------------------------------
@pytest.fixture(scope="module")
def mazur():
    d = derive(load("mazur"))
    return d, evaluate_gradients(d, digits=30), step(d, digits=30)


@pytest.fixture(scope="module")
def by_hand():
    """The lecture's formulas typed in from the lecture text, and their values at 60 digits."""
    q, point = mazur_by_hand()
    values = {name: number(expr.xreplace(point)) for name, expr in q.items()}
    grads = {p: reference_derivative(q["E_total"], sympy.Symbol(p), point) for p in MAZUR_PARAMS}
    return q, point, values, grads


def test_mazur_spec_holds_the_lecture_givens():
    net = load("mazur")
    assert net.point() == {name: sympy.Rational(text) for name, text in MAZUR_GIVEN.items()}
    assert net.learning_rate == MAZUR_LEARNING_RATE


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
def test_mazur_forward(mazur, by_hand, name, as_printed):
    _, g, _ = mazur
    assert printed(g.values[name], as_printed) == as_printed
    assert close(g.values[name], by_hand[2][name], 28)


def test_mazur_dE_dw5_and_its_three_factors(mazur, by_hand):
    d, g, _ = mazur
    _, _, values, grads = by_hand
    chain = d.chain("w5")
    assert chain.head == "out_o1"
    assert [f.leibniz for f in chain.factors] == ["dout_o1/dnet_o1", "dnet_o1/dw5"]
    with mpmath.workdps(60):
        t1, out_o1 = mpmath.mpf(1) / 100, values["out_o1"]
        d_out_o1, sigma_prime = -(t1 - out_o1), out_o1 * (1 - out_o1)
    for ours, reference, as_printed in [
        (g.adjoints["out_o1"], d_out_o1, "0.74136507"),  # dE_total/dout_o1 = -(t1 - out_o1)
        (g.factors["out_o1", "net_o1"], sigma_prime, "0.186815602"),
        (g.factors["net_o1", "w5"], values["out_h1"], "0.593269992"),
        (g.gradients["w5"], grads["w5"], "0.082167041"),
    ]:
        assert printed(ours, as_printed) == as_printed
        assert close(ours, reference, 28)


def test_mazur_every_gradient_equals_sympy_diff(mazur, by_hand):
    _, g, _ = mazur
    for p in MAZUR_PARAMS:
        assert close(g.gradients[p], by_hand[3][p], 28), p


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
def test_mazur_updates(mazur, by_hand, param, as_printed):
    _, _, s = mazur
    assert printed(s.after[param], as_printed) == as_printed
    _, _, _, grads = by_hand
    with mpmath.workdps(60):
        reference = mpmath.mpf(MAZUR_GIVEN[param]) - mpmath.mpf(1) / 2 * grads[param]
    assert close(s.after[param], reference, 28)


def test_mazur_bias_updates_equal_sympy_diff(mazur, by_hand):
    _, _, s = mazur
    for p in ("b1", "b2"):
        with mpmath.workdps(60):
            reference = mpmath.mpf(MAZUR_GIVEN[p]) - mpmath.mpf(1) / 2 * by_hand[3][p]
        assert close(s.after[p], reference, 28), p


def test_mazur_hidden_gradient_sums_two_paths(mazur, by_hand):
    """dE_total/dout_h1 = dE_o1/dout_h1 + dE_o2/dout_h1, each checked against sympy.diff with
    out_h1 held as a free symbol."""
    d, g, _ = mazur
    q, point, values, _ = by_hand
    H = sympy.Symbol("H")
    s = {name: sympy.Symbol(name) for name in MAZUR_GIVEN}
    E_o1 = sympy.Rational(1, 2) * (s["t1"] - sig(s["w5"] * H + s["w6"] * q["out_h2"] + s["b2"])) ** 2
    E_o2 = sympy.Rational(1, 2) * (s["t2"] - sig(s["w7"] * H + s["w8"] * q["out_h2"] + s["b2"])) ** 2
    at = {**point, H: q["out_h1"].xreplace(point)}
    ref_o1, ref_o2 = (number(sympy.diff(E, H).xreplace(at)) for E in (E_o1, E_o2))
    # symgrad's symbolic total derivatives, evaluated by SymPy at the reference node values
    net = d.network
    node_values = {net.symbol(n): decimal_float(v) for n, v in values.items()}
    node_values.update({net.symbol(n): v for n, v in net.point().items()})
    for E, ref in (("E_o1", ref_o1), ("E_o2", ref_o2)):
        ours = number(total_derivative(net, E, "out_h1").xreplace(node_values), 50)
        assert close(ours, ref, 40), E
    with mpmath.workdps(60):
        assert close(g.adjoints["out_h1"], ref_o1 + ref_o2, 28)
    assert d.count_paths("w1") == 2
    assert sorted(p.factors[0].wrt for p in d.paths("w1")) == ["E_o1", "E_o2"]


def test_mlp_shorthand_reproduces_mazur(by_hand):
    spec = "[mlp]\nwidths = [2, 2, 2]\nbias = \"layer\"\n[values]\n" + "".join(
        f"{name} = {text}\n" for name, text in MAZUR_GIVEN.items())
    g = evaluate_gradients(derive(symgrad.loads(spec)), digits=30)
    assert printed(g.gradients["w5"], "0.082167041") == "0.082167041"
    assert printed(g.values["E_total"], "0.298371109") == "0.298371109"
    for p in MAZUR_PARAMS:
        assert close(g.gradients[p], by_hand[3][p], 28), p


# -- L2: two neurons, 1-D input (first lecture) ----------------------------------------
def test_two_neurons():
    d = derive(load("two_neurons"))
    g = evaluate_gradients(d, digits=10)
    assert (g.values["h"], g.values["f"]) == (-7, -10)
    assert dict(g.gradients) == {"w1": -4, "w_b1": 2, "w2": -7, "w_b2": 1}  # exact, not truncated
    assert [f.leibniz for p in d.paths("w1") for f in p.factors] == ["df/dh", "dh/dw1"]
    x, w1, wb1, w2, wb2 = sympy.symbols("x w1 w_b1 w2 w_b2")
    f = (x * w1 + wb1) * w2 + wb2  # typed from the lecture
    point = {x: -2, w1: 3, wb1: -1, w2: 2, wb2: 4}
    assert {p: int(sympy.diff(f, s).subs(point)) for p, s in zip(("w1", "w_b1", "w2", "w_b2"), (w1, wb1, w2, wb2))} \
        == dict(g.gradients)


@pytest.mark.parametrize("text, local", [("x + y", {"x": 1, "y": 1}), ("x*y", {"x": "y", "y": "x"})])
def test_local_gradient_rules(text, local):
    net = symgrad.Network()
    net.input("x", "0.3")
    net.input("y", "-2")
    net.node("z", text)
    d = derive(net)
    for name, expected in local.items():
        expected = sympy.Integer(expected) if isinstance(expected, int) else net.symbol(expected)
        assert d.factors["z", name].expr == expected


# -- L3: circuits (second lecture) -----------------------------------------------------
def test_circuit_difference():
    g = evaluate_gradients(derive(load("circuit_difference")), digits=10)
    assert (g.adjoints["x1"], g.adjoints["x2"]) == (1, -1)


def _circuit(text, **values):
    net = symgrad.Network()
    for name, value in values.items():
        (net.param if name.startswith("w") else net.input)(name, value)
    net.node("f", text)
    return net


def test_circuit_x1_minus_sum():
    g = evaluate_gradients(derive(_circuit("x1 - (x3 + x4)", x1=3, x3=1, x4=2)), digits=10)
    assert {n: g.adjoints[n] for n in ("x1", "x3", "x4")} == {"x1": 1, "x3": -1, "x4": -1}


def test_circuit_sum():
    d = derive(load("circuit_sum"))
    g = evaluate_gradients(d, digits=10)
    assert {n: g.adjoints[n] for n in ("x1", "x3", "x4", "x5")} == {"x1": 1, "x3": -1, "x4": -1, "x5": -1}
    assert [[f.leibniz for f in p.factors] for p in d.paths("x3")] == [["df/dx2", "dx2/dx3"]]


def test_circuit_linear_weights_df_dw3_is_minus_x3():
    net = _circuit("x1 - (w3*x3 + w4*x4)", x1=1, x3=2, x4=-1, w3="0.5", w4="0.25")
    d = derive(net)
    assert d.closed_form("w3") == -net.symbol("x3")
    assert evaluate_gradients(d, digits=10).gradients["w3"] == -2


def test_circuit_weights_df_dw3_is_minus_sigma_prime_x3():
    net = load("circuit_weights")
    d = derive(net)
    x2, x3 = sympy.symbols("x2 x3", real=True)
    assert sympy.simplify(d.expression("w3") - (-x2 * (1 - x2) * x3)) == 0
    x1, w3, w4, x3, x4 = sympy.symbols("x1 w3 w4 x3 x4")
    f = x1 - sig(w3 * x3 + w4 * x4)  # typed from the lecture
    reference = reference_derivative(f, w3, {x1: 1, x3: 2, x4: -1, w3: sympy.Rational(1, 2), w4: sympy.Rational(1, 4)})
    assert close(evaluate_gradients(d, digits=30).gradients["w3"], reference, 28)


def test_circuit_multipath_df_dx3_is_one_minus_sigma_prime_w3():
    d = derive(load("circuit_multipath"))
    x2, w3 = sympy.symbols("x2 w3", real=True)
    assert sympy.simplify(d.expression("x3") - (1 - x2 * (1 - x2) * w3)) == 0
    assert d.count_paths("x3") == 2
    g = evaluate_gradients(d, digits=30)
    x3, x4, x5, w3, w4 = sympy.symbols("x3 x4 x5 w3 w4")
    f = (x3 + x5) - sig(w3 * x3 + w4 * x4)  # typed from the lecture
    point = {x3: 2, x4: -1, x5: sympy.Rational(1, 2), w3: sympy.Rational(1, 2), w4: sympy.Rational(1, 4)}
    assert close(g.adjoints["x3"], reference_derivative(f, x3, point), 28)


# -- L4/L5: perceptrons, the 3-4-2 MLP, losses, the 4-layer chain -----------------------
LECTURE_DATA = {"x": ["10", "2", "3.5", "1"], "y": ["10.1", "1.9", "3.4", "1.1"]}


def test_perceptron_spec_holds_the_lecture_data():
    net = load("perceptron")
    assert {k: list(v) for k, v in net.data.items()} == {k: [sympy.Rational(t) for t in v]
                                                         for k, v in LECTURE_DATA.items()}


def test_perceptron_per_sample_update_is_w_plus_eta_error_x():
    net = load("perceptron")
    d = derive(net)
    assert sympy.simplify(d.closed_form("w") - (-(net.symbol("y") - net.symbol("w") * net.symbol("x"))
                                                * net.symbol("x"))) == 0
    w, eta = sympy.Rational(1, 2), sympy.Rational(1, 100)  # the spec's w and learning rate
    assert (net.point()["w"], net.learning_rate) == (w, eta)
    for x, y in zip(LECTURE_DATA["x"], LECTURE_DATA["y"]):
        x, y = sympy.Rational(x), sympy.Rational(y)
        s = step(d, at={"x": x, "y": y}, digits=30)
        expected = w + eta * (y - w * x) * x  # w <- w + eta (y - yhat) x, exactly
        assert close(s.after["w"], sympy.N(expected, 40), 28)


def test_perceptron_least_squares_optimum_is_2356_over_2345():
    net = load("perceptron")
    d = derive(net)
    w = net.symbol("w")
    # Sum symgrad's per-sample gradient over the lecture's data and solve dL/dw = 0 exactly.
    grad = d.closed_form("w")
    total = sum(grad.subs({net.symbol("x"): sympy.Rational(x), net.symbol("y"): sympy.Rational(y)})
                for x, y in zip(LECTURE_DATA["x"], LECTURE_DATA["y"]))
    assert sympy.solve(total, w) == [sympy.Rational(2356, 2345)]


def test_perceptron_normal_equation_numbers():
    """w* = Σxy/Σx² = 117.8/117.25: the summed gradient at w = 0 is −Σxy, and its change from
    w = 0 to w = 1 is Σx² (L is quadratic in w)."""
    d = derive(load("perceptron"))

    def summed_gradient(w):
        return sum(evaluate_gradients(d, at={"w": w, "x": x, "y": y}, digits=30).gradients["w"]
                   for x, y in zip(LECTURE_DATA["x"], LECTURE_DATA["y"]))

    with mpmath.workdps(40):
        sum_xy, sum_xx = -summed_gradient(0), summed_gradient(1) - summed_gradient(0)
        assert (printed(sum_xy, "117.8"), printed(sum_xx, "117.25")) == ("117.8", "117.25")
        assert close(sum_xy / sum_xx, number(sympy.Rational(2356, 2345)), 25)
        assert printed(sum_xy / sum_xx, "1.00469083") == "1.00469083"


def test_perceptron_full_batch_descent_converges_to_w_star():
    run = symgrad.sgd(derive(load("perceptron")), batch_size=4, epochs=150, shuffle=False, digits=None)
    assert abs(run.params["w"] - 2356 / 2345) < 1e-12
    assert printed(run.params["w"], "1.00469083") == "1.00469083"
    assert run.losses[-1] < run.losses[0]


def test_perceptron_eta_one_diverges_on_x_10():
    run = symgrad.sgd(derive(load("perceptron")), learning_rate=1, epochs=3, shuffle=False, digits=None)
    # Each visit to x = 10 multiplies the error by 1 - 100 = -99: the losses blow up.
    assert max(run.losses) > 1e6


def test_perceptron_small_eta_converges():
    run = symgrad.sgd(derive(load("perceptron")), learning_rate="0.005", epochs=200, shuffle=False, digits=None)
    assert abs(run.params["w"] - 2356 / 2345) < 0.05  # per-sample SGD hovers near w*


def test_two_parameter_perceptron_gradient():
    net = load("perceptron_two")
    d = derive(net)
    y, yhat, x1, x2 = sympy.symbols("y yhat x1 x2", real=True)
    assert sympy.simplify(d.expression("w1") - (-(y - yhat) * x1)) == 0
    assert sympy.simplify(d.expression("w2") - (-(y - yhat) * x2)) == 0
    g = evaluate_gradients(d, digits=30)
    reference = reference_gradients(net, wrt=["w1", "w2"])
    # -(y - yhat) x_i with yhat = 0.3*2 + 0.7*(-1) = -0.1, y = 1.5: exactly -3.2 and 1.6
    assert close(g.gradients["w1"], number(sympy.Rational("-3.2")), 28)
    assert close(g.gradients["w2"], number(sympy.Rational("1.6")), 28)
    assert close(g.gradients["w1"], reference["w1"], 28) and close(g.gradients["w2"], reference["w2"], 28)


def test_3_4_2_mlp_has_26_parameters():
    net = load("mlp_3_4_2")
    weights = [p for p in net.params if p.startswith("w")]
    neurons = [n for n in net.nodes if n.startswith("out_")]
    assert (len(neurons), len(weights), len(net.params)) == (6, 20, 26)


@pytest.mark.parametrize(
    "loss",
    ["abs(yhat - y)", "(yhat - y)**2", "max(0, 1 - y*yhat)"],
    ids=["L1", "L2", "hinge"],
)
@pytest.mark.parametrize("w", ["0.3", "-0.8"])
def test_lecture_losses_equal_sympy_diff(loss, w):
    net = symgrad.Network()
    net.input("x", "1.5")
    net.target("y", "1")
    net.param("w", w)
    net.node("yhat", "w*x")
    net.node("L", loss)
    g = evaluate_gradients(derive(net), digits=30)
    wx, y = sympy.Rational(w) * sympy.Rational(3, 2), 1
    by_hand = {"abs(yhat - y)": sympy.sign(wx - y), "(yhat - y)**2": 2 * (wx - y),
               "max(0, 1 - y*yhat)": -y if 1 - y * wx > 0 else 0}[loss] * sympy.Rational(3, 2)
    assert close(g.gradients["w"], number(by_hand), 28)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("t", ["1", "-1"])
def test_zero_one_loss_counts_a_mistake(seed, t):
    """The zero-one loss 1[t*yhat <= 0] of a linear output, against the margin computed by hand;
    it has no gradient."""
    net = symgrad.mlp([2, 1], loss="zero_one", output_activation="identity", seed=seed)
    v = net.point()
    yhat = v["w1"] * v["i1"] + v["w2"] * v["i2"] + v["b_o1"]
    assert yhat != 0
    values = symgrad.evaluate(net, at={"t1": t}, digits=10).values
    assert values[net.output] == (1 if sympy.Rational(t) * yhat <= 0 else 0)
    with pytest.raises(symgrad.NotDifferentiable):
        derive(net)


def test_four_layer_chain_every_gradient():
    net = load("chain_4layer")
    d = derive(net)
    y, f3, f2 = sympy.symbols("y f3 f2", real=True)
    assert sympy.simplify(d.expression("w3") - (-(y - f3) * f3 * (1 - f3) * f2)) == 0
    x, y, w1, b1, w2, w3 = sympy.symbols("x y w1 b1 w2 w3")
    L = sympy.Rational(1, 2) * (y - sig(w3 * sig(w2 * sig(w1 * x + b1)))) ** 2  # typed from the lecture
    point = {x: sympy.Rational("0.5"), y: sympy.Rational("0.8"), w1: sympy.Rational("0.4"), b1: sympy.Rational("0.1"),
             w2: sympy.Rational("-0.6"), w3: sympy.Rational("0.9")}
    assert net.point() == {str(k): v for k, v in point.items()}
    g = evaluate_gradients(d, digits=30)
    for p in (w1, b1, w2, w3):
        assert close(g.gradients[str(p)], reference_derivative(L, p, point), 28), p


# -- L6: chain rule in practice, the sigmoid circuit, L2 regularization -----------------
def test_chain_sin():
    net = load("chain_sin")
    x = net.symbol("x")
    d = derive(net)
    assert sympy.simplify(d.closed_form("x") - sympy.cos(x**2 / 2) * x) == 0
    reference = number(sympy.cos(sympy.Rational(9, 8)) * sympy.Rational(3, 2))  # cos(0.5 x^2) x at x = 1.5
    assert close(evaluate_gradients(d, digits=30).adjoints["x"], reference, 28)


def test_sigmoid_circuit_derivative_is_z_one_minus_z():
    net = load("sigmoid_circuit")
    g = evaluate_gradients(derive(net), digits=30)
    x = sympy.Symbol("x")
    z = number(sig(sympy.Rational(1, 2)))
    assert close(g.values["z"], z, 28)
    with mpmath.workdps(60):
        assert close(g.adjoints["x"], z * (1 - z), 28)
    assert close(g.adjoints["x"], reference_derivative(sig(x), x, {x: sympy.Rational(1, 2)}), 28)
    closed = derive(net).closed_form("x")
    xs = net.symbol("x")
    assert sympy.simplify(closed - sympy.exp(-xs) / (1 + sympy.exp(-xs)) ** 2) == 0


def test_l2_regularization_adds_lambda_theta_squared():
    net = symgrad.mlp([2, 2, 1], l2="0.01")
    plain = symgrad.mlp([2, 2, 1])
    lam = sympy.Symbol("lam")
    assert net.point()["lam"] == sympy.Rational(1, 100)
    penalty = lam * sum(sympy.Symbol(p) ** 2 for p in net.params)  # lambda * ||theta||^2, typed in
    assert sympy.expand(expanded(net) - expanded(plain) - penalty.xreplace(
        {sympy.Symbol(n): net.symbol(n) for n in [*net.params, "lam"]})) == 0
    g = evaluate_gradients(derive(net), digits=30)
    full = expanded(plain) + penalty.xreplace({sympy.Symbol(n): net.symbol(n) for n in [*net.params, "lam"]})
    point = leaf_point(net)
    for p in net.params:
        assert close(g.gradients[p], reference_derivative(full, net.symbol(p), point), 28), p


def test_names_print_the_way_the_lectures_print_them():
    net = load("mazur")
    assert [sympy.latex(net.symbol(n)) for n in ("out_o1", "E_total", "net_h1", "w5")] == [
        "out_{o1}", "E_{total}", "net_{h1}", "w_{5}"]
    assert sympy.latex(load("two_neurons").symbol("w_b1")) == "w_{b1}"
    assert sympy.latex(net.nodes["out_h1"].expr) == r"\sigma\left(net_{h1}\right)"
