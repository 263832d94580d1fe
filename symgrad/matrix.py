"""The matrix form of dense networks: W1, b1, … as matrix symbols, h = act(W h + b).

The backward pass is derived in vector form by one table of rules, as the third lecture
writes it:

    δ_L = ∂L/∂ŷ ⊙ act′(f_L),   δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ act′(f_l),
    ∂L/∂W_l = δ_l h_{l−1}ᵀ,     ∂L/∂b_l = δ_l.

act′ is SymPy's derivative of the scalar activation, re-expressed in h where it can be
(σ′ = h(1 − h), tanh′ = 1 − h²). ∂L/∂ŷ is SymPy's derivative of the scalar loss term. The
equations are SymPy matrix expressions; ``explicit`` expands them entry by entry (for the
test against the scalar form) and ``compile_matrix`` prints them as matrix products over the
batch, each sample a column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .codegen import Names, NumpyPrinter
from .compile import CompiledGradient, _check_reduction, load_source
from .errors import GraphError
from .expr import parse_expression
from .graph import Network
from .layers import ACTIVATIONS, MLPStructure

__all__ = ["MatrixDerivation", "derive_matrix", "compile_matrix", "matrix_source", "matrix_params"]

_u = sympy.Symbol("u", real=True)  # the element an elementwise function acts on
_t = sympy.Symbol("t", real=True)  # a target element

# One table: loss name -> the per-output scalar loss term ℓ(u = ŷ_k, t = t_k).
LOSS_TERMS = {
    "half_sse": sympy.Rational(1, 2) * (_u - _t) ** 2,  # ½(t − ŷ)², written so r = ŷ − t is ∂ℓ/∂ŷ
    "sse": (_u - _t) ** 2,
    "l1": sympy.Abs(_u - _t),
    "hinge": sympy.Max(0, 1 - _t * _u),
}


@dataclass(frozen=True)
class VectorEquation:
    """One vector equation of the matrix form: ``name = expr``."""

    name: str
    expr: sympy.MatrixExpr


@dataclass(frozen=True)
class MatrixDerivation:
    """Forward and backward equations of a dense network in matrix form."""

    structure: MLPStructure
    symbols: dict[str, sympy.MatrixSymbol]
    forward: tuple[VectorEquation, ...]
    backward: tuple[VectorEquation, ...]
    gradients: dict[str, sympy.MatrixExpr]  # W1, b1, ... -> ∂L/∂param for one sample
    loss_grad: sympy.Expr | None  # ∂ℓ/∂u as a scalar in u, t (None for softmax cross-entropy)
    layer_bias: bool  # one shared scalar bias per layer (the lecture's b1, b2)

    def equations(self) -> list[str]:
        """Every equation as text, forward then backward then gradients."""
        rows = [f"{e.name} = {e.expr}" for e in self.forward + self.backward]
        rows += [f"dL/d{k} = {v}" for k, v in self.gradients.items()]
        return rows

    def explicit(self, network: Network) -> dict[str, sympy.Expr]:
        """Each scalar parameter's gradient, expanded entry by entry from the matrix equations."""
        widths = self.structure.widths
        subs = {self.symbols["h0"]: sympy.Matrix([network.symbol(n) for n in network.inputs])}
        t_vec = sympy.Matrix([network.symbol(n) for n in network.targets])
        for layer, (W, b) in enumerate(_param_names(self.structure, network), start=1):
            subs[self.symbols[f"W{layer}"]] = sympy.Matrix(widths[layer], widths[layer - 1],
                                                           lambda j, i: network.symbol(W[j][i]))
            subs[self.symbols[f"b{layer}"]] = sympy.Matrix([network.symbol(n) if n else 0 for n in b])
        values: dict[str, sympy.Matrix] = {}
        for eq in self.forward:
            values[eq.name] = _explicit(eq.expr, subs)
            subs[self.symbols[eq.name]] = values[eq.name]
        L = len(widths) - 1
        yhat = values[f"h{L}"]
        if self.loss_grad is None:
            lse = sympy.log(sum(sympy.exp(v) for v in yhat))
            g = sympy.Matrix([sympy.exp(v - lse) * sum(t_vec) - t for v, t in zip(yhat, t_vec)])
        else:
            g = sympy.Matrix([self.loss_grad.xreplace({_u: v, _t: t}) for v, t in zip(yhat, t_vec)])
        subs[self.symbols["dL_dyhat"]] = g
        for eq in self.backward:
            subs[self.symbols[eq.name]] = _explicit(eq.expr, subs)
        out: dict[str, sympy.Expr] = {}
        for layer, (W, b) in enumerate(_param_names(self.structure, network), start=1):
            gW = _explicit(self.gradients[f"W{layer}"], subs)
            gb = _explicit(self.gradients[f"b{layer}"], subs)
            for j, row in enumerate(W):
                for i, name in enumerate(row):
                    out[name] = gW[j, i]
            if self.layer_bias and b[0]:
                out[b[0]] = sum(gb)
            else:
                for j, name in enumerate(b):
                    if name:
                        out[name] = gb[j]
        return out


