"""The gradcheck step sweep as a picture: an SVG written here, with no dependency, or a PNG with matplotlib.

Like every renderer this one only formats what it is given (a ``StepSweep``). The title names the
network and every label sits inside the image; the file is written whole (``symgrad.files``).
"""

from __future__ import annotations

import html
import io
import math
import textwrap
from pathlib import Path
from typing import Sequence

from ..errors import InvalidArgument, MissingDependency
from ..files import PathLike, write_bytes, write_text
from ..gradcheck_report import StepSweep
from .text import printable

__all__ = ["plot_sweep", "sweep_figure", "wrap_chars"]


def plot_sweep(sweep: StepSweep, path: str | Path, *, title: str = "", inputs: Sequence[PathLike] = ()) -> Path:
    """Save the sweep as a log-log plot: SVG by symgrad itself, PNG with matplotlib (the plot extra).

    ``title`` (the network's name) heads the plot above the sweep's summary. The file is written
    whole or not at all, and never over one of ``inputs``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise InvalidArgument(f"--plot {path}: the file must end in .svg or .png")
    if suffix == ".png":
        write_bytes(path, _sweep_png(sweep, title), inputs=inputs)
    else:
        write_text(path, _sweep_svg(sweep, title), inputs=inputs)
    return path


_SERIES = (("errors", "measured |D(h) − exact|", "#1f77b4", ""),
           ("truncation", "bound: truncation", "#ff7f0e", "6,4"),
           ("roundoff", "bound: round-off", "#2ca02c", "2,3"))  # (StepSweep field, legend, colour, SVG dashes)


def sweep_figure(sweep: StepSweep, *, title: str = ""):
    """The step sweep as a matplotlib ``Figure`` (the PNG's picture): every label inside the image.

    >>> import symgrad
    >>> sweep = symgrad.sweep_steps(symgrad.load("mazur"), param="w5")
    >>> [t.get_text() for t in sweep_figure(sweep, title="mazur").axes[0].texts]
    []
    """
    try:
        import matplotlib  # noqa: F401  (first, so that an unimportable matplotlib is found out here)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependency("a PNG step-sweep plot", extra="plot", module="matplotlib") from None
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for field, label, colour, dash in _SERIES:
        values = [v if v > 0 else float("nan") for v in getattr(sweep, field)]
        ax.loglog(sweep.steps, values, "o-" if not dash else "--", color=colour, label=label, markersize=3)
    ax.set_ylim(bottom=0.1 * min(e for e in sweep.errors if e > 0), top=10 * max(sweep.errors))
    ax.legend(fontsize=7)
    ax.set_xlabel("step h")
    ax.set_ylabel("|finite difference − exact|")
    ax.set_title("\n".join((wrap_chars(printable(title), 95) + wrap_chars(sweep.summary(), 110))[:4]), fontsize=7)
    fig.tight_layout(pad=1.5)  # every label inside the image, "step h" clear of its edge
    return fig


def _sweep_png(sweep: StepSweep, title: str) -> bytes:
    fig = sweep_figure(sweep, title=title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
    return buffer.getvalue()


def _sweep_svg(sweep: StepSweep, title: str = "") -> str:
    """A log-log plot of the sweep as a small, dependency-free SVG document."""
    width, height, pad = 640, 420, 60
    xs = [math.log10(h) for h in sweep.steps]
    measured = [math.log10(e) for e in sweep.errors if e > 0] or [-20.0]
    x0, x1, y0, y1 = min(xs), max(xs), math.floor(min(measured)), math.ceil(max(measured))
    y1 = y1 if y1 > y0 else y0 + 1

    def px(x: float, value: float) -> tuple[float, float]:
        y = min(max(math.log10(value) if value > 0 else y0, y0), y1)  # clipped to the frame
        return pad + (x - x0) / (x1 - x0) * (width - 2 * pad), height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" fill="none" '
             'stroke="#999"/>']
    for k, (field, label, colour, dash) in enumerate(_SERIES):
        points = " ".join("%.1f,%.1f" % px(x, value) for x, value in zip(xs, getattr(sweep, field)))
        style = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{style} points="{points}"/>')
        parts.append(f'<line x1="{pad + 10}" y1="{pad + 16 + 16 * k}" x2="{pad + 40}" y2="{pad + 16 + 16 * k}" '
                     f'stroke="{colour}" stroke-width="2"{style}/>')
        parts.append(f'<text x="{pad + 46}" y="{pad + 20 + 16 * k}" font-size="11">{html.escape(label)}</text>')
    for exponent in range(math.ceil(x0), math.floor(x1) + 1, 2):
        X, _ = px(exponent, 10.0 ** y0)
        parts.append(f'<text x="{X:.1f}" y="{height - pad + 18}" font-size="11" text-anchor="middle">1e{exponent}</text>')
    for exponent in range(y0, y1 + 1, max(1, (y1 - y0) // 8)):
        _, Y = px(x0, 10.0 ** exponent)
        parts.append(f'<text x="{pad - 6}" y="{Y + 4:.1f}" font-size="11" text-anchor="end">1e{exponent}</text>')
    parts.append(f'<text x="{width / 2}" y="{height - 22}" font-size="12" text-anchor="middle">step h</text>')
    heading = [(line, 12) for line in wrap_chars(printable(title), 88)] + [(line, 10) for line in wrap_chars(sweep.summary(), 105)]
    for k, (line, size) in enumerate(heading[:4]):
        weight = ' font-weight="bold"' if size == 12 else ""
        parts.append(f'<text x="{width / 2}" y="{16 + 13 * k}" font-size="{size}"{weight} '
                     f'text-anchor="middle">{html.escape(line)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def wrap_chars(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters (an SVG text element does not wrap)."""
    return textwrap.wrap(text, width, break_long_words=True) if text else []
