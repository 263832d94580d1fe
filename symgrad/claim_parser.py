"""Reading a claims file: each line matched against a fixed grammar and never evaluated as code.

A claims file holds one claim per line, ``LHS = VALUE`` (``#`` starts a comment):

- ``out_h1 = 0.593269992``: a node or leaf;
- ``dE_total/dw5 = 0.082167041`` (or ``∂E/∂w5``, ``\\frac{\\partial E}{\\partial w_5}``): dA/dB
  along every path, B held free (one edge: the local partial); ``δ_o1`` is ∂E/∂net_o1;
- ``w5@1 = 0.35891648`` (or ``w5+``, ``w5'``, ``w5(new)``), ``E_total@10000 = ...``: a quantity
  after k update steps;
- ``a = b = c`` (or ``≈``): each stage judged; a ``[names]`` section maps the person's names
  to the spec's (``target1 = t1``).

VALUE is a decimal whose digits set its stated precision (0.40 states two decimals), arithmetic
on numbers only (``0.15*0.05 + 0.35``, computed exactly and judged as a value) or, for a
symbolic claim, an expression over the network's names read by the safe parser. A line that
cannot be read becomes a claim with a ``problem`` (judged ``unreadable``); the other lines
are still read. The file is untrusted text.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal, localcontext
from pathlib import Path

import mpmath
import sympy

from .claim_data import Claim, as_decimal
from .claim_notation import Notation, Quantity, lookalike, split_stages, value_text
from .errors import InvalidArgument, ParseError, SymgradError, shorten
from .evaluation import evaluate_expr
from .expr import parse_expression
from .graph import Network
from .limits import MAX_CLAIMS, MAX_CLAIMS_TEXT, MAX_DECIMAL_EXPONENT, MAX_LITERAL
from .precision import CLAIM_ARITHMETIC_DIGITS

__all__ = ["parse_claims", "read_claims_file"]

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_LITERAL = re.compile(r"(?<![A-Za-z_0-9.])(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SECTIONS = {"[names]": "names", "[mapping]": "names", "[claims]": "claims"}
_MAX_BYTES = 4 * MAX_CLAIMS_TEXT  # UTF-8 takes at most 4 bytes a character


def read_claims_file(path: str | Path) -> str:
    """The text of a claims file, read with a bound (``/dev/zero`` is refused, not read forever).

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "c.txt"), "w").write("h = -7\\n")
    >>> read_claims_file(os.path.join(folder, "c.txt"))
    'h = -7\\n'
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise ParseError(f"cannot read the claims file {path}: {exc.strerror or exc}; check the path") from None
    if len(data) > _MAX_BYTES:
        raise ParseError(f"{path}: more than {_MAX_BYTES:,} bytes; a claims file may hold at most "
                         f"{MAX_CLAIMS_TEXT:,} characters; split it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{path}: byte {exc.start} is not UTF-8; save the file as UTF-8 text") from None