def _explicit(expr, subs: dict) -> sympy.Matrix:
    """Evaluate a matrix expression with explicit matrices for its symbols, entry by entry."""
    if isinstance(expr, sympy.MatrixSymbol):
        return sympy.Matrix(subs[expr])
    if isinstance(expr, sympy.Transpose):
        return _explicit(expr.arg, subs).T
    if isinstance(expr, sympy.MatMul):
        coeff, mats = expr.as_coeff_matrices()
        out = _explicit(mats[0], subs)
        for m in mats[1:]:
            out = out * _explicit(m, subs)
        return out * coeff
    if isinstance(expr, sympy.MatAdd):
        parts = [_explicit(a, subs) for a in expr.args]
        out = parts[0]
        for part in parts[1:]:
            out = out + part
        return out
    if isinstance(expr, sympy.HadamardProduct):
        parts = [_explicit(a, subs) for a in expr.args]
        out = parts[0]
        for part in parts[1:]:
            out = out.multiply_elementwise(part)
        return out
    if isinstance(expr, ElementwiseApplyFunction):
        var, body = expr.function.variables[0], expr.function.expr
        return _explicit(expr.expr, subs).applyfunc(lambda entry: body.xreplace({var: entry}))
    raise GraphError(f"cannot expand the matrix expression {expr}")


def _activation(name: str, slope: str) -> sympy.Expr:
    if name not in ACTIVATIONS:
        raise GraphError(f"the matrix form supports the activations {', '.join(ACTIVATIONS)}, not {name!r}")
    return parse_expression(ACTIVATIONS[name]("u", slope)).expr.xreplace({sympy.Symbol("u"): _u})


def _derivative(name: str, slope: str) -> tuple[sympy.Expr, bool]:
    """act′ as a function of u, and whether u stands for h (the output) rather than f."""
    act = _activation(name, slope)
    d = sympy.diff(act, _u)
    if act != _u and act.is_Function:
        in_h = d.xreplace({act: sympy.Symbol("h_")})
        if _u not in in_h.free_symbols:
            return in_h.xreplace({sympy.Symbol("h_"): _u}), True
    return d, False


def _elementwise(expr: sympy.Expr, arg: sympy.MatrixExpr) -> sympy.MatrixExpr:
    return ElementwiseApplyFunction(sympy.Lambda(_u, expr), arg)


