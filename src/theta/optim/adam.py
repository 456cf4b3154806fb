"""Adam and AdamW: steps scaled per coordinate by running moments of the gradient.

Both follow PyTorch's ``torch.optim.Adam`` / ``AdamW`` exactly, including bias correction
with the step counted from 1 and ``eps`` added after the square root. They differ only in
weight decay: Adam adds ``weight_decay * p`` to the gradient (an L2 penalty, which the
moments then rescale), AdamW shrinks the parameter directly (decoupled decay, Loshchilov
and Hutter), which is what large models are trained with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from theta.optim.optimizer import BETAS, BOOL, NON_NEGATIVE, POSITIVE, Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam: gradient descent scaled by running first and second moments of the gradient.

    Per step ``t`` (counted from 1), with ``g`` the gradient::

        g = g + weight_decay * p                      (L2 penalty; AdamW decays p instead)
        m = beta1 * m + (1 - beta1) * g               first moment
        v = beta2 * v + (1 - beta2) * g * g           second moment
        v_max = max(v_max, v)                         (amsgrad only; then v_max replaces v)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Tensors to train, or parameter groups (see :class:`Optimizer`).
    lr : float, default=1e-3
        Learning rate, in ``(0, inf)``.
    betas : tuple of (float, float), default=(0.9, 0.999)
        Decay rates of the first and second moment, each in ``[0, 1)``.
    eps : float, default=1e-8
        Added to the denominator so a zero second moment cannot divide by zero; ``[0, inf)``.
    weight_decay : float, default=0
        L2 penalty added to the gradient, in ``[0, inf)``.
    amsgrad : bool, default=False
        Divide by the largest second moment seen so far (Reddi et al.'s AMSGrad).
    skip_nonfinite : bool, default=True
        Skip a step whose gradients contain NaN or infinity (see :class:`Optimizer`).

    Examples
    --------
    The first Adam step moves every coordinate by about ``lr``, whatever the gradient's size:

    >>> import numpy as np, theta
    >>> w = theta.tensor([1.0, 1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = np.array([100.0, 0.01], dtype=np.float32)
    >>> opt.step()
    True
    >>> np.round(w.data, 4)
    array([0.9, 0.9], dtype=float32)
    """

    _ranges = {
        "lr": POSITIVE,
        "betas": BETAS,
        "eps": NON_NEGATIVE,
        "weight_decay": NON_NEGATIVE,
        "amsgrad": BOOL,
    }
    _state_keys = frozenset({"exp_avg", "exp_avg_sq", "max_exp_avg_sq"})
    _decoupled = False  # AdamW's one difference

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        skip_nonfinite: bool = True,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults, skip_nonfinite=skip_nonfinite)

    def _init_state(self, p: np.ndarray, group: dict[str, Any]) -> dict[str, np.ndarray]:
        state = {"exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p)
        return state

    def _update(
        self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, wd, step = group["lr"], group["weight_decay"], state["step"]
        beta1, beta2 = group["betas"]
        d, t = self._scratch(p, 2)
        if wd != 0 and self._decoupled:
            p *= 1.0 - lr * wd
            d = g
        elif wd != 0:
            np.multiply(p, wd, out=d)
            d += g
        else:
            d = g  # read only from here on
        m, v = state["exp_avg"], state["exp_avg_sq"]
        np.subtract(d, m, out=t)  # m += (1 - beta1) * (d - m), PyTorch's lerp
        t *= 1.0 - beta1
        m += t
        v *= beta2
        np.multiply(d, 1.0 - beta2, out=t)
        t *= d
        v += t
        if group["amsgrad"]:
            v_max = self._state_array(state, "max_exp_avg_sq", p)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        # Bias correction undoes the zero start of m and v; Python floats, so no arrays
        step_size = lr / (1.0 - beta1**step)
        np.sqrt(v, out=t)
        t /= math.sqrt(1.0 - beta2**step)
        t += group["eps"]
        np.divide(m, t, out=t)
        t *= step_size
        p -= t


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the Adam step.

    Parameters are those of :class:`Adam`, except that ``weight_decay`` (default 0.01)
    shrinks the parameters directly instead of being added to the gradient.

    Examples
    --------
    With a zero gradient only the decay acts: ``1 - lr * weight_decay = 0.99``.

    >>> import numpy as np, theta
    >>> w = theta.tensor([2.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.1)
    >>> w.grad = np.zeros(1, dtype=np.float32)
    >>> _ = opt.step()
    >>> np.round(w.data, 4)
    array([1.98], dtype=float32)
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
        skip_nonfinite: bool = True,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            skip_nonfinite=skip_nonfinite,
        )
