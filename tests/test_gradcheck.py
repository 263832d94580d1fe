"""Gradient checking: every example passes, wrong gradients are caught and named, kinks are
explained, the complex step is exact to rounding, the central-difference error falls as h².

References are independent of the checker: the lecture's printed gradients, a hand-written
NumPy forward pass and backprop for the 2-2-2 network, sympy.diff of each example's loss, central
differences written out here, and other processes (other hash seeds) for determinism.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy

import symgrad
from symgrad import limits
from symgrad.cli import main
from symgrad.compile import CompiledGradient
from symgrad.errors import InvalidArgument
from symgrad.tolerance import relative_error

MAZUR = symgrad.load("mazur")
HIDDEN = {"w1", "w2", "w3", "w4", "b1"}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def mazur_loss(v: dict) -> float:
    """The 2-2-2 network's loss, written out by hand."""
    h1 = sigmoid(v["w1"] * v["i1"] + v["w2"] * v["i2"] + v["b1"])
    h2 = sigmoid(v["w3"] * v["i1"] + v["w4"] * v["i2"] + v["b1"])
    o1 = sigmoid(v["w5"] * h1 + v["w6"] * h2 + v["b2"])
    o2 = sigmoid(v["w7"] * h1 + v["w8"] * h2 + v["b2"])
    return 0.5 * (v["t1"] - o1) ** 2 + 0.5 * (v["t2"] - o2) ** 2


def mazur_backprop(v: dict, *, hidden_sigma_prime=True, flip=None, double=None, dtype=np.float64) -> dict:
    """Hand-written backprop for the 2-2-2 network, with optional deliberate bugs."""
    v = {k: dtype(x) for k, x in v.items()}
    h1 = sigmoid(v["w1"] * v["i1"] + v["w2"] * v["i2"] + v["b1"])
    h2 = sigmoid(v["w3"] * v["i1"] + v["w4"] * v["i2"] + v["b1"])
    o1 = sigmoid(v["w5"] * h1 + v["w6"] * h2 + v["b2"])
    o2 = sigmoid(v["w7"] * h1 + v["w8"] * h2 + v["b2"])
    d1, d2 = (o1 - v["t1"]) * o1 * (1 - o1), (o2 - v["t2"]) * o2 * (1 - o2)
    e1, e2 = d1 * v["w5"] + d2 * v["w7"], d1 * v["w6"] + d2 * v["w8"]
    if hidden_sigma_prime:
        e1, e2 = e1 * h1 * (1 - h1), e2 * h2 * (1 - h2)
    g = {"w1": e1 * v["i1"], "w2": e1 * v["i2"], "w3": e2 * v["i1"], "w4": e2 * v["i2"], "b1": e1 + e2,
         "w5": d1 * h1, "w6": d1 * h2, "w7": d2 * h1, "w8": d2 * h2, "b2": d1 + d2}
    if flip:
        g[flip] = -g[flip]
    if double:
        g[double] = 2 * g[double]
    return g


RELU_AT_ZERO = """
description = "one relu unit whose net input is exactly 0"
output = "L"
[symbols]
inputs = ["x"]
targets = ["t"]
params = ["w", "b", "v"]
[values]
x = 2
t = 1
w = 0.5
b = -1
v = 0.75
[nodes]
net = "w*x + b"
out = "relu(net)"
y = "v*out + v"
L = "1/2*(y - t)**2"
"""


# -- every built-in example ---------------------------------------------------------------
def sympy_gradient(network) -> dict[str, float]:
    """∂loss/∂(each checked coordinate) by sympy.diff of the loss with every node substituted, at the float64 point."""
    loss = sympy.Symbol(network.output)
    for name in reversed(list(network.nodes)):
        loss = loss.subs({s: network.nodes[name].expr for s in loss.free_symbols if s.name == name})
    point = network.point()
    at = {s: sympy.Rational(float(point[s.name])) for s in loss.free_symbols}
    out = {}
    for name in network.params or network.inputs:
        symbol = [s for s in loss.free_symbols if s.name == name]
        derivative = sympy.diff(loss, symbol[0]) if symbol else sympy.S(0)
        out[name] = float(sympy.N(derivative.subs(at), 30))
    return out


