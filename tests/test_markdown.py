"""The Markdown worked solution and the Jupyter representations of a Solution."""

from __future__ import annotations

import re

import pytest

import symgrad
from symgrad.cli import main
from symgrad.render.markdown_writer import escape_markdown

from .latex_tools import compile_latex

EXAMPLES = [e.name for e in symgrad.builtin_examples()]


def _markdown(capsys, *argv: str) -> str:
    assert main(["report", *argv, "--format", "markdown"]) == 0
    return capsys.readouterr().out


def _math(markdown: str) -> tuple[list[str], list[str]]:
    """The $$…$$ blocks and the inline $…$ spans of a document (escaped \\$ is text)."""
    blocks = re.findall(r"^\$\$\n(.*?)\n\$\$$", markdown, re.S | re.M)
    rest = re.sub(r"^\$\$\n.*?\n\$\$$", "", markdown, flags=re.S | re.M)
    inline = re.findall(r"(?<!\\)\$(.+?)(?<!\\)\$", rest)
    return blocks, inline


def test_mazur_markdown_shows_the_lecture_numbers(capsys):
    md = _markdown(capsys, "mazur", "--digits", "9", "--params", "w5")
    for number in ["0.74136507", "0.186815602", "0.593269992", "0.0821670406", "0.35891648"]:
        assert number in md, number
    assert md.startswith("# 2-2-2 sigmoid network")  # the description, no file-name prefix
    assert "## The gradient for $w_{5}$" in md
    blocks, inline = _math(md)
    assert any(r"= 0.7413650696 \cdot 0.1868156018 \cdot 0.5932699921 = 0.0821670406" in b for b in blocks)
    assert all(b.startswith(r"\begin{aligned}") and b.endswith(r"\end{aligned}") for b in blocks)
    # every inline span is delimited tightly ($x$, never "$ x $"), as GitHub needs
    assert all(span == span.strip() for span in inline)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_math_fragment_compiles_as_latex(name, tmp_path):
    """The Markdown's math, taken out and typeset by pdflatex: no fragment is malformed."""
    md = symgrad.report(symgrad.load(name), format="markdown")
    blocks, inline = _math(md)
    assert blocks and inline
    body = "\n\n".join([rf"\[{b}\]" for b in blocks] + [f"${s}$" for s in inline])
    compile_latex("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                  f"{body}\n\\end{{document}}\n", tmp_path)


@pytest.mark.parametrize("text, expected", [
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("$x$ and $$y$$", r"\$x\$ and \$\$y\$\$"),
    ("[link](http://example.com)", r"\[link\](http://example.com)"),
    ("*bold* __it__ `code` # h | t ~s~", r"\*bold\* \_\_it\_\_ \`code\` \# h \| t \~s\~"),
    ("a\nb\r\n\tc\x1b[2J", r"a b c\[2J"),
    ("back\\slash &amp;", r"back\\slash &amp;amp;"),
])
def test_escape_markdown(text, expected):
    assert escape_markdown(text) == expected


def test_description_cannot_add_markup(tmp_path, capsys):
    spec = tmp_path / "evil.toml"
    spec.write_text('description = "<img src=x onerror=alert(1)> $\\\\input{x}$ [a](b) # no heading"\n'
                    'output = "f"\n[symbols]\ninputs = ["x"]\nparams = ["w"]\n[values]\nx = 2\nw = 3\n'
                    '[nodes]\nf = "w*x"\n', encoding="utf-8")
    md = _markdown(capsys, str(spec))
    first = md.splitlines()[0]
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in first
    assert r"\$\\input{x}\$" in first and r"\[a\](b) \# no heading" in first


def test_matrix_form_in_markdown(capsys):
    md = _markdown(capsys, "mlp_3_4_2", "--params", "w1")
    assert "## The same derivation in matrix form" in md
    assert r"$W_{1} \in \mathbb{R}^{4 \times 3}$" in md and r"\odot" in md and r"^{\top}" in md


def test_solution_renders_itself_in_jupyter():
    s = symgrad.solve(symgrad.derive(symgrad.load("mazur")), digits=9).restrict(["w5"])
    assert s._repr_markdown_() == s.markdown() == symgrad.render_markdown(s)
    assert s.latex() == symgrad.render_latex(s)
    shown = s._repr_latex_()
    assert r"\documentclass" not in shown and r"\section" not in shown
    assert shown.count("$$") % 2 == 0 and r"\begin{aligned}" in shown
    assert "0.186815602" in shown and "0.35891648" in shown


def test_restrict_keeps_what_the_chosen_gradients_need():
    s = symgrad.solve(symgrad.derive(symgrad.load("mazur")), digits=6)
    w1 = s.restrict(["w1"])
    assert [g.param for g in w1.gradients] == ["w1"] and [u.param for u in w1.updates] == ["w1"]
    # ∂E/∂w1 goes through both outputs: every δ above net_h1, none of the other hidden unit's
    names = {d.name for d in w1.deltas}
    assert {"net_h1", "out_h1", "net_o1", "net_o2", "out_o1", "out_o2", "E_o1", "E_o2", "E_total"} <= names
    assert not names & {"net_h2", "out_h2", "w5", "t1", "i1"}
    with pytest.raises(symgrad.InvalidArgument, match="unknown parameter 'w9'.*w1, w2"):
        s.restrict(["w9"])
    with pytest.raises(symgrad.InvalidArgument):
        s.restrict([])


def test_params_also_narrow_the_text_report(capsys):
    assert main(["report", "mazur", "--params", "w5"]) == 0
    text = capsys.readouterr().out
    assert "dE_total/dw5 = dE_total/dout_o1 * ∂out_o1/∂net_o1 * ∂net_o1/∂w5" in text
    assert "dE_total/dw1" not in text and "w1+" not in text and "dE_total/dout_h1" not in text
