"""Finite-difference schemes: stencils, optimal steps and error bounds, one table.

Each real scheme estimates f′(x) as Σ_k w_k f(x + o_k h) / h. Its error has two parts:
truncation, C·hⁿ·|f⁽ⁿ⁺¹⁾| (the Taylor remainder), and round-off, R·ε_f/h, where ε_f is the
error of one evaluation of f and R = Σ|w_k|. The step that balances them is ε^(1/(n+1))
times the scale of x, which is the default: ∛ε·max(1, |x|) for central differences.

The complex step, Im f(x + ih)/h, subtracts nothing, so its round-off is ε|f′| whatever h is;
its truncation is h²|f‴|/6, negligible at h = 10⁻²⁰·max(1, |x|). It needs f analytic along
the way (no relu, abs, max, min), which the gradient checker verifies from the function table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np

from .errors import InvalidArgument

__all__ = ["EPS", "Scheme", "SCHEMES", "SLOPE_STENCIL", "scheme_named", "default_step", "truncation_bound",
           "roundoff_bound", "higher_derivatives"]

EPS = float(np.finfo(np.float64).eps)
FLOAT64_MAX = float(np.finfo(np.float64).max)
SLOPE_STENCIL = (-2, -1, 1, 2)  # the slope is also taken at x + k·η·v for these k, around the centre k = 0


@dataclass(frozen=True)
class Scheme:
    """One finite-difference scheme: where f is evaluated and how the error scales with h."""

    name: str
    title: str  # for reports: "central differences"
    offsets: tuple[float, ...]  # stencil points x + o·h (empty for the complex step)
    weights: tuple[float, ...]  # f′ ≈ Σ w·f(x + o·h) / h
    order: int  # truncation error ~ h**order
    truncation: float  # C in C·h**order·|f^(order+1)|
    step_power: float  # default step: EPS**step_power · max(1, |x|)
    step_text: str  # how the default step reads in a report

    @property
    def roundoff(self) -> float:
        """R in R·ε_f/h: the sum of the absolute stencil weights (1 for the complex step)."""
        return float(sum(abs(w) for w in self.weights)) if self.weights else 1.0


SCHEMES: dict[str, Scheme] = {
    s.name: s for s in (
        Scheme("forward", "forward differences", (0.0, 1.0), (-1.0, 1.0), 1, 1 / 2, 1 / 2, "√ε·max(1, |x|)"),
        Scheme("backward", "backward differences", (-1.0, 0.0), (-1.0, 1.0), 1, 1 / 2, 1 / 2, "√ε·max(1, |x|)"),
        Scheme("central", "central differences", (-1.0, 1.0), (-0.5, 0.5), 2, 1 / 6, 1 / 3, "∛ε·max(1, |x|)"),
        # Richardson: (4·D(h/2) − D(h))/3 with D the central difference; error −h⁴f⁽⁵⁾/480.
        Scheme("richardson", "Richardson extrapolation of central differences", (-1.0, -0.5, 0.5, 1.0),
               (1 / 6, -4 / 3, 4 / 3, -1 / 6), 4, 1 / 480, 1 / 5, "ε^(1/5)·max(1, |x|)"),
        Scheme("complex", "complex step", (), (), 2, 1 / 6, 0.0, "1e-20·max(1, |x|)"),
    )
}

_COMPLEX_STEP = 1e-20


def scheme_named(name: str) -> Scheme:
    """The scheme called ``name``; InvalidArgument naming the choices otherwise.

    >>> scheme_named("central").order
    2
    """
    if not isinstance(name, str) or name not in SCHEMES:
        raise InvalidArgument(f"scheme must be one of {', '.join(SCHEMES)}, got {name!r}")
    return SCHEMES[name]


def default_step(scheme: Scheme, x: float) -> float:
    """The step for ``x``: optimal for the scheme, relative to |x|, a power of two.

    A power of two keeps every stencil point x + o·h exact in float64, so the only
    round-off is in f itself.

    >>> default_step(SCHEMES["central"], 0.0) == 2.0 ** -17
    True
    """
    scale = max(1.0, abs(x))
    nominal = (_COMPLEX_STEP if scheme.name == "complex" else EPS ** scheme.step_power) * scale
    return 2.0 ** round(math.log2(nominal))


def truncation_bound(scheme: Scheme, h: float, derivative: float) -> float:
    """C·hⁿ·|f⁽ⁿ⁺¹⁾|, with ``derivative`` the (n+1)-th derivative of f at x.

    hⁿ alone may pass float64's range where the product does not (a step of 10¹⁶⁰ at a
    saturated unit, whose derivatives are 10⁻³⁰⁰): the product is then taken through
    logarithms, and is ``inf`` only where it truly is beyond float64.

    >>> truncation_bound(SCHEMES["central"], 1e-3, 6.0)
    1e-06
    >>> f"{truncation_bound(SCHEMES['central'], 1e200, 1e-300):.6g}", truncation_bound(SCHEMES["central"], 1e200, 1.0)
    ('1.66667e+99', inf)
    """
    size = abs(derivative)
    if size == 0 or h == 0:
        return 0.0
    try:
        return scheme.truncation * h ** scheme.order * size
    except OverflowError:
        exponent = math.log(scheme.truncation) + scheme.order * math.log(h) + math.log(size)
        return math.exp(exponent) if exponent < math.log(FLOAT64_MAX) else math.inf


def roundoff_bound(scheme: Scheme, h: float, error_f: float, *, slope: float = 0.0) -> float:
    """R·ε_f/h for a stencil (ε_f: the error of one evaluation of f); ε|f′| for the complex step.

    >>> roundoff_bound(SCHEMES["central"], 0.5, 1e-16)
    2e-16
    """
    if scheme.name == "complex":
        return EPS * abs(slope)
    return scheme.roundoff * error_f / h


def higher_derivatives(slopes: dict[int, object], eta: float, *,
                       orders: tuple[int, ...] = (2, 3, 5)) -> dict[int, object]:
    """f″, f‴ and f⁽⁵⁾ along v from the slope f′ at x + k·η (k = −2 … 2), by 5-point differences.

    Keyed by order + 1 of the scheme whose truncation term needs them (``orders``: only those
    keys, each computed as it would be among all three). The slopes may be floats or mpmath
    numbers; the result is of the same kind.

    >>> higher_derivatives({k: 3.0 * k ** 2 for k in range(-2, 3)}, 1.0)[3]   # f = k³: f‴ = 6
    6.0
    """
    g = slopes
    if any(isinstance(v, mpmath.mpf) for v in g.values()):  # η⁴ may overflow float64 where mpmath does not
        eta = mpmath.mpf(eta)
    formulas = {
        2: lambda: (g[-2] - 8 * g[-1] + 8 * g[1] - g[2]) / (12 * eta),
        3: lambda: (-g[-2] + 16 * g[-1] - 30 * g[0] + 16 * g[1] - g[2]) / (12 * eta ** 2),
        5: lambda: (g[-2] - 4 * g[-1] + 6 * g[0] - 4 * g[1] + g[2]) / eta ** 4,
    }
    return {order: formulas[order]() for order in orders}
