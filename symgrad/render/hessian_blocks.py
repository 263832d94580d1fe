"""Second derivatives of chosen parameters as a document: text, LaTeX and Markdown.

Reads a ``hessian_solution.HessianSolution`` (its entries, steps and pieces; it does not
import that module) and writes each entry d²E/da db in the lecture's notation: first the
tangents dy/db pushed forward along the graph, then the derivative of each δ on the way
down to a, factor by factor, each row as its formula, its numbers and its value. A
derivative of a local partial, ∂/∂y (∂c/∂x), is defined by its formula where first used.
"""

from __future__ import annotations

from ..precision import format_number
from .blocks import Block, Equations, Heading, Paragraph
from .latex_writer import write_article
from .markdown_writer import write_markdown
from .notation import latex_name, partial, symbolic_latex, total

__all__ = ["hessian_blocks", "render_hessian_text", "render_hessian_latex", "render_hessian_markdown"]


def _entry_latex(out: str, a: str, b: str) -> str:
    if a == b:
        return rf"\frac{{\mathrm{{d}}^2 {latex_name(out)}}}{{\mathrm{{d}}{latex_name(a)}^2}}"
    return rf"\frac{{\mathrm{{d}}^2 {latex_name(out)}}}{{\mathrm{{d}}{latex_name(a)}\,\mathrm{{d}}{latex_name(b)}}}"


def _entry_text(out: str, a: str, b: str) -> str:
    return f"d²{out}/d{a}²" if a == b else f"d²{out}/d{a}d{b}"


def _piece_latex(piece, out: str, entry) -> str:
    names = piece.names
    if piece.kind == "delta":
        return total(out, names[0])
    if piece.kind == "ddelta":
        if names[0] == entry.a:
            return _entry_latex(out, entry.a, entry.b)
        return rf"\frac{{\mathrm{{d}}}}{{\mathrm{{d}}{latex_name(entry.b)}}}{total(out, names[0])}"
    if piece.kind == "local":
        return partial(*names)
    if piece.kind == "dlocal":
        return rf"\frac{{\partial}}{{\partial {latex_name(names[2])}}}{partial(names[0], names[1])}"
    return total(names[0], entry.b)


def _piece_text(piece, out: str, entry) -> str:
    names = piece.names
    if piece.kind == "delta":
        return f"d{out}/d{names[0]}"
    if piece.kind == "ddelta":
        return _entry_text(out, entry.a, entry.b) if names[0] == entry.a else f"d/d{entry.b} d{out}/d{names[0]}"
    if piece.kind == "local":
        return f"∂{names[0]}/∂{names[1]}"
    if piece.kind == "dlocal":
        return f"∂/∂{names[2]} ∂{names[0]}/∂{names[1]}"
    return f"d{names[0]}/d{entry.b}"


def _shown(product, entry):
    """A product's pieces as printed: the tangent db/db = 1 is left out."""
    kept = tuple(p for p in product if not (p.kind == "tangent" and p.names[0] == entry.b))
    return kept or product[:1]


def _number(value, digits: int) -> str:
    text = format_number(value, digits)
    return f"({text})" if text.startswith("-") else text


def _step_rows(step, out: str, entry, digits: int, latex: bool) -> list[tuple[str, str]]:
    name = _piece_latex if latex else _piece_text
    dot = r" \cdot " if latex else " · "
    plus = " + "
    left = name(step.left, out, entry)
    if not step.products:
        return [(left, "= 0")]
    symbolic = plus.join(dot.join(name(p, out, entry) for p in _shown(pr, entry)) for pr in step.products)
    numbers = plus.join(dot.join(_number(p.value, digits) for p in _shown(pr, entry)) for pr in step.products)
    value = format_number(step.value, digits)
    if numbers in (value, f"({value})"):  # one factor: its number is the value, printed once
        return [(left, f"= {symbolic}"), ("", f"= {value}")]
    return [(left, f"= {symbolic}"), ("", f"= {numbers}"), ("", f"= {value}")]


def _definitions(entry, latex: bool, digits: int) -> list[tuple[str, str]]:
    rows, seen = [], set()
    for step in entry.deltas:
        for product in step.products:
            for p in product:
                if p.kind == "dlocal" and p.names not in seen:
                    seen.add(p.names)
                    c, x, y = p.names
                    value = format_number(p.value, digits)
                    if latex:
                        left = rf"\frac{{\partial}}{{\partial {latex_name(y)}}}{partial(c, x)}"
                        formula = symbolic_latex(p.formula)
                    else:
                        left, formula = f"∂/∂{y} ∂{c}/∂{x}", str(p.formula)
                    rows.append((left, f"= {formula}" if formula == value else f"= {formula} = {value}"))
    return rows


def hessian_blocks(solution) -> list[Block]:
    """The document as blocks: a title, then per entry its tangents, δ derivatives and value."""
    out, digits = solution.output, solution.digits
    blocks: list[Block] = [Heading(0, (("text", f"Second derivatives: {solution.title}"),))]
    blocks.append(Paragraph((("text", "Forward over reverse on the graph: the tangents along the second "
                                      "parameter are pushed forward, then the derivative of each δ is taken by the "
                                      "product rule on its terms, down to the first parameter."),)))
    for text in solution.kinks:
        blocks.append(Paragraph((("text", f"Kink: {text}."),)))
    for entry in solution.entries:
        blocks.append(Heading(1, (("math", _entry_latex(out, entry.a, entry.b)),
                                  ("text", f" = {format_number(entry.value, digits)}"))))
        blocks.append(Paragraph((("text", "Tangents along "), ("math", latex_name(entry.b)), ("text", ":"))))
        blocks.append(Equations(tuple(row for s in entry.tangents for row in _step_rows(s, out, entry, digits, True))))
        definitions = _definitions(entry, True, digits)
        if definitions:
            blocks.append(Paragraph((("text", "Derivatives of the local partials:"),)))
            blocks.append(Equations(tuple(definitions)))
        blocks.append(Paragraph((("text", "Derivatives of the δ, output side first:"),)))
        blocks.append(Equations(tuple(row for s in entry.deltas for row in _step_rows(s, out, entry, digits, True))))
    return blocks


def render_hessian_latex(solution) -> str:
    """A standalone LaTeX article (pdflatex)."""
    return write_article(hessian_blocks(solution))


def render_hessian_markdown(solution) -> str:
    """Markdown with ``$…$`` math."""
    return write_markdown(hessian_blocks(solution))


def render_hessian_text(solution) -> str:
    """Plain text, one row per line."""
    out, digits = solution.output, solution.digits
    lines = [f"Second derivatives: {solution.title}", ""]
    lines += [f"kink: {text}" for text in solution.kinks]
    for entry in solution.entries:
        lines += [f"{_entry_text(out, entry.a, entry.b)} = {format_number(entry.value, digits)}", "", "  tangents:"]
        lines += [f"    {left} {right}" if left else f"      {right}"
                  for s in entry.tangents for left, right in _step_rows(s, out, entry, digits, False)]
        definitions = _definitions(entry, False, digits)
        if definitions:
            lines += ["  derivatives of the local partials:"] + [f"    {left} {right}" for left, right in definitions]
        lines += ["  derivatives of the deltas, output side first:"]
        lines += [f"    {left} {right}" if left else f"      {right}"
                  for s in entry.deltas for left, right in _step_rows(s, out, entry, digits, False)]
        lines.append("")
    return "\n".join(lines)
