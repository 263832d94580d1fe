"""Compile a derivation or a network into fast code: the one place that chooses form and backend.

Two forms and two backends:

* the scalar form (``symgrad.scalar_code``): every node a named array, one ``delta_x`` per
  quantity; any network, and the only form for a derivation given as such;
* the matrix form (``symgrad.matrix_code``): matrix products over the batch, for dense
  networks built by ``mlp`` (the default for them);
* ``backend="numba"`` (the ``fast`` extra) fuses forward and backward into one loop over the
  batch (``symgrad.fused``), or, in the matrix form, keeps BLAS for the products and fuses
  the elementwise work (``symgrad.fused_matrix``).

The source is readable, shown as ``.source``, and registered in ``linecache`` so
tracebacks point into it.

Per-point mode, for gradient checks and property tests (float64, any network):
``f = compile_gradient(derivation, reduction="none")`` gives

* ``f.at(leaves, *, points=None) -> PointGradients``: ``leaves`` maps any leaf name (input,
  target, parameter or constant; missing ones take the network's values) to a float or a 1-D
  array of P values, broadcast together; the result has ``loss`` of shape (P,) and
  ``gradients[p]`` of shape (P,) for every parameter ``p`` of the network.
* ``f(params, inputs, targets) -> (loss, grads)``: the same per sample, unreduced: ``loss``
  of shape (batch,) and each ``grads[p]`` of shape (batch,).

>>> import numpy as np, symgrad
>>> f = compile_gradient(symgrad.derive(symgrad.load("mazur")), reduction="none")
>>> point = f.at({"w5": np.array([0.40, 0.45])})
>>> [round(float(g), 9) for g in point.gradients["w5"]]
[0.082167041, 0.081538033]
"""

from __future__ import annotations

from .chain import Derivation, derive
from .errors import InvalidArgument
from .fused import compile_fused_scalar, fused_source
from .fused_matrix import compile_fused_matrix
from .fused_module import FusedGradient, jit_cost, require_numba
from .generated import BACKENDS, FORMS, REDUCTIONS, CompiledGradient, PointGradients, check_reduction
from .graph import Network
from .layout import MLPStructure
from .limits import FUSED_JIT_MAX_COST, FUSED_SCALAR_MAX_PARAMS, MAX_SCALAR_PARAMS
from .matrix_code import compile_matrix
from .scalar_code import compile_scalar, scalar_source

__all__ = ["CompiledGradient", "PointGradients", "compile_gradient", "compile_network", "choose_form", "fused_form",
           "scalar_source", "REDUCTIONS", "BACKENDS"]


def choose_form(network: Network, form: str | None, *, derived: bool = False) -> str:
    """The form to compile: ``form`` if given; else matrix for dense ``mlp`` networks not yet derived."""
    if form is not None:
        if form not in FORMS:
            raise InvalidArgument(f"form must be one of {', '.join(map(repr, FORMS))}, got {form!r}")
        return form
    if not derived and _dense(network):
        return "matrix"
    return "scalar"


def _dense(network: Network) -> bool:
    """Built by ``mlp`` without maxout: the matrix form covers it."""
    structure = network.structure
    return isinstance(structure, MLPStructure) and structure.activation != "maxout"


def _subject(what: object) -> tuple[Network, Derivation | None]:
    """The network to compile, and the derivation when one was given."""
    if isinstance(what, Derivation):
        return what.network, what
    if isinstance(what, Network):
        return what, None
    raise InvalidArgument(f"compile_gradient needs a Derivation or a Network, got {type(what).__name__}")


def compile_gradient(what: Derivation | Network, *, form: str | None = None,
                     reduction: str = "mean", backend: str = "numpy") -> CompiledGradient:
    """Compile a derivation (scalar form, the derivation used as given) or a network into NumPy.

    A network built by ``mlp`` compiles to the matrix form by default (``form="scalar"`` to
    name every weight); any other network is derived, then compiled in the scalar form.
    ``reduction`` is "mean" or "sum" over the batch, or "none" (scalar form) for one loss and
    gradient per point; see the module docstring. ``backend="numba"`` fuses forward and backward
    into one loop over the batch (``symgrad.fused``, the ``fast`` extra).

    >>> import symgrad
    >>> f = symgrad.compile_gradient(symgrad.derive(symgrad.load("mazur")), reduction="sum")
    >>> loss, grads = f(f.initial_params(symgrad.load("mazur")), [[0.05, 0.10]], [[0.01, 0.99]])
    >>> round(grads["w5"], 9)
    0.082167041
    """
    if backend not in BACKENDS:
        raise InvalidArgument(f"backend must be 'numpy' or 'numba', got {backend!r}")
    if backend == "numba":
        return compile_fused(what, form=form, reduction=reduction)
    network, derivation = _subject(what)
    form = choose_form(network, form, derived=derivation is not None)
    check_reduction(reduction, allowed=REDUCTIONS if form == "scalar" else ("mean", "sum"))
    if form == "matrix":
        if derivation is not None and derivation.output != network.output:
            raise InvalidArgument(f"the matrix form computes the network's loss {network.output!r}, but the "
                                  f"derivation is for {derivation.output!r}; use form='scalar'")
        return compile_matrix(network, reduction=reduction)
    return compile_scalar(derivation if derivation is not None else derive(network), reduction=reduction)


