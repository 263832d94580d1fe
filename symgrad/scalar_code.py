"""The scalar form as NumPy source: one named array per quantity, then one δ per quantity.

The forward pass keeps every node as a named array (``out_h1``); the reverse pass computes
one ``delta_x`` per quantity as the sum over its consumers of ``delta_c * ∂c/∂x``, the
derivation's own adjoint terms, so the cost is a small constant times the forward pass.
Common subexpressions of the local factors are shared through ``sympy.cse``; the lines
themselves are ``symgrad.rowcode``'s. With ``reduction="none"`` the module computes one loss
and gradient per point (``value_and_grad_at``), for gradient checks and property tests; that
form skips ``cse``, which was 40 % of compiling a new network and saves nothing on the few
points a check evaluates (the same bits either way; 22 % slower for mazur at 10,000 points).
"""

from __future__ import annotations

from .chain import Derivation
from .codegen import Names, NumpyPrinter, float_literal, kernel_source
from .errors import GraphError
from .generated import CompiledGradient, check_reduction, load_source, module_source
from .graph import Network
from .rowcode import RowWriter, adjoint_lines, constant_literal, delta_term, forward_lines, joined, local_factor_lines, \
    print_factor

__all__ = ["compile_scalar", "scalar_source"]

_BATCH_HELPERS = '''def total(delta, batch):
    """Sum a per-sample adjoint over the batch (a scalar adjoint stands for every sample)."""
    return float(np.sum(delta)) if np.ndim(delta) else float(delta) * batch


def dot_total(delta, factor, batch):
    """Σ over the batch of delta * factor, as one dot product when both are arrays."""
    if np.ndim(delta) and np.ndim(factor):
        return float(np.dot(delta, factor))
    return total(np.multiply(delta, factor), batch)'''

_POINT_HELPERS = '''def per_point(value, points):
    """A value (scalar or array of P points) as a fresh float64 array of shape (points,)."""
    return np.array(np.broadcast_to(value, (points,)), dtype=np.float64)'''


def scalar_source(derivation: Derivation, *, reduction: str = "mean", docstring: str = "") -> tuple[str, dict]:
    """The standalone module source of the scalar form, and its layout."""
    check_reduction(reduction)
    net = derivation.network
    names = Names()
    w = RowWriter(derivation, names, NumpyPrinter(names))
    points = reduction == "none"
    body = _point_leaf_lines(w) if points else _batch_leaf_lines(w)
    body += ["", "# forward pass", *forward_lines(w)]
    out = names.get(derivation.output)
    if points:
        body.append(f"loss = per_point({out}, points)")
    else:
        reducer = "np.mean" if reduction == "mean" else "np.sum"
        body.append(f"loss = {reducer}(np.broadcast_to({out}, (batch,)))")
    body += ["", "# backward pass: delta_x = sum over consumers c of delta_c * dc/dx"]
    local, lines = local_factor_lines(w, share=not points)
    body += lines
    unit, lines = adjoint_lines(w, local)
    body += lines + [""]
    body += _point_gradient_lines(w, local, unit) if points else _batch_gradient_lines(w, local, unit, reduction)
    params = {p: () for p in net.params}
    what = "per point (scalar form)" if points else f"{reduction} over the batch (scalar form)"
    doc = docstring or (f"Loss and gradients of {derivation.output!r} for the network: "
                        f"{net.description or 'a symgrad network'}; {what}.")
    module = module_source(
        doc, inputs=net.inputs, targets=net.targets, params=params, kernels=kernel_source(w.printer.kernels),
        helpers=_POINT_HELPERS if points else _BATCH_HELPERS,
        signature="value_and_grad_at(leaves, points)" if points else "value_and_grad(params, inputs, targets)",
        body=body, constants=_defaults(net) if points else None)
    return module, {"inputs": net.inputs, "targets": net.targets, "params": params}


