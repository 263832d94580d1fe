"""A Derivation shows its symbolic chain rule: LaTeX that compiles, Markdown, and a bounded Jupyter display.

The formulas are checked against ``sympy.diff`` in tests/property/test_latex_roundtrip.py; here: the
lecture's chain form, no numbers, pdflatex, inert spec text, the notebook bound and bad options.
"""

from __future__ import annotations

import re

import pytest

import symgrad
from symgrad.limits import MAX_REPR_FACTORS, MAX_REPR_PARAMS
from symgrad.render.notation import latex_name

from .latex_tools import compile_latex
from .test_latex import _hostile_spec

EXAMPLES = [e.name for e in symgrad.builtin_examples()]

# The fourth lecture: ∂E_total/∂w5 = ∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5 (total derivatives d).
MAZUR_W5 = (r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}w_{5}} &= \frac{\mathrm{d}E_{\mathrm{total}}}"
            r"{\mathrm{d}\mathrm{out}_{\mathrm{o1}}} \cdot \frac{\partial \mathrm{out}_{\mathrm{o1}}}"
            r"{\partial \mathrm{net}_{\mathrm{o1}}} \cdot \frac{\partial \mathrm{net}_{\mathrm{o1}}}{\partial w_{5}}")


def test_mazur_w5_names_the_three_lecture_factors_and_their_formulas():
    d = symgrad.derive(symgrad.load("mazur"))
    tex = d.latex(params=["w5"])
    assert MAZUR_W5 in tex
    # each factor's formula: σ' in the node's own name, the weight's input, and δ of out_o1 from E_o1
    assert (r"\frac{\partial \mathrm{out}_{\mathrm{o1}}}{\partial \mathrm{net}_{\mathrm{o1}}} &= "
            r"\mathrm{out}_{\mathrm{o1}} \left(1 - \mathrm{out}_{\mathrm{o1}}\right)") in tex
    assert r"\frac{\partial \mathrm{net}_{\mathrm{o1}}}{\partial w_{5}} &= \mathrm{out}_{\mathrm{h1}}" in tex
    assert (r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}\mathrm{out}_{\mathrm{o1}}} &= "
            r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}E_{\mathrm{o1}}} \, "
            r"\frac{\partial E_{\mathrm{o1}}}{\partial \mathrm{out}_{\mathrm{o1}}}") in tex
    assert (r"\frac{\partial E_{\mathrm{o1}}}{\partial \mathrm{out}_{\mathrm{o1}}} &= "
            r"-\left(t_{1} - \mathrm{out}_{\mathrm{o1}}\right)") in tex  # as the lecture derives ½(t1 − out_o1)²
    # only what w5 needs: nothing of the second output or the hidden layer's δ
    assert r"\mathrm{d}\mathrm{out}_{\mathrm{o2}}}" not in tex and r"\mathrm{d}\mathrm{net}_{\mathrm{h1}}}" not in tex
    assert tex.count(r"\section*{The gradient for") == 1
    assert MAZUR_W5 in d.markdown(params=["w5"]) and MAZUR_W5 in d._repr_latex_()


