"""A class's sheets graded against each student's own variant; documents compile; Moodle XML round-trips."""

from __future__ import annotations

import csv
import decimal
import json
import random
import shutil
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

from symgrad.cli import main
from symgrad.exercise import make_exercise
from symgrad.exercise_documents import write_exercise
from symgrad.exercise_grading import sheet_variant
from tests.latex_tools import compile_latex
from tests.test_exercise import mazur_by_hand, mp, spec_values


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("class")
    exercise = make_exercise("mazur", 4, seed=11)
    write_exercise(exercise, out, moodle=out / "quiz.xml")
    return out


def _slipped_sheet(key: str, rng: random.Random) -> tuple[str, dict[str, str]]:
    """The answer key with two seeded slips: one answer's sign flipped, another's decimal point moved."""
    lines = key.splitlines()
    answers = [k for k, line in enumerate(lines) if "=" in line and not line.startswith("#")]
    sign, point = rng.sample(answers, 2)
    slips = {}
    lhs, value = lines[sign].split(" = ")
    lines[sign] = f"{lhs} = {value[1:] if value.startswith('-') else '-' + value}"
    slips[lhs] = "sign"
    lhs, value = lines[point].split(" = ")
    lines[point] = f"{lhs} = {decimal.Decimal(value).scaleb(1):f}"
    slips[lhs] = "decimal point"
    lines = [line for line in lines if not line.startswith("# answer key")]
    lines[0] = lines[0].removeprefix("# ")  # "variant: 02", as a student writes it
    return "\n".join(lines) + "\n", slips


def test_a_seeded_sheet_with_slips_is_graded_against_its_variant(folder, tmp_path, capsys):
    key = (folder / "variant-02" / "answer-key.txt").read_text()
    text, slips = _slipped_sheet(key, random.Random(3))
    sheet = tmp_path / "anna.txt"
    sheet.write_text(text)
    right = tmp_path / "bob-v03.txt"  # variant named only in the file name
    right.write_text("\n".join(line for line in (folder / "variant-03" / "answer-key.txt").read_text().splitlines()
                               if "variant" not in line) + "\n")
    marks = folder / "marks.toml"
    marks.write_text(marks.read_text().replace('"dE_total/dw5" = 1', '"dE_total/dw5" = 3'))  # the teacher weights
    summary, annotated = tmp_path / "grades.csv", tmp_path / "annotated"
    status = main(["check", "--variants", str(folder), str(sheet), str(right), "--summary", str(summary),
                   "--annotate", str(annotated)])
    out = capsys.readouterr().out
    assert status == 1
    rows = {r["sheet"]: r for r in csv.DictReader(summary.open())}
    anna, bob = rows[str(sheet)], rows[str(right)]
    assert (anna["variant"], bob["variant"]) == ("02", "03")
    lost = sum(3 if lhs == "dE_total/dw5" else 1 for lhs in slips)
    assert (anna["marks"], anna["out_of"]) == (str(8 - lost), "8")
    assert (bob["marks"], bob["wrong"], bob["right"]) == ("8", "0", "6")
    assert anna["wrong"] == "2"
    for lhs, worth in (("net_h1", 1), ("out_h1", 1), ("E_total", 1), ("dE_total/dw5", 3), ("dE_total/dw1", 1), ("w5+", 1)):
        assert anna[f"marks: {lhs}"] == str(0 if lhs in slips else worth) and bob[f"marks: {lhs}"] == str(worth)
    report = (annotated / "anna.md").read_text()
    for lhs, kind in slips.items():
        line = next(row for row in report.splitlines() if f"`{lhs} = " in row)
        assert "✗ wrong" in line and kind in line, line
    assert "(variant 02)" in out


@pytest.mark.parametrize("source, text, expected", [
    ("a.txt", "variant: 3\nnet_h1 = 1", 3), ("a.txt", "  # Variant = 07\n", 7), ("class/variant-12.txt", "", 12),
    ("sheets/anna_v04.txt", "x = 1", 4), ("v05.txt", "# variant: 05", 5)])
def test_the_variant_is_read_from_the_sheet_or_its_name(source, text, expected):
    assert sheet_variant(source, text) == expected


