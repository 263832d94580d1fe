"""The matrix form with the numba backend: BLAS for the products, one fused pass for the rest.

The NumPy matrix form (``symgrad.matrix_code``) spends its time in two places: the matrix
products, which BLAS already runs at full speed, and the elementwise work around them — add
the bias, apply the activation, form act′ and scale it by the upstream δ, the loss and its
derivative, the bias gradients' row sums — where NumPy makes a temporary array and a pass
over memory for every operation. Here every product stays a NumPy ``@`` (BLAS, on every
core), and each block of elementwise work is one generated numba kernel that passes over its
arrays once (on one thread: measured, threads cost more than they saved at these sizes):

* ``forward_l(f, b) -> h``: ``f += b`` in place and ``h = act(f)``;
* ``output_L(h, f, T) -> (loss per feature, δ_L, Σ_batch δ_L)``: the loss term, and
  δ_L = ∂ℓ/∂ŷ ⊙ act′ with its row sums (the bias gradient);
* ``backward_l(h, f, upstream) -> δ_l``: δ_l = upstream ⊙ act′, in place.

The formulas are the matrix derivation's own (``derive_matrix``: SymPy's act′ and ∂ℓ/∂u),
printed for one element; ``exp`` is ``fused_kernels.fast_exp``. The output layer's sums go
in a fixed order (each feature's batch sum in sample order, then the features in order) and
the hidden bias gradients are NumPy's row sums, so the result does not depend on the thread
count. The batch goes in fixed chunks of rows, as in the NumPy matrix form
(``FUSED_MATRIX_CHUNK_SCALE`` times ``matrix_code.chunk_rows``): small temporaries, reused by
the allocator rather than fresh pages on every call, and the sums added in chunk order.
Covered: every activation and every per-output loss of the matrix form; softmax
cross-entropy (a sum across features per sample) stays on the NumPy backend.

>>> import symgrad
>>> source, _ = fused_matrix_source(symgrad.mlp([3, 4, 2]))
>>> "def forward_1(f, b):" in source and "h1 = forward_1(f1, b1)" in source and "CHUNK_ROWS = 8192" in source
True
"""

from __future__ import annotations

import sympy

from .codegen import Names
from .errors import InvalidArgument
from .fused_module import IMPORTS, JIT, FusedGradient, FusedPrinter, kernel_lines, load_module
from .generated import check_reduction
from .graph import Network
from .layout import MLPStructure, mlp_structure
from .limits import FUSED_MATRIX_CHUNK_SCALE
from .matrix import LOSS_TERMS, MatrixDerivation, derive_matrix, output_share
from .matrix_code import ROWS_WHY, chunk_function, chunk_loop, chunk_rows, matrix_layout, product_into

__all__ = ["compile_fused_matrix", "fused_matrix_source"]


def compile_fused_matrix(network: Network, *, reduction: str = "mean") -> FusedGradient:
    """Compile ``network``'s matrix form with BLAS products and numba elementwise passes, and load it."""
    source, layout = fused_matrix_source(network, reduction=reduction)
    module = load_module(source)
    return FusedGradient(source, layout["inputs"], layout["targets"], layout["params"], reduction, "matrix",
                         module.value_and_grad, module.__file__)


