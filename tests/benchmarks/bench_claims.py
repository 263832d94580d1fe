"""How long `symgrad check` takes on the size and time items of issue 18.

Run:  PYTHONPATH=. python tests/benchmarks/bench_claims.py [--steps N] [--baseline-steps M] [--quick]

Rows (process CPU seconds; the wall clock too, which on a shared machine can be several times
the CPU time):

- `E_total@N` on the 2-2-2 network, right and wrong (diagnosed). symgrad check runs the whole
  trajectory as straight-line mpmath arithmetic twice (at digits + 20 working digits and at
  twice that) and certifies the claim's digits by comparing the two runs at the end. The
  baseline is `symgrad.descend`, which certifies every step (two precisions per step); it runs
  M steps and is extrapolated to N.
- three 10,000-step claims in one file: one trajectory records every step count asked for.
- 200, 500, 1,000 and 2,000 gradient claims on the 2-2-2 (all right, and all wrong with two
  digits): time should grow linearly with the number of claims (the CPU ms per claim stay flat;
  wrong claims of the same quantity share one slip search, so they fall).
- one gradient claim on a 20-20-1 and on a 60-80-1 sigmoid MLP.
- 2,000 distinct wrong claims after one step (`w3+ = 0.1002`) and after 1…15 steps: each judged
  with only the earlier numbers that can feed it, so earlier lines do not make later ones dearer.
- `E_total@100000` against the same trajectory certified as before (20 digits, then twice the
  precision) in the same run; `dn30/da = a` on a 30-node DAG whose derivative written out grows
  exponentially; 200 chains `dE_total/dw5 = 0.74136507*0.186815602*0.593269992` (each substituted
  number judged).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import symgrad


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _row(label: str, cpu: float, wall: float, note: str = "") -> None:
    print(f"{label:<44} {cpu:8.2f} s CPU {wall:8.2f} s wall  {note}")


def _gradients(net, n: int, *, right: bool) -> str:
    params = list(net.params)
    exact = symgrad.check_claims(net, "".join(f"dE_total/d{p} = 0.1\n" for p in params)).rows
    value = (lambda k: exact[k % len(params)].exact) if right else (lambda k: "0.12")
    return "".join(f"dE_total/d{params[k % len(params)]} = {value(k)}\n" for k in range(n))


def _mlp(widths: list[int]) -> symgrad.Network:
    path = Path(tempfile.mkdtemp()) / "mlp.toml"
    path.write_text(f'[mlp]\nwidths = {widths}\nactivation = "sigmoid"\nloss = "half_sse"\nbias = "neuron"\n'
                    "seed = 0\n")
    return symgrad.load(path)


def _old_certification(d, steps: int):
    """certified_steps as it was before: 20 digits (CLAIM_MIN_DIGITS), the check run at twice the precision."""
    from symgrad import descent
    saved = descent.TRAJECTORY_CHECK_EXTRA
    descent.TRAJECTORY_CHECK_EXTRA = 20 + descent.TRAJECTORY_EXTRA  # dps + this = 2 × dps at 20 digits
    try:
        return descent.certified_steps(d, steps, digits=20, record=(steps,))
    finally:
        descent.TRAJECTORY_CHECK_EXTRA = saved


def _dag() -> symgrad.Network:
    lines = ['output = "n30"', "[symbols]", 'inputs = ["x"]', 'params = ["a"]', "[values]", "x = 0.5", "a = 0.25",
             "[nodes]", 'n1 = "a*x"', 'n2 = "n1*a + x"']
    lines += [f'n{k} = "n{k - 1}*n{k - 2} + a*n{k - 1}"' for k in range(3, 31)]
    return symgrad.loads("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--baseline-steps", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="skip the MLP rows")
    args = parser.parse_args()
    net = symgrad.load("mazur")
    n = args.steps
    print(f"python {platform.python_version()}, mpmath backend {__import__('mpmath').libmp.BACKEND}, "
          f"{platform.processor() or platform.machine()}")

    right, cpu, wall = _timed(lambda: symgrad.check_claims(net, f"E_total@{n} = 0.0000043553211\n"))
    _row(f"check E_total@{n} (right)", cpu, wall, f"-> {right.rows[0].verdict}, exact {right.rows[0].exact}")
    wrong, cpu, wall = _timed(lambda: symgrad.check_claims(net, f"E_total@{n} = 0.0000043565368\n"))
    _row(f"check E_total@{n} (wrong, diagnosed)", cpu, wall, f"-> {wrong.rows[0].explanation[:50]}")
    _, cpu, wall = _timed(lambda: symgrad.check_claims(net, "E_total@100000 = 0.00000000000006394\n"))
    _row("check E_total@100000 (right)", cpu, wall)
    d = symgrad.derive(net)
    _, cpu, wall = _timed(lambda: _old_certification(d, 100_000))
    _row("  the same run, certified as before (20 digits,", cpu, wall, "then again at twice the precision)")
    dag = _dag()
    row, cpu, wall = _timed(lambda: symgrad.check_claims(dag, "dn30/da = a\n").rows[0])
    _row("dn30/da = a on a 30-node DAG", cpu, wall, f"-> {row.verdict}")
    chain = "dE_total/dw5 = 0.74136507*0.186815602*0.593269992\n" * 200
    _, cpu, wall = _timed(lambda: symgrad.check_claims(net, chain))
    _row("200 chains of substituted factors", cpu, wall)
    three = "E_total@10000 = 0.0000043553211\nw5@10000 = 0.1\nE_total@9999 = 0.1\n"
    _, cpu, wall = _timed(lambda: symgrad.check_claims(net, three))
    _row("three 10,000-step claims in one file", cpu, wall)
    for ok in (True, False):
        for count in (200, 500, 1000, 2000):  # linear: the cost per claim stays flat
            text = _gradients(net, count, right=ok)
            report, cpu, wall = _timed(lambda: symgrad.check_claims(net, text))
            _row(f"{count} gradient claims ({'right' if ok else 'wrong'})", cpu, wall,
                 f"-> {sum(r.verdict == 'right' for r in report.rows)} right, {1000 * cpu / count:.2f} ms CPU per claim")
    sheets = {"2,000 distinct wrong w+ claims (one step)": "w{}+ = 0.{:04d}\n",
              "2,000 distinct wrong E_total@k, k = 1…15": "E_total@{} = 0.{:04d}\n"}
    for label, form in sheets.items():
        text = "".join(form.format(1 + k % (8 if "w{}" in form else 15), 1000 + k) for k in range(2000))
        _, cpu, wall = _timed(lambda: symgrad.check_claims(net, text))
        _row(label, cpu, wall)
    if not args.quick:
        for widths in ([20, 20, 1], [60, 80, 1]):
            mlp = _mlp(widths)
            param = mlp.params[0]
            _, cpu, wall = _timed(lambda: symgrad.check_claims(mlp, f"d{mlp.output}/d{param} = 0.1\n"))
            _row(f"one gradient claim, {'-'.join(map(str, widths))} MLP", cpu, wall)

    m = args.baseline_steps
    _, cpu, wall = _timed(lambda: symgrad.descend(d, steps=m, digits=20))
    _row(f"baseline descend(steps={m}, digits=20)", cpu, wall, f"-> {cpu * n / m:7.1f} s CPU extrapolated to {n}")


if __name__ == "__main__":
    main()

# Measured 2026-11-25 on the shared 2-core development machine (python 3.11, mpmath's pure-Python
# backend), CPU seconds: see docs/performance.md, "Checking hand calculations".
