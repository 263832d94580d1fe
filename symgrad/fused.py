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
imported under their file's name; ``symgrad.fused_module`` holds what every fused module
shares), so a second process loads the machine code from disk instead of running the JIT
again.

numba's JIT of the row function is the price: on a cold cache about 1 s plus 0.75 ms of CPU
per unit of ``fused_module.jit_cost``. ``compile_fused_scalar(..., max_cost=...)`` (what
``backend="numba"`` passes unless ``form="scalar"`` is asked for) compiles a row costing more
in the NumPy scalar form instead, and says so (``backend == "numpy"``, ``note``).

>>> import symgrad
>>> source = fused_source(symgrad.derive(symgrad.load("mazur")))
>>> "prange" in source and "from numba import njit, prange" in source
True
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .chain import Derivation
from .codegen import Names
from .fused_module import (IMPORTS, JIT, JIT_PARALLEL, FusedGradient, FusedPrinter, StackedGradients, KERNELS,
                           cache_dir, jit_cost, kernel_lines, load_module, require_numba)
from .generated import check_reduction
from .limits import FUSED_CHUNK_ROWS, FUSED_CHUNKS, FUSED_LANES, FUSED_PARALLEL_ROWS
from .scalar_code import compile_scalar
from .rowcode import RowWriter, adjoint_lines, constant_literal, delta_term, forward_lines, joined, local_factor_lines

# FusedGradient … JIT are re-exported: they lived here before fused_module.py held them.
__all__ = ["compile_fused_scalar", "fused_source", "FusedGradient", "StackedGradients", "require_numba", "cache_dir",
           "load_module", "kernel_lines", "IMPORTS", "JIT"]

#: Names the fused module uses for itself (its kernels' among them), on top of ``codegen.RESERVED``.
_FUSED_RESERVED = {"njit", "prange", "intrinsic", "ir", "types", "os", "CACHE", "theta", "scratch", "lane",
                   "base", "width", "n_points", "chunks", "size", "part_loss", "part_grad", "job", "q", "c", "k", "batch",
                   "value_and_grad_many", "value_and_grad", "chunk_sums", "add_chunks", "run_serial", "jobs_parallel",
                   "run_parallel", "run", "start", "stop", "stack", "shape", "name", "LANES", "CHUNKS",
                   "N_PARAMS", "N_INPUTS", "N_TARGETS", "CHUNK_ROWS", "PARAM_ORDER", "PARALLEL_ROWS", *KERNELS}


def compile_fused_scalar(derivation: Derivation, *, reduction: str = "mean",
                         max_cost: int | None = None) -> FusedGradient:
    """Compile ``derivation`` row by row with numba (the module docstring) and load it.

    With ``max_cost``, a row whose JIT would cost more (``fused_module.jit_cost``) is compiled
    in the NumPy scalar form instead: ``backend == "numpy"``, the reason in ``note``.
    """
    network = derivation.network
    source = fused_source(derivation, reduction=reduction)
    cost = jit_cost(source)
    if max_cost is not None and cost > max_cost:
        return _numpy_scalar(derivation, reduction, cost, max_cost)
    module = load_module(source)
    params = {p: () for p in network.params}
    return FusedGradient(source, tuple(network.inputs), tuple(network.targets), params, reduction, "scalar",
                         module.value_and_grad, module.__file__, tuple(network.leaves),
                         stack=module.value_and_grad_many)


def _numpy_scalar(derivation: Derivation, reduction: str, cost: int, max_cost: int) -> FusedGradient:
    """The NumPy scalar form (vectorised over the batch), with ``many`` as one call per parameter point."""
    plain = compile_scalar(derivation, reduction=reduction)
    note = (f"NumPy scalar form: numba's JIT of this row would cost {cost:,} > {max_cost:,} "
            "(limits.FUSED_JIT_MAX_COST: it would pass 5 s on a cold cache); form='scalar' (--form scalar) "
            "compiles it with numba all the same")
    return FusedGradient(plain.source, plain.inputs, plain.targets, plain.params, reduction, "scalar", plain.function,
                         plain.filename, plain.leaves, stack=partial(_points_one_by_one, plain.function,
                                                                     tuple(plain.params)),
                         backend="numpy", note=note)


