"""The allow-list parser: exact numbers, the allowed grammar, and clear refusals."""

from __future__ import annotations

import pytest
import sympy

from symgrad import ParseError, parse_expression, relu, sigmoid


@pytest.mark.parametrize("text, exact", [("0.05", sympy.Rational(1, 20)), ("1e-3", sympy.Rational(1, 1000)),
                                         ("2/3", sympy.Rational(2, 3)), ("0.1 + 0.2", sympy.Rational(3, 10)),
                                         ("-2.5e2", sympy.Integer(-250)), ("0.1*x", sympy.Symbol("x") / 10)])
def test_decimals_are_exact_rationals(text, exact):
    assert parse_expression(text).expr == exact


def test_allowed_grammar():
    x, y = sympy.symbols("x y")
    e = parse_expression("-x**2/3 + sigmoid(y) - relu(x) + max(x, y, 1) + abs(x)").expr
    assert e == -x**2 / 3 + sigmoid(y) - relu(x) + sympy.Max(x, y, 1) + sympy.Abs(x)
    assert parse_expression("sqrt(x)*exp(log(y))").expr == sympy.sqrt(x) * y


def test_names_in_order_of_first_use():
    assert parse_expression("w1*i1 + w2*i2 + b1").names == ("w1", "i1", "w2", "i2", "b1")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("x.real", "attribute access"),
        ("(lambda: 1)()", "plain function names"),
        ("lambda: 1", "lambdas"),
        ("[a for a in b]", "comprehensions"),
        ("'text'", "only numbers"),
        ("x[0]", "subscripts"),
        ("x**(10**10**10)", "exponents are limited"),
        ("2**999 ** 2", "exponents are limited"),
        ("99999**1000", "more than 2000 digits"),
        ("1/0", "division by zero"),
        ("0**-1", "division by zero"),
        ("x < y", "comparisons"),
        ("x and y", "boolean operators"),
        ("sigmoid(x, y)", "takes 1 argument"),
        ("max(x)", "at least 2"),
        ("exp(x=1)", "positional arguments only"),
        ("1j", "only numbers"),
        ("True", "only numbers"),
        ("x +", "not a valid expression"),
        ("1" * 100, "limited to 60 characters"),
        ("x" * 6000, "characters long"),
    ],
)
def test_refusals_quote_the_offending_text(text, fragment):
    with pytest.raises(ParseError) as exc:
        parse_expression(text)
    assert fragment in str(exc.value)


def test_deep_nesting_is_refused_not_crashing():
    with pytest.raises(ParseError):
        parse_expression("-" * 3000 + "x")
    with pytest.raises(ParseError):
        parse_expression("sin(" * 200 + "x" + ")" * 200)
