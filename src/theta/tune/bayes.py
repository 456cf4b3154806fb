"""Bayesian search: Optuna's TPE sampler proposes each candidate from the scores so far.

Optuna (the ``bayes`` extra) is used through ask and tell only, so the trials run on theta's
own backends. Candidates are asked ``batch_size`` at a time and told in order; ``batch_size``
(never ``n_jobs``) decides what the sampler has seen when it proposes, so the same
``random_state`` gives the same candidates on one process or on a cluster.
"""

from __future__ import annotations

import contextlib
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


class BayesSearch(BaseSearch):
    """Tree-structured Parzen estimator search (Optuna's ``TPESampler``).

    Parameters
    ----------
    estimator : estimator or agent
    param_distributions : dict
        Name to ``Uniform``, ``LogUniform``, ``IntUniform``, ``Choice`` or a list of values.
    n_trials : int, default=20
        Candidates to try (each on every fold).
    batch_size : int, default=1
        Candidates asked before any of them is scored; raise it to keep ``n_jobs`` workers
        busy (the first ``n_startup_trials`` are random in any case).
    n_startup_trials : int, default=10
        Random candidates before TPE starts modelling.
    Other parameters
        As :class:`theta.tune.GridSearch`.

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
        return self.n_trials

    def _run_search(self, evaluate: Callable[..., np.ndarray]) -> None:
        optuna = _require_optuna()
        space = self._space()
        distributions = {name: _optuna_distribution(name, d) for name, d in space.items()}
        seed = self.random_state
        if seed is not None and not isinstance(seed, int):
            seed = int(check_random_state(seed).integers(2**31 - 1))
        told = []
        with _quiet(optuna):
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup_trials)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            while len(told) < self.n_trials:
                batch = [
                    study.ask(distributions)
                    for _ in range(min(self.batch_size, self.n_trials - len(told)))
                ]
                candidates = [self._decode(trial.params, space) for trial in batch]
                for trial, score in zip(batch, evaluate(candidates), strict=True):
                    if math.isfinite(score):
                        study.tell(trial, float(score))
                    else:
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    told.append((dict(trial.params), float(score)))
        to_json = optuna.distributions.distribution_to_json
        self._study_space = {k: to_json(d) for k, d in distributions.items()}
        self._study_trials = told

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