def parse_claims(text: str, network: Network, *, source: str = "<claims>") -> tuple[Claim, ...]:
    """Read a claims file against ``network``: one ``Claim`` per stage of each line.

    A line that cannot be read is a claim whose ``problem`` says what was expected and how
    to write it; only a file that is not text or is too large raises ``ParseError``.

    >>> import symgrad
    >>> parse_claims("w5+ = 0.35891648  # the lecture", symgrad.load("mazur"))[0].steps
    1
    >>> parse_claims("w5 ?= 1", symgrad.load("mazur"))[0].problem[:24]
    "'w5 ?' is not a quantity"
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"claims must be text, got {type(text).__name__}")
    if len(text) > MAX_CLAIMS_TEXT:
        raise ParseError(f"{source}: {len(text)} characters; a claims file may hold at most {MAX_CLAIMS_TEXT}")
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some editors write
    lines = list(enumerate(re.split(r"\r\n|\n|\r", text), start=1))  # the line numbers an editor shows
    aliases, problems = _aliases(lines, network)
    notation = Notation(network, aliases)
    claims = []
    section = "claims"
    for number, raw in lines:
        body = raw.split("#", 1)[0].strip()
        if body.lower() in _SECTIONS:
            section = _SECTIONS[body.lower()]
            continue
        if number in problems:
            claims.append(_unreadable(number, body, problems[number]))
        if not body or section == "names":
            continue
        if len(claims) >= MAX_CLAIMS:
            raise ParseError(f"{source}: line {number}: more than {MAX_CLAIMS} claims; split the file")
        claims.extend(_parse_line(body, number, network, notation))
    return tuple(claims)


def _aliases(lines, network: Network) -> tuple[dict[str, str], dict[int, str]]:
    """The ``[names]`` section: the person's name for each spec name, and the lines that are not a mapping."""
    aliases, problems, section = {}, {}, "claims"
    names = set(network.quantities)
    for number, raw in lines:
        body = raw.split("#", 1)[0].strip()
        if body.lower() in _SECTIONS:
            section = _SECTIONS[body.lower()]
        elif body and section == "names":
            left, _, right = (p.strip() for p in body.partition("="))
            if right in names and left not in names and left:
                aliases[left] = right
            elif left in names and right not in names and right:
                aliases[right] = left
            else:
                problems[number] = (f"{_show(body)} is not a mapping; in a [names] section write YOUR_NAME = "
                                    f"SPEC_NAME with one side a name of the spec, such as target1 = "
                                    f"{next(iter(network.quantities), 't1')}")
    return aliases, problems


def _unreadable(line: int, body: str, problem: str) -> Claim:
    lhs, _, value = body.partition("=")
    return Claim(line, shorten(lhs.strip()) or "?", "", None, None, shorten(value.strip()), None, None,
                 problem=problem)


def _parse_line(body: str, line: int, network: Network, notation: Notation) -> list[Claim]:
    lhs, stages = split_stages(body)
    if not stages or not lhs or not all(stages):
        return [_unreadable(line, body, f"{_show(body)} is not a claim{lookalike(body)}; write NAME = VALUE, such as "
                                        "out_h1 = 0.593269992, or a chain such as dE/dw5 = 0.7414*0.1868*0.5933 "
                                        "= 0.08217")]
    try:
        quantity = notation.quantity(lhs)
        if quantity.steps is not None and network.learning_rate is None:
            raise ParseError(f"{lhs} needs a learning rate; set [train] learning_rate in the spec")
        if quantity.steps is not None and quantity.name in network.leaves \
                and network.leaves[quantity.name].kind != "param":
            raise ParseError(f"{quantity.name!r} is an {network.leaves[quantity.name].kind}, which no update "
                             "step changes")
    except ParseError as exc:
        return [_unreadable(line, body, str(exc))]
    written = re.split(r"=|≈|\\approx", body, maxsplit=1)[0].strip()
    return [_stage(line, written, value, k if len(stages) > 1 else 0, quantity, network, notation)
            for k, value in enumerate(stages, start=1)]


def _stage(line: int, lhs: str, value: str, stage: int, quantity: Quantity, network: Network,
           notation: Notation) -> Claim:
    claim = Claim(line, lhs, quantity.name, quantity.wrt, quantity.steps, value, None, None, stage=stage)
    text = value_text(notation.spelled(value))
    try:
        if _DECIMAL.match(text):
            return replace(claim, number=_decimal(text))
        try:
            parsed = parse_expression(text)
        except ParseError as exc:
            raise ParseError(f"{_show(value)} is neither a number nor an expression ({exc}); write a decimal "
                             "(0.0822, 8.2e-2, 8.2×10⁻²), arithmetic (0.7414*0.1868) or a formula over the "
                             "network's names") from None
        if not parsed.names:
            return _arithmetic(claim, parsed.expr, text, network)
        if quantity.steps is not None:
            raise ParseError(f"a claim after update steps needs a number, got {_show(value)}")
        mapping = {}
        for n in parsed.names:
            resolved = notation.name(n)
            if resolved is None:
                raise ParseError(f"unknown name {n!r} in {_show(value)}; the network's names are "
                                 + ", ".join(network.quantities[:20]))
            mapping[sympy.Symbol(n)] = network.symbol(resolved)
        return replace(claim, expr=parsed.expr.xreplace(mapping))
    except ParseError as exc:
        return replace(claim, problem=str(exc))


