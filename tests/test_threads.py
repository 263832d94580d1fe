"""Threads that never hurt: counts chosen from the free cores, no result bit changed, every setting restored."""

from __future__ import annotations

import os

import numpy as np
import pytest

from symgrad import mlp, threads
from symgrad.fitting import compile_network
from symgrad.limits import FUSED_PARALLEL_ROWS


def _machine(monkeypatch, usable: int, running_elsewhere: int | None) -> None:
    monkeypatch.setattr(threads, "_usable_cores", lambda: usable)
    monkeypatch.setattr(threads, "_running_elsewhere", lambda: running_elsewhere)


@pytest.mark.parametrize("usable, elsewhere, free", [(4, 0, 4), (4, 1, 3), (4, 3, 1), (4, 9, 1), (1, 0, 1)])
def test_free_cores_are_the_usable_cores_less_the_tasks_running_elsewhere(monkeypatch, usable, elsewhere, free):
    _machine(monkeypatch, usable, elsewhere)
    assert threads.free_cores() == free


def test_the_load_average_stands_in_where_proc_loadavg_is_missing(monkeypatch):
    _machine(monkeypatch, 8, None)
    monkeypatch.setattr(os, "getloadavg", lambda: (5.7, 1.0, 1.0))
    assert threads.free_cores() == 3  # 8 usable, 5 busy


def test_small_work_runs_on_one_thread_and_large_work_never_on_more_than_the_free_cores(monkeypatch):
    _machine(monkeypatch, 16, 0)
    assert threads.threads_for(FUSED_PARALLEL_ROWS - 1) == 1
    assert threads.threads_for(FUSED_PARALLEL_ROWS) == 16
    assert threads.threads_for(10 ** 9, ceiling=3) == 3
    _machine(monkeypatch, 16, 15)
    assert threads.threads_for(10 ** 9) == 1


def test_the_real_machine_reading_is_within_its_cores():
    assert 1 <= threads.free_cores() <= (os.cpu_count() or 1)


def _settings():
    """Every thread setting symgrad may touch: numba's count, the BLAS pools, OMP_WAIT_POLICY."""
    numba = pytest.importorskip("numba")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    count = numba.get_num_threads()  # first: it starts numba's pool, which loads the OpenMP runtime
    info = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()]
    return count, sorted(info), os.environ.get("OMP_WAIT_POLICY")


def _bits(result) -> tuple:
    loss, grads = result
    return (np.float64(loss).tobytes(),) + tuple(np.asarray(grads[k]).tobytes() for k in sorted(grads))


@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_fused_results_are_the_same_bits_busy_or_quiet_and_settings_are_restored(monkeypatch, form):
    pytest.importorskip("numba")
    pytest.importorskip("threadpoolctl")
    net = mlp([3, 4, 2], seed=11)
    f = compile_network(net, form=form, backend="numba", reduction="sum")
    rng = np.random.default_rng(4)
    x, t = rng.normal(size=(4 * FUSED_PARALLEL_ROWS, 3)), rng.uniform(size=(4 * FUSED_PARALLEL_ROWS, 2))
    params = f.initial_params(net)
    f(params, x[:10], t[:10])  # loads what the call loads (numba's OpenMP runtime), so the settings can be compared
    before = _settings()
    results = {}
    for elsewhere in (0, 64):  # a quiet machine (every core free), then a busy one (one thread)
        _machine(monkeypatch, os.cpu_count() or 1, elsewhere)
        results[elsewhere] = _bits(f(params, x, t))
        assert _settings() == before
    assert results[0] == results[64]


def test_the_numpy_matrix_form_limits_blas_when_busy_and_restores_the_pools(monkeypatch):
    """OpenBLAS itself splits some sums across its threads, so the matrix forms' last bits follow the BLAS
    thread count (measured: 1 against 2 threads on 784-100-10); symgrad only lowers it under load, for its call."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    net = mlp([784, 100, 10], scalar=False)
    f = compile_network(net, form="matrix", reduction="sum")
    rng = np.random.default_rng(3)
    x, t = rng.uniform(size=(512, 784)), rng.uniform(size=(512, 10))
    params = f.initial_params(net)
    before = _settings()
    seen, function, quiet_count = [], f.function, threads.blas_threads()
    object.__setattr__(f, "function", lambda *a: (seen.append(threads.blas_threads()), function(*a))[1])
    _machine(monkeypatch, os.cpu_count() or 1, 0)
    quiet = f(params, x, t)
    _machine(monkeypatch, os.cpu_count() or 1, 64)
    busy = f(params, x, t)
    assert _settings() == before
    assert seen == [quiet_count, 1]  # quiet: the pools as they were; busy: one thread
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        one = function(params, x, t)
    assert _bits(busy) == _bits(one)  # busy: exactly what one BLAS thread gives
    for name in params:  # and a few ulps from the quiet result
        np.testing.assert_allclose(quiet[1][name], busy[1][name], rtol=1e-12, atol=1e-15 * np.abs(quiet[1][name]).max())


def test_a_thread_limit_the_caller_set_stands(monkeypatch):
    numba = pytest.importorskip("numba")
    net = mlp([2, 2, 2], seed=3)
    f = compile_network(net, form="scalar", backend="numba", reduction="sum")
    seen = []
    run_parallel = f.function.__globals__["run_parallel"]
    monkeypatch.setitem(f.function.__globals__, "run_parallel",
                        lambda *a: (seen.append(numba.get_num_threads()), run_parallel(*a))[1])
    _machine(monkeypatch, os.cpu_count() or 1, 0)
    x = np.zeros((2 * FUSED_PARALLEL_ROWS, 2))
    numba.set_num_threads(1)
    try:
        f(f.initial_params(net), x, x)
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    _machine(monkeypatch, os.cpu_count() or 1, 64)
    f(f.initial_params(net), x, x)  # busy: one thread, then the count is put back
    assert seen == [1, 1] and numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


def test_openmp_waits_passively_without_the_variable_leaking(monkeypatch):
    numba = pytest.importorskip("numba")
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setitem(threads._state, "openmp_started", False)
    seen = []
    monkeypatch.setattr(numba.np.ufunc.parallel, "_launch_threads",
                        lambda: seen.append(os.environ.get("OMP_WAIT_POLICY")))
    threads.passive_openmp(numba)
    threads.passive_openmp(numba)  # once per process
    assert seen == ["PASSIVE"] and "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setitem(threads._state, "openmp_started", False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice is kept
    threads.passive_openmp(numba)
    assert seen == ["PASSIVE", "ACTIVE"] and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
