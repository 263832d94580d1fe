"""Exercise variants: reproducible, distinct and nice by the documented rules, checked against a
hand-written backprop of the 2-2-2 network (Fraction for the first layer, mpmath beyond)."""

from __future__ import annotations

import decimal
import tomllib
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.cli import main
from symgrad.exercise import make_exercise
from symgrad.exercise_documents import write_exercise
from symgrad.exercise_documents import answer_key
from symgrad.exercise_values import NICE, draw_variants, nice_problems

mpmath.mp.dps = 40
VARIED = ("i1", "i2", "t1", "t2", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2")


def spec_values(text: str) -> dict[str, Fraction]:
    data = tomllib.loads(text, parse_float=decimal.Decimal)
    values = {k: Fraction(str(v)) for k, v in data["values"].items()}
    values["eta"] = Fraction(str(data["train"]["learning_rate"]))
    return values


def mp(f: Fraction):
    return mpmath.mpf(f.numerator) / f.denominator


def mazur_by_hand(v: dict[str, Fraction]) -> dict[str, object]:
    """The 2-2-2 network's forward pass and backprop, written out as the lecture does it."""
    net_h1 = v["w1"] * v["i1"] + v["w2"] * v["i2"] + v["b1"]  # exact (Fraction)
    net_h2 = v["w3"] * v["i1"] + v["w4"] * v["i2"] + v["b1"]
    s = lambda z: 1 / (1 + mpmath.exp(-z))  # noqa: E731
    out_h1, out_h2 = s(mp(net_h1)), s(mp(net_h2))
    net_o1 = mp(v["w5"]) * out_h1 + mp(v["w6"]) * out_h2 + mp(v["b2"])
    net_o2 = mp(v["w7"]) * out_h1 + mp(v["w8"]) * out_h2 + mp(v["b2"])
    out_o1, out_o2 = s(net_o1), s(net_o2)
    e1, e2 = out_o1 - mp(v["t1"]), out_o2 - mp(v["t2"])
    d_o1, d_o2 = e1 * out_o1 * (1 - out_o1), e2 * out_o2 * (1 - out_o2)
    d_h1 = (d_o1 * mp(v["w5"]) + d_o2 * mp(v["w7"])) * out_h1 * (1 - out_h1)
    d_h2 = (d_o1 * mp(v["w6"]) + d_o2 * mp(v["w8"])) * out_h2 * (1 - out_h2)
    grads = {"w5": d_o1 * out_h1, "w6": d_o1 * out_h2, "w7": d_o2 * out_h1, "w8": d_o2 * out_h2, "b2": d_o1 + d_o2,
             "w1": d_h1 * mp(v["i1"]), "w2": d_h1 * mp(v["i2"]), "w3": d_h2 * mp(v["i1"]), "w4": d_h2 * mp(v["i2"]),
             "b1": d_h1 + d_h2}
    return {"net_h1": net_h1, "net_h2": net_h2, "net_o1": net_o1, "net_o2": net_o2, "out_h1": out_h1,
            "out_o1": out_o1, "out_o2": out_o2, "e1": e1, "e2": e2, "E_total": (e1 ** 2 + e2 ** 2) / 2,
            "grads": grads, "w5+": mp(v["w5"]) - mp(v["eta"]) * grads["w5"],
            "sums": [(mp(net_h1), [mp(v["w1"] * v["i1"]), mp(v["w2"] * v["i2"]), mp(v["b1"])]),
                     (mp(net_h2), [mp(v["w3"] * v["i1"]), mp(v["w4"] * v["i2"]), mp(v["b1"])]),
                     (net_o1, [mp(v["w5"]) * out_h1, mp(v["w6"]) * out_h2, mp(v["b2"])]),
                     (net_o2, [mp(v["w7"]) * out_h1, mp(v["w8"]) * out_h2, mp(v["b2"])]),
                     (e1, [out_o1, mp(v["t1"])]), (e2, [out_o2, mp(v["t2"])])]}


def assert_nice(values: dict[str, Fraction]) -> None:
    """The documented rules, checked from the hand calculation (not from symgrad's evaluation)."""
    for name in VARIED:
        k = values[name] * 20  # few digits: a multiple of 0.05 from 0.05 to 1.00 (mazur's values are in (0, 1])
        assert k.denominator == 1 and 1 <= k <= 20, (name, values[name])
    hand = mazur_by_hand(values)
    for z in ("net_h1", "net_h2"):  # exact pre-activations of the first layer
        assert Fraction(1, 10) <= abs(hand[z]) <= 3, (z, hand[z])
    for z in ("net_o1", "net_o2"):
        assert mpmath.mpf("0.1") <= abs(hand[z]) <= 3, (z, hand[z])
    for param, g in hand["grads"].items():
        assert mpmath.mpf("1e-4") <= abs(g) <= 1000, (param, g)
    for total, terms in hand["sums"]:
        assert abs(total) >= max(abs(t) for t in terms) / 10, (total, terms)


@pytest.fixture(scope="module")
def thirty():
    return make_exercise("mazur", 30, seed=1)


def test_thirty_variants_are_distinct_and_nice(thirty):
    values = [spec_values(v.spec_text) for v in thirty.variants]
    assert len({tuple(v[n] for n in VARIED) for v in values}) == 30
    for v in values:
        assert v["eta"] == Fraction(1, 2)  # the learning rate is kept
        assert_nice(v)
    assert [v.id for v in thirty.variants] == [f"{k:02d}" for k in range(1, 31)]


def _halfway(x: Fraction, digits: int) -> bool:
    """x exactly halfway between two roundings to ``digits`` significant digits (exact arithmetic)."""
    x = abs(x)
    exponent = 0
    while x >= 10 ** (exponent + 1):
        exponent += 1
    while x < 10 ** exponent:
        exponent -= 1
    scaled = x * Fraction(10) ** (digits - 1 - exponent)
    return scaled - (scaled.numerator // scaled.denominator) == Fraction(1, 2)


def test_no_exact_answer_lies_halfway_between_two_roundings(thirty):
    """net_h1 is a finite decimal (1.4925 would round to 1.492 or 1.493): the draw avoids such ties."""
    assert _halfway(Fraction("1.4925"), 4) and not _halfway(Fraction("1.49251"), 4)
    for variant in thirty.variants:
        net_h1 = mazur_by_hand(spec_values(variant.spec_text))["net_h1"]
        assert not _halfway(net_h1, 4), (variant.id, net_h1)


def test_variants_are_reproducible_from_the_seed(thirty):
    again = make_exercise("mazur", 30, seed=1)
    assert [v.spec_text for v in again.variants] == [v.spec_text for v in thirty.variants]
    other = make_exercise("mazur", 30, seed=2)
    assert [v.spec_text for v in other.variants] != [v.spec_text for v in thirty.variants]


@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1))
def test_drawn_values_are_nice_for_any_seed(seed):
    derivation = symgrad.derive(symgrad.load("mazur"))
    drawn = draw_variants(derivation, 3, seed=seed)
    assert len({tuple(d.values()) for d in drawn}) == 3
    for d in drawn:
        assert_nice({**d, "eta": Fraction(1, 2)})


