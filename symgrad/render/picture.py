"""Pictures: the computational graph drawn as a circuit, a training loss curve, and a gradcheck step sweep.

The circuit is drawn as the second lecture draws it: quantities in layers from the inputs
(left) to the loss (right); every quantity has one wire out of it with its forward value
above (green) and its gradient ∂output/∂quantity below (red), and the wire then forks to
the quantities that use it (gradients add at a fork). Long wires run through every layer
they cross, so no wire passes under a box.

``layout_circuit`` is pure Python (layers, order, coordinates in inches, every label as
text); ``circuit_figure`` and ``draw_circuit`` draw that layout with matplotlib (the ``plot``
extra), which is imported only when a picture is asked for. Like every renderer this one
only formats what it is given (a ``Solution``, losses, a ``StepSweep``): it never derives or
evaluates. ``plot_sweep`` writes its SVG itself, with no dependency, and a PNG with matplotlib.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import GraphError, InvalidArgument, MissingDependency
from ..files import PathLike, write_bytes
from ..limits import MAX_NAME_PRINT, MAX_PICTURE_QUANTITIES
from ..precision import validate_digits, format_number
from ..solution import Solution
from .node_text import substitute, tokens
from .notation import abbreviate
from .sweep_picture import plot_sweep, wrap_chars
from .text import printable

__all__ = ["CircuitLayout", "PlacedQuantity", "Wire", "layout_circuit", "circuit_figure", "draw_circuit",
           "loss_figure", "draw_losses", "plot_sweep", "PICTURE_FORMATS"]

PICTURE_FORMATS = ("svg", "png")

# Sizes in inches (1 data unit = 1 inch) and points.
NAME_PT = 10.0
LABEL_PT = 9.0
TITLE_PT = 11.0
DEFINITION_PT = 7.5
CAPTION_PT = 8.0
_EM = 1 / 72  # inches per point
_CHAR = 0.66  # a conservative DejaVu Sans advance, in em (digits are 0.636 em)
_PAD = 0.10
_BOX_HEIGHT = 0.30
_TALL_BOX_HEIGHT = 0.46  # a box with the node's definition under its name
_SLOT = 0.72  # vertical distance between neighbouring quantities in a layer
_FAN = 0.55  # the shortest horizontal run of the wires between two layers
_MARGIN = 0.25
_MAX_DEFINITION = 60  # characters of a node's definition shown in its box

_FILL = {"input": "#dbeafe", "param": "#fde68a", "target": "#e5e7eb", "constant": "#f3f4f6", "node": "#ffffff"}
_KINDS = (("input", "inputs", "blue"), ("param", "parameters", "amber"), ("target", "targets", "grey"),
          ("constant", "constants", "light grey"), ("node", "nodes", "white"))
_VALUE_COLOUR = "#1a7f37"
_GRADIENT_COLOUR = "#b3261e"


@dataclass(frozen=True)
class PlacedQuantity:
    """A quantity in the picture: its box (centre ``x``, ``y``; ``width``) and its wire labels.

    ``kind`` is the leaf kind (input, target, param, constant) or ``node``; ``gradient`` is
    empty where the gradient does not exist at this point.
    """

    name: str
    kind: str
    layer: int
    x: float
    y: float
    width: float
    value: str
    gradient: str
    definition: str = ""


@dataclass(frozen=True)
class Wire:
    """One drawn line: a quantity's wire out (``consumer`` empty), or a fork to a consumer."""

    source: str
    consumer: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class CircuitLayout:
    """Where everything goes, in inches from the top-left corner (``y`` grows downwards)."""

    output: str
    quantities: tuple[PlacedQuantity, ...]
    wires: tuple[Wire, ...]
    layers: int
    width: float
    height: float
    title: tuple[str, ...]  # lines, from ``title_top`` down
    caption: tuple[str, ...]  # lines, from ``caption_top`` down
    title_top: float
    caption_top: float
    box_height: float = _BOX_HEIGHT

    def quantity(self, name: str) -> PlacedQuantity:
        return next(q for q in self.quantities if q.name == name)


