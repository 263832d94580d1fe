"""A clean page (issue 20): each section one aligned block, flush left at the equals sign; no page break
inside an equation; the trivial derivatives said once in words; a table of symbols."""

from __future__ import annotations

import re

import pytest

import symgrad
from tests.latex_tools import compile_latex


def _sections(tex: str) -> list[str]:
    body = tex.split(r"\begin{document}", 1)[1]
    return re.split(r"\\section\*", body)[1:]


@pytest.mark.parametrize("name", ["mazur", "mlp_3_4_2", "circuit_multipath"])
def test_each_section_is_one_aligned_block_flush_left(name):
    tex = symgrad.report(symgrad.load(name), format="latex")
    assert r"\usepackage[fleqn]{amsmath}" in tex  # displays flush left, not centred one by one
    sections = _sections(tex)
    assert len(sections) >= 4
    for section in sections:
        assert section.count(r"\begin{align*}") <= 1, section[:80]


def test_a_page_breaks_between_equations_never_inside_one():
    tex = symgrad.report(symgrad.load("mazur"), format="latex")
    rows = [line for line in tex.splitlines() if "&" in line and not line.startswith("\\")]
    previous = None
    checked = 0
    for line in tex.splitlines():
        if previous is not None and line.startswith(" &"):  # a row continuing the equation above
            assert previous.rstrip().endswith(r"\\*"), previous
            checked += 1
        previous = line if line.rstrip().endswith("\\\\") or line.rstrip().endswith("\\\\*") else None
    assert checked > 10 and rows
    assert re.search(r"\\\\\n &", tex) is None  # no plain break before a continuation row

def test_the_trivial_derivatives_are_stated_once_in_words():
    tex = symgrad.report(symgrad.load("mazur"), format="latex")
    words = (r"$\mathrm{d}E_{\mathrm{total}}/\mathrm{d}E_{\mathrm{o1}} = "
             r"\mathrm{d}E_{\mathrm{total}}/\mathrm{d}E_{\mathrm{o2}} = 1$: each is a term of the sum")
    assert tex.count(words) == 1
    assert r"{\mathrm{d}E_{\mathrm{o1}}} &=" not in tex  # no block of its own


def test_a_table_of_symbols_gives_meaning_and_value():
    tex = symgrad.report(symgrad.load("mazur"), format="latex")
    table = tex.split(r"\begin{longtable}", 1)[1].split(r"\end{longtable}", 1)[0]
    # Values from the spec and from the lecture (out_h1 = σ(0.3775) = 0.593269992).
    for row in [r"$i_{1}$ & input & $0.05$", r"$t_{1}$ & target (the wanted output) & $0.01$",
                r"$w_{5}$ & parameter (trained) & $0.4$", r"$\mathrm{net}_{\mathrm{h1}}$ & weighted sum of its inputs & $0.3775$",
                r"$\mathrm{out}_{\mathrm{h1}}$ & activation $\sigma(\mathrm{net}_{\mathrm{h1}})$ & $0.593269992$",
                r"$E_{\mathrm{o1}}$ & loss term for $t_{1}$", r"$E_{\mathrm{total}}$ & the loss (the output)",
                r"$\eta$ & learning rate & $0.5$"]:
        assert row in table, row
    assert table.count(r"\\") == 14 + 11 + 1 + 1  # 14 leaves, 11 nodes, η, the header
    markdown = symgrad.report(symgrad.load("mazur"), format="markdown")
    assert "| Symbol | Meaning | Value |" in markdown and "| $w_{5}$ | parameter (trained) | $0.4$ |" in markdown


def test_the_clean_page_compiles(tmp_path):
    tex = symgrad.report(symgrad.load("mlp_3_4_2"), format="latex")
    _, log, _ = compile_latex(tex, tmp_path)
    assert "Overfull" not in log
