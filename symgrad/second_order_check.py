"""The second-order check: exact vs compiled vs finite-difference Hessian-vector products.

For each of a few seeded random directions v, every component of H·v is compared three
ways (and a fourth, with ``against``, the user's H·v or Hessian function):

- exact: forward over reverse on the graph, certified (``second_order.hvp``);
- compiled: the float64 NumPy form (``second_order_code``);
- numerical: the central difference of the exact gradient along v,
  (∇E(x + ηv) − ∇E(x − ηv)) / 2η, whose error bound is its truncation η²/6 · |d³∇E/dt³|
  (the third derivative estimated from exact gradients at x ± 2ηv) plus the exact
  gradients' round-off divided by η.

The pass/fail rule is first order's (``tolerance.gradient_verdict``): ``ok`` within the
dtype's rounding, ``precision`` beyond it but within what the finite difference resolves,
``mismatch`` beyond both; ``kink`` where the point sits on a kink (the second derivative
does not exist) or one lies within the stencil. A mismatch is named where the user's H·v
matches a known bug: the wrong sign, or the σ″ term left out (H·v with every activation's
δ · d/dt[σ′] term dropped, which is the Gauss–Newton part of the Hessian).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Mapping

import mpmath
import numpy as np

from .arithmetic import mp_value_at
from .chain import derive
from .errors import DomainError, InvalidArgument
from .evaluation import evaluate_gradients
from .finite_differences import EPS
from .gradcheck_report import GRADCHECK_VERDICTS, GradcheckReport, GradcheckRow
from .graph import Network, as_number
from .kinks import kink_arguments
from .limits import MAX_GRADCHECK_DIRECTIONS
from .precision import GRADCHECK_DIGITS, GRADCHECK_WORKING_DIGITS
from .second_order import hvp, hvp_variant
from .second_order_code import compile_second_order
from .tolerance import gradient_tolerance, gradient_verdict, relative_error
from .user_gradient import call_gradient_function, describe_value, load_gradient_function

__all__ = ["check_second_order", "check_order", "SECOND_ORDER_BUGS"]

DIRECTIONS = 2  # random directions checked by default
STEP = 1e-5  # η relative to the size of x and v: the exact gradients make round-off negligible
#: Known second-order bugs, by name: which H·v each one computes instead (a test of the second factors kept).
SECOND_ORDER_BUGS: dict[str, str] = {
    "wrong sign": "the user's H·v is −(H·v) on every row: a sign flipped in the second-order pass",
    "missing σ″": ("the user's H·v equals H·v without the δ · σ″ terms of the activations (∂²out/∂net² left out: "
                   "the Gauss–Newton part only)"),
}


@dataclass(frozen=True)
class _Numbers:
    exact: dict[str, object]
    compiled: dict[str, float]
    numerical: dict[str, float]
    bound: dict[str, float]


def check_order(network: Network, *, order: object, against, at, scheme: str, step, sample, directions,
                seed: int) -> GradcheckReport:
    """``gradcheck``'s dispatch for ``order`` other than 1: the options order 2 takes, checked, then the check."""
    if order != 2 or isinstance(order, bool):
        raise InvalidArgument(f"order={describe_value(order)}: gradcheck checks order 1 (gradients) or 2 (H·v)")
    for key, value, default in (("scheme", scheme, "central"), ("step", step, None), ("sample", sample, None)):
        if value != default:
            raise InvalidArgument(f"{key}={describe_value(value)} is a first-order option; order 2 uses a central "
                                  "difference of the exact gradient with its own step: leave it out")
    return check_second_order(network, against=against, at=at, directions=directions, seed=seed)


