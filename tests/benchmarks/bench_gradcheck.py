"""How long `symgrad gradcheck` takes, end to end (load, derive or compile, check), per network.

Run:  python tests/benchmarks/bench_gradcheck.py [--repeats N]

Prints one Markdown row per case for docs/performance.md: the best of N runs of the CLI's
own entry point (`symgrad.cli.main`), output discarded. The 784-100-10 network exists in
matrix form only, so it is checked by the default sample of 20 coordinates plus 3 random
directions against finite differences of the compiled code.

``--peers``: ``symgrad.gradcheck`` (exact reference, every row; the network's derivation and
compiled code kept from an earlier call, as in a campaign; in its own columns, a new network
object of the same shape, which finds them kept, and a shape never seen, with everything
symgrad and SymPy keep per expression emptied before each call, which derives and compiles) against
``torch.autograd.gradcheck`` (float64, slow mode: the whole Jacobian) and
``jax.test_util.check_grads`` (order 1, reverse mode) on the same loss at the same
parameters, in the same process, best of N each; the peers get the loss as a function of
one parameter vector (the network's loss with its inputs and targets substituted, the same
formula). The peers are optional: a missing one is reported, not fatal.

``--campaign N``: N networks drawn by ``strategies.networks()`` (derandomised), each checked
once by ``symgrad.gradcheck`` (starting with nothing kept, as a new test process) and by
``torch.autograd.gradcheck`` on the same formula (built outside the timing); the totals.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import math
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


def _peer_cases() -> list[tuple[str, object, dict | None]]:
    """(label, network, at): the issue's five functions."""
    import symgrad

    relu = symgrad.mlp([2, 3, 1], activation="relu")
    v = relu.point()
    kink = {"b_h1": -(v["i1"] * v["w1"] + v["i2"] * v["w2"])}  # the first hidden unit's relu at its kink
    return [("mazur example (2-2-2, 10 params)", symgrad.load("mazur"), None),
            ("mlp_3_4_2 example (26 params)", symgrad.load("mlp_3_4_2"), None),
            ("3-4-2 sigmoid MLP (26 params)", symgrad.mlp([3, 4, 2], seed=1), None),
            ("softmax cross-entropy 2-2-2 (12 params)", symgrad.mlp([2, 2, 2], loss="softmax_cross_entropy"), None),
            ("ReLU 2-3-1 at a kink (13 params)", relu, kink)]


def _loss_of_params(network, at, module):
    """The network's loss as a function of one parameter vector, in ``module`` (torch or jax.numpy)."""
    import sympy

    point = network.point(at)
    params = list(network.params)
    fixed = {network.symbol(n): point[n] for n in network.leaves if n not in params}
    expr = network.expanded(network.output).xreplace(fixed)
    names = {"exp": module.exp, "log": module.log, "sqrt": module.sqrt, "tanh": module.tanh,
             "sigmoid": lambda z: 1 / (1 + module.exp(-z)),
             "relu": lambda z: module.where(z > 0, z, 0 * z), "Abs": module.abs,
             "logsumexp": lambda *a: _logsumexp(module, module.stack(a)),
             "Max": lambda *a: module.amax(module.stack(a), 0)}
    f = sympy.lambdify([[network.symbol(p) for p in params]], expr, modules=[names])
    x0 = [float(point[p]) for p in params]
    return (lambda theta: f([theta[k] for k in range(len(params))])), x0


def _logsumexp(module, stacked):
    top = module.amax(stacked, 0)
    return top + module.log(module.sum(module.exp(stacked - top), 0))