def test_a_v_inside_a_word_is_not_a_variant():
    with pytest.raises(Exception, match="no variant named"):
        sheet_variant("dev3.txt", "net_h1 = 1")


@pytest.mark.parametrize("name, text, message", [
    ("anna.txt", "net_h1 = 1\n", "no variant named"),
    ("variant-01.txt", "variant: 02\n", "the sheet says variant 2 but its file name says 01"),
    ("anna.txt", "variant: 1\nvariant: 2\n", "names variants 1, 2"),
    ("anna.txt", "variant: 9\n", "there is no variant 9"),
])
def test_a_sheet_without_a_known_variant_is_refused(folder, tmp_path, capsys, name, text, message):
    sheet = tmp_path / name
    sheet.write_text(text)
    assert main(["check", "--variants", str(folder), str(sheet)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("marks, message", [("marks = 3\n", "expected a table [marks]"),
                                            ("[marks]\nnet_h1 = -1\n", "give a number 0 or more"),
                                            ("[marks\n", "cannot read the marks")])
def test_a_bad_marks_file_is_refused(folder, tmp_path, capsys, marks, message):
    copy = tmp_path / "class"
    shutil.copytree(folder, copy)
    (copy / "marks.toml").write_text(marks)
    assert main(["check", "--variants", str(copy), str(copy / "variant-01" / "answer-key.txt")]) == 2
    assert message in capsys.readouterr().err


def test_an_unreadable_sheet_is_exit_2(folder, capsys):
    assert main(["check", "--variants", str(folder), "/dev/zero"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_thirty_question_sheets_print_as_one_document(tmp_path):
    exercise = make_exercise("mazur", 30, seed=1)
    write_exercise(exercise, tmp_path / "class")
    _, log, _ = compile_latex((tmp_path / "class" / "questions.tex").read_text(), tmp_path, name="questions")
    assert "[30]" in log and "[31]" not in log


def test_a_folder_without_variants_is_refused(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("variant: 1\n")
    assert main(["check", "--variants", str(tmp_path), str(tmp_path / "a.txt")]) == 2
    assert "holds no variant-NN/spec.toml" in capsys.readouterr().err


def test_every_question_sheet_and_solution_compiles(folder, tmp_path):
    documents = [folder / "questions.tex"]
    for variant in sorted(folder.glob("variant-*")):
        documents += [variant / "question.tex", variant / "solution.tex"]
    for k, path in enumerate(documents):
        where = tmp_path / f"d{k}"
        where.mkdir()
        pdf, log, _ = compile_latex(path.read_text(), where, name=path.stem)
        assert pdf.stat().st_size > 1000 and "Undefined control sequence" not in log, path
    _, log, _ = compile_latex((folder / "questions.tex").read_text(), tmp_path / "d0", name="again")
    assert "[4]" in log  # four variants, four pages


def test_moodle_xml_round_trips_against_the_exact_values(folder):
    root = ET.parse(folder / "quiz.xml").getroot()
    questions = root.findall("question[@type='numerical']")
    assert len(questions) == 4 * 6 and len(root.findall("question[@type='category']")) == 4
    hands = {}
    for q in questions:
        ident, lhs = q.find("name/text").text.removeprefix("variant ").split(": ")
        if ident not in hands:
            hands[ident] = mazur_by_hand(spec_values((folder / f"variant-{ident}" / "spec.toml").read_text()))
        hand = hands[ident]
        exact = {"net_h1": mp(hand["net_h1"]), "out_h1": hand["out_h1"], "E_total": hand["E_total"],
                 "dE_total/dw5": hand["grads"]["w5"], "dE_total/dw1": hand["grads"]["w1"], "w5+": hand["w5+"]}[lhs]
        answer = q.find("answer")
        assert answer.get("fraction") == "100"
        value, tol = mpmath.mpf(answer.find("text").text), decimal.Decimal(answer.find("tolerance").text)
        # four significant digits asked: the tolerance is half a unit in the fourth
        assert tol == decimal.Decimal(5).scaleb(int(mpmath.floor(mpmath.log10(abs(exact)))) - 4)
        assert abs(value - exact) <= mpmath.mpf(str(tol)) * (1 + mpmath.mpf("1e-20")), (ident, lhs)
        assert f"Variant {ident}." in q.find("questiontext/text").text


def test_json_output_names_the_variant_and_the_marks(folder, tmp_path, capsys):
    sheet = tmp_path / "carl.txt"
    key = (folder / "variant-01" / "answer-key.txt").read_text()
    sheet.write_text(key.replace("out_h1 = ", "out_h1 = 9"))  # a wrong digit in front: out_h1 is wrong
    assert main(["check", "--variants", str(folder), str(sheet), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    (only,) = data["sheets"]
    assert (data["ok"], only["variant"], only["sheet"]) == (False, "01", str(sheet))
    assert int(only["marks"]) == int(only["out_of"]) - 1
    assert [c["verdict"] for c in only["claims"] if c["claim"] == "out_h1"] == ["wrong"]


def _follow_through_sheet(folder: Path, tmp_path: Path) -> Path:
    """Variant 01's key with net_h1 off by 0.1 and out_h1 = σ(that wrong net_h1), computed by hand."""
    values = spec_values((folder / "variant-01" / "spec.toml").read_text())
    wrong_net = mp(mazur_by_hand(values)["net_h1"] + Fraction(1, 10))
    wrong_out = 1 / (1 + mpmath.exp(-wrong_net))
    lines = []
    for line in (folder / "variant-01" / "answer-key.txt").read_text().splitlines():
        if line.startswith("net_h1 = "):
            line = f"net_h1 = {mpmath.nstr(wrong_net, 4, strip_zeros=False)}"
        elif line.startswith("out_h1 = "):
            line = f"out_h1 = {mpmath.nstr(wrong_out, 4, strip_zeros=False)}"
        lines.append(line)
    sheet = tmp_path / "dora.txt"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


@pytest.mark.parametrize("how, out_h1_marks", [
    ([], "1"),  # follow-through by default: out_h1 is right from net_h1's slip on
    (["--no-follow-through"], "0"),
    ("follow_through = false", "0"),  # the teacher's marks file says so
])
def test_follow_through_is_the_teachers_choice(folder, tmp_path, capsys, how, out_h1_marks):
    mine = tmp_path / "class"
    shutil.copytree(folder, mine)
    marks = mine / "marks.toml"
    assert "follow_through = true" in marks.read_text()
    if isinstance(how, str):
        marks.write_text(marks.read_text().replace("follow_through = true", how))
        how = []
    sheet = _follow_through_sheet(mine, tmp_path)
    summary = tmp_path / "grades.csv"
    assert main(["check", "--variants", str(mine), str(sheet), "--summary", str(summary), "--format", "json", *how]) == 1
    claims = {c["claim"]: c["verdict"] for c in json.loads(capsys.readouterr().out)["sheets"][0]["claims"]}
    assert (claims["net_h1"], claims["out_h1"]) == ("wrong", "consistent-with-earlier")
    (row,) = csv.DictReader(summary.open())
    assert (row["marks: net_h1"], row["marks: out_h1"], row["marks: E_total"]) == ("0", out_h1_marks, "1")
    assert row["marks"] == str(int(row["out_of"]) - 2 + int(out_h1_marks))


def test_follow_through_must_be_true_or_false(folder, tmp_path, capsys):
    mine = tmp_path / "class"
    shutil.copytree(folder, mine)
    (mine / "marks.toml").write_text((mine / "marks.toml").read_text().replace("follow_through = true",
                                                                               'follow_through = "no"'))
    sheet = tmp_path / "v01.txt"
    sheet.write_text((mine / "variant-01" / "answer-key.txt").read_text())
    assert main(["check", "--variants", str(mine), str(sheet)]) == 2
    err = capsys.readouterr().err
    assert "follow_through" in err and "'no'" in err and err.count("\n") == 1
    (mine / "marks.toml").write_text((mine / "marks.toml").read_text().replace('follow_through = "no"',
                                                                               "folow_through = false"))
    assert main(["check", "--variants", str(mine), str(sheet)]) == 2
    err = capsys.readouterr().err
    assert "folow_through: unknown key" in err and err.count("\n") == 1, err
    assert main(["check", "mazur", str(sheet), "--no-follow-through"]) == 2
    assert "use it with --variants" in capsys.readouterr().err
