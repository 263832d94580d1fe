"""Hypothesis strategies for property tests of backprop: networks, circuits, points, batches.

Every network is built by the same builders as spec files (``mlp`` for dense networks, the
``[nodes]`` spec reader for circuits), so a failing example prints as a call you can paste:
``mlp([1, 2, 1], activation='sigmoid', ...)`` or ``loads('...')``. Every drawn point is kept
away from kinks (relu, abs, max, min) and singularities (÷ 0, log 0) by a ``margin`` you set.

Hypothesis is an optional dependency (``pip install "symgrad[test]"``); importing this module
without it raises ``MissingDependency`` with that command.

>>> from hypothesis import Phase, find, settings
>>> quick = settings(max_examples=10, phases=[Phase.generate, Phase.shrink])
>>> net = find(networks(), lambda net: True, settings=quick)   # the simplest network there is
>>> net.structure.widths, net.structure.activation, net.structure.bias
((1, 1), 'sigmoid', 'none')
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import sympy

from .errors import InvalidArgument, MissingDependency, SymgradError

try:
    from hypothesis import reject
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependency("symgrad.strategies", extra="test", module="hypothesis") from error

from .evaluation import evaluate
from .functions import relu
from .graph import Network
from .layers import ACTIVATIONS, LOSSES, mlp
from .limits import (MAX_GENERATED_BATCH, MAX_GENERATED_DEPTH, MAX_GENERATED_MAGNITUDE, MAX_GENERATED_NODES,
                     MAX_GENERATED_WIDTH)
from .samples import Batch, VjpPoint
from .spec import loads

_FLOAT_TYPES = {"float64": np.float64, "float32": np.float32}

__all__ = ["networks", "expressions", "points", "batches", "dtypes", "vjp_points", "EXPRESSION_FUNCTIONS"]

_NOT_DIFFERENTIABLE_LOSSES = ("zero_one",)
_DEFAULT_LOSSES = tuple(name for name in LOSSES if name not in _NOT_DIFFERENTIABLE_LOSSES)
_MLP_ACTIVATIONS = tuple(ACTIVATIONS) + ("maxout",)
_MAX_SEED = 2**16

# One table: the functions a random circuit may use -> the spec-expression text of one node.
# log and sqrt are applied to 1 + u², which is never below 1, so their domain holds by
# construction; ÷ is written raw and points with a denominator within the margin of 0 are
# rejected. The first entry is what circuits shrink toward.
EXPRESSION_FUNCTIONS: dict[str, str] = {
    "+": "{a} + {b}",
    "-": "{a} - {b}",
    "*": "{a}*{b}",
    "/": "{a}/{b}",
    "exp": "exp({a})",
    "log": "log(1 + ({a})**2)",
    "tanh": "tanh({a})",
    "sigmoid": "sigmoid({a})",
    "sin": "sin({a})",
    "cos": "cos({a})",
    "sqrt": "sqrt(1 + ({a})**2)",
    "square": "({a})**2",
    # Kinked: only when asked for, and then points stay `margin` away from each kink.
    "relu": "relu({a})",
    "abs": "abs({a})",
    "max": "max({a}, {b})",
    "min": "min({a}, {b})",
}
_KINKED = ("relu", "abs", "max", "min")
_SMOOTH_FUNCTIONS = tuple(name for name in EXPRESSION_FUNCTIONS if name not in _KINKED)


# -- option checks: the bad value, the rule, the fix -------------------------------------
def _check_int_range(where: str, name: str, low: object, high: object, *, lowest: int, highest: int) -> None:
    for label, value in ((f"min_{name}", low), (f"max_{name}", high)):
        if not isinstance(value, int) or isinstance(value, bool) or not lowest <= value <= highest:
            raise InvalidArgument(f"{where}({label}={value!r}): give an integer from {lowest} to {highest}")
    if low > high:
        raise InvalidArgument(f"{where}(min_{name}={low!r}, max_{name}={high!r}): min_{name} is above max_{name}; "
                              f"swap them or make them equal")


def _check_choices(where: str, name: str, chosen: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    if isinstance(chosen, str) or not chosen:
        raise InvalidArgument(f"{where}({name}={chosen!r}): give a non-empty tuple of names from {', '.join(allowed)}")
    for item in chosen:
        if item not in allowed:
            raise InvalidArgument(f"{where}({name}=...): {item!r} is not one of {', '.join(allowed)}")
    return tuple(chosen)


def _check_values(where: str, min_value: object, max_value: object, places: object, margin: object) -> None:
    for label, value in (("min_value", min_value), ("max_value", max_value), ("margin", margin)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidArgument(f"{where}({label}={value!r}): give a finite number")
    if min_value > max_value:
        raise InvalidArgument(f"{where}(min_value={min_value!r}, max_value={max_value!r}): min_value is above "
                              f"max_value; swap them")
    for label, value in (("min_value", min_value), ("max_value", max_value)):
        if abs(value) > MAX_GENERATED_MAGNITUDE:
            raise InvalidArgument(f"{where}({label}={value!r}): generated values stay within "
                                  f"±{MAX_GENERATED_MAGNITUDE:,} (so that float64 never overflows); give a bound "
                                  f"inside it")
    if margin < 0:
        raise InvalidArgument(f"{where}(margin={margin!r}): a distance cannot be negative; give 0 or more")
    if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 6:
        raise InvalidArgument(f"{where}(places={places!r}): give an integer from 0 to 6 (decimal places)")
    if math.floor(max_value * 10**places) < math.ceil(min_value * 10**places):
        raise InvalidArgument(f"{where}(min_value={min_value!r}, max_value={max_value!r}, places={places!r}): "
                              f"no {places}-place decimal lies in the range; widen it or allow more places")


def _decimals(min_value: float, max_value: float, places: int) -> st.SearchStrategy[float]:
    """Floats with at most ``places`` decimals in the range; shrinks toward 0 (or the end nearest it).

    Their shortest repr is the decimal itself, so symgrad reads them back exactly (0.07 is 7/100).
    """
    scale = 10**places
    return st.integers(math.ceil(min_value * scale), math.floor(max_value * scale)).map(lambda k: k / scale)


# -- distance to kinks and singularities -------------------------------------------------
def _distance(head: sympy.Expr, args: list[float]) -> float:
    """How far one function application is from a kink or singularity (negative: outside the domain)."""
    if head.func in (sympy.Max, sympy.Min):
        ordered = sorted(args, reverse=head.func is sympy.Max)
        return abs(ordered[0] - ordered[1]) if len(ordered) > 1 else math.inf
    if head.func is sympy.log:
        return args[0]
    if head.is_Pow:
        base, exponent = args
        if head.exp.is_Integer and head.exp >= 0:
            return math.inf
        if head.exp.is_Integer:  # 1/u, 1/u²: a pole at 0
            return abs(base)
        return base  # u^(1/2) and other fractional powers: the derivative blows up at 0
    return abs(args[0])  # Abs, relu, Heaviside, sign: a kink at 0


def _watched(expr: sympy.Expr) -> bool:
    if expr.is_Pow:
        return not (expr.exp.is_Integer and expr.exp >= 0)
    return isinstance(expr, (sympy.Abs, sympy.Max, sympy.Min, sympy.log, sympy.Heaviside, sympy.sign, relu))


def _clearance(network: Network, point: dict | None = None) -> float:
    """The smallest distance from any kink or singularity of ``network`` at ``point``.

    ``-inf`` when a value is not finite or above the generated-magnitude limit; ``inf`` for a
    network with neither.
    """
    try:
        values = evaluate(network, at=point, digits=None).values
    except (SymgradError, ArithmeticError, ValueError, OverflowError):
        return -math.inf
    if not all(isinstance(v, float) and math.isfinite(v) and abs(v) <= MAX_GENERATED_MAGNITUDE
               for v in values.values()):
        return -math.inf
    numbers = {network.symbol(name): sympy.Float(v, 17) for name, v in values.items()}
    nearest = math.inf
    for node in network.nodes.values():
        for sub in sympy.preorder_traversal(node.expr):
            if _watched(sub):
                try:
                    args = [float(a.xreplace(numbers)) for a in sub.args]
                except (TypeError, ValueError):  # not a real number there
                    return -math.inf
                nearest = min(nearest, _distance(sub, args))
    return nearest


# -- the strategies ---------------------------------------------------------------------
def networks(*, min_depth: int = 1, max_depth: int = 2, min_width: int = 1, max_width: int = 3,
             activations: Sequence[str] = tuple(ACTIVATIONS), losses: Sequence[str] = _DEFAULT_LOSSES,
             biases: Sequence[str] = ("none", "neuron", "layer"), output_activations: Sequence[str] | None = None,
             margin: float = 1e-3) -> st.SearchStrategy[Network]:
    """Dense networks built by ``mlp``, with seeded two-decimal values at least ``margin`` from any kink.

    Depth counts weight layers (1: inputs straight to outputs). ``output_activations`` draws the
    output layer's activation from its names (``("identity",)`` pins a linear output, as a
    regression MLP has); ``None`` keeps ``mlp``'s default (the hidden activation; identity
    under softmax cross-entropy and maxout). Shrinks toward the shallowest,
    narrowest network (``min_depth``, every width ``min_width``), the first activation, loss and
    bias option listed, and seed 0.

    >>> from hypothesis import Phase, find, settings
    >>> quick = settings(max_examples=20, phases=[Phase.generate, Phase.shrink])
    >>> net = find(networks(activations=("tanh",)), lambda net: len(net.structure.widths) == 3, settings=quick)
    >>> net.structure.widths, net.structure.activation
    ((1, 1, 1), 'tanh')
    """
    _check_int_range("networks", "depth", min_depth, max_depth, lowest=1, highest=MAX_GENERATED_DEPTH)
    _check_int_range("networks", "width", min_width, max_width, lowest=1, highest=MAX_GENERATED_WIDTH)
    activations = _check_choices("networks", "activations", activations, _MLP_ACTIVATIONS)
    for loss in losses if not isinstance(losses, str) else ():
        if loss in _NOT_DIFFERENTIABLE_LOSSES:
            raise InvalidArgument(f"networks(losses=...): {loss!r} has no gradient; choose from "
                                  f"{', '.join(_DEFAULT_LOSSES)}")
    losses = _check_choices("networks", "losses", losses, _DEFAULT_LOSSES)
    biases = _check_choices("networks", "biases", biases, ("none", "neuron", "layer"))
    _check_values("networks", 0, 0, 0, margin)
    widths = st.lists(st.integers(min_width, max_width), min_size=min_depth + 1, max_size=max_depth + 1)
    options = dict(activation=st.sampled_from(activations), loss=st.sampled_from(losses),
                   bias=st.sampled_from(biases), seed=st.integers(0, _MAX_SEED))
    if output_activations is not None:  # drawn only when asked, so a failing example prints as before
        options["output_activation"] = st.sampled_from(
            _check_choices("networks", "output_activations", output_activations, tuple(ACTIVATIONS)))
    built = st.builds(_quiet_mlp, widths, **options)
    return built.filter(lambda net: _clearance(net) >= margin)


def _quiet_mlp(widths, **options) -> Network:
    """``mlp`` without its DeprecationWarning that ``mse`` now means over the outputs: a drawn network is asked for."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return mlp(widths, **options)


