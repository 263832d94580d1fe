"""The LaTeX worked solution: it compiles, shows the lecture's numbers, and spec text stays inert."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest

import symgrad
from symgrad.cli import main
from symgrad.render.latex_writer import escape_text
from symgrad.render.notation import latex_name

from .latex_tools import compile_latex

EXAMPLES = [e.name for e in symgrad.builtin_examples()]
ROOT = Path(__file__).resolve().parent.parent


def _latex(capsys, *argv: str) -> str:
    assert main(["report", *argv, "--format", "latex"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_builtin_example_compiles_without_overfull_lines(name, tmp_path):
    tex = symgrad.report(symgrad.load(name), format="latex")
    pdf, log, _ = compile_latex(tex, tmp_path)
    assert pdf.stat().st_size > 1000
    assert "Overfull" not in log, re.findall(r"Overfull.*", log)


def test_mazur_at_9_digits_shows_the_lecture_numbers(capsys):
    tex = _latex(capsys, "mazur", "--digits", "9")
    # The fourth lecture's numbers (it prints 9 decimals): dE/dout_o1, dout_o1/dnet_o1, dnet_o1/dw5 = out_h1, w5+.
    for number in ["0.74136507", "0.186815602", "0.593269992", "0.35891648"]:
        assert number in tex, number
    # dE/dw5 at 9 significant digits is 0.0821670406, the lecture's 0.082167041 one digit further.
    assert "= 0.0821670406" in tex
    assert Decimal("0.0821670406").quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP) == Decimal("0.082167041")
    # The chain for w5, its local partials written ∂, the total derivatives d.
    assert (r"\frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}w_{5}} &= \frac{\mathrm{d}E_{\mathrm{total}}}"
            r"{\mathrm{d}\mathrm{out}_{\mathrm{o1}}} \cdot \frac{\partial \mathrm{out}_{\mathrm{o1}}}"
            r"{\partial \mathrm{net}_{\mathrm{o1}}} \cdot \frac{\partial \mathrm{net}_{\mathrm{o1}}}{\partial w_{5}}"
            in tex)
    # Each factor derived symbolically, numbers substituted, value.
    assert (r"\frac{\partial \mathrm{out}_{\mathrm{o1}}}{\partial \mathrm{net}_{\mathrm{o1}}} &= "
            r"\mathrm{out}_{\mathrm{o1}} \left(1 - \mathrm{out}_{\mathrm{o1}}\right) = "
            r"0.75136507 \cdot \left(1 - 0.75136507\right) = 0.186815602" in tex)
    # 0.74136507 · 0.186815602 · 0.593269992 = 0.08216704068: to reproduce 0.0821670406 the row needs 10 digits.
    assert r"= 0.7413650696 \cdot 0.1868156018 \cdot 0.5932699921 = 0.0821670406" in tex
    assert r"w_{5}^{+} &= w_{5} - \eta \, \frac{\mathrm{d}E_{\mathrm{total}}}{\mathrm{d}w_{5}} = " \
           r"0.4 - 0.5 \cdot 0.0821670406 = 0.35891648" in tex


def test_hidden_weight_writes_the_sum_over_consumers(capsys):
    tex = _latex(capsys, "mazur", "--params", "w1")
    d = lambda a, b: rf"\frac{{\mathrm{{d}}{latex_name(a)}}}{{\mathrm{{d}}{latex_name(b)}}}"  # noqa: E731
    p = lambda a, b: rf"\frac{{\partial {latex_name(a)}}}{{\partial {latex_name(b)}}}"  # noqa: E731
    assert (f"{d('E_total', 'out_h1')} &= {d('E_total', 'net_o1')} \\, {p('net_o1', 'out_h1')} + "
            f"{d('E_total', 'net_o2')} \\, {p('net_o2', 'out_h1')}") in tex
    # the lecture: 0.138498562·0.40 + (−0.0380982365)·0.50 = 0.0363503064 (to 9 digits); those numbers give
    # 0.03635030655, so the row shows 10 digits, which give 0.0363503064 (Fraction arithmetic by hand).
    assert r"0.1384985616 \cdot 0.4 + \left(-0.03809823652\right) \cdot 0.5" in tex
    assert tex.count(r"\section*{The gradient for") == 1


def _round9(x: Decimal) -> Decimal:
    return x.quantize(Decimal(1).scaleb(x.adjusted() - 8), rounding=ROUND_HALF_UP)


def _plain(x: Decimal) -> str:
    text = format(x.normalize(), "f")
    return text


def test_round_intermediates_gives_the_numbers_of_a_hand_calculation(capsys):
    """A person carrying 9 significant digits through the Mazur network, step by step, in Decimal."""
    with localcontext() as ctx:
        ctx.prec = 40
        r = _round9
        D = Decimal
        sig = lambda x: r(1 / (1 + (-x).exp()))  # noqa: E731
        i1, i2, t1, t2 = D("0.05"), D("0.10"), D("0.01"), D("0.99")
        w1, w2, w3, w4, w5, w6, w7, w8, b1, b2 = map(D, "0.15 0.20 0.25 0.30 0.40 0.45 0.50 0.55 0.35 0.60".split())
        out_h1 = sig(r(w1 * i1 + w2 * i2 + b1))
        out_h2 = sig(r(w3 * i1 + w4 * i2 + b1))
        out_o1 = sig(r(w5 * out_h1 + w6 * out_h2 + b2))
        out_o2 = sig(r(w7 * out_h1 + w8 * out_h2 + b2))
        e_o1, e_o2 = r(D("0.5") * (t1 - out_o1) ** 2), r(D("0.5") * (t2 - out_o2) ** 2)
        e_total = r(e_o1 + e_o2)
        d_net_o1 = r(r(out_o1 - t1) * r(out_o1 * (1 - out_o1)))
        d_net_o2 = r(r(out_o2 - t2) * r(out_o2 * (1 - out_o2)))
        g_w5 = r(d_net_o1 * out_h1)
        w5_new = r(w5 - r(D("0.5") * g_w5))
        d_out_h1 = r(r(d_net_o1 * w5) + r(d_net_o2 * w7))
        d_net_h1 = r(d_out_h1 * r(out_h1 * (1 - out_h1)))
        g_w1 = r(d_net_h1 * i1)
    hand = [e_o1, e_o2, e_total, d_net_o2, d_out_h1, d_net_h1, g_w5, w5_new, g_w1]
    rounded = _latex(capsys, "mazur", "--digits", "9", "--round-intermediates")
    exact = _latex(capsys, "mazur", "--digits", "9")
    for number in hand:
        assert f"= {_plain(number)}" in rounded, number
    assert "every intermediate rounded to 9 significant digits" in rounded
    differ = [n for n in hand if f"= {_plain(n)}" not in exact]
    assert {_plain(e_total), _plain(g_w5)} <= {_plain(n) for n in differ}  # 0.29837111 and 0.0821670408


@pytest.mark.parametrize("name, expected", [
    ("out_o1", r"\mathrm{out}_{\mathrm{o1}}"),
    ("E_total", r"E_{\mathrm{total}}"),
    ("w5", "w_{5}"),
    ("w_b2", r"w_{\mathrm{b2}}"),
    ("net_h2_1", r"\mathrm{net}_{\mathrm{h2},1}"),
    ("dE_total_dw_5", r"\mathrm{dE}_{\mathrm{total},\mathrm{dw},5}"),  # never nested subscripts
    ("yhat", r"\hat{y}"),
    ("eta", r"\eta"),
    ("x", "x"),
    ("_x", r"\mathrm{\_x}"),
    ("x__1", r"\mathrm{x\_\_1}"),
    ("E_", r"\mathrm{E\_}"),  # not E, which may be another quantity
])
def test_names_print_as_the_lectures_print_them(name, expected):
    assert latex_name(name) == expected
    assert latex_name(name).count("_{") <= 1


HOSTILE = r"""\input{/etc/passwd} $x$ 100% #1 a_b {c} d^e ~f \ g & h \def\x{y}\x \write18{touch pwned} σ → 💥 中 ä"""


