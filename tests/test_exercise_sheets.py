"""Question sheets and worked solutions read back, and the nice rules on networks other than the 2-2-2
one: a linear two-neuron chain, a tanh neuron and a softmax cross-entropy (log-sum-exp) network, each
recomputed by hand (Fraction where exact, mpmath at 40 digits beyond)."""

from __future__ import annotations

import decimal
import re
import tomllib
from fractions import Fraction

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.exercise import make_exercise
from symgrad.exercise_documents import answer_key, question_latex, question_markdown
from symgrad.exercise_values import draw_variants, nice_problems

mpmath.mp.dps = 40

TANH = """description = "A tanh neuron and a linear output, squared error"
output = "E"

[symbols]
inputs = ["x"]
targets = ["t"]
params = ["w1", "b1", "w2", "b2"]

[values]
x = 0.5
t = 0.3
w1 = 0.8
b1 = 0.2
w2 = 0.6
b2 = 0.1

[nodes]
z = "w1*x + b1"
h = "tanh(z)"
f = "w2*h + b2"
E = "1/2*(t - f)**2"
"""

SOFTMAX = """description = "Two logits, softmax cross-entropy through log-sum-exp"
output = "E"

[symbols]
inputs = ["x1", "x2"]
targets = ["t1", "t2"]
params = ["w1", "w2", "w3", "w4"]

[values]
x1 = 0.5
x2 = 0.8
t1 = 1
t2 = 0
w1 = 0.3
w2 = 0.6
w3 = 0.9
w4 = 0.2

[nodes]
z1 = "w1*x1 + w2*x2"
z2 = "w3*x1 + w4*x2"
lse = "log(exp(z1) + exp(z2))"
E = "lse - (t1*z1 + t2*z2)"

[exercise]
fixed = ["t1", "t2"]
ask = ["z1", "lse", "E", "dE/dw1", "dE/dw4"]
digits = 3
"""

ORIGINAL = {
    "two_neurons": {"x": -2, "w1": 3, "w_b1": -1, "w2": 2, "w_b2": 4},
    "tanh": {"x": Fraction(1, 2), "t": Fraction(3, 10), "w1": Fraction(4, 5), "b1": Fraction(1, 5),
             "w2": Fraction(3, 5), "b2": Fraction(1, 10)},
    "softmax": {"x1": Fraction(1, 2), "x2": Fraction(4, 5), "w1": Fraction(3, 10), "w2": Fraction(3, 5),
                "w3": Fraction(9, 10), "w4": Fraction(1, 5)},
}


def mpf(x) -> mpmath.mpf:
    x = Fraction(x)
    return mpmath.mpf(x.numerator) / x.denominator


def two_neurons_by_hand(v):
    """h = x·w1 + w_b1, f = h·w2 + w_b2, exactly (Fraction)."""
    h = v["x"] * v["w1"] + v["w_b1"]
    f = h * v["w2"] + v["w_b2"]
    return {"values": {"h": h, "f": f}, "preactivations": [],
            "grads": {"w1": v["w2"] * v["x"], "w_b1": v["w2"], "w2": h, "w_b2": 1},
            "sums": [(h, [v["x"] * v["w1"], v["w_b1"]]), (f, [h * v["w2"], v["w_b2"]])]}


def tanh_by_hand(v):
    z = v["w1"] * v["x"] + v["b1"]  # exact
    h = mpmath.tanh(mpf(z))
    f = mpf(v["w2"]) * h + mpf(v["b2"])
    e = f - mpf(v["t"])
    dz = e * mpf(v["w2"]) * (1 - h * h)
    return {"values": {"z": z, "h": h, "f": f, "E": e * e / 2}, "preactivations": [z],
            "grads": {"w1": dz * mpf(v["x"]), "b1": dz, "w2": e * h, "b2": e},
            "sums": [(z, [v["w1"] * v["x"], v["b1"]]), (f, [mpf(v["w2"]) * h, v["b2"]]), (-e, [v["t"], f])]}


