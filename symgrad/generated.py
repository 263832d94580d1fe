"""What every generated module shares: the compiled-function object, the module frame, loading.

Both forms (``scalar_code`` for the scalar form, ``matrix_code`` for the matrix form) build a
body of source lines and hand it here; neither imports the other. ``CompiledGradient`` reads the
matrix form's parameter layout from ``symgrad.layout``.

>>> check_reduction("sum", allowed=REDUCTIONS)
'sum'
"""

from __future__ import annotations

import itertools
import linecache
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from .errors import InvalidArgument
from .layout import matrix_params, scalar_gradients
from .threads import free_cores, limited

__all__ = ["CompiledGradient", "PointGradients", "REDUCTIONS", "FORMS", "BACKENDS", "check_reduction",
           "module_source", "load_source"]

#: Reductions over the batch; ``"none"`` keeps one loss and one gradient per point (scalar form).
REDUCTIONS = ("mean", "sum", "none")
FORMS = ("scalar", "matrix")
#: Code generators: NumPy (default, standalone modules) or numba (fused, the ``fast`` extra).
BACKENDS = ("numpy", "numba")
_counter = itertools.count()


def check_reduction(reduction: object, *, allowed: tuple[str, ...] = REDUCTIONS) -> str:
    """``reduction`` itself if it is one of ``allowed``; else ``InvalidArgument`` saying the choices."""
    if not isinstance(reduction, str) or reduction not in allowed:
        raise InvalidArgument(f"reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}")
    return reduction


@dataclass(frozen=True)
class PointGradients:
    """The loss and every parameter's gradient at each of P points (``reduction="none"``).

    ``loss`` has shape (P,); ``gradients`` maps each parameter name to an array of shape (P,).
    """

    loss: np.ndarray
    gradients: dict[str, np.ndarray]


@dataclass(frozen=True)
class CompiledGradient:
    """A compiled ``value_and_grad(params, inputs, targets) -> (loss, grads)``.

    ``params`` maps each name in ``PARAMS`` to an array of its shape; ``inputs`` has shape
    (batch, n_inputs) in the order ``inputs``; ``targets`` (batch, n_targets). With
    ``reduction="none"`` (scalar form) the loss and each gradient are arrays of shape
    (batch,), and ``at`` evaluates at points given leaf by leaf.
    """

    source: str
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    params: dict[str, tuple[int, ...]]
    reduction: str
    form: str
    function: Callable = field(repr=False)
    filename: str = ""
    leaves: tuple[str, ...] = ()  # every leaf ``at`` accepts (reduction "none" only)

    def __call__(self, params, inputs, targets):
        if self.form == "matrix":  # BLAS products: on the free cores only (symgrad.threads), restored after
            with limited(blas=free_cores()):
                return self.function(params, inputs, targets)
        if self.reduction != "none":
            return self.function(params, inputs, targets)
        inputs = np.asarray(inputs, dtype=np.float64)
        targets = np.asarray(targets, dtype=np.float64)
        leaves = dict(params)
        leaves.update({name: inputs[:, k] for k, name in enumerate(self.inputs)})
        leaves.update({name: targets[:, k] for k, name in enumerate(self.targets)})
        result = self.at(leaves, points=inputs.shape[0])
        return result.loss, result.gradients

    def at(self, leaves: Mapping[str, object], *, points: int | None = None) -> PointGradients:
        """Loss and gradients at P points: each leaf a scalar or a 1-D array of P values (broadcast).

        Leaves left out take the network's own values (compiled in). ``points`` fixes P when
        every leaf given is a scalar (default 1).
        """
        if self.reduction != "none":
            raise InvalidArgument(f"at() needs a function compiled with reduction='none', this one has "
                                  f"reduction={self.reduction!r}; compile with compile_gradient(..., reduction='none')")
        unknown = sorted(set(leaves) - set(self.leaves))
        if unknown:
            raise InvalidArgument(f"{unknown[0]!r} is not a leaf of the compiled network; its leaves are "
                                  f"{', '.join(self.leaves)}")
        arrays = {name: np.asarray(value, dtype=np.float64) for name, value in leaves.items()}
        for name, value in arrays.items():
            if value.ndim > 1:
                raise InvalidArgument(f"leaf {name!r} must be a scalar or a 1-D array of points, got shape "
                                      f"{value.shape}")
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays.values()), (points,) if points else (1,))
        except ValueError:
            sizes = {name: a.shape[0] for name, a in arrays.items() if a.ndim}
            raise InvalidArgument(f"the leaves give different numbers of points: {sizes}; give every array the "
                                  "same length P") from None
        full = {**self.function.__globals__["DEFAULTS"], **arrays}
        missing = [name for name in self.leaves if name not in full]
        if missing:
            raise InvalidArgument(f"no value for the leaf {missing[0]!r}; give it in the leaves mapping")
        loss, grads = self.function(full, shape[0])
        return PointGradients(loss, grads)

    def initial_params(self, network) -> dict[str, np.ndarray]:
        """The network's default parameter values in this function's layout."""
        if self.form == "matrix":
            return matrix_params(network)
        return {p: np.float64(float(network.values[p])) for p in self.params}

    def scalar_gradients(self, network, grads: dict) -> dict[str, float]:
        """Gradients by the network's scalar parameter names, whatever the form."""
        if self.form == "matrix":
            return scalar_gradients(network, grads)
        return {p: float(g) for p, g in grads.items()}


def module_source(docstring: str, *, inputs, targets, params: dict, kernels: str, helpers: str, signature: str,
                  body: list[str], constants: dict | None = None) -> str:
    """A standalone module: docstring, layout constants, kernels, helpers, then one function."""
    # Docstrings go through repr(): a spec's description is untrusted text, and repr() always
    # yields one inert string literal, whatever quotes or backslashes it holds.
    lines = [repr(f"{docstring}\n\nGenerated by symgrad; needs only NumPy."), "", "import numpy as np", ""]
    lines.append(f"N_INPUTS = {len(inputs)}")
    lines.append(f"N_TARGETS = {len(targets)}")
    lines.append(f"INPUTS = {tuple(inputs)!r}")
    lines.append(f"TARGETS = {tuple(targets)!r}")
    lines.append("PARAMS = {" + ", ".join(f"{k!r}: {v!r}" for k, v in params.items()) + "}")
    if constants is not None:
        lines.append("DEFAULTS = {" + ", ".join(f"{k!r}: {v}" for k, v in constants.items()) + "}")
    lines.append("")
    for block in (kernels, helpers):
        if block:
            lines += ["", block, ""]
    returns = ("Returns (loss per point (P,), {param name: gradient per point (P,)})." if "points" in signature
               else "Returns (loss, {param name: gradient of the same shape}).")
    lines += ["", f"def {signature}:", f"    {repr(docstring + ' ' + returns)}"]
    lines += [f"    {line}" if line else "" for line in body]
    return "\n".join(lines) + "\n"


def load_source(source: str, tag: str) -> dict:
    """Execute generated source (ours, built from parsed trees) and register it for tracebacks."""
    filename = f"<symgrad-{tag}-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"symgrad_generated_{tag}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated, not user text
    return namespace | {"__file__": filename}
