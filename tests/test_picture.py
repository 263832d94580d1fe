"""Pictures: the circuit (layout, drawing, determinism), the training loss curve, the step sweep.

References: the lecture's printed numbers, the spec's own operand lists, geometry checked on
the drawn figure (no label overlaps another label, a box or a wire), a hand-written NumPy
gradient descent for the loss curve, and sweep coordinates computed by hand.
"""

from __future__ import annotations

import importlib
import itertools
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad.cli import main
from symgrad.errors import GraphError, InvalidArgument, MissingDependency
from symgrad.render import picture
from symgrad.reporting import plot_training, train_network

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CIRCUIT_20 = """
description = "A 20-node circuit with forks, skips and several paths"
output = "E"

[symbols]
inputs = ["x1", "x2", "x3"]
targets = ["y"]
params = ["w1", "w2", "w3", "w4", "b1"]

[values]
x1 = 0.5
x2 = -1.5
x3 = 2
y = 0.25
w1 = 0.3
w2 = -0.7
w3 = 1.1
w4 = 0.45
b1 = 0.1

[nodes]
a1 = "w1*x1"
a2 = "w2*x2"
a3 = "w3*x3"
s1 = "a1 + a2"
s2 = "a2 + a3 + b1"
h1 = "sigmoid(s1)"
h2 = "tanh(s2)"
m1 = "h1*h2"
m2 = "h1 + x3"
e1 = "exp(-m1)"
q1 = "m2**2"
c1 = "e1 + q1"
r1 = "w4*c1"
r2 = "r1 - h2"
z1 = "sigmoid(r2)"
z2 = "z1*m1"
z3 = "z2 + a1"
d = "z3 - y"
E_sq = "d**2"
E = "1/2*E_sq"
"""