def softmax_by_hand(v):
    z1 = v["w1"] * v["x1"] + v["w2"] * v["x2"]
    z2 = v["w3"] * v["x1"] + v["w4"] * v["x2"]
    a, b = mpmath.exp(mpf(z1)), mpmath.exp(mpf(z2))
    lse = mpmath.log(a + b)
    p1, p2 = a / (a + b), b / (a + b)
    d1, d2 = p1 - mpf(v["t1"]), p2 - mpf(v["t2"])
    E = lse - mpf(v["t1"]) * mpf(z1) - mpf(v["t2"]) * mpf(z2)
    return {"values": {"z1": z1, "z2": z2, "lse": lse, "E": E}, "preactivations": [],
            "grads": {"w1": d1 * mpf(v["x1"]), "w2": d1 * mpf(v["x2"]), "w3": d2 * mpf(v["x1"]), "w4": d2 * mpf(v["x2"])},
            "sums": [(z1, [v["w1"] * v["x1"], v["w2"] * v["x2"]]), (z2, [v["w3"] * v["x1"], v["w4"] * v["x2"]]),
                     (a + b, [a, b]), (E, [lse, mpf(v["t1"]) * mpf(z1), mpf(v["t2"]) * mpf(z2)])]}


NETWORKS = {"two_neurons": ("two_neurons", two_neurons_by_hand), "tanh": (TANH, tanh_by_hand),
            "softmax": (SOFTMAX, softmax_by_hand)}


def spec_path(name: str, tmp_path) -> str:
    text = NETWORKS[name][0]
    if "\n" not in text:
        return text  # a built-in example
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return str(path)


def on_grid(value: Fraction, original) -> bool:
    """The documented grid: k/20 of the power of ten at or above |original| (1 at least), 1 ≤ k ≤ 20,
    with the original's sign."""
    original = Fraction(original)
    scale = 1
    while scale < abs(original):
        scale *= 10
    k = value / (Fraction(scale) / 20)
    return k.denominator == 1 and 1 <= abs(k) <= 20 and (original == 0 or (k > 0) == (original > 0))


def assert_nice(name: str, values: dict) -> None:
    """The documented rules, from the hand calculation (not from symgrad's evaluation)."""
    for leaf, original in ORIGINAL[name].items():
        assert on_grid(Fraction(values[leaf]), original), (leaf, values[leaf])
    hand = NETWORKS[name][1](values)
    for z in hand["preactivations"]:
        assert Fraction(1, 10) <= abs(z) <= 3, z
    for node, value in hand["values"].items():
        assert abs(mpf(value) if isinstance(value, (int, Fraction)) else value) <= 1000, (node, value)
    for param, g in hand["grads"].items():
        g = mpf(g) if isinstance(g, (int, Fraction)) else g
        assert mpmath.mpf("1e-4") <= abs(g) <= 1000, (param, g)
    for total, terms in hand["sums"]:
        big = max(abs(mpf(t) if isinstance(t, (int, Fraction)) else t) for t in terms)
        assert abs(mpf(total) if isinstance(total, (int, Fraction)) else total) >= big / 10, (total, terms)


def with_fixed(name: str, drawn: dict) -> dict:
    values = dict(ORIGINAL[name])
    if name == "softmax":
        values.update(t1=1, t2=0)
    values.update(drawn)
    return values


@pytest.mark.parametrize("name", sorted(NETWORKS))
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_drawn_values_are_nice_on_other_networks(name, seed, tmp_path_factory):
    text = NETWORKS[name][0]
    network = symgrad.load(text) if "\n" not in text else symgrad.loads(text)
    fixed = ("t1", "t2") if name == "softmax" else ()
    drawn = draw_variants(symgrad.derive(network), 3, seed=seed, fixed=fixed)
    assert len({tuple(d.values()) for d in drawn}) == 3
    for d in drawn:
        assert not set(d) & set(fixed)
        assert_nice(name, with_fixed(name, d))


def spec_values(text: str) -> dict[str, Fraction]:
    data = tomllib.loads(text, parse_float=decimal.Decimal)
    return {k: Fraction(str(v)) for k, v in data["values"].items()}