_quiet_mlp.__name__ = _quiet_mlp.__qualname__ = "mlp"  # a failing example prints as mlp(...), to paste

def dtypes(*, names: Sequence[str] = ("float64", "float32")) -> st.SearchStrategy[str]:
    """A floating-point dtype name, for ``assert_vjp_matches(dtype=…)``; shrinks toward the first listed.

    >>> from hypothesis import Phase, find, settings
    >>> find(dtypes(), lambda d: d == "float32", settings=settings(max_examples=10, phases=[Phase.generate]))
    'float32'
    """
    return st.sampled_from(_check_choices("dtypes", "names", names, ("float64", "float32")))


def _circuit_spec(n_params: int, n_inputs: int, values: list[str], definitions: list[str]) -> str:
    params = [f"w{k}" for k in range(1, n_params + 1)]
    inputs = [f"x{k}" for k in range(1, n_inputs + 1)]
    lines = ['description = "a random circuit"', "", "[symbols]",
             f"params = {params!r}".replace("'", '"'), f"inputs = {inputs!r}".replace("'", '"'), "", "[values]"]
    lines += [f"{name} = {value}" for name, value in zip(params + inputs, values)]
    lines += ["", "[nodes]"] + [f'n{k} = "{text}"' for k, text in enumerate(definitions, start=1)]
    return "\n".join(lines) + "\n"


