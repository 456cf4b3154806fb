"""Tuning that can be trusted: stores keyed by full content, damaged trial files re-run,
trials with a timeout, and no worker left behind by Ctrl-C or a killed search.

RELIABILITY.md 36-40, 50 and 52 (issue #13, items 12, 19 and 20).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from theta.errors import InvalidParameterError
from theta.params import Params
from theta.tune import BayesSearch, GridSearch, RandomSearch, SuccessiveHalving
from theta.tune.split import KFold
from theta.tune.trials import EstimatorTrials

X = np.arange(40, dtype=np.float64).reshape(20, 2)
y = np.arange(20, dtype=np.float64)


class Weighted(Params):
    """A regressor whose score depends on every element of ``weights`` and on the values
    of the ``sample_weight`` fit parameter."""

    def __init__(self, weights=None, shift=0.0):
        self.weights = weights
        self.shift = shift

    def fit(self, X, y, sample_weight=None):
        w = 0.0 if self.weights is None else float(np.sum(self.weights))
        self.offset_ = w + (0.0 if sample_weight is None else float(np.sum(sample_weight)))
        return self

    def predict(self, X):
        return np.full(len(X), self.offset_ + self.shift)

    def score(self, X, y):
        return -float(np.mean(np.abs(np.asarray(y) - self.predict(X))))


class Sleeper(Params):
    """A regressor whose ``fit`` sleeps ``delay`` seconds (``deaf``: with ``SIGALRM``
    blocked, as C code that never returns to Python)."""

    def __init__(self, delay=0.0, deaf=False):
        self.delay = delay
        self.deaf = deaf

    def fit(self, X, y):
        if self.deaf:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(self.delay)
        return self

    def predict(self, X):
        return np.zeros(len(X))

    def score(self, X, y):
        return -float(np.mean(np.abs(y)))


def _fingerprint(estimator, fit_params=None):
    splits = list(KFold(2).split(X, y))
    scorers = {"score": lambda est, X, y: est.score(X, y)}
    return EstimatorTrials(estimator, X, y, splits, scorers, fit_params=fit_params).fingerprint()


# --- item 12: stores keyed by full content (RELIABILITY 50) -----------------------------------


def test_store_key_sees_one_element_of_a_large_array_parameter():
    a, b = np.zeros(2000), np.zeros(2000)
    b[1000] = 1.0
    assert repr(Weighted(a)) == repr(Weighted(b))  # the trap: NumPy shortens the repr
    assert _fingerprint(Weighted(a)) != _fingerprint(Weighted(b))
    assert _fingerprint(Weighted(a)) == _fingerprint(Weighted(a.copy()))
    # the dtype and shape count too, and a nested estimator is hashed through its params
    assert _fingerprint(Weighted(a)) != _fingerprint(Weighted(a.astype(np.float32)))
    assert _fingerprint(Weighted(a)) != _fingerprint(Weighted(a.reshape(40, 50)))
    assert _fingerprint(Weighted(Weighted(a))) != _fingerprint(Weighted(Weighted(b)))


def test_store_key_of_scikit_learn_estimators_hashes_array_parameters():
    dummy = pytest.importorskip("sklearn.dummy")
    a, b = np.zeros(2000), np.zeros(2000)
    b[1000] = 2.0
    one, two = dummy.DummyRegressor(constant=a), dummy.DummyRegressor(constant=b)
    assert repr(one) == repr(two)
    assert _fingerprint(one) != _fingerprint(two)
    assert _fingerprint(one) == _fingerprint(dummy.DummyRegressor(constant=a.copy()))


def test_store_key_sees_fit_parameter_values():
    w1, w2 = np.ones(20), np.ones(20)
    w2[3] = 2.0
    assert _fingerprint(Weighted(), {"sample_weight": w1}) != _fingerprint(
        Weighted(), {"sample_weight": w2}
    )
    assert _fingerprint(Weighted(), {"sample_weight": w1}) == _fingerprint(
        Weighted(), {"sample_weight": w1.copy()}
    )


def test_restart_reuses_only_trials_of_identical_inputs(tmp_path):
    a, b = np.zeros(2000), np.zeros(2000)
    b[1000] = 5.0
    w1, w2 = np.ones(20), np.ones(20)
    w2[0] = 3.0

    def search(weights, sample_weight):
        return GridSearch(Weighted(weights), {"shift": [0.0, 1.0]}, cv=2, storage=tmp_path).fit(
            X, y, sample_weight=sample_weight
        )

    first = search(a, w1)
    assert first.n_trials_run_ == 4
    assert search(a.copy(), w1.copy()).n_trials_run_ == 0  # same content: resumed
    other = search(b, w1)  # one element of the array differs: every trial runs again
    assert other.n_trials_run_ == 4
    assert other.best_score_ != first.best_score_
    assert search(a, w2).n_trials_run_ == 4  # fit parameters differ only in values


# --- item 19: damaged trial files (RELIABILITY 38, 39) ----------------------------------------


def _good_record(path):
    return json.loads(path.read_text())


def _edit(change):
    def damage(path):
        record = _good_record(path)
        change(record)
        path.write_text(json.dumps(record))

    return damage


def _write(data):
    def damage(path):
        path.write_bytes(data)

    return damage


def _truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


DAMAGES = {
    "empty file": _write(b""),
    "truncated JSON": _truncate,
    "not UTF-8": _write(b'{"candidate": "\xff\xfe"}'),
    "a JSON list": _write(b"[]"),
    "a JSON string": _write(b'"result"'),
    "a JSON null": _write(b"null"),
    "result is a string": _edit(lambda r: r.update(result="x")),
    "result without error": _edit(lambda r: r["result"].pop("error")),
    "result with an extra key": _edit(lambda r: r["result"].update(extra=1)),
    "record without fold": _edit(lambda r: r.pop("fold")),
    "record with an extra key": _edit(lambda r: r.update(extra=1)),
    "another candidate": _edit(lambda r: r.update(candidate=7)),
    "other params": _edit(lambda r: r.update(params={"shift": 9.0})),
    "NaN score without error": _edit(lambda r: r["result"]["test"].update(score=float("nan"))),
    "score is a string": _edit(lambda r: r["result"]["test"].update(score="0.5")),
    "score is a bool": _edit(lambda r: r["result"]["test"].update(score=True)),
    "another scorer name": _edit(lambda r: r["result"].update(test={"r2": 0.5})),
    "test is a list": _edit(lambda r: r["result"].update(test=[0.5])),
    "train where none is kept": _edit(lambda r: r["result"].update(train={"score": 0.5})),
    "negative fit_time": _edit(lambda r: r["result"].update(fit_time=-1.0)),
    "error is a number": _edit(lambda r: r["result"].update(error=3)),
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_trial_file_is_run_again_and_replaced(tmp_path, damage):
    store = tmp_path / "trials"
    grid = {"shift": [0.0, 1.0]}
    first = GridSearch(Weighted(), grid, cv=2, storage=store).fit(X, y)
    victim = sorted(store.glob("trial-*.json"))[1]
    damage(victim)
    with pytest.warns(UserWarning, match="damaged trial file .*" + victim.name) as caught:
        again = GridSearch(Weighted(), grid, cv=2, storage=store).fit(X, y)
    assert len(caught) == 1
    assert again.n_trials_run_ == 1
    np.testing.assert_array_equal(
        again.cv_results_["mean_test_score"], first.cv_results_["mean_test_score"]
    )
    assert _good_record(victim)["result"]["error"] == ""  # replaced by a whole file
    assert not [p for p in store.iterdir() if p.name.startswith(".")]  # no temporary left
    assert GridSearch(Weighted(), grid, cv=2, storage=store).fit(X, y).n_trials_run_ == 0


def test_a_folder_in_place_of_a_trial_file_is_run_again_and_left_alone(tmp_path):
    store = tmp_path / "trials"
    grid = {"shift": [0.0, 1.0]}
    first = GridSearch(Weighted(), grid, cv=2, storage=store).fit(X, y)
    victim = sorted(store.glob("trial-*.json"))[0]
    victim.unlink()
    (victim / "foreign").mkdir(parents=True)
    with pytest.warns(UserWarning, match=f"{victim.name}: is a folder"):
        again = GridSearch(Weighted(), grid, cv=2, storage=store).fit(X, y)
    assert again.n_trials_run_ == 1
    assert again.best_score_ == first.best_score_
    assert (victim / "foreign").is_dir()


def test_storage_that_is_a_file_is_refused_before_any_trial(tmp_path):
    store = tmp_path / "trials"
    store.write_text("mine")
    with pytest.raises(NotADirectoryError, match="storage: .*trials is a file"):
        GridSearch(Weighted(), {"shift": [0.0]}, cv=2, storage=store).fit(X, y)
    assert store.read_text() == "mine"


# --- item 20: timeouts (RELIABILITY 52) -----------------------------------------------------

SEARCHES = {
    "grid": lambda **kw: GridSearch(Sleeper(), {"delay": [0.0, 30.0]}, **kw),
    "random": lambda **kw: RandomSearch(Sleeper(), {"delay": [0.0, 30.0]}, n_iter=2, **kw),
    "halving": lambda **kw: SuccessiveHalving(
        Sleeper(), {"delay": [0.0, 30.0]}, factor=2, min_resources=10, **kw
    ),
    "bayes": lambda **kw: BayesSearch(Sleeper(), {"delay": [0.0, 30.0]}, n_trials=2, **kw),
}


@pytest.mark.parametrize("make", SEARCHES.values(), ids=SEARCHES.keys())
def test_a_hanging_trial_times_out_in_process_and_the_search_goes_on(make, tmp_path):
    if make is SEARCHES["bayes"]:
        pytest.importorskip("optuna")
    search = make(cv=2, timeout=0.5, random_state=0, storage=tmp_path)
    with pytest.warns(UserWarning, match="candidates failed"):
        search.fit(X, y)
    errors = list(search.cv_results_["error"])
    assert "fold 0: timed out after 0.5 s" in errors
    assert search.best_params_ == {"delay": 0.0}
    assert not any("timed out" in p.read_text() for p in tmp_path.glob("*.json"))


def test_a_timed_out_trial_raises_with_error_score_raise():
    search = GridSearch(Sleeper(), {"delay": [30.0]}, cv=2, timeout=0.5, error_score="raise")
    with pytest.raises(TimeoutError, match="timed out after 0.5 s"):
        search.fit(X, y)


@pytest.mark.parametrize("timeout", [0, -1.0, float("inf"), float("nan"), "5", True])
def test_a_bad_timeout_is_refused_before_any_trial(timeout):
    with pytest.raises(InvalidParameterError) as err:
        GridSearch(Sleeper(), {"delay": [30.0]}, cv=2, timeout=timeout).fit(X, y)
    assert str(err.value) == (
        "The 'timeout' parameter of GridSearch must be a float in the range (0, inf) or None. "
        f"Got {timeout!r} instead."
    )


@pytest.mark.slow
def test_hanging_trials_on_local_workers_time_out_and_deaf_ones_are_killed():
    grid = [{"delay": [0.0, 30.0]}, {"delay": [30.0], "deaf": [True]}]
    # 2 s leaves a loaded machine room for the quick trial; the deaf one is killed at 2*2+2 s
    search = GridSearch(Sleeper(), grid, cv=2, n_jobs=2, timeout=2)
    with pytest.warns(UserWarning, match="2 of 3 candidates failed"):
        search.fit(X, y)
    assert list(search.cv_results_["error"]) == [
        "",
        "fold 0: timed out after 2 s",
        "fold 0: timed out after 2 s",
    ]
    assert search.best_params_ == {"delay": 0.0}


SCRIPT = """
import os, sys, time
import numpy as np
from theta.errors import InvalidParameterError
from theta.params import Params
from theta.tune import GridSearch

