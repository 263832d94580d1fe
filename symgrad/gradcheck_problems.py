"""What gradcheck differentiates: a scalar-form network (exact values exist) or a matrix-form-only one.

Both answer the same question, the compiled float64 losses and gradients at many points in
one call (``losses``); the scalar form also gives the exact loss, gradient and values at a
point, and the complex step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import mpmath
import numpy as np
import sympy

from .arithmetic import mp_value_at
from .chain import derive
from .compile import compile_gradient, compile_network
from .errors import InvalidArgument
from .evaluation import evaluate_gradients
from .gradcheck_exact import ExactProgram, exact_program
from .graph import Network
from .kinks import Kink, kink_arguments
from .limits import GRADCHECK_NETWORKS_KEPT, MAX_GRADCHECK_POINTS
from .precision import FLOAT64_DIGITS, GRADCHECK_DIGITS

__all__ = ["ExactPoint", "ScalarProblem", "MatrixProblem", "matrix_problem", "scalar_problem", "loss_at",
           "MATRIX_BATCH_KEYS"]

_PREPARED: dict = {}  # the network's shape (_shape) -> (derivation, compiled code, kinks, exact program)


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


@dataclass(frozen=True)
class ExactPoint:
    """The exact loss, gradient over the checked coordinates, and every quantity's value, at one point."""

    loss: object  # mpmath.mpf
    gradient: list  # mpmath.mpf per coordinate
    values: dict  # quantity name -> mpmath.mpf for every quantity, or kink argument -> mpmath.mpf


