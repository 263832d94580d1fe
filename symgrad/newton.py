"""Newton and Gauss–Newton steps with the exact Hessian, for small networks: a teaching aid.

θ⁺ = θ − η (M + λI)⁻¹ ∇E, with M the exact Hessian (``rule="newton"``) or the Gauss–Newton
matrix (``rule="gauss-newton"``, the loss's curvature in the network's outputs only: see
``second_order.gauss_newton_split``), λ the damping (0 by default)
and η the learning rate (1 by default: the full step). Everything is exact and certified;
the linear solve runs in mpmath at the working precision.

Stated plainly: this shows what second-order steps do on a lecture-sized network. It is
not an optimiser for real ones: the Hessian costs one forward-over-reverse pass per
parameter, a Newton step heads for a saddle or a maximum where the Hessian is not positive
definite, and the Gauss–Newton matrix is singular when the network has more parameters than
outputs × samples (then give a damping λ > 0, Levenberg–Marquardt style).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import mpmath

from .chain import Derivation
from .descent import to_mpf
from .errors import DomainError, InvalidArgument
from .evaluation import evaluate_gradients
from .graph import as_number
from .precision import DEFAULT_DIGITS, WORKING_EXTRA, validate_digits
from .second_order import gauss_newton, hessian

__all__ = ["NEWTON_RULES", "NewtonUpdate", "newton_step"]

NEWTON_RULES = ("newton", "gauss-newton")


@dataclass(frozen=True)
class NewtonUpdate:
    """One second-order step: the loss and gradients at the old parameters, the new ones, and the matrix used."""

    loss: mpmath.mpf
    gradients: dict[str, mpmath.mpf]
    before: dict[str, mpmath.mpf]
    after: dict[str, mpmath.mpf]
    rule: str
    learning_rate: mpmath.mpf
    damping: mpmath.mpf


def newton_step(derivation: Derivation, *, rule: str = "newton", learning_rate: object = None,
                damping: object = 0, at: Mapping[str, object] | None = None,
                digits: int = DEFAULT_DIGITS) -> NewtonUpdate:
    """One Newton (or Gauss–Newton) step from the network's point with the exact second derivatives.

    >>> import symgrad
    >>> d = symgrad.derive(symgrad.load("mazur"))
    >>> s = symgrad.newton_step(d, rule="gauss-newton", damping="0.01", digits=12)
    >>> s.rule, symgrad.to_decimal(s.after["w5"], 6)
    ('gauss-newton', '-1.40396')
    """
    if rule not in NEWTON_RULES:
        raise InvalidArgument(f"rule={rule!r}: a second-order step is one of {', '.join(NEWTON_RULES)}")
    if digits is None:
        raise InvalidArgument("a Newton step is exact: give digits (such as 30), not None")
    validate_digits(digits)
    eta = as_number(1 if learning_rate is None else learning_rate, what="learning rate")
    lam = as_number(damping, what="damping")
    if eta <= 0 or lam < 0:
        raise InvalidArgument(f"learning rate {learning_rate!r} must be above 0 and damping {damping!r} at least 0")
    matrix = (hessian if rule == "newton" else gauss_newton)(derivation, at=at, digits=digits)
    grads = evaluate_gradients(derivation, at=at, digits=digits)
    params = matrix.params
    with mpmath.workdps(2 * (digits + WORKING_EXTRA)):
        m = mpmath.matrix([[to_mpf(x) for x in row] for row in matrix.matrix])
        for k in range(len(params)):
            m[k, k] += to_mpf(lam)
        g = mpmath.matrix([to_mpf(grads.gradients[p]) for p in params])
        sizes = mpmath.svd_r(m, compute_uv=False)
        if min(sizes) <= mpmath.mpf(10) ** -digits * max(max(sizes), 1):
            raise DomainError(f"the {'Hessian' if rule == 'newton' else 'Gauss–Newton matrix'} is singular at this "
                              f"point, so the {rule} step does not exist; give a damping λ > 0 (step(..., rule={rule!r}, "
                              "damping=0.01) or newton_step(..., damping=0.01)) or take a gradient step (one sample fixes only a combination of a neuron's "
                              "incoming weights, so their rows of the matrix are proportional)")
        direction = mpmath.lu_solve(m, g)
        before = {p: to_mpf(grads.values[p]) for p in params}
        after = {p: before[p] - to_mpf(eta) * direction[k] for k, p in enumerate(params)}
    return NewtonUpdate(grads.values[derivation.output], dict(grads.gradients), before, after, rule, to_mpf(eta),
                        to_mpf(lam))
