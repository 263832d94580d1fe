"""The exact g·J of an array forward (a dense layer, a softmax, a reduction), and the bugs its pattern names.

``symgrad.vjp`` calls this when the reference is a Python function of arrays written with
``symgrad.symbolic_arrays`` (``lambda x, W, b: x @ W.T + b``). The function is run once on arrays
of SymPy symbols, one per input shape; every output entry is then an exact expression, and
each input entry's g·J is Σ_k g_k ∂y_k/∂x, the derivatives taken by SymPy and evaluated in
mpmath at the drawn point. The user's own code never sees the symbols, only numbers.

Patterns that name a wrong backward of an array forward, tried before the ratio patterns of
``symgrad.diagnosis``:

- a square weight's gradient equal to the exact one transposed: **transposed gradient**;
- an input's gradient equal to g ⊙ diag(J) (output and input of one shape): **missing cross
  terms**, as a softmax backward that returns y ⊙ g without the −y Σ g·y term;
- a constant ratio n (or 1/n) with n ≥ 3 the size of an axis of the input: **a mean's 1/n**
  dropped (or applied twice).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy

from .arithmetic import mp_value_at
from .diagnosis import Diagnosis, ratio_of
from .errors import InvalidArgument
from .precision import VJP_DIGITS
from .symbolic_arrays import symbols
from .user_gradient import describe_value

__all__ = ["ArrayReference", "UndefinedAt", "array_reference", "draw_arrays", "explain_arrays", "MAX_ARRAY_TERMS"]

MAX_ARRAY_TERMS = 5_000  # (output entry, input entry) pairs whose derivative is taken symbolically
MAX_ARRAY_INPUTS = 1_000  # input entries the reference is run on as symbols (checked before it runs)


class UndefinedAt(InvalidArgument):
    """The reference (or one of its derivatives) is undefined at the inputs given: outside its domain."""


@dataclass(frozen=True)
class ArrayReference:
    """The forward as exact expressions: inputs' symbols, the output's entries and their derivatives."""

    text: str  # "linear(x, W, b)"
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    output: np.ndarray  # object array of SymPy expressions
    slopes: tuple[tuple[tuple[int, ...], int, tuple[int, ...], sympy.Expr], ...]  # (out index, input, in index, ∂)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.output.shape

    def exact(self, xs: Sequence[np.ndarray], g: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list, list]:
        """y, g·J per input, g ⊙ diag(J) per input (None where the shapes differ), and |g|·|J| per input
        (the size of the terms each entry of g·J sums, which float rounding scales with), as arrays of mpf."""
        env = {f"{n}{list(index)}": mpmath.mpf(float(x[index]))
               for n, x in zip(self.names, xs) for index in np.ndindex(*x.shape)}
        forward = np.empty(self.output.shape, dtype=object)
        for index in np.ndindex(*self.output.shape):
            forward[index] = _value(self.output[index], env)
        grads = [np.full(shape, mpmath.mpf(0), dtype=object) for shape in self.shapes]
        absolute = [np.full(shape, mpmath.mpf(0), dtype=object) for shape in self.shapes]
        diagonal = [np.full(shape, mpmath.mpf(0), dtype=object) if shape == self.output.shape else None
                    for shape in self.shapes]
        with mpmath.workdps(VJP_DIGITS):
            for out_index, k, in_index, slope in self.slopes:
                upstream = mpmath.mpf(float(g[out_index]))
                term = upstream * _value(slope, env)
                grads[k][in_index] += term
                if upstream:
                    absolute[k][in_index] += abs(upstream) * _size(slope, env)
                if diagonal[k] is not None and in_index == out_index:
                    diagonal[k][in_index] += term
        return forward, grads, diagonal, absolute


def _size(expr: sympy.Expr, env: Mapping[str, object]) -> mpmath.mpf:
    """|expr| with every sum taken over the absolute values of its terms: the scale of the rounding error of a
    float evaluation that adds those terms (y·(1 − y) computed from a rounded y near 1 is off by about ε·y²,
    not ε·|y·(1 − y)|)."""
    if isinstance(expr, sympy.Add):
        return mpmath.fsum(_size(term, env) for term in expr.args)
    if isinstance(expr, sympy.Mul):
        return mpmath.fprod(_size(factor, env) for factor in expr.args)
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return _size(expr.base, env) ** int(expr.exp)
    return abs(_value(expr, env))


def _value(expr: sympy.Expr, env: Mapping[str, object]) -> mpmath.mpf:
    result = mp_value_at(expr, env, VJP_DIGITS)
    if not isinstance(result, mpmath.mpf) or not mpmath.isfinite(result):
        raise ArithmeticError("outside the domain")
    return result


def _names_of(reference: Callable, inputs: Sequence[str] | None) -> tuple[str, ...]:
    if inputs is not None:
        if isinstance(inputs, str) or not inputs or not all(isinstance(n, str) and n.isidentifier() for n in inputs):
            raise InvalidArgument(f"inputs={inputs!r}: give the forward's argument names in order, such as "
                                  f"('x', 'W', 'b')")
        return tuple(inputs)
    try:
        parameters = inspect.signature(reference).parameters.values()
    except (TypeError, ValueError):
        parameters = ()
    names = tuple(p.name for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)
    if not names:
        raise InvalidArgument(f"reference={describe_value(reference)}: cannot read its argument names; give "
                              f"inputs=('x', 'W', …)")
    return names


def _shapes_of(names: tuple[str, ...], shapes: object) -> tuple[tuple[int, ...], ...]:
    if isinstance(shapes, Mapping):
        if set(shapes) != set(names):
            raise InvalidArgument(f"shapes={describe_value(shapes)}: give one shape per input, by name "
                                  f"({', '.join(names)})")
        shapes = [shapes[n] for n in names]
    if not isinstance(shapes, (tuple, list)) or len(shapes) != len(names):
        raise InvalidArgument(f"shapes={describe_value(shapes)}: an array reference needs one shape per input "
                              f"({', '.join(names)}), such as shapes={{'x': (2, 3), 'W': (4, 3), 'b': (4,)}}")
    out = []
    for name, shape in zip(names, shapes):
        shape = (shape,) if isinstance(shape, int) and not isinstance(shape, bool) else shape
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                                   for n in shape):
            raise InvalidArgument(f"shapes[{name!r}] = {shape!r}: give a tuple of positive integers, such as (2, 3)")
        out.append(shape)
    return tuple(out)


def _run_reference(reference: Callable, text: str, arrays: list[np.ndarray]) -> np.ndarray:
    try:
        result = reference(*arrays)
        output = np.asarray(result, dtype=object)
    except (KeyboardInterrupt, InvalidArgument):
        raise
    except BaseException as exc:  # the reference is the user's code too
        raise InvalidArgument(f"the reference {text} raised {type(exc).__name__}: {exc}; write it with NumPy "
                              f"array arithmetic and symgrad.symbolic_arrays (softmax, total, mean, …)") from None
    for index in np.ndindex(*output.shape):
        entry = output[index]
        if isinstance(entry, (int, float)) and not isinstance(entry, bool):
            output[index] = sympy.Rational(entry) if isinstance(entry, int) else sympy.Float(entry)
        elif not isinstance(entry, sympy.Expr):
            raise InvalidArgument(f"the reference {text} returned {describe_value(entry)} at {list(index)}; "
                                  f"return SymPy expressions (use symgrad.symbolic_arrays for exp, softmax, …)")
    return output


def array_reference(reference: Callable, *, inputs: Sequence[str] | None, shapes: object) -> ArrayReference:
    """Run ``reference`` on arrays of symbols; its output's entries and their derivatives, checked.

    >>> r = array_reference(lambda x, W: x @ W.T, inputs=None, shapes={"x": (1, 2), "W": (1, 2)})
    >>> r.output_shape, r.output[0, 0]
    ((1, 1), W[0, 0]*x[0, 0] + W[0, 1]*x[0, 1])
    """
    names = _names_of(reference, inputs)
    shapes = _shapes_of(names, shapes)
    text = f"{getattr(reference, '__name__', 'reference')}({', '.join(names)})"
    size = sum(math.prod(s) for s in shapes)
    if size > MAX_ARRAY_INPUTS:
        raise InvalidArgument(f"the reference {text} has {size:,} input entries to run exactly as symbols: the limit "
                              f"is {MAX_ARRAY_INPUTS:,}; check smaller shapes (a backward rule's bugs show at 2 × 3)")
    arrays = [symbols(n, s) for n, s in zip(names, shapes)]
    output = _run_reference(reference, text, arrays)
    where = {a[index]: (k, index) for k, a in enumerate(arrays) for index in np.ndindex(*a.shape)}
    pairs = [(index, s) for index in np.ndindex(*output.shape) for s in output[index].free_symbols]
    stray = sorted({str(s) for _, s in pairs if s not in where})
    if stray:
        raise InvalidArgument(f"the reference {text} uses {', '.join(stray[:5])}, which are not its inputs' entries")
    if len(pairs) > MAX_ARRAY_TERMS:
        raise InvalidArgument(f"the reference {text} has {len(pairs):,} (output, input) entry pairs to differentiate "
                              f"exactly: the limit is {MAX_ARRAY_TERMS:,}; check smaller shapes")
    pairs.sort(key=lambda p: (p[0], where[p[1]]))
    slopes = tuple((index, *where[s], sympy.diff(output[index], s)) for index, s in pairs)
    return ArrayReference(text, names, shapes, output, slopes)


def draw_arrays(ref: ArrayReference, rng: np.random.Generator, dtype, low: float, high: float,
                redraws: int) -> list[np.ndarray]:
    """Inputs in [low, high], redrawn as a whole until the reference and its derivatives are defined."""
    for _ in range(redraws):
        xs = [np.array(rng.uniform(low, high, shape), dtype=dtype).reshape(shape) for shape in ref.shapes]
        try:
            ref.exact(xs, np.ones(ref.output_shape))
        except (ArithmeticError, ValueError, TypeError, ZeroDivisionError):
            continue
        return xs
    raise InvalidArgument(f"{ref.text} is undefined at {redraws} points drawn from [{low}, {high}]; give min_value "
                          f"and max_value inside its domain")


# -- naming the bug ------------------------------------------------------------------------------
def _close(a: float, b: float) -> bool:
    return a == b or (math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-6 * max(abs(a), abs(b)))


def _all_close(received: np.ndarray, exact: np.ndarray) -> bool:
    return np.shape(received) == np.shape(exact) and all(_close(float(received[i]), float(exact[i]))
                                                         for i in np.ndindex(*exact.shape))


def explain_arrays(ref: ArrayReference, draws: list, wrong: set[str]) -> tuple[Diagnosis, ...]:
    """Diagnoses for the wrong entries; ``draws`` holds per draw (received grads, exact grads, g ⊙ diag(J) per
    input, entry names per input, exact y, g)."""
    found = []
    for k, (name, shape) in enumerate(zip(ref.names, ref.shapes)):
        mine = [n for draw in draws for n in draw[3][k].flat if n in wrong]
        if not mine:
            continue
        same_shape = shape == ref.output_shape
        if len(shape) == 2 and shape[0] == shape[1] > 1 and all(
                _all_close(received[k], exact[k].T) for received, exact, *_ in draws):
            found.append(Diagnosis("transposed gradient", tuple(mine), f"transposed gradient: d{name} is the exact "
                                   f"d{name}ᵀ, its wrong entries in symmetric pairs (i, j) ↔ (j, i) about a right "
                                   f"diagonal; for y = x {name}ᵀ the gradient is d{name} = gᵀ x, not xᵀ g"))
        elif same_shape and all(_all_close(received[k], y * g) for received, _, _, _, y, g in draws):
            found.append(Diagnosis("missing sum term", tuple(mine), f"missing sum term: d{name} = y ⊙ g, the "
                                   f"diagonal part of softmax's Jacobian diag(y) − y yᵀ alone; the backward is "
                                   f"y ⊙ (g − Σ g·y) over the softmax axis, and −y ⊙ Σ(g·y) is left out"))
        elif same_shape and all(_all_close(received[k], g) for received, _, _, _, _, g in draws):
            found.append(Diagnosis("missing sum term", tuple(mine), f"missing sum term: d{name} = g, the upstream "
                                   f"gradient passed through; for log_softmax the backward is g − softmax ⊙ Σ g over "
                                   f"its axis, and the −softmax ⊙ Σ g term is left out"))
        elif same_shape and all(_all_close(received[k], diagonal[k]) for received, _, diagonal, _, _, _ in draws):
            found.append(Diagnosis("missing cross terms", tuple(mine), f"missing cross terms: every entry of d{name} "
                                   f"is g_i ∂y_i/∂{name}_i, the diagonal of the Jacobian alone; the terms "
                                   f"Σ_(k≠i) g_k ∂y_k/∂{name}_i are left out"))
        else:
            found += _mean_factor(name, shape, mine, draws, k)
    return tuple(found)


def _mean_factor(name: str, shape: tuple[int, ...], mine: list[str], draws: list, k: int) -> list[Diagnosis]:
    ratios = [ratio_of(float(received[k][i]), float(exact[k][i])) for received, exact, *_ in draws
              for i in np.ndindex(*shape) if exact[k][i] != 0]
    if not ratios or not all(_close(r, ratios[0]) for r in ratios):
        return []
    r = ratios[0]
    for n in sorted(set(shape) | {math.prod(shape)}):
        if n >= 3 and _close(r, n):
            return [Diagnosis("mean", tuple(mine), f"mean: every entry of d{name} is {n} times the exact one, the size "
                              f"of an axis of {name}: the 1/{n} of a mean is left out of the backward (summed, "
                              f"not averaged)")]
        if n >= 3 and _close(r, 1 / n):
            return [Diagnosis("mean", tuple(mine), f"mean: every entry of d{name} is 1/{n} of the exact one: a mean "
                              f"over {n} entries is divided by {n} twice, or where the forward sums")]
    return []
