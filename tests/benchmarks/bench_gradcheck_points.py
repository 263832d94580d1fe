"""How long a gradient check takes, and how much of it is spent calling the compiled code.

Run:  python tests/benchmarks/bench_gradcheck_points.py [--repeats N]

Prints one Markdown row per case for docs/performance.md §5: the best of N runs (wall time),
and for that run the time spent inside the compiled code and the number of calls into it.
To compare two versions, run it from each checkout (``PYTHONPATH=. python ...``) back to back.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import time

import numpy as np

import symgrad
from symgrad.cli import main
from symgrad.compile import CompiledGradient

_inside = [0.0, 0]  # seconds inside the compiled code, calls into it


def _timed(method):
    def wrapper(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            _inside[0] += time.perf_counter() - start
            _inside[1] += 1
    return wrapper


def _cli(*argv: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["gradcheck", *argv])
    if status != 0:
        raise SystemExit(f"gradcheck {' '.join(argv)} exited {status}")


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    # a per-point call goes through ``at`` alone; a batch call through ``__call__`` (which may use ``at``)
    CompiledGradient.at = _timed(CompiledGradient.at)
    CompiledGradient.__call__ = _timed(CompiledGradient.__call__)
    mlp = symgrad.mlp([4, 8, 8, 8, 4])
    mazur = symgrad.load("mazur")
    cases = [("`symgrad gradcheck mazur` (10 params, central)", lambda: _cli("mazur")),
             ("`symgrad gradcheck mazur --scheme richardson`", lambda: _cli("mazur", "--scheme", "richardson")),
             ("`symgrad.gradcheck(mlp([4, 8, 8, 8, 4]))` (220 params: 20 sampled + 3 directions)",
              lambda: symgrad.gradcheck(mlp)),
             ("`symgrad.sweep_steps(mazur, param=\"w5\")` (38 steps)", lambda: symgrad.sweep_steps(mazur, param="w5"))]
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}; best of {args.repeats}")
    print("| case | wall (best) | inside compiled code | calls |")
    print("|---|---|---|---|")
    for label, run in cases:
        best = (float("inf"), 0.0, 0)
        for _ in range(args.repeats):
            _inside[:] = [0.0, 0]
            start = time.perf_counter()
            run()
            best = min(best, (time.perf_counter() - start, _inside[0], _inside[1]))
        print(f"| {label} | {best[0]:.2f} s | {best[1] * 1000:.1f} ms | {best[2]} |", flush=True)


if __name__ == "__main__":
    main_bench()
