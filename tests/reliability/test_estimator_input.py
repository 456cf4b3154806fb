"""Estimators given DataFrames, extreme scales, NaN hyperparameters or a diverging step size:
a clear error or the right answer, never a silent wrong one."""

import warnings

import numpy as np
import pytest

from theta.errors import ConvergenceWarning, InvalidParameterError
from theta.estimators import (
    PCA,
    Autoencoder,
    KMeans,
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    ModuleRegressor,
    Ridge,
    StandardScaler,
    all_estimators,
)
from theta.nn import MLP, Dropout
from theta.validation import check_scalar

pd = pytest.importorskip("pandas")
sklearn_linear = pytest.importorskip("sklearn.linear_model")
sklearn_decomposition = pytest.importorskip("sklearn.decomposition")

_QUICK = {"MLPClassifier": {"max_iter": 5}, "MLPRegressor": {"max_iter": 5},
          "ModuleClassifier": {"epochs": 2}, "ModuleRegressor": {"epochs": 2},
          "Autoencoder": {"epochs": 2}}  # fmt: skip


def _quick(cls):
    return cls(**_QUICK.get(cls.__name__, {}))


def _data(estimator, rng):
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int) if "Classifier" in type(estimator).__name__ else X[:, 0]
    if type(estimator).__name__ == "LogisticRegression":
        y = (X[:, 0] + rng.normal(size=40) > 0).astype(int)
    return pd.DataFrame(X, columns=["a", "b", "c"]), y


def _methods(estimator):
    return [m for m in ("predict", "transform", "decision_function", "predict_proba", "score")
            if hasattr(estimator, m)]  # fmt: skip


def _call(estimator, method, X, y):
    return getattr(estimator, method)(*((X, y) if method == "score" else (X,)))


# --- item 13: feature names -----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::theta.errors.ConvergenceWarning")
@pytest.mark.parametrize("cls", all_estimators(), ids=lambda c: c.__name__)
def test_reordered_dataframe_columns_are_refused_by_every_method(cls, rng):
    est = _quick(cls)
    X, y = _data(est, rng)
    est.fit(X, y)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
    assert est.feature_names_in_.dtype == object
    for method in _methods(est):
        _call(est, method, X, y)  # same columns, same order: no warning, no error
        with pytest.raises(ValueError, match="must be in the same order as they were in fit"):
            _call(est, method, X[["c", "b", "a"]], y)
        renamed = X.rename(columns={"c": "d"})
        with pytest.raises(ValueError, match="unseen at fit time:\n- d\n.*missing:\n- c\n"):
            _call(est, method, renamed, y)


def test_reordered_columns_would_have_given_other_predictions(rng):
    X = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
    y = X["a"] - 2 * X["c"]
    model = LinearRegression().fit(X, y)
    swapped = X[["c", "b", "a"]]
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        unchecked = model.predict(swapped.to_numpy())
    assert not np.allclose(model.predict(X), unchecked)  # what a silent answer would be
    with pytest.raises(ValueError, match="The feature names should match those that were"):
        model.predict(swapped)


def test_names_given_at_one_end_only_warn(rng):
    X = rng.normal(size=(20, 2))
    named = pd.DataFrame(X, columns=["a", "b"])
    y = X[:, 0]
    with pytest.warns(UserWarning, match="X has feature names, but Ridge was fitted without"):
        Ridge().fit(X, y).predict(named)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but Ridge was"):
        Ridge().fit(named, y).predict(X)


def test_refit_without_names_forgets_the_old_names(rng):
    X = rng.normal(size=(20, 2))
    scaler = StandardScaler().fit(pd.DataFrame(X, columns=["a", "b"]))
    assert scaler.get_feature_names_out().tolist() == ["a", "b"]
    scaler.fit(X)
    assert not hasattr(scaler, "feature_names_in_")
    assert scaler.get_feature_names_out().tolist() == ["x0", "x1"]
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        StandardScaler().fit(pd.DataFrame(X, columns=["a", "b"])).get_feature_names_out(["b", "a"])


