"""symgrad against the alternatives, every number measured in the same run.

Run:  python tests/benchmarks/bench_gradients.py [--cap SECONDS] [--quick]
(the peers come with: pip install ".[bench]"; each missing one is reported, not fatal)

Part 1, derive + compile: symgrad (chain rule on the graph, then NumPy code) against
(a) naive sympy.diff of the expanded loss + lambdify(cse=True), and (b) the same with
SymEngine (symengine.diff + Lambdify(cse=True, backend='llvm')). Naive runs stop at --cap.

Part 2, one loss-and-gradient evaluation over a batch, float64: symgrad's compiled code
(matrix and scalar form) against a hand-written NumPy backprop, SymEngine's LLVM gradient,
PyTorch autograd (CPU) and jax.jit(jax.grad).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time
import timeit

import numpy as np
import sympy

import symgrad
from symgrad.fitting import compile_network
from symgrad.layout import param_names

SIZES = [[2, 2, 2], [2, 3, 3, 2], [2, 4, 4, 4, 2], [4, 8, 8, 8, 4]]


# -- part 1 ---------------------------------------------------------------------------
def _symgrad_derive_compile(widths):
    net = symgrad.mlp(widths)
    start = time.perf_counter()
    symgrad.compile_gradient(symgrad.derive(net))
    return time.perf_counter() - start


def _naive_sympy(widths, queue):
    net = symgrad.mlp(widths)
    start = time.perf_counter()
    loss = net.expanded(net.output).rewrite(sympy.exp)
    grads = [sympy.diff(loss, net.symbol(p)) for p in net.params]
    sympy.lambdify([net.symbol(n) for n in net.leaves], grads, modules="numpy", cse=True)
    queue.put(time.perf_counter() - start)


def _symengine(widths, queue):
    import symengine as se

    net = symgrad.mlp(widths)
    start = time.perf_counter()
    env = {}
    for name in net.leaves:
        env[name] = se.Symbol(name)
    for name, node in net.nodes.items():
        small = se.sympify(node.expr.rewrite(sympy.exp))
        env[name] = small.subs({se.Symbol(s.name): env[s.name] for s in node.expr.free_symbols})
    loss = env[net.output]
    grads = [se.diff(loss, env[p]) for p in net.params]
    se.Lambdify([env[n] for n in net.leaves], grads, cse=True, backend="llvm")
    queue.put(time.perf_counter() - start)


def _capped(target, widths, cap):
    queue = mp.get_context("fork").Queue()
    proc = mp.get_context("fork").Process(target=target, args=(widths, queue))
    proc.start()
    proc.join(cap)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    return queue.get() if proc.exitcode == 0 and not queue.empty() else float("nan")


def part1(cap: float) -> list[str]:
    try:
        import symengine  # noqa: F401
        have_symengine = True
    except ImportError:
        have_symengine = False
    rows = ["| network | params | symgrad derive+compile | naive SymPy diff+lambdify | ratio | "
            "SymEngine diff+Lambdify(LLVM) | ratio |", "|---|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for widths in SIZES:
        n_params = len(symgrad.mlp(widths).params)
        ours = min(_symgrad_derive_compile(widths) for _ in range(3))
        naive = _capped(_naive_sympy, widths, cap)
        se_time = _capped(_symengine, widths, cap) if have_symengine else float("nan")
        rows.append(f"| {'-'.join(map(str, widths))} | {n_params} | {ours:.3f} s | {_cell(naive, cap)} | "
                    f"{_ratio(naive, ours, cap)} | {_cell(se_time, cap) if have_symengine else 'not installed'} | "
                    f"{_ratio(se_time, ours, cap) if have_symengine else '-'} |")
        print(rows[-1], flush=True)
    return rows


def _cell(t, cap):
    if t is None:
        return f"> {cap:.0f} s (stopped at the cap)"
    return "failed" if t != t else f"{t:.3f} s"


def _ratio(t, ours, cap):
    if t is None:
        return f"> {cap / ours:.0f}×"
    return "-" if t != t else f"{t / ours:.1f}×"


# -- part 2 ---------------------------------------------------------------------------
def _init(widths, seed=0):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(0, 1 / np.sqrt(m), size=(n, m)) for m, n in zip(widths[:-1], widths[1:])]
    bs = [rng.normal(0, 0.1, size=n) for n in widths[1:]]
    return Ws, bs


def _hand_numpy(Ws, bs, X, T):
    """The reference: a hand-written batched backprop, sigmoid layers, E = ½Σ(t − o)² summed."""
    hs = [X.T]
    for W, b in zip(Ws, bs):
        z = W @ hs[-1] + b[:, None]
        hs.append(1 / (1 + np.exp(-z)))
    out = hs[-1]
    loss = 0.5 * np.sum((T.T - out) ** 2)
    delta = (out - T.T) * out * (1 - out)
    gWs, gbs = [], []
    for k in range(len(Ws) - 1, -1, -1):
        gWs.append(delta @ hs[k].T)
        gbs.append(delta.sum(axis=1))
        if k:
            delta = (Ws[k].T @ delta) * hs[k] * (1 - hs[k])
    return loss, gWs[::-1], gbs[::-1]


def _time(fn, repeat=7):
    fn()
    number = 1
    while True:
        t = timeit.timeit(fn, number=number)
        if t > 0.2 or number >= 1000:
            break
        number *= 2
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def _candidates(widths, batch, with_scalar):
    Ws, bs = _init(widths)
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(batch, widths[0]))
    T = rng.uniform(0, 1, size=(batch, widths[-1]))
    net = symgrad.mlp(widths, scalar=with_scalar)  # 784-100-10: matrix form only, no scalar symbols
    out = {"hand-written NumPy": lambda: _hand_numpy(Ws, bs, X, T)}
    ref = _hand_numpy(Ws, bs, X, T)
    matrix = compile_network(net, form="matrix", reduction="sum")
    mparams = {**{f"W{k + 1}": W for k, W in enumerate(Ws)}, **{f"b{k + 1}": b for k, b in enumerate(bs)}}
    _, g = matrix(mparams, X, T)
    assert np.allclose(g["W1"], ref[1][0], rtol=1e-10), "matrix form disagrees with the reference"
    out["symgrad matrix form"] = lambda: matrix(mparams, X, T)
    if with_scalar:
        scalar = compile_network(net, form="scalar", reduction="sum")
        sparams = {}
        for name, value in zip(*_scalar_layout(net, Ws, bs)):
            sparams[name] = value
        _, gs = scalar(sparams, X, T)
        assert np.isclose(gs["w1"], ref[1][0][0, 0], rtol=1e-10), "scalar form disagrees with the reference"
        out["symgrad scalar form"] = lambda: scalar(sparams, X, T)
        se_fn = _symengine_gradient(net, X, T, sparams)
        if se_fn is not None:
            out["SymEngine LLVM"] = se_fn
    torch_fn = _torch(Ws, bs, X, T, ref)
    if torch_fn is not None:
        out["PyTorch autograd (CPU)"] = torch_fn
    jax_fn = _jax(Ws, bs, X, T, ref)
    if jax_fn is not None:
        out["jax.jit(jax.grad)"] = jax_fn
    return out


def _scalar_layout(net, Ws, bs):
    names, values = [], []
    for layer, W, b in zip(param_names(net.structure), Ws, bs):
        for j, row in enumerate(layer.weights):
            for i, name in enumerate(row):
                names.append(name)
                values.append(np.float64(W[j, i]))
        for j, name in enumerate(layer.biases):
            names.append(name)
            values.append(np.float64(b[j]))
    return names, values


def _symengine_gradient(net, X, T, sparams):
    try:
        import symengine as se
    except ImportError:
        return None
    env = {name: se.Symbol(name) for name in net.leaves}
    for name, node in net.nodes.items():
        env[name] = se.sympify(node.expr.rewrite(sympy.exp)).subs(
            {se.Symbol(s.name): env[s.name] for s in node.expr.free_symbols})
    grads = [se.diff(env[net.output], env[p]) for p in net.params]
    args = [env[n] for n in list(net.inputs) + list(net.targets) + list(net.params)]
    fn = se.Lambdify(args, grads, cse=True, backend="llvm")
    P = np.array([sparams[p] for p in net.params])

    def run():
        data = np.hstack([X, T, np.broadcast_to(P, (X.shape[0], len(P)))])
        return fn(data).sum(axis=0)

    return run


def _torch(Ws, bs, X, T, ref):
    try:
        import torch
    except ImportError:
        return None
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    tb = [torch.tensor(b, requires_grad=True) for b in bs]
    tX, tT = torch.tensor(X), torch.tensor(T)

    def run():
        for p in tW + tb:
            p.grad = None
        h = tX
        for W, b in zip(tW, tb):
            h = torch.sigmoid(h @ W.T + b)
        loss = 0.5 * ((tT - h) ** 2).sum()
        loss.backward()
        return loss

    run()
    assert np.allclose(tW[0].grad.numpy(), ref[1][0], rtol=1e-10)
    return run


def _jax(Ws, bs, X, T, ref):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def loss(params, X, T):
        h = X
        for W, b in params:
            h = jax.nn.sigmoid(h @ W.T + b)
        return 0.5 * jnp.sum((T - h) ** 2)

    grad = jax.jit(jax.grad(loss))
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(Ws, bs)]
    jX, jT = jnp.asarray(X), jnp.asarray(T)
    g = grad(params, jX, jT)
    assert np.allclose(np.asarray(g[0][0]), ref[1][0], rtol=1e-10)
    return lambda: jax.block_until_ready(grad(params, jX, jT))


def part2(quick: bool) -> list[str]:
    cases = [([2, 2, 2], 100_000, True), ([784, 100, 10], 128, False), ([784, 100, 10], 4096, False)]
    if quick:
        cases = [([2, 2, 2], 10_000, True), ([784, 100, 10], 128, False)]
    rows = ["| case | implementation | time per evaluation | vs hand-written NumPy |", "|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for widths, batch, with_scalar in cases:
        timings = {name: _time(fn) for name, fn in _candidates(widths, batch, with_scalar).items()}
        base = timings["hand-written NumPy"]
        for name, t in timings.items():
            rows.append(f"| {'-'.join(map(str, widths))}, batch {batch:,} | {name} | {t * 1e3:.3f} ms | "
                        f"{t / base:.2f}× |")
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap", type=float, default=120.0, help="seconds before a naive run is stopped")
    parser.add_argument("--quick", action="store_true", help="small batches, a short cap: a smoke run")
    args = parser.parse_args()
    cap = 10.0 if args.quick else args.cap
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, NumPy {np.__version__}, SymPy {sympy.__version__}")
    print("\nPart 1: derive + compile (seconds; ratio = peer time / symgrad time)\n")
    part1(cap)
    print("\nPart 2: loss and gradient over a batch, float64 (best of 7)\n")
    part2(args.quick)


if __name__ == "__main__":
    main()
