"""The Hessian of the 4-8-8-8-4 sigmoid network (220 parameters): exact, compiled, and jax.hessian.

Run:  PYTHONPATH=. python tests/benchmarks/bench_second_order.py [--digits N] [--repeat R]

Rows (process CPU seconds and wall seconds; on a shared machine the wall clock can be
several times the CPU time):

- derive: the chain rule and the derivatives of every local factor (``derive_second``);
- exact: ``symgrad.hessian`` certified to ``--digits`` (forward over reverse, one pass per
  parameter, repeated at two working precisions);
- compile: writing and loading ``compile_second_order``'s NumPy module;
- compiled: the 220 × 220 Hessian at one point from it (220 H·v calls), best of ``--repeat``,
  and at 1,000 points at once (the input i1 varied);
- jax.hessian: the same loss written node by node in jax.numpy, jitted, first call (trace and
  compile) and best of ``--repeat`` after.

Agreement is printed beside: the largest |compiled − exact| and |jax − exact|.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import sympy

import symgrad
from symgrad.second_order import derive_second


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _row(label: str, cpu: float, wall: float, note: str = "") -> None:
    print(f"{label:<34} {cpu:9.3f} s CPU {wall:9.3f} s wall  {note}")


def _jax_loss(net):
    import jax.numpy as jnp

    point = {k: float(v) for k, v in net.point().items()}
    params = net.params
    functions = []
    for name, node in net.nodes.items():
        symbols = sorted(node.expr.free_symbols, key=lambda s: s.name)
        f = sympy.lambdify(symbols, node.expr, modules=[{"sigmoid": lambda x: 1 / (1 + jnp.exp(-x))}, jnp])
        functions.append((name, [s.name for s in symbols], f))

    def loss(theta):
        env = dict(point)
        env.update(dict(zip(params, theta)))
        for name, args, f in functions:
            env[name] = f(*[env[a] for a in args])
        return env[net.output]

    return loss, jnp.array([point[p] for p in params], dtype=jnp.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    net = symgrad.mlp([4, 8, 8, 8, 4], activation="sigmoid", loss="mse", bias="neuron", seed=0)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"python {platform.python_version()}, {len(net.params)} parameters")
    d, cpu, wall = _timed(lambda: symgrad.derive(net))
    second, cpu2, wall2 = _timed(lambda: derive_second(d))
    _row("derive + derive_second", cpu + cpu2, wall + wall2)
    exact, cpu, wall = _timed(lambda: symgrad.hessian(d, digits=args.digits))
    reference = exact.array()
    _row(f"exact hessian ({args.digits} digits)", cpu, wall)
    f, cpu, wall = _timed(lambda: symgrad.compile_second_order(d))
    _row("compile_second_order", cpu, wall)
    best = min((_timed(lambda: f.hessian({})) for _ in range(args.repeat)), key=lambda r: r[1])
    _row("compiled hessian", best[1], best[2], f"max |compiled - exact| = {np.abs(best[0][0] - reference).max():.2e}")
    points = np.linspace(-1.0, 1.0, 1000)
    batch = min((_timed(lambda: f.hessian({"i1": points})) for _ in range(args.repeat)), key=lambda r: r[1])
    _row("compiled hessian, 1000 points", batch[1], batch[2], f"shape {batch[0].shape}")
    try:
        import jax
    except ImportError:
        print("jax not installed: no jax.hessian row")
        return
    jax.config.update("jax_enable_x64", True)
    loss, theta = _jax_loss(net)
    hess = jax.jit(jax.hessian(loss))
    first, cpu, wall = _timed(lambda: np.asarray(hess(theta)))
    _row("jax.hessian, first call (jit)", cpu, wall)
    best = min((_timed(lambda: np.asarray(hess(theta))) for _ in range(args.repeat)), key=lambda r: r[1])
    _row("jax.hessian, jitted", best[1], best[2], f"max |jax - exact| = {np.abs(best[0] - reference).max():.2e}")


if __name__ == "__main__":
    main()
