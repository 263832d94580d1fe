"""The solved derivation: every number of a worked solution, computed once, for every renderer.

``solve`` evaluates a derivation once (at the printed digits plus guard digits, or with a
rounding policy applied to every intermediate) and returns a ``Solution``: for every node
its definition, the numbers substituted into it and its value; for every δ its terms with
their values; for every local factor its symbolic form, its Leibniz name and its value; the
gradients with the lecture's chain form; and the update when there is a learning rate.
The renderers (``symgrad.render``: text, JSON, LaTeX, Markdown, pictures) only format a
``Solution``. ``Solution.latex()``, ``.markdown()`` and the Jupyter display write the blocks of
``render.solution_blocks`` with the LaTeX and Markdown writers; those modules read the solution
they are given and do not import this one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import sympy

from .chain import Derivation, Factor
from .errors import GraphError, InvalidArgument
from .evaluation import GradientValues, Overrides, evaluate_gradients
from .layers import MLPStructure
from .matrix import MatrixDerivation, derive_matrix
from .precision import GUARD_DIGITS, PLAIN_RANGE, Rounding, validate_digits, format_decimals, format_number
from .render.latex_writer import write_article, write_math
from .render.markdown_writer import write_markdown
from .render.solution_blocks import solution_blocks
from .train import UPDATE_RULES, step

__all__ = [
    "Solution",
    "SolvedLeaf",
    "SolvedNode",
    "SolvedFactor",
    "SolvedTerm",
    "SolvedDelta",
    "SolvedChain",
    "SolvedGradient",
    "SolvedUpdate",
    "solve",
]


@dataclass(frozen=True)
class SolvedLeaf:
    """An input, target, parameter or constant and its value."""

    name: str
    kind: str
    value: object


@dataclass(frozen=True)
class SolvedNode:
    """A node: its definition as written, the values of its operands, and its value."""

    name: str
    text: str
    expr: sympy.Expr
    operands: tuple[tuple[str, object], ...]  # (name, value) in order of appearance
    value: object


@dataclass(frozen=True)
class SolvedFactor(Factor):
    """A local partial ∂of/∂wrt (a ``Factor``: symbolic form, Leibniz name) with its value."""

    value: object


@dataclass(frozen=True)
class SolvedTerm:
    """One term δ_consumer · ∂consumer/∂x of a δ sum, with its numbers."""

    consumer: str
    delta: object  # δ_consumer
    factor: SolvedFactor
    value: object


@dataclass(frozen=True)
class SolvedDelta:
    """δ_x = ∂output/∂x (a total derivative) as the sum of its terms."""

    name: str
    terms: tuple[SolvedTerm, ...]
    value: object  # None where δ does not exist at this point (only for inputs and targets)
    undefined: str = ""  # why, when value is None


@dataclass(frozen=True)
class SolvedChain:
    """The lecture's chain form: δ_head (omitted when head is the output) times local factors."""

    head: str
    head_delta: object | None
    factors: tuple[SolvedFactor, ...]


@dataclass(frozen=True)
class SolvedGradient:
    """∂output/∂param, with its chain form where the parameter feeds one consumer chain."""

    param: str
    value: object
    chain: SolvedChain | None
    paths: int


@dataclass(frozen=True)
class SolvedUpdate:
    """θ⁺ = θ − η · ∂output/∂θ for one parameter."""

    param: str
    before: object
    gradient: object
    after: object


