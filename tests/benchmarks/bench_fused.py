"""The fused (numba) backend against NumPy, PyTorch and JAX, every number measured in the same run.

Run:  python tests/benchmarks/bench_fused.py [--quick]
(needs numba: pip install ".[fast]"; the peers come with pip install ".[bench]", each optional)

Part 1, one loss-and-gradient evaluation over a batch, float64, sigmoid layers, ½Σ(t − o)²
summed: hand-written NumPy (the reference every result is checked against), symgrad's
NumPy matrix form, its fused matrix form (BLAS products, numba elementwise passes), symgrad's
fused scalar form on one thread and on every thread, PyTorch autograd (CPU) and
jax.jit(jax.grad).

Part 2, many parameter points: P = 2·(number of parameters) points in one ``many`` call
against P Python-level calls.

Part 3 (alone: ``--cold``), derive + compile + first call with the fused backend's default
choice (``symgrad.compile.fused_form`` and ``limits.FUSED_JIT_MAX_COST``) of mlps from 2-2-2
to 784-100-10, a hand-written chain of 12 sigmoids and a softmax cross-entropy 4-8-8-8-4, at
100 rows and (numba's threads: the prange loop's JIT too) 20,000; and, where the default
changed, ``form="scalar"`` (what it was before). Each in a fresh process: with empty cache
directories (``SYMGRAD_CACHE_DIR`` and ``NUMBA_CACHE_DIR``; the JIT runs), then again
(machine code read from disk).

``--dgemm``: the machine's DGEMM rate on 1 and 2 BLAS threads, and the two products that are
98 % of a 784-100-10 value_and_grad at batch 4,096.

``--busy``: part 1 four times, peers included: on the machine as it is, while every core
but one runs a spinner process (``while True: pass``), with as many copies of part 1
running at once as there are cores (the ``pytest -n auto`` case; the slower copy's time is
shown), and those copies again with the campaign settings of docs/performance.md §7 (one
thread for OpenMP, BLAS and XLA: ``CAMPAIGN_SETTINGS``). One table, the four times side by
side; then each implementation's minor page faults
per call in the quiet run (``resource.getrusage``: fresh zeroed pages, which the NumPy matrix
form made on every call before it evaluated the batch in chunks, ``matrix_code.chunk_rows``).
``--no-peers`` leaves PyTorch and JAX out: importing either raises glibc malloc's thresholds
for the whole process (``PEERS``), so only without them do the NumPy forms run as in a fresh
user process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

# numba's default threading layer (OpenMP here), the one users get: its threads start a
# parallel loop in microseconds, where the workqueue layer took about a millisecond (measured:
# no speed-up at all for 1 ms of work). OpenMP threads spin for a moment after each loop, so
# the peers are timed first (see part1): whatever spins then slows symgrad, not them.

import numpy as np  # noqa: E402

import symgrad  # noqa: E402
import symgrad.fused  # noqa: E402
import symgrad.limits  # noqa: E402
from symgrad.fitting import compile_network  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gradients import _hand_numpy, _init, _jax, _scalar_layout, _time, _torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
#: ``--no-peers``: leave PyTorch and JAX out. Importing either raises glibc malloc's mmap and
#: trim thresholds for the whole process, as freeing any 4–32 MB block does (measured: a
#: 4-8-8-8-4 NumPy matrix form at batch 10,000 unchunked made 1,843 minor page faults per call
#: and took 5.0 ms in a fresh process, 0 and 1.25 ms once torch or jax was imported), so
#: without them the NumPy forms run as in a fresh user process.
PEERS = {"on": True}


def _case(widths, batch, numba):
    Ws, bs = _init(widths)
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(batch, widths[0]))
    T = rng.uniform(0, 1, size=(batch, widths[-1]))
    ref = _hand_numpy(Ws, bs, X, T)
    out = {"hand-written NumPy": lambda: _hand_numpy(Ws, bs, X, T)}
    scalar = sum(m * n + n for m, n in zip(widths[:-1], widths[1:])) <= symgrad.limits.MAX_SCALAR_PARAMS
    net = symgrad.mlp(widths, scalar=scalar)
    matrix = compile_network(net, form="matrix", reduction="sum")
    mparams = {**{f"W{k + 1}": W for k, W in enumerate(Ws)}, **{f"b{k + 1}": b for k, b in enumerate(bs)}}
    assert np.allclose(matrix(mparams, X, T)[1]["W1"], ref[1][0], rtol=1e-10)
    out["symgrad NumPy matrix form"] = lambda: matrix(mparams, X, T)
    fused_matrix = compile_network(net, form="matrix", reduction="sum", backend="numba")
    fused_matrix(mparams, X, T)  # the JIT, or the disk cache
    assert np.allclose(fused_matrix(mparams, X, T)[1]["W1"], ref[1][0], rtol=1e-10)
    out["symgrad fused matrix form (BLAS + numba elementwise)"] = lambda: fused_matrix(mparams, X, T)
    jit_seconds = None
    if scalar:
        import time

        start = time.perf_counter()
        fused = compile_network(net, form="scalar", reduction="sum", backend="numba")
        sparams = dict(zip(*_scalar_layout(net, Ws, bs)))
        theta = np.array([[sparams[p] for p in fused.params]])
        serial = fused.function.__globals__["run_serial"]
        parallel = fused.function.__globals__["run_parallel"]
        serial(theta, X, T)
        parallel(theta, X, T)
        jit_seconds = time.perf_counter() - start
        loss, g = fused(sparams, X, T)
        assert np.isclose(g["w1"], ref[1][0][0, 0], rtol=1e-10) and np.isclose(loss, ref[0], rtol=1e-12)
        out["symgrad fused, 1 thread"] = lambda: serial(theta, X, T)
        out["symgrad fused, prange on every thread (no choice)"] = lambda: parallel(theta, X, T)
        out["**symgrad fused, threads from the free cores**"] = lambda: fused(sparams, X, T)
    for name, make in (("PyTorch autograd (CPU)", _torch), ("jax.jit(jax.grad)", _jax)) if PEERS["on"] else ():
        fn = make(Ws, bs, X, T, ref)
        if fn is not None:
            out[name] = fn
    return out, jit_seconds


def _page_faults(fn, calls: int = 20) -> float:
    """Minor page faults per call (fresh zeroed pages from the kernel), after a few warm-up calls."""
    for _ in range(3):
        fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def measure_part1(quick: bool, numba, faults: dict | None = None) -> list[tuple[str, str, float]]:
    """(case, implementation, seconds per evaluation), the peers timed first in each case;
    ``faults``, if given, gets each one's minor page faults per call."""
    cases = [([2, 2, 2], 100_000), ([4, 8, 8, 8, 4], 10_000), ([784, 100, 10], 128), ([784, 100, 10], 4096)]
    if quick:
        cases = [([2, 2, 2], 10_000), ([784, 100, 10], 128)]
    rows = []
    for widths, batch in cases:
        candidates, _ = _case(widths, batch, numba)
        peers = ("PyTorch autograd (CPU)", "jax.jit(jax.grad)")
        order = [n for n in candidates if n in peers] + [n for n in candidates if n not in peers]
        measured = {name: _time(candidates[name]) for name in order}
        label = f"{'-'.join(map(str, widths))}, batch {batch:,}"
        if faults is not None:
            faults.update({(label, name): _page_faults(candidates[name]) for name in candidates})
        rows += [(label, name, measured[name]) for name in candidates]
    return rows