@st.composite
def _circuit_texts(draw, functions, min_nodes, max_nodes, min_leaves, max_leaves, min_value, max_value, places):
    n_params = draw(st.integers(min_leaves, max_leaves))
    n_inputs = draw(st.integers(min_leaves, max_leaves))
    scale = 10**places
    ks = draw(st.lists(st.integers(math.ceil(min_value * scale), math.floor(max_value * scale)),
                       min_size=n_params + n_inputs, max_size=n_params + n_inputs))
    values = [f"{k / scale:.{places}f}" for k in ks]
    names = [f"w{k}" for k in range(1, n_params + 1)] + [f"x{k}" for k in range(1, n_inputs + 1)]
    definitions = []
    for k in range(1, draw(st.integers(min_nodes, max_nodes)) + 1):
        function = draw(st.sampled_from(functions))
        # Each node uses the one before it, so the output depends on every node; the second
        # operand (and the first node's) is any earlier quantity, which makes shared paths.
        # u − u and u/u would fold to a constant (0/0 at u = 0): their operands differ.
        a = names[-1] if k > 1 else draw(st.sampled_from(names[::-1]))
        others = [n for n in names[::-1] if n != a] if function in ("-", "/") else names[::-1]
        b = draw(st.sampled_from(others)) if k > 1 or function in ("-", "/") else a
        template = EXPRESSION_FUNCTIONS[function]
        definitions.append(template.format(a=a, b=b))
        names.append(f"n{k}")
    return _circuit_spec(n_params, n_inputs, values, definitions)


