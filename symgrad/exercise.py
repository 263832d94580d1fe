"""Exercise variants of a spec: what the teacher fixes, what each student computes, and the exact answers.

``make_exercise(spec, n, seed=s)`` reads the spec's ``[exercise]`` table (the names to keep
fixed, the digits answers are given to, the quantities asked), draws ``n`` distinct nice value
sets (``exercise_values``) and solves each variant once: its spec text, its worked ``Solution``
and the exact value of every question. Documents are written by ``exercise_documents``.
"""

from __future__ import annotations

import decimal
import json
import re
import tomllib
from dataclasses import dataclass, replace
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Mapping

import mpmath

from .chain import Derivation, derive
from .claim_parser import parse_claims
from .errors import InvalidArgument, SpecError, SymgradError, shorten
from .evaluation import evaluate_gradients
from .exercise_values import WORKING_DIGITS, draw_variants, is_tie
from .expr import is_identifier
from .graph import Network
from .limits import MAX_SEED, MAX_SPEC_BYTES, MAX_VARIANTS
from .precision import to_decimal
from .reporting import document_title
from .solution import Solution, solve
from .spec import loads

__all__ = ["ExerciseOptions", "Question", "Answer", "Variant", "Exercise", "make_exercise", "read_spec",
           "exercise_options", "variant_id", "round_half_up", "plain_number"]

_EXERCISE_KEYS = ("fixed", "digits", "ask", "marks", "variant")
DEFAULT_DIGITS = 4  # significant digits an answer is given to, unless [exercise] digits says otherwise
MIN_DIGITS, MAX_DIGITS = 2, 9
MAX_ASK_TEXT = 200  # characters of one asked left side


@dataclass(frozen=True)
class ExerciseOptions:
    """The spec's ``[exercise]`` table: names kept fixed, digits asked for, the questions, marks per question."""

    fixed: tuple[str, ...] = ()
    digits: int = DEFAULT_DIGITS
    ask: tuple[str, ...] = ()  # claim left sides; empty: chosen by ``choose_questions``
    marks: tuple[tuple[str, Fraction], ...] = ()  # (left side, marks); a question not listed is worth 1


@dataclass(frozen=True)
class Question:
    """One thing to compute: a value (``net_h1``), a gradient of the output (``dE_total/dw5``) or an update (``w5+``)."""

    lhs: str
    kind: str  # "value", "gradient" or "update"
    name: str
    wrt: str | None = None

    @property
    def describe(self) -> str:
        if self.kind == "gradient":
            return f"the derivative of {self.name} with respect to {self.wrt}"
        if self.kind == "update":
            return f"{self.name} after one gradient-descent step"
        return f"the value of {self.name}"


@dataclass(frozen=True)
class Answer:
    """A question's exact value and the answer written to the digits asked for."""

    question: Question
    exact: object
    text: str


@dataclass(frozen=True)
class Variant:
    """One student's version: its id (``03``), the values drawn, its spec text, network, solution and answers."""

    id: str
    values: Mapping[str, Fraction]
    spec_text: str
    network: Network
    solution: Solution
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Exercise:
    """Every variant of one spec, drawn from ``seed``."""

    source: str
    title: str
    seed: int
    options: ExerciseOptions
    variants: tuple[Variant, ...]

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(a.question for a in self.variants[0].answers) if self.variants else ()

    def marks(self, question: Question) -> Fraction:
        return dict(self.options.marks).get(question.lhs, Fraction(1))


def variant_id(index: int, count: int) -> str:
    """The id of the ``index``-th variant (from 1) of ``count``: two digits at least, so names sort.

    >>> variant_id(3, 30), variant_id(7, 120)
    ('03', '007')
    """
    return str(index).zfill(max(2, len(str(count))))


def read_spec(path_or_name: str | Path) -> tuple[str, str]:
    """(text, source) of a spec file or a built-in example, as ``symgrad.load`` finds them."""
    path = Path(path_or_name)
    if path.is_file():
        try:
            if path.stat().st_size > MAX_SPEC_BYTES:
                raise SpecError(f"the file is over {MAX_SPEC_BYTES:,} bytes", source=str(path))
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read the file ({exc})", source=str(path)) from None
    name = str(path_or_name)
    builtin = resources.files("symgrad") / "examples" / f"{name}.toml"
    if is_identifier(name) and builtin.is_file():
        return builtin.read_text(encoding="utf-8"), f"{name} (built-in)"
    raise SpecError("no such spec file or built-in example; `symgrad examples` lists the built-in ones", source=name)