def check_second_order(network: Network, *, against: Callable | str | None = None,
                       at: Mapping[str, object] | None = None, directions: int | None = None,
                       seed: int = 0) -> GradcheckReport:
    """gradcheck(..., order=2): H·v along ``directions`` seeded random directions, every component judged.

    ``against`` is a function ``hvp(values, v) -> {param: (H·v)[param]}`` or ``hessian(values)
    -> {param: {param: value}}`` / an n × n array in ``network.params`` order, or "FILE.py:FUNC".

    >>> import symgrad
    >>> report = symgrad.gradcheck(symgrad.load("mazur"), order=2)
    >>> report.ok, report.rows[0].verdict
    (True, 'ok')
    """
    count = DIRECTIONS if directions is None else directions
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_GRADCHECK_DIRECTIONS:
        raise InvalidArgument(f"directions={describe_value(directions)}: give a whole number from 1 to "
                              f"{MAX_GRADCHECK_DIRECTIONS} (random directions for H·v)")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgument(f"seed must be a non-negative integer, got {describe_value(seed)}")
    if network.structure is not None and not network.nodes:
        raise InvalidArgument("this [mlp] network exists in matrix form only (too many parameters for named nodes); "
                              "the second-order check needs the scalar form: use a smaller network")
    derivation = derive(network)
    params = network.params
    if not params:
        raise InvalidArgument("the network has no parameters: a second-order check needs some")
    point = network.point(at)
    user = _user_function(against, params) if against is not None else None
    compiled = compile_second_order(derivation)
    rng = np.random.default_rng(seed)
    rows, diagnoses, kinks, coarse = [], [], set(), EPS
    floats = {k: float(v) for k, v in point.items()}
    for k in range(count):
        v = {p: float(x) for p, x in zip(params, rng.standard_normal(len(params)))}
        numbers, found = _numbers(derivation, compiled, point, floats, v)
        kinks.update(found)
        received, eps = _user_hvp(user, floats, v, params) if user is not None else (None, EPS)
        coarse = max(coarse, eps)
        direction_rows = [_row(f"(H·v{k + 1})[{p}]", p, numbers, received, found, eps) for p in params]
        rows += direction_rows
        if received is not None and any(r.verdict == "mismatch" for r in direction_rows):
            diagnoses += _name_bug(derivation, point, v, numbers.exact, received)
    rank = {v: k for k, v in enumerate(GRADCHECK_VERDICTS)}
    rows.sort(key=lambda r: rank[r.verdict])
    notes = [f"second order: H·v along {count} random direction(s) v (seed {seed}); numerical = central difference "
             f"of the exact gradient along v, step η = {STEP:g}·(1 + |x|)/|v|; tolerance = truncation + round-off "
             "bound"] + [f"kink: {text}" for text in sorted(kinks)]
    if coarse != EPS:
        notes.append(f"warning: the user's H·v is coarser than float64; its tolerance follows its dtype (ε = {coarse:.3g})")
    title = f"gradcheck (order 2): {network.description or 'network'}"
    return GradcheckReport(title, "central", tuple(rows), tuple(notes), against is not None,
                           diagnoses=tuple(dict.fromkeys(diagnoses)))


def _numbers(derivation, compiled, point, floats, v) -> tuple[_Numbers, tuple[str, ...]]:
    params = derivation.network.params
    exact = hvp(derivation, v, at=point, digits=GRADCHECK_DIGITS)
    size = 1 + max(abs(x) for x in floats.values())
    norm = float(np.sqrt(sum(x * x for x in v.values()))) or 1.0
    eta = as_number(float(f"{STEP * size / norm:.3g}"))  # exact, and so is every stencil point x + kηv
    exact_v = {p: as_number(v[p]) for p in params}
    grads = {}
    for k in (-2, -1, 1, 2):
        moved = {**point, **{p: point[p] + k * eta * exact_v[p] for p in params}}
        grads[k] = evaluate_gradients(derivation, at=moved, digits=GRADCHECK_DIGITS)
    ends = [grads[-2].values, grads[2].values]
    grads = {k: g.gradients for k, g in grads.items()}
    hv = compiled.hvp({k: x for k, x in floats.items()}, v)
    numerical, bound = {}, {}
    with mpmath.workdps(GRADCHECK_WORKING_DIGITS):
        h = mpmath.mpf(eta.p) / eta.q
        for p in params:
            g = {k: grads[k][p] for k in grads}
            numerical[p] = float((g[1] - g[-1]) / (2 * h))
            third = abs(float((g[2] - 2 * g[1] + 2 * g[-1] - g[-2]) / (2 * h ** 3)))
            scale = max(abs(float(x)) for x in g.values())
            bound[p] = 2 * (float(h) ** 2 / 6 * third) + 10.0 ** (3 - GRADCHECK_DIGITS) * scale / float(h)
    kinks = tuple(exact.kinks) + _kinks_within(derivation.network, ends)
    return _Numbers(exact.product, {p: float(hv[p][0]) for p in params}, numerical, bound), kinks


def _kinks_within(network: Network, ends: list[dict]) -> tuple[str, ...]:
    """Kink arguments whose sign differs between the stencil's ends x − 2ηv and x + 2ηv."""
    found = []
    for node, head, arg in kink_arguments(network, network.ancestors(network.output)):
        signs = {int(mpmath.sign(mp_value_at(arg, env, GRADCHECK_WORKING_DIGITS))) for env in ends}
        if len(signs) > 1:
            found.append(f"{head} in node {node!r} changes sign within the stencil")
    return tuple(found)


