"""Hostile and extreme points: exit 0 with a right answer, or exit 2 with one line naming the file, node and point.

Each case is a reproducer from the hostile-input review (issue 7), run through the CLI.
"""

from __future__ import annotations

import json
import math

import mpmath
import pytest

import symgrad
from symgrad.cli import main
from symgrad.render.text import substitute


def _spec(tmp_path, nodes: str, *, x="1", w="1", extra="", name="spec.toml"):
    path = tmp_path / name
    path.write_text(f'{extra}[symbols]\ninputs = ["x"]\nparams = ["w"]\n[values]\nx = {x}\nw = {w}\n[nodes]\n{nodes}\n',
                    encoding="utf-8")
    return path


def _run(argv, capsys):
    status = main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def _refused(capsys, argv, *needles):
    status, out, err = _run(argv, capsys)
    assert status == 2, (out, err)
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


SINGULAR = [
    ('f = "w/x"', "0", ["node 'f'", "divides by zero", "x = 0"]),
    ('f = "log(w*x)"', "0", ["node 'f'", "infinite", "x = 0"]),
    ('f = "x**w"', "0", ["df/dw", "x = 0"]),
    ('g = "log(x)"\nf = "w + g"', "0", ["node 'g'", "x = 0"]),
    ('f = "relu(sqrt(w*x))"', "-4", ["node 'f'", "not a real number", "x = -4"]),
    ('f = "log(w*x)"', "-1", ["not a real number", "x = -1"]),
    ('f = "sqrt(w*x)"', "-1", ["not a real number"]),
    ('f = "(w*x)**(1/3)"', "-8", ["not a real number", "x = -8"]),
    ('f = "w*x*log(x)"', "0", ["log(x) is infinite", "x = 0"]),
    ('f = "exp(w*x)"', "1e70", ["exceeds 10^1000"]),
    ('f = "w*exp(exp(exp(5)))"', "1", ["exceeds 10^1000"]),
    ('f = "exp(w*x)"', "1000000", ["exceeds 10^1000"]),
]


@pytest.mark.parametrize("nodes,x,needles", SINGULAR)
def test_points_where_a_value_does_not_exist_are_named(tmp_path, capsys, nodes, x, needles):
    spec = _spec(tmp_path, nodes, x=x)
    for fmt in ("text", "json"):
        _refused(capsys, ["report", spec, "--format", fmt], "spec.toml", *needles)


def test_a_factor_only_an_input_needs_does_not_stop_the_gradient(tmp_path, capsys):
    # ∂sqrt(x)/∂x does not exist at 0, but ∂f/∂w = 1 does: the report says so and goes on.
    spec = _spec(tmp_path, 'g = "sqrt(x)"\nf = "w + g"', x="0")
    status, out, _ = _run(["report", spec, "--format", "json"], capsys)
    assert status == 0
    doc = json.loads(out)
    assert doc["gradients"] == {"w": "1.0000000000000000"} and doc["adjoints"]["x"] is None
    status, out, _ = _run(["report", spec], capsys)
    assert status == 0 and "df/dx = df/dg * ∂g/∂x" in out and "is undefined here" in out


def test_repeated_squaring_and_nested_exps_stop_quickly(tmp_path, capsys):
    squarings = "\n".join(f'a{k} = "a{k - 1}*a{k - 1}"' for k in range(1, 41))
    spec = _spec(tmp_path, 'a0 = "w*x"\n' + squarings, x="2")
    _refused(capsys, ["report", spec], "exceeds 10^1000")
    nested = "\n".join(f'e{k} = "exp(e{k - 1})"' for k in range(1, 41))
    spec = _spec(tmp_path, 'e0 = "w*x"\n' + nested, x="1", name="nested.toml")
    _refused(capsys, ["report", spec], "nested.toml", "exceeds 10^1000")


