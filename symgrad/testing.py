"""Test your own backprop against symgrad's exact gradients: one assertion and a property runner.

``assert_gradients_match(grad_fn, network)`` evaluates the exact gradient of ``network`` (at its
own values, or at ``point``) and compares what ``grad_fn`` returns. Two conventions:

- **leaves**: ``grad_fn(values) -> grads``, ``values`` a dict of every leaf (inputs, targets,
  params) by name as floats, ``grads`` a dict by parameter name (as ``symgrad gradcheck
  --against``);
- **layers**: ``grad_fn(Ws, bs, X, T) -> (dWs, dbs)`` for networks built by ``mlp``, with the
  arrays of the matrix form: ``Ws[l]`` of shape (n_l, n_{l-1}), ``bs[l]`` of shape (n_l,)
  (a 0-d array for one bias per layer, ``None`` without biases), ``X`` (batch, n_inputs) and
  ``T`` (batch, n_targets), one sample per row. The loss is the mean (``reduction="mean"``) or
  the sum of the per-sample loss over the batch.

A wrong gradient raises ``GradientMismatch`` (an ``AssertionError``) whose message is a table,
most wrong parameter first. ``property_test_backprop`` runs that assertion as a Hypothesis property
over generated networks and raises the shrunk failure.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy

from .chain import derive
from .diagnosis import diagnose
from .errors import InvalidArgument, MissingDependency
from .evaluation import GradientValues, evaluate_gradients
from .finite_differences import SCHEMES, default_step, roundoff_bound
from .graph import Network
from .layers import MLPStructure, default_output_activation
from .limits import MAX_CHECKED_BATCH, MAX_DIGITS
from .matrix import matrix_params
from .precision import PROPERTY_TEST_EXTRA
from .samples import Batch
from .mismatch import GradientMismatch, GradientRow, failure, judged_rows, run_campaign
from .tolerance import TAU_ULPS, gradient_tolerance, gradient_verdict, loss_error, relative_error
from .user_gradient import describe_value
from .vjp_testing import assert_vjp_matches, check_ulps, property_test_vjp

try:  # the property runner's optional extra (symgrad[test]); the assertion works without it
    from hypothesis import strategies as st

    from .strategies import batches
    from .strategies import networks as default_networks
except ImportError as error:  # without hypothesis, symgrad.strategies raises MissingDependency (an ImportError)
    _hypothesis_missing: ImportError | None = error
else:
    _hypothesis_missing = None

__all__ = ["Batch", "GradientRow", "GradientMismatch", "assert_gradients_match", "assert_vjp_matches",
           "property_test_backprop", "property_test_vjp"]

CONVENTIONS = ("auto", "leaves", "layers")
_REDUCTIONS = ("mean", "sum")


# -- the comparison: the gradient checker's rule (symgrad.tolerance) ---------------------
@dataclass(frozen=True)
class _Exact:
    """The exact batch gradient, with the magnitudes its float64 computation rounds against."""

    gradients: dict[str, mpmath.mpf]
    magnitudes: dict[str, float]  # Σ over samples of |per-sample gradient| (÷ batch for the mean)
    loss: float  # |loss| summed the same way
    point: dict[str, float]  # the parameter values
    sample: GradientValues | None = None  # every exact number of the one sample (None for a larger batch)


def _compare(exact: _Exact, received: Mapping[str, float], *, ulps: float, eps: float) -> tuple[GradientRow, ...]:
    """Rows for every parameter, most wrong first, with ``symgrad.gradcheck``'s verdicts.

    The rule is ``symgrad.tolerance``'s, as gradcheck applies it: ``ok`` within
    ulps·ε·(magnitude + the largest magnitude), ε of the dtype received (for one sample the
    magnitude is |exact|); ``precision`` beyond that, but within the round-off bound of a
    float64 central difference of the loss, so no finite-difference check could call it
    wrong; ``mismatch`` beyond both: a wrong derivative. ``rel_error`` is the symmetric
    ``relative_error``.
    """
    largest = max(exact.magnitudes.values(), default=0.0)
    error_f = loss_error(exact.loss + sum(abs(exact.point[p]) * m for p, m in exact.magnitudes.items()))
    central = SCHEMES["central"]
    rows = []
    for name, value_exact in exact.gradients.items():
        value, a = received[name], float(value_exact)
        error = abs(value - a) if math.isfinite(value) else math.inf
        tolerance = gradient_tolerance(eps, exact.magnitudes[name], largest, ulps=ulps)
        bound = roundoff_bound(central, default_step(central, exact.point[name]), error_f)
        verdict = gradient_verdict(error, tolerance, bound)
        rel = relative_error(value, a) if math.isfinite(value) else math.inf
        rows.append(GradientRow(name, value_exact, value, error, rel, tolerance, bound, verdict))
    order = {name: k for k, name in enumerate(exact.gradients)}
    return tuple(sorted(rows, key=lambda r: (-r.error, order[r.parameter])))


# -- describing what was compared ------------------------------------------------------
def _describe(network: Network) -> str:
    """The builder call that makes ``network`` again, or its description."""
    s = network.structure
    if isinstance(s, MLPStructure):
        options = [f"activation={s.activation!r}"]
        default_output = default_output_activation(s.activation, s.loss)
        if s.output_activation != default_output:
            options.append(f"output_activation={s.output_activation!r}")
        options += [f"loss={s.loss!r}", f"bias={s.bias!r}", f"seed={s.seed}"]
        return f"mlp({list(s.widths)}, {', '.join(options)})"
    return repr(network.description or "a network")


# -- checking options and results -------------------------------------------------------
def _convention(grad_fn: Callable, convention: str) -> str:
    if convention not in CONVENTIONS:
        raise InvalidArgument(f"convention={convention!r}: choose one of {', '.join(map(repr, CONVENTIONS))}")
    if convention != "auto":
        return convention
    try:
        parameters = inspect.signature(grad_fn).parameters.values()
    except (TypeError, ValueError):
        parameters = None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if parameters is not None and not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        required = [p for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty]
        if len(required) == 1:
            return "leaves"
        if len(required) == 4:
            return "layers"
    raise InvalidArgument(f"cannot tell the convention of {getattr(grad_fn, '__name__', grad_fn)!r} from its "
                          f"signature; pass convention='leaves' for grad_fn(values) or convention='layers' for "
                          f"grad_fn(Ws, bs, X, T)")


def _check_options(reduction: str, ulps: float, digits: int) -> None:
    if reduction not in _REDUCTIONS:
        raise InvalidArgument(f"reduction={reduction!r}: choose 'mean' or 'sum'")
    check_ulps(ulps)
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= MAX_DIGITS:
        raise InvalidArgument(f"digits={digits!r}: give an integer from 1 to {MAX_DIGITS}")


def _number(value: object, where: str) -> float:
    __tracebackhide__ = True
    if isinstance(value, bool) or np.asarray(value).dtype.kind not in "iuf" or np.ndim(value):
        raise GradientMismatch(f"{where} is {value!r}; expected a real number")
    return float(value)


def _epsilon(values: list) -> float:
    """The machine epsilon of the coarsest float dtype among ``values`` (float64 when none is a float)."""
    kinds = [np.asarray(v).dtype for v in values]
    return max([np.finfo(d).eps for d in kinds if d.kind == "f"], default=np.finfo(np.float64).eps)


def _layout(network: Network) -> dict[str, np.ndarray]:
    """The scalar parameter name at each entry of W1, b1, … (the matrix form's arrays)."""
    index = {p: k for k, p in enumerate(network.params)}
    return {key: np.vectorize(lambda k: network.params[int(k)], otypes=[object])(array)
            for key, array in matrix_params(network, index).items()}


def _layers_network(network: Network) -> MLPStructure:
    s = network.structure
    if not isinstance(s, MLPStructure) or s.activation == "maxout" or not network.params:
        raise InvalidArgument("convention='layers' needs a dense network built by mlp() or an [mlp] spec, with "
                              "scalar parameters and no maxout; use convention='leaves' for other networks")
    return s


# -- the assertion ----------------------------------------------------------------------
def assert_gradients_match(grad_fn: Callable, network: Network, point: Mapping[str, object] | None = None, *,
                           batch: Batch | None = None, convention: str = "auto", reduction: str = "mean",
                           ulps: float = TAU_ULPS, digits: int = 20) -> None:
    """Raise ``GradientMismatch`` unless ``grad_fn`` returns the exact gradient of ``network``.

    ``point`` overrides leaf values (``None``: the network's own). ``batch`` (layers convention
    only) replaces the point's inputs and targets by its rows. The reference is exact (mpmath,
    ``digits`` certified). Each value is judged as ``symgrad.gradcheck`` judges a gradient: ok
    within ``ulps``·ε·(|exact| + largest |exact gradient|), ε of the dtype ``grad_fn`` returned;
    a mismatch when also beyond the round-off bound of a central difference.

    >>> import symgrad
    >>> net = symgrad.mlp([1, 1], activation="identity", bias="none")   # E = ½(t − w1·i1)²
    >>> assert_gradients_match(lambda v: {"w1": (v["w1"] * v["i1"] - v["t1"]) * v["i1"]}, net)
    >>> try:                                                               # the factor i1 forgotten
    ...     assert_gradients_match(lambda v: {"w1": v["w1"] * v["i1"] - v["t1"]}, net)
    ... except GradientMismatch as failure:
    ...     print(failure.rows[0].parameter, symgrad.to_decimal(failure.rows[0].expected, 5), failure.rows[0].received)
    w1 -0.52955 -0.623
    """
    __tracebackhide__ = True  # pytest shows the failure, not symgrad's frames
    _checked_rows(grad_fn, network, point, batch=batch, convention=convention, reduction=reduction, ulps=ulps,
                  digits=digits)


def _checked_rows(grad_fn: Callable, network: Network, point: Mapping[str, object] | None, *, batch: Batch | None,
                  convention: str, reduction: str, ulps: float, digits: int) -> tuple[GradientRow, ...]:
    """assert_gradients_match's work: the rows, worst first; raises GradientMismatch on a mismatch."""
    __tracebackhide__ = True
    convention = _convention(grad_fn, convention)
    _check_options(reduction, ulps, digits)
    if not isinstance(network, Network):
        raise InvalidArgument(f"network={describe_value(network)}: give a symgrad.Network")
    if point is not None and not isinstance(point, Mapping):
        raise InvalidArgument(f"point={describe_value(point)}: give a dict of leaf values by name, such as "
                              f"{{{(network.params or network.leaves and list(network.leaves) or ['w1'])[0]!r}: 0.5}}")
    base = network.point(point)
    derivation = derive(network)
    if convention == "leaves":
        if batch is not None:
            raise InvalidArgument("batch= needs convention='layers'; with convention='leaves' give one sample "
                                  "as point=")
        expected = _batch_gradients(derivation, network, base, None, "sum", digits)
        returned = grad_fn({name: float(value) for name, value in base.items()})
        received, eps = _received_leaves(returned, network)
        context, where = "", {p: p for p in network.params}
        exact_by_name, received_by_name = expected, received
    else:
        structure = _layers_network(network)
        batch = batch if batch is not None else Batch(
            np.array([[float(base[x]) for x in network.inputs]]), np.array([[float(base[t]) for t in network.targets]]))
        _check_batch(batch, network)
        if _batch_dtype(batch) == np.float32:  # float32 code: the parameters as float32 holds them, exactly
            base = base | {p: sympy.Rational(float(np.float32(float(base[p])))) for p in network.params}
        expected = _batch_gradients(derivation, network, base, batch, reduction, digits)
        params = matrix_params(network, base)
        received, eps = _received_layers(grad_fn, network, structure, params, batch)
        context = f" (batch of {len(batch.inputs)}, {reduction} over the batch)"
        layout = _layout(network)
        where = {name: f"{name} = {key}{list(index)}" if np.ndim(layout[key]) else name
                 for key in layout for index, name in np.ndenumerate(layout[key])}
        exact_by_name, received_by_name = expected, received
        expected = _Exact(*({where[p]: v for p, v in d.items()} for d in (expected.gradients, expected.magnitudes)),
                          expected.loss, {where[p]: v for p, v in expected.point.items()})
        received = {where[p]: v for p, v in received.items()}
    rows = _compare(expected, received, ulps=ulps, eps=eps)
    if any(not r.ok for r in rows):
        wrong = [p for p in network.params if not next(r for r in rows if r.parameter == where[p]).ok]
        found = diagnose(network, {p: float(v) for p, v in exact_by_name.gradients.items()}, received_by_name,
                         wrong, values=exact_by_name.sample, batch_size=None if batch is None else len(batch.inputs))
        raise _mismatch(network, rows, found, context, ulps, eps)
    return rows


def _mismatch(network: Network, rows: tuple[GradientRow, ...], found, context: str, ulps: float,
              eps: float) -> GradientMismatch:
    """The failure: the table (most wrong first), the headline, the bugs named, and the rule applied."""
    wrong = sum(not r.ok for r in rows)
    return failure(rows, f"{wrong} of {len(rows)} gradients of {_describe(network)} are wrong{context}", found,
                   f"(ok within {ulps:g}·ε·(|exact| + largest |exact gradient|), ε = {eps:.3g}; a mismatch is beyond "
                   f"that and beyond what finite differences resolve; ratio = received ÷ exact)")


def _received_leaves(returned: object, network: Network) -> tuple[dict[str, float], float]:
    """The gradients grad_fn returned by name, and their dtype's ε; a GradientMismatch when they cannot be read."""
    __tracebackhide__ = True
    try:
        return _read_leaves(returned, network)
    except (KeyboardInterrupt, GradientMismatch):
        raise
    except BaseException as exc:  # a Mapping whose methods raise, SystemExit included: the user's error
        raise GradientMismatch(f"grad_fn returned a {type(returned).__name__} that cannot be read "
                               f"({type(exc).__name__}); return a plain dict") from None


def _read_leaves(returned: object, network: Network) -> tuple[dict[str, float], float]:
    __tracebackhide__ = True
    if not isinstance(returned, Mapping):
        raise GradientMismatch(f"grad_fn returned {type(returned).__name__}; expected a dict of gradients by "
                               f"parameter name ({', '.join(network.params)})")
    extra = [k for k in returned if k not in network.params]
    missing = [p for p in network.params if p not in returned]
    if extra or missing:
        raise GradientMismatch("grad_fn returned the wrong names: "
                               + "; ".join(filter(None, [missing and f"missing {', '.join(map(repr, missing))}",
                                                         extra and f"not parameters {', '.join(map(repr, extra))}"])))
    raw = {p: returned[p] for p in network.params}
    return {p: _number(raw[p], f"the gradient for {p!r}") for p in network.params}, _epsilon(list(raw.values()))


def _array(value: object, where: str) -> np.ndarray:
    """What grad_fn returned for one layer as an array; a GradientMismatch naming it when it is not one."""
    __tracebackhide__ = True
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects that refuse conversion
        raise GradientMismatch(f"grad_fn returned {where} = {describe_value(value)}, which is not an array "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); return "
                               f"one NumPy array per layer, of the matrix form's shape") from None
    if array.dtype.kind not in "iuf":
        raise GradientMismatch(f"grad_fn returned {where} of dtype {array.dtype} ({describe_value(value)}); return "
                               f"real numbers")
    return array


