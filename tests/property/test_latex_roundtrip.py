"""The LaTeX symgrad prints for derived expressions parses back to an equal expression.

Printed exactly as the worked solution prints a local partial's formula
(``render.notation.symbolic_latex``, in lecture names), parsed back by SymPy's own LaTeX parser
(``sympy.parsing.latex.parse_latex``, ANTLR backend: ``antlr4-python3-runtime==4.11.*``, in the
test extra), and compared with the original expression: exact equality is not asked for
(``e^{x}`` comes back as ``exp(x)``, ``\\log`` as ``log(x, E)``), so both are evaluated with
mpmath at 40 digits at three seeded random rational points and must agree to 30 digits.

Checked: every local factor ``derivation.factors[...].expr`` of networks drawn by
``networks()`` and circuits drawn by ``expressions()`` (every spec function, kinked ones too),
and the gradient for one drawn parameter of a one-weight-layer network written out in its
leaves (``sympy.diff`` of the expanded loss, tests/helpers.py), printed by the same printer.
Examples: 20 networks, 20 circuits, 10 expanded gradients, plus every function head once.

SymPy's parser does not read every printed form, so the test maps these back before parsing
(the mapping is here, not in symgrad): lecture names (``\\mathrm{out}_{\\mathrm{o1}}``) become
placeholder symbols ``Z_{k}`` in parentheses (SymPy's parser reads ``x \\left(1 - x\\right)`` as
a call of a function x); ``\\operatorname{relu}``, ``\\operatorname{LSE}``,
``\\operatorname{sign}``, ``\\operatorname{share}_{\\max}``/``_{\\min}`` and the indicator
``\\mathbb{1}\\left[x \\le 0\\right]`` become placeholder functions ``F_{k}``; ``\\left|…\\right|``
becomes ``|…|``; the parsed symbol ``e`` is Euler's number; the parsed heads ``sigma``,
``theta`` (Heaviside), ``max``, ``min`` and ``F_{k}`` map to symgrad's and SymPy's functions.
Not checked: the number-substituted rows and the forward
pass's definitions (printed from expression text by a tokenizer, not from SymPy), and the
matrix form.
"""

from __future__ import annotations

import functools
import os
import random
import re
import sys

import mpmath
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.functions import logsumexp, max_share, min_share, relu, sigmoid, zero_one
from symgrad.render.notation import latex_name, symbolic_latex
from symgrad.strategies import EXPRESSION_FUNCTIONS, expressions, networks

from ..helpers import expanded

INSTALL = 'python -m pip install "antlr4-python3-runtime==4.11.*" (in the test extra)'


@functools.cache
def _parse(source: str) -> sympy.Expr:
    """SymPy's parse of ``source`` (the same text recurs across factors and examples)."""
    from sympy.parsing.latex import parse_latex

    return parse_latex(source)


def _parse_latex():
    """SymPy's LaTeX parser; skip without its ANTLR runtime, but fail when CI is set."""
    try:
        _parse("x")
    except ImportError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but SymPy's LaTeX parser cannot run ({missing}); {INSTALL}")
        pytest.skip(f"SymPy's LaTeX parser needs the ANTLR 4.11 runtime: {INSTALL}")
    return _parse


# Printed function heads SymPy's parser cannot read → a placeholder function it reads (F_{6}: the indicator).
_HEADS = {r"\operatorname{share}_{\max}": "F_{1}", r"\operatorname{share}_{\min}": "F_{2}",
          r"\operatorname{LSE}": "F_{3}", r"\operatorname{relu}": "F_{4}", r"\operatorname{sign}": "F_{5}",
          r"\operatorname{sgn}": "F_{5}"}
# Heads SymPy's parser reads as undefined functions, by name → the function they print.
_PARSED = {"sigma": sigmoid, "theta": sympy.Heaviside, "max": sympy.Max, "min": sympy.Min,
           "F_{1}": max_share, "F_{2}": min_share, "F_{3}": logsumexp, "F_{4}": relu, "F_{5}": sympy.sign,
           "F_{6}": zero_one}
_PRINT = symbolic_latex  # a local partial's formula, as the report prints it (no numbers substituted)


def _round_trip(expr: sympy.Expr) -> tuple[str, sympy.Expr]:
    """``expr`` printed by symgrad, then parsed back by SymPy with the graph's symbols restored."""
    text = _PRINT(expr)
    return text, _parse_back(text, expr.free_symbols)


