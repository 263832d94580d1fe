"""The matrix form of dense networks: W1, b1, … as matrix symbols, h = act(W h + b).

The backward pass is derived in vector form by one table of rules, as the third lecture
writes it:

    δ_L = ∂L/∂ŷ ⊙ act′(f_L),   δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ act′(f_l),
    ∂L/∂W_l = δ_l h_{l−1}ᵀ,     ∂L/∂b_l = δ_l.

act′ is SymPy's derivative of the scalar activation, re-expressed in h where it can be
(σ′ = h(1 − h), tanh′ = 1 − h²). ∂L/∂ŷ is SymPy's derivative of the scalar loss term. The
equations are SymPy matrix expressions; ``explicit`` expands them entry by entry (for the
test against the scalar form), and ``symgrad.matrix_code`` prints them as NumPy matrix
products over the batch, each sample a column.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import GraphError, NotDifferentiable
from .expr import parse_expression
from .graph import Network
from .layers import ACTIVATIONS, LOSSES
from .layout import MLPStructure, matrix_params, param_names, scalar_gradients

__all__ = ["MatrixDerivation", "VectorEquation", "derive_matrix", "matrix_params", "scalar_gradients", "LOSS_TERMS",
           "output_share", "MATRIX_LOSSES", "ELEMENT", "TARGET"]

#: The element an elementwise function acts on (u; ŷ in a loss term), and a target element (t).
ELEMENT = sympy.Symbol("u", real=True)
TARGET = sympy.Symbol("t", real=True)


def _loss_term(text: str) -> sympy.Expr:
    """Parse a per-output loss term; even powers of (t − u) become powers of (u − t), so the loss
    and its derivative share one residual r = ŷ − t in the generated code."""
    parsed = parse_expression(text).expr.xreplace({sympy.Symbol("u"): ELEMENT, sympy.Symbol("t"): TARGET})
    return parsed.replace(lambda e: e.is_Pow and e.exp.is_even and e.base.coeff(ELEMENT).is_negative,
                          lambda e: sympy.Pow(-e.base, e.exp))


#: The per-output loss term ℓ(u = ŷ_k, t = t_k) of every loss that is such a sum, parsed from
#: the same text the scalar form's nodes are built from (``layers.LOSSES``).
LOSS_TERMS: dict[str, sympy.Expr] = {name: _loss_term(rule.term("u", "t"))
                                     for name, rule in LOSSES.items() if rule.term is not None}
def output_share(structure) -> sympy.Rational:
    """1/K for a loss that is the mean over the K outputs (``mse``), else 1."""
    K = structure.widths[-1]
    return sympy.Rational(1, K) if LOSSES[structure.loss].mean_over_outputs else sympy.S.One


#: Every loss the matrix form compiles: the sums above, and softmax cross-entropy by log-sum-exp.
MATRIX_LOSSES: tuple[str, ...] = (*LOSS_TERMS, "softmax_cross_entropy")


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
        for layer, names in enumerate(param_names(self.structure), start=1):
            W = names.weights
            subs[self.symbols[f"W{layer}"]] = sympy.Matrix(widths[layer], widths[layer - 1],
                                                           lambda j, i: network.symbol(W[j][i]))
            subs[self.symbols[f"b{layer}"]] = sympy.Matrix([network.symbol(n) if n else 0 for n in names.biases])
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
            g = sympy.Matrix([self.loss_grad.xreplace({ELEMENT: v, TARGET: t}) for v, t in zip(yhat, t_vec)])
        subs[self.symbols["dL_dyhat"]] = g
        for eq in self.backward:
            subs[self.symbols[eq.name]] = _explicit(eq.expr, subs)
        out: dict[str, sympy.Expr] = {}
        for layer, names in enumerate(param_names(self.structure), start=1):
            W, b = names.weights, names.biases
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
    return parse_expression(ACTIVATIONS[name]("u", slope)).expr.xreplace({sympy.Symbol("u"): ELEMENT})


def _derivative(name: str, slope: str) -> tuple[sympy.Expr, bool]:
    """act′ as a function of u, and whether u stands for h (the output) rather than f."""
    act = _activation(name, slope)
    d = sympy.diff(act, ELEMENT)
    if act != ELEMENT and act.is_Function:
        in_h = d.xreplace({act: sympy.Symbol("h_")})
        if ELEMENT not in in_h.free_symbols:
            return in_h.xreplace({sympy.Symbol("h_"): ELEMENT}), True
    return d, False


def _elementwise(expr: sympy.Expr, arg: sympy.MatrixExpr) -> sympy.MatrixExpr:
    return ElementwiseApplyFunction(sympy.Lambda(ELEMENT, expr), arg)


def derive_matrix(structure: MLPStructure) -> MatrixDerivation:
    """Derive the forward and backward equations of a dense network in vector form."""
    if structure.activation == "maxout":
        raise GraphError("the matrix form does not cover maxout layers; use the scalar form")
    if not LOSSES[structure.loss].differentiable:
        raise NotDifferentiable(
            f"the {structure.loss} loss is piecewise constant and has no gradient; evaluate it, or train on a "
            "differentiable surrogate such as the hinge loss")
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
        loss_grad = sympy.diff(LOSS_TERMS[structure.loss], ELEMENT) * output_share(structure)
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