@pytest.mark.parametrize("example", [e.name for e in symgrad.builtin_examples()])
def test_every_builtin_example_passes(example):
    network = symgrad.load(example)
    report = symgrad.gradcheck(network)
    assert report.ok
    assert {row.verdict for row in report.rows} == {"ok"}, report.table()
    reference = sympy_gradient(network)
    for row in report.rows:  # each column against sympy.diff, not against the checker's own bound
        scale = max(1.0, abs(reference[row.param]))
        assert abs(row.exact - reference[row.param]) <= 1e-15 * scale, row.param
        assert row.compiled is None or abs(row.compiled - reference[row.param]) <= 1e-14 * scale, row.param
        assert abs(row.numerical - reference[row.param]) <= 1e-8 * scale, row.param  # a central difference


@pytest.mark.parametrize("points_per_call", [limits.MAX_GRADCHECK_POINTS, 3])  # 3: the stencils split across calls
def test_mazur_exact_column_is_the_lecture_and_numerical_is_a_central_difference(points_per_call, monkeypatch):
    monkeypatch.setattr("symgrad.gradcheck_problems.MAX_GRADCHECK_POINTS", points_per_call)
    rows = {row.param: row for row in symgrad.gradcheck(MAZUR).rows}
    assert f"{rows['w5'].exact:.9f}" == "0.082167041"  # the lecture's ∂E/∂w5
    assert f"{rows['w1'].exact:.9f}" == "0.000438568"  # the lecture's ∂E/∂w1
    point = {k: float(v) for k, v in MAZUR.point().items()}
    for name in MAZUR.params:
        h = 2.0 ** round(math.log2(np.finfo(float).eps ** (1 / 3) * max(1.0, abs(point[name]))))
        up, down = dict(point), dict(point)
        up[name] += h
        down[name] -= h
        by_hand = (mazur_loss(up) - mazur_loss(down)) / (2 * h)
        assert abs(rows[name].numerical - by_hand) < 1e-9, name
        assert abs(rows[name].exact - mazur_backprop(point)[name]) < 1e-15


def test_rows_are_worst_first_and_the_report_prints(tmp_path):
    report = symgrad.gradcheck(MAZUR, against=lambda v: mazur_backprop(v, double="w3"))
    text = str(report)
    header = next(line for line in text.splitlines() if line.startswith("param"))
    assert header.split() == ["param", "exact", "compiled", "numerical", "user", "abs", "error", "rel", "error",
                              "bound", "verdict"]
    assert "MISMATCH" in text and "twice the exact value" in text
    html = report._repr_html_()
    assert html.count("<tr>") == len(report.rows) + 1 and "<table>" in html
    scores = [row.abs_error / row.bound for row in report.rows if row.verdict == "ok"]
    assert scores == sorted(scores, reverse=True)


def test_the_report_is_the_same_bytes_in_other_processes_with_other_hash_seeds():
    code = "import symgrad; print(symgrad.gradcheck(symgrad.load('mazur')), end='')"
    here = str(symgrad.gradcheck(MAZUR))
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        assert there.stdout == here, seed


# -- wrong user gradients --------------------------------------------------------------------
def test_a_correct_hand_written_backprop_passes():
    report = symgrad.gradcheck(MAZUR, against=mazur_backprop)
    assert report.ok and {row.verdict for row in report.rows} == {"ok"}
    assert all(row.user == pytest.approx(row.exact, rel=1e-14, abs=1e-18) for row in report.rows)


@pytest.mark.parametrize("bug, wrong, words", [
    ({"flip": "w6"}, {"w6"}, "the sign is flipped"),
    ({"double": "w3"}, {"w3"}, "twice the exact value"),
    ({"hidden_sigma_prime": False}, HIDDEN, "differs from the exact"),
])
def test_wrong_user_gradients_are_caught_and_named_first(bug, wrong, words):
    report = symgrad.gradcheck(MAZUR, against=lambda v: mazur_backprop(v, **bug))
    assert not report.ok
    assert report.rows[0].param in wrong and report.rows[0].verdict == "mismatch"
    assert {row.param for row in report.rows if row.verdict == "mismatch"} == wrong
    assert words in report.rows[0].cause
    assert "finite differences agree with the exact value" in report.rows[0].cause


