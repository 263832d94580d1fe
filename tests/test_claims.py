"""Checking hand calculations: the lecture's numbers and its typo, seeded slips of every kind,
rounded textbook arithmetic, symbolic claims, multi-step claims, and bad claims files.

The claimed numbers come from outside symgrad: the fourth lecture's slides, and slips worked
out with the hand-written float64 backprop below (``_mazur``), which the seeded values are
checked against before the checker is asked to diagnose them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad import ParseError, slips
from symgrad.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "claims"
WORKED = ROOT / "worked_examples" / "claims"
EXPECT = re.compile(r"#\s*(slip|consistent-with-earlier|right-truncated):\s*(.*)$")


# -- an independent reference: the 2-2-2 network by hand, float64 ------------------------------
def _sig(x):
    return 1 / (1 + np.exp(-x))


def _mazur(steps: int = 0, *, eta: float = 0.5, layerwise: bool = False, sigma_prime: bool = True,
           biases: bool = True):
    """Loss and weights after ``steps`` updates (biases trained too), and the first step's gradients."""
    i, t = np.array([.05, .1]), np.array([.01, .99])
    w1, b1 = np.array([[.15, .2], [.25, .3]]), .35
    w2, b2 = np.array([[.4, .45], [.5, .55]]), .6
    first = None
    for k in range(steps + 1):
        h = _sig(w1 @ i + b1)
        o = _sig(w2 @ h + b2)
        loss = 0.5 * np.sum((t - o) ** 2)
        d2 = (o - t) * (o * (1 - o) if sigma_prime else 1)
        new_w2, new_b2 = w2 - eta * np.outer(d2, h), b2 - eta * d2.sum()
        d1 = (new_w2 if layerwise else w2).T @ d2 * h * (1 - h)
        if first is None:
            first = {"w2": np.outer(d2, h), "w1": np.outer(d1, i)}
        if k == steps:
            return loss, w1, w2, first
        w1, b1 = w1 - eta * np.outer(d1, i), b1 - eta * d1.sum() * biases
        w2, b2 = new_w2, (new_b2 if biases else b2)


def _out_o1_by_hand(significant: int) -> str:
    """The lecture's out_o1 = σ(w5·out_h1 + w6·out_h2 + b2) in 50-digit Decimal arithmetic, rounded half up."""
    with localcontext() as ctx:
        ctx.prec = 50
        i1, i2, b1, b2 = Decimal("0.05"), Decimal("0.1"), Decimal("0.35"), Decimal("0.6")

        def sigma(x: Decimal) -> Decimal:
            return 1 / (1 + (-x).exp())

        out_h1 = sigma(Decimal("0.15") * i1 + Decimal("0.2") * i2 + b1)
        out_h2 = sigma(Decimal("0.25") * i1 + Decimal("0.3") * i2 + b1)
        out_o1 = sigma(Decimal("0.4") * out_h1 + Decimal("0.45") * out_h2 + b2)
        quantum = Decimal(1).scaleb(out_o1.adjusted() - significant + 1)
        return str(out_o1.quantize(quantum, rounding=ROUND_HALF_UP))


