"""Optimizer updates in one pass over each parameter: Adam/AdamW (with AMSGrad) and SGD.

NumPy runs an Adam step as a dozen passes over the moments; here each element is read and
written once, on ``theta.get_num_threads()`` threads for a large parameter. Every kernel does
NumPy's operations in NumPy's order and dtype, with the coefficients already rounded to the
parameter's dtype (NumPy rounds a Python float to the array's dtype the same way), and without
fast-math, so that the result equals the NumPy path's bit for bit: a run, and its exact resume
from a checkpoint, do not depend on the backend.

Arrays are flat and C-contiguous, all of the parameter's dtype; ``m`` and ``v`` are the flat
moments of a whole block of parameters, of which this parameter's start at ``offset``.
"""

from __future__ import annotations

import numba
import numpy as np

from theta.kernels._jit import kernel, serial_kernel

# Below this many elements a parameter is updated on the calling thread: for less, waking the
# pool saves little (a 256 x 256 float32 parameter: 56 us on one thread, 33 us on two) and
# costs much more on a busy machine, where a parallel loop waits for a descheduled thread.
# Blocks of BLOCK elements are the unit of parallel work.
PARALLEL_MIN = 1 << 17
BLOCK = 1 << 13
# Exactly NumPy's arithmetic: no fast-math (the division rule is already NumPy's)
EXACT = {"fastmath": False}
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # what the kernels take


def adam_coefficients(dtype: np.dtype, lr: float, betas: tuple[float, float], eps: float,
                      weight_decay: float, step: int) -> np.ndarray:  # fmt: skip
    """Adam's scalars for step ``step`` (counted from 1), rounded to ``dtype`` as NumPy would.

    Shape ``(8,)``: ``weight_decay``, ``1 - beta1``, ``beta2``, ``1 - beta2``,
    ``sqrt(1 - beta2**step)``, ``eps``, the step size ``lr / (1 - beta1**step)`` and AdamW's
    decay ``1 - lr * weight_decay``.
    """
    beta1, beta2 = betas
    return np.array([weight_decay, 1.0 - beta1, beta2, 1.0 - beta2,
                     np.sqrt(1.0 - beta2**step), eps, lr / (1.0 - beta1**step),
                     1.0 - lr * weight_decay], dtype)  # fmt: skip


def adam(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, v_max: np.ndarray,
         offset: int, c: np.ndarray, coupled: bool, decoupled: bool, amsgrad: bool) -> None:
    """Adam's update of the flat parameter ``p`` (n,) from its gradient ``g`` (n,), in place.

    ``m``, ``v`` and ``v_max`` are flat moment arrays holding this parameter's at
    ``offset:offset + n`` (``v_max`` is read only with ``amsgrad``); ``c`` comes from
    :func:`adam_coefficients`. ``coupled`` adds ``weight_decay * p`` to the gradient (Adam),
    ``decoupled`` shrinks ``p`` instead (AdamW).
    """
    if p.size >= PARALLEL_MIN:
        _adam_parallel(p, g, m, v, v_max, offset, c, coupled, decoupled, amsgrad)
    else:
        _adam_span(p, g, m, v, v_max, offset, 0, p.size, c, coupled, decoupled, amsgrad)


@serial_kernel(**EXACT)
def _adam_span(p, g, m, v, v_max, offset, lo, hi, c, coupled, decoupled,
               amsgrad):  # pragma: no cover - compiled  # fmt: skip
    # views indexed by a range from 0, which Numba knows to be non-negative: no wraparound
    # checks in the loop
    a, b = offset + lo, offset + hi
    _adam_loop(p[lo:hi], g[lo:hi], m[a:b], v[a:b], v_max[a:b] if amsgrad else v_max[:0], c,
               coupled, decoupled, amsgrad)  # fmt: skip