def test_float32_user_gradients_get_float32_tolerance_and_a_warning():
    with pytest.warns(UserWarning, match="float32"):
        report = symgrad.gradcheck(MAZUR, against=lambda v: mazur_backprop(v, dtype=np.float32))
    assert report.ok
    assert any("float32" in note for note in report.notes)
    assert max(row.rel_error for row in report.rows) > 1e-9  # float32 really was off beyond float64 rounding
    with pytest.warns(UserWarning):
        bad = symgrad.gradcheck(MAZUR, against=lambda v: mazur_backprop(v, dtype=np.float32, flip="w2"))
    assert bad.rows[0].param == "w2" and not bad.ok


# -- kinks -------------------------------------------------------------------------------------
def test_relu_at_zero_is_a_kink_not_a_mismatch():
    net = symgrad.loads(RELU_AT_ZERO)
    report = symgrad.gradcheck(net)
    assert report.ok
    rows = {row.param: row for row in report.rows}
    assert rows["w"].verdict == rows["b"].verdict == "kink" and rows["v"].verdict == "ok"
    # central differences straddle the kink: a naive comparison would fail
    assert abs(rows["w"].numerical - rows["w"].exact) > 0.1
    assert "relu" in rows["w"].cause and "subgradient check passed" in rows["w"].cause
    for scheme in ("forward", "backward", "richardson"):
        assert symgrad.gradcheck(net, scheme=scheme).ok


def test_a_gradient_outside_the_one_sided_differences_at_a_kink_is_a_mismatch():
    net = symgrad.loads(RELU_AT_ZERO)
    # left derivative of L in w is 0, right derivative (y − t)·v·x = (0.75 − 1)·0.75·2 = −0.375
    report = symgrad.gradcheck(net, against=lambda v: {"w": 0.5, "b": 0.0, "v": -0.25})
    assert not report.ok and report.rows[0].param == "w" and "outside" in report.rows[0].cause
    inside = symgrad.gradcheck(net, against=lambda v: {"w": -0.375, "b": -0.1875, "v": -0.25})
    assert inside.ok  # the right derivative is a valid subgradient too


# -- schemes -----------------------------------------------------------------------------------
def test_complex_step_agrees_with_exact_to_rounding_on_the_2_2_2_network():
    report = symgrad.gradcheck(MAZUR, scheme="complex")
    assert report.ok
    for row in report.rows:
        assert relative_error(row.numerical, row.exact) < 4e-15, row


def test_complex_step_is_refused_through_a_kink():
    with pytest.raises(InvalidArgument, match="node 'out' uses relu"):
        symgrad.gradcheck(symgrad.loads(RELU_AT_ZERO), scheme="complex")


@pytest.mark.parametrize("scheme", ["forward", "backward", "central", "richardson"])
def test_every_scheme_passes_on_mazur(scheme):
    assert symgrad.gradcheck(MAZUR, scheme=scheme).ok


@pytest.mark.parametrize("step", [0.5, 1e-12])
def test_overridden_steps_widen_the_bound_not_the_verdict(step):
    default = symgrad.gradcheck(MAZUR)
    report = symgrad.gradcheck(MAZUR, step=step)
    assert report.ok
    assert min(r.bound for r in report.rows) > 10 * max(r.bound for r in default.rows)


@pytest.mark.parametrize("param", ["w5", "w1", "b1"])
def test_central_difference_error_falls_as_h_squared(param):
    sweep = symgrad.sweep_steps(MAZUR, param=param)
    assert abs(sweep.slope - 2) <= 0.1  # the stated margin, SLOPE_MARGIN
    assert sweep.ok and sweep.fit_range[1] / sweep.fit_range[0] >= 8  # at least three octaves fitted
    # below the optimum, round-off takes over: the error grows again as h shrinks
    errors = dict(zip(sweep.steps, sweep.errors))
    assert errors[min(sweep.steps)] > 100 * min(sweep.errors)


def test_forward_difference_error_falls_as_h():
    assert abs(symgrad.sweep_steps(MAZUR, param="w5", scheme="forward").slope - 1) <= 0.1


# -- large networks ------------------------------------------------------------------------------
def test_sampled_coordinates_and_random_directions_catch_a_bug_outside_the_sample():
    report = symgrad.gradcheck(MAZUR, sample=3, directions=4, seed=1)
    labels = [row.param for row in report.rows]
    assert len(labels) == 7 and sum(label.startswith("direction") for label in labels) == 4
    assert report.ok
    sampled = {label for label in labels if not label.startswith("direction")}
    victim = next(p for p in ("w5", "w6", "w7", "w8", "b2") if p not in sampled)
    bad = symgrad.gradcheck(MAZUR, sample=3, directions=4, seed=1,
                            against=lambda v: mazur_backprop(v, flip=victim))
    assert not bad.ok and bad.rows[0].param.startswith("direction")
    assert symgrad.gradcheck(MAZUR, sample=3, directions=4, seed=1).rows == report.rows  # seeded


