"""Pictures of training runs (PNG, through matplotlib: the optional extra ``plot``)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from theta.tensorfile import atomic_write_bytes
from theta.train import History

__all__ = ["loss_curve", "reward_curve"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never needs a display
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("theta.plot needs matplotlib: pip install 'theta-ml[plot]'") from None
    return plt


def loss_curve(history: History, path: str | Path, *,
               validation: tuple[Sequence[int], Sequence[float], str] | None = None,
               ylabel: str = "loss") -> Path:  # fmt: skip
    """Draw the training loss per step, and the epochs' validation loss if any, to ``path``.

    Returns the path written. The loss axis is logarithmic when the loss spans more than two
    orders of magnitude (the chapter's loss goes from 33 to nearly 0). ``validation`` gives
    validation points measured elsewhere than at epoch ends: (steps, losses, label).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
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
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def reward_curve(returns: Sequence[float], path: str | Path, *, window: int = 20,
                 title: str = "return per episode") -> Path:  # fmt: skip
    """Draw each episode's return and its moving average over ``window`` episodes to ``path``.

    Returns the path written. The learning curve of a reinforcement-learning agent: the
    reward it collected, episode after episode, while it learned.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     reward_curve([1.0, 3.0, 2.0, 5.0], os.path.join(d, "returns.png")).name
    'returns.png'
    """
    plt = _pyplot()
    values = np.asarray(returns, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    episodes = np.arange(1, len(values) + 1)
    ax.plot(episodes, values, linewidth=0.8, alpha=0.5, label="return")
    if len(values) >= window > 1:
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")  # (n - window + 1,)
        ax.plot(episodes[window - 1 :], smooth, linewidth=2, label=f"mean of last {window}")
    ax.set_xlabel("episode")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path