def derive_matrix(structure: MLPStructure) -> MatrixDerivation:
    """Derive the forward and backward equations of a dense network in vector form."""
    if structure.activation == "maxout":
        raise GraphError("the matrix form does not cover maxout layers; use the scalar form")
    if structure.loss == "zero_one":
        raise GraphError("the zero-one loss is piecewise constant and has no gradient")
    # Dimensions stay symbolic (n0, n1, …): the equations are the same for every width, and
    # SymPy does not fold 1×1 matrix expressions into scalars.
    L = len(structure.widths) - 1
    dims = [sympy.Symbol(f"n{k}", integer=True, positive=True) for k in range(L + 1)]
    widths = dims
    sym: dict[str, sympy.MatrixSymbol] = {"h0": sympy.MatrixSymbol("h0", widths[0], 1)}
    forward = []
    for layer in range(1, L + 1):
        n, m = widths[layer], widths[layer - 1]
        sym[f"W{layer}"] = sympy.MatrixSymbol(f"W{layer}", n, m)
        sym[f"b{layer}"] = sympy.MatrixSymbol(f"b{layer}", n, 1)
        sym[f"f{layer}"] = sympy.MatrixSymbol(f"f{layer}", n, 1)
        sym[f"h{layer}"] = sympy.MatrixSymbol(f"h{layer}", n, 1)
        act_name = structure.output_activation if layer == L else structure.activation
        forward.append(VectorEquation(f"f{layer}", sym[f"W{layer}"] * sym[f"h{layer - 1}"] + sym[f"b{layer}"]))
        forward.append(VectorEquation(f"h{layer}", _elementwise(_activation(act_name, structure.slope),
                                                                sym[f"f{layer}"])))
    sym["dL_dyhat"] = sympy.MatrixSymbol("dL_dyhat", widths[L], 1)
    loss_grad = None
    if structure.loss != "softmax_cross_entropy":
        if structure.loss not in LOSS_TERMS:
            raise GraphError(f"the matrix form does not cover the loss {structure.loss!r}")
        loss_grad = sympy.diff(LOSS_TERMS[structure.loss], _u)
    backward = []
    upstream = sym["dL_dyhat"]
    gradients: dict[str, sympy.MatrixExpr] = {}
    for layer in range(L, 0, -1):
        act_name = structure.output_activation if layer == L else structure.activation
        d, in_h = _derivative(act_name, structure.slope)
        sym[f"delta{layer}"] = sympy.MatrixSymbol(f"delta{layer}", widths[layer], 1)
        local = _elementwise(d, sym[f"h{layer}"] if in_h else sym[f"f{layer}"])
        backward.append(VectorEquation(f"delta{layer}", sympy.HadamardProduct(upstream, local)))
        gradients[f"W{layer}"] = sym[f"delta{layer}"] * sym[f"h{layer - 1}"].T
        gradients[f"b{layer}"] = sym[f"delta{layer}"]
        upstream = sym[f"W{layer}"].T * sym[f"delta{layer}"]
    gradients = dict(sorted(gradients.items(), key=lambda kv: (int(kv[0][1:]), kv[0][0] != "W")))
    return MatrixDerivation(structure, sym, tuple(forward), tuple(backward), gradients, loss_grad,
                            structure.bias == "layer")


def _param_names(structure: MLPStructure, network: Network) -> list[tuple[list[list[str]], list[str | None]]]:
    """For each layer, the scalar names of W's entries and of b's entries (mlp's naming scheme)."""
    widths = structure.widths
    L = len(widths) - 1
    out = []
    k = 1
    for layer in range(1, L + 1):
        n, m = widths[layer], widths[layer - 1]
        W = [[f"w{k + j * m + i}" for i in range(m)] for j in range(n)]
        k += n * m
        if layer == L:
            neurons = [f"o{j}" for j in range(1, n + 1)]
        elif L == 2:
            neurons = [f"h{j}" for j in range(1, n + 1)]
        else:
            neurons = [f"h{layer}_{j}" for j in range(1, n + 1)]
        if structure.bias == "none":
            b: list[str | None] = [None] * n
        elif structure.bias == "layer":
            b = [f"b{layer}"] * n
        else:
            b = [f"b_{name}" for name in neurons]
        out.append((W, b))
    return out


