"""How many threads theta's own work may use: one setting, as PyTorch's ``set_num_threads``.

theta runs its heavy products in NumPy's BLAS, which has its own thread pool, a few loops
on a pool of its own (:func:`for_each_chunk`: KMeans' row chunks, exact nearest-neighbour
search), and, with the ``fast`` extra, compiled kernels (``theta.kernels``) on Numba's pool
or theta's. theta's pools and the kernels use ``THETA_NUM_THREADS`` from the environment when
theta is imported, else every core this process may run on. Calling
:func:`set_num_threads` changes that and also limits the BLAS pools, through ``threadpoolctl``
when it is installed (it comes with scikit-learn); to limit BLAS without it, set
``OMP_NUM_THREADS`` (or ``OPENBLAS_NUM_THREADS``) before starting Python.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["blas_single_threaded", "for_each_chunk", "get_num_threads", "set_num_threads"]


def _usable_cpus() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _from_environment() -> int | None:
    text = os.environ.get("THETA_NUM_THREADS", "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"THETA_NUM_THREADS must be a positive integer (got {text!r}); unset it to use "
            "every core."
        )
    return value


_setting: list[int | None] = [_from_environment()]
_blas_limit: list[Any] = []  # threadpoolctl's limiter, kept alive while it holds


def get_num_threads() -> int:
    """The number of threads theta's own pools use (see the module docstring).

    Examples
    --------
    >>> import theta
    >>> n = theta.get_num_threads()
    >>> isinstance(n, int) and n >= 1
    True
    """
    return _setting[0] or _usable_cpus()


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads for theta's pools and, through threadpoolctl if installed, for BLAS;
    ``None`` goes back to the default (``THETA_NUM_THREADS`` or every core).

    Examples
    --------
    >>> import theta
    >>> before = theta.get_num_threads()
    >>> theta.set_num_threads(1)
    >>> theta.get_num_threads()
    1
    >>> theta.set_num_threads(None)
    >>> theta.get_num_threads() == before
    True
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_num_threads: n must be a positive integer or None (got {n!r}).")
    if _blas_limit:
        _blas_limit.pop().restore_original_limits()
    _setting[0] = n if n is not None else _from_environment()
    if n is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        _blas_limit.append(threadpool_limits(limits=n, user_api="blas"))


# by process id (a forked child needs its own) and size (theta.set_num_threads)
_POOL: dict[tuple[int, int], ThreadPoolExecutor] = {}
_POOL_NAME = "theta-pool"


def for_each_chunk(
    work: Callable[[int], None], starts: Iterable[int], *, min_per_thread: int = 1
) -> None:
    """Run ``work(start)`` for every start, on ``get_num_threads()`` threads (at most 8) when
    there are at least ``min_per_thread`` starts per thread, else in order on this thread.

    NumPy releases the GIL in its loops over large arrays, so the threads run in parallel
    the way scikit-learn's OpenMP loops do. Each ``work`` must write only its own part of
    the result, so that the result does not depend on the order in which they finish. A
    ``work`` that calls this again runs its chunks in order (the pool never waits on itself).
    """
    starts = list(starts)
    n_threads = min(get_num_threads(), 8)
    nested = threading.current_thread().name.startswith(_POOL_NAME)
    if n_threads < 2 or nested or len(starts) < max(2, min_per_thread * n_threads):
        for start in starts:
            work(start)
        return
    key = (os.getpid(), n_threads)
    pool = _POOL.get(key)
    if pool is None:
        pool = _POOL.setdefault(key, ThreadPoolExecutor(n_threads, _POOL_NAME))
    for _ in pool.map(work, starts):  # re-raises the first error
        pass


@contextlib.contextmanager
def blas_single_threaded(active: bool) -> Iterator[None]:
    """One BLAS thread while theta's pool runs the chunks (as scikit-learn's parallel loops do):
    idle BLAS threads spin on the cores the pool needs. Needs threadpoolctl, else a no-op."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        active = False
    if not active:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
