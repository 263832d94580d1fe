"""A clean page (issue 20): each section one aligned block, flush left at the equals sign; no page break
inside an equation; the trivial derivatives said once in words; a table of symbols."""

from __future__ import annotations

import re

import pytest

import symgrad
from tests.latex_tools import compile_latex, pdf_text_pages


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
    assert table.split(r"\endlastfoot", 1)[1].count(r"\\") == 14 + 11 + 1  # 14 leaves, 11 nodes, η
    markdown = symgrad.report(symgrad.load("mazur"), format="markdown")
    assert "| Symbol | Meaning | Value |" in markdown and "| $w_{5}$ | parameter (trained) | $0.4$ |" in markdown


def test_the_clean_page_compiles(tmp_path):
    tex = symgrad.report(symgrad.load("mlp_3_4_2"), format="latex")
    _, log, _ = compile_latex(tex, tmp_path)
    assert "Overfull" not in log


# -- a page that breaks inside a block says so ------------------------------------------------------------
HEAD_MARK = "(continued from the previous page)"
FOOT_MARK = "(continued on the next page)"


def _openers(blocks) -> list[str]:
    """The words a page starts with where it starts outside any aligned block: a heading, or a paragraph
    that is not between two equation blocks of one section (an ``\\intertext`` inside one is not)."""
    from symgrad.render.blocks import Equations, Heading, Paragraph

    found = []  # (a continued table of symbols repeats its header under the mark: not an opener)
    for k, block in enumerate(blocks):
        if isinstance(block, Heading):
            found.append(block.parts[0][1])
        if not isinstance(block, Paragraph) or block.parts[0][0] != "text":
            continue
        before = blocks[:k][::-1]
        after = blocks[k + 1:]
        section_before = before[:next((j for j, b in enumerate(before) if isinstance(b, Heading)), len(before))]
        section_after = after[:next((j for j, b in enumerate(after) if isinstance(b, Heading)), len(after))]
        inside = (any(isinstance(b, Equations) for b in section_before)
                  and any(isinstance(b, Equations) for b in section_after))
        if not inside:
            found.append(block.parts[0][1][:20])
    return found


@pytest.mark.parametrize("spec", ["mlp_3_4_2", "4-8-4"])
def test_every_page_break_inside_a_block_carries_a_continuation_mark(spec, tmp_path):
    from symgrad.render.solution_blocks import solution_blocks

    if spec == "4-8-4":
        path = tmp_path / "wide.toml"
        path.write_text('description = "a 4-8-4 tanh MLP"\n[mlp]\nwidths = [4, 8, 4]\nactivation = "tanh"\n')
        network = symgrad.load(path)
    else:
        network = symgrad.load(spec)
    solution = symgrad.solve(symgrad.derive(network))
    pdf, _, _ = compile_latex(solution.latex(), tmp_path)
    pages = pdf_text_pages(pdf)
    openers = _openers(solution_blocks(solution))
    inside = outside = 0
    for before, page in zip(pages, pages[1:]):
        head = page[0] == HEAD_MARK
        foot = any(line.endswith(FOOT_MARK) for line in before[-2:])  # the table's foot sits above the number
        assert head == foot, (before[-1], page[0])
        first = page[1] if head else page[0]
        fresh = any(first.startswith(opener) for opener in openers)
        assert head != fresh, f"page starting {first!r}: continuation mark {head}"
        inside += head
        outside += fresh
    assert len(pages) > 5 and inside >= 3 and outside >= 1  # breaks of both kinds were seen


def test_the_continuation_marks_work_before_latex_2022(tmp_path):
    """LaTeX before the 2022-06 mark classes (TeX Live 2021): e-TeX's marks give the same marks."""
    tex = symgrad.report(symgrad.load("mlp_3_4_2"), format="latex")
    assert tex.count(r"\ifdefined\NewMarkClass") == 1
    pdf, _, _ = compile_latex(tex.replace(r"\ifdefined\NewMarkClass", r"\iffalse"), tmp_path)
    pages = pdf_text_pages(pdf)
    heads = [k for k, page in enumerate(pages) if page[0] == HEAD_MARK]
    feet = [k + 1 for k, page in enumerate(pages) if any(line.endswith(FOOT_MARK) for line in page[-2:])]
    assert heads == feet and len(heads) >= 3
