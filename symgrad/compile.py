"""Compile a derivation into fast, vectorised NumPy: loss and every gradient over a batch.

The generated function runs the forward pass once, keeping every node as a named array
(``out_h1``), then the reverse pass, one ``delta_x`` per quantity as the sum over its
consumers of ``delta_c * ∂c/∂x`` — the derivation's own adjoint terms, so the cost is a
small constant times the forward pass. Common subexpressions of the local factors are
shared through ``sympy.cse``. The source is readable, shown as ``.source``, and registered
in ``linecache`` so tracebacks point into it.
"""

from __future__ import annotations

import itertools
import linecache
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy

from .chain import Derivation
from .codegen import Names, NumpyPrinter, kernel_source
from .errors import GraphError

__all__ = ["CompiledGradient", "compile_gradient", "scalar_source", "REDUCTIONS"]

REDUCTIONS = ("mean", "sum")
_counter = itertools.count()


@dataclass(frozen=True)
class CompiledGradient:
    """A compiled ``value_and_grad(params, inputs, targets) -> (loss, grads)``.

    ``params`` maps each name in ``PARAMS`` to an array of its shape; ``inputs`` has shape
    (batch, n_inputs) in the order ``inputs``; ``targets`` (batch, n_targets).
    """

    source: str
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    params: dict[str, tuple[int, ...]]
    reduction: str
    form: str
    function: Callable = field(repr=False)
    filename: str = ""

    def __call__(self, params, inputs, targets):
        return self.function(params, inputs, targets)

    def initial_params(self, network) -> dict[str, np.ndarray]:
        """The network's default parameter values in this function's layout."""
        if self.form == "matrix":
            from .matrix import matrix_params

            return matrix_params(network)
        return {p: np.float64(float(network.values[p])) for p in self.params}

    def scalar_gradients(self, network, grads: dict) -> dict[str, float]:
        """Gradients by the network's scalar parameter names, whatever the form."""
        if self.form == "matrix":
            from .matrix import scalar_gradients

            return scalar_gradients(network, grads)
        return {p: float(g) for p, g in grads.items()}


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise GraphError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def scalar_source(derivation: Derivation, *, reduction: str = "mean", docstring: str = "") -> tuple[str, dict]:
    """The standalone module source of the scalar form, and its layout."""
    _check_reduction(reduction)
    net = derivation.network
    out = derivation.output
    names = Names()
    printer = NumpyPrinter(names)
    order = derivation.order
    inputs, targets = net.inputs, net.targets
    params = net.params
    body: list[str] = []
    for k, name in enumerate(inputs):
        body.append(f"{names.get(name)} = inputs[:, {k}]")
    for k, name in enumerate(targets):
        body.append(f"{names.get(name)} = targets[:, {k}]")
    for name in params:
        body.append(f"{names.get(name)} = params[{name!r}]")
    for name, leaf in net.leaves.items():
        if leaf.kind == "constant":
            body.append(f"{names.get(name)} = {float(net.values[name])!r}")
    body.append("batch = inputs.shape[0]")
    body.append("")
    body.append("# forward pass")
    for name in order:
        node = net.nodes.get(name)
        if node is not None:
            body.append(f"{names.get(name)} = {printer(node.expr)}")
    reducer = "np.mean" if reduction == "mean" else "np.sum"
    body.append(f"loss = {reducer}(np.broadcast_to({names.get(out)}, (batch,)))")
    body.append("")
    body.append("# backward pass: delta_x = sum over consumers c of delta_c * dc/dx")
    keys = list(derivation.factors)
    shared, reduced = sympy.cse([derivation.factors[k].expr for k in keys],
                                symbols=(sympy.Symbol(f"cse{k}") for k in itertools.count()), optimizations=None)
    for sym, expr in shared:
        body.append(f"{names.get(sym.name)} = {printer(expr)}")
    local = dict(zip(keys, reduced))
    # δ_output = 1 per sample; the mean's 1/batch is applied once to each summed gradient.
    # A δ that is exactly 1 (the output, and a sum node's operands) is never materialised.
    unit = {out}
    needed = _needed_adjoints(derivation)
    for adj in derivation.adjoints.values():
        if adj.name == out or adj.name not in needed:
            continue
        terms = []
        for t in adj.terms:
            factor = local[t.consumer, adj.name]
            delta = None if t.consumer in unit else names.get(t.consumer, "delta")
            if delta is None:
                terms.append(printer(factor))
            elif factor == 1:
                terms.append(delta)
            elif factor == -1:
                terms.append(f"-{delta}")
            else:
                terms.append(f"{delta}*{printer.atom(factor)}")
        if len(adj.terms) == 1 and adj.terms[0].consumer in unit and local[adj.terms[0].consumer, adj.name] == 1:
            unit.add(adj.name)
            continue
        if adj.name in params:
            continue  # parameter gradients are reduced term by term below, never materialised
        expr = terms[0]
        for term in terms[1:]:
            expr += f" - {term[1:]}" if term.startswith("-") else f" + {term}"
        body.append(f"{names.get(adj.name, 'delta')} = {expr}")
    body.append("")
    scale = "1.0 / batch" if reduction == "mean" else "1.0"
    body.append(f"scale = {scale}")
    body.append("grads = {")
    for p in params:
        adj = derivation.adjoints.get(p)
        if adj is None:
            body.append(f"    {p!r}: 0.0,")
        else:
            parts = []
            for t in adj.terms:
                factor = local[t.consumer, p]
                if t.consumer in unit:
                    parts.append(f"total({printer(factor)}, batch)")
                elif factor == 1:
                    parts.append(f"total({names.get(t.consumer, 'delta')}, batch)")
                else:
                    parts.append(f"dot_total({names.get(t.consumer, 'delta')}, {printer(factor)}, batch)")
            joined = " + ".join(parts)
            body.append(f"    {p!r}: scale * {joined if len(parts) == 1 else f'({joined})'},")
    body.append("}")
    body.append("return float(loss), grads")
    kernels_used = printer.kernels
    module = _module(
        docstring or (f"Loss and gradients of {out!r} for the network: {net.description or 'a symgrad network'}; "
                      f"{reduction} over the batch (scalar form)."),
        inputs, targets, {p: () for p in params}, kernels_used, body,
        extra='''def total(delta, batch):
    """Sum a per-sample adjoint over the batch (a scalar adjoint stands for every sample)."""
    return float(np.sum(delta)) if np.ndim(delta) else float(delta) * batch


def dot_total(delta, factor, batch):
    """Σ over the batch of delta * factor, as one dot product when both are arrays."""
    if np.ndim(delta) and np.ndim(factor):
        return float(np.dot(delta, factor))
    return total(np.multiply(delta, factor), batch)''')
    return module, {"inputs": inputs, "targets": targets, "params": {p: () for p in params}}


