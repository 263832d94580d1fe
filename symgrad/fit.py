"""Training at speed: gradient descent, SGD and mini-batches on compiled NumPy code."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from .compile import CompiledGradient, compile_gradient
from .chain import derive
from .errors import GraphError
from .graph import Network
from .matrix import compile_matrix

__all__ = ["FitResult", "fit", "dataset", "compile_network"]


@dataclass(frozen=True)
class FitResult:
    """A compiled training run: the loss before each update, and the final parameters."""

    losses: np.ndarray
    params: dict[str, np.ndarray]
    steps: int


def compile_network(network: Network, *, form: str | None = None, reduction: str = "mean") -> CompiledGradient:
    """Compile a network; the matrix form by default for networks built by ``mlp``."""
    if form is None:
        form = "matrix" if network.structure is not None and network.structure.activation != "maxout" \
            and network.structure.loss != "zero_one" else "scalar"
    if form == "matrix":
        return compile_matrix(network, reduction=reduction)
    return compile_gradient(derive(network), form=form, reduction=reduction)


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
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    n = inputs.shape[0]
    if not isinstance(steps, int) or steps < 0:
        raise GraphError(f"steps must be a non-negative integer, got {steps!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or not 1 <= batch_size <= n):
        raise GraphError(f"batch_size must be an integer from 1 to {n}, got {batch_size!r}")
    eta = float(learning_rate)
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    cursor = 0
    losses = np.empty(steps)
    bar = _Progress(steps, stream, progress)
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
        losses[k] = loss
        for name in params:
            params[name] = params[name] - eta * np.asarray(grads[name])
        bar.update(k + 1, loss)
    return FitResult(losses, params, steps)
