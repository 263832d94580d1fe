"""The matrix form as NumPy source: matrix products over the batch, each sample a column.

``symgrad.matrix`` derives the vector equations (h = act(W h + b), δ_l = (W_{l+1}ᵀ δ_{l+1})
⊙ act′); this module prints them as a standalone module, ``value_and_grad(params, inputs,
targets)``, and loads it (``compile_matrix``). The L2 penalty's lines (``penalty_lines``,
``gradient_tail``) and the parameter layout (``matrix_layout``) are shared with the numba
backend's matrix form (``symgrad.fused_matrix``).
"""

from __future__ import annotations

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .codegen import Names, NumpyPrinter, float_literal, kernel_source
from .errors import GraphError
from .generated import CompiledGradient, check_reduction, load_source, module_source
from .graph import Network
from .layout import MLPStructure, mlp_structure
from .limits import CHUNK_MIN_ROWS, MAX_CHUNK_BYTES
from .matrix import ELEMENT, LOSS_TERMS, TARGET, MatrixDerivation, derive_matrix, output_share

__all__ = ["compile_matrix", "matrix_source", "chunk_rows", "chunk_function", "chunk_loop", "product_into", "matrix_layout", "penalty_lines", "gradient_tail"]


class _MatrixPrinter:
    """SymPy matrix expressions → NumPy over (features, batch) arrays."""

    def __init__(self, printer: NumpyPrinter, names: dict[str, str]):
        self.printer = printer
        self.names = names

    def __call__(self, expr) -> str:
        if isinstance(expr, sympy.MatrixSymbol):
            return self.names.get(expr.name, expr.name)
        if isinstance(expr, sympy.Transpose):
            return f"{self.wrap(expr.arg)}.T"
        if isinstance(expr, sympy.MatMul):
            coeff, mats = expr.as_coeff_matrices()
            text = " @ ".join(self.wrap(m) for m in mats)
            return text if coeff == 1 else f"{float(coeff)!r}*({text})"
        if isinstance(expr, sympy.MatAdd):
            return " + ".join(self(a) for a in expr.args)
        if isinstance(expr, sympy.HadamardProduct):
            return "*".join(self.wrap(a) for a in expr.args)
        if isinstance(expr, ElementwiseApplyFunction):
            body = expr.function.expr
            arg = self(expr.expr)
            return self.printer.with_override({expr.function.variables[0]: arg}, body)
        raise GraphError(f"no NumPy translation for the matrix expression {expr}")

    def wrap(self, expr) -> str:
        text = self(expr)
        return text if isinstance(expr, (sympy.MatrixSymbol, sympy.Transpose)) else f"({text})"


def matrix_source(network: Network, *, reduction: str = "mean") -> tuple[str, dict]:
    """The standalone module source of the matrix form, and its parameter layout.

    The batch goes through ``rows_value_and_grad`` in chunks of ``CHUNK_ROWS`` rows (``chunk_rows``),
    whose sums ``value_and_grad`` adds in chunk order; the mean's 1/batch and the L2 penalty come
    once, at the end.
    """
    check_reduction(reduction, allowed=("mean", "sum"))
    structure = mlp_structure(network)
    deriv = derive_matrix(structure)
    printer = NumpyPrinter(Names())
    params, bias_text = matrix_layout(structure)
    print_matrix = _MatrixPrinter(printer, bias_text)
    rows = ["", "# forward pass", *_matrix_forward(deriv, print_matrix)]
    rows += _matrix_loss(deriv, printer)
    rows += ["", "# backward pass: delta_L = dL/dyhat ⊙ act'(f_L), delta_l = (W_{l+1}^T delta_{l+1}) ⊙ act'(f_l)",
             *_matrix_backward(deriv, print_matrix)]
    names = _gradient_names(deriv)
    rows += _matrix_gradients(deriv, print_matrix) + ["return loss, " + ", ".join(f"grad_{n}" for n in names)]
    widths = structure.widths
    description = (f"{'-'.join(map(str, widths))} {structure.activation} network, {structure.loss} loss "
                   f"{reduction} over the batch (matrix form)")
    inputs, targets = tuple(network.inputs), tuple(network.targets)
    source = module_source(f"Loss and gradients of a {description}.", inputs=inputs, targets=targets,
                           params=params, kernels=kernel_source(printer.kernels),
                           helpers=chunk_function(params, rows, chunk_rows(widths), ROWS_WHY),
                           signature="value_and_grad(params, inputs, targets)",
                           body=chunk_loop(params, names, structure, reduction, targets="{}"))
    return source, {"inputs": inputs, "targets": targets, "params": params}


ROWS_WHY = f"the widest temporary within {MAX_CHUNK_BYTES:,} bytes, at least {CHUNK_MIN_ROWS} rows"