def test_784_100_10_matrix_network_is_checked_by_sample_and_directions():
    net = symgrad.mlp([784, 100, 10], scalar=False)
    report = symgrad.gradcheck(net)
    assert report.ok and len(report.rows) == 20 + 3
    assert all(row.exact is None and row.compiled is not None for row in report.rows)
    assert any("matrix form only" in note for note in report.notes)


# -- cost ----------------------------------------------------------------------------------------
@pytest.fixture
def compiled_calls(monkeypatch):
    """The number of points of every call into compiled code, as the calls happen."""
    calls: list[int] = []
    at, call = CompiledGradient.at, CompiledGradient.__call__

    def counting_at(self, leaves, *, points=None):
        result = at(self, leaves, points=points)
        calls.append(len(result.loss))
        return result

    def counting_call(self, params, inputs, targets):
        calls.append(len(np.asarray(inputs)))
        return call(self, params, inputs, targets)

    monkeypatch.setattr(CompiledGradient, "at", counting_at)
    monkeypatch.setattr(CompiledGradient, "__call__", counting_call)
    return calls


@pytest.mark.parametrize("scheme", ["forward", "backward", "central", "richardson", "complex"])
def test_a_gradcheck_calls_the_compiled_code_twice_whatever_the_parameter_count(scheme, compiled_calls):
    # one call at the point itself, one for the 4-point stencils of every row together
    for net in (MAZUR, symgrad.mlp([2, 3, 3, 2], seed=1)):  # 10 and 29 parameters
        compiled_calls.clear()
        report = symgrad.gradcheck(net, scheme=scheme)
        assert report.ok and len(report.rows) == len(net.params)
        assert compiled_calls == [1, 4 * len(report.rows)], (net.description, compiled_calls)


def test_sampled_coordinates_and_directions_are_evaluated_in_one_call_too(compiled_calls):
    report = symgrad.gradcheck(symgrad.mlp([4, 8, 8, 8, 4]))  # 220 parameters: 20 sampled + 3 directions
    assert report.ok and len(report.rows) == 23
    assert compiled_calls == [1, 4 * 23]


