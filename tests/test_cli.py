"""The CLI: examples, report text and JSON, determinism, python -m symgrad."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mpmath
import pytest
import sympy

from symgrad import builtin_examples, load
from symgrad.cli import main

from .helpers import (
    MAZUR_GIVEN,
    MAZUR_PARAMS,
    mazur_by_hand,
    number,
    printed,
    reference_derivative,
    reference_gradients,
)

ROOT = Path(__file__).resolve().parent.parent


def _run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_examples_lists_every_builtin_with_a_description(capsys):
    status, out, _ = _run(["examples"], capsys)
    assert status == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == sorted(e.name for e in builtin_examples())
    assert {"mazur", "two_neurons", "circuit_multipath", "perceptron", "mlp_3_4_2", "chain_sin",
            "sigmoid_circuit"} <= set(names)
    assert all(len(line.split(None, 1)) == 2 for line in out.splitlines())


@pytest.mark.parametrize("example", [e.name for e in builtin_examples()])
def test_every_example_reports_gradients_equal_to_sympy_diff(example, capsys):
    status, out, err = _run(["report", example], capsys)
    assert status == 0, err
    assert "Forward pass" in out and "Backward pass" in out and "Gradients" in out
    status, out, err = _run(["report", example, "--format", "json"], capsys)
    assert status == 0, err
    gradients = json.loads(out)["gradients"]
    reference = reference_gradients(load(example), wrt=list(gradients))
    for name, text in gradients.items():  # every printed digit, against sympy.diff at 60 digits
        assert printed(reference[name], text) == text, (name, text)


def _significant(value, digits: int) -> str:
    with mpmath.workdps(60):
        return mpmath.nstr(value, digits)


def test_text_report_has_the_lecture_numbers(capsys):
    _, out, _ = _run(["report", "mazur"], capsys)
    q, point = mazur_by_hand()
    dw5 = reference_derivative(q["E_total"], sympy.Symbol("w5"), point)
    with mpmath.workdps(60):
        w5_after = number(sympy.Rational("0.4")) - dw5 / 2
    # the report prints 9 significant digits: the lecture's digits, and dE_total/dw5 to one more place
    assert (_significant(dw5, 9), _significant(w5_after, 9)) == ("0.0821670406", "0.35891648")
    for text in ["= 0.593269992", "E_total = 0.298371109", "= 0.74136507 * 0.186815602 * 0.593269992",
                 f"w5+ = w5 - 0.5 * dE_total/dw5 = 0.4 - 0.5 * {_significant(dw5, 9)} = {_significant(w5_after, 9)}",
                 "= 0.15 * 0.05 + 0.2 * 0.1 + 0.35 * 1", "where ∂out_o1/∂net_o1 = out_o1 * (1 - out_o1)"]:
        assert text in out, text


def test_json_report_schema(capsys):
    _, out, _ = _run(["report", "mazur", "--format", "json"], capsys)
    data = json.loads(out)
    assert list(data) == ["output", "values", "adjoints", "gradients", "updated"]
    assert data["output"] == "E_total"
    assert set(data["gradients"]) == set(data["updated"]) == {f"w{k}" for k in range(1, 9)} | {"b1", "b2"}
    assert {"net_h1", "out_o2", "E_total", "i1"} <= set(data["values"])
    for section in ("values", "adjoints", "gradients", "updated"):
        for name, text in data[section].items():
            digits = text.lstrip("-").replace(".", "").lstrip("0")
            assert isinstance(text, str) and len(digits) >= 15, (section, name, text)
    # every string against the lecture's formulas typed in by hand, differentiated by sympy.diff at 60 digits
    q, point = mazur_by_hand()
    for name, text in data["values"].items():
        reference = number(q[name].xreplace(point)) if name in q else number(sympy.Rational(MAZUR_GIVEN[name]))
        assert printed(reference, text) == text, name
    for name in MAZUR_PARAMS:
        reference = reference_derivative(q["E_total"], sympy.Symbol(name), point)
        with mpmath.workdps(60):
            after = number(sympy.Rational(MAZUR_GIVEN[name])) - reference / 2
        assert printed(reference, data["gradients"][name]) == data["gradients"][name], name
        assert printed(after, data["updated"][name]) == data["updated"][name], name


def test_json_has_no_updated_without_a_learning_rate(capsys):
    _, out, _ = _run(["report", "two_neurons", "--format", "json"], capsys)
    data = json.loads(out)
    assert "updated" not in data
    assert {p: float(text) for p, text in data["gradients"].items()} == {"w1": -4, "w_b1": 2, "w2": -7, "w_b2": 1}


def test_same_input_same_bytes(capsys):
    """A fresh interpreter with another hash seed prints the bytes this (warm) one prints."""
    seed = str(int(os.environ.get("PYTHONHASHSEED", "0").replace("random", "0")) + 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed}
    script = ("import runpy, sys\n"  # python -m symgrad, twice in one interpreter
              "for fmt in ('text', 'json'):\n"
              "    sys.argv = ['symgrad', 'report', 'mlp_3_4_2', '--format', fmt]\n"
              "    try:\n        runpy.run_module('symgrad', run_name='__main__', alter_sys=True)\n"
              "    except SystemExit as exit:\n        assert exit.code == 0, exit.code\n"
              "    print('\\f', end='')\n")
    theirs = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, check=True).stdout
    ours = []
    for fmt in ("text", "json"):
        status, out, err = _run(["report", "mlp_3_4_2", "--format", fmt], capsys)
        assert status == 0, err
        ours.append(out.encode())
    assert theirs.split(b"\f") == [*ours, b""]
    assert b"Gradients" in ours[0] and json.loads(ours[1])["gradients"]


def test_digits_option(capsys):
    import mpmath

    with mpmath.workdps(50):  # an independent forward pass of the 2-2-2 network
        s = lambda z: 1 / (1 + mpmath.exp(-z))  # noqa: E731
        c = lambda k: mpmath.mpf(k) / 100  # noqa: E731
        h1 = s(c(15) * c(5) + c(20) * c(10) + c(35))
        h2 = s(c(25) * c(5) + c(30) * c(10) + c(35))
        o1, o2 = s(c(40) * h1 + c(45) * h2 + c(60)), s(c(50) * h1 + c(55) * h2 + c(60))
        E = (c(1) - o1) ** 2 / 2 + (c(99) - o2) ** 2 / 2
        expected = mpmath.nstr(E, 30, strip_zeros=False)
    _, out, _ = _run(["report", "mazur", "--digits", "30"], capsys)
    assert f"  E_total = {expected}\n" in out