def test_the_rules_reject_the_degenerate():
    """The judge names a saturated pre-activation and a cancelling sum (values chosen by hand)."""
    derivation = symgrad.derive(symgrad.load("mazur"))
    # net_h1 = 1*1 + 1*1 + 1.05 = 3.05: saturated
    problems = nice_problems(derivation, {"i1": 1, "i2": 1, "w1": 1, "w2": 1, "b1": sympy.Rational(21, 20)})
    assert any(p.startswith("net_h1 = 3.05 is a saturated pre-activation") for p in problems)
    cancel = nice_problems(derivation, {"t1": sympy.Rational(3, 4)})  # out_o1 = 0.7514: t1 - out_o1 cancels
    assert any("a sum in E_o1 cancels" in p for p in cancel)
    assert NICE.min_gradient == Fraction(1, 10_000)


def test_fixed_values_are_kept(tmp_path):
    text = (Path(symgrad.__file__).parent / "examples" / "mazur.toml").read_text()
    spec = tmp_path / "fixed.toml"
    spec.write_text(text + '\n[exercise]\nfixed = ["t1", "t2", "w5"]\ndigits = 3\nask = ["out_o1", "dE_total/dw5", "w5+"]\n')
    ex = make_exercise(spec, 5, seed=4)
    for variant in ex.variants:
        v = spec_values(variant.spec_text)
        assert (v["t1"], v["t2"], v["w5"], v["eta"]) == (Fraction(1, 100), Fraction(99, 100), Fraction(2, 5), Fraction(1, 2))
        hand = mazur_by_hand(v)
        answers = {a.question.lhs: a.text for a in variant.answers}
        assert list(answers) == ["out_o1", "dE_total/dw5", "w5+"]
        assert answers["out_o1"] == mpmath.nstr(hand["out_o1"], 3, strip_zeros=False)


def test_questions_written_in_other_notation_are_asked_the_plain_way(tmp_path):
    text = (Path(symgrad.__file__).parent / "examples" / "mazur.toml").read_text()
    spec = tmp_path / "unicode.toml"
    spec.write_text(text + '\n[exercise]\nask = ["∂E_total/∂w5", "w5⁺"]\nmarks = {"w5⁺" = 2}\n', encoding="utf-8")
    ex = make_exercise(spec, 2, seed=0)
    assert [q.lhs for q in ex.questions] == ["dE_total/dw5", "w5+"]
    assert [ex.marks(q) for q in ex.questions] == [1, 2]
    for variant in ex.variants:
        hand = mazur_by_hand(spec_values(variant.spec_text))
        assert abs(mpmath.mpf(variant.answers[0].text) - hand["grads"]["w5"]) <= abs(hand["grads"]["w5"]) * 5e-4