def matrix_params(network: Network, values: dict | None = None) -> dict[str, np.ndarray]:
    """The network's parameters (or ``values``, by scalar name) as W1, b1, … arrays."""
    structure = _structure(network)
    if values is None and not network.params:  # matrix form only: seeded initial weights
        return _initial_arrays(structure)
    values = values if values is not None else {p: network.values[p] for p in network.params}
    out: dict[str, np.ndarray] = {}
    for layer, (W, b) in enumerate(_param_names(structure, network), start=1):
        out[f"W{layer}"] = np.array([[float(values[n]) for n in row] for row in W], dtype=np.float64)
        if structure.bias == "layer":
            out[f"b{layer}"] = np.float64(float(values[b[0]]))
        elif structure.bias == "neuron":
            out[f"b{layer}"] = np.array([float(values[n]) for n in b], dtype=np.float64)
    return out


def _initial_arrays(structure: MLPStructure) -> dict[str, np.ndarray]:
    """Weights drawn N(0, 1/fan_in) and zero biases, from the structure's seed."""
    rng = np.random.default_rng(structure.seed)
    out: dict[str, np.ndarray] = {}
    for layer, (m, n) in enumerate(zip(structure.widths[:-1], structure.widths[1:]), start=1):
        out[f"W{layer}"] = rng.normal(0.0, 1.0 / np.sqrt(m), size=(n, m))
        if structure.bias == "neuron":
            out[f"b{layer}"] = np.zeros(n)
        elif structure.bias == "layer":
            out[f"b{layer}"] = np.float64(0.0)
    return out


def scalar_gradients(network: Network, grads: dict[str, np.ndarray]) -> dict[str, float]:
    """Matrix-form gradients mapped back to the scalar parameter names."""
    structure = _structure(network)
    out: dict[str, float] = {}
    for layer, (W, b) in enumerate(_param_names(structure, network), start=1):
        for j, row in enumerate(W):
            for i, name in enumerate(row):
                out[name] = float(grads[f"W{layer}"][j, i])
        if structure.bias == "layer":
            out[b[0]] = float(grads[f"b{layer}"])
        elif structure.bias == "neuron":
            for j, name in enumerate(b):
                out[name] = float(grads[f"b{layer}"][j])
    return out


