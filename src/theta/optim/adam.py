"""Adam and AdamW: steps scaled per coordinate by running moments of the gradient.

Both follow PyTorch's ``torch.optim.Adam`` / ``AdamW`` exactly, including bias correction
with the step counted from 1 and ``eps`` added after the square root. They differ only in
weight decay: Adam adds ``weight_decay * p`` to the gradient (an L2 penalty, which the
moments then rescale), AdamW shrinks the parameter directly (decoupled decay, Loshchilov
and Hutter), which is what large models are trained with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from theta.optim.optimizer import BETAS, BOOL, NON_NEGATIVE, POSITIVE, Optimizer

__all__ = ["Adam", "AdamW"]

# The flat path saves NumPy calls (microseconds each) but copies the gradients into a
# group-sized array: a win for many small arrays, a loss of memory and bandwidth for a few
# big ones. Groups whose arrays average more elements than this go one by one.
FLAT_MEAN_SIZE = 16_384


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
        self._flats: dict[int, _Flat] = {}  # per group (by id); see _step_group

    def _init_state(self, p: np.ndarray, group: dict[str, Any]) -> dict[str, np.ndarray]:
        state = {"exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p)
        return state

    def _update(
        self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, wd = group["lr"], group["weight_decay"]
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
        _moments(d, m, v, t, group["betas"])
        if group["amsgrad"]:
            v_max = self._state_array(state, "max_exp_avg_sq", p)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        _step_into(t, m, v, state["step"], group)
        p -= t

    def _step_group(self, group: dict[str, Any]) -> bool:
        """All of a group's parameters at once, their moments held in two flat arrays.

        The same arithmetic as :meth:`_update`, element for element, so the results are
        identical; it costs one NumPy call per operation instead of one per parameter. Each
        parameter's state holds views of the flat arrays; state that is not such a view (a
        first step, a loaded state dict) is copied in first. Groups with AMSGrad, mixed dtypes,
        missing gradients or unequal step counts go parameter by parameter.
        """
        if group["amsgrad"]:
            return False
        flat = self._flats.get(id(group))
        if flat is None or flat.group is not group or not flat.current(self.state):
            flat = self._make_flat(group)
            if flat is None:
                return False
        lr, wd = group["lr"], group["weight_decay"]
        coupled = wd != 0 and not self._decoupled
        for p, dv in zip(group["params"], flat.d_views, strict=True):
            data, g = p.data, p.grad
            if g.shape != data.shape:
                raise ValueError(
                    f"{self._name}.step: a gradient has shape {g.shape} but its parameter "
                    f"has shape {data.shape}; they must match."
                )
            if coupled:
                np.multiply(data, wd, out=dv)
                dv += g
            else:
                np.copyto(dv, g)
        if wd != 0 and not coupled:
            for p in group["params"]:
                p.data *= 1.0 - lr * wd
        state = self.state
        for p in group["params"]:
            state[p]["step"] += 1
        _moments(flat.d, flat.m, flat.v, flat.t, group["betas"])
        _step_into(flat.t, flat.m, flat.v, state[group["params"][0]]["step"], group)
        for p, tv in zip(group["params"], flat.t_views, strict=True):
            p.data -= tv
        return True

    def _make_flat(self, group: dict[str, Any]) -> _Flat | None:
        """Move a group's moments into flat arrays, or return None if it must go one by one."""
        params, state = group["params"], self.state
        datas = [p.data for p in params]
        if not params or any(p.grad is None for p in params):
            return None
        if sum(a.size for a in datas) > FLAT_MEAN_SIZE * len(datas):
            return None
        if len({a.dtype for a in datas}) != 1:
            return None
        saved = [state.get(p) for p in params]
        if len({None if s is None else s["step"] for s in saved}) != 1:
            return None
        flat = _Flat(group, datas, self._scratch)
        for p, s, m, v in zip(params, saved, flat.m_views, flat.v_views, strict=True):
            if s is None:
                state[p] = {"step": 0, "exp_avg": m, "exp_avg_sq": v}
                continue
            for key, view in (("exp_avg", m), ("exp_avg_sq", v)):
                if key in s:
                    np.copyto(view, s[key])
                s[key] = view
        live = [id(g) for g in self.param_groups]  # drop the arrays of replaced groups
        self._flats = {k: self._flats[k] for k in live if k in self._flats}
        self._flats[id(group)] = flat
        return flat


class _Flat:
    """A group's first and second moments, gradient and step as flat arrays, with views."""

    def __init__(self, group: dict[str, Any], datas: list[np.ndarray],
                 scratch: Callable[[np.ndarray, int], list[np.ndarray]]) -> None:  # fmt: skip
        self.group, self.params = group, group["params"]
        sizes = [a.size for a in datas]
        ends = np.cumsum(sizes).tolist()
        self.m, self.v = np.zeros(ends[-1], datas[0].dtype), np.zeros(ends[-1], datas[0].dtype)
        self.d, self.t = scratch(self.m, 2)[:2]  # the optimizer's, shared by equal sizes

        def views(flat: np.ndarray) -> list[np.ndarray]:
            pieces = zip(datas, sizes, ends, strict=True)
            return [flat[e - n : e].reshape(a.shape) for a, n, e in pieces]

        self.m_views, self.v_views = views(self.m), views(self.v)
        self.d_views, self.t_views = views(self.d), views(self.t)

    def current(self, state: dict[Any, dict[str, Any]]) -> bool:
        """Whether every parameter has a gradient and state still held in these arrays."""
        if self.group["params"] is not self.params or len(self.params) != len(self.m_views):
            return False  # the group's list was replaced or grown in place
        step = None
        for p, m, v in zip(self.params, self.m_views, self.v_views, strict=True):
            s = state.get(p)
            if p.grad is None or s is None or s["exp_avg"] is not m or s["exp_avg_sq"] is not v:
                return False
            if step is not None and s["step"] != step:
                return False
            step = s["step"]
        return True


def _moments(d: np.ndarray, m: np.ndarray, v: np.ndarray, t: np.ndarray,
             betas: tuple[float, float]) -> None:  # fmt: skip
    """``m += (1 - beta1) * (d - m)`` (PyTorch's lerp), ``v = beta2 * v + (1 - beta2) * d²``."""
    beta1, beta2 = betas
    np.subtract(d, m, out=t)
    t *= 1.0 - beta1
    m += t
    v *= beta2
    np.multiply(d, 1.0 - beta2, out=t)
    t *= d
    v += t


def _step_into(t: np.ndarray, m: np.ndarray, v: np.ndarray, step: int,
               group: dict[str, Any]) -> None:  # fmt: skip
    """Write the bias-corrected step ``lr * m_hat / (sqrt(v_hat) + eps)`` into ``t``."""
    beta1, beta2 = group["betas"]
    # Bias correction undoes the zero start of m and v; Python floats, so no arrays
    step_size = group["lr"] / (1.0 - beta1**step)
    np.sqrt(v, out=t)
    t /= math.sqrt(1.0 - beta2**step)
    t += group["eps"]
    np.divide(m, t, out=t)
    t *= step_size


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