def _check_batch(batch: object, network: Network) -> None:
    if not isinstance(batch, Batch):
        raise InvalidArgument(f"batch={describe_value(batch)}: give a symgrad.Batch(inputs, targets)")
    for label, array in (("inputs", batch.inputs), ("targets", batch.targets)):
        try:
            kind = np.asarray(array).dtype.kind
        except (ValueError, TypeError):  # ragged rows
            kind = "O"
        if kind not in "iuf":
            what = "ragged or non-numeric" if kind == "O" else {"U": "string", "S": "bytes", "c": "complex",
                                                                 "b": "boolean"}.get(kind, kind)
            raise InvalidArgument(f"batch.{label} holds {what} values ({describe_value(array)}); give real "
                                  f"numbers (float64 or float32), one sample per row")
        if not np.all(np.isfinite(array)):
            raise InvalidArgument(f"batch.{label} holds NaN or infinity; give finite numbers")
    n = len(batch.inputs) if np.ndim(batch.inputs) == 2 else -1
    if n > MAX_CHECKED_BATCH:
        raise InvalidArgument(f"batch of {n:,} samples: the exact gradient is evaluated sample by sample, so at most "
                              f"{MAX_CHECKED_BATCH:,} are checked in one call; check a slice, such as "
                              f"Batch(X[:100], T[:100])")
    if (np.shape(batch.inputs) != (n, len(network.inputs)) or np.shape(batch.targets) != (n, len(network.targets))
            or n < 1):
        raise InvalidArgument(f"batch shapes {np.shape(batch.inputs)} and {np.shape(batch.targets)} do not fit "
                              f"{len(network.inputs)} inputs and {len(network.targets)} targets; give arrays of "
                              f"shape (batch, {len(network.inputs)}) and (batch, {len(network.targets)})")


