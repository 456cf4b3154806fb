"""float32 GELU (exact erf form and GPT-2's tanh form): value, slope and ``grad * slope`` in one
pass, optionally after a bias add, on blocks of rows in parallel.

``math.exp`` and ``math.tanh`` are scalar libm calls that LLVM cannot vectorise, so the one
transcendental, ``exp``, is written out as Cephes' ``expf``: the reduction ``t = n ln2 + r``
(Cody & Waite's two-part ln 2), a degree-6 polynomial for ``exp(r)`` and ``2**n`` built from
its IEEE bits. Every step then vectorises (AVX2 + FMA: 8 float32 lanes), and ``/`` is written
``np.divide``: Numba's ``/`` checks for a zero divisor, a branch that stops vectorisation.
Both forms are written through ``exp`` with no cancellation:

- exact: ``Phi(-|x|)`` by Abramowitz & Stegun 7.1.26 (the formula of theta's NumPy path and of
  PyTorch's float32 CPU kernel, error below 1.5e-7), ``gelu = max(x, 0) - |x| Phi(-|x|)``;
- tanh: ``(1 + tanh(u)) / 2 = 1 / (1 + exp(-2u))``, ``u = sqrt(2/pi) (x + 0.044715 x^3)``,
  which keeps its relative accuracy in the negative tail where ``1 + tanh(u)`` cancels.

NaN gives NaN; ``±inf`` gives what the NumPy path gives (NaN, except ``gelu_tanh(+inf) = inf``).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from theta.kernels._jit import kernel, serial_kernel

_CHUNK = 4096  # elements per task: a row of a layer's pre-activation, or a slice of a long one
_PARTS = 64  # runs of tasks, shared out among the threads: more than any pool has threads

_F = np.float32
_ZERO, _HALF, _ONE = _F(0.0), _F(0.5), _F(1.0)
_LOG2E = _F(1.0 / math.log(2.0))
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)  # ln 2 = HI + LO, HI exact in 9 bits
_EXP_LIMIT = _F(104.0)  # exp(-104) is below half the smallest float32, exp(104) overflows
# Cephes expf: exp(r) = 1 + r + r^2 P(r) on |r| <= ln2 / 2, highest order first
_EXP_P = tuple(_F(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                               4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))  # fmt: skip

_AS_P = _F(0.3275911 / math.sqrt(2.0))  # A&S 7.1.26 at z = |x| / sqrt 2
_AS_1, _AS_2, _AS_3, _AS_4, _AS_5 = (
    _F(0.5 * c) for c in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
)
_PHI_0 = _F(1.0 / math.sqrt(2.0 * math.pi))  # phi(x) = exp(-x^2 / 2) / sqrt(2 pi)

_C = math.sqrt(2.0 / math.pi)
_TANH_C, _TANH_CA = _F(_C), _F(_C * 0.044715)
_TANH_D0, _TANH_D2 = _F(2.0 * _C), _F(6.0 * _C * 0.044715)  # d(2u)/dx = D0 + D2 x^2


@intrinsic
def _float32_from_bits(typingctx, bits):  # pragma: no cover - compiled
    """The float32 whose IEEE-754 bit pattern is the int32 ``bits`` (a free register move)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@serial_kernel(inline="always")
def _pow2(k):  # pragma: no cover - compiled
    """``2.0 ** k`` in float32 for an int32 ``k`` in [-126, 127]."""
    return _float32_from_bits((k + np.int32(127)) << np.int32(23))


@serial_kernel(inline="always")
def _exp(t):  # pragma: no cover - compiled
    """``exp(t)`` in float32, to about 1 ulp, for a float32 ``t`` (0 below -104, inf above 88.7;
    NaN maps to 0: the callers' results carry ``x``'s NaN themselves)."""
    t = t if t > -_EXP_LIMIT else -_EXP_LIMIT
    t = t if t < _EXP_LIMIT else _EXP_LIMIT
    n = np.floor(t * _LOG2E + _HALF)
    r = t - n * _LN2_HI - n * _LN2_LO  # exact: n * _LN2_HI has few bits (Cody & Waite)
    p = _EXP_P[0]
    for c in _EXP_P[1:]:
        p = p * r + c
    e = (r * r) * p + r + _ONE
    k = np.int32(n)
    half = k >> np.int32(1)  # two factors keep each 2**k normal over the whole range
    return e * _pow2(half) * _pow2(k - half)


@serial_kernel(inline="always")
def _gelu_erf(x):  # pragma: no cover - compiled
    """Exact GELU of a float32 ``x``: value ``max(x, 0) - |x| Phi(-|x|)`` and slope
    ``Phi(x) + x phi(x) = 0.5 + sign(x) (0.5 - Phi(-|x|) + |x| phi(x))``."""
    a = abs(x)
    t = np.divide(_ONE, _ONE + _AS_P * a)
    e = _exp(-_HALF * x * x)
    h = t * ((((_AS_5 * t + _AS_4) * t + _AS_3) * t + _AS_2) * t + _AS_1) * e  # Phi(-|x|)
    value = (x if x > _ZERO else _ZERO) - a * h
    slope = math.copysign(a * e * _PHI_0 - h + _HALF, x) + _HALF
    return value, slope


