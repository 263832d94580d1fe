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

from .errors import ParseError, shorten
from .functions import SPEC_FUNCTIONS
from .limits import (
    MAX_CONSTANT_DIGITS,
    MAX_DECIMAL_EXPONENT,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LITERAL,
    MAX_TERMS,
    MAX_TEXT,
)

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


_DECIMAL = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\Z")
_FRACTION = re.compile(r"([+-]?\d+)/([+-]?\d+)\Z")
_NOT_FINITE = {"inf", "infinity", "nan", "snan"}
_EXPECTED = "expected a decimal such as 0.05 or a fraction such as 1/3"


def parse_number(text: str, *, what: str = "value") -> sympy.Rational:
    """Read a decimal or fraction string exactly: '0.05' → 1/20, '1e-3' → 1/1000, '2/3'.

    The decimal exponent is range-checked before anything is expanded, so '1e999999999' is
    refused at once; ``what`` names the quantity in the message.

    >>> parse_number("2.5e-3")
    1/400
    """
    if not isinstance(text, str):
        raise ParseError(f"{what} is {text!r}, which is not a number ({_EXPECTED})")
    cleaned = text.strip().replace("_", "")
    if len(cleaned) > MAX_LITERAL:
        raise ParseError(f"{what} is {_quoted(text)}, which is {len(cleaned)} characters long; "
                         f"number literals are limited to {MAX_LITERAL} characters")
    if cleaned.lower().lstrip("+-") in _NOT_FINITE:
        raise ParseError(f"{what} is {text!r}, which is not finite; give a finite number such as 0.05")
    fraction = _FRACTION.match(cleaned)
    if fraction:
        numerator, denominator = int(fraction[1]), int(fraction[2])
        if denominator == 0:
            raise ParseError(f"{what} is {text!r}, which divides by zero")
        return sympy.Rational(numerator, denominator)
    decimal_ = _DECIMAL.match(cleaned)
    if not decimal_ or not (decimal_[2] or decimal_[3]):
        raise ParseError(f"{what} is {text!r}, which is not a number ({_EXPECTED})")
    sign, whole, frac, exponent = decimal_[1], decimal_[2], decimal_[3] or "", int(decimal_[4] or 0)
    digits = (whole + frac).lstrip("0")
    if not digits:
        return sympy.Integer(0)
    magnitude = exponent + len(digits) - len(frac) - 1  # the power of ten of the leading digit
    if magnitude > MAX_DECIMAL_EXPONENT:
        raise ParseError(f"{what} is {text!r}, which is too large: about 10**{magnitude}, above the limit "
                         f"10**{MAX_DECIMAL_EXPONENT}")
    if magnitude < -MAX_DECIMAL_EXPONENT:
        raise ParseError(f"{what} is {text!r}, which is too small: about 10**{magnitude}, below the limit "
                         f"10**-{MAX_DECIMAL_EXPONENT} (write 0 for zero)")
    scale = exponent - len(frac)
    value = Fraction(int(digits) * 10**scale) if scale >= 0 else Fraction(int(digits), 10**-scale)
    return sympy.Rational(-value if sign == "-" else value)


