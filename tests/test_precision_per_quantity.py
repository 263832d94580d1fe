"""Precision per quantity (issue 20): ``digits_for`` / ``--digits-for NAME=N`` prints chosen quantities
with their own significant digits; references are the lecture's numbers and a hand mpmath forward pass."""

from __future__ import annotations

import re
from decimal import Decimal

import mpmath
import pytest

import symgrad
from symgrad.cli import main


def _mazur_loss() -> mpmath.mpf:
    """E_total of the fourth lecture's network, by hand at 40 digits."""
    with mpmath.workdps(40):
        s = lambda x: 1 / (1 + mpmath.exp(-x))  # noqa: E731
        f = mpmath.mpf
        h1 = s(f("0.15") * f("0.05") + f("0.2") * f("0.1") + f("0.35"))
        h2 = s(f("0.25") * f("0.05") + f("0.3") * f("0.1") + f("0.35"))
        o1 = s(f("0.4") * h1 + f("0.45") * h2 + f("0.6"))
        o2 = s(f("0.5") * h1 + f("0.55") * h2 + f("0.6"))
        return (f("0.01") - o1) ** 2 / 2 + (f("0.99") - o2) ** 2 / 2


def _significant(value, digits: int) -> Decimal:
    d = Decimal(mpmath.nstr(value, 40, min_fixed=-mpmath.inf, max_fixed=mpmath.inf))
    return d.quantize(Decimal(1).scaleb(d.adjusted() - digits + 1))


def test_chosen_quantities_print_with_their_own_digits_in_text():
    text = symgrad.report(symgrad.load("mazur"), digits=4, digits_for={"E_total": 12, "w5": 6})
    loss = _significant(_mazur_loss(), 12)
    assert Decimal("0.298371108760") == loss  # the lecture's 0.298371109, three digits further
    assert f"  E_total = {loss.normalize()}" in text  # 0.29837110876 (a trailing zero is not printed)
    # dE/dw5 = 0.082167041 and w5+ = 0.35891648 in the lecture: at 6 significant digits.
    assert re.search(r"dE_total/dw5 = .*\n(?:.*\n)*?\s+= 0\.082167\n", text)
    assert "= 0.358916\n" in text
    assert "  E_o1 = 0.2748" not in text and "       = 0.2748\n" in text  # the others keep 4 digits


def test_a_document_row_reproduces_a_result_printed_with_more_digits():
    tex = symgrad.report(symgrad.load("mazur"), format="latex", digits=4, digits_for={"E_total": 12})
    row = re.search(r"E_\{\\mathrm\{total\}\} &= E_\{\\mathrm\{o1\}\} \+ E_\{\\mathrm\{o2\}\} = ([\d.]+) \+ ([\d.]+) = "
                    r"([\d.]+)\n", tex)
    assert row, "the forward row of E_total"
    a, b, printed = (Decimal(g) for g in row.groups())
    assert printed == _significant(_mazur_loss(), 12).normalize()
    total = a + b  # the arithmetic a reader redoes
    assert total.quantize(Decimal(1).scaleb(total.adjusted() - 11)).normalize() == printed
    table = tex.split(r"\begin{longtable}", 1)[1]
    assert r"$E_{\mathrm{total}}$ & the loss (the output) & $0.29837110876$" in table


def test_unknown_quantities_and_bad_digits_are_refused(capsys):
    with pytest.raises(symgrad.SymgradError, match=r"'bogus', which is not a quantity of this network; choose from: i1"):
        symgrad.report(symgrad.load("mazur"), digits_for={"bogus": 3})
    with pytest.raises(symgrad.SymgradError, match="digits for w5 must be an integer from 1"):
        symgrad.report(symgrad.load("mazur"), digits_for={"w5": 0})
    assert main(["report", "mazur", "--digits-for", "bogus=3"]) == 2
    assert "bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["report", "mazur", "--digits-for", "w5"])
    assert exit_.value.code == 2 and "NAME=DIGITS" in capsys.readouterr().err


def test_the_cli_option_matches_the_library(capsys):
    assert main(["report", "mazur", "--digits", "4", "--digits-for", "E_total=12, w5=6"]) == 0
    assert capsys.readouterr().out == symgrad.report(symgrad.load("mazur"), digits=4,
                                                     digits_for={"E_total": 12, "w5": 6})