@serial_kernel(inline="always")
def _gelu_tanh(x):  # pragma: no cover - compiled
    """GPT-2's GELU of a float32 ``x``: value ``x v``, ``v = 1 / (1 + exp(-2u))``, and slope
    ``v + x v (1 - v) du/dx 2``."""
    x2 = x * x
    e = _exp(_F(-2.0) * x * (_TANH_C + _TANH_CA * x2))
    v = np.divide(_ONE, _ONE + e)
    w = _ONE - v if e > _ONE else e * v  # 1 - v, without cancellation when v -> 1
    return x * v, v + x * v * w * (_TANH_D0 + _TANH_D2 * x2)


@serial_kernel
def _parts(rows, cols):  # pragma: no cover - compiled
    """Tasks of at most ``_CHUNK`` columns of one row: per row, in all, and the parts (each
    a run of tasks with one scratch buffer) that the threads share."""
    per_row = (cols + _CHUNK - 1) // _CHUNK
    tasks = rows * per_row
    return per_row, tasks, min(_PARTS, tasks)


@serial_kernel
def _task(task, per_row, cols):  # pragma: no cover - compiled
    """Row, first column and length of one task."""
    row = task // per_row
    start = (task - row * per_row) * _CHUNK
    return row, start, min(_CHUNK, cols - start)


@serial_kernel
def _row(x, i, start, n):  # pragma: no cover - compiled
    """``x[i, start:start + n]``, or None for None."""
    return None if x is None else x[i, start : start + n]


@serial_kernel
def _cols(bias, start, n):  # pragma: no cover - compiled
    """``bias[start:start + n]``, or None for None."""
    return None if bias is None else bias[start : start + n]


@serial_kernel
def _pre(x, bias, j):  # pragma: no cover - compiled
    """The pre-activation ``x[j] + bias[j]`` (``x[j]`` without a bias)."""
    return x[j] if bias is None else x[j] + bias[j]


@serial_kernel
def _store(src, out, grad):  # pragma: no cover - compiled
    """``out[:] = src[:out.size]`` (times ``grad``), unless ``out`` is None."""
    if out is not None:
        for j in range(out.size):
            out[j] = src[j] if grad is None else src[j] * grad[j]


@kernel
def gelu_erf(x, bias, grad, value, slope):  # pragma: no cover - compiled
    """Exact GELU of ``x + bias`` (rows, cols): its value into ``value``, its slope (times
    ``grad``, when given) into ``slope``. ``bias`` (cols,), ``grad``, ``value`` and ``slope``
    (rows, cols) may each be None; ``value`` or ``slope`` may be ``x`` itself: each task goes
    through scratch buffers (LLVM cannot tell that an output aliases its input only element
    for element, and would not vectorise a loop that reads ``x`` and writes it). The slope is
    computed even when not stored: left out, fast-math folds ``x * (1 / (1 + e))`` into one
    division, and a value alone would no longer equal, bit for bit, the value beside a slope."""
    rows, cols = x.shape
    per_row, tasks, parts = _parts(rows, cols)
    for p in numba.prange(parts):
        v, s = np.empty(_CHUNK, np.float32), np.empty(_CHUNK, np.float32)
        for task in range(p * tasks // parts, (p + 1) * tasks // parts):
            i, start, n = _task(task, per_row, cols)
            xi, bi = x[i, start : start + n], _cols(bias, start, n)
            for j in range(n):
                v[j], s[j] = _gelu_erf(_pre(xi, bi, j))
            _store(v, _row(value, i, start, n), None)
            _store(s, _row(slope, i, start, n), _row(grad, i, start, n))


@kernel
def gelu_tanh(x, bias, grad, value, slope):  # pragma: no cover - compiled
    """GPT-2's tanh GELU, with the arguments of :func:`gelu_erf`. The loop is written twice
    rather than taking the element function as an argument: such a kernel was not reloaded
    from Numba's disk cache in a new process, and compiled again each time."""
    rows, cols = x.shape
    per_row, tasks, parts = _parts(rows, cols)
    for p in numba.prange(parts):
        v, s = np.empty(_CHUNK, np.float32), np.empty(_CHUNK, np.float32)
        for task in range(p * tasks // parts, (p + 1) * tasks // parts):
            i, start, n = _task(task, per_row, cols)
            xi, bi = x[i, start : start + n], _cols(bias, start, n)
            for j in range(n):
                v[j], s[j] = _gelu_tanh(_pre(xi, bi, j))
            _store(v, _row(value, i, start, n), None)
            _store(s, _row(slope, i, start, n), _row(grad, i, start, n))
