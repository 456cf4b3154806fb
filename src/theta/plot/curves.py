"""Curves over time: the training loss, an agent's returns, a bandit's regret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from theta.plot._figure import new_figure, save
from theta.train import History

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["loss_curve", "regret_curve", "reward_curve"]


def loss_curve(history: History, path: str | Path | None = None, *,
               validation: tuple[Sequence[int], Sequence[float], str] | None = None,
               ylabel: str = "loss", title: str = "loss", smooth: int | None = None
               ) -> Figure:  # fmt: skip
    """Draw the training loss per step under its moving average, and the validation loss.

    Each step's loss is one mini-batch's, so it is noisy, and an epoch's small last batch
    makes a spike each epoch; the smoothed line (the mean of the last ``smooth`` steps) shows
    the trend through them. The loss axis is logarithmic when the loss spans more than two
    orders of magnitude (the chapter's goes from 33 to nearly 0).

    Parameters
    ----------
    history : History
        ``step_loss`` is drawn; ``epochs["val_loss"]``, if any, at the end of each epoch.
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.
    validation : (steps, losses, label), optional
        Validation points measured elsewhere than at epoch ends, drawn instead.
    ylabel, title : str
        The loss axis's label and the title: name the run, e.g. ``"iris · MLP (64,) · loss"``.
    smooth : int, optional
        Steps in the moving average (1: none). Default: one epoch's steps when the history
        has epochs, which averages each epoch's spike away; else 2% of the steps.

    Returns
    -------
    matplotlib.figure.Figure
        Its lines are the raw loss, the smoothed loss (if any), then the validation loss.

    Examples
    --------
    >>> history = History(step_loss=[32.0, 8.0, 2.0, 1.0], epochs={"loss": [20.0, 1.5]})
    >>> figure = loss_curve(history, title="line · Linear · loss")
    >>> [line.get_label() for line in figure.axes[0].lines]
    ['per step', 'mean of the last 2 steps']
    >>> figure.axes[0].lines[1].get_ydata().tolist()
    [32.0, 20.0, 5.0, 1.5]
    """
    losses = np.asarray(history.step_loss, dtype=np.float64)
    n_epochs = len(history.epochs.get("loss", []))
    if smooth is None:
        smooth = len(losses) // n_epochs if n_epochs else len(losses) // 50
    if not isinstance(smooth, int | np.integer) or isinstance(smooth, bool):
        raise TypeError(f"loss_curve: smooth must be an int (got {type(smooth).__name__}).")
    figure, axes = new_figure()
    ax = axes[0, 0]
    steps = np.arange(len(losses))
    ax.plot(steps, losses, linewidth=0.8, alpha=0.4, label="per step")
    if smooth > 1 and len(losses) > 1:
        window = min(smooth, len(losses))
        ax.plot(steps, _trailing_mean(losses, window), linewidth=2, color="C0",
                label=f"mean of the last {window} steps")  # fmt: skip
    val = history.epochs.get("val_loss")
    if validation is None and val:
        per_epoch = max(1, len(losses) // len(val))
        steps_at = [per_epoch * (i + 1) - 1 for i in range(len(val))]
        validation = (steps_at, val, "validation loss (per epoch)")
    if validation is not None:
        ax.plot(validation[0], validation[1], "o-", color="C1", label=validation[2])
    positive = losses[losses > 0]
    if positive.size and positive.max() / positive.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return save(figure, path)


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each value and the ``window - 1`` before it (fewer at the start)."""
    # summed window by window, not as a difference of cumulative sums, which would lose a
    # loss of 1e-6 next to sums in the thousands (and draw it negative on a log axis)
    sums = np.convolve(values, np.ones(window))[: len(values)]
    return sums / np.minimum(np.arange(1, len(values) + 1), window)


def reward_curve(returns: Sequence[float], path: str | Path | None = None, *, window: int = 20,
                 title: str = "return per episode") -> Figure:  # fmt: skip
    """Draw each episode's return and its moving average over ``window`` episodes.

    The learning curve of a reinforcement-learning agent: the reward it collected, episode
    after episode, while it learned. Given ``path``, the PNG is written there (atomically);
    ``title`` should name the run (``"q-learning on FrozenLake-v1 · return"``).

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     figure = reward_curve([1.0, 3.0, 2.0, 5.0], os.path.join(d, "returns.png"))
    ...     os.listdir(d)
    ['returns.png']
    >>> figure.axes[0].lines[0].get_ydata().tolist()
    [1.0, 3.0, 2.0, 5.0]
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


def regret_curve(regrets: Mapping[str, Sequence[float]], path: str | Path | None = None, *,
                 title: str = "cumulative regret") -> Figure:  # fmt: skip
    """Draw each bandit agent's cumulative regret against the number of pulls.

    Regret is what an agent lost by not always pulling the best arm. A curve that keeps
    rising in a straight line never stops exploring (constant ε); one that bends flat, like
    log t, has found the best arm (UCB1, Thompson sampling).

    Parameters
    ----------
    regrets : mapping of str to array-like of shape (n_pulls,)
        Cumulative regret after every pull (an agent's ``regret_``), by agent name.
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.

    Examples
    --------
    >>> figure = regret_curve({"ucb1": [0.5, 0.5, 0.8]})
    >>> figure.axes[0].lines[0].get_ydata().tolist()
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
