"""The graph of named quantities: leaves (inputs, targets, params, constants) and nodes.

A node is a SymPy expression over leaves and earlier nodes, kept in definition order,
which is also a topological order. Names print the way the lectures print them:
``Symbol('out_o1')`` is ``out_{o1}`` in LaTeX.
"""

from __future__ import annotations

import decimal
import fractions
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import mpmath
import sympy

from .errors import GraphError, ParseError
from .expr import MAX_TEXT, Parsed, is_identifier, parse_expression, parse_number
from .limits import MAX_CONSTANT_DIGITS, MAX_NODES, MAX_SCALAR_FAN_IN, MAX_SCALAR_PARAMS

__all__ = ["Leaf", "Node", "Network", "LEAF_KINDS", "Number", "as_number"]

LEAF_KINDS = ("input", "target", "param", "constant")

Number = sympy.Rational | mpmath.mpf | float


def as_number(value: object, *, what: str = "value") -> sympy.Rational | mpmath.mpf:
    """Exact numbers stay exact: int, Fraction, Decimal and decimal strings become Rationals.

    ``what`` names the quantity in error messages (``"value of 'w'"``, ``"learning rate"``).

    >>> as_number("0.05", what="learning rate")
    1/20
    """
    if isinstance(value, bool):
        raise GraphError(f"{what} is {value!r}, a boolean; give a number such as 0.05")
    if isinstance(value, mpmath.mpf) and not mpmath.isfinite(value):
        raise GraphError(f"{what} is {value}, which is not finite; give a finite number such as 0.05")
    if isinstance(value, (sympy.Rational, mpmath.mpf)):
        return value
    if isinstance(value, sympy.Float):
        return parse_number(str(value), what=what)
    if isinstance(value, int):
        # An exact constant from Python, bounded like constants in expressions. From the bit
        # length, because str() of a 5,000-digit int raises in Python itself.
        digits = int(value.bit_length() * 0.30103) + 1
        if digits > MAX_CONSTANT_DIGITS:
            raise ParseError(f"{what} is an integer of about {digits} digits; constants are limited to "
                             f"{MAX_CONSTANT_DIGITS} digits")
        return sympy.Integer(value)
    if isinstance(value, float):
        # repr gives the shortest decimal that round-trips: 0.05 stays 1/20.
        return parse_number(repr(value), what=what)
    if isinstance(value, (decimal.Decimal, fractions.Fraction)):
        return parse_number(str(value), what=what)
    if isinstance(value, str):
        return parse_number(value, what=what)
    raise GraphError(f"{what} is {value!r}, which is not a number; give a decimal such as 0.05")


@dataclass(frozen=True)
class Leaf:
    """An input, target, trainable parameter or constant."""

    name: str
    kind: str
    symbol: sympy.Symbol


@dataclass(frozen=True)
class Node:
    """A named quantity defined by an expression over earlier quantities."""

    name: str
    expr: sympy.Expr
    symbol: sympy.Symbol
    operands: tuple[str, ...]  # the names it uses directly, in order of appearance
    text: str  # the definition as written (term order preserved)
    source: str = field(default="", compare=False)  # the author's own text, parentheses included; empty for a SymPy definition