def part1(quick: bool, numba) -> None:
    print("| case | implementation | time per evaluation | vs hand-written NumPy | vs JAX | vs PyTorch |")
    print("|---|---|---|---|---|---|")
    rows = measure_part1(quick, numba)
    for label in dict.fromkeys(r[0] for r in rows):
        timings = {name: t for case, name, t in rows if case == label}
        base, jax_t, torch_t = (timings.get(k) for k in ("hand-written NumPy", "jax.jit(jax.grad)",
                                                          "PyTorch autograd (CPU)"))
        for name, t in timings.items():
            vs_jax = f"{t / jax_t:.2f}×" if jax_t else "-"
            vs_torch = f"{t / torch_t:.2f}×" if torch_t else "-"
            print(f"| {label} | {name} | {t * 1e3:.3f} ms | {t / base:.2f}× | {vs_jax} | {vs_torch} |", flush=True)


def busy(quick: bool, numba) -> None:
    """Part 1 quiet, beside cores − 1 spinners, and as cores copies at once: one table."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    faults: dict = {}
    quiet = measure_part1(quick, numba, faults)
    print(f"quiet run done (load average {os.getloadavg()[0]:.1f})", flush=True)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores - 1)]
    try:
        spun = measure_part1(quick, numba)
    finally:
        for p in spinners:
            p.kill()
    print(f"spinner run done ({cores - 1} spinners)", flush=True)
    copy = _copies(quick, cores, quiet, {})
    print(f"copies run done ({cores} copies)", flush=True)
    settled = _copies(quick, cores, quiet, CAMPAIGN_SETTINGS)
    print(f"copies run with the campaign settings done ({cores} copies)\n", flush=True)
    print(f"| case | implementation | quiet | {cores - 1} spinner(s) | {cores} copies at once (slower copy) "
          f"| {cores} copies, campaign settings | spinners vs quiet | copies vs quiet | copies with settings vs quiet "
          "| spinners vs JAX / PyTorch | copies vs JAX / PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    spin = {(c, n): t for c, n, t in spun}
    for label, name, t_quiet in quiet:
        cells = []
        for times in (spin, copy):
            peers = [times.get((label, p)) for p in ("jax.jit(jax.grad)", "PyTorch autograd (CPU)")]
            cells.append(" / ".join(f"{times[label, name] / p:.2f}×" if p else "-" for p in peers))
        t_spin, t_copy, t_set = spin[label, name], copy[label, name], settled[label, name]
        print(f"| {label} | {name} | {t_quiet * 1e3:.3f} ms | {t_spin * 1e3:.3f} ms | {t_copy * 1e3:.3f} ms "
              f"| {t_set * 1e3:.3f} ms | {t_spin / t_quiet:.2f}× | {t_copy / t_quiet:.2f}× | {t_set / t_quiet:.2f}× "
              f"| {cells[0]} | {cells[1]} |", flush=True)
    print("\nMinor page faults per call in the quiet run (fresh zeroed pages the kernel hands out: the work two "
          "copies contend for)\n\n| case | implementation | page faults per call |\n|---|---|---|")
    for label, name, _ in quiet:
        print(f"| {label} | {name} | {faults[label, name]:,.0f} |")


# docs/performance.md §7's advice for test campaigns: one thread for everything that is not symgrad's own
CAMPAIGN_SETTINGS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def _copies(quick: bool, cores: int, quiet, settings: dict) -> dict:
    """Part 1 in ``cores`` processes at once, with ``settings`` in their environment: the slower copy's times."""
    command = [sys.executable, __file__, "--part1-json"] + (["--quick"] if quick else []) + \
        ([] if PEERS["on"] else ["--no-peers"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), **settings}
    copies = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) for _ in range(cores)]
    outputs = [json.loads(c.communicate()[0].strip().splitlines()[-1]) for c in copies]
    return {(c, n): max(t for out in outputs for c2, n2, t in out if (c2, n2) == (c, n)) for c, n, _ in quiet}


