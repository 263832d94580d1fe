"""Local partials in the author's form: derived from the definition as written, not from SymPy's canonical form.

SymPy reorders and regroups: ∂/∂out_o1 of ½(t1 − out_o1)² comes back as ``out_o1 - t1``, where the
lectures derive ``-(t1 - out_o1)``. ``author_partial`` differentiates the author's own expression tree
(the normalised text the allow-list parser kept, read again by Python's ``ast``, never run) by rules
that keep its grouping: a power of a difference chains through the difference, a product keeps its
other factors in place, a sum keeps its order and signs, σ, tanh and exp of the node's argument are
written through the node itself (σ' = out·(1 − out)). Every form is checked against the derivation's
own partial (the same function, by SymPy); where a rule does not apply or the check fails, ``None``
is returned and the documents print SymPy's form. Values never change: only the way they are written.
"""

from __future__ import annotations

import ast
from fractions import Fraction
from functools import lru_cache

import sympy

from ..errors import ParseError
from ..expr import Parsed, parse_expression

__all__ = ["author_partial", "local_form", "AUTHOR_RULES"]

_MAX_FORM = 400  # characters; a longer definition keeps SymPy's form (no page shows it whole anyway)


class _NoRule(Exception):
    """The definition uses a construct the rules do not cover: SymPy's form is printed."""


# -- small constructors that keep the form readable: no 1·x, no −(−x), no x + (−y) ---------------
def _number(value: Fraction, decimal: bool) -> ast.expr:
    if value < 0:
        return ast.UnaryOp(ast.USub(), _number(-value, decimal))
    if value.denominator == 1:
        return ast.Constant(int(value))
    if decimal and 10 ** 6 % value.denominator == 0:
        text = f"{value.numerator / value.denominator:.6f}".rstrip("0")
        if Fraction(text) == value:
            return ast.Name(id=text)  # printed as written: 0.25, never 0.25000000000000001
    return ast.BinOp(ast.Constant(value.numerator), ast.Div(), ast.Constant(value.denominator))


