"""Ops that move elements without doing arithmetic: reshape, transpose, index, join, pad, tile.

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
    "broadcast_to", "concatenate", "expand_dims", "flatten", "flip", "getitem", "meshgrid",
    "pad", "repeat", "repeat_interleave", "reshape", "roll", "split", "squeeze", "stack",
    "swapaxes", "tile", "transpose", "tril", "triu", "unfold",
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
    """Pad by non-negative widths in NumPy's ``mode``; backward crops the padding off and,
    for the modes that copy input values outward, adds the padding's gradient to its sources."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, pad_width: tuple, mode: str, value: float):
        if mode == "constant":
            return np.pad(x, pad_width, mode="constant", constant_values=value)
        return np.pad(x, pad_width, mode=mode)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        widths, mode = ctx.kwargs["pad_width"], ctx.kwargs["mode"]
        if mode == "constant":
            inside = zip(widths, grad.shape, strict=True)
            return (grad[tuple(slice(lo, n - hi) for (lo, hi), n in inside)],)
        for axis, (lo, hi) in enumerate(widths):
            if lo or hi:
                n = ctx.parents[0].data.shape[axis]
                source = np.pad(np.arange(n), (lo, hi), mode=mode)  # where each value came from
                moved = np.moveaxis(grad, axis, 0)
                out = moved[lo : lo + n].copy()
                edges = np.r_[0:lo, lo + n : lo + n + hi]
                np.add.at(out, source[edges], moved[edges])
                grad = np.moveaxis(out, 0, axis)
        return (grad,)


class Triangle(Function):
    """Keep the lower (``tril``) or upper (``triu``) triangle of the last two axes."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, k: int, lower: bool) -> np.ndarray:
        return np.tril(x, k) if lower else np.triu(x, k)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        k, lower = ctx.kwargs["k"], ctx.kwargs["lower"]
        return (np.tril(grad, k) if lower else np.triu(grad, k),)


class Flip(_ViewOp):
    """Reverse the order of elements along ``axes``; its own inverse."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
        return np.flip(x, axes)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (np.flip(grad, ctx.kwargs["axes"]),)


class Roll(Function):
    """Shift elements cyclically along axes; backward shifts the gradient back."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, shift: Any, axis: Any) -> np.ndarray:
        return np.roll(x, shift, axis)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (np.roll(grad, np.negative(ctx.kwargs["shift"]), ctx.kwargs["axis"]),)


class Tile(Function):
    """``np.tile``: the whole tensor repeated ``reps`` times along each axis."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, reps: tuple[int, ...]) -> np.ndarray:
        return np.tile(x, reps)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        shape = ctx.parents[0].data.shape
        reps = (1,) * (grad.ndim - len(ctx.kwargs["reps"])) + ctx.kwargs["reps"]
        sizes = (1,) * (grad.ndim - len(shape)) + shape
        split = [n for pair in zip(reps, sizes, strict=True) for n in pair]  # (r0, n0, r1, n1, …)
        return (grad.reshape(split).sum(axis=tuple(range(0, 2 * grad.ndim, 2))).reshape(shape),)