def expressions(*, functions: Sequence[str] = _SMOOTH_FUNCTIONS, min_nodes: int = 1, max_nodes: int = 6,
                min_leaves: int = 1, max_leaves: int = 2, min_value: float = -1.0, max_value: float = 1.0,
                places: int = 2, margin: float = 1e-3) -> st.SearchStrategy[Network]:
    """Random differentiable circuits: spec files with params ``w1…``, inputs ``x1…``, nodes ``n1…``.

    Each node applies one entry of ``EXPRESSION_FUNCTIONS`` to the node before it and, for binary
    operations, any earlier quantity; the output is the last node, which depends on every node. Values are ``places``-decimal numbers; every value stays finite and below
    ``MAX_GENERATED_MAGNITUDE``, and every point is at least ``margin`` from a kink or a pole.
    Shrinks toward one node, one param and one input, the first function listed (``+``), and
    values near 0.

    >>> from hypothesis import Phase, find, settings
    >>> quick = settings(max_examples=10, phases=[Phase.generate, Phase.shrink])
    >>> net = find(expressions(functions=("sigmoid",)), lambda net: True, settings=quick)
    >>> net.nodes["n1"].text, net.output
    ('sigmoid(x1)', 'n1')
    """
    functions = _check_choices("expressions", "functions", functions, tuple(EXPRESSION_FUNCTIONS))
    _check_int_range("expressions", "nodes", min_nodes, max_nodes, lowest=1, highest=MAX_GENERATED_NODES)
    _check_int_range("expressions", "leaves", min_leaves, max_leaves, lowest=1, highest=MAX_GENERATED_WIDTH)
    _check_values("expressions", min_value, max_value, places, margin)
    texts = _circuit_texts(functions, min_nodes, max_nodes, min_leaves, max_leaves, min_value, max_value, places)
    return st.builds(loads, texts).filter(lambda net: _clearance(net) >= margin)


