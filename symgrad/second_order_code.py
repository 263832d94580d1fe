"""The compiled NumPy form of forward mode and forward-over-reverse, over a batch of points.

The generated function runs the same passes as ``second_order`` on whole columns: the
forward pass and local factors (``rowcode``'s lines, through the stable rewrites), the
tangents ṅ = Σ ∂n/∂o · ȯ, the δ of the reverse pass, and δ̇_x = Σ_c (δ̇_c · ∂c/∂x +
δ_c · Σ_y ∂(∂c/∂x)/∂y · ẏ). One call gives, at each of P points, the loss, J·v and H·v;
the Hessian is P × n × n, one call per parameter direction.

>>> import numpy as np, symgrad
>>> f = compile_second_order(symgrad.derive(symgrad.load("mazur")))
>>> round(float(f.hvp({}, {"w5": 1.0})["w5"][0]), 9)
-0.012222954
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from .chain import Derivation, accumulate
from .codegen import Names, NumpyPrinter, float_literal, kernel_source
from .errors import GraphError, InvalidArgument
from .generated import load_source, module_source
from .rowcode import RowWriter, forward_lines, joined, local_factor_lines, print_factor
from .second_order import SecondOrder, derive_second
from .stable import stabilize

__all__ = ["CompiledSecondOrder", "SecondOrderPoints", "compile_second_order", "second_order_source"]

_HELPERS = '''def per_point(value, points):
    """A value (scalar or array of P points) as a fresh float64 array of shape (points,)."""
    return np.array(np.broadcast_to(value, (points,)), dtype=np.float64)'''


@dataclass(frozen=True)
class SecondOrderPoints:
    """At each of P points: the loss, the output's tangent J·v, and H·v by parameter (each shape (P,))."""

    loss: np.ndarray
    jvp: np.ndarray
    hvp: dict[str, np.ndarray]


@dataclass(frozen=True)
class CompiledSecondOrder:
    """Compiled forward mode and forward-over-reverse; ``source`` is the generated module."""

    source: str
    params: tuple[str, ...]
    leaves: tuple[str, ...]
    defaults: dict[str, float]
    function: Callable = field(repr=False)

    def at(self, leaves: Mapping[str, object], v: Mapping[str, object], *, points: int | None = None) -> SecondOrderPoints:
        """Loss, J·v and H·v at P points: each leaf and each tangent a scalar or a 1-D array of P values."""
        for what, given in (("leaf", leaves), ("tangent", v)):
            unknown = sorted(str(k) for k in given if k not in self.leaves)
            if unknown:
                raise InvalidArgument(f"{unknown[0]!r} is not a leaf of the compiled network (as a {what}); its "
                                      f"leaves are {', '.join(self.leaves)}")
        arrays = [np.asarray(x, dtype=np.float64) for x in [*leaves.values(), *v.values()]]
        if any(a.ndim > 1 for a in arrays):
            raise InvalidArgument("each leaf and tangent must be a scalar or a 1-D array of points")
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays), (points,) if points else (1,))
        except ValueError:
            raise InvalidArgument("the leaves and tangents give different numbers of points; give every array "
                                  "the same length P") from None
        full = {**self.defaults, **{k: np.asarray(x, dtype=np.float64) for k, x in leaves.items()}}
        tangent = {k: np.asarray(x, dtype=np.float64) for k, x in v.items()}
        loss, jv, hv = self.function(full, tangent, shape[0])
        return SecondOrderPoints(loss, jv, hv)

    def hvp(self, leaves: Mapping[str, object], v: Mapping[str, object], *, points: int | None = None) -> dict:
        """H·v by parameter name, each of shape (P,)."""
        unknown = [str(k) for k in v if k not in self.params]
        if unknown:
            raise InvalidArgument(f"v names {unknown[0]!r}, which is not a parameter; use names among "
                                  f"{', '.join(self.params[:10])}")
        return self.at(leaves, v, points=points).hvp

    def jvp(self, leaves: Mapping[str, object], v: Mapping[str, object], *, points: int | None = None) -> np.ndarray:
        """J·v, the output's tangent, of shape (P,)."""
        return self.at(leaves, v, points=points).jvp

    def hessian(self, leaves: Mapping[str, object], *, points: int | None = None) -> np.ndarray:
        """The Hessian at each point, shape (P, n, n), rows and columns in ``params`` order."""
        columns = [self.hvp(leaves, {p: 1.0}, points=points) for p in self.params]
        return np.stack([np.stack([col[q] for q in self.params], axis=-1) for col in columns], axis=-1)