class Repeat(Function):
    """``np.repeat``: each element repeated ``repeats`` times along ``axis``, in place."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, repeats: Any, axis: int) -> np.ndarray:
        return np.repeat(x, repeats, axis)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        shape = ctx.parents[0].data.shape
        repeats, axis = ctx.kwargs["repeats"], ctx.kwargs["axis"]
        if isinstance(repeats, int):
            return (grad.reshape(shape[:axis] + (shape[axis], repeats) + shape[axis + 1 :])
                    .sum(axis=axis + 1),)  # fmt: skip
        out = np.zeros(shape, grad.dtype)
        used = repeats > 0  # reduceat would copy, not zero, the entries that repeat 0 times
        if used.any():
            starts = (np.cumsum(repeats) - repeats)[used]
            out[(slice(None),) * axis + (used,)] = np.add.reduceat(grad, starts, axis=axis)
        return (out,)


class Unfold(Function):
    """Sliding windows of ``size`` every ``step`` along ``axis``, as a new last axis (a view);
    backward adds each window's gradient back, so overlapping windows accumulate."""

    @classmethod
    def apply(cls, *inputs: Tensor, **kwargs: Any) -> Tensor:
        return super().apply(*inputs, **kwargs)._view_of(inputs[0])

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis: int, size: int, step: int) -> np.ndarray:
        windows = np.lib.stride_tricks.sliding_window_view(x, size, axis=axis)
        return windows[(slice(None),) * axis + (slice(None, None, step),)]

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        axis, step = ctx.kwargs["axis"], ctx.kwargs["step"]
        out = np.zeros(ctx.parents[0].data.shape, grad.dtype)
        n_windows = grad.shape[axis]
        lead = (slice(None),) * axis
        for j in range(ctx.kwargs["size"]):  # a loop over the window, not over elements
            out[lead + (slice(j, j + step * (n_windows - 1) + 1, step),)] += grad[..., j]
        return (out,)


# --- public functions ---------------------------------------------------------------------


def reshape(x: Any, shape: int | Sequence[int]) -> Tensor:
    """Give ``x`` a new shape with the same number of elements (one axis may be -1).

    Examples
    --------
    >>> import theta
    >>> theta.reshape(theta.arange(6), (2, -1)).shape
    (2, 3)
    """
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
    """Permute axes (reverse them when ``axes`` is None), as ``np.transpose``.

    Examples
    --------
    >>> import theta
    >>> theta.transpose(theta.zeros(2, 3, 4)).shape
    (4, 3, 2)
    >>> theta.transpose(theta.zeros(2, 3, 4), (0, 2, 1)).shape
    (2, 4, 3)
    """
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
    """Exchange two axes.

    Examples
    --------
    >>> import theta
    >>> theta.swapaxes(theta.zeros(2, 3, 4), 0, 2).shape
    (4, 3, 2)
    """
    x = as_tensor(x)
    axes = list(range(x.ndim))
    a1 = normalize_axis(axis1, x.ndim, "swapaxes")[0]
    a2 = normalize_axis(axis2, x.ndim, "swapaxes")[0]
    axes[a1], axes[a2] = axes[a2], axes[a1]
    return Transpose.apply(x, axes=tuple(axes))


def expand_dims(x: Any, axis: int | tuple[int, ...]) -> Tensor:
    """Insert size-1 axes at ``axis``.

    Examples
    --------
    >>> import theta
    >>> theta.expand_dims(theta.zeros(3, 4), 0).shape
    (1, 3, 4)
    """
    x = as_tensor(x)
    n_new = 1 if isinstance(axis, int | np.integer) else len(axis)
    new_axes = normalize_axis(axis, x.ndim + n_new, "expand_dims")
    sizes = iter(x.shape)
    return reshape(x, tuple(1 if i in new_axes else next(sizes) for i in range(x.ndim + n_new)))


