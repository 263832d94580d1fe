"""`symgrad report --hessian`: second derivatives step by step, checked against a hand calculation."""

from __future__ import annotations

import re
from decimal import Decimal, getcontext

import mpmath
import pytest

import symgrad
from symgrad.cli import main


def _hand_w5_w5() -> mpmath.mpf:
    # ∂²E/∂w5² = out_h1² · (σ'(net_o1)² + (out_o1 − t1)·σ''(net_o1)), σ' = o(1 − o), σ'' = σ'(1 − 2o)
    with mpmath.workdps(40):
        sig = lambda z: 1 / (1 + mpmath.exp(-z))  # noqa: E731
        i1, i2 = mpmath.mpf("0.05"), mpmath.mpf("0.10")
        out_h1 = sig(mpmath.mpf("0.15") * i1 + mpmath.mpf("0.20") * i2 + mpmath.mpf("0.35"))
        out_h2 = sig(mpmath.mpf("0.25") * i1 + mpmath.mpf("0.30") * i2 + mpmath.mpf("0.35"))
        o = sig(mpmath.mpf("0.40") * out_h1 + mpmath.mpf("0.45") * out_h2 + mpmath.mpf("0.60"))
        s1 = o * (1 - o)
        return out_h1 ** 2 * (s1 ** 2 + (o - mpmath.mpf("0.01")) * s1 * (1 - 2 * o))


def test_text_report_of_w5_w5_matches_the_hand_calculation(capsys):
    assert main(["report", "mazur", "--hessian", "w5,w6"]) == 0
    text = capsys.readouterr().out
    first = re.search(r"^d²E_total/dw5² = (\S+)$", text, re.M).group(1)
    assert first == mpmath.nstr(_hand_w5_w5(), 9, strip_zeros=False)
    assert "d²E_total/dw5dw6 = " in text and "d²E_total/dw6² = " in text
    assert "∂/∂out_o1 ∂out_o1/∂net_o1 = 1 - 2*out_o1" in text  # σ'' by its formula, factor by factor


def test_every_printed_row_multiplies_out_to_its_value(capsys):
    """Each '= a · b + c · d' row, recomputed in Decimal from the printed factors, gives the printed value."""
    getcontext().prec = 30
    assert main(["report", "mazur", "--hessian", "w5,w1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    checked = 0
    for numbers, result in zip(lines, lines[1:]):
        numbers, result = numbers.strip(), result.strip()
        if not (numbers.startswith("= ") and result.startswith("= ")) or "d" in numbers or "∂" in numbers:
            continue
        total = sum((_product(p) for p in numbers[2:].split(" + ")), Decimal(0))
        value = Decimal(result[2:])
        assert abs(total - value) <= Decimal("1e-8") * max(abs(value), Decimal("1e-3")), (numbers, result)
        checked += 1
    assert checked >= 10


def _product(text: str) -> Decimal:
    out = Decimal(1)
    for factor in text.split(" · "):
        out *= Decimal(factor.strip("()"))
    return out


def test_latex_and_markdown_documents(tmp_path, capsys):
    assert main(["report", "mazur", "--hessian", "w5", "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert r"\frac{\mathrm{d}^2 E_{\mathrm{total}}}{\mathrm{d}w_{5}^2}" in markdown and "$$" in markdown
    out = tmp_path / "h.tex"
    assert main(["report", "mazur", "--hessian", "w5", "--format", "latex", "-o", str(out)]) == 0
    tex = out.read_text()
    assert tex.startswith("\\documentclass") and "-0.0122229542" in tex


@pytest.mark.parametrize("argv, message", [
    (["--hessian", "w5,zz"], "'zz' is not a parameter"),
    (["--hessian", ","], "names no parameter"),
    (["--hessian", "w5", "--format", "json"], "text, latex or markdown"),
])
def test_bad_hessian_options_exit_2(argv, message, capsys):
    assert main(["report", "mazur", *argv]) == 2
    assert message in capsys.readouterr().err


def test_python_api_report_hessian():
    text = symgrad.report(symgrad.load("mazur"), hessian=["w5"], digits=6)
    assert "d²E_total/dw5² = -0.012223" in text


def test_a_one_factor_row_prints_its_number_once(capsys):
    """dnet_o1/dw5 = ∂net_o1/∂w5 has one factor, out_h1 (computed here by hand): the row says `= 0.593269992`
    once, not a number row and a value row alike; the same for a local partial's derivative that is a number."""
    assert main(["report", "mazur", "--hessian", "w5,w1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    with mpmath.workdps(40):
        out_h1 = 1 / (1 + mpmath.exp(-(mpmath.mpf("0.15") * mpmath.mpf("0.05") + mpmath.mpf("0.20") * mpmath.mpf("0.10")
                                       + mpmath.mpf("0.35"))))
    k = lines.index("    dnet_o1/dw5 = ∂net_o1/∂w5")
    assert lines[k + 1].strip() == f"= {mpmath.nstr(out_h1, 9, strip_zeros=False)}"
    assert not lines[k + 2].strip().startswith("= ")
    assert "    ∂/∂out_o1 ∂E_o1/∂out_o1 = 1" in lines  # not "= 1 = 1"
    repeated = [(a, b) for a, b in zip(lines, lines[1:]) if a.strip().startswith("= ") and a.strip() == b.strip()]
    assert not repeated


def test_the_latex_document_prints_a_one_factor_row_once(capsys):
    assert main(["report", "mazur", "--hessian", "w5", "--format", "latex"]) == 0
    rows = [r.strip().rstrip("\\*").strip() for r in capsys.readouterr().out.splitlines()]
    assert not [(a, b) for a, b in zip(rows, rows[1:]) if a.startswith("&= ") and a == b]
    assert rows.count("&= 0.593269992") == 1