def test_a_step_sweep_calls_the_compiled_code_twice(compiled_calls):
    sweep = symgrad.sweep_steps(MAZUR, param="w5", scheme="richardson")
    assert compiled_calls == [1, 4 * len(sweep.steps)]  # the point, then the 4 offsets of every step at once


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"scheme": "centre"}, "scheme must be one of"),
    ({"step": 0.0}, "step must be a positive number"),
    ({"step": float("nan")}, "step must be a positive number"),
    ({"step": 1e-300}, "x \\+ h rounds to x"),
    ({"step": 1e300}, "above the largest accepted"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"sample": -1}, "sample must be a non-negative integer"),
    ({"sample": 0, "directions": 0}, "nothing would be checked"),
    ({"against": lambda v: [1.0]}, "returned a list"),
    ({"against": lambda v: {"w1": 1.0}}, "wrong keys"),
    ({"against": lambda v: mazur_backprop(v) | {"w9": 0.0}}, "unknown 'w9'"),
    ({"against": lambda v: mazur_backprop(v) | {"w1": float("nan")}}, "finite number"),
    ({"against": lambda v: mazur_backprop(v) | {"w1": np.zeros(2)}}, "shape"),
    ({"against": lambda v: mazur_backprop(v) | {"w1": "0.1"}}, "real number"),
    ({"against": lambda v: 1 / 0}, "raised ZeroDivisionError"),
])
def test_bad_options_and_bad_user_functions_raise_invalid_argument(kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        symgrad.gradcheck(MAZUR, **kwargs)


def test_relative_error_is_symmetric_and_bounded():
    for a, b in [(1.0, 1.1), (-3.0, 2.0), (0.0, 5e-300), (0.0, 0.0), (1e300, -1e300)]:
        assert relative_error(a, b) == relative_error(b, a)
        assert 0 <= relative_error(a, b) <= 2


# -- the command line --------------------------------------------------------------------------
USER_FILE = '''
import math


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def gradient(v, flip=False):
    h1 = sigmoid(v["w1"] * v["i1"] + v["w2"] * v["i2"] + v["b1"])
    h2 = sigmoid(v["w3"] * v["i1"] + v["w4"] * v["i2"] + v["b1"])
    o1 = sigmoid(v["w5"] * h1 + v["w6"] * h2 + v["b2"])
    o2 = sigmoid(v["w7"] * h1 + v["w8"] * h2 + v["b2"])
    d1, d2 = (o1 - v["t1"]) * o1 * (1 - o1), (o2 - v["t2"]) * o2 * (1 - o2)
    e1 = (d1 * v["w5"] + d2 * v["w7"]) * h1 * (1 - h1)
    e2 = (d1 * v["w6"] + d2 * v["w8"]) * h2 * (1 - h2)
    g = {"w1": e1 * v["i1"], "w2": e1 * v["i2"], "w3": e2 * v["i1"], "w4": e2 * v["i2"], "b1": e1 + e2,
         "w5": d1 * h1, "w6": d1 * h2, "w7": d2 * h1, "w8": d2 * h2, "b2": d1 + d2}
    if flip:
        g["w7"] = -g["w7"]
    return g


def flipped(v):
    return gradient(v, flip=True)


def raises(v):
    raise RuntimeError("my backprop is broken")


def returns_list(v):
    return [0.0] * 10


def returns_nan(v):
    return gradient(v) | {"w2": float("nan")}


def wrong_keys(v):
    return {"W1": 0.0}


not_a_function = 3
'''


@pytest.fixture()
def user_file(tmp_path):
    path = tmp_path / "my_backprop.py"
    path.write_text(USER_FILE)
    return path


def _run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_exit_0_when_all_agree_and_1_on_a_mismatch(user_file, capsys):
    status, out, err = _run(["gradcheck", "mazur", "--against", f"{user_file}:gradient"], capsys)
    assert status == 0 and "OK: 10 checked (10 ok)" in out and not err
    status, out, _ = _run(["gradcheck", "mazur", "--against", f"{user_file}:flipped"], capsys)
    assert status == 1 and out.split("\n\n")[1].splitlines()[1].startswith("w7 ")
    status, out, _ = _run(["gradcheck", "mazur", "--scheme", "complex"], capsys)
    assert status == 0


def test_cli_kink_exits_0(tmp_path, capsys):
    spec = tmp_path / "relu.toml"
    spec.write_text(RELU_AT_ZERO)
    status, out, _ = _run(["gradcheck", str(spec)], capsys)
    assert status == 0 and "2 kink" in out


def test_cli_json_has_exactly_the_documented_keys(user_file, capsys):
    status, out, _ = _run(["gradcheck", "mazur", "--format", "json"], capsys)
    data = json.loads(out)
    assert status == 0 and list(data) == ["ok", "scheme", "rows"] and data["ok"] is True
    assert data["scheme"] == "central" and len(data["rows"]) == 10
    assert list(data["rows"][0]) == ["param", "exact", "compiled", "numerical", "abs_error", "rel_error", "bound",
                                     "verdict"]
    status, out, _ = _run(["gradcheck", "mazur", "--format", "json", "--against", f"{user_file}:flipped"], capsys)
    data = json.loads(out)
    assert status == 1 and data["ok"] is False
    assert list(data["rows"][0]) == ["param", "exact", "compiled", "numerical", "user", "abs_error", "rel_error",
                                     "bound", "verdict"]
    assert data["rows"][0]["param"] == "w7" and data["rows"][0]["verdict"] == "mismatch"


@pytest.mark.parametrize("target, words", [
    ("missing.py:gradient", "missing.py does not exist"),
    ("{dir}:gradient", "is not a regular file"),
    ("{dir}/my_backprop.py", "expected FILE.py:FUNCTION"),
    ("{dir}/my_backprop.py:nope", "has no function 'nope'"),
    ("{dir}/my_backprop.py:not_a_function", "is the int 3, not a function"),
    ("{dir}/my_backprop.py:raises", "raised RuntimeError: my backprop is broken"),
    ("{dir}/my_backprop.py:returns_list", "returned a list"),
    ("{dir}/my_backprop.py:returns_nan", "returned nan for 'w2'"),
    ("{dir}/my_backprop.py:wrong_keys", "wrong keys"),
    ("{dir}/broken.py:gradient", "importing"),
])
def test_cli_hostile_against_is_one_line_exit_2(target, words, user_file, capsys):
    (user_file.parent / "broken.py").write_text("def gradient(v):\n    return {\n")
    status, out, err = _run(["gradcheck", "mazur", "--against", target.format(dir=user_file.parent)], capsys)
    assert status == 2 and not out
    assert err.count("\n") == 1 and err.startswith("symgrad: error: ") and words in err
    assert "Traceback" not in err


def test_cli_float32_user_gradient_warns_on_stderr(tmp_path, capsys):
    path = tmp_path / "f32.py"
    path.write_text(USER_FILE + "\nimport numpy as np\n\ndef single(v):\n"
                    "    return {k: np.float32(x) for k, x in gradient({k: np.float32(x) for k, x in v.items()}).items()}\n")
    status, out, err = _run(["gradcheck", "mazur", "--against", f"{path}:single"], capsys)
    assert status == 0 and err.startswith("symgrad: warning: the user gradient is float32")


def test_cli_plot(tmp_path, capsys):
    status, out, _ = _run(["gradcheck", "mazur", "--plot", str(tmp_path / "sweep.svg")], capsys)
    assert status == 0 and "expected 2 ± 0.1: ok; plot saved to" in out
    assert ET.parse(tmp_path / "sweep.svg").getroot().tag.endswith("svg")
    status, _, err = _run(["gradcheck", "mazur", "--plot", str(tmp_path / "sweep.jpg")], capsys)
    assert status == 2 and ".svg or .png" in err


# -- attribution of finite-difference errors ------------------------------------------------------
SIN_AT_ZERO = """
[symbols]
params = ["w"]
[values]
w = 0
[nodes]
f = "sin(w)"
"""

CANCELLATION = """
[symbols]
inputs = ["x"]
params = ["w"]
[values]
x = 1e8
w = 0.5
[nodes]
a = "w + x"
f = "a*a - x*x"
"""


def test_a_step_that_aliases_the_curvature_is_blamed_on_the_step():
    # sin(w) at 0 with h = 2π: the central difference sin(h)/h is 0, the derivative is 1
    report = symgrad.gradcheck(symgrad.loads(SIN_AT_ZERO), step=2 * math.pi)
    row = report.rows[0]
    assert report.ok and row.verdict == "step" and "use a smaller step" in row.cause
    assert abs(row.numerical) < 1e-15 and row.exact == 1.0


def test_cancellation_in_the_loss_is_blamed_on_round_off():
    # f = (w + x)² − x² = 2wx + w² with x = 1e8: float64 loses the low digits of f
    report = symgrad.gradcheck(symgrad.loads(CANCELLATION))
    row = report.rows[0]
    assert row.exact == 2 * 0.5 + 2 * 1e8
    assert report.ok and row.verdict == "round-off" and "use a larger step" in row.cause
    assert abs(row.numerical - row.exact) > 1.0


def test_a_gradient_off_by_less_than_finite_differences_resolve_is_precision():
    report = symgrad.gradcheck(MAZUR, against=lambda v: {k: g * (1 + 1e-11) for k, g in mazur_backprop(v).items()})
    assert report.ok and {row.verdict for row in report.rows} == {"precision"}
    assert "within what finite differences resolve" in report.rows[0].cause


HINGE_AND_ABS = """
[symbols]
inputs = ["x"]
targets = ["t"]
params = ["w", "c"]
[values]
x = 2
t = 1
w = 0.5
c = 0.25
[nodes]
y = "w*x"
L = "max(0, 1 - t*y) + abs(c - 1/4)"
"""


def test_hinge_and_abs_kinks_are_found_from_the_graph():
    report = symgrad.gradcheck(symgrad.loads(HINGE_AND_ABS))
    rows = {row.param: row for row in report.rows}
    assert report.ok and rows["w"].verdict == rows["c"].verdict == "kink"
    assert "max in node 'L'" in rows["w"].cause and "abs in node 'L'" in rows["c"].cause
    # one-sided slopes of the hinge in w: −t·x = −2 on the left, 0 on the right
    assert "[-2, 0]" in rows["w"].cause
    with pytest.raises(InvalidArgument, match="node 'L' uses (max|abs), which has a kink"):
        symgrad.gradcheck(symgrad.loads(HINGE_AND_ABS), scheme="complex")
    with pytest.raises(InvalidArgument, match="node 'L' uses max, which has a kink"):
        symgrad.gradcheck(symgrad.loads(HINGE_AND_ABS.replace(" + abs(c - 1/4)", " + c")), scheme="complex")


def test_at_moves_the_point_and_a_step_per_parameter_is_used():
    at = {"w1": 0.2, "i2": 0.3}
    report = symgrad.gradcheck(MAZUR, at=at, step={"w1": 2.0 ** -10})
    point = {k: float(v) for k, v in MAZUR.point(at).items()}
    hand = mazur_backprop(point)
    assert report.ok
    assert all(abs(row.exact - hand[row.param]) < 1e-15 for row in report.rows)
    assert "as given for w1" in report.notes[0]
    rows = {row.param: row for row in report.rows}
    default = {row.param: row for row in symgrad.gradcheck(MAZUR, at=at).rows}
    assert rows["w1"].numerical != default["w1"].numerical and rows["w1"].bound != default["w1"].bound
    assert rows["w2"].numerical == default["w2"].numerical and rows["w2"].bound == default["w2"].bound
    with pytest.raises(InvalidArgument, match="not checked coordinates"):
        symgrad.gradcheck(MAZUR, step={"w99": 1e-3})


def test_user_prints_go_to_stderr_and_user_dataclasses_import(tmp_path, capsys):
    path = tmp_path / "chatty.py"
    path.write_text(USER_FILE + "\nfrom dataclasses import dataclass\n\n\n@dataclass\nclass Box:\n    x: float\n\n\n"
                    "print('imported')\n\n\ndef noisy(v):\n    print('computing')\n    return gradient(v)\n")
    status, out, err = _run(["gradcheck", "mazur", "--format", "json", "--against", f"{path}:noisy"], capsys)
    assert status == 0 and json.loads(out)["ok"] is True
    assert "imported" in err and "computing" in err


@pytest.mark.parametrize("scheme", ["forward", "central", "richardson"])
def test_the_bound_covers_the_measured_error_at_every_step_of_the_sweep(scheme):
    for param in ("w1", "w5", "b2"):
        sweep = symgrad.sweep_steps(MAZUR, param=param, scheme=scheme)
        for h, error, truncation, roundoff in zip(sweep.steps, sweep.errors, sweep.truncation, sweep.roundoff):
            assert error <= 2 * (truncation + roundoff), (param, h)


def test_the_sweep_needs_exact_values():
    with pytest.raises(InvalidArgument, match="matrix-form-only"):
        symgrad.sweep_steps(symgrad.mlp([784, 100, 10], scalar=False))
    with pytest.raises(InvalidArgument, match="complex step has no round-off"):
        symgrad.sweep_steps(MAZUR, scheme="complex")
    with pytest.raises(InvalidArgument, match="not a parameter"):
        symgrad.sweep_steps(MAZUR, param="w9")
    assert symgrad.sweep_steps(symgrad.load("two_neurons")).slope is None  # linear in each parameter


ACTIVATION_LOSS = [("sigmoid", "half_sse"), ("tanh", "softmax_cross_entropy"), ("relu", "sse"),
                   ("leaky_relu", "hinge"), ("tanh", "l1")]


@pytest.mark.parametrize("activation, loss", ACTIVATION_LOSS)
def test_no_false_alarms_on_seeded_random_networks(activation, loss):
    report = symgrad.gradcheck(symgrad.mlp([2, 3, 2], activation=activation, loss=loss, seed=1))
    assert report.ok and {row.verdict for row in report.rows} <= {"ok", "kink"}, report.table()


def test_a_stencil_leaving_the_domain_gets_a_smaller_step():
    # log(w) at w = 1e-6: the default step 2⁻¹⁷ ≈ 7.6e-6 would reach log of a negative number
    net = symgrad.loads('[symbols]\nparams = ["w"]\n[values]\nw = 0.000001\n[nodes]\nf = "log(w)"\n')
    row = symgrad.gradcheck(net).rows[0]
    assert row.verdict == "ok" and "step halved 4 times" in row.cause  # the stencil reaches x − 2h: 2·2⁻²¹ < 1e-6
    assert row.exact == pytest.approx(1e6, rel=1e-15)  # d log(w)/dw = 1/w
    h = 2.0 ** -21
    assert row.numerical == pytest.approx((math.log(1e-6 + h) - math.log(1e-6 - h)) / (2 * h), rel=1e-9)


def test_user_numbers_of_any_real_type_and_a_file_function_in_the_api(user_file):
    import fractions

    net = symgrad.load("two_neurons")  # gradients by hand: df/dw1 = w2*x = -4, df/dw_b1 = w2 = 2, ...
    by_hand = {"w1": -4, "w_b1": 2, "w2": -7, "w_b2": 1}
    for convert in (int, fractions.Fraction, np.int64, lambda g: np.array(float(g))):
        assert symgrad.gradcheck(net, against=lambda v: {k: convert(g) for k, g in by_hand.items()}).ok
    assert symgrad.gradcheck(MAZUR, against=f"{user_file}:gradient").ok
    with pytest.raises(InvalidArgument, match="against must be a function"):
        symgrad.gradcheck(MAZUR, against=5)


# -- a matrix-form network at given weights and batch ---------------------------------------------
def _sigmoid_half_sse_gradients(W, b, x, t, reduction):
    """Hand backprop of ½Σ(σ(xWᵀ + b) − t)² over the batch (or its mean): δ = (o − t)·o·(1 − o)."""
    o = 1 / (1 + np.exp(-(x @ W.T + b)))
    delta = (o - t) * o * (1 - o) / (len(x) if reduction == "mean" else 1)
    return {"W1": delta.T @ x, "b1": delta.sum(axis=0)}


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_a_matrix_form_network_is_checked_at_the_given_weights_and_batch(reduction):
    rng = np.random.default_rng(7)
    W, b = rng.normal(size=(2, 3)), rng.normal(size=2)
    x, t = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    net = symgrad.mlp([3, 2], scalar=False)  # sigmoid output, half_sse
    report = symgrad.gradcheck(net, at={"W1": W, "b1": b, "inputs": x, "targets": t, "reduction": reduction})
    assert report.ok and len(report.rows) == 8
    assert f"at the given W1, b1; 5 samples, the {reduction} over them" in report.notes
    expected = _sigmoid_half_sse_gradients(W, b, x, t, reduction)
    for row in report.rows:
        key, index = row.param.rstrip("]").split("[")
        value = expected[key][tuple(int(i) for i in index.split(","))]
        assert row.compiled == pytest.approx(value, rel=1e-13)
        assert row.numerical == pytest.approx(value, rel=1e-7)
    partly = symgrad.gradcheck(net, at={"W1": W})  # b1 seeded (zero), one sample: the network's own
    assert "at the given W1 (b1 seeded); 1 sample, the sum over them" in partly.notes
    point = net.point()
    one = _sigmoid_half_sse_gradients(W, np.zeros(2), np.array([[float(point[n]) for n in net.inputs]]),
                                      np.array([[float(point[n]) for n in net.targets]]), "sum")
    assert {row.param: row.compiled for row in partly.rows}["W1[1,2]"] == pytest.approx(one["W1"][1, 2], rel=1e-13)


@pytest.mark.parametrize("at, message", [
    ({"W9": 1.0}, r"at names 'W9', which this matrix-form network does not have; give arrays by the names W1, b1"),
    ({"W1": np.ones(3)}, r"at\['W1'\] has shape \(3,\); this network's has shape \(2, 3\)"),
    ({"W1": "abc"}, r"at\['W1'\] is not an array of real numbers"),
    ({"b1": [1j, 0]}, r"at\['b1'\] is not an array of real numbers"),
    ({"W1": np.full((2, 3), np.nan)}, r"at\['W1'\] holds NaN or infinite values"),
    ({"inputs": np.ones((4, 6))}, r"at\['inputs'\] has shape \(4, 6\); give one sample per row, \(B, 3\)"),
    ({"inputs": np.ones((0, 3)), "targets": np.ones((0, 2))}, r"at\['inputs'\] has shape \(0, 3\)"),
    ({"inputs": np.ones((4, 3))}, r"at gives 4 input rows and 1 target rows"),
    ({"reduction": "max"}, r"at\['reduction'\] = 'max': give 'sum' or 'mean'"),
])
def test_a_bad_matrix_form_point_is_refused_naming_it(at, message):
    with pytest.raises(InvalidArgument, match=message):
        symgrad.gradcheck(symgrad.mlp([3, 2], scalar=False), at=at)
