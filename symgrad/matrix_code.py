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
from .matrix import ELEMENT, LOSS_TERMS, TARGET, MatrixDerivation, derive_matrix, output_share

__all__ = ["compile_matrix", "matrix_source", "matrix_layout", "penalty_lines", "gradient_tail"]


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
    """The standalone module source of the matrix form, and its parameter layout."""
    check_reduction(reduction, allowed=("mean", "sum"))
    structure = mlp_structure(network)
    deriv = derive_matrix(structure)
    printer = NumpyPrinter(Names())
    params, bias_text = matrix_layout(structure)
    print_matrix = _MatrixPrinter(printer, bias_text)
    body = ["inputs = np.asarray(inputs, dtype=np.float64)", "targets = np.asarray(targets, dtype=np.float64)",
            "h0 = inputs.T  # (features, batch): each sample a column", "T = targets.T", "batch = inputs.shape[0]"]
    body += [f"{name} = params[{name!r}]" for name in params]
    body += ["", "# forward pass", *_matrix_forward(deriv, print_matrix)]
    body += _matrix_loss(deriv, printer, reduction, params)
    body += ["", "# backward pass: delta_L = dL/dyhat ⊙ act'(f_L), delta_l = (W_{l+1}^T delta_{l+1}) ⊙ act'(f_l)",
             *_matrix_backward(deriv, print_matrix)]
    body += _matrix_gradients(deriv, print_matrix, reduction)
    widths = structure.widths
    description = (f"{'-'.join(map(str, widths))} {structure.activation} network, {structure.loss} loss "
                   f"{reduction} over the batch (matrix form)")
    inputs, targets = tuple(network.inputs), tuple(network.targets)
    source = module_source(f"Loss and gradients of a {description}.", inputs=inputs, targets=targets,
                           params=params, kernels=kernel_source(printer.kernels), helpers="",
                           signature="value_and_grad(params, inputs, targets)", body=body)
    return source, {"inputs": inputs, "targets": targets, "params": params}


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


def _matrix_loss(deriv: MatrixDerivation, printer: NumpyPrinter, reduction: str, params: dict) -> list[str]:
    """The loss over the batch (with the L2 penalty), and ``dL_dyhat``'s text kept for the backward pass."""
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
    body.append(f"loss = ({loss_text})/batch" if reduction == "mean" else f"loss = {loss_text}")
    body += penalty_lines(deriv.structure.l2, params, reduction)
    # The mean's 1/batch is applied to the (small) gradient matrices, not to δ_L.
    return body + [f"dL_dyhat = {grad_text}"]


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


def _matrix_gradients(deriv: MatrixDerivation, print_matrix: _MatrixPrinter, reduction: str) -> list[str]:
    """Each gradient array made once and scaled in place: at 784-100-10 with batch 128 a
    ``scale*(δ hᵀ)`` copy of the 100×784 product was a tenth of the whole evaluation."""
    structure = deriv.structure
    body = [""]
    if reduction == "mean":
        body.append("scale = 1.0 / batch")
    names = []
    for name, expr in deriv.gradients.items():
        if name.startswith("b"):
            if structure.bias == "none":
                continue
            axis = ", axis=1" if structure.bias == "neuron" else ""
            text = f"np.sum({print_matrix(expr)}{axis})"
        else:
            text = print_matrix(expr)
        body.append(f"grad_{name} = {text}")
        body += gradient_tail(name, structure.l2, reduction)
        names.append(name)
    return body + ["grads = {" + ", ".join(f"{n!r}: grad_{n}" for n in names) + "}", "return float(loss), grads"]


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