def exercise_options(data: Mapping, network: Network, *, source: str = "<spec>") -> ExerciseOptions:
    """The ``[exercise]`` table of parsed spec ``data``, checked against ``network``; each error names the key."""
    table = data.get("exercise", {})
    if not isinstance(table, dict):
        raise SpecError(f"expected a table [exercise], got {shorten(repr(table), 80)}", source=source, key="exercise")
    for key in table:
        if key not in _EXERCISE_KEYS:
            raise SpecError(f"unknown key; [exercise] may have {', '.join(_EXERCISE_KEYS)}", source=source,
                            key=f"exercise.{key}")
    fixed = _names(table.get("fixed", []), "exercise.fixed", source)
    for name in fixed:
        if name not in network.leaves or name not in network.values:
            raise SpecError(f"{name!r} is not an input, target or parameter with a value; fix only those "
                            f"(the network's are {', '.join(network.values)})", source=source, key="exercise.fixed")
    digits = table.get("digits", DEFAULT_DIGITS)
    if not isinstance(digits, int) or isinstance(digits, bool) or not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise SpecError(f"digits is {shorten(repr(digits), 40)}; give a whole number of significant digits from "
                        f"{MIN_DIGITS} to {MAX_DIGITS}", source=source, key="exercise.digits")
    ask = _names(table.get("ask", []), "exercise.ask", source, identifiers=False)
    for lhs in ask:
        if not lhs.strip() or any(ch in lhs for ch in "=#\n\r") or len(lhs) > MAX_ASK_TEXT:
            raise SpecError(f"{shorten(repr(lhs), 60)} is not one left side; write it as on an answer line, without "
                            "`=`, e.g. \"dE_total/dw5\"", source=source, key="exercise.ask")
    marks = table.get("marks", {})
    if not isinstance(marks, dict):
        raise SpecError("expected a table of marks, e.g. marks = { \"dE_total/dw5\" = 2 }", source=source,
                        key="exercise.marks")
    weights = []
    for lhs, value in marks.items():
        if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal)) or not value >= 0:
            raise SpecError(f"the marks of {lhs!r} are {shorten(repr(value), 40)}; give a number 0 or more",
                            source=source, key=f"exercise.marks.{lhs}")
        weights.append((lhs, Fraction(str(value))))
    return ExerciseOptions(fixed, digits, ask, tuple(weights))


def _names(value: object, key: str, source: str, *, identifiers: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"expected a list of strings, got {shorten(repr(value), 80)}", source=source, key=key)
    if identifiers:
        for name in value:
            if not is_identifier(name):
                raise SpecError(f"{shorten(repr(name), 40)} is not a name of the network", source=source, key=key)
    return tuple(dict.fromkeys(value))


def _question(lhs: str, network: Network, source: str) -> Question:
    """A question from a claim's left side, read by the claims parser (so the answer key reads the same),
    written the plain way (``∂E_total/∂w5`` asks ``dE_total/dw5``, ``w5⁺`` asks ``w5+``)."""
    try:
        (claim,) = parse_claims(f"{lhs} = 0", network, source=source)[:1] or (None,)
    except SymgradError as exc:
        raise SpecError(f"cannot read {lhs!r}: {exc}", source=source, key="exercise.ask") from None
    fix = "ask for a name (net_h1), a derivative of the output (dE_total/dw5) or an update (w5+)"
    if claim is None or claim.problem:
        raise SpecError(f"cannot read {lhs!r}: {claim.problem if claim else 'empty'}; {fix}", source=source,
                        key="exercise.ask")
    if claim.wrt is not None and claim.steps is None:
        if claim.name != network.output:
            raise SpecError(f"{lhs!r} is not a derivative of the output {network.output!r}; {fix}",
                            source=source, key="exercise.ask")
        return Question(f"d{claim.name}/d{claim.wrt}", "gradient", claim.name, claim.wrt)
    if claim.steps == 1 and claim.wrt is None and claim.name in network.leaves:
        if network.learning_rate is None or network.leaves[claim.name].kind != "param":
            raise SpecError(f"{lhs!r} asks for an update, which needs a parameter and [train] learning_rate",
                            source=source, key="exercise.ask")
        return Question(f"{claim.name}+", "update", claim.name)
    if claim.steps is None and claim.wrt is None:
        return Question(claim.name, "value", claim.name)
    raise SpecError(f"{lhs!r} cannot be asked; {fix}", source=source, key="exercise.ask")


