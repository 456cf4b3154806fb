"""Products: ``matmul`` for 1-D, 2-D and batched operands, as ``np.matmul``, and ``einsum``."""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from theta.autograd._tensor import Tensor, as_tensor
from theta.autograd.function import Context, Function

__all__ = ["einsum", "matmul"]

Grads = tuple[np.ndarray | None, ...]


class MatMul(Function):
    """``a @ b`` with NumPy's rules: 1-D operands gain and lose an axis, batch axes broadcast.

    Backward is two products. When a batched ``a`` meets a 2-D ``b`` (a layer applied to
    ``(B, T, C)`` activations), the batch is folded into the rows so ``b``'s gradient is one
    large GEMM instead of B small ones plus a sum.
    """

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save(a, b)
        return a @ b

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        a, b = ctx.saved
        a2 = a[None, :] if a.ndim == 1 else a  # (…, n, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (…, k, m)
        g = grad
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]  # g is now (…, n, m)
        grad_a = grad_b = None
        if ctx.needs_grad[0]:
            grad_a = g @ np.swapaxes(b2, -1, -2)  # (…, n, k)
            if a.ndim == 1:
                grad_a = grad_a.reshape(grad_a.shape[:-2] + (grad_a.shape[-1],))
        if ctx.needs_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                rows = math.prod(a2.shape[:-1])  # not -1: a size-0 axis leaves it ambiguous
                grad_b = a2.reshape(rows, a2.shape[-1]).T @ g.reshape(rows, g.shape[-1])
            else:
                grad_b = np.swapaxes(a2, -1, -2) @ g  # (…, k, m)
            if b.ndim == 1:
                grad_b = grad_b[..., 0]
        return grad_a, grad_b


