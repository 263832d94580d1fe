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
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .errors import GraphError, NotDifferentiable, PathLimitError
from .functions import local_derivative, rule_for
from .graph import Network

__all__ = ["Factor", "Term", "Adjoint", "Path", "Chain", "Derivation", "derive", "total_derivative", "MAX_PATHS"]

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
        return f"d{self.of}/d{self.wrt}"


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
class Path:
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

    def count_paths(self, name: str) -> int:
        """How many paths lead from the output down to ``name`` (no enumeration)."""
        counts: dict[str, int] = {self.output: 1}
        for adj in self.adjoints.values():
            if adj.name != self.output:
                counts[adj.name] = sum(counts[t.consumer] for t in adj.terms)
        self.adjoint(name)
        return counts.get(name, 0)

    def paths(self, name: str, *, limit: int = MAX_PATHS) -> tuple[Path, ...]:
        """Form (a): every path from the output to ``name``, each a product of local partials."""
        n = self.count_paths(name)
        if n > limit:
            raise PathLimitError(
                f"∂{self.output}/∂{name} is a sum over {n} paths, more than the limit of {limit}; "
                "use the adjoint form (Derivation.adjoint / expression), which reuses each layer's δ"
            )
        if name == self.output:
            return (Path(()),)
        found: list[Path] = []
        for term in self.adjoints[name].terms:
            for upper in self.paths(term.consumer, limit=limit):
                found.append(Path(upper.factors + (term.factor,)))
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
        resolved: dict[str, sympy.Expr] = {}
        for adj in self.adjoints.values():
            if adj.name == self.output:
                resolved[adj.name] = sympy.S.One
            else:
                resolved[adj.name] = sympy.Add(*[resolved[t.consumer] * t.factor.expr for t in adj.terms])
            if adj.name == name:
                return resolved[name]
        self.adjoint(name)
        return sympy.S.Zero

    def closed_form(self, name: str) -> sympy.Expr:
        """∂output/∂name as one expression in the leaves only (every node substituted)."""
        expr = self.expression(name)
        for node_name in reversed(self.order):
            node = self.network.nodes.get(node_name)
            if node is not None:
                expr = expr.xreplace({node.symbol: node.expr})
        return expr


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
        for operand in node.operands:
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
