"""The chain rule on the graph: local partials, adjoints, paths and total derivatives.

Every node's local partial ∂node/∂operand is SymPy's derivative of that node's own small
expression, re-expressed in node names (∂out_o1/∂net_o1 = out_o1·(1 − out_o1)). Two forms
of ∂output/∂x are read off them:

(a) ``paths``: the sum over every path of the product of local partials, as the lectures
    write ∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5. Exponential in depth, so
    it refuses above ``MAX_PATHS``.
(b) ``adjoint``: reverse accumulation, δ_x = Σ_c δ_c · ∂c/∂x over the consumers c of x,
    which reuses the δ of the layer above. Linear in the number of edges.

Nothing here differentiates an expanded expression; ``closed_form`` builds one on request.
``Derivation.latex()``, ``.markdown()`` and the Jupyter display are written by
``render.chain_rule``, which reads the derivation and does not import this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable, Sequence, TypeVar

import sympy

from .errors import GraphError, NotDifferentiable, PathLimitError
from .functions import local_derivative, rule_for
from .graph import Network
from .limits import LONG_OPERANDS
from .render.chain_rule import render_derivation_latex, render_derivation_latex_math, render_derivation_markdown

__all__ = [
    "Factor", "Term", "Adjoint", "ChainPath", "Chain", "Derivation", "derive", "total_derivative", "accumulate", "MAX_PATHS",
]

T = TypeVar("T")
U = TypeVar("U")

#: Form (a) refuses to list more paths than this for one quantity; use the adjoint form.
MAX_PATHS = 10_000


@dataclass(frozen=True)
class Factor:
    """One local partial ∂of/∂wrt, as a symbolic expression in the graph's names."""

    of: str
    wrt: str
    expr: sympy.Expr

    @property
    def leibniz(self) -> str:
        """The local partial in ASCII Leibniz notation, ``dout_o1/dnet_o1``."""
        return f"d{self.of}/d{self.wrt}"

    @property
    def partial(self) -> str:
        """The local partial with the partial sign, ``∂out_o1/∂net_o1`` (a total derivative is written d)."""
        return f"∂{self.of}/∂{self.wrt}"


@dataclass(frozen=True)
class Term:
    """One term δ_consumer · ∂consumer/∂x of an adjoint sum."""

    consumer: str
    factor: Factor


@dataclass(frozen=True)
class Adjoint:
    """δ_x = ∂output/∂x = Σ terms, each reusing the consumer's δ (form b)."""

    name: str
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class ChainPath:
    """One path from the output down to a quantity: its local partials, output side first."""

    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class Chain:
    """∂output/∂x written as δ_head · ∂…/∂… · ∂c/∂x along a single-consumer chain (lecture form)."""

    head: str  # the quantity whose δ starts the product (the output itself if the chain reaches it)
    factors: tuple[Factor, ...]  # head side first