def within_digits(text: str, exact) -> bool:
    """``text`` is ``exact`` rounded to its printed digits (half a unit in the last place)."""
    written = decimal.Decimal(text)
    half_unit = mpmath.mpf(5) * mpmath.mpf(10) ** (written.as_tuple().exponent - 1)
    return abs(mpmath.mpf(text) - exact) <= half_unit * (1 + mpmath.mpf("1e-20"))


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_answers_match_the_hand_calculation_on_other_networks(name, tmp_path):
    ex = make_exercise(spec_path(name, tmp_path), 4, seed=2)
    assert len({v.spec_text for v in ex.variants}) == 4
    for variant in ex.variants:
        values = spec_values(variant.spec_text)
        assert_nice(name, values)
        hand = NETWORKS[name][1](values)
        for answer in variant.answers:
            q = answer.question
            exact = hand["grads"][q.wrt] if q.kind == "gradient" else hand["values"][q.name]
            exact = mpf(exact) if isinstance(exact, (int, Fraction)) else exact
            written = decimal.Decimal(answer.text)
            assert len(written.as_tuple().digits) == ex.options.digits or written.adjusted() < -4
            assert within_digits(answer.text, exact), (variant.id, answer)
        report = symgrad.check_claims(symgrad.loads(variant.spec_text), answer_key(ex, variant))
        assert {row.verdict for row in report.rows} == {"right"}, report.to_text()


# -- the Markdown question sheet and the worked solution, read back --------------------------------------

def _md_given(sheet: str) -> dict[str, str]:
    section = sheet.split("## Given", 1)[1].split("\n## ", 1)[0]
    return {m[1]: m[2] for m in re.finditer(r"^\| \$(.+?)\$ \| (\S+) \|$", section, re.M)}


MAZUR_LATEX = {  # the spec's own text in lecture names, written by hand
    "i1": "i_{1}", "i2": "i_{2}", "t1": "t_{1}", "t2": "t_{2}", "b1": "b_{1}", "b2": "b_{2}",
    **{f"w{k}": f"w_{{{k}}}" for k in range(1, 9)},
}


@pytest.fixture(scope="module")
def mazur_three():
    return make_exercise("mazur", 3, seed=9)


def test_the_markdown_sheet_gives_every_value_and_question(mazur_three):
    for variant in mazur_three.variants:
        sheet = question_markdown(mazur_three, variant)
        values = spec_values(variant.spec_text)
        given = _md_given(sheet)
        assert set(given) == set(MAZUR_LATEX.values())
        for name, latex in MAZUR_LATEX.items():
            assert Fraction(given[latex]) == values[name], name
        assert "| learning rate $\\eta$ | 0.5 |" in sheet
        assert f"Variant **{variant.id}**" in sheet and "## Compute, each to 4 significant digits" in sheet
        items = re.findall(r"^(\d+)\. \$(.+?)\$: (.+)$", sheet, re.M)
        assert [int(k) for k, _, _ in items] == [1, 2, 3, 4, 5, 6]
        assert [m for _, m, _ in items] == [r"\mathrm{net}_{\mathrm{h1}}", r"\mathrm{out}_{\mathrm{h1}}",
                                            r"E_{\mathrm{total}}", r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}w_{5}}",
                                            r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}w_{1}}", r"w_{5}^{+}"]
        hand_in = sheet.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
        assert hand_in == [f"# variant: {variant.id}", "net_h1 = ", "out_h1 = ", "E_total = ", "dE_total/dw5 = ",
                           "dE_total/dw1 = ", "w5+ = "]


@pytest.mark.parametrize("writer, row", [
    (question_markdown, "$${} = {}$$"),
    (question_latex, "{} &= {}"),
])
def test_sheets_print_the_network_in_the_authors_form(mazur_three, writer, row):
    """As the spec writes it (w1*i1 + w2*i2 + b1*1, 1/2*(t1 - out_o1)**2), not SymPy's reordering."""
    sheet = writer(mazur_three, mazur_three.variants[0])
    expected = {
        r"\mathrm{net}_{\mathrm{h1}}": r"w_{1} \cdot i_{1} + w_{2} \cdot i_{2} + b_{1} \cdot 1",
        r"\mathrm{net}_{\mathrm{o2}}": r"w_{7} \cdot \mathrm{out}_{\mathrm{h1}} + w_{8} \cdot \mathrm{out}_{\mathrm{h2}} + b_{2} \cdot 1",
        r"E_{\mathrm{o1}}": r"\frac{1}{2} \left(t_{1} - \mathrm{out}_{\mathrm{o1}}\right)^{2}",
        r"E_{\mathrm{total}}": r"E_{\mathrm{o1}} + E_{\mathrm{o2}}",
    }
    for name, form in expected.items():
        assert row.format(name, form) in sheet, name
    assert "b_{1} + i_{1} w_{1}" not in sheet and r"- \mathrm{out}_{\mathrm{o1}} + t_{1}" not in sheet


