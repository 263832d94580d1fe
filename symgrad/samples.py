"""``Batch`` (samples as rows) and ``VjpPoint`` (one draw for a backward rule).

The shapes in which ``symgrad.testing`` and ``symgrad.strategies`` pass data.

Its own small module so that both can import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Batch", "VjpPoint"]


@dataclass(frozen=True, eq=False)
class Batch:
    """Samples as rows: ``inputs`` (batch, n_inputs) and ``targets`` (batch, n_targets), in the network's order."""

    inputs: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True, eq=False)
class VjpPoint:
    """One draw for a backward rule: the ``dtype`` name, the inputs ``at`` by name, and the ``upstream`` gradient."""

    dtype: str
    at: dict[str, np.ndarray]
    upstream: np.ndarray
