"""The NumPy matrix form evaluates the batch in fixed chunks of rows (``matrix_code.chunk_rows``).

References: a float64 backprop written here from the textbook equations (not symgrad's), and
the scalar form, compiled from SymPy's derivatives of the expanded network. Batches around the
chunk boundaries: 1, chunk − 1, chunk, chunk + 1 and 3·chunk + 7. Cost: the chunk rows follow
the documented rule, and a fresh process makes no fresh memory pages per call at batch 10,000.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from symgrad import mlp
from symgrad.fitting import compile_network
from symgrad.layout import matrix_params
from symgrad.limits import CHUNK_MIN_ROWS, MAX_CHUNK_BYTES
from symgrad.matrix_code import chunk_rows, matrix_source

WIDTHS = [3, 4, 2]
CHUNK = 65_536 // (8 * 4)  # the widest layer after the input has 4 units: 2,048 rows of 64 KiB
BATCHES = [1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7]
CASES = [("sigmoid", "half_sse", None), ("tanh", "half_sse", "0.01"), ("relu", "half_sse", "0.01"),
         ("sigmoid", "softmax_cross_entropy", "0.01"), ("tanh", "softmax_cross_entropy", None)]

ACT = {"sigmoid": (lambda f: 1 / (1 + np.exp(-f)), lambda f, h: h * (1 - h)),
       "tanh": (np.tanh, lambda f, h: 1 - h * h),
       "relu": (lambda f: np.maximum(f, 0.0), lambda f, h: (f > 0).astype(float)),
       "identity": (lambda f: f, lambda f, h: np.ones_like(f))}


def backprop(Ws, bs, X, T, *, activation, loss, reduction, l2):
    """Textbook backprop in float64, samples as columns: the independent reference."""
    out_act = "identity" if loss == "softmax_cross_entropy" else activation
    hs, fs = [X.T], []
    for k, (W, b) in enumerate(zip(Ws, bs)):
        fs.append(W @ hs[-1] + b[:, None])
        hs.append(ACT[out_act if k == len(Ws) - 1 else activation][0](fs[-1]))
    y, t = hs[-1], T.T
    if loss == "half_sse":
        value, dy = 0.5 * np.sum((y - t) ** 2), y - t
    else:  # −Σ t log softmax(y), per sample
        log_p = y - (np.max(y, axis=0) + np.log(np.sum(np.exp(y - np.max(y, axis=0)), axis=0)))
        value, dy = -np.sum(t * log_p), np.exp(log_p) * np.sum(t, axis=0) - t
    delta = dy * ACT[out_act][1](fs[-1], hs[-1])
    gW, gb = [None] * len(Ws), [None] * len(Ws)
    for k in range(len(Ws) - 1, -1, -1):
        gW[k], gb[k] = delta @ hs[k].T, delta.sum(axis=1)
        if k:
            delta = (Ws[k].T @ delta) * ACT[activation][1](fs[k - 1], hs[k])
    grads = {**{f"W{k + 1}": g for k, g in enumerate(gW)}, **{f"b{k + 1}": g for k, g in enumerate(gb)}}
    n = X.shape[0]
    if reduction == "mean":
        value, grads = value / n, {k: g / n for k, g in grads.items()}
    if l2 is not None:  # λ‖θ‖² per sample: once for the mean, batch times for the sum
        times = 1 if reduction == "mean" else n
        params = {**{f"W{k + 1}": W for k, W in enumerate(Ws)}, **{f"b{k + 1}": b for k, b in enumerate(bs)}}
        value += float(l2) * times * sum(np.sum(p * p) for p in params.values())
        grads = {k: g + 2 * float(l2) * times * params[k] for k, g in grads.items()}
    return value, grads


@functools.lru_cache(maxsize=None)
def _compiled(case, reduction, form):
    activation, loss, l2 = case
    net = mlp(WIDTHS, activation=activation, loss=loss, l2=l2, seed=3)
    return net, compile_network(net, form=form, reduction=reduction)


def _data(batch, seed=0):
    rng = np.random.default_rng(seed + batch)
    x = rng.normal(size=(batch, WIDTHS[0]))
    t = rng.dirichlet(np.ones(WIDTHS[-1]), size=batch)  # rows sum to 1: a softmax target
    return x, t


def test_the_chunk_rows_follow_the_documented_rule():
    assert chunk_rows(WIDTHS) == CHUNK
    assert chunk_rows([4, 8, 8, 8, 4]) == 1_024  # 8 × 1,024 × 8 bytes = 64 KiB
    assert chunk_rows([2, 2, 2]) == 4_096
    assert chunk_rows([784, 100, 10]) == 256  # 65,536 // 800 = 81 rows: raised to the minimum
    assert chunk_rows([784, 1000, 10]) == CHUNK_MIN_ROWS == 256
    assert chunk_rows([1000, 1, 1]) == MAX_CHUNK_BYTES // 8  # the input is a view: its width does not count
    source, _ = matrix_source(mlp(WIDTHS), reduction="sum")
    assert f"CHUNK_ROWS = {CHUNK}  #" in source and "for start in range(CHUNK_ROWS, batch, CHUNK_ROWS):" in source


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("batch", BATCHES)
def test_chunked_matches_textbook_backprop(case, reduction, batch):
    net, matrix = _compiled(case, reduction, "matrix")
    params = matrix_params(net)
    x, t = _data(batch)
    loss, grads = matrix(params, x, t)
    Ws = [params[f"W{k}"] for k in (1, 2)]
    bs = [params[f"b{k}"] for k in (1, 2)]
    want_loss, want = backprop(Ws, bs, x, t, activation=case[0], loss=case[1], reduction=reduction, l2=case[2])
    scale = 1.0 if reduction == "mean" else batch
    assert loss == pytest.approx(want_loss, rel=1e-12, abs=1e-13 * scale)
    assert set(grads) == set(want)
    for name, g in grads.items():
        np.testing.assert_allclose(g, want[name], rtol=1e-10, atol=1e-12 * scale, err_msg=name)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("batch", [CHUNK + 1, 3 * CHUNK + 7])
def test_chunked_matches_the_scalar_form(case, reduction, batch):
    net, matrix = _compiled(case, reduction, "matrix")
    _, scalar = _compiled(case, reduction, "scalar")
    x, t = _data(batch, seed=1)
    loss_m, grads_m = matrix(matrix.initial_params(net), x, t)
    loss_s, grads_s = scalar(scalar.initial_params(net), x, t)
    scale = 1.0 if reduction == "mean" else batch
    assert loss_m == pytest.approx(loss_s, rel=1e-12, abs=1e-13 * scale)
    ours = matrix.scalar_gradients(net, grads_m)
    for p in net.params:
        assert ours[p] == pytest.approx(float(grads_s[p]), rel=1e-10, abs=1e-12 * scale), p


@pytest.mark.parametrize("bias", ["layer", "none"])
def test_chunked_scalar_and_missing_biases(bias):
    net = mlp(WIDTHS, bias=bias, l2="0.5", seed=4)
    matrix = compile_network(net, form="matrix", reduction="sum")
    scalar = compile_network(net, form="scalar", reduction="sum")
    x, t = _data(3 * CHUNK + 7, seed=2)
    loss_m, grads_m = matrix(matrix.initial_params(net), x, t)
    loss_s, grads_s = scalar(scalar.initial_params(net), x, t)
    assert loss_m == pytest.approx(loss_s, rel=1e-12)
    ours = matrix.scalar_gradients(net, grads_m)
    assert set(ours) == set(net.params)
    for p in net.params:
        assert ours[p] == pytest.approx(float(grads_s[p]), rel=1e-10, abs=1e-9), p


def test_the_chunks_are_added_in_a_fixed_order():
    """The sum over 3 chunks + 7 rows is the chunks' own sums added left to right, to the bit."""
    net, matrix = _compiled(CASES[0], "sum", "matrix")
    params = matrix_params(net)
    x, t = _data(3 * CHUNK + 7, seed=3)
    loss, grads = matrix(params, x, t)
    parts = [matrix(params, x[s:s + CHUNK], t[s:s + CHUNK]) for s in range(0, len(x), CHUNK)]
    assert len(parts) == 4
    want_loss, want = parts[0][0], {k: g.copy() for k, g in parts[0][1].items()}
    for part_loss, part in parts[1:]:
        want_loss += part_loss
        for k in want:
            want[k] += part[k]
    assert loss == want_loss
    assert all(np.array_equal(grads[k], want[k]) for k in want)
    again = matrix(params, x, t)
    assert again[0] == loss and all(np.array_equal(again[1][k], grads[k]) for k in grads)