def peers(repeats: int) -> None:
    """One row per function; the checkers take turns, round after round, so that a change of the
    machine's load between them falls on all of them (best of ``repeats`` rounds each)."""
    import symgrad

    print("| function | symgrad.gradcheck | new object, same shape | new shape (nothing kept) "
          "| torch.autograd.gradcheck | ratio symgrad/torch | new shape/torch | jax check_grads | ratio symgrad/JAX |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, network, at in _peer_cases():
        assert symgrad.gradcheck(network, at=at).ok
        copies = [copy.deepcopy(network) for _ in range(repeats)]  # new objects of the same shape
        fresh = [copy.deepcopy(network) for _ in range(repeats)]
        runs = {"ours": lambda: symgrad.gradcheck(network, at=at), "same": lambda: symgrad.gradcheck(copies.pop(), at=at),
                "new": lambda: symgrad.gradcheck(fresh.pop(), at=at)}
        runs |= _peer_runs(network, at)
        best = {name: math.inf for name in runs}
        for _ in range(repeats):
            for name, run in runs.items():
                if name == "new":  # a shape never seen: symgrad's kept derivations and SymPy's cache emptied first
                    _forget_everything()
                if run is not None:
                    best[name] = min(best[name], _timed(run))
        ours = best["ours"]
        torch_t = best["torch"] if runs["torch"] else None
        text = [f"{best[p] * 1e3:.1f} ms | {ours / best[p]:.1f}×" if runs[p] else "not installed | -"
                for p in ("torch", "jax")]
        new_ratio = f"{best['new'] / torch_t:.1f}×" if torch_t else "-"
        torch_cells = text[0].split(" | ")
        print(f"| {label} | {ours * 1e3:.1f} ms | {best['same'] * 1e3:.1f} ms | {best['new'] * 1e3:.1f} ms "
              f"| {torch_cells[0]} | {torch_cells[1]} | {new_ratio} | {text[1]} |", flush=True)


def campaign(count: int) -> None:
    """A property-test campaign: ``count`` networks drawn by ``strategies.networks()`` (sigmoid, tanh and
    relu layers), each checked once, as a Hypothesis test would; symgrad starts with nothing kept."""
    from hypothesis import HealthCheck, given, settings

    import symgrad
    from symgrad import gradcheck_problems
    from symgrad.strategies import networks

    drawn = []

    @settings(max_examples=count, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(networks(activations=("sigmoid", "tanh", "relu")))
    def collect(net):
        drawn.append(net)

    collect()
    gradcheck_problems._PREPARED.clear()
    ours = theirs = 0.0
    checked = 0
    import torch

    for net in drawn:
        try:  # a formula this builder cannot give torch (a head it lacks, a Max of a plain number): left out
            fn, x0 = _loss_of_params(net, None, torch)
            theta = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
            if not isinstance(fn(theta), torch.Tensor):
                continue
        except (TypeError, NameError, AttributeError):
            continue
        ours += _timed(lambda: symgrad.gradcheck(net))
        theirs += _timed(lambda: torch.autograd.gradcheck(fn, (theta,), raise_exception=False))
        checked += 1
    shapes = len({gradcheck_problems._shape(n) for n in drawn})
    print(f"| {checked} networks drawn by strategies.networks() ({shapes} shapes) | {ours:.2f} s "
          f"({ours / checked * 1e3:.1f} ms each) | {theirs:.2f} s ({theirs / checked * 1e3:.1f} ms each) "
          f"| {ours / theirs:.1f}× |")


def _forget_everything() -> None:
    """Empty what a first call on a new shape would not find: gradcheck's kept problems, the local
    derivatives and printing orders symgrad keeps per expression, and SymPy's cache."""
    from sympy.core.cache import clear_cache

    from symgrad import codegen, functions, gradcheck_problems

    gradcheck_problems._PREPARED.clear()
    functions.local_derivative.cache_clear()
    codegen._printing_order.cache_clear()
    clear_cache()


def _peer_runs(network, at) -> dict:
    """torch's and JAX's checks of the same loss as callables (None where the peer is not installed)."""
    runs: dict = {}
    try:
        import torch

        fn, x0 = _loss_of_params(network, at, torch)
        theta = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        # at the kink torch's check fails (relu'(0) = 0 against a one-sided difference): timed all the same
        runs["torch"] = lambda: torch.autograd.gradcheck(fn, (theta,), raise_exception=False)
    except ImportError:
        runs["torch"] = None
    try:
        import jax
        import jax.numpy as jnp
        from jax.test_util import check_grads

        jax.config.update("jax_enable_x64", True)
        jfn, jx0 = _loss_of_params(network, at, jnp)
        jtheta = jnp.array(jx0, dtype=jnp.float64)
        runs["jax"] = lambda: _jax_check(check_grads, jfn, jtheta)
    except ImportError:
        runs["jax"] = None
    return runs


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _jax_check(check_grads, fn, theta) -> None:
    try:
        check_grads(fn, (theta,), order=1, modes=["rev"])
    except AssertionError:  # at the kink: it fails, timed all the same
        pass


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peers", action="store_true", help="symgrad.gradcheck against torch's and JAX's checkers")
    parser.add_argument("--campaign", type=int, metavar="N", help="N drawn networks, each checked once, against torch")
    args = parser.parse_args()
    if args.campaign:
        print("| campaign | symgrad.gradcheck | torch.autograd.gradcheck | ratio |")
        print("|---|---|---|---|")
        campaign(args.campaign)
        return
    if args.peers:
        import mpmath.libmp

        print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"NumPy {np.__version__}, mpmath backend {mpmath.libmp.BACKEND}; best of {args.repeats}")
        peers(args.repeats)
        return
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