def test_every_answer_key_is_graded_all_right_and_matches_the_hand_calculation(thirty, tmp_path):
    for variant in thirty.variants:
        v = spec_values(variant.spec_text)
        hand = mazur_by_hand(v)
        expected = {"net_h1": mp(hand["net_h1"]), "out_h1": hand["out_h1"], "E_total": hand["E_total"],
                    "dE_total/dw5": hand["grads"]["w5"], "dE_total/dw1": hand["grads"]["w1"], "w5+": hand["w5+"]}
        for answer in variant.answers:
            exact = expected[answer.question.lhs]
            written = decimal.Decimal(answer.text)
            assert len(written.as_tuple().digits) == 4 or written.adjusted() < -4  # four significant digits
            half_unit = mpmath.mpf(5) * mpmath.mpf(10) ** (written.as_tuple().exponent - 1)
            assert abs(mpmath.mpf(answer.text) - exact) <= half_unit * (1 + mpmath.mpf("1e-20")), answer
        report = symgrad.check_claims(symgrad.loads(variant.spec_text), answer_key(thirty, variant))
        assert [row.verdict for row in report.rows] == ["right"] * 6, report.to_text()


def test_the_cli_writes_every_file_and_each_key_checks(tmp_path, capsys):
    out = tmp_path / "class"
    assert main(["exercise", "mazur", "--variants", "3", "--seed", "5", "-o", str(out)]) == 0
    assert "wrote 3 variants" in capsys.readouterr().out
    names = {"spec.toml", "question.tex", "question.md", "solution.tex", "solution.md", "answer-key.txt"}
    for k in ("01", "02", "03"):
        assert {p.name for p in (out / f"variant-{k}").iterdir()} == names
        assert main(["check", str(out / f"variant-{k}" / "spec.toml"), str(out / f"variant-{k}" / "answer-key.txt")]) == 0
        assert f"variant {k}" in (out / f"variant-{k}" / "solution.tex").read_text()
    assert (out / "questions.tex").read_text().count("\\section*") == 3
    assert tomllib.loads((out / "marks.toml").read_text())["marks"]["dE_total/dw5"] == 1


@pytest.mark.parametrize("argv, message", [
    (["exercise", "nosuch", "--variants", "2", "-o", "{tmp}/x"], "no such spec file"),
    (["exercise", "{tmp}/data.toml", "--variants", "2", "-o", "{tmp}/x"], "not [data]"),
    (["exercise", "{tmp}/wide.toml", "--variants", "2", "-o", "{tmp}/x"], "built in matrix form only"),
    (["exercise", "{tmp}/bad.toml", "--variants", "2", "-o", "{tmp}/x"], "exercise.fixd"),
    (["exercise", "{tmp}/typo.toml", "--variants", "2", "-o", "{tmp}/x"], "'w55' is not an input"),
    (["exercise", "{tmp}/ask.toml", "--variants", "2", "-o", "{tmp}/x"], "is not a derivative of the output"),
    (["exercise", "mazur", "--variants", "2", "-o", "{tmp}/file.txt"], "cannot make the folder"),
    (["exercise", "mazur", "--variants", "2", "--seed", "-1", "-o", "{tmp}/x"], "the seed is -1"),
    (["check", "mazur"], "no claims file"),
    (["exercise", "{tmp}/eq.toml", "--variants", "2", "-o", "{tmp}/x"], "is not one left side"),
    (["exercise", "{tmp}/digits.toml", "--variants", "2", "-o", "{tmp}/x"], "exercise.digits"),
    (["exercise", "{tmp}/marks.toml", "--variants", "2", "-o", "{tmp}/x"], "marks for 'w6+', which is not asked"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    mazur = (Path(symgrad.__file__).parent / "examples" / "mazur.toml").read_text()
    (tmp_path / "bad.toml").write_text(mazur + "\n[exercise]\nfixd = [\"t1\"]\n")
    (tmp_path / "typo.toml").write_text(mazur + "\n[exercise]\nfixed = [\"w55\"]\n")
    (tmp_path / "ask.toml").write_text(mazur + "\n[exercise]\nask = [\"dout_o1/dw5\"]\n")
    (tmp_path / "file.txt").write_text("x")
    two = (Path(symgrad.__file__).parent / "examples" / "two_neurons.toml").read_text()
    (tmp_path / "data.toml").write_text(two + "\n[data]\nx = [-2, 1]\n")
    (tmp_path / "wide.toml").write_text("[mlp]\nwidths = [100, 100]\n")
    (tmp_path / "eq.toml").write_text(mazur + '\n[exercise]\nask = ["net_h1 = 1\\nE_total"]\n')
    (tmp_path / "digits.toml").write_text(mazur + "\n[exercise]\ndigits = 40\n")
    (tmp_path / "marks.toml").write_text(mazur + '\n[exercise]\nmarks = {"w6+" = 2}\n')
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