_NUMBER = r"(-?\d+(?:\.\d+)?(?: \\times 10\^\{-?\d+\})?)"


def _last_value(solution: str, lhs_latex: str) -> str:
    """The number a worked solution ends the rows of ``lhs_latex`` with (``... = 0.412475``), as Decimal text."""
    rows = [line for line in solution.splitlines() if line.startswith(lhs_latex + " &=")]
    assert rows, lhs_latex
    found = re.search(r"= \\left\(" + _NUMBER + r"\\right\)\s*(?:\\\\)?$|= " + _NUMBER + r"\s*(?:\\\\)?$", rows[-1])
    assert found, rows[-1]
    text = found[1] or found[2]
    mantissa, _, power = text.partition(r" \times 10^{")
    return str(decimal.Decimal(mantissa).scaleb(int(power.rstrip("}"))) if power else decimal.Decimal(mantissa))


def test_the_solutions_answers_read_back_equal_the_answer_key(mazur_three):
    """The solution prints digits + 2 digits; each, read back, rounds to within the key's last digit."""
    latex_of = {"net_h1": r"\mathrm{net}_{\mathrm{h1}}", "out_h1": r"\mathrm{out}_{\mathrm{h1}}",
                "E_total": r"E_{\mathrm{total}}",
                "dE_total/dw5": r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}w_{5}}",
                "dE_total/dw1": r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}w_{1}}", "w5+": r"w_{5}^{+}"}
    for variant in mazur_three.variants:
        solution = variant.solution.markdown(title="x")
        key = dict(line.split(" = ") for line in answer_key(mazur_three, variant).splitlines()[2:])
        assert list(key) == list(latex_of)
        for lhs, written in key.items():
            shown = _last_value(solution, latex_of[lhs])
            # the key's number is the solution's, to 4 digits: within half a unit of the key's last digit
            # plus half a unit of the solution's (6 digits; the two roundings may add up)
            shown_half = mpmath.mpf(5) * mpmath.mpf(10) ** (decimal.Decimal(shown).as_tuple().exponent - 1)
            key_half = mpmath.mpf(5) * mpmath.mpf(10) ** (decimal.Decimal(written).as_tuple().exponent - 1)
            assert abs(mpmath.mpf(shown) - mpmath.mpf(written)) <= key_half + shown_half, (variant.id, lhs, shown)
            assert len(decimal.Decimal(shown).normalize().as_tuple().digits) <= 6


def mlp_342_by_hand(v):
    """The 3-4-2 sigmoid MLP of the [mlp] shorthand, by hand: hidden unit j has weights w(3j+1..3j+3) and
    b_h(j+1); output o has w(13+4o..16+4o) and b_o(o+1); E = ½Σ(t − out)²."""
    s = lambda z: 1 / (1 + mpmath.exp(-z))  # noqa: E731
    x = [mpf(v[f"i{k}"]) for k in (1, 2, 3)]
    net_h = [sum(mpf(v[f"w{3 * j + k + 1}"]) * x[k] for k in range(3)) + mpf(v[f"b_h{j + 1}"]) for j in range(4)]
    out_h = [s(z) for z in net_h]
    net_o = [sum(mpf(v[f"w{13 + 4 * o + j}"]) * out_h[j] for j in range(4)) + mpf(v[f"b_o{o + 1}"]) for o in range(2)]
    out_o = [s(z) for z in net_o]
    d_o = [(out_o[o] - mpf(v[f"t{o + 1}"])) * out_o[o] * (1 - out_o[o]) for o in range(2)]
    d_h = [sum(d_o[o] * mpf(v[f"w{13 + 4 * o + j}"]) for o in range(2)) * out_h[j] * (1 - out_h[j]) for j in range(4)]
    grads = {f"w{13 + 4 * o + j}": d_o[o] * out_h[j] for o in range(2) for j in range(4)}
    grads.update({f"w{3 * j + k + 1}": d_h[j] * x[k] for j in range(4) for k in range(3)})
    grads.update({f"b_h{j + 1}": d_h[j] for j in range(4)})
    grads.update({f"b_o{o + 1}": d_o[o] for o in range(2)})
    values = {f"net_h{j + 1}": net_h[j] for j in range(4)} | {f"out_h{j + 1}": out_h[j] for j in range(4)}
    values |= {f"net_o{o + 1}": net_o[o] for o in range(2)} | {f"out_o{o + 1}": out_o[o] for o in range(2)}
    values["E_total"] = sum((mpf(v[f"t{o + 1}"]) - out_o[o]) ** 2 for o in range(2)) / 2
    return {"values": values, "preactivations": net_h + net_o, "grads": grads}


