"""How long `symgrad gradcheck` takes, end to end (load, derive or compile, check), per network.

Run:  python tests/benchmarks/bench_gradcheck.py [--repeats N]

Prints one Markdown row per case for docs/performance.md: the best of N runs of the CLI's
own entry point (`symgrad.cli.main`), output discarded. The 784-100-10 network exists in
matrix form only, so it is checked by the default sample of 20 coordinates plus 3 random
directions against finite differences of the compiled code.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import tempfile
import time

import numpy as np

from symgrad.cli import main

MLP_784 = """description = "784-100-10 sigmoid MLP (matrix form only)"
[mlp]
widths = [784, 100, 10]
"""

CASES = [
    ("mazur (2-2-2, 10 params), central", ["mazur"]),
    ("mazur, complex step", ["mazur", "--scheme", "complex"]),
    ("mlp_3_4_2 (26 params), central", ["mlp_3_4_2"]),
    ("784-100-10 [mlp] (79,510 params), default sample", ["{spec}"]),
]


def _time(argv: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(["gradcheck", *argv])
        best = min(best, time.perf_counter() - start)
        if status != 0:
            raise SystemExit(f"gradcheck {' '.join(argv)} exited {status}")
    return best


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        spec = os.path.join(folder, "mlp_784_100_10.toml")
        with open(spec, "w", encoding="utf-8") as handle:
            handle.write(MLP_784)
        print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"NumPy {np.__version__}; best of {args.repeats}")
        print("| case | symgrad gradcheck (best) |")
        print("|---|---|")
        for label, argv in CASES:
            seconds = _time([a.format(spec=spec) for a in argv], args.repeats)
            print(f"| {label} | {seconds:.2f} s |")


if __name__ == "__main__":
    main_bench()
