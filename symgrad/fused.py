"""The fused backend: numba code that runs forward and backward for one batch row at a time.

NumPy materialises every elementwise temporary over the whole batch; on small networks that
memory traffic is the whole cost. The fused module instead loops over the rows, keeps every
node, local factor and δ of a row in registers, and adds the row's loss and gradient terms
into sums. Rows go ``LANES`` (``limits.FUSED_LANES``) at a time, one row per SIMD lane: each
lane has its own sums, so LLVM vectorises the loop without reordering any addition, and
``exp`` is ``fused_kernels.fast_exp`` (no library call, within 1 ulp of ``np.exp``). The batch
is cut into a fixed number of chunks (``CHUNKS``), run in parallel with ``prange`` once rows ×
points reach ``limits.FUSED_PARALLEL_ROWS`` (below that, threads cost more than they save),
and lane sums and chunk sums are added in a fixed order, so the result does not depend on the
number of threads. It can differ from the NumPy module by a few ulps: a·b + c may be one fused
multiply-add (``fastmath={"contract"}``, nothing else).

Many parameter points per call: ``value_and_grad_many(theta, inputs, targets)`` takes a stack
of P parameter vectors (P × params, columns in ``PARAM_ORDER``) and returns P losses and a
P × params gradient matrix; ``FusedGradient.many`` is its keyword-friendly wrapper.

The per-row code is the scalar form's own lines (``symgrad.rowcode``): the same stable
rewrites, the same adjoint terms; the kernels are ``symgrad.fused_kernels``. Generated
modules are written to a cache directory and compiled with numba's ``cache=True`` (when
imported under their file's name, see ``IMPORTS``), so a second process loads the machine
code from disk instead of running the JIT again.

>>> import symgrad
>>> source = fused_source(symgrad.derive(symgrad.load("mazur")))
>>> "prange" in source and "from numba import njit, prange" in source
True
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import sympy

from . import fused_kernels
from .chain import Derivation, derive
from .codegen import Names, NumpyPrinter
from .compile import choose_form
from .errors import InvalidArgument, MissingDependency
from .generated import CompiledGradient, check_reduction
from .graph import Network
from .layout import MLPStructure
from .limits import FUSED_CHUNK_ROWS, FUSED_CHUNKS, FUSED_LANES, FUSED_PARALLEL_ROWS, MAX_SCALAR_PARAMS
from .rowcode import RowWriter, adjoint_lines, constant_literal, delta_term, forward_lines, joined, local_factor_lines

__all__ = ["FusedGradient", "StackedGradients", "compile_fused", "fused_source", "require_numba", "cache_dir",
           "BACKENDS"]

#: Code generators for ``compile_gradient(..., backend=...)``: NumPy (default, standalone) or numba (fused).
BACKENDS = ("numpy", "numba")

_KERNELS = {name: obj for name, obj in vars(fused_kernels).items() if inspect.isfunction(obj)}
#: Names the fused module uses for itself (its kernels' among them), on top of ``codegen.RESERVED``.
_FUSED_RESERVED = {"njit", "prange", "intrinsic", "ir", "types", "os", "CACHE", "theta", "scratch", "lane",
                   "base", "width", "n_points", "chunks", "size", "part_loss", "part_grad", "job", "q", "c", "k", "batch",
                   "value_and_grad_many", "value_and_grad", "chunk_sums", "add_chunks", "run_serial",
                   "run_parallel", "run", "start", "stop", "stack", "shape", "name", "LANES", "CHUNKS",
                   "N_PARAMS", "N_INPUTS", "N_TARGETS", "CHUNK_ROWS", "PARAM_ORDER", "PARALLEL_ROWS", *_KERNELS}
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
        loss, grads = self.stack(theta, _rows(inputs, len(self.inputs)), _rows(targets, len(self.targets)))
        return StackedGradients(loss, {p: grads[:, k].copy() for k, p in enumerate(order)})


def _rows(values, width: int) -> np.ndarray:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != width:
        raise InvalidArgument(f"expected a (batch, {width}) array, got shape {array.shape}")
    return array


def compile_fused(what: Derivation | Network, *, form: str | None = None, reduction: str = "mean") -> FusedGradient:
    """Compile a derivation or a network with the numba backend (see the module docstring).

    The scalar form (row by row, the scalar form's lines) is the default whenever the network
    has scalar parameters: on small layers it is the fast one. ``form="matrix"``, and a dense
    network too large for scalar names, get ``symgrad.fused_matrix``: BLAS products with fused
    elementwise passes. ``reduction`` is "mean" or "sum".
    """
    require_numba()
    derived = isinstance(what, Derivation)
    if not derived and not isinstance(what, Network):
        raise InvalidArgument(f"compile_gradient needs a Derivation or a Network, got {type(what).__name__}")
    network = what.network if derived else what
    if form is not None:
        choose_form(network, form, derived=derived)  # validates the value
    check_reduction(reduction, allowed=("mean", "sum"))
    if form == "matrix" or (form is None and not network.params and network.structure is not None):
        if not isinstance(network.structure, MLPStructure) or network.structure.activation == "maxout":
            raise InvalidArgument("the matrix form needs a dense network built by mlp() or an [mlp] spec (without "
                                  "maxout); use form='scalar'")
        from .fused_matrix import fused_matrix_source

        source, layout = fused_matrix_source(network, reduction=reduction)
        module = load_module(source)
        return FusedGradient(source, layout["inputs"], layout["targets"], layout["params"], reduction, "matrix",
                             module.value_and_grad, module.__file__)
    if not network.params and network.structure is not None:
        raise InvalidArgument(f"this network has more than {MAX_SCALAR_PARAMS:,} parameters, so it is built in matrix "
                              "form only, without scalar names; compile it with form='matrix'")
    derivation = what if derived else derive(network)
    source = fused_source(derivation, reduction=reduction)
    module = load_module(source)
    params = {p: () for p in network.params}
    return FusedGradient(source, tuple(network.inputs), tuple(network.targets), params, reduction, "scalar",
                         module.value_and_grad, module.__file__, tuple(network.leaves),
                         stack=module.value_and_grad_many)


class FusedPrinter(NumpyPrinter):
    """NumPy's printer, with ``exp`` through ``fast_exp`` (``fused_kernels``) so rows vectorise."""

    def print(self, expr: sympy.Expr) -> str:
        if expr.func is sympy.exp:
            self.kernels.add("fast_exp")
            return f"fast_exp({self.print(expr.args[0])})"
        return super().print(expr)


def fused_source(derivation: Derivation, *, reduction: str = "mean") -> str:
    """The source of a fused numba module for ``derivation``: ``value_and_grad`` and ``value_and_grad_many``."""
    check_reduction(reduction, allowed=("mean", "sum"))
    net = derivation.network
    names = Names(reserved=_FUSED_RESERVED)
    w = RowWriter(derivation, names, FusedPrinter(names))
    order = tuple(net.params)
    # Everything a row needs, in the order the row computes it.
    forward = forward_lines(w)
    local, factor_lines = local_factor_lines(w)
    unit, delta_lines = adjoint_lines(w, local)
    sum_lines = []
    for k, p in enumerate(order):
        adj = derivation.adjoints.get(p)
        if adj is not None:
            terms = [delta_term(w, local[t.consumer, p], t.consumer, p, unit) for t in adj.terms]
            sum_lines.append(f"scratch[{k + 1}, lane] += {joined(terms)}")

    # chunk_sums: one parameter point, one chunk of rows. The rows go LANES at a time: each
    # block's inputs are copied into columns (scratch[row, lane]), then one loop over the lanes
    # computes a row per lane, every value in registers, and adds the row's loss and gradient
    # terms into that lane's sums. The lanes are independent, so LLVM runs them in SIMD
    # registers without reassociating anything; the lane sums are added in a fixed order.
    chunk = [f"{names.get(p)} = theta[q, {k}]" for k, p in enumerate(order)]
    chunk += [f"{names.get(n)} = {constant_literal(net, n)}" for n, leaf in net.leaves.items()
              if leaf.kind == "constant"]
    # One scratch array for the lane sums and the block's inputs and targets: accesses to one
    # array at constant offsets need no run-time alias checks, which LLVM gives up on (and with
    # them on vectorising) once a network has a few dozen parameters.
    first_input, first_target = len(order) + 1, len(order) + 1 + len(net.inputs)
    chunk += [f"scratch = np.zeros(({first_target + len(net.targets)}, LANES))  "
              "# row 0: the loss; 1 + k: gradient k; then inputs, targets",
              "for base in range(start, stop, LANES):", "    width = min(LANES, stop - base)",
              "    for lane in range(width):"]
    chunk += [f"        scratch[{first_input + k}, lane] = inputs[base + lane, {k}]" for k in range(len(net.inputs))]
    chunk += [f"        scratch[{first_target + k}, lane] = targets[base + lane, {k}]"
              for k in range(len(net.targets))]
    if not net.inputs and not net.targets:
        chunk.append("        pass")
    chunk.append("    for lane in range(width):")
    row = [f"{names.get(n)} = scratch[{first_input + k}, lane]" for k, n in enumerate(net.inputs)]
    row += [f"{names.get(n)} = scratch[{first_target + k}, lane]" for k, n in enumerate(net.targets)]
    row += ["# forward pass", *forward, f"scratch[0, lane] += {names.get(derivation.output)}",
            "# backward pass: delta_x = sum over consumers c of delta_c * dc/dx", *factor_lines, *delta_lines,
            *sum_lines]
    chunk += [f"        {line}" for line in row]
    chunk += ["for lane in range(LANES):", "    part_loss[q, c] += scratch[0, lane]", "    for k in range(N_PARAMS):",
              "        part_grad[q, c, k] += scratch[k + 1, lane]"]
    scale = "1.0 / batch" if reduction == "mean" else "1.0"

    def driver(loop: str) -> list[str]:
        # chunks depend on the batch alone (never on the thread count), so the sums' order does too
        return ["n_points = theta.shape[0]", "batch = inputs.shape[0]",
                "chunks = max(1, min(CHUNKS, batch // CHUNK_ROWS))",
                "size = (batch + chunks - 1) // chunks", "part_loss = np.zeros((n_points, chunks))",
                "part_grad = np.zeros((n_points, chunks, N_PARAMS))", f"for job in {loop}(n_points * chunks):",
                "    q = job // chunks", "    c = job % chunks",
                "    chunk_sums(theta, inputs, targets, q, c, c * size, min(batch, (c + 1) * size), part_loss, "
                "part_grad)",
                f"return add_chunks(part_loss, part_grad, {scale})"]

    doc = (f"Loss and gradients of {derivation.output!r} for the network: {net.description or 'a symgrad network'}; "
           f"{reduction} over the batch (fused, numba).")
    lines = [repr(f"{doc}\n\nGenerated by symgrad; needs NumPy and numba (pip install \"symgrad[fast]\")."), "",
             *IMPORTS, ""]
    lines += [f"N_INPUTS = {len(net.inputs)}", f"N_TARGETS = {len(net.targets)}",
              f"INPUTS = {tuple(net.inputs)!r}", f"TARGETS = {tuple(net.targets)!r}",
              "PARAMS = {" + ", ".join(f"{p!r}: ()" for p in order) + "}", f"PARAM_ORDER = {order!r}",
              f"N_PARAMS = {len(order)}", f"CHUNKS = {FUSED_CHUNKS}", f"CHUNK_ROWS = {FUSED_CHUNK_ROWS}",
              f"LANES = {FUSED_LANES}",
              f"PARALLEL_ROWS = {FUSED_PARALLEL_ROWS}", ""]
    lines += kernel_lines(w.printer.kernels)
    lines += ["", f"@{JIT}", "def chunk_sums(theta, inputs, targets, q, c, start, stop, part_loss, part_grad):",
              "    'Loss and gradient sums of rows start..stop at parameter point q, into chunk c.'"]
    lines += [f"    {line}" for line in chunk]
    lines += ["", "", f"@{JIT}", "def add_chunks(part_loss, part_grad, scale):",
              "    'Chunk sums added in a fixed order: the result does not depend on the thread count.'",
              "    n_points, chunks = part_loss.shape", "    loss = np.zeros(n_points)",
              "    grads = np.zeros((n_points, N_PARAMS))", "    for q in range(n_points):",
              "        for c in range(chunks):", "            loss[q] += part_loss[q, c]",
              "            for k in range(N_PARAMS):", "                grads[q, k] += part_grad[q, c, k]",
              "    return loss * scale, grads * scale"]
    for name, loop, jit in (("run_serial", "range", JIT), ("run_parallel", "prange", JIT_PARALLEL)):
        lines += ["", "", f"@{jit}", f"def {name}(theta, inputs, targets):"]
        lines += [f"    {line}" for line in driver(loop)]
    lines += ["", "", "def value_and_grad_many(theta, inputs, targets):",
              f"    {repr(doc + ' theta is (P, N_PARAMS) in PARAM_ORDER; returns (loss (P,), grads (P, N_PARAMS)).')}",
              "    theta = np.ascontiguousarray(np.atleast_2d(np.asarray(theta, dtype=np.float64)))",
              "    inputs = np.ascontiguousarray(inputs, dtype=np.float64)",
              "    targets = np.ascontiguousarray(targets, dtype=np.float64)",
              "    # threads pay only for long loops; below that their start-up costs more than they save",
              "    run = run_parallel if theta.shape[0] * inputs.shape[0] >= PARALLEL_ROWS else run_serial",
              "    return run(theta, inputs, targets)"]
    lines += ["", "", "def value_and_grad(params, inputs, targets):",
              f"    {repr(doc + ' Returns (loss, {param name: gradient}).')}",
              "    theta = np.array([[float(params[name]) for name in PARAM_ORDER]], dtype=np.float64)",
              "    inputs = np.ascontiguousarray(np.atleast_2d(np.asarray(inputs, dtype=np.float64)))",
              "    targets = np.ascontiguousarray(targets, dtype=np.float64).reshape(inputs.shape[0], N_TARGETS)",
              "    loss, grads = value_and_grad_many(theta, inputs, targets)",
              "    return float(loss[0]), {name: float(grads[0, k]) for k, name in enumerate(PARAM_ORDER)}"]
    return "\n".join(lines) + "\n"


def kernel_lines(wanted: set[str]) -> list[str]:
    """Source lines defining the kernels named (and those they call) in a generated module, under numba."""
    lines = []
    for name, source in _kernel_sources(wanted):
        if name in INTRINSIC_SOURCE:
            lines += ["", INTRINSIC_SOURCE[name], ""]
            continue
        # numba cannot inline a function with *args; LLVM still inlines those calls most of the time
        variadic = inspect.getfullargspec(_KERNELS[name]).varargs is not None
        lines += ["", f"@{JIT if variadic else JIT_KERNEL}", source, ""]
    return lines


def _calls(name: str, other: str) -> bool:
    return re.search(rf"\b{other}\(", inspect.getsource(_KERNELS[name])) is not None


def _kernel_sources(wanted: set[str]) -> list[tuple[str, str]]:
    """(name, source) of the kernels named and those they call, callees first (numba resolves them at definition)."""
    needed = set(wanted)
    changed = True
    while changed:
        changed = False
        for name in list(needed):
            for other in set(_KERNELS) - needed:
                if _calls(name, other):
                    needed.add(other)
                    changed = True
    ordered: list[str] = []
    while len(ordered) < len(needed):  # callees first; names break ties, so the order is stable
        ready = sorted(n for n in needed - set(ordered) if not any(_calls(n, o) for o in needed - set(ordered) - {n}))
        ordered += ready
    return [(n, inspect.getsource(_KERNELS[n]).strip()) for n in ordered]


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
