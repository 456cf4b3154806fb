"""Bayesian search: Optuna's TPE sampler proposes each candidate from the scores so far.

Optuna (the ``bayes`` extra) is used through ask and tell only, so the trials run on theta's
own backends. Candidates are asked ``batch_size`` at a time and told in order; ``batch_size``
(never ``n_jobs``) decides what the sampler has seen when it proposes, so the same
``random_state`` gives the same candidates on one process or on a cluster.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from theta.rng import check_random_state
from theta.tune.search import BaseSearch
from theta.tune.spaces import Choice, Distribution, IntUniform, LogUniform, Uniform, _check_values
from theta.validation import Interval

__all__ = ["BayesSearch"]

_MAX_REPEATS = 10  # TPE proposals of already-run candidates in a row before one is drawn


def _require_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ImportError("BayesSearch needs Optuna: pip install 'theta-ml[bayes]'") from None
    return optuna


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """Optuna without a line per study and trial on stderr."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _optuna_distribution(name: str, d: Distribution) -> Any:
    """Optuna's distribution for theta's ``d`` (a non-plain ``Choice`` by option index)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(d, Uniform | LogUniform):
        return FloatDistribution(d.low, d.high, log=isinstance(d, LogUniform))
    if isinstance(d, IntUniform):
        return IntDistribution(d.low, d.high)
    if isinstance(d, Choice):
        choices = d.options if _plain(d.options) else tuple(range(len(d.options)))
        return CategoricalDistribution(choices)
    raise TypeError(
        f"BayesSearch cannot model {name!r} = {d!r}; use Uniform, LogUniform, IntUniform, "
        "Choice or a list."
    )


def _plain(values: tuple) -> bool:
    return all(v is None or isinstance(v, bool | int | float | str) for v in values)


def _space_size(space: dict[str, Distribution]) -> int | None:
    """How many distinct candidates ``space`` holds; None when a parameter is continuous."""
    size = 1
    for d in space.values():
        if isinstance(d, Choice):
            size *= len(d.options)
        elif isinstance(d, IntUniform):
            size *= d.high - d.low + 1
        else:
            return None
    return size


def _key(params: dict[str, Any]) -> tuple:
    return tuple(sorted(params.items()))


def _tell(optuna: Any, study: Any, trial: Any, score: float) -> None:
    if math.isfinite(score):
        study.tell(trial, float(score))
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _untried(space: dict[str, Distribution], distributions: dict[str, Any], tried: Any,
             rng: np.random.Generator) -> dict[str, Any]:  # fmt: skip
    """A candidate of the finite ``space`` not in ``tried``, as Optuna params, drawn at random."""
    names = sorted(space)
    values = [list(distributions[n].choices) if isinstance(space[n], Choice)
              else list(range(space[n].low, space[n].high + 1)) for n in names]  # fmt: skip
    for _ in range(100):  # random draws find one quickly unless the space is nearly used up
        params = {n: v[int(rng.integers(len(v)))] for n, v in zip(names, values, strict=True)}
        if _key(params) not in tried:
            return params
    for combination in itertools.product(*values):
        params = dict(zip(names, combination, strict=True))
        if _key(params) not in tried:
            return params
    raise AssertionError("_untried: called with every candidate tried")  # callers check size


class BayesSearch(BaseSearch):
    """Tree-structured Parzen estimator search (Optuna's ``TPESampler``).

    The parameters not listed here are those of :class:`theta.tune.GridSearch`.

    Parameters
    ----------
    estimator : estimator or agent
    param_distributions : dict
        Name to ``Uniform``, ``LogUniform``, ``IntUniform``, ``Choice`` or a list of values.
    n_trials : int, default=20
        Candidates to try (each on every fold). No candidate runs twice: over a finite space
        (lists, ``Choice`` and ``IntUniform`` only) the search ends when every candidate ran,
        even before ``n_trials``.
    batch_size : int, default=1
        Candidates asked before any of them is scored; raise it to keep ``n_jobs`` workers
        busy (the first ``n_startup_trials`` are random in any case).
    n_startup_trials : int, default=10
        Random candidates before TPE starts modelling.

    Attributes
    ----------
    study_ : optuna.Study
        The study, with every candidate told its mean test score (failed ones as FAIL);
        rebuilt from the trials a fitted search keeps (see the property).

    Examples
    --------
    >>> from theta.data import load_diabetes
    >>> from theta.estimators import Ridge
    >>> X, y = load_diabetes(return_X_y=True)
    >>> search = BayesSearch(Ridge(), {"alpha": LogUniform(1e-4, 1e2)}, n_trials=12, cv=3,
    ...                      random_state=0).fit(X, y)  # doctest: +SKIP
    >>> search.best_params_["alpha"] < 1  # doctest: +SKIP
    True
    """

    __theta_state_names__ = ("_study_space", "_study_trials")  # what study_ is rebuilt from

    def __init__(
        self,
        estimator: Any,
        param_distributions: Any,
        *,
        n_trials: int = 20,
        batch_size: int = 1,
        n_startup_trials: int = 10,
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
        self.n_trials = n_trials
        self.batch_size = batch_size
        self.n_startup_trials = n_startup_trials

    def _space(self) -> dict[str, Distribution]:
        space = self.param_distributions
        if not isinstance(space, Mapping):
            raise TypeError(f"BayesSearch: param_distributions must be a dict; got {space!r}.")
        if not space:
            raise ValueError(
                "param_distributions is empty; give each searched parameter a "
                "distribution or a list of values."
            )
        return {
            k: v
            if isinstance(v, Distribution)
            else Choice(_check_values(k, v, "param_distributions"))
            for k, v in sorted(space.items())
        }

    def _space_names(self) -> set[str]:
        names = set(self._space())
        _require_optuna()
        return names

    _parameter_constraints = {
        **BaseSearch._parameter_constraints,
        "n_trials": [Interval(numbers.Integral, 1, None)],
        "batch_size": [Interval(numbers.Integral, 1, None)],
        "n_startup_trials": [Interval(numbers.Integral, 0, None)],
    }

    def _n_candidates(self) -> int:
        size = _space_size(self._space())
        return self.n_trials if size is None else min(self.n_trials, size)

    def _run_search(self, evaluate: Callable[..., np.ndarray]) -> None:
        optuna = _require_optuna()
        space = self._space()
        size = _space_size(space)
        distributions = {name: _optuna_distribution(name, d) for name, d in space.items()}
        seed = self.random_state
        if seed is not None and not isinstance(seed, int):
            seed = int(check_random_state(seed).integers(2**31 - 1))
        rng = np.random.default_rng(seed)
        told: list[tuple[dict[str, Any], float]] = []
        scores: dict[tuple, float] = {}  # every candidate run so far, by its Optuna params
        with _quiet(optuna):
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup_trials)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            while len(told) < self.n_trials and (size is None or len(scores) < size):
                want = min(self.batch_size, self.n_trials - len(told))
                batch, repeats = self._ask_new(study, distributions, space, want, scores, rng)
                candidates = [self._decode(trial.params, space) for trial in batch]
                for trial, score in zip(batch, evaluate(candidates), strict=True):
                    _tell(optuna, study, trial, score)
                    scores[_key(trial.params)] = float(score)
                    told.append((dict(trial.params), float(score)))
                for trial in repeats:  # TPE learns the score it already had, at no cost
                    _tell(optuna, study, trial, scores[_key(trial.params)])
        to_json = optuna.distributions.distribution_to_json
        self._study_space = {k: to_json(d) for k, d in distributions.items()}
        self._study_trials = told

    def _ask_new(self, study: Any, distributions: dict[str, Any], space: dict[str, Distribution],
                 want: int, scores: dict[tuple, float], rng: np.random.Generator
                 ) -> tuple[list[Any], list[Any]]:  # fmt: skip
        """Up to ``want`` trials whose candidates have not run, and the trials TPE asked that
        repeat one (told its score afterwards). Over a finite space TPE may keep proposing
        candidates already run; after ``_MAX_REPEATS`` such proposals in a row, an untried
        one drawn at random is asked instead, so no candidate runs twice and no trial is lost.
        """
        size = _space_size(space)
        batch: list[Any] = []
        repeats: list[Any] = []
        pending: set[tuple] = set()
        in_a_row = 0
        while len(batch) < want and (size is None or len(scores) + len(pending) < size):
            if in_a_row >= _MAX_REPEATS:
                study.enqueue_trial(_untried(space, distributions, scores.keys() | pending, rng))
            trial = study.ask(distributions)
            key = _key(trial.params)
            if key in scores or key in pending:
                repeats.append(trial)
                in_a_row += 1
                continue
            pending.add(key)
            batch.append(trial)
            in_a_row = 0
        return batch, repeats

    @property
    def study_(self) -> Any:
        """The Optuna study of the last ``fit``: every candidate told its mean test score
        (failed ones as FAIL). Built anew from the kept trials on each access, so a search
        loaded by ``theta.io.load`` has it too; its sampler starts from a fresh seed."""
        self._check_fitted("_study_trials")
        optuna = _require_optuna()
        from_json = optuna.distributions.json_to_distribution
        space = {k: from_json(text) for k, text in self._study_space.items()}
        with _quiet(optuna):
            sampler = optuna.samplers.TPESampler(n_startup_trials=self.n_startup_trials)
            study = optuna.create_study(direction="maximize", sampler=sampler)
        for params, score in self._study_trials:
            done = math.isfinite(score)
            study.add_trial(optuna.trial.create_trial(
                params=params,
                distributions={k: space[k] for k in params},
                value=score if done else None,
                state=optuna.trial.TrialState.COMPLETE if done else optuna.trial.TrialState.FAIL,
            ))  # fmt: skip
        return study

    @staticmethod
    def _decode(params: dict[str, Any], space: dict[str, Distribution]) -> dict[str, Any]:
        out = {}
        for name, d in space.items():
            value = params[name]
            if isinstance(d, Choice) and not _plain(d.options):
                value = d.options[value]
            out[name] = value
        return out
