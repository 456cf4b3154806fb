"""The same search on a Dask cluster (a LocalCluster on loopback) and on local processes
gives the same cv_results_ as in one process; a task that kills its Dask worker fails alone."""

import os
import signal
import time

import numpy as np
import pytest

from theta.data import load_iris
from theta.estimators import KNeighborsClassifier
from theta.params import Params
from theta.tune import BayesSearch, GridSearch, IntUniform, RandomSearch

distributed = pytest.importorskip("distributed")
pytest.importorskip("optuna")

pytestmark = pytest.mark.slow

TIME_COLUMNS = {"mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"}


@pytest.fixture(scope="module")
def client():
    import dask

    # one death is enough for the scheduler to give up on a task (by default 3 workers die
    # first), and a worker holds only the task it runs (else a queued task dies with it)
    config = {
        "distributed.scheduler.allowed-failures": 0,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(config):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


def assert_identical(a, b):
    assert set(a) == set(b)
    for key in set(a) - TIME_COLUMNS:
        if key == "params" or key.startswith("param_"):
            assert list(a[key]) == list(b[key]), key
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def _searches(**where):
    X, y = load_iris(return_X_y=True)
    space = {"n_neighbors": IntUniform(1, 40), "weights": ["uniform", "distance"]}
    grid = GridSearch(KNeighborsClassifier(), {"n_neighbors": [1, 5, 9]}, cv=3, **where)
    rand = RandomSearch(KNeighborsClassifier(), space, n_iter=5, cv=4, random_state=0, **where)
    bayes = BayesSearch(
        KNeighborsClassifier(),
        space,
        n_trials=6,
        batch_size=3,
        n_startup_trials=3,
        cv=3,
        random_state=0,
        **where,
    )
    return [s.fit(X, y).cv_results_ for s in (grid, rand, bayes)]


def test_dask_and_local_processes_give_the_results_of_one_process(client):
    here = _searches()
    on_dask = _searches(backend="dask", scheduler=client.scheduler.address)
    on_processes = _searches(n_jobs=2)
    for a, b, c in zip(here, on_dask, on_processes, strict=True):
        assert_identical(a, b)
        assert_identical(a, c)


class Killer(Params):
    """Kills the process it fits in when ``die`` (and it is not the test's own process)."""

    def __init__(self, die=False, main_pid=0):
        self.die = die
        self.main_pid = main_pid

    def fit(self, X, y):
        if self.die and os.getpid() != self.main_pid:
            os.kill(os.getpid(), signal.SIGKILL)
        return self

    def score(self, X, y):
        return 1.0


def test_a_task_that_kills_its_dask_worker_fails_alone(client):
    X, y = np.zeros((8, 1)), np.arange(8) % 2
    search = GridSearch(
        Killer(main_pid=os.getpid()), {"die": [False, True]}, cv=2, backend="dask"
    )  # the current client
    with pytest.warns(UserWarning, match="1 of 2 candidates failed"):
        search.fit(X, y)
    assert search.cv_results_["error"][0] == ""
    assert search.cv_results_["error"][1].startswith("fold 0: worker process died (KilledWorker")
    assert search.best_params_ == {"die": False}


class Napper(Params):
    """Sleeps ``delay`` seconds in ``fit``."""

    def __init__(self, delay=0.0):
        self.delay = delay

    def fit(self, X, y):
        time.sleep(self.delay)
        return self

    def score(self, X, y):
        return 1.0


def test_a_hanging_task_on_dask_is_cancelled_at_its_timeout(client):
    # runs last: the cancelled task's worker thread sleeps on (a thread cannot be killed)
    X, y = np.zeros((8, 1)), np.arange(8) % 2
    # the clock starts when a worker thread runs the task: a quick trial queued behind a busy
    # thread was once timed out while it waited
    search = GridSearch(Napper(), {"delay": [0.0, 30.0]}, cv=2, backend="dask", timeout=8)
    with pytest.warns(UserWarning, match="1 of 2 candidates failed"):
        search.fit(X, y)
    assert search.cv_results_["error"][1] == "fold 0: timed out after 8 s"
    assert search.best_params_ == {"delay": 0.0}