def test_large_values_print_in_scientific_notation(tmp_path, capsys):
    spec = _spec(tmp_path, 'f = "exp(w*x)"', x="1000")
    status, out, _ = _run(["report", spec, "--format", "json"], capsys)
    assert status == 0 and len(out) < 2000
    with mpmath.workdps(40):
        expected = mpmath.exp(1000)
    assert math.isclose(float(mpmath.mpf(json.loads(out)["values"]["f"]) / expected), 1.0, rel_tol=1e-15)
    assert json.loads(out)["values"]["f"].endswith("e+434")


def test_abs_of_a_square_root_is_differentiated_as_a_real_function(tmp_path, capsys):
    spec = _spec(tmp_path, 'f = "abs(sqrt(w*x))"', x="2")
    status, out, _ = _run(["report", spec, "--format", "json"], capsys)
    assert status == 0
    # d/dw sqrt(2w) at w = 1 is 1/sqrt(2)
    assert math.isclose(float(json.loads(out)["gradients"]["w"]), 1 / math.sqrt(2), rel_tol=1e-15)


def test_text_report_handles_a_sum_of_600_terms(tmp_path, capsys):
    names = [f"v{k}" for k in range(1, 601)]
    spec = tmp_path / "wide.toml"
    spec.write_text("[symbols]\nparams = [" + ", ".join(f'"{n}"' for n in names) + "]\n[values]\n"
                    + "".join(f"{n} = {k}\n" for k, n in enumerate(names, 1)) + f'[nodes]\nf = "{" + ".join(names)}"\n')
    status, out, _ = _run(["report", spec], capsys)
    assert status == 0
    assert f"= {sum(range(1, 601))}\n" in out and "= 1 + 2 + 3 + " in out


def test_a_parameter_named_like_a_function_is_not_substituted_where_it_is_called():
    assert substitute("sigmoid(sigmoid * x)", {"sigmoid": "3", "x": "2"}) == "sigmoid(3 * 2)"
    net = symgrad.Network()
    net.input("x", 2)
    net.param("sigmoid", 3)
    net.node("f", "sigmoid(sigmoid * x)")
    assert "= sigmoid(3 * 2)" in symgrad.report(net)


def test_control_characters_in_the_description_are_escaped(tmp_path, capsys):
    spec = _spec(tmp_path, 'f = "w*x"', extra='description = "net\\u001b[2J\\u0007"\n')
    status, out, _ = _run(["report", spec], capsys)
    assert status == 0 and "\x1b" not in out and "\x07" not in out and "\\x1b[2J" in out


def test_compile_refuses_to_write_over_its_input(tmp_path, capsys):
    spec = _spec(tmp_path, 'f = "w*x"')
    before = spec.read_bytes()
    _refused(capsys, ["compile", spec, "-o", spec], "refusing to write")
    _refused(capsys, ["compile", spec, "-o", tmp_path / "other.toml"], "refusing to write")
    assert spec.read_bytes() == before


@pytest.mark.parametrize("args", [["--learning-rate", "1e308"], ["--learning-rate", "nan"], ["--seed", "-1"]])
def test_train_refuses_unusable_options_on_one_line(capsys, args):
    status, out, err = _run(["train", "perceptron", "--steps", "2", *args], capsys)
    assert status == 2 and out == "" and err.count("\n") == 1 and "perceptron" in err


def test_errors_after_loading_name_the_spec(tmp_path, capsys):
    spec = _spec(tmp_path, 'f = "w/x"', x="0")
    _refused(capsys, ["report", spec], "spec.toml:")


def test_float64_evaluation_uses_the_stable_rewrites():
    # exact ∂/∂w log(1 + e^(w·x)) = x·σ(w·x): 1000 at w·x = 1000, and 0 (to float64) at −1000
    for x, expected in (("1000", 1000.0), ("-1000", 0.0)):
        net = symgrad.Network()
        net.input("x", x)
        net.param("w", 1)
        net.node("f", "log(1 + exp(w*x))")
        g = symgrad.evaluate_gradients(symgrad.derive(net), digits=None).gradients["w"]
        assert math.isfinite(g) and abs(g - expected) <= 1e-12 * max(1.0, abs(expected))
