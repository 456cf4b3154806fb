"""Reductions along axes (sum, mean, var, max, logsumexp, argmax, ...) and softmax.

``axis`` is an int, a tuple of ints (negative allowed) or ``None`` for all axes, and
``keepdims`` keeps reduced axes with size 1, exactly as in NumPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from theta.autograd._tensor import Tensor, as_tensor
from theta.autograd.function import Context, Function
from theta.special import log_softmax as _log_softmax
from theta.special import softmax as _softmax

__all__ = [
    "argmax", "argmin", "log_softmax", "logsumexp", "max", "mean", "min", "softmax", "std",
    "sum", "var",
]  # fmt: skip

Axis = int | tuple[int, ...] | None
Grads = tuple[np.ndarray | None, ...]


def normalize_axis(axis: Axis, ndim: int, op: str) -> tuple[int, ...]:
    """Turn ``axis`` into a sorted tuple of non-negative axes, rejecting out-of-range ones."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{op}: axis {a} is out of bounds for a tensor with {ndim} dimension(s)."
            )
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}.")
    return tuple(sorted(out))


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """``scale * sum(x)`` over ``axes``; backward broadcasts the gradient back over them.

    ``scale`` makes the mean one op instead of a sum and a multiply (the loss of every step).
    It saves nothing: backward needs only the input's shape, which no in-place change alters,
    so the engine has no versions to check for it.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axes: tuple[int, ...], keepdims: bool,
                scale: float = 1.0):  # fmt: skip
        out = x.sum(axis=axes, keepdims=keepdims)
        return out if scale == 1.0 else out * scale

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        shape = ctx.parents[0].data.shape
        if ctx.kwargs.get("scale", 1.0) != 1.0:
            grad = grad * ctx.kwargs["scale"]
        if not ctx.kwargs["keepdims"]:
            grad = grad.reshape(_keepdims_shape(shape, ctx.kwargs["axes"]))
        out = np.empty(shape, grad.dtype)
        out[...] = grad  # broadcast in C; cheaper than np.broadcast_to's Python wrapper
        return (out,)


class Max(Function):
    """Maximum over ``axes``; tied maxima share the gradient equally (as ``torch.amax``)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axes: tuple[int, ...], keepdims: bool, sign: int):
        out = (
            np.max(x, axis=axes, keepdims=True) if sign > 0 else np.min(x, axis=axes, keepdims=True)
        )
        ctx.save(x, out)
        return out if keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, out = ctx.saved
        axes = ctx.kwargs["axes"]
        hit = x == out
        count = hit.sum(axis=axes, keepdims=True)
        return (hit * (grad.reshape(out.shape) / count).astype(x.dtype, copy=False),)


class LogSumExp(Function):
    """``log(sum(exp(x)))`` shifted by the max, so it neither overflows nor underflows."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axes: tuple[int, ...], keepdims: bool):
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0).astype(x.dtype, copy=False)
        out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        ctx.save(x, out)
        return out if keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, out = ctx.saved
        return (grad.reshape(out.shape) * np.exp(x - out),)


class Softmax(Function):
    """``exp(x) / sum(exp(x))`` along ``axis``. A fused primitive for speed: the composed form
    costs five passes forward and more backward; the rule below is one expression."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis: int) -> np.ndarray:
        out = _softmax(x, axis)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        (out,) = ctx.saved
        dot = np.sum(grad * out, axis=ctx.kwargs["axis"], keepdims=True)
        return (out * (grad - dot),)


class LogSoftmax(Function):
    """``x - logsumexp(x)`` along ``axis``. A fused primitive for stability: composing
    ``log(softmax(x))`` underflows to -inf for large logits and its backward gives NaN."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis: int) -> np.ndarray:
        out = _log_softmax(x, axis)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        (out,) = ctx.saved
        return (grad - np.exp(out) * np.sum(grad, axis=ctx.kwargs["axis"], keepdims=True),)


# --- public functions ---------------------------------------------------------------------


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum of elements over ``axis``."""
    x = x if isinstance(x, Tensor) else as_tensor(x)  # one frame fewer for tensors
    return Sum.apply(x, axes=normalize_axis(axis, x.ndim, "sum"), keepdims=keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``: a sum scaled by ``1 / n``."""
    x = x if isinstance(x, Tensor) else as_tensor(x)  # one frame fewer for tensors
    axes = normalize_axis(axis, x.ndim, "mean")
    n = math.prod([x.shape[a] for a in axes])
    return Sum.apply(x, axes=axes, keepdims=keepdims, scale=1.0 / (n or 1))


def var(x: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance over ``axis`` with NumPy's ``ddof`` (0: population, 1: sample)."""
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "var")
    n = math.prod([x.shape[a] for a in axes])
    if n - ddof <= 0:
        raise ValueError(f"var: ddof={ddof} leaves no degrees of freedom for {n} element(s).")
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) * (1.0 / (n - ddof))


def std(x: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Standard deviation over ``axis`` (``sqrt`` of :func:`var`)."""
    return var(x, axis, ddof, keepdims).sqrt()


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Largest element over ``axis``."""
    x = as_tensor(x)
    _check_nonempty(x, "max")
    return Max.apply(x, axes=normalize_axis(axis, x.ndim, "max"), keepdims=keepdims, sign=1)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Smallest element over ``axis``."""
    x = as_tensor(x)
    _check_nonempty(x, "min")
    return Max.apply(x, axes=normalize_axis(axis, x.ndim, "min"), keepdims=keepdims, sign=-1)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, stable for any magnitude."""
    x = as_tensor(x)
    return LogSumExp.apply(x, axes=normalize_axis(axis, x.ndim, "logsumexp"), keepdims=keepdims)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest element (an integer tensor, no gradient)."""
    x = as_tensor(x)
    if axis is not None:
        normalize_axis(axis, x.ndim, "argmax")
    return Tensor._from_op(np.argmax(x.data, axis=axis, keepdims=keepdims), None)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest element (an integer tensor, no gradient)."""
    x = as_tensor(x)
    if axis is not None:
        normalize_axis(axis, x.ndim, "argmin")
    return Tensor._from_op(np.argmin(x.data, axis=axis, keepdims=keepdims), None)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Normalised exponentials along ``axis``; stable at logits of any size.

    Examples
    --------
    >>> import theta
    >>> theta.softmax(theta.tensor([1e4, 0.0])).tolist()
    [1.0, 0.0]
    """
    x = as_tensor(x)
    return Softmax.apply(x, axis=normalize_axis(axis, x.ndim, "softmax")[0])


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log of :func:`softmax` along ``axis``, computed without ever taking ``log(0)``."""
    x = as_tensor(x)
    return LogSoftmax.apply(x, axis=normalize_axis(axis, x.ndim, "log_softmax")[0])


def _check_nonempty(x: Tensor, op: str) -> None:
    if x.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {x.shape}.")