def squeeze(x: Any, axis: int | tuple[int, ...] | None = None) -> Tensor:
    """Remove size-1 axes (all of them, or those named by ``axis``).

    Examples
    --------
    >>> import theta
    >>> theta.squeeze(theta.zeros(1, 3, 1)).shape
    (3,)
    >>> theta.squeeze(theta.zeros(1, 3, 1), axis=0).shape
    (3, 1)
    """
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "squeeze")
    if axis is None:
        axes = tuple(a for a in axes if x.shape[a] == 1)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1.")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def flatten(x: Any, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes ``start_axis..end_axis`` (inclusive) into one.

    Examples
    --------
    >>> import theta
    >>> theta.flatten(theta.zeros(2, 3, 4)).shape
    (24,)
    >>> theta.flatten(theta.zeros(2, 3, 4), start_axis=1).shape
    (2, 12)
    """
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    start = normalize_axis(start_axis, x.ndim, "flatten")[0]
    end = normalize_axis(end_axis, x.ndim, "flatten")[0]
    merged = int(np.prod(x.shape[start : end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1 :])


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """Stretch ``x`` to ``shape`` by NumPy's broadcasting rules (a read-only view).

    Examples
    --------
    >>> import theta
    >>> theta.broadcast_to(theta.tensor([1, 2, 3]), (2, 3))
    tensor([[1, 2, 3],
            [1, 2, 3]])
    """
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
    """Join tensors along an existing ``axis``; all other axes must match.

    Examples
    --------
    >>> import theta
    >>> theta.concatenate([theta.zeros(2, 3), theta.ones(1, 3)]).shape
    (3, 3)
    """
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
    """Join same-shaped tensors along a new ``axis``.

    Examples
    --------
    >>> import theta
    >>> theta.stack([theta.zeros(2, 3), theta.ones(2, 3)], axis=1).shape
    (2, 2, 3)
    """
    ts = _as_tensors(tensors, "stack")
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: shapes {ts[0].shape} and {t.shape} differ; all must match.")
    return Stack.apply(*ts, axis=normalize_axis(axis, ts[0].ndim + 1, "stack")[0])


def split(x: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """Split into pieces along ``axis``, as ``np.split`` (equal sections or cut points).

    Examples
    --------
    >>> import theta
    >>> [t.tolist() for t in theta.split(theta.arange(6), [2, 5])]
    [[0, 1], [2, 3, 4], [5]]
    """
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


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "edge": "edge", "circular": "wrap", "wrap": "wrap"}  # fmt: skip


def pad(x: Any, pad_width: int | Sequence, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad ``x``, with ``pad_width`` as in ``np.pad`` and the modes of ``F.pad``.

    Parameters
    ----------
    x : Tensor
    pad_width : int or sequence
        ``((before_0, after_0), ..., (before_n, after_n))``, or a pair or an int for all axes
        (NumPy's form; PyTorch's ``F.pad`` lists pairs from the last axis backwards). A
        negative width crops that many elements, as ``F.pad`` does; cropping comes first.
    mode : {"constant", "reflect", "replicate", "circular"}
        Fill with ``value``, mirror without repeating the edge, repeat the edge, or wrap
        around. NumPy's names ``"edge"`` and ``"wrap"`` are accepted too. Widths larger than
        the axis reflect or wrap again, as in NumPy (PyTorch raises).
    value : float
        The fill of ``"constant"`` mode.

    Examples
    --------
    >>> import theta
    >>> theta.pad(theta.tensor([1.0, 2.0, 3.0, 4.0]), (2, -1), mode="reflect").tolist()
    [3.0, 2.0, 1.0, 2.0, 3.0]
    """
    x = as_tensor(x)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {sorted(_PAD_MODES)} (got {mode!r}).")
    if mode != "constant" and value != 0:
        raise ValueError(f"pad: value is only used by mode 'constant' (got mode {mode!r}).")
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2)).tolist()
    except ValueError:
        raise ValueError(
            f"pad: pad_width {pad_width} does not give a (before, after) pair for each of the "
            f"{x.ndim} axes of shape {x.shape}."
        ) from None
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        crop = [(max(-lo, 0), max(-hi, 0)) for lo, hi in widths]
        if any(lo + hi > n for (lo, hi), n in zip(crop, x.shape, strict=True)):
            raise ValueError(f"pad: pad_width {pad_width} crops more than the shape {x.shape} has.")
        x = getitem(x, tuple(slice(lo, n - hi) for (lo, hi), n in zip(crop, x.shape, strict=True)))
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if not any(lo or hi for lo, hi in widths):
        return x
    pairs = tuple((lo, hi) for lo, hi in widths)
    grows_empty = any(n == 0 and lo + hi for (lo, hi), n in zip(pairs, x.shape, strict=True))
    if mode != "constant" and grows_empty:
        raise ValueError(f"pad: mode {mode!r} cannot pad an empty axis (shape {x.shape}).")
    return Pad.apply(x, pad_width=pairs, mode=_PAD_MODES[mode], value=value)


