"""Trials that raise, score NaN or kill their worker; resuming from storage; bad spaces.

RELIABILITY.md 36-39: failed trials are listed and never best; a killed worker loses no
finished trial; a search run again on the same storage runs nothing that already finished.
"""

import os
import signal
import uuid

import numpy as np
import pytest

from theta.estimators import Ridge
from theta.params import Params
from theta.tune import (
    BayesSearch,
    GridSearch,
    IntUniform,
    LogUniform,
    RandomSearch,
    SuccessiveHalving,
    Uniform,
)

X = np.arange(40, dtype=np.float64).reshape(20, 2)
y = np.arange(20, dtype=np.float64)


class Probe(Params):
    """A regressor that predicts ``shift`` and can misbehave on purpose.

    ``mode``: "ok"; "raise" (fit raises); "nan" (scores NaN); "die" (kills its worker
    process every time); "die_once" (kills its worker the first time, then fits).
    Every fit leaves a file in ``log`` (when given), so tests count fits across processes.
    """

    def __init__(self, shift=0.0, mode="ok", log=None, main_pid=0):
        self.shift = shift
        self.mode = mode
        self.log = log
        self.main_pid = main_pid

    def fit(self, X, y):
        if self.log is not None:
            open(
                os.path.join(self.log, f"{self.mode}-{self.shift}-{uuid.uuid4().hex}"), "w"
            ).close()
        if self.mode == "raise":
            raise RuntimeError("this candidate always fails")
        in_worker = os.getpid() != self.main_pid
        if self.mode == "die" and in_worker:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.mode == "die_once" and in_worker:
            marker = os.path.join(self.log, "died-once")
            if not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
        self.fitted_ = True
        return self

    def predict(self, X):
        return np.full(len(X), self.shift)

    def score(self, X, y):
        if self.mode == "nan":
            return float("nan")
        return -float(np.mean(np.abs(np.asarray(y) - 10.0 - self.shift)))


def _fits(folder, mode=None):
    return sum(1 for name in os.listdir(folder) if mode is None or name.startswith(mode + "-"))


def test_a_trial_that_raises_is_recorded_and_the_search_goes_on():
    grid = {"mode": ["ok", "raise", "nan"], "shift": [0.0]}
    with pytest.warns(UserWarning, match="2 of 3 candidates failed"):
        search = GridSearch(Probe(), grid, cv=4).fit(X, y)
    errors = search.cv_results_["error"]
    assert errors[0] == ""
    assert errors[1] == "fold 0: RuntimeError: this candidate always fails"
    assert errors[2] == "fold 0: the score score is nan"
    assert np.isnan(search.cv_results_["mean_test_score"][1:]).all()
    assert list(search.cv_results_["rank_test_score"]) == [1, 2, 2]
    assert [(i, e.split(":")[0]) for i, _, e in search.failed_trials_] == [
        (1, "fold 0"),
        (2, "fold 0"),
    ]
    assert search.best_index_ == 0 and search.best_params_["mode"] == "ok"


def test_a_nan_score_is_never_best_even_when_ranked_first():
    # error_score=5 makes the raising candidate's mean beat the others; it is still failed
    grid = {"mode": ["raise", "ok"]}
    with pytest.warns(UserWarning, match="1 of 2 candidates failed"):
        search = GridSearch(Probe(), grid, cv=2, error_score=5.0).fit(X, y)
    assert search.cv_results_["rank_test_score"][0] == 1
    assert search.best_index_ == 1


def test_error_score_raise_and_all_failed():
    with pytest.raises(RuntimeError, match="always fails"):
        GridSearch(Probe(), {"mode": ["raise"]}, cv=2, error_score="raise").fit(X, y)
    search = GridSearch(Probe(), {"mode": ["raise", "nan"]}, cv=2)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="All 2 candidates failed"):
        search.fit(X, y)
    assert len(search.failed_trials_) == 2  # the report survives the error


@pytest.mark.slow
def test_killed_workers_lose_no_finished_trial(tmp_path):
    log = tmp_path / "fits"
    log.mkdir()
    main = os.getpid()
    grid = [
        {"shift": [0.0, 1.0, 2.0, 3.0], "mode": ["ok"]},
        {"shift": [9.0], "mode": ["die"]},
        {"shift": [4.0], "mode": ["die_once"]},
    ]
    probe = Probe(log=str(log), main_pid=main)
    with pytest.warns(UserWarning, match="1 of 6 candidates failed"):
        search = GridSearch(probe, grid, cv=2, n_jobs=2, storage=tmp_path / "trials").fit(X, y)
    errors = search.cv_results_["error"]
    assert errors[4].startswith("fold 0: worker process died (exit code")
    assert "SIGKILL" in errors[4]
    assert [e for i, e in enumerate(errors) if i != 4] == [""] * 5  # every other trial scored
    assert search.best_params_ == {"mode": "ok", "shift": 0.0}
    # the same scores as a search without any death (the transient kill was retried)
    calm = GridSearch(probe, grid[:1] + grid[2:], cv=2).fit(X, y)  # in this process
    ok = [0, 1, 2, 3, 5]
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"][ok], calm.cv_results_["mean_test_score"]
    )
    # the culprit ran alone 1 + max_retries times per fold, after the pool crash(es)
    assert _fits(log, "die") >= 2 * 2
    # finished trials are on disk, one file each; the dead ones are not (they will re-run)
    assert len(list((tmp_path / "trials").glob("trial-*.json"))) == 2 * 5


