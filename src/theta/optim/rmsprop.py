"""RMSprop: divide each step by a running root-mean-square of the gradient.

Follows PyTorch's ``torch.optim.RMSprop`` exactly (``eps`` added after the square root;
the momentum buffer accumulates the already-scaled step).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from theta.optim.optimizer import BOOL, NON_NEGATIVE, POSITIVE, UNIT, Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e): steps scaled by a running average of squared gradients.

    Per step, with ``g`` the gradient::

        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g * g
        a = alpha * a + (1 - alpha) * g                 (centered only)
        r = sqrt(s - a * a) if centered else sqrt(s),   then r = r + eps
        buf = momentum * buf + g / r;  p = p - lr * buf (momentum > 0)
        p = p - lr * g / r                              (otherwise)

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Tensors to train, or parameter groups (see :class:`Optimizer`).
    lr : float, default=1e-2
        Learning rate, in ``(0, inf)``.
    alpha : float, default=0.99
        Decay rate of the averages, in ``[0, 1)``.
    eps : float, default=1e-8
        Added to the root mean square so it cannot be zero; ``[0, inf)``.
    weight_decay : float, default=0
        L2 penalty added to the gradient, in ``[0, inf)``.
    momentum : float, default=0
        Momentum factor, in ``[0, inf)``.
    centered : bool, default=False
        Normalise by an estimate of the gradient's variance instead of its second moment.
    skip_nonfinite : bool, default=True
        Skip a step whose gradients contain NaN or infinity (see :class:`Optimizer`).

    Examples
    --------
    >>> import numpy as np, theta
    >>> w = theta.tensor([1.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01, alpha=0.75)
    >>> w.grad = np.array([3.0], dtype=np.float32)
    >>> _ = opt.step()  # s = 0.25 * 9, so the step is lr * 3 / 1.5
    >>> np.round(w.data, 4)
    array([0.98], dtype=float32)
    """

    _ranges = {
        "lr": POSITIVE,
        "alpha": UNIT,
        "eps": NON_NEGATIVE,
        "weight_decay": NON_NEGATIVE,
        "momentum": NON_NEGATIVE,
        "centered": BOOL,
    }
    _state_keys = frozenset({"square_avg", "grad_avg", "momentum_buffer"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        *,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        skip_nonfinite: bool = True,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults, skip_nonfinite=skip_nonfinite)

    def _init_state(self, p: np.ndarray, group: dict[str, Any]) -> dict[str, np.ndarray]:
        state = {"square_avg": np.zeros_like(p)}
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(p)
        return state

    def _update(
        self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, alpha, wd = group["lr"], group["alpha"], group["weight_decay"]
        momentum = group["momentum"]
        d, t = self._scratch(p.shape, p.dtype, 2)
        if wd != 0:
            np.multiply(p, wd, out=d)
            d += g
        else:
            d = g  # read only from here on
        s = state["square_avg"]
        s *= alpha
        np.multiply(d, 1.0 - alpha, out=t)
        t *= d
        s += t
        if group["centered"]:
            a = self._state_array(state, "grad_avg", p)
            np.subtract(d, a, out=t)  # a += (1 - alpha) * (d - a), PyTorch's lerp
            t *= 1.0 - alpha
            a += t
            np.multiply(a, a, out=t)
            np.subtract(s, t, out=t)
            # s >= a * a in exact arithmetic, but rounding can dip below 0 after many steps
            # of a near-constant gradient; PyTorch would return NaN there
            np.maximum(t, 0.0, out=t)
            np.sqrt(t, out=t)
        else:
            np.sqrt(s, out=t)
        t += group["eps"]
        np.divide(d, t, out=t)
        if momentum > 0:
            buf = self._state_array(state, "momentum_buffer", p)
            buf *= momentum
            buf += t
            np.multiply(buf, lr, out=t)
        else:
            t *= lr
        p -= t
