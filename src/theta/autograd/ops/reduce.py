"""Reductions along axes (sum, mean, var, prod, max, norm, logsumexp, argmax, ...), the
cumulative sum and product, and softmax.

``axis`` is an int, a tuple of ints (negative allowed) or ``None`` for all axes, and
``keepdims`` keeps reduced axes with size 1, exactly as in NumPy. An axis out of range raises
NumPy's ``AxisError``, which is both a ``ValueError`` and an ``IndexError``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.exceptions import AxisError

from theta.autograd._tensor import Tensor, as_tensor
from theta.autograd.function import Context, Function
from theta.special import log_softmax as _log_softmax
from theta.special import softmax as _softmax

__all__ = [
    "all", "any", "argmax", "argmin", "count_nonzero", "cumprod", "cumsum", "log_softmax",
    "logsumexp", "max", "mean", "min", "norm", "prod", "softmax", "std", "sum", "var",
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
            raise AxisError(
                f"{op}: axis {a} is out of bounds for a tensor with {ndim} dimension(s)."
            )
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}.")
    return tuple(sorted(out))


def scan_axis(x: Tensor, axis: int | None, op: str) -> tuple[Tensor, int]:
    """The tensor and the one axis that a scan, sort or selection runs along.

    ``axis=None`` flattens ``x`` first (NumPy); a 0-d tensor acts as one element along axis
    0 or -1 (PyTorch), so callers reshape its results back to 0-d (see ``restore_0d``).
    """
    if axis is None or x.ndim == 0:
        if axis is not None:
            normalize_axis(axis, 1, op)
        return x.reshape(-1), 0
    return x, normalize_axis(axis, x.ndim, op)[0]


def restore_0d(out: Tensor, x: Tensor, axis: int | None) -> Tensor:
    """Undo ``scan_axis``'s one-element view of a 0-d ``x`` (``axis=None`` stays flat)."""
    return out.reshape(()) if x.ndim == 0 and axis is not None else out


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _drop(out: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """``out`` reduced with ``keepdims=True``, without the reduced axes unless ``keepdims``."""
    return out if keepdims else out.reshape([n for i, n in enumerate(out.shape) if i not in axes])


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
        return _drop(out, axes, keepdims)

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
        return _drop(out, axes, keepdims)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, out = ctx.saved
        return (grad.reshape(out.shape) * np.exp(x - out),)


class Prod(Function):
    """Product over ``axes``. The gradient of an element is the product of the others, found
    without dividing by zero, as in PyTorch: ``out / x`` in a slice without zeros, the product
    of the rest at a slice's only zero, and 0 everywhere in a slice with two zeros or more."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axes: tuple[int, ...], keepdims: bool):
        out = np.prod(x, axis=axes, keepdims=True)
        ctx.save(x, out)
        return _drop(out, axes, keepdims)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, out = ctx.saved
        grad = grad.reshape(out.shape)
        zero = x == 0
        if not zero.any():
            return (grad * (out / x),)
        axes = ctx.kwargs["axes"]
        nonzero = np.where(zero, 1, x)
        rest = np.prod(nonzero, axis=axes, keepdims=True)  # what a lone zero is multiplied by
        lone = zero.sum(axis=axes, keepdims=True) == 1
        return (grad * np.where(zero, np.where(lone, rest, 0), out / nonzero),)


def _reverse_cumsum(a: np.ndarray, axis: int) -> np.ndarray:
    """``out[i] = sum(a[i:])`` along ``axis``: how a scan's gradient flows back."""
    return np.flip(np.cumsum(np.flip(a, axis), axis=axis), axis)


class CumSum(Function):
    """Running sum along ``axis``; each input reaches every later output, so the gradient is
    the running sum of ``grad`` taken from the end."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis: int) -> np.ndarray:
        return np.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (_reverse_cumsum(grad, ctx.kwargs["axis"]),)


class CumProd(Function):
    """Running product along ``axis``, with PyTorch's gradient, exact where ``x`` has zeros.

    Without zeros, ``dx[i] = sum_{j >= i} grad[j] out[j] / x[i]``. In a slice whose first zero
    is at ``z``, that formula holds before ``z``, everything after ``z`` gets 0 (every product
    it enters has the zero), and ``dx[z] = prod(x[:z]) * sum_{j >= z} grad[j] prod(x[z+1:j+1])``.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis: int) -> np.ndarray:
        out = np.cumprod(x, axis=axis)
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, out = ctx.saved
        axis = ctx.kwargs["axis"]
        zero = x == 0
        if not zero.any():
            return (_reverse_cumsum(grad * out, axis) / x,)
        n = x.shape[axis]
        pos = np.arange(n).reshape((n,) + (1,) * (x.ndim - axis - 1))
        has_zero = zero.any(axis=axis, keepdims=True)
        first = np.where(has_zero, zero.argmax(axis=axis, keepdims=True), n)
        before = pos < first
        head = np.where(before, x, 1)  # x before the first zero; 1 from there on
        tail = np.cumprod(np.where(pos > first, x, 1), axis=axis)  # prod(x[z+1:j+1]) for j >= z
        at_zero = np.prod(head, axis=axis, keepdims=True) * np.sum(
            np.where(pos >= first, grad * tail, 0), axis=axis, keepdims=True
        )
        dx = np.where(pos == first, at_zero, 0)
        return (np.where(before, _reverse_cumsum(grad * out, axis) / head, dx),)


