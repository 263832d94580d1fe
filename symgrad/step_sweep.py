"""The step-size sweep: a finite difference's error against its step h, and the slope it falls with.

For h = 2⁻³ … 2⁻⁴⁰ (times max(1, |x|)) the compiled loss's finite difference is compared with
the exact derivative. Where truncation dominates round-off the error falls as hⁿ, n the
scheme's order (2 for central differences): the fitted log-log slope checks the bound's
truncation term, and so the checker's own tolerance. ``render/picture.py`` draws the sweep.

``sweep_hvp_steps`` is the second-order sweep (``gradcheck --order 2 --plot``): the central
difference of the compiled float64 gradient along v = e_k, (∇f(x + h·v) − ∇f(x − h·v)) / 2h,
against the exact H·v (forward over reverse), the error the largest over H·v's components;
its truncation term is h²/6 · max_j |d³(∂f/∂x_j)/dt³| (from exact gradients at x + kη·v),
its round-off ε_g/h with ε_g the float64 error of one gradient component. The check itself
differences *exact* gradients (round-off negligible at its step), so this picture shows what a
float64 finite-difference H·v would resolve, and that its error falls as h².
"""

from __future__ import annotations

import math
from typing import Mapping

import mpmath
import numpy as np

from .chain import derive
from .compile import compile_gradient
from .errors import InvalidArgument
from .finite_differences import (SCHEMES, SLOPE_STENCIL, Scheme, default_step, higher_derivatives, roundoff_bound,
                                 scheme_named, truncation_bound)
from .gradcheck_problems import ScalarProblem, loss_at
from .gradcheck_report import StepSweep
from .graph import Network
from .limits import MAX_FULL_GRADCHECK
from .precision import GRADCHECK_DIGITS, GRADCHECK_WORKING_DIGITS
from .second_order import hvp
from .second_order_code import compile_second_order
from .tolerance import loss_error

__all__ = ["sweep_steps", "sweep_hvp_steps", "SLOPE_MARGIN"]

SLOPE_MARGIN = 0.1  # the measured sweep slope must be within this of the scheme's order


def sweep_steps(network: Network, *, param: str | None = None, scheme: str = "central",
                at: Mapping[str, object] | None = None) -> StepSweep:
    """Finite-difference error |D(h) − exact| for h = 2⁻³ … 2⁻⁴⁰ (times max(1, |x|)), and its slope.

    The slope is fitted (least squares on log-log) where the bound's truncation term exceeds
    its round-off term 100-fold; for central differences it should be 2.

    >>> import symgrad
    >>> sweep = symgrad.sweep_steps(symgrad.load("mazur"), param="w5")
    >>> sweep.ok, round(sweep.slope)
    (True, 2)
    """
    sch = scheme_named(scheme)
    if sch.name == "complex":
        raise InvalidArgument("the step sweep is for difference schemes; the complex step has no round-off "
                              "to trade against; use scheme='central'")
    if network.structure is not None and not network.nodes:
        raise InvalidArgument("the step sweep measures against exact values, which a matrix-form-only network "
                              "does not have; sweep a smaller [mlp] (up to 5,000 parameters)")
    derivation = derive(network)
    compiled = compile_gradient(derivation, reduction="none")
    point = {k: float(v) for k, v in network.point(at).items()}
    names = tuple(network.params or network.inputs)
    problem = ScalarProblem(network, derivation, compiled, names, point, [])
    x = np.array([point[n] for n in names])
    if param is None:
        param = _most_curved(problem, x, sch)
    if param not in names:
        raise InvalidArgument(f"param {param!r} is not a parameter of the network; choose one of {', '.join(names)}")
    k = names.index(param)
    v = np.zeros(len(names))
    v[k] = 1.0
    scale = 2.0 ** round(math.log2(max(1.0, abs(x[k]))))
    hs = tuple(scale * 2.0 ** -e for e in range(3, 41))
    exact, derivative, f_scale = _exact_along(problem, x, k, sch)
    errors = _measured_errors(problem, x, v, sch, hs, exact)
    error_f = loss_error(f_scale)
    truncation = tuple(truncation_bound(sch, h, derivative) for h in hs)
    roundoff = tuple(roundoff_bound(sch, h, error_f) for h in hs)
    fit = [j for j in range(len(hs)) if truncation[j] > 100 * roundoff[j] and errors[j] > 0]
    if derivative == 0 or len(fit) < 3:
        return StepSweep(param, sch.name, hs, errors, truncation, roundoff, (0.0, 0.0), None, sch.order,
                         SLOPE_MARGIN)
    fitted = np.polyfit(np.log([hs[j] for j in fit]), np.log([errors[j] for j in fit]), 1)[0]
    return StepSweep(param, sch.name, hs, errors, truncation, roundoff, (hs[fit[-1]], hs[fit[0]]),
                     float(fitted), sch.order, SLOPE_MARGIN)