def _text_width(text: str, points: float) -> float:
    return len(text) * _CHAR * points * _EM


def layout_circuit(solution: Solution, *, digits: int | None = None, title: str = "",
                   definitions: bool = False) -> CircuitLayout:
    """Lay the solved graph out in layers from the inputs to the output, labels formatted.

    Numbers print with ``digits`` significant digits (default: the solution's ``digits``);
    ``title`` and the key to the picture are wrapped to its width. With ``definitions``, each
    node's box shows its definition under its name (``b = exp(a)``: ``exp(a)``), as the
    lectures label their gates.

    A node sits one layer right of its deepest operand; a leaf sits just left of its first
    consumer. Within a layer, quantities are ordered to cross few wires and placed level
    with what they connect to.

    >>> import symgrad
    >>> lay = layout_circuit(symgrad.solve(symgrad.derive(symgrad.load("mazur")), digits=4))
    >>> lay.layers, lay.quantity("w5").layer, lay.quantity("E_total").layer
    (7, 2, 6)
    >>> lay.quantity("out_o1").value, lay.quantity("out_o1").gradient
    ('0.7514', '0.7414')
    """
    digits = validate_digits(solution.digits if digits is None else digits)
    leaves = {leaf.name: leaf for leaf in solution.leaves}
    nodes = {node.name: node for node in solution.nodes}
    count = len(leaves) + len(nodes)
    if count > MAX_PICTURE_QUANTITIES:
        raise GraphError(f"the network has {count} quantities; a picture is drawn for at most "
                         f"{MAX_PICTURE_QUANTITIES}; draw a smaller network, or read `symgrad report` instead")
    layer, order, through, edges = _layered_graph([*leaves], {name: [o for o, _ in node.operands]
                                                               for name, node in nodes.items()})
    depth = len(order)
    order = _order_layers(order, edges)
    ys = _place_vertically(order, edges)

    # Columns: box, wire out (labels), fork region.
    labels = _labels(solution, [*leaves, *nodes], digits)
    shown = {name: _definition(node.text) if definitions else "" for name, node in nodes.items()}
    box_h = _TALL_BOX_HEIGHT if definitions else _BOX_HEIGHT
    box_w = {name: max(_text_width(abbreviate(name), NAME_PT), _text_width(shown.get(name, ""), DEFINITION_PT))
             + 2 * _PAD for name in labels}
    col_box, col_wire, col_fan = _columns(order, edges, ys, labels, box_w)
    # The key below the graph and the title above it are wrapped to the picture's width, which
    # is at least the key's (up to 9 inches); a narrower graph is centred.
    key = _key(solution.output, {leaf.kind for leaf in leaves.values()})
    if any(abbreviate(name) != name for name in labels) or any(len(d) >= _MAX_DEFINITION for d in shown.values()):
        key.append(f"Names longer than {MAX_NAME_PRINT} characters are shortened with …, and definitions "
                   f"to {_MAX_DEFINITION} characters.")
    graph_width = sum(col_box) + sum(col_wire) + sum(col_fan[:-1]) + 2 * _MARGIN
    width = max(graph_width, min(max(_text_width(line, CAPTION_PT) for line in key) + 0.1, 9.0) + 2 * _MARGIN)
    left = [_MARGIN + (width - graph_width) / 2]
    for k in range(depth - 1):
        left.append(left[k] + col_box[k] + col_wire[k] + col_fan[k])
    title_lines = _wrap(printable(title), width - 2 * _MARGIN, TITLE_PT, bold=True)
    caption_lines = tuple(line for text in key for line in _wrap(text, width - 2 * _MARGIN, CAPTION_PT))
    title_top = _MARGIN
    top = title_top + len(title_lines) * _line(TITLE_PT) + (0.25 if title_lines else 0.0) + 0.2
    y_of = {v: top + ys[v] for v in ys}

    placed = []
    wires: list[Wire] = []
    out_end = {}
    for k in range(depth):
        box_centre = left[k] + col_box[k] / 2
        end = left[k] + col_box[k] + col_wire[k]
        for v in order[k]:
            if v in through:
                wires.append(Wire(through[v][0], "", ((left[k], y_of[v]), (end, y_of[v]))))
            else:
                value, gradient = labels[v]
                kind = leaves[v].kind if v in leaves else "node"
                placed.append(PlacedQuantity(v, kind, k, box_centre, y_of[v], box_w[v], value, gradient,
                                             shown.get(v, "")))
                wires.append(Wire(v, "", ((box_centre + box_w[v] / 2, y_of[v]), (end, y_of[v]))))
            out_end[v] = (end, y_of[v])
    wires += _forks(edges, through, out_end, left, y_of, placed, box_h)
    caption_top = top + max(ys.values(), default=0.0) + box_h / 2 + 0.35
    height = caption_top + len(caption_lines) * _line(CAPTION_PT) + _MARGIN
    return CircuitLayout(solution.output, tuple(placed), tuple(wires), depth, width, height, title_lines,
                         caption_lines, title_top, caption_top, box_h)


