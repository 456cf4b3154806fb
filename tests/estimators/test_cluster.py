"""KMeans: Lloyd's algorithm against scikit-learn's, k-means++ quality, edge cases and errors."""

import warnings

import numpy as np
import pytest

from theta import threads
from theta.data import load_digits, make_blobs
from theta.errors import ConvergenceWarning, InvalidParameterError, NotFittedError
from theta.estimators import cluster
from theta.estimators.cluster import KMeans, kmeans_plusplus
from theta.threads import set_num_threads


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)[0]


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(10_000, centers=12, n_features=8, cluster_std=2.0, random_state=0)[0]


def _random_rows(X, k, seed):
    return X[np.random.default_rng(seed).choice(len(X), k, replace=False)]


# --- quality against scikit-learn -------------------------------------------------------------


@pytest.mark.parametrize("data, k", [("digits", 10), ("blobs", 12)])
def test_same_init_gives_sklearns_clustering(data, k, request, kernel_backend):
    sk_cluster = pytest.importorskip("sklearn.cluster")
    X = request.getfixturevalue(data)
    init = _random_rows(X, k, seed=1)
    ours = KMeans(k, init=init).fit(X)
    theirs = sk_cluster.KMeans(k, init=init, n_init=1).fit(X)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-9)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_


def _plain_lloyd(X, centers, max_iter, tol):
    """Lloyd's loop with every label found from scratch (full distance matrix, argmin);
    the labels returned are those of the final centres."""

    def nearest(centers):
        return np.argmin(((X[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)

    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        labels = nearest(centers)
        counts = np.bincount(labels, minlength=len(centers))
        new = np.stack([X[labels == j].mean(0) if counts[j] else centers[j]
                        for j in range(len(centers))])  # fmt: skip
        shift, centers = np.sum((new - centers) ** 2), new
        if shift <= tol:
            break
    return nearest(centers), centers, n_iter


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k, spread", [(1, 1.0), (5, 0.3), (12, 2.0), (12, 6.0)])
def test_bounded_assignment_gives_plain_lloyds_labels(k, spread, dtype, kernel_backend):
    # the Hamerly bounds only skip work: every iteration's labels are those of a full search
    X, _ = make_blobs(600, centers=6, n_features=5, cluster_std=spread, random_state=k)
    X = (X - X.mean(0)).astype(dtype)
    init = _random_rows(X, k, seed=k)
    tol = 1e-4 * float(np.mean(np.var(X.astype(np.float64), axis=0)))
    x_sq = np.einsum("ij,ij->i", X, X)
    labels, centers, n_iter, _ = cluster._lloyd(cluster._augment(X), x_sq, init, max_iter=300,
                                                tol=tol)  # fmt: skip
    ref_labels, ref_centers, ref_iter = _plain_lloyd(X.astype(np.float64), init, 300, tol)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(centers, ref_centers, rtol=1e-4 if dtype == np.float32 else 1e-9,
                               atol=1e-4 if dtype == np.float32 else 1e-9)  # fmt: skip
    assert n_iter == ref_iter


def test_bounded_assignment_matches_fresh_search_every_iteration(monkeypatch, kernel_backend):
    X, _ = make_blobs(2_000, centers=8, n_features=4, cluster_std=3.0, random_state=0)
    seen = []
    bounds = cluster._CompiledBounds if kernel_backend == "numba" else cluster._Bounds
    real = bounds.assign

    def checked(self, centers):
        moved = real(self, centers)
        seen.append(np.array_equal(self.labels, cluster._assign(self.Xa, centers)))
        return moved

    monkeypatch.setattr(bounds, "assign", checked)
    KMeans(8, init=_random_rows(X, 8, seed=3), tol=0.0).fit(X)
    assert len(seen) > 3 and all(seen)


@pytest.mark.parametrize("data, k", [("digits", 10), ("blobs", 12)])
def test_kmeans_plusplus_inertia_comparable_to_sklearn(data, k, request):
    sk_cluster = pytest.importorskip("sklearn.cluster")
    X = request.getfixturevalue(data)
    ours = np.mean([KMeans(k, random_state=s).fit(X).inertia_ for s in range(4)])
    theirs = np.mean([sk_cluster.KMeans(k, random_state=s).fit(X).inertia_ for s in range(4)])
    assert ours == pytest.approx(theirs, rel=0.03)


def test_empty_cluster_is_moved_to_a_far_point_like_sklearn(rng, kernel_backend):
    sk_cluster = pytest.importorskip("sklearn.cluster")
    X = rng.normal(size=(200, 3))
    init = np.vstack([X[:3], [[100.0, 100.0, 100.0]]])  # the last centre attracts no point
    ours = KMeans(4, init=init).fit(X)
    theirs = sk_cluster.KMeans(4, init=init, n_init=1).fit(X)
    assert len(np.unique(ours.labels_)) == 4
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-9)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)


# --- behaviour --------------------------------------------------------------------------------


def test_recovers_well_separated_blobs():
    X, y = make_blobs(300, centers=3, cluster_std=0.5, random_state=0)
    km = KMeans(3, random_state=0).fit(X)
    # each true blob maps to exactly one cluster
    pairs = {(int(a), int(b)) for a, b in zip(y, km.labels_, strict=True)}
    assert len(pairs) == 3
    assert km.labels_.dtype == np.int32


def test_predict_transform_score_agree_with_the_fit(blobs):
    km = KMeans(12, random_state=0).fit(blobs)
    np.testing.assert_array_equal(km.predict(blobs), km.labels_)
    distances = km.transform(blobs[:50])
    expected = np.linalg.norm(blobs[:50, None, :] - km.cluster_centers_[None], axis=2)
    np.testing.assert_allclose(distances, expected, rtol=1e-10, atol=1e-10)
    assert km.score(blobs) == pytest.approx(-km.inertia_, rel=1e-10)
    np.testing.assert_array_equal(KMeans(12, random_state=0).fit_predict(blobs), km.labels_)


def test_same_random_state_same_result_and_fit_forgets(digits):
    a = KMeans(10, random_state=3).fit(digits)
    b = KMeans(10, random_state=3).fit(digits[::-1]).fit(digits)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_more_inits_never_worse(digits):
    one = KMeans(10, init="random", random_state=0).fit(digits)
    five = KMeans(10, init="random", n_init=5, random_state=0).fit(digits)
    assert five.inertia_ <= one.inertia_


def test_n_init_auto_follows_sklearn(digits):
    # "auto": one run for k-means++, ten for random seeding (the same stream of seeds)
    auto = KMeans(10, init="random", n_init="auto", random_state=0).fit(digits)
    ten = KMeans(10, init="random", n_init=10, random_state=0).fit(digits)
    assert auto.inertia_ == ten.inertia_
    plus = KMeans(10, n_init="auto", random_state=0).fit(digits)
    assert plus.inertia_ == KMeans(10, random_state=0).fit(digits).inertia_


def test_float32_stays_float32(blobs, kernel_backend):
    X = blobs.astype(np.float32)
    km = KMeans(12, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == np.float32
    assert km.transform(X).dtype == np.float32
    ref = KMeans(12, random_state=0).fit(blobs)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-4)


def test_integer_input_is_accepted_and_not_modified():
    X = np.array([[0, 0], [0, 1], [10, 10], [10, 11]])
    before = X.copy()
    km = KMeans(2, random_state=0).fit(X)
    np.testing.assert_array_equal(X, before)
    assert km.cluster_centers_.dtype == np.float64
    assert sorted(km.cluster_centers_[:, 0].tolist()) == [0.0, 10.0]


def test_kmeans_plusplus_picks_distinct_spread_rows():
    X = np.repeat(np.arange(5.0)[:, None] * 100, 20, axis=0)  # 5 far-apart points, 20 copies
    centers = kmeans_plusplus(X, 5, rng=np.random.default_rng(0))
    assert sorted(centers[:, 0].tolist()) == [0.0, 100.0, 200.0, 300.0, 400.0]


def test_far_from_origin_data_clusters_as_near_it(kernel_backend):
    X, _ = make_blobs(500, centers=4, random_state=1)
    init = X[:4]
    near = KMeans(4, init=init).fit(X)
    far = KMeans(4, init=init + 1e6).fit(X + 1e6)
    np.testing.assert_array_equal(near.labels_, far.labels_)


# --- warnings and errors ------------------------------------------------------------------------


def test_max_iter_reached_warns(digits):
    with pytest.warns(ConvergenceWarning, match="did not converge within max_iter=1"):
        km = KMeans(10, max_iter=1, random_state=0).fit(digits)
    assert km.n_iter_ == 1


def test_duplicate_points_warn_about_distinct_clusters():
    X = np.repeat([[0.0], [1.0], [2.0]], 3, axis=0)
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(3\).*n_clusters \(4\)"):
        KMeans(4, random_state=0).fit(X)


def test_explicit_init_with_several_runs_warns(rng):
    X = rng.normal(size=(20, 2))
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        KMeans(2, init=X[:2], n_init=3).fit(X)


def test_more_clusters_than_samples_names_both_and_keeps_earlier_fit(rng):
    X = rng.normal(size=(10, 2))
    km = KMeans(3, random_state=0).fit(X)
    centers = km.cluster_centers_.copy()
    km.set_params(n_clusters=11)
    with pytest.raises(ValueError, match=r"n_samples=10 should be >= n_clusters=11"):
        km.fit(X)
    np.testing.assert_array_equal(km.cluster_centers_, centers)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_clusters": 0}, "'n_clusters' parameter of KMeans must be an int in the range"),
        ({"init": "kmeans"}, "'init' parameter of KMeans must be a str among"),
        ({"max_iter": 0}, "'max_iter' parameter of KMeans"),
        ({"tol": -1.0}, "'tol' parameter of KMeans"),
        ({"n_init": "many"}, "'n_init' parameter of KMeans"),
    ],
)
def test_bad_hyperparameters(params, match, rng):
    with pytest.raises(InvalidParameterError, match=match):
        KMeans(**params).fit(rng.normal(size=(20, 2)))