class VectorNorm(Function):
    """``sum(|x| ** ord) ** (1 / ord)`` over ``axes``; ``ord`` 0 counts the nonzeros, inf and
    -inf take the largest and smallest ``|x|``. A primitive so that the gradient at a zero
    norm is 0, as PyTorch's, where the composed ``sqrt(sum(x * x))`` gives NaN; ties of the
    inf-norms share the gradient equally (as ``Max``)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axes: tuple[int, ...], keepdims: bool, ord: float):
        a = np.abs(x)
        if ord == 0:
            out = np.count_nonzero(x, axis=axes, keepdims=True).astype(x.dtype)
        elif ord == math.inf:
            out = np.max(a, axis=axes, keepdims=True)
        elif ord == -math.inf:
            out = np.min(a, axis=axes, keepdims=True)
        elif ord == 1:
            out = np.sum(a, axis=axes, keepdims=True)
        elif ord == 2:
            out = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        else:
            out = np.sum(a**ord, axis=axes, keepdims=True) ** (1.0 / ord)
        ctx.save(x, out)
        return _drop(out, axes, keepdims)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, out = ctx.saved
        ord = ctx.kwargs["ord"]
        grad = grad.reshape(out.shape)
        if ord == 0:
            return (np.zeros_like(x),)
        if ord == 1:
            return (np.sign(x) * grad,)
        if math.isinf(ord):
            hit = np.abs(x) == out
            return (np.sign(x) * hit * (grad / hit.sum(axis=ctx.kwargs["axes"], keepdims=True)),)
        nonzero = out != 0
        denominator = np.power(out, ord - 1, out=np.ones_like(out), where=nonzero)
        scale = np.divide(grad, denominator, out=np.zeros_like(grad), where=nonzero)
        if ord == 2:
            return (x * scale,)
        # |x| ** (ord - 1) is infinite at 0 for ord < 1; PyTorch takes 0 there
        power = np.power(np.abs(x), ord - 1, out=np.zeros_like(x), where=x != 0)
        return (np.sign(x) * power * scale,)


class Softmax(Function):
    """``exp(x) / sum(exp(x))`` along ``axis``. A fused primitive for speed: the composed form
    costs five passes forward and more backward; the rule below is one expression."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis: int) -> np.ndarray:
        out = _softmax(x, axis) if x.size else x.copy()  # an empty axis has no max to subtract
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
        out = _log_softmax(x, axis) if x.size else x.copy()  # an empty axis has no max
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        (out,) = ctx.saved
        return (grad - np.exp(out) * np.sum(grad, axis=ctx.kwargs["axis"], keepdims=True),)


# --- public functions ---------------------------------------------------------------------


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum of elements over ``axis``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> theta.sum(x, axis=0)
    tensor([5., 7., 9.])
    >>> theta.sum(x, axis=1, keepdims=True).shape
    (2, 1)
    """
    x = x if isinstance(x, Tensor) else as_tensor(x)  # one frame fewer for tensors
    return Sum.apply(x, axes=normalize_axis(axis, x.ndim, "sum"), keepdims=keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``: a sum scaled by ``1 / n``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> theta.mean(x, axis=1)
    tensor([2., 5.])
    """
    x = x if isinstance(x, Tensor) else as_tensor(x)  # one frame fewer for tensors
    axes = normalize_axis(axis, x.ndim, "mean")
    n = math.prod([x.shape[a] for a in axes])
    # the mean of nothing is NaN (NumPy, PyTorch); 0 * NaN gives it without 0 / 0's warning
    return Sum.apply(x, axes=axes, keepdims=keepdims, scale=1.0 / n if n else math.nan)