def _exact_along(problem: ScalarProblem, x: np.ndarray, k: int, sch: Scheme) -> tuple[float, float, float]:
    """Exactly at x: ∂f/∂x_k, the (order+1)-th derivative along x_k, and |f| + Σ|x·∂f/∂x| (the loss's scale)."""
    v = np.zeros(len(x))
    v[k] = 1.0
    with mpmath.workdps(GRADCHECK_WORKING_DIGITS):
        centre = problem.exact(x)
        eta = default_step(SCHEMES["central"], float(x[k]))
        slopes = {0: centre.gradient[k]}
        for j in SLOPE_STENCIL:
            slopes[j] = problem.exact(x + j * eta * v).gradient[k]
        derivative = float(higher_derivatives(slopes, eta)[sch.order + 1])
        f_scale = float(abs(centre.loss) + mpmath.fsum(abs(mpmath.mpf(float(xi)) * e)
                                                       for xi, e in zip(x, centre.gradient)))
        return float(centre.gradient[k]), derivative, f_scale


def _measured_errors(problem: ScalarProblem, x: np.ndarray, v: np.ndarray, sch: Scheme, hs: tuple[float, ...],
                     exact: float) -> tuple[float, ...]:
    """|D(h) − exact| at every h, the compiled loss evaluated at every stencil point in one call."""
    loss0 = loss_at(problem, x)[0]
    moved = [(h, o) for h in hs for o in sch.offsets if o != 0]
    values = problem.losses(np.array([x + o * h * v for h, o in moved]))[0]
    loss_at_point = dict(zip(moved, map(float, values)))
    errors = []
    for h in hs:
        losses = {o: (loss0 if o == 0 else loss_at_point[h, o]) for o in sch.offsets}
        estimate = sum(w * losses[o] for o, w in zip(sch.offsets, sch.weights)) / h
        errors.append(abs(estimate - exact))
    return tuple(errors)


def _most_curved(problem: ScalarProblem, x: np.ndarray, sch: Scheme) -> str:
    """The coordinate (among the first MAX_FULL_GRADCHECK) with the largest truncation derivative."""
    best, best_value = problem.names[0], -1.0
    with mpmath.workdps(GRADCHECK_WORKING_DIGITS):
        gradient = problem.exact(x).gradient
        for k, name in enumerate(problem.names[:MAX_FULL_GRADCHECK]):
            v = np.zeros(len(x))
            v[k] = 1.0
            eta = default_step(SCHEMES["central"], float(x[k]))
            slopes = {0: gradient[k]} | {j: problem.exact(x + j * eta * v).gradient[k] for j in SLOPE_STENCIL}
            value = abs(float(higher_derivatives(slopes, eta)[sch.order + 1]))
            if value > best_value:
                best, best_value = name, value
    return best


