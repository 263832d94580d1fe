"""Custom backward rules (vector-Jacobian products) against the exact derivatives of their forward.

A backward rule receives an upstream gradient g of the forward's output and returns g·J, one
array per input. As MyGrad's tests do, ``compare_vjp`` draws inputs and upstream gradients, runs
the user's forward and backward, and sets each entry of the result beside its exact value
g·∂f/∂x, computed in mpmath from the symbolic definition of the forward.

The reference is the forward's symbolic definition, in one of three forms:

- elementwise: a symgrad expression over named scalars (parsed by the allow-list,
  ``"sigmoid(x)"``) or a ``Network``'s output as a function of some of its leaves, applied
  entry by entry to arrays of one ``shape``;
- any array forward (a dense layer, a softmax, a reduction): a Python function of arrays
  written with NumPy arithmetic and ``symgrad.symbolic_arrays`` (``lambda x, W, b: x @ W.T + b``),
  with one shape per input in ``shapes``; ``symgrad.vjp_arrays`` evaluates its exact g·J.

Three kinds of backward rule are read:

- a ``torch.autograd.Function`` subclass (``Fn.apply(*xs)``, then ``y.backward(g)``);
- a JAX function, ``jax.custom_vjp`` included (``jax.vjp(fn, *xs)``, then the pullback of g);
- a NumPy pair: ``forward(*xs) -> y`` and ``backward(g, *xs) -> grads``.

torch and jax are optional extras, imported when such a function is checked.
``symgrad.testing.assert_vjp_matches`` judges the comparison and names the bug.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy

from .arithmetic import mp_value_at
from .diagnosis import Diagnosis, ratio_of
from .errors import InvalidArgument, MissingDependency, SymgradError
from .expr import parse_expression
from .graph import Network
from .user_gradient import describe_value
from .precision import VJP_DIGITS
from .vjp_arrays import ArrayReference, UndefinedAt, array_reference, draw_arrays, explain_arrays

__all__ = ["VjpEntry", "VjpComparison", "UndefinedAt", "compare_vjp", "vjp_shapes", "DTYPES", "MAX_VJP_ENTRIES"]

DTYPES = {"float32": np.float32, "float64": np.float64}
MAX_VJP_ENTRIES = 10_000  # entries × inputs × draws evaluated exactly in one call
_REDRAWS = 100  # tries to draw one entry inside the reference's domain


@dataclass(frozen=True)
class VjpEntry:
    """One entry of g·J (or of the forward's output): where it is, its exact value, what was received."""

    name: str  # "x[1] draw 2", "y[0] draw 1"
    exact: mpmath.mpf
    received: float
    scale: float  # the largest |exact| among the entries of its draw (the tolerance's second term)
    index: tuple[int, ...] = ()  # the entry's position in its array
    magnitude: float | None = None  # Σ|g||J| of the terms it sums (array references), else |exact| is used


@dataclass(frozen=True)
class VjpComparison:
    """The user's forward and backward beside the exact ones, over every draw."""

    label: str  # what was checked, such as "Sigmoid (torch.autograd.Function) against sigmoid(x)"
    forward: tuple[VjpEntry, ...]
    backward: tuple[VjpEntry, ...]
    eps: float  # the rounding unit of the dtype the rule returned (the coarser of inputs and outputs)
    explain: Callable[[Sequence[str]], tuple[Diagnosis, ...]]  # patterns of an elementwise rule, for wrong entries

    def expected(self) -> dict[str, float]:
        return {e.name: float(e.exact) for e in self.backward}

    def received(self) -> dict[str, float]:
        return {e.name: e.received for e in self.backward}


@dataclass(frozen=True)
class _Reference:
    text: str
    names: tuple[str, ...]
    expr: sympy.Expr
    slopes: tuple[sympy.Expr, ...]  # ∂expr/∂name, in the order of names
    fixed: dict[str, mpmath.mpf]  # the other leaves (a network's targets, constants)

    def value(self, expr: sympy.Expr, env: Mapping[str, object]) -> mpmath.mpf:
        result = mp_value_at(expr, self.fixed | dict(env), VJP_DIGITS)
        if not isinstance(result, mpmath.mpf) or not mpmath.isfinite(result):
            raise ArithmeticError("outside the domain")
        return result


def _reference(reference: object, inputs: Sequence[str] | None) -> _Reference:
    """The forward's symbolic definition, its derivatives and the argument names, checked."""
    if isinstance(reference, str):
        parsed = parse_expression(reference, real=True)
        expr, names, fixed, text = parsed.expr, parsed.names, {}, parsed.text
    elif isinstance(reference, Network):
        expr = reference.expanded(reference.output)
        names = tuple(n for n in reference.leaves if reference.leaves[n].kind in ("input", "param"))
        with mpmath.workdps(VJP_DIGITS):
            fixed = {n: mpmath.mpf(v.p) / v.q if isinstance(v, sympy.Rational) else mpmath.mpf(v)
                     for n, v in reference.values.items() if n in reference.leaves}
        text = f"{reference.output} of {reference.description or 'the network'}"
    else:
        raise InvalidArgument(f"reference={describe_value(reference)}: give the forward's definition as a symgrad "
                              f"expression string such as 'sigmoid(x)', or a symgrad.Network")
    if inputs is not None:
        if isinstance(inputs, str) or not all(isinstance(n, str) for n in inputs) or not inputs:
            raise InvalidArgument(f"inputs={inputs!r}: give the forward's argument names in order, such as "
                                  f"('x', 'y')")
        unknown = [n for n in inputs if n not in names and not (isinstance(reference, str) and n.isidentifier())]
        if unknown:
            raise InvalidArgument(f"inputs={tuple(inputs)!r}: {', '.join(map(repr, unknown))} is not a leaf of the "
                                  f"reference; its leaves are {', '.join(names)}")
        names = tuple(inputs)
    if not names:
        raise InvalidArgument(f"reference {text!r} has no inputs; give an expression of named inputs such as "
                              f"'sigmoid(x)'")
    for n in names:
        fixed.pop(n, None)
    symbols = {s.name: s for s in expr.free_symbols}
    unset = sorted(n for n in symbols if n not in names and n not in fixed)
    if unset:
        raise InvalidArgument(f"the reference's leaf {', '.join(map(repr, unset))} has no value; name it in inputs= "
                              f"or give the network a value for it")
    slopes = tuple(sympy.diff(expr, symbols[n]) if n in symbols else sympy.S.Zero for n in names)
    return _Reference(text, names, expr, slopes, fixed)


# -- the three kinds of backward rule --------------------------------------------------------------
def _import(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise MissingDependency("symgrad.testing.assert_vjp_matches", extra=module, module=module) from None


def _is_torch_function(function: object) -> bool:
    return isinstance(function, type) and any(
        c.__name__ == "Function" and c.__module__.startswith("torch.autograd") for c in function.__mro__)


def _kind(function: object, backward: object) -> str:
    if backward is not None:
        if not callable(function) or not callable(backward):
            bad = "function" if not callable(function) else "backward"
            raise InvalidArgument(f"{bad}={describe_value(function if bad == 'function' else backward)} is not "
                                  f"callable; give forward(*xs) -> y and backward(g, *xs) -> one gradient per input")
        return "numpy"
    if _is_torch_function(function):
        return "torch"
    if callable(function) and type(function).__module__.split(".")[0] in ("jax", "jaxlib"):
        return "jax"
    raise InvalidArgument(f"function={describe_value(function)}: give a torch.autograd.Function subclass, a "
                          f"jax.custom_vjp function, or a NumPy forward with backward=backward(g, *xs)")


def _run_torch(function, xs: list[np.ndarray], g: np.ndarray):
    torch = _import("torch")
    tensors = [torch.tensor(x, requires_grad=True) for x in xs]
    y = function.apply(*tensors)
    if not isinstance(y, torch.Tensor):
        raise InvalidArgument(f"{function.__name__}.apply returned {describe_value(y)}; return one tensor")
    forward = y.detach().numpy()
    if forward.shape != g.shape:
        raise InvalidArgument(f"{function.__name__}.apply returned shape {forward.shape}; the reference's output "
                              f"has shape {g.shape}")
    y.backward(torch.tensor(g))
    grads = [np.zeros_like(x) if t.grad is None else t.grad.numpy() for x, t in zip(xs, tensors)]
    return forward, grads


def _run_jax(function, xs: list[np.ndarray], g: np.ndarray):
    jax = _import("jax")
    with jax.enable_x64(any(x.dtype == np.float64 for x in xs)):
        y, pullback = jax.vjp(function, *[jax.numpy.asarray(x) for x in xs])
        if np.shape(y) != g.shape:
            raise InvalidArgument(f"{getattr(function, '__name__', 'the function')} returned shape {np.shape(y)}; "
                                  f"the reference's output has shape {g.shape}")
        grads = pullback(jax.numpy.asarray(g, dtype=y.dtype))
        return np.asarray(y), [np.asarray(d) for d in grads]


def _run_numpy(forward: Callable, backward: Callable, xs: list[np.ndarray], g: np.ndarray):
    y = forward(*[x.copy() for x in xs])
    grads = backward(g.copy(), *[x.copy() for x in xs])
    if len(xs) == 1 and not (isinstance(grads, (tuple, list)) and len(grads) == 1):
        grads = [grads]
    if not isinstance(grads, (tuple, list)) or len(grads) != len(xs):
        raise InvalidArgument(f"backward returned {describe_value(grads)}; return one gradient per input "
                              f"({len(xs)}), as a tuple")
    return y, list(grads)


def _describe(exc: BaseException) -> str:
    try:
        text = " ".join(str(exc).split())[:300]
    except BaseException:  # an exception of the user's whose __str__ raises
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call(kind: str, function, backward, xs: list[np.ndarray], g: np.ndarray, label: str, names: tuple[str, ...]):
    """Run the user's forward and backward; anything their code raises is reported as their error."""
    run = {"torch": lambda: _run_torch(function, xs, g), "jax": lambda: _run_jax(function, xs, g),
           "numpy": lambda: _run_numpy(function, backward, xs, g)}[kind]
    try:
        with contextlib.redirect_stdout(None):
            y, grads = run()
    except (KeyboardInterrupt, SymgradError):
        raise
    except BaseException as exc:  # the user's code: BaseException included (SystemExit, GeneratorExit)
        text = _describe(exc)
        swapped = re.search(r"got \[(\d+), (\d+)\] but expected shape compatible with \[(\d+), (\d+)\]", text)
        hint = (" (its transpose: a transposed gradient?)" if swapped and swapped.group(1, 2) == swapped.group(4, 3)
                else "")
        shapes = ", ".join(f"{n} {x.shape}" for n, x in zip(names, xs))
        raise InvalidArgument(f"{label} raised {text}{hint} on inputs of shapes {shapes}") from None
    arrays = [_real(y, f"the forward output of {label}", g.shape)]
    arrays += [_real(d, f"the gradient for input {k + 1} ({name}) of {label}", xs[k].shape)
               for k, (d, name) in enumerate(zip(grads, names))]
    return arrays[0], arrays[1:]


def _real(value: object, where: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(value)
    except BaseException as exc:  # ragged lists, objects that refuse conversion
        raise InvalidArgument(f"{where} is {describe_value(value)}, not an array ({_describe(exc)})") from None
    if array.dtype.kind not in "iuf":
        raise InvalidArgument(f"{where} has dtype {array.dtype}; return real numbers")
    if array.shape != shape:
        hint = " (its transpose: a transposed gradient?)" if len(shape) == 2 and array.shape == shape[::-1] else ""
        raise InvalidArgument(f"{where} has shape {array.shape}; expected {shape}{hint}")
    return array


# -- drawing and comparing ------------------------------------------------------------------------
def _check_options(shape, dtype, draws, min_value, max_value) -> tuple[tuple[int, ...], type]:
    if dtype not in DTYPES:
        raise InvalidArgument(f"dtype={dtype!r}: choose one of {', '.join(map(repr, DTYPES))}")
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                               for n in shape):
        raise InvalidArgument(f"shape={shape!r}: give a tuple of positive integers, such as (3,)")
    if not isinstance(draws, int) or isinstance(draws, bool) or draws < 1:
        raise InvalidArgument(f"draws={draws!r}: give a positive integer, such as 3")
    for label, value in (("min_value", min_value), ("max_value", max_value)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or abs(value) > 1e6:
            raise InvalidArgument(f"{label}={value!r}: give a finite number within ±1e6")
    if min_value >= max_value:
        raise InvalidArgument(f"min_value={min_value!r}, max_value={max_value!r}: min_value must be below max_value")
    return shape, DTYPES[dtype]


def _draw(ref: _Reference, rng: np.random.Generator, shape, dtype, low: float, high: float) -> list[np.ndarray]:
    """Inputs of ``shape`` in [low, high], each entry redrawn until the reference is defined there."""
    xs = [np.empty(shape, dtype) for _ in ref.names]
    for index in np.ndindex(*shape):
        for _ in range(_REDRAWS):
            values = [dtype(rng.uniform(low, high)) for _ in ref.names]
            env = {n: mpmath.mpf(float(v)) for n, v in zip(ref.names, values)}
            try:
                ref.value(ref.expr, env)
                [ref.value(s, env) for s in ref.slopes]
            except (ArithmeticError, ValueError, TypeError, ZeroDivisionError, SymgradError):
                continue
            break
        else:
            raise InvalidArgument(f"{ref.text!r} is undefined at {_REDRAWS} points drawn from [{low}, {high}]; give "
                                  f"min_value and max_value inside its domain")
        for x, v in zip(xs, values):
            x[index] = v
    return xs


def _given(at: Mapping[str, object], ref: _Reference, dtype) -> list[np.ndarray]:
    if not isinstance(at, Mapping) or set(at) != set(ref.names):
        raise InvalidArgument(f"at={describe_value(at)}: give a dict of one array per input, by name "
                              f"({', '.join(ref.names)})")
    xs = [np.asarray(at[n], dtype=dtype) for n in ref.names]
    if len({x.shape for x in xs}) != 1 or not all(np.all(np.isfinite(x)) for x in xs):
        raise InvalidArgument(f"at=: the inputs must be finite arrays of one shape, got shapes "
                              f"{', '.join(str(x.shape) for x in xs)}")
    return xs


def _entries(prefix: str, exact: np.ndarray, received: np.ndarray, draw: int, draws: int, scale: float,
             magnitude: np.ndarray | None = None):
    suffix = f" draw {draw}" if draws > 1 else ""
    return [VjpEntry(f"{prefix}{list(index) if index else ''}{suffix}", exact[index], float(received[index]), scale,
                     index, None if magnitude is None else float(magnitude[index]))
            for index in np.ndindex(*exact.shape)]


def _exact(ref: _Reference, xs: list[np.ndarray], g: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The exact forward f(x) and g·∂f/∂x of every input, entry by entry, as arrays of mpf."""
    forward = np.empty(g.shape, dtype=object)
    grads = [np.empty(g.shape, dtype=object) for _ in xs]
    for index in np.ndindex(*g.shape):
        env = {n: mpmath.mpf(float(x[index])) for n, x in zip(ref.names, xs)}
        try:
            forward[index] = ref.value(ref.expr, env)
            for grad, slope in zip(grads, ref.slopes):
                with mpmath.workdps(VJP_DIGITS):
                    grad[index] = mpmath.mpf(float(g[index])) * ref.value(slope, env)
        except (ArithmeticError, ValueError, TypeError, ZeroDivisionError, SymgradError):
            raise UndefinedAt(f"{ref.text!r} is undefined at {', '.join(f'{n} = {v}' for n, v in env.items())}; "
                              f"give inputs inside its domain") from None
    return forward, grads


def _outer_derivative(ref: _Reference, draws: list, wrong: set[str]) -> tuple[Diagnosis, ...]:
    """f(u) = F(inner): every wrong entry received ÷ exact = 1/F′(u) (F′ left out) or F′(u) (applied twice)."""
    if not (isinstance(ref.expr, sympy.Function) and len(ref.expr.args) == 1) or not wrong:
        return ()
    u = sympy.Dummy("u", real=True)
    outer = ref.expr.func(u)
    slope = sympy.diff(outer, u)
    missing, twice = [], []
    for xs, g, entries in draws:
        for entry in entries:
            if entry.name not in wrong or entry.exact == 0:
                continue
            env = {n: mpmath.mpf(float(x[entry.index])) for n, x in zip(ref.names, xs)}
            f_prime = float(mp_value_at(slope, {u.name: ref.value(ref.expr.args[0], env)}, VJP_DIGITS))
            ratio = ratio_of(entry.received, float(entry.exact))
            (missing if _close(ratio, 1 / f_prime) else twice if _close(ratio, f_prime) else []).append(entry.name)
            if entry.name not in missing + twice:
                return ()
    name = ref.expr.func.__name__
    if missing and not twice:
        return (Diagnosis("missing activation derivative", tuple(missing),
                          f"missing activation derivative: every wrong entry is 1/{name}′(u) times the exact one, so "
                          f"the backward leaves out the factor {name}′ of {ref.text} (it returns g·∂u/∂x, not "
                          f"g·{name}′(u)·∂u/∂x)"),)
    if twice and not missing:
        return (Diagnosis("activation derivative twice", tuple(twice),
                          f"activation derivative applied twice: every wrong entry is {name}′(u) times the exact one"),)
    return ()


def _close(a: float, b: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-6 * max(abs(a), abs(b))


def _label(kind: str, function, backward, ref: _Reference) -> str:
    name = getattr(function, "__name__", type(function).__name__)
    what = {"torch": f"{name} (torch.autograd.Function)", "jax": f"{name} (JAX)",
            "numpy": f"{getattr(backward, '__name__', 'backward')} (NumPy backward of {name})"}[kind]
    return f"{what} against {ref.text}"


def compare_vjp(function: object, reference: str | Network | Callable, *, backward: Callable | None = None,
                inputs: Sequence[str] | None = None, shape: tuple[int, ...] = (3,),
                shapes: Mapping[str, tuple[int, ...]] | Sequence[tuple[int, ...]] | None = None,
                dtype: str = "float64", draws: int = 3, seed: int = 0, min_value: float = -2.0,
                max_value: float = 2.0, at: Mapping[str, object] | None = None,
                upstream: object = None) -> VjpComparison:
    """Run the user's rule on ``draws`` seeded draws of inputs and upstream gradients; every entry beside its exact value.

    ``at`` and ``upstream`` pin one draw (arrays from your own strategies) instead. A callable
    ``reference`` (an array forward, ``symgrad.symbolic_arrays``) takes one shape per input in
    ``shapes``; a string or Network reference is elementwise over arrays of ``shape``.

    >>> import numpy as np
    >>> c = compare_vjp(np.tanh, "tanh(x)", backward=lambda g, x: g * (1 - np.tanh(x) ** 2), draws=1, shape=(1,))
    >>> c.backward[0].name, abs(float(c.backward[0].exact) - c.backward[0].received) < 1e-15
    ('x[0]', True)
    """
    kind = _kind(function, backward)
    if isinstance(reference, ArrayReference) or (callable(reference) and not isinstance(reference, Network)):
        given_shapes = shapes if shapes is not None or not isinstance(at, Mapping) else {
            n: np.shape(v) for n, v in at.items()}
        ref = reference if isinstance(reference, ArrayReference) else array_reference(
            reference, inputs=inputs, shapes=given_shapes)
        _check_options((1,), dtype, draws, min_value, max_value)
        return _compare_arrays(kind, function, backward, ref, DTYPES[dtype], draws, seed, min_value, max_value, at,
                               upstream)
    ref = _reference(reference, inputs)
    shape, numpy_dtype = _check_options(shape, dtype, draws, min_value, max_value)
    if at is not None or upstream is not None:
        xs = _given(at, ref, numpy_dtype)
        g = np.asarray(upstream, dtype=numpy_dtype)
        if g.shape != xs[0].shape or not np.all(np.isfinite(g)):
            raise InvalidArgument(f"upstream: give finite numbers of the inputs' shape {xs[0].shape}, got shape "
                                  f"{g.shape}")
        plan, shape, draws = [(xs, g)], xs[0].shape, 1
    else:
        plan = []
    count = int(np.prod(shape)) * (len(ref.names) + 1) * draws
    if count > MAX_VJP_ENTRIES:
        raise InvalidArgument(f"{count:,} entries to evaluate exactly (shape {shape}, {len(ref.names)} inputs, "
                              f"{draws} draws): the limit is {MAX_VJP_ENTRIES:,}; check a smaller shape")
    rng = np.random.default_rng(seed)
    for _ in range(draws - len(plan)):
        xs = _draw(ref, rng, shape, numpy_dtype, min_value, max_value)
        plan.append((xs, _upstream(rng, shape, numpy_dtype)))
    label = _label(kind, function, backward, ref)
    forward_entries, backward_entries, used, returned = [], [], [], []
    for k, (xs, g) in enumerate(plan, start=1):
        exact_y, exact_grads = _exact(ref, xs, g)  # first: a point outside the domain never reaches the user's code
        y, grads = _call(kind, function, backward, xs, g, label, ref.names)
        returned += [y, *grads]
        forward_entries += _entries("y", exact_y, y, k, draws, max(abs(float(v)) for v in exact_y.flat))
        scale = max(abs(float(v)) for grad in exact_grads for v in grad.flat)
        entries = [e for n, grad, d in zip(ref.names, exact_grads, grads) for e in _entries(n, grad, d, k, draws, scale)]
        backward_entries += entries
        used.append((xs, g, entries))
    return VjpComparison(label, tuple(forward_entries), tuple(backward_entries), _eps(returned + plan[0][0]),
                         lambda wrong: _outer_derivative(ref, used, set(wrong)))


def _upstream(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An upstream gradient g of ``shape``, entries uniform in [−1, 1] rounded to ``dtype``."""
    return np.array([dtype(v) for v in rng.uniform(-1, 1, int(np.prod(shape)))], dtype=dtype).reshape(shape)


def _eps(arrays: list[np.ndarray]) -> float:
    """The rounding unit of the coarsest float dtype among the arrays (float64 when none is a float)."""
    return float(max(np.finfo(a.dtype).eps if a.dtype.kind == "f" else np.finfo(np.float64).eps for a in arrays))


def _given_arrays(ref: ArrayReference, at: object, upstream: object, dtype) -> tuple[list[np.ndarray], np.ndarray]:
    if not isinstance(at, Mapping) or set(at) != set(ref.names):
        raise InvalidArgument(f"at={describe_value(at)}: give a dict of one array per input, by name "
                              f"({', '.join(ref.names)})")
    xs = [np.asarray(at[n], dtype=dtype) for n in ref.names]
    g = np.asarray(upstream, dtype=dtype)
    bad = [n for n, x, s in zip(ref.names, xs, ref.shapes) if x.shape != s or not np.all(np.isfinite(x))]
    if bad or g.shape != ref.output_shape or not np.all(np.isfinite(g)):
        raise InvalidArgument(f"at=/upstream=: give finite arrays of the shapes {dict(zip(ref.names, ref.shapes))} "
                              f"and an upstream gradient of the output's shape {ref.output_shape}")
    return xs, g


def _compare_arrays(kind: str, function, backward, ref: ArrayReference, dtype, draws: int, seed: int,
                    low: float, high: float, at, upstream) -> VjpComparison:
    """compare_vjp for an array forward: g·J = Σ_k g_k ∂y_k/∂x from ``symgrad.vjp_arrays``."""
    if at is not None or upstream is not None:
        plan, draws = [_given_arrays(ref, at, upstream, dtype)], 1
    else:
        plan = []
    if len(ref.slopes) * draws > MAX_VJP_ENTRIES:
        raise InvalidArgument(f"{len(ref.slopes) * draws:,} derivative entries to evaluate exactly ({draws} draws): "
                              f"the limit is {MAX_VJP_ENTRIES:,}; check smaller shapes or fewer draws")
    rng = np.random.default_rng(seed)
    for _ in range(draws - len(plan)):
        xs = draw_arrays(ref, rng, dtype, low, high, _REDRAWS)
        plan.append((xs, _upstream(rng, ref.output_shape, dtype)))
    what = {"torch": "torch.autograd.Function", "jax": "JAX"}.get(kind)
    name = getattr(function, "__name__", type(function).__name__)
    label = (f"{name} ({what})" if what else f"{getattr(backward, '__name__', 'backward')} (NumPy backward of "
             f"{name})") + f" against {ref.text}"
    forward_entries, backward_entries, used, returned = [], [], [], []
    for k, (xs, g) in enumerate(plan, start=1):
        try:  # first: a point outside the domain never reaches the user's code
            exact_y, exact_grads, diagonal, absolute = ref.exact(xs, g)
        except (ArithmeticError, ValueError, TypeError, ZeroDivisionError, SymgradError):
            raise UndefinedAt(f"{ref.text} is undefined at the inputs given; give inputs inside its domain") from None
        y, grads = _call(kind, function, backward, xs, g, label, ref.names)
        returned += [y, *grads]
        forward_entries += _entries("y", exact_y, y, k, draws, max((abs(float(v)) for v in exact_y.flat), default=0))
        scale = max(float(v) for a in absolute for v in a.flat)  # a sum's rounding scales with its terms
        per_input = [_entries(n, e, d, k, draws, scale, a) for n, e, d, a in zip(ref.names, exact_grads, grads,
                                                                                   absolute)]
        backward_entries += [e for entries in per_input for e in entries]
        names = [np.array([e.name for e in entries], dtype=object).reshape(s) for entries, s in zip(per_input,
                                                                                                 ref.shapes)]
        used.append((grads, exact_grads, diagonal, names, exact_y, g))
    return VjpComparison(label, tuple(forward_entries), tuple(backward_entries), _eps(returned + plan[0][0]),
                         lambda wrong: explain_arrays(ref, used, set(wrong)))


def vjp_shapes(reference: str | Network | Callable, *, inputs: Sequence[str] | None, shape: tuple[int, ...],
               shapes: object) -> tuple[object, tuple[str, ...], tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """(the reference, built once for an array forward; input names; their shapes; the output's shape).

    >>> vjp_shapes("x*y", inputs=None, shape=(2,), shapes=None)[1:]
    (('x', 'y'), ((2,), (2,)), (2,))
    """
    if isinstance(reference, ArrayReference) or (callable(reference) and not isinstance(reference, Network)):
        ref = reference if isinstance(reference, ArrayReference) else array_reference(reference, inputs=inputs,
                                                                                      shapes=shapes)
        return ref, ref.names, ref.shapes, ref.output_shape
    names = _reference(reference, inputs).names
    shape, _ = _check_options(shape, "float64", 1, -1.0, 1.0)
    return reference, names, (shape,) * len(names), shape