def part2() -> None:
    print("| case | implementation | time | vs one `many` call |")
    print("|---|---|---|---|")
    for batch in (1, 1_000):
        _many(batch)


def _many(batch: int) -> None:
    widths = [2, 2, 2]
    net = symgrad.mlp(widths)
    Ws, bs = _init(widths)
    rng = np.random.default_rng(2)
    X, T = rng.uniform(-1, 1, size=(batch, 2)), rng.uniform(0, 1, size=(batch, 2))
    d = symgrad.derive(net)
    fused = symgrad.compile_gradient(d, reduction="sum", backend="numba")
    plain = symgrad.compile_gradient(d, reduction="sum")
    base = dict(zip(*_scalar_layout(net, Ws, bs)))
    P = 2 * len(net.params)
    stack = {p: np.full(P, v) for p, v in base.items()}
    for k, p in enumerate(net.params):
        stack[p][2 * k] += 1e-4
        stack[p][2 * k + 1] -= 1e-4
    points = [{p: float(stack[p][k]) for p in net.params} for k in range(P)]
    many = fused.many(stack, X, T)
    for k in (0, P - 1):
        assert np.isclose(many.gradients["w1"][k], plain(points[k], X, T)[1]["w1"], rtol=1e-12)
    t_many = _time(lambda: fused.many(stack, X, T))
    t_fused = _time(lambda: [fused(pt, X, T) for pt in points])
    t_numpy = _time(lambda: [plain(pt, X, T) for pt in points])
    print(f"| 2-2-2, batch {batch:,}, P = {P} points | one fused `many` call | {t_many * 1e3:.3f} ms | 1.00× |")
    print(f"| | P fused calls | {t_fused * 1e3:.3f} ms | {t_fused / t_many:.1f}× |")
    print(f"| | P NumPy scalar-form calls | {t_numpy * 1e3:.3f} ms | {t_numpy / t_many:.1f}× |", flush=True)


