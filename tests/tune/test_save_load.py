"""A fitted search saves and loads with theta.io like every learner.

Oracle: the search that was saved: every ``cv_results_`` column (dtype, masks and values, NaN
of failed candidates included), best candidate, refitted estimator's predictions, leaderboard
and, for BayesSearch, the Optuna study's trials.
"""

import contextlib

import numpy as np
import pytest

import theta.io
from theta.data import load_diabetes
from theta.estimators import Ridge
from theta.tune import (
    BayesSearch,
    GridSearch,
    LogUniform,
    RandomSearch,
    SuccessiveHalving,
)


@pytest.fixture(scope="module")
def data():
    X, y = load_diabetes(return_X_y=True)
    return X[:120], y[:120]


def _fit_grid(X, y):
    grid = [{"alpha": [0.1, 1.0, -1.0]}, {"alpha": [1.0], "fit_intercept": [False]}]
    with pytest.warns(UserWarning, match="1 of 4 candidates failed"):  # alpha=-1 fails
        return GridSearch(Ridge(), grid, cv=3).fit(X, y)


def _fit_random(X, y, alpha=(0.01, 0.1, 1.0, 10.0)):
    space = [{"alpha": alpha}, {"alpha": [1.0], "fit_intercept": [False]}]
    return RandomSearch(Ridge(), space, n_iter=5, cv=3, random_state=0).fit(X, y)


def _fit_halving(X, y):
    space = {"alpha": [0.01, 0.1, 1.0, 10.0]}
    return SuccessiveHalving(Ridge(), space, factor=2, cv=3, random_state=0).fit(X, y)


def _fit_bayes(X, y, alpha=(0.01, 0.1, 1.0, 10.0)):
    pytest.importorskip("optuna")
    space = {"alpha": alpha, "fit_intercept": [np.True_, np.False_]}  # told by index
    return BayesSearch(Ridge(), space, n_trials=6, n_startup_trials=3, cv=3,
                       random_state=0).fit(X, y)  # fmt: skip


def _assert_same_column(a, b, key):
    assert type(a) is type(b), key
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, key
        if isinstance(a, np.ma.MaskedArray):
            assert (a.mask is np.ma.nomask) == (b.mask is np.ma.nomask), key
            np.testing.assert_array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b), key)
            assert a.fill_value == b.fill_value, key
            a, b = a.data, b.data
        if a.dtype == object:
            assert a.tolist() == b.tolist(), key
        else:
            np.testing.assert_array_equal(a, b, err_msg=key)  # NaN equals NaN here
    else:
        assert a == b, key


@pytest.mark.parametrize("fit", [_fit_grid, _fit_random, _fit_halving, _fit_bayes],
                         ids=["grid", "random", "halving", "bayes"])  # fmt: skip
def test_a_fitted_search_round_trips_through_theta_io(tmp_path, data, fit):
    X, y = data
    search = fit(X, y)
    assert any(isinstance(c, np.ma.MaskedArray) for c in search.cv_results_.values())
    theta.io.save(search, tmp_path / "search")
    failed = search.failed_trials_  # their NaN scores make load warn, as for any NaN state
    with pytest.warns(UserWarning, match="NaN") if failed else contextlib.nullcontext():
        again = theta.io.load(tmp_path / "search")

    assert type(again) is type(search) and again.get_params(deep=False).keys() == (
        search.get_params(deep=False).keys()
    )
    assert list(again.cv_results_) == list(search.cv_results_)
    for key, column in search.cv_results_.items():
        _assert_same_column(again.cv_results_[key], column, key)
    assert again.best_params_ == search.best_params_ and again.best_index_ == search.best_index_
    assert again.best_score_ == search.best_score_
    assert again.failed_trials_ == search.failed_trials_
    np.testing.assert_array_equal(again.predict(X), search.predict(X))
    assert again.leaderboard() == search.leaderboard()


@pytest.mark.parametrize("fit", [_fit_random, _fit_bayes], ids=["random", "bayes"])
def test_a_search_over_distributions_round_trips_through_theta_io(tmp_path, data, fit):
    X, y = data
    search = fit(X, y, alpha=LogUniform(1e-3, 1e2))
    theta.io.save(search, tmp_path / "search")
    again = theta.io.load(tmp_path / "search")
    assert again.param_distributions == search.param_distributions
    assert again.leaderboard() == search.leaderboard()


def test_masked_parameter_cells_hold_zeros_not_uninitialized_memory(data):
    X, y = data
    column = _fit_random(X, y).cv_results_["param_fit_intercept"]  # bool, masked where drawn
    assert column.dtype == bool and column.mask.any() and not column.data[column.mask].any()
    column = _fit_grid(X, y).cv_results_["param_fit_intercept"]
    assert column.dtype == bool and column.data[column.mask].tolist() == [False] * 3


def test_a_fitted_search_keeps_no_state_of_its_run(data):
    X, y = data
    search = _fit_halving(X, y)
    assert [k for k in vars(search) if k.startswith("_")] == []
    assert search.n_candidates_ == [4, 2, 1] and search.budget_used_ > 0


def test_a_loaded_bayes_search_rebuilds_its_study(tmp_path, data):
    X, y = data
    search = _fit_bayes(X, y)
    theta.io.save(search, tmp_path / "search")
    again = theta.io.load(tmp_path / "search").study_
    trials = search.study_.trials
    assert len(trials) == 6
    assert [t.params for t in again.trials] == [t.params for t in trials]
    assert [t.value for t in again.trials] == [t.value for t in trials]
    assert [t.state for t in again.trials] == [t.state for t in trials]
    assert [t.distributions for t in again.trials] == [t.distributions for t in trials]
    assert again.best_value == pytest.approx(search.best_score_, abs=0, rel=0)
