"""A regressor's predictions against the truth: how far, and where, it misses."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from theta import metrics
from theta.plot._figure import new_figure, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["predicted_vs_actual"]


def predicted_vs_actual(y_true: Any, y_pred: Any, path: str | Path | None = None, *,
                        title: str = "predicted vs actual") -> Figure:  # fmt: skip
    """Draw each sample's prediction against its true value, with the line of perfect fit.

    The regression counterpart of a confusion matrix: points on the diagonal are exact,
    points above it overestimate. A cloud that is flatter than the diagonal is a model that
    shrinks toward the mean; a curve is a trend it misses. R² and the RMSE (from
    :mod:`theta.metrics`) are appended to the title.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, 1)
        True and predicted targets, in the data's units.
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.
    title : str
        Name the run and the data shown, e.g. ``"diabetes · MLP (32,) · validation data"``.

    Returns
    -------
    matplotlib.figure.Figure
        The points are ``figure.axes[0].collections[0]`` (x true, y predicted); the line
        labelled ``"perfect prediction"`` is the diagonal.

    Raises
    ------
    ValueError
        If the targets are not one value per sample, differ in length, are empty or are
        not finite.

    Examples
    --------
    >>> figure = predicted_vs_actual([1.0, 2.0, 3.0], [1.5, 2.0, 2.5], title="toy")
    >>> figure.axes[0].collections[0].get_offsets().tolist()
    [[1.0, 1.5], [2.0, 2.0], [3.0, 2.5]]
    >>> figure.axes[0].get_title()
    'toy (R² 0.750, RMSE 0.408)'
    """
    y_true = _column("y_true", y_true)
    y_pred = _column("y_pred", y_pred)
    if len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(
            "predicted_vs_actual: y_true and y_pred need the same non-zero number of samples "
            f"(got {len(y_true)} and {len(y_pred)})."
        )
    r2 = metrics.r2_score(y_true, y_pred)
    rmse = math.sqrt(metrics.mean_squared_error(y_true, y_pred))
    low = float(min(y_true.min(), y_pred.min()))
    high = float(max(y_true.max(), y_pred.max()))
    margin = 0.05 * (high - low) or 1.0
    span = [low - margin, high + margin]
    figure, axes = new_figure(5.5, 5.0)
    ax = axes[0, 0]
    # fainter points as they grow many, so that dense regions still show as darker
    alpha = float(np.clip(30 / math.sqrt(len(y_true)), 0.15, 0.8))
    ax.scatter(y_true, y_pred, s=14, alpha=alpha, edgecolors="none", label="samples")
    ax.plot(span, span, "--", color="black", linewidth=1, label="perfect prediction")
    ax.set_xlim(span)
    ax.set_ylim(span)
    ax.set_aspect("equal")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title(f"{title} (R² {r2:.3f}, RMSE {rmse:.3g})")
    ax.legend(loc="upper left", fontsize="small")
    return save(figure, path)


def _column(name: str, y: Any) -> np.ndarray:
    """``y`` as a 1-D float array; a single-column 2-D array is accepted (a model's output)."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"predicted_vs_actual: {name} must have shape (n_samples,) or (n_samples, 1), one "
            f"target per sample (got {y.shape})."
        )
    if not np.isfinite(y).all():
        raise ValueError(f"predicted_vs_actual: {name} must be finite (it has NaN or inf).")
    return y