def tril(x: Any, k: int = 0) -> Tensor:
    """Zero the elements above the ``k``-th diagonal of the last two axes (batched).

    Examples
    --------
    >>> import theta
    >>> theta.tril(theta.ones(3, 3))
    tensor([[1., 0., 0.],
            [1., 1., 0.],
            [1., 1., 1.]])
    """
    return _triangle("tril", x, k, lower=True)


def triu(x: Any, k: int = 0) -> Tensor:
    """Zero the elements below the ``k``-th diagonal of the last two axes (batched).

    Examples
    --------
    >>> import theta
    >>> theta.triu(theta.ones(3, 3), k=1)
    tensor([[0., 1., 1.],
            [0., 0., 1.],
            [0., 0., 0.]])
    """
    return _triangle("triu", x, k, lower=False)


def _triangle(op: str, x: Any, k: int, lower: bool) -> Tensor:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: need at least 2 axes (got shape {x.shape}).")
    return Triangle.apply(x, k=int(k), lower=lower)


def flip(x: Any, axis: int | tuple[int, ...] | None = None) -> Tensor:
    """Reverse the order of elements along ``axis`` (all axes when None), as ``np.flip``.

    Examples
    --------
    >>> import theta
    >>> theta.flip(theta.tensor([[1, 2], [3, 4]]), axis=1)
    tensor([[2, 1],
            [4, 3]])
    """
    x = as_tensor(x)
    return Flip.apply(x, axes=normalize_axis(axis, x.ndim, "flip"))


def roll(x: Any, shift: int | tuple[int, ...], axis: int | tuple[int, ...] | None = None) -> Tensor:
    """Shift elements cyclically by ``shift`` along ``axis``, as ``np.roll`` (the flattened
    tensor when ``axis`` is None); a tuple ``shift`` pairs with a tuple ``axis``.

    Examples
    --------
    >>> import theta
    >>> theta.roll(theta.tensor([1, 2, 3, 4]), 1)
    tensor([4, 1, 2, 3])
    """
    x = as_tensor(x)
    shift = tuple(int(s) for s in shift) if isinstance(shift, Sequence) else int(shift)
    if axis is not None:
        axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
        axis = tuple(normalize_axis(a, x.ndim, "roll")[0] for a in axes)
        if np.ndim(shift) and len(shift) != len(axis):
            raise ValueError(f"roll: {len(shift)} shifts for {len(axis)} axes; they must pair.")
    elif np.ndim(shift):
        raise ValueError(f"roll: a tuple shift {shift} needs a tuple axis.")
    return Roll.apply(x, shift=shift, axis=axis)


def tile(x: Any, reps: int | Sequence[int]) -> Tensor:
    """Repeat the whole tensor ``reps`` times along each axis, as ``np.tile``.

    This is what PyTorch calls ``Tensor.repeat``: ``x.repeat(2, 1)`` there is
    ``theta.tile(x, (2, 1))`` (or the method ``x.repeat(2, 1)``) here.

    Examples
    --------
    >>> import theta
    >>> theta.tile(theta.tensor([1, 2]), (2, 2))
    tensor([[1, 2, 1, 2],
            [1, 2, 1, 2]])
    """
    x = as_tensor(x)
    reps = (int(reps),) if isinstance(reps, int | np.integer) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative (got {reps}).")
    return Tile.apply(x, reps=reps)


