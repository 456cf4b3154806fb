"""PCA against scikit-learn (components with their signs), and the Autoencoder against PCA."""

import warnings

import numpy as np
import pytest

from theta.data import load_digits, load_iris
from theta.errors import InvalidParameterError, NotFittedError
from theta.estimators.decomposition import PCA, Autoencoder
from theta.nn import Module


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)[0]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)[0]


@pytest.fixture(scope="module")
def low_rank():
    """Rank-2 data in 8 features of about unit variance, plus a little noise."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(2, 8))
    W /= np.linalg.norm(W, axis=0)
    return rng.normal(size=(500, 2)) @ W + 0.05 * rng.normal(size=(500, 8))


def _reconstruction_mse(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


# --- PCA against scikit-learn -------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["auto", "full", "covariance_eigh"])
@pytest.mark.parametrize("data, n_compare", [("digits", 60), ("iris", 4)])
def test_pca_matches_sklearn_with_signs(data, n_compare, solver, request):
    sk_decomposition = pytest.importorskip("sklearn.decomposition")
    X = request.getfixturevalue(data)
    ours = PCA(svd_solver=solver).fit(X)
    theirs = sk_decomposition.PCA(svd_solver=solver).fit(X)
    assert ours.n_components_ == theirs.n_components_
    # digits has constant pixels: the last directions share a zero variance and are arbitrary
    np.testing.assert_allclose(
        ours.components_[:n_compare], theirs.components_[:n_compare], atol=1e-6
    )
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, theirs.explained_variance_ratio_, atol=1e-12
    )
    np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, atol=1e-9)
    # (theirs leaves rounding noise of 1e-6 in the zero singular values; ours are exact)
    np.testing.assert_allclose(
        ours.singular_values_[:n_compare], theirs.singular_values_[:n_compare], atol=1e-8
    )
    np.testing.assert_allclose(ours.mean_, theirs.mean_, atol=1e-12)
    assert ours.noise_variance_ == pytest.approx(theirs.noise_variance_, abs=1e-9)


@pytest.mark.parametrize("n_components", [10, 0.9, 0.5])
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_truncated_transform_matches_sklearn(digits, n_components, whiten):
    sk_decomposition = pytest.importorskip("sklearn.decomposition")
    ours = PCA(n_components, whiten=whiten).fit(digits)
    theirs = sk_decomposition.PCA(n_components, whiten=whiten).fit(digits)
    assert ours.n_components_ == theirs.n_components_
    assert ours.noise_variance_ == pytest.approx(theirs.noise_variance_, rel=1e-9)
    np.testing.assert_allclose(ours.transform(digits), theirs.transform(digits), atol=1e-6)
    Z = ours.transform(digits[:5])
    np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z), atol=1e-6)


def test_pca_wide_data_uses_the_svd(rng):
    sk_decomposition = pytest.importorskip("sklearn.decomposition")
    X = rng.normal(size=(10, 50))
    ours = PCA().fit(X)
    theirs = sk_decomposition.PCA().fit(X)
    assert ours.n_components_ == 10
    np.testing.assert_allclose(ours.components_[:9], theirs.components_[:9], atol=1e-8)


def test_covariance_route_equals_full_svd_far_from_origin(rng):
    # an offset a million times the spread: XᵀX - n·mean·meanᵀ would lose every digit
    X = rng.normal(size=(5000, 20)) * np.linspace(1, 3, 20) + 1e6
    cov = PCA(svd_solver="covariance_eigh").fit(X)
    svd = PCA(svd_solver="full").fit(X)
    np.testing.assert_allclose(cov.components_, svd.components_, atol=1e-6)
    np.testing.assert_allclose(cov.explained_variance_, svd.explained_variance_, rtol=1e-8)


# --- PCA behaviour -------------------------------------------------------------------------------


def test_pca_whitened_outputs_have_unit_variance_and_invert(iris):
    pca = PCA(3, whiten=True).fit(iris)
    Z = pca.transform(iris)
    np.testing.assert_allclose(Z.var(axis=0, ddof=1), 1.0, rtol=1e-10)
    full = PCA(4, whiten=True).fit(iris)
    np.testing.assert_allclose(full.inverse_transform(full.transform(iris)), iris, atol=1e-10)


def test_pca_zero_variance_features_stay_finite_without_warnings(rng):
    X = np.column_stack([rng.normal(size=50), np.full(50, 3.0), rng.normal(size=50)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for solver in ("full", "covariance_eigh"):
            pca = PCA(whiten=True, svd_solver=solver).fit(X)
            assert np.isfinite(pca.transform(X)).all()
            assert pca.explained_variance_[-1] == pytest.approx(0.0, abs=1e-12)
        constant = PCA(whiten=True).fit(np.ones((20, 3)))
        assert np.all(constant.explained_variance_ratio_ == 0.0)
        assert np.isfinite(constant.transform(np.ones((2, 3)))).all()
        one = PCA().fit(X[:1])
        assert one.n_components_ == 1 and np.isfinite(one.transform(X)).all()


def test_pca_float32_stays_float32(digits):
    X = digits.astype(np.float32)
    pca = PCA(5).fit(X)
    assert pca.components_.dtype == np.float32
    assert pca.transform(X).dtype == np.float32
    ref = PCA(5).fit(digits)
    np.testing.assert_allclose(pca.components_, ref.components_, atol=1e-4)


def test_pca_fit_transform_equals_fit_then_transform(iris):
    np.testing.assert_allclose(PCA(2).fit_transform(iris), PCA(2).fit(iris).transform(iris))


def test_pca_too_many_components_names_both_and_keeps_earlier_fit(rng):
    X = rng.normal(size=(4, 6))
    pca = PCA(2).fit(X)
    with pytest.raises(ValueError, match=r"n_components=5 must be between 0 and min\("
                       r"n_samples, n_features\)=4"):  # fmt: skip
        pca.set_params(n_components=5).fit(X)
    assert pca.n_components_ == 2


@pytest.mark.parametrize("n_components", [0, -1, 1.5, "mle"])
def test_pca_bad_n_components(n_components, iris):
    with pytest.raises(InvalidParameterError, match="'n_components' parameter of PCA"):
        PCA(n_components).fit(iris)


def test_pca_bad_input(iris):
    with pytest.raises(ValueError, match="infinity"):
        PCA().fit(np.where(iris > 7, np.inf, iris))
    with pytest.raises(NotFittedError):
        PCA().transform(iris)
    pca = PCA(2).fit(iris)
    with pytest.raises(ValueError, match="X has 3 features, but PCA is expecting 4"):
        pca.transform(iris[:, :3])
    with pytest.raises(ValueError, match="inverse_transform is expecting 2 features"):
        pca.inverse_transform(iris[:, :3])


@pytest.mark.parametrize(
    "bad, what", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")]
)
@pytest.mark.parametrize("solver", ["covariance_eigh", "full"])
def test_pca_non_finite_input_named_by_every_route(bad, what, solver, rng):
    # the covariance route proves the data finite from the Gram diagonal, without a pass
    X = rng.standard_normal((200, 4))
    X[7, 2] = bad
    with pytest.raises(ValueError, match=f"Input X contains {what}"):
        PCA(2, svd_solver=solver).fit(X)


@pytest.mark.parametrize("scale", [1.0, 2.0**200, 2.0**-200, 2.0**300])
def test_pca_covariance_route_scales_exactly_by_powers_of_two(scale, rng):
    # the Gram diagonal decides whether the data must be scaled; either way the fit of
    # X·2^p is the fit of X with its units multiplied back (scaling by 2^p is exact)
    X = rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6)) + 3.0
    ref = PCA(3, svd_solver="covariance_eigh").fit(X)
    pca = PCA(3, svd_solver="covariance_eigh").fit(X * scale)
    np.testing.assert_allclose(pca.components_, ref.components_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(pca.explained_variance_ / scale**2, ref.explained_variance_,
                               rtol=1e-9)  # fmt: skip
    np.testing.assert_allclose(pca.mean_ / scale, ref.mean_, rtol=1e-12)


# --- Autoencoder ----------------------------------------------------------------------------------


def test_autoencoder_learns_and_approaches_pca_on_low_rank_data(low_rank):
    pca_error = _reconstruction_mse(PCA(2).fit(low_rank), low_rank)
    linear = Autoencoder(2, hidden_layer_sizes=(), lr=1e-2, epochs=30, random_state=0)
    linear.fit(low_rank)
    assert linear.loss_curve_[-1] < 0.1 * linear.loss_curve_[0]
    assert _reconstruction_mse(linear, low_rank) < 1.15 * pca_error
    deep = Autoencoder(2, random_state=0).fit(low_rank)
    assert len(deep.loss_curve_) == 50
    assert -deep.score(low_rank) < 1.5 * pca_error


def test_autoencoder_is_deterministic_for_a_seed(low_rank):
    a = Autoencoder(2, epochs=3, random_state=7).fit(low_rank).transform(low_rank)
    b = Autoencoder(2, epochs=3, random_state=7).fit(low_rank).transform(low_rank)
    c = Autoencoder(2, epochs=3, random_state=8).fit(low_rank).transform(low_rank)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_autoencoder_shapes_modules_and_inverse(low_rank):
    ae = Autoencoder(3, hidden_layer_sizes=16, epochs=2, random_state=0).fit(low_rank)
    assert isinstance(ae.encoder_, Module) and isinstance(ae.decoder_, Module)
    Z = ae.transform(low_rank)
    assert Z.shape == (500, 3) and Z.dtype == np.float64
    assert ae.inverse_transform(Z).shape == (500, 8)
    assert ae.score(low_rank) == pytest.approx(-_reconstruction_mse(ae, low_rank))
    with pytest.raises(ValueError, match="inverse_transform is expecting 3 features"):
        ae.inverse_transform(Z[:, :2])


def test_autoencoder_constant_feature_and_float32(rng):
    X = np.column_stack([rng.normal(size=40), np.full(40, 5.0)]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ae = Autoencoder(1, epochs=2, random_state=0).fit(X)
        Z = ae.transform(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    assert ae.scale_[1] == 1.0  # a constant feature is centred, never divided by zero
    assert np.isfinite(ae.inverse_transform(Z)).all()


@pytest.mark.parametrize(
    "params, name",
    [
        ({"hidden_layer_sizes": -3}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes"),
        ({"n_components": 0}, "n_components"),
        ({"lr": 0.0}, "lr"),
        ({"epochs": "abc"}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"activation": "swish"}, "activation"),
    ],
)
def test_autoencoder_bad_hyperparameters(params, name, rng):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of Autoencoder"):
        Autoencoder(**params).fit(rng.normal(size=(10, 3)))


def test_autoencoder_bad_input(rng):
    X = rng.normal(size=(10, 3))
    with pytest.raises(NotFittedError):
        Autoencoder().transform(X)
    with pytest.raises(ValueError, match="NaN"):
        Autoencoder().fit(np.where(X > 1, np.nan, X))
    ae = Autoencoder(epochs=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but Autoencoder is expecting 3"):
        ae.transform(X[:, :2])