def test_a_hidden_weight_is_built_from_the_sum_over_consumers():
    tex = symgrad.derive(symgrad.load("mazur")).latex(params=["w1"])
    # the lecture: ∂E/∂out_h1 = ∂E_o1/∂out_h1 + ∂E_o2/∂out_h1, through net_o1 (w5) and net_o2 (w7)
    assert (r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}\mathrm{out}_{\mathrm{h1}}} &= "
            r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}\mathrm{net}_{\mathrm{o1}}} \, "
            r"\frac{\partial \mathrm{net}_{\mathrm{o1}}}{\partial \mathrm{out}_{\mathrm{h1}}} + "
            r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}\mathrm{net}_{\mathrm{o2}}} \, "
            r"\frac{\partial \mathrm{net}_{\mathrm{o2}}}{\partial \mathrm{out}_{\mathrm{h1}}}") in tex
    assert r"\frac{\partial \mathrm{net}_{\mathrm{o2}}}{\partial \mathrm{out}_{\mathrm{h1}}} &= w_{7}" in tex
    assert "(2 paths from" in tex


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_builtin_derivation_compiles_and_holds_no_numbers(name, tmp_path):
    net = symgrad.load(name)
    tex = symgrad.derive(net).latex()
    equations = "\n".join(re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", tex, re.S))
    for value in net.values.values():  # no value of the spec is printed (1 and 0 occur as formulas)
        text = str(value)
        if text not in ("0", "1", "-1", "2", "1/2"):
            assert not re.search(rf"(?<![\w.{{]){re.escape(text)}(?![\w.])", equations), text
    pdf, log, _ = compile_latex(tex, tmp_path)
    assert pdf.stat().st_size > 1000
    assert "Overfull" not in log, re.findall(r"Overfull.*", log)
    shown = symgrad.derive(net).params or tuple(n for n in net.inputs if n in net.ancestors(net.output))
    assert tex.count(r"\section*{The gradient for") == len(shown)


def test_hostile_spec_text_and_names_stay_inert(tmp_path):
    net = symgrad.load(_hostile_spec(tmp_path))
    d = symgrad.derive(net)
    tex = d.latex()
    body = tex.split(r"\begin{document}", 1)[1]
    assert r"\input{" not in body and r"\write18" not in body and r"\def\x" not in body
    assert r"\frac{\partial d}{\partial w} &= \mathrm{\_x}" in body  # the name _x prints as it is, escaped
    pdf, log, inputs = compile_latex(tex, tmp_path)
    assert not any("passwd" in path for path in inputs)
    assert not (tmp_path / "pwned").exists()
    md = d.markdown()
    title = md.splitlines()[0]
    # backslash, $, #, _ escaped: no command, no math, no heading, no emphasis; & as an entity: no HTML
    assert title.startswith(r"# \\input{/etc/passwd} \$x\$ 100% \#1 a\_b") and r"\~f \\ g &amp; h" in title
    shown = d._repr_latex_()
    assert r"\input" not in shown  # the notebook display has no title at all
    assert d._repr_markdown_() == md  # small enough to show in full


def test_the_notebook_display_is_bounded_and_counts_the_rest():
    net = symgrad.load("mlp_3_4_2")
    d = symgrad.derive(net)
    assert len(net.params) == 26 > MAX_REPR_PARAMS
    for shown in (d._repr_markdown_(), d._repr_latex_()):
        assert shown.count("The gradient for the parameter") == MAX_REPR_PARAMS
        rest = len(net.params) - MAX_REPR_PARAMS
        first = latex_name(net.params[MAX_REPR_PARAMS])
        assert f"… and {rest} more parameters, from ${first}$ on" in shown
        assert str(MAX_REPR_PARAMS) in shown and str(MAX_REPR_FACTORS) in shown
    shown = d._repr_latex_()
    assert r"\documentclass" not in shown and r"\section" not in shown
    assert shown.count("$$") % 2 == 0 and r"\begin{aligned}" in shown
    assert d.latex().count(r"\section*{The gradient for") == 26  # the documents show every one


def test_the_factor_bound_keeps_a_wide_network_short():
    net = symgrad.mlp([2, 15, 15, 15, 1], seed=0)
    d = symgrad.derive(net)
    shown = d._repr_markdown_()
    # the first weight needs the δ of 15 units of the second layer, each a sum over 15 units of the third:
    # 225 local factors, above the bound, so no gradient is shown, only the count
    assert 15 * 15 > MAX_REPR_FACTORS
    assert "The gradient for" not in shown
    assert f"The {len(net.params)} parameters, from $w_{{1}}$ on, are not shown here" in shown
    assert len(shown) < 5_000
    small = symgrad.derive(symgrad.load("mazur"))._repr_markdown_()
    assert small.count("The gradient for the parameter") == MAX_REPR_PARAMS and "… and 2 more parameters" in small


@pytest.mark.parametrize("params, match", [
    (["w9"], r"unknown parameter 'w9'; choose from the parameters of this network: w1, w2"),
    ([], r"unknown parameter \(none given\)"),
    ("w5", r"params must be a list of names, got the string 'w5'; write \['w5'\]"),
    (["i1"], r"unknown parameter 'i1'"),
])
def test_bad_params_raise_one_clear_error(params, match):
    d = symgrad.derive(symgrad.load("mazur"))
    with pytest.raises(symgrad.errors.InvalidArgument, match=match):
        d.latex(params=params)
    with pytest.raises(symgrad.errors.InvalidArgument, match=match):
        d.markdown(params=params)


def test_params_keep_their_order():
    """(That another process with another hash seed writes the same bytes: test_latex.py.)"""
    d = symgrad.derive(symgrad.load("mazur"))
    tex = d.latex(params=["w5", "w1", "w5"])
    assert tex.index(r"\section*{The gradient for the parameter $w_{5}$}") < \
        tex.index(r"\section*{The gradient for the parameter $w_{1}$}")
    assert tex.count(r"\section*{The gradient for") == 2
