"""Fuzz the allow-list parser: random text and random syntax trees never crash it with an
uncaught exception and never run anything."""

from __future__ import annotations

import ast
import builtins
import contextlib
import operator
from fractions import Fraction

import pytest
import sympy

from hypothesis import assume, example, given
from hypothesis import strategies as st

from sympy.parsing import sympy_parser

from symgrad import ParseError, SpecError, loads, parse_expression


@contextlib.contextmanager
def no_execution():
    """While parsing, any call to eval or SymPy's string parser fails the test.

    (exec is left alone: the import system uses it for SymPy's lazy imports.)
    """

    def forbidden(*args, **kwargs):
        raise AssertionError("the parser tried to execute or interpret code")

    saved = builtins.eval, sympy_parser.parse_expr
    builtins.eval = sympy_parser.parse_expr = forbidden
    try:
        yield
    finally:
        builtins.eval, sympy_parser.parse_expr = saved


def _parse_or_refuse(text: str) -> None:
    with no_execution():
        try:
            parse_expression(text)
        except ParseError:
            pass


@given(st.text(max_size=200))
@example("__import__('os').system('true')")
@example("().__class__.__bases__[0].__subclasses__()")
@example("x**(10**10**10)")
@example("(" * 500)
def test_random_text_never_crashes(text):
    _parse_or_refuse(text)


ALPHABET = "xyw01.+-*/()e, " + "sigmoidrelutanhexplogsqrtabsmaxmin"


@given(st.text(alphabet=ALPHABET, max_size=80))
def test_near_miss_text_never_crashes(text):
    _parse_or_refuse(text)


_leaves = st.one_of(
    st.builds(ast.Name, id=st.sampled_from(["x", "y", "w1", "__import__", "os", "eval"]), ctx=st.just(ast.Load())),
    st.builds(ast.Constant, value=st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                                            st.text(max_size=3), st.booleans(), st.none(), st.complex_numbers())),
)


def _extend(children):
    ops = st.sampled_from([ast.Add(), ast.Sub(), ast.Mult(), ast.Div(), ast.Pow(), ast.Mod(), ast.BitXor(), ast.MatMult()])
    return st.one_of(
        st.builds(ast.BinOp, left=children, op=ops, right=children),
        st.builds(ast.UnaryOp, op=st.sampled_from([ast.USub(), ast.UAdd(), ast.Not(), ast.Invert()]), operand=children),
        st.builds(ast.Call, func=st.builds(ast.Name, id=st.sampled_from(["sigmoid", "max", "exp", "open", "getattr"]),
                                           ctx=st.just(ast.Load())),
                  args=st.lists(children, max_size=3), keywords=st.just([])),
        st.builds(ast.Attribute, value=children, attr=st.sampled_from(["real", "__class__"]), ctx=st.just(ast.Load())),
        st.builds(ast.Subscript, value=children, slice=children, ctx=st.just(ast.Load())),
        st.builds(ast.Lambda, args=st.just(ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[],
                                                          defaults=[])), body=children),
    )


@given(st.recursive(_leaves, _extend, max_leaves=25))
def test_random_syntax_trees_never_crash(tree):
    try:
        text = ast.unparse(ast.fix_missing_locations(ast.Expression(body=tree)))
    except Exception:  # not every random tree can be printed; those are not inputs
        return
    _parse_or_refuse(text)


@given(st.text(max_size=300))
@example('[nodes]\nf = "x"\n')
@example('[mlp]\nwidths = [100000000, 1]\n')
def test_random_spec_text_never_crashes(text):
    with no_execution():
        try:
            loads(text)
        except SpecError:
            pass


# -- valid arithmetic parses to the exact number: an independent Fraction interpreter ----------
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _by_hand(node: ast.AST) -> Fraction:
    """Exact value of a tree of decimal literals, + - * / and unary minus (the reference)."""
    if isinstance(node, ast.Constant):
        return Fraction(repr(node.value))  # the literal exactly as written in the text
    if isinstance(node, ast.UnaryOp):
        return -_by_hand(node.operand)
    return _OPS[type(node.op)](_by_hand(node.left), _by_hand(node.right))


_decimals = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
_numbers = st.one_of(_decimals.map(lambda d: ast.Constant(value=float(abs(d)))), st.integers(0, 10**6).map(
    lambda n: ast.Constant(value=n)))
_arithmetic = st.recursive(
    _numbers,
    lambda children: st.one_of(
        st.builds(ast.BinOp, left=children, op=st.sampled_from([ast.Add(), ast.Sub(), ast.Mult(), ast.Div()]),
                  right=children),
        st.builds(ast.UnaryOp, op=st.just(ast.USub()), operand=children),
    ),
    max_leaves=12,
)


@given(_arithmetic)
@example(ast.BinOp(left=ast.Constant(value=0.1), op=ast.Add(), right=ast.Constant(value=0.2)))
@example(ast.BinOp(left=ast.Constant(value=1), op=ast.Div(), right=ast.Constant(value=3)))
@example(ast.BinOp(left=ast.Constant(value=1), op=ast.Div(),
                   right=ast.BinOp(left=ast.Constant(value=2.5), op=ast.Sub(), right=ast.Constant(value=2.5))))
def test_arithmetic_parses_to_the_exact_fraction(tree):
    text = ast.unparse(ast.fix_missing_locations(ast.Expression(body=tree)))
    assume(len(text) <= 200)
    try:
        expected = _by_hand(tree)
    except ZeroDivisionError:
        with no_execution(), pytest.raises(ParseError, match="division by zero"):
            parse_expression(text)
        return
    with no_execution():
        value = parse_expression(text).expr
    assert value == sympy.Rational(expected.numerator, expected.denominator), text
