"""Ops that read or write elements named by integer indices: gather, scatter, index_put, ...

The gather/scatter family follows PyTorch: along ``axis`` the index names a position, along
every other axis the index's own coordinate does, so ``gather(x, 1, index)[i, j, k]`` is
``x[i, index[i, j, k], k]``. Each op turns that rule into flat positions in ``x`` once
(``_flat_targets``) and then works on the raveled array; repeated positions add up with
``np.bincount`` (five times faster than ``np.add.at``, and it sums in float64) or, for the
other reductions, ``np.multiply.at`` and its kin, vectorised in C.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from theta.autograd._tensor import Tensor, as_tensor
from theta.autograd.function import Context, Function
from theta.autograd.ops.elementwise import broadcast_error
from theta.autograd.ops.movement import broadcast_to, getitem, reshape
from theta.autograd.ops.reduce import normalize_axis

__all__ = [
    "gather", "index_add", "index_put", "masked_fill", "scatter", "scatter_add",
    "scatter_reduce", "take_along_axis",
]  # fmt: skip

Grads = tuple[np.ndarray | None, ...]
REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _flat_targets(shape: tuple[int, ...], axis: int, index: np.ndarray) -> np.ndarray:
    """Flat positions in an array of ``shape`` that ``index`` names under the gather rule."""
    strides = [math.prod(shape[d + 1 :]) for d in range(len(shape))] or [1]  # 0-d: one place
    flat = index.astype(np.intp) * strides[axis]
    for d, n in enumerate(index.shape):
        if d != axis:
            flat = flat + np.arange(n).reshape((-1,) + (1,) * (index.ndim - d - 1)) * strides[d]
    return flat


def _as_index(op: str, index: Any) -> np.ndarray:
    """``index`` as an integer ndarray (from a Tensor, list or array)."""
    index = np.asarray(index.data if isinstance(index, Tensor) else index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must hold integers (got dtype {index.dtype}).")
    return index


def _check_range(op: str, index: np.ndarray, axis: int, n: int, negative: bool) -> np.ndarray:
    """Raise IndexError for an index outside ``[0, n)`` (``[-n, n)`` if ``negative``)."""
    if index.size:
        low = -n if negative else 0
        bad = index[(index < low) | (index >= n)]
        if bad.size:
            raise IndexError(
                f"{op}: index {bad.flat[0]} is out of bounds for axis {axis} with size {n}."
            )
        if negative:
            index = np.where(index < 0, index + n, index)
    return index


def _check_gather_shapes(op: str, shape: tuple[int, ...], axis: int, index: np.ndarray) -> None:
    if index.ndim != len(shape) or any(
        m > n for d, (m, n) in enumerate(zip(index.shape, shape, strict=True)) if d != axis
    ):
        raise ValueError(
            f"{op}: index of shape {index.shape} does not fit a tensor of shape {shape}; it "
            f"needs the same number of axes and may not be larger outside axis {axis}."
        )


def _add_at(size: int, flat: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A length-``size`` array of ``values`` summed by their flat position, in their dtype."""
    total = np.bincount(flat.reshape(-1), weights=values.reshape(-1), minlength=size)
    return total.astype(values.dtype, copy=False)


class Gather(Function):
    """Read ``x`` at flat positions; backward adds the gradient back, repeats included."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, flat: np.ndarray) -> np.ndarray:
        return x.reshape(-1)[flat]

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        shape = ctx.parents[0].data.shape
        return (_add_at(math.prod(shape), ctx.kwargs["flat"], grad).reshape(shape),)


class Scatter(Function):
    """Write or reduce ``src`` into a copy of ``x`` at flat positions (PyTorch's scatter family).

    ``reduce`` is None (assign: with repeated positions the last write wins, and, as in
    PyTorch, every ``src`` element still receives the gradient of its position), or one of
    ``REDUCTIONS``; ``include_self`` says whether ``x``'s value takes part at written places.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, src: np.ndarray, *, flat: np.ndarray,
                reduce: str | None, include_self: bool) -> np.ndarray:  # fmt: skip
        out = x.reshape(-1).copy()
        values = src.reshape(-1)
        flat = flat.reshape(-1)
        if reduce is None or not include_self:
            out[flat] = values  # assign; or seed each written place with one of its contributors
        if reduce in ("sum", "mean"):
            if not include_self:
                out[flat] = 0
            out += _add_at(out.size, flat, values)
        elif reduce == "prod":
            if not include_self:
                out[flat] = 1
            np.multiply.at(out, flat, values)
        elif reduce in ("amax", "amin"):
            (np.maximum if reduce == "amax" else np.minimum).at(out, flat, values)
        count = None
        if reduce == "mean":
            count = np.bincount(flat, minlength=out.size) + int(include_self)
            written = count > int(include_self)
            out[written] /= count[written]
        ctx.save(x, src, out, count)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, src, out, count = ctx.saved
        flat, reduce = ctx.kwargs["flat"].reshape(-1), ctx.kwargs["reduce"]
        g, x_flat, values = grad.reshape(-1), x.reshape(-1), src.reshape(-1)
        written = np.zeros(g.size, dtype=bool)
        written[flat] = True
        # where x's own value takes part in the result (everywhere it is not overwritten)
        own = np.ones_like(written)
        if reduce is None or not ctx.kwargs["include_self"]:
            own = ~written
        if reduce == "prod":
            g_x, g_src = _prod_grads(g, x_flat, values, flat, own)
        else:
            hit = None
            if reduce == "mean":
                g = g / np.maximum(count, 1)
            elif reduce in ("amax", "amin"):
                # tied extremes share the gradient equally, as torch.scatter_reduce does
                own = own & (x_flat == out)
                hit = values == out[flat]
                g = g / (own + np.bincount(flat, weights=hit, minlength=g.size))
            g_x = np.where(own, g, 0)
            g_src = g[flat] if hit is None else np.where(hit, g[flat], 0)
        grad_x = g_x.reshape(x.shape).astype(grad.dtype, copy=False) if ctx.needs_grad[0] else None
        grad_src = g_src.reshape(src.shape).astype(grad.dtype, copy=False)
        return grad_x, grad_src if ctx.needs_grad[1] else None


