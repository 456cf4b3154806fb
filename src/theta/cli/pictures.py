"""Pictures in run folders, each drawn only when matplotlib (the ``plot`` extra) is installed.

What a run shows depends on what was trained:

- every run: ``loss_curve.png`` (``reward_curve.png`` for an agent);
- a classifier: ``confusion_matrix.png`` on the validation data (the training data when
  there is none), and ``decision_boundary.png`` when the data has two features or
  ``projection.png`` (the data on its first two principal components) when it has more;
- a regressor: ``predicted_vs_actual.png`` on the validation data (or the training data);
- a two-parameter model (``linear`` on ``line``, the chapter's): ``descent_path.png``;
- a GPT: ``attention_map.png``, the last block's attention on a validation snippet;
- a bandit agent: ``regret.png``.

Titles name the run (:func:`run_label`: the data set and the model, "iris · MLP (64,)")
before what the picture shows, so a picture makes sense on its own.
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
from theta.nn import Module
from theta.train import History

__all__ = ["attention_picture", "draw", "regret_picture", "run_label", "table_pictures"]

SNIPPET = 32  # characters of a GPT's attention map; more would not be legible
GPT_SHAPE = ("n_layer", "n_heads", "n_embd")  # what a title says of a GPT


def draw(picture: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Call a :mod:`theta.plot` function; False (and nothing drawn) without matplotlib."""
    try:
        picture(*args, **kwargs)
    except ImportError:
        return False
    return True


def run_label(data_name: str | None, model: Module) -> str:
    """How a picture's title names a run: the data set and the model, ``"iris · MLP (64,)"``.

    An MLP shows its hidden sizes, a GPT its depth and width (``GPT (n_layer=2, n_heads=2,
    n_embd=64)``); other models only their class.
    """
    hyper = model.hyperparameters()
    described = type(model).__name__
    if "sizes" in hyper:
        described += f" {tuple(hyper['sizes'][1:-1])}"
    elif isinstance(model, GPT):
        described += " ({})".format(", ".join(f"{k}={hyper[k]}" for k in GPT_SHAPE))
    return f"{data_name} · {described}" if data_name else described


def table_pictures(run_dir: Path, history: History, trained: Any, *,
                   train: tuple[np.ndarray, np.ndarray],
                   validation: tuple[np.ndarray, np.ndarray] | None, loss: str,
                   start: list[np.ndarray], data_name: str | None = None) -> bool:  # fmt: skip
    """The pictures of a run on a table of features; False when matplotlib is missing.

    ``trained`` is the run's :class:`~theta.cli.runs.Run` (predictions in the data's units),
    ``start`` the parameters before the first step (for the descent path), ``data_name``
    the data set's name for the titles.
    """
    label = run_label(data_name, trained.model)
    if not draw(plot.loss_curve, history, run_dir / "loss_curve.png", title=f"{label} · loss"):
        return False
    X_shown, y_shown = validation if validation is not None else train
    which = "validation" if validation is not None else "training"
    if trained.task == "classification":
        names = np.asarray(trained.target_names)
        plot.confusion_matrix(names[y_shown], trained.predict(X_shown),
                              run_dir / "confusion_matrix.png", labels=names,
                              title=f"{label} · {which} data")  # fmt: skip
        if train[0].shape[1] == 2:
            plot.decision_boundary(trained, train[0], names[train[1]],
                                   run_dir / "decision_boundary.png",
                                   title=f"{label} · decision regions (colour: predicted class)")
        else:
            plot.projection(train[0], names[train[1]], run_dir / "projection.png",
                            title=f"{label} · training data on its first two principal "
                                  "components")  # fmt: skip
    else:
        predicted = np.asarray(trained.predict(X_shown), dtype=np.float64)  # printed as %.6g
        plot.predicted_vs_actual(y_shown, predicted, run_dir / "predicted_vs_actual.png",
                                 title=f"{label} · {which} data")  # fmt: skip
    walk = _walk(history, start)
    if walk is not None:
        X = (train[0] - trained.mean) / trained.scale  # what the model saw
        target, loss_fn = tensor(train[1].reshape(-1, 1)), get_loss(loss)

        def surface(w: float, b: float) -> float:
            return loss_fn(tensor(w * X + b), target).item()

        plot.descent_path(*walk, surface, run_dir / "descent_path.png",
                          title=f"{label} · gradient descent on the {loss} loss surface")
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


def attention_picture(run_dir: Path, model: GPT, tokenizer: CharTokenizer, ids: np.ndarray, *,
                      data_name: str | None = None) -> bool:  # fmt: skip
    """The last block's attention on the first characters of ``ids`` (validation text)."""
    snippet = ids[: min(SNIPPET, model.config.block_size, len(ids))]
    weights = model.attention_weights(snippet[None])[0]  # (nh, T, T)
    tokens = [tokenizer.decode([i]) for i in snippet]
    title = (f"{run_label(data_name, model)} · attention of block {model.config.n_layer} "
             "(the last) on validation text")  # fmt: skip
    return draw(plot.attention_map, weights, tokens, run_dir / "attention_map.png", title=title)


def regret_picture(run_dir: Path, regrets: dict[str, np.ndarray], title: str) -> bool:
    """A bandit agent's cumulative regret; ``title`` names the run ("ucb1 on Bandit-v0")."""
    return draw(plot.regret_curve, regrets, run_dir / "regret.png",
                title=f"{title} · cumulative regret")  # fmt: skip
