"""Pooling (max, average, adaptive average) and interpolation, as PyTorch defines them.

Inputs are ``(N, C, L)`` or ``(N, C, H, W)``; a 1-D op is the 2-D one with height 1. Max
pooling finds each window's argmax with plain NumPy (a running maximum over the kernel
offsets; ties: the first, as PyTorch), and the differentiable op is then a gather of those
flat indices, whose backward scatters the gradient back. Average pooling sums strided
slices, one per kernel offset. Adaptive average pooling, nearest and (bi)linear
interpolation are separable linear maps: one small ``(out, in)`` matrix per spatial axis,
applied by two matrix products, and their transposes in backward.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from theta.autograd import Context, Function, Tensor, tensor
from theta.nn.module import Module
from theta.validation import Each, Interval, Options, check_param, int_tuple

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "MaxPool2d", "Upsample", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "interpolate", "max_pool1d", "max_pool2d",
]  # fmt: skip

Grads = tuple[np.ndarray | None, ...]
Pair = tuple[int, int]
_POSITIVE = Interval(numbers.Integral, 1, None)
_NON_NEGATIVE = Interval(numbers.Integral, 0, None)


# --- the ops ----------------------------------------------------------------------------------


class Gather(Function):
    """``x.reshape(-1)[index]``: max pooling once its argmaxes are known.

    Backward scatters the gradient to the gathered positions; where windows overlap, one
    input element may be picked several times and its gradients add up (``np.bincount``).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, index: np.ndarray, overlap: bool) -> np.ndarray:
        return x.reshape(-1)[index]

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, index = ctx.parents[0], ctx.kwargs["index"]
        if ctx.kwargs["overlap"]:
            dx = np.bincount(index.ravel(), weights=grad.ravel(), minlength=x.size)
            return (dx.astype(x.dtype, copy=False).reshape(x.shape),)
        dx = np.zeros(x.size, dtype=x.dtype)
        dx[index.ravel()] = grad.ravel()  # each input picked at most once
        return (dx.reshape(x.shape),)