def fused_matrix_source(network: Network, *, reduction: str = "mean") -> tuple[str, dict]:
    """The numba module source of ``network``'s matrix form, and its parameter layout."""
    check_reduction(reduction, allowed=("mean", "sum"))
    structure = mlp_structure(network)
    if structure.loss == "softmax_cross_entropy":
        raise InvalidArgument("the numba backend's matrix form covers the per-output losses; softmax cross-entropy "
                              "sums across the outputs of each sample: use backend='numpy' (its matrix form covers it)")
    writer = _KernelWriter(derive_matrix(structure), FusedPrinter(Names()))
    L = len(structure.widths) - 1
    params, _ = matrix_layout(structure)
    rows = ["", "# forward pass: BLAS for W h, one fused pass for the bias and the activation"]
    for layer in range(1, L + 1):
        writer.forward(layer)
        bias_arg = f"b{layer}" if structure.bias != "none" else "0.0"
        rows += [f"f{layer} = {f'W{layer} @ h{layer - 1}'}", f"h{layer} = forward_{layer}(f{layer}, {bias_arg})"]
    writer.output(L)
    rows += ["", "# loss and output delta: one fused pass",
             f"loss_parts, delta{L}, delta_sum{L} = output_{L}(h{L}, f{L}, T)", "loss = add_in_order(loss_parts)"]
    rows += ["", "# backward pass: BLAS for W^T delta, one fused pass for delta_l = (W^T delta) ⊙ act'"]
    for layer in range(L - 1, 0, -1):
        writer.backward(layer)
        rows.append(f"delta{layer} = backward_{layer}(h{layer}, f{layer}, W{layer + 1}.T @ delta{layer + 1})")
        rows.append(f"delta_sum{layer} = np.sum(delta{layer}, axis=1)")
    names, gradients = _gradient_lines(structure, params)
    rows += gradients + ["return loss, " + ", ".join(f"grad_{n}" for n in names)]
    body = chunk_loop(params, names, structure, reduction, targets="np.ascontiguousarray({})")
    why = f"{FUSED_MATRIX_CHUNK_SCALE} x the NumPy matrix form's ({ROWS_WHY}): each chunk costs numba dispatches"
    return _module(network, structure, reduction, params, writer,
                   chunk_function(params, rows, _chunk_rows(structure), why), body)


def _gradient_lines(structure: MLPStructure, params: dict) -> tuple[list[str], list[str]]:
    """Each parameter's gradient over a chunk: BLAS δ hᵀ for the weights, the row sums of δ for the biases."""
    body = [""]
    names = []
    for layer in range(1, len(structure.widths)):
        for name, text in ((f"W{layer}", product_into(f"delta{layer}", f"h{layer - 1}.T", len(names) + 1)),
                           (f"b{layer}", f"delta_sum{layer}" if structure.bias == "neuron"
                            else f"add_in_order(delta_sum{layer})")):
            if name in params:
                body.append(f"grad_{name} = {text}")
                names.append(name)
    return names, body


def _module(network: Network, structure: MLPStructure, reduction: str, params: dict, writer: _KernelWriter,
            rows: str, body: list[str]) -> tuple[str, dict]:
    """The whole module: docstring, imports, kernels, ``add_in_order``, the layers' kernels, ``value_and_grad``."""
    inputs, targets = tuple(network.inputs), tuple(network.targets)
    widths = "-".join(map(str, structure.widths))
    doc = (f"Loss and gradients of a {widths} {structure.activation} network, {structure.loss} loss {reduction} "
           "over the batch (matrix form; BLAS products, fused numba elementwise passes).")
    lines = [repr(f"{doc}\n\nGenerated by symgrad; needs NumPy and numba (pip install \"symgrad[fast]\")."), "",
             *IMPORTS, "", f"N_INPUTS = {len(inputs)}", f"N_TARGETS = {len(targets)}", f"INPUTS = {inputs!r}",
             f"TARGETS = {targets!r}", "PARAMS = {" + ", ".join(f"{k!r}: {v!r}" for k, v in params.items()) + "}", ""]
    lines += kernel_lines(writer.printer.kernels)
    lines += ["", f"@{JIT}", "def add_in_order(parts):",
              "    'A sum in index order: the same bytes on any thread count.'",
              "    total = 0.0", "    for k in range(parts.shape[0]):", "        total += parts[k]", "    return total",
              "", ""]
    lines += writer.kernels
    lines += [rows, "", ""]
    lines += ["def value_and_grad(params, inputs, targets):",
              f"    {repr(doc + ' Returns (loss, {param name: gradient}).')}"]
    lines += [f"    {line}" if line else "" for line in body]
    return "\n".join(lines) + "\n", {"inputs": inputs, "targets": targets, "params": params}