def _hostile_spec(tmp_path):
    spec = tmp_path / "hostile.toml"
    description = HOSTILE.replace("\\", "\\\\").replace('"', '\\"')
    spec.write_text(f'''description = "{description}"
output = "E_"

[symbols]
inputs = ["_x", "x__1"]
params = ["w"]

[values]
_x = 2
x__1 = -3
w = 0.5

[nodes]
d = "-(x__1 - w*_x)"
E_ = "d**2"
''', encoding="utf-8")
    return spec


def test_spec_text_is_inert_and_still_compiles(tmp_path, capsys):
    spec = _hostile_spec(tmp_path)
    tex = _latex(capsys, str(spec))
    body = tex.split(r"\begin{document}", 1)[1]
    assert r"\input{" not in body and r"\write18" not in body and r"\def\x" not in body
    pdf, log, inputs = compile_latex(tex, tmp_path)
    assert not any("passwd" in path for path in inputs)
    assert not (tmp_path / "pwned").exists()
    assert "Overfull" not in log
    # a bare unary minus keeps its substitution row: d = −(x__1 − w·_x) = −(−3 − 0.5·2) = 4
    assert r"-\left(\left(-3\right) - 0.5 \cdot 2\right) = 4" in tex


@pytest.mark.parametrize("text", [HOSTILE, "\\", "}{", "%%", "^^M", "\\\\", "$$", "a\x00b\x1b[2Jc\nd"])
def test_escaped_text_has_no_live_command(text):
    escaped = escape_text(text)
    # Take away every escape we emit; nothing LaTeX acts on may remain.
    stripped = re.sub(r"\\(textbackslash|textasciicircum|textasciitilde|textless|textgreater|textbar|dots)\{\}"
                      r"|\\[{}$&#%_]|\$\\(sigma|to)\$", "", escaped)
    assert not set(stripped) & set("\\{}$&#%_^~\x00\x1b")