def test_non_string_column_names_are_not_names(rng):
    X = pd.DataFrame(rng.normal(size=(20, 2)))  # pandas' default 0, 1 columns
    model = Ridge().fit(X, X[0])
    assert not hasattr(model, "feature_names_in_")
    model.predict(X)  # no warning


def test_mixed_column_name_types_are_refused_before_fitting(rng):
    X = pd.DataFrame(rng.normal(size=(20, 2)), columns=["a", 1])
    model = Ridge()
    with pytest.raises(TypeError, match=r"\['int', 'str'\] as feature name"):
        model.fit(X, np.zeros(20))
    assert not hasattr(model, "n_features_in_")


# --- item 14: a diverging step size ---------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_huge_learning_rate_init_raises_naming_it(Estimator, solver, rng):
    X = rng.normal(size=(100, 4))
    y = (X[:, 0] > 0).astype(int) if Estimator is MLPClassifier else X[:, 0] * 10
    est = Estimator(learning_rate_init=1e6, solver=solver, random_state=0)
    with pytest.raises(ValueError, match=r"learning_rate_init=1e\+06 is too large .* try "
                                         r"learning_rate_init=100000 or smaller"):  # fmt: skip
        est.fit(X, y)
    assert not hasattr(est, "model_")  # nothing from the diverged run is kept


def test_module_regressor_and_autoencoder_divergence_name_lr(rng):
    X = rng.normal(size=(60, 4))
    with pytest.raises(ValueError, match=r"lr=1e\+06 is too large .* try lr=100000"):
        ModuleRegressor(lr=1e6, epochs=5, random_state=0).fit(X, X[:, 0] * 10)
    autoencoder = Autoencoder(2, lr=1e6, epochs=5, random_state=0)
    with pytest.raises(ValueError, match=r"Autoencoder diverged: .*lr=1e\+06 is too large"):
        autoencoder.fit(X)
    assert not hasattr(autoencoder, "encoder_")


def test_iterative_estimators_stay_finite_on_huge_data(rng):
    X = rng.normal(size=(200, 3))
    y = (X @ [1.0, -2.0, 0.5] + rng.normal(size=200) > 0).astype(int)
    oracle = sklearn_linear.LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000)
    oracle.fit(X, y)
    for scale in (1e300, 1e150):  # the penalty vanishes next to data this large
        model = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(X * scale, y)
        np.testing.assert_allclose(model.coef_ * scale, oracle.coef_, rtol=1e-4)
        np.testing.assert_array_equal(model.predict(X * scale), oracle.predict(X))
    reference = KMeans(3, random_state=0).fit(X)
    for scale in (1e300, 1e-300):
        km = KMeans(3, random_state=0).fit(X * scale)
        np.testing.assert_array_equal(km.labels_, reference.labels_)
        np.testing.assert_allclose(km.cluster_centers_ / scale, reference.cluster_centers_)
        np.testing.assert_array_equal(km.predict(X * scale), reference.labels_)
        np.testing.assert_allclose(km.transform(X * scale) / scale, reference.transform(X))


# --- item 15: NaN hyperparameters -----------------------------------------------------------


def test_nan_hyperparameters_are_refused():
    with pytest.raises(InvalidParameterError) as err:
        check_scalar(float("nan"), "dropout", float, min_val=0.0, max_val=1.0)
    assert str(err.value) == (
        "The 'dropout' parameter must be a float in the range [0.0, 1.0]. Got nan instead."
    )
    with pytest.raises(ValueError, match="'p' parameter.* Got nan instead"):
        Dropout(float("nan"))
    with pytest.raises(ValueError, match="'dropout' parameter.* Got nan instead"):
        MLP((2, 3, 1), dropout=float("nan"))
    # NumPy NaNs are not Python floats: the constraint rule refuses them too
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of Ridge.*Got"):
        Ridge(alpha=np.float32("nan")).fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(InvalidParameterError, match="'learning_rate_init' parameter"):
        MLPRegressor(learning_rate_init=np.float64("nan")).fit([[0.0], [1.0]], [0.0, 1.0])


# --- item 21: data near the ends of float64 -------------------------------------------------


