"""partial_fit learners against scikit-learn's: MiniBatchKMeans, IncrementalPCA, the MLPs."""

import numpy as np
import pytest

from theta import io
from theta.estimators import IncrementalPCA, MiniBatchKMeans, MLPClassifier, MLPRegressor
from theta.estimators.incremental_pca import merge_mean_var

sk_cluster = pytest.importorskip("sklearn.cluster")
sk_decomposition = pytest.importorskip("sklearn.decomposition")
sk_datasets = pytest.importorskip("sklearn.datasets")
sk_neural = pytest.importorskip("sklearn.neural_network")

BLOBS, _ = sk_datasets.make_blobs(600, centers=5, n_features=3, random_state=0)
RNG = np.random.default_rng(0)
TALL = RNG.normal(size=(230, 6)) @ RNG.normal(size=(6, 6)) + 5.0


# --- MiniBatchKMeans --------------------------------------------------------------------------


def _stream(ours, theirs, X, batch):
    for start in range(0, len(X), batch):
        ours.partial_fit(X[start : start + batch])
        theirs.partial_fit(X[start : start + batch])


def test_minibatch_kmeans_stream_equals_sklearn_from_the_same_centres(tmp_path):
    init = BLOBS[:5].copy()
    ours = MiniBatchKMeans(5, init=init, reassignment_ratio=0.0)
    theirs = sk_cluster.MiniBatchKMeans(5, init=init, reassignment_ratio=0.0, n_init=1)
    _stream(ours, theirs, BLOBS[:300], 50)
    io.save(ours, tmp_path / "km")  # the stream goes on from a saved copy
    ours = io.load(tmp_path / "km")
    _stream(ours, theirs, BLOBS[300:], 50)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours._counts, theirs._counts)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-12)
    assert ours.n_steps_ == theirs.n_steps_ == 12
    np.testing.assert_array_equal(ours.predict(BLOBS), theirs.predict(BLOBS))
    np.testing.assert_allclose(ours.transform(BLOBS), theirs.transform(BLOBS), atol=1e-9)
    assert ours.score(BLOBS) == pytest.approx(theirs.score(BLOBS), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_minibatch_kmeans_fit_is_as_good_as_sklearns(seed):
    ours = MiniBatchKMeans(5, batch_size=64, random_state=seed).fit(BLOBS)
    theirs = sk_cluster.MiniBatchKMeans(5, batch_size=64, random_state=seed).fit(BLOBS)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=0.03)
    assert 1 <= ours.n_iter_ <= 100 and ours.labels_.shape == (600,)


def test_a_stranded_centre_is_reassigned_into_the_data():
    init = np.vstack([BLOBS[:4], [[1e3, 1e3, 1e3]]])  # the last centre attracts nothing
    ours = MiniBatchKMeans(5, init=init, random_state=0)
    theirs = sk_cluster.MiniBatchKMeans(5, init=init, n_init=1, random_state=0)
    _stream(ours, theirs, BLOBS, 100)
    for model in (ours, theirs):
        assert np.abs(model.cluster_centers_).max() < 100  # moved onto a data point
    kept = MiniBatchKMeans(5, init=init, reassignment_ratio=0.0).partial_fit(BLOBS)
    assert kept.cluster_centers_[4].tolist() == [1e3, 1e3, 1e3]


# --- IncrementalPCA ---------------------------------------------------------------------------

_IPCA_ATTRIBUTES = ["components_", "explained_variance_", "explained_variance_ratio_",
                    "singular_values_", "mean_", "var_", "noise_variance_"]  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [{"n_components": 3, "batch_size": 40}, {"batch_size": 50},
     {"n_components": 2, "whiten": True}, {"n_components": 4, "batch_size": 45}],
)  # fmt: skip
def test_incremental_pca_fit_equals_sklearn(params):
    ours = IncrementalPCA(**params).fit(TALL)
    theirs = sk_decomposition.IncrementalPCA(**params).fit(TALL)
    for name in _IPCA_ATTRIBUTES:
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-8,
                                   atol=1e-10, err_msg=name)  # fmt: skip
    np.testing.assert_allclose(ours.transform(TALL), theirs.transform(TALL), atol=1e-8)
    Z = ours.transform(TALL)
    np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z), atol=1e-8)
    assert ours.n_samples_seen_ == theirs.n_samples_seen_ == 230
    assert ours.batch_size_ == theirs.batch_size_


def test_incremental_pca_partial_fit_stream_equals_sklearn_and_approaches_pca(tmp_path):
    ours, theirs = IncrementalPCA(n_components=3), sk_decomposition.IncrementalPCA(n_components=3)
    for start in range(0, 230, 30):
        ours.partial_fit(TALL[start : start + 30])
        theirs.partial_fit(TALL[start : start + 30])
        if start == 90:
            io.save(ours, tmp_path / "ipca")
            ours = io.load(tmp_path / "ipca")
    for name in _IPCA_ATTRIBUTES:
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-8,
                                   atol=1e-10, err_msg=name)  # fmt: skip
    exact = sk_decomposition.PCA(n_components=3).fit(TALL)
    # each component points nearly along the exact PCA's (cosine above 0.98)
    assert (np.abs(np.diag(ours.components_ @ exact.components_.T)) > 0.98).all()