# Every LaTeX and Markdown document of a network: the worked solution (article, Markdown, MathJax) and
# the symbolic chain rule (article, Markdown, MathJax), separated by form feeds.
_DOCUMENTS = """
import sys, symgrad
for name in sys.argv[1:]:
    net = symgrad.load(name)
    d = symgrad.derive(net)
    s = symgrad.solve(d, digits=6)
    for text in (symgrad.report(net, format="latex"), symgrad.report(net, format="markdown"), s._repr_latex_(),
                 d.latex(), d.markdown(), d._repr_latex_()):
        sys.stdout.write(text + "\f")
"""


def test_the_same_input_gives_the_same_bytes_in_another_process():
    """A fresh interpreter with another hash seed writes the bytes this (warm) one writes."""
    names = ["mazur", "mlp_3_4_2", "circuit_multipath"]
    seed = str(int(os.environ.get("PYTHONHASHSEED", "0").replace("random", "0")) + 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed}
    theirs = subprocess.run([sys.executable, "-c", _DOCUMENTS, *names], capture_output=True, env=env, check=True,
                            timeout=300).stdout
    ours = []
    for name in names:
        net = symgrad.load(name)
        d = symgrad.derive(net)
        s = symgrad.solve(d, digits=6)
        ours += [symgrad.report(net, format="latex"), symgrad.report(net, format="markdown"), s._repr_latex_(),
                 d.latex(), d.markdown(), d._repr_latex_()]
    assert theirs.decode("utf-8").split("\f") == [*ours, ""]
    assert r"\section*{The same derivation in matrix form}" in ours[6]


