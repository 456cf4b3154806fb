"""Convolutions (1-D, 2-D and transposed 2-D) as fused ops, and their layers.

PyTorch's layout throughout: inputs are ``(N, C, L)`` or ``(N, C, H, W)``, a weight is
``(out_channels, in_channels / groups, kh, kw)`` (a transposed convolution's is
``(in_channels, out_channels / groups, kh, kw)``), so a torch state dict loads as it is.

How it runs: the input windows are gathered by one strided copy ("im2col") into a matrix of
shape ``(groups, C/groups * kh * kw, N * OH * OW)``, laid out channel-and-offset major so the
copy reads whole rows of the image, and the convolution is then ONE matrix product (a batched
one over the groups). Backward is two more products; the input gradient scatters the
columns back ("col2im") with one vectorised add per kernel offset. With stride 1 and at
least 32 input channels per group, :class:`ShiftedConvolution` skips the im2col copy: one GEMM
per kernel offset on shifted slices of the padded input. A 1-D convolution is a 2-D one of
height 1. A transposed convolution is the adjoint of a convolution: its forward is a
convolution's input gradient and its input gradient is a convolution's forward.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from theta.autograd import Context, Function, Tensor, tensor
from theta.nn import init
from theta.nn.module import Module, Parameter
from theta.rng import check_random_state
from theta.validation import Each, Interval, Options, check_param, int_tuple

__all__ = [
    "Conv1d", "Conv2d", "ConvTranspose2d", "conv1d", "conv2d", "conv_transpose2d",
]  # fmt: skip

Grads = tuple[np.ndarray | None, ...]
Pair = tuple[int, int]


# --- the array kernels ------------------------------------------------------------------------


def _im2col(
    xp: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair, out: Pair, groups: int
) -> np.ndarray:
    """The windows of padded ``xp`` (N, C, Hp, Wp) as columns: (G, C/G * kh * kw, N * OH * OW)."""
    n, c = xp.shape[:2]
    s_n, s_c, s_h, s_w = xp.strides
    shape = (c, *kernel, n, *out)  # (C, kh, kw, N, OH, OW): the copy's inner loop reads rows
    strides = (s_c, s_h * dilation[0], s_w * dilation[1], s_n, s_h * stride[0], s_w * stride[1])
    windows = as_strided(xp, shape, strides, writeable=False)
    k = c // groups * kernel[0] * kernel[1]
    return np.ascontiguousarray(windows).reshape(groups, k, n * out[0] * out[1])


def _col2im(
    cols: np.ndarray,
    shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    dilation: Pair,
    out: Pair,
) -> np.ndarray:
    """The adjoint of :func:`_im2col`: add every column entry back where it was read from.

    Returns a (N, C, Hp, Wp) view of a (C, N, Hp, Wp) array. One strided add per kernel
    offset: overlapping windows make a single scatter impossible without ``np.add.at``.
    """
    n, c, hp, wp = shape
    cols = cols.reshape(c, *kernel, n, *out)
    acc = np.zeros((c, n, hp, wp), dtype=cols.dtype)
    h_span, w_span = stride[0] * (out[0] - 1) + 1, stride[1] * (out[1] - 1) + 1
    for i in range(kernel[0]):
        h0 = i * dilation[0]
        for j in range(kernel[1]):
            w0 = j * dilation[1]
            acc[:, :, h0 : h0 + h_span : stride[0], w0 : w0 + w_span : stride[1]] += cols[:, i, j]
    return acc.transpose(1, 0, 2, 3)


def _channels_first(a: np.ndarray, groups: int) -> np.ndarray:
    """(N, C, H, W) → (G, C/G, N * H * W), the layout of the GEMMs' channel operand."""
    n, c, h, w = a.shape
    return a.transpose(1, 0, 2, 3).reshape(groups, c // groups, n * h * w)


def _batch_first(a: np.ndarray, n: int, hw: Pair) -> np.ndarray:
    """(G, C/G, N * H * W) → contiguous (N, C, H, W)."""
    c = a.shape[0] * a.shape[1]
    return np.ascontiguousarray(a.reshape(c, n, *hw).transpose(1, 0, 2, 3))


def _as_2d(*arrays: np.ndarray) -> list[np.ndarray]:
    """A 1-D convolution's (N, C, L) arrays as (N, C, 1, L) views: a 2-D one of height 1."""
    return [a[:, :, None, :] if a.ndim == 3 else a for a in arrays]


class Convolution(Function):
    """Cross-correlation of (N, C, H, W) [or (N, C, L)] with a (O, C/G, kh, kw) weight, fused.

    Forward is one im2col copy and one GEMM per group; backward is one GEMM for the weight
    and one GEMM plus col2im for the input. The columns are saved only when the weight
    needs a gradient, the weight only when the input does.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        weight: np.ndarray,
        *bias: np.ndarray,
        stride: Pair,
        padding: tuple[int, int, int, int],
        dilation: Pair,
        groups: int,
    ) -> np.ndarray:
        x4, w4 = _as_2d(x, weight)
        top, bottom, left, right = padding
        xp = np.pad(x4, ((0, 0), (0, 0), (top, bottom), (left, right))) if any(padding) else x4
        kernel = w4.shape[2:]
        out = _out_size(xp.shape[2:], kernel, stride, dilation)
        cols = _im2col(xp, kernel, stride, dilation, out, groups)  # (G, K, N*OH*OW)
        w3 = w4.reshape(groups, w4.shape[0] // groups, -1)  # (G, O/G, K)
        y = _batch_first(w3 @ cols, x.shape[0], out)  # (N, O, OH, OW)
        if bias:
            y += bias[0][:, None, None]
        ctx.save(
            cols if ctx.needs_grad[1] else None,
            w3 if ctx.needs_grad[0] else None,
            xp.shape,
            out,
        )
        return y[:, :, 0] if x.ndim == 3 else y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        cols, w3, padded_shape, out = ctx.saved
        kw = ctx.kwargs
        x, weight = ctx.parents[0], ctx.parents[1]
        (g4,) = _as_2d(grad)
        g3 = _channels_first(g4, kw["groups"])  # (G, O/G, N*OH*OW)
        grad_x = grad_w = None
        if ctx.needs_grad[0]:
            kernel = (1, *weight.shape[2:]) if weight.ndim == 3 else weight.shape[2:]
            dxp = _col2im(w3.transpose(0, 2, 1) @ g3, padded_shape, kernel, kw["stride"],
                          kw["dilation"], out)  # fmt: skip
            top, bottom, left, right = kw["padding"]
            hp, wp = padded_shape[2:]
            grad_x = np.ascontiguousarray(dxp[:, :, top : hp - bottom, left : wp - right])
            grad_x = grad_x.reshape(x.shape)
        if ctx.needs_grad[1]:
            grad_w = (g3 @ cols.transpose(0, 2, 1)).reshape(weight.shape)
        if len(ctx.parents) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, (g4.sum(axis=(0, 2, 3)) if ctx.needs_grad[2] else None)


class ShiftedConvolution(Function):
    """:class:`Convolution` for stride 1 and many channels per group, without im2col.

    Zero-pad the input into one flat row per channel, ``(G, C/G, N * Hp * Wp)``. The
    window cell at kernel offset ``(i, j)`` of output pixel ``q`` (counted on the padded
    grid) is then row entry ``q + i dh Wp + j dw``, so each offset's contribution is one GEMM
    on a shifted slice of those rows, with no copy: the output is computed on the whole
    padded grid and cropped (the ``(Hp Wp) / (OH OW)`` extra columns cost less than copying
    ``kh kw`` times the input). Backward runs the same GEMMs per offset for the weight, and
    adds their transposes into shifted slices for the input. Saves the padded rows, not the
    ``kh kw`` times larger columns.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        weight: np.ndarray,
        *bias: np.ndarray,
        stride: Pair,
        padding: tuple[int, int, int, int],
        dilation: Pair,
        groups: int,
    ) -> np.ndarray:
        x4, w4 = _as_2d(x, weight)
        n, c, h, w = x4.shape
        top, bottom, left, right = padding
        grid = (h + top + bottom, w + left + right)
        shifts = _shifts(w4.shape[2:], dilation, grid[1])
        m = n * grid[0] * grid[1]
        rows = np.zeros((c, m + shifts[-1][2]), dtype=x.dtype)  # the tail: the last shift's reach
        rows[:, :m].reshape(c, n, *grid)[:, :, top : top + h, left : left + w] = x4.transpose(
            1, 0, 2, 3)  # fmt: skip
        rows = rows.reshape(groups, c // groups, -1)  # (G, C/G, M + reach)
        # (kh, kw, G, O/G, C/G): each offset's weight matrix contiguous
        wk = np.ascontiguousarray(
            w4.reshape(groups, -1, c // groups, *w4.shape[2:]).transpose(3, 4, 0, 1, 2)
        )
        wide = None
        for i, j, s in shifts:
            part = wk[i, j] @ rows[:, :, s : s + m]  # (G, O/G, M)
            wide = part if wide is None else np.add(wide, part, out=wide)
        out = _out_size(grid, w4.shape[2:], (1, 1), dilation)
        y = wide.reshape(-1, n, *grid)[:, :, : out[0], : out[1]]
        y = np.ascontiguousarray(y.transpose(1, 0, 2, 3))  # (N, O, OH, OW)
        if bias:
            y += bias[0][:, None, None]
        ctx.save(rows if ctx.needs_grad[1] else None, wk if ctx.needs_grad[0] else None, grid)
        return y[:, :, 0] if x.ndim == 3 else y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        rows, wk, grid = ctx.saved
        x, weight = ctx.parents[0], ctx.parents[1]
        groups, (top, _, left, _) = ctx.kwargs["groups"], ctx.kwargs["padding"]
        (g4,) = _as_2d(grad)
        n, o, oh, ow = g4.shape
        m = n * grid[0] * grid[1]
        wide = np.zeros((o, n, *grid), dtype=grad.dtype)  # zero where the grid has no output
        wide[:, :, :oh, :ow] = g4.transpose(1, 0, 2, 3)
        wide = wide.reshape(groups, o // groups, m)
        kernel = (1, *weight.shape[2:]) if weight.ndim == 3 else weight.shape[2:]
        shifts = _shifts(kernel, ctx.kwargs["dilation"], grid[1])
        grad_x = grad_w = None
        if ctx.needs_grad[1]:
            gk = np.stack([wide @ rows[:, :, s : s + m].transpose(0, 2, 1) for _, _, s in shifts])
            gk = gk.reshape(*kernel, o, -1)  # (kh, kw, O, C/G)
            grad_w = np.ascontiguousarray(gk.transpose(2, 3, 0, 1)).reshape(weight.shape)
        if ctx.needs_grad[0]:
            c, h, w = x.shape[1], *((1, x.shape[2]) if x.ndim == 3 else x.shape[2:])
            acc = np.zeros((groups, c // groups, m + shifts[-1][2]), dtype=grad.dtype)
            for i, j, s in shifts:
                acc[:, :, s : s + m] += wk[i, j].transpose(0, 2, 1) @ wide
            dx = acc[:, :, :m].reshape(c, n, *grid)[:, :, top : top + h, left : left + w]
            grad_x = np.ascontiguousarray(dx.transpose(1, 0, 2, 3)).reshape(x.shape)
        if len(ctx.parents) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, (g4.sum(axis=(0, 2, 3)) if ctx.needs_grad[2] else None)


def _shifts(kernel: tuple[int, ...], dilation: Pair, width: int) -> list[tuple[int, int, int]]:
    """``(i, j, shift)`` per kernel offset: where its cells sit in rows of padded width."""
    return [
        (i, j, i * dilation[0] * width + j * dilation[1])
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]


class TransposedConvolution(Function):
    """The adjoint of :class:`Convolution` in its input, with a (C, O/G, kh, kw) weight, fused.

    Forward is one GEMM plus col2im onto the padded output, then a crop; backward is the
    padded output gradient's im2col and two GEMMs.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        weight: np.ndarray,
        *bias: np.ndarray,
        stride: Pair,
        padding: Pair,
        output_padding: Pair,
        dilation: Pair,
        groups: int,
    ) -> np.ndarray:
        n, c, h, w = x.shape
        kernel = weight.shape[2:]
        x3 = _channels_first(x, groups)  # (G, C/G, N*H*W)
        w3 = weight.reshape(groups, c // groups, -1)  # (G, C/G, K)
        padded = tuple(
            (size - 1) * s + d * (k - 1) + op + 1
            for size, s, d, k, op in zip(
                (h, w), stride, dilation, kernel, output_padding, strict=True
            )
        )
        yp = _col2im(w3.transpose(0, 2, 1) @ x3, (n, weight.shape[1] * groups, *padded),
                     kernel, stride, dilation, (h, w))  # fmt: skip
        (ph, pw), (hp, wp) = padding, padded
        y = np.ascontiguousarray(yp[:, :, ph : hp - ph, pw : wp - pw])
        if bias:
            y += bias[0][:, None, None]
        ctx.save(x3 if ctx.needs_grad[1] else None, w3 if ctx.needs_grad[0] else None)
        return y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x3, w3 = ctx.saved
        kw = ctx.kwargs
        x, weight = ctx.parents[0], ctx.parents[1]
        ph, pw = kw["padding"]
        gp = np.pad(grad, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else grad
        cols = _im2col(gp, weight.shape[2:], kw["stride"], kw["dilation"], x.shape[2:],
                       kw["groups"])  # fmt: skip
        grad_x = _batch_first(w3 @ cols, x.shape[0], x.shape[2:]) if ctx.needs_grad[0] else None
        grad_w = (x3 @ cols.transpose(0, 2, 1)).reshape(weight.shape) if ctx.needs_grad[1] else None
        if len(ctx.parents) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, (grad.sum(axis=(0, 2, 3)) if ctx.needs_grad[2] else None)


def _out_size(size: tuple[int, ...], kernel: tuple[int, ...], stride: Pair, dilation: Pair) -> Pair:
    """Output height and width of a convolution over an already padded ``size``."""
    h, w = (
        (n - d * (k - 1) - 1) // s + 1
        for n, k, s, d in zip(size, kernel, stride, dilation, strict=True)
    )
    return h, w


# --- checking and normalising the arguments ---------------------------------------------------

_POSITIVE = Interval(numbers.Integral, 1, None)
_NON_NEGATIVE = Interval(numbers.Integral, 0, None)


def _padding(value: Any, n: int, where: str, stride: tuple[int, ...], dilation, kernel) -> tuple:
    """Padding as (before, after) per spatial axis; "same" pads d*(k-1) with the odd one after,
    as PyTorch does."""
    if isinstance(value, str):
        check_param(value, "padding", Options({"same", "valid"}), caller=where)
        if value == "valid":
            return ((0, 0),) * n
        if any(s != 1 for s in stride):
            raise ValueError(
                f"{where}: padding='same' is not supported for strided convolutions "
                f"(got stride={stride}); use stride 1 or give the padding as ints."
            )
        total = [d * (k - 1) for d, k in zip(dilation, kernel, strict=True)]
        return tuple((t // 2, t - t // 2) for t in total)
    return tuple((p, p) for p in int_tuple(value, n, "padding", where, _NON_NEGATIVE))


def _as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor; plain data (an ndarray, a list) takes ``like``'s dtype, so a float32
    layer accepts NumPy's float64 arrays. Tensors are never cast: a mismatch raises."""
    if isinstance(x, Tensor):
        return x
    return tensor(np.asarray(x, dtype=None if like is None else like.dtype))


def _check_operands(
    where: str, x: Tensor, weight: Tensor, bias: Tensor | None, n: int, groups: int, transposed
) -> None:
    """Ranks, dtypes, channel counts and the bias's shape; errors name the op and the shapes."""
    spatial = "(N, C, L)" if n == 1 else "(N, C, H, W)"
    if x.ndim != n + 2 or weight.ndim != n + 2:
        raise ValueError(
            f"{where}: expected a {n + 2}-D input {spatial} and a {n + 2}-D weight "
            f"(got shapes {x.shape} and {weight.shape})."
        )
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != x.dtype):
        dtypes = [str(t.dtype) for t in (x, weight, bias) if t is not None]
        raise TypeError(
            f"{where}: input, weight and bias must share one floating dtype "
            f"(got {', '.join(dtypes)}); convert with .astype()."
        )
    in_channels = weight.shape[0] if transposed else weight.shape[1] * groups
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if x.shape[1] != in_channels or weight.shape[0] % groups:
        raise ValueError(
            f"{where}: input of shape {x.shape} does not fit weight of shape {weight.shape} "
            f"with groups={groups}; expected {in_channels} input channels, and the weight's "
            f"first axis divisible by groups."
        )
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(
            f"{where}: bias must have shape ({out_channels},) (got {bias.shape})."
        )


def _conv(
    where: str, n: int, x: Any, weight: Tensor, bias: Tensor | None, stride, padding, dilation,
    groups: int,
) -> Tensor:  # fmt: skip
    """Check and normalise a convolution's arguments, then run :class:`Convolution`."""
    weight = _as_tensor(weight)
    x = _as_tensor(x, like=weight)
    check_param(groups, "groups", _POSITIVE, caller=where)
    _check_operands(where, x, weight, bias, n, groups, transposed=False)
    kernel = weight.shape[2:]
    stride = int_tuple(stride, n, "stride", where)
    dilation = int_tuple(dilation, n, "dilation", where)
    pads = _padding(padding, n, where, stride, dilation, kernel)
    padded = tuple(size + a + b for size, (a, b) in zip(x.shape[2:], pads, strict=True))
    reach = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True))
    if any(r > p for r, p in zip(reach, padded, strict=True)):
        raise ValueError(
            f"{where}: kernel of size {kernel} (spanning {reach} with dilation {dilation}) is "
            f"larger than the padded input of size {padded}; input shape {x.shape}."
        )
    if n == 1:  # the height axis of a 2-D convolution of height 1
        stride, dilation, pads = (1, *stride), (1, *dilation), ((0, 0), *pads)
    args = (x, weight) if bias is None else (x, weight, bias)
    # im2col copies kh*kw times the input; with stride 1 and enough channels per group for
    # efficient per-offset GEMMs, shifted slices of the padded input avoid that copy
    op = ShiftedConvolution if stride == (1, 1) and weight.shape[1] >= 32 else Convolution
    return op.apply(*args, stride=stride, padding=sum(pads, ()), dilation=dilation,
                    groups=groups)  # fmt: skip


def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : Tensor of shape (N, C, L)
    weight : Tensor of shape (O, C / groups, k)
    bias : Tensor of shape (O,), optional
    stride, dilation : int or 1-tuple, default 1
    padding : int, 1-tuple, "valid" or "same" (stride 1 only), default 0
        Zeros added at both ends.
    groups : int, default 1
        Split the channels into this many independent convolutions.

    Returns
    -------
    Tensor of shape (N, O, L_out), ``L_out = (L + 2p - d(k - 1) - 1) // stride + 1``

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> x = theta.ones(2, 3, 10)  # (N, C, L)
    >>> w = theta.ones(4, 3, 5)  # (O, C, k)
    >>> F.conv1d(x, w).shape, F.conv1d(x, w, padding="same").shape
    ((2, 4, 6), (2, 4, 10))
    """
    return _conv("conv1d", 1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
        Of the weight's dtype (plain arrays are converted to it).
    weight : Tensor of shape (O, C / groups, kh, kw)
    bias : Tensor of shape (O,), optional
    stride, dilation : int or pair, default 1
    padding : int, pair, "valid" or "same" (stride 1 only), default 0
        Zeros added on both sides; "same" puts an odd total's extra zero after, as PyTorch.
    groups : int, default 1
        Split the channels into this many independent convolutions.

    Returns
    -------
    Tensor of shape (N, O, OH, OW), ``OH = (H + 2p - d(kh - 1) - 1) // stride + 1``

    Examples
    --------
    >>> import numpy as np, theta
    >>> x = theta.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> conv2d(x, theta.tensor(np.ones((1, 1, 2, 2))), stride=2).tolist()
    [[[[10.0, 18.0], [42.0, 50.0]]]]
    """
    return _conv("conv2d", 2, x, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """Transposed 2-D convolution (the gradient of ``conv2d`` in its input), as PyTorch's.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
    weight : Tensor of shape (C, O / groups, kh, kw)
    bias : Tensor of shape (O,), optional
    stride, dilation : int or pair, default 1
    padding : int or pair, default 0
        Rows and columns cropped from both sides of the full output.
    output_padding : int or pair, default 0
        Extra rows and columns at the bottom and right, to pick one of the input sizes a
        strided ``conv2d`` maps to the same output size; each must be below stride or dilation.
    groups : int, default 1

    Returns
    -------
    Tensor of shape (N, O, OH, OW), ``OH = (H - 1) stride - 2p + d(kh - 1) + output_padding + 1``

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> x = theta.ones(1, 3, 4, 4)  # (N, C, H, W)
    >>> w = theta.ones(3, 2, 3, 3)  # (C, O, kh, kw)
    >>> F.conv_transpose2d(x, w, stride=2).shape
    (1, 2, 9, 9)
    """
    where = "conv_transpose2d"
    weight = _as_tensor(weight)
    x = _as_tensor(x, like=weight)
    check_param(groups, "groups", _POSITIVE, caller=where)
    _check_operands(where, x, weight, bias, 2, groups, transposed=True)
    stride = int_tuple(stride, 2, "stride", where)
    dilation = int_tuple(dilation, 2, "dilation", where)
    padding = int_tuple(padding, 2, "padding", where, _NON_NEGATIVE)
    output_padding = int_tuple(output_padding, 2, "output_padding", where, _NON_NEGATIVE)
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise ValueError(
            f"{where}: output_padding must be smaller than either stride or dilation "
            f"(got output_padding={output_padding}, stride={stride}, dilation={dilation})."
        )
    out = [
        (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        for size, s, p, d, k, op in zip(
            x.shape[2:], stride, padding, dilation, weight.shape[2:], output_padding, strict=True
        )
    ]
    if min(out) < 1:
        raise ValueError(
            f"{where}: padding {padding} leaves an empty output (size {tuple(out)}) for input "
            f"of shape {x.shape} and weight of shape {weight.shape}."
        )
    args = (x, weight) if bias is None else (x, weight, bias)
    return TransposedConvolution.apply(*args, stride=stride, padding=padding,
                                        output_padding=output_padding, dilation=dilation,
                                        groups=groups)  # fmt: skip


# --- layers -----------------------------------------------------------------------------------


class _ConvNd(Module):
    """What the convolution layers share: checked hyperparameters, parameters, repr."""

    n: int = 2
    transposed: bool = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        rng: Any = None,
        dtype: Any = None,
        output_padding: Any = 0,
    ) -> None:
        where = type(self).__name__
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):  # fmt: skip
            check_param(value, name, _POSITIVE, caller=where)
        check_param(bias, "bias", "boolean", caller=where)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{where}: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                f"both be divisible by groups ({groups})."
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = int_tuple(kernel_size, self.n, "kernel_size", where)
        self.stride = int_tuple(stride, self.n, "stride", where)
        self.dilation = int_tuple(dilation, self.n, "dilation", where)
        if isinstance(padding, str):
            _padding(padding, self.n, where, self.stride, self.dilation, self.kernel_size)
            self.padding = padding
        else:
            self.padding = int_tuple(padding, self.n, "padding", where, _NON_NEGATIVE)
        self.output_padding = int_tuple(output_padding, self.n, "output_padding", where,
                                    _NON_NEGATIVE)  # fmt: skip
        rng = check_random_state(rng)
        if self.transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        # PyTorch's default: kaiming-uniform with a=sqrt(5), i.e. Linear's U(±1/sqrt(fan_in))
        # with fan_in = the weight's second axis times the kernel's area
        fan_in = shape[1] * math.prod(self.kernel_size)
        self.weight = Parameter(init.kaiming_uniform(shape, fan_in, rng=rng, dtype=dtype))
        self.bias = (
            Parameter(init.kaiming_uniform((out_channels,), fan_in, rng=rng, dtype=dtype))
            if bias
            else None
        )

    def _check_input(self, x: Any) -> Tensor:
        """The layer's own message for the likeliest mistake: a wrong channel count."""
        x = _as_tensor(x, like=self.weight)
        spatial = "L" if self.n == 1 else "H, W"
        if x.ndim != self.n + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}: expected input with {self.in_channels} channels "
                f"(shape (N, {self.in_channels}, {spatial})), got shape {x.shape}."
            )
        return x

    def __repr__(self) -> str:
        """PyTorch's: ``Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))``."""
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")  # fmt: skip
        if self.padding != (0,) * self.n:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.n:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.n:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return f"{type(self).__name__}({text})"