@dataclass(frozen=True)
class ScalarProblem:
    """A network with named scalar leaves: exact values exist."""

    network: Network
    derivation: object
    compiled: object
    names: tuple[str, ...]  # the coordinates: params, or inputs when there are none
    point: dict[str, float]
    kinks: list[Kink]
    program: ExactProgram | None = None  # the exact side as generated gmpy2 code, where it can be written

    def losses(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Compiled losses (P,) and gradients over ``names`` (P, n) at the rows of xs, in one call."""
        loss, grads = _compiled_at(self.compiled, self.point, {n: xs[:, k] for k, n in enumerate(self.names)})
        if set(self.names) <= set(grads):
            return loss, np.stack([grads[n] for n in self.names], axis=1)
        return loss, None  # derivatives by inputs: the compiled code has none

    def exact(self, x: np.ndarray, *, along: np.ndarray | None = None) -> ExactPoint:
        """Exact loss, exact gradient over ``names`` and every value, at float64 point x.

        ``along``: a direction v; only the gradient entries where v is not 0 are then sure to be there.
        """
        if self.program is not None:
            entries = None if along is None else np.flatnonzero(along).tolist()
            fast = self.program.at(self.point | dict(zip(self.names, x.tolist())), along=entries)
            if fast is not None:
                return ExactPoint(*fast)
        at = {k: sympy.Rational(v) for k, v in self.point.items()}
        at |= {n: sympy.Rational(float(v)) for n, v in zip(self.names, x)}
        g = evaluate_gradients(self.derivation, at=at, digits=GRADCHECK_DIGITS)
        grads = g.gradients
        grad = [grads[n] if n in grads else g.adjoints.get(n, mpmath.mpf(0)) for n in self.names]
        return ExactPoint(g.values[self.derivation.output], grad, g.values)

    def complex_step(self, x: np.ndarray, v: np.ndarray, h: float) -> float:
        """Im f(x + i·h·v) / h, every node evaluated in float64-sized complex arithmetic."""
        env = {k: mpmath.mpf(val) for k, val in self.point.items()}
        for n, xi, vi in zip(self.names, x, v):
            env[n] = mpmath.mpc(float(xi), h * float(vi)) if vi else mpmath.mpf(float(xi))
        for name, node in self.network.nodes.items():
            env[name] = mp_value_at(node.expr, env, FLOAT64_DIGITS)
        return float(mpmath.im(env[self.derivation.output])) / h


@dataclass(frozen=True)
class MatrixProblem:
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


def scalar_problem(network: Network, at: Mapping[str, object] | None) -> ScalarProblem:
    """The scalar-form problem at the network's point (``at`` overrides leaves).

    Deriving, compiling and writing the exact side cost more than a small check itself, and a
    campaign checks the same network, or networks of the same shape, at many points: they are
    kept for the last ``limits.GRADCHECK_NETWORKS_KEPT`` shapes (which they keep in memory),
    keyed by what they depend on (the leaves and their kinds, the nodes, the output, the
    constants' values and any data; not the other leaves' values, which every check gives), so a
    new network object of the same shape (``copy.deepcopy``, ``symgrad.load`` again, the same
    ``mlp`` with other weights) reuses them, and a network changed since is prepared again.

    >>> import symgrad
    >>> problem = scalar_problem(symgrad.load("mazur"), {"w1": 0.2})
    >>> problem.names[:2], problem.point["w1"], problem.program is not None
    (('w1', 'w2'), 0.2, True)
    """
    key = _shape(network)
    kept = _PREPARED.get(key)
    if kept is None or _shape(kept[0].network) != key:  # absent, or its network was changed in place since
        derivation = derive(network)
        compiled = compile_gradient(derivation, reduction="none")
        names = tuple(network.params or network.inputs)
        kinks = kink_arguments(network, network.ancestors(network.output))
        arguments = tuple(dict.fromkeys(arg for *_, arg in kinks))
        kept = (derivation, compiled, kinks, exact_program(derivation, names, arguments))
        _PREPARED.pop(key, None)
        _PREPARED[key] = kept
        while len(_PREPARED) > GRADCHECK_NETWORKS_KEPT:
            del _PREPARED[next(iter(_PREPARED))]
    derivation, compiled, kinks, program = kept
    point = {k: float(v) for k, v in network.point(at).items()}
    return ScalarProblem(network, derivation, compiled, tuple(network.params or network.inputs), point, kinks, program)


def _shape(network: Network) -> tuple:
    """What the prepared derivation, compiled code and exact side depend on: everything but the
    values of parameters, inputs and targets (constants are compiled in as literals)."""
    constants = tuple((n, network.values.get(n)) for n, leaf in network.leaves.items() if leaf.kind == "constant")
    return (tuple(network.leaves.items()), tuple(network.nodes.items()), constants, tuple(network.data.items()),
            network._output)


def loss_at(problem: ScalarProblem | MatrixProblem, x: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Compiled loss and gradient at the one point x."""
    losses, grads = problem.losses(x[np.newaxis, :])
    return float(losses[0]), (grads[0] if grads is not None else None)


MATRIX_BATCH_KEYS = ("inputs", "targets", "reduction")  # at= keys of a matrix-form point beside W1, b1, …


def matrix_problem(network: Network, at: Mapping[str, object] | None = None) -> tuple[MatrixProblem, np.ndarray]:
    """The matrix-form problem of an [mlp] network, and its parameters flattened as the point x.

    Without ``at``: mlp's seeded weights, one sample (the network's inputs and targets), the sum
    over it. ``at`` gives any of the parameter arrays by the matrix form's names (``W1``, ``b1``,
    …; the others keep their seeded values), ``inputs`` and ``targets`` (one sample per row, or
    one sample) and ``reduction`` ("sum" or "mean" over the batch).

    >>> import numpy as np, symgrad
    >>> net = symgrad.mlp([2, 1], scalar=False)
    >>> problem, x = matrix_problem(net, {"W1": np.array([[0.5, -1.0]]), "inputs": np.ones((3, 2)),
    ...                                   "targets": np.zeros((3, 1)), "reduction": "mean"})
    >>> problem.names, x.tolist(), problem.inputs.shape
    (('W1[0,0]', 'W1[0,1]', 'b1[0]'), [0.5, -1.0, 0.0], (3, 2))
    """
    at = dict(at or {})
    reduction = at.pop("reduction", "sum")
    if reduction not in ("sum", "mean"):
        raise InvalidArgument(f"at['reduction'] = {reduction!r}: give 'sum' or 'mean' (over the batch's samples)")
    compiled = compile_network(network, form="matrix", reduction=reduction)
    params = compiled.initial_params(network)
    unknown = sorted(set(at) - set(params) - set(MATRIX_BATCH_KEYS), key=str)
    if unknown:
        raise InvalidArgument(f"at names {', '.join(map(repr, unknown))}, which this matrix-form network does not "
                              f"have; give arrays by the names {', '.join(params)} and optionally "
                              f"{', '.join(MATRIX_BATCH_KEYS)}")
    for key in params.keys() & at.keys():
        params[key] = _finite_array(at[key], f"at[{key!r}]", np.shape(params[key]))
    point = network.point()
    inputs = np.array([[float(point[n]) for n in network.inputs]])
    targets = np.array([[float(point[n]) for n in network.targets]])
    if "inputs" in at:
        inputs = _batch_rows(at["inputs"], "at['inputs']", len(network.inputs))
    if "targets" in at:
        targets = _batch_rows(at["targets"], "at['targets']", len(network.targets))
    if len(inputs) != len(targets):
        raise InvalidArgument(f"at gives {len(inputs)} input rows and {len(targets)} target rows; give one target "
                              "row per input row")
    shapes = {k: np.shape(v) for k, v in params.items()}
    names = []
    for key, shape in shapes.items():
        names += [f"{key}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)] if shape else [key]
    x = np.concatenate([np.ravel(params[k]) for k in shapes]).astype(np.float64)
    return MatrixProblem(compiled, tuple(names), shapes, inputs, targets), x


def _finite_array(value: object, what: str, shape: tuple[int, ...] | None) -> np.ndarray:
    """``value`` as a finite float64 array (of ``shape`` where given), or InvalidArgument."""
    try:
        if np.iscomplexobj(value):
            raise TypeError
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} is not an array of real numbers: {str(value)[:60]!r}") from None
    if shape is not None and array.shape != shape:
        raise InvalidArgument(f"{what} has shape {array.shape}; this network's has shape {shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidArgument(f"{what} holds NaN or infinite values; give finite numbers")
    return array


def _batch_rows(value: object, what: str, width: int) -> np.ndarray:
    """A batch as rows of ``width`` numbers: a 2-D array (B, width), or one sample of ``width`` numbers."""
    array = _finite_array(value, what, None)
    if array.ndim == 1 and array.shape == (width,):
        return array.reshape(1, width)
    if array.ndim != 2 or array.shape[1] != width or not len(array):
        raise InvalidArgument(f"{what} has shape {array.shape}; give one sample per row, (B, {width}), or one "
                              f"sample of {width} numbers")
    return array