def test_an_mlp_spec_is_varied_like_any_other(tmp_path):
    """[mlp] names every weight, bias, input and target as a leaf: the variant spec keeps [mlp] and gives
    the drawn values in [values]; each answer is the hand calculation's, each value on the grid."""
    spec = tmp_path / "mlp.toml"
    spec.write_text('[mlp]\nwidths = [3, 4, 2]\nactivation = "sigmoid"\nseed = 5\n\n[train]\nlearning_rate = 0.5\n\n'
                    '[exercise]\nfixed = ["t1", "t2"]\nask = ["out_h2", "E_total", "dE_total/dw14", "dE_total/dw2", '
                    '"dE_total/db_h3", "w14+"]\n')
    original = symgrad.loads(spec.read_text()).values
    ex = make_exercise(spec, 3, seed=4)
    assert len({v.spec_text for v in ex.variants}) == 3
    for variant in ex.variants:
        data = tomllib.loads(variant.spec_text)
        assert data["mlp"]["widths"] == [3, 4, 2] and "nodes" not in data
        values = spec_values(variant.spec_text)
        assert (values["t1"], values["t2"]) == (Fraction(str(original["t1"])), Fraction(str(original["t2"])))
        for name in set(values) - {"t1", "t2"}:
            assert on_grid(values[name], Fraction(str(original[name]))), name
        hand = mlp_342_by_hand(values)
        for z in hand["preactivations"]:
            assert mpmath.mpf("0.1") <= abs(z) <= 3
        for g in hand["grads"].values():
            assert mpmath.mpf("1e-4") <= abs(g) <= 1000
        exact = {"out_h2": hand["values"]["out_h2"], "E_total": hand["values"]["E_total"],
                 "dE_total/dw14": hand["grads"]["w14"], "dE_total/dw2": hand["grads"]["w2"],
                 "dE_total/db_h3": hand["grads"]["b_h3"], "w14+": mpf(values["w14"]) - hand["grads"]["w14"] / 2}
        assert [a.question.lhs for a in variant.answers] == list(exact)
        for answer in variant.answers:
            assert within_digits(answer.text, exact[answer.question.lhs]), (variant.id, answer)
        sheet = question_markdown(ex, variant)
        assert r"$$\mathrm{net}_{\mathrm{h1}} = w_{1} \cdot i_{1} + w_{2} \cdot i_{2} + w_{3} \cdot i_{3} + b_{\mathrm{h1}} \cdot 1$$" in sheet


def test_question_sheets_of_other_networks_compile(tmp_path):
    """The author's form of tanh, log/exp, a parenthesised target sum and an [mlp]'s nodes, through pdflatex."""
    from symgrad.exercise_documents import questions_latex
    from tests.latex_tools import compile_latex

    mlp = tmp_path / "mlp.toml"
    mlp.write_text('[mlp]\nwidths = [2, 3, 2]\nactivation = "tanh"\nloss = "softmax_cross_entropy"\n\n'
                   '[exercise]\nfixed = ["t1", "t2"]\n')
    for k, spec in enumerate((spec_path("tanh", tmp_path), spec_path("softmax", tmp_path), str(mlp))):
        ex = make_exercise(spec, 2, seed=1)
        where = tmp_path / f"d{k}"
        where.mkdir()
        pdf, log, _ = compile_latex(questions_latex(ex), where, name="questions")
        assert pdf.stat().st_size > 1000 and "Undefined control sequence" not in log, spec
        assert "[2]" in log  # two variants, two pages


RELU = """description = "one relu unit"
output = "E"

[symbols]
inputs = ["x1", "x2"]
targets = ["t"]
params = ["w1", "w2", "b"]

[values]
x1 = 0.5
x2 = 0.4
t = 0.9
w1 = 0.4
w2 = 0.3
b = -0.2

[nodes]
a = "relu(w1*x1 + w2*x2 + b)"
E = "1/2*(t - a)**2"
"""