def _batch_dtype(batch: Batch) -> type:
    """float32 when the batch's inputs and targets are both float32, else float64."""
    both = (np.asarray(batch.inputs).dtype, np.asarray(batch.targets).dtype)
    return np.float32 if both == (np.float32, np.float32) else np.float64


def _batch_gradients(derivation, network: Network, base: dict, batch: Batch | None, reduction: str,
                     digits: int) -> _Exact:
    """The exact gradient of the loss over ``batch`` (the point itself when None), summed or averaged."""
    samples = [{}] if batch is None else [
        {name: mpmath.mpf(float(v)) for name, v in zip(network.inputs + network.targets, [*x, *t])}
        for x, t in zip(batch.inputs, batch.targets)]
    totals = {p: mpmath.mpf(0) for p in network.params}
    magnitudes = dict.fromkeys(network.params, 0.0)
    loss = 0.0
    for sample in samples:
        result = evaluate_gradients(derivation, at=base | sample, digits=digits)
        loss += abs(float(result.values[result.output]))
        with mpmath.workdps(digits + PROPERTY_TEST_EXTRA):
            for p in totals:
                totals[p] += result.gradients[p]
                magnitudes[p] += abs(float(result.gradients[p]))
    n = len(samples) if reduction == "mean" else 1
    with mpmath.workdps(digits + PROPERTY_TEST_EXTRA):
        totals = {p: v / n for p, v in totals.items()}
    return _Exact(totals, {p: m / n for p, m in magnitudes.items()}, loss / n,
                  {p: float(base[p]) for p in network.params}, result if len(samples) == 1 else None)


