"""An exercise as Moodle XML: one numerical question per question and variant.

Each variant's questions sit in their own category (``symgrad/TITLE/variant 03``), so a quiz
can draw one random question per slot from a variant. The answer is the value to the digits
asked for, and its tolerance (Moodle's default "nominal", an absolute ±) is half a unit in the
last of those digits: every number that rounds to the answer is accepted, and nothing else.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from html import escape

from .exercise import Answer, Exercise, Variant, plain_number

__all__ = ["moodle_xml", "tolerance"]


def tolerance(answer_text: str) -> Decimal:
    """Half a unit in the last digit written: what rounds to the answer.

    >>> tolerance("0.3775"), tolerance("1.092"), tolerance("12.50")
    (Decimal('0.00005'), Decimal('0.0005'), Decimal('0.005'))
    """
    exponent = Decimal(answer_text).as_tuple().exponent
    return Decimal(5).scaleb(exponent - 1)


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    ET.SubElement(element, "text").text = text
    return element


def _question_html(exercise: Exercise, variant: Variant, answer: Answer) -> str:
    net = variant.network
    definitions = "<br>".join(escape(f"{name} = {node.text}") for name, node in net.nodes.items())
    given = ", ".join(f"{n} = {plain_number(net.values[n])}" for n in net.leaves if n in net.values)
    rate = f" Learning rate: {plain_number(net.learning_rate)}." if net.learning_rate is not None else ""
    return (f"<p>Variant {escape(variant.id)}. The network:</p><p>{definitions}</p>"
            f"<p>Given: {escape(given)}.{escape(rate)}</p>"
            f"<p>Compute {escape(answer.question.describe)} ({escape(answer.question.lhs)}) to "
            f"{exercise.options.digits} significant digits.</p>")


def _question(quiz: ET.Element, exercise: Exercise, variant: Variant, answer: Answer, marks: str) -> None:
    question = ET.SubElement(quiz, "question", {"type": "numerical"})
    _text(question, "name", f"variant {variant.id}: {answer.question.lhs}")
    _text(question, "questiontext", _question_html(exercise, variant, answer), format="html")
    ET.SubElement(question, "defaultgrade").text = marks
    ET.SubElement(question, "penalty").text = "0"
    ET.SubElement(question, "hidden").text = "0"
    element = _text(question, "answer", answer.text, fraction="100", format="moodle_auto_format")
    ET.SubElement(element, "tolerance").text = str(tolerance(answer.text))


def moodle_xml(exercise: Exercise) -> str:
    """Every variant's questions as a Moodle XML quiz file (import it under Question bank → Import).

    >>> from symgrad.exercise import make_exercise
    >>> text = moodle_xml(make_exercise("mazur", 1, seed=3))
    >>> text.count('<question type="numerical">')
    6
    """
    quiz = ET.Element("quiz")
    for variant in exercise.variants:
        category = ET.SubElement(quiz, "question", {"type": "category"})
        _text(category, "category", f"$course$/top/symgrad/{exercise.title}/variant {variant.id}")
        for answer in variant.answers:
            marks = exercise.marks(answer.question)
            _question(quiz, exercise, variant, answer, f"{float(marks):g}")
    ET.indent(quiz)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="unicode") + "\n"
