"""Gradient checking that explains itself: exact vs compiled vs finite differences.

For each parameter (or random direction) three numbers are compared: the exact derivative
(certified high precision), the compiled float64 gradient, and a finite-difference estimate
of the compiled loss. A user's gradient function can be a fourth. The tolerance is an error
bound, truncation + round-off, with the higher derivative taken from exact gradients near
the point; each disagreement is attributed to its cause:

- ``step`` or ``round-off``: the finite difference is off, by truncation or by cancellation
  (measured by repeating the same difference in exact arithmetic);
- ``kink``: a relu/abs/max/min/hinge argument changes sign within the step; the gradient is
  then checked to lie between the one-sided differences (a subgradient check);
- ``precision``: a gradient differs from the exact value beyond its dtype's rounding, but by
  less than finite differences can resolve;
- ``mismatch``: a wrong derivative.

The error formula, used everywhere, is symmetric: ``|a − b| / max(|a|, |b|)``. Beside this
module: the report types (``gradcheck_report``), the user's function (``user_gradient``),
the problems checked (``gradcheck_problems``), the exact side as generated code (``gradcheck_exact``), kinks (``kinks``), the pass/fail rule
(``tolerance``), the step sweep (``step_sweep``) and its plot (``render/picture.py``). Inside,
the finite-difference step is called ``h``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping

import mpmath
import numpy as np

from .diagnosis import diagnose
from .errors import DomainError, InvalidArgument, SymgradError
from .evaluation import evaluate_gradients
from .finite_differences import (EPS, SCHEMES, SLOPE_STENCIL, Scheme, default_step, higher_derivatives,
                                 roundoff_bound, scheme_named, truncation_bound)
from .gradcheck_problems import ExactPoint, MatrixProblem, ScalarProblem, loss_at, matrix_problem, scalar_problem
from .gradcheck_report import GRADCHECK_VERDICTS, GradcheckReport, GradcheckRow
from .graph import Network
from .kinks import check_analytic, kink_within, one_sided_differences
from .limits import MAX_FULL_GRADCHECK, MAX_GRADCHECK_DIRECTIONS, MAX_STEP
from .second_order_check import check_order
from .precision import GRADCHECK_DIGITS, GRADCHECK_WORKING_DIGITS, to_decimal
from .tolerance import F_ULPS, gradient_tolerance, gradient_verdict, loss_error, relative_error
from .user_gradient import call_gradient_function, describe_value, load_gradient_function

__all__ = ["gradcheck"]

SAMPLE = 20  # coordinates checked one by one when there are more than MAX_FULL_GRADCHECK
DIRECTIONS = 3  # random directions checked when coordinates are sampled
MAX_HALVINGS = 40  # times h is halved to keep the stencil inside the loss's domain
FLOAT64_MAX = float(np.finfo(np.float64).max)


# -- the check ----------------------------------------------------------------------------
def gradcheck(network: Network, *,
              against: Callable[[dict[str, float]], Mapping[str, object]] | str | None = None,
              at: Mapping[str, object] | None = None, scheme: str = "central",
              step: float | Mapping[str, float] | None = None,
              sample: int | None = None, directions: int | None = None, seed: int = 0,
              order: int = 1) -> GradcheckReport:
    """Check the network's gradient three ways, and ``against`` (a user's gradient function).

    ``against`` receives every leaf's value by name as floats and returns gradients by
    parameter name (or is ``"FILE.py:FUNC"``, loaded as the CLI's ``--against`` does). ``at`` overrides leaf values; ``step`` overrides the optimal step (one
    number, or a dict by parameter). Networks with more than ``limits.MAX_FULL_GRADCHECK``
    parameters are checked on ``sample`` coordinates plus ``directions`` random directions.
    ``order=2`` checks Hessian-vector products instead (``second_order_check``).

    >>> import symgrad
    >>> report = symgrad.gradcheck(symgrad.load("mazur"))
    >>> report.ok, report.rows[0].verdict
    (True, 'ok')
    """
    if order != 1:  # H·v, exact vs compiled vs differences of the exact gradient: symgrad.second_order_check
        return check_order(network, order=order, against=against, at=at, scheme=scheme, step=step, sample=sample,
                           directions=directions, seed=seed)
    if not isinstance(network, Network):
        hint = f"; load it first: symgrad.gradcheck(symgrad.load({network!r}))" if isinstance(network, str) else ""
        raise InvalidArgument(f"gradcheck(network={describe_value(network)}): give a symgrad.Network{hint}")
    if at is not None and not isinstance(at, Mapping):
        raise InvalidArgument(f"at={describe_value(at)}: give a dict of leaf values by name, such as "
                              f"{{{network.params[0] if network.params else 'x'!r}: 0.5}}")
    sch = scheme_named(scheme)
    _check_options(step, seed, sample, directions)
    problem, x, notes = _problem(network, sch, against=against, at=at)
    if isinstance(step, Mapping) and set(step) - set(problem.names):
        raise InvalidArgument(f"step names {', '.join(sorted(map(str, set(step) - set(problem.names))))}, which "
                              f"are not checked coordinates; use names among {', '.join(problem.names[:10])}")
    rows_in, sample_notes = _directions(problem.names, x, sch, step, sample, directions, seed)
    notes = [_method_note(sch, step)] + notes + sample_notes
    loss0, compiled0 = loss_at(problem, x)
    user = user_dtype = None
    if against is not None:
        user, user_dtype = _user_gradient(against, problem)
        if user_dtype != np.float64:
            message = (f"the user gradient is {user_dtype.name}: finite differences stay float64, and its "
                       f"tolerance follows {user_dtype.name} (ε = {np.finfo(user_dtype).eps:.3g})")
            warnings.warn(message, UserWarning, stacklevel=2)
            notes.append("warning: " + message)
    centre = _centre(problem, sch, x, loss0, compiled0, user,
                     float(np.finfo(user_dtype).eps) if user is not None else EPS)
    if not math.isfinite(loss0):
        raise _loss_not_finite(centre)
    first = _first_samples(centre, rows_in)
    judged = [_judge(centre, d, _estimate(centre, d, evaluated)) for d, evaluated in zip(rows_in, first)]
    rank = {v: k for k, v in enumerate(GRADCHECK_VERDICTS)}
    order = sorted(range(len(judged)), key=lambda k: (rank[judged[k][0].verdict], -judged[k][1], k))
    title = f"gradcheck: {network.description or 'network'}"
    rows = tuple(judged[k][0] for k in order)
    return GradcheckReport(title, sch.name, rows, tuple(notes), against is not None,
                           diagnoses=_diagnoses(problem, rows, against is not None))


def _diagnoses(problem, rows: tuple[GradcheckRow, ...], has_user: bool) -> tuple[str, ...]:
    """The bugs ``diagnosis.diagnose`` names from the coordinates' received ÷ exact (scalar form, on a mismatch)."""
    if not isinstance(problem, ScalarProblem) or not any(r.verdict == "mismatch" for r in rows):
        return ()
    checked = [r for r in rows if r.param in problem.names and isinstance(r.exact, float)
               and (r.user if has_user else r.compiled) is not None]
    if not checked:
        return ()
    expected = {r.param: r.exact for r in checked}
    received = {r.param: (r.user if has_user else r.compiled) for r in checked}
    wrong = [r.param for r in checked if r.verdict == "mismatch"]
    try:
        values = evaluate_gradients(problem.derivation, at=problem.point, digits=GRADCHECK_DIGITS)
    except SymgradError:  # no exact values to match units against: the ratios alone
        values = None
    return tuple(d.sentence for d in diagnose(problem.network, expected, received, wrong, values=values))