def _row(label: str, p: str, n: _Numbers, received: dict | None, kinks: tuple[str, ...], eps: float) -> GradcheckRow:
    exact = float(n.exact[p])
    value = received[p] if received is not None else n.compiled[p]
    largest = max(abs(float(x)) for x in n.exact.values())
    tolerance = gradient_tolerance(eps, abs(exact), largest)
    bound = max(n.bound[p], tolerance)
    error = abs(value - exact)
    who = "the user's H·v" if received is not None else "the compiled H·v"
    if kinks:
        verdict, cause = "kink", f"a kink at or near the point: {kinks[0]}; the second derivative does not exist there"
    elif abs(n.numerical[p] - exact) > bound:
        verdict, cause = "step", (f"the finite difference {n.numerical[p]:.6g} is off from the exact {exact:.6g} "
                                  f"beyond its bound {bound:.3g}: the step η is too large for this curvature")
    else:
        verdict = gradient_verdict(error, tolerance, bound)
        cause = {"ok": f"{who} agrees with the exact value within its dtype's rounding ({tolerance:.3g})",
                 "precision": (f"{who} is off by {error:.3g}, beyond its dtype's rounding ({tolerance:.3g}) but within "
                               f"what the finite difference resolves ({bound:.3g})"),
                 "mismatch": (f"{who} = {value:.9g} but the exact value is {exact:.9g} (the finite difference gives "
                              f"{n.numerical[p]:.9g}): a wrong second derivative")}[verdict]
    return GradcheckRow(label, n.exact[p], n.compiled[p], n.numerical[p], received[p] if received is not None else None,
                        error, relative_error(value, exact), bound, verdict, cause)


# -- the user's function -----------------------------------------------------------------
def _user_function(against, params: tuple[str, ...]) -> Callable:
    function = load_gradient_function(against) if isinstance(against, str) else against
    if not callable(function):
        raise InvalidArgument(f"against must be a function hvp(values, v) or hessian(values), or 'FILE.py:FUNC', "
                              f"got {describe_value(against)}")
    return function


def _takes_direction(function: Callable) -> bool:
    """Whether the user's function is hvp(values, v) (two arguments) rather than hessian(values)."""
    try:
        positional = [p for p in inspect.signature(function).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    except (TypeError, ValueError):
        return True
    return len(positional) >= 2


def _user_hvp(function: Callable, point: dict[str, float], v: dict[str, float],
              params: tuple[str, ...]) -> tuple[dict, float]:
    """The user's H·v at ``point``, read with first order's care (``user_gradient.call_gradient_function``),
    and the rounding unit of the coarsest dtype it returned."""
    label = getattr(function, "__name__", "the H·v function")
    if _takes_direction(function):
        def product(values, function=function, v=dict(v)):
            return function(values, dict(v))
    else:
        def product(values, function=function):
            return _times(function(values), v, params)
    product.__name__ = label if isinstance(label, str) else "the H·v function"
    values, dtype = call_gradient_function(product, point, params)
    return values, float(np.finfo(dtype).eps)


def _times(hessian: object, v: dict[str, float], params: tuple[str, ...]) -> dict[str, float]:
    """A user's Hessian (n × n array-like, or {param: {param: value}}) times v."""
    if isinstance(hessian, Mapping):
        rows = [[hessian[p][q] for q in params] for p in params]
    else:
        rows = hessian
    matrix = np.asarray(rows, dtype=np.float64)
    if matrix.shape != (len(params), len(params)):
        raise ValueError(f"the Hessian has shape {matrix.shape}; return {len(params)} × {len(params)} in the order "
                         f"{', '.join(params)}")
    product = matrix @ np.array([v[p] for p in params])
    return {p: float(x) for p, x in zip(params, product)}


def _name_bug(derivation, point, v, exact: dict, received: dict) -> list[str]:
    params = derivation.network.params

    def matches(expected: dict) -> bool:
        largest = max(abs(float(x)) for x in expected.values()) or 1.0
        return all(abs(received[p] - float(expected[p])) <= 1e-6 * largest for p in params)

    found = []
    if matches({p: -exact[p] for p in params}):
        found.append(f"wrong sign: {SECOND_ORDER_BUGS['wrong sign']}")
    try:
        dropped = hvp_variant(derivation, v, at=point, digits=GRADCHECK_DIGITS, drop="activation curvature")
    except DomainError:
        dropped = None
    if dropped is not None and matches(dropped):
        found.append(f"missing σ″: {SECOND_ORDER_BUGS['missing σ″']}")
    return found
