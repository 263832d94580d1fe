"""``Batch``: samples as rows, the shape in which ``symgrad.testing`` and ``symgrad.strategies`` pass data.

Its own small module so that both can import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Batch"]


@dataclass(frozen=True, eq=False)
class Batch:
    """Samples as rows: ``inputs`` (batch, n_inputs) and ``targets`` (batch, n_targets), in the network's order."""

    inputs: np.ndarray
    targets: np.ndarray
