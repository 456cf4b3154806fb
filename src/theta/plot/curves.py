"""Curves over time: the training loss, an agent's returns, a bandit's regret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from theta.plot._figure import Picture, new_figure, save
from theta.train import History

__all__ = ["loss_curve", "regret_curve", "reward_curve"]


def loss_curve(history: History, path: str | Path, *,
               validation: tuple[Sequence[int], Sequence[float], str] | None = None,
               ylabel: str = "loss") -> Picture:  # fmt: skip
    """Draw the training loss per step, and the epochs' validation loss if any, to ``path``.

    The loss axis is logarithmic when the loss spans more than two orders of magnitude (the
    chapter's loss goes from 33 to nearly 0). ``validation`` gives validation points measured
    elsewhere than at epoch ends: (steps, losses, label).

    Examples
    --------
    >>> import os, tempfile
    >>> history = History(step_loss=[33.0, 9.5, 2.8, 0.9])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     picture = loss_curve(history, os.path.join(d, "loss_curve.png"))
    >>> picture.path.name, picture.figure.axes[0].get_yscale()
    ('loss_curve.png', 'linear')
    """
    figure, axes = new_figure()
    ax = axes[0, 0]
    steps = range(len(history.step_loss))
    ax.plot(steps, history.step_loss, label="training loss (per step)", linewidth=1)
    val = history.epochs.get("val_loss")
    if validation is None and val:
        per_epoch = max(1, len(history.step_loss) // len(val))
        steps_at = [per_epoch * (i + 1) - 1 for i in range(len(val))]
        validation = (steps_at, val, "validation loss (per epoch)")
    if validation is not None:
        ax.plot(validation[0], validation[1], "o-", label=validation[2])
    positive = [v for v in history.step_loss if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title("forward → loss → gradient → update")
    ax.legend()
    return save(figure, path)


def reward_curve(returns: Sequence[float], path: str | Path, *, window: int = 20,
                 title: str = "return per episode") -> Picture:  # fmt: skip
    """Draw each episode's return and its moving average over ``window`` episodes to ``path``.

    The learning curve of a reinforcement-learning agent: the reward it collected, episode
    after episode, while it learned.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     reward_curve([1.0, 3.0, 2.0, 5.0], os.path.join(d, "returns.png")).path.name
    'returns.png'
    """
    values = np.asarray(returns, dtype=np.float64)
    figure, axes = new_figure()
    ax = axes[0, 0]
    episodes = np.arange(1, len(values) + 1)
    ax.plot(episodes, values, linewidth=0.8, alpha=0.5, label="return")
    if len(values) >= window > 1:
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")  # (n - window + 1,)
        ax.plot(episodes[window - 1 :], smooth, linewidth=2, label=f"mean of last {window}")
    ax.set_xlabel("episode")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.legend()
    return save(figure, path)


def regret_curve(regrets: Mapping[str, Sequence[float]], path: str | Path, *,
                 title: str = "cumulative regret") -> Picture:  # fmt: skip
    """Draw each bandit agent's cumulative regret against the number of pulls to ``path``.

    Regret is what an agent lost by not always pulling the best arm. A curve that keeps
    rising in a straight line never stops exploring (constant ε); one that bends flat, like
    log t, has found the best arm (UCB1, Thompson sampling).

    Parameters
    ----------
    regrets : mapping of str to array-like of shape (n_pulls,)
        Cumulative regret after every pull (an agent's ``regret_``), by agent name.
    path : str or path-like
        Where the PNG goes.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     picture = regret_curve({"ucb1": [0.5, 0.5, 0.8]}, os.path.join(d, "regret.png"))
    >>> picture.figure.axes[0].lines[0].get_ydata().tolist()
    [0.5, 0.5, 0.8]
    """
    if not regrets:
        raise ValueError("regret_curve: regrets is empty; give at least one agent's regret.")
    curves = {}
    for name, values in regrets.items():
        curve = np.asarray(values, dtype=np.float64)
        if curve.ndim != 1:
            raise ValueError(
                f"regret_curve: the regret of {name!r} must be 1-D, one value per pull "
                f"(got shape {curve.shape})."
            )
        curves[str(name)] = curve
    figure, axes = new_figure()
    ax = axes[0, 0]
    for name, curve in curves.items():
        ax.plot(np.arange(1, len(curve) + 1), curve, linewidth=1.5, label=name)
    ax.set_xlabel("pull")
    ax.set_ylabel("cumulative expected regret")
    ax.set_title(title)
    ax.legend()
    return save(figure, path)