def points(network: Network, *, min_value: float = -1.0, max_value: float = 1.0, places: int = 2,
           margin: float = 1e-3) -> st.SearchStrategy[dict[str, float]]:
    """Values for every param and input of ``network``, as overrides for ``point=``/``at=``.

    Each value is a float with at most ``places`` decimals in [min_value, max_value] (read back
    exactly: 0.07 is 7/100); targets and constants keep the network's own values. Points within
    ``margin`` of a kink or singularity are rejected. Shrinks toward every value 0.

    >>> import symgrad
    >>> from hypothesis import Phase, find, settings
    >>> quick = settings(max_examples=10, phases=[Phase.generate, Phase.shrink])
    >>> find(points(symgrad.mlp([1, 1], bias="none")), lambda p: True, settings=quick)
    {'i1': 0.0, 'w1': 0.0}
    """
    if not isinstance(network, Network):
        raise InvalidArgument(f"points(network={network!r}): give a symgrad.Network")
    _check_values("points", min_value, max_value, places, margin)
    names = network.inputs + network.params
    value = _decimals(min_value, max_value, places)
    drawn = st.fixed_dictionaries({name: value for name in names})
    return drawn.filter(lambda point: _clearance(network, point) >= margin)


@st.composite
def _batch(draw, network, sizes, value, targets_of, margin, dtypes=("float64",)):
    size = draw(sizes)
    rows = []
    for _ in range(size):
        x = [draw(value) for _ in network.inputs]
        t = draw(targets_of)
        at = dict(zip(network.inputs, x)) | dict(zip(network.targets, t))
        if _clearance(network, at) < margin:
            reject()
        rows.append((x, t))
    dtype = _FLOAT_TYPES[draw(st.sampled_from(dtypes), label="dtype")]
    inputs = np.array([x for x, _ in rows], dtype=dtype).reshape(size, len(network.inputs))
    targets = np.array([t for _, t in rows], dtype=dtype).reshape(size, len(network.targets))
    return Batch(inputs, targets)


def batches(network: Network, *, min_size: int = 1, max_size: int = 4, min_value: float = -1.0,
            max_value: float = 1.0, places: int = 2, margin: float = 1e-3,
            dtypes: Sequence[str] = ("float64",)) -> st.SearchStrategy[Batch]:
    """A data batch for ``network``: inputs in [min_value, max_value] and targets its loss accepts.

    Its arrays are of a dtype drawn from ``dtypes`` ("float64", "float32"; the values rounded
    to it).

    Targets are one-hot rows for softmax cross-entropy, ±1 labels for the hinge loss, and
    ``places``-decimal numbers in [0, 1] otherwise. Every sample is at least ``margin`` from a
    kink or singularity at the network's parameter values. Shrinks toward ``min_size`` samples,
    inputs 0, the first class and label −1.

    >>> import symgrad
    >>> from hypothesis import Phase, find, settings
    >>> quick = settings(max_examples=10, phases=[Phase.generate, Phase.shrink])
    >>> batch = find(batches(symgrad.mlp([2, 1]), min_size=3), lambda b: True, settings=quick)
    >>> batch.inputs.shape, batch.targets.shape
    ((3, 2), (3, 1))
    """
    if not isinstance(network, Network):
        raise InvalidArgument(f"batches(network={network!r}): give a symgrad.Network")
    _check_int_range("batches", "size", min_size, max_size, lowest=1, highest=MAX_GENERATED_BATCH)
    _check_values("batches", min_value, max_value, places, margin)
    loss = getattr(network.structure, "loss", None)
    n_targets = len(network.targets)
    if loss == "softmax_cross_entropy":
        targets_of = st.integers(0, n_targets - 1).map(lambda hot: [float(k == hot) for k in range(n_targets)])
    elif loss in ("hinge", "zero_one"):
        targets_of = st.lists(st.sampled_from([-1.0, 1.0]), min_size=n_targets, max_size=n_targets)
    else:
        targets_of = st.lists(_decimals(0.0, 1.0, places), min_size=n_targets, max_size=n_targets)
    chosen = _check_choices("batches", "dtypes", dtypes, tuple(_FLOAT_TYPES))
    return _batch(network, st.integers(min_size, max_size), _decimals(min_value, max_value, places),
                  targets_of, margin, chosen)