def _constant(node: ast.expr) -> Fraction | None:
    """The exact value of a constant subtree (2, 0.5, 1/2, -3), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return Fraction(repr(node.value)) if isinstance(node.value, float) else Fraction(node.value)
    if isinstance(node, ast.Name):
        try:
            return Fraction(node.id)
        except ValueError:
            return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _constant(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        left, right = _constant(node.left), _constant(node.right)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None
        return {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right}.get(
            type(node.op), left / right if right else None)
    return None


class _Form:
    """The constructors, with the number style of the definition (decimals where the author wrote them)."""

    def __init__(self, decimal: bool):
        self.decimal = decimal

    def number(self, value: Fraction) -> ast.expr:
        return _number(value, self.decimal)

    def split(self, node: ast.expr) -> tuple[Fraction, ast.expr | None]:
        """A coefficient and the rest: −2·u → (−2, u), 5 → (5, None)."""
        value = _constant(node)
        if value is not None:
            return value, None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            c, rest = self.split(node.operand)
            return -c, rest
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            c = _constant(node.left)
            if c is not None and c != 1:
                return c, ast.BinOp(ast.Constant(1), ast.Div(), node.right)  # −1/u → (−1, 1/u)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            c = _constant(node.left)
            if c is not None:
                inner, rest = self.split(node.right)
                return c * inner, rest
        return Fraction(1), node

    def scale(self, c: Fraction, body: ast.expr | None) -> ast.expr:
        if body is None or c == 0:
            return self.number(c)
        if c == 1:
            return body
        if c == -1:
            if isinstance(body, ast.BinOp) and isinstance(body.op, ast.Div) and _constant(body.left) is not None:
                return ast.BinOp(self.number(-_constant(body.left)), ast.Div(), body.right)  # -1 / c ** 2
            if isinstance(body, ast.BinOp) and isinstance(body.op, ast.Mult):
                return ast.BinOp(self.scale(c, body.left), ast.Mult(), body.right)  # -(y - w * x) * x
            return ast.UnaryOp(ast.USub(), body)
        if c < 0:
            return ast.UnaryOp(ast.USub(), self.scale(-c, body))
        return ast.BinOp(self.number(c), ast.Mult(), body)

    def mul(self, a: ast.expr, b: ast.expr) -> ast.expr:
        ca, ra = self.split(a)
        cb, rb = self.split(b)
        if ra is None or rb is None:
            return self.scale(ca * cb, ra if rb is None else rb)
        if isinstance(rb, ast.BinOp) and isinstance(rb.op, ast.Div) and _constant(rb.left) == 1:
            return self.scale(ca * cb, ast.BinOp(ra, ast.Div(), rb.right))  # t · (1/o) → t/o
        return self.scale(ca * cb, ast.BinOp(ra, ast.Mult(), rb))

    def div(self, a: ast.expr, b: ast.expr) -> ast.expr:
        c, rest = self.split(a)
        if _constant(b) is not None:
            return self.scale(c / _constant(b), rest)
        sign, c = (-1, -c) if c < 0 else (1, c)
        top = self.scale(c, rest)
        return self.scale(Fraction(sign), ast.BinOp(top, ast.Div(), b))

    def add(self, a: ast.expr, b: ast.expr) -> ast.expr:
        if _constant(a) == 0:
            return b
        if _constant(b) == 0:
            return a
        if isinstance(b, ast.UnaryOp) and isinstance(b.op, ast.USub):
            return ast.BinOp(a, ast.Sub(), b.operand)
        if ast.dump(a) == ast.dump(b):  # the product rule on x * x: 2 * x, as a lecturer writes it
            return self.scale(Fraction(2), a)
        c = _constant(b)
        if c is not None and c < 0:
            return ast.BinOp(a, ast.Sub(), self.number(-c))
        return ast.BinOp(a, ast.Add(), b)

    def neg(self, a: ast.expr) -> ast.expr:
        """−a; over a sum that starts with a minus, the minus is distributed: −(−t1 − t2) → t1 + t2."""
        if isinstance(a, ast.BinOp) and isinstance(a.op, (ast.Add, ast.Sub)) and self.split(a.left)[0] < 0:
            right = a.right if isinstance(a.op, ast.Sub) else self.neg(a.right)
            return self.add(self.neg(a.left), right)
        c, rest = self.split(a)
        return self.scale(-c, rest)

    def power(self, base: ast.expr, exponent: Fraction) -> ast.expr:
        if exponent == 1:
            return base
        if exponent == 0:
            return self.number(Fraction(1))
        if exponent < 0:
            return ast.BinOp(ast.Constant(1), ast.Div(), self.power(base, -exponent))
        return ast.BinOp(base, ast.Pow(), self.number(exponent))


def _call(name: str, *args: ast.expr) -> ast.expr:
    return ast.Call(ast.Name(id=name), list(args), [])


def _one_minus(form: _Form, x: ast.expr) -> ast.expr:
    return ast.BinOp(ast.Constant(1), ast.Sub(), x)


# One table: function name → its derivative at the argument u, written as the lectures write it.
# ``own`` is the node itself when the call is the whole definition (out = σ(net) gives σ' = out·(1 − out)),
# else the call again.
AUTHOR_RULES = {
    "sigmoid": lambda f, u, own: f.mul(own, _one_minus(f, own)),
    "tanh": lambda f, u, own: _one_minus(f, f.power(own, Fraction(2))),
    "exp": lambda f, u, own: own,
    "log": lambda f, u, own: f.div(ast.Constant(1), u),
    "sin": lambda f, u, own: _call("cos", u),
    "cos": lambda f, u, own: f.neg(_call("sin", u)),
}


class _Deriver:
    def __init__(self, wrt: str, node: str, root: ast.expr, form: _Form):
        self.wrt, self.node, self.root, self.f = wrt, node, root, form

    def uses(self, tree: ast.expr) -> bool:
        return any(isinstance(n, ast.Name) and n.id == self.wrt for n in ast.walk(tree))

    def __call__(self, tree: ast.expr) -> ast.expr:
        f = self.f
        if not self.uses(tree):
            return f.number(Fraction(0))
        if isinstance(tree, ast.Name):
            return f.number(Fraction(1))
        if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, (ast.USub, ast.UAdd)):
            inner = self(tree.operand)
            return f.neg(inner) if isinstance(tree.op, ast.USub) else inner
        if isinstance(tree, ast.BinOp):
            return self.binop(tree)
        if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and not tree.keywords:
            return self.call(tree)
        raise _NoRule(ast.dump(tree)[:60])

    def binop(self, tree: ast.BinOp) -> ast.expr:
        f, left, right = self.f, tree.left, tree.right
        if isinstance(tree.op, ast.Add):
            return f.add(self(left), self(right))
        if isinstance(tree.op, ast.Sub):
            return f.add(self(left), f.neg(self(right)))
        if isinstance(tree.op, ast.Mult):
            if self.uses(left) and self.uses(right):
                return f.add(f.mul(self(left), right), f.mul(left, self(right)))
            return f.mul(left, self(right)) if self.uses(right) else f.mul(self(left), right)
        if isinstance(tree.op, ast.Div):
            if self.uses(right):
                if self.uses(left):
                    raise _NoRule("a quotient with the variable above and below")
                return f.neg(f.div(f.mul(left, self(right)), f.power(right, Fraction(2))))
            return f.div(self(left), right)
        if isinstance(tree.op, ast.Pow):
            exponent = _constant(right)
            if exponent is None or self.uses(right):
                raise _NoRule("a power with a variable exponent")
            outer = f.mul(f.number(exponent), f.power(left, exponent - 1))
            return f.mul(outer, self(left))
        raise _NoRule(type(tree.op).__name__)

    def call(self, tree: ast.Call) -> ast.expr:
        f, name, args = self.f, tree.func.id, tree.args
        own = ast.Name(id=self.node) if tree is self.root else tree
        if name == "logsumexp" and tree is self.root:
            terms = [f.mul(_call("exp", ast.BinOp(a, ast.Sub(), own)), self(a)) for a in args if self.uses(a)]
            total = terms[0]
            for term in terms[1:]:
                total = f.add(total, term)
            return total
        rule = AUTHOR_RULES.get(name)
        if rule is None or len(args) != 1:
            raise _NoRule(name)
        return f.mul(rule(f, args[0], own), self(args[0]))


def author_partial(definition: str, node: str, wrt: str, expected: sympy.Expr, own: sympy.Expr) -> Parsed | None:
    """∂node/∂wrt derived from ``definition`` (the node's text as written), parsed (its ``text`` in
    expression syntax, its ``expr`` and ``names``), or ``None`` where SymPy's form is printed instead.

    ``expected`` is the derivation's local partial and ``own`` the node's expression: the form is
    returned only when it is the same function as ``expected`` (the node's own name in either
    stands for ``own``).

    >>> import sympy
    >>> t, o, E = sympy.symbols("t1 out_o1 E_o1", real=True)
    >>> author_partial("1 / 2 * (t1 - out_o1) ** 2", "E_o1", "out_o1", o - t, (t - o) ** 2 / 2).text
    '-(t1 - out_o1)'
    """
    return _author_partial(definition, node, wrt, expected, own)


def local_form(network, factor) -> Parsed | None:
    """The author's form of the local partial ``factor`` (its ``of``, ``wrt`` and ``expr``) of a node of
    ``network`` (read for the node's ``text`` and ``expr``), or None where SymPy's form is printed.

    >>> import symgrad
    >>> net = symgrad.load("mazur")
    >>> local_form(net, symgrad.derive(net).factors["E_o1", "out_o1"]).text
    '-(t1 - out_o1)'
    """
    node = network.nodes.get(factor.of)
    if node is None:
        return None
    return author_partial(node.text, factor.of, factor.wrt, factor.expr, node.expr)


@lru_cache(maxsize=4096)
def _author_partial(definition: str, node: str, wrt: str, expected: sympy.Expr, own: sympy.Expr) -> Parsed | None:
    if len(definition) > _MAX_FORM:
        return None
    try:
        root = ast.parse(definition, mode="eval").body
        decimal = any(isinstance(n, ast.Constant) and isinstance(n.value, float) for n in ast.walk(root))
        text = ast.unparse(_Deriver(wrt, node, root, _Form(decimal))(root))
        parsed = parse_expression(text, real=True)
    except (_NoRule, SyntaxError, ParseError, RecursionError, ValueError, ZeroDivisionError):
        return None
    by_name = {s.name: s for s in expected.free_symbols | own.free_symbols}
    symbol = sympy.Symbol(node, real=True)
    found = parsed.expr.xreplace({s: by_name.get(s.name, s) for s in parsed.expr.free_symbols})
    own_symbol = by_name.get(node, symbol)
    difference = (found - expected).xreplace({own_symbol: own})
    if difference == 0 or sympy.expand(difference) == 0 or sympy.simplify(difference) == 0:
        return Parsed(found, parsed.names, text)
    return None
