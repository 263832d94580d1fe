"""Local partials print in the author's form (issue 20): −(t1 − out_o1), as the lectures derive them.

Each printed form is checked twice: against the text the lectures write (by hand, below) and against
``sympy.diff`` of the node's own expression (the same function), independently of the derivation.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import sympy
import pytest

import symgrad
from symgrad.expr import parse_expression
from symgrad.render.author_form import author_partial

SOFTMAX = symgrad.mlp([2, 2, 2], activation="tanh", loss="softmax_cross_entropy", seed=0)
BCE = symgrad.mlp([2, 2, 2], activation="tanh", loss="bce", seed=0)

# (network, node, wrt) → the form the lectures write, in expression syntax.
LECTURE_FORMS = [
    ("mazur", "E_o1", "out_o1", "-(t1 - out_o1)"),  # ½(t1 − out_o1)²: chain through the difference
    ("mazur", "E_o1", "t1", "t1 - out_o1"),
    ("mazur", "out_o1", "net_o1", "out_o1 * (1 - out_o1)"),  # σ' through the node itself
    ("mazur", "net_o1", "w5", "out_h1"),
    ("perceptron", "L", "yhat", "-(y - yhat)"),
    ("sigmoid_circuit", "z", "c", "-1 / c ** 2"),
    ("softmax", "E_total", "out_o1", "-t1"),
    ("softmax", "E_total", "lse", "t1 + t2"),  # −(t1·(o1 − lse) + t2·(o2 − lse)): the minus distributed
    ("softmax", "E_total", "t2", "-(out_o2 - lse)"),
    ("softmax", "lse", "out_o2", "exp(out_o2 - lse)"),  # softmax, with the author's order of terms
    ("softmax", "out_h1", "net_h1", "1 - out_h1 ** 2"),  # tanh'
    ("bce", "E_o1", "out_o1", "-(t1 / out_o1 - (1 - t1) / (1 - out_o1))"),
    ("bce", "E_o1", "t1", "-(log(out_o1) - log(1 - out_o1))"),
    ("direct", "L", "w", "-(y - w * x) * x"),  # the sign on the first factor: no −((y − w·x)·x)
    ("direct", "L", "x", "-(y - w * x) * w"),
    ("square", "f", "h", "2 * h"),  # the product rule on h * h: 2·h, not h + h
]

DIRECT = symgrad.loads('[symbols]\ninputs = ["x"]\ntargets = ["y"]\nparams = ["w"]\n[values]\nx = 2\ny = 1\n'
                       'w = 0.5\n[nodes]\nL = "1/2*(y - w*x)**2"\n')


SQUARE = symgrad.loads('[symbols]\ninputs = ["x"]\nparams = ["w"]\n[values]\nx = 2\nw = 0.5\n[nodes]\n'
                       'h = "w*x"\nf = "h*h"\n')


def _network(name: str):
    return {"softmax": SOFTMAX, "bce": BCE, "direct": DIRECT, "square": SQUARE}.get(name) or symgrad.load(name)


def _form(network, node: str, wrt: str):
    derivation = symgrad.derive(network)
    factor = derivation.factors[node, wrt]
    own = network.nodes[node]
    return author_partial(own.text, node, wrt, factor.expr, own.expr)


def _same_as_sympy_diff(network, node: str, wrt: str, text: str) -> bool:
    """``text`` equals sympy.diff of the node's expression (the node's own name standing for its expression)."""
    own = network.nodes[node].expr
    reference = sympy.diff(own, network.symbol(wrt))
    by_name = {s.name: s for s in own.free_symbols}
    form = parse_expression(text, real=True).expr
    form = form.xreplace({s: by_name.get(s.name, s) for s in form.free_symbols})
    form = form.xreplace({sympy.Symbol(node, real=True): own})
    return sympy.simplify(form - reference) == 0


@pytest.mark.parametrize("name, node, wrt, expected", LECTURE_FORMS,
                         ids=[f"{n}-{a}-{b}" for n, a, b, _ in LECTURE_FORMS])
def test_local_partials_print_as_the_lectures_derive_them(name, node, wrt, expected):
    network = _network(name)
    form = _form(network, node, wrt)
    assert form is not None and form.text == expected
    assert _same_as_sympy_diff(network, node, wrt, expected)


def test_a_wrong_form_would_be_caught_by_the_reference():
    # The check above can fail: SymPy's sign-flipped difference is not ∂E_o1/∂out_o1.
    assert not _same_as_sympy_diff(symgrad.load("mazur"), "E_o1", "out_o1", "t1 - out_o1")


@pytest.mark.parametrize("name", [e.name for e in symgrad.builtin_examples()] + ["softmax", "bce", "direct"])
def test_every_form_is_the_same_function_as_sympy_diff(name):
    network = _network(name)
    derivation = symgrad.derive(network)
    checked = 0
    for node, wrt in derivation.factors:
        form = _form(network, node, wrt)
        if form is not None:
            assert _same_as_sympy_diff(network, node, wrt, form.text), (node, wrt, form.text)
            checked += 1
    assert checked == len(derivation.factors)  # every local partial of these networks has a lecture form


def test_a_form_outside_the_rules_keeps_sympys():
    net = symgrad.loads('[symbols]\ninputs = ["x"]\n[values]\nx = 2\n[nodes]\nf = "x / (1 + x)"\n')
    assert _form(net, "f", "x") is None  # the variable above and below: SymPy's quotient rule prints
    tex = symgrad.report(net, format="latex")
    assert r"\frac{\partial f}{\partial x} &= - \frac{x}{\left(x + 1\right)^{2}} + \frac{1}{x + 1}" in tex


def test_mazur_documents_print_minus_t1_minus_out_o1():
    network = symgrad.load("mazur")
    form = r"\frac{\partial E_{\mathrm{o1}}}{\partial \mathrm{out}_{\mathrm{o1}}} &= -\left(t_{1} - \mathrm{out}_{\mathrm{o1}}\right)"
    assert form + r" = -\left(0.01 - 0.75136507\right) = 0.74136507" in symgrad.report(network, format="latex")
    markdown = symgrad.report(network, format="markdown")
    assert form in markdown and r"\mathrm{out}_{\mathrm{o1}} - t_{1}" not in markdown
    text = symgrad.report(network)
    assert "where ∂E_o1/∂out_o1 = -(t1 - out_o1)" in text and "out_o1 - t1" not in text


def test_softmax_documents_show_the_loss_as_written_and_no_minus_zero():
    tex = symgrad.report(SOFTMAX, format="latex")
    assert (r"E_{\mathrm{total}} &= -\left(t_{1} \left(\mathrm{out}_{\mathrm{o1}} - \mathrm{lse}\right) + "
            r"t_{2} \left(\mathrm{out}_{\mathrm{o2}} - \mathrm{lse}\right)\right)") in tex
    # t1 = 0 (a one-hot target): ∂E/∂out_o1 = −t1 = 0, never −t1 = −0 = 0.
    assert r"{\partial \mathrm{out}_{\mathrm{o1}}} &= -t_{1} = 0" in tex and "-0 " not in tex and "= -0\n" not in tex
    text = symgrad.report(SOFTMAX)
    assert "∂E_total/∂out_o1 = -t1" in text and "-lse + out_o1" not in text


def test_bce_documents_print_the_lecture_form():
    tex = symgrad.report(BCE, format="latex")
    assert (r"&= -\left(t_{1} / \mathrm{out}_{\mathrm{o1}} - \left(1 - t_{1}\right) / "
            r"\left(1 - \mathrm{out}_{\mathrm{o1}}\right)\right)") in tex


def test_the_text_report_writes_a_negative_argument_in_one_pair_of_parentheses():
    text = symgrad.report(SOFTMAX)
    assert "tanh((" not in text
    assert any(line.strip().startswith("= tanh(-") for line in text.splitlines())


# -- the matrix form of an [mlp] report: ∂ℓ/∂ŷ as the scalar section derives ∂E_o1/∂out_o1 ----------
def _row(tex: str, left: str) -> str:
    line = next(line for line in tex.splitlines() if line.startswith(left + " &= "))
    return line[len(left) + 4:].split(" = ")[0].removesuffix(r" \\").removesuffix(r" \\*")


@pytest.mark.parametrize("loss", ["half_sse", "sse", "bce"])
def test_the_matrix_form_writes_the_loss_gradient_as_the_scalar_section_does(loss):
    tex = symgrad.report(symgrad.mlp([3, 4, 2], loss=loss, seed=0), format="latex")
    scalar = _row(tex, r"\frac{\partial E_{\mathrm{o1}}}{\partial \mathrm{out}_{\mathrm{o1}}}")
    vector = _row(tex, r"\frac{\partial \ell}{\partial \hat{\mathbf{y}}}")
    assert vector == scalar.replace(r"\mathrm{out}_{\mathrm{o1}}", r"\hat{\mathbf{y}}").replace("t_{1}", r"\mathbf{t}")
    if loss == "half_sse":  # the lecture's −(t − ŷ), which is d/dŷ ½(t − ŷ)² = ŷ − t
        assert vector == r"-\left(\mathbf{t} - \hat{\mathbf{y}}\right)"
        y, t = sympy.symbols("y t")
        assert sympy.expand(sympy.diff((t - y) ** 2 / 2, y) - (-(t - y))) == 0


@pytest.mark.filterwarnings("ignore:loss=.mse.:DeprecationWarning")
def test_the_matrix_form_of_a_mean_loss_prints_its_own_gradient():
    tex = symgrad.report(symgrad.mlp([2, 2, 2], loss="mse", seed=0), format="latex")
    # mse is the mean over the K = 2 outputs: ∂ℓ/∂ŷ = (2/K)(ŷ − t) = ŷ − t, not the per-output
    # 2·(out − t).
    assert _row(tex, r"\frac{\partial \ell}{\partial \hat{\mathbf{y}}}") == r"\hat{\mathbf{y}} - \mathbf{t}"


# A definition prints with the author's terms, order and signs; the parser drops only parentheses that
# change nothing (around a name, a product or a whole sum). Expected rows written by hand.
WRITTEN = [
    ("-(b - x) + w", r"-\left(b - x\right) + w"),
    ("x*(w) - (b - x)", r"x \cdot w - \left(b - x\right)"),
    ("w - x + b", "w - x + b"),
    ("1 - (x - w)", r"1 - \left(x - w\right)"),
    ("x - (w + b)", r"x - \left(w + b\right)"),
    ("-(x*w)", r"-\left(x \cdot w\right)"),
    ("(t - x)**2/2", r"\left(t - x\right)^{2} / 2"),
    ("b + w*x", r"b + w \cdot x"),
    ("(x*w + b) + w", r"\left(x \cdot w + b\right) + w"),  # the author's grouping, kept though redundant
    ("((x*w))*b", r"\left(x \cdot w\right) \cdot b"),  # one pair, never doubled
]


@pytest.mark.parametrize(("definition", "row"), WRITTEN)
def test_a_definition_prints_as_written_never_reordered(definition, row):
    network = symgrad.Network()
    network.input("x", 1)
    network.param("w", 2)
    network.param("b", 3)
    network.target("t", 1)
    network.node("f", definition)
    tex = symgrad.report(network, format="latex")
    assert f"f &= {row} = " in tex


# -- the author's own parentheses (issue 20): kept in every format, the values unchanged ------------
MAZUR_SPEC = resources.files("symgrad") / "examples" / "mazur.toml"


def _redundant() -> symgrad.Network:
    """The 2-2-2 lecture network, with net_h1 and E_o1 written with parentheses that change nothing."""
    text = MAZUR_SPEC.read_text(encoding="utf-8")
    text = text.replace('net_h1 = "w1*i1 + w2*i2 + b1*1"', 'net_h1 = "(w1*i1) + (w2*i2) + b1*1"')
    lines = [line if not line.startswith("E_o1 = ") else 'E_o1 = "((t1 - out_o1)**2)/2"' for line in text.splitlines()]
    return symgrad.loads("\n".join(lines))


def test_redundant_parentheses_the_author_wrote_print_in_text_latex_and_markdown():
    network = _redundant()
    text = symgrad.report(network)
    assert "  net_h1 = (w1 * i1) + (w2 * i2) + b1 * 1\n" in text
    assert "         = (0.15 * 0.05) + (0.2 * 0.1) + 0.35 * 1\n" in text
    assert "  E_o1 = ((t1 - out_o1) ** 2) / 2\n" in text
    net_h1 = (r"\mathrm{net}_{\mathrm{h1}} &= \left(w_{1} \cdot i_{1}\right) + \left(w_{2} \cdot i_{2}\right) "
              r"+ b_{1} \cdot 1 = ")
    e_o1 = r"E_{\mathrm{o1}} &= \left(\left(t_{1} - \mathrm{out}_{\mathrm{o1}}\right)^{2}\right) / 2 = "
    for format in ("latex", "markdown"):
        document = symgrad.report(network, format=format)
        assert net_h1 in document and e_o1 in document, format
        assert r"\left(\left(w_{1}" not in document  # never doubled


def test_redundant_parentheses_leave_the_values_as_the_lecture_prints_them():
    # Mazur's published numbers: net_h1 = 0.3775, E_o1 = 0.274811083, E_total = 0.298371109.
    text = symgrad.report(_redundant())
    assert "         = 0.3775\n" in text and "       = 0.274811083\n" in text
    assert "E_total = E_o1 + E_o2" in text and "= 0.298371109" in text


def test_the_lecture_text_keeps_its_definitions_without_added_parentheses():
    # The lecture spec writes no redundant parentheses: its definitions print exactly as the spec's
    # text, with Python's spacing around the operators (read from the spec file, not from symgrad).
    nodes = tomllib.loads(MAZUR_SPEC.read_text(encoding="utf-8"))["nodes"]
    text = symgrad.report(symgrad.load("mazur"))
    for name, definition in nodes.items():
        spaced = re.sub(r"\s*(\*\*|[*+/-])\s*", r" \1 ", definition)
        assert f"  {name} = {spaced}\n" in text, (name, spaced)


# -- piecewise partials (issue 20): Iverson brackets as a lecturer writes them, not SymPy's θ ---------
import mpmath  # noqa: E402

from symgrad.render.piecewise_form import piecewise_form  # noqa: E402

RELU_SPEC = ('[symbols]\ninputs = ["x"]\nparams = ["w", "b"]\n[values]\nx = 2\nw = 0.5\nb = {b}\n[nodes]\n'
             'z = "w*x + b"\nh = "relu(z)"\nm = "max(0.1*z, z)"\na = "abs(m - 1)"\nf = "h + a"\n')
HINGE = '[mlp]\nwidths = [2, 2, 1]\nactivation = "relu"\nloss = "hinge"\nseed = 0\n'


def _central(function, at: float) -> mpmath.mpf:
    """A central difference at 40 digits, the reference the brackets are checked against."""
    with mpmath.workdps(40):
        h = mpmath.mpf("1e-15")
        return (function(mpmath.mpf(at) + h) - function(mpmath.mpf(at) - h)) / (2 * h)


@pytest.mark.parametrize("b", ["-0.25", "-1.5"])  # z = 0.75 (relu passes) and z = −0.5 (relu blocks)
def test_a_relu_circuit_prints_its_steps_as_brackets(b):
    network = symgrad.loads(RELU_SPEC.format(b=b))
    text = symgrad.report(network)
    assert "∂h/∂z = [z > 0]" in text and "∂m/∂z = 0.1 * [z < 0] + [z > 0]" in text
    assert "∂a/∂m = sign(m - 1)" in text and "Heaviside" not in text
    tex = symgrad.report(network, format="latex")
    z = 2 * 0.5 + float(b)
    # The value the document prints is the slope of relu / leaky relu at z, by finite differences.
    relu_slope = float(_central(lambda v: max(v, 0 * v), z))
    leaky_slope = float(_central(lambda v: max(v / 10, v), z))
    rows = {line.split(" &= ")[0]: line.removesuffix(r" \\").split(" &= ")[1] for line in tex.splitlines()
            if line.startswith(r"\frac{\partial h}{\partial z}") or line.startswith(r"\frac{\partial m}{\partial z}")}
    h_row, m_row = rows[r"\frac{\partial h}{\partial z}"], rows[r"\frac{\partial m}{\partial z}"]
    assert h_row == rf"\left[z > 0\right] = \left[{z:g} > 0\right] = {relu_slope:g}"
    assert m_row.startswith(r"0.1 \cdot \left[z < 0\right] + \left[z > 0\right] = ")
    assert float(m_row.rsplit(" = ", 1)[1]) == pytest.approx(leaky_slope, abs=1e-12)
    markdown = symgrad.report(network, format="markdown")
    assert r"\left[z > 0\right]" in markdown and "Heaviside" not in markdown and "theta" not in markdown


def test_a_hinge_loss_prints_minus_t_times_the_margin_bracket():
    network = symgrad.loads(HINGE)
    text = symgrad.report(network)
    assert "∂E_o1/∂out_o1 = -t1 * [t1 * out_o1 < 1]" in text  # the lecture's −t·[t·o < 1], operands as written
    tex = symgrad.report(network, format="latex")
    assert r"&= -t_{1} \cdot \left[t_{1} \cdot \mathrm{out}_{\mathrm{o1}} < 1\right] = " in tex
    # The printed value is the hinge loss's slope in out_o1 at the network's own point (finite differences).
    solution = symgrad.solve(symgrad.derive(network))
    t, o = float(solution.value("t1")), float(solution.value("out_o1"))
    slope = _central(lambda v: max(0 * v, 1 - t * v), o)
    row = next(line for line in tex.splitlines() if line.startswith(r"\frac{\partial E_{\mathrm{o1}}}{\partial \mathrm{out}_{\mathrm{o1}}}"))
    assert float(row.removesuffix(r" \\").rsplit(" = ", 1)[1]) == pytest.approx(float(slope), abs=1e-12)


def test_every_bracket_form_is_the_slope_at_sample_points_by_finite_differences():
    network = symgrad.loads(RELU_SPEC.format(b="-0.25"))
    derivation = symgrad.derive(network)
    functions = {("h", "z"): lambda v: max(v, 0 * v), ("m", "z"): lambda v: max(v / 10, v),
                 ("a", "m"): lambda v: abs(v - 1)}
    for (of, wrt), function in functions.items():
        form = piecewise_form(network, derivation.factors[of, wrt])
        symbol = next(s for s in form.expr.free_symbols if s.name == wrt)
        for at in (-2.5, -0.3, 0.4, 3.0):
            assert float(form.expr.subs(symbol, at)) == pytest.approx(float(_central(function, at)), abs=1e-12)


def test_a_tie_at_the_documents_point_keeps_sympys_form():
    # max(x, y) at x = y: SymPy's step gives ½ to each side, which [x > y] = 0 would contradict.
    network = symgrad.loads('[symbols]\ninputs = ["x", "y"]\n[values]\nx = 1\ny = 1\n[nodes]\nf = "max(x, y)"\n')
    factor = symgrad.derive(network).factors["f", "x"]
    assert piecewise_form(network, factor) is not None  # away from the tie the bracket is right
    assert piecewise_form(network, factor, values={"x": 1, "y": 1}) is None
    text = symgrad.report(network)
    assert "[x > y]" not in text and "Heaviside" in text


def test_relu_exactly_at_its_kink_keeps_the_bracket_which_gives_its_slope_zero():
    # relu's derivative at 0 is taken as 0 (the convention of functions.relu); [z > 0] says 0 there too.
    network = symgrad.loads(RELU_SPEC.format(b="-1"))  # z = 2·0.5 − 1 = 0
    tex = symgrad.report(network, format="latex")
    assert r"\frac{\partial h}{\partial z} &= \left[z > 0\right] = \left[0 > 0\right] = 0" in tex
