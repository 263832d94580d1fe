"""Second order and forward mode by the chain rule on the graph: Hessians, HVPs and JVPs.

Forward mode pushes a tangent along the graph: ẋ for each leaf (the direction v), then for
each node ṅ = Σ_o ∂n/∂o · ȯ over its operands, with the same local factors as backprop.

Forward-over-reverse differentiates the backward pass along v. The backward pass is
δ_x = Σ_c δ_c · ∂c/∂x (``chain.accumulate``); its tangent, by the product rule, is

    δ̇_x = Σ_c ( δ̇_c · ∂c/∂x + δ_c · d/dt[∂c/∂x] ),   d/dt[∂c/∂x] = Σ_y ∂(∂c/∂x)/∂y · ẏ,

where y runs over the quantities the local factor is written in (∂out_o1/∂net_o1 =
out_o1·(1 − out_o1) is written in out_o1, so its tangent is (1 − 2·out_o1)·ȯut_o1). The
δ̇ of the parameters is the Hessian-vector product H·v, computed by the same
``chain.accumulate`` as the gradient; the Hessian is H·e_j for each parameter j. Nothing
here differentiates an expanded expression.

At a kink (relu, abs, max, min, where an argument is exactly 0) the local factor jumps
and its derivative is a Dirac delta: the second derivative does not exist there and is
reported in ``kinks``; away from a kink it is zero, as SymPy's DiracDelta is.

Numbers are certified as the gradients are (``evaluation``): computed at two working
precisions and required to agree to the digits asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy

from .chain import Derivation, Term, accumulate
from .errors import GraphError, InvalidArgument
from .evaluation import Overrides, Solver, Values, certified
from .functions import local_derivative
from .graph import as_number
from .limits import MAX_HESSIAN_PARAMS
from .precision import DEFAULT_DIGITS, Rounding, validate_digits

__all__ = ["SecondFactor", "SecondOrder", "HessianValues", "HvpValues", "JvpValues", "derive_second",
           "tangent_pass", "adjoint_tangent_pass", "hessian", "gauss_newton", "hvp", "jvp", "check_params",
           "hvp_variant", "VARIANTS", "ExactPass", "certify", "gauss_newton_split"]


@dataclass(frozen=True)
class SecondFactor:
    """∂(∂c/∂x)/∂y: how the local factor of edge (c, x) moves with the quantity y it is written in."""

    of: tuple[str, str]  # the edge (consumer, operand) of the local factor
    wrt: str
    expr: sympy.Expr


@dataclass(frozen=True)
class SecondOrder:
    """A derivation and the derivatives of its local factors: all forward-over-reverse needs.

    ``kinks[edge]`` lists the arguments whose zero makes that factor jump (a Dirac delta in
    its derivative, left out of ``seconds``).
    """

    derivation: Derivation
    seconds: dict[tuple[str, str], tuple[SecondFactor, ...]]
    kinks: dict[tuple[str, str], tuple[sympy.Expr, ...]]


def derive_second(derivation: Derivation) -> SecondOrder:
    """Differentiate every local factor by each quantity it is written in (one small diff each).

    >>> import symgrad
    >>> s = derive_second(symgrad.derive(symgrad.load("mazur")))
    >>> [(f.wrt, f.expr) for f in s.seconds["out_o1", "net_o1"]]
    [('out_o1', 1 - 2*out_o1)]
    """
    network = derivation.network
    seconds: dict[tuple[str, str], tuple[SecondFactor, ...]] = {}
    kinks: dict[tuple[str, str], tuple[sympy.Expr, ...]] = {}
    for key, factor in derivation.factors.items():
        found, jumps = [], []
        for symbol in sorted(factor.expr.free_symbols, key=lambda s: s.name):
            if symbol.name not in network.leaves and symbol.name not in network.nodes:
                continue
            expr = local_derivative(factor.expr, network.symbol(symbol.name))
            deltas = expr.atoms(sympy.DiracDelta)
            if deltas:
                jumps += [d.args[0] for d in deltas]
                expr = expr.xreplace({d: sympy.S.Zero for d in deltas})
            if expr != 0:
                found.append(SecondFactor(key, symbol.name, expr))
        seconds[key] = tuple(found)
        if jumps:
            kinks[key] = tuple(dict.fromkeys(jumps))
    return SecondOrder(derivation, seconds, kinks)


# -- the two passes, whatever a number is ------------------------------------------------
def tangent_pass(derivation: Derivation, seed: Mapping[str, object], factor: Callable[[tuple[str, str]], object],
                 add: Callable[[list], object], zero) -> dict[str, object]:
    """Forward mode: ẋ = seed for leaves (``zero`` where absent), ṅ = Σ_o factor(n, o) · ȯ for nodes."""
    network = derivation.network
    tangents: dict[str, object] = {}
    for name in derivation.order:
        node = network.nodes.get(name)
        if node is None:
            tangents[name] = seed.get(name, zero)
        else:
            tangents[name] = add([factor((name, o)) * tangents[o] for o in node.operands])
    return tangents


def adjoint_tangent_pass(second: SecondOrder, deltas: Mapping[str, object], tangents: Mapping[str, object],
                         factor: Callable[[tuple[str, str]], object], seconds: Callable[[SecondFactor], object],
                         add: Callable[[list], object], zero) -> dict[str, object]:
    """Reverse over forward: δ̇_x = Σ_c (δ̇_c · ∂c/∂x + δ_c · Σ_y ∂(∂c/∂x)/∂y · ẏ), by ``chain.accumulate``."""

    def term(dot_delta, t: Term):
        key = (t.factor.of, t.factor.wrt)
        moved = add([seconds(s) * tangents[s.wrt] for s in second.seconds[key]])
        return dot_delta * factor(key) + deltas[t.consumer] * moved

    return accumulate(second.derivation, zero, term, lambda _, terms: add(terms))


# -- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class HessianValues:
    """The exact Hessian ∂²output/∂p_i∂p_j, certified to ``digits``; rows and columns in ``params`` order.

    ``kinks`` names each kink the point sits on, where the second derivative does not exist
    (the entries are then the one-sided value with the Dirac delta left out).
    """

    params: tuple[str, ...]
    matrix: tuple[tuple[mpmath.mpf, ...], ...]
    digits: int | None
    kinks: tuple[str, ...] = ()

    def entry(self, a: str, b: str) -> mpmath.mpf:
        """∂²output/∂a∂b."""
        for name in (a, b):
            if name not in self.params:
                raise GraphError(f"{name!r} is not a parameter; use one of {', '.join(self.params)}")
        return self.matrix[self.params.index(a)][self.params.index(b)]

    def array(self) -> np.ndarray:
        """The Hessian as a float64 array."""
        return np.array([[float(x) for x in row] for row in self.matrix], dtype=np.float64).reshape(
            len(self.params), len(self.params))


@dataclass(frozen=True)
class HvpValues:
    """H·v by parameter name, certified to ``digits``; ``kinks`` as for ``HessianValues``."""

    product: dict[str, mpmath.mpf]
    digits: int | None
    kinks: tuple[str, ...] = ()


@dataclass(frozen=True)
class JvpValues:
    """Forward mode: the output's tangent J·v (``value``) and every quantity's tangent."""

    value: mpmath.mpf
    tangents: dict[str, mpmath.mpf]
    digits: int | None


# -- exact numbers -------------------------------------------------------------------------
def _direction(derivation: Derivation, v: Mapping[str, object], *, leaves: bool) -> dict[str, object]:
    if not isinstance(v, Mapping):
        raise InvalidArgument(f"v={v!r:.60}: give the direction as a dict by name, such as {{'w5': 1}}")
    network = derivation.network
    allowed = tuple(network.leaves) if leaves else network.params
    unknown = [str(k) for k in v if k not in allowed]
    if unknown:
        kind = "leaves" if leaves else "parameters"
        raise InvalidArgument(f"v names {', '.join(map(repr, unknown))}, which are not {kind}; use names among "
                              f"{', '.join(allowed[:10])}")
    return {k: as_number(x, what=f"v[{k!r}]") for k, x in v.items()}


class ExactPass:
    """One evaluation at the current working precision: values, factors, δ, and their derivatives."""

    def __init__(self, second: SecondOrder, at, digits_: int | None):
        derivation = second.derivation
        self.second = second
        self.solver = Solver(derivation.network, exact=digits_ is not None, digits=digits_, rounding=Rounding(),
                              overrides=Overrides())
        env = self.solver.forward(self.solver.leaves(at), derivation.order)
        self.env = env
        self.gradients = self.solver.backward(derivation, env)
        self.zero = self.solver.number(0)
        self.seconds = {s: self._value(s.expr, lambda s=s: f"∂(∂{s.of[0]}/∂{s.of[1]})/∂{s.wrt}")
                        for group in second.seconds.values() for s in group}

    def _value(self, expr: sympy.Expr, what: Callable[[], str]):
        return self.solver.guard(lambda: self.solver.value(expr, self.env), what, self.env, expr)

    def add(self, items: list):
        return self.solver.arith.add(items) if len(items) > 1 else (items[0] if items else self.zero)

    def factor(self, key):
        return self.gradients.factors[key]

    def tangents(self, seed: Mapping[str, object]) -> dict:
        seed = {k: self.solver.number(x) for k, x in seed.items()}
        return tangent_pass(self.second.derivation, seed, self.factor, self.add, self.zero)

    def passes(self, seed: Mapping[str, object], *, keep: Callable[[SecondFactor], bool] | None = None
               ) -> tuple[dict, dict]:
        """The tangent of every quantity along ``seed``, and the tangent δ̇ of every δ."""
        second = self.second
        if keep is not None:
            second = SecondOrder(second.derivation, {k: tuple(s for s in group if keep(s))
                                                     for k, group in second.seconds.items()}, second.kinks)
        tangents = self.tangents(seed)
        dots = adjoint_tangent_pass(second, self.gradients.adjoints, tangents, self.factor,
                                    self.seconds.__getitem__, self.add, self.zero)
        return tangents, dots

    def hvp(self, seed: Mapping[str, object], *, keep: Callable[[SecondFactor], bool] | None = None) -> dict:
        dots = self.passes(seed, keep=keep)[1]
        return {p: dots.get(p, self.zero) for p in self.second.derivation.network.params}

    def kinks(self) -> tuple[str, ...]:
        """Each kink argument that is exactly zero here, described."""
        found = []
        for (c, x), args in self.second.kinks.items():
            for arg in args:
                if self._value(arg, lambda: f"the kink argument {arg}") == 0:
                    found.append(f"∂²/∂{x} through {c}: the local factor ∂{c}/∂{x} jumps where {sympy.sstr(arg)} "
                                 "= 0, as it is here; the second derivative does not exist (one-sided value shown)")
        return tuple(dict.fromkeys(found))


def certify(compute: Callable[[int | None], dict], digits: int | None) -> dict:
    if digits is None:
        return compute(None)
    validate_digits(digits)
    return certified(lambda d: Values(compute(d), d), digits).values


def hessian(derivation: Derivation, *, at: Mapping[str, object] | None = None,
            digits: int | None = DEFAULT_DIGITS) -> HessianValues:
    """The exact Hessian of the output by the parameters: column j is forward-over-reverse along e_j.

    >>> import symgrad
    >>> h = symgrad.hessian(symgrad.derive(symgrad.load("mazur")), digits=12)
    >>> symgrad.to_decimal(h.entry("w5", "w5"), 9)
    '-0.0122229542'
    """
    return _matrix(derivation, at, digits, None)


def gauss_newton(derivation: Derivation, *, at: Mapping[str, object] | None = None,
                 digits: int | None = DEFAULT_DIGITS) -> HessianValues:
    """The Gauss–Newton matrix Jᵀ·(∂²L/∂y²)·J: the Hessian with only the loss's own curvature kept.

    y are the network's *outputs* and L the loss as a function of them (``gauss_newton_split``:
    the outputs are the last nodes before the loss, those that depend on a parameter other than
    through one another; the loss is every node computed from them, a node such as a separate
    log-sum-exp of softmax cross-entropy included). Forward over reverse with the derivatives of
    every local factor dropped except those of the loss's nodes. Positive semi-definite for a
    loss convex in y.

    >>> import symgrad
    >>> g = symgrad.gauss_newton(symgrad.derive(symgrad.load("mazur")), digits=12)
    >>> symgrad.to_decimal(g.entry("w5", "w5"), 9)
    '0.0122837523'
    """
    return _matrix(derivation, at, digits, _keeper(derivation, "curvature outside the loss"))


def _matrix(derivation: Derivation, at, digits: int | None, keep) -> HessianValues:
    second = derive_second(derivation)
    params = derivation.network.params
    if len(params) > MAX_HESSIAN_PARAMS:
        raise InvalidArgument(f"the Hessian of {len(params)} parameters has {len(params) ** 2} entries, more than "
                              f"the limit of {MAX_HESSIAN_PARAMS} parameters; use symgrad.hvp for products H·v")
    found: dict[str, tuple[str, ...]] = {}

    def compute(digits_):
        exact = ExactPass(second, at, digits_)
        found["kinks"] = exact.kinks()
        out = {}
        for j, p in enumerate(params):
            column = exact.hvp({p: 1}, keep=keep)
            out.update({f"{i},{j}": column[q] for i, q in enumerate(params)})
        return out

    numbers = certify(compute, digits)
    matrix = tuple(tuple(numbers[f"{i},{j}"] for j in range(len(params))) for i in range(len(params)))
    return HessianValues(params, matrix, digits, found["kinks"])


def hvp(derivation: Derivation, v: Mapping[str, object], *, at: Mapping[str, object] | None = None,
        digits: int | None = DEFAULT_DIGITS) -> HvpValues:
    """H·v by forward-over-reverse on the graph (``v`` by parameter name; absent ones are 0).

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> symgrad.to_decimal(symgrad.hvp(d, {"w5": 1}, digits=12).product["w5"], 9)
    '-0.0122229542'
    """
    second = derive_second(derivation)
    seed = _direction(derivation, v, leaves=False)
    found: dict[str, tuple[str, ...]] = {}

    def compute(digits_):
        exact = ExactPass(second, at, digits_)
        found["kinks"] = exact.kinks()
        return exact.hvp(seed)

    return HvpValues(certify(compute, digits), digits, found["kinks"])


def jvp(derivation: Derivation, v: Mapping[str, object], *, at: Mapping[str, object] | None = None,
        digits: int | None = DEFAULT_DIGITS) -> JvpValues:
    """Forward mode: the output's directional derivative J·v, tangents pushed along the graph.

    ``v`` gives a tangent to any leaves (parameters or inputs) by name; absent ones are 0.

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> symgrad.to_decimal(symgrad.jvp(d, {"w5": 1}, digits=12).value, 9)
    '0.0821670406'
    """
    seed = _direction(derivation, v, leaves=True)

    def compute(digits_):
        solver = Solver(derivation.network, exact=digits_ is not None, digits=digits_, rounding=Rounding(),
                         overrides=Overrides())
        env = solver.forward(solver.leaves(at), derivation.order)
        factors = {}

        def factor(key):
            if key not in factors:
                f = derivation.factors[key]
                factors[key] = solver.guard(lambda: solver.value(f.expr, env), f"the local partial {f.leibniz}",
                                            env, f.expr)
            return factors[key]

        zero = solver.number(0)
        add = lambda items: solver.arith.add(items) if len(items) > 1 else (items[0] if items else zero)  # noqa: E731
        return tangent_pass(derivation, {k: solver.number(x) for k, x in seed.items()}, factor, add, zero)

    tangents = certify(compute, digits)
    return JvpValues(tangents[derivation.output], tangents, digits)


#: Parts of the Hessian a variant of H·v leaves out, by name (the second-order check's bug catalogue).
VARIANTS = ("activation curvature", "curvature outside the loss")


def _keeper(derivation: Derivation, drop: str) -> Callable[[SecondFactor], bool]:
    """Which derivatives of local factors a variant keeps."""
    if drop not in VARIANTS:
        raise InvalidArgument(f"drop={drop!r}: choose one of {', '.join(VARIANTS)}")
    network = derivation.network
    if drop == "activation curvature":
        return lambda s: not isinstance(network.nodes[s.of[0]].expr, sympy.Function)
    loss = set(gauss_newton_split(network)[1])
    return lambda s: s.of[0] in loss


def _reaches_param(network, name: str, through: set[str]) -> bool:
    """Whether a parameter reaches ``name`` along a path that enters no node of ``through``."""
    seen, stack = {name}, [name]
    while stack:
        node = network.nodes.get(stack.pop())
        for operand in (node.operands if node is not None else ()):
            if operand in seen or operand in through:
                continue
            if network.leaves.get(operand) is not None and network.leaves[operand].kind == "param":
                return True
            seen.add(operand)
            stack.append(operand)
    return False


def gauss_newton_split(network) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(outputs, loss nodes) of the Gauss–Newton split E = L(y(θ)).

    The loss terms are the nodes that read a target. The outputs y are the nodes those terms read
    (not leaves, not reading a target themselves) that a parameter reaches other than through
    another such node: so for E = lse − (t1·z1 + t2·z2) with lse = log(exp(z1) + exp(z2)) the
    outputs are z1, z2, not lse. The loss nodes are the loss terms and every node a parameter
    reaches only through the outputs (lse and its exp nodes). InvalidArgument without a target.

    >>> import symgrad
    >>> gauss_newton_split(symgrad.load("mazur"))
    (('out_o1', 'out_o2'), ('E_o1', 'E_o2', 'E_total'))
    """
    targets = set(network.targets)
    if not targets:
        raise InvalidArgument("the Gauss–Newton matrix splits the loss from the network at the nodes that read a "
                              "target, and this network has no targets; use the Hessian (rule='newton')")
    terms = [n for n in network.nodes if targets & set(network.ancestors(n))]
    read = dict.fromkeys(o for t in terms for o in network.nodes[t].operands
                         if o in network.nodes and o not in terms)
    outputs = [c for c in read if _reaches_param(network, c, set(read) - {c})]
    loss = [n for n in network.nodes if n in terms or (n not in outputs and set(outputs) & set(network.ancestors(n))
                                                        and not _reaches_param(network, n, set(outputs)))]
    return tuple(outputs), tuple(loss)


def hvp_variant(derivation: Derivation, v: Mapping[str, object], *, drop: str,
                at: Mapping[str, object] | None = None, digits: int | None = DEFAULT_DIGITS) -> dict[str, mpmath.mpf]:
    """H·v with one part left out, to name a user's bug: ``"activation curvature"`` drops the δ · σ″ terms
    (the derivatives of every activation node's local factor), leaving the Gauss–Newton part.

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> symgrad.to_decimal(hvp_variant(d, {"w5": 1}, drop="activation curvature", digits=12)["w5"], 9)
    '0.0122837523'
    """
    keep = _keeper(derivation, drop)
    second = derive_second(derivation)
    seed = _direction(derivation, v, leaves=False)
    return certify(lambda digits_: ExactPass(second, at, digits_).hvp(seed, keep=keep), digits)


def check_params(derivation: Derivation, names: Sequence[str]) -> tuple[str, ...]:
    """``names`` if each is a parameter the output depends on; InvalidArgument naming the bad one otherwise."""
    params = derivation.network.params
    for name in names:
        if name not in params:
            raise InvalidArgument(f"{name!r} is not a parameter of the network; use names among "
                                  f"{', '.join(params[:12])}")
    return tuple(names)

