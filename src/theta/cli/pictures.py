"""Pictures in run folders, each drawn only when matplotlib (the ``plot`` extra) is installed.

What a run shows depends on what was trained:

- every run: ``loss_curve.png`` (``reward_curve.png`` for an agent);
- a classifier: ``confusion_matrix.png`` on the validation data (the training data when
  there is none), and ``decision_boundary.png`` when the data has two features or
  ``projection.png`` (the data on its first two principal components) when it has more;
- a two-parameter model (``linear`` on ``line``, the chapter's): ``descent_path.png``;
- a GPT: ``attention_map.png``, the last block's attention on a validation snippet;
- a bandit agent: ``regret.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from theta import plot
from theta.autograd import tensor
from theta.losses import get_loss
from theta.models import GPT, CharTokenizer
from theta.train import History

__all__ = ["attention_picture", "draw", "regret_picture", "table_pictures"]

SNIPPET = 32  # characters of a GPT's attention map; more would not be legible


def draw(picture: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Call a :mod:`theta.plot` function; False (and nothing drawn) without matplotlib."""
    try:
        picture(*args, **kwargs)
    except ImportError:
        return False
    return True


def table_pictures(run_dir: Path, history: History, trained: Any, *,
                   train: tuple[np.ndarray, np.ndarray],
                   validation: tuple[np.ndarray, np.ndarray] | None, loss: str,
                   start: list[np.ndarray]) -> bool:  # fmt: skip
    """The pictures of a run on a table of features; False when matplotlib is missing.

    ``trained`` is the run's :class:`~theta.cli.runs.Run` (predictions in the data's units),
    ``start`` the parameters before the first step (for the descent path).
    """
    if not draw(plot.loss_curve, history, run_dir / "loss_curve.png"):
        return False
    if trained.task == "classification":
        names = np.asarray(trained.target_names)
        X_shown, y_shown = validation if validation is not None else train
        which = "validation" if validation is not None else "training"
        plot.confusion_matrix(names[y_shown], trained.predict(X_shown),
                              run_dir / "confusion_matrix.png", labels=names,
                              title=f"confusion matrix, {which} data")  # fmt: skip
        if train[0].shape[1] == 2:
            plot.decision_boundary(trained, train[0], names[train[1]],
                                   run_dir / "decision_boundary.png")  # fmt: skip
        else:
            plot.projection(train[0], names[train[1]], run_dir / "projection.png",
                            title="training data, first two principal components")  # fmt: skip
    walk = _walk(history, start)
    if walk is not None:
        X = (train[0] - trained.mean) / trained.scale  # what the model saw
        target, loss_fn = tensor(train[1].reshape(-1, 1)), get_loss(loss)

        def surface(w: float, b: float) -> float:
            return loss_fn(tensor(w * X + b), target).item()

        plot.descent_path(*walk, surface, run_dir / "descent_path.png",
                          title=f"gradient descent on the {loss} loss surface")  # fmt: skip
    return True


def _walk(history: History, start: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """(w, b) at the start and after every step, for a model of exactly two parameters.

    None when the parameters were not recorded, or when the run resumed from a checkpoint
    (its first steps were taken by an earlier process, so the walk would start midway).
    """
    recorded = list(history.params.values())
    if len(recorded) != 2 or len(recorded[0]) != history.n_steps or len(start) != 2:
        return None
    w, b = ([float(np.ravel(s)[0])] + [float(np.ravel(v)[0]) for v in values]
            for s, values in zip(start, recorded, strict=True))  # fmt: skip
    return np.asarray(w), np.asarray(b)


def attention_picture(run_dir: Path, model: GPT, tokenizer: CharTokenizer,
                      ids: np.ndarray) -> bool:  # fmt: skip
    """The last block's attention on the first characters of ``ids`` (validation text)."""
    snippet = ids[: min(SNIPPET, model.config.block_size, len(ids))]
    weights = model.attention_weights(snippet[None])[0]  # (nh, T, T)
    tokens = [tokenizer.decode([i]) for i in snippet]
    title = f"attention of block {model.config.n_layer} (the last) on validation text"
    return draw(plot.attention_map, weights, tokens, run_dir / "attention_map.png", title=title)


def regret_picture(run_dir: Path, regrets: dict[str, np.ndarray], title: str) -> bool:
    """A bandit agent's cumulative regret."""
    return draw(plot.regret_curve, regrets, run_dir / "regret.png", title=title)
