"""Layer math as functions on tensors, with fused ops where the composed chain is slow.

``linear`` (also followed by a ReLU or a GELU: ``linear_relu``, ``linear_gelu``) and
``layer_norm`` are fused primitives
(one ``Function`` each): composed from matmul, transpose, add, mean, var and friends they cost
several passes over memory and many Python calls per layer, and these are the hot paths of
every network. Their composed forms (``linear_composed``, ``linear_relu_composed``,
``layer_norm_composed``) stay here as the test oracles."""

from __future__ import annotations

import numpy as np

from theta import kernels
from theta import special as _special
from theta.autograd import Context, Function, Tensor, is_grad_enabled, tensor
from theta.nn.conv import conv1d, conv2d, conv_transpose2d
from theta.nn.normalization import batch_norm, group_norm
from theta.nn.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    interpolate,
    max_pool1d,
    max_pool2d,
)  # fmt: skip
from theta.rng import check_random_state

__all__ = [
    "dropout", "embedding", "layer_norm", "layer_norm_composed", "linear", "linear_composed",
    "linear_gelu", "linear_relu", "linear_relu_composed",
    "batch_norm", "group_norm",
    "conv1d", "conv2d", "conv_transpose2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "interpolate",
    "max_pool1d", "max_pool2d",
]  # fmt: skip

Grads = tuple[np.ndarray | None, ...]


class Linear(Function):
    """``x @ weight.T + bias`` over the last axis of ``x``, fused, optionally with a ReLU.

    The batch axes of ``x`` are folded into the rows, so forward is one GEMM plus an in-place
    bias add (and an in-place ``max(., 0)``), and backward is two GEMMs plus a column sum.
    """

    @staticmethod
    def forward(
        ctx: Context, x: np.ndarray, weight: np.ndarray, *bias: np.ndarray, relu: bool = False
    ) -> np.ndarray:
        x2 = x.reshape(-1, x.shape[-1])  # (N, in)
        out = x2 @ weight.T  # (N, out)
        if bias:
            out += bias[0]
        if relu:
            np.maximum(out, 0, out=out)
            ctx.save(x2, weight, out)
        else:
            ctx.save(x2, weight)
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x2, weight, *relu_out = ctx.saved
        g2 = grad.reshape(-1, weight.shape[0])  # (N, out)
        if relu_out:
            g2 = g2 * (relu_out[0] > 0)  # the ReLU's gradient is 0 at 0, as in relu()
        needs_grad = ctx.needs_grad
        grad_x = (g2 @ weight).reshape(*grad.shape[:-1], weight.shape[1]) if needs_grad[0] else None
        grad_w = g2.T @ x2 if needs_grad[1] else None
        if len(needs_grad) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, (g2.sum(axis=0) if needs_grad[2] else None)