def _check_options(step: float | Mapping[str, float] | None, seed: int, sample: object, directions: object) -> None:
    for key, value in (("sample", sample), ("directions", directions)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise InvalidArgument(f"{key} must be a non-negative integer, got {describe_value(value)}")
    if directions is not None and directions > MAX_GRADCHECK_DIRECTIONS:
        raise InvalidArgument(f"directions={directions}: at most {MAX_GRADCHECK_DIRECTIONS:,} random directions "
                              f"are checked in one call (each costs exact evaluations at five points); give fewer")
    for value in (step.values() if isinstance(step, Mapping) else [step]):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or value <= 0):
            raise InvalidArgument(f"step must be a positive number such as 1e-6 (or a dict of them by "
                                  f"parameter), got {describe_value(value)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidArgument(f"seed must be a non-negative integer, got {describe_value(seed)}")


def _problem(network: Network, sch: Scheme, *, against, at) -> tuple[ScalarProblem | MatrixProblem, np.ndarray,
                                                                         list[str]]:
    """The problem to check, its point x, and notes on what kind of check it allows."""
    notes: list[str] = []
    if network.structure is not None and not network.nodes:
        if against is not None:
            raise InvalidArgument("this [mlp] network exists in matrix form only (no scalar parameter names): "
                                  "check it without --against")
        if sch.name == "complex":
            raise InvalidArgument("scheme 'complex' needs scalar nodes; a matrix-form network is checked with "
                                  "'central', 'forward', 'backward' or 'richardson'")
        problem, x = matrix_problem(network, at)
        if at is not None:
            notes.append(_matrix_point_note(problem, at))
        notes.append("matrix form only: no exact values; the compiled gradient is checked against finite "
                     "differences, the bound's higher derivative estimated from compiled gradients; kinks are not "
                     "detected in this form")
    else:
        problem = scalar_problem(network, at)
        names, point = problem.names, problem.point
        if not network.params:
            notes.append("no parameters: derivatives with respect to the inputs are checked (no compiled column)")
        if sch.name == "complex":
            check_analytic(network, names)
        x = np.array([point[n] for n in names])
    if not problem.names:
        raise InvalidArgument("the network has no parameters or inputs to differentiate with respect to")
    return problem, x, notes


def _matrix_point_note(problem: MatrixProblem, at: Mapping[str, object]) -> str:
    """Where a matrix-form network is checked: which arrays were given, and the batch."""
    given = [k for k in problem.shapes if k in at]
    seeded = [k for k in problem.shapes if k not in at]
    where = f"at the given {', '.join(given)}" if given else "at mlp's seeded weights"
    if given and seeded:
        where += f" ({', '.join(seeded)} seeded)"
    count = len(problem.inputs)
    return f"{where}; {count} sample{'s' if count != 1 else ''}, the {at.get('reduction', 'sum')} over them"


def _method_note(sch: Scheme, step: float | Mapping[str, float] | None) -> str:
    """The report's first note: the scheme, the step h, and what the tolerance is."""
    h_text = f"{step:g} for every coordinate" if isinstance(step, (int, float)) else f"{sch.step_text} per coordinate"
    if isinstance(step, Mapping) and step:
        h_text += ", as given for " + ", ".join(step)
    return f"{sch.title}; step {h_text}; tolerance = truncation + round-off bound"


def _user_gradient(against, problem: ScalarProblem) -> tuple[dict[str, float], np.dtype]:
    """The user's gradients at the point (``against`` a function or "FILE.py:FUNC"), and their dtype."""
    if isinstance(against, str):
        against = load_gradient_function(against)
    if not callable(against):
        raise InvalidArgument(f"against must be a function values -> {{param: gradient}} or 'FILE.py:FUNC', "
                              f"got {describe_value(against)}")
    return call_gradient_function(against, problem.point, problem.names)


@dataclass(frozen=True)
class _Direction:
    """One row to check: a coordinate or a random unit direction v, and its step h."""

    label: str
    v: np.ndarray
    h: float


def _directions(names, x, scheme, h, sample, directions, seed) -> tuple[list[_Direction], list[str]]:
    """The rows to check (coordinates, sampled when many, then random directions), and notes saying which.

    ``h``: the step given by the caller, one number or a dict by coordinate; None: the scheme's default.
    """
    n = len(names)
    notes = []
    if sample is None:
        sample = n if n <= MAX_FULL_GRADCHECK else SAMPLE
    if directions is None:
        directions = 0 if sample >= n else DIRECTIONS
    for key, value in (("sample", sample), ("directions", directions)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidArgument(f"{key} must be a non-negative integer, got {value!r}")
    if sample == 0 and directions == 0:
        raise InvalidArgument("sample and directions are both 0: nothing would be checked; give sample=1 or more")
    rng = np.random.default_rng(seed)
    if sample >= n:
        chosen = list(range(n))
    else:
        chosen = sorted(int(k) for k in rng.choice(n, size=sample, replace=False))
        notes.append(f"{sample} of {n} coordinates sampled (seed {seed})")
    out = []
    for k in chosen:
        v = np.zeros(n)
        v[k] = 1.0
        given = h.get(names[k]) if isinstance(h, Mapping) else h
        _check_h(given, names[k], float(x[k]), scheme)
        out.append(_Direction(names[k], v, given if given is not None else default_step(scheme, float(x[k]))))
    scale = float(np.max(np.abs(x))) if n else 1.0
    for d in range(directions):
        v = rng.standard_normal(n)
        v /= np.linalg.norm(v)
        given = None if isinstance(h, Mapping) else h
        _check_h(given, "the largest coordinate", scale, scheme)
        out.append(_Direction(f"direction {d + 1}", v, given if given is not None else default_step(scheme, scale)))
    if directions:
        notes.append(f"{directions} random unit directions v (seed {seed}): rows compare directional derivatives ∇f·v")
    return out, notes


def _check_h(h: float | None, name: str, x: float, scheme: Scheme) -> None:
    """A given step h must move x in float64 (real schemes) and stay below MAX_STEP."""
    if h is None:
        return
    if h > MAX_STEP:
        raise InvalidArgument(f"step {h:g} is above the largest accepted, {MAX_STEP:g}; give a step near "
                              f"{default_step(scheme, x):.2g}")
    smallest = min((abs(o) for o in scheme.offsets if o), default=1.0) * h
    if scheme.name != "complex" and x + smallest == x:
        raise InvalidArgument(f"step {h:g} is too small for {name} = {x:g}: x + h rounds to x in float64; give "
                              f"at least {4 * EPS * max(1.0, abs(x)):.2g}")


def _cause_of(value: float, exact: float, who: str) -> str:
    if value == 0:
        return f"the {who} gradient is 0 but the exact one is {exact:.6g} (a missing term?)"
    ratio = value / exact if exact else math.inf
    for target, words in ((-1.0, "the sign is flipped"), (2.0, "it is twice the exact value"),
                          (0.5, "it is half the exact value")):
        if abs(ratio - target) < 1e-6:
            return f"the {who} gradient {value:.6g} differs from the exact {exact:.6g}: {words}"
    return f"the {who} gradient {value:.6g} differs from the exact {exact:.6g} (ratio {ratio:.6g})"


# -- the centre and each row's estimate ------------------------------------------------------
@dataclass(frozen=True)
class _Centre:
    """What every row shares: the point, the loss and gradients there, and the error scales."""

    problem: ScalarProblem | MatrixProblem
    scheme: Scheme
    x: np.ndarray
    loss: float  # compiled float64 loss at x
    compiled: np.ndarray | None  # compiled gradient at x (None: derivatives by inputs)
    exact: ExactPoint | None  # exactly at x; None for matrix-form networks
    user: dict[str, float] | None
    user_eps: float  # the rounding unit of the user's dtype
    error_f: float  # the error of one float64 evaluation of the loss
    gscale: float  # the largest |gradient| entry


def _centre(problem, sch: Scheme, x: np.ndarray, loss0: float, compiled0: np.ndarray | None,
            user: dict[str, float] | None, user_eps: float) -> _Centre:
    """The shared centre: exactly at x where exact values exist, else the compiled gradient's scales."""
    if isinstance(problem, ScalarProblem):
        with mpmath.workdps(GRADCHECK_WORKING_DIGITS):
            exact = problem.exact(x)
            gscale = float(max((abs(e) for e in exact.gradient), default=0))
            f_scale = float(abs(exact.loss) + mpmath.fsum(abs(mpmath.mpf(float(xi)) * e)
                                                          for xi, e in zip(x, exact.gradient)))
    else:
        exact = None
        gscale = float(np.max(np.abs(compiled0)))
        f_scale = abs(loss0) + float(np.sum(np.abs(x * compiled0)))
    return _Centre(problem, sch, x, loss0, compiled0, exact, user, user_eps, loss_error(f_scale), gscale)


@dataclass(frozen=True)
class _Estimate:
    """One row's numbers before judging: the directional derivatives and the evidence."""

    numerical: float
    exact: float | None
    exact_mp: object  # the exact directional derivative (mpmath), which may lie beyond float64's range
    compiled: float | None
    user: float | None
    bound: float  # the finite-difference error bound, truncation + round-off
    truncation: float | None  # measured: the same difference in exact arithmetic, minus the exact value
    kink: str | None  # the kink within the step, described
    one_sided: tuple[float, float, float] | None  # (low, high, slack) of the one-sided differences
    halvings: int  # times h was halved to keep the stencil inside the domain


@dataclass(frozen=True)
class _Samples:
    """Values around x along v at x + k·η·v, k = −2 … 2: compiled losses and slopes, exact ones."""

    eta: float
    losses: dict[int, float]  # compiled float64 loss
    slopes: dict[int, object]  # ∇f·v: exact (mpmath) where exact values exist, else compiled
    exact_losses: dict[int, object] | None
    values: dict[int, dict] | None  # exact value of every quantity, for the kink test


def _first_eta(c: _Centre, d: _Direction) -> float:
    """The stencil's spacing η before any halving: h (half of it for Richardson)."""
    if c.scheme.name == "complex":  # η only serves the derivative estimate
        return default_step(SCHEMES["central"], 0.0) * max(1.0, float(np.max(np.abs(c.x))))
    return d.h / 2 if c.scheme.name == "richardson" else d.h


def _stencil(c: _Centre, v: np.ndarray, eta: float) -> np.ndarray:
    """The points x + k·η·v, k in SLOPE_STENCIL, as rows."""
    return np.array([c.x + k * eta * v for k in SLOPE_STENCIL])


def _first_samples(c: _Centre, directions: list[_Direction]) -> list[tuple[np.ndarray, np.ndarray | None] | None]:
    """Compiled losses and gradients on every direction's first stencil, all in one call (scalar form).

    The matrix form has no per-point mode: its stencils are evaluated direction by direction
    in ``_sample`` (None here), which also keeps only one stencil of gradients in memory.
    """
    if not isinstance(c.problem, ScalarProblem):
        return [None] * len(directions)
    losses, grads = c.problem.losses(np.concatenate([_stencil(c, d.v, _first_eta(c, d)) for d in directions]))
    n = len(SLOPE_STENCIL)
    return [(losses[n * j:n * j + n], grads[n * j:n * j + n] if grads is not None else None)
            for j in range(len(directions))]


def _sample(c: _Centre, v: np.ndarray, eta: float,
            evaluated: tuple[np.ndarray, np.ndarray | None] | None = None) -> _Samples | None:
    """The stencil's values, or None when a point leaves the loss's domain (NaN, complex, DomainError).

    ``evaluated``: the compiled losses and gradients at the stencil's points when already known.
    """
    stencil = _stencil(c, v, eta)
    points = dict(zip(SLOPE_STENCIL, stencil))
    if evaluated is None:
        evaluated = c.problem.losses(stencil)
    losses_k, grads_k = evaluated
    losses = {0: c.loss} | {k: float(losses_k[j]) for j, k in enumerate(SLOPE_STENCIL)}
    grads = {0: c.compiled} | {k: (grads_k[j] if grads_k is not None else None) for j, k in enumerate(SLOPE_STENCIL)}
    if not all(math.isfinite(f) for f in losses.values()):
        return None
    if c.exact is None:
        return _Samples(eta, losses, {k: float(np.dot(g, v)) for k, g in grads.items()}, None, None)
    exact_losses, values, slopes = {0: c.exact.loss}, {0: c.exact.values}, {0: _along(c.exact.gradient, v)}
    for k in SLOPE_STENCIL:
        try:
            there = c.problem.exact(points[k], along=v)
        except DomainError:
            return None
        exact_losses[k], values[k], slopes[k] = there.loss, there.values, _along(there.gradient, v)
    if any(isinstance(z, mpmath.mpc) for z in [*exact_losses.values(), *slopes.values()]):
        return None
    return _Samples(eta, losses, slopes, exact_losses, values)


def _samples_in_domain(c: _Centre, d: _Direction, evaluated) -> tuple[_Samples, float, int]:
    """The first stencil inside the loss's domain, h halved up to MAX_HALVINGS times; with h and the halvings."""
    h, eta = d.h, _first_eta(c, d)
    for halvings in range(MAX_HALVINGS + 1):
        samples = _sample(c, d.v, eta, evaluated if halvings == 0 else None)
        if samples is not None:
            return samples, h, halvings
        eta, h = eta / 2, (h if c.scheme.name == "complex" else h / 2)
    losses, _ = c.problem.losses(_stencil(c, d.v, 2 * eta))  # the last stencil tried
    if any(math.isinf(f) for f in losses):
        raise DomainError(f"{d.label}: the compiled loss overflows float64 (beyond ±{FLOAT64_MAX:.3g}) at the "
                          f"finite-difference points around the point, down to step {h:.3g}; rescale the point "
                          "or the loss so that its values fit in float64")
    raise DomainError(f"{d.label}: every finite-difference step down to {h:.3g} leaves the domain of the "
                      "loss; check the point, or give a smaller step")


def _loss_not_finite(c: _Centre) -> DomainError:
    """Why the compiled loss at the point is not a finite number: overflow (said with the exact loss) or the domain."""
    if c.exact is not None and isinstance(c.exact.loss, mpmath.mpf) and abs(c.exact.loss) > FLOAT64_MAX:
        return DomainError(f"the loss is {to_decimal(c.exact.loss, 6)} at the point, beyond float64's range "
                           f"(±{FLOAT64_MAX:.3g}): the compiled code and finite differences overflow; rescale the "
                           "point or the loss so that its value fits in float64")
    if math.isinf(c.loss):
        exact = f" although the loss is {to_decimal(c.exact.loss, 6)}" if c.exact is not None else ""
        return DomainError(f"the compiled loss overflows float64 at the point{exact}: an intermediate value exceeds "
                           f"±{FLOAT64_MAX:.3g}; rescale the point or rewrite the loss")
    return DomainError(f"the compiled loss is {c.loss!r} at the point: the point lies outside the loss's domain; "
                       "check the values")


def _estimate(c: _Centre, d: _Direction, evaluated: tuple[np.ndarray, np.ndarray | None] | None = None) -> _Estimate:
    """Finite difference along d, exact slopes at x + k·η·v, the bound, and any kink in reach.

    ``evaluated``: the compiled values on the first stencil, when already known. Where the
    stencil leaves the loss's domain (log of a negative, say), h is halved until it
    fits, at most MAX_HALVINGS times.
    """
    sch, v, x = c.scheme, d.v, c.x
    with mpmath.workdps(GRADCHECK_WORKING_DIGITS):
        samples, h, halvings = _samples_in_domain(c, d, evaluated)
        eta = samples.eta
        stencil = {round(o * h / eta): w for o, w in zip(sch.offsets, sch.weights)}
        if sch.name == "complex":
            numerical = c.problem.complex_step(x, v, h)
        else:
            numerical = sum(w * samples.losses[k] for k, w in stencil.items()) / h
        truncation = kink = exact = exact_mp = None
        if samples.exact_losses is not None:
            if sch.name != "complex":  # the same difference in exact arithmetic: truncation alone
                truncation = float(mpmath.fsum(w * samples.exact_losses[k] for k, w in stencil.items()) / h
                                   - samples.slopes[0])
            kink = kink_within(c.problem.kinks, samples.values, sch)
            exact_mp = samples.slopes[0]
            exact = float(exact_mp) if abs(exact_mp) <= FLOAT64_MAX else math.copysign(math.inf, exact_mp)
        derivative = float(higher_derivatives(samples.slopes, eta, orders=(sch.order + 1,))[sch.order + 1])
    compiled = float(np.dot(c.compiled, v)) if c.compiled is not None else None
    user = float(np.dot([c.user[n] for n in c.problem.names], v)) if c.user is not None else None
    reference = exact if exact is not None else compiled
    rounding = roundoff_bound(sch, h, c.error_f, slope=reference) * (F_ULPS if sch.name == "complex" else 1)
    if sch.name != "complex" and not np.all(v == np.round(v)):  # stencil points rounded: input error too
        rounding += sch.roundoff * EPS * float(np.sum(np.abs(x * (c.compiled if c.compiled is not None else 1)))) / h
    bound = 2 * (truncation_bound(sch, h, derivative) + rounding)  # 2: f⁽ⁿ⁺¹⁾ at x, not its max on the stencil
    one_sided = one_sided_differences(samples.losses, samples.slopes, eta) if kink else None
    return _Estimate(numerical, exact, exact_mp, compiled, user, bound, truncation, kink, one_sided, halvings)


def _along(gradient, v: np.ndarray):
    """The directional derivative ∇f·v in mpmath, skipping the zero entries of v."""
    return mpmath.fsum(gradient[k] * float(v[k]) for k in np.flatnonzero(v))


# -- the verdicts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Candidate:
    """A gradient under check: whose it is ("user", "compiled" or "numerical"), its value, its dtype's ε."""

    who: str
    value: float
    eps: float


def _judge(c: _Centre, d: _Direction, e: _Estimate) -> tuple[GradcheckRow, float]:
    """The verdict and its cause for one row; the score ranks rows of the same verdict."""
    if e.user is not None:
        subject = _Candidate("user", e.user, c.user_eps)
    elif e.compiled is not None:
        subject = _Candidate("compiled", e.compiled, EPS)
    else:  # derivatives by inputs: no compiled gradient, the finite difference itself is judged
        subject = _Candidate("numerical", e.numerical, EPS)
    candidates = [subject] + ([_Candidate("compiled", e.compiled, EPS)] if subject.who == "user" else [])
    value = subject.value
    reference = e.exact if e.exact is not None else e.numerical
    abs_error, rel_error = abs(value - reference), relative_error(value, reference)
    if e.exact is not None and not math.isfinite(e.exact):  # the exact value lies beyond float64's range
        verdict, bound = "mismatch", e.bound
        abs_error, rel_error = _beyond_float64_errors(value, e.exact_mp)
        cause = (f"the exact value {to_decimal(e.exact_mp, 6)} lies beyond float64's range (±{FLOAT64_MAX:.3g}): "
                 f"no float64 gradient holds it, and the {subject.who} gradient is {value:.6g}; rescale the loss "
                 f"or the point so that its gradient fits in float64")
    elif e.kink is not None:
        verdict, cause, bound = _judge_kink(e, candidates)
    elif e.exact is not None:
        verdict, cause, bound = _judge_exact(c, d, e, candidates)
    else:
        bound = e.bound + gradient_tolerance(EPS, abs(value), c.gscale)
        if abs_error > bound:
            verdict, cause = "mismatch", f"the compiled gradient {value:.6g} differs from finite differences"
        else:
            verdict, cause = "ok", f"finite differences within {abs_error:.2e} of the compiled value"
    if e.halvings:
        cause += f" (step halved {e.halvings} times to keep the stencil inside the loss's domain)"
    exact = e.exact if e.exact is None or math.isfinite(e.exact) else e.exact_mp  # printed as the value it is
    row = GradcheckRow(d.label, exact, e.compiled, e.numerical, e.user, abs_error, rel_error, bound, verdict, cause)
    return row, float(abs_error) / max(bound, 1e-300) if math.isfinite(bound) else float(abs_error)


def _beyond_float64_errors(value: float, exact) -> tuple[object, float]:
    """|value − exact| (mpmath: it may exceed float64 too) and the relative error, for an exact value beyond float64."""
    if not math.isfinite(value):  # the gradient overflowed: infinitely far from a finite exact value
        return math.inf, math.inf
    with mpmath.workdps(GRADCHECK_WORKING_DIGITS):
        difference = abs(mpmath.mpf(value) - exact)
        return difference, float(difference / max(abs(mpmath.mpf(value)), abs(exact)))


def _judge_kink(e: _Estimate, candidates: list[_Candidate]) -> tuple[str, str, float]:
    low, high, slack = e.one_sided
    interval = f"[{low:.6g}, {high:.6g}]"
    for g in candidates:
        if g.who != "numerical" and not low - slack <= g.value <= high + slack:
            return ("mismatch", f"within the step of a kink of {e.kink}, and the {g.who} gradient {g.value:.6g} "
                    f"lies outside the one-sided differences {interval}", slack)
    return ("kink", f"within the step of a kink of {e.kink}: finite differences straddle it; the gradient lies "
            f"between the one-sided differences {interval} (subgradient check passed)", slack)


def _resolvable(c: _Centre, d: _Direction) -> float:
    """What finite differences can resolve along d at best: the round-off bound of central differences at
    their optimal step, as ``symgrad.testing`` takes it. The ``precision`` verdict never reaches beyond it,
    whatever step or scheme was asked for: a large step's truncation bound cannot excuse a wrong gradient."""
    central = SCHEMES["central"]
    scale = float(np.max(np.abs(c.x[d.v != 0]))) if np.any(d.v != 0) else 0.0
    return 2 * roundoff_bound(central, default_step(central, scale), c.error_f)


def _judge_exact(c: _Centre, d: _Direction, e: _Estimate, candidates: list[_Candidate]) -> tuple[str, str, float]:
    """Against the exact value: tolerance.gradient_verdict for each gradient, then the finite difference's own error."""
    largest = c.gscale if candidates[0].who != "numerical" else 0.0
    resolvable = min(e.bound, _resolvable(c, d))  # never wider than central differences at their best step
    worst, worst_verdict, worst_tolerance = None, "ok", 0.0  # the worst gradient beyond its dtype's rounding
    for g in candidates:
        tolerance = gradient_tolerance(g.eps, abs(e.exact), largest)
        if g.who == "numerical":
            continue
        verdict = gradient_verdict(abs(g.value - e.exact), tolerance, resolvable)
        if verdict != "ok" and (worst is None or verdict == "mismatch"):
            worst, worst_verdict, worst_tolerance = g, verdict, tolerance
    bound = max(e.bound, gradient_tolerance(candidates[0].eps, abs(e.exact), largest))  # abs_error is judged by it
    fd_error = abs(e.numerical - e.exact)
    if worst_verdict == "mismatch":
        return ("mismatch", _cause_of(worst.value, e.exact, worst.who)
                + f"; finite differences agree with the exact value within {fd_error:.2e}", bound)
    if fd_error > e.bound:
        truncation = abs(e.truncation) if e.truncation is not None else 0.0
        roundoff = abs(e.numerical - e.exact - e.truncation) if e.truncation is not None else fd_error
        verdict = "step" if truncation >= roundoff else "round-off"
        return (verdict, f"finite differences are off by {fd_error:.2e}, more than their bound {e.bound:.2e}: "
                f"truncation (the same difference in exact arithmetic) {truncation:.2e}, round-off "
                f"{roundoff:.2e}; " + ("use a smaller step" if verdict == "step" else "use a larger step"), bound)
    if worst is not None:
        return ("precision", f"the {worst.who} gradient differs from the exact value by "
                f"{abs(worst.value - e.exact):.2e}, more than {worst_tolerance:.2e} (its dtype's rounding) but "
                "within what finite differences resolve", bound)
    return "ok", f"finite differences within {fd_error:.2e} of the exact value (bound {e.bound:.2e})", bound
