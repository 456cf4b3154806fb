"""One trial: fit a clone with one candidate's hyperparameters on one fold and score it.

A search turns its work into :class:`Task` s and hands them, with one shared trials object
(the estimator, the data, the splits, the scorers), to a backend. The trials object is
picklable and does all its work in ``__call__``, so the same code runs in this process, in a
joblib worker or on a Dask worker. Every exception of ``fit`` or of scoring becomes the
trial's ``error`` text and ``error_score`` (unless ``error_score="raise"``), so one bad
candidate never stops a search.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from theta.params import clone

__all__ = ["AgentTrials", "EstimatorTrials", "Task", "fit_and_score", "run_task"]


@dataclass(frozen=True)
class Task:
    """One candidate on one fold (at one budget, for successive halving)."""

    candidate: int
    params: dict[str, Any]
    fold: int
    resource: int | None = None


def run_task(trials: Callable[[Task], dict], task: Task) -> dict[str, Any]:
    """``trials(task)``: a module-level function, so that every backend can ship it."""
    return trials(task)


def describe(exc: BaseException) -> str:
    """``"ValueError: the message"`` on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def take(X: Any, rows: np.ndarray) -> Any:
    """Rows ``rows`` of ``X``: an array, a DataFrame, a sparse matrix or a list."""
    if X is None:
        return None
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    if hasattr(X, "shape"):
        return X[rows]
    return [X[i] for i in rows]


def _record(
    test: dict[str, float],
    train: dict[str, float] | None,
    fit_time: float,
    score_time: float,
    error: str,
) -> dict[str, Any]:
    if not error:
        bad = [k for k, v in test.items() if not math.isfinite(v)]
        if bad:
            error = f"the {bad[0]} score is {test[bad[0]]}"
    return {
        "test": test,
        "train": train,
        "fit_time": fit_time,
        "score_time": score_time,
        "error": error,
    }


def fit_and_score(
    estimator: Any,
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    scorers: dict[str, Callable],
    params: dict[str, Any],
    *,
    fit_params: dict[str, Any],
    return_train_score: bool,
    error_score: Any,
) -> dict[str, Any]:
    """Fit a clone of ``estimator`` with ``params`` on rows ``train``; score rows ``test``.

    Returns
    -------
    dict
        ``test`` and ``train`` scores by scorer name, ``fit_time``, ``score_time`` (seconds)
        and ``error`` (``""``, or what went wrong: an exception, or a non-finite score).
    """
    X_train, y_train = take(X, train), take(y, train)
    started = time.perf_counter()
    try:
        model = clone(estimator).set_params(**params)
        if y is None:
            model.fit(X_train, **fit_params)
        else:
            model.fit(X_train, y_train, **fit_params)
    except Exception as exc:
        if isinstance(error_score, str) and error_score == "raise":
            raise
        fit_time = time.perf_counter() - started
        failed = {name: float(error_score) for name in scorers}
        return _record(
            failed, dict(failed) if return_train_score else None, fit_time, 0.0, describe(exc)
        )
    fit_time = time.perf_counter() - started
    started = time.perf_counter()
    try:
        test_scores = _score(model, take(X, test), take(y, test), scorers)
        train_scores = _score(model, X_train, y_train, scorers) if return_train_score else None
    except Exception as exc:
        if isinstance(error_score, str) and error_score == "raise":
            raise
        failed = {name: float(error_score) for name in scorers}
        return _record(
            failed,
            dict(failed) if return_train_score else None,
            fit_time,
            time.perf_counter() - started,
            "while scoring: " + describe(exc),
        )
    return _record(test_scores, train_scores, fit_time, time.perf_counter() - started, "")


def _score(model: Any, X: Any, y: Any, scorers: dict[str, Callable]) -> dict[str, float]:
    return {name: float(scorer(model, X, y)) for name, scorer in scorers.items()}


def _digest(*parts: Any) -> str:
    """A SHA-256 of the full content of ``parts``, the same in every process.

    Arrays are hashed by dtype, shape and bytes (never by ``repr``, which NumPy shortens
    past 1,000 elements), estimators by class and every parameter (nested ones too),
    containers item by item, functions and classes by module, name and code, random
    generators by their state; anything else by ``repr``.

    Examples
    --------
    >>> a, b = np.zeros(2000), np.zeros(2000)
    >>> b[1234] = 1.0
    >>> repr(a) == repr(b), _digest(a) == _digest(b), _digest(a) == _digest(a.copy())
    (True, False, True)
    """
    h = hashlib.sha256()
    for part in parts:
        _feed(h, part, set())
    return h.hexdigest()


