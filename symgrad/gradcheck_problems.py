"""What gradcheck differentiates: a scalar-form network (exact values exist) or a matrix-form-only one.

Both answer the same question, the compiled float64 losses and gradients at many points in
one call (``losses``); the scalar form also gives the exact loss, gradient and values at a
point, and the complex step.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Mapping

import mpmath
import numpy as np
import sympy

from .arithmetic import mp_value_at
from .chain import derive
from .compile import compile_gradient, compile_network
from .evaluation import evaluate_gradients
from .gradcheck_exact import ExactProgram, exact_program
from .graph import Network
from .kinks import Kink, kink_arguments
from .limits import GRADCHECK_NETWORKS_KEPT, MAX_GRADCHECK_POINTS
from .precision import FLOAT64_DIGITS, GRADCHECK_DIGITS

__all__ = ["ExactPoint", "ScalarProblem", "MatrixProblem", "matrix_problem", "scalar_problem", "loss_at"]

_PREPARED: dict = {}  # (id(network), its fingerprint) -> (weakref to it, derivation, compiled code, kinks, program)


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
    campaign checks the same network at many points: they are kept for the last
    ``limits.GRADCHECK_NETWORKS_KEPT`` networks (which they keep in memory), keyed by the network
    object and everything in it (leaves, values, nodes, output), so a network changed since is
    prepared again.

    >>> import symgrad
    >>> problem = scalar_problem(symgrad.load("mazur"), {"w1": 0.2})
    >>> problem.names[:2], problem.point["w1"], problem.program is not None
    (('w1', 'w2'), 0.2, True)
    """
    key = (id(network), _fingerprint(network))
    kept = _PREPARED.get(key)
    if kept is None or kept[0]() is not network:
        derivation = derive(network)
        compiled = compile_gradient(derivation, reduction="none")
        names = tuple(network.params or network.inputs)
        kinks = kink_arguments(network, network.ancestors(network.output))
        arguments = tuple(dict.fromkeys(arg for *_, arg in kinks))
        kept = (weakref.ref(network), derivation, compiled, kinks, exact_program(derivation, names, arguments))
        _PREPARED[key] = kept
        while len(_PREPARED) > GRADCHECK_NETWORKS_KEPT:
            del _PREPARED[next(iter(_PREPARED))]
    _, derivation, compiled, kinks, program = kept
    point = {k: float(v) for k, v in network.point(at).items()}
    return ScalarProblem(network, derivation, compiled, tuple(network.params or network.inputs), point, kinks, program)


def _fingerprint(network: Network) -> tuple:
    return (tuple(network.leaves.items()), tuple(network.nodes.items()), tuple(network.values.items()),
            tuple(network.data.items()), network._output, network.learning_rate, id(network.structure),
            network.description)


def loss_at(problem: ScalarProblem | MatrixProblem, x: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Compiled loss and gradient at the one point x."""
    losses, grads = problem.losses(x[np.newaxis, :])
    return float(losses[0]), (grads[0] if grads is not None else None)


def matrix_problem(network: Network) -> tuple[MatrixProblem, np.ndarray]:
    """The matrix-form problem of an [mlp] network, and its parameters flattened as the point x."""
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
    return MatrixProblem(compiled, tuple(names), shapes, inputs, targets), x