@dataclass
class Network:
    """A computational graph: leaves and nodes by name, an output, and a default point.

    >>> net = Network()
    >>> x, w = net.input("x", -2), net.param("w", 3)
    >>> _ = net.node("f", "w*x")
    >>> net.output
    'f'
    """

    description: str = ""
    title: str = ""  # the spec's title, author and date for documents (default: the description, none, none)
    author: str = ""
    date: str = ""
    digits: dict[str, int] = field(default_factory=dict)  # the spec's [digits]: a quantity's own printed precision
    leaves: dict[str, Leaf] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    values: dict[str, sympy.Rational | mpmath.mpf] = field(default_factory=dict)
    data: dict[str, tuple[sympy.Rational, ...]] = field(default_factory=dict)
    learning_rate: sympy.Rational | None = None
    structure: object | None = None  # an MLPStructure when built by layers.mlp (enables the matrix form)
    _output: str | None = None

    # -- declaring ---------------------------------------------------------------------
    def _leaf(self, name: str, kind: str, value: object) -> sympy.Symbol:
        self._check_new_name(name)
        symbol = sympy.Symbol(name, real=True)
        self.leaves[name] = Leaf(name, kind, symbol)
        if value is not None:
            self.values[name] = as_number(value, what=f"value of {name!r}")
        return symbol

    def input(self, name: str, value: object = None) -> sympy.Symbol:
        return self._leaf(name, "input", value)

    def target(self, name: str, value: object = None) -> sympy.Symbol:
        return self._leaf(name, "target", value)

    def param(self, name: str, value: object = None) -> sympy.Symbol:
        return self._leaf(name, "param", value)

    def constant(self, name: str, value: object) -> sympy.Symbol:
        return self._leaf(name, "constant", value)

    def node(self, name: str, definition: str | Parsed | sympy.Expr, *, max_text: int | None = MAX_TEXT,
             source: str = "") -> sympy.Symbol:
        """Define ``name`` by an expression string (parsed by the allow-list) or SymPy expression.

        Symbols in a SymPy expression are matched by name, whatever their assumptions
        (``Symbol("w", positive=True)`` is the leaf ``w``). ``max_text`` bounds the length of
        untrusted text; builders lift it for wide layers. ``source`` is the author's text of a
        ``Parsed`` definition, kept for documents (a string definition is its own source).
        """
        self._check_new_name(name)
        source = (definition if isinstance(definition, str) else source).strip()
        if isinstance(definition, str):
            definition = parse_expression(definition, max_text=max_text, real=True)
        if isinstance(definition, Parsed):
            names, text = definition.names, definition.text
            expr = definition.expr
        elif isinstance(definition, sympy.Basic):
            expr = sympy.sympify(definition)  # already a SymPy object: no text is interpreted
            names = tuple(sorted({s.name for s in expr.free_symbols if isinstance(s, sympy.Symbol)}))
            text = sympy.sstr(expr)
        else:
            raise GraphError(f"node {name!r}: expected an expression string or SymPy expression, got {definition!r}")
        for used in names:
            if used not in self.leaves and used not in self.nodes:
                raise GraphError(f"node {name!r} uses {used!r}, which is not declared above it")
        strange = [s for s in expr.free_symbols if not isinstance(s, sympy.Symbol)]
        if strange:
            raise GraphError(f"node {name!r} uses {strange[0]!r}, which is not a plain symbol; use the network's names")
        # Replace every free symbol by the graph's canonical (real) symbol of the same name:
        # a Symbol("w", positive=True) is a different SymPy symbol from the leaf w, and
        # differentiating by the leaf would silently give zero.
        canonical = {s: self.symbol(s.name) for s in expr.free_symbols}
        if any(s != c for s, c in canonical.items()):
            expr = expr.xreplace(canonical)
        operands = tuple(n for n in names if self.symbol(n) in expr.free_symbols)
        symbol = sympy.Symbol(name, real=True)
        self.nodes[name] = Node(name, expr, symbol, operands, text, source)
        return symbol

    def _check_new_name(self, name: str) -> None:
        if not is_identifier(name):
            raise GraphError(f"{name!r} is not a valid name; use letters, digits and _ (not starting with a digit)")
        if name in self.leaves or name in self.nodes:
            raise GraphError(f"{name!r} is defined twice; give each quantity one name")
        if len(self.leaves) + len(self.nodes) >= MAX_NODES:
            raise GraphError(f"cannot add {name!r}: a network holds at most {MAX_NODES} names (leaves and nodes)")

    # -- reading ----------------------------------------------------------------------
    @property
    def output(self) -> str:
        if self._output is not None:
            return self._output
        if not self.nodes:
            if self.structure is not None:
                raise GraphError(f"this network exists in matrix form only (more than {MAX_SCALAR_PARAMS:,} parameters "
                                 f"or a layer of more than {MAX_SCALAR_FAN_IN:,} inputs): derivations, documents and "
                                 "pictures need a scalar name per parameter; use the matrix form: compile_gradient("
                                 "network, form='matrix'), gradcheck, symgrad compile or symgrad train")
            raise GraphError("the network has no nodes, so it has no output")
        return next(reversed(self.nodes))

    @output.setter
    def output(self, name: str) -> None:
        if name not in self.nodes and name not in self.leaves:
            raise GraphError(f"output {name!r} is not a quantity of the network")
        self._output = name

    def symbol(self, name: str) -> sympy.Symbol:
        if name in self.leaves:
            return self.leaves[name].symbol
        if name in self.nodes:
            return self.nodes[name].symbol
        raise GraphError(f"{name!r} is not a quantity of the network")

    def names(self, kind: str) -> tuple[str, ...]:
        """Leaf names of one kind, in declaration order."""
        return tuple(n for n, leaf in self.leaves.items() if leaf.kind == kind)

    @property
    def params(self) -> tuple[str, ...]:
        return self.names("param")

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.names("input")

    @property
    def targets(self) -> tuple[str, ...]:
        return self.names("target")

    @property
    def quantities(self) -> tuple[str, ...]:
        """Every name: leaves in declaration order, then nodes in definition order."""
        return tuple(self.leaves) + tuple(self.nodes)

    def ancestors(self, name: str) -> tuple[str, ...]:
        """Every quantity ``name`` depends on (itself included), in graph order."""
        seen = {name}
        stack = [name]
        while stack:
            current = stack.pop()
            if current in self.nodes:
                for operand in self.nodes[current].operands:
                    if operand not in seen:
                        seen.add(operand)
                        stack.append(operand)
        return tuple(n for n in self.quantities if n in seen)

    def expanded(self, name: str) -> sympy.Expr:
        """The value of ``name`` as one expression in the leaves (every node substituted).

        Built on request only; its size can grow exponentially with the depth of the graph.

        >>> net = Network()
        >>> _ = net.input("x"), net.param("w")
        >>> _ = net.node("h", "w*x"), net.node("f", "h + w")
        >>> net.expanded("f")
        w*x + w
        """
        return self.inline(self.symbol(name))

    def inline(self, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` with every node's symbol replaced by its definition, down to the leaves.

        Nodes are substituted latest first, so a definition brought in is itself expanded by
        the nodes it uses; other symbols are left as they are.

        >>> net = Network()
        >>> _ = net.input("x"), net.param("w")
        >>> _ = net.node("h", "w*x"), net.node("f", "h + w")
        >>> net.inline(sympy.Symbol("f", real=True) * sympy.Symbol("h", real=True))
        w*x*(w*x + w)
        """
        present = expr.free_symbols
        for node in reversed(self.nodes.values()):
            if node.symbol in present:  # substituting an absent symbol would change nothing
                expr = expr.xreplace({node.symbol: node.expr})
                present = (present - {node.symbol}) | node.expr.free_symbols
        return expr

    def point(self, overrides: Mapping[str, object] | None = None) -> dict[str, sympy.Rational | mpmath.mpf]:
        """The leaf values to evaluate at: the defaults, with ``overrides`` on top."""
        point = {n: v for n, v in self.values.items() if n in self.leaves}
        for name, value in (overrides or {}).items():
            if name not in self.leaves:
                raise GraphError(f"cannot set {name!r}: it is not a leaf of the network")
            point[name] = as_number(value, what=f"value of {name!r}")
        missing = [n for n in self.leaves if n not in point]
        if missing:
            raise GraphError("no value for " + ", ".join(repr(m) for m in missing) + "; give one under [values]")
        return point

    def set_data(self, columns: Mapping[str, Iterable[object]]) -> None:
        """Attach a data set: one column of values per input/target name, all the same length."""
        lengths = set()
        data = {}
        for name, column in columns.items():
            if name not in self.leaves or self.leaves[name].kind not in ("input", "target"):
                raise GraphError(f"data column {name!r} is not an input or target of the network")
            data[name] = tuple(as_number(v, what=f"data[{name!r}] entry") for v in column)
            lengths.add(len(data[name]))
        if len(lengths) > 1:
            raise GraphError(f"data columns have different lengths {sorted(lengths)}; give each the same number of samples")
        self.data = data

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0
