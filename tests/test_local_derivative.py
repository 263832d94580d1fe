"""``functions._diff`` is ``sympy.diff`` without the ``Derivative`` machinery: the same expression.

The reference is ``sympy.diff`` itself, compared by ``srepr`` (the exact tree, not just
mathematical equality), on every edge of every built-in example and on drawn expressions.
The derivation's documents print these expressions, so "equal after simplification" would
not be enough.
"""

from __future__ import annotations

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.functions import _diff, logsumexp, relu, sigmoid

A, B, C = sympy.symbols("a b c", real=True)


def test_every_edge_of_every_built_in_example():
    edges = 0
    for example in symgrad.builtin_examples():
        network = symgrad.load(example.name)
        for node in network.nodes.values():
            for operand in node.operands:
                s = network.symbol(operand)
                assert sympy.srepr(_diff(node.expr, s)) == sympy.srepr(sympy.diff(node.expr, s)), (example.name,
                                                                                                  node.name, operand)
                edges += 1
    assert edges > 100


_LEAVES = st.sampled_from([A, B, C, sympy.Rational(1, 2), sympy.Integer(-3), sympy.Rational(7, 10)])


def _built(f, *args):
    """f(*args), or the first argument where SymPy refuses the combination (Max of a complex value, …)."""
    try:
        return f(*args)
    except (ValueError, TypeError, ZeroDivisionError):
        return args[0]


def _extend(children):
    unary = st.sampled_from([sigmoid, sympy.tanh, sympy.exp, sympy.log, sympy.sqrt, relu, sympy.Abs, sympy.sin,
                             lambda e: e ** 2, lambda e: e ** 3, lambda e: 1 / e, lambda e: -e])
    binary = st.sampled_from([sympy.Add, sympy.Mul, lambda x, y: x - y, lambda x, y: x / y, sympy.Max, sympy.Min,
                              logsumexp, lambda x, y: x ** y])
    return st.one_of(st.builds(_built, unary, children),
                     st.builds(_built, binary, children, children),
                     st.builds(_built, st.just(sympy.Max), children, children, children))


@settings(max_examples=300, deadline=None)
@given(st.recursive(_LEAVES, _extend, max_leaves=8), st.sampled_from([A, B, C]))
def test_drawn_expressions(expr, symbol):
    try:
        reference = sympy.diff(expr, symbol)
    except (ValueError, TypeError) as refused:
        with pytest.raises(type(refused)):
            _diff(expr, symbol)
        return
    assert sympy.srepr(_diff(expr, symbol)) == sympy.srepr(reference), expr


def test_the_rules_taken_without_sympy_diff_are_the_common_ones(monkeypatch):
    """The lecture's nodes (sums of products, σ, ½(t − o)²) never reach ``sympy.diff``."""
    calls = []
    real = sympy.diff
    monkeypatch.setattr(sympy, "diff", lambda *args: calls.append(args) or real(*args))
    network = symgrad.load("mazur")
    symgrad.derive(network)
    assert calls == []
