"""Bayesian search through Optuna's TPE: seeded, resumable, independent of n_jobs."""

import sys

import numpy as np
import pytest

from theta.data import load_diabetes
from theta.estimators import Ridge
from theta.tune import BayesSearch, Choice, GridSearch, IntUniform, LogUniform

pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def test_bayes_search_finds_what_a_dense_grid_finds(diabetes):
    X, y = diabetes
    space = {"alpha": LogUniform(1e-4, 1e3)}
    bayes = BayesSearch(Ridge(), space, n_trials=15, n_startup_trials=5, cv=3, random_state=0).fit(
        X, y
    )
    grid = GridSearch(Ridge(), {"alpha": list(np.logspace(-4, 3, 29))}, cv=3).fit(X, y)
    assert bayes.best_score_ > grid.best_score_ - 0.002
    assert len(bayes.study_.trials) == 15 and len(bayes.cv_results_["params"]) == 15
    # TPE concentrates its later proposals near the best region
    later = [p["alpha"] for p in bayes.cv_results_["params"][5:]]
    assert np.median(later) < 1.0


def test_same_seed_same_suggestions_and_resume_from_storage(tmp_path, diabetes):
    X, y = diabetes
    space = {
        "alpha": LogUniform(1e-3, 1e2),
        "fit_intercept": [True, False],
        "solver_tag": Choice([(1, 2), (3, 4)]),
    }
    kwargs = {"n_trials": 8, "batch_size": 2, "n_startup_trials": 3, "cv": 2, "random_state": 3}

    class Tagged(Ridge):
        def __init__(self, alpha=1.0, *, fit_intercept=True, solver_tag=(1, 2)):
            super().__init__(alpha, fit_intercept=fit_intercept)
            self.solver_tag = solver_tag

    a = BayesSearch(Tagged(), space, storage=tmp_path, **kwargs).fit(X, y)
    b = BayesSearch(Tagged(), space, storage=tmp_path, **kwargs).fit(X, y)
    assert a.n_trials_run_ == 16 and b.n_trials_run_ == 0
    assert a.cv_results_["params"] == b.cv_results_["params"]
    assert {p["solver_tag"] for p in a.cv_results_["params"]} <= {(1, 2), (3, 4)}
    np.testing.assert_array_equal(
        a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"]
    )
    c = BayesSearch(Tagged(), space, **{**kwargs, "random_state": 4}).fit(X, y)
    assert c.cv_results_["params"] != a.cv_results_["params"]


def test_failed_candidates_are_told_as_failed(diabetes):
    X, y = diabetes
    with pytest.warns(UserWarning, match="candidates failed"):
        search = BayesSearch(
            Ridge(), {"alpha": IntUniform(-3, 3)}, n_trials=6, cv=2, random_state=0
        ).fit(X, y)
    states = [t.state.name for t in search.study_.trials]
    failed = {i for i, _, _ in search.failed_trials_}
    assert failed and all((states[i] == "FAIL") == (i in failed) for i in range(6))
    assert search.best_params_["alpha"] >= 0


def test_missing_optuna_names_the_extra(monkeypatch, diabetes):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"pip install 'theta-ml\[bayes\]'"):
        BayesSearch(Ridge(), {"alpha": LogUniform(1e-3, 1.0)}).fit(*diabetes)
