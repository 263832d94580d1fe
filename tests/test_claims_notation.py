"""Issue 18: hand calculations as people write them.

References are independent of symgrad: Decimal and Fraction arithmetic by hand, mpmath, and
a published worked example (Han, Kamber & Pei, Example 9.1) whose printed numbers are checked
here against a 50-digit Decimal forward and backward pass before the checker is asked.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal, getcontext
from fractions import Fraction
from pathlib import Path

import pytest

import symgrad
from symgrad.claim_notation import NOTATION, Notation
from symgrad.claim_parser import read_claims_file
from symgrad.cli import main

ROOT = Path(__file__).resolve().parent.parent
WORKED = ROOT / "worked_examples" / "claims"
DATA = ROOT / "tests" / "data" / "claims"
getcontext().prec = 50


def _sig(x: Decimal) -> Decimal:
    return 1 / (1 + (-x).exp())


def _mazur_by_hand() -> dict[str, Decimal]:
    """The 2-2-2 lecture network, forward and δ, in 50-digit Decimal."""
    i1, i2, t1, t2 = Decimal("0.05"), Decimal("0.1"), Decimal("0.01"), Decimal("0.99")
    w = {k: Decimal(v) for k, v in dict(w1="0.15", w2="0.2", w3="0.25", w4="0.3", w5="0.4", w6="0.45",
                                         w7="0.5", w8="0.55", b1="0.35", b2="0.6").items()}
    h1 = _sig(w["w1"] * i1 + w["w2"] * i2 + w["b1"])
    h2 = _sig(w["w3"] * i1 + w["w4"] * i2 + w["b1"])
    o1 = _sig(w["w5"] * h1 + w["w6"] * h2 + w["b2"])
    o2 = _sig(w["w7"] * h1 + w["w8"] * h2 + w["b2"])
    d_o1 = (o1 - t1) * o1 * (1 - o1)
    d_o2 = (o2 - t2) * o2 * (1 - o2)
    d_h1 = (d_o1 * w["w5"] + d_o2 * w["w7"]) * h1 * (1 - h1)
    return {"out_h1": h1, "out_h2": h2, "out_o1": o1, "delta_o1": d_o1, "dw5": d_o1 * h1,
            "w5+": w["w5"] - Decimal("0.5") * d_o1 * h1, "dw1": d_h1 * i1, "db1": d_h1 + (
                d_o1 * w["w6"] + d_o2 * w["w8"]) * h2 * (1 - h2),
            "E_total": (t1 - o1) ** 2 / 2 + (t2 - o2) ** 2 / 2}


H = _mazur_by_hand()


def _r(x: Decimal, places: int) -> str:
    return str(x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _check(text: str, spec="mazur", **options):
    net = symgrad.load(spec) if isinstance(spec, str) else spec
    return symgrad.check_claims(net, text, **options)


def _verdicts(text: str, spec="mazur", **options) -> list[str]:
    return [row.verdict for row in _check(text, spec, **options).rows]


# -- 1. every line judged on its own --------------------------------------------------------------
def test_a_sheet_with_an_unreadable_line_still_judges_the_others_and_says_how_to_write_it():
    text = f"out_h1 = {_r(H['out_h1'], 9)}\nw5 ?= 0.3\ndE_total/dw5 = {_r(H['dw5'], 9)}\n"
    rows = _check(text).rows
    assert [r.verdict for r in rows] == ["right", "unreadable", "right"]
    assert "write a name (out_h1), a derivative" in rows[1].explanation


def test_exit_status_0_1_2(tmp_path, capsys):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(f"out_h1 = {_r(H['out_h1'], 4)}\nE_total = {_r(H['E_total'], 5)}\n")
    bad.write_text("out_h1 = 0.5933\nnot a claim\n")
    assert main(["check", "mazur", str(good)]) == 0
    assert main(["check", "mazur", str(bad)]) == 1
    assert main(["check", "mazur", str(tmp_path / "nowhere.txt")]) == 2
    assert main(["check", "no_such_spec_xyz", str(good)]) == 2
    capsys.readouterr()


def test_dev_zero_and_huge_files_are_read_with_a_bound(tmp_path, capsys):
    if Path("/dev/zero").exists():
        with pytest.raises(symgrad.ParseError, match="bytes"):
            read_claims_file("/dev/zero")
        assert main(["check", "mazur", "/dev/zero"]) == 2
        assert "bytes" in capsys.readouterr().err
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (4_000_001))
    assert main(["check", "mazur", str(big)]) == 2


def test_zero_written_with_a_huge_exponent_is_not_right():
    (row,) = _check("out_h1 = 0e300\n").rows
    assert row.verdict == "wrong"  # 0.593 is not 0 to the nearest whole number


@pytest.mark.parametrize("spec, text", [
    ("log_spec", "y = 1"),  # log of a negative number
    ("div_spec", "y = 1"),  # division by zero
])
def test_values_that_do_not_exist_are_a_verdict_not_a_traceback(tmp_path, spec, text):
    body = {"log_spec": 'y = "log(x)"', "div_spec": 'y = "1/x"'}[spec]
    value = {"log_spec": "-2", "div_spec": "0"}[spec]
    path = tmp_path / f"{spec}.toml"
    path.write_text(f'output = "y"\n[symbols]\ninputs = ["x"]\n[values]\nx = {value}\n[nodes]\n{body}\n')
    (row,) = _check(text + "\n", symgrad.load(path)).rows
    assert row.verdict == "wrong" and "does not exist" in row.explanation


def test_divergent_training_is_undecided_or_wrong_with_one_line_never_a_traceback(tmp_path):
    path = tmp_path / "diverge.toml"
    path.write_text('output = "L"\n[symbols]\nparams = ["w"]\n[values]\nw = 3\n[nodes]\nL = "w**4"\n'
                    "[train]\nlearning_rate = 1\n")
    (row,) = _check("L@60 = 1.0\n", symgrad.load(path)).rows
    assert row.verdict in ("undecided", "wrong") and "\n" not in row.explanation


# -- 2. arithmetic is arithmetic ---------------------------------------------------------------------
def test_a_right_side_of_numbers_is_computed_exactly():
    assert Fraction("0.15") * Fraction("0.05") + Fraction("0.2") * Fraction("0.1") + Fraction("0.35") == \
        Fraction("0.3775")
    text = ("net_h1 = 0.15*0.05 + 0.2*0.1 + 0.35\n"
            "dE_total/dw5 = 0.74136507*0.186815602*0.593269992\n"
            "E_total = 0.274811083 + 0.023560026\n"
            "net_h1 = 0.15*0.05 + 0.25*0.1 + 0.35\n")
    rows = _check(text).rows
    assert [r.verdict for r in rows] == ["right", "right", "right", "wrong"]
    assert "w3 used where w2 belongs" in rows[3].explanation  # 0.3825, exactly, is w3's
    assert _verdicts("h = -14/2\n", "two_neurons") == ["right"]


def test_a_chain_is_judged_stage_by_stage():
    rows = _check(f"dE/dw5 = 0.74136507*0.186815602*0.593269992 = {_r(H['dw5'], 9)} = 0.0822\n"
                  "out_h1 = 0.5933 = 0.6933\n").rows
    assert [(r.line, r.verdict) for r in rows] == [(1, "right")] * 3 + [(2, "right"), (2, "wrong")]


# -- 3. notation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lhs, value", [
    ("∂E_total/∂w5", "dw5"), ("dE/dw5", "dw5"), (r"\frac{\partial E}{\partial w_5}", "dw5"),
    (r"\frac{\partial E_{total}}{\partial w_{5}}", "dw5"), ("δ_o1", "delta_o1"), ("δo1", "delta_o1"),
    ("delta_o1", "delta_o1"), (r"\delta_{o1}", "delta_o1"), ("w5+", "w5+"), ("w5⁺", "w5+"), ("w5'", "w5+"),
    ("w5(new)", "w5+"), ("w5@1", "w5+"), ("w_5^+", "w5+"), ("w_5^{+}", "w5+"),
])
def test_the_notation_people_write(lhs, value):
    assert _verdicts(f"{lhs} = {_r(H[value], 8)}\n") == ["right"]
    assert _verdicts(f"{lhs} ≈ {_r(H[value], 4)}\n") == ["right"]


@pytest.mark.parametrize("written", ["−{v}", "{m}×10⁻²", "{m}e-2", "{m} \\times 10^{{-2}}", "{m}·10^-2"])
def test_numbers_as_people_write_them(written):
    v = -H["dw5"]  # dE/dw7 in a sign-flipped spot: use a negative number for the minus forms
    if written.startswith("−"):
        text = "dE_total/dw5 = " + written.format(v=_r(v, 6)).replace("−-", "−")
        assert _verdicts(text) == ["wrong"]  # −0.082167 for a positive gradient: a sign slip
        return
    m = _r(H["dw5"] * 100, 4)
    assert _verdicts("dE_total/dw5 = " + written.format(m=m) + "\n") == ["right"]


def test_the_mapping_section_and_every_row_of_the_notation_table():
    text = "[names]\ntarget1 = t1\nmy_w = w5\n[claims]\ntarget1 = 0.01\nmy_w+ = 0.3589\ndE/dmy_w = 0.0822\n"
    assert _verdicts(text) == ["right"] * 3
    notation = Notation(symgrad.load("mazur"))
    assert notation.quantity("δ_o1").wrt == "net_o1" and notation.quantity("dE/dw5").name == "E_total"
    assert len(NOTATION) >= 9


# -- 4. no action at a distance -----------------------------------------------------------------------
def test_a_number_with_no_digits_carries_nothing_and_unrelated_lines_change_nothing():
    alone = _verdicts("dE_total/db1 = 0.018\n")
    after = _verdicts("dE_total/dw1 = 0.000\ndE_total/db1 = 0.018\n")
    assert after[1] == alone[0]
    unrelated = _verdicts("out_h2 = 0.7\nE_total = 0.29837\n")
    assert unrelated[1] == _verdicts("E_total = 0.29837\n")[0] == "right"
    # an unrelated wrong value (out_h1) does not change a claim about the other hidden unit
    assert _verdicts("out_h1 = 0.7\nout_h2 = 0.59688\n")[1] == "right"


# -- 5. likeliest explanation first ---------------------------------------------------------------------
def test_carried_forward_error_comes_before_any_digit_story():
    wrong_h1 = Decimal("0.61")
    o1 = _sig(Decimal("0.4") * wrong_h1 + Decimal("0.45") * H["out_h2"] + Decimal("0.6"))
    rows = _check(f"out_h1 = 0.61\nout_h2 = {_r(H['out_h2'], 6)}\nout_o1 = {_r(o1, 5)}\n").rows
    assert rows[2].verdict == "consistent-with-earlier" and "line 1" in rows[2].explanation


def test_positions_are_counted_as_people_count_them():
    dropped = _r(H["out_h2"], 9)  # 0.596884378
    text = dropped[:7] + dropped[8:]  # drop the 4, the 6th decimal
    (row,) = _check(f"out_h2 = {text}\n").rows
    assert "the 4 in the 6th decimal" in row.explanation, row.explanation


def test_the_updated_value_under_the_old_name_is_named():
    (row,) = _check(f"w5 = {_r(H['w5+'], 8)}\n").rows
    assert row.verdict == "wrong" and "old name w5" in row.explanation


def test_truncation_is_its_own_verdict_and_the_rounding_option():
    e = H["E_total"]
    cut = str(e)[:11]  # 0.298371108, truncated
    assert _r(e, 9) != cut
    assert _verdicts(f"E_total = {cut}\n") == ["right-truncated"]
    assert _verdicts(f"E_total = {cut}\n", rounding="truncate") == ["right"]
    assert _verdicts(f"E_total = {cut}\n", rounding="any") == ["right"]
    assert _verdicts(f"E_total = {_r(e, 9)}\n", rounding="truncate") == ["wrong"]
    assert symgrad.check_claims(symgrad.load("mazur"), f"E_total = {cut}\n").ok


# -- 6. symbolic claims ---------------------------------------------------------------------------------
def _spec(tmp_path, nodes: str, values: str = "x = 5") -> symgrad.Network:
    path = tmp_path / "s.toml"
    path.write_text(f'output = "y"\n[symbols]\nparams = ["x"]\n[values]\n{values}\n[nodes]\n{nodes}\n')
    return symgrad.load(path)


def test_identities_inside_a_restricted_domain_are_right(tmp_path):
    net = _spec(tmp_path, 'y = "log(2*x - 6) + sqrt(4*x - 12)"')
    assert _verdicts("dy/dx = 1/(x - 3) + 1/sqrt(x - 3)\n", net) == ["right"]


def test_no_spot_check_accepts_a_claim_that_differs(tmp_path):
    net = _spec(tmp_path, 'y = "sigmoid(x)"', "x = 1")
    (row,) = _check("y = sigmoid(x) + relu(x - 3)\n", net).rows
    assert row.verdict == "wrong" and "only at the spec's values" in row.explanation
    assert _verdicts("y = sigmoid(x) + 1e-31\n", net) == ["wrong"]


def test_a_claim_true_only_for_one_hot_targets_says_what_it_relies_on(tmp_path):
    path = tmp_path / "softmax.toml"
    path.write_text('output = "L"\n[symbols]\ninputs = ["a1"]\ntargets = ["y1", "y2"]\nparams = ["w7", "w8"]\n'
                    "[values]\na1 = 0.5\ny1 = 1\ny2 = 0\nw7 = 0.3\nw8 = -0.2\n[nodes]\nz1 = \"w7*a1\"\n"
                    "z2 = \"w8*a1\"\nyhat1 = \"exp(z1)/(exp(z1) + exp(z2))\"\nyhat2 = \"exp(z2)/(exp(z1) + exp(z2))\"\n"
                    "L = \"-(y1*log(yhat1) + y2*log(yhat2))\"\n")
    (row,) = _check("dL/dw7 = (yhat1 - y1)*a1\n", symgrad.load(path)).rows
    assert row.verdict == "right-at-these-values" and "y1 + y2 = 1" in row.explanation


def test_a_wrong_symbolic_claim_shows_a_short_difference():
    (row,) = _check("dE_total/dw5 = (out_o1 - t1)*out_h1\n").rows
    assert row.verdict == "wrong" and "claim − derived = " in row.explanation
    assert len(row.explanation.split("claim − derived = ")[1]) <= 90


def test_two_formulas_written_for_each_other_are_named_as_a_swap():
    # by hand: dE/dw5 = δ_o1·out_h1 and dE/dw6 = δ_o1·out_h2; the sheet writes each for the other
    rows = _check("dE_total/dw5 = (out_o1 - t1)*out_o1*(1 - out_o1)*out_h2\n"
                  "dE_total/dw6 = (out_o1 - t1)*out_o1*(1 - out_o1)*out_h1\n").rows
    assert [r.verdict for r in rows] == ["wrong", "wrong"]
    assert rows[0].explanation.startswith("swapped with line 2: the expression of dE_total/dw6")
    assert rows[1].explanation.startswith("swapped with line 1: the expression of dE_total/dw5")


# -- 7. a whole class -----------------------------------------------------------------------------------
def test_several_sheets_a_summary_and_annotated_copies(tmp_path, capsys):
    a, b = tmp_path / "ann.txt", tmp_path / "bob.txt"
    a.write_text(f"out_h1 = {_r(H['out_h1'], 5)}\n")
    b.write_text("out_h1 = 0.6933\nwhat?\n")
    summary, folder = tmp_path / "class.csv", tmp_path / "back"
    assert main(["check", "mazur", str(a), str(b), "--summary", str(summary), "--annotate", str(folder)]) == 1
    rows = list(csv.DictReader(io.StringIO(summary.read_text())))
    assert [(r["claims"], r["right"], r["wrong"], r["unreadable"], r["score"]) for r in rows] == \
        [("1", "1", "0", "0", "1.000"), ("2", "0", "1", "1", "0.000")]
    assert rows[1]["first_slip_line"] == "1"
    md = (folder / "bob.md").read_text()
    assert "| 1 | `out_h1 = 0.6933` | ✗ wrong |" in md and "| 2 | `what?` | ? unreadable |" in md
    assert (folder / "bob.tex").read_text().startswith("\\documentclass")
    out = capsys.readouterr().out
    assert f"== {a} ==" in out and f"== {b} ==" in out
    assert main(["check", "mazur", str(a), "--summary", str(a)]) == 2  # never over an input
    assert a.read_text().startswith("out_h1")


# -- the published example: Han, Kamber & Pei, Example 9.1 (a 3-2-1 network and one update) -----------
def test_the_published_3_2_1_example_as_printed():
    x, t, lr = (1, 0, 1), 1, Decimal("0.9")
    w14, w15, w24, w25, w34, w35 = (Decimal(v) for v in ("0.2", "-0.3", "0.4", "0.1", "-0.5", "0.2"))
    w46, w56, th4, th5, th6 = (Decimal(v) for v in ("-0.3", "-0.2", "-0.4", "0.2", "0.1"))
    o4 = _sig(w14 * x[0] + w24 * x[1] + w34 * x[2] + th4)
    o5 = _sig(w15 * x[0] + w25 * x[1] + w35 * x[2] + th5)
    o6 = _sig(w46 * o4 + w56 * o5 + th6)
    err6 = o6 * (1 - o6) * (t - o6)
    # the book's printed numbers, to its three digits, against the 50-digit reference
    assert (_r(o4, 3), _r(o5, 3), _r(o6, 3), _r(err6, 4)) == ("0.332", "0.525", "0.474", "0.1312")
    assert _r(w46 + lr * err6 * o4, 3) == "-0.261"
    report = symgrad.check_claims(symgrad.load(WORKED / "han_3_2_1.toml"), (WORKED / "han_3_2_1.txt").read_text())
    assert report.ok, report.to_text()
    by = {(r.claim, r.claimed): r.verdict for r in report.rows}
    assert by[("δ6", "-0.1311")] == "right-given-rounding"  # 0.1312 exactly; the book's rounded O6 gives 0.1311
    assert by[("O4", "0.332")] == "right" and by[("θ4'", "-0.408")] == "right"


def test_a_student_sheet_with_many_kinds_of_slips_and_notation():
    report = symgrad.check_claims(symgrad.load("mazur"), (DATA / "student_sheet.txt").read_text())
    for row in report.rows:
        expected = _expected(DATA / "student_sheet.txt", row.line)
        assert row.verdict == expected[0], row
        assert expected[1] in row.explanation, row


def _expected(path: Path, line: int) -> tuple[str, str]:
    raw = path.read_text().splitlines()[line - 1]
    verdict, _, fragment = raw.split("# expect:", 1)[1].strip().partition(":")
    return verdict.strip(), fragment.strip()


def test_juxtaposition_ln_and_mapped_names_in_a_right_side():
    from fractions import Fraction
    net = symgrad.loads('output = "f"\n[symbols]\ninputs = ["x"]\nparams = ["w"]\n[values]\nx = 2\nw = 0.5\n'
                        '[nodes]\nh = "w*x"\nf = "log(h + 1)"\n')
    text = "[names]\nĥ = h\n[claims]\nh = 0.5(2) = 1\nf = ln(2) ≈ 0.693\ndf/dw = (1/(ĥ + 1))x\n"
    rows = symgrad.check_claims(net, text).rows
    assert Fraction(1, 2) * 2 == 1  # 0.5(2) is 0.5 × 2
    assert [r.verdict for r in rows] == ["right"] * 5, rows