def _received_layers(grad_fn: Callable, network: Network, structure: MLPStructure, params: dict,
                     batch: Batch) -> tuple[dict[str, float], float]:
    __tracebackhide__ = True
    depth = len(structure.widths) - 1
    dtype = _batch_dtype(batch)  # float32 batches (strategies.batches(dtypes=…)) get float32 arrays throughout
    Ws = [params[f"W{k}"].astype(dtype) for k in range(1, depth + 1)]
    bs = [np.array(params[f"b{k}"], dtype=dtype) if f"b{k}" in params else None for k in range(1, depth + 1)]
    returned = grad_fn(Ws, bs, np.array(batch.inputs, dtype=dtype), np.array(batch.targets, dtype=dtype))
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        raise GradientMismatch(f"grad_fn returned {type(returned).__name__}; expected a pair (dWs, dbs)")
    dWs, dbs = returned
    for label, arrays in (("dWs", dWs), ("dbs", dbs)):
        if structure.bias == "none" and label == "dbs":
            continue
        if not isinstance(arrays, (tuple, list)) or len(arrays) != depth:
            raise GradientMismatch(f"grad_fn returned {label} of type {type(arrays).__name__}"
                                   f"{f' and length {len(arrays)}' if isinstance(arrays, (tuple, list)) else ''}; "
                                   f"expected a list of {depth} arrays, one per layer")
    layout = _layout(network)
    received: dict[str, float] = {}
    arrays_received = []
    for key, names in layout.items():
        k = int(key[1:]) - 1
        got = _array(dWs[k] if key.startswith("W") else dbs[k], f"{'dWs' if key.startswith('W') else 'dbs'}[{k}]")
        if got.shape != names.shape:
            hint = (" (its transpose: a transposed weight gradient, h δᵀ instead of δ hᵀ?)"
                    if key.startswith("W") and got.shape == names.shape[::-1] else "")
            raise GradientMismatch(f"grad_fn returned {'dWs' if key.startswith('W') else 'dbs'}[{k}] of shape "
                                   f"{got.shape}; the matrix form's {key} has shape {names.shape}{hint}")
        arrays_received.append(got)
        for index, name in np.ndenumerate(names):
            received[name] = _number(got[index], f"{key}{list(index)}")
    return received, _epsilon(arrays_received)