class AvgPool(Function):
    """Window sums over zero-padded (N, C, H, W) divided by ``divisor`` (a scalar or (OH, OW)).

    Forward and backward are one strided slice add per kernel offset.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        *,
        kernel: Pair,
        stride: Pair,
        pads: tuple[int, int, int, int],
        out: Pair,
        divisor: Any,
    ) -> np.ndarray:
        top, bottom, left, right = pads
        x4 = x[:, :, None, :] if x.ndim == 3 else x
        xp = np.pad(x4, ((0, 0), (0, 0), (top, bottom), (left, right))) if any(pads) else x4
        acc = np.zeros((*x4.shape[:2], *out), dtype=x.dtype)
        for rows, cols in _offsets(kernel, stride, out):
            acc += xp[:, :, rows, cols]
        acc /= divisor
        return acc[:, :, 0] if x.ndim == 3 else acc

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, kw = ctx.parents[0], ctx.kwargs
        top, bottom, left, right = kw["pads"]
        g = (grad[:, :, None, :] if grad.ndim == 3 else grad) / kw["divisor"]
        n, c = x.shape[:2]
        h, w = (1, x.shape[2]) if x.ndim == 3 else x.shape[2:]
        dxp = np.zeros((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
        for rows, cols in _offsets(kw["kernel"], kw["stride"], kw["out"]):
            dxp[:, :, rows, cols] += g
        return (dxp[:, :, top : top + h, left : left + w].reshape(x.shape),)


class Resample(Function):
    """``rows @ x @ cols.T`` over the last two axes (only ``cols`` for 1-D): a separable
    linear map. With ``index`` (nearest neighbour) forward is that exact gather instead, so
    infinities stay where they are rather than meeting a 0 in the product."""

    @staticmethod
    def forward(
        ctx: Context, x: np.ndarray, *, rows: Any, cols: np.ndarray, index: Any
    ) -> np.ndarray:
        if index is not None:
            return x[..., index[0][:, None], index[1]] if rows is not None else x[..., index[1]]
        y = x @ cols.T  # (..., H, OW)
        return rows @ y if rows is not None else y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        rows, cols = ctx.kwargs["rows"], ctx.kwargs["cols"]
        g = grad @ cols
        return (rows.T @ g if rows is not None else g,)


def _offsets(kernel: Pair, stride: Pair, out: Pair, dilation: Pair = (1, 1)) -> list:
    """For each kernel offset, the strided slices of the padded input its windows read."""
    return [
        (slice(i * dilation[0], i * dilation[0] + stride[0] * (out[0] - 1) + 1, stride[0]),
         slice(j * dilation[1], j * dilation[1] + stride[1] * (out[1] - 1) + 1, stride[1]))
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]  # fmt: skip


# --- pooling ----------------------------------------------------------------------------------


def _pool_geometry(
    where: str, x: Any, n: int, kernel_size, stride, padding, dilation, ceil_mode: bool
) -> tuple[Tensor, tuple, tuple, tuple, tuple, tuple]:
    """Checked (x, kernel, stride, padding, dilation, out) as 2-D tuples, PyTorch's sizes.

    An output position is kept under ``ceil_mode`` only if its window starts inside the input
    or its left padding, as in PyTorch.
    """
    x = x if isinstance(x, Tensor) else tensor(x)
    if x.ndim != n + 2:
        shape = "(N, C, L)" if n == 1 else "(N, C, H, W)"
        raise ValueError(f"{where}: expected a {n + 2}-D input {shape} (got shape {x.shape}).")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: expected a floating input (got dtype {x.dtype}).")
    check_param(ceil_mode, "ceil_mode", "boolean", caller=where)
    kernel = int_tuple(kernel_size, n, "kernel_size", where)
    stride = kernel if stride is None else int_tuple(stride, n, "stride", where)
    padding = int_tuple(padding, n, "padding", where, _NON_NEGATIVE)
    dilation = int_tuple(dilation, n, "dilation", where)
    if any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
        raise ValueError(
            f"{where}: padding should be at most half of kernel size, but got "
            f"padding={padding} and kernel_size={kernel}."
        )
    out = []
    for size, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation, strict=True):
        o = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        out.append(o)
    if min(out) < 1:
        raise ValueError(
            f"{where}: input of shape {x.shape} is too small for kernel_size={kernel}, "
            f"dilation={dilation} and padding={padding}: the output size would be {tuple(out)}."
        )
    if n == 1:
        kernel, stride, dilation = ((1, *t) for t in (kernel, stride, dilation))
        padding, out = (0, *padding), [1, *out]
    return x, kernel, stride, padding, dilation, tuple(out)


def _pads(size: tuple[int, ...], kernel, stride, padding, dilation, out) -> tuple[int, ...]:
    """(top, bottom, left, right) zeros that make every window of ``out`` lie in the array.

    The bottom and right may be more than ``padding`` (``ceil_mode``) or less (negative: the
    last rows are never read).
    """
    pads = []
    for n, k, s, p, d, o in zip(size, kernel, stride, padding, dilation, out, strict=True):
        pads += [p, (o - 1) * s + d * (k - 1) + 1 - n - p]
    return tuple(pads)


def _max_pool(where, n, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, kernel, stride, padding, dilation, out = _pool_geometry(
        where, x, n, kernel_size, stride, padding, dilation, ceil_mode
    )
    check_param(return_indices, "return_indices", "boolean", caller=where)
    data = x.data[:, :, None, :] if n == 1 else x.data
    batch, c, h, w = data.shape
    top, bottom, left, right = _pads((h, w), kernel, stride, padding, dilation, out)
    pads = ((0, 0), (0, 0), (top, max(bottom, 0)), (left, max(right, 0)))
    xp = np.pad(data, pads, constant_values=-np.inf) if any(map(any, pads)) else data
    # a running maximum over the kernel offsets: one pass per offset, none per window.
    # Strictly greater keeps the first of tied maxima, and a NaN always takes over, as in
    # PyTorch's CPU kernel (looked for only if the input has one: it costs a pass).
    # Branch-free updates (maximum, multiply-add on a small int type): masked copies
    # mispredict on random data and cost several times as much.
    has_nan = bool(np.isnan(data).any())
    small = np.int8 if kernel[0] * kernel[1] <= 127 else np.int32
    best, arg = None, np.zeros((batch, c, *out), dtype=small)
    for t, (rows, cols) in enumerate(_offsets(kernel, stride, out, dilation)):
        v = xp[:, :, rows, cols]
        if best is None:
            best = v.copy()
            continue
        take = (v > best) | np.isnan(v) if has_nan else v > best
        if has_nan:
            np.copyto(best, v, where=take)
        else:
            np.maximum(best, v, out=best)
        arg *= ~take
        arg += take * small(t)
    rows = np.arange(out[0])[:, None] * stride[0] - top + (arg // kernel[1]) * dilation[0]
    cols = np.arange(out[1]) * stride[1] - left + (arg % kernel[1]) * dilation[1]
    flat = rows * w + cols  # PyTorch's indices: flat within each channel
    channel_starts = np.arange(batch * c).reshape(batch, c, 1, 1) * (h * w)
    overlap = any(s < d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel, strict=True))
    y = Gather.apply(x, index=flat + channel_starts, overlap=overlap)
    if n == 1:
        y, flat = y.reshape(batch, c, out[1]), flat[:, :, 0]
    return (y, tensor(flat)) if return_indices else y


def max_pool1d(
    x: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    dilation: int | tuple[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over sliding windows of (N, C, L), as ``torch.nn.functional.max_pool1d``.

    Arguments and indices as in :func:`max_pool2d`.

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> x = theta.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]])  # (N, C, L)
    >>> F.max_pool1d(x, 2, stride=1)
    tensor([[[3., 3., 5., 5.]]])
    """
    return _max_pool("max_pool1d", 1, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)  # fmt: skip