# -- the spec's [digits] table ---------------------------------------------------------------------------
_NEURON = """description = "one sigmoid neuron, scaled"
output = "E"

[symbols]
inputs = ["x"]
params = ["w", "v"]

[values]
x = 0.5
w = 0.3
v = 0.7

[nodes]
h = "sigmoid(x*w)"
E = "h*v"
"""


def _neuron() -> dict[str, mpmath.mpf]:
    """h, E, dE/dv = h and dE/dx = v·h(1−h)·w of the neuron above, by hand at 40 digits."""
    with mpmath.workdps(40):
        h = 1 / (1 + mpmath.exp(-mpmath.mpf("0.5") * mpmath.mpf("0.3")))
        v, w = mpmath.mpf("0.7"), mpmath.mpf("0.3")
        return {"h": h, "E": h * v, "dv": h, "dx": v * h * (1 - h) * w}


def test_a_spec_digits_table_gives_quantities_their_own_digits():
    network = symgrad.loads(_NEURON + "\n[digits]\nE = 10\nv = 12\n")
    text = symgrad.report(network, digits=4)
    ref = _neuron()
    assert f"  E = {_significant(ref['E'], 10).normalize()}\n" in text  # 0.3762008917, where the rest has 4 digits
    assert f"    = {_significant(ref['h'], 4)}\n" in text
    # dE/dv is one local partial, ∂E/∂v = h: v's own 12 digits, in the text and in the LaTeX.
    assert f"dE/dv = ∂E/∂v = h = {_significant(ref['dv'], 12)}\n" in text
    tex = symgrad.report(network, digits=4, format="latex")
    assert (r"\frac{\mathrm{d}E}{\mathrm{d}v} &= \frac{\partial E}{\partial v} = h = "
            f"{_significant(ref['dv'], 12)}\n") in tex
    # --digits-for adds to the spec's table and overrides it.
    text = symgrad.report(network, digits=4, digits_for={"E": 3})
    assert f"  E = {_significant(ref['E'], 3)}\n" in text and f"h = {_significant(ref['dv'], 12)}\n" in text


def test_with_decimals_a_chosen_quantity_prints_decimal_places():
    network = symgrad.loads(_NEURON + "\n[digits]\nx = 6\n")
    text = symgrad.report(network, decimals=3)
    dx = Decimal(mpmath.nstr(_neuron()["dx"], 30))
    assert f"        = {dx.quantize(Decimal('1e-6'))}\n" in text  # 0.052206: six places, not six digits (0.0522058)
    assert f"= {dx.quantize(Decimal('1e-3'))}\n" not in text
    tex = symgrad.report(network, decimals=3, format="latex")
    assert f"= {dx.quantize(Decimal('1e-6'))} \\\\\n" in tex


@pytest.mark.parametrize(("table", "key", "message"), [
    ("[digits]\nbogus = 3\n", "digits.bogus", "'bogus' is not a quantity of this network; choose from: x, w, v, h, E"),
    ("[digits]\nE = 0\n", "digits.E", "expected an integer from 1 to"),
    ("[digits]\nE = \"12\"\n", "digits.E", "got '12'; write E = 6"),
    ("[digits]\nE = true\n", "digits.E", "got True"),
    ("[digits]\nE = 4.5\n", "digits.E", "got 4.5"),
])
def test_a_bad_digits_table_is_refused_naming_the_key(table, key, message, tmp_path, capsys):
    with pytest.raises(symgrad.SpecError, match=re.escape(key) + ".*" + re.escape(message)):
        symgrad.loads(_NEURON + "\n" + table)
    path = tmp_path / "neuron.toml"
    path.write_text(_NEURON + "\n" + table)
    assert main(["report", str(path)]) == 2
    assert f"neuron.toml: {key}: " in capsys.readouterr().err


def test_a_digits_number_at_the_top_is_refused_with_the_fix():
    with pytest.raises(symgrad.SpecError, match=r"digits: expected a table \[digits\] of quantity = digits, got 4; "
                                                 "for the digits of every number use --digits"):
        symgrad.loads("digits = 4\n" + _NEURON)


def test_a_hostile_digits_table_gets_a_short_message():
    with pytest.raises(symgrad.SpecError) as refused:
        symgrad.loads(_NEURON + "\n[digits.E]\n" + "".join(f"k{j} = {j}\n" for j in range(2000)))
    assert "digits.E: expected an integer" in str(refused.value) and len(str(refused.value)) < 400
    with pytest.raises(symgrad.SpecError, match="digits.E: expected an integer .*got 1000000000000"):
        symgrad.loads(_NEURON + "\n[digits]\nE = 1000000000000\n")