# -- the property runner ----------------------------------------------------------------
def property_test_backprop(grad_fn: Callable, *, networks=None, convention: str = "auto", min_batch_size: int = 1,
                           max_batch_size: int = 4, reduction: str = "mean", ulps: float = TAU_ULPS,
                           dtypes: Sequence[str] = ("float64",), settings=None) -> None:
    """Run ``assert_gradients_match`` as a Hypothesis property over generated networks.

    ``networks`` is a strategy (default ``symgrad.strategies.networks()``); with the layers
    convention each example also draws a batch of ``min_batch_size`` to ``max_batch_size``
    samples, in a dtype drawn from ``dtypes`` ("float64", "float32": the arrays ``grad_fn`` gets,
    judged with that dtype's ε, the parameters rounded to it). ``settings`` is a
    ``hypothesis.settings`` (default: the loaded profile). A wrong backprop raises the
    ``GradientMismatch`` of the smallest failing example Hypothesis finds; every example calls
    ``hypothesis.target`` on the worst relative error.

    >>> import numpy as np
    >>> from hypothesis import settings
    >>> from symgrad.strategies import networks
    >>> def backprop(Ws, bs, X, T):            # one linear layer, no bias, E = mean of ½|W x − t|²
    ...     R = X @ Ws[0].T - T
    ...     return [R.T @ X / len(X)], [None]
    >>> property_test_backprop(backprop, networks=networks(max_depth=1, activations=("identity",),
    ...                 losses=("half_sse",), biases=("none",)), settings=settings(max_examples=3))
    """
    __tracebackhide__ = True
    if _hypothesis_missing is not None:
        raise MissingDependency("symgrad.testing.property_test_backprop", extra="test",
                                module="hypothesis") from _hypothesis_missing
    convention = _convention(grad_fn, convention)
    _check_options(reduction, ulps, 20)
    if networks is None:
        networks = default_networks()
    if not isinstance(networks, st.SearchStrategy):
        raise InvalidArgument(f"networks={networks!r}: give a Hypothesis strategy such as "
                              f"symgrad.strategies.networks()")

    def gradients_match(data):
        __tracebackhide__ = True
        network = data.draw(networks, label="network")
        batch = None
        if convention == "layers":
            batch = data.draw(batches(network, min_size=min_batch_size, max_size=max_batch_size, dtypes=dtypes),
                              label="batch")
        judged_rows(lambda: _checked_rows(grad_fn, network, None, batch=batch, convention=convention,
                                          reduction=reduction, ulps=ulps, digits=20))

    run_campaign(gradients_match, st.data(), settings)


def __getattr__(name: str):
    if name == "check_gradients":  # the old name, kept for one release
        warnings.warn("symgrad.testing.check_gradients is renamed symgrad.testing.property_test_backprop; "
                      "the old name goes in the next release", DeprecationWarning, stacklevel=2)
        return property_test_backprop
    raise AttributeError(f"module 'symgrad.testing' has no attribute {name!r}")