def _prod_grads(g: np.ndarray, x_flat: np.ndarray, values: np.ndarray, flat: np.ndarray,
                own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Each factor's gradient is the product of the other factors at its place, exact at
    zeros (where dividing the product by the factor would give 0/0)."""
    n_zeros = (own & (x_flat == 0)) + np.bincount(flat, weights=values == 0, minlength=g.size)
    nonzero_prod = np.where(own & (x_flat != 0), x_flat, 1).astype(g.dtype)
    np.multiply.at(nonzero_prod, flat, np.where(values == 0, 1, values))

    def others(v: np.ndarray, zeros: np.ndarray, prod: np.ndarray) -> np.ndarray:
        v_safe = np.where(v == 0, 1, v)
        by_division = np.where(zeros == 0, prod / v_safe, 0)
        return np.where(v == 0, np.where(zeros == 1, prod, 0), by_division)

    g_x = np.where(own, g * others(x_flat, n_zeros, nonzero_prod), 0)
    g_src = g[flat] * others(values, n_zeros[flat], nonzero_prod[flat])
    return g_x, g_src


class IndexPut(Function):
    """``x`` with ``x[indices]`` set to (or, with ``accumulate``, increased by) ``values``."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, values: np.ndarray, *, indices: tuple,
                accumulate: bool) -> np.ndarray:  # fmt: skip
        out = x.copy()
        if accumulate:
            np.add.at(out, indices, values)
        else:
            out[indices] = values
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        indices = ctx.kwargs["indices"]
        grad_x = None
        if ctx.needs_grad[0]:
            grad_x = grad
            if not ctx.kwargs["accumulate"]:
                grad_x = grad.copy()
                grad_x[indices] = 0
        return grad_x, grad[indices] if ctx.needs_grad[1] else None


