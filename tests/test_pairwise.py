"""theta.pairwise: distances as scikit-learn computes them, and exact k-nearest search."""

import threading

import numpy as np
import pytest

from theta import pairwise as tp
from theta import threads
from theta.threads import set_num_threads

sk_pairwise = pytest.importorskip("sklearn.metrics.pairwise")

FUNCTIONS = ["euclidean_distances", "cosine_similarity", "cosine_distances", "manhattan_distances"]


@pytest.fixture
def XY():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 7)), rng.normal(size=(25, 7))


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("with_y", [True, False])
def test_float64_equals_scikit_learn_bit_for_bit(name, with_y, XY):
    X, Y = XY
    args = (X, Y) if with_y else (X,)
    np.testing.assert_array_equal(getattr(tp, name)(*args), getattr(sk_pairwise, name)(*args))


@pytest.mark.parametrize("name", FUNCTIONS + ["dot_similarity"])
def test_float32_stays_float32_and_close(name, XY):
    X, Y = XY
    got = getattr(tp, name)(X.astype(np.float32), Y.astype(np.float32))
    assert got.dtype == np.float32
    ref = X @ Y.T if name == "dot_similarity" else getattr(sk_pairwise, name)(X, Y)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_mixed_and_integer_inputs_give_float64(XY):
    X, Y = XY
    assert tp.euclidean_distances(X.astype(np.float32), Y).dtype == np.float64
    assert tp.manhattan_distances([[1, 2]], [[3, 5]]).tolist() == [[5.0]]


@pytest.mark.parametrize("name", ["euclidean_distances", "cosine_distances"])
def test_self_distances_have_exact_zero_diagonal(name):
    # far from the origin, ||x||² - 2 x·x + ||x||² does not cancel to 0 by itself
    X = np.random.default_rng(1).normal(size=(30, 5)) + 1e4
    for data in (X, X.astype(np.float32)):
        D = getattr(tp, name)(data)
        assert np.all(np.diag(D) == 0)
        assert np.all(D >= 0)


def test_squared_euclidean(XY):
    X, Y = XY
    np.testing.assert_allclose(tp.euclidean_distances(X, Y, squared=True),
                               tp.euclidean_distances(X, Y) ** 2, rtol=1e-12)  # fmt: skip


def test_cosine_with_zero_vectors_has_no_nan():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    S = tp.cosine_similarity(X)
    D = tp.cosine_distances(X, np.array([[0.0, 0.0], [2.0, 0.0]]))
    assert np.isfinite(S).all() and np.isfinite(D).all()
    assert S[0].tolist() == [0.0, 0.0]
    assert D[0].tolist() == [1.0, 1.0]
    np.testing.assert_array_equal(D, sk_pairwise.cosine_distances(X, [[0.0, 0.0], [2.0, 0.0]]))


def test_dot_similarity_and_its_distance(XY):
    X, Y = XY
    np.testing.assert_array_equal(tp.dot_similarity(X, Y), X @ Y.T)
    np.testing.assert_array_equal(tp.pairwise_distances(X, Y, metric="dot"), -(X @ Y.T))
    np.testing.assert_array_equal(tp.dot_similarity(X), X @ X.T)


@pytest.mark.parametrize(
    "metric, name",
    [("euclidean", "euclidean_distances"), ("l2", "euclidean_distances"),
     ("cosine", "cosine_distances"), ("manhattan", "manhattan_distances"),
     ("cityblock", "manhattan_distances"), ("l1", "manhattan_distances")],
)  # fmt: skip
def test_pairwise_distances_dispatches_like_scikit_learn(metric, name, XY):
    X, Y = XY
    np.testing.assert_array_equal(tp.pairwise_distances(X, Y, metric=metric),
                                  sk_pairwise.pairwise_distances(X, Y, metric=metric))  # fmt: skip


