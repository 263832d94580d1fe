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

The error formula, used everywhere, is symmetric: ``|a − b| / max(|a|, |b|)``.
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import json
import math
import numbers
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import mpmath
import numpy as np
import sympy

from .chain import derive
from .compile import compile_gradient, compile_network
from .errors import DomainError, InvalidArgument, MissingDependency
from .evaluation import evaluate_gradients
from .finite_differences import EPS, SCHEMES, Scheme, default_step, roundoff_bound, scheme_named, truncation_bound
from .functions import FUNCTIONS, logsumexp
from .graph import Network
from .limits import MAX_FULL_GRADCHECK, MAX_GRADCHECK_POINTS, MAX_STEP

__all__ = [
    "GradcheckRow",
    "GradcheckReport",
    "StepSweep",
    "gradcheck",
    "sweep_steps",
    "plot_sweep",
    "load_gradient_function",
    "relative_error",
    "VERDICTS",
]

VERDICTS = ("mismatch", "precision", "step", "round-off", "kink", "ok")  # worst first
DIGITS = 30  # certified digits of the exact values
TAU_ULPS = 64  # a gradient agrees with the exact one within TAU_ULPS·ε_dtype·(|exact| + largest |gradient|)
F_ULPS = 8  # one float64 evaluation of f is taken to err by at most F_ULPS·ε·(|f| + Σ|x·∂f/∂x|)
SAMPLE = 20  # coordinates checked one by one when there are more than MAX_FULL_GRADCHECK
DIRECTIONS = 3  # random directions checked when coordinates are sampled
SLOPE_MARGIN = 0.1  # the measured sweep slope must be within this of the scheme's order
MAX_HALVINGS = 40  # times a step is halved to keep the stencil inside the loss's domain
_STENCIL = (-2, -1, 1, 2)  # exact evaluations at x + k·η·v around the centre


def relative_error(a: float, b: float) -> float:
    """|a − b| / max(|a|, |b|): symmetric, 0 when both are 0, at most 2.

    >>> relative_error(1.0, 1.1) == relative_error(1.1, 1.0)
    True
    """
    top = max(abs(a), abs(b))
    return 0.0 if top == 0 else abs(a - b) / top


# -- results ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GradcheckRow:
    """One checked parameter or direction: the numbers, the error of the gradient under check
    (the user's, else the compiled one) against the exact value, the bound and the verdict."""

    param: str
    exact: float | None  # None where no exact value exists (matrix-form networks)
    compiled: float | None  # None for derivatives with respect to inputs
    numerical: float
    user: float | None
    abs_error: float
    rel_error: float
    bound: float
    verdict: str
    cause: str  # one sentence: why this verdict