def _structure(network: Network) -> MLPStructure:
    if not isinstance(network.structure, MLPStructure):
        raise GraphError("the matrix form needs a network of dense layers built by mlp() or an [mlp] spec")
    return network.structure


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
    from .compile import _module

    _check_reduction(reduction)
    structure = _structure(network)
    deriv = derive_matrix(structure)
    widths = structure.widths
    L = len(widths) - 1
    printer = NumpyPrinter(Names())
    bias_text = {}
    params: dict[str, tuple[int, ...]] = {}
    for layer in range(1, L + 1):
        params[f"W{layer}"] = (widths[layer], widths[layer - 1])
        if structure.bias == "neuron":
            params[f"b{layer}"] = (widths[layer],)
            bias_text[f"b{layer}"] = f"b{layer}[:, None]"
        elif structure.bias == "layer":
            params[f"b{layer}"] = ()
        else:
            bias_text[f"b{layer}"] = "0.0"
    mp = _MatrixPrinter(printer, bias_text)
    body = ["h0 = inputs.T  # (features, batch): each sample a column", "T = targets.T", "batch = inputs.shape[0]"]
    for name in params:
        body.append(f"{name} = params[{name!r}]")
    body += ["", "# forward pass"]
    for eq in deriv.forward:
        if isinstance(eq.expr, sympy.MatAdd) and structure.bias != "none":  # W h + b, the bias added in place
            product, bias = sorted(eq.expr.args, key=lambda a: isinstance(a, sympy.MatrixSymbol))
            body.append(f"{eq.name} = {mp(product)}")
            body.append(f"{eq.name} += {mp(bias)}")
        else:
            body.append(f"{eq.name} = {mp(eq.expr)}")
    yhat = f"h{L}"
    u, t = _u, _t
    lam = structure.l2
    if deriv.loss_grad is None:
        printer.kernels.add("logsumexp_rows")
        body.append(f"lse = logsumexp_rows({yhat})")
        loss_text = f"np.sum(lse*np.sum(T, axis=0)) - np.sum(T*{yhat})"
        grad_text = f"np.exp({yhat} - lse)*np.sum(T, axis=0) - T"
    else:
        # The loss term and its derivative share subexpressions (t − ŷ): compute them once.
        shared, (term, grad) = sympy.cse([LOSS_TERMS[structure.loss], deriv.loss_grad],
                                         symbols=(sympy.Symbol(f"r{k}") for k in range(100)))
        mapping = {u: yhat, t: "T"}
        for sym_, expr in shared:
            body.append(f"{sym_.name} = {printer.with_override(mapping, expr)}")
            mapping[sym_] = sym_.name
        coeff, rest = term.as_coeff_Mul()
        summed = f"np.sum({printer.with_override(mapping, rest)})"
        loss_text = summed if coeff == 1 else f"{float(coeff)!r}*{summed}"
        grad_text = printer.with_override(mapping, grad)
    body.append(f"loss = ({loss_text})/batch" if reduction == "mean" else f"loss = {loss_text}")
    if lam is not None:
        penalty = f"{float(lam)!r}*(" + " + ".join(f"np.sum({p}*{p})" for p in params) + ")"
        body.append(f"loss = loss + {penalty}" + ("" if reduction == "mean" else "*batch"))
    body += ["", "# backward pass: delta_L = dL/dyhat ⊙ act'(f_L), delta_l = (W_{l+1}^T delta_{l+1}) ⊙ act'(f_l)"]
    # The mean's 1/batch is applied to the (small) gradient matrices, not to δ_L.
    body.append(f"dL_dyhat = {grad_text}")
    for eq in deriv.backward:  # δ = upstream ⊙ act′: the local factor first, then scaled in place
        upstream, local = eq.expr.args if not isinstance(eq.expr.args[0], ElementwiseApplyFunction) \
            else eq.expr.args[::-1]
        local_text = mp(local)
        if local_text.isidentifier():  # never scale a named array (h, f) in place
            body.append(f"{eq.name} = {local_text}*({mp(upstream)})")
        else:
            body.append(f"{eq.name} = {local_text}")
            body.append(f"{eq.name} *= {mp(upstream)}")
    body += ["", f"scale = {'1.0 / batch' if reduction == 'mean' else '1.0'}", "grads = {"]
    penalty_scale = "" if reduction == "mean" else "*batch"
    for name, expr in deriv.gradients.items():
        if name.startswith("b"):
            if structure.bias == "none":
                continue
            text = f"np.sum({mp(expr)}, axis=1)" if structure.bias == "neuron" else f"np.sum({mp(expr)})"
        else:
            text = mp(expr)
        text = f"scale*{text}" if text.startswith("np.") else f"scale*({text})"
        if lam is not None:
            text = f"{text} + {2 * float(lam)!r}*{name}{penalty_scale}"
        body.append(f"    {name!r}: {text},")
    body += ["}", "return float(loss), grads"]
    description = (f"{'-'.join(map(str, widths))} {structure.activation} network, {structure.loss} loss "
                   f"{reduction} over the batch (matrix form)")
    inputs = tuple(network.inputs)
    targets = tuple(network.targets)
    source = _module(f"Loss and gradients of a {description}.", inputs, targets, params, printer.kernels, body)
    return source, {"inputs": inputs, "targets": targets, "params": params}


def compile_matrix(network: Network, *, reduction: str = "mean") -> CompiledGradient:
    """Compile a dense network's matrix form: matrix products over the whole batch."""
    source, layout = matrix_source(network, reduction=reduction)
    namespace = load_source(source, "matrix")
    return CompiledGradient(source, layout["inputs"], layout["targets"], layout["params"], reduction, "matrix",
                            namespace["value_and_grad"], namespace["__file__"])
