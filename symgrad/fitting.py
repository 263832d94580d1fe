"""Training at speed: gradient descent, SGD and mini-batches on compiled NumPy code.

Memory stays bounded whatever the step count: a run keeps at most ``MAX_LOSS_HISTORY`` losses,
evenly spaced over the run and always including the first and the last step
(``FitResult.loss_steps`` says which step each one is from).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

import math

import numpy as np

from .compile import CompiledGradient, compile_network
from .errors import DomainError, GraphError, InvalidArgument
from .graph import Network
from .limits import MAX_LEARNING_RATE, MAX_LOSS_HISTORY, MAX_STEPS

__all__ = ["FitResult", "fit", "dataset", "compile_network", "history_steps"]


@dataclass(frozen=True)
class FitResult:
    """A compiled training run: sampled losses before updates, and the final parameters.

    ``losses[k]`` is the loss before update number ``loss_steps[k]`` (0-based); every step is
    kept when there are at most ``MAX_LOSS_HISTORY`` of them.
    """

    losses: np.ndarray
    params: dict[str, np.ndarray]
    steps: int
    loss_steps: np.ndarray


def history_steps(steps: int, *, keep: int = MAX_LOSS_HISTORY) -> np.ndarray:
    """The steps whose loss a run of ``steps`` keeps: all, or ``keep`` evenly spaced with first and last.

    >>> history_steps(10, keep=4).tolist()
    [0, 3, 6, 9]
    """
    if steps <= keep:
        return np.arange(steps)
    return np.unique(np.linspace(0, steps - 1, keep).round().astype(np.int64))


def dataset(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """The network's data set as (inputs, targets) arrays; its default point if it has none."""
    n = network.n_samples or 1

    def column(name: str) -> np.ndarray:
        if name in network.data:
            return np.array([float(v) for v in network.data[name]])
        if name not in network.values:
            raise GraphError(f"no value or data for {name!r}")
        return np.full(n, float(network.values[name]))

    inputs = np.stack([column(x) for x in network.inputs], axis=1) if network.inputs else np.zeros((n, 0))
    targets = np.stack([column(t) for t in network.targets], axis=1) if network.targets else np.zeros((n, 0))
    return inputs, targets


class _Progress:
    """A one-line progress bar on a terminal; silent when the stream is not a terminal."""

    def __init__(self, total: int, stream: TextIO | None, enabled: bool | None):
        self.stream = stream or sys.stderr
        self.total = total
        self.enabled = (self.stream.isatty() if enabled is None else enabled) and total >= 100
        self.every = max(total // 100, 1)

    def update(self, k: int, loss: float) -> None:
        if self.enabled and (k % self.every == 0 or k == self.total):
            filled = int(30 * k / self.total)
            self.stream.write(f"\r[{'#' * filled}{' ' * (30 - filled)}] {k}/{self.total} loss {loss:.6g}")
            if k == self.total:
                self.stream.write("\n")
            self.stream.flush()


def fit(compiled: CompiledGradient, params: dict[str, np.ndarray], inputs, targets, *, steps: int,
        learning_rate: float, batch_size: int | None = None, seed: int = 0, progress: bool | None = None,
        stream: TextIO | None = None) -> FitResult:
    """``steps`` updates θ ← θ − η∇θ on compiled code; full batch unless ``batch_size`` is given.

    Mini-batches are drawn without replacement from a generator seeded with ``seed``,
    reshuffling each epoch. The progress bar shows on a terminal only (``progress`` forces it).
    A loss that stops being finite ends the run with ``DomainError`` naming the step.

    >>> import symgrad
    >>> net = symgrad.load("perceptron")
    >>> f = compile_network(net)
    >>> result = fit(f, f.initial_params(net), *dataset(net), steps=3, learning_rate=0.01)
    >>> result.loss_steps.tolist()
    [0, 1, 2]
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    n = inputs.shape[0]
    eta = _check_options(steps, learning_rate, batch_size, seed, n)
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    rng = np.random.default_rng(seed)
    kept = history_steps(steps)
    losses = np.empty(len(kept))
    bar = _Progress(steps, stream, progress)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported, not warned about
        _descend(compiled, params, inputs, targets, steps=steps, eta=eta, batch_size=batch_size, rng=rng, kept=kept,
                 losses=losses, bar=bar)
    return FitResult(losses, params, steps, kept)


def _descend(compiled: CompiledGradient, params: dict[str, np.ndarray], inputs: np.ndarray, targets: np.ndarray, *,
             steps: int, eta: float, batch_size: int | None, rng: np.random.Generator, kept: np.ndarray,
             losses: np.ndarray, bar: _Progress) -> None:
    """The update loop of ``fit``: updates ``params`` and fills ``losses`` at the ``kept`` steps."""
    n = inputs.shape[0]
    order = rng.permutation(n)
    cursor = 0
    slot = 0
    for k in range(steps):
        if batch_size is None or batch_size == n:
            x, t = inputs, targets
        else:
            if cursor + batch_size > n:
                order, cursor = rng.permutation(n), 0
            idx = order[cursor:cursor + batch_size]
            cursor += batch_size
            x, t = inputs[idx], targets[idx]
        loss, grads = compiled(params, x, t)
        if not math.isfinite(loss):
            raise DomainError(f"training diverged: the loss is {loss} at step {k + 1} of {steps} (learning rate "
                              f"{eta:g}); use a smaller learning rate")
        if slot < len(kept) and kept[slot] == k:
            losses[slot] = loss
            slot += 1
        for name in params:
            params[name] = params[name] - eta * np.asarray(grads[name])
        bar.update(k + 1, loss)


def _check_options(steps: object, learning_rate: object, batch_size: object, seed: object, n: int) -> float:
    """Validate fit's options (``InvalidArgument``); return the learning rate as a float."""
    if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= MAX_STEPS:
        raise InvalidArgument(f"steps must be an integer from 0 to {MAX_STEPS:,}, got {steps!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                                   or not 1 <= batch_size <= n):
        raise InvalidArgument(f"batch size must be an integer from 1 to {n} (the number of samples), "
                              f"got {batch_size!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidArgument(f"seed must be a non-negative integer, got {seed!r}")
    try:
        eta = float(learning_rate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidArgument(f"learning rate must be a number, got {learning_rate!r}") from None
    if not math.isfinite(eta) or not 0 < eta <= MAX_LEARNING_RATE:
        raise InvalidArgument(f"learning rate must be a finite number above 0 and at most {MAX_LEARNING_RATE:g}, "
                              f"got {learning_rate!r}")
    return eta