@dataclass(frozen=True)
class GradcheckReport:
    """The outcome of ``gradcheck``: rows worst first; ``ok`` unless some row is a mismatch."""

    title: str
    scheme: str
    rows: tuple[GradcheckRow, ...]
    notes: tuple[str, ...]
    has_user: bool

    @property
    def ok(self) -> bool:
        return all(row.verdict != "mismatch" for row in self.rows)

    def _columns(self) -> list[tuple[str, Callable[[GradcheckRow], str]]]:
        cols = [("param", lambda r: r.param), ("exact", lambda r: _num(r.exact, 17)),
                ("compiled", lambda r: _num(r.compiled, 17)), ("numerical", lambda r: _num(r.numerical, 12))]
        if self.has_user:
            cols.append(("user", lambda r: _num(r.user, 12)))
        cols += [("abs error", lambda r: _err(r.abs_error)), ("rel error", lambda r: _err(r.rel_error)),
                 ("bound", lambda r: _err(r.bound)), ("verdict", lambda r: r.verdict)]
        return cols

    def table(self) -> str:
        """The report as plain text: a title, the table, a summary and the causes."""
        cols = self._columns()
        cells = [[head for head, _ in cols]] + [[fmt(row) for _, fmt in cols] for row in self.rows]
        widths = [max(len(line[k]) for line in cells) for k in range(len(cols))]
        lines = [self.title, *self.notes, ""]
        lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
        lines += ["", self.summary()]
        lines += [f"  {row.param}: {row.cause}" for row in self.rows if row.verdict != "ok"]
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        counts = {v: sum(r.verdict == v for r in self.rows) for v in VERDICTS}
        parts = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        head = "OK" if self.ok else "MISMATCH"
        return f"{head}: {len(self.rows)} checked ({parts})"

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        cols = self._columns()
        head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in cols)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(row))}</td>" for _, fmt in cols) + "</tr>"
                       for row in self.rows)
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (f"<div><p><b>{html.escape(self.title)}</b></p>{notes}<table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table><p>{html.escape(self.summary())}</p></div>")

    def as_dict(self) -> dict:
        """The JSON form: {"ok", "scheme", "rows": [{param, exact, compiled, numerical, [user], …}]}."""
        rows = []
        for r in self.rows:
            row = {"param": r.param, "exact": r.exact, "compiled": r.compiled, "numerical": _finite(r.numerical)}
            if self.has_user:
                row["user"] = r.user
            row |= {"abs_error": _finite(r.abs_error), "rel_error": _finite(r.rel_error),
                    "bound": _finite(r.bound), "verdict": r.verdict}
            rows.append(row)
        return {"ok": self.ok, "scheme": self.scheme, "rows": rows}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _num(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _err(x: float) -> str:
    return f"{x:.2e}"


# -- the user's gradient function -------------------------------------------------------
def load_gradient_function(text: str) -> Callable[[dict[str, float]], Mapping[str, object]]:
    """The function FUNC in FILE for ``"FILE:FUNC"``; InvalidArgument with the fix otherwise.

    The file is the user's own Python code and is imported (run) as a module.

    >>> load_gradient_function("no_such_file.py:grad")
    Traceback (most recent call last):
    ...
    symgrad.errors.InvalidArgument: --against no_such_file.py:grad: no_such_file.py does not exist; give FILE.py:FUNCTION with an existing Python file
    """
    if not isinstance(text, str) or ":" not in text:
        raise InvalidArgument(f"--against {text!r}: expected FILE.py:FUNCTION, such as my_backprop.py:gradient")
    path_text, name = text.rsplit(":", 1)
    path = Path(path_text)
    if not name.isidentifier():
        raise InvalidArgument(f"--against {text}: {name!r} is not a Python function name; give FILE.py:FUNCTION")
    if not path.is_file():
        problem = "is not a regular file" if path.exists() else "does not exist"
        raise InvalidArgument(f"--against {text}: {path_text} {problem}; give FILE.py:FUNCTION with an existing "
                              "Python file")
    spec = importlib.util.spec_from_file_location(f"symgrad_user_gradient_{abs(hash(str(path)))}", path)
    if spec is None or spec.loader is None:
        raise InvalidArgument(f"--against {text}: {path_text} cannot be imported as Python; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: dataclasses and pickling look it up
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the user's prints must not mix into our JSON
            spec.loader.exec_module(module)  # the user's own file, run on the user's request
    except (Exception, SystemExit) as exc:
        del sys.modules[spec.name]
        raise InvalidArgument(f"--against {text}: importing {path_text} raised {_describe(exc)}; fix the file") from exc
    function = getattr(module, name, None)
    if function is None:
        defined = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                         and getattr(v, "__module__", None) == module.__name__)
        raise InvalidArgument(f"--against {text}: {path_text} has no function {name!r}"
                              + (f"; it defines {', '.join(defined)}" if defined else ""))
    if not callable(function):
        raise InvalidArgument(f"--against {text}: {name!r} in {path_text} is the {type(function).__name__} "
                              f"{function!r:.40}, not a function")
    return function


def _describe(exc: BaseException) -> str:
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _call_user(function: Callable, point: dict[str, float], names: tuple[str, ...]) -> tuple[dict[str, float], np.dtype]:
    """Call the user's gradient function once; validate what it returns."""
    label = getattr(function, "__name__", "the gradient function")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = function(dict(point))
    except (Exception, SystemExit) as exc:
        raise InvalidArgument(f"gradient function {label} raised {_describe(exc)} at the network's point") from exc
    try:
        return _read_user(result, label, names)
    except InvalidArgument:
        raise
    except Exception as exc:  # a hostile Mapping whose methods raise
        raise InvalidArgument(f"gradient function {label} returned a {type(result).__name__} that cannot be read "
                              f"({_describe(exc)}); return a plain dict") from exc


def _read_user(result: object, label: str, names: tuple[str, ...]) -> tuple[dict[str, float], np.dtype]:
    if not isinstance(result, Mapping):
        raise InvalidArgument(f"gradient function {label} returned a {type(result).__name__}; return a dict "
                              f"{{parameter name: gradient}} with keys {', '.join(names)}")
    missing = [n for n in names if n not in result]
    extra = [repr(k) for k in result if k not in names]
    if missing or extra:
        problem = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                        f"unknown {', '.join(extra)}" if extra else "") if p)
        raise InvalidArgument(f"gradient function {label} returned the wrong keys ({problem}); "
                              f"return exactly {', '.join(names)}")
    values: dict[str, float] = {}
    dtype = np.dtype(np.float64)
    for n in names:
        value = result[n]
        array = _as_array(value)
        if array is None or array.dtype.kind not in "iuf":
            raise InvalidArgument(f"gradient function {label} returned {_short(value)} for {n!r}; return a real "
                                  "number (a float, a NumPy scalar, or a detached 0-d tensor)")
        if array.shape != ():
            raise InvalidArgument(f"gradient function {label} returned shape {array.shape} for {n!r}; "
                                  "return one number per parameter")
        if not np.isfinite(array):
            raise InvalidArgument(f"gradient function {label} returned {float(array)!r} for {n!r}; "
                                  "a gradient must be a finite number")
        if array.dtype.kind == "f" and np.finfo(array.dtype).eps > np.finfo(dtype).eps:
            dtype = array.dtype
        values[n] = float(array)
    return values, dtype


def _as_array(value: object) -> np.ndarray | None:
    """A user's number as a NumPy array keeping its dtype; None for what is not a real number."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (np.generic, np.ndarray)) or (hasattr(value, "__array__") and not isinstance(value, str)):
        try:
            return np.asarray(value)
        except Exception:  # a tensor that refuses conversion (requires grad, on a GPU, ...)
            return None
    if isinstance(value, numbers.Real):  # int, float, Fraction, Decimal-like: float64
        return np.asarray(float(value))
    return None


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


# -- evaluating the loss ------------------------------------------------------------------
def _compiled_at(compiled, point: Mapping[str, float], moved: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """Compiled losses (P,) and gradients {param: (P,)} at P points, MAX_GRADCHECK_POINTS per call.

    The one place that evaluates the compiled code (``reduction="none"``) at perturbed points:
    ``point`` gives every leaf, ``moved`` the leaves that vary, P values each. Constants keep
    their compiled values, as ``point`` gives only parameters, inputs and targets.
    """
    fixed = {n: point[n] for n in (*compiled.params, *compiled.inputs, *compiled.targets)}
    count = len(next(iter(moved.values())))
    losses, grads = [], []
    with np.errstate(all="ignore"):
        for start in range(0, count, MAX_GRADCHECK_POINTS):
            chunk = {n: values[start:start + MAX_GRADCHECK_POINTS] for n, values in moved.items()}
            result = compiled.at(fixed | chunk)
            losses.append(result.loss)
            grads.append(result.gradients)
    if len(losses) == 1:
        return losses[0], grads[0]
    return np.concatenate(losses), {p: np.concatenate([g[p] for g in grads]) for p in grads[0]}


_HEADS = {r.head: r for r in FUNCTIONS if r.head is not sympy.Pow}


def _value(expr: sympy.Expr, env: Mapping[str, object]):
    """An expression's value in mpmath (real or complex) at the current precision."""
    if expr.is_Symbol:
        return env[expr.name]
    if expr.is_Rational:
        return mpmath.mpf(expr.p) / expr.q
    if expr.is_Number or expr.is_NumberSymbol:
        return mpmath.mpf(sympy.N(expr, mpmath.mp.dps + 5))
    args = [_value(a, env) for a in expr.args]
    if expr.is_Add:
        return mpmath.fsum(args)
    if expr.is_Mul:
        return math.prod(args[1:], start=args[0])
    if expr.is_Pow:
        if expr.exp.is_Integer:
            return args[0] ** int(expr.exp)
        return mpmath.sqrt(args[0]) if expr.exp == sympy.S.Half else mpmath.power(*args)
    if expr.func is logsumexp:
        top = max(mpmath.re(a) for a in args)
        return top + mpmath.log(mpmath.fsum(mpmath.exp(a - top) for a in args))
    return _HEADS[expr.func].mpmath(*args)


