"""Hyperparameter searches over ``get_params``/``set_params``: one tool for every knob.

A search clones its estimator for every trial, sets one candidate's hyperparameters and fits
it on one fold, so it works unchanged for every theta estimator, every RL agent (whose
"folds" are independent seeded runs), kNN index knobs and scikit-learn's estimators alike.
``fit`` checks the whole space first (names, values, ranges), then runs the trials through
:func:`theta.tune.backends.run_tasks`, then refits the best candidate on all the data.

Everything random is drawn here, before any trial runs (candidates, folds, agents' seeds), and
results are filed by trial number, so the same ``random_state`` gives the same ``cv_results_``
for any ``n_jobs`` and backend.
"""

from __future__ import annotations

import numbers
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from theta.errors import NotFittedError
from theta.params import Params, clone
from theta.progress import progress_bar
from theta.rl import Agent
from theta.rng import check_random_state
from theta.tune import results as _results
from theta.tune.backends import (
    TimedOut,
    WorkerDied,
    can_stop_here,
    check_backend,
    check_timeout,
    effective_n_jobs,
    run_tasks,
)
from theta.tune.scoring import check_scoring
from theta.tune.spaces import ParameterGrid, ParameterSampler, check_param_names
from theta.tune.split import check_cv
from theta.tune.storage import TrialStore
from theta.tune.trials import AgentTrials, EstimatorTrials, Task, make_env, run_task
from theta.validation import (
    Interval,
    Options,
    check_consistent_length,
    check_param,
    validate_params,
)

__all__ = ["BaseSearch", "GridSearch", "RandomSearch", "is_classifier"]

_AGENT_FIT_PARAMS = ("total_steps", "episodes", "eval_episodes")


def is_classifier(estimator: Any) -> bool:
    """True for a classifier (theta's ``_estimator_type`` or scikit-learn's tags)."""
    kind = getattr(estimator, "_estimator_type", None)
    if kind is None and hasattr(estimator, "__sklearn_tags__"):
        try:
            kind = estimator.__sklearn_tags__().estimator_type
        except Exception:  # noqa: BLE001 - no tags means no claim to be a classifier
            kind = None
    return kind == "classifier"


