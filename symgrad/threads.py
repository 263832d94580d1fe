"""How many threads symgrad's own compiled code may use, chosen from the cores that are free.

A parallel loop is only as fast as its slowest thread. On a machine where other work runs
(a test campaign under ``pytest -n auto``, a training script beside other jobs) a thread
that loses its core for a time slice holds up the whole loop, and OpenMP or OpenBLAS
threads that spin while they wait take cores from the work that would have freed them.
Measured on a busy 2-core machine: a fused 2-2-2 loop on two threads took 24 ms, on one
1.2 ms. So symgrad

* runs small work on one thread (``limits.FUSED_PARALLEL_ROWS``);
* otherwise uses no more threads than there are free cores (``free_cores``: the CPUs this
  process may run on, less the other tasks running right now), and never more than the
  caller allowed (``numba.set_num_threads`` or a ``threadpoolctl`` limit already in force);
* sets the numba and BLAS thread counts only for the duration of its own call
  (``limited``) and restores them after; BLAS pools are limited through ``threadpoolctl``;
* makes numba's OpenMP pool wait passively (``OMP_WAIT_POLICY=PASSIVE``, unless the user set
  a policy): the variable is set only while that pool starts, then put back, so no other
  library's OpenMP runtime sees it.

Thread counts never change a result bit: the fused loops cut the batch into chunks that
depend on the batch alone and add them in a fixed order, and BLAS products are exact to
the same rounding on any thread count for the fixed blocking OpenBLAS uses (tested).

>>> threads_for(100) == 1
True
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from .limits import FUSED_PARALLEL_ROWS

__all__ = ["free_cores", "threads_for", "limited", "passive_openmp", "blas_threads"]

_state: dict = {}  # the threadpoolctl controller (one library scan per process) and the OpenMP start-up flag


def _usable_cores() -> int:
    """CPUs this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _running_elsewhere() -> int | None:
    """Tasks running or runnable right now besides the caller, from /proc/loadavg (Linux); None elsewhere."""
    try:
        with open("/proc/loadavg", encoding="ascii") as file:
            running = int(file.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - 1)  # the thread reading the file is running


def free_cores() -> int:
    """The cores free for symgrad's threads now: usable CPUs less the tasks running elsewhere, at least 1.

    Reads the instantaneous run queue (the fourth field of /proc/loadavg), not the load
    average, which lags a minute behind. Where that is not available: the 1-minute load average.
    """
    usable = _usable_cores()
    busy = _running_elsewhere()
    if busy is None:
        try:
            busy = int(os.getloadavg()[0])
        except (AttributeError, OSError):
            busy = 0
    return max(1, min(usable, usable - busy))


def threads_for(work: int, *, ceiling: int | None = None) -> int:
    """Threads for ``work`` rows × points: 1 below ``FUSED_PARALLEL_ROWS``, else the free cores, at most ``ceiling``."""
    if work < FUSED_PARALLEL_ROWS:
        return 1
    n = free_cores()
    return max(1, min(n, ceiling)) if ceiling is not None else n


def passive_openmp(numba) -> None:
    """Start numba's thread pool once with ``OMP_WAIT_POLICY=PASSIVE`` (unless the user chose a policy).

    libgomp reads the variable when it is loaded, which is when numba starts its pool; the
    variable is removed again right after, so OpenMP runtimes loaded later (PyTorch's, say)
    keep their own defaults.
    """
    if _state.get("openmp_started"):
        return
    _state["openmp_started"] = True
    if "OMP_WAIT_POLICY" in os.environ:
        numba.np.ufunc.parallel._launch_threads()
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        numba.np.ufunc.parallel._launch_threads()
    finally:
        del os.environ["OMP_WAIT_POLICY"]


def _controller():
    """threadpoolctl's controller of the BLAS libraries loaded now (scanned once), or None without it."""
    if "blas" not in _state:
        try:
            import threadpoolctl
        except ImportError:
            _state["blas"] = None
        else:
            _state["blas"] = threadpoolctl.ThreadpoolController().select(user_api="blas")
    return _state["blas"]


def blas_threads() -> int | None:
    """The smallest thread count among the loaded BLAS pools now, or None without threadpoolctl or BLAS."""
    controller = _controller()
    if controller is None or not controller.lib_controllers:
        return None
    return min(lib.num_threads for lib in controller.lib_controllers)


@contextlib.contextmanager
def limited(*, numba_threads: int | None = None, blas: int | None = None) -> Iterator[None]:
    """numba's threads (this Python thread's count) and the BLAS pools at most as given, restored after.

    A count at or above what is already in force changes nothing (the caller's limit stands).
    """
    with contextlib.ExitStack() as stack:
        if numba_threads is not None:
            import numba

            passive_openmp(numba)
            before = numba.get_num_threads()
            if numba_threads < before:
                numba.set_num_threads(max(1, numba_threads))
                stack.callback(numba.set_num_threads, before)
        if blas is not None:
            current = blas_threads()
            if current is not None and blas < current:
                stack.enter_context(_controller().limit(limits=max(1, blas)))
        yield
