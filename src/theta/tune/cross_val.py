"""Cross-validation of one configuration: fit and score a clone on every fold.

``cross_validate`` returns scikit-learn's dict of arrays (``fit_time``, ``score_time``,
``test_<name>``, ``train_<name>``); its folds run through the same backends as the searches.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theta.tune.backends import WorkerDied, check_backend, run_tasks
from theta.tune.results import failed_record
from theta.tune.scoring import check_scoring
from theta.tune.search import is_classifier
from theta.tune.split import check_cv
from theta.tune.trials import EstimatorTrials, Task, run_task
from theta.validation import check_consistent_length

__all__ = ["cross_val_score", "cross_validate"]


def cross_validate(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    cv: Any = 5,
    scoring: Any = None,
    n_jobs: int | None = None,
    backend: str = "loky",
    scheduler: Any = None,
    fit_params: dict[str, Any] | None = None,
    return_train_score: bool = False,
    error_score: Any = np.nan,
    progress: bool | None = False,
) -> dict[str, np.ndarray]:
    """Fit and score ``estimator`` on each fold of ``cv`` (scikit-learn's ``cross_validate``).

    Parameters
    ----------
    estimator : estimator
        Cloned for each fold; not fitted itself.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), optional
    cv : int, splitter or iterable of (train, test), default=5
        An int means ``StratifiedKFold`` for a classifier, else ``KFold``.
    scoring : None, str, callable, list or dict
        See :func:`theta.tune.scoring.check_scoring`; several give ``test_<name>`` each.
    n_jobs, backend, scheduler
        Where the folds run (see :class:`theta.tune.GridSearch`).
    fit_params : dict, optional
        Passed to every ``fit``.
    return_train_score : bool, default=False
    error_score : "raise" or float, default=nan
        The score of a fold whose fit or scoring raises.

    Returns
    -------
    dict of ndarray of shape (n_splits,)
        ``fit_time``, ``score_time``, ``test_score`` (or ``test_<name>``), and the train
        scores when asked.

    Examples
    --------
    >>> from theta.data import load_iris
    >>> from theta.estimators import KNeighborsClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> result = cross_validate(KNeighborsClassifier(), X, y, cv=3, scoring=["accuracy"])
    >>> sorted(result), result["test_accuracy"].shape
    (['fit_time', 'score_time', 'test_accuracy'], (3,))
    """
    check_backend(backend, n_jobs, scheduler)
    if isinstance(X, list | tuple):
        X = np.asarray(X)
    if isinstance(y, list | tuple):
        y = np.asarray(y)
    check_consistent_length(X, y)
    scorers, multimetric = check_scoring(estimator, scoring)
    splits = list(check_cv(cv, y, classifier=is_classifier(estimator)).split(X, y))
    trials = EstimatorTrials(
        estimator,
        X,
        y,
        splits,
        scorers,
        fit_params=fit_params,
        return_train_score=return_train_score,
        error_score=error_score,
    )
    tasks = [Task(0, {}, k) for k in range(len(splits))]
    records: list[dict[str, Any]] = [{}] * len(tasks)
    for i, result in run_tasks(
        run_task,
        trials,
        tasks,
        n_jobs=n_jobs,
        backend=backend,
        scheduler=scheduler,
        progress=progress,
        desc="folds",
    ):
        if isinstance(result, WorkerDied):
            result = failed_record(list(scorers), error_score, result.message, return_train_score)
        records[i] = result
    out = {key: np.array([r[key] for r in records]) for key in ("fit_time", "score_time")}
    for name in scorers:
        suffix = name if multimetric else "score"
        out[f"test_{suffix}"] = np.array([r["test"][name] for r in records])
        if return_train_score:
            out[f"train_{suffix}"] = np.array([r["train"][name] for r in records])
    return out


def cross_val_score(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    cv: Any = 5,
    scoring: Any = None,
    n_jobs: int | None = None,
    **options: Any,
) -> np.ndarray:
    """The test score of each fold (``cross_validate(...)["test_score"]``).

    Examples
    --------
    >>> from theta.data import load_diabetes
    >>> from theta.estimators import Ridge
    >>> X, y = load_diabetes(return_X_y=True)
    >>> cross_val_score(Ridge(), X, y, cv=4).shape
    (4,)
    """
    if scoring is not None and not (isinstance(scoring, str) or callable(scoring)):
        raise ValueError("cross_val_score takes one scorer; use cross_validate for several.")
    return cross_validate(estimator, X, y, cv=cv, scoring=scoring, n_jobs=n_jobs, **options)[
        "test_score"
    ]