def _points_one_by_one(function, order: tuple[str, ...], theta: np.ndarray, inputs: np.ndarray,
                       targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``value_and_grad_many`` of the NumPy scalar form: each parameter point (a row of theta) in turn."""
    loss, grads = np.empty(len(theta)), np.empty((len(theta), len(order)))
    for q, point in enumerate(theta):
        loss[q], by_name = function(dict(zip(order, map(float, point))), inputs, targets)
        grads[q] = [by_name[p] for p in order]
    return loss, grads


def fused_source(derivation: Derivation, *, reduction: str = "mean") -> str:
    """The source of a fused numba module for ``derivation``: ``value_and_grad`` and ``value_and_grad_many``."""
    check_reduction(reduction, allowed=("mean", "sum"))
    net = derivation.network
    names = Names(reserved=_FUSED_RESERVED)
    w = RowWriter(derivation, names, FusedPrinter(names))
    order = tuple(net.params)
    chunk = _chunk_lines(w, order)
    scale = "1.0 / batch" if reduction == "mean" else "1.0"
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
    # numba's parallel compile (parfor) is kept to the prange loop alone: measured, it costs about
    # 0.5-0.9 s less of a cold first call on 20,000 rows than with the driver's arrays inside it
    lines += ["", "", f"@{JIT_PARALLEL}",
              "def jobs_parallel(theta, inputs, targets, chunks, size, part_loss, part_grad):",
              "    'Every (parameter point, chunk) job on numba threads: each writes its own sums.'",
              "    batch = inputs.shape[0]"]
    lines += [f"    {line}" for line in _jobs("prange")]
    for name, parallel in (("run_serial", False), ("run_parallel", True)):
        lines += ["", "", f"@{JIT}", f"def {name}(theta, inputs, targets):"]
        lines += [f"    {line}" for line in _driver(parallel, scale)]
    return "\n".join(lines + _entry_points(doc)) + "\n"


def _chunk_lines(w: RowWriter, order: tuple[str, ...]) -> list[str]:
    """The body of ``chunk_sums``: one parameter point, one chunk of rows.

    The rows go LANES at a time: each block's inputs are copied into columns (scratch[row,
    lane]), then one loop over the lanes computes a row per lane, every value in registers,
    and adds the row's loss and gradient terms into that lane's sums. The lanes are
    independent, so LLVM runs them in SIMD registers without reassociating anything; the lane
    sums are added in a fixed order.
    """
    net, names = w.derivation.network, w.names
    computed = _row_lines(w, order)  # first: names are given out in the order the row computes them
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
    chunk += [f"        {line}" for line in row + computed]
    return chunk + ["for lane in range(LANES):", "    part_loss[q, c] += scratch[0, lane]",
                    "    for k in range(N_PARAMS):", "        part_grad[q, c, k] += scratch[k + 1, lane]"]


def _row_lines(w: RowWriter, order: tuple[str, ...]) -> list[str]:
    """One row's forward and backward pass, its loss and gradient terms added to its lane's sums."""
    derivation = w.derivation
    forward = forward_lines(w)
    local, factor_lines = local_factor_lines(w)
    unit, delta_lines = adjoint_lines(w, local)
    sum_lines = []
    for k, p in enumerate(order):
        adj = derivation.adjoints.get(p)
        if adj is not None:
            terms = [delta_term(w, local[t.consumer, p], t.consumer, p, unit) for t in adj.terms]
            sum_lines.append(f"scratch[{k + 1}, lane] += {joined(terms)}")
    return ["# forward pass", *forward, f"scratch[0, lane] += {w.names.get(derivation.output)}",
            "# backward pass: delta_x = sum over consumers c of delta_c * dc/dx", *factor_lines, *delta_lines,
            *sum_lines]


def _driver(parallel: bool, scale: str) -> list[str]:
    """The body of ``run_serial``/``run_parallel``: every (parameter point, chunk) job, then the sums."""
    # chunks depend on the batch alone (never on the thread count), so the sums' order does too
    jobs = (["jobs_parallel(theta, inputs, targets, chunks, size, part_loss, part_grad)"] if parallel
            else _jobs("range"))
    return ["n_points = theta.shape[0]", "batch = inputs.shape[0]",
            "chunks = max(1, min(CHUNKS, batch // CHUNK_ROWS))",
            "size = (batch + chunks - 1) // chunks", "part_loss = np.zeros((n_points, chunks))",
            "part_grad = np.zeros((n_points, chunks, N_PARAMS))", *jobs,
            f"return add_chunks(part_loss, part_grad, {scale})"]


def _jobs(loop: str) -> list[str]:
    """The loop over every (parameter point, chunk) job, with ``range`` or numba's ``prange``."""
    return [f"for job in {loop}(part_loss.shape[0] * chunks):", "    q = job // chunks", "    c = job % chunks",
            "    chunk_sums(theta, inputs, targets, q, c, c * size, min(batch, (c + 1) * size), part_loss, "
            "part_grad)"]


def _entry_points(doc: str) -> list[str]:
    """``value_and_grad_many`` (a stack of parameter points) and ``value_and_grad`` (one), in plain Python."""
    lines = ["", "", "def value_and_grad_many(theta, inputs, targets):",
             f"    {repr(doc + ' theta is (P, N_PARAMS) in PARAM_ORDER; returns (loss (P,), grads (P, N_PARAMS)).')}",
             "    theta = np.ascontiguousarray(np.atleast_2d(np.asarray(theta, dtype=np.float64)))",
             "    inputs = np.ascontiguousarray(inputs, dtype=np.float64)",
             "    targets = np.ascontiguousarray(targets, dtype=np.float64)",
             "    # threads pay only for long loops; below that their start-up costs more than they save",
             "    run = run_parallel if theta.shape[0] * inputs.shape[0] >= PARALLEL_ROWS else run_serial",
             "    return run(theta, inputs, targets)"]
    return lines + ["", "", "def value_and_grad(params, inputs, targets):",
                    f"    {repr(doc + ' Returns (loss, {param name: gradient}).')}",
                    "    theta = np.array([[float(params[name]) for name in PARAM_ORDER]], dtype=np.float64)",
                    "    inputs = np.ascontiguousarray(np.atleast_2d(np.asarray(inputs, dtype=np.float64)))",
                    "    targets = np.ascontiguousarray(targets, dtype=np.float64).reshape(inputs.shape[0], N_TARGETS)",
                    "    loss, grads = value_and_grad_many(theta, inputs, targets)",
                    "    return float(loss[0]), {name: float(grads[0, k]) for k, name in enumerate(PARAM_ORDER)}"]
