"""Record every built-in example's `symgrad gradcheck` output, to compare two checkouts byte for byte.

Not a timing: the guard that goes with the timings of bench_gradcheck.py. A speed-up of the
checker must not move one byte of its reports. Run it in each checkout, then compare:

    PYTHONPATH=. python tests/benchmarks/bench_gradcheck_outputs.py /tmp/before   # in the old checkout
    PYTHONPATH=. python tests/benchmarks/bench_gradcheck_outputs.py /tmp/after    # in the new one
    diff -r /tmp/before /tmp/after

Each example under the five schemes (text) and in JSON, through the CLI's own entry point; a
file per run, its exit status on the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os

import symgrad
from symgrad.cli import main

RUNS = {**{f"gc.{s}": ["--scheme", s] for s in ("forward", "backward", "central", "richardson", "complex")},
        "gc.json": ["--format", "json"]}


def record(folder: str) -> int:
    """Write one file per example and run into ``folder``; the number of files written."""
    os.makedirs(folder, exist_ok=True)
    count = 0
    for example in sorted(e.name for e in symgrad.builtin_examples()):
        for suffix, argv in RUNS.items():
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(["gradcheck", example, *argv])
            with open(os.path.join(folder, f"{example}.{suffix}"), "w", encoding="utf-8") as handle:
                handle.write(out.getvalue() + err.getvalue() + f"rc={status}\n")
            count += 1
    return count


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where to write the outputs (created if missing)")
    print(f"{record(parser.parse_args().folder)} outputs written")
