"""theta.set_num_threads: one setting for theta's own pools and (through threadpoolctl) BLAS."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import theta
from theta import threads
from theta.estimators import KMeans


def _blas_threads() -> set[int]:
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


@pytest.fixture
def restore_threads():
    yield
    theta.set_num_threads(None)


def test_set_num_threads_limits_theta_and_blas_and_none_restores(restore_threads):
    before, blas_before = theta.get_num_threads(), _blas_threads()
    theta.set_num_threads(1)
    assert theta.get_num_threads() == 1 and _blas_threads() == {1}
    theta.set_num_threads(None)
    assert theta.get_num_threads() == before and _blas_threads() == blas_before


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(bad, restore_threads):
    with pytest.raises(ValueError, match=r"set_num_threads: n must be a positive integer"):
        theta.set_num_threads(bad)


def test_kmeans_pool_follows_the_setting(restore_threads, monkeypatch):
    X = np.random.default_rng(0).standard_normal((20_000, 16))
    made: list[int] = []
    real = threads.ThreadPoolExecutor
    monkeypatch.setattr(threads, "_POOL", {})
    monkeypatch.setattr(
        threads, "ThreadPoolExecutor", lambda n, name: made.append(n) or real(n, name)
    )
    theta.set_num_threads(1)
    one = KMeans(16, n_init=1, max_iter=3, tol=1e9, random_state=0).fit(X)
    assert made == []  # one thread: the chunks run in the calling thread
    theta.set_num_threads(2)
    two = KMeans(16, n_init=1, max_iter=3, tol=1e9, random_state=0).fit(X)
    assert made == [2]
    np.testing.assert_array_equal(one.labels_, two.labels_)  # chunks write their own rows


@pytest.mark.parametrize("value, expected", [("1", "1"), (" 3 ", "3"), ("", None)])
def test_theta_num_threads_is_read_at_import(value, expected):
    env = {**os.environ, "THETA_NUM_THREADS": value}
    probe = "import theta; print(theta.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    if expected is not None:
        assert out.stdout.strip() == expected


@pytest.mark.parametrize("value", ["0", "abc", "-1"])
def test_a_bad_theta_num_threads_names_the_variable(value):
    env = {**os.environ, "THETA_NUM_THREADS": value}
    out = subprocess.run([sys.executable, "-c", "import theta"], env=env, capture_output=True,
                         text=True)  # fmt: skip
    assert out.returncode != 0
    assert f"THETA_NUM_THREADS must be a positive integer (got '{value}')" in out.stderr
