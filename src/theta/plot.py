"""Pictures of training runs (PNG, through matplotlib: the optional extra ``plot``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from theta.tensorfile import atomic_write_bytes
from theta.train import History

__all__ = ["loss_curve"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never needs a display
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("theta.plot needs matplotlib: pip install 'theta-ml[plot]'") from None
    return plt


def loss_curve(history: History, path: str | Path) -> Path:
    """Draw the training loss per step, and the epochs' validation loss if any, to ``path``.

    Returns the path written. The loss axis is logarithmic when the loss spans more than two
    orders of magnitude (the chapter's loss goes from 33 to nearly 0).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    steps = range(len(history.step_loss))
    ax.plot(steps, history.step_loss, label="training loss (per step)", linewidth=1)
    val = history.epochs.get("val_loss")
    if val:
        per_epoch = max(1, len(history.step_loss) // len(val))
        ax.plot([per_epoch * (i + 1) - 1 for i in range(len(val))], val, "o-",
                label="validation loss (per epoch)")  # fmt: skip
    positive = [v for v in history.step_loss if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("forward → loss → gradient → update")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path
