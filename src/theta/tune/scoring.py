"""Scorers: ``scorer(estimator, X, y) -> float``, higher is better, as scikit-learn's.

A scoring name is a metric of :func:`theta.metrics.get_metric` (``"accuracy"``, ``"r2"``,
``"f1_macro"``, ...) or one of scikit-learn's scorer names (``"neg_mean_squared_error"``,
``"neg_log_loss"``, ...). Errors are negated so that a search always maximises:
``"mse"`` and ``"neg_mean_squared_error"`` both score ``-MSE``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from theta.metrics import get_metric, log_loss, mean_squared_error

__all__ = ["Scorer", "check_scoring"]

# scikit-learn's scorer names that differ from theta's metric names: (metric, sign, method)
_ALIASES: dict[str, tuple[str, int, str]] = {
    "neg_mean_squared_error": ("mse", -1, "predict"),
    "neg_mean_absolute_error": ("mae", -1, "predict"),
    "neg_root_mean_squared_error": ("rmse", -1, "predict"),
    "neg_log_loss": ("log_loss", -1, "predict_proba"),
    "mse": ("mse", -1, "predict"),
    "mae": ("mae", -1, "predict"),
}


def _rmse(y_true: Any, y_pred: Any) -> float:
    return math.sqrt(mean_squared_error(y_true, y_pred))


class Scorer:
    """``sign * metric(y, estimator.<method>(X))``; picklable, so it reaches worker processes.

    Examples
    --------
    >>> from theta.estimators import LinearRegression
    >>> X, y = [[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0]
    >>> Scorer("neg_mean_squared_error")(LinearRegression().fit(X, y), X, y) == 0.0
    True
    """

    def __init__(self, name: str) -> None:
        metric, self.sign, self.method = _ALIASES.get(name, (name, 1, "predict"))
        if metric == "rmse":
            self.metric: Callable[[Any, Any], float] = _rmse
        elif metric == "log_loss":
            self.metric = log_loss
        else:
            self.metric = get_metric(metric)
        self.name = name

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:
        return self.sign * float(self.metric(y, getattr(estimator, self.method)(X)))

    def __repr__(self) -> str:
        return f"Scorer({self.name!r})"


def _default_score(estimator: Any, X: Any, y: Any) -> float:
    return float(estimator.score(X, y))


def _one(scoring: Any) -> Callable[[Any, Any, Any], float]:
    if callable(scoring):
        return scoring
    if isinstance(scoring, str):
        try:
            return Scorer(scoring)
        except ValueError:
            names = sorted({*_ALIASES, "accuracy", "r2", "f1", "precision", "recall"})
            raise ValueError(
                f"scoring: unknown scorer {scoring!r}; use a metric name of "
                f"theta.metrics.get_metric, one of {names} (or their _macro/_micro/_weighted "
                "forms), or a callable(estimator, X, y)."
            ) from None
    raise TypeError(f"scoring: expected a name or a callable(estimator, X, y); got {scoring!r}.")


def check_scoring(estimator: Any, scoring: Any) -> tuple[dict[str, Callable], bool]:
    """The scorers for ``scoring`` by name, and whether there are several (multi-metric).

    ``None`` uses ``estimator.score`` (under the name ``"score"``); a name or callable is one
    scorer; a list of names or a dict ``{name: name or callable}`` are several.

    Raises
    ------
    ValueError, TypeError
        For an unknown name, an empty collection, or an estimator without ``score`` when
        ``scoring`` is None.

    Examples
    --------
    >>> from theta.estimators import Ridge
    >>> scorers, multi = check_scoring(Ridge(), ["r2", "neg_mean_squared_error"])
    >>> list(scorers), multi
    (['r2', 'neg_mean_squared_error'], True)
    """
    if scoring is None:
        if not hasattr(estimator, "score"):
            raise TypeError(
                f"If no scoring is specified, the estimator passed should have a 'score' method. "
                f"The estimator {estimator!r} does not."
            )
        return {"score": _default_score}, False
    if isinstance(scoring, str) or callable(scoring):
        return {"score": _one(scoring)}, False
    if isinstance(scoring, Mapping):
        scorers = {str(k): _one(v) for k, v in scoring.items()}
    elif isinstance(scoring, list | tuple | set):
        if not all(isinstance(s, str) for s in scoring):
            raise TypeError(f"scoring: a list of scorers must hold names only; got {scoring!r}.")
        if len(set(scoring)) != len(scoring):
            raise ValueError(f"scoring: the list {scoring!r} repeats a name.")
        scorers = {s: _one(s) for s in scoring}
    else:
        raise TypeError(
            f"scoring: expected None, a name, a callable, a list or a dict; got {scoring!r}."
        )
    if not scorers:
        raise ValueError("scoring: the collection of scorers is empty.")
    return scorers, True
