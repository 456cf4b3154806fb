"""Scores of predictions against the truth: plain functions on arrays, scikit-learn's names.

Higher is better for ``accuracy_score``, ``r2_score``, precision, recall, F1 and the
silhouette; lower for the errors and ``log_loss``. Each function follows scikit-learn's
definition, arguments and messages, so results agree with scikit-learn's to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from theta.metrics._classification import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    fbeta_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)
from theta.metrics._cluster import silhouette_samples, silhouette_score
from theta.metrics._probabilistic import log_loss
from theta.metrics._regression import mean_absolute_error, mean_squared_error, r2_score

__all__ = [
    "accuracy_score", "classification_report", "confusion_matrix", "f1_score", "fbeta_score",
    "get_metric", "log_loss", "mean_absolute_error", "mean_squared_error",
    "precision_recall_fscore_support", "precision_score", "r2_score", "recall_score",
    "silhouette_samples", "silhouette_score",
]  # fmt: skip

_METRICS: dict[str, Callable[[object, object], float]] = {
    "accuracy": accuracy_score,
    "mse": mean_squared_error,
    "mae": mean_absolute_error,
    "r2": r2_score,
    "precision": precision_score,
    "recall": recall_score,
    "f1": f1_score,
    **{
        f"{name}_{average}": partial(score, average=average)
        for name, score in (
            ("precision", precision_score),
            ("recall", recall_score),
            ("f1", f1_score),
        )
        for average in ("micro", "macro", "weighted")
    },  # fmt: skip
}


def get_metric(
    metric: str | Callable[[object, object], float],
) -> Callable[[object, object], float]:
    """Return the metric function called ``metric`` (or ``metric`` itself if callable).

    Examples
    --------
    >>> from theta.metrics import get_metric
    >>> accuracy = get_metric("accuracy")
    >>> accuracy.__name__, accuracy([0, 1, 1], [0, 1, 0])
    ('accuracy_score', 0.6666666666666666)
    """
    if callable(metric):
        return metric
    if metric not in _METRICS:
        raise ValueError(
            f"get_metric: unknown metric {metric!r}; choose one of {', '.join(_METRICS)}."
        )
    return _METRICS[metric]
