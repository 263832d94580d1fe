"""The files of an exercise: per variant a spec, a question sheet, a worked solution and an answer key.

``write_exercise`` lays them out so a teacher finds them::

    DIR/questions.tex            every question sheet, one page each, to print for the class
    DIR/marks.toml               marks per question (1 each unless [exercise] marks says otherwise)
    DIR/variant-03/spec.toml     the variant's spec (``symgrad report`` and ``symgrad check`` read it)
    DIR/variant-03/question.tex  what to compute and the digits to give (also question.md)
    DIR/variant-03/solution.tex  the worked solution, titled with the variant (also solution.md)
    DIR/variant-03/answer-key.txt  a claims file ``symgrad check`` grades all right

Every file goes through ``files.write_text`` (whole or not at all, never over an input).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Iterable

from .errors import InvalidArgument
from .exercise import Exercise, Question, Variant, plain_number, toml_text
from .files import write_text
from .functions import sigmoid
from .moodle import moodle_xml
from .render.blocks import join_terms
from .render.node_text import expression_pieces
from .render.notation import latex_name, total

__all__ = ["question_latex", "question_markdown", "questions_latex", "answer_key", "marks_toml", "write_exercise",
           "VARIANT_LINE"]

#: The first line of an answer sheet: it names the variant (a comment, so a plain ``symgrad check`` skips it).
VARIANT_LINE = "# variant: {id}"

_PREAMBLE = (r"\documentclass[11pt]{article}" "\n" r"\usepackage[a4paper,margin=2cm]{geometry}" "\n"
             r"\usepackage[utf8]{inputenc}" "\n" r"\usepackage{amsmath,amssymb}"
             "\n" r"\setlength{\parindent}{0pt}" "\n" r"\setlength{\parskip}{0.6em}" "\n")
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def _title(exercise: Exercise, variant: Variant) -> str:
    return f"{exercise.title}, variant {variant.id}"


def _question_math(question: Question) -> str:
    if question.kind == "gradient":
        return total(question.name, question.wrt)
    if question.kind == "update":
        return f"{latex_name(question.name)}^{{+}}"
    return latex_name(question.name)


def _given(variant: Variant) -> list[tuple[str, str]]:
    """(name, value) of every leaf with a value, in the network's order: what the student is given."""
    net = variant.network
    return [(name, plain_number(net.values[name])) for name in net.leaves if name in net.values]


_SIGMOID = r"\sigma(z) &= \frac{1}{1 + e^{-z}}"


def _uses_sigmoid(variant: Variant) -> bool:
    return any(node.expr.has(sigmoid) for node in variant.network.nodes.values())


def _definition(node) -> str:
    """A node's definition in the author's form, as the worked solution prints it (``w_1 \\cdot i_1 + …``,
    ``\\frac{1}{2} (t_1 - out_{o1})^2``): the spec's text in lecture names, never SymPy's reordered form."""
    return join_terms(expression_pieces(node.text))


def _sheet_lines(exercise: Exercise, variant: Variant) -> list[str]:
    """The answer lines a student fills in: the variant line, then one ``LHS = `` per question."""
    return [VARIANT_LINE.format(id=variant.id), *(f"{q.lhs} = " for q in exercise.questions)]


def _question_body_latex(exercise: Exercise, variant: Variant) -> str:
    net = variant.network
    definitions = " \\\\\n".join(f"{latex_name(n)} &= {_definition(node)}" for n, node in net.nodes.items())
    given = ", ".join(f"${latex_name(n)} = {v}$" for n, v in _given(variant))
    if _uses_sigmoid(variant):
        definitions += " \\\\\n" + _SIGMOID
    rate = f" The learning rate is $\\eta = {plain_number(net.learning_rate)}$." if net.learning_rate is not None else ""
    items = "\n".join(f"\\item ${_question_math(q)}$: {_tex(q.describe)}" for q in exercise.questions)
    sheet = "\n".join(_sheet_lines(exercise, variant))
    return (f"\\section*{{{_tex(_title(exercise, variant))}}}\n"
            f"Variant \\textbf{{{_tex(variant.id)}}}. The network:\n"
            f"\\begin{{align*}}\n{definitions}\n\\end{{align*}}\n"
            f"Given: {given}.{rate}\n\n"
            f"Compute, each to {exercise.options.digits} significant digits:\n"
            f"\\begin{{enumerate}}\n{items}\n\\end{{enumerate}}\n"
            "Hand in your answers one per line, as below (keep the first line: it names your variant):\n"
            f"\\begin{{verbatim}}\n{sheet}\n\\end{{verbatim}}\n")