@dataclass(frozen=True)
class Derivation:
    """The chain rule for one output over a network: local factors and adjoints.

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("two_neurons"))
    >>> [t.consumer for t in d.adjoints["h"].terms]
    ['f']
    """

    network: Network
    output: str
    order: tuple[str, ...]  # quantities the output depends on, in graph order
    factors: dict[tuple[str, str], Factor]  # (node, operand) -> Factor
    adjoints: dict[str, Adjoint]  # in reverse graph order, the output first

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(p for p in self.network.params if p in self.adjoints)

    def adjoint(self, name: str) -> Adjoint:
        if name not in self.adjoints:
            if name in self.network.leaves or name in self.network.nodes:
                return Adjoint(name, ())  # the output does not depend on it: δ = 0
            raise GraphError(f"{name!r} is not a quantity of the network")
        return self.adjoints[name]

    @cached_property
    def _path_counts(self) -> dict[str, int]:
        return accumulate(self, 1, lambda count, term: count, lambda name, counts: sum(counts))

    def count_paths(self, name: str) -> int:
        """How many paths lead from the output down to ``name`` (no enumeration; all counted once)."""
        self.adjoint(name)
        return self._path_counts.get(name, 0)

    @cached_property
    def needed(self) -> frozenset[str]:
        """The quantities whose δ some parameter's gradient needs: the parameters and everything above them.

        Only the local factors on these paths are evaluated or compiled, so a factor that does not
        exist at the point (∂log(x)/∂x at x = 0) is never asked for unless a gradient needs it.
        """
        needed = {p for p in self.network.params if p in self.adjoints}
        frontier = list(needed)
        while frontier:
            for term in self.adjoints[frontier.pop()].terms:
                if term.consumer not in needed:
                    needed.add(term.consumer)
                    frontier.append(term.consumer)
        return frozenset(needed | {self.output})

    def paths(self, name: str, *, limit: int = MAX_PATHS) -> tuple[ChainPath, ...]:
        """Form (a): every path from the output to ``name``, each a product of local partials."""
        n = self.count_paths(name)
        if n > limit:
            raise PathLimitError(
                f"∂{self.output}/∂{name} is a sum over {n} paths, more than the limit of {limit}; "
                "use the adjoint form (Derivation.adjoint / expression), which reuses each layer's δ"
            )
        if name == self.output:
            return (ChainPath(()),)
        found: list[ChainPath] = []
        for term in self.adjoints[name].terms:
            for upper in self.paths(term.consumer, limit=limit):
                found.append(ChainPath(upper.factors + (term.factor,)))
        return tuple(found)

    def chain(self, name: str, *, depth: int = 2) -> Chain | None:
        """The lecture's form ∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5.

        Walks up from ``name`` through quantities with exactly one consumer, at most
        ``depth`` local factors; None where ``name`` has several consumers (then the adjoint
        sum is the derivation).
        """
        factors: list[Factor] = []
        current = name
        while len(factors) < depth and current != self.output:
            terms = self.adjoint(current).terms
            if len(terms) != 1:
                break
            factors.insert(0, terms[0].factor)
            current = terms[0].consumer
        if not factors:
            return None
        return Chain(current, tuple(factors))

    def delta_symbol(self, name: str) -> sympy.Symbol:
        """The symbol δ_name standing for ∂output/∂name in adjoint expressions."""
        return sympy.Symbol(f"δ_{name}")

    def adjoint_expr(self, name: str) -> sympy.Expr:
        """Form (b) as SymPy: Σ δ_consumer · local factor, with δ symbols for the layer above."""
        if name == self.output:
            return sympy.S.One
        return sympy.Add(*[self.delta_symbol(t.consumer) * t.factor.expr for t in self.adjoint(name).terms])

    def expression(self, name: str) -> sympy.Expr:
        """∂output/∂name in node and leaf names, every δ resolved by reverse accumulation."""
        self.adjoint(name)
        if name not in self.adjoints:
            return sympy.S.Zero
        resolved = accumulate(self, sympy.S.One, lambda delta, term: delta * term.factor.expr,
                              lambda _, terms: sympy.Add(*terms))
        return resolved[name]

    def closed_form(self, name: str) -> sympy.Expr:
        """∂output/∂name as one expression in the leaves only (every node substituted)."""
        return self.network.inline(self.expression(name))

    def latex(self, *, params: Sequence[str] | None = None, title: str | None = None) -> str:
        r"""The symbolic chain rule (no numbers) as a standalone LaTeX article, for ``params`` (default: all).

        >>> import symgrad
        >>> tex = symgrad.derive(symgrad.load("mazur")).latex(params=["w5"])
        >>> r"\frac{\partial \mathrm{out}_{\mathrm{o1}}}{\partial \mathrm{net}_{\mathrm{o1}}}" in tex
        True
        """
        return render_derivation_latex(self, params=params, title=title)

    def markdown(self, *, params: Sequence[str] | None = None, title: str | None = None) -> str:
        """The symbolic chain rule (no numbers) as Markdown with ``$…$`` math, for ``params`` (default: all)."""
        return render_derivation_markdown(self, params=params, title=title)

    def _repr_latex_(self) -> str:
        return render_derivation_latex_math(self, bounded=True)

    def _repr_markdown_(self) -> str:
        return render_derivation_markdown(self, bounded=True)


def accumulate(derivation: Derivation, seed: T, term: Callable[[T, Term], U], total: Callable[[str, list[U]], T], *,
               only: Iterable[str] | None = None) -> dict[str, T]:
    """Reverse accumulation, written once: δ_output = ``seed``, δ_x = ``total``(x, [``term``(δ_c, t) for each consumer]).

    Callers choose what δ is: a path count, a SymPy expression, a number, a line of source.
    ``only`` restricts the walk to some quantities (each one's consumers must be among them).

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("circuit_multipath"))
    >>> accumulate(d, 1, lambda count, t: count, lambda name, counts: sum(counts))["x3"]
    2
    """
    wanted = None if only is None else set(only)
    values: dict[str, T] = {derivation.output: seed}
    for adj in derivation.adjoints.values():
        if adj.name == derivation.output or (wanted is not None and adj.name not in wanted):
            continue
        values[adj.name] = total(adj.name, [term(values[t.consumer], t) for t in adj.terms])
    return values