def test_unknown_metric_and_bad_shapes_are_clear_errors(XY):
    X, Y = XY
    with pytest.raises(ValueError, match="Unknown metric 'minkowski'. Valid metrics are"):
        tp.pairwise_distances(X, Y, metric="minkowski")
    with pytest.raises(ValueError, match=r"X.shape\[1\] == 7 while Y.shape\[1\] == 3"):
        tp.euclidean_distances(X, Y[:, :3])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        tp.cosine_similarity([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="Expected 2D array"):
        tp.manhattan_distances([1.0, 2.0])


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan", "dot"])
def test_chunked_equals_whole_matrix(metric, XY):
    X, _ = XY
    starts = []

    def reduce(D, start):
        starts.append(start)
        return D

    tiny = 3 * 8 * len(X) / 2**20  # three rows per chunk
    chunks = list(tp.pairwise_distances_chunked(X, metric=metric, reduce_func=reduce,
                                                working_memory=tiny))  # fmt: skip
    assert starts == list(range(0, len(X), 3))
    # BLAS may round a 3-row product differently from a 40-row one, in the last bit
    whole = tp.pairwise_distances(X, metric=metric)
    np.testing.assert_allclose(np.vstack(chunks), whole, rtol=1e-12, atol=1e-14)
    if metric in ("euclidean", "cosine"):
        assert np.all(np.diag(np.vstack(chunks)) == 0)


def test_get_chunk_n_rows():
    assert tp.get_chunk_n_rows(2**20, working_memory=256) == 256
    assert tp.get_chunk_n_rows(2**20, max_n_rows=10, working_memory=256) == 10
    assert tp.get_chunk_n_rows(2**40, working_memory=1) == 1  # never zero


# --- argkmin --------------------------------------------------------------------------------------


def _reference_heap(D, k):
    """scikit-learn's ArgKmin on one row, pushed element by element (no shortcuts)."""
    out = []
    for row in D:
        values, indices = [np.finfo(np.float64).max] * k, [-1] * k
        for j, v in enumerate(row.tolist()):
            tp._heap_push(values, indices, v, j)
        out.append(sorted(indices))
    return np.array(out)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan", "dot"])
@pytest.mark.parametrize("k", [1, 4, 37])
def test_argkmin_matches_a_full_sort(metric, k):
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(50, 6)), rng.normal(size=(300, 6))
    dist, ind = tp.argkmin(X, Y, k, metric=metric)
    D = tp.pairwise_distances(X, Y, metric=metric)
    np.testing.assert_array_equal(ind, np.argsort(D, axis=1, kind="stable")[:, :k])
    np.testing.assert_allclose(dist, np.take_along_axis(D, ind, axis=1), rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(dist, axis=1) >= 0)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_argkmin_breaks_ties_as_scikit_learns_heap(metric):
    # small integers: distances tie everywhere, so which tied points are kept matters
    rng = np.random.default_rng(3)
    X, Y = rng.integers(0, 3, size=(60, 4)), rng.integers(0, 3, size=(500, 4))
    D = tp.pairwise_distances(X, Y, metric=metric) ** (2 if metric == "euclidean" else 1)
    for k in (1, 3, 10):
        _, ind = tp.argkmin(X, Y, k, metric=metric)
        np.testing.assert_array_equal(np.sort(ind, axis=1), _reference_heap(D, k))
        # ties inside the k are listed in index order
        d = np.take_along_axis(D, ind, axis=1)
        assert np.all((np.diff(d, axis=1) > 0) | (np.diff(ind, axis=1) > 0))


def test_argkmin_ties_on_random_shapes():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, d = int(rng.integers(5, 600)), int(rng.integers(1, 5))
        k = int(rng.integers(1, min(n, 50) + 1))
        X, Y = rng.integers(0, 4, size=(15, d)), rng.integers(0, 4, size=(n, d))
        for metric in ("euclidean", "manhattan", "dot"):
            D = tp.pairwise_distances(X, Y, metric=metric) ** (2 if metric == "euclidean" else 1)
            _, ind = tp.argkmin(X, Y, k, metric=metric)
            np.testing.assert_array_equal(np.sort(ind, axis=1), _reference_heap(D, k))


def test_argkmin_agrees_with_scikit_learn_brute_force():
    neighbors = pytest.importorskip("sklearn.neighbors")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(4)
    X, Y = rng.integers(0, 5, size=(80, 6)).astype(float), rng.normal(size=(400, 6)).round(1)
    for metric in ("euclidean", "manhattan", "cosine"):
        nn = neighbors.NearestNeighbors(n_neighbors=7, algorithm="brute", metric=metric).fit(Y)
        # scikit-learn's own tie-breaking depends on its thread count; one thread is its
        # deterministic, sequential order
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            d_sk, i_sk = nn.kneighbors(X)
        d, i = tp.argkmin(X, Y, 7, metric=metric)
        np.testing.assert_array_equal(np.sort(i, axis=1), np.sort(i_sk, axis=1))
        np.testing.assert_allclose(d, d_sk, rtol=1e-12, atol=1e-15)