def _chunk_rows(structure: MLPStructure) -> int:
    """``FUSED_MATRIX_CHUNK_SCALE`` times the NumPy matrix form's chunk rows (``chunk_rows``)."""
    return FUSED_MATRIX_CHUNK_SCALE * chunk_rows(structure.widths)


class _KernelWriter:
    """The numba kernels of one network's elementwise passes, each formula printed for one element."""

    def __init__(self, deriv: MatrixDerivation, printer: FusedPrinter):
        self.deriv = deriv
        self.printer = printer
        self.kernels: list[str] = []
        self.locals = {eq.name: eq.expr for eq in deriv.backward}

    def element(self, expr: sympy.Expr, mapping: dict) -> str:
        """One element's formula, each symbol of ``mapping`` printed as the given source text."""
        return self.printer.with_override(mapping, expr)

    def own_names(self, expr: sympy.Expr) -> str:
        """A loss term (in u = ŷ and t) printed with the kernel's variables of the same names."""
        return self.element(expr, {s: s.name for s in expr.free_symbols})

    def local_factor(self, layer: int) -> str:
        """act′ of layer ``layer`` for element (i, j), in h or in f as the derivation has it."""
        expr = self.locals[f"delta{layer}"]
        local = next(a for a in expr.args if hasattr(a, "function"))
        var, body = local.function.variables[0], local.function.expr
        source = local.expr.name  # h{layer} or f{layer}
        return self.element(body, {var: f"{source[0]}[i, j]"})

    def forward(self, layer: int) -> None:
        """``forward_l(f, b) -> h``: f += b in place, h = act(f)."""
        act = next(eq.expr for eq in self.deriv.forward if eq.name == f"h{layer}")
        bias = {"neuron": "b[i]", "layer": "b", "none": "0.0"}[self.deriv.structure.bias]  # one element's bias
        self.kernels += [f"@{JIT}", f"def forward_{layer}(f, b):",
                         f"    'f += b in place; returns h{layer} = act(f).'",
                         "    h = np.empty_like(f)", "    for i in range(f.shape[0]):",
                         "        for j in range(f.shape[1]):",
                         f"            u = f[i, j] + {bias}", "            f[i, j] = u",
                         f"            h[i, j] = {self.element(act.function.expr, {act.function.variables[0]: 'u'})}",
                         "    return h", "", ""]

    def output(self, L: int) -> None:
        """``output_L(h, f, T)``: the loss term and δ_L = ∂ℓ/∂ŷ ⊙ act′ in one pass."""
        term = LOSS_TERMS[self.deriv.structure.loss] * output_share(self.deriv.structure)  # mse: mean over outputs
        self.kernels += [f"@{JIT}", f"def output_{L}(h, f, T):",
                         "    'Loss per feature, δ_L = dℓ/dŷ ⊙ act′ and its batch sums (the bias gradient).'",
                         "    n, batch = h.shape", "    loss = np.zeros(n)", "    delta = np.empty_like(h)",
                         "    total = np.zeros(n)", "    for i in range(n):", "        part = 0.0", "        s = 0.0",
                         "        for j in range(batch):", "            u = h[i, j]", "            t = T[i, j]",
                         f"            part += {self.own_names(term)}",
                         f"            d = ({self.own_names(self.deriv.loss_grad)})*({self.local_factor(L)})",
                         "            delta[i, j] = d", "            s += d", "        loss[i] = part",
                         "        total[i] = s", "    return loss, delta, total", "", ""]

    def backward(self, layer: int) -> None:
        """``backward_l(h, f, upstream)``: δ = upstream ⊙ act′, in place (no running sum, so it vectorises)."""
        self.kernels += [f"@{JIT}", f"def backward_{layer}(h, f, upstream):",
                         "    'δ = upstream ⊙ act′, in place in upstream.'",
                         "    for i in range(upstream.shape[0]):", "        for j in range(upstream.shape[1]):",
                         f"            upstream[i, j] = upstream[i, j]*({self.local_factor(layer)})",
                         "    return upstream", "", ""]