def _direct_partials(expr: sympy.Expr, symbols: list[sympy.Symbol]) -> dict[sympy.Symbol, sympy.Expr]:
    """∂expr/∂s for a long sum or product: only the arguments that contain s are differentiated."""
    args = expr.args
    holders: dict[sympy.Symbol, list[int]] = {s: [] for s in symbols}
    for k, arg in enumerate(args):
        for s in arg.free_symbols:
            if s in holders:
                holders[s].append(k)
    partials = {}
    for s in symbols:
        parts = []
        for k in holders[s]:
            inner = local_derivative(args[k], s)
            if expr.is_Add:
                parts.append(inner)
            else:
                # A canonical product minus one argument is still canonical: build it without re-sorting.
                others = args[:k] + args[k + 1:]
                rest = others[0] if len(others) == 1 else sympy.Mul._from_args(others)
                parts.append(rest if inner == 1 else inner * rest)
        partials[s] = sympy.Add(*parts)
    return partials


def _local_factor(network: Network, node_name: str, operand: str) -> Factor:
    node = network.nodes[node_name]
    _check_differentiable(node_name, node.expr, network.symbol(operand))
    local = local_derivative(node.expr, network.symbol(operand))
    # Re-express in the node's own name, as the lectures do: σ(net)(1 − σ(net)) → out(1 − out).
    if not node.expr.is_Add and not node.expr.is_Symbol:
        local = local.xreplace({node.expr: node.symbol})
    return Factor(node_name, operand, local)


def _check_differentiable(node_name: str, expr: sympy.Expr, wrt: sympy.Symbol) -> None:
    for sub in sympy.preorder_traversal(expr):
        if isinstance(sub, sympy.Function):
            rule = rule_for(sub.func)
            if rule is not None and not rule.differentiable and sub.has(wrt):
                raise NotDifferentiable(
                    f"node {node_name!r} = {sympy.sstr(expr)} uses {rule.head.__name__}, which is piecewise "
                    f"constant and has no gradient with respect to {wrt.name!r}; evaluate it instead, or "
                    "train on a differentiable loss such as the hinge loss"
                )


def _check_node_differentiable(node_name: str, expr: sympy.Expr, operands: tuple[str, ...], network: Network) -> None:
    """One walk over a long node: each operand is checked against its non-differentiable calls."""
    for sub in sympy.preorder_traversal(expr):
        if isinstance(sub, sympy.Function):
            rule = rule_for(sub.func)
            if rule is not None and not rule.differentiable:
                for operand in operands:
                    if network.symbol(operand) in sub.free_symbols:
                        _check_differentiable(node_name, sub, network.symbol(operand))


def derive(network: Network, *, output: str | None = None) -> Derivation:
    """Apply the chain rule to ``network`` for ``output`` (default: the network's output).

    Cost: one small ``sympy.diff`` per edge of the graph, so linear in its size.

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> d.factors["out_o1", "net_o1"].expr
    out_o1*(1 - out_o1)
    """
    out = output if output is not None else network.output
    network.symbol(out)  # raises a clear error for an unknown name
    order = network.ancestors(out)
    factors: dict[tuple[str, str], Factor] = {}
    consumers: dict[str, list[Term]] = {name: [] for name in order}
    for name in order:
        node = network.nodes.get(name)
        if node is None:
            continue
        direct = None
        if (node.expr.is_Add or node.expr.is_Mul) and len(node.expr.args) > LONG_OPERANDS:
            _check_node_differentiable(name, node.expr, node.operands, network)
            direct = _direct_partials(node.expr, [network.symbol(o) for o in node.operands])
        for operand in node.operands:
            if direct is not None:
                factor = Factor(name, operand, direct[network.symbol(operand)])
            else:
                factor = _local_factor(network, name, operand)
            factors[name, operand] = factor
            consumers[operand].append(Term(name, factor))
    adjoints: dict[str, Adjoint] = {}
    for name in reversed(order):
        if name == out or consumers[name]:
            adjoints[name] = Adjoint(name, tuple(consumers[name]) if name != out else ())
    return Derivation(network, out, order, factors, adjoints)


def total_derivative(network: Network, of: str, wrt: str) -> sympy.Expr:
    """dA/dB with B held free and everything upstream of B fixed: Σ over paths B → A.

    >>> import symgrad
    >>> total_derivative(symgrad.load("mazur"), "E_o2", "out_h1")
    out_o2*w7*(1 - out_o2)*(out_o2 - t2)
    """
    return derive(network, output=of).expression(wrt)
