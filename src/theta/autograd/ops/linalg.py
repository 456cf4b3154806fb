"""Matrix products: ``matmul`` for 1-D, 2-D and batched operands, as ``np.matmul``."""

from __future__ import annotations

from typing import Any

import numpy as np

from theta.autograd._tensor import Tensor, as_tensor
from theta.autograd.function import Context, Function

__all__ = ["matmul"]

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
                grad_b = a2.reshape(-1, a2.shape[-1]).T @ g.reshape(-1, g.shape[-1])
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
