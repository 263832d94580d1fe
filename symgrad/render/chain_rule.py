"""The symbolic chain rule of a ``Derivation`` as a document: no numbers, only the derivation.

For each requested parameter: the lecture's chain form dE/dw5 = dE/dout_o1 · ∂out_o1/∂net_o1 ·
∂net_o1/∂w5 (or the sum over its consumers), the δ definitions it is built from
(dE/dx = Σ_c dE/dc · ∂c/∂x) and each local factor's formula (∂out_o1/∂net_o1 = out_o1(1 − out_o1)).
The blocks, names and formulas are those of the worked solution (``solution_blocks``), written by
the same LaTeX, MathJax and Markdown writers. In a notebook the document is bounded by
``MAX_REPR_PARAMS`` parameters and ``MAX_REPR_FACTORS`` local factors, with one line counting the rest.

It reads the ``Derivation`` it is given (its adjoints, factors, ``chain`` and ``count_paths``) and
does not import chain.py, so that ``Derivation.latex()``, ``.markdown()`` and the Jupyter display
can call it (chain.py imports this module, not the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import InvalidArgument
from ..limits import MAX_REPR_FACTORS, MAX_REPR_PARAMS
from .author_form import local_form
from .piecewise_form import PiecewiseForm, piecewise_form
from .blocks import Block, Equations, Heading, Paragraph, equation_rows, join_terms
from .latex_writer import write_article, write_math
from .markdown_writer import write_markdown
from .node_text import expression_pieces
from .notation import delta_pieces, latex_name, partial, symbolic_latex, total, total_inline

__all__ = ["derivation_blocks", "render_derivation_latex", "render_derivation_latex_math",
           "render_derivation_markdown"]


@dataclass(frozen=True)
class _Selection:
    """The quantities a document shows gradients for, the δ's they need, and what was left out."""

    shown: tuple[str, ...]
    needed: frozenset[str]
    omitted: tuple[str, ...]


def _choices(derivation) -> tuple[str, ...]:
    """What a document can show: the parameters, or for a circuit without any, its inputs."""
    if derivation.params:
        return derivation.params
    return tuple(n for n in derivation.network.inputs if n in derivation.adjoints)


def _select(derivation, params: Sequence[str] | None, *, bounded: bool) -> _Selection:
    choices = _choices(derivation)
    if params is None:
        wanted = list(choices)
    else:
        if isinstance(params, str):
            raise InvalidArgument(f"params must be a list of names, got the string {params!r}; write [{params!r}]")
        wanted = list(dict.fromkeys(params))
        unknown = [p for p in wanted if p not in choices]
        if unknown or not wanted:
            raise InvalidArgument(f"unknown parameter {', '.join(map(repr, unknown)) or '(none given)'}; "
                                  f"choose from the parameters of this network: {', '.join(choices) or '(none)'}")
    needed: set[str] = set()
    shown: list[str] = []
    factors = 0
    for k, name in enumerate(wanted):
        added, frontier = {name} - needed, [name]
        while frontier:
            for term in derivation.adjoints[frontier.pop()].terms:
                if term.consumer not in needed and term.consumer not in added:
                    added.add(term.consumer)
                    frontier.append(term.consumer)
        cost = sum(len(derivation.adjoints[n].terms) for n in added) + 2  # its δ's terms, its chain's factors
        if bounded and (len(shown) == MAX_REPR_PARAMS or factors + cost > MAX_REPR_FACTORS):
            return _Selection(tuple(shown), frozenset(needed), tuple(wanted[k:]))
        needed |= added
        shown.append(name)
        factors += cost
    return _Selection(tuple(shown), frozenset(needed), ())


def derivation_blocks(derivation, *, params: Sequence[str] | None = None, title: str = "",
                      bounded: bool = False) -> list[Block]:
    """The symbolic derivation as document blocks (read by the LaTeX, MathJax and Markdown writers).

    ``params`` defaults to every parameter in network order (a circuit without parameters: its
    inputs). ``bounded`` keeps a notebook display short (``MAX_REPR_PARAMS``, ``MAX_REPR_FACTORS``).

    >>> import symgrad
    >>> blocks = derivation_blocks(symgrad.derive(symgrad.load("mazur")), params=["w5"])
    >>> [b.parts[-1][1] for b in blocks if isinstance(b, Heading)]
    ['The δ of each quantity', 'w_{5}']
    """
    selection = _select(derivation, params, bounded=bounded)
    out = derivation.output
    what = "parameter" if derivation.params else "input"
    blocks: list[Block] = []
    if title:
        blocks.append(Heading(0, (("text", title),)))
    blocks.append(Paragraph((
        ("text", "The chain rule for "), ("math", latex_name(out)),
        ("text", ", symbolically (no numbers). A local partial "), ("math", r"\partial c/\partial x"),
        ("text", " differentiates one node's own expression, its other operands held fixed; the δ of "),
        ("math", "x"), ("text", ", the total derivative "), ("math", total_inline(out, "x")),
        ("text", ", follows every path from "), ("math", latex_name(out)), ("text", " down to "), ("math", "x"),
        ("text", " and is the sum over the consumers "), ("math", "c"), ("text", " of "), ("math", "x"),
        ("text", ": "), ("math", rf"{total_inline(out, 'x')} = \sum_c {total_inline(out, 'c')} \cdot \partial c/\partial x"),
        ("text", ", starting from "), ("math", f"{total_inline(out, out)} = 1"), ("text", "."),
    )))
    deltas = [name for name in derivation.adjoints
              if name in selection.needed and name != out and name not in selection.shown]
    if deltas:
        blocks.append(Heading(1, (("text", "The δ of each quantity"),)))
        blocks.append(Paragraph((("text", "From the output down, each with the local partials it uses:"),)))
        for name in deltas:
            adjoint = derivation.adjoints[name]
            rows = equation_rows(total(out, name), [delta_pieces(out, adjoint.terms)])
            for term in adjoint.terms:
                rows += _factor_rows(derivation.network, term.factor)
            blocks.append(Equations(tuple(rows)))
    for name in selection.shown:
        blocks += _gradient(derivation, name, what)
    if selection.omitted:
        n = len(selection.omitted)
        count = f"{n} {'more ' if selection.shown else ''}{what}{'s' if n != 1 else ''}"
        blocks.append(Paragraph((
            ("text", f"… and {count}, from " if selection.shown else f"The {count}, from "),
            ("math", latex_name(selection.omitted[0])),
            ("text", f" on, are not shown here (a notebook shows at most {MAX_REPR_PARAMS} {what}s and "
                     f"{MAX_REPR_FACTORS} local factors); .latex() and .markdown() show every one."),
        )))
    return blocks


