"""``--format beamer``: lecture slides that compile with pdflatex, one idea per frame."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import symgrad
from symgrad.cli import main
from tests.latex_tools import compile_latex, needs_beamer, pdf_text_pages

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
    # chain form with its factors (a one-line chain form is no slide of its own), then the product with
    # the update (packed: no near-empty slide).
    assert titles[:4] == ["Notation", "The network", "Forward pass", "Backward pass"]
    assert titles.count("Backward pass") == 2 and "Loss" not in titles
    assert titles.count("The gradient for $w_{5}$") == 2
    frames = tex.split(r"\begin{frame}")[1:]
    gradient = frames[titles.index("The gradient for $w_{5}$") + 1]  # after the title slide
    assert gradient.index("The chain rule in Leibniz notation") < gradient.index("Each factor:")
    backward = frames[titles.index("Backward pass") + 1]
    assert backward.index(r"\textbf{Loss}") < backward.index(r"E_{\mathrm{total}} &= 0.298371109")
    assert all(frame.count(r"\begin{align*}") <= 3 for frame in frames)
    assert r"\PassOptionsToPackage{fleqn}{amsmath}" in tex and r"\small" not in tex  # flush left, full size
    assert "The update" in frames[-1] and "0.35891648" in frames[-1]


def test_the_network_slide_groups_the_given_numbers_and_keeps_the_computed_for_later():
    tex = symgrad.report(symgrad.load("mazur"), format="beamer", params=["w5"])
    frames = dict(re.findall(r"\\begin\{frame\}\[t,allowframebreaks\]\{(.*?)\}\n(.*?)\\end\{frame\}", tex, re.S))
    network = frames["The network"]
    # The spec's numbers (the lecture's i1 = 0.05, i2 = 0.10, t1 = 0.01, t2 = 0.99, w1 = 0.15 … b2 = 0.6, η = 0.5).
    assert r"\textbf{Inputs:} \mbox{$i_{1} = 0.05$}, \mbox{$i_{2} = 0.1$}." in network
    assert r"\textbf{Targets (the wanted output):} \mbox{$t_{1} = 0.01$}, \mbox{$t_{2} = 0.99$}." in network
    # Ten parameters are too many for one line: a grid under the label, five to a row, in the spec's order.
    grid = network.split(r"\textbf{Parameters (trained):}")[1].split(r"\end{tabular}")[0]
    rows = [row.strip() for row in grid.split(r"\begin{tabular}")[1].split("\n")[1:] if row.strip()]
    assert rows == [r"$w_{1} = 0.15$ & $w_{2} = 0.2$ & $w_{3} = 0.25$ & $w_{4} = 0.3$ & $w_{5} = 0.4$ \\",
                    r"$w_{6} = 0.45$ & $w_{7} = 0.5$ & $w_{8} = 0.55$ & $b_{1} = 0.35$ & $b_{2} = 0.6$"]
    assert r"\textbf{Learning rate:} \mbox{$\eta = 0.5$}." in network
    assert "0.593269992" not in network  # out_h1 = σ(0.3775) is computed in the forward pass, not given here
    # The notation's sum over the consumers is displayed under its sentence, in a large font.
    assert frames["Notation"].startswith(("\\LARGE", "\\Large", "\\large"))
    assert r"\[ \mathrm{d}E_{\mathrm{total}}/\mathrm{d}x = \sum_c" in tex


def _lowest_text(pdf, page: int) -> float:
    """How far down page ``page`` (1-based) its lowest word reaches, as a fraction of the page's height,
    read from the PDF by ``pdftotext -bbox`` (the frame number in the footline left out)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    html = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', html)[1])
    words = re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', html)
    body = [float(y) for y, word in words if not (word.isdigit() and float(y) > 0.93 * height)]
    return max(body) / height


@pytest.mark.parametrize("spec", ["mazur", "mlp_3_4_2"])
def test_the_notation_and_network_slides_fill_their_frame_without_running_over(spec, tmp_path):
    needs_beamer()
    tex = symgrad.report(symgrad.load(spec), format="beamer", params=["w1"])
    pdf, log, _ = compile_latex(tex, tmp_path, name=spec)
    titles = [page[0] for page in pdf_text_pages(pdf)]
    assert titles[1:3] == ["Notation", "The network"]  # neither runs onto a continuation slide
    for page in (2, 3):
        assert _lowest_text(pdf, page) > 0.6, (spec, titles[page - 1])  # was under 0.5: a half-empty slide
    assert "Overfull" not in log


def test_a_long_list_of_parameters_breaks_between_grids_not_over_the_frame(tmp_path):
    needs_beamer()
    network = symgrad.mlp([8, 16, 4], activation="tanh", loss="half_sse", seed=0)  # 212 parameters
    tex = symgrad.report(network, format="beamer", params=["w1"])
    frame = tex.split("{The network}")[1].split(r"\end{frame}")[0]
    assert frame.count(r"\begin{tabular}") > 1 and frame.count("$w_{") == 192
    pdf, log, _ = compile_latex(tex, tmp_path, name="wide")
    assert "The network (continued)" in "\n".join(line for page in pdf_text_pages(pdf) for line in page)
    assert "Overfull \\vbox" not in log


@pytest.mark.parametrize("loss", ["half_sse", "softmax_cross_entropy"])
def test_no_backward_or_gradient_slide_of_a_3_4_2_network_runs_over(loss, tmp_path):
    """Each gradient's chain form, factors and product fill one slide, the δ's pack without spilling onto a
    continuation slide, and no slide overflows."""
    needs_beamer()
    network = symgrad.mlp([3, 4, 2], activation="tanh" if loss != "half_sse" else "sigmoid", loss=loss, seed=0)
    tex = symgrad.report(network, format="beamer")
    pdf, log, _ = compile_latex(tex, tmp_path, name="mlp")
    frames = tex.split(r"\begin{frame}")[1:]
    gradients = [f for f in frames if "{The gradient for" in f.split("\n", 1)[0]]
    assert len(gradients) == 26 and all("Each factor:" in f and "The product:" in f for f in gradients)
    text = "\n".join(line for page in pdf_text_pages(pdf) for line in page)
    assert "Forward pass (continued)" in text  # (the check reads the frame titles)
    assert not re.search(r"(Backward pass|The gradient for \S+) \(continued\)", text)
    assert re.search(r"Overfull \\vbox", log) is None