def _depths(network: Network) -> dict[str, int]:
    """Edges from each name to the output, along the shortest path."""
    depth = {network.output: 0}
    for name in reversed(list(network.nodes)):
        if name in depth:
            for operand in network.nodes[name].operands:
                depth[operand] = min(depth.get(operand, depth[name] + 1), depth[name] + 1)
    return depth


def choose_questions(network: Network) -> tuple[str, ...]:
    """The default questions: the first squashed pre-activation and its output, the loss, the gradients
    of the parameter nearest the output and of the one farthest from it, and the nearest one's update.

    >>> import symgrad
    >>> choose_questions(symgrad.load("mazur"))
    ('net_h1', 'out_h1', 'E_total', 'dE_total/dw5', 'dE_total/dw1', 'w5+')
    """
    forward = []
    for name, node in network.nodes.items():
        if node.expr.func.__name__ in ("sigmoid", "tanh") and len(node.operands) == 1:
            forward = [node.operands[0], name] if node.operands[0] in network.nodes else [name]
            break
    forward = forward or [next(iter(network.nodes))]
    depth = _depths(network)
    params = [p for p, leaf in network.leaves.items() if leaf.kind == "param" and p in depth]
    asked = [*forward, network.output]
    if params:
        near = min(params, key=lambda p: depth[p])
        far = max(params, key=lambda p: depth[p])
        asked += [f"d{network.output}/d{near}", f"d{network.output}/d{far}"]
        if network.learning_rate is not None:
            asked.append(f"{near}+")
    return tuple(dict.fromkeys(asked))


def _answer(question: Question, solution: Solution, digits: int) -> Answer:
    numbers = solution.numbers
    if question.kind == "gradient":
        exact = numbers.gradients[question.wrt] if question.wrt in numbers.gradients else numbers.adjoints[question.wrt]
    elif question.kind == "update":
        exact = next(u.after for u in solution.updates if u.param == question.name)
    else:
        exact = numbers.values[question.name]
    return Answer(question, exact, round_half_up(exact, digits))


def round_half_up(value, digits: int) -> str:
    """``value`` to ``digits`` significant digits, a tie rounded away from zero as schools teach.

    >>> import sympy
    >>> round_half_up(sympy.Rational(14925, 10000), 4), round_half_up(sympy.Rational(-5, 100000), 2)
    ('1.493', '-0.000050')
    """
    wide = decimal.Decimal(to_decimal(value, digits + 12))
    if not wide:
        return to_decimal(value, digits)
    exponent = wide.adjusted() - digits + 1
    rounded = wide.quantize(decimal.Decimal(1).scaleb(exponent), rounding=decimal.ROUND_HALF_UP)
    if rounded.adjusted() > wide.adjusted():  # 9.9995 → 10.00: one digit fewer after the point
        rounded = rounded.quantize(decimal.Decimal(1).scaleb(exponent + 1))
    return format(rounded, "f")


def plain_number(value) -> str:
    """A spec value as a person writes it: 0.05, 3, or 1/3 where no short decimal is exact.

    >>> import sympy
    >>> plain_number(sympy.Rational(1, 20)), plain_number(3), plain_number(sympy.Rational(1, 3))
    ('0.05', '3', '1/3')
    """
    fraction = Fraction(str(value))
    if fraction.denominator == 1:
        return str(fraction.numerator)
    text = f"{float(fraction):.10g}"
    return text if Fraction(text) == fraction else str(value)


def _tie_judge(derivation: Derivation, questions: tuple[Question, ...], digits: int):
    """A judge of a draw: no answer lies exactly halfway between two roundings at the digits asked
    (net_h1 = 1.4925 at 4 digits), so half-up, half-even and a Moodle tolerance all agree."""
    eta = Fraction(str(derivation.network.learning_rate or 0))
    rate = mpmath.mpf(eta.numerator) / eta.denominator

    def problems(at: Mapping[str, object]) -> tuple[str, ...]:
        numbers = evaluate_gradients(derivation, at=at, digits=WORKING_DIGITS)
        found = []
        for q in questions:
            if q.kind == "gradient":
                value = numbers.gradients[q.wrt] if q.wrt in numbers.gradients else numbers.adjoints[q.wrt]
            elif q.kind == "update":
                value = numbers.values[q.name] - rate * numbers.gradients[q.name]
            else:
                value = numbers.values[q.name]
            if is_tie(value, digits):
                found.append(f"{q.lhs} lies halfway between two roundings to {digits} digits")
        return tuple(found)
    return problems


