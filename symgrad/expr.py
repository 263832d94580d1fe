"""The allow-list parser: expression text → SymPy, without eval.

Spec files are untrusted text. ``eval``, ``sympify`` and ``parse_expr`` would run or
interpret far more than arithmetic (attribute access, imports, huge powers), so this
module walks Python's own ``ast`` and accepts only the node types listed below; every
other construct is rejected with a message that quotes it. Numbers are read from their
source text as exact rationals (``0.05`` → 1/20), never through a float.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from fractions import Fraction

import sympy

from .errors import ParseError
from .functions import SPEC_FUNCTIONS
from .limits import MAX_CONSTANT_DIGITS, MAX_DEPTH, MAX_EXPONENT, MAX_LITERAL, MAX_TEXT

__all__ = ["Parsed", "parse_expression", "parse_number", "is_identifier", "MAX_TEXT", "MAX_EXPONENT"]


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def is_identifier(name: object) -> bool:
    """True for ASCII identifiers (``out_h1``, ``E_total``); the only names specs may use."""
    return isinstance(name, str) and bool(_IDENTIFIER.match(name))


@dataclass(frozen=True)
class Parsed:
    """A parsed expression: the SymPy form, the names it uses, and the text as written."""

    expr: sympy.Expr
    names: tuple[str, ...]  # in order of first appearance
    text: str  # normalised source (``ast.unparse``), keeps the author's order of terms


def parse_number(text: str) -> sympy.Rational:
    """Read a decimal or fraction string exactly: '0.05' → 1/20, '1e-3' → 1/1000, '2/3'."""
    cleaned = text.strip().replace("_", "")
    if not cleaned or len(cleaned) > MAX_LITERAL:
        raise ParseError(f"{text!r} is not a number (expected a decimal such as 0.05 or a fraction such as 1/3)")
    try:
        value = Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        raise ParseError(
            f"{text!r} is not a number (expected a decimal such as 0.05 or a fraction such as 1/3)"
        ) from None
    if abs(value.numerator).bit_length() > 4 * MAX_LITERAL or value.denominator.bit_length() > 4 * MAX_LITERAL:
        raise ParseError(f"{text!r} is too large a number")
    return sympy.Rational(value.numerator, value.denominator)


def parse_expression(text: str, *, max_text: int | None = MAX_TEXT) -> Parsed:
    """Parse arithmetic over names into SymPy, allowing only a fixed set of constructs.

    >>> parse_expression("w1*i1 + w2*i2 + b1").expr
    b1 + i1*w1 + i2*w2
    """
    if not isinstance(text, str):
        raise ParseError(f"expected an expression string, got {type(text).__name__} {text!r}")
    if max_text is not None and len(text) > max_text:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {max_text}")
    if "\x00" in text:
        raise ParseError("expression contains a NUL character")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ParseError(f"{_short(text)} is not a valid expression ({exc.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ParseError(f"{_short(text)} is nested too deeply to parse") from None
    walker = _Walker(text.strip())
    expr = walker.visit(tree.body, depth=0)
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise ParseError(f"{_short(text)} divides by zero or is otherwise undefined")
    try:
        normal = ast.unparse(tree.body)
    except (RecursionError, ValueError):  # pragma: no cover - depth is already bounded
        normal = text.strip()
    return Parsed(expr=expr, names=tuple(walker.names), text=normal)


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


class _Walker:
    def __init__(self, source: str):
        self.source = source
        self.names: list[str] = []

    def reject(self, node: ast.AST, what: str) -> ParseError:
        segment = ast.get_source_segment(self.source, node) or type(node).__name__
        return ParseError(
            f"{_short(segment)} is not allowed: {what}. Expressions may use numbers, names, "
            "+ - * / **, parentheses and the functions " + ", ".join(sorted(SPEC_FUNCTIONS))
        )

    def visit(self, node: ast.AST, depth: int) -> sympy.Expr:
        if depth > MAX_DEPTH:
            raise ParseError(f"{_short(self.source)} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            if not is_identifier(node.id):
                raise self.reject(node, "names must be ASCII identifiers")
            if node.id not in self.names:
                self.names.append(node.id)
            return sympy.Symbol(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.visit(node.operand, depth + 1)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            # A long sum or product (w1*i1 + w2*i2 + … over 784 inputs) is a left-deep chain:
            # walk it iteratively so its length does not count as nesting depth.
            family = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (
                (ast.Mult, ast.Div) if isinstance(node.op, (ast.Mult, ast.Div)) else None)
            chain = []
            while family and isinstance(node, ast.BinOp) and isinstance(node.op, family):
                chain.append(node)
                node = node.left
            if not chain:
                left = self.visit(node.left, depth + 1)
                return self.binop(node, left, self.visit(node.right, depth + 1))
            value = self.visit(node, depth + 1)
            for link in reversed(chain):
                value = self.binop(link, value, self.visit(link.right, depth + 1))
            return value
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        kinds = {
            ast.Attribute: "attribute access",
            ast.Lambda: "lambdas",
            ast.Subscript: "subscripts",
            ast.ListComp: "comprehensions",
            ast.GeneratorExp: "comprehensions",
            ast.SetComp: "comprehensions",
            ast.DictComp: "comprehensions",
            ast.Compare: "comparisons",
            ast.BoolOp: "boolean operators",
            ast.IfExp: "conditional expressions",
            ast.NamedExpr: "assignment expressions",
        }
        raise self.reject(node, kinds.get(type(node), f"{type(node).__name__} syntax"))

    def constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.reject(node, "only numbers are allowed as constants, not strings or other literals")
        segment = ast.get_source_segment(self.source, node) or repr(value)
        if len(segment) > MAX_LITERAL:
            raise self.reject(node, f"number literals are limited to {MAX_LITERAL} characters")
        if isinstance(value, int):
            return sympy.Integer(value)
        if not math.isfinite(value):
            raise self.reject(node, "the number is not finite")
        return parse_number(segment)

    def binop(self, node: ast.BinOp, left: sympy.Expr, right: sympy.Expr) -> sympy.Expr:
        op = type(node.op)
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        if op is ast.Div:
            if right.is_zero:
                raise self.reject(node, "division by zero")
            return left / right
        # Power: bound constant exponents so x**(10**10**10) is refused before SymPy folds it.
        if right.is_Number:
            if abs(right) > MAX_EXPONENT:
                raise self.reject(node, f"constant exponents are limited to ±{MAX_EXPONENT}")
            if left.is_Number and left != 0:
                size = float(abs(right)) * max(
                    math.log10(abs(left.p)) if left.p else 0.0,
                    math.log10(left.q),
                    1.0,
                )
                if size > MAX_CONSTANT_DIGITS:
                    raise self.reject(node, f"the constant would have more than {MAX_CONSTANT_DIGITS} digits")
            if left.is_zero and right.is_negative:
                raise self.reject(node, "division by zero")
        return left**right

    def call(self, node: ast.Call, depth: int) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.reject(node, "only plain function names can be called")
        rule = SPEC_FUNCTIONS.get(node.func.id)
        if rule is None:
            raise self.reject(node.func, f"unknown function {node.func.id!r}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.reject(node, "functions take positional arguments only")
        n = len(node.args)
        if n < rule.min_args or (rule.max_args is not None and n > rule.max_args):
            want = (
                str(rule.min_args)
                if rule.max_args == rule.min_args
                else f"at least {rule.min_args}" if rule.max_args is None else f"{rule.min_args} to {rule.max_args}"
            )
            raise self.reject(node, f"{node.func.id} takes {want} argument(s), got {n}")
        args = [self.visit(a, depth + 1) for a in node.args]
        return rule.build(*args)