def compile_scalar(derivation: Derivation, *, reduction: str = "mean") -> CompiledGradient:
    """Compile ``derivation`` in the scalar form and load it."""
    net = derivation.network
    source, layout = scalar_source(derivation, reduction=reduction)
    namespace = load_source(source, "scalar")
    function = namespace["value_and_grad_at" if reduction == "none" else "value_and_grad"]
    return CompiledGradient(source, layout["inputs"], layout["targets"], layout["params"], reduction, "scalar",
                            function, namespace["__file__"], tuple(net.leaves))


def _batch_leaf_lines(w: RowWriter) -> list[str]:
    """Inputs and targets are batch columns, parameters come from ``params``, constants are literals."""
    net = w.derivation.network
    body = ["inputs = np.asarray(inputs, dtype=np.float64)", "targets = np.asarray(targets, dtype=np.float64)"]
    body += [f"{w.names.get(name)} = inputs[:, {k}]" for k, name in enumerate(net.inputs)]
    body += [f"{w.names.get(name)} = targets[:, {k}]" for k, name in enumerate(net.targets)]
    # np.float64, so a Python float 0.0 divides as IEEE arithmetic does (inf), never raising.
    body += [f"{w.names.get(name)} = np.float64(params[{name!r}])" for name in net.params]
    body += [f"{w.names.get(name)} = {constant_literal(net, name)}"
             for name, leaf in net.leaves.items() if leaf.kind == "constant"]
    return body + ["batch = inputs.shape[0]"]


def _point_leaf_lines(w: RowWriter) -> list[str]:
    """Every leaf, constants included, comes from ``leaves`` as a scalar or an array of points."""
    net = w.derivation.network
    return [f"{w.names.get(name)} = np.asarray(leaves[{name!r}], dtype=np.float64)" for name in net.leaves]


def _defaults(net: Network) -> dict[str, str]:
    """The network's leaf values as float literals; values beyond float64 are left out (give them)."""
    out = {}
    for name in net.leaves:
        if name in net.values:
            try:
                out[name] = float_literal(net.values[name], what=f"the value of {name!r}")
            except GraphError:
                continue
    return out


def _batch_gradient_lines(w: RowWriter, local: dict, unit: set[str], reduction: str) -> list[str]:
    """``grads = {p: scale * Σ over the batch of δ·factor}``, one dot product per term."""
    body = [f"scale = {'1.0 / batch' if reduction == 'mean' else '1.0'}", "grads = {"]
    for p in w.derivation.network.params:
        adj = w.derivation.adjoints.get(p)
        if adj is None:
            body.append(f"    {p!r}: 0.0,")
            continue
        parts = []
        for t in adj.terms:
            factor = local[t.consumer, p]
            if t.consumer in unit:
                parts.append(f"total({print_factor(w, factor, t.consumer, p)}, batch)")
            elif factor == 1:
                parts.append(f"total({w.names.get(t.consumer, 'delta')}, batch)")
            else:
                parts.append(f"dot_total({w.names.get(t.consumer, 'delta')}, "
                             f"{print_factor(w, factor, t.consumer, p)}, batch)")
        joined = " + ".join(parts)
        body.append(f"    {p!r}: scale * {joined if len(parts) == 1 else f'({joined})'},")
    return body + ["}", "return float(loss), grads"]


def _point_gradient_lines(w: RowWriter, local: dict, unit: set[str]) -> list[str]:
    """``grads = {p: Σ δ·factor at each point}``, every gradient an array of shape (points,)."""
    body = ["grads = {"]
    for p in w.derivation.network.params:
        adj = w.derivation.adjoints.get(p)
        if adj is None:
            body.append(f"    {p!r}: per_point(0.0, points),")
            continue
        terms = [delta_term(w, local[t.consumer, p], t.consumer, p, unit) for t in adj.terms]
        body.append(f"    {p!r}: per_point({joined(terms)}, points),")
    return body + ["}", "return loss, grads"]
