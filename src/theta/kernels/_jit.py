"""The one way theta compiles a kernel, and the thread settings every kernel shares.

``kernel`` is Numba's ``njit`` with theta's choices: ``parallel`` (``prange`` loops over rows or
blocks run on Numba's pool), ``cache`` (compiled once per machine), ``nogil``, NumPy's
division semantics, and fast-math flags that let LLVM vectorise and reassociate sums but keep
NaN and infinity semantics (no ``nnan``/``ninf``), so that a diverging run still shows its NaN.
A kernel that must equal NumPy's bits overrides ``fastmath``.
"""

from __future__ import annotations

import functools

import numba

# A thread-safe layer (OpenMP or TBB): theta calls kernels from several Python threads at once
# (prefetching loaders, threaded searches), which Numba's default fallback pool cannot take.
numba.config.THREADING_LAYER = "threadsafe"

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# error_model="numpy": a float division by zero gives inf or NaN, as in NumPy, rather than
# raising; Numba's default checks every divisor, which also stops LLVM from vectorising a loop
OPTIONS = {"cache": True, "nogil": True, "fastmath": FASTMATH, "error_model": "numpy"}

kernel = functools.partial(numba.njit, parallel=True, **OPTIONS)
"""Decorator for a parallel kernel (``prange`` loops)."""

serial_kernel = functools.partial(numba.njit, **OPTIONS)
"""Decorator for a helper called from kernels, or a loop too short to split."""


@kernel
def _probe(x):  # pragma: no cover - compiled
    total = 0.0
    for i in numba.prange(x.size):
        total += x[i]
    return total


def check() -> None:
    """Run one parallel loop, so that a machine without a thread-safe layer fails here, once,
    rather than inside an op (raises Numba's error)."""
    import numpy as np

    _probe(np.ones(4))


def set_threads(n: int) -> None:
    """Use ``n`` threads (at most Numba's pool size) for kernels launched from this thread."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
