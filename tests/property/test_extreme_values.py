"""Extreme values for random specs: `report --format json` and the compiled module end cleanly.

Clean means: the CLI exits 0 with JSON whose every number is a finite decimal string (or null
for a δ that does not exist there), or exits 2 with one line naming the spec; the compiled
module returns floats (inf or nan allowed in float64, no exception). Never a traceback, a
hang or a blowup.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.cli import main

EXTREME = st.sampled_from(["0", "-0.0", "1", "-1", "1e-300", "-1e-300", "1e300", "-1e300", "1e-30", "4.5e15",
                           "-8", "2", "0.5", "-0.5", "1000", "-1000", "1e70", "123456789.123456789"])
UNARY = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs"]
BINARY = ["+", "-", "*", "/", "**"]


@st.composite
def _expressions(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(["w", "x", "w*x", "2", "w + x"]))
    if draw(st.booleans()):
        return f"{draw(st.sampled_from(UNARY))}({draw(_expressions(depth - 1))})"
    op = draw(st.sampled_from(BINARY))
    right = draw(st.sampled_from(["2", "3", "-1", "0.5"])) if op == "**" else draw(_expressions(depth - 1))
    return f"({draw(_expressions(depth - 1))}) {op} ({right})"


NUMBER = re.compile(r"-?\d+(\.\d+)?(e[+-]\d+)?\Z")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(expr=_expressions(), x=EXTREME, w=EXTREME)
@example(expr="log(w*x)", x="-1", w="1")
@example(expr="(w*x)**(1/3)", x="-8", w="1")
@example(expr="exp(w*x)", x="1e70", w="1")
@example(expr="w/x", x="0", w="1")
def test_report_json_ends_cleanly(tmp_path_factory, capsys, expr, x, w):
    path = tmp_path_factory.mktemp("spec") / "extreme.toml"
    path.write_text(f'[symbols]\ninputs = ["x"]\nparams = ["w"]\n[values]\nx = "{x}"\nw = "{w}"\n[nodes]\n'
                    f'f = "{expr}"\n', encoding="utf-8")
    status = main(["report", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    if status == 2:
        assert out == "" and err.count("\n") == 1 and "extreme.toml" in err, err
        return
    assert status == 0, err
    doc = json.loads(out)
    for section in ("values", "gradients"):
        for name, text in doc[section].items():
            assert NUMBER.match(text), (section, name, text)
    for name, text in doc["adjoints"].items():
        assert text is None or NUMBER.match(text), (name, text)


@settings(max_examples=40, deadline=None)
@given(expr=_expressions(), x=EXTREME, w=EXTREME)
@example(expr="log(1 + exp(w*x))", x="1000", w="1")
def test_compiled_module_returns_floats(expr, x, w):
    net = symgrad.Network()
    net.input("x")
    try:
        net.param("w", w)
        net.node("f", expr)
        compiled = symgrad.compile_gradient(symgrad.derive(net), reduction="sum")
    except symgrad.SymgradError:
        return  # refused with a clear error: a clean outcome
    with np.errstate(all="ignore"):
        loss, grads = compiled({"w": float(w)}, np.array([[float(x)]]), np.zeros((1, 0)))
    assert isinstance(loss, float) and isinstance(grads["w"], float)
    if math.isfinite(float(x)) and expr == "log(1 + exp(w*x))":
        assert math.isfinite(loss) and math.isfinite(grads["w"])