def make_exercise(spec: str | Path, count: int, *, seed: int = 0) -> Exercise:
    """``count`` distinct nice variants of ``spec`` (a file or a built-in example), reproducible from ``seed``.

    >>> ex = make_exercise("mazur", 2, seed=7)
    >>> [v.id for v in ex.variants], [q.lhs for q in ex.questions][:2]
    (['01', '02'], ['net_h1', 'out_h1'])
    """
    if not isinstance(count, int) or not 1 <= count <= MAX_VARIANTS:
        raise InvalidArgument(f"the number of variants is {count!r}; ask for 1 to {MAX_VARIANTS:,}")
    if not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidArgument(f"the seed is {seed!r}; give a whole number from 0 to {MAX_SEED:,}")
    text, source = read_spec(spec)
    network = loads(text, source=source)
    data = tomllib.loads(text.removeprefix("\ufeff"), parse_float=decimal.Decimal)
    if network.data:
        raise SpecError("exercise variants need one sample (in [values], or drawn by [mlp] seed), not [data]; "
                        "give the sample's inputs and targets in [values]", source=source)
    if not network.values or not network.nodes:
        raise SpecError("exercise variants need a network with scalar names and values; an [mlp] this large is "
                        "built in matrix form only, so choose smaller widths", source=source)
    options = exercise_options(data, network, source=source)
    questions = tuple(dict.fromkeys(_question(lhs, network, source) for lhs in (options.ask or choose_questions(network))))
    asked = {q.lhs for q in questions}
    marks = tuple((_question(lhs, network, source).lhs, worth) for lhs, worth in options.marks)
    for lhs, _ in marks:
        if lhs not in asked:
            raise SpecError(f"marks for {lhs!r}, which is not asked; ask for it in [exercise] ask or remove its marks",
                            source=source, key="exercise.marks")
    options = replace(options, marks=marks)
    derivation = derive(network)
    title = document_title(network)
    drawn = draw_variants(derivation, count, seed=seed, fixed=options.fixed,
                          also=_tie_judge(derivation, questions, options.digits))
    variants = tuple(_variant(variant_id(k, count), values, data, derivation, questions, options, title)
                     for k, values in enumerate(drawn, start=1))
    return Exercise(source, title, seed, options, variants)


def _variant(ident: str, values: Mapping[str, Fraction], data: Mapping, derivation: Derivation,
             questions: tuple[Question, ...], options: ExerciseOptions, title: str) -> Variant:
    spec_data = dict(data)
    given = data.get("values", {})
    if "mlp" in data:  # every value written out, the fixed ones too: the variant's spec reads without the [mlp] seed
        given = {n: _decimal(Fraction(str(v))) for n, v in derivation.network.values.items()}
    spec_data["values"] = {**given, **{n: _decimal(v) for n, v in values.items()}}
    spec_data["title"] = f"{title}, variant {ident}"
    spec_data["exercise"] = {**data.get("exercise", {}), "variant": ident}
    text = toml_text(spec_data)
    network = loads(text, source=f"variant {ident}")
    solution = solve(derive(network), digits=options.digits + 2)
    answers = tuple(_answer(q, solution, options.digits) for q in questions)
    return Variant(ident, dict(values), text, network, solution, answers)


def _decimal(value: Fraction) -> decimal.Decimal:
    """A drawn value (a multiple of a power of ten over 20) as the exact decimal it is."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        return (decimal.Decimal(value.numerator) / decimal.Decimal(value.denominator)).normalize()


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f") if value.is_finite() else str(value).lower().replace("infinity", "inf")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise InvalidArgument(f"cannot write {type(value).__name__} to TOML")  # pragma: no cover - tomllib gives no other


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def toml_text(data: Mapping) -> str:
    """Parsed spec data back as TOML text: top-level keys first, then one [table] each.

    >>> print(toml_text({"output": "f", "values": {"w": decimal.Decimal("0.50")}}), end="")
    output = "f"
    <BLANKLINE>
    [values]
    w = 0.50
    """
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines += ["", f"[{_toml_key(key)}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"
