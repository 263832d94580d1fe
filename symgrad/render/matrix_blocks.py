"""The blocks of the matrix form of an [mlp] network: the same derivation with vectors and matrices.

Part of the worked solution (``solution_blocks``): ``h_l = f(W_l h_{l-1} + b_l)`` forward, the δ
vectors backward, and each parameter's gradient in denominator layout. It reads the
``MatrixDerivation`` it is given (built by ``matrix.derive_matrix`` in ``solve``) and imports
neither matrix.py nor solution.py.
"""

from __future__ import annotations

import re

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .author_form import author_partial
from .blocks import Block, Equations, Heading, Paragraph, join_terms
from .node_text import expression_pieces
from .notation import latex_name

__all__ = ["matrix_blocks"]


def _vector(name: str) -> str:
    """A matrix symbol of the matrix form: h1 → bold h_1, W2 → W_2, delta1 → bold δ_1."""
    if name == "dL_dyhat":
        return r"\frac{\partial \ell}{\partial \hat{\mathbf{y}}}"
    match = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    base, index = (match.group(1), match.group(2)) if match else (name, "")
    head = {"delta": r"\boldsymbol{\delta}", "W": r"W", "h": r"\mathbf{h}", "f": r"\mathbf{f}",
            "b": r"\mathbf{b}"}.get(base, rf"\mathrm{{{base}}}")
    return f"{head}_{{{index}}}" if index else head


def _matrix_latex(expr) -> str:
    if isinstance(expr, sympy.MatrixSymbol):
        return _vector(expr.name)
    if isinstance(expr, sympy.Transpose):
        return _matrix_latex(expr.arg) + r"^{\top}"
    if isinstance(expr, sympy.MatMul):
        return " ".join(_matrix_wrapped(a) for a in expr.args)
    if isinstance(expr, sympy.MatAdd):
        args = sorted(expr.args, key=lambda a: isinstance(a, sympy.MatrixSymbol))  # W h + b, as written
        return " + ".join(_matrix_latex(a) for a in args)
    if isinstance(expr, sympy.HadamardProduct):
        args = [a for a in expr.args if not (isinstance(a, ElementwiseApplyFunction) and a.function.expr == 1)]
        return r" \odot ".join(_matrix_wrapped(a) for a in args) if len(args) > 1 else _matrix_latex(args[0])
    if isinstance(expr, ElementwiseApplyFunction):
        var, body = expr.function.variables[0], expr.function.expr
        return sympy.latex(body, symbol_names={var: _matrix_wrapped(expr.expr)}, mul_symbol=r" \odot ")
    return sympy.latex(expr)


def _matrix_wrapped(expr) -> str:
    text = _matrix_latex(expr)
    if isinstance(expr, (sympy.MatrixSymbol, sympy.Transpose)):
        return text
    return rf"\left({text}\right)"


_VECTORS = {"out_o1": r"\hat{\mathbf{y}}", "t1": r"\mathbf{t}"}


def _loss_gradient_as_written(loss_grad: sympy.Expr, network, u: sympy.Symbol, t: sympy.Symbol) -> str | None:
    """∂ℓ/∂ŷ in the form the scalar section derives ∂E_o1/∂out_o1 (−(t − ŷ) for ½(t − ŷ)²), with the
    first output's names as the vectors; None (SymPy's form is printed) where there is no such form,
    where it multiplies two vectors (that would need ⊙), or where it is not the matrix form's own
    gradient (a mean over the outputs)."""
    node = network.nodes.get("E_o1")
    if node is None or not set(_VECTORS) <= {symbol.name for symbol in node.expr.free_symbols}:
        return None
    out_o1 = next(s for s in node.expr.free_symbols if s.name == "out_o1")
    form = author_partial(node.text, "E_o1", "out_o1", sympy.diff(node.expr, out_o1), node.expr)
    if form is None or set(form.names) - set(_VECTORS):
        return None
    as_vectors = form.expr.xreplace({s: {"out_o1": u, "t1": t}[s.name] for s in form.expr.free_symbols})
    vectors_multiplied = any(sum(1 for a in m.args if a.free_symbols and not (a.is_Pow and a.exp.is_negative)) > 1
                             for m in as_vectors.atoms(sympy.Mul))  # t/ŷ divides elementwise; t·ŷ would need ⊙
    if vectors_multiplied or sympy.simplify(as_vectors - loss_grad) != 0:
        return None
    return join_terms(expression_pieces(form.text, _VECTORS))


