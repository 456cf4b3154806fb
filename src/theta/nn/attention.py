"""Attention: every position looks at every other and takes a weighted mix of their values.

Dimensions: B batch, T query length, S key length, C embedding size (n_embd), nh heads,
hs head size (C // nh).

``scaled_dot_product_attention`` is a fused primitive: composed from matmul, scale, masked
fill, softmax, dropout and matmul it would make six graph nodes, keep four (B, nh, T, S)
arrays alive and walk them again in backward; fused, it keeps one. The composed form,
``attention_composed``, stays as its test oracle.

Masks come in two kinds, as in PyTorch. A bool mask is True where a query may NOT look at a
key: the convention of ``torch.nn.MultiheadAttention``'s ``attn_mask`` and
``key_padding_mask``, and the inverse of ``F.scaled_dot_product_attention``'s bool
``attn_mask`` (port that one as ``~attn_mask``). A float mask is added to the scaled scores
(``-inf`` forbids, as with both of PyTorch's), e.g. ALiBi's distance penalties; it is a
constant and gets no gradient. A query whose keys are all forbidden gets zero weights, so a
zero output and zero gradients, as PyTorch 2's ``scaled_dot_product_attention`` gives (its
``MultiheadAttention`` fast path gives NaN instead); NaN would spread through backward into
every weight even where the loss ignores that query.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from theta import kernels
from theta.autograd import (
    Context,
    Function,
    Tensor,
    no_grad,
    softmax,
    tensor,
    where,
)
from theta.nn import functional as F
from theta.nn.layers import Dropout, LayerNorm, Linear
from theta.nn.module import Module
from theta.rng import check_random_state
from theta.validation import broadcasts_to

__all__ = [
    "MultiHeadAttention", "TransformerBlock", "attention_composed", "attention_mask",
    "scaled_dot_product_attention", "sinusoidal_positions",
]  # fmt: skip

Grads = tuple[np.ndarray | None, ...]


def attention_mask(T: int, S: int | None = None, *, causal: bool = False,
                   key_padding: np.ndarray | None = None) -> np.ndarray | None:  # fmt: skip
    """Boolean mask, True where a query may NOT look: future keys and padded keys.

    Parameters
    ----------
    T, S : int
        Query and key lengths (``S`` defaults to ``T``).
    causal : bool
        Hide keys after the query's own position (a language model must not see ahead).
    key_padding : ndarray of shape (B, S), optional
        True at padding positions, which no query may attend to.

    Returns
    -------
    ndarray of shape (T, S) or (B, 1, T, S), or None when nothing is masked

    Examples
    --------
    >>> import theta
    >>> theta.nn.attention_mask(3, causal=True)
    array([[False,  True,  True],
           [False, False,  True],
           [False, False, False]])
    """
    S = T if S is None else S
    mask = np.triu(np.ones((T, S), dtype=bool), k=1 + S - T) if causal else None
    if key_padding is not None:
        pad = np.asarray(key_padding, dtype=bool)[:, None, None, :]  # (B, 1, 1, S)
        mask = pad if mask is None else (mask | pad)
    return mask


def _key_major(mask: np.ndarray, dtype: Any, size: int) -> np.ndarray:
    """A mask broadcastable to (.., T, S) made key-major, (.., S, T): additive (0 or -inf, of
    ``dtype``) unless it is a bool mask as large as the ``size``-element scores, which a
    masked copy applies (as a view) without a float twin."""
    if mask.ndim < 2:
        mask = mask.reshape((1,) * (2 - mask.ndim) + mask.shape)
    small = mask.size * 8 <= size
    if mask.dtype == bool and not small:
        return mask.swapaxes(-1, -2)
    if mask.dtype == bool:
        mask = np.where(mask, -np.inf, 0.0)
    mask_t = mask.astype(dtype, copy=False).swapaxes(-1, -2)
    # a small mask is copied contiguous: NumPy broadcasts a transposed operand at half speed
    return np.ascontiguousarray(mask_t) if small else mask_t


def _softmax_kernels(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                     keep: np.ndarray | None) -> ModuleType | None:  # fmt: skip
    """The compiled masked softmax (``theta.kernels``) when it takes this call: float32
    (B, nh, ·, hs) arrays without dropout; else None, and NumPy does it."""
    if keep is not None or q.ndim != 4 or k.ndim != 4:
        return None
    if q.dtype != np.float32 or k.dtype != np.float32 or v.dtype != np.float32:
        return None
    return kernels.load("softmax")


_NO_MASK = np.empty(0, np.float32)


def _kernel_mask(mask: np.ndarray | None, shape: tuple[int, ...]
                 ) -> tuple[bool, np.ndarray, tuple[int, ...]]:  # fmt: skip
    """``mask`` as the softmax kernel takes it: whether it is exactly causal (then applied by
    position, nothing read), else additive float32 values, flat, with their element strides
    over the scores' ``shape`` (B, nh, T, S)."""
    if mask is None:
        return False, _NO_MASK, (0, 0, 0, 0)
    T, S = shape[-2:]
    if mask.dtype == bool and mask.shape == (T, S) and np.array_equal(
        mask, attention_mask(T, S, causal=True)
    ):
        return True, _NO_MASK, (0, 0, 0, 0)
    if mask.dtype == bool:
        add = np.where(mask, np.float32(-np.inf), np.float32(0.0))
    else:
        add = np.ascontiguousarray(mask, dtype=np.float32)
    strides = np.broadcast_to(add, shape).strides
    return False, add.reshape(-1), tuple(s // add.itemsize for s in strides)


def _attend_compiled(soft: ModuleType, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                     mask: np.ndarray | None, scale: float
                     ) -> tuple[np.ndarray, tuple[Any, ...]]:  # fmt: skip
    """``_attend`` with the masked softmax compiled: one pass from the (B, nh, T, S) scores
    to the weights, in place, on every thread."""
    w = np.matmul(q, k.swapaxes(-1, -2))  # (B, nh, T, S) scores, then weights
    B, nh, T, S = w.shape
    causal, add, strides = _kernel_mask(mask, w.shape)
    soft.softmax_rows(w.reshape(-1, S), nh, T, scale, causal, add, strides)
    out = w @ v  # (B, nh, T, hs)
    return out, (q, k, v, w, soft, out, None, scale)


def _attend(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None,
    scale: float,
    keep: np.ndarray | None,
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Forward on arrays; returns the output and what ``_attend_backward`` needs after ``grad``.

    Float32 without dropout goes to the compiled softmax when ``theta.kernels`` has it
    (``_attend_compiled``: the saved ``e`` is then the weights, (B, nh, T, S), and
    ``inv_total`` the kernels' module). On NumPy, the scores are made key-major,
    (B, nh, S, T), so the softmax's max and sum run across rows (NumPy reduces a short last
    axis several times slower). The scale is applied to q (hs columns) rather than the scores
    (S columns), and the division by the softmax's sums to the output (hs columns again): one
    (B, nh, S, T) array is made, the exponentials ``e``, plus the dropped copy when ``keep``
    is given.
    """
    soft = _softmax_kernels(q, k, v, keep)
    if soft is not None:
        return _attend_compiled(soft, q, k, v, mask, scale)
    qs = q * float(scale)  # (B, nh, T, hs); a Python float keeps q's dtype
    e = k @ qs.swapaxes(-1, -2)  # (B, nh, S, T), scores
    if mask is not None:
        mask_t = _key_major(mask, e.dtype, e.size)
        if mask_t.dtype == bool:
            np.copyto(e, -np.inf, where=mask_t)
        else:
            e += mask_t  # -inf entries forbid
    peak = e.max(axis=-2, keepdims=True)  # (B, nh, 1, T)
    peak[~np.isfinite(peak)] = 0.0  # a query with every key masked gets zero weights
    e -= peak
    np.exp(e, out=e)
    total = np.ones(e.shape[-2], e.dtype) @ e  # (B, nh, T), sums over keys
    total[total == 0] = 1.0
    inv_total = np.reciprocal(total, out=total)
    mixed = e if keep is None else e * keep.swapaxes(-1, -2)
    out = mixed.swapaxes(-1, -2) @ v  # (B, nh, T, hs)
    out *= inv_total[..., None]
    return out, (q, k, v, e, inv_total, out, keep, scale)


def _weights(e: np.ndarray, inv_total: np.ndarray | ModuleType) -> np.ndarray:
    """The softmax weights (B, nh, T, S) from ``_attend``'s exponentials and inverse sums."""
    if isinstance(inv_total, ModuleType):  # the compiled path saved the weights themselves
        return e
    return np.ascontiguousarray((e * inv_total[..., None, :]).swapaxes(-1, -2))


def _attend_backward(
    grad: np.ndarray,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    e: np.ndarray,
    inv_total: np.ndarray | ModuleType,
    out: np.ndarray,
    keep: np.ndarray | None,
    scale: float,
    into: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward on arrays: gradients of q, k and v from the output's gradient (written into
    ``into``'s three (B, nh, ·, hs) views when given)."""
    grad_q, grad_k, grad_v = into if into is not None else (None, None, None)
    if isinstance(inv_total, ModuleType):  # ``_attend_compiled``'s: e holds the weights
        d = np.matmul(grad, v.swapaxes(-1, -2))  # (B, nh, T, S), d loss / d weights
        dot = np.einsum("...i,...i->...", grad, out)  # (B, nh, T), sum(d * w) over keys
        S = d.shape[-1]
        inv_total.softmax_rows_backward(d.reshape(-1, S), e.reshape(-1, S), dot.reshape(-1),
                                        scale)  # fmt: skip
        grad_v = np.matmul(e.swapaxes(-1, -2), grad, out=grad_v)
        grad_q = np.matmul(d, k, out=grad_q)
        grad_k = np.matmul(d.swapaxes(-1, -2), q, out=grad_k)
        return grad_q, grad_k, grad_v
    g = grad * inv_total[..., None]  # (B, nh, T, hs): the softmax's division, folded in
    keep_t = None if keep is None else keep.swapaxes(-1, -2)
    mixed = e if keep is None else e * keep_t
    grad_v = np.matmul(mixed, g, out=grad_v)  # (B, nh, S, hs)
    d = v @ g.swapaxes(-1, -2)  # (B, nh, S, T), d loss / d mixed, divided by the sums
    if keep_t is not None:
        d *= keep_t
    # softmax backward, w * (d - sum(d * w)); that sum over keys equals sum(grad * out) over hs
    # (FlashAttention's identity), a pass over (B, nh, T, hs) instead of (B, nh, S, T)
    d -= np.einsum("...i,...i->...", g, out)[..., None, :]
    d *= e  # d loss / d scores, key-major
    grad_q = np.matmul(d.swapaxes(-1, -2), k, out=grad_q)
    grad_q *= scale
    grad_k = np.matmul(d, q, out=grad_k)
    grad_k *= scale
    return grad_q, grad_k, grad_v


class ScaledDotProductAttention(Function):
    """``softmax(q @ k.T * scale, masked) @ v`` for separate q, k, v of shape (B, nh, ·, hs)."""

    @staticmethod
    def forward(
        ctx: Context,
        q: np.ndarray,
        k: np.ndarray,
        v: np.ndarray,
        *,
        mask: np.ndarray | None,
        scale: float,
        keep: np.ndarray | None,
    ) -> np.ndarray:
        out, saved = _attend(q, k, v, mask, scale, keep)
        ctx.save(*saved)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return _attend_backward(grad, *ctx.saved)


def _causal_half(mask: np.ndarray | None, T: int, S: int) -> int:
    """Where to cut the queries in two when the first half may see only the first half of
    the keys, as under a causal mask (0: do not cut; short sequences gain nothing)."""
    if mask is None or mask.dtype != bool or mask.ndim != 2 or T != S or T < 32:
        return 0
    h = T // 2
    return h if mask[:h, h:].all() else 0


class PackedSelfAttention(Function):
    """Self-attention straight from the packed projection (B, T, 3C) to (B, T, C).

    Splitting q, k, v and moving heads happen here as views, so they add no graph nodes,
    and the backward's products write the three gradients straight into one packed array.
    Under a causal mask the queries go in two halves, the first against the first half of
    the keys only: the masked quarter of the scores is never computed.
    """

    @staticmethod
    def forward(
        ctx: Context,
        qkv: np.ndarray,
        *,
        n_heads: int,
        mask: np.ndarray | None,
        scale: float,
        keep: np.ndarray | None,
    ) -> np.ndarray:
        B, T, C3 = qkv.shape
        hs = C3 // (3 * n_heads)
        heads = qkv.reshape(B, T, 3, n_heads, hs).transpose(2, 0, 3, 1, 4)
        q, k, v = heads[0], heads[1], heads[2]  # each (B, nh, T, hs), views
        y = np.empty((B, T, C3 // 3), dtype=np.result_type(qkv, np.float32))  # (B, T, C)
        y_heads = y.reshape(B, T, n_heads, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs) view
        h = _causal_half(mask, T, T)
        if h:
            parts = [(slice(0, h), slice(0, h)), (slice(h, T), slice(0, T))]
        else:
            parts = [(slice(0, T), slice(0, T))]
        saved: list[Any] = []
        for rows, keys in parts:
            part_mask = None if mask is None else mask[..., rows, keys]
            part_keep = None if keep is None else keep[..., rows, keys]
            out, part = _attend(q[..., rows, :], k[..., keys, :], v[..., keys, :], part_mask,
                                scale, part_keep)  # fmt: skip
            y_heads[..., rows, :] = out
            # save ``out`` as a view of y (kept anyway by the next op), not as its own copy
            saved += [*part[:5], y_heads[..., rows, :], *part[6:]]
        ctx.save(*saved)
        return y

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        B, nh, _, hs = ctx.saved[0].shape
        T = grad.shape[1]
        g = grad.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        packed = np.empty((B, T, 3, nh, hs), dtype=grad.dtype)
        gq, gk, gv = packed.transpose(2, 0, 3, 1, 4)  # each (B, nh, T, hs), views
        saved = ctx.saved
        if len(saved) == 8:
            _attend_backward(g, *saved, into=(gq, gk, gv))
        else:  # the causal halves: the second sees every key, the first adds to the first keys
            h = saved[0].shape[2]
            _attend_backward(g[..., h:, :], *saved[8:], into=(gq[..., h:, :], gk, gv))
            _, gk0, gv0 = _attend_backward(g[..., :h, :], *saved[:8],
                                           into=(gq[..., :h, :], None, None))  # fmt: skip
            gk[..., :h, :] += gk0
            gv[..., :h, :] += gv0
        return (packed.reshape(B, T, 3 * nh * hs),)


def _dropout_keep(shape: tuple[int, ...], p: float, rng: Any, dtype: Any) -> np.ndarray:
    draw = check_random_state(rng).random(shape)
    return ((draw >= p) * (1.0 / (1.0 - p))).astype(dtype)


def _check_mask(where: str, name: str, mask: Any, scores: tuple[int, ...]) -> np.ndarray | None:
    """``mask`` as a bool or float array that broadcasts to the ``scores`` shape (.., T, S)."""
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        if mask.requires_grad:
            raise ValueError(
                f"{where}: {name} is a constant and gets no gradient; pass {name}.detach() "
                "(a learned bias belongs on the scores of attention_composed)."
            )
        mask = mask.data
    mask = np.asarray(mask)
    if mask.dtype != bool and mask.dtype.kind != "f":
        raise TypeError(
            f"{where}: {name} must be bool (True where a query may not attend) or floating "
            f"(added to the scores) (got dtype {mask.dtype})."
        )
    if not broadcasts_to(mask.shape, scores):
        raise ValueError(
            f"{where}: {name} of shape {mask.shape} does not broadcast to the scores' shape "
            f"(B, nh, T, S) = {scores}."
        )
    return mask


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, *, mask: Any = None, dropout: float = 0.0,
    rng: np.random.Generator | None = None, training: bool = True,
) -> Tensor:  # fmt: skip
    """Attention of queries ``q`` over keys ``k`` and values ``v``.

    Parameters
    ----------
    q : Tensor of shape (B, nh, T, hs)
    k, v : Tensor of shape (B, nh, S, hs)
    mask : ndarray broadcastable to (B, nh, T, S), optional
        Bool: True where attention is forbidden (see :func:`attention_mask`; the inverse of
        PyTorch's ``scaled_dot_product_attention``, which takes True as allowed). Float:
        added to the scaled scores, ``-inf`` forbids (as PyTorch's float ``attn_mask``).
    dropout : float
        Probability of dropping each attention weight while training.

    Returns
    -------
    Tensor of shape (B, nh, T, hs)

    Raises
    ------
    ValueError
        If q, k and v do not fit together or the mask does not broadcast to the scores.
    TypeError
        If the mask is neither bool nor floating.

    Examples
    --------
    >>> import theta
    >>> q = k = v = theta.randn(2, 4, 5, 8, rng=0)  # (B, nh, T, hs)
    >>> mask = theta.nn.attention_mask(5, causal=True)
    >>> theta.nn.scaled_dot_product_attention(q, k, v, mask=mask).shape
    (2, 4, 5, 8)
    """
    if q.shape[-1] != k.shape[-1] or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(
            f"attention: query {q.shape}, key {k.shape} and value {v.shape} do not fit; "
            "q and k need the same head size and k and v the same length."
        )
    shape = (*np.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])
    mask = _check_mask("scaled_dot_product_attention", "mask", mask, shape)
    keep = None
    if dropout > 0.0 and training:
        keep = _dropout_keep(shape, dropout, rng, q.dtype)
    scale = 1.0 / math.sqrt(q.shape[-1])
    return ScaledDotProductAttention.apply(q, k, v, mask=mask, scale=scale, keep=keep)


def attention_composed(q: Tensor, k: Tensor, v: Tensor, *, mask: Any = None
                       ) -> Tensor:  # fmt: skip
    """:func:`scaled_dot_product_attention` from primitives (no dropout); the test oracle.

    A float ``mask`` may be a tensor that requires a gradient (a learned bias)."""
    scores = (q @ k.swapaxes(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is not None and np.asarray(getattr(mask, "data", mask)).dtype != bool:
        scores = scores + mask
    elif mask is not None:
        scores = where(~np.broadcast_to(mask, scores.shape), scores, -1e30)
    return softmax(scores, axis=-1) @ v


def sinusoidal_positions(n_positions: int, n_embd: int, *, dtype: Any = None) -> np.ndarray:
    """The fixed sin/cos position codes of "Attention Is All You Need", shape (T, C).

    Examples
    --------
    >>> import theta
    >>> pe = theta.nn.sinusoidal_positions(4, 6)
    >>> pe.shape
    (4, 6)
    >>> pe[1].round(4)
    array([0.8415, 0.5403, 0.0464, 0.9989, 0.0022, 1.    ], dtype=float32)
    """
    position = np.arange(n_positions)[:, None]
    rate = np.exp(-math.log(10000.0) * np.arange(0, n_embd, 2) / n_embd)
    table = np.zeros((n_positions, n_embd))
    table[:, 0::2] = np.sin(position * rate)
    table[:, 1::2] = np.cos(position * rate[: n_embd // 2])
    return table.astype(dtype or np.float32)


class MultiHeadAttention(Module):
    """Multi-head self-attention with one fused query/key/value projection.

    Parameters are ``torch.nn.MultiheadAttention``'s (self-attention, ``batch_first=True``):
    ``in_proj_weight`` (3C, C) stacks the query, key and value projections, ``in_proj_bias``
    (3C,), and ``out_proj`` is a Linear (C, C), so state dicts move between the two in either
    direction. Beyond PyTorch's, dropout (if any) is also applied to the output.

    Parameters
    ----------
    n_embd : int
        Embedding size C; must be divisible by ``n_heads``.
    n_heads : int
        Number of heads nh, each of size C // nh.
    causal : bool, default=False
        Each position attends only to itself and earlier ones (language models).
    dropout : float, default=0.0
        Dropout on the attention weights and on the output.
    bias : bool, default=True
    rng : int or Generator, optional

    Notes
    -----
    ``forward(x, key_padding=None, attn_mask=None)`` takes PyTorch's masks:
    ``key_padding`` (B, T) is True at padding keys, and ``attn_mask`` of shape (T, T),
    (B * nh, T, T) or broadcastable to (B, nh, T, T) is, if bool, True where a query may NOT
    attend (``nn.MultiheadAttention``'s convention) and, if float, added to the scores. All
    given masks and ``causal`` combine.

    Examples
    --------
    >>> import numpy as np, theta
    >>> attn = MultiHeadAttention(8, 2, causal=True, rng=0)
    >>> attn(theta.tensor(np.ones((1, 5, 8), dtype=np.float32))).shape
    (1, 5, 8)
    """

    def __init__(self, n_embd: int, n_heads: int, *, causal: bool = False, dropout: float = 0.0,
                 bias: bool = True, rng: Any = None, dtype: Any = None) -> None:  # fmt: skip
        if n_embd % n_heads != 0:
            raise ValueError(
                f"MultiHeadAttention: n_embd ({n_embd}) must be divisible by n_heads ({n_heads})."
            )
        rng = check_random_state(rng)
        self.n_heads, self.causal, self.dropout = n_heads, causal, dropout
        packed = Linear(n_embd, 3 * n_embd, bias=bias, rng=rng, dtype=dtype)  # q, k, v stacked
        self.in_proj_weight, self.in_proj_bias = packed.weight, packed.bias
        self.out_proj = Linear(n_embd, n_embd, bias=bias, rng=rng, dtype=dtype)
        self.resid_dropout = Dropout(dropout, rng=rng)
        self.rng = rng

    def _mask(self, B: int, T: int, key_padding: Any, attn_mask: Any) -> np.ndarray | None:
        """The one mask ``_attend`` applies: causal, padding and ``attn_mask`` combined."""
        mask = attention_mask(T, causal=self.causal, key_padding=key_padding)
        if attn_mask is None:
            return mask
        nh = self.n_heads
        extra = np.asarray(getattr(attn_mask, "data", attn_mask))
        if extra.ndim == 3 and extra.shape == (B * nh, T, T):  # PyTorch's per-head layout
            attn_mask = extra.reshape(B, nh, T, T)
        extra = _check_mask("MultiHeadAttention", "attn_mask", attn_mask, (B, nh, T, T))
        if mask is None:
            return extra
        if extra.dtype == bool:
            return mask | extra
        return np.where(mask, -np.inf, extra).astype(extra.dtype, copy=False)

    def forward(self, x: Tensor, key_padding: np.ndarray | None = None,
                attn_mask: Any = None) -> Tensor:  # fmt: skip
        x = x if isinstance(x, Tensor) else tensor(x)
        B, T, C = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3C)
        mask = self._mask(B, T, key_padding, attn_mask)
        keep = None
        if self.dropout > 0.0 and self.training:
            keep = _dropout_keep((B, self.n_heads, T, T), self.dropout, self.rng, x.dtype)
        y = PackedSelfAttention.apply(
            qkv,
            n_heads=self.n_heads,
            mask=mask,
            scale=1.0 / math.sqrt(C // self.n_heads),
            keep=keep,
        )
        return self.resid_dropout(self.out_proj(y))  # (B, T, C)

    def attention_weights(self, x: Any, key_padding: np.ndarray | None = None,
                          attn_mask: Any = None) -> np.ndarray:  # fmt: skip
        """The weights ``forward`` mixes the values with, for input ``x`` of shape (B, T, C).

        Row ``t`` of head ``h`` is how much position ``t`` takes from each position: shape
        (B, nh, T, T), rows summing to 1. Computed outside any graph, without dropout (for
        pictures such as ``theta.plot.attention_map``).
        """
        x = x if isinstance(x, Tensor) else tensor(x)
        B, T, C = x.shape
        with no_grad():
            qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias).numpy()  # (B, T, 3C)
        heads = qkv.reshape(B, T, 3, self.n_heads, C // self.n_heads).transpose(2, 0, 3, 1, 4)
        mask = self._mask(B, T, key_padding, attn_mask)
        scale = 1.0 / math.sqrt(C // self.n_heads)
        _, saved = _attend(heads[0], heads[1], heads[2], mask, scale, None)
        return _weights(saved[3], saved[4])  # (B, nh, T, T)


class TransformerBlock(Module):
    """A pre-norm transformer block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``.

    The MLP widens to ``4 * n_embd`` with GELU (tanh form, as GPT-2) between.

    Examples
    --------
    >>> import numpy as np, theta
    >>> block = TransformerBlock(8, 2, causal=True, rng=0)
    >>> block(theta.tensor(np.zeros((1, 3, 8), dtype=np.float32))).shape
    (1, 3, 8)
    """

    def __init__(self, n_embd: int, n_heads: int, *, causal: bool = False, dropout: float = 0.0,
                 bias: bool = True, rng: Any = None, dtype: Any = None) -> None:  # fmt: skip
        rng = check_random_state(rng)
        self.ln1 = LayerNorm(n_embd, dtype=dtype)
        self.attn = MultiHeadAttention(n_embd, n_heads, causal=causal, dropout=dropout,
                                       bias=bias, rng=rng, dtype=dtype)  # fmt: skip
        self.ln2 = LayerNorm(n_embd, dtype=dtype)
        self.fc = Linear(n_embd, 4 * n_embd, bias=bias, rng=rng, dtype=dtype)
        self.proj = Linear(4 * n_embd, n_embd, bias=bias, rng=rng, dtype=dtype)
        self.mlp_dropout = Dropout(dropout, rng=rng)

    def forward(self, x: Tensor, key_padding: np.ndarray | None = None,
                attn_mask: Any = None) -> Tensor:  # fmt: skip
        x = x + self.attn(self.ln1(x), key_padding, attn_mask)  # (B, T, C)
        fc = self.fc
        h = F.linear_gelu(self.ln2(x), fc.weight, fc.bias, approximate="tanh")  # (B, T, 4C)
        return x + self.mlp_dropout(self.proj(h))  # (B, T, C)
