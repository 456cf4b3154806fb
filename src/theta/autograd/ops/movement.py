"""Ops that move elements without doing arithmetic: reshape, transpose, index, join, split, pad.

Forward passes return NumPy views where NumPy does; backward passes put each gradient element
back where its value came from (scatter-adding where an index repeats).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from theta.autograd._tensor import Tensor, as_tensor
from theta.autograd.function import Context, Function
from theta.autograd.ops.elementwise import broadcast_error
from theta.autograd.ops.reduce import normalize_axis

__all__ = [
    "broadcast_to", "concatenate", "expand_dims", "flatten", "getitem", "pad", "reshape",
    "split", "squeeze", "stack", "swapaxes", "transpose",
]  # fmt: skip

Grads = tuple[np.ndarray | None, ...]


class _ViewOp(Function):
    """An op whose output is usually a view of its input (NumPy gives one where it can).

    Such an output shares the input's version (``Tensor._view_of``), so changing either in
    place is seen by the ops that saved the other. The op's own backward needs only shapes
    (the input's, read from ``ctx.parents``), so it saves nothing and has no versions to check.
    """

    @classmethod
    def apply(cls, *inputs: Tensor, **kwargs: Any) -> Tensor:
        out = super().apply(*inputs, **kwargs)
        a, b = out.data, inputs[0].data
        if (a if a.base is None else a.base) is (b if b.base is None else b.base):
            out._view_of(inputs[0])
        return out


class Reshape(_ViewOp):
    """Same elements, new shape."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (grad.reshape(ctx.parents[0].data.shape),)


class Transpose(_ViewOp):
    """Permute axes; backward applies the inverse permutation."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (grad.transpose(np.argsort(ctx.kwargs["axes"])),)


class BroadcastTo(_ViewOp):
    """Stretch size-1 and missing leading axes; the engine sums the gradient back."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (grad,)


class GetItem(_ViewOp):
    """``x[index]`` for any NumPy index; backward scatters, adding where indices repeat."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, index: Any, advanced: bool) -> np.ndarray:
        return x[index]

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        out = np.zeros(ctx.parents[0].data.shape, dtype=grad.dtype)
        index = ctx.kwargs["index"]
        if ctx.kwargs["advanced"]:
            np.add.at(out, index, grad)  # an integer array may name one element many times
        else:
            out[index] = grad
        return (out,)


class Concatenate(Function):
    """Join tensors along an existing axis."""

    @staticmethod
    def forward(ctx: Context, *xs: np.ndarray, axis: int) -> np.ndarray:
        ctx.save(np.cumsum([x.shape[axis] for x in xs])[:-1])
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return tuple(np.split(grad, ctx.saved[0], axis=ctx.kwargs["axis"]))


class Stack(Function):
    """Join same-shaped tensors along a new axis."""

    @staticmethod
    def forward(ctx: Context, *xs: np.ndarray, axis: int) -> np.ndarray:
        return np.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return tuple(np.moveaxis(grad, ctx.kwargs["axis"], 0))


class Pad(Function):
    """Pad with a constant; backward crops the padding off again."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, pad_width: tuple, value: float) -> np.ndarray:
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        widths = ctx.kwargs["pad_width"]
        return (
            grad[tuple(slice(lo, n - hi) for (lo, hi), n in zip(widths, grad.shape, strict=True))],
        )


# --- public functions ---------------------------------------------------------------------


def reshape(x: Any, shape: int | Sequence[int]) -> Tensor:
    """Give ``x`` a new shape with the same number of elements (one axis may be -1)."""
    x = as_tensor(x)
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(int(n) for n in shape)
    try:
        return Reshape.apply(x, shape=shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into "
            f"shape {shape}."
        ) from None


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is None), as ``np.transpose``."""
    x = as_tensor(x)
    if axes is None:
        axes = tuple(range(x.ndim - 1, -1, -1))
    given = tuple(int(a) for a in axes)
    # an axis out of range must not wrap around into a valid one: (2, 3, 1) is not (2, 0, 1)
    in_range = all(-x.ndim <= a < x.ndim for a in given)
    axes = tuple(a % x.ndim for a in given) if in_range else given
    if not in_range or sorted(axes) != list(range(x.ndim)):
        raise ValueError(
            f"transpose: axes {given} are not a permutation of the {x.ndim} axes of shape "
            f"{x.shape}."
        )
    return Transpose.apply(x, axes=axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    x = as_tensor(x)
    axes = list(range(x.ndim))
    a1 = normalize_axis(axis1, x.ndim, "swapaxes")[0]
    a2 = normalize_axis(axis2, x.ndim, "swapaxes")[0]
    axes[a1], axes[a2] = axes[a2], axes[a1]
    return Transpose.apply(x, axes=tuple(axes))


def expand_dims(x: Any, axis: int | tuple[int, ...]) -> Tensor:
    """Insert size-1 axes at ``axis``."""
    x = as_tensor(x)
    n_new = 1 if isinstance(axis, int | np.integer) else len(axis)
    new_axes = normalize_axis(axis, x.ndim + n_new, "expand_dims")
    sizes = iter(x.shape)
    return reshape(x, tuple(1 if i in new_axes else next(sizes) for i in range(x.ndim + n_new)))


def squeeze(x: Any, axis: int | tuple[int, ...] | None = None) -> Tensor:
    """Remove size-1 axes (all of them, or those named by ``axis``)."""
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "squeeze")
    if axis is None:
        axes = tuple(a for a in axes if x.shape[a] == 1)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1.")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def flatten(x: Any, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes ``start_axis..end_axis`` (inclusive) into one."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    start = normalize_axis(start_axis, x.ndim, "flatten")[0]
    end = normalize_axis(end_axis, x.ndim, "flatten")[0]
    merged = int(np.prod(x.shape[start : end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1 :])


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """Stretch ``x`` to ``shape`` by NumPy's broadcasting rules (a read-only view)."""
    x = as_tensor(x)
    shape = tuple(shape)
    try:
        return BroadcastTo.apply(x, shape=shape)
    except ValueError:
        raise broadcast_error("broadcast_to", x.shape, shape) from None


