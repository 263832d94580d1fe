"""``--format beamer``: lecture slides that compile with pdflatex, one idea per frame."""

from __future__ import annotations

import re

import pytest

import symgrad
from symgrad.cli import main
from tests.latex_tools import compile_latex, needs_beamer

EXAMPLES = [e.name for e in symgrad.builtin_examples()]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_builtin_example_compiles_as_slides(name, tmp_path):
    needs_beamer()
    tex = symgrad.report(symgrad.load(name), format="beamer", author="A. Lecturer", date="Week 4")
    pdf, log, _ = compile_latex(tex, tmp_path, name=name)
    assert pdf.stat().st_size > 0
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull.*", log)


def test_mazur_slides_pace_one_idea_per_frame(capsys):
    assert main(["report", "mazur", "--format", "beamer", "--params", "w5", "--title", "Backprop, step by step",
                 "--author", "Dr. A. Lecturer", "--date", "3 March 2025"]) == 0
    tex = capsys.readouterr().out
    assert r"\title{Backprop, step by step}" in tex and r"\author{Dr. A. Lecturer}" in tex
    titles = re.findall(r"\\begin\{frame\}\[t,allowframebreaks\]\{(.*?)\}\n", tex)
    # The network, the forward pass, then the loss opening the backward pass (a one-line section is no
    # slide of its own), the δ's that w5 needs (out_o1, net_o1; dE/dE_o1 = 1 is a sentence), then the
    # chain form, its factors, the product with the update (packed: no near-empty slide).
    assert titles[:4] == ["Notation", "The network", "Forward pass", "Backward pass"]
    assert titles.count("Backward pass") == 2 and "Loss" not in titles
    assert titles.count("The gradient for $w_{5}$") == 3
    frames = tex.split(r"\begin{frame}")[1:]
    backward = frames[titles.index("Backward pass") + 1]
    assert backward.index(r"\textbf{Loss}") < backward.index(r"E_{\mathrm{total}} &= 0.298371109")
    assert all(frame.count(r"\begin{align*}") <= 3 for frame in frames)
    assert r"\PassOptionsToPackage{fleqn}{amsmath}" in tex and r"\small" not in tex  # flush left, full size
    assert "The update" in frames[-1] and "0.35891648" in frames[-1]
