"""The one way theta compiles a kernel, and the thread settings every kernel shares.

``kernel`` is Numba's ``njit`` with theta's choices: ``parallel`` (``prange`` loops over rows or
blocks run on Numba's pool), ``cache`` (compiled once per machine), ``nogil``, NumPy's
division semantics, and fast-math flags that let LLVM vectorise and reassociate sums but keep
NaN and infinity semantics (no ``nnan``/``ninf``), so that a diverging run still shows its NaN.
A kernel that must equal NumPy's bits overrides ``fastmath``.

Numba's own pool (``workqueue``) runs the parallel loops: its idle threads sleep. OpenMP's spin
after each loop and took the cores from the BLAS threads of the GEMM that follows (a GPT step
on 2 threads: 340 ms with OpenMP's default wait policy, 135 ms with Numba's pool, 150 ms on
NumPy alone). That pool runs one launch at a time, so a lock queues the launches of several
Python threads (a prefetching loader, a threaded search); it is also safe across ``fork``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import numba

numba.config.THREADING_LAYER = "workqueue"

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# error_model="numpy": a float division by zero gives inf or NaN, as in NumPy, rather than
# raising; Numba's default checks every divisor, which also stops LLVM from vectorising a loop
OPTIONS = {"cache": True, "nogil": True, "fastmath": FASTMATH, "error_model": "numpy"}

_LAUNCH = threading.Lock()  # one parallel launch at a time (see the module docstring)


def kernel(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Decorator for a parallel kernel (``prange`` loops), called from Python only: ``@kernel``
    or ``@kernel(fastmath=False)``."""
    if fn is None:
        return functools.partial(kernel, **options)
    compiled = numba.njit(parallel=True, **(OPTIONS | options))(fn)

    @functools.wraps(fn)
    def launch(*args: Any) -> Any:
        with _LAUNCH:
            return compiled(*args)

    launch.compiled = compiled  # type: ignore[attr-defined]
    return launch


serial_kernel = functools.partial(numba.njit, **OPTIONS)
"""Decorator for a helper called from kernels, or a loop too short to split."""


@kernel
def _probe(x):  # pragma: no cover - compiled
    total = 0.0
    for i in numba.prange(x.size):
        total += x[i]
    return total


def check() -> None:
    """Run one parallel loop, so that a machine where Numba cannot fails here, once, rather
    than inside an op (raises Numba's error)."""
    import numpy as np

    _probe(np.ones(4))


def set_threads(n: int) -> None:
    """Use ``n`` threads (at most Numba's pool size) for kernels launched from this thread."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