def repeat(x: Any, repeats: int | Sequence[int], axis: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``axis``, as ``np.repeat`` (the flattened
    tensor when ``axis`` is None); ``repeats`` is an int or one count per element.

    NumPy's meaning, which PyTorch calls ``repeat_interleave``: ``repeat([1, 2], 2)`` is
    ``[1, 1, 2, 2]``. PyTorch's ``Tensor.repeat`` tiles instead; see :func:`tile`.

    Examples
    --------
    >>> import theta
    >>> theta.repeat(theta.tensor([1.0, 2.0]), [1, 2]).tolist()
    [1.0, 2.0, 2.0]
    """
    x = as_tensor(x)
    if axis is None:
        x, axis = reshape(x, -1), 0
    axis = normalize_axis(axis, x.ndim, "repeat")[0]
    counts = np.asarray(repeats.data if isinstance(repeats, Tensor) else repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts < 0).any():
        raise ValueError(f"repeat: repeats must be non-negative integers (got {repeats}).")
    if counts.size == 1:
        return Repeat.apply(x, repeats=int(counts.reshape(())), axis=axis)
    if counts.size != x.shape[axis]:
        raise ValueError(
            f"repeat: {counts.size} repeats for axis {axis} of size {x.shape[axis]}; give one "
            "count or one per element."
        )
    return Repeat.apply(x, repeats=counts, axis=axis)


repeat_interleave = repeat  # PyTorch's name for NumPy's repeat, with ``axis`` for ``dim``


def unfold(x: Any, axis: int, size: int, step: int) -> Tensor:
    """All windows of ``size`` elements along ``axis``, ``step`` apart, as PyTorch's
    ``Tensor.unfold``: ``axis`` becomes the window count ``(n - size) // step + 1`` and a new
    last axis of length ``size`` holds each window. The output is a read-only view.

    Examples
    --------
    >>> import theta
    >>> theta.unfold(theta.tensor([1.0, 2.0, 3.0, 4.0]), 0, 2, 1).tolist()
    [[1.0, 2.0], [2.0, 3.0], [3.0, 4.0]]
    """
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim, "unfold")[0]
    if not 0 <= size <= x.shape[axis] or step < 1:
        raise ValueError(
            f"unfold: need 0 <= size <= {x.shape[axis]} (the size of axis {axis}) and step >= 1 "
            f"(got size {size}, step {step})."
        )
    return Unfold.apply(x, axis=axis, size=int(size), step=int(step))


def meshgrid(*xs: Any, indexing: str = "xy") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D coordinate vectors, as ``np.meshgrid``.

    With NumPy's default ``indexing="xy"`` the first two outputs have shape ``(len(xs[1]),
    len(xs[0]), ...)``; with ``"ij"`` (``torch.meshgrid``'s default) ``(len(xs[0]),
    len(xs[1]), ...)``. The outputs are read-only broadcast views.

    Examples
    --------
    >>> import theta
    >>> xx, yy = theta.meshgrid(theta.arange(3), theta.arange(2))
    >>> xx.shape, yy.tolist()
    ((2, 3), [[0, 0, 0], [1, 1, 1]])
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij' (got {indexing!r}).")
    ts = [reshape(as_tensor(x), -1) for x in xs]
    axes = list(range(len(ts)))
    if indexing == "xy" and len(ts) > 1:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(ts)
    for t, a in zip(ts, axes, strict=True):
        shape[a] = t.size
    return tuple(
        broadcast_to(reshape(t, [t.size if d == a else 1 for d in range(len(ts))]), shape)
        for t, a in zip(ts, axes, strict=True)
    )


def _as_tensors(tensors: Sequence[Any], op: str) -> list[Tensor]:
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError(f"{op}: need at least one tensor.")
    return ts


def tensor_repeat(x: Any, sizes: tuple) -> Tensor:
    """``Tensor.repeat(*sizes)`` with PyTorch's meaning, which is NumPy's ``tile``: porting
    code expects ``x.repeat(2, 1)`` to tile; ``theta.repeat`` keeps NumPy's meaning."""
    x = as_tensor(x)
    if len(sizes) == 1 and isinstance(sizes[0], Sequence):
        sizes = tuple(sizes[0])
    if len(sizes) < x.ndim:
        raise ValueError(
            f"repeat: {len(sizes)} repeat counts for a tensor of shape {x.shape}; give at least "
            "one per axis (Tensor.repeat tiles, as in PyTorch; theta.repeat repeats elements)."
        )
    return tile(x, sizes)