def compile_fused(what: Derivation | Network, *, form: str | None = None, reduction: str = "mean") -> FusedGradient:
    """``compile_gradient(..., backend="numba")``: the numba backend (``symgrad.fused``).

    The form is ``fused_form``'s: the scalar form (row by row, the scalar form's lines) for a
    derivation and for small networks, where it is the fast one; ``symgrad.fused_matrix``
    (BLAS products with fused elementwise passes) for ``form="matrix"``, for a dense network
    too large for scalar names, and for one with more than ``limits.FUSED_SCALAR_MAX_PARAMS``
    parameters, whose one long row function would take the JIT tens of seconds on a cold cache.
    With no ``form``, a scalar form whose row would cost numba's JIT more than
    ``limits.FUSED_JIT_MAX_COST`` (a hand-written graph, a softmax cross-entropy ``mlp``, a
    derivation) is compiled with NumPy instead (the same values, vectorised over the batch):
    the result says so in ``backend == "numpy"`` and ``note``; ``form="scalar"`` forces numba.
    ``reduction`` is "mean" or "sum".
    """
    require_numba()
    network, derivation = _subject(what)
    if form is not None:
        choose_form(network, form, derived=derivation is not None)  # validates the value
    check_reduction(reduction, allowed=("mean", "sum"))
    if fused_form(what, form) == "matrix":
        if not _dense(network):
            raise InvalidArgument("the matrix form needs a dense network built by mlp() or an [mlp] spec (without "
                                  "maxout); use form='scalar'")
        return compile_fused_matrix(network, reduction=reduction)
    if not network.params and network.structure is not None:
        raise InvalidArgument(f"this network has more than {MAX_SCALAR_PARAMS:,} parameters, so it is built in matrix "
                              "form only, without scalar names; compile it with form='matrix'")
    return compile_fused_scalar(derivation if derivation is not None else derive(network), reduction=reduction,
                                max_cost=FUSED_JIT_MAX_COST if form is None else None)


def fused_form(what: Derivation | Network, form: str | None = None) -> str:
    """The form ``backend="numba"`` compiles ``what`` in: ``form`` if given, else chosen by size.

    The matrix form for a dense network (``mlp``, a per-output loss) with more than
    ``limits.FUSED_SCALAR_MAX_PARAMS`` parameters, or none with a scalar name, or whose scalar
    row would cost numba's JIT more than ``limits.FUSED_JIT_MAX_COST`` (``fused_module.jit_cost``);
    the scalar form otherwise, and always for a derivation (used as given). The scalar form's
    row function grows with the network and numba's JIT with it (about 0.75 ms of CPU per
    unit of cost on a cold cache); the matrix form's kernels do not grow with the layers'
    widths. A scalar form whose row costs more than ``FUSED_JIT_MAX_COST`` is compiled with
    NumPy instead, unless ``form="scalar"`` was asked for (``compile_fused``).

    >>> import symgrad
    >>> fused_form(symgrad.mlp([2, 2, 2])), fused_form(symgrad.mlp([4, 8, 8, 8, 4]))
    ('scalar', 'matrix')
    """
    network = what.network if isinstance(what, Derivation) else what
    if form is not None:
        return form
    if not network.params and network.structure is not None:
        return "matrix"
    if not isinstance(what, Network) or not _dense(network) or network.structure.loss == "softmax_cross_entropy":
        return "scalar"
    if len(network.params) > FUSED_SCALAR_MAX_PARAMS or jit_cost(fused_source(derive(network))) > FUSED_JIT_MAX_COST:
        return "matrix"
    return "scalar"


def compile_network(network: Network, *, form: str | None = None, reduction: str = "mean",
                    backend: str = "numpy") -> CompiledGradient:
    """``compile_gradient`` for a network: the matrix form by default for networks built by ``mlp``."""
    return compile_gradient(network, form=form, reduction=reduction, backend=backend)