@dataclass(frozen=True)
class Solution:
    """A worked solution: every number a document or a picture of the derivation needs."""

    derivation: Derivation
    output: str
    digits: int  # significant digits to print (unless ``decimals`` is set)
    working_digits: int  # digits certified (printed digits + guard digits)
    rounding: Rounding
    leaves: tuple[SolvedLeaf, ...]
    nodes: tuple[SolvedNode, ...]
    deltas: tuple[SolvedDelta, ...]  # reverse graph order, the output first
    gradients: tuple[SolvedGradient, ...]
    learning_rate: object | None
    update_rule: str | None
    updates: tuple[SolvedUpdate, ...]
    numbers: GradientValues
    matrix: MatrixDerivation | None = None  # the vector-form equations of an [mlp] network
    decimals: int | None = None  # print this many decimal places instead, as the lectures do
    digits_for: tuple[tuple[str, int], ...] = ()  # (quantity, significant digits) printed for it instead

    def format(self, value) -> str:
        """A number as every renderer prints it: ``digits`` significant digits, or ``decimals`` places."""
        if self.decimals is not None:
            return format_decimals(value, self.decimals)
        return format_number(value, self.digits)

    def format_of(self, name: str, value) -> str:
        """A number that belongs to quantity ``name`` (its value, its δ dE/d name, its gradient or update):
        with the digits ``digits_for`` gives that quantity (decimal places where the solution prints
        decimals), else as ``format``.

        >>> import symgrad
        >>> s = solve(symgrad.derive(symgrad.load("mazur")), digits=4, digits_for={"E_total": 12})
        >>> s.format_of("E_total", s.loss), s.format_of("E_o1", s.value("E_o1"))
        ('0.29837110876', '0.2748')
        """
        digits = dict(self.digits_for).get(name)
        if digits is None:
            return self.format(value)
        return format_decimals(value, digits) if self.decimals is not None else format_number(value, digits)

    @property
    def precision_note(self) -> str:
        """What the printed numbers are: "9 significant digits" or "9 decimal places"."""
        if self.decimals is not None:
            return f"{self.decimals} decimal places"
        return f"{self.digits} significant digits"

    @property
    def loss(self) -> object:
        return self.numbers.values[self.output]

    @property
    def network(self):
        return self.derivation.network

    def value(self, name: str) -> object:
        return self.numbers.values[name]

    def restrict(self, params: Sequence[str]) -> Solution:
        """The same solution showing only ``params``: their gradients, updates and the δ's they are built from.

        >>> import symgrad
        >>> s = solve(symgrad.derive(symgrad.load("mazur")), digits=4).restrict(["w5"])
        >>> [d.name for d in s.deltas]
        ['E_total', 'E_o1', 'out_o1', 'net_o1', 'w5']
        """
        known = [g.param for g in self.gradients]
        wanted = list(dict.fromkeys(params))
        unknown = [p for p in wanted if p not in known]
        if unknown or not wanted:
            raise InvalidArgument(f"unknown parameter {', '.join(map(repr, unknown)) or '(none given)'}; "
                                  f"choose from the parameters of this network: {', '.join(known) or '(none)'}")
        by_name = {d.name: d for d in self.deltas}
        needed, frontier = set(wanted), list(wanted)
        while frontier:
            for term in by_name[frontier.pop()].terms:
                if term.consumer not in needed:
                    needed.add(term.consumer)
                    frontier.append(term.consumer)
        order = {p: k for k, p in enumerate(wanted)}
        return replace(self, deltas=tuple(d for d in self.deltas if d.name in needed),
                       gradients=tuple(sorted((g for g in self.gradients if g.param in order),
                                              key=lambda g: order[g.param])),
                       updates=tuple(sorted((u for u in self.updates if u.param in order),
                                            key=lambda u: order[u.param])))

    def latex(self, *, title: str | None = None, author: str = "", date: str = "") -> str:
        """This solution as a standalone LaTeX article (as ``symgrad.render_latex``)."""
        return write_article(solution_blocks(self, title=title, author=author, date=date))

    def markdown(self, *, title: str | None = None, author: str = "", date: str = "") -> str:
        """This solution as Markdown with ``$…$`` math (as ``symgrad.render_markdown``)."""
        return write_markdown(solution_blocks(self, title=title, author=author, date=date))

    def _repr_latex_(self) -> str:
        return write_math(solution_blocks(self, title=""))

    def _repr_markdown_(self) -> str:
        return self.markdown()


