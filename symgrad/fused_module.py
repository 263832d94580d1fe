"""What every fused (numba) module shares: its imports and decorators, its kernels, loading it.

``fused.py`` (the scalar form, row by row) and ``fused_matrix.py`` (the matrix form) write
different code around the same pieces: the ``IMPORTS`` at the top of a generated module, the
``njit`` decorators (``JIT``…), the kernels of ``fused_kernels`` a module calls and the
kernels they call (``kernel_lines``), the printer that routes ``exp`` through ``fast_exp``,
and ``load_module``, which writes the source to the cache directory once and imports it so
numba's disk cache finds the machine code again. ``FusedGradient`` is what both return.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import sympy

from . import fused_kernels
from .codegen import NumpyPrinter, kernel_closure, kernel_text
from .errors import InvalidArgument, MissingDependency
from .generated import CompiledGradient
from .threads import free_cores, limited, threads_for

__all__ = ["FusedGradient", "StackedGradients", "FusedPrinter", "require_numba", "cache_dir", "load_module",
           "kernel_lines", "jit_cost", "KERNELS", "IMPORTS", "JIT", "JIT_PARALLEL", "JIT_KERNEL", "INTRINSIC_SOURCE"]

#: The kernels a fused module may copy in, by name.
KERNELS = {name: obj for name, obj in vars(fused_kernels).items() if inspect.isfunction(obj)}
# error_model="numpy": x/0 is IEEE inf, not a raised error, so divisions vectorise. fastmath
# "contract" only: a·b + c may become one fused multiply-add (one rounding instead of two);
# nothing is reassociated, so every sum keeps the order the source gives it.
JIT = 'njit(cache=CACHE, error_model="numpy", fastmath={"contract"})'
JIT_PARALLEL = 'njit(cache=CACHE, error_model="numpy", fastmath={"contract"}, parallel=True)'
# Kernels are inlined into the row loop by numba itself, so LLVM sees one loop body to vectorise
# (left to LLVM's own inliner, it vectorised the 2-2-2 loop at some lane counts and not others).
JIT_KERNEL = 'njit(cache=CACHE, error_model="numpy", fastmath={"contract"}, inline="always")'
# numba's disk cache records the name of the module it compiled, and fails to load (raising
# ModuleNotFoundError) when the same file is later imported under another name. So a module
# caches only under the name its file gives it (``import grad`` for grad.py); loaded under any
# other name (importlib with a made-up name) it compiles afresh and leaves the cache alone.
IMPORTS = ("import os", "import numpy as np", "from llvmlite import ir", "from numba import njit, prange, types",
           "from numba.extending import intrinsic", "",
           "CACHE = __name__.rpartition('.')[2] == os.path.splitext(os.path.basename(__file__))[0]")
# The bit casts of fused_kernels.fast_exp, as numba intrinsics: one LLVM bitcast, free in SIMD.
INTRINSIC_SOURCE = {
    "double_from_bits": """@intrinsic
def double_from_bits(typingctx, bits):
    'The float64 whose IEEE bits are the int64 bits.'
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen""",
    "bits_from_double": """@intrinsic