def _matmul_error(a: tuple[int, ...], b: tuple[int, ...]) -> ValueError:
    if not a or not b:
        return ValueError(
            f"matmul: both operands need at least 1 dimension, got shapes {a} and {b}."
        )
    k_a = a[-1]
    k_b = b[-2] if len(b) >= 2 else b[0]
    if k_a != k_b:
        return ValueError(
            f"matmul: cannot multiply shapes {a} and {b}; the last axis of the left operand "
            f"has size {k_a} but the contracted axis of the right operand has size {k_b}."
        )
    return ValueError(f"matmul: the batch axes of shapes {a} and {b} cannot be broadcast together.")


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product ``a @ b``.

    Parameters
    ----------
    a : Tensor of shape (..., n, k) or (k,)
    b : Tensor of shape (..., k, m) or (k,)

    Returns
    -------
    Tensor of shape (..., n, m), with the axes of 1-D operands dropped

    Raises
    ------
    ValueError
        If the contracted axes differ or the batch axes do not broadcast; names both shapes.

    Examples
    --------
    >>> import theta
    >>> theta.matmul(theta.tensor([[1.0, 2.0]]), theta.tensor([[3.0], [4.0]])).tolist()
    [[11.0]]
    """
    a = a if isinstance(a, Tensor) else as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = b if isinstance(b, Tensor) else as_tensor(b, like=a)
    try:
        return MatMul.apply(a, b)
    except ValueError:
        raise _matmul_error(a.shape, b.shape) from None


class Einsum(Function):
    """``np.einsum`` on explicit subscripts: one label string per operand and the output's.

    Each operand's gradient is itself an einsum: the output gradient contracted with the
    other operands onto the operand's labels. Three fix-ups follow: labels that only this
    operand has were summed out, so its gradient is constant along them (a broadcast);
    axes it broadcast (size 1 where others have more) sum back; and a repeated label
    (``ii``) puts the gradient on the diagonal, zero elsewhere.
    """

    @staticmethod
    def forward(ctx: Context, *operands: np.ndarray, inputs: tuple[str, ...], output: str):
        ctx.save(*operands)
        subscripts = ",".join(inputs) + "->" + output
        return np.einsum(subscripts, *operands, optimize=_path(operands))

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        operands, inputs, output = ctx.saved, ctx.kwargs["inputs"], ctx.kwargs["output"]
        grads = []
        for i, (x, labels) in enumerate(zip(operands, inputs, strict=True)):
            if not ctx.needs_grad[i]:
                grads.append(None)
                continue
            others = [j for j in range(len(operands)) if j != i]
            named_elsewhere = set(output).union(*[inputs[j] for j in others])
            unique = "".join(dict.fromkeys(labels))
            own_size = dict(zip(labels, x.shape, strict=True))
            kept = "".join(c for c in unique if c in named_elsewhere)
            subscripts = ",".join([output] + [inputs[j] for j in others]) + "->" + kept
            arrays = [grad] + [operands[j] for j in others]
            g = np.einsum(subscripts, *arrays, optimize=_path(arrays))
            if len(kept) < len(unique):
                sizes = iter(g.shape)
                g = g.reshape([next(sizes) if c in kept else 1 for c in unique])
                g = np.broadcast_to(g, [own_size[c] if c not in kept else n
                                        for c, n in zip(unique, g.shape, strict=True)])  # fmt: skip
            stretched = tuple(k for k, c in enumerate(unique) if own_size[c] == 1 != g.shape[k])
            if stretched:
                g = g.sum(axis=stretched, keepdims=True)
            if len(unique) < len(labels):
                diagonal = np.zeros(x.shape, g.dtype)
                np.einsum(labels + "->" + unique, diagonal)[...] = g  # a writeable view
                g = diagonal
            grads.append(g)
        return tuple(grads)


def _path(arrays: Sequence[np.ndarray]) -> str | bool:
    """NumPy's greedy contraction order (pairwise, through BLAS) for three or more operands
    or a large one; its search costs ~20 us, more than small operands take without it."""
    return "greedy" if len(arrays) > 2 or max(a.size for a in arrays) > 4096 else False


def _explicit_subscripts(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list, str]:
    """Each operand's labels, with ``...`` spelled out in unused letters, and the output's
    (NumPy's implicit output when there is no ``->``: the ellipsis, then labels used once)."""
    spec = subscripts.replace(" ", "")
    terms, arrow, output = spec.partition("->")
    terms = terms.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s) but "
            f"{len(shapes)} were given."
        )
    if set(spec) - set(string.ascii_letters + ".,->") or "->" in output:
        raise ValueError(f"einsum: subscripts {subscripts!r} may hold only letters, ',', '->' "
                         "and '...'.")  # fmt: skip
    n_ellipsis = max([len(s) - len(t) + 3 for t, s in zip(terms, shapes, strict=True)
                      if "..." in t], default=0)  # fmt: skip
    spare = "".join(c for c in string.ascii_letters if c not in spec)
    ellipsis = spare[:n_ellipsis]
    inputs = []
    for i, (term, shape) in enumerate(zip(terms, shapes, strict=True)):
        n_named = len(term.replace("...", ""))
        if "..." in term and len(shape) >= n_named:
            term = term.replace("...", ellipsis[n_ellipsis - (len(shape) - n_named) :])
        if len(term) != len(shape) or not all(c in string.ascii_letters for c in term):
            raise ValueError(
                f"einsum: operand {i} has shape {shape} but its subscripts {terms[i]!r} name "
                f"{n_named} axes; they must name one label per axis (or use '...')."
            )
        inputs.append(term)
    labels = "".join(inputs)
    if arrow:
        output = output.replace("...", ellipsis)
        if set(output) - set(labels) or len(set(output)) != len(output):
            raise ValueError(
                f"einsum: output subscripts {output!r} must name distinct labels of the inputs "
                f"{','.join(inputs)!r}."
            )
        if set(ellipsis) - set(output):
            raise ValueError(f"einsum: subscripts {subscripts!r} need '...' in the output to "
                             "keep the axes that '...' stands for.")  # fmt: skip
    else:
        output = ellipsis + "".join(sorted(c for c in set(labels) - set(ellipsis)
                                           if labels.count(c) == 1))  # fmt: skip
    return inputs, output


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, as ``np.einsum``, differentiable in every operand.

    Any subscripts NumPy accepts: implicit (``"ij,jk"``) and explicit (``"ij,jk->ik"``)
    output, ``...`` for leading axes that broadcast, repeated labels for diagonals and traces
    (``"ii->i"``, ``"ii"``). Three or more operands, or large ones, are contracted pairwise
    in NumPy's greedy order. Only the string form is supported.

    Raises
    ------
    ValueError
        If the subscripts do not fit the operands' shapes; names both.

    Examples
    --------
    >>> import theta
    >>> a = theta.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> theta.einsum("ii", a).item(), theta.einsum("ij->j", a).tolist()
    (5.0, [4.0, 6.0])
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string (got {type(subscripts).__name__}).")
    like = next((x for x in operands if isinstance(x, Tensor) and x.dtype.kind == "f"), None)
    tensors = [as_tensor(x, like=like) for x in operands]
    inputs, output = _explicit_subscripts(subscripts, [t.shape for t in tensors])
    try:
        return Einsum.apply(*tensors, inputs=tuple(inputs), output=output)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ValueError(
            f"einsum: subscripts {subscripts!r} do not fit shapes {shapes}; a label's axes "
            "must have one size (or size 1, which broadcasts)."
        ) from None