class Nap(Params):
    def __init__(self, delay=0.0):
        self.delay = delay
    def fit(self, X, y):
        open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
        time.sleep(self.delay)
        return self
    def score(self, X, y):
        return 0.0

if __name__ == "__main__":
    X = np.zeros((8, 1)); y = np.zeros(8)
    GridSearch(Nap(), {"delay": [60.0, 61.0]}, cv=2, n_jobs=2).fit(X, y)
"""


def _start_search_with_busy_workers(tmp_path):
    psutil = pytest.importorskip("psutil")
    script, started = tmp_path / "search.py", tmp_path / "started"
    script.write_text(textwrap.dedent(SCRIPT))
    started.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), str(started)])
    for _ in range(600):  # until both workers run a trial
        if len(os.listdir(started)) >= 2 or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert len(os.listdir(started)) >= 2, "the workers never started their trials"
    children = psutil.Process(proc.pid).children(recursive=True)
    assert {int(p) for p in os.listdir(started)} <= {c.pid for c in children}
    return psutil, proc, children


@pytest.mark.slow
def test_ctrl_c_stops_a_parallel_search_and_leaves_no_worker(tmp_path):
    psutil, proc, children = _start_search_with_busy_workers(tmp_path)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)  # the trials sleep for a minute: only a prompt stop passes
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []


@pytest.mark.slow
def test_killing_the_search_process_leaves_no_worker_running(tmp_path):
    psutil, proc, children = _start_search_with_busy_workers(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=10)  # the workers' trials last a minute
    assert alive == []


# --- theta tune: the timeout key -------------------------------------------------------------


def test_theta_tune_config_takes_a_timeout(tmp_path, theta_main):
    config = tmp_path / "search.toml"
    base = '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[space]\nalpha = [1.0]\n'
    config.write_text(base + "[search]\ntimeout = 30\n")
    code, out, err = theta_main("tune", config, "--dry-run")
    assert code == 0, err
    assert json.loads(out)["search"]["timeout"] == 30
    config.write_text(base + "[search]\ntimeout = -1\n")
    code, out, err = theta_main("tune", config, "--dry-run")
    assert code != 0 and (
        "The 'timeout' parameter of GridSearch must be a float in the range (0, inf) or None. "
        "Got -1 instead." in err
    )
