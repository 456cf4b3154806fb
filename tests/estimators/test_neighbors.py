"""k-nearest neighbours: identical to scikit-learn's brute force, and approximate with faiss."""

import pickle
import sys

import numpy as np
import pytest

from theta.data.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from theta.errors import InvalidParameterError, NotFittedError
from theta.estimators.neighbors import KNeighborsClassifier, KNeighborsRegressor, recall_at_k

sk_neighbors = pytest.importorskip("sklearn.neighbors")
threadpoolctl = pytest.importorskip("threadpoolctl")

METRICS = ["euclidean", "manhattan", "cosine"]  # the ones scikit-learn shares


def _split(loader):
    X, y = loader(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(X))
    n_train = len(X) * 2 // 3
    return X[perm[:n_train]], y[perm[:n_train]], X[perm[n_train:]]


DATA = {"iris": load_iris, "digits": load_digits, "breast_cancer": load_breast_cancer}


@pytest.fixture(scope="module")
def splits():
    return {name: _split(loader) for name, loader in DATA.items()}


def _one_thread():
    # scikit-learn's brute force breaks distance ties in an order that depends on how many
    # OpenMP threads it splits the training set over; on one thread it is sequential and
    # deterministic, and that is the order theta reproduces
    return threadpoolctl.threadpool_limits(1, user_api="openmp")


# --- exact search: scikit-learn's answers ---------------------------------------------------------


@pytest.mark.parametrize("dataset", list(DATA))
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier_predictions_identical_to_scikit_learn(splits, dataset, metric, weights):
    X, y, X_test = splits[dataset]
    for k in (1, 15):
        ours = KNeighborsClassifier(k, weights=weights, metric=metric).fit(X, y)
        theirs = sk_neighbors.KNeighborsClassifier(
            k, weights=weights, metric=metric, algorithm="brute"
        ).fit(X, y)
        with _one_thread():
            for query in (X_test, None):  # None: training points, each without itself
                np.testing.assert_array_equal(ours.predict(query), theirs.predict(query))
            # cosine distances can differ in the last bit (BLAS operand order)
            np.testing.assert_allclose(
                ours.predict_proba(X_test), theirs.predict_proba(X_test), rtol=1e-12, atol=0
            )


@pytest.mark.parametrize("metric", METRICS)
def test_kneighbors_identical_to_scikit_learn(splits, metric):
    X, y, X_test = splits["digits"]  # integer pixels: many exact ties
    ours = KNeighborsClassifier(10, metric=metric).fit(X, y)
    theirs = sk_neighbors.KNeighborsClassifier(10, metric=metric, algorithm="brute").fit(X, y)
    with _one_thread():
        for query in (X_test, None):
            d_ours, i_ours = ours.kneighbors(query)
            d_theirs, i_theirs = theirs.kneighbors(query)
            np.testing.assert_array_equal(np.sort(i_ours, axis=1), np.sort(i_theirs, axis=1))
            np.testing.assert_allclose(d_ours, d_theirs, rtol=1e-12, atol=1e-15)
    assert ours.kneighbors(X_test[:3], n_neighbors=2, return_distance=False).shape == (3, 2)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_regressor_matches_scikit_learn_on_diabetes(metric, weights):
    X, y, X_test = _split(load_diabetes)
    ours = KNeighborsRegressor(7, weights=weights, metric=metric).fit(X, y)
    theirs = sk_neighbors.KNeighborsRegressor(
        7, weights=weights, metric=metric, algorithm="brute"
    ).fit(X, y)
    with _one_thread():
        for query in (X_test, None):
            np.testing.assert_allclose(ours.predict(query), theirs.predict(query), rtol=1e-12)
    assert ours.score(X_test, ours.predict(X_test)) == 1.0


def test_distance_weights_give_exact_matches_all_the_weight():
    X = np.array([[0.0], [1.0], [1.0], [5.0]])
    y = np.array([0, 1, 1, 0])
    clf = KNeighborsClassifier(3, weights="distance").fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba([[1.0]]), [[0.0, 1.0]])
    reg = KNeighborsRegressor(3, weights="distance").fit(X, [0.0, 2.0, 4.0, 100.0])
    np.testing.assert_array_equal(reg.predict([[1.0]]), [3.0])


def test_labels_of_any_type_and_multi_output_regression():
    X = np.array([[0.0], [0.1], [1.0], [1.1]])
    for labels in (["no", "no", "yes", "yes"], [2.0, 2.0, -1.0, -1.0], [True, True, False, False]):
        clf = KNeighborsClassifier(1).fit(X, labels)
        np.testing.assert_array_equal(clf.predict([[0.05], [1.05]]), [labels[0], labels[2]])
        np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    Y = np.column_stack([[0.0, 0.2, 1.0, 1.2], [5.0, 5.0, 7.0, 7.0]])
    reg = KNeighborsRegressor(2).fit(X, Y)
    np.testing.assert_allclose(reg.predict([[0.0]]), [[0.1, 5.0]])


