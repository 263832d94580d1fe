"""When a gradient agrees with the exact one: the one pass/fail rule of gradcheck and symgrad.testing.

A gradient computed in a floating-point dtype (rounding unit ε) is

- ``ok`` within ``ulps``·ε·(|exact| + the largest |exact gradient|): the rounding a correct
  backprop in that dtype can make (``TAU_ULPS`` = 64 units by default);
- ``precision`` beyond that, but within ``bound``, what finite differences of the loss can
  resolve: no finite-difference check could call it wrong;
- ``mismatch`` beyond both: a wrong derivative.

One float64 evaluation of the loss f is taken to err by ``F_ULPS``·ε·(|f| + Σ|x·∂f/∂x|); that
error feeds the round-off part of every finite-difference bound.
"""

from __future__ import annotations

from .finite_differences import EPS

__all__ = ["TAU_ULPS", "F_ULPS", "relative_error", "gradient_tolerance", "loss_error", "gradient_verdict"]

TAU_ULPS = 64  # a gradient agrees with the exact one within TAU_ULPS·ε·(|exact| + largest |gradient|)
F_ULPS = 8  # one float64 evaluation of f is taken to err by at most F_ULPS·ε·(|f| + Σ|x·∂f/∂x|)


def relative_error(a: float, b: float) -> float:
    """|a − b| / max(|a|, |b|): symmetric, 0 when both are 0, at most 2.

    >>> relative_error(1.0, 1.1) == relative_error(1.1, 1.0)
    True
    """
    top = max(abs(a), abs(b))
    return 0.0 if top == 0 else abs(a - b) / top


def gradient_tolerance(eps: float, magnitude: float, largest: float, *, ulps: float = TAU_ULPS) -> float:
    """``ulps``·ε·(magnitude + largest): how far a correct gradient in a dtype of rounding unit ε may be off.

    ``magnitude`` is |exact| of this entry (for a batch, Σ |per-sample gradient|), ``largest``
    the largest such magnitude over the whole gradient.

    >>> gradient_tolerance(2.0 ** -52, 1.0, 3.0, ulps=64) == 2.0 ** -44
    True
    """
    return ulps * eps * (magnitude + largest)


def loss_error(scale: float) -> float:
    """F_ULPS·ε·scale: the error of one float64 evaluation of a loss, ``scale`` = |f| + Σ|x·∂f/∂x|."""
    return F_ULPS * EPS * scale


def gradient_verdict(error: float, tolerance: float, bound: float) -> str:
    """"ok" within ``tolerance``, "precision" beyond it but within ``bound``, "mismatch" beyond both.

    >>> gradient_verdict(1e-16, 1e-15, 1e-10), gradient_verdict(1e-12, 1e-15, 1e-10), gradient_verdict(1e-9, 1e-15, 1e-10)
    ('ok', 'precision', 'mismatch')
    """
    if error <= tolerance:
        return "ok"
    return "precision" if error <= bound else "mismatch"
