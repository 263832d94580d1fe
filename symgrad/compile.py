"""Compile a derivation into fast, vectorised NumPy: loss and every gradient over a batch.

``compile_gradient`` is the one place that chooses the form: the scalar form (this module)
for a derivation, the matrix form (``symgrad.matrix``) for a network built by ``mlp``.

The scalar form runs the forward pass once, keeping every node as a named array
(``out_h1``), then the reverse pass, one ``delta_x`` per quantity as the sum over its
consumers of ``delta_c * ∂c/∂x`` — the derivation's own adjoint terms, so the cost is a
small constant times the forward pass. Common subexpressions of the local factors are
shared through ``sympy.cse``. The source is readable, shown as ``.source``, and registered
in ``linecache`` so tracebacks point into it.

Per-point mode, for gradient checks and property tests (float64, any network):
``f = compile_gradient(derivation, reduction="none")`` gives

* ``f.at(leaves, *, points=None) -> PointGradients``: ``leaves`` maps any leaf name (input,
  target, parameter or constant; missing ones take the network's values) to a float or a 1-D
  array of P values, broadcast together; the result has ``loss`` of shape (P,) and
  ``gradients[p]`` of shape (P,) for every parameter ``p`` of the network.
* ``f(params, inputs, targets) -> (loss, grads)``: the same per sample, unreduced: ``loss``
  of shape (batch,) and each ``grads[p]`` of shape (batch,).

>>> import numpy as np, symgrad
>>> f = compile_gradient(symgrad.derive(symgrad.load("mazur")), reduction="none")
>>> point = f.at({"w5": np.array([0.40, 0.45])})
>>> [round(float(g), 9) for g in point.gradients["w5"]]
[0.082167041, 0.081538033]
"""

from __future__ import annotations

from .chain import Derivation, derive
from .codegen import Names, NumpyPrinter, float_literal, kernel_source
from .errors import GraphError, InvalidArgument
from .generated import FORMS, REDUCTIONS, CompiledGradient, PointGradients, check_reduction, load_source, \
    module_source
from .graph import Network
from .layout import MLPStructure
from .matrix import compile_matrix
from .rowcode import RowWriter, adjoint_lines, constant_literal, delta_term, forward_lines, joined, local_factor_lines, \
    print_factor

__all__ = ["CompiledGradient", "PointGradients", "compile_gradient", "compile_network", "choose_form",
           "scalar_source", "REDUCTIONS"]

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


# -- choosing the form -----------------------------------------------------------------
def choose_form(network: Network, form: str | None, *, derived: bool = False) -> str:
    """The form to compile: ``form`` if given; else matrix for dense ``mlp`` networks not yet derived."""
    if form is not None:
        if form not in FORMS:
            raise InvalidArgument(f"form must be one of {', '.join(map(repr, FORMS))}, got {form!r}")
        return form
    structure = network.structure
    if not derived and isinstance(structure, MLPStructure) and structure.activation != "maxout":
        return "matrix"
    return "scalar"


def compile_gradient(what: Derivation | Network, *, form: str | None = None,
                     reduction: str = "mean", backend: str = "numpy") -> CompiledGradient:
    """Compile a derivation (scalar form, the derivation used as given) or a network into NumPy.

    A network built by ``mlp`` compiles to the matrix form by default (``form="scalar"`` to
    name every weight); any other network is derived, then compiled in the scalar form.
    ``reduction`` is "mean" or "sum" over the batch, or "none" (scalar form) for one loss and
    gradient per point; see the module docstring. ``backend="numba"`` fuses forward and backward
    into one loop over the batch (``symgrad.fused``, the ``fast`` extra).

    >>> import symgrad
    >>> f = symgrad.compile_gradient(symgrad.derive(symgrad.load("mazur")), reduction="sum")
    >>> loss, grads = f(f.initial_params(symgrad.load("mazur")), [[0.05, 0.10]], [[0.01, 0.99]])
    >>> round(grads["w5"], 9)
    0.082167041
    """
    if backend != "numpy":
        if backend != "numba":
            raise InvalidArgument(f"backend must be 'numpy' or 'numba', got {backend!r}")
        from .fused import compile_fused
        return compile_fused(what, form=form, reduction=reduction)
    derived = isinstance(what, Derivation)
    if not derived and not isinstance(what, Network):
        raise InvalidArgument(f"compile_gradient needs a Derivation or a Network, got {type(what).__name__}")
    network = what.network if derived else what
    form = choose_form(network, form, derived=derived)
    check_reduction(reduction, allowed=REDUCTIONS if form == "scalar" else ("mean", "sum"))
    if form == "matrix":
        if derived and what.output != network.output:
            raise InvalidArgument(f"the matrix form computes the network's loss {network.output!r}, but the "
                                  f"derivation is for {what.output!r}; use form='scalar'")
        return compile_matrix(network, reduction=reduction)
    derivation = what if derived else derive(network)
    source, layout = scalar_source(derivation, reduction=reduction)
    namespace = load_source(source, "scalar")
    function = namespace["value_and_grad_at" if reduction == "none" else "value_and_grad"]
    return CompiledGradient(source, layout["inputs"], layout["targets"], layout["params"], reduction, "scalar",
                            function, namespace["__file__"], tuple(network.leaves))


def compile_network(network: Network, *, form: str | None = None, reduction: str = "mean",
                    backend: str = "numpy") -> CompiledGradient:
    """``compile_gradient`` for a network: the matrix form by default for networks built by ``mlp``."""
    return compile_gradient(network, form=form, reduction=reduction, backend=backend)


# -- the scalar form, step by step -------------------------------------------------------
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
    local, lines = local_factor_lines(w)
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
