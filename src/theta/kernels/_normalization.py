"""LayerNorm forward and backward, one pass over memory each (a row is re-read from L1 cache),
rows in parallel.

Inputs are C-contiguous (N, D) arrays of float32 or float64; the row statistics ``mean`` and
``rstd`` are float64 whatever the input, and every sum accumulates in float64, so a float32
row with a large mean (1e4 + noise) is as accurate as PyTorch's. The variance is taken about
the mean in a second pass over the row (it is in L1 cache by then), never as E[x²] - E[x]²,
which cancels catastrophically for such rows.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from theta.kernels._jit import kernel, serial_kernel


@serial_kernel
def _row_stats(row, eps):  # pragma: no cover - compiled
    """Mean and 1 / sqrt(var + eps) of one row, two passes in float64."""
    d = row.size
    total = 0.0
    for j in range(d):
        total += row[j]
    mean = total / d
    sq = 0.0
    for j in range(d):
        c = row[j] - mean
        sq += c * c
    return mean, 1.0 / math.sqrt(sq / d + eps)


@kernel
def forward(x, weight, bias, eps):  # pragma: no cover - compiled
    """``y = (x - mean) * rstd * weight + bias`` per row of ``x`` (N, D).

    Returns ``y`` (N, D) in ``x``'s dtype, and ``mean``, ``rstd`` (N,) in float64 for the
    backward pass.
    """
    n, d = x.shape
    y = np.empty_like(x)
    mean = np.empty(n)
    rstd = np.empty(n)
    for i in numba.prange(n):
        row, out = x[i], y[i]
        m, r = _row_stats(row, eps)
        for j in range(d):
            out[j] = (row[j] - m) * r * weight[j] + bias[j]
        mean[i] = m
        rstd[i] = r
    return y, mean, rstd


@serial_kernel
def _row_backward(row, m, r, weight, g, gx, part_w, part_b):  # pragma: no cover - compiled
    """``gx`` for one row; adds the row's terms of ``grad_w`` and ``grad_b`` to the parts."""
    d = row.size
    sum_g = 0.0  # sum of g * w
    sum_gx = 0.0  # sum of g * w * x_hat
    for j in range(d):
        x_hat = (row[j] - m) * r
        gw = g[j] * weight[j]
        sum_g += gw
        sum_gx += gw * x_hat
        part_w[j] += g[j] * x_hat
        part_b[j] += g[j]
    mean_g = sum_g / d
    mean_gx = sum_gx / d
    for j in range(d):
        x_hat = (row[j] - m) * r
        gx[j] = r * (g[j] * weight[j] - mean_g - x_hat * mean_gx)


def backward(x, mean, rstd, weight, grad):
    """Gradients of ``forward`` for the upstream ``grad`` (N, D), on C-contiguous arrays.

    Returns ``grad_x`` (N, D) and ``grad_w``, ``grad_b`` (D,), all in ``x``'s dtype. The
    column sums are taken per block of rows, one block per thread, then the blocks are added
    in order, so the result depends on the thread count but not on scheduling.
    """
    # the thread count is read here: inside a kernel it would stop Numba caching the kernel
    return _backward(x, mean, rstd, weight, grad, numba.get_num_threads())


@kernel
def _backward(x, mean, rstd, weight, grad, threads):  # pragma: no cover - compiled
    n, d = x.shape
    grad_x = np.empty_like(x)
    blocks = max(1, min(threads, n))
    part_w = np.zeros((blocks, d))
    part_b = np.zeros((blocks, d))
    for k in numba.prange(blocks):
        pw, pb = part_w[k], part_b[k]
        for i in range(k * n // blocks, (k + 1) * n // blocks):
            _row_backward(x[i], mean[i], rstd[i], weight, grad[i], grad_x[i], pw, pb)
    grad_w = np.empty(d, dtype=x.dtype)
    grad_b = np.empty(d, dtype=x.dtype)
    for j in range(d):
        sw = 0.0
        sb = 0.0
        for k in range(blocks):
            sw += part_w[k, j]
            sb += part_b[k, j]
        grad_w[j] = sw
        grad_b[j] = sb
    return grad_x, grad_w, grad_b