_FIRST_CALL = """
import os, sys, time
start = time.perf_counter()
import numba
imported = time.perf_counter()
import numpy as np, symgrad
from symgrad.fitting import compile_network
kind, shape, form, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if kind == "chain":  # a hand-written graph: x through n sigmoid units, a weight and a bias each
    n = int(shape)
    params = [f"{k}{i}" for i in range(1, n + 1) for k in ("w", "b")]
    nodes = ['a1 = "w1*x + b1"', 'f1 = "sigmoid(a1)"']
    nodes += [line for i in range(2, n + 1) for line in (f'a{i} = "w{i}*f{i - 1} + b{i}"', f'f{i} = "sigmoid(a{i})"')]
    net = symgrad.loads("\\n".join(['output = "L"', "[symbols]", 'inputs = ["x"]', 'targets = ["y"]',
                                    "params = [" + ", ".join(f'"{p}"' for p in params) + "]", "[values]", "x = 0.5",
                                    "y = 0.8", *(f"{p} = 0.1" for p in params), "[nodes]", *nodes,
                                    f'L = "1/2*(y - f{n})**2"']))
else:
    widths = [int(w) for w in shape.split("-")]
    net = symgrad.mlp(widths, scalar=sum(a * b + b for a, b in zip(widths, widths[1:])) <= 5000,
                      **({"loss": "softmax_cross_entropy", "output_activation": "identity"} if kind == "sce" else {}))
ready = time.perf_counter()
f = compile_network(net, backend="numba", form=None if form == "default" else form)
compiled, cpu = time.perf_counter(), time.process_time()
f(f.initial_params(net), np.zeros((batch, len(net.inputs))), np.zeros((batch, len(net.targets))))
called, cpu = time.perf_counter(), time.process_time() - cpu
print(f"{f.form}/{f.backend}", imported - start, compiled - ready, called - compiled, cpu,
      time.perf_counter() - start, sum(os.times()[:2]))
"""

#: (kind, shape, form, batch): the default form's networks, and what the default was before
#: limits.FUSED_JIT_MAX_COST (form="scalar": numba's JIT of the whole row) where it changed.
COLD_NETWORKS = (("mlp", "2-2-2", "default", 100), ("mlp", "2-2-2", "default", 20_000),
                 ("mlp", "3-4-2", "default", 100), ("mlp", "3-4-2", "default", 20_000),
                 ("mlp", "3-4-2", "scalar", 100), ("mlp", "3-4-2", "scalar", 20_000),
                 ("mlp", "3-4-3", "default", 100), ("mlp", "3-4-3", "scalar", 100),
                 ("chain", "4", "default", 20_000),
                 ("chain", "12", "default", 100), ("chain", "12", "scalar", 100),
                 ("sce", "4-8-8-8-4", "default", 100),
                 ("mlp", "4-8-8-8-4", "default", 100), ("mlp", "20-50-50-10", "default", 100),
                 ("mlp", "784-100-10", "default", 100))