def test_restarting_on_the_same_storage_runs_nothing_finished(tmp_path):
    log = tmp_path / "fits"
    log.mkdir()
    store = tmp_path / "trials"
    grid = {"shift": [0.0, 1.0, 2.0], "mode": ["ok", "raise"]}
    kwargs = {"cv": 3, "storage": store}
    with pytest.warns(UserWarning):
        first = GridSearch(Probe(log=str(log)), grid, **kwargs).fit(X, y)
    assert first.n_trials_run_ == 18 and _fits(log) == 18 + 1  # + the refit
    with pytest.warns(UserWarning):
        again = GridSearch(Probe(log=str(log)), grid, **kwargs).fit(X, y)
    assert again.n_trials_run_ == 0 and _fits(log) == 18 + 2  # only the refit ran
    for key, column in first.cv_results_.items():
        if key != "params" and not key.startswith("param_"):
            np.testing.assert_array_equal(column, again.cv_results_[key], err_msg=key)
    # a grown search runs only its new candidates, numbered after the old ones
    with pytest.warns(UserWarning):
        grown = GridSearch(
            Probe(log=str(log)), [grid, {"shift": [5.0], "mode": ["ok"]}], **kwargs
        ).fit(X, y)
    assert grown.n_trials_run_ == 3
    # random search: same seed, same draws, nothing re-run
    space = {"shift": Uniform(0, 3)}
    RandomSearch(Probe(), space, n_iter=3, random_state=0, **kwargs).fit(X, y)
    rerun = RandomSearch(Probe(), space, n_iter=3, random_state=0, **kwargs).fit(X, y)
    assert rerun.n_trials_run_ == 0


@pytest.mark.parametrize(
    "make_search, message",
    [
        (lambda est: GridSearch(est, {}), "param_grid is empty"),
        (lambda est: GridSearch(est, []), "param_grid is empty"),
        (lambda est: GridSearch(est, {"shift": []}), "list of values of 'shift' is empty"),
        (lambda est: GridSearch(est, {"shift": 1.0}), "must be a list"),
        (
            lambda est: GridSearch(est, {"shfit": [1.0]}),
            "Invalid parameter 'shfit' for estimator Probe. Did you mean 'shift'?",
        ),
        (lambda est: RandomSearch(est, {"shift": [1.0], "mdoe": ["ok"]}), "Did you mean 'mode'"),
        (
            lambda est: RandomSearch(est, {"shift": [1.0]}, n_iter=0),
            r"The 'n_iter' parameter of RandomSearch must be an int in the range \[1, inf\)\. "
            "Got 0 instead",
        ),
        (
            lambda est: GridSearch(est, {"shift": [1.0]}, backend="spark"),
            r"The 'backend' parameter of GridSearch must be a str among \{'dask', 'loky'\}\. "
            "Got 'spark' instead",
        ),
        (lambda est: GridSearch(est, {"shift": [1.0]}, scoring="acuracy"), "unknown scorer"),
        (
            lambda est: GridSearch(est, {"shift": [1.0]}, scoring=["r2", "mse"]),
            "refit must be the name of one scorer",
        ),
        (
            lambda est: SuccessiveHalving(est, {"shift": [1.0]}, resource="shift"),
            "Cannot use parameter 'shift' as the resource",
        ),
        (lambda est: SuccessiveHalving(est, {"shift": Uniform(0, 1)}), "n_candidates"),
        (lambda est: BayesSearch(est, {"shfit": Uniform(0, 1)}), "Did you mean 'shift'"),
    ],
)
def test_bad_search_spaces_fail_before_any_trial(tmp_path, make_search, message):
    search = make_search(Probe(log=str(tmp_path)))
    with pytest.raises((ValueError, TypeError), match=message):
        search.fit(X, y)
    assert _fits(tmp_path) == 0


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Uniform(2.0, 1.0), r"Uniform\(low=2.0, high=1.0\): low must be <= high"),
        (lambda: LogUniform(0.0, 1.0), "low must be > 0 for a log scale"),
        (lambda: IntUniform(1.5, 3), "low and high must be integers"),
        (lambda: Uniform(0.0, float("inf")), "must be finite numbers"),
    ],
)
def test_bad_distributions_fail_when_built(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_ridge_is_searched_with_nan_error_score_by_default():
    # an out-of-range value is a failed trial, not a crash: Ridge(alpha=-1) raises in fit
    with pytest.warns(UserWarning, match="1 of 2"):
        search = GridSearch(Ridge(), {"alpha": [-1.0, 1.0]}, cv=2).fit(X, y)
    assert "InvalidParameterError" in search.failed_trials_[0][2]