def _symgrad_in_a_new_process(argv: list[str], hash_seed: str) -> str:
    """What ``python -m symgrad ARGV`` prints in a fresh interpreter with PYTHONHASHSEED=hash_seed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run([sys.executable, "-m", "symgrad", *argv], capture_output=True, text=True, env=env,
                          timeout=300)
    return proc.stdout


def _expectations(path: Path):
    """(line number, claim text, expectation kind, expected fragment) for each annotated line."""
    found = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        match = EXPECT.search(line)
        if match and not line.lstrip().startswith("#"):
            found.append((n, line.split("#", 1)[0].strip(), match[1], match[2].strip()))
    return found


def _run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# -- the fourth lecture, as printed -------------------------------------------------------------
def test_every_printed_number_of_the_fourth_lecture_passes_except_the_slide_typo():
    report = symgrad.check_claims(symgrad.load("mazur"), (WORKED / "mazur_lecture.txt").read_text())
    wrong = [row for row in report.rows if row.verdict == "wrong"]
    assert [(row.claim, row.claimed) for row in wrong] == [("out_o1", "0.751366507")]
    assert all(row.verdict == "right" for row in report.rows if row not in wrong)
    assert len(report.rows) == 22 and not report.ok
    assert wrong[0].explanation.startswith("a duplicated digit: the 6 is written twice")
    assert "0.75136507" in wrong[0].explanation
    assert report.first_slip == wrong[0]


def test_the_typo_alone_and_the_lecture_spelling_of_out_o1():
    report = symgrad.check_claims(symgrad.load("mazur"), "out_o1 = 0.75136507\nout_o1 = 0.751366507\n")
    assert [row.verdict for row in report.rows] == ["right", "wrong"]


def test_cli_text_table_and_exit_status_one_on_the_lecture(capsys):
    status, out, err = _run(["check", "mazur", str(WORKED / "mazur_lecture.txt")], capsys)
    assert status == 1 and err == ""
    header, *rest = out.splitlines()
    assert header.split() == ["line", "claim", "your", "value", "exact", "value", "verdict", "explanation"]
    typo = next(line for line in rest if "0.751366507" in line)
    # the exact value is shown to 3 significant digits beyond the claim's 9
    assert _out_o1_by_hand(8) == "0.75136507"  # as the lecture prints it
    assert typo.split()[:5] == ["10", "out_o1", "0.751366507", _out_o1_by_hand(12), "wrong"]
    assert out.rstrip().splitlines()[-1].startswith("22 claims: 21 right, 0 right-given-rounding, "
                                                    "0 consistent-with-earlier, 1 wrong; first slip on line 10")


def test_cli_json_has_exactly_the_issue_shape(capsys):
    status, out, _ = _run(["check", "mazur", str(WORKED / "mazur_lecture.txt"), "--format", "json"], capsys)
    data = json.loads(out)
    assert status == 1 and set(data) == {"ok", "claims"} and data["ok"] is False
    for claim in data["claims"]:
        assert set(claim) == {"line", "claim", "claimed", "exact", "verdict", "explanation"}
        assert isinstance(claim["line"], int) and claim["verdict"] in symgrad.CLAIM_VERDICTS
    first = data["claims"][0]
    assert (first["line"], first["claim"], first["claimed"], first["verdict"]) == (3, "net_h1", "0.3775", "right")



def test_the_report_bytes_do_not_depend_on_the_process_or_its_hash_seed(capsys):
    argv = ["check", "mazur", str(DATA / "mazur_slips.txt"), "--format", "json"]
    out = _run(argv, capsys)[1]
    assert out and all(_symgrad_in_a_new_process(argv, seed) == out for seed in ("1", "4242"))


def test_the_diagnosis_walks_slips_in_order(monkeypatch):
    text = "out_o1 = 0.751366507\n"  # the slide typo: a duplicated 6
    (row,) = symgrad.check_claims(symgrad.load("mazur"), text).rows
    assert row.explanation.startswith("a duplicated digit")
    names = [slip.name for slip in slips.SLIPS]
    assert names.index("truncation instead of rounding") < names.index("a digit swapped, dropped, or written twice")
    monkeypatch.setattr(slips, "SLIPS", tuple(s for s in slips.SLIPS if "digit" not in s.name))
    (row,) = symgrad.check_claims(symgrad.load("mazur"), text).rows
    assert row.explanation.startswith("no common slip explains this value")


# -- rounding carried forward ----------------------------------------------------------------
def test_a_textbook_calculation_carrying_three_digit_values_is_right_throughout(capsys):
    path = WORKED / "mazur_textbook_3_digits.txt"
    report = symgrad.check_claims(symgrad.load("mazur"), path.read_text())
    assert report.ok
    verdicts = {row.claim: row.verdict for row in report.rows}
    assert set(verdicts.values()) <= {"right", "right-given-rounding"}
    # 0.299 is not 0.298371 rounded, but it is 0.275 + 0.0238 rounded: the person's own numbers.
    assert verdicts["E_total"] == "right-given-rounding"
    assert verdicts["net_h1"] == "right"  # 0.3775 rounds half up to 0.378
    assert _run(["check", "mazur", str(path)], capsys)[0] == 0


def test_rounding_one_intermediate_is_not_a_slip():
    text = "out_o1 = 0.75\ndE_total/dout_o1 = 0.740\n"  # 0.75 - 0.01, though the exact is 0.741365
    report = symgrad.check_claims(symgrad.load("mazur"), text)
    assert [row.verdict for row in report.rows] == ["right", "right-given-rounding"]


# -- seeded slips --------------------------------------------------------------------------------
def test_seeded_values_are_what_each_slip_gives_by_an_independent_computation():
    loss, w1, w2, g = _mazur()
    lines = {n: text for n, text, _, _ in _expectations(DATA / "mazur_slips.txt")}

    def claimed(line: int) -> float:
        return float(lines[line].split("=")[1])

    o1 = _sig(0.4 * _sig(0.3775) + 0.45 * _sig(0.3925) + 0.6)
    assert math.isclose(claimed(8), (0.01 - o1) ** 2, rel_tol=1e-8)  # the ½ dropped
    assert math.isclose(claimed(9), _mazur(sigma_prime=False)[3]["w2"][0, 0], rel_tol=1e-7)  # σ′ missing
    assert math.isclose(claimed(10), 0.5 * g["w2"][0, 1], rel_tol=1e-8)  # η inside the gradient
    assert math.isclose(claimed(11), 0.45 - g["w2"][0, 1], rel_tol=1e-8)  # η missing
    assert math.isclose(claimed(12), 0.5 + 0.5 * g["w2"][1, 0], rel_tol=1e-8)  # sign of the update
    assert math.isclose(claimed(13), 0.55 - 0.25 * g["w2"][1, 1], rel_tol=1e-8)  # η twice
    assert math.isclose(claimed(14), 0.15 * 0.05 + 0.25 * 0.1 + 0.35)  # w3 for w2
    assert math.isclose(claimed(15), _mazur(1, layerwise=True)[1][0, 0], rel_tol=1e-8)  # sequential
    assert math.isclose(claimed(16), _mazur(2)[0], rel_tol=1e-6)  # E_total@3 written as @2's value
    assert math.isclose(claimed(17), _mazur(3)[0], rel_tol=1e-6)  # E_total@2 written as @3's value
    # A widely copied tutorial's "0.291027924 after the first round": output layer first, biases never trained.
    assert math.isclose(claimed(19), _mazur(1, biases=False)[0], rel_tol=1e-8)
    assert math.isclose(claimed(20), _mazur(1, biases=False, layerwise=True)[0], rel_tol=1e-8)


@pytest.mark.parametrize("line, claim, kind, expected", _expectations(DATA / "mazur_slips.txt"),
                         ids=lambda v: str(v)[:30])
def test_each_seeded_slip_alone_is_diagnosed(line, claim, kind, expected):
    report = symgrad.check_claims(symgrad.load("mazur"), claim + "\n")
    (row,) = report.rows
    assert row.verdict == ("right-truncated" if kind == "right-truncated" else "wrong")
    assert row.explanation.startswith(expected), row.explanation


def test_the_seeded_file_as_one_calculation_reports_the_first_slip_and_carries_errors_forward():
    report = symgrad.check_claims(symgrad.load("mazur"), (DATA / "mazur_slips.txt").read_text())
    assert report.first_slip.line == 3 and report.first_slip.explanation.startswith("two digits swapped")
    by_line = {row.line: row for row in report.rows}
    # w7+ = 0.5 − 0.5 · 0.022602540 uses line 7's sign-flipped gradient: consistent with it.
    assert by_line[12].verdict == "consistent-with-earlier"
    assert "line 7 (dE_total/dw7)" in by_line[12].explanation
    assert by_line[18].explanation.startswith("no common slip explains this value")


def test_error_carried_forward_names_the_first_real_slip():
    path = DATA / "mazur_carried_forward.txt"
    report = symgrad.check_claims(symgrad.load("mazur"), path.read_text())
    by_line = {row.line: row for row in report.rows}
    for line, _, kind, expected in _expectations(path):
        row = by_line[line]
        if kind == "slip":
            assert row.verdict == "wrong" and row.explanation.startswith(expected)
        else:
            assert row.verdict == "consistent-with-earlier" and f"{expected} (" in row.explanation
    assert [row.line for row in report.rows if row.verdict == "wrong"] == [3]
    assert report.ok is False  # the slip itself is still wrong


def test_no_carried_forward_credit_for_a_step_an_earlier_mistake_made_trivial():
    text = "out_o1 = 0.01\nE_o1 = 0.000\ndE_total/dout_o1 = 0.0\nE_o2 = 0.023560026\n"  # out_o1 written as the target
    rows = symgrad.check_claims(symgrad.load("mazur"), text).rows
    assert [row.verdict for row in rows] == ["wrong", "wrong", "wrong", "right"]
    assert all("makes this step trivial" in row.explanation and "line 1 (out_o1)" in row.explanation
               for row in rows[1:3])


def test_degrees_instead_of_radians_on_the_chain_sin_example():
    path = DATA / "chain_sin_degrees.txt"
    report = symgrad.check_claims(symgrad.load("chain_sin"), path.read_text())
    by_line = {row.line: row for row in report.rows}
    assert math.isclose(float(by_line[3].claimed), math.sin(math.radians(0.5 * 1.5 ** 2)), rel_tol=1e-5)
    for line, _, kind, expected in _expectations(path):
        if kind == "slip":
            assert by_line[line].verdict == "wrong" and by_line[line].explanation.startswith(expected)
        else:
            assert by_line[line].verdict == "consistent-with-earlier"


# -- symbolic claims ---------------------------------------------------------------------------
@pytest.mark.parametrize("example, path", [("perceptron", "perceptron_symbolic.txt"),
                                           ("mazur", "mazur_symbolic.txt")])
def test_symbolic_claims(example, path):
    text = (DATA / path).read_text()
    report = symgrad.check_claims(symgrad.load(example), text)
    expected = {line: frag for line, _, kind, frag in _expectations(DATA / path)}
    for row in report.rows:
        if row.line in expected:
            assert row.verdict == "wrong" and row.explanation.startswith(expected[row.line]), row
        else:
            assert row.verdict == "right" and row.explanation.startswith("proved equal"), row


def test_the_slides_gradient_sign_is_caught_with_the_correct_expression():
    net = symgrad.load("perceptron")
    (row,) = symgrad.check_claims(net, "dL/dw = (y - yhat)*x\n").rows
    assert row.verdict == "wrong" and row.explanation.startswith("a sign error")
    # The expression shown is sympy.diff of the loss written out in the leaves, whatever its spelling.
    import sympy
    from symgrad.expr import parse_expression

    w, x, y = sympy.symbols("w x y", real=True)
    shown = parse_expression(row.exact).expr.xreplace({sympy.Symbol("yhat"): w * x})
    shown = shown.xreplace({sympy.Symbol(n): s for n, s in (("w", w), ("x", x), ("y", y))})
    assert sympy.expand(shown - sympy.diff((y - w * x) ** 2 / 2, w)) == 0


def test_a_large_symbolic_claim_falls_back_to_spot_checks_and_says_so():
    import sympy

    # sympy.diff of the loss written out by hand in the leaves, σ spelled with exp: too big to simplify.
    i1, i2, t1, t2, w1, w2, w3, w4, w5, w6, w7, w8, b1, b2 = sympy.symbols(
        "i1 i2 t1 t2 w1 w2 w3 w4 w5 w6 w7 w8 b1 b2", real=True)

    def s(x):
        return 1 / (1 + sympy.exp(-x))

    h1, h2 = s(w1 * i1 + w2 * i2 + b1), s(w3 * i1 + w4 * i2 + b1)
    loss = (t1 - s(w5 * h1 + w6 * h2 + b2)) ** 2 / 2 + (t2 - s(w7 * h1 + w8 * h2 + b2)) ** 2 / 2
    gradient = sympy.diff(loss, w1)
    text = f"dE_total/dw1 = {sympy.sstr(gradient)}\ndE_total/dw1 = {sympy.sstr(-gradient)}\n"
    right, flipped = symgrad.check_claims(symgrad.load("mazur"), text).rows
    assert right.verdict == "right" and "rational points inside the domain" in right.explanation
    assert flipped.verdict == "wrong" and flipped.explanation.startswith("a sign error")


# -- multi-step claims -------------------------------------------------------------------------
def test_a_thousand_step_claim_is_certified_and_agrees_with_float64_backprop():
    reference = _mazur(1000)[0]
    text = f"E_total@1000 = {reference:.8e}\nw1@1000 = {_mazur(1000)[1][0, 0]:.9f}\n"
    report = symgrad.check_claims(symgrad.load("mazur"), text)
    assert [row.verdict for row in report.rows] == ["right", "right"], report.to_text()


# -- bad claims files: each unreadable line is a row of its own; the other lines are judged -------
@pytest.mark.parametrize("text, fragment", [
    ("out_h1 0.59", "'out_h1 0.59' is not a claim"),
    ("\n# comment\nout_h9 = 0.5", "unknown name 'out_h9'"),
    ("dE_total/dw9 = 1", "unknown name 'w9'"),
    ("w5@1.5 = 0.3", "the step count '1.5' in 'w5@1.5' is not a whole number"),
    ("w5@x = 0.3", "the step count 'x'"),
    ("w5@-1 = 0.3", "the step count '-1'"),
    ("w5@99999999999 = 0.3", "more than the limit"),
    ("out_h1 = 0.5.9", "'0.5.9' is neither a number nor an expression"),
    ("out_h1 = __import__('os').system('true')", "is neither a number nor an expression"),
    ("out_h1 = w5.real", "attribute access"),
    ("out_h1 = w5 + zz", "unknown name 'zz'"),
    ("out_h1 = 1e99999", "beyond 1e±"),
    ("w5@2 = w5 - 1", "a claim after update steps needs a number"),
    ("i1@1 = 0.05", "'i1' is an input"),
    ("3x = 1", "is not a quantity"),
])
def test_an_unreadable_line_is_a_row_of_its_own_and_the_other_lines_are_judged(text, fragment):
    report = symgrad.check_claims(symgrad.load("mazur"), text + "\nout_h1 = 0.593269992\n", source="hw.txt")
    bad = [row for row in report.rows if row.verdict == "unreadable"]
    assert len(bad) == 1 and fragment in bad[0].explanation, report.to_text()
    assert bad[0].line == text.count("\n") + 1
    assert report.rows[-1].verdict == "right" and not report.ok


def test_steps_need_a_learning_rate():
    (row,) = symgrad.check_claims(symgrad.load("two_neurons"), "w1@1 = 3").rows
    assert row.verdict == "unreadable" and "needs a learning rate" in row.explanation


def test_cli_exit_status_is_1_for_an_unreadable_line_and_2_only_for_an_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("out_h1 = 0.593269992\nw5@two = 0.3\n")
    status, out, err = _run(["check", "mazur", str(bad)], capsys)
    assert status == 1 and err == ""
    row = next(line for line in out.splitlines() if line.startswith("2 "))
    assert "unreadable" in row and "the step count 'two'" in row
    status, _, err = _run(["check", "mazur", str(tmp_path / "missing.txt")], capsys)
    assert status == 2 and "cannot read the claims file" in err


def test_results_are_frozen_and_the_api_checks_its_argument():
    report = symgrad.check_claims(symgrad.load("two_neurons"), "h = -7\ndf/dw1 = -4\nf = -10\n")
    assert report.ok and [row.verdict for row in report.rows] == ["right"] * 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.rows[0].verdict = "wrong"  # type: ignore[misc]
    with pytest.raises(symgrad.InvalidArgument):
        symgrad.check_claims("mazur", "h = 1")  # type: ignore[arg-type]


def test_a_byte_order_mark_is_accepted(tmp_path, capsys):
    from symgrad.cli import main

    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffout_o1 = 0.75136507\n".encode("utf-8"))
    assert main(["check", "mazur", str(path)]) == 0
    assert "right" in capsys.readouterr().out