def _kink_arguments(network: Network, nodes: tuple[str, ...]) -> list[tuple[str, str, sympy.Expr]]:
    """(node, function, argument) for every argument whose sign change is a kink."""
    out = []
    for name in (n for n in nodes if n in network.nodes):
        for sub in sympy.preorder_traversal(network.nodes[name].expr):
            rule = _HEADS.get(sub.func)  # Max and Min are not sympy.Function instances: look up every head
            if rule is None or rule.smooth:
                continue
            head = rule.spec_name or rule.head.__name__
            if rule.head in (sympy.Max, sympy.Min):
                args = sub.args
                out += [(name, head, args[i] - args[j]) for i in range(len(args)) for j in range(i + 1, len(args))]
            else:
                out.append((name, head, sub.args[0]))
    return out


def _downstream(network: Network, leaves: set[str]) -> tuple[str, ...]:
    """Nodes that depend on any of ``leaves`` and feed the output, in graph order."""
    feeding = set(network.ancestors(network.output))
    reached = set(leaves)
    for name, node in network.nodes.items():
        if any(op in reached for op in node.operands):
            reached.add(name)
    return tuple(n for n in network.nodes if n in reached and n in feeding)


def _check_analytic(network: Network, names: tuple[str, ...]) -> None:
    for node_name in _downstream(network, set(names)):
        for sub in sympy.preorder_traversal(network.nodes[node_name].expr):
            rule = _HEADS.get(sub.func)
            if rule is not None and not (rule.smooth and rule.differentiable):
                raise InvalidArgument(
                    f"scheme 'complex' needs every node between the parameters and the output to be analytic, "
                    f"but node {node_name!r} uses {rule.spec_name or rule.head.__name__}, which has a kink; "
                    "use scheme='central'")