def sweep_hvp_steps(network: Network, *, param: str | None = None,
                    at: Mapping[str, object] | None = None) -> StepSweep:
    """The second-order sweep: max_j |D_j(h) − (H·v)_j| for v = e_param, D the central difference of the
    compiled gradient, h = 2⁻³ … 2⁻⁴⁰ (times max(1, |x|)), and its fitted slope (2 expected).

    ``param`` None takes the parameter (among the first ``MAX_FULL_GRADCHECK``) with the largest
    third derivative of the gradient along it.

    >>> import symgrad
    >>> sweep = symgrad.sweep_hvp_steps(symgrad.load("mazur"), param="w5")
    >>> sweep.param, sweep.ok, round(sweep.slope)
    ('H·v, v = e_w5', True, 2)
    """
    if network.structure is not None and not network.nodes:
        raise InvalidArgument("the second-order sweep measures against exact H·v, which a matrix-form-only network "
                              "does not have; sweep a smaller [mlp] (up to 5,000 parameters)")
    if not network.params:
        raise InvalidArgument("the network has no parameters: the second-order sweep needs some")
    sch = SCHEMES["central"]
    derivation = derive(network)
    point = {k: float(v) for k, v in network.point(at).items()}
    names = tuple(network.params)
    problem = ScalarProblem(network, derivation, compile_gradient(derivation, reduction="none"), names, point, [])
    x = np.array([point[n] for n in names])
    thirds = {n: _gradient_thirds(problem, x, k) for k, n in enumerate(names[:MAX_FULL_GRADCHECK])}
    if param is None:
        param = max(thirds, key=lambda n: max(thirds[n]))
    if param not in names:
        raise InvalidArgument(f"param {param!r} is not a parameter of the network; choose one of {', '.join(names)}")
    k = names.index(param)
    third = max(thirds[param] if param in thirds else _gradient_thirds(problem, x, k))
    exact = hvp(derivation, {param: 1}, at=network.point(at), digits=GRADCHECK_DIGITS).product
    column = np.array([float(exact[n]) for n in names])
    hessian = compile_second_order(derivation).hessian(point)[0]
    gradient = problem.losses(x[None, :])[1][0]
    error_g = loss_error(float(np.max(np.abs(gradient) + np.abs(hessian) @ np.abs(x))))
    scale = 2.0 ** round(math.log2(max(1.0, abs(x[k]))))
    hs = tuple(scale * 2.0 ** -e for e in range(3, 41))
    moved = np.array([x + o * h * np.eye(len(x))[k] for h in hs for o in (-1.0, 1.0)])
    grads = problem.losses(moved)[1]
    errors = tuple(float(np.max(np.abs((grads[2 * j + 1] - grads[2 * j]) / (2 * h) - column)))
                   for j, h in enumerate(hs))
    truncation = tuple(truncation_bound(sch, h, third) for h in hs)
    roundoff = tuple(roundoff_bound(sch, h, error_g) for h in hs)
    label = f"H·v, v = e_{param}"
    fit = [j for j in range(len(hs)) if truncation[j] > 100 * roundoff[j] and errors[j] > 0]
    if third == 0 or len(fit) < 3:
        return StepSweep(label, sch.name, hs, errors, truncation, roundoff, (0.0, 0.0), None, sch.order, SLOPE_MARGIN)
    fitted = np.polyfit(np.log([hs[j] for j in fit]), np.log([errors[j] for j in fit]), 1)[0]
    return StepSweep(label, sch.name, hs, errors, truncation, roundoff, (hs[fit[-1]], hs[fit[0]]), float(fitted),
                     sch.order, SLOPE_MARGIN)


def _gradient_thirds(problem: ScalarProblem, x: np.ndarray, k: int) -> list[float]:
    """|d³(∂f/∂x_j)/dt³| along e_k for every j, from exact gradients at x + jη·e_k (j = ±1, ±2)."""
    v = np.zeros(len(x))
    v[k] = 1.0
    with mpmath.workdps(GRADCHECK_WORKING_DIGITS):
        eta = default_step(SCHEMES["central"], float(x[k]))
        g = {j: problem.exact(x + j * eta * v).gradient for j in SLOPE_STENCIL}
        h = mpmath.mpf(eta)
        return [abs(float((g[2][i] - 2 * g[1][i] + 2 * g[-1][i] - g[-2][i]) / (2 * h ** 3))) for i in range(len(x))]