def _needed_adjoints(derivation: Derivation) -> set[str]:
    """The quantities whose δ some parameter's gradient needs: params and everything above them."""
    needed = set(p for p in derivation.network.params if p in derivation.adjoints)
    frontier = list(needed)
    while frontier:
        name = frontier.pop()
        for term in derivation.adjoints[name].terms:
            if term.consumer not in needed:
                needed.add(term.consumer)
                frontier.append(term.consumer)
    return needed


def _module(docstring: str, inputs, targets, params: dict, kernels_used: set[str], body: list[str],
            extra: str = "") -> str:
    # Docstrings go through repr(): a spec's description is untrusted text, and repr() always
    # yields one inert string literal, whatever quotes or backslashes it holds.
    lines = [repr(f"{docstring}\n\nGenerated by symgrad; needs only NumPy."), "", "import numpy as np", ""]
    lines.append(f"N_INPUTS = {len(inputs)}")
    lines.append(f"N_TARGETS = {len(targets)}")
    lines.append(f"INPUTS = {tuple(inputs)!r}")
    lines.append(f"TARGETS = {tuple(targets)!r}")
    lines.append("PARAMS = {" + ", ".join(f"{k!r}: {v!r}" for k, v in params.items()) + "}")
    lines.append("")
    source = kernel_source(kernels_used)
    if source:
        lines += ["", source, ""]
    if extra:
        lines += ["", extra, ""]
    lines += ["", "def value_and_grad(params, inputs, targets):",
              f"    {repr(docstring + ' Returns (loss, {param name: gradient of the same shape}).')}",
              "    inputs = np.asarray(inputs, dtype=np.float64)",
              "    targets = np.asarray(targets, dtype=np.float64)"]
    lines += [f"    {line}" if line else "" for line in body]
    return "\n".join(lines) + "\n"


def load_source(source: str, tag: str) -> dict:
    """Execute generated source (ours, built from parsed trees) and register it for tracebacks."""
    filename = f"<symgrad-{tag}-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"symgrad_generated_{tag}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated, not user text
    return namespace | {"__file__": filename}


def compile_gradient(derivation: Derivation, *, reduction: str = "mean", form: str = "scalar") -> CompiledGradient:
    """Compile ``derivation`` into NumPy; ``form="matrix"`` for networks built by ``mlp``.

    >>> import numpy as np, symgrad
    >>> f = symgrad.compile_gradient(symgrad.derive(symgrad.load("mazur")), reduction="sum")
    >>> loss, grads = f(f.initial_params(symgrad.load("mazur")), [[0.05, 0.10]], [[0.01, 0.99]])
    >>> round(grads["w5"], 9)
    0.082167041
    """
    if form == "matrix":
        from .matrix import compile_matrix

        return compile_matrix(derivation.network, reduction=reduction)
    if form != "scalar":
        raise GraphError(f"form must be 'scalar' or 'matrix', got {form!r}")
    source, layout = scalar_source(derivation, reduction=reduction)
    namespace = load_source(source, "scalar")
    return CompiledGradient(source, layout["inputs"], layout["targets"], layout["params"], reduction, "scalar",
                            namespace["value_and_grad"], namespace["__file__"])
