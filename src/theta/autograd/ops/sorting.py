"""Sorting and selection along an axis (sort, argsort, topk, kthvalue, median) and the running
extremes (cummax, cummin).

Each op finds integer indices with NumPy, outside the graph, then gathers the values at them
with ``TakeAlong``, so one backward serves them all: the gradient of a value flows to the
position it was taken from, as in PyTorch. The ops that return indices return a pair
``(values, indices)`` with int64 indices, as PyTorch's. ``axis=None`` flattens first (NumPy);
a 0-d tensor acts as one element along axis 0 or -1 (PyTorch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from theta.autograd._tensor import Tensor, as_tensor
from theta.autograd.function import Context, Function
from theta.autograd.ops.reduce import normalize_axis, restore_0d, scan_axis

__all__ = ["argsort", "cummax", "cummin", "kthvalue", "median", "sort", "topk"]

Grads = tuple[np.ndarray | None, ...]


class TakeAlong(Function):
    """``np.take_along_axis(x, indices, axis)`` for ``indices`` shaped like ``x`` but along
    ``axis``; backward adds each gradient into the position it came from, and positions
    taken several times (cummax) get the sum, through one ``bincount``."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, indices: np.ndarray, *, axis: int) -> np.ndarray:
        ctx.save(indices)
        return np.take_along_axis(x, indices, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        (indices,) = ctx.saved
        axis = ctx.kwargs["axis"]
        n = ctx.parents[0].data.shape[axis]
        indices = np.moveaxis(indices, axis, -1)  # (rows..., k)
        n_rows = math.prod(indices.shape[:-1])
        flat = indices + n * np.arange(n_rows).reshape(indices.shape[:-1] + (1,))
        weights = np.moveaxis(grad, axis, -1).ravel()
        dx = np.bincount(flat.ravel(), weights=weights, minlength=n_rows * n)
        dx = dx.astype(grad.dtype, copy=False).reshape(indices.shape[:-1] + (n,))
        return np.moveaxis(dx, -1, axis), None


def _take(x: Tensor, indices: np.ndarray, axis: int) -> tuple[Tensor, Tensor]:
    """The values of ``x`` at ``indices`` along ``axis`` and the indices, as tensors."""
    index = Tensor._from_op(indices, None)
    return TakeAlong.apply(x, index, axis=axis), index


def _slice(axis: int, part: slice) -> tuple[slice, ...]:
    """An index that applies ``part`` to ``axis`` and keeps every other axis whole."""
    return (slice(None),) * axis + (part,)


def _argsort(a: np.ndarray, axis: int, descending: bool, stable: bool) -> np.ndarray:
    """``np.argsort`` that also sorts in descending order, with ties then kept in their
    original order and NaN first (PyTorch), by sorting the reversed array ascending."""
    kind = "stable" if stable else None
    if not descending:
        return np.argsort(a, axis=axis, kind=kind)
    order = np.argsort(np.flip(a, axis), axis=axis, kind=kind)
    return a.shape[axis] - 1 - np.flip(order, axis)


def sort(x: Any, axis: int | None = -1, descending: bool = False, *,
         stable: bool = False) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Sort along ``axis``; return ``(values, indices)`` as ``torch.sort``.

    ``stable=True`` keeps equal values in their original order (also when descending);
    without it the order of ties is unspecified, as in NumPy and PyTorch, and the faster
    sort runs. NaN sorts as the largest value. ``axis=None`` sorts the flattened tensor.

    Examples
    --------
    >>> import theta
    >>> values, indices = theta.sort(theta.tensor([3.0, 1.0, 2.0]), descending=True)
    >>> values.tolist(), indices.tolist()
    ([3.0, 2.0, 1.0], [0, 2, 1])
    """
    x = as_tensor(x)
    flat, ax = scan_axis(x, axis, "sort")
    values, indices = _take(flat, _argsort(flat.data, ax, descending, stable), ax)
    return restore_0d(values, x, axis), restore_0d(indices, x, axis)


def argsort(x: Any, axis: int | None = -1, descending: bool = False, *,
            stable: bool = False) -> Tensor:  # fmt: skip
    """The int64 indices that sort ``x`` along ``axis`` (see :func:`sort`); no gradient.

    Examples
    --------
    >>> import theta
    >>> theta.argsort(theta.tensor([3.0, 1.0, 2.0]))
    tensor([1, 2, 0])
    >>> theta.argsort(theta.tensor([3.0, 1.0, 2.0]), descending=True)
    tensor([0, 2, 1])
    """
    x = as_tensor(x)
    flat, ax = scan_axis(x, axis, "argsort")
    indices = Tensor._from_op(_argsort(flat.data, ax, descending, stable), None)
    return restore_0d(indices, x, axis)


def topk(x: Any, k: int, axis: int | None = -1, largest: bool = True,
         sorted: bool = True) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The ``k`` largest (or smallest) values along ``axis`` and their indices, as
    ``torch.topk``. A partial sort (``np.argpartition``) finds them in linear time; with
    ``sorted=False`` they come in no particular order. Which of several tied values is
    chosen is unspecified, as in PyTorch.

    Examples
    --------
    >>> import theta
    >>> values, indices = theta.topk(theta.tensor([1.0, 5.0, 3.0, 4.0]), 2)
    >>> values.tolist(), indices.tolist()
    ([5.0, 4.0], [1, 3])
    """
    x = as_tensor(x)
    flat, ax = scan_axis(x, axis, "topk")
    a, n = flat.data, flat.shape[ax]
    if not 0 <= k <= n:
        raise ValueError(f"topk: k must lie in [0, {n}] for an axis of size {n} (got k={k}).")
    if 0 < k < n:
        indices = np.argpartition(a, n - k if largest else k - 1, axis=ax)
        indices = indices[_slice(ax, slice(n - k, None) if largest else slice(None, k))]
    else:
        indices = np.argsort(a, axis=ax)[_slice(ax, slice(None, k))]
    if sorted:
        order = _argsort(np.take_along_axis(a, indices, axis=ax), ax, largest, stable=False)
        indices = np.take_along_axis(indices, order, axis=ax)
    values, indices = _take(flat, indices, ax)
    return restore_0d(values, x, axis), restore_0d(indices, x, axis)


def kthvalue(x: Any, k: int, axis: int | None = -1,
             keepdims: bool = False) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The ``k``-th smallest value along ``axis`` (``k`` counts from 1) and its index, as
    ``torch.kthvalue``; found by a partial sort.

    Examples
    --------
    >>> import theta
    >>> values, indices = theta.kthvalue(theta.tensor([3.0, 1.0, 2.0]), 2)
    >>> values.item(), indices.item()
    (2.0, 2)
    """
    x = as_tensor(x)
    flat, ax = scan_axis(x, axis, "kthvalue")
    n = flat.shape[ax]
    if not 1 <= k <= n:
        raise ValueError(f"kthvalue: k must lie in [1, {n}] for an axis of size {n} (got k={k}).")
    indices = np.argpartition(flat.data, k - 1, axis=ax)[_slice(ax, slice(k - 1, k))]
    values, indices = _take(flat, indices, ax)
    if not keepdims:
        values, indices = values.squeeze(ax), indices.squeeze(ax)
    return restore_0d(values, x, axis), restore_0d(indices, x, axis)


def median(x: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Median over ``axis`` with NumPy's meaning: for an even count, the mean of the two middle
    values, and each of them gets half the gradient (as ``torch.quantile(x, 0.5)``).

    Unlike ``torch.median``, which returns the lower of the two middles and its index, this
    returns values only, since the mean of two elements has no single index; a slice that
    holds NaN has median NaN, whose gradient goes to that NaN.

    Examples
    --------
    >>> import theta
    >>> theta.median(theta.tensor([4.0, 1.0, 3.0, 2.0])).item()
    2.5
    """
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "median")
    kept = [i for i in range(x.ndim) if i not in axes]
    n = math.prod([x.shape[a] for a in axes])
    if n == 0:
        raise ValueError(f"median: cannot take the median of an empty axis (got shape {x.shape}).")
    # the reduced axes, moved last and merged, are the one axis to select along
    flat = x.transpose(kept + list(axes)).reshape([x.shape[i] for i in kept] + [n])
    middles = sorted({(n - 1) // 2, n // 2})
    indices = np.argpartition(flat.data, middles, axis=-1)[..., middles]
    if flat.dtype.kind == "f":
        nan = np.isnan(flat.data)
        has_nan = nan.any(axis=-1, keepdims=True)
        indices = np.where(has_nan, nan.argmax(axis=-1, keepdims=True), indices)
    out = _take(flat, indices, flat.ndim - 1)[0].mean(axis=-1)
    if keepdims:
        out = out.reshape([1 if i in axes else n_i for i, n_i in enumerate(x.shape)])
    return out


def _running_extreme(x: Any, axis: int | None, op: str, ufunc: np.ufunc) -> tuple[Tensor, Tensor]:
    """cummax and cummin: each running extreme and the index of its latest occurrence."""
    x = as_tensor(x)
    flat, ax = scan_axis(x, axis, op)
    a, n = flat.data, flat.shape[ax]
    # a position is the new extreme when it equals the running one (the latest tie wins, as
    # in PyTorch) or is NaN, which PyTorch treats as beating everything after it
    hit = a == ufunc.accumulate(a, axis=ax)
    if a.dtype.kind == "f":
        hit |= np.isnan(a)
    position = np.arange(n).reshape((n,) + (1,) * (a.ndim - ax - 1))
    indices = np.maximum.accumulate(np.where(hit, position, 0), axis=ax)
    values, indices = _take(flat, indices, ax)
    return restore_0d(values, x, axis), restore_0d(indices, x, axis)


def cummax(x: Any, axis: int | None = None) -> tuple[Tensor, Tensor]:
    """Running maximum along ``axis`` and the index it came from, as ``torch.cummax``; the
    gradient of each output goes to that index. ``axis=None`` runs over the flattened tensor.

    Examples
    --------
    >>> import theta
    >>> values, indices = theta.cummax(theta.tensor([1.0, 3.0, 2.0, 3.0]), axis=0)
    >>> values.tolist(), indices.tolist()
    ([1.0, 3.0, 3.0, 3.0], [0, 1, 1, 3])
    """
    return _running_extreme(x, axis, "cummax", np.maximum)


def cummin(x: Any, axis: int | None = None) -> tuple[Tensor, Tensor]:
    """Running minimum along ``axis`` and the index it came from, as ``torch.cummin``.

    Examples
    --------
    >>> import theta
    >>> values, indices = theta.cummin(theta.tensor([3.0, 1.0, 2.0, 0.0]), axis=0)
    >>> values.tolist(), indices.tolist()
    ([3.0, 1.0, 1.0, 0.0], [0, 1, 1, 3])
    """
    return _running_extreme(x, axis, "cummin", np.minimum)
