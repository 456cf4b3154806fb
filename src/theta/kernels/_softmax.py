"""Attention's masked softmax, compiled: from the scores to the weights in one pass per row.

NumPy needs a pass per step (scale, mask, max, subtract, exp, sum, divide), each on one core;
here each row of the (B, nh, T, S) scores is turned into weights while it is in cache, rows
in parallel. The matrix products around it stay with BLAS (``theta.nn.attention``). A causal mask
is applied by position, without a mask array; other masks come as additive float32 values
(0 or -inf for bool masks) with element strides that broadcast them to (B, nh, T, S). A query
whose keys are all forbidden gets zero weights. Float32 only: float64 stays on NumPy, exact,
for gradcheck.

Dimensions: B batch, nh heads, T queries, S keys.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from theta.kernels._jit import kernel, serial_kernel

_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)  # ln 2 in two parts (Cephes): exact products with n
_LN2_LO = np.float32(-2.12194440e-4)
_EXP_LO = np.float32(-87.3)  # below this exp underflows to 0 (and masked -inf lands here)
_EXP_C = (np.float32(1.9875691500e-4), np.float32(1.3981999507e-3),
          np.float32(8.3334519073e-3), np.float32(4.1665795894e-2),
          np.float32(1.6666665459e-1), np.float32(5.0000001201e-1))  # fmt: skip


@intrinsic
def _as_float32(typingctx, bits):  # pragma: no cover - compiled
    """The float32 whose bits are the int32 ``bits`` (a bitcast, which vectorises)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@serial_kernel
def _exp_shifted(x, i, n, peak):  # pragma: no cover - compiled
    """``x[i, :n] = exp(x[i, :n] - peak)`` for results at most 1, returning their sum.

    Cephes' expf as a polynomial so that the loop vectorises (``math.exp`` is a libm call per
    element), ``2**k`` made in the exponent bits. NaN stays NaN; arguments below -87.3
    (forbidden keys) give 0.
    """
    c0, c1, c2, c3, c4, c5 = _EXP_C
    total = np.float32(0.0)
    for s in range(n):
        z = x[i, s] - peak
        a = _EXP_LO if z < _EXP_LO else z  # keeps NaN
        k = np.int32(a * _LOG2E - np.float32(0.5))  # nearest, as a <= 0
        kf = np.float32(k)
        r = a - kf * _LN2_HI - kf * _LN2_LO
        y = ((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5
        power = _as_float32((k + np.int32(127)) << 23)
        e = (y * r * r + r + np.float32(1.0)) * power
        e = np.float32(0.0) if z < _EXP_LO else e
        x[i, s] = e
        total += e
    return total


@kernel
def softmax_rows(x, nh, T, scale, causal, mask, mstride):  # pragma: no cover - compiled
    """Scores to attention weights in place: ``x`` (B * nh * T, S), rows in (B, nh, T) order,
    becomes the softmax over keys of ``x * scale`` plus the additive ``mask``, with the keys
    after a query's position forbidden if ``causal`` (the queries are the last T of S).

    ``mask`` is flat with element strides ``mstride`` over (B, nh, T, S) (0 where it
    broadcasts), or empty. A row whose keys are all forbidden gets zero weights.
    """
    rows, S = x.shape
    scale = np.float32(scale)
    for bh in numba.prange(rows // T):  # one (batch, head) per task
        for t in range(T):
            base = (bh // nh) * mstride[0] + (bh % nh) * mstride[1] + t * mstride[2]
            n = min(S, max(0, t + 1 + S - T)) if causal else S
            _softmax_row(x, bh * T + t, n, scale, mask, base, mstride[3])


@serial_kernel
def _softmax_row(x, i, n, scale, mask, base, step):  # pragma: no cover
    """Row ``i`` of :func:`softmax_rows`, whose first ``n`` keys are visible; its mask values
    start at ``mask[base]``, ``step`` apart."""
    S = x.shape[1]
    for s in range(n):
        x[i, s] *= scale
    if mask.size and step == 1:  # a loop of its own, as a gather would not vectorise
        for s in range(n):
            x[i, s] += mask[base + s]
    elif mask.size:
        for s in range(n):
            x[i, s] += mask[base + s * step]
    peak = np.float32(-np.inf)
    for s in range(n):
        peak = max(peak, x[i, s])
    if not np.isfinite(peak):  # every key forbidden: zero weights, not NaN
        peak = np.float32(0.0)
    total = _exp_shifted(x, i, n, peak)
    inv = np.float32(1.0) / total if total != 0 else np.float32(1.0)
    for s in range(n):
        x[i, s] *= inv
    for s in range(n, S):  # the keys after a causal query's position
        x[i, s] = 0.0


@kernel
def softmax_rows_backward(d, w, dot, scale):  # pragma: no cover - compiled
    """Softmax backward in place: ``d`` (rows, S), the gradient of the weights ``w``, becomes
    that of the unscaled scores, ``w * (d - dot) * scale``; ``dot`` (rows,) is ``sum(d * w)``
    over keys (FlashAttention's ``sum(grad * out)``)."""
    scale = np.float32(scale)
    for i in numba.prange(d.shape[0]):
        di = dot[i]
        for s in range(d.shape[1]):
            d[i, s] = w[i, s] * (d[i, s] - di) * scale