# -- the problem being checked ---------------------------------------------------------------
@dataclass(frozen=True)
class _Scalar:
    """A network with named scalar leaves: exact values exist."""

    network: Network
    derivation: object
    compiled: object
    names: tuple[str, ...]  # the coordinates: params, or inputs when there are none
    point: dict[str, float]
    kinks: list

    def losses(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Compiled losses (P,) and gradients over ``names`` (P, n) at the rows of xs, in one call."""
        loss, grads = _compiled_at(self.compiled, self.point, {n: xs[:, k] for k, n in enumerate(self.names)})
        if set(self.names) <= set(grads):
            return loss, np.stack([grads[n] for n in self.names], axis=1)
        return loss, None  # derivatives by inputs: the compiled code has none

    def exact(self, x: np.ndarray):
        """Exact loss, exact gradient over ``names`` and every value, at float64 point x."""
        at = {k: sympy.Rational(v) for k, v in self.point.items()}
        at |= {n: sympy.Rational(float(v)) for n, v in zip(self.names, x)}
        g = evaluate_gradients(self.derivation, at=at, digits=DIGITS)
        grads = g.gradients
        grad = [grads[n] if n in grads else g.adjoints.get(n, mpmath.mpf(0)) for n in self.names]
        return g.values[self.derivation.output], grad, g.values

    def complex_step(self, x: np.ndarray, v: np.ndarray, h: float) -> float:
        with mpmath.workprec(53):
            env = {k: mpmath.mpf(val) for k, val in self.point.items()}
            for n, xi, vi in zip(self.names, x, v):
                env[n] = mpmath.mpc(float(xi), h * float(vi)) if vi else mpmath.mpf(float(xi))
            for name, node in self.network.nodes.items():
                env[name] = _value(node.expr, env)
            return float(mpmath.im(env[self.derivation.output])) / h


@dataclass(frozen=True)
class _Matrix:
    """A matrix-form-only [mlp] network: compiled code, no scalar symbols, no exact values."""

    compiled: object
    names: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]]
    inputs: np.ndarray
    targets: np.ndarray

    def unflatten(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out, k = {}, 0
        for key, shape in self.shapes.items():
            size = int(np.prod(shape))
            out[key] = x[k:k + size].reshape(shape) if shape else np.float64(x[k])
            k += size
        return out

    def losses(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compiled losses (P,) and gradients (P, n) at the rows of xs: one call per point, since the
        matrix form batches over samples, not over parameter points (``at`` is scalar-form only)."""
        out = []
        with np.errstate(all="ignore"):
            for x in xs:
                loss, grads = self.compiled(self.unflatten(x), self.inputs, self.targets)
                out.append((float(loss), np.concatenate([np.ravel(grads[k]) for k in self.shapes])))
        return np.array([f for f, _ in out]), np.array([g for _, g in out])


def _loss_at(problem: _Scalar | _Matrix, x: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Compiled loss and gradient at the one point x."""
    losses, grads = problem.losses(x[np.newaxis, :])
    return float(losses[0]), (grads[0] if grads is not None else None)


def _matrix_problem(network: Network) -> tuple[_Matrix, np.ndarray]:
    compiled = compile_network(network, form="matrix", reduction="sum")
    params = compiled.initial_params(network)
    shapes = {k: np.shape(v) for k, v in params.items()}
    names = []
    for key, shape in shapes.items():
        names += [f"{key}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)] if shape else [key]
    point = network.point()
    inputs = np.array([[float(point[n]) for n in network.inputs]])
    targets = np.array([[float(point[n]) for n in network.targets]])
    x = np.concatenate([np.ravel(params[k]) for k in shapes]).astype(np.float64)
    return _Matrix(compiled, tuple(names), shapes, inputs, targets), x


# -- the check ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Direction:
    label: str
    v: np.ndarray
    h: float


def _directions(names, x, scheme, step, sample, directions, seed) -> tuple[list[_Direction], list[str]]:
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
        given = step.get(names[k]) if isinstance(step, Mapping) else step
        _check_step(given, names[k], float(x[k]), scheme)
        out.append(_Direction(names[k], v, given if given is not None else default_step(scheme, float(x[k]))))
    scale = float(np.max(np.abs(x))) if n else 1.0
    for d in range(directions):
        v = rng.standard_normal(n)
        v /= np.linalg.norm(v)
        given = None if isinstance(step, Mapping) else step
        _check_step(given, "the largest coordinate", scale, scheme)
        out.append(_Direction(f"direction {d + 1}", v, given if given is not None else default_step(scheme, scale)))
    if directions:
        notes.append(f"{directions} random unit directions v (seed {seed}): rows compare directional derivatives ∇f·v")
    return out, notes


def _check_step(step: float | None, name: str, x: float, scheme: Scheme) -> None:
    """A given step must move x in float64 (real schemes) and stay below MAX_STEP."""
    if step is None:
        return
    if step > MAX_STEP:
        raise InvalidArgument(f"step {step:g} is above the largest accepted, {MAX_STEP:g}; give a step near "
                              f"{default_step(scheme, x):.2g}")
    smallest = min((abs(o) for o in scheme.offsets if o), default=1.0) * step
    if scheme.name != "complex" and x + smallest == x:
        raise InvalidArgument(f"step {step:g} is too small for {name} = {x:g}: x + h rounds to x in float64; give "
                              f"at least {4 * EPS * max(1.0, abs(x)):.2g}")


def _derivatives(g: dict[int, float], eta: float) -> dict[int, float]:
    """f″, f‴, f⁽⁵⁾ along v from the slope g = f′ at x + k·η (k = −2 … 2), by 5-point differences."""
    return {
        2: (g[-2] - 8 * g[-1] + 8 * g[1] - g[2]) / (12 * eta),
        3: (-g[-2] + 16 * g[-1] - 30 * g[0] + 16 * g[1] - g[2]) / (12 * eta ** 2),
        5: (g[-2] - 4 * g[-1] + 6 * g[0] - 4 * g[1] + g[2]) / eta ** 4,
    }


def _cause_of(value: float, exact: float, who: str) -> str:
    if value == 0:
        return f"the {who} gradient is 0 but the exact one is {exact:.6g} (a missing term?)"
    ratio = value / exact if exact else math.inf
    for target, words in ((-1.0, "the sign is flipped"), (2.0, "it is twice the exact value"),
                          (0.5, "it is half the exact value")):
        if abs(ratio - target) < 1e-6:
            return f"the {who} gradient {value:.6g} differs from the exact {exact:.6g}: {words}"
    return f"the {who} gradient {value:.6g} differs from the exact {exact:.6g} (ratio {ratio:.6g})"


def gradcheck(network: Network, *,
              against: Callable[[dict[str, float]], Mapping[str, object]] | str | None = None,
              at: Mapping[str, object] | None = None, scheme: str = "central",
              step: float | Mapping[str, float] | None = None,
              sample: int | None = None, directions: int | None = None, seed: int = 0) -> GradcheckReport:
    """Check the network's gradient three ways, and ``against`` (a user's gradient function).

    ``against`` receives every leaf's value by name as floats and returns gradients by
    parameter name (or is ``"FILE.py:FUNC"``, loaded as the CLI's ``--against`` does). ``at`` overrides leaf values; ``step`` overrides the optimal step (one
    number, or a dict by parameter). Networks with more than ``limits.MAX_FULL_GRADCHECK``
    parameters are checked on ``sample`` coordinates plus ``directions`` random directions.

    >>> import symgrad
    >>> report = symgrad.gradcheck(symgrad.load("mazur"))
    >>> report.ok, report.rows[0].verdict
    (True, 'ok')
    """
    sch = scheme_named(scheme)
    for value in (step.values() if isinstance(step, Mapping) else [step]):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or value <= 0):
            raise InvalidArgument(f"step must be a positive number such as 1e-6 (or a dict of them by "
                                  f"parameter), got {value!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidArgument(f"seed must be a non-negative integer, got {seed!r}")
    notes: list[str] = []
    if network.structure is not None and not network.nodes:
        if against is not None or at is not None:
            raise InvalidArgument("this [mlp] network exists in matrix form only (no scalar parameter names): "
                                  "check it without --against and at=")
        if sch.name == "complex":
            raise InvalidArgument("scheme 'complex' needs scalar nodes; a matrix-form network is checked with "
                                  "'central', 'forward', 'backward' or 'richardson'")
        problem, x = _matrix_problem(network)
        exact_side = False
        notes.append("matrix form only: no exact values; the compiled gradient is checked against finite "
                     "differences, the bound's higher derivative estimated from compiled gradients; kinks are not "
                     "detected in this form")
    else:
        derivation = derive(network)
        compiled = compile_gradient(derivation, reduction="none")
        point = {k: float(v) for k, v in network.point(at).items()}
        names = network.params or network.inputs
        if not network.params:
            notes.append("no parameters: derivatives with respect to the inputs are checked (no compiled column)")
        if sch.name == "complex":
            _check_analytic(network, names)
        problem = _Scalar(network, derivation, compiled, tuple(names), point,
                          _kink_arguments(network, network.ancestors(network.output)))
        x = np.array([point[n] for n in names])
        exact_side = True
    if not problem.names:
        raise InvalidArgument("the network has no parameters or inputs to differentiate with respect to")
    if isinstance(step, Mapping) and set(step) - set(problem.names):
        raise InvalidArgument(f"step names {', '.join(sorted(map(str, set(step) - set(problem.names))))}, which "
                              f"are not checked coordinates; use names among {', '.join(problem.names[:10])}")
    rows_in, sample_notes = _directions(problem.names, x, sch, step, sample, directions, seed)
    step_text = f"{step:g} for every coordinate" if isinstance(step, (int, float)) else f"{sch.step_text} per coordinate"
    if isinstance(step, Mapping) and step:
        step_text += ", as given for " + ", ".join(step)
    notes = [f"{sch.title}; step {step_text}; "
             f"tolerance = truncation + round-off bound"] + notes + sample_notes

    loss0, compiled0 = _loss_at(problem, x)
    user = user_dtype = None
    if against is not None:
        if isinstance(against, str):
            against = load_gradient_function(against)
        if not callable(against):
            raise InvalidArgument(f"against must be a function values -> {{param: gradient}} or 'FILE.py:FUNC', "
                                  f"got {_short(against)}")
        user, user_dtype = _call_user(against, problem.point, problem.names)
        if user_dtype != np.float64:
            message = (f"the user gradient is {user_dtype.name}: finite differences stay float64, and its "
                       f"tolerance follows {user_dtype.name} (ε = {np.finfo(user_dtype).eps:.3g})")
            warnings.warn(message, UserWarning, stacklevel=2)
            notes.append("warning: " + message)
    if exact_side:
        with mpmath.workdps(DIGITS * 3):
            exact = problem.exact(x)
            gscale = float(max((abs(e) for e in exact[1]), default=0))
            f_scale = float(abs(exact[0]) + mpmath.fsum(abs(mpmath.mpf(float(xi)) * e) for xi, e in zip(x, exact[1])))
    else:
        exact = None
        gscale = float(np.max(np.abs(compiled0)))
        f_scale = abs(loss0) + float(np.sum(np.abs(x * compiled0)))
    centre = _Centre(problem, sch, x, loss0, compiled0, exact, user,
                     float(np.finfo(user_dtype).eps) if user is not None else EPS, F_ULPS * EPS * f_scale, gscale)
    first = _first_samples(centre, rows_in)
    judged = [_judge(centre, d, _estimate(centre, d, evaluated)) for d, evaluated in zip(rows_in, first)]
    rank = {v: k for k, v in enumerate(VERDICTS)}
    order = sorted(range(len(judged)), key=lambda k: (rank[judged[k][0].verdict], -judged[k][1], k))
    title = f"gradcheck: {network.description or 'network'}"
    return GradcheckReport(title, sch.name, tuple(judged[k][0] for k in order), tuple(notes), against is not None)


@dataclass(frozen=True)
class _Centre:
    """What every row shares: the point, the loss and gradients there, and the error scales."""

    problem: _Scalar | _Matrix
    scheme: Scheme
    x: np.ndarray
    loss: float  # compiled float64 loss at x
    compiled: np.ndarray | None  # compiled gradient at x (None: derivatives by inputs)
    exact: tuple | None  # (loss, gradient, values) exactly at x; None for matrix-form networks
    user: dict[str, float] | None
    user_eps: float  # the rounding unit of the user's dtype
    error_f: float  # the error of one float64 evaluation of the loss
    gscale: float  # the largest |gradient| entry


@dataclass(frozen=True)
class _Estimate:
    """One row's numbers before judging: the directional derivatives and the evidence."""

    numerical: float
    exact: float | None
    compiled: float | None
    user: float | None
    bound: float  # the finite-difference error bound, truncation + round-off
    truncation: float | None  # measured: the same difference in exact arithmetic, minus the exact value
    kink: str | None  # the kink within the step, described
    one_sided: tuple[float, float, float] | None  # (low, high, slack) of the one-sided differences
    halvings: int  # times the step was halved to keep the stencil inside the domain


@dataclass(frozen=True)
class _Samples:
    """Values around x along v at x + k·η·v, k = −2 … 2: compiled losses and slopes, exact ones."""

    eta: float
    losses: dict[int, float]  # compiled float64 loss
    slopes: dict[int, object]  # ∇f·v: exact (mpmath) where exact values exist, else compiled
    exact_losses: dict[int, object] | None
    values: dict[int, dict] | None  # exact value of every quantity, for the kink test


def _first_eta(c: _Centre, d: _Direction) -> float:
    """The stencil's spacing η before any halving: the step (half of it for Richardson)."""
    if c.scheme.name == "complex":  # η only serves the derivative estimate
        return default_step(SCHEMES["central"], 0.0) * max(1.0, float(np.max(np.abs(c.x))))
    return d.h / 2 if c.scheme.name == "richardson" else d.h


def _stencil(c: _Centre, v: np.ndarray, eta: float) -> np.ndarray:
    """The points x + k·η·v, k in _STENCIL, as rows."""
    return np.array([c.x + k * eta * v for k in _STENCIL])


def _first_samples(c: _Centre, directions: list[_Direction]) -> list[tuple[np.ndarray, np.ndarray | None] | None]:
    """Compiled losses and gradients on every direction's first stencil, all in one call (scalar form).

    The matrix form has no per-point mode: its stencils are evaluated direction by direction
    in ``_sample`` (None here), which also keeps only one stencil of gradients in memory.
    """
    if not isinstance(c.problem, _Scalar):
        return [None] * len(directions)
    losses, grads = c.problem.losses(np.concatenate([_stencil(c, d.v, _first_eta(c, d)) for d in directions]))
    n = len(_STENCIL)
    return [(losses[n * j:n * j + n], grads[n * j:n * j + n] if grads is not None else None)
            for j in range(len(directions))]


def _sample(c: _Centre, v: np.ndarray, eta: float,
            evaluated: tuple[np.ndarray, np.ndarray | None] | None = None) -> _Samples | None:
    """The stencil's values, or None when a point leaves the loss's domain (NaN, complex, DomainError).

    ``evaluated``: the compiled losses and gradients at the stencil's points when already known.
    """
    stencil = _stencil(c, v, eta)
    points = dict(zip(_STENCIL, stencil))
    if evaluated is None:
        evaluated = c.problem.losses(stencil)
    losses_k, grads_k = evaluated
    losses = {0: c.loss} | {k: float(losses_k[j]) for j, k in enumerate(_STENCIL)}
    grads = {0: c.compiled} | {k: (grads_k[j] if grads_k is not None else None) for j, k in enumerate(_STENCIL)}
    if not all(math.isfinite(f) for f in losses.values()):
        return None
    if c.exact is None:
        return _Samples(eta, losses, {k: float(np.dot(g, v)) for k, g in grads.items()}, None, None)
    exact_losses, values, slopes = {0: c.exact[0]}, {0: c.exact[2]}, {0: _along(c.exact[1], v)}
    for k in _STENCIL:
        try:
            exact_losses[k], grad_k, values[k] = c.problem.exact(points[k])
        except DomainError:
            return None
        slopes[k] = _along(grad_k, v)
    if any(isinstance(z, mpmath.mpc) for z in [*exact_losses.values(), *slopes.values()]):
        return None
    return _Samples(eta, losses, slopes, exact_losses, values)


def _estimate(c: _Centre, d: _Direction, evaluated: tuple[np.ndarray, np.ndarray | None] | None = None) -> _Estimate:
    """Finite difference along d, exact slopes at x + k·η·v, the bound, and any kink in reach.

    ``evaluated``: the compiled values on the first stencil, when already known. Where the
    stencil leaves the loss's domain (log of a negative, say), the step is halved until it
    fits, at most MAX_HALVINGS times.
    """
    sch, h, v, x = c.scheme, d.h, d.v, c.x
    eta = _first_eta(c, d)
    with mpmath.workdps(DIGITS * 3):
        for halvings in range(MAX_HALVINGS + 1):
            samples = _sample(c, v, eta, evaluated if halvings == 0 else None)
            if samples is not None:
                break
            eta, h = eta / 2, (h if sch.name == "complex" else h / 2)
        else:
            raise DomainError(f"{d.label}: every finite-difference step down to {h:.3g} leaves the domain of the "
                              "loss; check the point, or give a smaller step")
        stencil = {round(o * h / eta): w for o, w in zip(sch.offsets, sch.weights)}
        if sch.name == "complex":
            numerical = c.problem.complex_step(x, v, h)
        else:
            numerical = sum(w * samples.losses[k] for k, w in stencil.items()) / h
        truncation = kink = exact = None
        if samples.exact_losses is not None:
            if sch.name != "complex":  # the same difference in exact arithmetic: truncation alone
                truncation = float(mpmath.fsum(w * samples.exact_losses[k] for k, w in stencil.items()) / h
                                   - samples.slopes[0])
            kink = _kink_within(c.problem.kinks, samples.values, sch)
            exact = float(samples.slopes[0])
        derivative = float(_derivatives(samples.slopes, eta)[sch.order + 1])
    compiled = float(np.dot(c.compiled, v)) if c.compiled is not None else None
    user = float(np.dot([c.user[n] for n in c.problem.names], v)) if c.user is not None else None
    reference = exact if exact is not None else compiled
    rounding = roundoff_bound(sch, h, c.error_f, slope=reference) * (F_ULPS if sch.name == "complex" else 1)
    if sch.name != "complex" and not np.all(v == np.round(v)):  # stencil points rounded: input error too
        rounding += sch.roundoff * EPS * float(np.sum(np.abs(x * (c.compiled if c.compiled is not None else 1)))) / h
    bound = 2 * (truncation_bound(sch, h, derivative) + rounding)  # 2: f⁽ⁿ⁺¹⁾ at x, not its max on the stencil
    one_sided = _one_sided(samples.losses, samples.slopes, eta) if kink else None
    return _Estimate(numerical, exact, compiled, user, bound, truncation, kink, one_sided, halvings)


def _along(gradient, v: np.ndarray):
    """The directional derivative ∇f·v in mpmath, skipping the zero entries of v."""
    return mpmath.fsum(g * float(vi) for g, vi in zip(gradient, v) if vi)


def _judge(c: _Centre, d: _Direction, e: _Estimate) -> tuple[GradcheckRow, float]:
    """The verdict and its cause for one row; the score ranks rows of the same verdict."""
    if e.user is not None:
        subject, value, eps = "user", e.user, c.user_eps
    elif e.compiled is not None:
        subject, value, eps = "compiled", e.compiled, EPS
    else:  # derivatives by inputs: no compiled gradient, the finite difference itself is judged
        subject, value, eps = "numerical", e.numerical, EPS
    candidates = [(subject, value, eps)] + ([("compiled", e.compiled, EPS)] if subject == "user" else [])
    reference = e.exact if e.exact is not None else e.numerical
    abs_error, rel_error = abs(value - reference), relative_error(value, reference)
    if e.kink is not None:
        verdict, cause, bound = _judge_kink(e, candidates)
    elif e.exact is not None:
        verdict, cause, bound = _judge_exact(c, e, candidates, subject)
    else:
        bound = e.bound + TAU_ULPS * EPS * (abs(value) + c.gscale)
        if abs_error > bound:
            verdict, cause = "mismatch", f"the compiled gradient {value:.6g} differs from finite differences"
        else:
            verdict, cause = "ok", f"finite differences within {abs_error:.2e} of the compiled value"
    if e.halvings:
        cause += f" (step halved {e.halvings} times to keep the stencil inside the loss's domain)"
    row = GradcheckRow(d.label, e.exact, e.compiled, e.numerical, e.user, abs_error, rel_error, bound, verdict, cause)
    return row, abs_error / max(bound, 1e-300)


def _judge_kink(e: _Estimate, candidates: list) -> tuple[str, str, float]:
    low, high, slack = e.one_sided
    interval = f"[{low:.6g}, {high:.6g}]"
    for who, value, _ in candidates:
        if who != "numerical" and not low - slack <= value <= high + slack:
            return ("mismatch", f"within the step of a kink of {e.kink}, and the {who} gradient {value:.6g} lies "
                    f"outside the one-sided differences {interval}", slack)
    return ("kink", f"within the step of a kink of {e.kink}: finite differences straddle it; the gradient lies "
            f"between the one-sided differences {interval} (subgradient check passed)", slack)


def _judge_exact(c: _Centre, e: _Estimate, candidates: list, subject: str) -> tuple[str, str, float]:
    scale = abs(e.exact) + (c.gscale if subject != "numerical" else 0.0)
    worst = None  # (verdict, who, value, tolerance) of the worst gradient under check
    for who, value, eps in candidates:
        tolerance = TAU_ULPS * eps * scale
        if who == "numerical" or abs(value - e.exact) <= tolerance:
            continue
        kind = "precision" if abs(value - e.exact) <= e.bound else "mismatch"
        if worst is None or kind == "mismatch":
            worst = (kind, who, value, tolerance)
    bound = max(e.bound, TAU_ULPS * candidates[0][2] * scale)  # the tolerance abs_error is judged against
    fd_error = abs(e.numerical - e.exact)
    if worst is not None and worst[0] == "mismatch":
        return ("mismatch", _cause_of(worst[2], e.exact, worst[1])
                + f"; finite differences agree with the exact value within {fd_error:.2e}", bound)
    if fd_error > e.bound:
        truncation = abs(e.truncation) if e.truncation is not None else 0.0
        roundoff = abs(e.numerical - e.exact - e.truncation) if e.truncation is not None else fd_error
        verdict = "step" if truncation >= roundoff else "round-off"
        return (verdict, f"finite differences are off by {fd_error:.2e}, more than their bound {e.bound:.2e}: "
                f"truncation (the same difference in exact arithmetic) {truncation:.2e}, round-off "
                f"{roundoff:.2e}; " + ("use a smaller step" if verdict == "step" else "use a larger step"), bound)
    if worst is not None:
        return ("precision", f"the {worst[1]} gradient differs from the exact value by "
                f"{abs(worst[2] - e.exact):.2e}, more than {worst[3]:.2e} (its dtype's rounding) but within what "
                "finite differences resolve", bound)
    return "ok", f"finite differences within {fd_error:.2e} of the exact value (bound {e.bound:.2e})", bound


def _kink_within(kinks, values: dict, sch: Scheme) -> str | None:
    """The first kink argument that changes sign (or touches 0) between the stencil points."""
    span = [k for k in (-2, -1, 0, 1, 2) if _in_step(k, sch)]
    for node, head, arg in kinks:
        vals = [_value(arg, values[k]) for k in span]
        signs = {int(mpmath.sign(val)) for val in vals}
        if len(signs) > 1:
            return f"{head} in node {node!r} (argument {sympy.sstr(arg)} = {mpmath.nstr(vals[span.index(0)], 6)})"
    return None


def _in_step(k: int, sch: Scheme) -> bool:
    if sch.name == "forward":
        return k in (0, 1)
    if sch.name == "backward":
        return k in (-1, 0)
    if sch.name == "richardson":
        return True
    return k in (-1, 0, 1)


def _one_sided(floss: dict, slope: dict, eta: float) -> tuple[float, float, float]:
    """The one-sided differences at step η, and a slack: truncation on each side + round-off."""
    plus = (floss[1] - floss[0]) / eta
    minus = (floss[0] - floss[-1]) / eta
    curvature = max(abs(float(slope[2] - slope[1])), abs(float(slope[-1] - slope[-2]))) / eta
    f_error = F_ULPS * EPS * max(abs(floss[k]) for k in (-1, 0, 1))
    slack = 2 * (eta * curvature / 2 + 2 * f_error / eta)
    return min(plus, minus), max(plus, minus), slack


# -- step-size sweep ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StepSweep:
    """Finite-difference error against step size for one parameter, and the fitted slope."""

    param: str
    scheme: str
    steps: tuple[float, ...]
    errors: tuple[float, ...]  # measured |D(h) − exact|
    truncation: tuple[float, ...]  # the bound's truncation term at each step, C·hⁿ·|f⁽ⁿ⁺¹⁾|
    roundoff: tuple[float, ...]  # the bound's round-off term at each step, R·ε_f/h
    fit_range: tuple[float, float]  # the steps fitted: where truncation dominates round-off 100-fold
    slope: float | None  # None when truncation never dominates round-off (e.g. f is polynomial in param)
    expected: int
    margin: float

    @property
    def ok(self) -> bool:
        return self.slope is None or abs(self.slope - self.expected) <= self.margin

    def summary(self) -> str:
        if self.slope is None:
            return (f"step sweep of {self.param}: no slope to measure (the truncation error stays below "
                    "round-off at every step tried, e.g. f is a low-degree polynomial in it)")
        return (f"step sweep of {self.param}: measured slope {self.slope:.3f} for h in "
                f"[{self.fit_range[0]:.2g}, {self.fit_range[1]:.2g}], expected {self.expected} ± {self.margin}: "
                + ("ok" if self.ok else "NOT ok"))


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
    problem = _Scalar(network, derivation, compiled, names, point, [])
    x = np.array([point[n] for n in names])
    if param is None:
        param = _most_curved(problem, x, sch)
    if param not in names:
        raise InvalidArgument(f"param {param!r} is not a parameter of the network; choose one of {', '.join(names)}")
    k = names.index(param)
    v = np.zeros(len(names))
    v[k] = 1.0
    scale = 2.0 ** round(math.log2(max(1.0, abs(x[k]))))
    steps = tuple(scale * 2.0 ** -e for e in range(3, 41))
    with mpmath.workdps(DIGITS * 3):
        f0, exact0, _ = problem.exact(x)
        eta = default_step(SCHEMES["central"], float(x[k]))
        slope = {0: exact0[k]}
        for j in _STENCIL:
            slope[j] = problem.exact(x + j * eta * v)[1][k]
        derivative = float(_derivatives(slope, eta)[sch.order + 1])
        f_scale = float(abs(f0) + mpmath.fsum(abs(mpmath.mpf(float(xi)) * e) for xi, e in zip(x, exact0)))
        exact = float(exact0[k])
    loss0 = _loss_at(problem, x)[0]
    moved = [(h, o) for h in steps for o in sch.offsets if o != 0]  # every step's stencil in one call
    values = problem.losses(np.array([x + o * h * v for h, o in moved]))[0]
    loss_at = dict(zip(moved, map(float, values)))
    errors = []
    for h in steps:
        losses = {o: (loss0 if o == 0 else loss_at[h, o]) for o in sch.offsets}
        estimate = sum(w * losses[o] for o, w in zip(sch.offsets, sch.weights)) / h
        errors.append(abs(estimate - exact))
    error_f = F_ULPS * EPS * f_scale
    truncation = tuple(truncation_bound(sch, h, derivative) for h in steps)
    roundoff = tuple(roundoff_bound(sch, h, error_f) for h in steps)
    fit = [j for j in range(len(steps)) if truncation[j] > 100 * roundoff[j] and errors[j] > 0]
    if derivative == 0 or len(fit) < 3:
        return StepSweep(param, sch.name, steps, tuple(errors), truncation, roundoff, (0.0, 0.0), None, sch.order,
                         SLOPE_MARGIN)
    fitted = np.polyfit(np.log([steps[j] for j in fit]), np.log([errors[j] for j in fit]), 1)[0]
    return StepSweep(param, sch.name, steps, tuple(errors), truncation, roundoff, (steps[fit[-1]], steps[fit[0]]),
                     float(fitted), sch.order, SLOPE_MARGIN)


def _most_curved(problem: _Scalar, x: np.ndarray, sch: Scheme) -> str:
    """The coordinate (among the first MAX_FULL_GRADCHECK) with the largest truncation derivative."""
    best, best_value = problem.names[0], -1.0
    with mpmath.workdps(DIGITS * 3):
        _, exact0, _ = problem.exact(x)
        for k, name in enumerate(problem.names[:MAX_FULL_GRADCHECK]):
            v = np.zeros(len(x))
            v[k] = 1.0
            eta = default_step(SCHEMES["central"], float(x[k]))
            slope = {0: exact0[k]} | {j: problem.exact(x + j * eta * v)[1][k] for j in _STENCIL}
            value = abs(float(_derivatives(slope, eta)[sch.order + 1]))
            if value > best_value:
                best, best_value = name, value
    return best


def plot_sweep(sweep: StepSweep, path: str | Path) -> Path:
    """Save the sweep as a log-log plot: SVG by symgrad itself, PNG with matplotlib (the plot extra)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise InvalidArgument(f"--plot {path}: the file must end in .svg or .png")
    if suffix == ".png":
        _plot_png(sweep, path)
    else:
        _write(path, _svg(sweep))
    return path


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror}; choose a writable path") from None


def _plot_png(sweep: StepSweep, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependency("a PNG step-sweep plot", extra="plot", module="matplotlib") from None
    fig, ax = plt.subplots(figsize=(6, 4))
    for field, label, colour, dash in _SERIES:
        values = [v if v > 0 else np.nan for v in getattr(sweep, field)]
        ax.loglog(sweep.steps, values, "o-" if not dash else "--", color=colour, label=label, markersize=3)
    ax.set_ylim(bottom=0.1 * min(e for e in sweep.errors if e > 0), top=10 * max(sweep.errors))
    ax.legend(fontsize=7)
    ax.set_xlabel("step h")
    ax.set_ylabel("|finite difference − exact|")
    ax.set_title(sweep.summary(), fontsize=7)
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror}; choose a writable path") from None
    finally:
        plt.close(fig)


_SERIES = (("errors", "measured |D(h) − exact|", "#1f77b4", ""),
           ("truncation", "bound: truncation", "#ff7f0e", "6,4"),
           ("roundoff", "bound: round-off", "#2ca02c", "2,3"))


def _svg(sweep: StepSweep) -> str:
    """A log-log plot of the sweep as a small, dependency-free SVG document."""
    width, height, pad = 640, 420, 60
    xs = [math.log10(h) for h in sweep.steps]
    measured = [math.log10(e) for e in sweep.errors if e > 0] or [-20.0]
    x0, x1, y0, y1 = min(xs), max(xs), math.floor(min(measured)), math.ceil(max(measured))
    y1 = y1 if y1 > y0 else y0 + 1

    def px(x: float, value: float) -> tuple[float, float]:
        y = min(max(math.log10(value) if value > 0 else y0, y0), y1)  # clipped to the frame
        return pad + (x - x0) / (x1 - x0) * (width - 2 * pad), height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" fill="none" '
             'stroke="#999"/>']
    for k, (field, label, colour, dash) in enumerate(_SERIES):
        points = " ".join("%.1f,%.1f" % px(x, value) for x, value in zip(xs, getattr(sweep, field)))
        style = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{style} points="{points}"/>')
        parts.append(f'<line x1="{pad + 10}" y1="{pad + 16 + 16 * k}" x2="{pad + 40}" y2="{pad + 16 + 16 * k}" '
                     f'stroke="{colour}" stroke-width="2"{style}/>')
        parts.append(f'<text x="{pad + 46}" y="{pad + 20 + 16 * k}" font-size="11">{html.escape(label)}</text>')
    for exponent in range(math.ceil(x0), math.floor(x1) + 1, 2):
        X, _ = px(exponent, 10.0 ** y0)
        parts.append(f'<text x="{X:.1f}" y="{height - pad + 18}" font-size="11" text-anchor="middle">1e{exponent}</text>')
    for exponent in range(y0, y1 + 1, max(1, (y1 - y0) // 8)):
        _, Y = px(x0, 10.0 ** exponent)
        parts.append(f'<text x="{pad - 6}" y="{Y + 4:.1f}" font-size="11" text-anchor="end">1e{exponent}</text>')
    parts.append(f'<text x="{width / 2}" y="{height - 12}" font-size="12" text-anchor="middle">step h</text>')
    parts.append(f'<text x="{width / 2}" y="20" font-size="12" text-anchor="middle">{html.escape(sweep.summary())}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
