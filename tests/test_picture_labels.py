"""Pictures (issue 20): every label inside the image, every title naming the network.

The geometry is read from the drawn matplotlib figure: each text artist's window extent after
``draw`` lies inside the figure's bounding box (to half a pixel).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import symgrad
from symgrad.cli import main
from symgrad.reporting import picture_title

matplotlib = pytest.importorskip("matplotlib", reason="the pictures need the plot extra (matplotlib)")
from matplotlib.text import Text  # noqa: E402

from symgrad.render.picture import circuit_figure, loss_figure  # noqa: E402
from symgrad.render.sweep_picture import sweep_figure  # noqa: E402

LONG = "a title of a network that a lecturer wrote out at length, " * 4
SVG = "{http://www.w3.org/2000/svg}"


def _undrawn_tick_labels(fig) -> set[int]:
    """Tick labels matplotlib keeps for ticks beyond the axis's view: they are never drawn."""
    hidden: set[int] = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - span <= tick.get_loc() <= high + span:
                    hidden |= {id(tick.label1), id(tick.label2)}
    return hidden


def _labels_outside(fig) -> list[str]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    hidden = _undrawn_tick_labels(fig)
    outside, seen = [], 0
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or id(text) in hidden:
            continue
        seen += 1
        box = text.get_window_extent(renderer)
        if box.x0 < page.x0 - 0.5 or box.y0 < page.y0 - 0.5 or box.x1 > page.x1 + 0.5 or box.y1 > page.y1 + 0.5:
            outside.append(f"{text.get_text()!r} at {box.bounds} outside {page.bounds}")
    assert seen >= 3  # the check saw the labels
    return outside


@pytest.mark.parametrize("title", ["mazur", LONG])
def test_every_label_of_the_sweep_plot_is_inside_the_image(title):
    sweep = symgrad.sweep_steps(symgrad.load("mazur"), param="w5")
    assert _labels_outside(sweep_figure(sweep, title=title)) == []


@pytest.mark.parametrize("title", ["mazur\n100 steps, learning rate 0.5, full batch", LONG])
def test_every_label_of_the_loss_curve_is_inside_the_image(title):
    losses = [0.3 * 0.9 ** k for k in range(100)]
    assert _labels_outside(loss_figure(losses, title=title, ylabel="loss before the step")) == []


@pytest.mark.parametrize("name", ["mazur", "mlp_3_4_2", "circuit_multipath"])
def test_every_label_of_the_network_picture_is_inside_the_image(name):
    net = symgrad.load(name)
    solution = symgrad.solve(symgrad.derive(net), digits=4)
    for definitions in (False, True):
        assert _labels_outside(circuit_figure(solution, title=picture_title(net) + " " + LONG,
                                              definitions=definitions)) == []


def test_a_label_outside_is_caught():
    fig = loss_figure([1.0, 0.5], title="t")
    fig.axes[0].text(2.0, 2.0, "far outside", transform=fig.axes[0].transAxes)
    assert len(_labels_outside(fig)) == 1


UNNAMED = '[symbols]\ninputs = ["x"]\nparams = ["w"]\n[values]\nx = 2\nw = 0.5\n[nodes]\nf = "(w*x - 1)**2"\n'


@pytest.mark.parametrize("spec", ["mazur", "unnamed"])
def test_every_picture_title_names_the_network(spec, tmp_path):
    path = spec
    if spec == "unnamed":
        path = str(tmp_path / "unnamed.toml")
        (tmp_path / "unnamed.toml").write_text(UNNAMED)
    name = picture_title(symgrad.load(path))
    assert name == (symgrad.load("mazur").description if spec == "mazur" else "a network of 1 node: x, w → f")
    pictures = {"graph": ["graph", path, "-o", str(tmp_path / "graph.svg")],
                "train": ["train", path, "--steps", "3", "--learning-rate", "0.1", "--plot", str(tmp_path / "train.svg")],
                "sweep": ["gradcheck", path, "--plot", str(tmp_path / "sweep.svg")]}
    for what, argv in pictures.items():
        assert main(argv) in (0, 1), what
        svg = (tmp_path / f"{what}.svg").read_text()
        texts = " ".join("".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text"))
        words = name.split()[:4]
        assert " ".join(words) in texts or all(w in svg for w in words), (what, name)
