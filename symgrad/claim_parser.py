"""Reading a claims file: one claim per line, matched against a fixed grammar and never evaluated.

A claims file holds one claim per line, ``LHS = VALUE`` (``#`` starts a comment):

- ``out_h1 = 0.593269992``: a node or leaf;
- ``dE_total/dw5 = 0.082167041``: dA/dB along every path, B held free (one edge: the local partial);
- ``w5@1 = 0.35891648`` (or ``w5+``), ``E_total@10000 = ...``: a quantity after k update steps.

VALUE is a decimal whose digits set its stated precision (0.40 states two decimals) or, for
a symbolic claim, an expression over the network's names read by the safe parser. The file
is untrusted text.
"""

from __future__ import annotations

import re
from decimal import Decimal

import sympy

from .claim_data import Claim
from .errors import InvalidArgument, ParseError, shorten
from .expr import parse_expression
from .graph import Network
from .limits import MAX_CLAIM_STEPS, MAX_CLAIMS, MAX_CLAIMS_TEXT, MAX_DECIMAL_EXPONENT, MAX_LITERAL

__all__ = ["parse_claims"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_LHS = re.compile(rf"d(?P<of>{_NAME})/d(?P<wrt>{_NAME})\Z|(?P<name>{_NAME})(?:(?P<plus>\+)|@(?P<steps>.*))?\Z")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def parse_claims(text: str, network: Network, *, source: str = "<claims>") -> tuple[Claim, ...]:
    """Read a claims file against ``network``; a bad line raises ``ParseError`` naming it.

    >>> import symgrad
    >>> parse_claims("w5+ = 0.35891648  # the lecture", symgrad.load("mazur"))[0].steps
    1
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"claims must be text, got {type(text).__name__}")
    if len(text) > MAX_CLAIMS_TEXT:
        raise ParseError(f"{source}: {len(text)} characters; a claims file may hold at most {MAX_CLAIMS_TEXT}")
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some editors write
    claims = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", text), start=1):  # the line numbers an editor shows
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        if len(claims) >= MAX_CLAIMS:
            raise ParseError(f"{source}: line {number}: more than {MAX_CLAIMS} claims; split the file")
        claims.append(_parse_line(body, number, network, source))
    return tuple(claims)


def _parse_line(body: str, line: int, network: Network, source: str) -> Claim:
    where = f"{source}: line {line}"
    lhs, sep, value = body.partition("=")
    lhs, value = lhs.strip(), value.strip().replace("\u2212", "-")
    if not sep or not lhs or not value:
        raise ParseError(f"{where}: {_show(body)} is not a claim; write NAME = VALUE, such as out_h1 = 0.593269992")
    match = _LHS.match(lhs)
    if match is None:
        raise ParseError(f"{where}: {_show(lhs)} is not a quantity; write a name (out_h1), a derivative "
                         "(dE_total/dw5), or a name after k steps (w5@1, w5+)")
    name = match["of"] or match["name"]
    wrt = match["wrt"]
    steps = None
    if match["plus"]:
        steps = 1
    elif match["steps"] is not None:
        text = match["steps"].strip()
        if not text.isdigit() or not text.isascii():
            raise ParseError(f"{where}: the step count {_show(text)} in {_show(lhs)} is not a whole number; "
                             "write A@k with k = 0, 1, 2, ...")
        steps = int(text[:8]) if len(text) <= 8 else MAX_CLAIM_STEPS + 1
        if steps > MAX_CLAIM_STEPS:
            raise ParseError(f"{where}: {text} steps is more than the limit of {MAX_CLAIM_STEPS}")
    for n in (name, wrt):
        if n is not None and n not in network.leaves and n not in network.nodes:
            raise ParseError(f"{where}: unknown name {n!r}; the network's names are "
                             + ", ".join(network.quantities))
    if steps is not None and network.learning_rate is None:
        raise ParseError(f"{where}: {lhs} needs a learning rate; set [train] learning_rate in the spec")
    if steps is not None and name in network.leaves and network.leaves[name].kind != "param":
        raise ParseError(f"{where}: {name!r} is an {network.leaves[name].kind}, which no update step changes")
    number = expr = None
    if _DECIMAL.match(value):
        number = _decimal(value, where)
    else:
        if steps is not None:
            raise ParseError(f"{where}: a claim after update steps needs a number, got {_show(value)}")
        try:
            parsed = parse_expression(value)
        except ParseError as exc:
            raise ParseError(f"{where}: {_show(value)} is neither a decimal nor an expression: {exc}") from None
        unknown = [n for n in parsed.names if n not in network.leaves and n not in network.nodes]
        if unknown:
            raise ParseError(f"{where}: unknown name {unknown[0]!r} in {_show(value)}; the network's names are "
                             + ", ".join(network.quantities))
        expr = parsed.expr.xreplace({sympy.Symbol(n): network.symbol(n) for n in parsed.names})
    return Claim(line, lhs, name, wrt, steps, value, number, expr)


def _decimal(text: str, where: str) -> Decimal:
    if len(text) > MAX_LITERAL:
        raise ParseError(f"{where}: the number {_show(text)} is longer than {MAX_LITERAL} characters")
    number = Decimal(text)
    if abs(number.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise ParseError(f"{where}: the number {_show(text)} is beyond 1e±{MAX_DECIMAL_EXPONENT}")
    return number


def _show(text: str) -> str:
    return repr(shorten(text))