class BaseSearch(Params):
    """What every search shares: checks, trials, storage, ``cv_results_``, best and refit.

    Subclasses define ``_space_names()`` (check the space, return the searched names) and
    ``_run_search(evaluate)``, which calls ``evaluate(candidates, resource=None)`` once or
    more and gets each candidate's mean test score back.

    Examples
    --------
    >>> from theta.tune import BaseSearch, GridSearch, RandomSearch
    >>> issubclass(GridSearch, BaseSearch), issubclass(RandomSearch, BaseSearch)
    (True, True)
    """

    _extra_names: tuple[str, ...] = ()  # names searched besides the estimator's parameters
    # what only one fit uses (its trials, records, bar), dropped when fit returns or raises
    _run_names: tuple[str, ...] = ("_trials", "_store", "_bar", "_metrics", "_refit_metric",
                                   "_candidates", "_records", "_extra")  # fmt: skip

    def __init__(
        self,
        estimator: Any,
        *,
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
        self.estimator = estimator
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.n_jobs = n_jobs
        self.backend = backend
        self.scheduler = scheduler
        self.random_state = random_state
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.max_retries = max_retries
        self.timeout = timeout
        self.progress = progress
        self.storage = storage

    # --- hooks ------------------------------------------------------------------------------

    def _space_names(self) -> set[str]:
        raise NotImplementedError

    def _run_search(self, evaluate: Callable[..., np.ndarray]) -> None:
        raise NotImplementedError

    def _best_candidates(self) -> np.ndarray:
        """The candidates eligible to be best (successive halving: the last rung's)."""
        return np.arange(len(self._candidates))

    # --- fit ------------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> BaseSearch:
        """Run every trial, fill ``cv_results_`` and refit the best candidate on all the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or an environment for an agent
            For an RL agent: a Gymnasium id (``"FrozenLake-v1"``), a picklable factory
            returning an environment, or a (picklable) environment.
        y : array-like of shape (n_samples,), optional
        **fit_params
            Passed to every ``fit``; for an agent: ``total_steps`` and/or ``episodes`` (the
            budget of each run) and ``eval_episodes`` (default 10).

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            Before any trial: an empty or malformed space, an unknown parameter name (with
            the closest valid one), a bad ``scoring``, ``cv``, ``backend`` or ``refit``.
        """
        names = self._space_names()
        check_backend(self.backend, self.n_jobs, self.scheduler, caller=self)
        self._check_settings()
        if isinstance(self.estimator, Agent):
            trials, n_splits = self._agent_trials(X, fit_params)
            metrics, multimetric = ["score"], False
        else:
            trials, n_splits, metrics, multimetric = self._estimator_trials(X, y, fit_params)
        check_param_names(self.estimator, names, extra=self._extra_names)
        if multimetric and self.refit is not False and self.refit not in metrics:
            raise ValueError(
                f"For multi-metric scoring, refit must be the name of one scorer ({metrics}) "
                f"or False; got {self.refit!r}."
            )
        self._trials, self._metrics = trials, metrics
        self._refit_metric = (
            self.refit if multimetric and isinstance(self.refit, str) else metrics[0]
        )
        self._store = (
            None
            if self.storage is None
            else TrialStore(
                self.storage,
                trials.fingerprint(),
                metrics=metrics,
                train=self.return_train_score and not isinstance(self.estimator, Agent),
            )
        )
        self._candidates: list[dict[str, Any]] = []
        self._records: dict[tuple[int, int], dict[str, Any]] = {}
        self._extra: dict[str, list[Any]] = {}
        self.n_trials_run_ = 0
        self.n_splits_ = n_splits
        self.multimetric_ = multimetric
        self._bar = progress_bar(None, unit="fit", enabled=self.progress)
        if self._bar is not None:  # sizing a search's space costs something: only for a bar
            total = self._n_candidates()
            self._bar.reset(total=total and total * n_splits)
        try:
            try:
                self._run_search(self._evaluate)
            finally:
                if self._bar is not None:
                    self._bar.close()
                self._trials = self._store = self._bar = None  # the data, the folder, the bar
            self.cv_results_ = _results.build_cv_results(
                self._candidates,
                self._records,
                n_splits,
                metrics,
                multimetric=multimetric,
                return_train_score=self.return_train_score,
                extra=self._extra,
            )
            self._choose_best(self._refit_metric if multimetric else "score")
            if self.refit is not False:
                self._refit(X, y, fit_params)
        finally:
            for name in self._run_names:  # a fitted search holds its results, so theta.io saves it
                vars(self).pop(name, None)
        return self

    def _n_candidates(self) -> int | None:
        """How many candidates the search will try, for the progress bar (None: unknown)."""
        return None

    def _evaluate(
        self,
        candidates: Sequence[dict[str, Any]],
        resource: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> np.ndarray:
        """Run ``candidates`` on every fold (at budget ``resource``); file their records and
        ``extra`` columns; return each one's mean test score (NaN if it failed)."""
        first, n_splits, store = len(self._candidates), self.n_splits_, self._store
        tasks = [
            Task(first + c, dict(p), k, resource)
            for c, p in enumerate(candidates)
            for k in range(n_splits)
        ]
        todo = []
        for task in tasks:
            stored = store.load(task) if store is not None else None
            if stored is None:
                todo.append(task)
            else:
                self._records[task.candidate, task.fold] = stored
        if self._bar is not None:
            self._bar.update(len(tasks) - len(todo))
        self.n_trials_run_ += len(todo)
        runs = run_tasks(
            run_task,
            self._trials,
            todo,
            n_jobs=self.n_jobs,
            backend=self.backend,
            scheduler=self.scheduler,
            max_retries=self.max_retries,
            timeout=self.timeout,
            progress=False,
        )
        for j, result in runs:
            task = todo[j]
            if isinstance(result, WorkerDied | TimedOut):  # not stored: a restart retries it
                if self.error_score == "raise":
                    error = TimeoutError if isinstance(result, TimedOut) else RuntimeError
                    raise error(f"trial {task}: {result.message}")
                result = _results.failed_record(
                    self._metrics, self.error_score, result.message, self.return_train_score
                )
            elif store is not None:
                store.save(task, result)
            self._records[task.candidate, task.fold] = result
            if self._bar is not None:
                self._bar.update()
        self._candidates.extend(dict(p) for p in candidates)
        for key, value in (extra or {}).items():
            self._extra.setdefault(key, []).extend([value] * len(candidates))
        rows = [
            [self._records[first + c, k] for k in range(n_splits)] for c in range(len(candidates))
        ]
        return np.array(
            [
                np.nan
                if any(r["error"] for r in row)
                else np.mean([r["test"][self._refit_metric] for r in row])
                for row in rows
            ]
        )

    _parameter_constraints: dict[str, list[Any]] = {
        "error_score": [Options({"raise"}), numbers.Real],  # NaN allowed: a failed trial's score
        "max_retries": [Interval(numbers.Integral, 0, None)],
        "refit": ["boolean", str],
    }

    def _check_settings(self) -> None:
        validate_params(self, self._parameter_constraints)
        check_timeout(self.timeout, caller=self)
        here = self.backend == "loky" and effective_n_jobs(self.n_jobs) == 1
        if self.timeout is not None and here and not can_stop_here():
            warnings.warn(
                f"timeout={self.timeout!r} is not enforced for trials run in this thread "
                "(it needs the main thread, on POSIX); use n_jobs=2 or more to enforce it.",
                UserWarning,
                stacklevel=3,
            )

    def _estimator_trials(self, X: Any, y: Any, fit_params: dict[str, Any]) -> tuple:
        if isinstance(X, list | tuple):
            X = np.asarray(X)
        if isinstance(y, list | tuple):
            y = np.asarray(y)
        check_consistent_length(X, y)
        scorers, multimetric = check_scoring(self.estimator, self.scoring)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y))
        trials = self._make_estimator_trials(X, y, splits, scorers, fit_params)
        return trials, len(splits), list(scorers), multimetric

    def _make_estimator_trials(
        self, X: Any, y: Any, splits: list, scorers: dict, fit_params: dict[str, Any]
    ) -> EstimatorTrials:
        return EstimatorTrials(
            self.estimator,
            X,
            y,
            splits,
            scorers,
            fit_params=fit_params,
            return_train_score=self.return_train_score,
            error_score=self.error_score,
        )

    def _agent_trials(self, env: Any, fit_params: dict[str, Any]) -> tuple[AgentTrials, int]:
        unknown = set(fit_params) - set(_AGENT_FIT_PARAMS)
        if unknown:
            raise TypeError(
                f"fit for an agent takes {', '.join(_AGENT_FIT_PARAMS)}; got {sorted(unknown)}."
            )
        if self.scoring is not None:
            raise ValueError(
                "An agent is scored by its mean evaluation return; leave scoring=None."
            )
        if not (isinstance(env, str) or callable(env) or hasattr(env, "reset")):
            raise TypeError(
                "For an agent, pass the environment as an id such as 'FrozenLake-v1', a "
                f"picklable function that returns one, or an environment; got {env!r}."
            )
        n_runs = self.cv
        if isinstance(n_runs, bool) or not isinstance(n_runs, int) or n_runs < 1:
            raise ValueError(
                f"For an agent, cv is the number of seeded runs (an int >= 1); got {n_runs!r}."
            )
        budget = {k: fit_params.get(k) for k in ("total_steps", "episodes")}
        if (
            budget["total_steps"] is None
            and budget["episodes"] is None
            and not (self._extra_names and getattr(self, "resource", None) in budget)
        ):
            raise ValueError("fit for an agent needs total_steps= or episodes= (its budget).")
        seeds = check_random_state(self.random_state).integers(2**31 - 2, size=n_runs)
        trials = AgentTrials(
            self.estimator,
            env,
            seeds,
            **budget,
            eval_episodes=fit_params.get("eval_episodes", 10),
            error_score=self.error_score,
            resource=getattr(self, "resource", None),
        )
        return trials, n_runs

    def _choose_best(self, suffix: str) -> None:
        errors = self.cv_results_["error"]
        self.failed_trials_ = [(i, self._candidates[i], e) for i, e in enumerate(errors) if e]
        n = len(self._candidates)
        if self.failed_trials_:
            first = self.failed_trials_[0]
            warnings.warn(
                f"{len(self.failed_trials_)} of {n} candidates failed (see failed_trials_); "
                f"candidate {first[0]}: {first[2]}",
                UserWarning,
                stacklevel=3,
            )
        pool = [i for i in self._best_candidates() if not errors[i]]
        if not pool:
            raise ValueError(
                f"All {n} candidates failed; the first error was: {self.failed_trials_[0][2]}"
            )
        if self.refit is False and self.multimetric_:
            return
        ranks = np.asarray(self.cv_results_[f"rank_test_{suffix}"])
        self.best_index_ = int(min(pool, key=lambda i: (ranks[i], i)))
        self.best_params_ = dict(self._candidates[self.best_index_])
        self.best_score_ = float(self.cv_results_[f"mean_test_{suffix}"][self.best_index_])

    def _refit(self, X: Any, y: Any, fit_params: dict[str, Any]) -> None:
        started = time.perf_counter()
        params = dict(self.best_params_)
        if isinstance(self.estimator, Agent):
            budget = {k: fit_params.get(k) for k in ("total_steps", "episodes")}
            if "iter" in self._extra and self.resource in budget:
                budget[self.resource] = int(self._extra["n_resources"][self.best_index_])
            params.setdefault(
                "random_state", int(check_random_state(self.random_state).integers(2**31 - 2))
            )
            model = clone(self.estimator).set_params(**params)
            model.learn(make_env(X), **budget, progress=False)
        else:
            if "iter" in self._extra and self.resource != "n_samples":
                params[self.resource] = int(self._extra["n_resources"][self.best_index_])
            model = clone(self.estimator).set_params(**params)
            model.fit(X, **fit_params) if y is None else model.fit(X, y, **fit_params)
        self.refit_time_ = time.perf_counter() - started
        self.best_estimator_ = model

    # --- using the result -----------------------------------------------------------------------

    def _check_fitted(self, attribute: str = "cv_results_") -> None:
        if not hasattr(self, attribute):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def predict(self, X: Any) -> Any:
        """``best_estimator_.predict(X)`` (needs ``refit``)."""
        self._check_fitted("best_estimator_")
        return self.best_estimator_.predict(X)

    def score(self, X: Any, y: Any = None) -> float:
        """``best_estimator_.score(X, y)`` (needs ``refit``)."""
        self._check_fitted("best_estimator_")
        return self.best_estimator_.score(X, y)

    def leaderboard(self, top: int = 10) -> str:
        """The ``top`` candidates by rank as text (see ``theta.tune.results.leaderboard``)."""
        return _results.leaderboard(self.cv_results_, metric=self._ranked_metric(), top=top)

    def _repr_html_(self) -> str:
        """A notebook's view of a fitted search: the leaderboard as an HTML table."""
        return _results.leaderboard_html(self.cv_results_, metric=self._ranked_metric())

    def _ranked_metric(self) -> str:
        """The metric the leaderboard ranks by: the refit one, else the first (or "score")."""
        self._check_fitted()
        if not self.multimetric_:
            return "score"
        if isinstance(self.refit, str):
            return self.refit
        return next(k[len("rank_test_") :] for k in self.cv_results_ if k.startswith("rank_test_"))

    def to_csv(self, path: Any) -> None:
        """Write ``cv_results_`` to ``path`` as CSV (atomically), one row per candidate."""
        self._check_fitted()
        _results.write_csv(self.cv_results_, path)