def _definition(text: str) -> str:
    """A node's definition for its box: long names abbreviated, at most ``_MAX_DEFINITION`` characters."""
    shortened = printable(substitute(text, {t.string: abbreviate(t.string) for t in tokens(text)
                                            if t.string.isidentifier() and len(t.string) > MAX_NAME_PRINT}))
    return shortened if len(shortened) < _MAX_DEFINITION else shortened[:_MAX_DEFINITION - 1] + "…"


def _labels(solution: Solution, names: list[str], digits: int) -> dict[str, tuple[str, str]]:
    """Each quantity's (value, gradient) as printed on its wire; the gradient empty where it does not exist."""
    fmt = (lambda v: format_number(v, digits))
    delta = {d.name: d for d in solution.deltas}
    labels: dict[str, tuple[str, str]] = {}
    for name in names:
        value = solution.value(name)
        d = delta.get(name)
        gradient = fmt(d.value) if d is not None and d.value is not None else ""
        labels[name] = (fmt(value), gradient)
    return labels


def _columns(order: list[list[str]], edges: list[tuple[str, str]], ys: dict[str, float],
             labels: dict[str, tuple[str, str]], box_w: dict[str, float]) -> tuple[list[float], ...]:
    """The widths of each layer's three columns: the boxes, the wires out (their labels), the forks."""
    depth = len(order)
    col_box = [max((box_w[n] for n in order[k] if n in box_w), default=0.0) for k in range(depth)]
    col_wire = [max([0.45] + [_text_width(t, LABEL_PT) + 2 * _PAD for n in order[k] if n in labels
                              for t in labels[n]]) for k in range(depth)]
    col_fan = []
    for k in range(depth):
        rise = max((abs(ys[a] - ys[b]) for a, b in edges if a in order[k]), default=0.0)
        col_fan.append(min(_FAN + 0.12 * rise, 2.0))
    return col_box, col_wire, col_fan


def _key(output: str, leaf_kinds: set[str]) -> list[str]:
    """The key printed under the picture: what the wire labels mean, and the box colours present."""
    return [f"Above each wire: its value; below it: the gradient ∂{abbreviate(output)}/∂(that quantity), "
            f"which adds up over the branches of a fork.",
            "Boxes: " + ", ".join(f"{word} {colour}" for kind, word, colour in _KINDS
                                  if kind in leaf_kinds or kind == "node")
            + f"; the output, {abbreviate(output)}, has a heavy border."]


def _forks(edges: list[tuple[str, str]], through: dict, out_end: dict, left: list[float], y_of: dict[str, float],
           placed: list[PlacedQuantity], box_h: float) -> list[Wire]:
    """The wires from each wire's end into its consumers: into a box, spread over its left side in the
    order of their sources; a wire passing through a layer just continues."""
    wires = []
    incoming: dict[str, list[str]] = {}
    for a, b in edges:
        incoming.setdefault(b, []).append(a)
    for b, sources in incoming.items():
        if b in through:
            (a,) = sources
            wires.append(Wire(through[b][0], "", (out_end[a], (left[through[b][1]], y_of[b]))))
            continue
        sources = sorted(sources, key=lambda a: y_of[a])
        n = len(sources)
        half = box_h / 2 - 0.04
        x_in = next(q for q in placed if q.name == b)
        for j, a in enumerate(sources):
            dy = 0.0 if n == 1 else -half + 2 * half * j / (n - 1)
            origin = through[a][0] if a in through else a
            wires.append(Wire(origin, b, (out_end[a], (x_in.x - x_in.width / 2, y_of[b] + dy))))
    return wires


