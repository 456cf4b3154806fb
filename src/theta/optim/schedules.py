"""Learning-rate schedules: pure functions ``step -> lr``, as nanoGPT's ``get_lr``.

A schedule keeps no state, so a resumed run gets the same rate from the step number alone,
and any function with the signature ``f(step, *, base_lr) -> float`` is a schedule. Two
small helpers apply one to an optimizer: :func:`set_lr` for a loop that computes the rate
itself, and :class:`LRSchedule`, which applies a schedule to every parameter group from
that group's own starting rate. :class:`ReduceLROnPlateau` is the one stateful piece,
because it reacts to a measured metric rather than to the step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

from theta.optim.optimizer import (
    NON_NEGATIVE,
    POSITIVE,
    UNIT,
    Optimizer,
    check_hyperparameter,
)
from theta.validation import Interval, Options, check_param

__all__ = [
    "LRSchedule",
    "ReduceLROnPlateau",
    "constant",
    "cosine_with_warmup",
    "exponential",
    "set_lr",
    "step_decay",
]

_GAMMA = Interval(Real, 0, 1, closed="right")  # a decay factor: (0, 1]


def _int(value: object, name: str, low: int, caller: str) -> int:
    """``value`` as a Python int, checked to be an int in ``[low, inf)``."""
    return int(check_param(value, name, Interval(Integral, low, None), caller=caller))


def constant(step: int, *, base_lr: float) -> float:
    """Return ``base_lr`` at every step.

    Examples
    --------
    >>> constant(100, base_lr=0.1)
    0.1
    """
    _int(step, "step", 0, "constant")
    return check_hyperparameter(base_lr, "base_lr", POSITIVE, "constant")


def step_decay(step: int, *, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Multiply the rate by ``gamma`` every ``step_size`` steps (PyTorch's ``StepLR``).

    Parameters
    ----------
    step : int
        The step, from 0.
    base_lr : float
        The rate for steps ``0 .. step_size - 1``.
    step_size : int
        Steps between decays, at least 1.
    gamma : float, default=0.1
        The decay factor, in ``(0, 1]``.

    Returns
    -------
    float
        ``base_lr * gamma ** (step // step_size)``.

    Examples
    --------
    >>> [step_decay(s, base_lr=1.0, step_size=2, gamma=0.5) for s in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    _int(step, "step", 0, "step_decay")
    base_lr = check_hyperparameter(base_lr, "base_lr", POSITIVE, "step_decay")
    step_size = _int(step_size, "step_size", 1, "step_decay")
    gamma = check_hyperparameter(gamma, "gamma", _GAMMA, "step_decay")
    return base_lr * gamma ** (step // step_size)


def exponential(step: int, *, base_lr: float, gamma: float) -> float:
    """Multiply the rate by ``gamma`` every step (PyTorch's ``ExponentialLR``).

    Examples
    --------
    >>> exponential(2, base_lr=1.0, gamma=0.5)
    0.25
    """
    _int(step, "step", 0, "exponential")
    base_lr = check_hyperparameter(base_lr, "base_lr", POSITIVE, "exponential")
    return base_lr * check_hyperparameter(gamma, "gamma", _GAMMA, "exponential") ** step


def cosine_with_warmup(
    step: int, *, base_lr: float, warmup: int, total: int, min_lr: float = 0.0
) -> float:
    """Linear warmup to ``base_lr``, then a half cosine down to ``min_lr`` at ``total``.

    Warmup avoids large early steps while Adam's moment estimates are still noisy; the
    cosine then anneals smoothly (nanoGPT's ``get_lr``).

    Parameters
    ----------
    step : int
        The step, from 0.
    base_lr : float
        The peak rate, reached at step ``warmup - 1`` (step 0 when ``warmup == 0``).
    warmup : int
        Number of warmup steps; step ``s < warmup`` gets ``base_lr * (s + 1) / warmup``.
    total : int
        The step at which the cosine reaches ``min_lr``; later steps stay there.
    min_lr : float, default=0.0
        The final rate, in ``[0, base_lr]``.

    Returns
    -------
    float

    Examples
    --------
    >>> lrs = [cosine_with_warmup(s, base_lr=1.0, warmup=2, total=6) for s in range(8)]
    >>> [round(lr, 3) for lr in lrs]
    [0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
    """
    _int(step, "step", 0, "cosine_with_warmup")
    base_lr = check_hyperparameter(base_lr, "base_lr", POSITIVE, "cosine_with_warmup")
    warmup = _int(warmup, "warmup", 0, "cosine_with_warmup")
    total = _int(total, "total", max(warmup, 1), "cosine_with_warmup")
    min_lr = check_hyperparameter(
        min_lr, "min_lr", Interval(Real, 0, base_lr), "cosine_with_warmup"
    )
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of ``optimizer``.

    ``lr`` may be 0 (the end of a cosine schedule), unlike at construction.

    Examples
    --------
    >>> import theta
    >>> from theta.optim import SGD
    >>> opt = SGD([theta.tensor([1.0], requires_grad=True)], lr=0.1)
    >>> set_lr(opt, cosine_with_warmup(0, base_lr=0.1, warmup=10, total=100))
    >>> opt.param_groups[0]["lr"]
    0.01
    """
    lr = check_hyperparameter(lr, "lr", NON_NEGATIVE, "set_lr")
    for group in optimizer.param_groups:
        group["lr"] = lr


class LRSchedule:
    """Apply a schedule function to an optimizer's groups, one call of :meth:`step` per step.

    Each group's rate at construction becomes that group's ``base_lr``, so groups with
    different rates keep their ratio. The rate for step 0 is set at construction; call
    ``step()`` after each ``optimizer.step()``, as with PyTorch's schedulers.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose ``"lr"`` entries are set.
    schedule : callable
        ``schedule(step, *, base_lr) -> float``, e.g. ``functools.partial(step_decay,
        step_size=30)``.

    Attributes
    ----------
    last_step : int
        The step whose rate is set now.
    base_lrs : list of float
        Every group's rate at construction.

    Examples
    --------
    >>> import functools, theta
    >>> from theta.optim import SGD
    >>> opt = SGD([theta.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> sched = LRSchedule(opt, functools.partial(step_decay, step_size=2, gamma=0.5))
    >>> lrs = []
    >>> for _ in range(4):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     sched.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5]
    """

    def __init__(self, optimizer: Optimizer, schedule: Callable[..., float]) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    def step(self) -> None:
        """Advance to the next step and set its rate."""
        self.last_step += 1
        self._apply()

    def _apply(self) -> None:
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            lr = self.schedule(self.last_step, base_lr=base_lr)
            group["lr"] = check_hyperparameter(lr, "lr", NON_NEGATIVE, "LRSchedule")

    def state_dict(self) -> dict[str, Any]:
        """Return ``{"last_step": int, "base_lrs": list of float}``."""
        return {"last_step": self.last_step, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the step and base rates, and set the rate of that step."""
        self.last_step = int(state["last_step"])
        self.base_lrs = [float(lr) for lr in state["base_lrs"]]
        self._apply()


class ReduceLROnPlateau:
    """Shrink the rate by ``factor`` when a metric stops improving (PyTorch's semantics).

    A metric "improves" when it beats the best so far by more than ``threshold`` (relative
    by default). After more than ``patience`` steps without improvement the rate is
    multiplied by ``factor`` (but not below ``min_lr``), then ``cooldown`` steps pass before
    bad steps are counted again. The default ``base_lr=1.0`` makes the rate a scale factor
    to multiply into another schedule or the optimizer's rate.

    Parameters
    ----------
    base_lr : float, default=1.0
        The starting rate (or scale).
    mode : {"min", "max"}, default="min"
        Whether a lower (loss) or higher (accuracy) metric is better.
    factor : float, default=0.1
        The multiplier applied on a plateau, in ``[0, 1)``.
    patience : int, default=10
        Steps without improvement tolerated before reducing.
    threshold : float, default=1e-4
        The least improvement that counts, in ``[0, inf)``.
    threshold_mode : {"rel", "abs"}, default="rel"
        ``"rel"``: beat ``best * (1 - threshold)`` (``"min"``); ``"abs"``: beat
        ``best - threshold``.
    cooldown : int, default=0
        Steps after a reduction during which bad steps are not counted.
    min_lr : float, default=0
        The rate never goes below this.
    eps : float, default=1e-8
        A reduction smaller than this is ignored.

    Examples
    --------
    >>> plateau = ReduceLROnPlateau(base_lr=0.1, patience=1, factor=0.5)
    >>> [plateau.step(loss) for loss in [3.0, 2.0, 2.0, 2.0, 1.0]]
    [0.1, 0.1, 0.1, 0.05, 0.05]
    """

    def __init__(
        self,
        base_lr: float = 1.0,
        *,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        name = "ReduceLROnPlateau"
        self.mode = check_param(mode, "mode", Options({"min", "max"}), caller=name)
        self.threshold_mode = check_param(
            threshold_mode, "threshold_mode", Options({"rel", "abs"}), caller=name
        )
        self.lr = check_hyperparameter(base_lr, "base_lr", POSITIVE, name)
        self.factor = check_hyperparameter(factor, "factor", UNIT, name)
        self.patience = _int(patience, "patience", 0, name)
        self.threshold = check_hyperparameter(threshold, "threshold", NON_NEGATIVE, name)
        self.cooldown = _int(cooldown, "cooldown", 0, name)
        self.min_lr = check_hyperparameter(min_lr, "min_lr", NON_NEGATIVE, name)
        self.eps = check_hyperparameter(eps, "eps", NON_NEGATIVE, name)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_steps = 0
        self.cooldown_counter = 0

    def _is_better(self, metric: float) -> bool:
        """Whether ``metric`` beats the best so far by more than the threshold."""
        sign = -1.0 if self.mode == "min" else 1.0  # the direction of improvement
        if self.threshold_mode == "rel":
            target = self.best * (1.0 + sign * self.threshold)
        else:
            target = self.best + sign * self.threshold
        return metric < target if self.mode == "min" else metric > target

    def step(self, metric: float) -> float:
        """Record one measurement of the metric and return the rate to use next.

        A NaN metric never improves, so it counts as a bad step.
        """
        metric = float(metric)
        if self._is_better(metric):
            self.best = metric
            self.num_bad_steps = 0
        else:
            self.num_bad_steps += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_steps = 0
        if self.num_bad_steps > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_steps = 0
        return self.lr

    def state_dict(self) -> dict[str, Any]:
        """Return the changing state as plain Python values."""
        return {
            "lr": self.lr,
            "best": self.best,
            "num_bad_steps": self.num_bad_steps,
            "cooldown_counter": self.cooldown_counter,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.lr = float(state["lr"])
        self.best = float(state["best"])
        self.num_bad_steps = int(state["num_bad_steps"])
        self.cooldown_counter = int(state["cooldown_counter"])