def _parse_back(text: str, names) -> sympy.Expr:
    """LaTeX printed by symgrad, parsed by SymPy, each of ``names`` (graph symbols) restored."""
    parse_latex = _parse_latex()
    symbols = sorted(names, key=lambda s: -len(latex_name(s.name)))  # longest name first
    back = {sympy.Symbol("e"): sympy.E}  # the printer writes Euler's number as e (no graph name prints as e)
    source = text
    for printed, placeholder in _HEADS.items():
        source = source.replace(printed + "{", placeholder).replace(printed, placeholder)
    for k, symbol in enumerate(symbols):  # a whole name, never letters inside a command (x in \max)
        name = re.compile(r"(?<![\\A-Za-z])" + re.escape(latex_name(symbol.name)) + r"(?![A-Za-z0-9])")
        source = name.sub(lambda _: rf"\left(Z_{{{k}}}\right)", source)  # in parentheses: x (1 − x) is no call
        back[sympy.Symbol(f"Z_{{{k}}}")] = symbol
    source = re.sub(r"\\mathbb\{1\}\\left\[(.*?) \\le 0\\right\]", r"F_{6}\\left(\1\\right)", source)
    # An Iverson bracket of a piecewise partial, [a > b] or [a < b]: the step θ(a − b) or θ(b − a).
    source = re.sub(r"\\left\[(.*?) > (.*?)\\right\]", r"\\theta\\left(\1 - \\left(\2\\right)\\right)", source)
    source = re.sub(r"\\left\[(.*?) < (.*?)\\right\]", r"\\theta\\left(\2 - \\left(\1\\right)\\right)", source)
    source = source.replace(r"\left|{", "|").replace(r"}\right|", "|")
    parsed = parse_latex(source).xreplace(back)
    return parsed.replace(lambda e: isinstance(e, sympy.core.function.AppliedUndef) and e.func.__name__ in _PARSED,
                          lambda e: _PARSED[e.func.__name__](*e.args))


_MPMATH = [{"Heaviside": lambda x, at_zero=0: mpmath.mpf(x > 0) if x != 0 else at_zero, "Max": max, "Min": min,
            "sign": mpmath.sign}, "mpmath"]


def _function(expr: sympy.Expr, symbols: list) -> object:
    """``expr`` as an mpmath function of ``symbols``, symgrad's functions by their own evaluation."""
    rules = {rule.head.__name__: rule.mpmath for rule in symgrad.functions.FUNCTIONS}
    return sympy.lambdify(symbols, expr, modules=[rules] + _MPMATH)


def _assert_equal_at_random_points(expr: sympy.Expr, label: str) -> None:
    text, parsed = _round_trip(expr)
    assert parsed.free_symbols <= expr.free_symbols, (label, text, parsed)
    symbols = sorted(expr.free_symbols, key=str)
    if not symbols:  # a constant (1/K of mse): lambdify would print 1/3 as a float division; compare exactly
        assert sympy.simplify(parsed - expr) == 0, (label, text, parsed)
        return
    want, got = _function(expr, symbols), _function(parsed, symbols)
    rng = random.Random(20240611)
    with mpmath.workdps(40):
        for _ in range(3):
            point = [mpmath.mpf(rng.randint(-97, 97)) / 89 for _ in symbols]  # off every kink at 0
            exact = want(*point)
            assert abs(exact - got(*point)) <= mpmath.mpf(10) ** -30 * (1 + abs(exact)), (label, text, parsed, point)


def _assert_factors_round_trip(net: symgrad.Network) -> None:
    for (of, wrt), factor in symgrad.derive(net).factors.items():
        _assert_equal_at_random_points(factor.expr, f"∂{of}/∂{wrt}")


@settings(max_examples=20, deadline=None)
@given(networks())
def test_the_latex_of_every_local_factor_of_a_network_parses_back_equal(net):
    _assert_factors_round_trip(net)


@settings(max_examples=20, deadline=None)
@given(expressions(functions=tuple(EXPRESSION_FUNCTIONS)))
def test_the_latex_of_every_local_factor_of_a_circuit_parses_back_equal(net):
    _assert_factors_round_trip(net)


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_the_latex_of_an_expanded_gradient_parses_back_equal(data):
    net = data.draw(networks(max_depth=1, max_width=2), label="network")
    name = data.draw(st.sampled_from(net.params), label="parameter")
    _assert_equal_at_random_points(sympy.diff(expanded(net), net.symbol(name)), f"dE/d{name}")


def test_the_mapping_covers_every_printed_head():
    """Every head the printer gives symgrad's functions parses back to that function."""
    x, y = sympy.symbols("x y", real=True)
    for expr in (max_share(x, y, x + y), min_share(x, y), logsumexp(x, y), relu(x), sympy.sign(x), zero_one(x),
                 sigmoid(x), sympy.Heaviside(x, 0), sympy.Max(x, y), sympy.Min(x, y), sympy.Abs(x)):
        assert _round_trip(expr)[1] == expr, expr