class MaskedFill(Function):
    """``x`` with ``value`` wherever ``mask`` (broadcast to ``x``'s shape) is true."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, value: np.ndarray, *, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, value, x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        mask = ctx.kwargs["mask"]
        grad_x = np.where(mask, 0, grad) if ctx.needs_grad[0] else None
        return grad_x, np.where(mask, grad, 0) if ctx.needs_grad[1] else None


# --- public functions ---------------------------------------------------------------------


def gather(x: Any, axis: int, index: Any) -> Tensor:
    """Read ``x`` along ``axis`` at ``index``, as ``torch.gather`` (``axis`` for ``dim``).

    ``out[i, j, k] = x[i, index[i, j, k], k]`` for ``axis=1``. ``index`` has ``x``'s number
    of axes and is no larger than ``x`` outside ``axis``; the output has ``index``'s shape.
    Backward adds the gradient back, so repeated indices accumulate.

    Raises
    ------
    IndexError
        If an index lies outside ``[0, x.shape[axis])`` (PyTorch allows no negative ones).

    Examples
    --------
    >>> import theta
    >>> theta.gather(theta.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, [[1, 1], [0, 1]]).tolist()
    [[2.0, 2.0], [3.0, 4.0]]
    """
    x = as_tensor(x)
    index = _as_index("gather", index)
    axis = normalize_axis(axis, max(x.ndim, 1), "gather")[0]
    _check_gather_shapes("gather", x.shape, axis, index)
    index = _check_range("gather", index, axis, x.shape[axis] if x.ndim else 1, False)
    return Gather.apply(x, flat=_flat_targets(x.shape, axis, index))


def take_along_axis(x: Any, indices: Any, axis: int | None) -> Tensor:
    """``np.take_along_axis``: like ``gather``, but ``indices`` broadcasts against ``x``
    outside ``axis``, negative indices count from the end, and ``axis=None`` reads the
    flattened ``x``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
    >>> theta.take_along_axis(x, theta.tensor([[1], [0]]), axis=1)
    tensor([[30.],
            [60.]])
    """
    x = as_tensor(x)
    indices = _as_index("take_along_axis", indices)
    if axis is None:
        x, axis = reshape(x, -1), 0
    axis = normalize_axis(axis, x.ndim, "take_along_axis")[0]
    if indices.ndim != x.ndim:
        raise ValueError(
            f"take_along_axis: indices of shape {indices.shape} need as many axes as the "
            f"tensor of shape {x.shape}."
        )
    others = [s for d, s in enumerate(x.shape) if d != axis]
    try:
        out = np.broadcast_shapes(tuple(others), tuple(np.delete(indices.shape, axis)))
    except ValueError:
        raise broadcast_error("take_along_axis", x.shape, indices.shape) from None
    x = broadcast_to(x, out[:axis] + (x.shape[axis],) + out[axis:])
    indices = np.broadcast_to(indices, out[:axis] + (indices.shape[axis],) + out[axis:])
    indices = _check_range("take_along_axis", indices, axis, x.shape[axis], True)
    return Gather.apply(x, flat=_flat_targets(x.shape, axis, indices))


def _scatter(op: str, x: Any, axis: int, index: Any, src: Any, reduce: str | None,
             include_self: bool) -> Tensor:  # fmt: skip
    """Validate the arguments of one scatter op and apply ``Scatter``."""
    x = as_tensor(x)
    index = _as_index(op, index)
    axis = normalize_axis(axis, max(x.ndim, 1), op)[0]
    _check_gather_shapes(op, x.shape, axis, index)
    src = as_tensor(src, like=x)
    if src.ndim == 0:
        src = broadcast_to(src, index.shape)  # a scalar value, as torch.scatter(…, value)
    elif src.ndim != index.ndim or any(m > n for m, n in zip(index.shape, src.shape, strict=True)):
        raise ValueError(
            f"{op}: src of shape {src.shape} is smaller than index of shape {index.shape}; it "
            "needs as many axes and at least index's size along each."
        )
    elif src.shape != index.shape:
        src = getitem(src, tuple(slice(0, n) for n in index.shape))
    index = _check_range(op, index, axis, x.shape[axis] if x.ndim else 1, False)
    flat = _flat_targets(x.shape, axis, index)
    return Scatter.apply(x, src, flat=flat, reduce=reduce, include_self=include_self)


def scatter(x: Any, axis: int, index: Any, src: Any) -> Tensor:
    """A copy of ``x`` with ``src`` written along ``axis`` at ``index`` (``torch.scatter``,
    out of place): ``out[i, index[i, j, k], k] = src[i, j, k]`` for ``axis=1``.

    ``src`` is a tensor at least as large as ``index`` or a scalar. Where an index repeats,
    the last write wins (PyTorch leaves it undefined); ``x`` gets the gradient where it was
    not overwritten and each ``src`` element the gradient of the place it was written to.

    Examples
    --------
    >>> import theta
    >>> theta.scatter(theta.zeros(2, 3), 1, theta.tensor([[2], [0]]), 1.0)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    return _scatter("scatter", x, axis, index, src, None, True)


def scatter_add(x: Any, axis: int, index: Any, src: Any) -> Tensor:
    """A copy of ``x`` with ``src`` added along ``axis`` at ``index`` (repeats add up).

    Examples
    --------
    >>> import theta
    >>> src = theta.tensor([1.0, 2.0, 3.0])
    >>> theta.scatter_add(theta.zeros(3), 0, theta.tensor([0, 2, 0]), src)
    tensor([4., 0., 2.])
    """
    return _scatter("scatter_add", x, axis, index, src, "sum", True)