@pytest.mark.parametrize("scale", [1e300, 1e150, 1e-150, 1e-300])
def test_least_squares_match_sklearn_at_extreme_scales(scale, rng):
    X = rng.normal(size=(60, 4))
    y = X @ [1.0, 2.0, -1.0, 0.5] + 3.0 + 0.1 * rng.normal(size=60)
    for fit_intercept in (True, False):
        oracle = sklearn_linear.LinearRegression(fit_intercept=fit_intercept).fit(X, y)
        for model in (LinearRegression(fit_intercept=fit_intercept),
                      Ridge(alpha=0.0, fit_intercept=fit_intercept)):  # fmt: skip
            pred = model.fit(X * scale, y).predict(X * scale)
            np.testing.assert_allclose(pred, oracle.predict(X), rtol=1e-10, atol=1e-10)
    if abs(np.log10(scale)) < 200:  # scikit-learn's Ridge solves these itself
        oracle = sklearn_linear.Ridge(alpha=1.0).fit(X * scale, y).predict(X * scale)
    else:  # alpha=1 vanishes next to X·1e300, and dominates X·1e-300 (the mean remains)
        oracle = sklearn_linear.LinearRegression().fit(X, y).predict(X)
        oracle = oracle if scale > 1 else np.full(len(y), y.mean())
    pred = Ridge(alpha=1.0).fit(X * scale, y).predict(X * scale)
    np.testing.assert_allclose(pred, oracle, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
@pytest.mark.parametrize("scale", [1e300, 1e150, 1e-150, 1e-300])
def test_pca_matches_sklearn_at_extreme_scales(scale, solver, rng):
    X = rng.normal(size=(80, 4)) * [3.0, 2.0, 1.0, 0.5]
    oracle = sklearn_decomposition.PCA(svd_solver=solver).fit(X)  # unscaled: its own fails
    pca = PCA(svd_solver=solver).fit(X * scale)
    np.testing.assert_allclose(pca.explained_variance_ratio_, oracle.explained_variance_ratio_,
                               rtol=1e-10)  # fmt: skip
    signs = np.sign(np.sum(pca.components_ * oracle.components_, axis=1))
    np.testing.assert_allclose(pca.components_ * signs[:, None], oracle.components_, atol=1e-10)
    np.testing.assert_allclose(pca.singular_values_ / scale, oracle.singular_values_, rtol=1e-10)
    if abs(np.log10(scale)) < 200:  # beyond, the variance itself is inf or 0 in float64
        np.testing.assert_allclose(
            pca.explained_variance_ / scale**2, oracle.explained_variance_, rtol=1e-10
        )
    np.testing.assert_allclose(
        pca.transform(X * scale) / scale, oracle.transform(X) * signs, rtol=1e-8, atol=1e-10
    )


# --- RELIABILITY 3, 10, 21 for every estimator ----------------------------------------------


@pytest.mark.parametrize("Estimator", [StandardScaler, PCA, Autoencoder, KMeans])
def test_constant_feature_gives_finite_output_without_warnings(Estimator, rng):
    X = np.column_stack([rng.normal(size=30), np.full(30, 7.0)])
    est = Estimator(**_QUICK.get(Estimator.__name__, {})) if Estimator is not KMeans else (
        KMeans(2, random_state=0)
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a divide-by-zero RuntimeWarning would fail here
        out = est.fit(X).transform(X)
    assert np.isfinite(out).all()


@pytest.mark.parametrize(
    "cls", [c for c in all_estimators() if c.__name__.endswith(("Classifier", "Regressor",
                                                              "Regression", "Ridge"))],
    ids=lambda c: c.__name__,
)  # fmt: skip
def test_supervised_fit_refuses_x_y_length_mismatch(cls, rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[20, 19\]"):
        _quick(cls).fit(X, (X[:19, 0] > 0).astype(int))


def test_iterative_fits_warn_when_they_stop_at_max_iter(rng):
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    for est in (LogisticRegression(max_iter=1), MLPClassifier(max_iter=1, random_state=0),
                KMeans(3, max_iter=1, tol=0.0, random_state=0)):  # fmt: skip
        with pytest.warns(ConvergenceWarning):
            est.fit(X, y)