def _seconds_lines(w: RowWriter, second: SecondOrder) -> tuple[dict, list[str]]:
    names, body = {}, []
    for k, s in enumerate(s for group in second.seconds.values() for s in group):
        name = w.names.get(str(k), "second")
        try:
            body.append(f"{name} = {w.printer(stabilize(s.expr))}")
        except GraphError as exc:
            raise GraphError(f"cannot compile the derivative of ∂{s.of[0]}/∂{s.of[1]}: {exc}") from None
        names[s] = name
    return names, body


def _pass_lines(w: RowWriter, second: SecondOrder, local: dict, seconds: dict) -> list[str]:
    """Tangent, δ and δ̇ lines (the two passes of ``second_order``, as source)."""
    derivation, names = w.derivation, w.names
    body = ["", "# forward mode: tangents"]
    for name in derivation.order:
        node = derivation.network.nodes.get(name)
        if node is not None:
            terms = [f"{print_factor(w, local[name, o], name, o, atom=True)}*{names.get(o, 'dot')}"
                     for o in node.operands]
            body.append(f"{names.get(name, 'dot')} = {joined(terms)}")
    body += ["", "# reverse pass: delta, and its tangent ddelta (forward over reverse)"]
    out = derivation.output
    body += [f"{names.get(out, 'delta')} = 1.0", f"{names.get(out, 'ddelta')} = 0.0"]

    def total(name: str, consumers: list) -> str:
        deltas, dots = [], []
        for c in consumers:
            f = print_factor(w, local[c, name], c, name, atom=True)
            deltas.append(f"{names.get(c, 'delta')}*{f}")
            moved = [f"{seconds[s]}*{names.get(s.wrt, 'dot')}" for s in second.seconds[c, name]]
            dots.append(f"{names.get(c, 'ddelta')}*{f}")
            if moved:
                dots.append(f"{names.get(c, 'delta')}*({joined(moved)})")
        body.append(f"{names.get(name, 'delta')} = {joined(deltas)}")
        body.append(f"{names.get(name, 'ddelta')} = {joined(dots)}")
        return name

    accumulate(derivation, out, lambda _, t: t.consumer, total)
    return body


def second_order_source(derivation: Derivation) -> str:
    """The standalone module source: ``second_order_at(leaves, tangent, points)``."""
    net = derivation.network
    second = derive_second(derivation)
    names = Names({"tangent", "per_point"})
    w = RowWriter(derivation, names, NumpyPrinter(names))
    body = [f"{names.get(leaf)} = leaves[{leaf!r}]" for leaf in net.leaves if leaf in derivation.order]
    body += [f"{names.get(leaf, 'dot')} = tangent.get({leaf!r}, 0.0)" for leaf in net.leaves
             if leaf in derivation.order]
    body += ["", "# forward pass", *forward_lines(w)]
    local, lines = local_factor_lines(w)
    body += ["", "# local factors and their derivatives", *lines]
    seconds, lines = _seconds_lines(w, second)
    body += lines + _pass_lines(w, second, local, seconds)
    hv = ", ".join(f"{p!r}: per_point({names.get(p, 'ddelta') if p in derivation.adjoints else '0.0'}, points)"
                   for p in net.params)
    body += ["", f"return per_point({names.get(derivation.output)}, points), "
                 f"per_point({names.get(derivation.output, 'dot')}, points), {{{hv}}}"]
    doc = (f"Loss, J·v and H·v of {derivation.output!r} at P points, by forward mode and forward over reverse, for "
           f"the network: {net.description or 'a symgrad network'}.")
    source = module_source(doc, inputs=net.inputs, targets=net.targets, params={p: () for p in net.params},
                           kernels=kernel_source(w.printer.kernels), helpers=_HELPERS,
                           signature="second_order_at(leaves, tangent, points)", body=body)
    # module_source describes a gradient's return value; this function returns three things
    return source.replace("Returns (loss per point (P,), {param name: gradient per point (P,)}).",
                          "Returns (loss (P,), J·v (P,), {param name: H·v (P,)}).", 1)


def compile_second_order(derivation: Derivation) -> CompiledSecondOrder:
    """Compile forward mode and forward-over-reverse of ``derivation`` to NumPy, over a batch of points.

    >>> import numpy as np, symgrad
    >>> f = compile_second_order(symgrad.derive(symgrad.load("mazur")))
    >>> f.hessian({"w5": np.array([0.40, 0.45])}).shape
    (2, 10, 10)
    """
    net = derivation.network
    source = second_order_source(derivation)
    namespace = load_source(source, "second-order")
    defaults = {k: float(float_literal(v, what=f"the value of {k!r}").strip("()")) for k, v in net.values.items()
                if k in net.leaves}
    return CompiledSecondOrder(source, net.params, tuple(net.leaves), defaults, namespace["second_order_at"])
