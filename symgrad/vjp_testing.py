"""``assert_vjp_matches`` and ``property_test_vjp``: a custom backward rule judged against exact g·J.

``symgrad.vjp`` runs the user's rule (a ``torch.autograd.Function``, a JAX ``custom_vjp``, a
NumPy pair) beside the exact derivative of its symbolic forward; this module judges each entry
by gradcheck's rule (``symgrad.tolerance``), names the bug (``symgrad.diagnosis`` and
``symgrad.vjp_arrays``) and raises ``GradientMismatch`` with the table first. The property
runner draws the dtype, the inputs and the upstream gradient with Hypothesis
(``symgrad.strategies.vjp_points``) and steers toward the worst relative error.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

from .diagnosis import diagnose
from .errors import InvalidArgument, MissingDependency
from .graph import Network
from .mismatch import GradientMismatch, GradientRow, failure, judged_rows, run_campaign  # noqa: F401 (doctests)
from .tolerance import TAU_ULPS, gradient_tolerance, gradient_verdict, relative_error
from .vjp import UndefinedAt, VjpComparison, VjpEntry, compare_vjp, vjp_shapes

try:  # the property runner's optional extra (symgrad[test]); the assertion works without it
    from hypothesis import reject

    from .strategies import vjp_points
except ImportError as error:
    _hypothesis_missing: ImportError | None = error
else:
    _hypothesis_missing = None

__all__ = ["assert_vjp_matches", "property_test_vjp", "check_ulps"]


def check_ulps(ulps: object) -> None:
    """An InvalidArgument unless ``ulps`` is a finite tolerance ≥ 0."""
    if isinstance(ulps, bool) or not isinstance(ulps, (int, float)) or not 0 <= ulps < math.inf:
        raise InvalidArgument(f"ulps={ulps!r}: give a finite tolerance in units of the dtype's epsilon, "
                              f"such as {TAU_ULPS}")


_SIZE = {True: "|exact| + largest |exact| of its draw",
         False: "Σ|g||J| + largest Σ|g||J| of its draw, the size of the terms each entry sums"}


def _vjp_rows(entries: tuple[VjpEntry, ...], eps: float, ulps: float) -> tuple[GradientRow, ...]:
    """Each entry judged by the rule of gradcheck (symgrad.tolerance), most wrong first."""
    rows = []
    for e in entries:
        error = abs(e.received - float(e.exact)) if math.isfinite(e.received) else math.inf
        magnitude = abs(float(e.exact)) if e.magnitude is None else e.magnitude
        tolerance = gradient_tolerance(eps, magnitude, e.scale, ulps=ulps)
        rel = relative_error(e.received, float(e.exact)) if math.isfinite(e.received) else math.inf
        rows.append(GradientRow(e.name, e.exact, e.received, error, rel, tolerance, tolerance,
                                gradient_verdict(error, tolerance, tolerance)))
    order = {e.name: k for k, e in enumerate(entries)}
    return tuple(sorted(rows, key=lambda r: (-r.error, order[r.parameter])))


def _judge(comparison: VjpComparison, ulps: float) -> tuple[GradientRow, ...]:
    """The backward's rows; a GradientMismatch (forward first) when any entry is wrong."""
    __tracebackhide__ = True
    for part, entries in (("forward", comparison.forward), ("backward", comparison.backward)):
        rows = _vjp_rows(entries, comparison.eps, ulps)
        wrong = [r.parameter for r in rows if not r.ok]
        if not wrong:
            continue
        found = comparison.explain(wrong) if part == "backward" else ()
        explained = {p for d in found for p in d.params}
        expected = {e.name: float(e.exact) for e in entries}
        received = {e.name: e.received for e in entries}
        found += diagnose(None, expected, received, [p for p in wrong if p not in explained])
        what = ("outputs of the forward differ from the reference, so its backward is not checked" if part == "forward"
                else "entries of g·J are wrong")
        raise failure(rows, f"{len(wrong)} of {len(rows)} {what}: {comparison.label}", found,
                      f"(ok within {ulps:g}·ε·({_SIZE[entries[0].magnitude is None]}), ε = {comparison.eps:.3g}; "
                      f"g is the upstream gradient; ratio = received ÷ exact)")
    return _vjp_rows(comparison.backward, comparison.eps, ulps)