def _needs(module: str):
    """Import an optional dependency; skip without it, except in CI, where the extras must be installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is not installed in CI; .ci/run must install the plot extra")
        pytest.skip(f"{module} is not installed (python -m pip install \"symgrad[plot]\")")


def _network(name: str) -> symgrad.Network:
    return symgrad.loads(CIRCUIT_20) if name == "circuit20" else symgrad.load(name)


def _solution(name: str, digits: int = 4) -> symgrad.Solution:
    return symgrad.solve(symgrad.derive(_network(name)), digits=digits)


NETWORKS = ["mazur", "circuit20", "circuit_multipath", "sigmoid_circuit", "mlp_3_4_2"]


# -- layout (pure Python) ----------------------------------------------------------------------------


def test_the_20_node_circuit_has_20_nodes():
    assert len(_network("circuit20").nodes) == 20


@pytest.mark.parametrize("name", NETWORKS)
def test_every_edge_of_the_spec_is_a_connected_wire_running_left_to_right(name):
    net = _network(name)
    lay = symgrad.layout_circuit(_solution(name))
    boxes = {q.name: q for q in lay.quantities}
    assert set(boxes) == set(net.nodes) | {n for n in net.leaves if any(n in net.nodes[m].operands for m in net.nodes)}
    for wire in lay.wires:
        xs = [x for x, _ in wire.points]
        assert xs == sorted(xs), wire
    for consumer, node in net.nodes.items():
        c = boxes[consumer]
        for operand in node.operands:
            o = boxes[operand]
            assert c.layer > o.layer
            # Follow the operand's wires from its box to the consumer's box.
            links: dict[tuple[float, float], set[tuple[float, float]]] = {}
            for wire in lay.wires:
                if wire.source == operand:
                    for p, q in itertools.pairwise(wire.points):
                        links.setdefault(p, set()).add(q)
            start = (o.x + o.width / 2, o.y)
            seen, frontier = {start}, [start]
            while frontier:
                for q in links.get(frontier.pop(), ()):
                    if q not in seen:
                        seen.add(q)
                        frontier.append(q)
            ends = {w.points[-1] for w in lay.wires if w.source == operand and w.consumer == consumer}
            assert len(ends) == 1 and ends <= seen, (operand, consumer)
            (x_end, y_end), = ends
            assert x_end == pytest.approx(c.x - c.width / 2) and abs(y_end - c.y) < lay.box_height / 2


def _crosses_box(p, q, box, height, shrink=1e-6):
    """Liang-Barsky: does segment p-q enter the (slightly shrunk) rectangle of the box?"""
    x0, x1 = box.x - box.width / 2 + shrink, box.x + box.width / 2 - shrink
    y0, y1 = box.y - height / 2 + shrink, box.y + height / 2 - shrink
    (px, py), (qx, qy) = p, q
    dx, dy = qx - px, qy - py
    low, high = 0.0, 1.0
    for step, distance in ((-dx, px - x0), (dx, x1 - px), (-dy, py - y0), (dy, y1 - py)):
        if step == 0:
            if distance < 0:
                return False
        else:
            t = distance / step
            if step < 0:
                low = max(low, t)
            else:
                high = min(high, t)
    return low < high


@pytest.mark.parametrize("name", NETWORKS)
def test_no_wire_passes_under_a_box_and_no_boxes_overlap(name):
    lay = symgrad.layout_circuit(_solution(name))
    for wire in lay.wires:
        for p, q in itertools.pairwise(wire.points):
            for box in lay.quantities:
                assert not _crosses_box(p, q, box, lay.box_height), (wire.source, wire.consumer, box.name)
    for a, b in itertools.combinations(lay.quantities, 2):
        apart_x = abs(a.x - b.x) >= (a.width + b.width) / 2
        apart_y = abs(a.y - b.y) >= lay.box_height
        assert apart_x or apart_y, (a.name, b.name)


def test_mazur_wires_carry_the_lecture_numbers():
    lay = symgrad.layout_circuit(_solution("mazur", digits=9))
    q = lay.quantity
    assert q("out_h1").value == "0.593269992"
    assert q("out_o1").value == "0.75136507"
    assert q("E_total").value == "0.298371109"
    assert q("out_o1").gradient == "0.74136507"          # ∂E_total/∂out_o1
    assert round(float(q("w5").gradient), 9) == 0.082167041   # ∂E_total/∂w5
    assert q("E_total").gradient == "1"
    # The lecture's layers: inputs and first-layer weights, then net_h, out_h, net_o, out_o, E_o, E_total.
    assert [q(n).layer for n in ("i1", "w1", "net_h1", "out_h1", "w5", "net_o1", "out_o1", "E_o1", "E_total")] \
        == [0, 0, 1, 2, 2, 3, 4, 5, 6]


def test_digits_are_checked_and_the_size_is_limited(monkeypatch):
    with pytest.raises(InvalidArgument):
        symgrad.layout_circuit(_solution("mazur"), digits=0)
    monkeypatch.setattr(picture, "MAX_PICTURE_QUANTITIES", 24)
    with pytest.raises(GraphError, match="25 quantities.*at most 24"):
        symgrad.layout_circuit(_solution("mazur"))


# -- drawing (matplotlib) ----------------------------------------------------------------------------


def _svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("name", ["mazur", "circuit20"])
def test_svg_is_well_formed_and_names_every_quantity(name, tmp_path):
    _needs("matplotlib")
    path = tmp_path / "graph.svg"
    lay = symgrad.draw_circuit(_solution(name), path, title=_network(name).description)
    texts = _svg_texts(path)
    net = _network(name)
    for quantity in [*net.nodes, *(q.name for q in lay.quantities)]:
        assert quantity in texts, quantity
    for q in lay.quantities:
        assert q.value in texts and q.gradient in texts


def test_svg_shows_the_lecture_numbers(tmp_path):
    _needs("matplotlib")
    path = tmp_path / "mazur.svg"
    symgrad.draw_circuit(_solution("mazur"), path)
    texts = _svg_texts(path)
    for lecture in ["0.5933", "0.7514", "0.2984", "0.7414", "0.08217", "0.1385"]:
        assert lecture in texts, lecture


def test_definitions_label_the_gates_as_the_lecture_does(tmp_path):
    _needs("matplotlib")
    path = tmp_path / "sigmoid.svg"
    lay = symgrad.draw_circuit(_solution("sigmoid_circuit"), path, definitions=True)
    # x -> *(-1) -> exp -> +1 -> ^(-1) -> z, the first lecture's circuit for the sigmoid
    assert [lay.quantity(n).definition for n in "abcz"] == ["-1 * x", "exp(a)", "b + 1", "c ** (-1)"]
    assert {"-1 * x", "exp(a)", "b + 1", "c ** (-1)"} <= set(_svg_texts(path))
    assert lay.quantity("x").definition == ""


def test_png_is_written(tmp_path):
    _needs("matplotlib")
    path = tmp_path / "mazur.png"
    symgrad.draw_circuit(_solution("mazur"), path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_same_input_gives_the_same_bytes_in_another_process(tmp_path):
    _needs("matplotlib")
    script = ("import sys, symgrad\n"
              "s = symgrad.solve(symgrad.derive(symgrad.load('circuit_multipath')), digits=4)\n"
              "for path in sys.argv[1:]:\n"
              "    symgrad.draw_circuit(s, path)\n")
    theirs = [tmp_path / "other.svg", tmp_path / "other.png"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}
    proc = subprocess.run([sys.executable, "-c", script, *map(str, theirs)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ours = [tmp_path / "ours.svg", tmp_path / "ours.png"]
    for path in ours:
        symgrad.draw_circuit(_solution("circuit_multipath"), path)
    for a, b in zip(ours, theirs):
        assert a.read_bytes() == b.read_bytes(), a.suffix
    assert ours[1].read_bytes()[:8] == PNG_MAGIC


def _extents(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    texts = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts]
    boxes = [p.get_window_extent(renderer) for p in ax.patches]
    segments = []
    for line in ax.lines:
        points = ax.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
        segments += list(itertools.pairwise(map(tuple, points)))
    return texts, boxes, segments


def _segment_hits(p, q, bbox) -> bool:
    box = type("B", (), {"x": (bbox.x0 + bbox.x1) / 2, "y": (bbox.y0 + bbox.y1) / 2, "width": bbox.width})
    return _crosses_box(p, q, box, bbox.height)


@pytest.mark.parametrize("name, definitions", [("mazur", False), ("circuit20", False), ("mlp_3_4_2", False),
                                               ("two_neurons", False), ("sigmoid_circuit", False),
                                               ("mazur", True), ("circuit20", True), ("sigmoid_circuit", True)])
def test_no_label_overlaps_a_label_a_box_or_a_wire(name, definitions):
    _needs("matplotlib")
    net = _network(name)
    fig = symgrad.circuit_figure(_solution(name), title=net.description, definitions=definitions)
    texts, boxes, segments = _extents(fig)
    names = set(net.nodes) | set(net.leaves)
    if definitions:
        names |= {node.text for node in net.nodes.values()}     # shown inside the node's box
        assert {node.text for node in net.nodes.values()} <= {text for text, _ in texts}
    page = fig.bbox
    for text, extent in texts:                                # nothing is cut off at the edges
        assert page.x0 <= extent.x0 and extent.x1 <= page.x1 and page.y0 <= extent.y0 and extent.y1 <= page.y1, text
    assert any(text.startswith("Above each wire: its value") for text, _ in texts)
    for (a, ea), (b, eb) in itertools.combinations(texts, 2):
        assert not ea.overlaps(eb), (a, b)
    for text, extent in texts:
        inside = [box for box in boxes if box.x0 <= extent.x0 and extent.x1 <= box.x1
                  and box.y0 <= extent.y0 and extent.y1 <= box.y1]
        if text in names:
            assert len(inside) == 1, text                     # a name (or definition) sits inside its box
        else:
            assert not any(box.overlaps(extent) for box in boxes), text
        for p, q in segments:
            assert not _segment_hits(p, q, extent), text


def test_without_matplotlib_the_error_gives_the_install_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependency) as info:
        symgrad.draw_circuit(_solution("two_neurons"), tmp_path / "g.svg")
    assert info.value.extra == "plot" and info.value.module == "matplotlib"
    assert 'python -m pip install "symgrad[plot]"' in str(info.value)
    assert str(info.value).startswith("drawing the graph needs matplotlib")
    assert main(["graph", "two_neurons", "-o", str(tmp_path / "g.svg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'symgrad[plot]' in err
    assert not (tmp_path / "g.svg").exists()


def test_a_hostile_title_still_gives_well_formed_svg(tmp_path):
    _needs("matplotlib")
    path = tmp_path / "g.svg"
    symgrad.draw_circuit(_solution("two_neurons"), path, title="bell\x07 <b>&amp; $x$\x1b[2J\nend")
    texts = _svg_texts(path)
    assert "bell\\x07 <b>&amp; $x$\\x1b[2J\\nend" in texts


def test_a_picture_needs_a_known_suffix(tmp_path, capsys):
    with pytest.raises(InvalidArgument, match=r"\.svg or \.png"):
        symgrad.draw_circuit(_solution("two_neurons"), tmp_path / "g.pdf")
    with pytest.raises(SystemExit) as exit_:
        main(["graph", "mazur", "-o", str(tmp_path / "g.pdf")])
    assert exit_.value.code == 2 and "must end in .svg or .png" in capsys.readouterr().err


def test_cli_graph_writes_the_picture(tmp_path, capsys):
    _needs("matplotlib")
    path = tmp_path / "mazur.svg"
    assert main(["graph", "mazur", "-o", str(path), "--digits", "9"]) == 0
    assert capsys.readouterr().out == f"wrote {path}: 25 quantities in 7 layers\n"
    texts = _svg_texts(path)
    assert {"0.74136507", "0.593269992", "0.298371109"} <= set(texts)


# -- the loss curve -----------------------------------------------------------------------------------


def _hand_descent(w: float, steps: int, rate: float) -> list[float]:
    """The fifth lecture's y = w·x on its four points, mean squared error / 2, by hand."""
    x = np.array([10, 2, 3.5, 1])
    y = np.array([10.1, 1.9, 3.4, 1.1])
    losses = []
    for _ in range(steps):
        residual = y - w * x
        losses.append(float(np.mean(residual ** 2) / 2))
        w += rate * float(np.mean(residual * x))
    return losses


