"""Issue 18, hostile input to `symgrad check`: every line gets a verdict or a one-line reason naming it.

Each case goes through the CLI in-process. Exit 1 when a line is wrong or unreadable, 2 only when
the file cannot be read at all; never a traceback. The limits quoted are limits.py's (10**300 for
a number, 5,000 characters for an expression, 1,000,000 for a claims file); deterministic cost
measures (rows, characters) stand in for times.
"""

from __future__ import annotations

import re

import pytest

from symgrad.cli import main


def _check(tmp_path, capsys, text: str):
    path = tmp_path / "sheet.txt"
    path.write_text(text, encoding="utf-8")
    status = main(["check", "mazur", str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return status, captured.out, captured.err


def _rows(out: str) -> list[str]:
    return [line for line in out.splitlines()[1:] if re.match(r"\d+ {2,}", line)]


@pytest.mark.parametrize("text, reason", [
    ("dE_total/dw5 = " + "*".join(["1.0001"] * 10_000) + "\n", "the limit is 5000"),  # 10,000 factors
    ("net_h1 = 1e308*1e308\n", "above the limit 10**300"),
    ("out_h1 = 0*1e400\n", "above the limit 10**300"),
    ("E_total = 1e999999999\n", "beyond 1e±300"),
    ("net_h1 = NaN\n", "unknown name 'NaN'"),
    ("E_total = -Infinity\n", "unknown name 'Infinity'"),
    ("net_h1 = " + "(" * 5000 + "0.3775" + ")" * 5000 + "\n", "the limit is 5000"),
    ("net_h1 = " + "(" * 2400 + "0.3775" + ")" * 2400 + "\n", "too many nested parentheses"),
    ("dE_total/dw5 = " + "(" * 2400 + "w5" + ")" * 2400 + "\n", "too many nested parentheses"),
    ("net_h1 = 10**10**10\n", "constant exponents are limited"),
    ("net_h1 = exp(exp(exp(100)))\n", "has no real value"),
    ("net_h1 = 0/0\n", "division by zero"),
    ("net_h1 = sqrt(-1)\n", "not a real number"),
    ("E_total@99999999999 = 0.1\n", "more than the limit of 100000"),
    ("n\u0435t_h1 = 0.3775\n", "U+0435 CYRILLIC SMALL LETTER IE"),  # a Cyrillic е in the name
    ("\u0395_total = 0.298\n", "U+0395 GREEK CAPITAL LETTER EPSILON"),
    ("net_h1 \uff1d 0.3775\n", "U+FF1D FULLWIDTH EQUALS SIGN"),
    ("net_h1 = \uff10.\uff13\uff17\uff17\uff15\n", "U+FF10"),
    ("net_h1 = 0.3775\u200b\n", "U+200B"),
])
def test_a_hostile_line_is_one_unreadable_row_naming_why(tmp_path, capsys, text, reason):
    status, out, err = _check(tmp_path, capsys, text + "out_h1 = 0.593269992\n")
    rows = _rows(out)
    assert status == 1 and err == ""
    assert len(rows) == 2 and "unreadable" in rows[0] and reason in rows[0], rows[0][:400]
    assert " right " in rows[1]  # the line after it is still judged
    assert max(len(line) for line in out.splitlines()[:3]) < 2000  # a huge value is cut in the table


def test_a_chain_of_ten_thousand_stages_judges_every_stage(tmp_path, capsys):
    status, out, _ = _check(tmp_path, capsys, "net_h1 = " + " = ".join(["0.3775"] * 10_000) + "\n")
    assert status == 0 and len(_rows(out)) == 10_000


def test_a_megabyte_on_one_line_is_refused_with_the_limit(tmp_path, capsys):
    status, out, err = _check(tmp_path, capsys, "net_h1 = " + "1" * (1024 * 1024) + "\n")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "a claims file may hold at most 1000000" in err


def test_zeros_are_judged_not_waved_through(tmp_path, capsys):
    status, out, _ = _check(tmp_path, capsys, "dE_total/dw5 = 0*0.74136507*0.186815602\nout_h1 = 0e300\n")
    rows = _rows(out)
    assert status == 1
    assert "wrong" in rows[0] and "0 is not ∂net_o1/∂w5" in rows[0]  # the substituted 0 is named
    assert "wrong" in rows[1]  # out_h1 = 0.593… is not 0 in any rounding the person wrote


def test_the_numbers_of_a_long_product_are_read_in_linear_time(tmp_path, capsys, monkeypatch):
    """2,400 numbers on one line: each number's text is sliced, the line is not split again per number."""
    import ast
    splits = []
    real = ast._splitlines_no_ff
    monkeypatch.setattr(ast, "_splitlines_no_ff", lambda *a, **k: splits.append(1) or real(*a, **k))
    status, out, _ = _check(tmp_path, capsys, "dE_total/dw5 = " + "*".join(["1"] * 2400) + "\n")
    assert status == 1 and "wrong" in _rows(out)[0]
    assert len(splits) < 10