def part3() -> None:
    """Derive + compile + first call of each network with its default numba form, cold and warm caches."""
    print("| network | rows | cache | form/backend | import numba | derive + write module | "
          "first call (JIT or load), wall / CPU | whole process, wall / CPU |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, shape, form, batch in COLD_NETWORKS:
        label = {"mlp": shape, "sce": f"{shape} softmax CE", "chain": f"chain of {shape} sigmoids"}[kind]
        label += "" if form == "default" else f" (form={form!r}: before)"
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "PYTHONPATH": str(ROOT), "SYMGRAD_CACHE_DIR": cache, "NUMBA_CACHE_DIR": cache}
            for cached in ("cold", "warm"):
                run = subprocess.run([sys.executable, "-c", _FIRST_CALL, kind, shape, form, str(batch)], env=env,
                                     capture_output=True, text=True, check=True)
                chosen, *numbers = run.stdout.split()
                a, b, c, c_cpu, wall, cpu = map(float, numbers)
                print(f"| {label} | {batch:,} | {cached} | {chosen} | {a:.2f} s | {b:.3f} s | "
                      f"{c:.2f} s / {c_cpu:.2f} s | {wall:.1f} s / {cpu:.1f} s |", flush=True)
        print(f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)


def dgemm() -> None:
    """784-100-10 at batch 4,096: the machine's DGEMM rate and the two products that are 98 % of the flops."""
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    batch = 4096
    a, b = rng.random((1024, 1024)), rng.random((1024, 1024))
    w1, inputs, delta1 = rng.random((100, 784)), rng.random((batch, 784)), rng.random((100, batch))
    flops = 2 * 100 * 784 * batch
    print(f"one value_and_grad: {2 * flops + 3 * 2 * 10 * 100 * batch:,} flops; W1 h0 and delta1 h0^T are "
          f"{flops:,} each")
    print("| BLAS threads | square 1,024 DGEMM | W1 @ inputs.T | delta1 @ inputs |")
    print("|---|---|---|---|")
    for threads in (1, 2):
        with threadpool_limits(threads, "blas"):
            sq = _time(lambda: a @ b)
            t1, t2 = _time(lambda: w1 @ inputs.T), _time(lambda: delta1 @ inputs)
        print(f"| {threads} | {2 * 1024 ** 3 / sq / 1e9:.1f} GFLOP/s | {t1 * 1e3:.2f} ms ({flops / t1 / 1e9:.1f} "
              f"GFLOP/s) | {t2 * 1e3:.2f} ms ({flops / t2 / 1e9:.1f} GFLOP/s) |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small batches: a smoke run")
    parser.add_argument("--busy", action="store_true", help="part 1 quiet, beside spinners, and as many copies")
    parser.add_argument("--cold", action="store_true", help="part 3 only: cold and warm first calls")
    parser.add_argument("--dgemm", action="store_true", help="784-100-10's two big products against DGEMM")
    parser.add_argument("--no-peers", action="store_true", help="leave out PyTorch and JAX (a plain process's malloc)")
    parser.add_argument("--part1-json", action="store_true", help=argparse.SUPPRESS)  # one copy of --busy
    args = parser.parse_args()
    PEERS["on"] = not args.no_peers
    numba = symgrad.fused.require_numba()
    if args.part1_json:
        print(json.dumps(measure_part1(args.quick, numba)))
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, NumPy {np.__version__}, numba {numba.__version__} "
          f"(threading layer chosen at first parallel call), load average {os.getloadavg()[0]:.1f}")
    if args.cold or args.dgemm:
        part3() if args.cold else dgemm()
        return
    if args.busy:
        print("\nPart 1 quiet and busy (best of 7 means of >= 0.2 s of calls)\n")
        busy(args.quick, numba)
        return
    print("\nPart 3: derive + compile + first call, default numba form, each in a fresh process\n")
    part3()
    print("\nPart 2: many parameter points in one call (best of 7)\n")
    part2()
    print("\nPart 1: loss and gradient over a batch, float64 (best of 7)\n")
    part1(args.quick, numba)
    print(f"\nthreading layer: {numba.threading_layer()}; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