def _is_advanced(index: Any) -> bool:
    """Whether ``index`` holds an integer array, which may select one element many times."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: ints, slices, None, Ellipsis, boolean masks and integer arrays."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        index = np.asarray(index)
    elif isinstance(index, tuple):
        index = tuple(np.asarray(i) if isinstance(i, list) else i for i in index)
    try:
        return GetItem.apply(x, index=index, advanced=_is_advanced(index))
    except IndexError as exc:
        raise IndexError(
            f"getitem: index {index!r} is invalid for shape {x.shape}: {exc}"
        ) from None


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``; all other axes must match."""
    ts = _as_tensors(tensors, "concatenate")
    axis = normalize_axis(axis, ts[0].ndim, "concatenate")[0]
    for t in ts[1:]:
        other = [n for i, n in enumerate(t.shape) if i != axis]
        first = [n for i, n in enumerate(ts[0].shape) if i != axis]
        if t.ndim != ts[0].ndim or other != first:
            raise ValueError(
                f"concatenate: shapes {ts[0].shape} and {t.shape} differ outside axis {axis}; "
                "all axes but the joined one must match."
            )
    return Concatenate.apply(*ts, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new ``axis``."""
    ts = _as_tensors(tensors, "stack")
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: shapes {ts[0].shape} and {t.shape} differ; all must match.")
    return Stack.apply(*ts, axis=normalize_axis(axis, ts[0].ndim + 1, "stack")[0])


def split(x: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """Split into pieces along ``axis``, as ``np.split`` (equal sections or cut points)."""
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim, "split")[0]
    n = x.shape[axis]
    if isinstance(indices_or_sections, int | np.integer):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ValueError(
                f"split: axis {axis} of size {n} does not divide into {indices_or_sections} "
                "equal sections."
            )
        step = n // indices_or_sections
        cuts = list(range(step, n, step))
    else:
        cuts = [int(c) for c in indices_or_sections]
    bounds = zip([0, *cuts], [*cuts, n], strict=True)
    lead = (slice(None),) * axis
    return [getitem(x, (*lead, slice(lo, hi))) for lo, hi in bounds]


def pad(x: Any, pad_width: int | Sequence, value: float = 0.0) -> Tensor:
    """Pad with the constant ``value``; ``pad_width`` as in ``np.pad`` (non-negative)."""
    x = as_tensor(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad: pad widths must be non-negative (got {pad_width}).")
    pairs = tuple((int(lo), int(hi)) for lo, hi in widths)
    return Pad.apply(x, pad_width=pairs, value=value)


def _as_tensors(tensors: Sequence[Any], op: str) -> list[Tensor]:
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError(f"{op}: need at least one tensor.")
    return ts