def test_no_fresh_pages_per_call_at_batch_10000():
    """Cost: a 4-8-8-8-4 at batch 10,000 made ~1,840 minor page faults per call before chunking
    (each 640 KB temporary above glibc's mmap threshold came as fresh zeroed pages); now its
    temporaries are 64 KiB and reused. A fresh process, so that no earlier test shapes its heap."""
    pytest.importorskip("resource", reason="minor page faults are counted with the resource module (Unix)")
    script = textwrap.dedent("""
        import resource, numpy as np, symgrad
        from symgrad.fitting import compile_network
        net = symgrad.mlp([4, 8, 8, 8, 4], scalar=False)
        f = compile_network(net, form="matrix", reduction="sum")
        rng = np.random.default_rng(0)
        x, t, params = rng.normal(size=(10_000, 4)), rng.uniform(size=(10_000, 4)), f.initial_params(net)
        for _ in range(5):
            f(params, x, t)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            f(params, x, t)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    faults = float(out.stdout.split()[-1])
    assert faults < 100, f"{faults} minor page faults per call"


# -- the fused (numba) matrix form: the same chunks, FUSED_MATRIX_CHUNK_SCALE times as many rows --------
FUSED_CHUNK = 4 * CHUNK  # FUSED_MATRIX_CHUNK_SCALE = 4: 8,192 rows for the 3-4-2 network


@pytest.mark.parametrize("case", [c for c in CASES if c[1] != "softmax_cross_entropy"], ids=lambda c: "-".join(map(str, c)))
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_fused_chunks_match_textbook_backprop(case, reduction):
    pytest.importorskip("numba", reason="the fused matrix form needs numba (pip install 'symgrad[fast]')")
    from symgrad.fused_matrix import compile_fused_matrix, fused_matrix_source

    activation, loss, l2 = case
    net = mlp(WIDTHS, activation=activation, loss=loss, l2=l2, seed=3)
    assert f"CHUNK_ROWS = {FUSED_CHUNK}  #" in fused_matrix_source(net, reduction=reduction)[0]
    fused = compile_fused_matrix(net, reduction=reduction)
    params = matrix_params(net)
    Ws = [params[f"W{k}"] for k in (1, 2)]
    bs = [params[f"b{k}"] for k in (1, 2)]
    for batch in [1, FUSED_CHUNK - 1, FUSED_CHUNK, FUSED_CHUNK + 1, 3 * FUSED_CHUNK + 7]:
        x, t = _data(batch, seed=4)
        got_loss, got = fused(params, x, t)
        want_loss, want = backprop(Ws, bs, x, t, activation=activation, loss=loss, reduction=reduction, l2=l2)
        scale = 1.0 if reduction == "mean" else batch
        assert got_loss == pytest.approx(want_loss, rel=1e-12, abs=1e-13 * scale), batch
        for name, g in got.items():  # fast_exp: within a few ulps of np.exp
            np.testing.assert_allclose(g, want[name], rtol=1e-9, atol=1e-11 * scale, err_msg=f"{name} at {batch}")