def test_no_variant_sits_on_a_relu_kink(tmp_path):
    """relu(w1·x1 + w2·x2 + b) on the 0.05 grid can be exactly 0 (0.4·0.5 + 0 − 0.2); no drawn variant has
    that argument 0 (checked in Fraction), and the rule names it for values chosen by hand."""
    spec = tmp_path / "relu.toml"
    spec.write_text(RELU)
    derivation = symgrad.derive(symgrad.loads(RELU))
    problems = nice_problems(derivation, {"w2": Fraction(1, 2)})  # 0.4·0.5 + 0.5·0.4 − 0.2 = 0.2: no kink
    assert not any("kink" in p for p in problems)
    problems = nice_problems(derivation, {"w2": Fraction(1, 20), "x2": Fraction(0)})  # 0.4·0.5 + 0 − 0.2 = 0
    assert any(p.startswith("the argument") and "relu in a is 0, a kink" in p for p in problems), problems
    for seed in range(4):
        for values in draw_variants(derivation, 5, seed=seed):
            v = {**{k: Fraction(x) for k, x in ORIGINAL_RELU.items()}, **values}
            z = v["w1"] * v["x1"] + v["w2"] * v["x2"] + v["b"]
            assert z > 0, (seed, values)  # active: a zero argument is a kink, a negative one kills every gradient


ORIGINAL_RELU = {"x1": Fraction(1, 2), "x2": Fraction(2, 5), "t": Fraction(9, 10), "w1": Fraction(2, 5),
                 "w2": Fraction(3, 10), "b": Fraction(-1, 5)}


def test_when_no_draw_is_nice_the_error_names_the_last_draws_problems(tmp_path, capsys):
    from symgrad.cli import main

    spec = tmp_path / "dead.toml"
    spec.write_text(RELU.replace("b = -0.2", "b = -50"))  # b on the grid -5 … -100, w·x ≤ 2: the unit is always off
    assert main(["exercise", str(spec), "--variants", "1", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no nice values for variant 1" in err and "the last draw: the gradient of" in err and "vanishes" in err


@pytest.mark.parametrize("name", ["tanh", "softmax", "two_neurons"])
def test_the_solutions_answers_read_back_equal_the_key_on_other_networks(name, tmp_path):
    from symgrad.render.notation import latex_name, total

    ex = make_exercise(spec_path(name, tmp_path), 2, seed=6)
    for variant in ex.variants:
        solution = variant.solution.markdown(title="x")
        for answer in variant.answers:
            q = answer.question
            lhs = total(q.name, q.wrt) if q.kind == "gradient" else latex_name(q.name)
            shown = _last_value(solution, lhs)
            shown_half = mpmath.mpf(5) * mpmath.mpf(10) ** (decimal.Decimal(shown).as_tuple().exponent - 1)
            key_half = mpmath.mpf(5) * mpmath.mpf(10) ** (decimal.Decimal(answer.text).as_tuple().exponent - 1)
            assert abs(mpmath.mpf(shown) - mpmath.mpf(answer.text)) <= key_half + shown_half, (variant.id, q.lhs, shown)


@pytest.mark.parametrize("name", ["tanh", "softmax", "two_neurons"])
def test_the_markdown_sheet_gives_every_value_and_question_on_other_networks(name, tmp_path):
    from symgrad.render.notation import latex_name

    ex = make_exercise(spec_path(name, tmp_path), 2, seed=3)
    for variant in ex.variants:
        sheet = question_markdown(ex, variant)
        values = spec_values(variant.spec_text)
        given = _md_given(sheet)
        assert {k: Fraction(v) for k, v in given.items()} == {latex_name(n): x for n, x in values.items()}
        assert f"## Compute, each to {ex.options.digits} significant digits" in sheet
        items = re.findall(r"^(\d+)\. \$(.+?)\$: (.+)$", sheet, re.M)
        assert [int(k) for k, _, _ in items] == list(range(1, len(ex.questions) + 1)) and len(items) >= 3
        assert [d for _, _, d in items] == [q.describe for q in ex.questions]
        hand_in = sheet.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
        assert hand_in == [f"# variant: {variant.id}", *(f"{q.lhs} = " for q in ex.questions)]