def test_the_loss_curve_plots_the_training_losses(tmp_path):
    _needs("matplotlib")
    training = train_network(symgrad.load("perceptron"), steps=40)
    fig = symgrad.loss_figure(training.result.losses)
    plotted = fig.axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(plotted, _hand_descent(0.5, 40, 0.01), rtol=1e-12)
    assert fig.axes[0].get_yscale() == "log"      # 3.74 down to 0.0047: three decades
    path = tmp_path / "loss.svg"
    plot_training(training, path)
    texts = _svg_texts(path)
    assert "40 steps, learning rate 0.01, full batch" in texts
    assert "The world's smallest perceptron y = w*x on four (x, y) pairs, squared error" in texts  # names the network


def test_cli_train_plot_writes_a_png(tmp_path, capsys):
    _needs("matplotlib")
    path = tmp_path / "loss.png"
    assert main(["train", "perceptron", "--steps", "20", "--plot", str(path)]) == 0
    assert capsys.readouterr().out.startswith("20 steps, learning rate 0.01")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_an_empty_loss_curve_is_refused(tmp_path):
    with pytest.raises(InvalidArgument, match="0 steps"):
        symgrad.draw_losses([], tmp_path / "loss.svg")


# -- the gradcheck step sweep --------------------------------------------------------------------------
HAND_SWEEP = symgrad.StepSweep("w5", "central", steps=(0.1, 0.01, 0.001), errors=(1e-2, 1e-4, 1e-6),
                               truncation=(1e-2, 1e-4, 1e-6), roundoff=(1e-15, 1e-14, 1e-13),
                               fit_range=(0.001, 0.1), slope=2.0, expected=2, margin=0.1)