def test_float32_is_kept():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    clf = KNeighborsClassifier(3).fit(X, rng.integers(0, 3, 200))
    assert clf._fit_X.dtype == np.float32
    dist, ind = clf.kneighbors(X[:5].astype(np.float64))
    assert dist.dtype == np.float32
    assert ind[:, 0].tolist() == [0, 1, 2, 3, 4] and np.all(dist[:, 0] == 0)


def test_dot_metric_is_maximum_inner_product():
    X = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0]])
    clf = KNeighborsClassifier(1, metric="dot").fit(X, ["short", "long", "up"])
    assert clf.predict([[1.0, 0.5]]).tolist() == ["long"]  # cosine would say "short"
    assert KNeighborsClassifier(1, metric="cosine").fit(X, [0, 1, 2]).predict([[1.0, 0.0]]) == 0
    dist, _ = clf.kneighbors([[1.0, 0.5]], n_neighbors=3)
    np.testing.assert_allclose(dist, [[-3.0, -1.0, -0.5]])
    with pytest.raises(ValueError, match="weights='distance' needs non-negative distances"):
        KNeighborsClassifier(metric="dot", weights="distance").fit(X, [0, 1, 2])
    # a point need not be its own best match: leaving it out keeps its true best match
    line = KNeighborsClassifier(1, metric="dot").fit(
        [[1.0, 0.0], [3.0, 0.0], [5.0, 0.0]], [0, 1, 2]
    )
    assert line.kneighbors(n_neighbors=1, return_distance=False).ravel().tolist() == [2, 2, 1]


# --- errors --------------------------------------------------------------------------------------