def test_matrix_form_for_dense_networks(capsys):
    tex = _latex(capsys, "mlp_3_4_2", "--params", "w1")
    assert r"\section*{The same derivation in matrix form}" in tex
    assert r"W_{1} \in \mathbb{R}^{4 \times 3}" in tex and r"W_{2} \in \mathbb{R}^{2 \times 4}" in tex
    assert (r"\boldsymbol{\delta}_{1} &= \left(W_{2}^{\top} \boldsymbol{\delta}_{2}\right) \odot "
            r"\left(\mathbf{h}_{1} \odot \left(1 - \mathbf{h}_{1}\right)\right)") in tex
    assert r"\frac{\partial \ell}{\partial W_{1}} &= \boldsymbol{\delta}_{1} \mathbf{h}_{0}^{\top}" in tex
    # ½Σ(t − ŷ)²: the lecture's −(t − ŷ), as the scalar section writes −(t1 − out_o1)
    assert r"\frac{\partial \ell}{\partial \hat{\mathbf{y}}} &= -\left(\mathbf{t} - \hat{\mathbf{y}}\right)" in tex
    assert "matrix form" not in _latex(capsys, "mazur")


def test_params_option_and_output_file(tmp_path, capsys):
    tex = _latex(capsys, "mazur", "--params", "w5,w1")
    sections = re.findall(r"\\section\*\{The gradient for \$(.*?)\$\}", tex)
    assert sections == ["w_{5}", "w_{1}"]
    assert main(["report", "mazur", "--format", "latex", "--params", "w5,w9"]) == 2
    assert "unknown parameter 'w9'" in capsys.readouterr().err
    out = tmp_path / "mazur.tex"
    assert main(["report", "mazur", "--format", "latex", "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == symgrad.report(symgrad.load("mazur"), format="latex")
    assert main(["report", "mazur", "--format", "latex", "-o", str(tmp_path / "x.toml")]) == 2


UNDEFINED = """output = "f"
[symbols]
inputs = ["x"]
params = ["w"]
[values]
x = 0
w = 2
[nodes]
s = "sqrt(x)"
f = "w*s"
"""


@pytest.mark.parametrize("network", [
    symgrad.mlp([2, 2, 3], activation="tanh", loss="softmax_cross_entropy", seed=1),
    symgrad.mlp([2, 3, 1], activation="relu", loss="hinge", bias="layer", seed=2),
    symgrad.mlp([2, 2, 2, 1], activation="leaky_relu", bias="none", l2="0.01", seed=3),
    symgrad.mlp([8, 3, 1], seed=5),
    symgrad.loads(UNDEFINED),
], ids=["softmax", "relu-hinge-layer-bias", "deep-l2", "wide", "undefined-input-delta"])
def test_other_networks_compile_without_overfull_lines(network, tmp_path):
    tex = symgrad.solve(symgrad.derive(network), digits=9).latex()
    _, log, _ = compile_latex(tex, tmp_path)
    assert "Overfull" not in log, re.findall(r"Overfull.*", log)
    if network.structure is None:  # ∂s/∂x = 1/(2√x) does not exist at x = 0, and the document says so
        assert r"\frac{\partial s}{\partial x} &= \frac{1}{2 \sqrt{x}} = \text{(does not exist at this point)}" in tex
    else:
        assert r"\section*{The same derivation in matrix form}" in tex


def test_long_sums_are_broken_across_lines():
    tex = symgrad.solve(symgrad.derive(symgrad.mlp([2, 2, 2, 1], bias="none", l2="0.01", seed=3)), digits=9).latex()
    # the L2 penalty's ten squares do not fit on one line: they continue on the next, inside the parentheses
    penalty = tex[tex.index(r"J &= "):tex.index(r"\end{align*}", tex.index(r"J &= "))]
    assert r"\\*" + "\n" + r" &\quad + " in penalty  # a continuation row: no page break before it (\\*)


def test_without_pdflatex_the_tests_skip_locally_and_fail_under_ci(monkeypatch):
    from . import latex_tools

    monkeypatch.setattr(latex_tools.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="pdflatex is not on PATH; .*texlive-latex-base"):
        latex_tools.pdflatex()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set but pdflatex is not on PATH"):
        latex_tools.pdflatex()
