"""Pictures of matrices: what a classifier confuses, where a transformer looks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from theta import metrics
from theta.plot._figure import new_figure, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["attention_map", "confusion_matrix"]

# Characters that would print as nothing on an axis, shown by a visible stand-in.
_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "\\r"}
_MAX_LABELS = 48  # tokens labelled along an axis; a longer text labels every k-th


def confusion_matrix(y_true: Any, y_pred: Any, path: str | Path | None = None, *,
                     labels: Any = None, title: str = "confusion matrix") -> Figure:  # fmt: skip
    """Draw the counts of (true class, predicted class) pairs, one cell each.

    The diagonal holds the right answers; every other cell is a mistake of one kind. Counts
    come from :func:`theta.metrics.confusion_matrix`.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels (numbers or strings).
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.
    labels : array-like of shape (n_classes,), optional
        Labels and their order (default: the sorted labels of both inputs).
    title : str
        Name the run and the data shown, e.g. ``"iris · MLP (64,) · validation data"``; the
        accuracy is appended.

    Returns
    -------
    matplotlib.figure.Figure
        Row ``i`` is true class ``labels[i]``; each cell's count is written in it
        (``figure.axes[0].texts``, row by row).

    Examples
    --------
    >>> figure = confusion_matrix(["cat", "dog", "dog"], ["cat", "cat", "dog"])
    >>> [t.get_text() for t in figure.axes[0].texts]
    ['1', '0', '1', '1']
    """
    counts = metrics.confusion_matrix(y_true, y_pred, labels=labels)  # (n_classes, n_classes)
    if labels is None:
        labels = np.unique(np.concatenate([np.asarray(y_true).ravel(),
                                           np.asarray(y_pred).ravel()]))  # fmt: skip
    names = [str(label) for label in np.asarray(labels).ravel()]
    n = len(names)
    side = max(4.0, 0.55 * n + 2.5)
    figure, axes = new_figure(side + 1.0, side)
    ax = axes[0, 0]
    image = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(int(counts.max()), 1))
    figure.colorbar(image, ax=ax, label="samples")
    half = counts.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                    color="white" if counts[i, j] > half else "black")  # fmt: skip
    ax.set_xticks(range(n), names, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = int(counts.sum())
    accuracy = f" (accuracy {np.trace(counts) / total:.3f})" if total else ""
    ax.set_title(title + accuracy)
    return save(figure, path)


def attention_map(weights: Any, tokens: Sequence[str], path: str | Path | None = None, *,
                  title: str = "attention") -> Figure:  # fmt: skip
    """Draw attention weights, one panel per head: row = query token, column = key token.

    Each row is a probability distribution: how much that position takes from each other
    when it mixes their values. A causal language model's rows end at the diagonal (it may
    not look ahead). The heads sit in a near-square grid, each panel labelled with the
    tokens (every k-th past 48, so that labels stay legible; blanks shown as ␣, ⏎, ⇥).

    Parameters
    ----------
    weights : array-like of shape (T, T) or (n_heads, T, T)
        Attention weights, e.g. ``GPT.attention_weights(ids)[0]``.
    tokens : sequence of str of length T
        The tokens at the positions (characters for a character-level model).
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.
    title : str
        Name the run and the text, e.g. ``"shakespeare · GPT · attention of block 2"``.

    Returns
    -------
    matplotlib.figure.Figure
        Head ``h`` is ``figure.axes[h].images[0]``.

    Examples
    --------
    >>> weights = np.array([[1.0, 0.0], [0.25, 0.75]])
    >>> figure = attention_map(weights, ["h", "i"])
    >>> figure.axes[0].images[0].get_array().tolist()
    [[1.0, 0.0], [0.25, 0.75]]
    """
    weights = np.asarray(weights, dtype=np.float64)
    tokens = [str(t) for t in tokens]
    if weights.ndim == 2:
        weights = weights[None]
    T = len(tokens)
    if weights.ndim != 3 or weights.shape[1:] != (T, T):
        raise ValueError(
            f"attention_map: weights must have shape (T, T) or (n_heads, T, T) with T = "
            f"{T} tokens (got {np.shape(weights)})."
        )
    if not np.isfinite(weights).all():
        raise ValueError("attention_map: weights must be finite.")
    n_heads = weights.shape[0]
    ncols = math.ceil(math.sqrt(n_heads))
    nrows = math.ceil(n_heads / ncols)
    every = max(1, math.ceil(T / _MAX_LABELS))
    # a labelled row or column gets 0.2 inch, room for one 9-point character and a margin
    panel = max(3.0, 0.2 * math.ceil(T / every) + 1.2)
    figure, axes = new_figure(panel * ncols + 1.0, panel * nrows + 0.6, nrows=nrows, ncols=ncols)
    at = range(0, T, every)
    shown = [_VISIBLE.get(tokens[i], tokens[i]) for i in at]
    image = None
    for h, ax in enumerate(axes.ravel()):
        if h >= n_heads:
            ax.set_axis_off()
            continue
        image = ax.imshow(weights[h], cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_xticks(at, shown, fontsize=9, rotation=90 if max(map(len, shown)) > 1 else 0)
        ax.set_yticks(at, shown, fontsize=9)
        ax.set_title(f"head {h}" if n_heads > 1 else title, fontsize=11)
        if h + ncols >= n_heads:  # the lowest panel of its column
            ax.set_xlabel("key (looked at)")
        if h % ncols == 0:
            ax.set_ylabel("query (looking)")
    figure.colorbar(image, ax=axes.ravel().tolist(), label="weight", shrink=0.8)
    if n_heads > 1:
        figure.suptitle(title)
    return save(figure, path)