def bits_from_double(typingctx, x):
    'The IEEE bits of the float64 x, as an int64.'
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen""",
}



def require_numba():
    """The numba module, or ``MissingDependency`` with the install command."""
    try:
        import numba
    except ImportError:
        raise MissingDependency("the numba backend", extra="fast", module="numba") from None
    return numba


def cache_dir() -> Path:
    """Where fused modules and their machine code live: $SYMGRAD_CACHE_DIR, else ~/.cache/symgrad/fused."""
    base = os.environ.get("SYMGRAD_CACHE_DIR")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "symgrad" / "fused"


@dataclass(frozen=True)
class StackedGradients:
    """Loss and gradients at P parameter points: ``loss`` of shape (P,), each gradient (P,)."""

    loss: np.ndarray
    gradients: dict[str, np.ndarray]


@dataclass(frozen=True)
class FusedGradient(CompiledGradient):
    """A ``CompiledGradient`` from the numba backend, with ``many`` for stacks of parameter points."""

    stack: Callable | None = field(default=None, repr=False)
    backend: str = "numba"
    note: str = ""  # why the backend is not numba, when it is not (``symgrad.fused``: the JIT's cost)

    def __call__(self, params, inputs, targets):
        """``value_and_grad`` on the threads that are free (``symgrad.threads``), restored after the call."""
        if self.backend == "numpy":  # the NumPy scalar form, taken instead of a JIT too long to wait for
            return self.function(params, inputs, targets)
        if self.form == "matrix":  # BLAS products; the numba passes run on one thread
            with limited(blas=free_cores()):
                return self.function(params, inputs, targets)
        with limited(numba_threads=threads_for(_batch(inputs))):
            return self.function(params, inputs, targets)

    def many(self, params: Mapping[str, object], inputs, targets) -> StackedGradients:
        """Loss and gradients at P parameter points in one call: each parameter a scalar or P values.

        Every parameter of ``params`` is broadcast to P points; the batch (``inputs``,
        ``targets``) is the same at every point.
        """
        if self.stack is None:
            raise InvalidArgument("many parameter points per call need the scalar form: compile with form='scalar'")
        order = tuple(self.params)
        unknown = sorted(set(params) - set(order))
        if unknown:
            raise InvalidArgument(f"{unknown[0]!r} is not a parameter of the compiled network; its parameters are "
                                  f"{', '.join(order)}")
        missing = [p for p in order if p not in params]
        if missing:
            raise InvalidArgument(f"no value for the parameter {missing[0]!r}; give every parameter, as a scalar "
                                  "or an array of P points")
        arrays = [np.asarray(params[p], dtype=np.float64) for p in order]
        for p, a in zip(order, arrays):
            if a.ndim > 1:
                raise InvalidArgument(f"parameter {p!r} must be a scalar or a 1-D array of P points, got shape "
                                      f"{a.shape}")
        try:
            points = np.broadcast_shapes(*(a.shape for a in arrays), (1,))[0]
        except ValueError:
            sizes = {p: a.shape[0] for p, a in zip(order, arrays) if a.ndim}
            raise InvalidArgument(f"the parameters give different numbers of points: {sizes}; give every array "
                                  "the same length P") from None
        theta = np.empty((points, len(order)))
        for k, a in enumerate(arrays):
            theta[:, k] = a
        inputs, targets = _rows(inputs, len(self.inputs)), _rows(targets, len(self.targets))
        with limited(numba_threads=threads_for(points * len(inputs))):
            loss, grads = self.stack(theta, inputs, targets)
        return StackedGradients(loss, {p: grads[:, k].copy() for k, p in enumerate(order)})


def _batch(inputs) -> int:
    """Rows in a batch of inputs (one for a single sample given as a flat list)."""
    shape = np.shape(inputs)
    return shape[0] if len(shape) >= 2 else 1


def _rows(values, width: int) -> np.ndarray:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != width:
        raise InvalidArgument(f"expected a (batch, {width}) array, got shape {array.shape}")
    return array


class FusedPrinter(NumpyPrinter):
    """NumPy's printer, with ``exp`` through ``fast_exp`` (``fused_kernels``) so rows vectorise."""

    def print(self, expr: sympy.Expr) -> str:
        if expr.func is sympy.exp:
            self.kernels.add("fast_exp")
            return f"fast_exp({self.print(expr.args[0])})"
        return super().print(expr)


def kernel_lines(wanted: set[str]) -> list[str]:
    """Source lines defining the kernels named (and those they call) in a generated module, under numba."""
    lines = []
    for name in kernel_closure(KERNELS, wanted):  # callees first: numba resolves calls at definition
        source = kernel_text(KERNELS[name]).strip()
        if name in INTRINSIC_SOURCE:
            lines += ["", INTRINSIC_SOURCE[name], ""]
            continue
        # numba cannot inline a function with *args; LLVM still inlines those calls most of the time
        variadic = inspect.getfullargspec(KERNELS[name]).varargs is not None
        lines += ["", f"@{JIT if variadic else JIT_KERNEL}", source, ""]
    return lines


def jit_cost(source: str, function: str = "chunk_sums") -> int:
    """What numba's JIT of ``function`` in a generated module costs: syntax-tree nodes, kernels inlined.

    Each node of the function counts one, and each call of a kernel numba inlines
    (``inline="always"``) counts that kernel's own cost again, since numba types and lowers the
    kernel's body anew at every call. A deterministic measure of the cold compile: numba's time
    grows with it (docs/performance.md §6), on any machine.
    """
    functions = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    inlined = {node.name for node in functions if any("inline" in ast.unparse(d) for d in node.decorator_list)}
    costs: dict[str, int] = {}  # in source order: callees come before their callers
    for node in functions:
        costs[node.name] = sum(_node_cost(n, costs, inlined) for n in ast.walk(node))
    return costs[function]


def _node_cost(node: ast.AST, costs: dict[str, int], inlined: set[str]) -> int:
    """One, plus the callee's cost for a call of a kernel numba inlines."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in inlined:
        return 1 + costs[node.func.id]
    return 1


def load_module(source: str):
    """Write ``source`` to the cache directory (once per distinct source) and import it.

    The file name is the source's hash and an existing file is never rewritten, so numba's
    on-disk cache (keyed by file and timestamp) stays valid across processes.
    """
    numba = require_numba()
    digest = hashlib.sha256(f"{numba.__version__}\n{source}".encode()).hexdigest()[:24]
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"symgrad_fused_{digest}.py"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(source, encoding="utf-8")
        os.replace(partial, path)
    spec = importlib.util.spec_from_file_location(f"symgrad_fused_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    # numba's disk cache finds the module again by name when it loads the machine code.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
