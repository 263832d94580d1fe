"""Every file a verb writes goes through symgrad.files; titles come from --title/--author/--date or the spec."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import symgrad
from symgrad.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPEC = """description = "a squared single weight"
[symbols]
inputs = ["x"]
params = ["w"]
[values]
x = 2
w = 3
[nodes]
f = "(w*x)**2"
[train]
learning_rate = 0.01
"""


def _plot_extra():
    if importlib.util.find_spec("matplotlib") is None:
        if os.environ.get("CI"):
            pytest.fail("matplotlib is not installed in CI; .ci/run must install the plot extra")
        pytest.skip('matplotlib is not installed (python -m pip install ".[plot]")')


def _spec(tmp_path: Path) -> Path:
    spec = tmp_path / "net.toml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


# Each verb with an output file, the output named like the spec's file, as a symlink to it, and
# (gradcheck) over the --against module: exit 2, the input byte for byte as it was.
def _writers(spec: Path, out: str) -> list[list[str]]:
    return [["graph", str(spec), "-o", out], ["train", str(spec), "--steps", "2", "--plot", out],
            ["gradcheck", str(spec), "--plot", out], ["report", str(spec), "-o", out],
            ["compile", str(spec), "-o", out]]


@pytest.mark.parametrize("verb", range(5), ids=["graph", "train", "gradcheck", "report", "compile"])
def test_no_verb_writes_over_its_spec_through_a_symlink(tmp_path, capsys, verb):
    _plot_extra()
    spec = _spec(tmp_path)
    link = tmp_path / "out.svg" if verb < 3 else tmp_path / ("out.tex" if verb == 3 else "out.py")
    link.symlink_to(spec)
    assert main(_writers(spec, str(link))[verb]) == 2
    assert "refusing to write" in capsys.readouterr().err
    assert spec.read_text(encoding="utf-8") == SPEC and link.is_symlink()


def test_a_picture_named_like_the_spec_is_refused(tmp_path, capsys):
    _plot_extra()
    spec = tmp_path / "net.svg"  # a spec file may have any name
    spec.write_text(SPEC, encoding="utf-8")
    for argv in _writers(spec, str(spec))[:3]:
        assert main(argv) == 2, argv
        assert "it is the input" in capsys.readouterr().err
    assert spec.read_text(encoding="utf-8") == SPEC


def test_gradcheck_plot_never_writes_over_the_against_module(tmp_path, capsys):
    spec = _spec(tmp_path)
    module = tmp_path / "mine.svg"
    source = "def grad(v):\n    return {'w': 2 * v['w'] * v['x'] ** 2}\n"
    module.write_text(source, encoding="utf-8")
    assert main(["gradcheck", str(spec), "--against", f"{module}:grad", "--plot", str(module)]) == 2
    assert module.read_text(encoding="utf-8") == source


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_a_picture_cut_short_by_the_file_size_limit_leaves_the_old_file_whole(tmp_path, suffix):
    _plot_extra()
    target = tmp_path / f"graph.{suffix}"
    target.write_bytes(b"the old picture\n")
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(ROOT)!r})
        from symgrad.cli import main
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))
        sys.exit(main(["graph", "mazur", "-o", {str(target)!r}]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot write {target}" in proc.stderr and "unchanged" in proc.stderr
    assert target.read_bytes() == b"the old picture\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporary file left


def test_the_sweep_plot_is_written_whole_and_names_the_network(tmp_path, capsys):
    spec = _spec(tmp_path)
    out = tmp_path / "sweep.svg"
    out.write_text("old")
    assert main(["gradcheck", str(spec), "--plot", str(out)]) == 0
    svg = out.read_text(encoding="utf-8")
    assert ">a squared single weight</text>" in svg
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# -- titles ------------------------------------------------------------------------------------
def test_title_author_and_date_options_head_every_document(capsys):
    args = ["report", "mazur", "--params", "w5", "--title", "Backprop by hand & 100% exact",
            "--author", "Dr. A. Lecturer", "--date", "3 March 2025"]
    assert main(args + ["--format", "latex"]) == 0
    tex = capsys.readouterr().out
    assert r"\bfseries Backprop by hand \& 100\% exact\par}" in tex
    assert "{\\raggedright Dr. A. Lecturer\\\\\n3 March 2025\\par}" in tex
    assert main(args + ["--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# Backprop by hand &amp; 100% exact\n\n*Dr. A. Lecturer, 3 March 2025*\n")
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("Backprop by hand & 100% exact\n" + "=" * 29
                                              + "\nDr. A. Lecturer\n3 March 2025\n\n")


def test_a_custom_spec_gets_its_own_title_with_no_file_name_and_no_lecture(tmp_path, capsys):
    spec = _spec(tmp_path)
    assert main(["report", str(spec), "--format", "latex"]) == 0
    tex = capsys.readouterr().out
    assert r"\bfseries a squared single weight\par}" in tex
    assert "net.toml" not in tex and "lecture" not in tex
    titled = tmp_path / "titled.toml"
    titled.write_text('title = "Week 3: one weight"\nauthor = "T. A."\ndate = "Spring"\n' + SPEC, encoding="utf-8")
    assert main(["report", str(titled), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("# Week 3: one weight\n\n*T. A., Spring*\n")
    assert symgrad.load(titled).title == "Week 3: one weight"


def test_the_lecture_attribution_is_only_on_the_built_in_lecture_examples(capsys):
    for example in symgrad.builtin_examples():
        assert main(["report", example.name]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert first == example.description and "lecture" in first


def test_a_bad_title_key_names_the_key_and_the_fix(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text("title = 3\n" + SPEC, encoding="utf-8")
    assert main(["report", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "title" in err and "expected a string, got 3" in err and "bad.toml" in err


# -- long names and deep nesting: abbreviated at a stated limit, so pdflatex and the picture cope ----
def _nested_spec(depth: int) -> str:
    inner = "x"
    for _ in range(depth):
        inner = f"sigmoid({inner})"
    return f'[symbols]\ninputs = ["x"]\nparams = ["w"]\n[values]\nx = 0.5\nw = 2\n[nodes]\nf = "w*{inner}"\n'


def test_a_1500_character_name_and_48_nested_sigmoids_compile(tmp_path):
    from tests.latex_tools import compile_latex
    from symgrad.limits import MAX_NAME_PRINT

    name = "w" + "a" * 1499
    spec = f'[symbols]\ninputs = ["x"]\nparams = ["{name}"]\n[values]\nx = 2\n{name} = 3\n[nodes]\nf = "{name}*x"\n'
    tex = symgrad.report(symgrad.loads(spec), format="latex")
    assert name not in tex and r"\ldots " in tex
    shown = re.findall(r"\\mathrm\{(wa+)\\ldots (a+)\}", tex)
    assert shown and all(len(a) + len(b) + 1 == MAX_NAME_PRINT for a, b in shown)
    compile_latex(tex, tmp_path, name="long")
    deep = symgrad.report(symgrad.loads(_nested_spec(48)), format="latex")
    compile_latex(deep, tmp_path, name="deep")
    assert "not printed" in deep  # the 48-fold product of σ' is over MAX_FORMULA_PRINT: a note instead


def test_a_graph_of_300_nodes_with_2400_character_names_keeps_every_label_short(tmp_path):
    _plot_extra()
    from symgrad.limits import MAX_NAME_PRINT
    from symgrad.render.picture import layout_circuit

    lines, previous = [], "x"
    for k in range(300):
        name = f"n{k}_" + "b" * 2390
        lines.append(f'{name} = "sigmoid({previous})"')
        previous = name
    network = symgrad.loads('[symbols]\ninputs = ["x"]\n[values]\nx = 0.5\n[nodes]\n' + "\n".join(lines) + "\n")
    lay = layout_circuit(symgrad.solve(symgrad.derive(network), digits=4), definitions=True)
    assert len(lay.quantities) == 301
    # Every box is at most the abbreviated name's width: 40 characters of 10 pt text, not 2,400.
    assert max(q.width for q in lay.quantities) < MAX_NAME_PRINT * 0.66 * 10 / 72 + 0.3
    assert all(len(q.definition) <= 60 for q in lay.quantities)
    assert any("shortened" in line for line in lay.caption)


# -- the text report: ∂ for local partials, d for total derivatives, the LaTeX's quantities -------
def test_the_text_report_writes_local_partials_with_a_curly_d_and_no_circular_line(capsys):
    assert main(["report", "mazur"]) == 0
    text = capsys.readouterr().out
    assert "dE_total/dE_total * " not in text and "dE_total/dE_o1 * dE_total/dE_o1" not in text
    assert "dE_total/dE_o1 = dE_total/dE_o2 = 1: each is a term of the sum E_total" in text
    assert "dE_total/dout_o1 = dE_total/dE_o1 * ∂E_o1/∂out_o1" in text
    assert "dE_total/dw5 = dE_total/dout_o1 * ∂out_o1/∂net_o1 * ∂net_o1/∂w5" in text
    # The same total derivatives as the LaTeX, which are the lecture's: no δ of a target or an input.
    lecture = {"E_o1", "E_o2", "out_o1", "out_o2", "net_o1", "net_o2", "out_h1", "out_h2", "net_h1", "net_h2"}
    backward = text.split("every path)")[1].split("Gradients")[0]
    assert set(re.findall(r"dE_total/d(\w+) = ", backward)) == lecture
    assert main(["report", "mazur", "--format", "latex"]) == 0
    tex = capsys.readouterr().out.split("Backward pass")[1].split("The gradient for")[0]
    derived = set(re.findall(r"\\mathrm\{d\}(?:\\mathrm\{)?([A-Za-z]+)\}?_\{\\mathrm\{([a-z0-9]+)\}\}", tex))
    assert {f"{a}_{b}" for a, b in derived} - {"E_total"} == lecture