def test_bad_input_gives_scikit_learns_sentences():
    X, y = np.random.default_rng(0).normal(size=(10, 3)), np.arange(10) % 2
    with pytest.raises(
        InvalidParameterError,
        match="The 'n_neighbors' parameter of "
        r"KNeighborsClassifier must be an int in the range \[1, inf\). Got 0",
    ):
        KNeighborsClassifier(0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'algorithm' parameter"):
        KNeighborsRegressor(algorithm="kd_tree").fit(X, y)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        KNeighborsClassifier().predict(X)
    clf = KNeighborsClassifier(3).fit(X, y)
    with pytest.raises(
        ValueError,
        match="X has 2 features, but KNeighborsClassifier is expecting 3 features as input",
    ):
        clf.predict(X[:, :2])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(np.full((1, 3), np.nan))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        KNeighborsClassifier().fit(X, np.linspace(0, 1, 10))
    with pytest.raises(
        ValueError,
        match="Expected n_neighbors <= n_samples_fit, but "
        "n_neighbors = 11, n_samples_fit = 10, n_samples = 2",
    ):
        clf.kneighbors(X[:2], n_neighbors=11)
    with pytest.raises(ValueError, match="Expected n_neighbors > 0. Got 0"):
        clf.kneighbors(X[:2], n_neighbors=0)
    with pytest.raises(ValueError, match="Expected 2D array"):
        clf.kneighbors(X[0])


def test_failed_fit_leaves_no_fitted_state():
    clf = KNeighborsClassifier()
    with pytest.raises(ValueError):
        clf.fit([[0.0], [1.0]], [0.5, 0.7])
    assert not [k for k in vars(clf) if k.endswith("_")]


# --- approximate search with faiss -------------------------------------------------------------


def _blobs(n, n_features, n_centers, seed, dtype=np.float32):
    """Gaussian clusters: the kind of data approximate indexes are made for."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_centers, n_features))
    labels = rng.integers(0, n_centers, n)
    X = centers[labels] + 0.3 * rng.normal(size=(n, n_features))
    return X.astype(dtype), labels


def test_missing_faiss_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` fail
    X, y = _blobs(300, 4, 3, 0)
    with pytest.raises(ImportError, match=r"pip install 'theta-ml\[ann\]'"):
        KNeighborsClassifier(algorithm="hnsw").fit(X, y)


def test_ivfpq_rejects_what_it_cannot_do():
    pytest.importorskip("faiss")
    X, y = _blobs(300, 8, 3, 0)
    with pytest.raises(ValueError, match="cannot search with metric='manhattan'"):
        KNeighborsClassifier(algorithm="ivfpq", metric="manhattan").fit(X, y)
    with pytest.raises(ValueError, match="pq_m=3 must divide n_features=8"):
        KNeighborsClassifier(algorithm="ivfpq", pq_m=3).fit(X, y)
    with pytest.raises(ValueError, match="needs at least max"):
        KNeighborsClassifier(algorithm="ivfpq").fit(X[:200], y[:200])


@pytest.mark.parametrize("algorithm", ["hnsw", "ivfpq"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine", "dot", "manhattan"])
def test_approximate_search_is_accurate_and_reports_exact_distances(algorithm, metric):
    pytest.importorskip("faiss")
    if algorithm == "ivfpq" and metric == "manhattan":
        pytest.skip("IVF-PQ has no L1 quantiser")
    X, y = _blobs(3100, 16, 20, 1)
    X, y, Q = X[:3000], y[:3000], X[3000:]  # queries from the same clusters
    knobs = {"hnsw_m": 16, "ef_construction": 40} if algorithm == "hnsw" else {}
    approx = KNeighborsClassifier(
        5, metric=metric, algorithm=algorithm, n_jobs=1, random_state=0, **knobs
    )
    approx.fit(X, y)
    exact = KNeighborsClassifier(5, metric=metric).fit(X, y)
    assert recall_at_k(approx, Q, k=10) >= 0.9
    assert approx.recall(None, k=5) >= 0.9  # training points, without themselves
    assert recall_at_k(exact, Q, k=10) == 1.0
    dist, ind = approx.kneighbors(Q)
    ref = exact._neighbors(Q, 5, True, exact=True)[0]
    # re-ranked candidates: their distances are exact, and never better than the truth
    assert np.all(dist >= ref - 1e-4)
    assert np.mean(approx.predict(Q) == exact.predict(Q)) >= 0.9


@pytest.mark.parametrize("algorithm", ["hnsw", "ivfpq"])
def test_approximate_index_is_seeded_picklable_and_rebuildable(algorithm):
    pytest.importorskip("faiss")
    X, y = _blobs(2050, 8, 10, 3)
    X, y, Q = X[:2000], y[:2000], X[2000:]
    a = KNeighborsRegressor(4, algorithm=algorithm, n_jobs=1, random_state=7).fit(X, y)
    b = KNeighborsRegressor(4, algorithm=algorithm, n_jobs=1, random_state=7).fit(X, y)
    expected = a.kneighbors(Q)
    for other in (b, pickle.loads(pickle.dumps(a))):
        for got, want in zip(other.kneighbors(Q), expected, strict=True):
            np.testing.assert_array_equal(got, want)
    # the persistence hooks: bytes out and back in, or a rebuild from the stored arrays
    data = a._index_bytes()
    assert data.dtype == np.uint8 and data.ndim == 1
    c = KNeighborsRegressor(4, algorithm=algorithm, n_jobs=1).fit(X[:1000], y[:1000])
    c.__dict__.update({k: v for k, v in vars(a).items() if k != "_index"})
    c._index = None
    np.testing.assert_array_equal(c.kneighbors(Q)[1], expected[1])  # rebuilt from _fit_X
    c._restore_index(data)
    np.testing.assert_array_equal(c.predict(Q), a.predict(Q))
    assert KNeighborsRegressor().fit(X, y)._index_bytes().size == 0  # brute: nothing to save


@pytest.mark.parametrize("algorithm", ["brute", "hnsw", "ivfpq"])
def test_save_and_load_with_theta_io(tmp_path, algorithm):
    if algorithm != "brute":
        pytest.importorskip("faiss")
    from theta import io

    X, labels = _blobs(700, 8, 5, 10)
    y = np.array(["red", "green", "blue", "cyan", "gray"])[labels]
    clf = KNeighborsClassifier(3, metric="cosine", algorithm=algorithm, n_jobs=1, random_state=0)
    clf.fit(X[:600], y[:600])
    io.save(clf, tmp_path / "knn")
    loaded = io.load(tmp_path / "knn")
    np.testing.assert_array_equal(loaded.predict(X[600:]), clf.predict(X[600:]))
    for got, want in zip(loaded.kneighbors(X[600:]), clf.kneighbors(X[600:]), strict=True):
        np.testing.assert_array_equal(got, want)


def test_query_time_knobs_trade_speed_for_recall():
    pytest.importorskip("faiss")
    X, y = _blobs(4200, 16, 40, 5)
    X, y, Q = X[:4000], y[:4000], X[4000:]
    knn = KNeighborsClassifier(algorithm="ivfpq", nlist=64, nprobe=1, n_jobs=1).fit(X, y)
    low = knn.recall(Q)
    high = knn.set_params(nprobe=64).recall(Q)  # every cell: only the PQ ranking can miss
    assert low < high and high >= 0.99


def test_grid_search_picks_between_exact_and_approximate():
    pytest.importorskip("faiss")
    model_selection = pytest.importorskip("sklearn.model_selection")
    X, y = _blobs(600, 8, 3, 8)
    search = model_selection.GridSearchCV(
        KNeighborsClassifier(n_jobs=1, hnsw_m=16, ef_construction=40, random_state=0),
        {"algorithm": ["brute", "hnsw"], "n_neighbors": [1, 5]},
        cv=3,
    ).fit(X, y)
    assert search.best_score_ > 0.95


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["hnsw", "ivfpq"])
def test_recall_at_10_on_50k_by_64_at_default_knobs(algorithm):
    pytest.importorskip("faiss")
    X, labels = _blobs(51_000, 64, 100, 9)
    knn = KNeighborsClassifier(algorithm=algorithm, random_state=0).fit(X[:50_000], labels[:50_000])
    assert knn.recall(X[50_000:], k=10) >= 0.95