def max_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over sliding windows of (N, C, H, W), as ``torch.nn.functional.max_pool2d``.

    Padding counts as -inf. The gradient goes to each window's maximum, the first one where
    several tie (PyTorch's rule).

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
    kernel_size : int or pair
    stride : int or pair, default kernel_size
    padding : int or pair, default 0
        At most half the kernel size.
    dilation : int or pair, default 1
    ceil_mode : bool, default False
        Round the output size up, adding windows that overhang the bottom and right.
    return_indices : bool, default False
        Also return where each maximum is, flat within its channel (``h * W + w``, int64).

    Returns
    -------
    Tensor of shape (N, C, OH, OW), and with ``return_indices`` an int64 Tensor of that shape

    Examples
    --------
    >>> import numpy as np, theta
    >>> max_pool2d(theta.tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool("max_pool2d", 2, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)  # fmt: skip


def _avg_pool(where, n, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):  # fmt: skip
    x, kernel, stride, padding, _, out = _pool_geometry(
        where, x, n, kernel_size, stride, padding, 1, ceil_mode
    )
    check_param(count_include_pad, "count_include_pad", "boolean", caller=where)
    check_param(divisor_override, "divisor_override", [_POSITIVE, None], caller=where)
    size = (1, x.shape[2]) if n == 1 else x.shape[2:]
    if divisor_override is not None:
        divisor: Any = divisor_override
    else:
        counts = []  # per axis: how many of each window's cells count (PyTorch's pool_size)
        for o, k, s, p, length in zip(out, kernel, stride, padding, size, strict=True):
            start = np.arange(o) * s - p
            end = np.minimum(start + k, length + p)
            if not count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, length)
            counts.append(end - start)
        divisor = (counts[0][:, None] * counts[1]).astype(x.dtype)
    pads = _pads(size, kernel, stride, padding, (1, 1), out)
    return AvgPool.apply(x, kernel=kernel, stride=stride, pads=tuple(max(p, 0) for p in pads),
                         out=out, divisor=divisor)  # fmt: skip


def avg_pool1d(
    x: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over sliding windows of (N, C, L), as ``torch.nn.functional.avg_pool1d``.

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> F.avg_pool1d(theta.arange(6.0).reshape(1, 1, 6), 2)
    tensor([[[0.5, 2.5, 4.5]]])
    """
    return _avg_pool("avg_pool1d", 1, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)  # fmt: skip


def avg_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over sliding windows of (N, C, H, W), as ``torch.nn.functional.avg_pool2d``.

    Padding is zeros; ``count_include_pad`` counts them in the divisor (windows that
    overhang under ``ceil_mode`` are divided by their part inside the padded input, as
    PyTorch); ``divisor_override`` replaces the divisor. Other arguments as :func:`max_pool2d`.

    Examples
    --------
    >>> import numpy as np, theta
    >>> avg_pool2d(theta.tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    return _avg_pool("avg_pool2d", 2, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)  # fmt: skip


# --- separable linear maps: adaptive pooling and interpolation -------------------------------


def _adaptive_matrix(n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """Row i averages cells ``floor(i n_in / n_out)`` to ``ceil((i + 1) n_in / n_out)``."""
    i = np.arange(n_out)
    start, end = i * n_in // n_out, -(-(i + 1) * n_in // n_out)
    cells = np.arange(n_in)
    inside = (cells >= start[:, None]) & (cells < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive(where: str, n: int, x: Any, output_size: Any) -> Tensor:
    x = x if isinstance(x, Tensor) else tensor(x)
    if x.ndim != n + 2 or x.dtype.kind != "f":
        shape = "(N, C, L)" if n == 1 else "(N, C, H, W)"
        raise ValueError(
            f"{where}: expected a floating {n + 2}-D input {shape} (got shape {x.shape}, "
            f"dtype {x.dtype})."
        )
    size = tuple(output_size) if isinstance(output_size, tuple | list) else (output_size,) * n
    if len(size) != n:
        raise ValueError(f"{where}: output_size must have {n} entries (got {output_size}).")
    size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(size))
    check_param(size, "output_size", Each(_POSITIVE), caller=where)
    mats = [_adaptive_matrix(x.shape[2 + i], s, x.dtype) for i, s in enumerate(size)]
    rows = mats[0] if n == 2 else None
    return Resample.apply(x, rows=rows, cols=mats[-1], index=None)


def adaptive_avg_pool1d(x: Tensor, output_size: int | tuple[int]) -> Tensor:
    """Average (N, C, L) over ``output_size`` nearly equal windows, as PyTorch's.

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> F.adaptive_avg_pool1d(theta.arange(6.0).reshape(1, 1, 6), 2)
    tensor([[[1., 4.]]])
    """
    return _adaptive("adaptive_avg_pool1d", 1, x, output_size)


def adaptive_avg_pool2d(x: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average (N, C, H, W) over an ``output_size`` grid of nearly equal windows.

    Window ``i`` of an axis covers ``floor(i H / OH)`` to ``ceil((i + 1) H / OH)``, as in
    PyTorch; ``None`` in ``output_size`` keeps that axis's size.

    Examples
    --------
    >>> import numpy as np, theta
    >>> adaptive_avg_pool2d(theta.tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 1).tolist()
    [[[[7.5]]]]
    """
    return _adaptive("adaptive_avg_pool2d", 2, x, output_size)


def _interp_matrix(
    mode: str, n_in: int, n_out: int, scale: float | None, align_corners: bool, dtype
) -> tuple[np.ndarray, np.ndarray | None]:
    """The (n_out, n_in) matrix of one axis, and for "nearest" its source indices.

    Source positions follow PyTorch's formulas in its arithmetic: float32 for "nearest",
    the input's dtype for "linear", and ``1 / scale_factor`` where a scale factor was given.
    """
    dst = np.arange(n_out)
    if mode == "nearest":
        ratio = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
        src = np.minimum(np.floor(dst.astype(np.float32) * ratio).astype(np.int64), n_in - 1)
        matrix = np.zeros((n_out, n_in), dtype=dtype)
        matrix[dst, src] = 1
        return matrix, src
    if align_corners:
        ratio = dtype.type((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype.type(0)
        src = dst.astype(dtype) * ratio
    else:
        ratio = dtype.type(1.0 / scale) if scale else dtype.type(n_in) / dtype.type(n_out)
        src = np.maximum((dst.astype(dtype) + dtype.type(0.5)) * ratio - dtype.type(0.5), 0)
    low = src.astype(np.int64)
    high = low + (low < n_in - 1)
    frac = src - low.astype(dtype)
    matrix = np.zeros((n_out, n_in), dtype=dtype)
    np.add.at(matrix, (dst, low), 1 - frac)
    np.add.at(matrix, (dst, high), frac)
    return matrix, None


_MODES = {"nearest": (1, 2), "linear": (1,), "bilinear": (2,)}


def interpolate(
    x: Tensor,
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor``, as PyTorch.

    Parameters
    ----------
    x : Tensor of shape (N, C, L) or (N, C, H, W)
    size : int or tuple, optional
        The output's spatial size; give exactly one of ``size`` and ``scale_factor``.
    scale_factor : float or tuple, optional
        Output size ``floor(in * scale_factor)``; source positions use ``1 / scale_factor``
        (unless ``recompute_scale_factor``), as in PyTorch.
    mode : {"nearest", "linear", "bilinear"}, default "nearest"
        "nearest" picks ``floor(dst * in / out)`` (PyTorch's legacy "nearest"); "linear"
        (3-D) and "bilinear" (4-D) interpolate between the two nearest cells.
    align_corners : bool, optional
        For (bi)linear only: map the corner cells' centres onto each other (default False).

    Returns
    -------
    Tensor of shape (N, C, *size)

    Examples
    --------
    >>> import theta
    >>> interpolate(theta.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    """
    where = "interpolate"
    x = x if isinstance(x, Tensor) else tensor(x)
    check_param(mode, "mode", Options(_MODES), caller=where)
    n = x.ndim - 2
    if n not in _MODES[mode] or x.dtype.kind != "f":
        raise ValueError(
            f"{where}: mode {mode!r} takes a floating "
            f"{' or '.join(f'{d + 2}-D' for d in _MODES[mode])} input (got shape {x.shape}, "
            f"dtype {x.dtype})."
        )
    if mode == "nearest" and align_corners is not None:
        raise ValueError(
            f"{where}: align_corners can only be set with the interpolating modes linear and "
            f"bilinear (got mode='nearest', align_corners={align_corners})."
        )
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{where}: give exactly one of size and scale_factor.")
    in_size = x.shape[2:]
    if size is not None:
        sizes = (size,) * n if isinstance(size, numbers.Integral) else tuple(size)
        check_param(sizes, "size", Each(_POSITIVE), caller=where)
        scales: tuple = (None,) * n
    else:
        scales = (scale_factor,) * n if isinstance(scale_factor, numbers.Real) else tuple(
            scale_factor)  # fmt: skip
        check_param(scales, "scale_factor", Each(Interval(numbers.Real, 0, None, "neither")),
                    caller=where)  # fmt: skip
        sizes = tuple(math.floor(s * k) for s, k in zip(in_size, scales, strict=True))
        if recompute_scale_factor:
            scales = (None,) * n
    if len(sizes) != n or min(sizes) < 1:
        raise ValueError(
            f"{where}: the output size {sizes} must have {n} positive entries for input of "
            f"shape {x.shape}."
        )
    built = [
        _interp_matrix(mode, i, o, s, bool(align_corners), x.dtype)
        for i, o, s in zip(in_size, sizes, scales, strict=True)
    ]
    index = (built[0][1], built[-1][1]) if mode == "nearest" else None
    rows = built[0][0] if n == 2 else None
    return Resample.apply(x, rows=rows, cols=built[-1][0], index=index)


# --- layers -----------------------------------------------------------------------------------


class MaxPool2d(Module):
    """Max pooling layer, as ``torch.nn.MaxPool2d``; see :func:`max_pool2d`.

    Examples
    --------
    >>> MaxPool2d(2)
    MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        self.kernel_size, self.padding, self.dilation = kernel_size, padding, dilation
        self.stride = kernel_size if stride is None else stride
        self.return_indices, self.ceil_mode = return_indices, ceil_mode
        for name in ("kernel_size", "stride", "dilation"):
            int_tuple(getattr(self, name), 2, name, "MaxPool2d")
        int_tuple(padding, 2, "padding", "MaxPool2d", _NON_NEGATIVE)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)  # fmt: skip

    def __repr__(self) -> str:
        return (f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode})")  # fmt: skip


class AvgPool2d(Module):
    """Average pooling layer, as ``torch.nn.AvgPool2d``; see :func:`avg_pool2d`.

    Examples
    --------
    >>> import theta
    >>> pool = theta.nn.AvgPool2d(2)
    >>> pool(theta.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 2.5,  4.5],
              [10.5, 12.5]]]])
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override
        int_tuple(kernel_size, 2, "kernel_size", "AvgPool2d")
        int_tuple(self.stride, 2, "stride", "AvgPool2d")
        int_tuple(padding, 2, "padding", "AvgPool2d", _NON_NEGATIVE)

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)  # fmt: skip

    def __repr__(self) -> str:
        return (f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding})")  # fmt: skip


class AdaptiveAvgPool2d(Module):
    """Adaptive average pooling to a fixed grid, as ``torch.nn.AdaptiveAvgPool2d``.

    Examples
    --------
    >>> import theta
    >>> pool = theta.nn.AdaptiveAvgPool2d((2, 3))
    >>> pool(theta.ones(1, 4, 8, 9)).shape
    (1, 4, 2, 3)
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size)

    def __repr__(self) -> str:
        return f"AdaptiveAvgPool2d(output_size={self.output_size})"


class Upsample(Module):
    """Resize by ``scale_factor`` or to ``size``, as ``torch.nn.Upsample``; see :func:`interpolate`.

    Examples
    --------
    >>> Upsample(scale_factor=2)
    Upsample(scale_factor=2.0, mode='nearest')
    """

    def __init__(
        self,
        size: int | tuple[int, ...] | None = None,
        scale_factor: float | tuple[float, ...] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        check_param(mode, "mode", Options(_MODES), caller=self)
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)  # fmt: skip

    def __repr__(self) -> str:
        if self.scale_factor is not None:
            scale = self.scale_factor
            shown = tuple(map(float, scale)) if isinstance(scale, tuple | list) else float(scale)
            text = f"scale_factor={shown}"
        else:
            text = f"size={self.size}"
        return f"Upsample({text}, mode={self.mode!r})"