def _feed(h: Any, obj: Any, seen: set[int]) -> None:
    """Add the content of ``obj`` to the hash ``h`` (``seen``: the containers being fed,
    so that a cycle is named rather than followed)."""
    if obj is None or isinstance(obj, bool | int | float | complex | str | bytes):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
        return
    if isinstance(obj, np.generic):
        obj = np.asarray(obj)
    if id(obj) in seen:
        h.update(b"<cycle>;")
        return
    seen = seen | {id(obj)}
    if isinstance(obj, np.ndarray):
        h.update(f"ndarray:{obj.dtype.str}:{obj.shape};".encode())
        if obj.dtype.hasobject:
            for item in obj.ravel(order="C"):
                _feed(h, item, seen)
        else:
            h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, list | tuple | set | frozenset):
        items = sorted(obj, key=_digest) if isinstance(obj, set | frozenset) else obj
        h.update(f"{type(obj).__name__}:{len(items)};".encode())
        for item in items:
            _feed(h, item, seen)
    elif isinstance(obj, dict):
        h.update(f"dict:{len(obj)};".encode())
        for key in sorted(obj, key=_digest):
            _feed(h, key, seen)
            _feed(h, obj[key], seen)
    elif hasattr(obj, "get_params") and not isinstance(obj, type):
        # an estimator (theta's or scikit-learn's): its class and every parameter; a nested
        # estimator is fed the same way, so this covers get_params(deep=True) and more
        h.update(f"estimator:{_stable_name(type(obj))};".encode())
        _feed(h, obj.get_params(deep=False), seen)
    elif isinstance(obj, np.random.Generator | np.random.RandomState):
        state = obj.bit_generator.state if isinstance(obj, np.random.Generator) else None
        h.update(f"{type(obj).__name__};".encode())
        _feed(h, state if state is not None else obj.get_state(legacy=False), seen)
    elif hasattr(obj, "tocsr") and hasattr(obj, "nnz"):  # a SciPy sparse matrix or array
        csr = obj.tocsr()
        h.update(f"sparse:{csr.shape};".encode())
        for part in (csr.data, csr.indices, csr.indptr):
            _feed(h, part, seen)
    elif hasattr(obj, "to_numpy"):  # a pandas DataFrame or Series: values and labels
        h.update(f"{type(obj).__name__};".encode())
        _feed(h, obj.to_numpy(), seen)
        _feed(h, [str(c) for c in getattr(obj, "columns", [getattr(obj, "name", None)])], seen)
    elif isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__"):
        h.update(f"callable:{_stable_name(obj)};".encode())
        code = getattr(obj, "__code__", None)
        if code is not None:  # two lambdas, or two versions of a function, differ here
            h.update(code.co_code)
            _feed(h, [c for c in code.co_consts if not hasattr(c, "co_code")], seen)
    else:
        h.update(f"repr:{_stable_name(obj)};".encode())


def _stable_name(obj: Any) -> str:
    """``repr``, except for functions and classes: their module and qualified name."""
    if isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__"):
        return f"{getattr(obj, '__module__', '')}.{obj.__qualname__}"
    return repr(obj)


