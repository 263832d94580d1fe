"""The printed arithmetic reproduces the printed result: a test reads it back from the document and redoes it.

Every row "numbers substituted = result" in a LaTeX worked solution is parsed back (``\\cdot`` → ×,
``a \\times 10^{e}`` → a·10^e, fractions of integers) and recomputed exactly with ``fractions.Fraction``;
rounded to the significant digits the result is printed with, it must give that result.
"""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

import symgrad

# σ(20) = 0.999999998: the lecture's form out·(1 − out) cancels nine digits.
CANCELLING = """description = "a saturated sigmoid"
[symbols]
inputs = ["x"]
params = ["w"]
[values]
x = 20
w = 1
[nodes]
out = "sigmoid(w*x)"
f = "x*out"
"""
_NUMBER = r"-?\d+(?:\.\d+)?(?: \\times 10\^\{-?\d+\})?"


def _python(step: str) -> str | None:
    """A step of pure arithmetic as a Python expression over Fractions, or None (names, functions)."""
    text = step.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\cdot", "*").replace(r"\quad", "")
    text = re.sub(r"\\frac\{(\d+)\}\{(\d+)\}", r"(\1/\2)", text)
    text = re.sub(r"(\d+(?:\.\d+)?) \\times 10\^\{(-?\d+)\}", r"(\1*10**(\2))", text)
    if not re.fullmatch(r"[\d.\s()+\-*/]+", text):
        return None
    return re.sub(r"\d+(?:\.\d+)?", lambda m: f"Fraction('{m.group()}')", text)


def _value(number: str) -> tuple[Fraction, int]:
    """A printed result and its count of significant digits."""
    mantissa, _, exponent = number.partition(r" \times 10^{")
    digits = len(mantissa.lstrip("-").replace(".", "").lstrip("0")) or 1
    value = Fraction(mantissa) * (Fraction(10) ** int(exponent.rstrip("}") or 0))
    return value, digits


def _round(value: Fraction, digits: int) -> Fraction:
    if value == 0:
        return value
    exponent = len(str(abs(value.numerator) // abs(value.denominator))) if abs(value) >= 1 else 0
    scale = Fraction(10) ** (digits - exponent)
    while abs(value) * scale < 10 ** (digits - 1):
        scale *= 10
    while abs(value) * scale >= 10 ** digits:
        scale /= 10
    return Fraction(round(value * scale)) / scale


def _checked_rows(tex: str) -> int:
    checked = 0
    for block in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", tex, flags=re.S):
        steps: list[str] = []
        for row in block.split(" \\\\\n"):
            left, _, right = row.partition("&")
            pieces = [p.strip() for p in right.split("= ")]
            if right.lstrip().startswith(r"\quad") and steps:  # a continuation of the step above
                steps[-1] += " " + pieces[0].replace(r"\quad", "")
                pieces = pieces[1:]
            steps += [p for p in pieces if p]
        for before, after in zip(steps, steps[1:]):
            arithmetic = _python(before)
            if arithmetic is None or not re.fullmatch(_NUMBER, after) or re.fullmatch(_NUMBER, before):
                continue
            printed, digits = _value(after)
            exact = eval(arithmetic, {"Fraction": Fraction})  # our own digits and operators only
            assert _round(exact, digits) == printed, f"{before} = {after}: the numbers shown give {float(exact)!r}"
            checked += 1
    return checked


@pytest.mark.parametrize("name", ["mazur", "mlp_3_4_2", "chain_4layer", "perceptron_two"])
def test_every_printed_row_of_arithmetic_gives_its_printed_result(name):
    tex = symgrad.report(symgrad.load(name), format="latex", digits=6)
    assert _checked_rows(tex) > 5


def test_cancellation_prints_the_digits_it_needs():
    tex = symgrad.report(symgrad.loads(CANCELLING), format="latex", digits=9)
    assert _checked_rows(tex) >= 3
    # ∂out/∂w = out·x·(1 − out) = 20·σ'(20) = 4.12230723×10⁻⁸ (σ'(20) = 2.0611536×10⁻⁹ by hand): the
    # operands are shown with the digits that give it, not as 0.999999998 · 20 · (1 − 0.999999998) = 4.0×10⁻⁸.
    assert r"= 4.12230723 \times 10^{-8}" in tex
    # Written as the author's σ(w·x) derives it: σ'·x = out·(1 − out)·x.
    assert re.search(r"0\.99999999793884\d* \\cdot \\left\(1 - 0\.99999999793884\d*\\right\) \\cdot 20 ", tex)


def test_small_numbers_print_in_scientific_notation_and_others_plainly():
    tex = symgrad.report(symgrad.load("mazur"), format="latex", digits=6, params=["w1"])
    assert r"0.000438568" in tex  # 4.4×10⁻⁴ is above 10⁻⁴: plain
    small = symgrad.report(symgrad.loads(CANCELLING), format="latex", digits=9)
    assert r"8.24461446 \times 10^{-7}" in small and "0.000000824" not in small  # dE/dw = 400·σ'(20)