class Conv1d(_ConvNd):
    """1-D convolution layer over (N, C, L), as ``torch.nn.Conv1d`` (zero padding only).

    Examples
    --------
    >>> import numpy as np
    >>> Conv1d(2, 4, 3, padding="same", rng=0)(np.zeros((1, 2, 5))).shape
    (1, 4, 5)
    """

    n = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, rng=rng, dtype=dtype)  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return conv1d(self._check_input(x), self.weight, self.bias, self.stride, self.padding,
                      self.dilation, self.groups)  # fmt: skip


class Conv2d(_ConvNd):
    """2-D convolution layer over (N, C, H, W), as ``torch.nn.Conv2d`` (zero padding only).

    Examples
    --------
    >>> import numpy as np
    >>> layer = Conv2d(1, 8, 3, rng=0)
    >>> layer
    Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))
    >>> layer(np.zeros((2, 1, 28, 28))).shape
    (2, 8, 26, 26)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, rng=rng, dtype=dtype)  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(self._check_input(x), self.weight, self.bias, self.stride, self.padding,
                      self.dilation, self.groups)  # fmt: skip


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution layer, as ``torch.nn.ConvTranspose2d`` (zero padding only).

    Its weight is ``(in_channels, out_channels / groups, kh, kw)``, PyTorch's layout.

    Examples
    --------
    >>> import numpy as np
    >>> ConvTranspose2d(8, 1, 2, stride=2, rng=0)(np.zeros((1, 8, 4, 4))).shape
    (1, 1, 8, 8)
    """

    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        *,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        check_param(padding, "padding", [_NON_NEGATIVE, Each(_NON_NEGATIVE)], caller=self)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, rng=rng, dtype=dtype,
                         output_padding=output_padding)  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return conv_transpose2d(self._check_input(x), self.weight, self.bias, self.stride,
                                self.padding, self.output_padding, self.groups,
                                self.dilation)  # fmt: skip