def scatter_reduce(x: Any, axis: int, index: Any, src: Any, reduce: str = "sum",
                   include_self: bool = True) -> Tensor:  # fmt: skip
    """Combine ``src`` into a copy of ``x`` along ``axis`` at ``index``, as
    ``torch.scatter_reduce``.

    ``reduce`` is ``"sum"``, ``"prod"``, ``"mean"``, ``"amax"`` or ``"amin"``; with
    ``include_self=False`` the values of ``x`` at written places do not take part. Gradients
    follow PyTorch: tied maxima (minima) share the gradient equally, and ``prod`` gives each
    factor the product of the others, exact where factors are zero. One difference: with
    ``include_self=False`` an unused ``x`` value equal to the maximum does not take a share
    (PyTorch counts it, so its ``src`` gradient there is halved).

    Examples
    --------
    >>> import theta
    >>> src = theta.tensor([1.0, 5.0, 3.0])
    >>> theta.scatter_reduce(theta.zeros(2), 0, theta.tensor([0, 0, 1]), src, reduce="amax")
    tensor([5., 3.])
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {REDUCTIONS} (got {reduce!r}).")
    return _scatter("scatter_reduce", x, axis, index, src, reduce, include_self)


def index_add(x: Any, axis: int, index: Any, source: Any, alpha: float = 1) -> Tensor:
    """A copy of ``x`` with ``alpha * source[..., j, ...]`` added at ``x[..., index[j], ...]``
    along ``axis`` (``torch.index_add``); ``index`` is 1-D, repeats add up.

    Examples
    --------
    >>> import theta
    >>> theta.index_add(theta.zeros(3, 2), 0, theta.tensor([0, 2]), theta.ones(2, 2))
    tensor([[1., 1.],
            [0., 0.],
            [1., 1.]])
    """
    x = as_tensor(x)
    source = as_tensor(source, like=x)
    index = _as_index("index_add", index)
    axis = normalize_axis(axis, max(x.ndim, 1), "index_add")[0]
    expected = x.shape[:axis] + (index.size,) + x.shape[axis + 1 :]
    if index.ndim > 1 or source.shape != expected[: x.ndim]:
        raise ValueError(
            f"index_add: source of shape {source.shape} and index of shape {index.shape} do "
            f"not fit x of shape {x.shape}; source must have shape {expected} and index be 1-D."
        )
    index = index.reshape((-1,) + (1,) * (x.ndim - axis - 1)) if x.ndim else index.reshape(())
    index = np.broadcast_to(index, source.shape)
    if alpha != 1:
        source = source * alpha
    return _scatter("index_add", x, axis, index, source, "sum", True)


def index_put(x: Any, indices: tuple, values: Any, accumulate: bool = False) -> Tensor:
    """A copy of ``x`` with ``x[indices] = values`` (``torch.index_put``, out of place).

    ``indices`` is a tuple of integer or boolean index arrays, one per leading axis, as in
    NumPy advanced indexing; ``values`` broadcasts to the indexed shape. With
    ``accumulate=True`` repeated indices add up; otherwise the last write wins, and, as in
    PyTorch, every ``values`` element gets the gradient of the place it was written to.

    Examples
    --------
    >>> import theta
    >>> rows = (theta.tensor([1, 1, 3]),)
    >>> theta.index_put(theta.zeros(4), rows, theta.tensor([1.0, 2.0, 5.0]), accumulate=True)
    tensor([0., 3., 0., 5.])
    """
    x = as_tensor(x)
    values = as_tensor(values, like=x)
    if not isinstance(indices, tuple):
        raise TypeError(f"index_put: indices must be a tuple (got {type(indices).__name__}).")
    indices = tuple(np.asarray(i.data if isinstance(i, Tensor) else i) for i in indices)
    for i in indices:
        if i.dtype.kind not in "iub":
            raise TypeError(f"index_put: indices must hold integers or booleans (got {i.dtype}).")
    try:
        return IndexPut.apply(x, values, indices=indices, accumulate=accumulate)
    except IndexError as exc:
        raise IndexError(f"index_put: {exc} (tensor of shape {x.shape}).") from None
    except ValueError:
        raise ValueError(
            f"index_put: values of shape {values.shape} do not broadcast to the shape that "
            f"indices {[i.shape for i in indices]} select from a tensor of shape {x.shape}."
        ) from None


def masked_fill(x: Any, mask: Any, value: Any) -> Tensor:
    """``x`` with ``value`` wherever ``mask`` is true (``mask`` broadcasts to ``x``'s shape).

    ``value`` is a Python number or a 0-d tensor, which then gets the summed gradient of the
    filled places. Example: ``att.masked_fill(causal_mask, -np.inf)`` hides future positions.

    Examples
    --------
    >>> import theta
    >>> x = theta.ones(2, 2)
    >>> theta.masked_fill(x, theta.tensor([[False, True], [False, False]]), -1.0)
    tensor([[ 1., -1.],
            [ 1.,  1.]])
    """
    x = as_tensor(x)
    mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if mask.dtype != bool:
        raise TypeError(f"masked_fill: mask must be boolean (got dtype {mask.dtype}).")
    value = as_tensor(value, like=x)
    if value.ndim:
        raise ValueError(f"masked_fill: value must be a scalar (got shape {value.shape}).")
    try:
        mask = np.broadcast_to(mask, x.shape)
    except ValueError:
        raise broadcast_error("masked_fill", mask.shape, x.shape) from None
    return MaskedFill.apply(x, value, mask=mask)
