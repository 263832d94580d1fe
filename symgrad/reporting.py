"""``symgrad report`` and ``symgrad train``: spec → network → derivation → solution → renderer, once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .chain import derive
from .compile import CompiledGradient
from .errors import InvalidArgument, SymgradError
from .fitting import FitResult, compile_network, dataset, fit
from .graph import Network
from .precision import GUARD_DIGITS, JSON_MIN_DIGITS, PLAIN_RANGE, Rounding, validate_digits
from .hessian_solution import solve_hessian
from .render.beamer import render_beamer
from .render.hessian_blocks import render_hessian_latex, render_hessian_markdown, render_hessian_text
from .render.json import render_json
from .render.latex import render_latex
from .render.markdown import render_markdown
from .render.picture import draw_losses
from .render.text import render_text
from .solution import Solution, solve

__all__ = ["report", "render_solution", "document_title", "picture_title", "train_network", "render_training", "plot_training", "Training", "FORMATS"]

FORMATS = ("text", "json", "latex", "beamer", "markdown")


def document_title(network: Network) -> str:
    """The title a document or picture of ``network`` carries: the spec's ``title``, else its description.

    >>> import symgrad
    >>> document_title(symgrad.load("mazur"))
    "2-2-2 sigmoid network, one sample, squared error (the fourth lecture's worked example)"
    """
    return network.title or network.description


def picture_title(network: Network) -> str:
    """The title a picture of ``network`` carries: its ``document_title``, or where the spec gives neither
    title nor description, what the network is (so that every picture names its network).

    >>> import symgrad
    >>> net = symgrad.loads('[symbols]\\ninputs = ["x"]\\n[values]\\nx = 2\\n[nodes]\\nf = "x**2"\\n')
    >>> picture_title(net)
    'a network of 1 node: x → f'
    """
    title = document_title(network)
    if title:
        return title
    n = len(network.nodes)
    leaves = ", ".join(network.leaves)
    short = leaves if len(leaves) <= 60 else leaves[:57] + "…"
    return f"a network of {n} node{'s' if n != 1 else ''}: {short} → {network.output}"


def render_solution(solution: Solution, *, format: str = "text", title: str | None = None, author: str = "",
                    date: str = "") -> str:
    """Format a solution: ``text``, ``json``, ``latex`` (a standalone article), ``beamer`` (slides) or ``markdown``.

    ``title`` defaults to the spec's title or description (``""``: none); ``author`` and ``date``
    to the spec's.
    """
    if format not in FORMATS:
        raise InvalidArgument(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if format == "json":
        return render_json(solution)
    if format == "latex":
        return render_latex(solution, title=title, author=author, date=date)
    if format == "beamer":
        return render_beamer(solution, title=title, author=author, date=date)
    if format == "markdown":
        return render_markdown(solution, title=title, author=author, date=date)
    network = solution.network
    return render_text(solution, title=document_title(network) if title is None else title,
                       author=author or network.author, date=date or network.date)


def report(network: Network, *, digits: int = 9, format: str = "text", title: str | None = None,
           author: str = "", date: str = "",
           round_intermediates: bool = False, update_rule: str = "simultaneous",
           params: Sequence[str] | None = None, decimals: int | None = None,
           digits_for: Mapping[str, int] | None = None,
           hessian: Sequence[str] | None = None) -> str:
    """The full derivation of ``network`` as text, JSON, LaTeX or Markdown, evaluated once.

    ``round_intermediates`` rounds every intermediate to ``digits`` significant digits (or to
    ``decimals`` places) as it is produced, the way a person computes by hand; by default
    everything is exact and only the printed numbers are rounded. ``decimals`` prints that many
    decimal places, trailing zeros dropped, as the lectures print (0.082167041 at 9).
    ``params`` shows only those parameters' gradients and updates. ``title`` defaults to the spec's
    title or description (``""``: none), ``author`` and ``date`` to the spec's. ``digits_for`` gives
    chosen quantities their own significant digits (``{"E_total": 12, "w5": 4}``: the value, δ, gradient
    and update of each; decimal places with ``decimals``), over the spec's ``[digits]``. ``hessian`` names
    parameters whose second derivatives (every pair) are worked out instead (text, LaTeX, Markdown).

    >>> import symgrad
    >>> print(report(symgrad.load("two_neurons"), digits=3).splitlines()[-2])
      df/dw_b2 = ∂f/∂w_b2 = 1
    """
    if format not in FORMATS:
        raise InvalidArgument(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    validate_digits(digits)
    if hessian is not None:  # second derivatives, step by step: symgrad.hessian_solution, render.hessian_blocks
        return _hessian_report(network, hessian, digits=digits, format=format)
    printed = max(digits, JSON_MIN_DIGITS) if format == "json" else digits
    working = printed + GUARD_DIGITS
    if format in ("latex", "beamer", "markdown"):
        # A document shows its arithmetic with the digits that reproduce each printed result; under
        # cancellation (1 - 0.999999998) that takes up to twice the printed digits, certified.
        working = 2 * printed + GUARD_DIGITS
    rounding = Rounding.significant(digits) if round_intermediates else None
    if decimals is not None:
        validate_digits(decimals, what="decimals")
        # A number printed in places is below 10**PLAIN_RANGE[1] (larger ones print in scientific
        # notation): at most that many digits before the point, then ``decimals`` after it.
        working = max(working, decimals + PLAIN_RANGE[1] + GUARD_DIGITS)
        rounding = Rounding.decimals(decimals) if round_intermediates else None
    # The spec's [digits], then --digits-for; JSON prints every number at its digits.
    chosen = {**network.digits, **(digits_for or {})} if format != "json" else {}
    if format in ("latex", "beamer", "markdown") and chosen:
        working = max([working] + [2 * d + GUARD_DIGITS for d in chosen.values() if isinstance(d, int)])
    solution = solve(derive(network), digits=printed, working_digits=working, rounding=rounding,
                     update_rule=update_rule, decimals=decimals if format != "json" else None, digits_for=chosen)
    if params is not None:
        solution = solution.restrict(params)
    return render_solution(solution, format=format, title=title, author=author, date=date)


def _hessian_report(network: Network, params: Sequence[str], *, digits: int, format: str) -> str:
    writers = {"text": render_hessian_text, "latex": render_hessian_latex, "markdown": render_hessian_markdown}
    if format not in writers:
        raise InvalidArgument(f"--hessian writes text, latex or markdown, not {format!r}; choose one of those")
    return writers[format](solve_hessian(derive(network), list(params), digits=digits))


@dataclass(frozen=True)
class Training:
    """A finished compiled training run, with what the report of it needs."""

    network: Network
    result: FitResult
    compiled: CompiledGradient
    batch_size: int | None
    learning_rate: float


def train_network(network: Network, *, steps: int, batch_size: int | None = None, learning_rate: float | None = None,
                  seed: int = 0, form: str | None = None) -> Training:
    """Train ``network`` on its data set (or its one point) with compiled gradients."""
    rate = learning_rate if learning_rate is not None else network.learning_rate
    if rate is None:
        raise SymgradError("no learning rate; pass --learning-rate or set [train] learning_rate in the spec")
    compiled = compile_network(network, form=form)
    inputs, targets = dataset(network)
    result = fit(compiled, compiled.initial_params(network), inputs, targets, steps=steps,
                 learning_rate=float(rate), batch_size=batch_size, seed=seed)
    return Training(network, result, compiled, batch_size, float(rate))


def render_training(training: Training, *, format: str = "text") -> str:
    """The final loss and parameters of a training run, as text or JSON (17 significant digits)."""
    result = training.result
    params = {k: np.asarray(v).tolist() for k, v in result.params.items()}
    final = training.compiled(result.params, *dataset(training.network))[0]
    if format == "json":
        return json.dumps({"steps": result.steps, "initial_loss": _g(result.losses[0]) if result.steps else None,
                           "final_loss": _g(final), "params": _nested(params)}, indent=2) + "\n"
    lines = [f"{result.steps} steps, learning rate {training.learning_rate:g}, "
             f"{'full batch' if training.batch_size is None else f'batch size {training.batch_size}'}, "
             f"{training.compiled.form} form",
             f"loss: {_g(result.losses[0]) if result.steps else '-'} -> {_g(final)}", "parameters:"]
    for name, value in params.items():
        lines.append(f"  {name} = {_nested(value)}")
    return "\n".join(lines) + "\n"


def plot_training(training: Training, path: str, *, inputs: Sequence[str] = ()) -> None:
    """Draw the loss at every step of a training run to ``path`` (.svg or .png; the ``plot`` extra).

    The title names the network; the file is written whole, never over one of ``inputs``.
    """
    batch = "full batch" if training.batch_size is None else f"mini-batch loss, batch size {training.batch_size}"
    run = f"{training.result.steps} steps, learning rate {training.learning_rate:g}, {batch}"
    name = picture_title(training.network)
    draw_losses(training.result.losses, path, title=f"{name}\n{run}" if name else run,
                ylabel="loss before the step", inputs=inputs)


def _g(x: float) -> str:
    return f"{float(x):.17g}"


def _nested(value):
    if isinstance(value, dict):
        return {k: _nested(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nested(v) for v in value]
    return _g(value)