def _layered_graph(leaves: list[str], operands: dict[str, list[str]]):
    """Layers, vertices per layer, pass-through points and the edges between neighbouring layers.

    A node is one layer right of its deepest operand, a leaf one layer left of its first
    consumer. A wire that spans several layers gets a pass-through vertex ``name\\x00k`` in
    every layer k it crosses; a quantity used in several later layers has one such chain
    (a bus) that its consumers branch off.
    """
    names = [*leaves, *operands]
    consumers: dict[str, list[str]] = {name: [] for name in names}
    for name, ops in operands.items():
        for o in ops:
            consumers[o].append(name)
    layer: dict[str, int] = {}
    for name, ops in operands.items():  # graph order: operands come first
        layer[name] = 1 + max((layer.get(o, 0) for o in ops), default=0)
    for name in leaves:
        layer[name] = min((layer[c] for c in consumers[name]), default=1) - 1
    order: list[list[str]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    for name in names:
        order[layer[name]].append(name)
    through: dict[str, tuple[str, int]] = {}
    edges: list[tuple[str, str]] = []

    def point(name: str, k: int) -> str:  # where ``name``'s signal is in layer k
        return name if k == layer[name] else f"{name}\x00{k}"

    for name in names:
        reach = max((layer[c] for c in consumers[name]), default=layer[name] + 1)
        for k in range(layer[name] + 1, reach):
            through[point(name, k)] = (name, k)
            order[k].append(point(name, k))
            edges.append((point(name, k - 1), point(name, k)))
        for c in consumers[name]:
            edges.append((point(name, layer[c] - 1), c))
    return layer, order, through, list(dict.fromkeys(edges))


def _line(points: float) -> float:
    return 1.45 * points * _EM


def _wrap(text: str, width: float, points: float, *, bold: bool = False) -> tuple[str, ...]:
    """``text`` in lines no wider than ``width`` inches (by the same conservative estimate as the labels)."""
    if not text:
        return ()
    per_line = max(int(width / (_CHAR * (1.12 if bold else 1.0) * points * _EM)), 10)
    return tuple(textwrap.wrap(text, per_line, break_on_hyphens=False)) or (text,)


def _order_layers(order: list[list[str]], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Barycentre sweeps (down, then up) keeping the order with the fewest crossings."""
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    for a, b in edges:
        succs.setdefault(a, []).append(b)
        preds.setdefault(b, []).append(a)
    best = [list(layer) for layer in order]
    best_crossings = _crossings(best, edges)
    current = [list(layer) for layer in best]
    for _ in range(6):
        for k in range(1, len(current)):
            current[k] = _by_barycentre(current[k], current[k - 1], preds)
        for k in range(len(current) - 2, -1, -1):
            current[k] = _by_barycentre(current[k], current[k + 1], succs)
        crossings = _crossings(current, edges)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in current], crossings
    return best


def _by_barycentre(layer: list[str], neighbour_layer: list[str], links: dict[str, list[str]]) -> list[str]:
    position = {v: i for i, v in enumerate(neighbour_layer)}
    scale = len(neighbour_layer) / max(len(layer), 1)

    def key(item: tuple[int, str]) -> tuple[float, int]:
        i, v = item
        linked = [position[u] for u in links.get(v, ()) if u in position]
        return (sum(linked) / len(linked) if linked else i * scale, i)

    return [v for _, v in sorted(enumerate(layer), key=key)]


def _crossings(order: list[list[str]], edges: list[tuple[str, str]]) -> int:
    position = {v: i for layer in order for i, v in enumerate(layer)}
    layer_of = {v: k for k, layer in enumerate(order) for v in layer}
    by_layer: dict[int, list[tuple[int, int]]] = {}
    for a, b in edges:
        by_layer.setdefault(layer_of[a], []).append((position[a], position[b]))
    total = 0
    for pairs in by_layer.values():
        for i, (a1, b1) in enumerate(pairs):
            for a2, b2 in pairs[i + 1:]:
                total += (a1 - a2) * (b1 - b2) < 0
    return total


def _place_vertically(order: list[list[str]], edges: list[tuple[str, str]]) -> dict[str, float]:
    """Depth of every vertex (inches down from the top): level with its neighbours, keeping order and spacing."""
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    for a, b in edges:
        succs.setdefault(a, []).append(b)
        preds.setdefault(b, []).append(a)
    y = {v: i * _SLOT for layer in order for i, v in enumerate(layer)}
    for _ in range(8):
        for sweep, links in ((range(1, len(order)), preds), (range(len(order) - 2, -1, -1), succs)):
            for k in sweep:
                wanted = [sum(y[u] for u in links[v]) / len(links[v]) if links.get(v) else y[v] for v in order[k]]
                for v, value in zip(order[k], _spaced(wanted)):
                    y[v] = value
    low = min(y.values(), default=0.0)
    return {v: value - low for v, value in y.items()}


def _spaced(wanted: list[float]) -> list[float]:
    """The positions closest (least squares) to ``wanted`` that keep the order and ``_SLOT`` apart.

    Pool-adjacent-violators on q_i = y_i - i·slot, which must not decrease.
    """
    blocks: list[list[float]] = []  # [sum, count]
    for i, w in enumerate(wanted):
        blocks.append([w - i * _SLOT, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    out: list[float] = []
    for s, c in blocks:
        out += [s / c] * int(c)
    return [q + i * _SLOT for i, q in enumerate(out)]


# -- drawing (matplotlib, the `plot` extra) ------------------------------------------------------------


def _matplotlib(feature: str):
    try:
        import matplotlib
        import matplotlib.patches  # noqa: F401  (FancyBboxPatch, read as matplotlib.patches)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependency(feature, extra="plot", module="matplotlib") from None
    return matplotlib, Figure, FigureCanvasAgg


_RC = {"svg.fonttype": "none", "svg.hashsalt": "symgrad", "font.family": "DejaVu Sans", "text.usetex": False,
       "path.simplify": False}


def circuit_figure(solution: Solution, *, digits: int | None = None, title: str = "", definitions: bool = False):
    """The circuit of ``solution`` as a matplotlib ``Figure`` (Agg canvas), to adjust, show or save."""
    lay = layout_circuit(solution, digits=digits, title=title, definitions=definitions)
    matplotlib, Figure, FigureCanvasAgg = _matplotlib("drawing the graph")
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(lay.width, lay.height))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, lay.width)
        ax.set_ylim(lay.height, 0)
        ax.set_axis_off()
        for wire in lay.wires:
            xs, ys = zip(*wire.points)
            ax.plot(xs, ys, color="#444444", linewidth=1.0, solid_capstyle="butt", zorder=1)
        for q in lay.quantities:
            h = lay.box_height
            ax.add_patch(matplotlib.patches.FancyBboxPatch(
                (q.x - q.width / 2, q.y - h / 2), q.width, h, boxstyle="round,pad=0,rounding_size=0.06",
                facecolor=_FILL[q.kind], edgecolor="#222222", linewidth=1.6 if q.name == lay.output else 0.9,
                zorder=2))
            name_y = q.y - 0.075 if q.definition else q.y
            ax.text(q.x, name_y, abbreviate(q.name), ha="center", va="center_baseline", fontsize=NAME_PT, zorder=3,
                    parse_math=False)
            if q.definition:
                ax.text(q.x, q.y + 0.11, q.definition, ha="center", va="center_baseline", fontsize=DEFINITION_PT,
                        color="#444444", zorder=3, parse_math=False)
            wire_x = _wire_centre(lay, q)
            ax.text(wire_x, q.y - 0.05, q.value, ha="center", va="bottom", fontsize=LABEL_PT,
                    color=_VALUE_COLOUR, zorder=3, parse_math=False)
            if q.gradient:
                ax.text(wire_x, q.y + 0.05, q.gradient, ha="center", va="top", fontsize=LABEL_PT,
                        color=_GRADIENT_COLOUR, zorder=3, parse_math=False)
        for k, line in enumerate(lay.title):
            ax.text(_MARGIN, lay.title_top + k * _line(TITLE_PT), line, ha="left", va="top", fontsize=TITLE_PT,
                    weight="bold", parse_math=False)
        for k, line in enumerate(lay.caption):
            ax.text(_MARGIN, lay.caption_top + k * _line(CAPTION_PT), line, ha="left", va="top",
                    fontsize=CAPTION_PT, color="#555555", parse_math=False)
    return fig


def _wire_centre(lay: CircuitLayout, q: PlacedQuantity) -> float:
    wire = next(w for w in lay.wires if w.source == q.name and not w.consumer)
    (x0, _), (x1, _) = wire.points
    return (x0 + x1) / 2


def draw_circuit(solution: Solution, path: str | Path, *, digits: int | None = None, title: str = "",
                 definitions: bool = False, inputs: Sequence[PathLike] = ()) -> CircuitLayout:
    """Write the circuit of ``solution`` to ``path`` (.svg or .png); the same input gives the same bytes.

    Returns the layout drawn. Needs matplotlib (``pip install "symgrad[plot]"``). The file is
    written whole or not at all, and never over one of ``inputs`` (``symgrad.files``).
    """
    fmt = _picture_format(path)
    lay = layout_circuit(solution, digits=digits, title=title, definitions=definitions)
    _save(circuit_figure(solution, digits=digits, title=title, definitions=definitions), path, fmt, inputs)
    return lay


def loss_figure(losses: Sequence[float], *, title: str = "", ylabel: str = "loss"):
    """The loss after each step as a matplotlib ``Figure``; a log scale when it spans two decades or more."""
    if len(losses) == 0:
        raise InvalidArgument("there is no loss to plot: the run took 0 steps; give --steps 1 or more")
    matplotlib, Figure, FigureCanvasAgg = _matplotlib("plotting the loss curve")
    values = [float(v) for v in losses]
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.4, 4.0))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(range(len(values)), values, color="#1f4e99", linewidth=1.4)
        positive = all(v > 0 for v in values)
        if positive and max(values) >= 100 * min(values):
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(True, color="#dddddd", linewidth=0.6)
        if title:  # wrapped to the figure's width, so every line stays inside the image
            lines = [w for line in title.split("\n") for w in wrap_chars(printable(line), 80)]
            ax.set_title("\n".join(lines[:4]), fontsize=10 if len(lines) < 3 else 8)
        fig.tight_layout()
    return fig


def draw_losses(losses: Sequence[float], path: str | Path, *, title: str = "", ylabel: str = "loss",
                inputs: Sequence[PathLike] = ()) -> Path:
    """Write the loss curve to ``path`` (.svg or .png), the same bytes for the same losses, never over ``inputs``."""
    fmt = _picture_format(path)
    _save(loss_figure(losses, title=title, ylabel=ylabel), path, fmt, inputs)
    return Path(path)


def _picture_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PICTURE_FORMATS:
        raise InvalidArgument(f"cannot tell the picture format of {str(path)!r}: its name must end in "
                              f"{' or '.join('.' + f for f in PICTURE_FORMATS)}, such as graph.svg")
    return suffix


def _save(fig, path: str | Path, fmt: str, inputs: Sequence[PathLike] = ()) -> None:
    """Draw ``fig`` in memory, then write it whole (a temporary file renamed into place)."""
    matplotlib, _, _ = _matplotlib("saving a picture")
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    buffer = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buffer, format=fmt, dpi=_dpi(fig), metadata=metadata)
    write_bytes(path, buffer.getvalue(), inputs=inputs)


def _dpi(fig) -> float:
    width, height = fig.get_size_inches()
    return min(150.0, 10000.0 / max(width, height))