def test_without_the_parser_the_tests_skip_locally_and_fail_under_ci(monkeypatch):
    def missing(source):
        raise ImportError("LaTeX parsing requires the antlr4 Python package")

    monkeypatch.setattr(sys.modules[__name__], "_parse", missing)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs the ANTLR 4.11 runtime: .*antlr4-python3-runtime"):
        _round_trip(sympy.Symbol("x"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set but SymPy's LaTeX parser cannot run"):
        _round_trip(sympy.Symbol("x"))


# -- the local factors a Derivation's own document prints ------------------------------------
def _printed_factors(tex: str, net: symgrad.Network) -> list[tuple[str, str, str]]:
    """(node, operand, printed formula) for every row ∂node/∂operand = … of a LaTeX article.

    Read from the text: rows split at ``\\\\``, a continuation row (``&\\quad …``) joined to the one
    above, the left side matched against the lecture names of the network's quantities.
    """
    names = {latex_name(n): n for n in net.quantities}
    rows: list[list[str]] = []
    for body in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", tex, re.S):
        for row in body.split(" \\\\\n"):
            left, _, right = row.partition(" &")
            if not left and right.startswith("\\quad ") and rows:
                rows[-1][1] += " " + right[len("\\quad "):]
            else:
                rows.append([left, right])
    found = []
    for left, right in rows:
        match = re.fullmatch(r"\\frac\{\\partial (.+?)\}\{\\partial (.+)\}", left)
        if match and match.group(1) in names and match.group(2) in names:
            assert right.startswith("= ") and " = " not in right, right  # the formula alone, no numbers
            found.append((names[match.group(1)], names[match.group(2)], right[2:]))
    return found


def _shown_edges(net: symgrad.Network) -> set[tuple[str, str]]:
    """Every edge (consumer, x) on a path from the output down to a parameter (a circuit without any: an input)."""
    relevant = set(net.ancestors(net.output))
    wanted = [p for p in net.params if p in relevant] or [x for x in net.inputs if x in relevant]
    consumers: dict[str, list[str]] = {}
    for name, node in net.nodes.items():
        if name in relevant:
            for operand in dict.fromkeys(node.operands):
                consumers.setdefault(operand, []).append(name)
    edges, seen, frontier = set(), set(wanted), list(wanted)
    while frontier:
        x = frontier.pop()
        for c in consumers.get(x, []):
            edges.add((c, x))
            if c not in seen:
                seen.add(c)
                frontier.append(c)
    return edges


def _assert_document_factors_are_the_derivatives(net: symgrad.Network) -> None:
    """Each printed ∂c/∂x, parsed back with c replaced by its expression, equals sympy.diff(c's expression, x)."""
    printed = _printed_factors(symgrad.derive(net).latex(), net)
    assert {(of, wrt) for of, wrt, _ in printed} == _shown_edges(net)
    rng = random.Random(20240611)
    for of, wrt, text in printed:
        node = net.nodes[of]
        parsed = _parse_back(text, node.expr.free_symbols | {node.symbol}).xreplace({node.symbol: node.expr})
        want = sympy.diff(node.expr, net.symbol(wrt))
        symbols = sorted(node.expr.free_symbols, key=str)
        assert parsed.free_symbols <= set(symbols), (of, wrt, text, parsed)
        expected, got = _function(want, symbols), _function(parsed, symbols)
        with mpmath.workdps(40):
            for _ in range(3):
                point = [mpmath.mpf(rng.randint(-97, 97)) / 89 for _ in symbols]  # off every kink at 0
                exact = expected(*point)
                assert abs(exact - got(*point)) <= mpmath.mpf(10) ** -30 * (1 + abs(exact)), (of, wrt, text, point)


@pytest.mark.parametrize("name", [e.name for e in symgrad.builtin_examples()])
def test_the_local_factors_a_derivation_prints_are_the_derivatives_of_its_nodes(name):
    _assert_document_factors_are_the_derivatives(symgrad.load(name))


@settings(max_examples=5, deadline=None)
@given(networks(max_width=2))
def test_the_local_factors_a_derivation_prints_for_a_drawn_network(net):
    _assert_document_factors_are_the_derivatives(net)


@settings(max_examples=10, deadline=None)
@given(expressions(functions=tuple(EXPRESSION_FUNCTIONS)))
def test_the_local_factors_a_derivation_prints_for_a_drawn_circuit(net):
    _assert_document_factors_are_the_derivatives(net)