def assert_vjp_matches(function: object, reference: str | Network | Callable, *, backward: Callable | None = None,
                       inputs: Sequence[str] | None = None, shape: tuple[int, ...] = (3,),
                       shapes: Mapping[str, tuple[int, ...]] | Sequence[tuple[int, ...]] | None = None,
                       dtype: str = "float64", draws: int = 3, seed: int = 0, min_value: float = -2.0,
                       max_value: float = 2.0, at: Mapping[str, object] | None = None, upstream: object = None,
                       ulps: float = TAU_ULPS) -> None:
    """Raise ``GradientMismatch`` unless a custom backward rule returns the exact g·J of its forward.

    ``function`` is a ``torch.autograd.Function`` subclass, a JAX function (``jax.custom_vjp``
    included), or a NumPy forward with ``backward=backward(g, *xs)``. ``reference`` defines the
    forward: elementwise, a symgrad expression (``"sigmoid(x)"``, arguments in order of first
    appearance or as ``inputs``) or a ``Network``'s output over arrays of ``shape``; any array
    forward (dense layer, softmax, reduction), a function of arrays written with NumPy and
    ``symgrad.symbolic_arrays``, with one shape per input in ``shapes``. ``draws`` seeded draws
    of inputs in [min_value, max_value] and upstream gradients g in [−1, 1], in ``dtype``
    ("float32" or "float64"); ``at`` and ``upstream`` pin one draw instead. Each entry is judged
    by gradcheck's rule: ok within ``ulps``·ε·(|exact| + largest |exact| of its draw), ε of the
    dtype returned.

    >>> import numpy as np
    >>> sigmoid = lambda x: 1 / (1 + np.exp(-x))
    >>> assert_vjp_matches(sigmoid, "sigmoid(x)", backward=lambda g, x: g * sigmoid(x) * (1 - sigmoid(x)))
    >>> try:                                           # σ′ forgotten: the upstream gradient passed through
    ...     assert_vjp_matches(sigmoid, "sigmoid(x)", backward=lambda g, x: g)
    ... except GradientMismatch as caught:
    ...     print(caught.diagnoses[0].kind)
    missing activation derivative
    """
    __tracebackhide__ = True
    check_ulps(ulps)
    _judge(compare_vjp(function, reference, backward=backward, inputs=inputs, shape=shape, shapes=shapes,
                       dtype=dtype, draws=draws, seed=seed, min_value=min_value, max_value=max_value, at=at,
                       upstream=upstream), ulps)


def property_test_vjp(function: object, reference: str | Network | Callable, *, backward: Callable | None = None,
                      inputs: Sequence[str] | None = None, shape: tuple[int, ...] = (3,),
                      shapes: Mapping[str, tuple[int, ...]] | Sequence[tuple[int, ...]] | None = None,
                      dtypes: Sequence[str] = ("float64", "float32"), min_value: float = -2.0,
                      max_value: float = 2.0, ulps: float = TAU_ULPS, settings=None) -> None:
    """Run ``assert_vjp_matches`` as a Hypothesis property: dtype, inputs and upstream gradient drawn.

    Each example draws a dtype from ``dtypes`` (each judged with its own ε), inputs in
    [min_value, max_value] and g in [−1, 1] (``symgrad.strategies.vjp_points``); points outside
    the reference's domain are rejected. Campaigns call ``hypothesis.target`` on the worst
    relative error. ``settings`` is a ``hypothesis.settings`` (default: the loaded profile),
    run without the explain phase, as ``property_test_backprop``.

    >>> import numpy as np
    >>> from hypothesis import settings
    >>> property_test_vjp(np.tanh, "tanh(x)", backward=lambda g, x: g * (1 - np.tanh(x) ** 2),
    ...                   settings=settings(max_examples=5))
    """
    __tracebackhide__ = True
    if _hypothesis_missing is not None:
        raise MissingDependency("symgrad.testing.property_test_vjp", extra="test",
                                module="hypothesis") from _hypothesis_missing
    check_ulps(ulps)
    ref, names, in_shapes, out_shape = vjp_shapes(reference, inputs=inputs, shape=shape, shapes=shapes)
    points = vjp_points(dict(zip(names, in_shapes)), out_shape, dtypes=dtypes, min_value=min_value,
                        max_value=max_value)

    def rule_matches(point):
        __tracebackhide__ = True
        try:
            comparison = compare_vjp(function, ref, backward=backward, inputs=inputs, shape=shape, dtype=point.dtype,
                                     at=point.at, upstream=point.upstream)
        except UndefinedAt:
            reject()
        judged_rows(lambda: _judge(comparison, ulps))

    run_campaign(rule_matches, points, settings)
