"""Scores of predictions against the truth: plain functions on arrays, scikit-learn's names.

Higher is better for ``accuracy_score`` and ``r2_score``; lower for the errors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from theta.validation import check_consistent_length

__all__ = [
    "accuracy_score", "get_metric", "mean_absolute_error", "mean_squared_error", "r2_score",
]  # fmt: skip


def _pair(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    check_consistent_length(y_true, y_pred)
    return y_true, y_pred


def accuracy_score(y_true: object, y_pred: object) -> float:
    """Fraction of labels predicted exactly.

    Examples
    --------
    >>> accuracy_score([0, 1, 1], [0, 1, 0])
    0.6666666666666666
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def mean_squared_error(y_true: object, y_pred: object) -> float:
    """Mean of squared differences (the chapter's loss, as a score).

    Examples
    --------
    >>> mean_squared_error([1.0, 3.0], [2.0, 3.0])
    0.5
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean((np.asarray(y_true, float) - y_pred) ** 2))


def mean_absolute_error(y_true: object, y_pred: object) -> float:
    """Mean of absolute differences.

    Examples
    --------
    >>> mean_absolute_error([1.0, 3.0], [2.0, 3.0])
    0.5
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(np.asarray(y_true, float) - y_pred)))


def r2_score(y_true: object, y_pred: object) -> float:
    """Coefficient of determination: 1 is perfect, 0 predicts no better than the mean.

    A constant ``y_true`` scores 1.0 when predicted exactly and 0.0 otherwise, as in
    scikit-learn.

    Examples
    --------
    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    """
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = np.asarray(y_true, float)
    residual = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - y_true.mean(axis=0)) ** 2)
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1.0 - residual / total)


_METRICS: dict[str, Callable[[object, object], float]] = {
    "accuracy": accuracy_score,
    "mse": mean_squared_error,
    "mae": mean_absolute_error,
    "r2": r2_score,
}


def get_metric(
    metric: str | Callable[[object, object], float],
) -> Callable[[object, object], float]:
    """Return the metric function called ``metric`` (or ``metric`` itself if callable)."""
    if callable(metric):
        return metric
    if metric not in _METRICS:
        raise ValueError(
            f"get_metric: unknown metric {metric!r}; choose one of {', '.join(_METRICS)}."
        )
    return _METRICS[metric]