def var(x: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance over ``axis`` with NumPy's ``ddof`` (0: population, 1: sample).

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([1.0, 2.0, 3.0, 4.0])
    >>> theta.var(x), theta.var(x, ddof=1).round(4)
    (tensor(1.25), tensor(1.6667))
    """
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "var")
    n = math.prod([x.shape[a] for a in axes])
    if n - ddof <= 0:
        raise ValueError(f"var: ddof={ddof} leaves no degrees of freedom for {n} element(s).")
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) * (1.0 / (n - ddof))


def std(x: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Standard deviation over ``axis`` (``sqrt`` of :func:`var`).

    Examples
    --------
    >>> import theta
    >>> theta.std(theta.tensor([1.0, 3.0]))
    tensor(1.)
    """
    return var(x, axis, ddof, keepdims).sqrt()


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Largest element over ``axis``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> theta.max(x), theta.max(x, axis=0)
    (tensor(6.), tensor([4., 5., 6.]))
    """
    x = as_tensor(x)
    axes = _nonempty_axes(x, axis, "max")
    return Max.apply(x, axes=axes, keepdims=keepdims, sign=1)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Smallest element over ``axis``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> theta.min(x, axis=1)
    tensor([1., 4.])
    """
    x = as_tensor(x)
    axes = _nonempty_axes(x, axis, "min")
    return Max.apply(x, axes=axes, keepdims=keepdims, sign=-1)


def prod(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Product of elements over ``axis`` (1 over nothing); gradients exact at zeros.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> theta.prod(x).backward()
    >>> x.grad.tolist()
    [0.0, 6.0, 0.0]
    """
    x = as_tensor(x)
    return Prod.apply(x, axes=normalize_axis(axis, x.ndim, "prod"), keepdims=keepdims)


def cumsum(x: Any, axis: int | None = None) -> Tensor:
    """Running sum along ``axis``; ``axis=None`` runs over the flattened tensor (NumPy).

    Examples
    --------
    >>> import theta
    >>> theta.cumsum(theta.tensor([[1, 2], [3, 4]]), axis=0).tolist()
    [[1, 2], [4, 6]]
    """
    x = as_tensor(x)
    flat, ax = scan_axis(x, axis, "cumsum")
    return restore_0d(CumSum.apply(flat, axis=ax), x, axis)


def cumprod(x: Any, axis: int | None = None) -> Tensor:
    """Running product along ``axis`` (``None``: flattened), with exact gradients at zeros.

    Examples
    --------
    >>> import theta
    >>> theta.cumprod(theta.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor([ 1.,  2.,  6., 24.])
    """
    x = as_tensor(x)
    flat, ax = scan_axis(x, axis, "cumprod")
    return restore_0d(CumProd.apply(flat, axis=ax), x, axis)


_MATRIX_ORDS = (None, "fro", 1, -1, math.inf, -math.inf)


def norm(x: Any, ord: float | str | None = None, axis: Axis = None,
         keepdims: bool = False) -> Tensor:  # fmt: skip
    """Vector or matrix norm, with the rules of ``np.linalg.norm`` (and ``torch.linalg.norm``).

    Parameters
    ----------
    x : Tensor
        Floating-point values.
    ord : {None, 'fro', int, float, inf, -inf}, default=None
        Vector norms (over one axis, or several but two): ``sum(|x| ** ord) ** (1 / ord)``
        for any ``ord`` (``None`` is 2), 0 counts the nonzeros, inf and -inf take the
        largest and smallest ``|x|``. Matrix norms (over two axes): ``None`` and ``'fro'``
        (Frobenius), 1 and -1 (largest and smallest column sum of ``|x|``), inf and -inf
        (row sums). The matrix norms 2, -2 and ``'nuc'`` need singular values and are not
        supported.
    axis : int, tuple of ints or None, default=None
        ``None`` with ``ord=None`` takes the 2-norm of all elements; ``None`` with another
        ``ord`` needs a 1-D (vector norm) or 2-D (matrix norm) tensor.
    keepdims : bool, default=False

    Returns
    -------
    Tensor
        The norms. Their gradient is 0 where a 2-norm (or any p-norm) is 0, as in PyTorch.

    Examples
    --------
    >>> import theta
    >>> theta.norm(theta.tensor([3.0, -4.0])).item()
    5.0
    >>> theta.norm(theta.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1).item()
    6.0
    """
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"norm: expected a floating-point tensor (got dtype {x.dtype}).")
    if axis is None and ord is not None:
        if x.ndim not in (1, 2):
            raise ValueError(
                f"norm: ord={ord!r} without axis needs a 1-D or 2-D tensor (got shape "
                f"{x.shape}); pass axis, or ord=None for the 2-norm of all elements."
            )
        axis = tuple(range(x.ndim))
    if isinstance(axis, list | tuple) and len(axis) == 2:
        return _matrix_norm(x, ord, tuple(axis), keepdims)
    if isinstance(ord, str) or (ord is not None and not isinstance(ord, int | float | np.number)):
        raise ValueError(f"norm: invalid order {ord!r} for a vector norm; expected a number.")
    axes = normalize_axis(axis, x.ndim, "norm")
    if ord in (math.inf, -math.inf):
        axes = _nonempty_axes(x, axis, "norm")
    return VectorNorm.apply(x, axes=axes, keepdims=keepdims, ord=2.0 if ord is None else ord)


def _matrix_norm(x: Tensor, ord: Any, axis: tuple[int, int], keepdims: bool) -> Tensor:
    """The matrix norms over ``axis = (row_axis, column_axis)``, composed from reductions."""
    row, col = (normalize_axis(a, x.ndim, "norm")[0] for a in axis)
    if row == col:
        raise ValueError(f"norm: repeated axis in {axis}.")
    if ord not in _MATRIX_ORDS:
        raise ValueError(
            f"norm: matrix norm order {ord!r} is not supported; expected one of None, 'fro', "
            "1, -1, inf, -inf (2, -2 and 'nuc' need singular values)."
        )
    if ord in (None, "fro"):
        return VectorNorm.apply(x, axes=tuple(sorted((row, col))), keepdims=keepdims, ord=2.0)
    summed, kept = (row, col) if ord in (1, -1) else (col, row)
    sums = x.abs().sum(axis=summed, keepdims=True)
    out = sums.max(axis=kept, keepdims=True) if ord > 0 else sums.min(axis=kept, keepdims=True)
    return out if keepdims else out.squeeze((row, col))


def count_nonzero(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Number of nonzero elements over ``axis`` (an int64 tensor, no gradient).

    Examples
    --------
    >>> import theta
    >>> theta.count_nonzero(theta.tensor([[0, 1], [2, 3]]), axis=1)
    tensor([1, 2])
    """
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "count_nonzero")
    return Tensor._from_op(np.asarray(np.count_nonzero(x.data, axis=axes, keepdims=keepdims)), None)


def any(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Whether any element over ``axis`` is nonzero (a bool tensor, no gradient).

    Examples
    --------
    >>> import theta
    >>> theta.any(theta.tensor([[0, 0], [0, 1]]), axis=1)
    tensor([False,  True])
    """
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "any")
    return Tensor._from_op(np.asarray(np.any(x.data, axis=axes, keepdims=keepdims)), None)


def all(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Whether every element over ``axis`` is nonzero (a bool tensor, no gradient).

    Examples
    --------
    >>> import theta
    >>> theta.all(theta.tensor([[1, 1], [0, 1]]), axis=1)
    tensor([ True, False])
    """
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "all")
    return Tensor._from_op(np.asarray(np.all(x.data, axis=axes, keepdims=keepdims)), None)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, stable for any magnitude.

    Examples
    --------
    >>> import theta
    >>> theta.logsumexp(theta.tensor([1000.0, 1000.0])).round(4)
    tensor(1000.6932)
    """
    x = as_tensor(x)
    return LogSumExp.apply(x, axes=normalize_axis(axis, x.ndim, "logsumexp"), keepdims=keepdims)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest element (an integer tensor, no gradient).

    Examples
    --------
    >>> import theta
    >>> theta.argmax(theta.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]), axis=1)
    tensor([1, 0])
    """
    x = as_tensor(x)
    if axis is not None:
        normalize_axis(axis, x.ndim, "argmax")
    return Tensor._from_op(np.argmax(x.data, axis=axis, keepdims=keepdims), None)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest element (an integer tensor, no gradient).

    Examples
    --------
    >>> import theta
    >>> theta.argmin(theta.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]), axis=1)
    tensor([0, 1])
    """
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
    """Log of :func:`softmax` along ``axis``, computed without ever taking ``log(0)``.

    Examples
    --------
    >>> import theta
    >>> theta.log_softmax(theta.tensor([0.0, 0.0])).round(4)
    tensor([-0.6931, -0.6931])
    """
    x = as_tensor(x)
    return LogSoftmax.apply(x, axis=normalize_axis(axis, x.ndim, "log_softmax")[0])


def _nonempty_axes(x: Tensor, axis: Axis, op: str) -> tuple[int, ...]:
    """Normalise ``axis`` for a reduction that has no value over nothing (NumPy's rule)."""
    axes = normalize_axis(axis, x.ndim, op)
    if 0 in [x.shape[a] for a in axes]:
        raise ValueError(
            f"{op}: cannot reduce over an empty axis; every reduced axis needs at least one "
            f"element (got shape {x.shape}, axis {axis})."
        )
    return axes
