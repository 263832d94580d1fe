"""How long `symgrad exercise` takes: 30 variants of the 2-2-2 (mazur) with all documents (issue 22).

Run:  PYTHONPATH=. python tests/benchmarks/bench_exercise.py [--variants N] [--repeat R]

Rows (process CPU seconds and wall clock; best of R runs):

- drawing N nice variants alone (`exercise_values.draw_variants`: one exact evaluation per draw,
  rejected draws included);
- the whole exercise in memory (`make_exercise`: the draw, each variant's spec re-read, derived
  and solved once);
- writing every file (`write_exercise` with Moodle XML: per variant a spec, two question sheets,
  two worked solutions and an answer key, plus questions.tex and marks.toml);
- the whole command as a teacher runs it (`symgrad exercise mazur --variants N -o DIR --moodle`);
- the alternative a teacher has today, for scale: one `symgrad report` in LaTeX and one in
  Markdown per variant, from variant specs already written (no drawing, no question sheets).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import symgrad
from symgrad.cli import main
from symgrad.exercise import make_exercise
from symgrad.exercise_documents import write_exercise
from symgrad.exercise_values import draw_variants


def _timed(fn, repeat: int):
    best = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        took = (time.process_time() - cpu, time.perf_counter() - wall)
        best = took if best is None or took[1] < best[1] else best
    return result, best


def _row(label: str, times: tuple[float, float]) -> None:
    print(f"{label:<58} {times[0]:7.2f} s CPU {times[1]:7.2f} s wall")


def main_bench() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.variants
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    derivation = symgrad.derive(symgrad.load("mazur"))
    _, t = _timed(lambda: draw_variants(derivation, n, seed=1), args.repeat)
    _row(f"draw {n} nice variants", t)
    exercise, t = _timed(lambda: make_exercise("mazur", n, seed=1), args.repeat)
    _row(f"make_exercise: {n} variants solved", t)
    with tempfile.TemporaryDirectory() as tmp:
        written, t = _timed(lambda: write_exercise(exercise, Path(tmp) / "w", moodle=Path(tmp) / "q.xml"), args.repeat)
        _row(f"write_exercise: {len(written)} files", t)
        _, t = _timed(lambda: main(["exercise", "mazur", "--variants", str(n), "--seed", "1", "-o",
                                    str(Path(tmp) / "cli"), "--moodle", str(Path(tmp) / "cli.xml")]), args.repeat)
        _row(f"symgrad exercise mazur --variants {n} (all documents)", t)
        specs = sorted((Path(tmp) / "cli").glob("variant-*/spec.toml"))

        def reports():
            for spec in specs:
                net = symgrad.load(spec)
                symgrad.report(net, digits=6, format="latex")
                symgrad.report(net, digits=6, format="markdown")
        _, t = _timed(reports, args.repeat)
        _row(f"baseline: {len(specs)} x symgrad report (LaTeX + Markdown)", t)


if __name__ == "__main__":
    main_bench()