def _factor_rows(network, factor) -> list[tuple[str, str]]:
    """A local factor (a ``chain.Factor``) and its formula in the author's form where there is one:
    ∂E_o1/∂out_o1 = −(t1 − out_o1), ∂out_o1/∂net_o1 = out_o1 · (1 − out_o1)."""
    form = local_form(network, factor) or piecewise_form(network, factor)
    if isinstance(form, PiecewiseForm):
        formula = join_terms(form.pieces())  # [z > 0], as the slides write a step
    else:
        formula = join_terms(expression_pieces(form.text)) if form is not None else symbolic_latex(factor.expr)
    return equation_rows(partial(factor.of, factor.wrt), [[("+", formula)]])


def _gradient(derivation, name: str, what: str) -> list[Block]:
    out = derivation.output
    label = total(out, name)
    paths = derivation.count_paths(name)
    count = f"{paths} path{'s' if paths != 1 else ''} from "
    blocks: list[Block] = [Heading(1, (("text", f"The gradient for the {what} "), ("math", latex_name(name))))]
    chain = derivation.chain(name)
    if chain is None:
        terms = derivation.adjoints[name].terms
        rows = equation_rows(label, [delta_pieces(out, terms)])
        for term in terms:
            rows += _factor_rows(derivation.network, term.factor)
        blocks.append(Paragraph((("math", latex_name(name)), ("text", f" feeds {len(terms)} consumers, so its "
                                 f"gradient is the sum over them ({count}"), ("math", latex_name(out)),
                                 ("text", "):"))))
        blocks.append(Equations(tuple(rows)))
        return blocks
    names = [partial(f.of, f.wrt) for f in chain.factors]
    if chain.head != out:
        names.insert(0, total(out, chain.head))
    if len(names) == 1:
        blocks.append(Paragraph((("math", latex_name(out)), ("text", " uses "), ("math", latex_name(name)),
                                 ("text", " directly, so the gradient is one local partial:"))))
        factor = chain.factors[0]
        rows = equation_rows(label, [[("+", names[0])]]) + _factor_rows(derivation.network, factor)
        blocks.append(Equations(tuple(rows)))
        return blocks
    blocks.append(Paragraph((("text", f"The chain rule in Leibniz notation ({count}"), ("math", latex_name(out)),
                             ("text", " to "), ("math", latex_name(name)), ("text", "):"))))
    blocks.append(Equations(tuple(equation_rows(label, [[("+", r" \cdot ".join(names))]]))))
    blocks.append(Paragraph((("text", "Each local factor:"),)))
    rows: list[tuple[str, str]] = []
    for factor in chain.factors:
        rows += _factor_rows(derivation.network, factor)
    blocks.append(Equations(tuple(rows)))
    return blocks


def render_derivation_latex(derivation, *, params: Sequence[str] | None = None,
                            title: str | None = None) -> str:
    """The symbolic derivation as a standalone LaTeX article (pdflatex); ``title`` (default: the description)
    is escaped, never run.

    >>> import symgrad
    >>> tex = render_derivation_latex(symgrad.derive(symgrad.load("mazur")), params=["w5"])
    >>> r"\\partial \\mathrm{net}_{\\mathrm{o1}}}{\\partial w_{5}} &= \\mathrm{out}_{\\mathrm{h1}}" in tex
    True
    """
    title = derivation.network.description if title is None else title
    return write_article(derivation_blocks(derivation, params=params, title=title))


def render_derivation_markdown(derivation, *, params: Sequence[str] | None = None,
                               title: str | None = None, bounded: bool = False) -> str:
    r"""The symbolic derivation as Markdown with ``$…$`` math; ``title`` (default: the description) is escaped.

    >>> import symgrad
    >>> md = render_derivation_markdown(symgrad.derive(symgrad.load("perceptron")), title="")
    >>> print(md.splitlines()[-3])
    \frac{\partial \hat{y}}{\partial w} &= x
    """
    title = derivation.network.description if title is None else title
    return write_markdown(derivation_blocks(derivation, params=params, title=title, bounded=bounded))


def render_derivation_latex_math(derivation, *, bounded: bool = True) -> str:
    """The symbolic derivation for MathJax (Jupyter's ``_repr_latex_``), bounded for a notebook by default."""
    return write_math(derivation_blocks(derivation, bounded=bounded))