class EstimatorTrials:
    """The shared part of a search's trials for an estimator (``fit(X, y)``).

    Parameters
    ----------
    estimator : estimator
        Cloned for every trial; never fitted itself.
    X, y : array-like
        All the data; each trial takes its fold's rows.
    splits : list of (ndarray, ndarray)
        ``(train, test)`` indices of each fold.
    scorers : dict
        Name to ``scorer(estimator, X, y)``.
    resource : str, optional
        Successive halving's budget: ``"n_samples"`` (the first ``Task.resource`` of
        ``n_samples`` rows, as a share of each training fold, in ``orders``) or a
        hyperparameter name (set to ``Task.resource``).
    orders : list of ndarray, optional
        For ``resource="n_samples"``: each training fold's rows in the order they are used.
    """

    def __init__(
        self,
        estimator: Any,
        X: Any,
        y: Any,
        splits: Sequence[tuple[np.ndarray, np.ndarray]],
        scorers: dict[str, Callable],
        *,
        fit_params: dict[str, Any] | None = None,
        return_train_score: bool = False,
        error_score: Any = np.nan,
        resource: str | None = None,
        orders: Sequence[np.ndarray] | None = None,
    ) -> None:
        self.estimator, self.X, self.y = estimator, X, y
        self.splits = list(splits)
        self.scorers = scorers
        self.fit_params = fit_params or {}
        self.return_train_score = return_train_score
        self.error_score = error_score
        self.resource = resource
        self.orders = orders

    def __call__(self, task: Task) -> dict[str, Any]:
        train, test = self.splits[task.fold]
        params = dict(task.params)
        if task.resource is not None and self.resource == "n_samples":
            n_total = self.X.shape[0] if hasattr(self.X, "shape") else len(self.X)
            n_rows = max(1, int(task.resource / n_total * len(train)))
            train = np.sort(self.orders[task.fold][:n_rows])
        elif task.resource is not None:
            params[self.resource] = task.resource
        return fit_and_score(
            self.estimator,
            self.X,
            self.y,
            train,
            test,
            self.scorers,
            params,
            fit_params=self.fit_params,
            return_train_score=self.return_train_score,
            error_score=self.error_score,
        )

    def fingerprint(self) -> str:
        """A digest of everything but the task: a stored trial is reused only if it matches."""
        folds = [part for pair in self.splits for part in pair]
        return _digest(
            self.estimator,
            self.X,
            self.y,
            folds,
            self.scorers,
            self.fit_params,
            self.resource,
            self.return_train_score,
        )


def make_env(env: Any) -> Any:
    """A fresh environment from an id (``theta.rl.make``), a factory, or a copied instance."""
    if isinstance(env, str):
        from theta.rl import make

        return make(env)
    if hasattr(env, "reset") and hasattr(env, "step"):
        return copy.deepcopy(env)
    return env()


class AgentTrials:
    """The shared part of a search's trials for a reinforcement-learning agent.

    A "fold" is one independent run: the agent (``random_state``) and the evaluation episodes
    are seeded by ``seeds[fold]``; the score is the mean return of ``eval_episodes`` greedy
    episodes on a fresh environment. The budget (``total_steps``/``episodes``) is that of
    ``Agent.learn``; successive halving's ``resource`` may be either budget or a
    hyperparameter.
    """

    def __init__(
        self,
        agent: Any,
        env: Any,
        seeds: Sequence[int],
        *,
        total_steps: int | None,
        episodes: int | None,
        eval_episodes: int,
        error_score: Any = np.nan,
        resource: str | None = None,
    ) -> None:
        self.agent, self.env, self.seeds = agent, env, [int(s) for s in seeds]
        self.budget = {"total_steps": total_steps, "episodes": episodes}
        self.eval_episodes = eval_episodes
        self.error_score = error_score
        self.resource = resource

    def __call__(self, task: Task) -> dict[str, Any]:
        seed = self.seeds[task.fold]
        params = {"random_state": seed, **task.params}
        budget = dict(self.budget)
        if task.resource is not None and self.resource in budget:
            budget[self.resource] = task.resource
        elif task.resource is not None:
            params[self.resource] = task.resource
        started = time.perf_counter()
        try:
            agent = clone(self.agent).set_params(**params)
            agent.learn(make_env(self.env), **budget, progress=False)
            fit_time = time.perf_counter() - started
            started = time.perf_counter()
            mean, _ = agent.evaluate(make_env(self.env), self.eval_episodes, seed=seed + 1)
        except Exception as exc:
            if isinstance(self.error_score, str) and self.error_score == "raise":
                raise
            return _record(
                {"score": float(self.error_score)},
                None,
                time.perf_counter() - started,
                0.0,
                describe(exc),
            )
        return _record({"score": float(mean)}, None, fit_time, time.perf_counter() - started, "")

    def fingerprint(self) -> str:
        return _digest(
            self.agent,
            self.env,
            self.seeds,
            sorted(self.budget.items()),
            self.eval_episodes,
            self.resource,
        )