@serial_kernel(**EXACT)
def _adam_loop(p, g, m, v, v_max, c, coupled, decoupled,
               amsgrad):  # pragma: no cover - compiled  # fmt: skip
    wd, a1, b2, a2, s2, eps, size, decay = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    for i in range(p.size):
        d = p[i] * wd + g[i] if coupled else g[i]
        mi = m[i] + (d - m[i]) * a1  # PyTorch's lerp, as NumPy does it
        vi = v[i] * b2 + d * a2 * d
        m[i] = mi
        v[i] = vi
        if amsgrad:
            top = v_max[i]
            if vi > top or vi != vi:  # np.maximum: NaN wins
                top = vi
            v_max[i] = top
            vi = top
        t = mi / (np.sqrt(vi) / s2 + eps) * size
        q = p[i] * decay if decoupled else p[i]
        p[i] = q - t


@kernel(**EXACT)
def _adam_parallel(p, g, m, v, v_max, offset, c, coupled, decoupled,
                   amsgrad):  # pragma: no cover - compiled  # fmt: skip
    n = p.size
    for b in numba.prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        _adam_span(p, g, m, v, v_max, offset, lo, min(lo + BLOCK, n), c, coupled, decoupled,
                   amsgrad)


def sgd_coefficients(dtype: np.dtype, lr: float, momentum: float, dampening: float,
                     weight_decay: float) -> np.ndarray:  # fmt: skip
    """SGD's scalars rounded to ``dtype``: weight decay, momentum, ``1 - dampening``, lr."""
    return np.array([weight_decay, momentum, 1.0 - dampening, lr], dtype)


def sgd(p: np.ndarray, g: np.ndarray, buf: np.ndarray, c: np.ndarray, decay: bool,
        maximize: bool, momentum: bool, first: bool, dampened: bool, nesterov: bool) -> None:
    """SGD's update of the flat parameter ``p`` (n,) from its gradient ``g`` (n,), in place.

    ``buf`` (n,) is the momentum buffer (set to the direction when ``first``; unused without
    ``momentum``), ``c`` comes from :func:`sgd_coefficients`, and the flags say which of the
    optional terms apply, as in ``theta.optim.SGD``.
    """
    flags = (decay, maximize, momentum, first, dampened, nesterov)
    if p.size >= PARALLEL_MIN:
        _sgd_parallel(p, g, buf, c, *flags)
    else:
        _sgd_span(p, g, buf, 0, p.size, c, *flags)


@serial_kernel(**EXACT)
def _sgd_span(p, g, buf, lo, hi, c, decay, maximize, momentum, first, dampened,
              nesterov):  # pragma: no cover - compiled  # fmt: skip
    _sgd_loop(p[lo:hi], g[lo:hi], buf[lo:hi] if momentum else buf[:0], c, decay, maximize,
              momentum, first, dampened, nesterov)  # fmt: skip


@serial_kernel(**EXACT)
def _sgd_loop(p, g, buf, c, decay, maximize, momentum, first, dampened,
              nesterov):  # pragma: no cover - compiled  # fmt: skip
    wd, mu, undamped, lr = c[0], c[1], c[2], c[3]
    for i in range(p.size):
        d = -g[i] if maximize else g[i]
        if decay:
            d = p[i] * wd - g[i] if maximize else p[i] * wd + g[i]
        if momentum:
            if first:
                b = d
            elif dampened:
                b = buf[i] * mu + d * undamped
            else:
                b = buf[i] * mu + d
            buf[i] = b
            d = b * mu + d if nesterov else b
        p[i] = p[i] - d * lr


@kernel(**EXACT)
def _sgd_parallel(p, g, buf, c, decay, maximize, momentum, first, dampened,
                  nesterov):  # pragma: no cover - compiled  # fmt: skip
    n = p.size
    for b in numba.prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        _sgd_span(p, g, buf, lo, min(lo + BLOCK, n), c, decay, maximize, momentum, first,
                  dampened, nesterov)