class GridSearch(BaseSearch):
    """Every combination of a grid of hyperparameter values (scikit-learn's ``GridSearchCV``).

    Parameters
    ----------
    estimator : estimator or agent
        Anything with ``get_params``/``set_params`` and ``fit`` (or a theta RL agent).
    param_grid : dict or list of dict
        Name to a list of values; a list of such grids is searched grid after grid.
    scoring : None, str, callable, list or dict, default=None
        ``None`` uses ``estimator.score``; see :func:`theta.tune.scoring.check_scoring`.
    cv : int, splitter or iterable of (train, test), default=5
        ``StratifiedKFold`` for classifiers, else ``KFold``; for an agent, the number of
        independently seeded runs.
    refit : bool or str, default=True
        Refit the best candidate on all data as ``best_estimator_`` (with several scorers,
        the name of the one that decides).
    n_jobs : int, optional
        Local worker processes (joblib's loky); ``None`` runs trials in this process.
    backend : {"loky", "dask"}, default="loky"
    scheduler : str or distributed.Client, optional
        With ``backend="dask"``, the scheduler's address (``"tcp://host:8786"``).
    random_state : None, int or Generator
        Seeds what the search draws (agents' runs; random candidates).
    error_score : "raise" or float, default=nan
        The score of a trial that raises; ``"raise"`` stops the search instead.
    return_train_score : bool, default=False
    max_retries : int, default=1
        Extra runs of a trial whose worker process died.
    timeout : float, optional
        Seconds a trial (one candidate on one fold) may run; one still running then is
        stopped and recorded as failed ("timed out after N s"), and the search goes on.
        Enforced for every backend: in this process (main thread, POSIX) and on local
        workers by a timer that interrupts the trial, with the worker killed and replaced
        if the trial ignores it; on Dask the task is cancelled (its thread runs on).
        Timed-out trials are not kept in ``storage``: a restart runs them again.
    progress : bool, optional
        A progress bar over trials (default: when stderr is a terminal).
    storage : str or path-like, optional
        A folder keeping one JSON file per finished trial; running again resumes.

    Attributes
    ----------
    cv_results_ : dict of columns
        See :mod:`theta.tune.results`.
    best_index_, best_params_, best_score_, best_estimator_, refit_time_, n_splits_
        As in scikit-learn; failed candidates are never best.
    failed_trials_ : list of (int, dict, str)
        Candidate number, hyperparameters and error of each failed candidate.
    n_trials_run_ : int
        Trials (candidate × fold) actually run by this ``fit`` (not read from ``storage``).

    Examples
    --------
    >>> from theta.data import load_iris
    >>> from theta.estimators import KNeighborsClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearch(KNeighborsClassifier(), {"n_neighbors": [1, 5]}, cv=3).fit(X, y)
    >>> search.best_params_, round(search.best_score_, 3)
    ({'n_neighbors': 5}, 0.973)
    """

    def __init__(
        self,
        estimator: Any,
        param_grid: Any,
        *,
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
        self.param_grid = param_grid

    def _space_names(self) -> set[str]:
        return ParameterGrid(self.param_grid).names()

    def _n_candidates(self) -> int:
        return len(ParameterGrid(self.param_grid))

    def _run_search(self, evaluate: Callable[..., np.ndarray]) -> None:
        evaluate(list(ParameterGrid(self.param_grid)))


class RandomSearch(BaseSearch):
    """``n_iter`` candidates drawn from distributions (scikit-learn's ``RandomizedSearchCV``).

    ``param_distributions`` maps names to a :class:`~theta.tune.spaces.Distribution`
    (``Uniform``, ``LogUniform``, ``IntUniform``, ``Choice``) or a list (drawn uniformly);
    a list of such dicts picks one at random per candidate. Other parameters: see
    :class:`GridSearch`. The candidates depend only on ``random_state``.

    Examples
    --------
    >>> from theta.data import load_diabetes
    >>> from theta.estimators import Ridge
    >>> from theta.tune.spaces import LogUniform
    >>> X, y = load_diabetes(return_X_y=True)
    >>> search = RandomSearch(Ridge(), {"alpha": LogUniform(1e-3, 1e2)}, n_iter=5, cv=3,
    ...                       random_state=0).fit(X, y)
    >>> len(search.cv_results_["params"]), search.best_score_ > 0.4
    (5, True)
    """

    def __init__(
        self,
        estimator: Any,
        param_distributions: Any,
        *,
        n_iter: int = 10,
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
        self.param_distributions = param_distributions
        self.n_iter = n_iter

    def _sampler(self) -> ParameterSampler:
        check_param(self.n_iter, "n_iter", Interval(numbers.Integral, 1, None), caller=self)
        return ParameterSampler(
            self.param_distributions, self.n_iter, random_state=self.random_state
        )

    def _space_names(self) -> set[str]:
        return self._sampler().names()

    def _n_candidates(self) -> int:
        return len(self._sampler())

    def _run_search(self, evaluate: Callable[..., np.ndarray]) -> None:
        evaluate(list(self._sampler()))