def test_argkmin_is_independent_of_chunking():
    rng = np.random.default_rng(5)
    X, Y = rng.integers(0, 4, size=(70, 3)), rng.integers(0, 4, size=(260, 3))
    whole = tp.argkmin(X, Y, 6)
    tiny = tp.argkmin(X, Y, 6, working_memory=1e-5)  # one query per chunk
    for a, b in zip(whole, tiny, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine", "dot"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_argkmin_threads_change_nothing(metric, dtype, monkeypatch):
    # ties everywhere; tiny chunks (a few queries each) so that several run side by side
    rng = np.random.default_rng(6)
    X, Y = rng.integers(0, 4, size=(90, 3)).astype(dtype), rng.integers(0, 4, size=(300, 3))
    Y = Y.astype(dtype)
    monkeypatch.setattr(threads, "_POOL", {})  # to see which pools the searches start
    found = []
    try:
        for n in (1, 2, 3):
            set_num_threads(n)
            found.append(tp.argkmin(X, Y, 5, metric=metric, working_memory=2e-3))
    finally:
        set_num_threads(None)
    assert sorted(n for _, n in threads._POOL) == [2, 3]
    for dist, ind in found[1:]:
        np.testing.assert_array_equal(dist, found[0][0])
        np.testing.assert_array_equal(ind, found[0][1])


def test_for_each_chunk_obeys_set_num_threads_and_reraises():
    def run(n_threads, starts, **kw):
        seen = {}
        set_num_threads(n_threads)
        threads.for_each_chunk(lambda s: seen.__setitem__(s, threading.get_ident()), starts, **kw)
        return seen

    try:
        one = run(1, range(8))
        assert sorted(one) == list(range(8)) and set(one.values()) == {threading.get_ident()}
        two = run(2, range(8))
        assert sorted(two) == list(range(8)) and threading.get_ident() not in two.values()
        few = run(2, range(3), min_per_thread=2)  # too few chunks: run here, in order
        assert list(few) == [0, 1, 2] and set(few.values()) == {threading.get_ident()}

        inner = {}

        def outer(start):  # a nested call runs in its pool thread instead of waiting on it
            threads.for_each_chunk(lambda s: inner.__setitem__(s, threading.get_ident()),
                              [2 * start, 2 * start + 1])  # fmt: skip
            assert {inner[2 * start], inner[2 * start + 1]} == {threading.get_ident()}

        threads.for_each_chunk(outer, range(8))
        assert sorted(inner) == list(range(16))

        def fail(start):
            if start == 5:
                raise KeyError("chunk 5")

        with pytest.raises(KeyError, match="chunk 5"):
            threads.for_each_chunk(fail, range(8))
    finally:
        set_num_threads(None)


def test_argkmin_edge_sizes_and_errors():
    Y = np.arange(5.0)[:, None]
    dist, ind = tp.argkmin([[1.6]], Y, 5)  # k == n: everything, sorted
    assert ind.tolist() == [[2, 1, 3, 0, 4]]
    np.testing.assert_allclose(dist, [[0.4, 0.6, 1.4, 1.6, 2.4]])
    with pytest.raises(ValueError, match=r"k must be in \[1, 5\]"):
        tp.argkmin([[0.0]], Y, 6)
    with pytest.raises(ValueError, match="Unknown metric"):
        tp.argkmin([[0.0]], Y, 1, metric="hamming")


def test_argkmin_float32_is_fast_path_with_exact_small_distances():
    rng = np.random.default_rng(6)
    Y = (rng.normal(size=(500, 16)) * 100).astype(np.float32)
    X = np.vstack([Y[:5], Y[:5] + np.float32(0.01)])
    dist, ind = tp.argkmin(X, Y, 2)
    assert dist.dtype == np.float32
    assert ind[:, 0].tolist() == [0, 1, 2, 3, 4] * 2
    assert np.all(dist[:5, 0] == 0)  # exact duplicates: distance exactly 0, despite float32
    np.testing.assert_allclose(dist[5:, 0], 0.04, rtol=1e-3)


def test_argkmin_dot_is_maximum_inner_product():
    Y = np.array([[1.0, 0.0], [10.0, 0.0], [0.0, 1.0]])
    dist, ind = tp.argkmin([[1.0, 0.1]], Y, 2, metric="dot")
    assert ind.tolist() == [[1, 0]]  # the longest aligned vector wins, unlike cosine
    np.testing.assert_allclose(dist, [[-10.0, -1.0]])
