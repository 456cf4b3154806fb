"""Regression scores: how far predicted numbers are from the true ones."""

from __future__ import annotations

import numpy as np

from theta.validation import check_consistent_length


def _pair(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    check_consistent_length(y_true, y_pred)
    return y_true, y_pred


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