def test_init_of_the_wrong_shape(rng):
    X = rng.normal(size=(20, 2))
    with pytest.raises(ValueError, match=r"initial centers \(3, 2\) does not match.*clusters 2"):
        KMeans(2, init=X[:3]).fit(X)
    with pytest.raises(ValueError, match=r"number of features of the data 2"):
        KMeans(2, init=np.zeros((2, 3))).fit(X)


def test_bad_input(rng):
    X = rng.normal(size=(20, 2))
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(np.where(X > 1, np.nan, X))
    with pytest.raises(ValueError, match="Reshape your data"):
        KMeans(2).fit(X[:, 0])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        KMeans(2).predict(X)
    km = KMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but KMeans is expecting 2"):
        km.transform(rng.normal(size=(4, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        km.score(X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_nearest_two_finds_first_nearest_and_second_distance_with_ties(k, dtype):
    # small integers: every product is exact, so ties are real and the reference is exact
    rng = np.random.default_rng(k)
    X = rng.integers(-3, 4, (3_000, 4)).astype(dtype)
    C = rng.integers(-3, 4, (k, 4)).astype(dtype)
    x_sq = np.einsum("ij,ij->i", X, X).astype(np.float64)
    labels, first, second = cluster._nearest_two(cluster._augment(X), x_sq, C)
    D = ((X[:, None, :].astype(np.float64) - C[None]) ** 2).sum(axis=2)  # (n, k)
    np.testing.assert_array_equal(labels, D.argmin(axis=1))
    np.testing.assert_array_equal(first, D.min(axis=1))
    np.testing.assert_array_equal(second, np.sort(D, axis=1)[:, 1] if k > 1 else np.inf)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threads_change_nothing(dtype, monkeypatch, kernel_backend):
    # 32 centres x 32 columns: 256-row chunks, enough of them for the pool
    X, _ = make_blobs(7_000, centers=20, n_features=31, cluster_std=4.0, random_state=1)
    X = X.astype(dtype)
    init = _random_rows(X, 32, seed=2)
    monkeypatch.setattr(threads, "_POOL", {})  # to see which pools the fits start
    fits = []
    try:
        for n in (1, 2, 3):
            set_num_threads(n)
            fits.append(KMeans(32, init=init, tol=0.0).fit(X))
            np.testing.assert_array_equal(fits[-1].predict(X), fits[-1].labels_)
    finally:
        set_num_threads(None)
    assert sorted(n for _, n in threads._POOL) == [2, 3]
    for fit in fits[1:]:
        np.testing.assert_array_equal(fit.labels_, fits[0].labels_)
        np.testing.assert_array_equal(fit.cluster_centers_, fits[0].cluster_centers_)
        assert fit.inertia_ == fits[0].inertia_ and fit.n_iter_ == fits[0].n_iter_