def solve(derivation: Derivation, *, digits: int = 9, at: Mapping[str, object] | None = None,
          rounding: Rounding | None = None, overrides: Overrides | None = None,
          learning_rate: object = None, update_rule: str = "simultaneous", working_digits: int | None = None,
          decimals: int | None = None, digits_for: Mapping[str, int] | None = None) -> Solution:
    """Evaluate ``derivation`` once and collect every number of its worked solution.

    ``digits`` is what renderers print; the values are certified to ``working_digits``
    (default: ``digits`` plus ``GUARD_DIGITS``). With ``rounding``, every intermediate is rounded
    as it is produced. The update is included when the network (or ``learning_rate``) has a
    learning rate. ``decimals`` makes renderers print that many decimal places instead of
    significant digits (trailing zeros dropped), as the lectures print their numbers. ``digits_for``
    gives chosen quantities their own significant digits (``{"E_total": 12}``; decimal places with
    ``decimals``): their value, δ, gradient and update print with them (the working digits grow to
    certify them). It adds to, and overrides, the spec's ``[digits]`` table.

    >>> import symgrad
    >>> s = solve(symgrad.derive(symgrad.load("mazur")), digits=9)
    >>> w5 = next(u for u in s.updates if u.param == "w5")
    >>> symgrad.to_decimal(w5.after, 8)
    '0.35891648'
    """
    validate_digits(digits)
    if decimals is not None:
        validate_digits(decimals, what="decimals")
    chosen = _digits_for(derivation, {**derivation.network.digits, **(digits_for or {})})
    working = working_digits if working_digits is not None else digits + GUARD_DIGITS
    places = PLAIN_RANGE[1] if decimals is not None else 0  # digits before the point of a number printed in places
    working = max([working] + [d + places + GUARD_DIGITS for _, d in chosen])
    validate_digits(working, what="working digits")
    if update_rule not in UPDATE_RULES:
        raise InvalidArgument(f"update rule must be one of {', '.join(UPDATE_RULES)}, got {update_rule!r}")
    rounding = rounding or Rounding()
    numbers = evaluate_gradients(derivation, at=at, digits=working, rounding=rounding, overrides=overrides)
    net = derivation.network
    leaves = tuple(SolvedLeaf(n, leaf.kind, numbers.values[n]) for n, leaf in net.leaves.items()
                   if n in derivation.order)
    nodes = tuple(_node(derivation, numbers, n) for n in derivation.order if n in net.nodes)
    factors = {key: SolvedFactor(key[0], key[1], derivation.factors[key].expr, value)
               for key, value in numbers.factors.items()}
    deltas = tuple(_delta(derivation, numbers, factors, name) for name in derivation.adjoints
                   if name in numbers.adjoints)
    gradients = tuple(_gradient(derivation, numbers, factors, p) for p in derivation.params)
    rate = learning_rate if learning_rate is not None else net.learning_rate
    updates: tuple[SolvedUpdate, ...] = ()
    if rate is not None and derivation.params:
        s = step(derivation, learning_rate=rate, at=at, digits=working, rule=update_rule, rounding=rounding,
                 gradients=numbers)
        updates = tuple(SolvedUpdate(p, s.before[p], s.gradients[p], s.after[p]) for p in derivation.params)
        rate = s.learning_rate
    return Solution(derivation, derivation.output, digits, working, rounding, leaves, nodes, deltas, gradients,
                    rate if updates else None, update_rule if updates else None, updates, numbers, _matrix(net),
                    decimals, chosen)


def _digits_for(derivation: Derivation, digits_for: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    """``digits_for`` checked (known quantities, valid digits), in the graph's order."""
    known = list(derivation.network.leaves) + list(derivation.network.nodes)
    unknown = [name for name in digits_for if name not in known]
    if unknown:
        raise InvalidArgument(f"digits given for {', '.join(map(repr, unknown))}, which is not a quantity of this "
                              f"network; choose from: {', '.join(known[:40])}{' …' if len(known) > 40 else ''}")
    for name, digits in digits_for.items():
        validate_digits(digits, what=f"digits for {name}")
    return tuple((name, int(digits_for[name])) for name in known if name in digits_for)


def _matrix(network) -> MatrixDerivation | None:
    if not isinstance(network.structure, MLPStructure):
        return None
    try:
        return derive_matrix(network.structure)
    except GraphError:  # maxout layers, the zero-one loss: the scalar form only
        return None


def _node(derivation: Derivation, numbers: GradientValues, name: str) -> SolvedNode:
    node = derivation.network.nodes[name]
    operands = tuple((o, numbers.values[o]) for o in node.operands)
    return SolvedNode(name, node.text, node.expr, operands, numbers.values[name])


def _delta(derivation: Derivation, numbers: GradientValues, factors: dict, name: str) -> SolvedDelta:
    terms = tuple(SolvedTerm(t.consumer, numbers.adjoints.get(t.consumer),
                             factors.get((t.consumer, name), SolvedFactor(t.consumer, name, t.factor.expr, None)),
                             numbers.terms.get((name, t.consumer)))
                  for t in derivation.adjoints[name].terms)
    return SolvedDelta(name, terms, numbers.adjoints[name], numbers.undefined.get(name, ""))


def _gradient(derivation: Derivation, numbers: GradientValues, factors: dict, param: str) -> SolvedGradient:
    chain = derivation.chain(param)
    solved = None
    if chain is not None:
        head_delta = None if chain.head == derivation.output else numbers.adjoints[chain.head]
        solved = SolvedChain(chain.head, head_delta, tuple(factors[f.of, f.wrt] for f in chain.factors))
    return SolvedGradient(param, numbers.gradients[param], solved, derivation.count_paths(param))
