"""The compiled KMeans assignment (``theta.kernels._cluster``) against the NumPy path."""

import numpy as np
import pytest

from theta import kernels
from theta.data import make_blobs
from theta.estimators import cluster
from theta.threads import set_num_threads

pytest.importorskip("numba")


def _problem(k, spread, dtype, n=3_000, n_features=5):
    X, _ = make_blobs(n, centers=6, n_features=n_features, cluster_std=spread, random_state=k)
    X = (X - X.mean(0)).astype(dtype)
    init = X[np.random.default_rng(k).choice(n, k, replace=False)]
    tol = 1e-4 * float(np.mean(np.var(X.astype(np.float64), axis=0)))
    return cluster._augment(X), np.einsum("ij,ij->i", X, X), init, tol


def _lloyd(backend, Xa, x_sq, init, tol):
    with kernels.use_backend(backend):
        return cluster._lloyd(Xa, x_sq, init, max_iter=300, tol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k, spread", [(1, 1.0), (5, 0.3), (12, 2.0), (16, 6.0)])
def test_compiled_lloyd_gives_the_numpy_paths_clustering(k, spread, dtype):
    Xa, x_sq, init, tol = _problem(k, spread, dtype)
    with kernels.use_backend("numba"):
        assert type(cluster._bounds(Xa, x_sq, init)) is cluster._CompiledBounds
    labels, centers, n_iter, converged = _lloyd("numba", Xa, x_sq, init, tol)
    ref_labels, ref_centers, ref_iter, ref_converged = _lloyd("numpy", Xa, x_sq, init, tol)
    np.testing.assert_array_equal(labels, ref_labels)
    assert labels.dtype == np.int32 and centers.dtype == dtype
    # the NumPy path sums float32 rows in float32 products, the kernel in float64
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(centers, ref_centers, rtol=rtol, atol=rtol)
    assert (n_iter, converged) == (ref_iter, ref_converged)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_first_assignment_breaks_ties_to_the_lowest_index(k, dtype):
    # small integers: every product is exact, so ties are real and the reference is exact
    rng = np.random.default_rng(k)
    X = rng.integers(-3, 4, (3_000, 4)).astype(dtype)
    C = rng.integers(-3, 4, (k, 4)).astype(dtype)
    x_sq = np.einsum("ij,ij->i", X, X).astype(np.float64)
    with kernels.use_backend("numba"):  # whatever THETA_KERNELS says (CI runs both)
        compiled = kernels.load("cluster")
    bounds = cluster._CompiledBounds(compiled, cluster._augment(X), x_sq, C)
    D = ((X[:, None, :].astype(np.float64) - C[None]) ** 2).sum(axis=2)  # (n, k)
    np.testing.assert_array_equal(bounds.labels, D.argmin(axis=1))
    # the bounds enclose the exact distances, and the sums are those of the labels
    assert np.all(bounds.upper >= np.sqrt(D.min(axis=1)))
    second = np.sort(D, axis=1)[:, 1] if k > 1 else np.full(len(X), np.inf)
    assert np.all(bounds.lower <= np.sqrt(second))
    expected = cluster._cluster_totals(cluster._augment(X), bounds.labels, k)
    np.testing.assert_array_equal(bounds.totals, expected)


def test_parallel_and_serial_steps_give_the_same_bits(monkeypatch):
    Xa, x_sq, init, tol = _problem(12, 4.0, np.float64, n=20_000)
    runs = []
    try:
        set_num_threads(2)
        for chunk_work in (0, 1 << 60):  # every step on the threads, then none
            monkeypatch.setattr(cluster, "_CHUNK_WORK", chunk_work)
            runs.append(_lloyd("numba", Xa, x_sq, init, 0.0))
    finally:
        set_num_threads(None)
    (labels, centers, n_iter, _), (labels1, centers1, n_iter1, _) = runs
    np.testing.assert_array_equal(labels, labels1)
    np.testing.assert_array_equal(centers, centers1)
    assert n_iter == n_iter1 > 3


def test_many_wide_centres_take_the_numpy_path():
    # weights beyond cache size: BLAS's blocked products beat the compiled search
    X = np.random.default_rng(0).normal(size=(300, 255))
    Xa, x_sq = cluster._augment(X), np.einsum("ij,ij->i", X, X)
    with kernels.use_backend("numba"):
        assert type(cluster._bounds(Xa, x_sq, X[:100])) is cluster._Bounds
        assert type(cluster._bounds(Xa, x_sq, X[:30])) is cluster._CompiledBounds