def _check_linear(x: Tensor, weight: Tensor, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = tensor(x)
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(
            f"{name}: input of shape {x.shape} does not fit weight of shape {weight.shape}; "
            f"the last axis of the input must be in_features={weight.shape[1]}."
        )
    return x


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``x @ weight.T + bias``.

    Parameters
    ----------
    x : Tensor of shape (..., in_features)
    weight : Tensor of shape (out_features, in_features)
        PyTorch's layout, so state dicts map one to one.
    bias : Tensor of shape (out_features,), optional

    Returns
    -------
    Tensor of shape (..., out_features)

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> x = theta.ones(4, 3)  # (n_samples, in_features)
    >>> w = theta.ones(2, 3)  # (out_features, in_features)
    >>> F.linear(x, w, theta.tensor([0.0, 1.0]))
    tensor([[3., 4.],
            [3., 4.],
            [3., 4.],
            [3., 4.]])
    """
    x = _check_linear(x, weight, "linear")
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


def linear_relu(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``relu(linear(x, weight, bias))`` as one op: the hidden layer of an MLP.

    Saves a graph node, a pass over the output and its copy; shapes as in :func:`linear`.

    Examples
    --------
    >>> import theta
    >>> w = theta.tensor([[1.0, -1.0]])
    >>> linear_relu(theta.tensor([[1.0, 2.0], [3.0, 1.0]]), w).tolist()
    [[0.0], [2.0]]
    """
    x = _check_linear(x, weight, "linear_relu")
    if bias is None:
        return Linear.apply(x, weight, relu=True)
    return Linear.apply(x, weight, bias, relu=True)


class LinearGELU(Function):
    """``gelu(x @ weight.T + bias)`` as one op: the widening layer of a transformer's MLP.

    Forward adds the bias and computes GELU's value and slope together, one pass over each
    cache-sized block (one compiled pass with :mod:`theta.kernels`), and keeps the slope in
    the pre-activation's memory (which nothing else sees), so backward is one product and
    then :class:`Linear`'s backward. The ``gelu`` op instead saves its input and recomputes
    the tanh (or erf) in backward. Without a graph, GELU runs in place on the pre-activation.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, *bias: np.ndarray,
                approximate: str) -> np.ndarray:  # fmt: skip
        pre = Linear.forward(ctx, x, weight)  # fresh (..., out); saves Linear's arrays
        b = bias[0] if bias else None  # added by GELU's pass, not by a pass of its own
        if not (is_grad_enabled() and True in ctx.needs_grad):
            return _special.gelu(pre, approximate, out=pre, bias=b)
        value, slope = _special.gelu_with_slope(pre, approximate, overwrite_x=True, bias=b)
        ctx.save(ctx.saved, slope)
        return value

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        linear_saved, slope = ctx.saved
        inner = Context(Linear, ctx.parents, {})
        inner.save(*linear_saved)
        return Linear.backward(inner, grad * slope)


def linear_gelu(x: Tensor, weight: Tensor, bias: Tensor | None = None, *,
                approximate: str = "none") -> Tensor:  # fmt: skip
    """``gelu(linear(x, weight, bias), approximate)`` as one op (see :class:`LinearGELU`).

    Shapes as in :func:`theta.nn.functional.linear`: (..., in_features) → (..., out_features).

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> x = theta.tensor([[1.0, -1.0]])
    >>> w = theta.eye(2)
    >>> F.linear_gelu(x, w).round(4)
    tensor([[ 0.8413, -0.1587]])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(
            f"linear_gelu: approximate must be 'none' or 'tanh' (got {approximate!r})."
        )
    x = _check_linear(x, weight, "linear_gelu")
    params = (weight,) if bias is None else (weight, bias)
    return LinearGELU.apply(x, *params, approximate=approximate)


def linear_composed(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``linear`` from primitives; the oracle for the fused form.

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> x, w = theta.ones(4, 3), theta.ones(2, 3)
    >>> F.linear_composed(x, w).shape
    (4, 2)
    """
    out = x @ weight.T
    return out if bias is None else out + bias


def linear_relu_composed(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``linear_relu`` from primitives; the oracle for the fused form.

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> x = theta.tensor([[1.0, -1.0]])
    >>> F.linear_relu_composed(x, theta.eye(2))
    tensor([[1., 0.]])
    """
    return linear_composed(x, weight, bias).relu()


class LayerNorm(Function):
    """Normalise over the trailing ``n_axes`` axes, then scale and shift; fused because the
    composed form (mean, subtract, square, mean, add, sqrt, divide, multiply, add) makes nine
    passes forward and more backward.

    Works on the (N, D) view, D the normalised size. With compiled kernels
    (:mod:`theta.kernels`) each direction is one pass over the rows, for C-contiguous float32
    or float64 inputs whose weight and bias share their dtype. Otherwise NumPy: row sums are
    GEMVs with a ones vector (NumPy's row ``sum`` is several times slower) and row dot products
    are ``einsum``s, so forward and backward allocate two full-size arrays each.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray,
        *,
        n_axes: int,
        eps: float,
    ) -> np.ndarray:
        D = weight.size
        x2 = x.reshape(-1, D)  # (N, D)
        k = kernels.load("normalization")
        if k is not None and _layer_norm_fits(x2, weight, bias):
            w, b = np.ascontiguousarray(weight.reshape(-1)), np.ascontiguousarray(bias.reshape(-1))
            y, mean, rstd = k.forward(x2, w, b, eps)
            ctx.save(x2, mean, rstd, weight, k)  # backward runs the kernels too: float64 stats
            return y.reshape(x.shape)
        ones = np.ones(D, dtype=x.dtype)
        mean = (x2 @ ones) / D  # (N,)
        x_hat = x2 - mean[:, None]  # centred
        var = np.einsum("nd,nd->n", x_hat, x_hat) / D  # (N,)
        rstd = 1.0 / np.sqrt(var + eps)
        x_hat *= rstd[:, None]
        ctx.save(x2, mean, rstd, weight, None)  # not x_hat: x is alive anyway, as in PyTorch
        x_hat *= weight.reshape(-1)
        x_hat += bias.reshape(-1)
        return x_hat.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x2, mean, rstd, weight, k = ctx.saved
        w = weight.reshape(-1)
        N, D = x2.shape
        if k is not None:  # the forward ran the kernel; load again for this thread's count
            k = kernels.load("normalization") or k
            g2 = np.ascontiguousarray(grad.reshape(N, D), dtype=x2.dtype)
            grad_x, grad_w, grad_b = k.backward(x2, mean, rstd, np.ascontiguousarray(w), g2)
            return (
                grad_x.reshape(grad.shape) if ctx.needs_grad[0] else None,
                grad_w.reshape(weight.shape) if ctx.needs_grad[1] else None,
                grad_b.reshape(weight.shape) if ctx.needs_grad[2] else None,
            )
        # grad_x = rstd (g w - mean(g w) - x_hat mean(g w x_hat)): every sum over rows or
        # columns is a GEMV on g or on g * x_hat, so only three full-size passes remain
        x_hat = x2 - mean[:, None]
        x_hat *= rstd[:, None]
        g2 = grad.reshape(N, D)
        gx = g2 * x_hat  # (N, D)
        col_ones = np.ones(N, dtype=g2.dtype)
        grad_w = (col_ones @ gx).reshape(weight.shape) if ctx.needs_grad[1] else None
        grad_b = (col_ones @ g2).reshape(weight.shape) if ctx.needs_grad[2] else None
        grad_x = None
        if ctx.needs_grad[0]:
            mean_g = (g2 @ w) / D  # (N,)
            mean_gx = (gx @ w) / D  # (N,)
            x_hat *= mean_gx[:, None]
            x_hat += mean_g[:, None]
            grad_x = np.multiply(g2, w, out=gx)  # gx is not needed after this: reuse it
            grad_x -= x_hat
            grad_x *= rstd[:, None]
            grad_x = grad_x.reshape(grad.shape)
        return grad_x, grad_w, grad_b


def _layer_norm_fits(x2: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> bool:
    """Whether the LayerNorm kernels take ``x2`` (N, D): C-contiguous float32 or float64, D > 0,
    with ``weight`` and ``bias`` of the same dtype (else NumPy's promotion rules apply)."""
    return (
        x2.dtype in (np.float32, np.float64)
        and weight.dtype == x2.dtype
        and bias.dtype == x2.dtype
        and x2.shape[1] > 0
        and x2.flags.c_contiguous
    )


def _check_norm_shape(x: Tensor, weight: Tensor) -> int:
    n_axes = weight.ndim
    if x.shape[x.ndim - n_axes :] != weight.shape:
        raise ValueError(
            f"layer_norm: input of shape {x.shape} does not end with the normalised shape "
            f"{weight.shape}."
        )
    return n_axes


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing axes that ``weight`` spans.

    Parameters
    ----------
    x : Tensor of shape (..., *normalized_shape)
    weight, bias : Tensor of shape normalized_shape
    eps : float, default=1e-5
        Added to the variance, so a constant input gives zeros rather than NaN.

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> x = theta.tensor([[1.0, 2.0, 3.0]])
    >>> F.layer_norm(x, theta.ones(3), theta.zeros(3)).round(4)
    tensor([[-1.2247,  0.    ,  1.2247]])
    """
    if not isinstance(x, Tensor):
        x = tensor(x)
    n_axes = _check_norm_shape(x, weight)
    return LayerNorm.apply(x, weight, bias, n_axes=n_axes, eps=float(eps))


def layer_norm_composed(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """``layer_norm`` from primitives; the oracle for the fused form.

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> x = theta.tensor([[1.0, 2.0, 3.0]])
    >>> F.layer_norm_composed(x, theta.ones(3), theta.zeros(3)).round(4)
    tensor([[-1.2247,  0.    ,  1.2247]])
    """
    axes = tuple(range(-_check_norm_shape(x, weight), 0))
    centred = x - x.mean(axis=axes, keepdims=True)
    var = (centred * centred).mean(axis=axes, keepdims=True)
    return centred / (var + eps).sqrt() * weight + bias


def dropout(
    x: Tensor, p: float, *, rng: np.random.Generator | int | None, training: bool = True
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Identity when not ``training`` or ``p == 0``, so inference needs no rescaling.

    Parameters
    ----------
    x : Tensor of any shape
    p : float in [0, 1)
    rng : int or numpy.random.Generator or None
        Where the mask comes from.
    training : bool, default True

    Returns
    -------
    Tensor of ``x``'s shape

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> F.dropout(theta.ones(2, 4), 0.5, rng=0)
    tensor([[2., 0., 0., 0.],
            [2., 2., 2., 2.]])
    >>> F.dropout(theta.ones(2, 4), 0.5, rng=0, training=False).tolist()
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1) (got {p}).")
    if not training or p == 0.0:
        return x
    keep = check_random_state(rng).random(x.shape) >= p
    return x * tensor(keep * (1.0 / (1.0 - p)), dtype=x.dtype)


class Embedding(Function):
    """Rows of ``weight`` picked by integer ``indices``; backward adds each gradient row into
    the row it came from, as one stable sort and a segment sum (``np.add.reduceat``), several
    times faster than ``np.add.at``'s element-by-element scatter."""

    @staticmethod
    def forward(ctx: Context, weight: np.ndarray, *, indices: np.ndarray) -> np.ndarray:
        return weight[indices]

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        shape = ctx.parents[0].data.shape
        out = np.zeros(shape, dtype=grad.dtype)
        idx = ctx.kwargs["indices"].reshape(-1)
        if idx.size:
            order = np.argsort(idx, kind="stable")
            rows = idx[order]
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # each id's first
            g2 = grad.reshape(idx.size, -1)[order]  # (N, D), grouped by id
            out.reshape(shape[0], -1)[rows[starts]] = np.add.reduceat(g2, starts, axis=0)
        return (out,)


def embedding(indices: np.ndarray | Tensor, weight: Tensor) -> Tensor:
    """Rows of ``weight`` picked by integer ``indices`` (any shape); gradients scatter-add.

    Parameters
    ----------
    indices : int array or Tensor of any shape (...)
        Row numbers in ``[0, n_embeddings)``.
    weight : Tensor of shape (n_embeddings, embedding_dim)

    Returns
    -------
    Tensor of shape (..., embedding_dim)

    Examples
    --------
    >>> import theta
    >>> import theta.nn.functional as F
    >>> weight = theta.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])  # (n_tokens, C)
    >>> F.embedding(theta.tensor([[2, 0], [1, 1]]), weight).shape
    (2, 2, 2)
    >>> F.embedding(theta.tensor([2, 0]), weight)
    tensor([[2., 2.],
            [0., 0.]])
    """
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers (got dtype {idx.dtype}).")
    if idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
        raise ValueError(
            f"embedding: indices must be in [0, {weight.shape[0]}) (got values from "
            f"{idx.min()} to {idx.max()})."
        )
    return Embedding.apply(weight, indices=idx)