def matrix_blocks(matrix, network) -> list[Block]:
    """The vector-form equations of an [mlp] network (``Solution.matrix``): shapes, forward, backward, gradients.

    ``matrix`` is a ``matrix.MatrixDerivation``, read through its attributes; ``network`` gives the
    scalar names of the input and target vectors.
    """
    widths = matrix.structure.widths
    L = len(widths) - 1
    u, t = sympy.Symbol("u", real=True), sympy.Symbol("t", real=True)
    blocks: list[Block] = [Heading(1, (("text", "The same derivation in matrix form"),)), Paragraph((
        ("text", "Vectors are columns; "), ("math", r"\mathbf{h}_0"), ("text", " is the input and "),
        ("math", rf"\hat{{\mathbf{{y}}}} = \mathbf{{h}}_{{{L}}}"),
        ("text", " the output. Functions of a vector act elementwise and "), ("math", r"\odot"),
        ("text", " is the elementwise product. Layout: each gradient has the shape of its parameter "
                 "(denominator layout), so "), ("math", r"\partial \ell/\partial W_l"),
        ("text", " is a matrix of the same shape as "), ("math", "W_l"), ("text", "; the entry "),
        ("math", "(W_l)_{jk}"), ("text", " multiplies unit "), ("math", "k"), ("text", " of layer "),
        ("math", "l-1"), ("text", " into unit "), ("math", "j"), ("text", " of layer "), ("math", "l"),
        ("text", ". In the scalar names above, "),
        ("math", r"\mathbf{h}_0 = (" + ", ".join(latex_name(n) for n in network.inputs) + r")^{\top}"),
        ("text", " and "),
        ("math", r"\mathbf{t} = (" + ", ".join(latex_name(n) for n in network.targets) + r")^{\top}"),
        ("text", "."),
    ))]
    shapes: list[tuple[str, str]] = []
    for layer in range(1, L + 1):
        n, m = widths[layer], widths[layer - 1]
        shapes.append(("text", ", " if shapes else "Shapes: "))
        shapes.append(("math", rf"W_{{{layer}}} \in \mathbb{{R}}^{{{n} \times {m}}}"))
        if matrix.structure.bias != "none":
            shape = "" if matrix.layer_bias else rf" \in \mathbb{{R}}^{{{n}}}"
            shapes.append(("text", ", "))
            shapes.append(("math", rf"\mathbf{{b}}_{{{layer}}}{shape}" if shape else rf"b_{{{layer}}} \in \mathbb{{R}}"))
        shapes.append(("text", ", "))
        shapes.append(("math", rf"\mathbf{{f}}_{{{layer}}}, \mathbf{{h}}_{{{layer}}}, \boldsymbol{{\delta}}_{{{layer}}}"
                               rf" \in \mathbb{{R}}^{{{n}}}"))
    shapes.append(("text", "."))
    blocks.append(Paragraph(tuple(shapes)))
    blocks.append(Paragraph((("text", "Forward pass:"),)))
    blocks.append(Equations(tuple((_vector(e.name), f"= {_matrix_latex(e.expr)}") for e in matrix.forward)))
    if matrix.loss_grad is not None:
        grad = _loss_gradient_as_written(matrix.loss_grad, network, u, t) or sympy.latex(
            matrix.loss_grad, symbol_names={u: r"\hat{\mathbf{y}}", t: r"\mathbf{t}"}, order="none")
    else:
        grad = r"\operatorname{softmax}(\hat{\mathbf{y}}) \, (\mathbf{1}^{\top}\mathbf{t}) - \mathbf{t}"
    rows = [(_vector("dL_dyhat"), f"= {grad}")]
    rows += [(_vector(e.name), f"= {_matrix_latex(e.expr)}") for e in matrix.backward]
    blocks.append(Paragraph((("text", "Backward pass, from the output layer down (one sample, loss "),
                             ("math", r"\ell"), ("text", "):"))))
    blocks.append(Equations(tuple(rows)))
    rows = []
    for name, expr in matrix.gradients.items():
        if name.startswith("b") and matrix.structure.bias == "none":
            continue
        target = _vector(name) if not (name.startswith("b") and matrix.layer_bias) else f"b_{{{name[1:]}}}"
        value = _matrix_latex(expr)
        if name.startswith("b") and matrix.layer_bias:
            value = rf"\mathbf{{1}}^{{\top}} {value}"
        rows.append((rf"\frac{{\partial \ell}}{{\partial {target}}}", f"= {value}"))
    blocks.append(Paragraph((("text", "Gradients:"),)))
    blocks.append(Equations(tuple(rows)))
    return blocks
