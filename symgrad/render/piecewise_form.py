"""Piecewise local partials as a lecturer writes them: an Iverson bracket, not SymPy's θ.

SymPy differentiates relu, max, min and abs into Heaviside steps in its own order of terms
(``-t1*Heaviside(-out_o1*t1 + 1)``). For a node that is one such call of the author's operands
(relu(net), the hinge loss max(0, 1 − t·o), leaky ReLU max(0.01·net, net), the L1 loss |o − t|),
``piecewise_form`` writes the partial as the slide does: ∂relu(z)/∂z = [z > 0], the hinge loss
−t1·[t1·out_o1 < 1], leaky ReLU 0.01·[net < 0] + [net > 0], |u| as sgn(u), each operand in the
author's order and its inner derivative in the author's form (``author_form``). Every form is
checked against the derivation's partial at sample points (and at the document's own point, where
one is given: a tie there, where SymPy's step gives ½, keeps SymPy's form); ``None`` means SymPy's.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import sympy

from ..errors import ParseError
from ..expr import parse_expression
from .author_form import author_partial
from .blocks import join_terms
from .node_text import expression_pieces

__all__ = ["PiecewiseForm", "piecewise_form"]

_MAX_TEXT = 400  # characters of a definition read for a piecewise form; a longer one keeps SymPy's
_SAMPLES = 24  # sample points each form is checked at
_RELATIONS = {">": lambda a, b: a - b, "<": lambda a, b: b - a}  # [a > b] = H(a − b) (H(0) = 0)


@dataclass(frozen=True)
class _Term:
    sign: str  # "+" or "-"
    coefficient: str  # expression text, "" for 1
    left: str  # [left relation right], or the argument of sgn when relation is ""
    relation: str


@dataclass(frozen=True)
class PiecewiseForm:
    """A piecewise partial: its plain ``text``, the SymPy ``expr`` it stands for (Heaviside with H(0) = 0,
    sign), the ``names`` it uses in order, and its terms, written as LaTeX by ``pieces``."""

    text: str
    expr: sympy.Expr
    names: tuple[str, ...]
    terms: tuple[_Term, ...]
    right: tuple[str, ...]  # the right side of each term's relation

    def pieces(self, numbers: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """The form as (operator, LaTeX term) pieces, names as lecture names or, given ``numbers``, values."""
        out = []
        for term, right in zip(self.terms, self.right):
            if term.relation:
                factor = (rf"\left[{_latex(term.left, numbers)} {term.relation} "
                          rf"{_latex(right, numbers)}\right]")
            else:
                factor = rf"\operatorname{{sgn}}\left({_latex(term.left, numbers)}\right)"
            if term.coefficient:
                coefficient = expression_pieces(term.coefficient, numbers)
                joined = join_terms(coefficient)
                if len(coefficient) > 1 or joined.startswith("-"):
                    joined = rf"\left({joined}\right)"
                factor = rf"{joined} \cdot {factor}"
            out.append((term.sign, factor))
        return out


def _latex(text: str, numbers: dict[str, str] | None) -> str:
    return join_terms(expression_pieces(text, numbers))


def piecewise_form(network, factor, *, values: dict | None = None) -> PiecewiseForm | None:
    """∂of/∂wrt of a node that is one relu/max/min/abs call, in brackets, or None (SymPy's form).

    ``values`` (name → number), where given, is the point the document evaluates at: the form must
    give the derivation's value there too.

    >>> import symgrad
    >>> net = symgrad.mlp([1, 1], activation="relu", loss="hinge", seed=0)
    >>> piecewise_form(net, symgrad.derive(net).factors["E_o1", "out_o1"]).text
    '-t1 * [t1 * out_o1 < 1]'
    """
    node = network.nodes.get(factor.of)
    if node is None or len(node.text) > _MAX_TEXT:
        return None
    form = _checked(node.text, factor.wrt, factor.expr, node.symbol, node.expr)
    if form is None or (values is not None and not _agrees(form.expr, factor.expr, {node.symbol: node.expr},
                                                           values, samples=0)):
        return None
    return form


@lru_cache(maxsize=4096)
def _checked(text: str, wrt: str, expected: sympy.Expr, symbol: sympy.Symbol, own: sympy.Expr
             ) -> PiecewiseForm | None:
    """The form of ∂(text)/∂wrt, checked at the sample points, or None."""
    try:
        form = _build(ast.parse(text, mode="eval").body, wrt)
    except (SyntaxError, ParseError, RecursionError, ValueError, ZeroDivisionError):
        return None
    return form if form is not None and _agrees(form.expr, expected, {symbol: own}, None) else None


def _build(root: ast.expr, wrt: str) -> PiecewiseForm | None:
    if not (isinstance(root, ast.Call) and isinstance(root.func, ast.Name) and not root.keywords):
        return None
    name, args = root.func.id, [ast.unparse(a) for a in root.args]
    if name == "relu" and len(args) == 1:
        branches = [(args[0], ">", "0")]
    elif name in ("max", "min") and len(args) == 2:
        relation = ">" if name == "max" else "<"
        branches = [(args[0], relation, args[1]), (args[1], relation, args[0])]
    elif name == "abs" and len(args) == 1:
        branches = [(args[0], "", "")]
    else:
        return None
    terms, rights, exprs, text = [], [], [], []
    for argument, relation, other in branches:
        inner = _inner(argument, wrt)
        if inner is None:
            return None
        if inner.text == "0":
            continue
        left, relation, right = _simplest(argument, relation, other) if relation else (argument, "", "")
        sign, coefficient = ("-", inner.text[1:]) if _negated(inner.text) else ("+", inner.text)
        coefficient = "" if coefficient == "1" else coefficient
        term = _Term(sign, coefficient, left, relation)
        terms.append(term)
        rights.append(right)
        exprs.append(inner.expr * _step(left, relation, right))
        text.append((sign, _plain(term, right)))
    if not terms:
        return None
    plain = join_terms(text)
    names = tuple(dict.fromkeys(n for n in parse_expression(_checkable(terms, rights), real=True).names))
    return PiecewiseForm(plain, sympy.Add(*exprs), names, tuple(terms), tuple(rights))


def _negated(text: str) -> bool:
    """Whether the form reads −(rest) as a whole: -t1, -(1 - x), never -a + b."""
    if not text.startswith("-"):
        return False
    tree = ast.parse(text, mode="eval").body
    return isinstance(tree, ast.UnaryOp) or (isinstance(tree, ast.BinOp) and isinstance(tree.op, (ast.Mult, ast.Div))
                                             and isinstance(tree.left, ast.UnaryOp))


def _inner(argument: str, wrt: str):
    """∂argument/∂wrt in the author's form (``author_form``), or None."""
    parsed = parse_expression(argument, real=True)
    symbol = next((s for s in parsed.expr.free_symbols if s.name == wrt), None)
    if symbol is None:
        return parse_expression("0", real=True)
    expected = sympy.diff(parsed.expr, symbol)
    # "+(…)" keeps the argument from being the whole definition, so σ' is written σ(u)·(1 − σ(u)).
    return author_partial(f"+({argument})", "_", wrt, expected, sympy.S.Zero)


def _simplest(left: str, relation: str, right: str) -> tuple[str, str, str]:
    """The bracket as a lecturer reads it: [1 − t·o > 0] → [t·o < 1]; [0.01·z > z] → [z < 0]."""
    flip = {">": "<", "<": ">"}
    a, b = ast.parse(left, mode="eval").body, ast.parse(right, mode="eval").body
    if _number(b) == 0 and isinstance(a, ast.BinOp) and isinstance(a.op, ast.Sub) and _number(a.left) is not None:
        return ast.unparse(a.right), flip[relation], ast.unparse(a.left)  # c − u > 0 ⇔ u < c
    if _number(a) == 0 and isinstance(b, ast.BinOp) and isinstance(b.op, ast.Sub) and _number(b.left) is not None:
        return ast.unparse(b.right), relation, ast.unparse(b.left)  # 0 > c − u ⇔ u > c
    for k_side, v_side, swap in ((a, b, False), (b, a, True)):
        if (isinstance(k_side, ast.BinOp) and isinstance(k_side.op, ast.Mult) and _number(k_side.left) is not None
                and ast.dump(k_side.right) == ast.dump(v_side)):
            k = _number(k_side.left)
            if k > 0 and k != 1:
                # k·v > v ⇔ (k − 1)·v > 0; with the sides swapped the relation reads the other way.
                towards = relation if not swap else flip[relation]
                positive = (towards == ">") == (k > 1)
                return ast.unparse(v_side), ">" if positive else "<", "0"
    return left, relation, right


def _number(tree: ast.expr) -> Fraction | None:
    if isinstance(tree, ast.Constant) and isinstance(tree.value, (int, float)) and not isinstance(tree.value, bool):
        return Fraction(repr(tree.value)) if isinstance(tree.value, float) else Fraction(tree.value)
    return None


def _step(left: str, relation: str, right: str) -> sympy.Expr:
    a = parse_expression(left, real=True).expr
    if not relation:
        return sympy.sign(a)
    b = parse_expression(right, real=True).expr
    return sympy.Heaviside(_RELATIONS[relation](a, b), 0)


def _plain(term: _Term, right: str) -> str:
    factor = f"[{term.left} {term.relation} {right}]" if term.relation else f"sign({term.left})"
    if not term.coefficient:
        return factor
    pieces = expression_pieces(term.coefficient)
    coefficient = f"({term.coefficient})" if len(pieces) > 1 else term.coefficient
    return f"{coefficient} * {factor}"


def _checkable(terms, rights) -> str:
    """The names of the form in order of appearance, as one expression the parser reads."""
    parts = []
    for term, right in zip(terms, rights):
        parts += [f"({term.coefficient or 1})", f"({term.left})"] + ([f"({right})"] if term.relation else [])
    return " + ".join(parts)


def _agrees(form: sympy.Expr, expected: sympy.Expr, own: dict, values: dict | None, *, samples: int = _SAMPLES
            ) -> bool:
    """Whether ``form`` equals ``expected`` at ``samples`` points away from its kinks, and at ``values`` (the
    document's point), there even on a kink: [z > 0] is 0 at z = 0 as relu's step is, while max(x, y)'s step
    gives ½ to each side of a tie, which no bracket says."""
    form, expected = form.xreplace(own), expected.xreplace(own)
    symbols = sorted(form.free_symbols | expected.free_symbols, key=lambda s: s.name)
    if values is not None:
        by_name = {s.name: s for s in symbols}
        point = {by_name[n]: v if isinstance(v, sympy.Basic) else sympy.Float(v, 50)
                 for n, v in values.items() if n in by_name and v is not None}
        if len(point) < len(symbols) or _same(form, expected, point) is not True:
            return False
    steps = [h.args[0] for h in form.atoms(sympy.Heaviside, sympy.sign)]
    draw = random.Random(20)
    points = [{s: sympy.Rational(draw.randint(-3000, 3000), 997) for s in symbols} for _ in range(samples)]
    found = [_same(form, expected, point) for point in points
             if not any(step.xreplace(point) == 0 for step in steps)]
    return False not in found and found.count(True) >= samples // 2


def _same(form: sympy.Expr, expected: sympy.Expr, point: dict) -> bool | None:
    """Whether the two agree at ``point`` (to 20 digits); None where either is not finite there."""
    a, b = sympy.N(form.xreplace(point), 30), sympy.N(expected.xreplace(point), 30)
    if not (a.is_finite and b.is_finite):
        return None
    return bool(abs(a - b) <= sympy.Float("1e-20") * (1 + abs(b)))