def test_merge_mean_var_equals_numpy():
    mean, var = merge_mean_var(TALL[100:], TALL[:100].mean(axis=0), TALL[:100].var(axis=0), 100)
    np.testing.assert_allclose(mean, TALL.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(var, TALL.var(axis=0), rtol=1e-12)


def test_incremental_pca_errors_as_sklearn():
    with pytest.raises(ValueError, match="n_components=7 invalid for n_features=6"):
        IncrementalPCA(n_components=7).partial_fit(TALL)
    with pytest.raises(ValueError, match="must be less or equal to the batch number of samples 3"):
        IncrementalPCA(n_components=4).partial_fit(TALL[:3])
    ipca = IncrementalPCA().partial_fit(TALL[:4])  # keeps min(4, 6) = 4 components
    ipca.set_params(n_components=2)
    with pytest.raises(ValueError, match="Number of input features has changed from 4 to 2"):
        ipca.partial_fit(TALL[4:10])
    with pytest.raises(ValueError, match="X has 5 features, but IncrementalPCA is expecting 6"):
        ipca.partial_fit(TALL[:10, :5])
    assert ipca.n_samples_seen_ == 4  # the refused batches changed nothing


# --- MLP partial_fit --------------------------------------------------------------------------

X_MLP = RNG.normal(size=(90, 3))
Y_MLP = np.digitize(X_MLP[:, 0], [-0.3, 0.3])


def _sync_sklearn(theirs, ours, solver):
    """Put theta's network and optimizer state into scikit-learn's (its layout: (in, out))."""
    theirs.coefs_ = [w.astype(np.float64) for w in ours.coefs_]
    theirs.intercepts_ = [b.astype(np.float64) for b in ours.intercepts_]
    state, steps = ours._solver_state[0]["state"], ours._solver_state[1]
    n = len(theirs.coefs_)

    def as_sklearn(i, key):
        value = state[i][key].astype(np.float64)
        return value.T if i < n else value

    optimizer = theirs._optimizer
    optimizer.params = theirs.coefs_ + theirs.intercepts_
    if solver == "adam":
        optimizer.t = steps
        optimizer.ms = [as_sklearn(i, "exp_avg") for i in range(2 * n)]
        optimizer.vs = [as_sklearn(i, "exp_avg_sq") for i in range(2 * n)]
    else:  # scikit-learn keeps -lr * (theta's momentum buffer)
        lr = ours.learning_rate_init
        optimizer.velocities = [-lr * as_sklearn(i, "momentum_buffer") for i in range(2 * n)]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_mlp_partial_fit_continues_like_sklearn(solver, tmp_path):
    params = {"hidden_layer_sizes": (5,), "solver": solver, "shuffle": False,
              "learning_rate_init": 0.01, "random_state": 0}  # fmt: skip
    ours = MLPClassifier(**params).partial_fit(X_MLP[:30], Y_MLP[:30], classes=[0, 1, 2])
    theirs = sk_neural.MLPClassifier(**params).partial_fit(X_MLP[:30], Y_MLP[:30],
                                                           classes=[0, 1, 2])  # fmt: skip
    _sync_sklearn(theirs, ours, solver)
    io.save(ours, tmp_path / "mlp")  # the optimizer's moments travel with the file
    ours = io.load(tmp_path / "mlp")
    for start in (30, 60):
        ours.partial_fit(X_MLP[start : start + 30], Y_MLP[start : start + 30])
        theirs.partial_fit(X_MLP[start : start + 30], Y_MLP[start : start + 30])
    for mine, reference in zip(ours.coefs_ + ours.intercepts_,
                               theirs.coefs_ + theirs.intercepts_, strict=True):  # fmt: skip
        np.testing.assert_allclose(mine, reference, atol=1e-6)
    assert ours.loss_curve_[-1] == pytest.approx(theirs.loss_curve_[-1], rel=1e-5)
    assert ours.t_ == theirs.t_ == 90 and ours.n_iter_ == theirs.n_iter_ == 1


def test_mlp_partial_fit_errors_as_sklearn():
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier((3,)).partial_fit(X_MLP, Y_MLP)
    clf = MLPClassifier((3,), random_state=0).partial_fit(X_MLP, Y_MLP == 2, classes=[False, True])
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(X_MLP, Y_MLP)
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        clf.partial_fit(X_MLP, Y_MLP == 2, classes=[0, 1, 2])
    assert clf.t_ == 90  # the refused calls changed nothing


def test_mlp_regressor_partial_fit_after_fit_continues():
    y = X_MLP @ [1.0, -1.0, 0.5]
    reg = MLPRegressor((8,), learning_rate_init=0.01, max_iter=20, tol=0.0, random_state=0)
    with pytest.warns(UserWarning, match="Maximum iterations"):  # theta's ConvergenceWarning
        reg.fit(X_MLP, y)
    before = reg.loss_
    for _ in range(20):
        reg.partial_fit(X_MLP, y)
    assert reg.t_ == 40 * 90 and len(reg.loss_curve_) == 40
    assert reg.loss_ < before
