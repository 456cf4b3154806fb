"""Successive halving: try every candidate on a small budget, keep the best ``1/factor``, give
the survivors ``factor`` times the budget, and repeat until one rung uses the full budget.

The budget ("resource") is the number of training samples, or any integer hyperparameter
(``max_iter``, ``epochs``), or an RL agent's ``total_steps``/``episodes``. Most of the budget
goes to the candidates that deserve it, so a clear winner is found for a fraction of a full
grid's cost (``budget_used_`` says how much).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from theta.rl import Agent
from theta.rng import check_random_state
from theta.tune.search import BaseSearch, is_classifier
from theta.tune.spaces import (
    Distribution,
    ParameterGrid,
    ParameterSampler,
    _as_list,
    check_param_names,
)
from theta.tune.trials import EstimatorTrials
from theta.validation import Interval, Options, validate_params, violation

__all__ = ["SuccessiveHalving"]

_AGENT_BUDGETS = ("total_steps", "episodes")


class SuccessiveHalving(BaseSearch):
    """Successive halving over a grid or sampled candidates (scikit-learn's
    ``HalvingGridSearchCV`` and ``HalvingRandomSearchCV`` in one).

    The parameters not listed here are those of :class:`theta.tune.GridSearch`.

    Parameters
    ----------
    estimator : estimator or agent
    param_space : dict or list of dict
        A grid (every value a list: all its points are candidates) or distributions (then
        ``n_candidates`` are drawn).
    resource : str, default="n_samples"
        What the budget counts: ``"n_samples"`` (each training fold uses that share of the
        data), an integer hyperparameter of the estimator, or an agent's ``"total_steps"``
        or ``"episodes"``.
    min_resources : int, "exhaust" or "smallest", default="exhaust"
        The first rung's budget. "exhaust": as large as lets the last rung use
        ``max_resources``; "smallest": ``2 * n_splits`` (times the classes for a
        classifier) samples, or 1.
    max_resources : int or "auto", default="auto"
        The largest budget: the number of samples; an agent's budget given to ``fit``; the
        estimator's current value of the hyperparameter.
    factor : float > 1, default=3
        Each rung keeps ``ceil(n / factor)`` candidates and multiplies the budget by it.
    n_candidates : int, optional
        Candidates to draw when ``param_space`` has distributions.

    Attributes
    ----------
    budget_used_ : int
        The sum of the budget of every trial (candidate × fold × rung).
    n_resources_, n_candidates_ : list of int
        Budget and number of candidates of each rung.
    n_iterations_ : int
    cv_results_ : dict
        One row per candidate per rung, with ``iter`` and ``n_resources``; the best is
        chosen among the last rung's candidates.

    Examples
    --------
    >>> from theta.data import load_iris
    >>> from theta.estimators import KNeighborsClassifier
    >>> from theta.tune import SuccessiveHalving
    >>> X, y = load_iris(return_X_y=True)
    >>> search = SuccessiveHalving(KNeighborsClassifier(), {"n_neighbors": [1, 5, 15]}, cv=3,
    ...                            random_state=0).fit(X, y)
    >>> search.best_params_
    {'n_neighbors': 1}
    """

    _run_names = (*BaseSearch._run_names, "_last_rung")

    def __init__(
        self,
        estimator: Any,
        param_space: Any,
        *,
        resource: str = "n_samples",
        min_resources: int | str = "exhaust",
        max_resources: int | str = "auto",
        factor: float = 3,
        n_candidates: int | None = None,
        scoring: Any = None,
        cv: Any = 5,
        refit: bool | str = True,
        n_jobs: int | None = None,
        backend: str = "loky",
        scheduler: Any = None,
        random_state: Any = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        max_retries: int = 1,
        timeout: float | None = None,
        progress: bool | None = None,
        storage: Any = None,
    ) -> None:
        super().__init__(
            estimator,
            scoring=scoring,
            cv=cv,
            refit=refit,
            n_jobs=n_jobs,
            backend=backend,
            scheduler=scheduler,
            random_state=random_state,
            error_score=error_score,
            return_train_score=return_train_score,
            max_retries=max_retries,
            timeout=timeout,
            progress=progress,
            storage=storage,
        )
        self.param_space = param_space
        self.resource = resource
        self.min_resources = min_resources
        self.max_resources = max_resources
        self.factor = factor
        self.n_candidates = n_candidates

    @property
    def _extra_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.resource,) if self._is_budget() else ()

    def _is_budget(self) -> bool:
        return isinstance(self.estimator, Agent) and self.resource in _AGENT_BUDGETS

    def _space(self) -> ParameterGrid | ParameterSampler:
        spaces = _as_list(self.param_space, "param_space")
        if not any(isinstance(v, Distribution) for s in spaces for v in s.values()):
            return ParameterGrid(spaces, what="param_space")
        if isinstance(self.n_candidates, bool) or not isinstance(self.n_candidates, int):
            raise ValueError(
                "param_space has distributions, so n_candidates (how many to draw, an int >= 1) "
                f"is needed; got {self.n_candidates!r}."
            )
        return ParameterSampler(
            spaces, self.n_candidates, random_state=self.random_state, what="param_space"
        )

    def _space_names(self) -> set[str]:
        names = self._space().names()
        if self.resource in names:
            raise ValueError(
                f"Cannot use parameter {self.resource!r} as the resource since it is part of "
                "the searched parameters."
            )
        return names

    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> SuccessiveHalving:
        """Run the rungs (see ``BaseSearch.fit``); the schedule is checked before any trial."""
        self._schedule(X, y, fit_params)
        return super().fit(X, y, **fit_params)  # type: ignore[return-value]

    _schedule_constraints = {
        "resource": [str],
        "factor": [Interval(numbers.Real, 1, None, closed="neither")],
        "min_resources": [Interval(numbers.Integral, 1, None), Options({"exhaust", "smallest"})],
        "max_resources": [Interval(numbers.Integral, 1, None), Options({"auto"})],
    }

    def _schedule(self, X: Any, y: Any, fit_params: dict[str, Any]) -> None:
        validate_params(self, self._schedule_constraints)
        self._space_names()  # the resource may not be searched too
        if self.resource != "n_samples" and not self._is_budget():
            check_param_names(self.estimator, {self.resource})
        n_candidates = len(self._space())
        agent = isinstance(self.estimator, Agent)
        if self.resource == "n_samples" and agent:
            raise ValueError(f"An agent's resource is one of {_AGENT_BUDGETS} or a hyperparameter.")
        if self.resource == "n_samples":
            auto_max = len(X)
        elif self._is_budget():
            auto_max = fit_params.get(self.resource)
        else:
            auto_max = self.estimator.get_params(deep=True).get(self.resource)
        max_r = auto_max if self.max_resources == "auto" else self.max_resources
        why = violation(max_r, Interval(numbers.Integral, 1, None))
        if why is not None:  # only 'auto' gets here: the value it takes is not a count
            raise ValueError(
                f"max_resources='auto' takes the value of {self.resource!r}, which {why}"
            )
        smallest = 1
        if self.resource == "n_samples":
            n_splits = check_cv_n_splits(self.cv)
            n_classes = len(np.unique(y)) if is_classifier(self.estimator) and y is not None else 1
            smallest = 2 * n_splits * n_classes
        required = 1 + _floor_log(n_candidates, self.factor)
        if self.min_resources == "exhaust":
            min_r = max(smallest, int(max_r // self.factor ** (required - 1)))
        elif self.min_resources == "smallest":
            min_r = smallest
        else:
            min_r = self.min_resources
        if min_r > max_r:
            raise ValueError(
                f"min_resources_={min_r} is greater than max_resources_={max_r}; lower "
                "min_resources or raise max_resources."
            )
        self.min_resources_, self.max_resources_ = int(min_r), int(max_r)
        self.n_iterations_ = min(required, 1 + _floor_log(max_r // min_r, self.factor))
        self.n_resources_ = [
            min(int(self.factor**i * min_r), int(max_r)) for i in range(self.n_iterations_)
        ]

    def _make_estimator_trials(
        self, X: Any, y: Any, splits: list, scorers: dict, fit_params: dict[str, Any]
    ) -> EstimatorTrials:
        orders = None
        if self.resource == "n_samples":
            rng = check_random_state(self.random_state)
            labels = np.asarray(y) if is_classifier(self.estimator) and y is not None else None
            orders = [_interleaved(rng.permutation(train), labels) for train, _ in splits]
        return EstimatorTrials(
            self.estimator,
            X,
            y,
            splits,
            scorers,
            fit_params=fit_params,
            return_train_score=self.return_train_score,
            error_score=self.error_score,
            resource=self.resource,
            orders=orders,
        )

    def _n_candidates(self) -> int:
        sizes = [len(self._space())]
        while len(sizes) < self.n_iterations_:
            sizes.append(math.ceil(sizes[-1] / self.factor))
        return sum(sizes)

    def _run_search(self, evaluate: Callable[..., np.ndarray]) -> None:
        candidates = list(self._space())
        self.n_candidates_: list[int] = []
        self._last_rung = np.arange(0)
        self.budget_used_ = 0
        first = 0
        for i, n_resources in enumerate(self.n_resources_):
            self.n_candidates_.append(len(candidates))
            scores = evaluate(candidates, n_resources, {"iter": i, "n_resources": n_resources})
            self.budget_used_ += n_resources * len(candidates) * self.n_splits_
            self._last_rung = np.arange(first, first + len(candidates))
            first += len(candidates)
            keep = math.ceil(len(candidates) / self.factor)
            # best first; failed (NaN) last; ties to the earlier candidate
            order = sorted(
                range(len(candidates)),
                key=lambda c: (np.isnan(scores[c]), -np.nan_to_num(scores[c]), c),
            )
            candidates = [candidates[c] for c in order[:keep]]

    def _best_candidates(self) -> np.ndarray:
        return self._last_rung


def check_cv_n_splits(cv: Any) -> int:
    """How many folds ``cv`` will give (for the smallest sensible sample budget)."""
    if cv is None:
        return 5
    if isinstance(cv, numbers.Integral):
        return int(cv)
    if hasattr(cv, "get_n_splits"):
        return int(cv.get_n_splits())
    return len(list(cv))


def _floor_log(n: float, base: float) -> int:
    """``floor(log(n, base))`` without floating-point surprises at exact powers."""
    k = 0
    while base ** (k + 1) <= n:
        k += 1
    return k


def _interleaved(order: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """``order`` rearranged so that every prefix keeps the classes' proportions."""
    if labels is None:
        return order
    y = labels[order]
    position = np.zeros(len(order))
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        position[members] = (np.arange(len(members)) + 0.5) / len(members)
    return order[np.argsort(position, kind="stable")]