def chunk_rows(widths) -> int:
    """Rows per chunk: the widest (features, rows) temporary within ``MAX_CHUNK_BYTES``, at least ``CHUNK_MIN_ROWS``.

    Every temporary of the matrix form is (width of a layer after the input) × rows of float64
    (the input and the targets are views). The rows are a function of the widths only, so the
    chunk boundaries, and the order the sums are added in, are fixed for a given batch.

    >>> chunk_rows([4, 8, 8, 8, 4]), chunk_rows([784, 100, 10])
    (1024, 256)
    """
    return max(CHUNK_MIN_ROWS, MAX_CHUNK_BYTES // (8 * max(widths[1:])))


def chunk_function(params: dict, rows: list[str], chunk: int, why: str) -> str:
    """``CHUNK_ROWS`` (``why``: its comment) and ``rows_value_and_grad``, the sums over one chunk of rows.

    >>> print(chunk_function({"W1": (1, 1)}, ["loss = np.sum(W1 @ h0)", "return loss"], 256, "why").splitlines()[3])
    def rows_value_and_grad(W1, h0, T, work):
    """
    signature = ", ".join([*params, "h0", "T", "work"])
    lines = [f"CHUNK_ROWS = {chunk}  # {why}", "", "", f"def rows_value_and_grad({signature}):",
             "    'Loss and gradients summed over one chunk; h0 and T are (features, rows). The weight gradients go '",
             "    'into work (the sums of the previous chunk, already added), if given, not into fresh arrays.'"]
    return "\n".join(lines + [f"    {line}" if line else "" for line in rows])


def chunk_loop(params: dict, names: list[str], structure: MLPStructure, reduction: str, *,
               targets: str) -> list[str]:
    """The chunks in order, their sums added in order, then the mean's scale and the L2 penalty.

    ``targets`` is how a chunk's targets are passed, ``{}`` standing for the (features, rows) view.

    >>> from symgrad import mlp
    >>> lines = chunk_loop({"W1": (1, 1)}, ["W1"], mlp([1, 1]).structure, "mean", targets="{}")
    >>> lines[-5:-2]
    ['', 'scale = 1.0 / batch', 'grad_W1 *= scale']
    """
    sums = ["loss", *(f"grad_{n}" for n in names)]
    args = ", ".join(params)
    target = targets.format("targets[{0}].T")
    call = f"rows_value_and_grad({args}, inputs[{{0}}].T, {target}, {{1}})"
    body = ["inputs = np.asarray(inputs, dtype=np.float64)", "targets = np.asarray(targets, dtype=np.float64)",
            "batch = inputs.shape[0]", *(f"{name} = params[{name!r}]" for name in params), "",
            "# chunks of CHUNK_ROWS rows, added in order: small temporaries, reused by the allocator",
            f"{', '.join(sums)} = {call.format(':CHUNK_ROWS', 'None')}", "part = None",
            "for start in range(CHUNK_ROWS, batch, CHUNK_ROWS):",
            f"    part = {call.format('start:start + CHUNK_ROWS', 'part')}",
            *(f"    {name} += part[{k}]" for k, name in enumerate(sums))]
    if reduction == "mean":
        body.append("loss = loss/batch")
    body += penalty_lines(structure.l2, params, reduction)
    body += ["", "scale = 1.0 / batch"] if reduction == "mean" else [""]
    body += [line for name in names for line in gradient_tail(name, structure.l2, reduction)]
    return body + ["grads = {" + ", ".join(f"{n!r}: grad_{n}" for n in names) + "}", "return float(loss), grads"]


def _gradient_names(deriv: MatrixDerivation) -> list[str]:
    """The parameters with a gradient: every weight, and the biases unless there are none."""
    return [name for name in deriv.gradients if not (name.startswith("b") and deriv.structure.bias == "none")]


def matrix_layout(structure: MLPStructure) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """Each parameter array's shape, and how a bias is added to a (features, batch) array."""
    widths = structure.widths
    params: dict[str, tuple[int, ...]] = {}
    bias_text: dict[str, str] = {}
    for layer in range(1, len(widths)):
        params[f"W{layer}"] = (widths[layer], widths[layer - 1])
        if structure.bias == "neuron":
            params[f"b{layer}"] = (widths[layer],)
            bias_text[f"b{layer}"] = f"b{layer}[:, None]"
        elif structure.bias == "layer":
            params[f"b{layer}"] = ()
        else:
            bias_text[f"b{layer}"] = "0.0"
    return params, bias_text


def _matrix_forward(deriv: MatrixDerivation, print_matrix: _MatrixPrinter) -> list[str]:
    body = []
    for eq in deriv.forward:
        if isinstance(eq.expr, sympy.MatAdd) and deriv.structure.bias != "none":  # W h + b, the bias added in place
            product, bias = sorted(eq.expr.args, key=lambda a: isinstance(a, sympy.MatrixSymbol))
            body.append(f"{eq.name} = {print_matrix(product)}")
            body.append(f"{eq.name} += {print_matrix(bias)}")
        else:
            body.append(f"{eq.name} = {print_matrix(eq.expr)}")
    return body


def _matrix_loss(deriv: MatrixDerivation, printer: NumpyPrinter) -> list[str]:
    """The loss summed over the chunk's rows, and ``dL_dyhat`` for the backward pass."""
    yhat = f"h{len(deriv.structure.widths) - 1}"
    body = []
    if deriv.loss_grad is None:
        printer.kernels.add("logsumexp_rows")
        body.append(f"lse = logsumexp_rows({yhat})")
        loss_text = f"np.sum(lse*np.sum(T, axis=0)) - np.sum(T*{yhat})"
        grad_text = f"np.exp({yhat} - lse)*np.sum(T, axis=0) - T"
    else:
        # The loss term and its derivative share subexpressions (t − ŷ): compute them once.
        shared, (term, grad) = sympy.cse([LOSS_TERMS[deriv.structure.loss], deriv.loss_grad],
                                         symbols=sympy.numbered_symbols("r"))
        mapping = {ELEMENT: yhat, TARGET: "T"}
        for sym_, expr in shared:
            body.append(f"{sym_.name} = {printer.with_override(mapping, expr)}")
            mapping[sym_] = sym_.name
        coeff, rest = term.as_coeff_Mul()
        coeff *= output_share(deriv.structure)  # mse: the mean over the K outputs
        summed = f"np.sum({printer.with_override(mapping, rest)})"
        loss_text = summed if coeff == 1 else f"{float_literal(coeff)}*{summed}"
        grad_text = printer.with_override(mapping, grad)
    # The mean's 1/batch is applied to the (small) sums at the end, not to δ_L.
    return body + [f"loss = {loss_text}", f"dL_dyhat = {grad_text}"]


def _matrix_backward(deriv: MatrixDerivation, print_matrix: _MatrixPrinter) -> list[str]:
    """δ = upstream ⊙ act′: the local factor first, then scaled in place."""
    body = []
    for eq in deriv.backward:
        upstream, local = eq.expr.args if not isinstance(eq.expr.args[0], ElementwiseApplyFunction) \
            else eq.expr.args[::-1]
        local_text = print_matrix(local)
        if local_text.isidentifier():  # never scale a named array (h, f) in place
            body.append(f"{eq.name} = {local_text}*({print_matrix(upstream)})")
        else:
            body.append(f"{eq.name} = {local_text}")
            body.append(f"{eq.name} *= {print_matrix(upstream)}")
    return body


def _matrix_gradients(deriv: MatrixDerivation, print_matrix: _MatrixPrinter) -> list[str]:
    """Each gradient summed over the chunk's rows: δ hᵀ for a weight, δ's row sums for a bias."""
    structure = deriv.structure
    body = [""]
    for name in _gradient_names(deriv):
        expr = deriv.gradients[name]
        if name.startswith("b"):
            axis = ", axis=1" if structure.bias == "neuron" else ""
            text = f"np.sum({print_matrix(expr)}{axis})"
        else:
            coeff, mats = expr.as_coeff_matrices()  # δ_l h_{l-1}ᵀ
            text = (product_into(*map(print_matrix.wrap, mats), len(body)) if coeff == 1 and len(mats) == 2
                    else print_matrix(expr))
        body.append(f"grad_{name} = {text}")
    return body


def product_into(left: str, right: str, k: int) -> str:
    """``left @ right`` written into ``work[k]`` (the previous chunk's sum, once added) when there is one.

    >>> product_into("delta1", "h0.T", 1)
    'np.matmul(delta1, h0.T, out=None if work is None else work[1])'
    """
    return f"np.matmul({left}, {right}, out=None if work is None else work[{k}])"


def penalty_lines(l2: object, params, reduction: str) -> list[str]:
    """The L2 penalty λ·Σ param² added to the loss (once per sample when summed)."""
    if l2 is None:
        return []
    penalty = f"{float_literal(l2, what='the L2 strength')}*(" + " + ".join(f"np.sum({p}*{p})" for p in params) + ")"
    return [f"loss = loss + {penalty}" + ("" if reduction == "mean" else "*batch")]


def gradient_tail(name: str, l2: object, reduction: str) -> list[str]:
    """The mean's 1/batch, in place, and the L2 penalty's gradient 2λ·param (λ·batch·2·param summed)."""
    lines = [f"grad_{name} *= scale"] if reduction == "mean" else []
    if l2 is not None:
        penalty = f"{float_literal(2 * l2, what='the L2 strength')}*{name}"
        lines.append(f"grad_{name} = grad_{name} + {penalty}" + ("" if reduction == "mean" else "*batch"))
    return lines


def compile_matrix(network: Network, *, reduction: str = "mean") -> CompiledGradient:
    """Compile a dense network's matrix form: matrix products over the whole batch."""
    source, layout = matrix_source(network, reduction=reduction)
    namespace = load_source(source, "matrix")
    return CompiledGradient(source, layout["inputs"], layout["targets"], layout["params"], reduction, "matrix",
                            namespace["value_and_grad"], namespace["__file__"])