def _floats(dtype: str, low: float, high: float) -> st.SearchStrategy[float]:
    if dtype == "float32":  # bounds rounded inward to float32, as Hypothesis asks
        low32, high32 = np.float32(low), np.float32(high)
        low = float(low32 if float(low32) >= low else np.nextafter(low32, np.float32(np.inf)))
        high = float(high32 if float(high32) <= high else np.nextafter(high32, np.float32(-np.inf)))
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=64 if dtype == "float64" else 32)


@st.composite
def _vjp_point(draw, shapes, output_shape, names, min_value, max_value):
    dtype = draw(st.sampled_from(names), label="dtype")
    numpy_dtype = _FLOAT_TYPES[dtype]

    def array(shape, low, high, label):
        size = math.prod(shape)
        values = draw(st.lists(_floats(dtype, low, high), min_size=size, max_size=size), label=label)
        return np.array(values, dtype=numpy_dtype).reshape(shape)

    at = {name: array(shape, min_value, max_value, name) for name, shape in shapes.items()}
    return VjpPoint(dtype, at, array(output_shape, -1.0, 1.0, "upstream"))


def vjp_points(shapes: dict[str, tuple[int, ...]], output_shape: tuple[int, ...], *,
               dtypes: Sequence[str] = ("float64", "float32"), min_value: float = -2.0,
               max_value: float = 2.0) -> st.SearchStrategy[VjpPoint]:
    """A draw for a backward rule: a dtype from ``dtypes``, inputs of ``shapes`` and an upstream gradient.

    Inputs lie in [min_value, max_value] and the upstream gradient g in [−1, 1], each exactly
    representable in the drawn dtype; they shrink toward 0 and the first dtype listed. Pass a
    point to ``assert_vjp_matches(dtype=p.dtype, at=p.at, upstream=p.upstream)``.

    >>> from hypothesis import Phase, find, settings
    >>> p = find(vjp_points({"x": (2,)}, (2,)), lambda p: p.dtype == "float32",
    ...          settings=settings(max_examples=20, phases=[Phase.generate, Phase.shrink]))
    >>> p.at["x"].dtype, p.upstream.shape
    (dtype('float32'), (2,))
    """
    chosen = _check_choices("vjp_points", "dtypes", dtypes, tuple(_FLOAT_TYPES))
    if not isinstance(shapes, dict) or not shapes or not all(
            isinstance(s, tuple) and all(isinstance(n, int) and n >= 1 for n in s) for s in shapes.values()):
        raise InvalidArgument(f"vjp_points(shapes={shapes!r}): give a dict of input shapes by name, such as "
                              f"{{'x': (2, 3)}}")
    if not isinstance(output_shape, tuple) or not all(isinstance(n, int) and n >= 1 for n in output_shape):
        raise InvalidArgument(f"vjp_points(output_shape={output_shape!r}): give a tuple of positive integers")
    _check_values("vjp_points", min_value, max_value, 2, 0.0)
    return _vjp_point(shapes, output_shape, chosen, float(min_value), float(max_value))