def test_the_sweep_svg_puts_each_step_where_its_logarithms_say(tmp_path):
    path = picture.plot_sweep(HAND_SWEEP, tmp_path / "sweep.svg")
    root = ET.parse(path).getroot()
    lines = root.findall(f"{SVG}polyline")  # measured, truncation term, round-off term
    assert root.tag.endswith("svg") and len(lines) == 3
    # frame 60…580 × 60…360; log10 h from −3 to −1 across, log10 error from −6 (bottom) to −2 (top)
    assert lines[0].get("points") == "580.0,60.0 320.0,210.0 60.0,360.0"
    assert lines[2].get("points") == "580.0,360.0 320.0,360.0 60.0,360.0"  # below the frame: clipped to it
    titles = [t.text for t in root.findall(f"{SVG}text")]
    assert "step sweep of w5: measured slope 2.000 for h in [0.001, 0.1], expected 2 ± 0.1: ok" in titles


def test_the_sweep_png_needs_matplotlib_and_other_suffixes_are_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependency, match=r'pip install "symgrad\[plot\]"'):
        picture.plot_sweep(HAND_SWEEP, tmp_path / "sweep.png")
    with pytest.raises(InvalidArgument, match=".svg or .png"):
        picture.plot_sweep(HAND_SWEEP, tmp_path / "sweep.pdf")


def test_the_sweep_png_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = picture.plot_sweep(HAND_SWEEP, tmp_path / "sweep.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_sweep_is_the_pictures_module_s():
    assert symgrad.plot_sweep is picture.plot_sweep