def question_latex(exercise: Exercise, variant: Variant) -> str:
    """One variant's question sheet as a standalone LaTeX article.

    >>> from symgrad.exercise import make_exercise
    >>> ex = make_exercise("mazur", 1, seed=3)
    >>> "Variant \\\\textbf{01}" in question_latex(ex, ex.variants[0])
    True
    """
    return _PREAMBLE + "\\begin{document}\n" + _question_body_latex(exercise, variant) + "\\end{document}\n"


def questions_latex(exercise: Exercise) -> str:
    """Every variant's question sheet in one LaTeX document, one page each, to print for the class."""
    pages = "\\newpage\n".join(_question_body_latex(exercise, v) for v in exercise.variants)
    return _PREAMBLE + "\\begin{document}\n" + pages + "\\end{document}\n"


def question_markdown(exercise: Exercise, variant: Variant) -> str:
    """One variant's question sheet as Markdown with ``$…$`` math."""
    net = variant.network
    lines = [f"# {_title(exercise, variant)}", "", f"Variant **{variant.id}**.", "", "## The network", ""]
    lines += [f"$${latex_name(n)} = {_definition(node)}$$" for n, node in net.nodes.items()]
    if _uses_sigmoid(variant):
        lines.append(f"$${_SIGMOID.replace('&', '')}$$")
    lines += ["", "## Given", "", "| quantity | value |", "|---|---|"]
    lines += [f"| ${latex_name(n)}$ | {v} |" for n, v in _given(variant)]
    if net.learning_rate is not None:
        lines.append(f"| learning rate $\\eta$ | {plain_number(net.learning_rate)} |")
    lines += ["", f"## Compute, each to {exercise.options.digits} significant digits", ""]
    lines += [f"{k}. ${_question_math(q)}$: {q.describe}" for k, q in enumerate(exercise.questions, start=1)]
    lines += ["", "## Hand in", "", "One answer per line, as below (keep the first line: it names your variant):",
              "", "```text", *_sheet_lines(exercise, variant), "```", ""]
    return "\n".join(lines)


def answer_key(exercise: Exercise, variant: Variant) -> str:
    """The variant's answers as a claims file: ``symgrad check`` grades every line right.

    >>> from symgrad.exercise import make_exercise
    >>> ex = make_exercise("mazur", 1, seed=3)
    >>> answer_key(ex, ex.variants[0]).splitlines()[1]
    '# variant: 01'
    """
    head = f"# answer key of {exercise.title}, each answer to {exercise.options.digits} significant digits"
    body = [f"{a.question.lhs} = {a.text}" for a in variant.answers]
    return "\n".join([head, VARIANT_LINE.format(id=variant.id), *body]) + "\n"


def marks_toml(exercise: Exercise) -> str:
    """The marks per question, as a TOML file the teacher may edit before grading."""
    marks = {q.lhs: _toml_number(exercise.marks(q)) for q in exercise.questions}
    return ("# Marks per question of this exercise: `symgrad check --variants` reads them.\n"
            "# Change a number to weight a question; a line not listed here earns no marks.\n"
            "# follow_through = true: a line wrong only because it used an earlier wrong answer earns its marks;\n"
            "# false (or `symgrad check --no-follow-through`): it earns none.\n"
            + toml_text({"follow_through": True, "marks": marks}))


def _toml_number(value: Fraction):
    return value.numerator if value.denominator == 1 else Decimal(value.numerator) / Decimal(value.denominator)


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgument(f"cannot make the folder {path}: {exc.strerror}; choose another with -o") from None


def write_exercise(exercise: Exercise, folder: str | Path, *, moodle: str | Path | None = None,
                   inputs: Iterable[str | Path] = ()) -> tuple[Path, ...]:
    """Write every file of ``exercise`` under ``folder`` (made if missing), and with ``moodle`` the
    Moodle XML quiz file; return the paths written."""
    root = Path(folder)
    inputs = [*inputs]
    _mkdir(root)
    written = []

    def put(path: Path, text: str) -> None:
        write_text(path, text, inputs=inputs)
        written.append(path)

    put(root / "questions.tex", questions_latex(exercise))
    put(root / "marks.toml", marks_toml(exercise))
    for variant in exercise.variants:
        where = root / f"variant-{variant.id}"
        _mkdir(where)
        title = _title(exercise, variant)
        put(where / "spec.toml", variant.spec_text)
        put(where / "question.tex", question_latex(exercise, variant))
        put(where / "question.md", question_markdown(exercise, variant))
        put(where / "solution.tex", variant.solution.latex(title=title))
        put(where / "solution.md", variant.solution.markdown(title=title))
        put(where / "answer-key.txt", answer_key(exercise, variant))
    if moodle is not None:
        put(Path(moodle), moodle_xml(exercise))
    return tuple(written)