def _spec_numbers(network: Network) -> set[Decimal]:
    numbers = set()
    for value in [*network.point().values(), network.learning_rate]:
        if hasattr(value, "p") and hasattr(value, "q"):
            with localcontext() as ctx:
                ctx.prec = CLAIM_ARITHMETIC_DIGITS
                numbers.add(Decimal(int(value.p)) / Decimal(int(value.q)))
        elif isinstance(value, (int, float, str)):
            numbers.add(Decimal(str(value)))
    return numbers


def _arithmetic(claim: Claim, expr: sympy.Expr, text: str, network: Network) -> Claim:
    """A right side of numbers only: computed exactly, stated to the digits of its rounded inputs."""
    with mpmath.workdps(CLAIM_ARITHMETIC_DIGITS + 20):
        try:
            value = evaluate_expr(expr, {})
        except SymgradError as exc:
            raise ParseError(f"the arithmetic {_show(claim.value)} has no real value: {exc}") from None
        full = as_decimal(value)
    if abs(full) and abs(full.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise ParseError(f"the arithmetic {_show(claim.value)} is beyond 1e±{MAX_DECIMAL_EXPONENT}")
    exact = _spec_numbers(network)
    inputs = [(Decimal(t), _significant(Decimal(t))) for t in _LITERAL.findall(text)]
    # a number of the spec (a weight, η) or an integer is exact; any other is a rounded earlier result
    rounded_inputs = [s for d, s in inputs if d not in exact and d != d.to_integral_value()]
    digits = min(rounded_inputs) if rounded_inputs else CLAIM_ARITHMETIC_DIGITS
    number = Decimal(0)
    if full:
        with localcontext() as ctx:
            ctx.prec = digits
            number = +full
    product = _product(text)
    spread = Decimal(0)
    if product and full:  # a product's relative error is at most the sum of its rounded factors' relative errors
        with localcontext() as ctx:
            ctx.prec = CLAIM_ARITHMETIC_DIGITS
            spread = abs(full) * sum((Decimal(1).scaleb(Decimal(t).as_tuple().exponent) / 2 / abs(Decimal(t))
                                      for t in product if Decimal(t) and Decimal(t) not in exact
                                      and Decimal(t) != Decimal(t).to_integral_value()), Decimal(0))
    return replace(claim, number=number, arithmetic=full, product=product, spread=spread)


def _product(text: str) -> tuple[str, ...]:
    """The numbers of a right side that is only a product of numbers (``(0.9)(0.1311)``), else ()."""
    if "**" in text or "/" in text:
        return ()
    parts = [p.strip().strip("()").strip() for p in text.split("*")]
    if len(parts) < 2 or not all(_DECIMAL.match(p) and not p.startswith("+") for p in parts):
        return ()
    return tuple(parts)


def _significant(number: Decimal) -> int:
    digits = number.as_tuple().digits
    return len(digits) - next((k for k, d in enumerate(digits) if d), len(digits))


def _decimal(text: str) -> Decimal:
    if len(text) > MAX_LITERAL:
        raise ParseError(f"the number {_show(text)} is longer than {MAX_LITERAL} characters")
    number = Decimal(text)
    if abs(number.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise ParseError(f"the number {_show(text)} is beyond 1e±{MAX_DECIMAL_EXPONENT}")
    return number


def _show(text: str) -> str:
    return repr(shorten(text))
