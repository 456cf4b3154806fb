"""Gradient clipping: bound the size of a step before the optimizer takes it.

Clipping replaces each ``p.grad`` with a clipped copy rather than scaling it in place,
because a gradient array may be shared with other arrays (the engine can hand the same
array to several tensors), and writing into it would silently change those too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real

import numpy as np

from theta.autograd import Tensor
from theta.optim.optimizer import POSITIVE, check_hyperparameter
from theta.validation import Interval

__all__ = ["clip_grad_norm", "clip_grad_value"]

_MAX_NORM = Interval(Real, 0, math.inf, closed="right")  # inf: measure the norm, do not clip


def _tensors(params: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [params] if isinstance(params, Tensor) else list(params)


def _array_norm(g: np.ndarray, norm_type: float) -> float:
    """The ``norm_type``-norm of ``g`` as a Python float, without overflowing on big values."""
    r = g.reshape(-1)
    if r.size == 0:
        return 0.0
    peak = max(float(r.max()), -float(r.min()))  # NaN if any element is NaN
    if norm_type == math.inf or not math.isfinite(peak) or peak == 0.0:
        return peak
    if norm_type == 2.0:
        n = math.sqrt(float(np.dot(r, r)))  # BLAS, no temporary array
    else:
        n = float(np.sum(np.abs(r) ** norm_type)) ** (1.0 / norm_type)
    if not math.isfinite(n):  # finite values whose powers overflow: rescale (rare)
        scaled = r.astype(np.float64) / peak
        n = peak * float(np.sum(np.abs(scaled) ** norm_type)) ** (1.0 / norm_type)
    return n


def clip_grad_norm(
    params: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0
) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if they were one vector (PyTorch's
    ``clip_grad_norm_``). When it exceeds ``max_norm``, every ``p.grad`` is replaced by a
    copy scaled by ``max_norm / (norm + 1e-6)``, which keeps the step's direction. When the
    norm is NaN or infinite, the gradients are left unchanged (scaling would only spread the
    NaN) and the norm is returned, so the caller (or the optimizer's non-finite guard) can
    skip the step.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        Tensors whose gradients are clipped; those without a gradient are ignored.
    max_norm : float
        The largest allowed norm, in ``(0, inf]``; ``inf`` only measures the norm.
    norm_type : float, default=2.0
        The ``p`` of the p-norm, in ``(0, inf]``; ``inf`` is the largest absolute value.

    Returns
    -------
    float
        The total norm before clipping.

    Examples
    --------
    >>> import numpy as np, theta
    >>> w = theta.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = np.array([3.0, 4.0], dtype=np.float32)
    >>> clip_grad_norm([w], max_norm=1.0)
    5.0
    >>> np.round(w.grad, 4)
    array([0.6, 0.8], dtype=float32)
    """
    max_norm = check_hyperparameter(max_norm, "max_norm", _MAX_NORM, "clip_grad_norm")
    norm_type = check_hyperparameter(norm_type, "norm_type", _MAX_NORM, "clip_grad_norm")
    tensors = [p for p in _tensors(params) if p.grad is not None]
    with np.errstate(over="ignore", invalid="ignore"):
        norms = [_array_norm(p.grad, norm_type) for p in tensors]
    if not norms:
        return 0.0
    largest = max(norms)  # NaN-aware below: max() may skip a NaN depending on its position
    if any(math.isnan(n) for n in norms):
        return math.nan
    if norm_type == math.inf or not math.isfinite(largest) or largest == 0.0:
        total = largest
    elif norm_type == 2.0:
        total = math.hypot(*norms)
    else:  # factor out the largest norm so the powers cannot overflow
        total = largest * sum((n / largest) ** norm_type for n in norms) ** (1.0 / norm_type)
    if not math.isfinite(total):
        return total
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in tensors:
            p.grad = p.grad * coef  # a new array: p.grad may be shared, never scale in place
    return total


def clip_grad_value(params: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element into ``[-clip_value, clip_value]``.

    Each ``p.grad`` is replaced by a clipped copy (gradients may be shared). Unlike
    :func:`clip_grad_norm` this changes the step's direction.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        Tensors whose gradients are clipped; those without a gradient are ignored.
    clip_value : float
        The largest allowed absolute value, in ``(0, inf)``.

    Examples
    --------
    >>> import numpy as np, theta
    >>> w = theta.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = np.array([3.0, -0.5], dtype=np.float32)
    >>> clip_grad_value(w, 1.0)
    >>> w.grad
    array([ 1. , -0.5], dtype=float32)
    """
    clip_value = check_hyperparameter(clip_value, "clip_value", POSITIVE, "clip_grad_value")
    for p in _tensors(params):
        if p.grad is not None:
            p.grad = np.clip(p.grad, -clip_value, clip_value)