def parse_expression(text: str, *, max_text: int | None = MAX_TEXT, real: bool = False) -> Parsed:
    """Parse arithmetic over names into SymPy, allowing only a fixed set of constructs.

    ``real=True`` makes every name a real symbol, as a ``Network``'s quantities are, so a
    network can take the expression without rebuilding it.

    >>> parse_expression("w1*i1 + w2*i2 + b1").expr
    b1 + i1*w1 + i2*w2
    """
    if not isinstance(text, str):
        raise ParseError(f"expected an expression string, got {type(text).__name__} {text!r}")
    if max_text is not None and len(text) > max_text:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {max_text}")
    if "\x00" in text:
        raise ParseError("expression contains a NUL character")
    _check_ascii(text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ParseError(f"{_quoted(text)} is not a valid expression ({exc.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ParseError(f"{_quoted(text)} is nested too deeply to parse") from None
    walker = _Walker(text.strip(), real=real)
    expr = walker.visit(tree.body, depth=0)
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise ParseError(f"{_quoted(text)} divides by zero or is otherwise undefined")
    problem = _size_problem(expr, deep=True)
    if problem:
        raise ParseError(f"{_quoted(text)} is refused: {problem}")
    try:
        normal = ast.unparse(tree.body)
    except (RecursionError, ValueError):  # pragma: no cover - depth is already bounded
        normal = text.strip()
    return Parsed(expr=expr, names=tuple(walker.names), text=normal)


def _check_ascii(text: str) -> None:
    """Refuse non-ASCII text before Python's parser folds ``ｗ`` or ``𝑤`` into ``w`` (NFKC)."""
    if text.isascii():
        return
    position, char = next((i, c) for i, c in enumerate(text) if not c.isascii())
    raise ParseError(f"{_quoted(text)} contains the non-ASCII character {char!r} (U+{ord(char):04X}) at "
                     f"position {position + 1}; names and expressions are ASCII only (letters a-z, A-Z, "
                     "digits and _)")


def _digits(number: sympy.Rational) -> int:
    """About how many decimal digits the numerator or denominator has (from the bit length)."""
    return int(max(abs(number.p).bit_length(), number.q.bit_length()) * 0.30103) + 1


def _size_problem(expr: sympy.Basic, *, deep: bool) -> str | None:
    """Why ``expr`` is too big or not real, or None. ``deep`` walks the whole tree (iteratively)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if node.is_Rational and _digits(node) > MAX_CONSTANT_DIGITS:
            return f"a constant has about {_digits(node)} digits after folding; the limit is {MAX_CONSTANT_DIGITS}"
        if node is sympy.I:
            return "a constant part is not a real number (the square root or log of a negative)"
        if node.is_Pow and node.exp.is_Number:
            if abs(node.exp) > MAX_EXPONENT:
                return (f"the exponent is {node.exp} after folding powers and products; constant exponents are "
                        f"limited to ±{MAX_EXPONENT}")
            if node.base.is_number and node.base.is_negative and not node.exp.is_integer:
                return f"{node} is not a real number (a fractional power of a negative constant)"
        if (node.is_Add or node.is_Mul) and len(node.args) > MAX_TERMS:
            return f"one sum or product has {len(node.args)} terms; the limit is {MAX_TERMS}"
        if deep:
            stack.extend(node.args)
        elif node is expr and (node.is_Add or node.is_Mul):
            stack.append(node.args[0])  # the folded numeric coefficient comes first
    return None


def _quoted(text: str) -> str:
    """``text`` quoted for a message, cut to 80 characters."""
    return repr(shorten(text, 80))


class _Walker:
    def __init__(self, source: str, *, real: bool = False):
        self.source = source
        self.real = real
        self.names: list[str] = []

    def segment(self, node: ast.AST) -> str | None:
        """``node``'s source text: sliced directly from a one-line ASCII source (offsets are bytes there),
        where ``ast.get_source_segment`` would split the whole source again for every number."""
        if self.source.isascii() and "\n" not in self.source and "\r" not in self.source:
            return self.source[node.col_offset:node.end_col_offset]
        return ast.get_source_segment(self.source, node)

    def reject(self, node: ast.AST, what: str) -> ParseError:
        segment = ast.get_source_segment(self.source, node) or type(node).__name__
        return ParseError(
            f"{_quoted(segment)} is not allowed: {what}. Expressions may use numbers, names, "
            "+ - * / **, parentheses and the functions " + ", ".join(sorted(SPEC_FUNCTIONS))
        )

    def refuse(self, node: ast.AST, problem: str) -> ParseError:
        segment = ast.get_source_segment(self.source, node) or type(node).__name__
        return ParseError(f"{_quoted(segment)} is refused: {problem}")

    def visit(self, node: ast.AST, depth: int) -> sympy.Expr:
        if depth > MAX_DEPTH:
            raise ParseError(f"{_quoted(self.source)} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            if not is_identifier(node.id):
                raise self.reject(node, "names must be ASCII identifiers")
            if node.id not in self.names:
                self.names.append(node.id)
            return sympy.Symbol(node.id, real=True) if self.real else sympy.Symbol(node.id)
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
            return self.chain(node, chain, depth)
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
        segment = self.segment(node) or repr(value)
        if len(segment) > MAX_LITERAL:
            raise self.reject(node, f"number literals are limited to {MAX_LITERAL} characters")
        if isinstance(value, int):
            return sympy.Integer(value)
        try:
            return parse_number(segment, what="the number")
        except ParseError as exc:
            raise ParseError(f"{_quoted(self.source)}: {exc}") from None

    def chain(self, first: ast.AST, links: list[ast.BinOp], depth: int) -> sympy.Expr:
        """Fold a + b - c + … (or a * b / c * …) in one n-ary Add or Mul: linear, not quadratic."""
        whole = links[0]
        product = not isinstance(whole.op, (ast.Add, ast.Sub))
        operands = [self.visit(first, depth + 1)]
        coefficient = sympy.S.One  # of a product, multiplied up one factor at a time and size-checked
        for link in [None, *reversed(links)]:
            if link is not None:
                right = self.visit(link.right, depth + 1)
                if isinstance(link.op, ast.Div) and right.is_zero:
                    raise self.reject(link, "division by zero")
                if isinstance(link.op, (ast.Sub, ast.Div)):
                    right = -right if isinstance(link.op, ast.Sub) else sympy.Pow(right, -1)
                operands.append(right)
            if product:
                factor, operands[-1] = operands[-1].as_coeff_Mul()
                coefficient *= factor
                if _digits(coefficient) > MAX_CONSTANT_DIGITS:
                    raise self.refuse(link or first, f"a constant has about {_digits(coefficient)} digits after "
                                      f"folding; the limit is {MAX_CONSTANT_DIGITS}")
        result = sympy.Mul(coefficient, *operands) if product else sympy.Add(*operands)
        problem = _size_problem(result, deep=False)
        if problem:
            raise self.refuse(whole, problem)
        return result

    def binop(self, node: ast.BinOp, left: sympy.Expr, right: sympy.Expr) -> sympy.Expr:
        result = self.fold(node, left, right)
        # Folding can grow constants and exponents past the limits the literals respect
        # ((x**1000)**1000, 10**999 * 10**999): check each result before folding further.
        problem = _size_problem(result, deep=False)
        if result.is_Mul and isinstance(node.op, ast.Pow):
            problem = problem or next(filter(None, (_size_problem(a, deep=False) for a in result.args)), None)
        if problem:
            raise self.refuse(node, problem)
        return result

    def fold(self, node: ast.BinOp, left: sympy.Expr, right: sympy.Expr) -> sympy.Expr:
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
        for arg, arg_node in zip(args, node.args):
            problem = _size_problem(arg, deep=False)
            if problem:
                raise self.refuse(arg_node, problem)
        try:
            result = rule.build(*args)
        except (ValueError, TypeError) as exc:  # SymPy refuses, e.g. max of a non-real constant
            raise self.reject(node, f"SymPy cannot build it ({exc})") from None
        problem = _size_problem(result, deep=False)
        if problem:
            raise self.refuse(node, problem)
        return result
