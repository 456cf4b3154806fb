"""LinearRegression, Ridge and LogisticRegression: the chapter's example, and scikit-learn as
the oracle for the same hyperparameters."""

import warnings

import numpy as np
import pytest

from theta.data import load_breast_cancer, load_diabetes, load_digits, load_iris
from theta.errors import ConvergenceWarning, InvalidParameterError, NotFittedError
from theta.estimators.linear import LinearRegression, LogisticRegression, Ridge


def _sk():
    """scikit-learn's linear models, the oracle (tests that need it skip without it)."""
    return pytest.importorskip("sklearn.linear_model")


def _standardize(X):
    return (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)


def _sk_fit(model, X, y):
    """Fit a scikit-learn oracle, whose own ConvergenceWarning is not ours to test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def _assert_same_line(ours, theirs, atol=1e-8):
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-8, atol=atol)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-8, atol=atol)


# --- LinearRegression ---------------------------------------------------------------------------


def test_chapter_example_by_gradient_descent():
    model = LinearRegression(solver="gd", lr=0.05, steps=1000)
    assert model.fit([[0], [1], [2], [3], [4]], [1, 3, 5, 7, 9]) is model
    assert model.coef_.shape == (1,) and model.coef_.dtype == np.float64
    assert round(float(model.coef_[0]), 3) == 2.0
    assert round(model.intercept_, 3) == 1.0
    np.testing.assert_allclose(model.predict([[10]]), [21.0], atol=1e-3)
    # loss before the first update from w = b = 0: mean((2x + 1)²) = 33, as in the chapter
    assert len(model.loss_curve_) == 1000 and model.loss_curve_[0] == 33.0
    assert model.loss_curve_[-1] < 1e-9


def test_gradient_descent_reaches_the_closed_form():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = X @ rng.normal(size=(3, 2)) + [1.0, -2.0] + 0.1 * rng.normal(size=(200, 2))
    gd = LinearRegression(solver="gd", lr=0.2, steps=500).fit(X, Y)  # multi-output too
    exact = LinearRegression().fit(X, Y)
    assert gd.coef_.shape == exact.coef_.shape == (2, 3)
    np.testing.assert_allclose(gd.coef_, exact.coef_, atol=1e-8)
    np.testing.assert_allclose(gd.intercept_, exact.intercept_, atol=1e-8)


def test_gradient_descent_keeps_float64_and_zero_steps_learns_nothing():
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    model = LinearRegression(solver="gd", steps=0).fit(X, [1.0, 2.0, 3.0])
    assert model.coef_.dtype == np.float64
    np.testing.assert_array_equal(model.coef_, [0.0, 0.0])
    assert model.intercept_ == 0.0 and model.loss_curve_ == []


def test_gradient_descent_divergence_names_lr():
    with pytest.raises(ValueError, match=r"lr=10 is too large") as info:
        LinearRegression(solver="gd", lr=10.0).fit([[0], [1], [2], [3], [4]], [1, 3, 5, 7, 9])
    assert "diverged" in str(info.value)


def test_refit_forgets_the_loss_curve():
    model = LinearRegression(solver="gd", steps=5).fit([[0.0], [1.0]], [0.0, 1.0])
    model.set_params(solver="closed_form").fit([[0.0], [1.0]], [0.0, 1.0])
    assert not hasattr(model, "loss_curve_")


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_regression_equals_sklearn_on_diabetes(fit_intercept):
    X, y = load_diabetes(return_X_y=True)
    ours = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    theirs = _sk().LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    _assert_same_line(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)
    assert ours.n_features_in_ == 10 and isinstance(ours.intercept_, float)


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: (X, np.column_stack([y, 3 * y - X[:, 1]])),  # multi-output
        lambda X, y: (X[:8], y[:8]),  # wide: minimum-norm solution
        lambda X, y: (np.column_stack([X, 2 * X[:, 0]]), y),  # rank-deficient
        lambda X, y: (X * 1e-3 + 1e4, y),  # far from the origin, tiny spread
    ],
    ids=["multi-output", "wide", "rank-deficient", "offset"],
)
def test_linear_regression_hard_cases_equal_sklearn(make):
    X, y = make(*load_diabetes(return_X_y=True))
    ours = LinearRegression().fit(X, y)
    theirs = _sk().LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-7, atol=1e-6)


def test_column_y_stays_two_dimensional():
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X, y[:, None])
    assert model.coef_.shape == (1, 10) and model.predict(X).shape == (442, 1)


def test_float32_is_kept():
    X, y = load_diabetes(return_X_y=True)
    model = Ridge().fit(X.astype(np.float32), y)
    assert model.coef_.dtype == np.float32
    assert model.predict(X.astype(np.float32)).dtype == np.float32


# --- Ridge ------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 0.01, 1.0, 100.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_equals_sklearn_on_diabetes(alpha, fit_intercept):
    X, y = load_diabetes(return_X_y=True)
    ours = Ridge(alpha, fit_intercept=fit_intercept).fit(X, y)
    theirs = _sk_fit(_sk().Ridge(alpha=alpha, fit_intercept=fit_intercept), X, y)
    _assert_same_line(ours, theirs)


def test_ridge_multi_output_and_wide_equal_sklearn():
    X, y = load_diabetes(return_X_y=True)
    Y = np.column_stack([y, y - 100 * X[:, 2]])
    _assert_same_line(Ridge(0.3).fit(X, Y), _sk().Ridge(alpha=0.3).fit(X, Y))
    _assert_same_line(Ridge(0.3).fit(X[:6], y[:6]), _sk().Ridge(alpha=0.3).fit(X[:6], y[:6]))


# --- LogisticRegression -----------------------------------------------------------------------


def _classification_sets():
    X, y = load_iris(return_X_y=True)
    yield "iris", X, y
    X, y = load_digits(return_X_y=True)
    yield "digits", X / 16.0, y
    X, y = load_breast_cancer(return_X_y=True)
    yield "breast_cancer", _standardize(X), y


@pytest.mark.parametrize("C", [0.1, 1.0])
def test_logistic_accuracy_within_one_point_of_sklearn(C):
    for name, X, y in _classification_sets():
        idx = np.random.default_rng(0).permutation(len(y))
        train, test = idx[: len(y) * 3 // 4], idx[len(y) * 3 // 4 :]
        ours = LogisticRegression(C, max_iter=1000).fit(X[train], y[train])
        theirs = _sk_fit(_sk().LogisticRegression(C=C, max_iter=1000), X[train], y[train])
        gap = abs(ours.score(X[test], y[test]) - theirs.score(X[test], y[test]))
        assert gap <= 0.01, (name, gap)
        assert ours.coef_.shape == theirs.coef_.shape, name
        assert ours.intercept_.shape == theirs.intercept_.shape, name


@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_logistic_coefficients_match_sklearn_when_well_conditioned(name):
    loader = {"iris": load_iris, "breast_cancer": load_breast_cancer}[name]
    X, y = loader(return_X_y=True)
    X = _standardize(X)
    ours = LogisticRegression(max_iter=1000, tol=1e-8).fit(X, y)
    theirs = _sk_fit(_sk().LogisticRegression(max_iter=1000, tol=1e-8), X, y)
    scale = np.abs(theirs.coef_).max()
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-3 * scale)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-3 * scale)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)


def test_multinomial_probabilities_are_consistent():
    X, y = load_iris(return_X_y=True)
    clf = LogisticRegression().fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and clf.coef_.shape == (3, 4) and clf.n_iter_.shape == (1,)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.decision_function(X).shape == (150, 3)


def test_string_labels_binary_and_multiclass():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = LogisticRegression().fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert np.mean(clf.predict(X) == names) > 0.95
    binary = LogisticRegression().fit(X[50:], names[50:].tolist())
    assert binary.coef_.shape == (1, 4) and binary.intercept_.shape == (1,)
    assert binary.decision_function(X[50:]).shape == (100,)
    assert set(binary.predict(X[50:])) == {"versicolor", "virginica"}
    proba = binary.predict_proba(X[50:])
    np.testing.assert_array_equal(
        binary.predict(X[50:]), binary.classes_[(proba[:, 1] > 0.5).astype(int)]
    )


def test_convergence_warning_when_max_iter_is_reached():
    X, y = load_digits(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        clf = LogisticRegression(max_iter=1).fit(X, y)
    assert clf.n_iter_[0] == 1


def test_huge_margins_stay_finite_without_warnings():
    X = np.array([[-1e6], [-1e5], [1e5], [1e6]])  # separable and far apart: huge margins
    clf = LogisticRegression(C=1e6).fit(X, [0, 0, 1, 1])
    for data in (X, X * 1e20):
        proba = clf.predict_proba(data)
        assert np.isfinite(proba).all() and np.isfinite(clf.predict_log_proba(data)).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    multi = LogisticRegression(C=1e6).fit(np.vstack([X, [[3e6]]]), [0, 0, 1, 1, 2])
    assert np.isfinite(multi.predict_log_proba(X * 1e20)).all()


def test_fit_intercept_false_and_one_class_and_regression_target():
    X, y = load_breast_cancer(return_X_y=True)
    clf = LogisticRegression(fit_intercept=False).fit(_standardize(X), y)
    np.testing.assert_array_equal(clf.intercept_, [0.0])
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegression().fit(X[:5], np.zeros(5))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        LogisticRegression().fit(X[:5], np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="X has 3 features, but LogisticRegression is expecting"):
        clf.predict(X[:, :3])


def test_use_before_fit_raises_not_fitted():
    for model in (LinearRegression(), Ridge(), LogisticRegression()):
        with pytest.raises(NotFittedError, match="is not fitted yet"):
            model.predict([[0.0]])


# --- hyperparameters and scikit-learn tools ---------------------------------------------------


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (LogisticRegression(C=0.0), "C"),
        (LogisticRegression(C=-1.0), "C"),
        (LogisticRegression(max_iter=-1), "max_iter"),
        (LogisticRegression(tol=-1.0), "tol"),
        (Ridge(alpha=-1.0), "alpha"),
        (LinearRegression(solver="sgd"), "solver"),
        (LinearRegression(lr=0.0), "lr"),
        (LinearRegression(lr=-0.1), "lr"),
        (LinearRegression(steps=-1), "steps"),
        (LinearRegression(fit_intercept="yes"), "fit_intercept"),
    ],
)
def test_bad_hyperparameters_are_named(model, name):
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        model.fit([[0.0], [1.0]], [0, 1])


def test_works_in_sklearn_pipeline_grid_search_and_cross_val_score():
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    search = GridSearchCV(pipe, {"clf__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["clf__C"] in (0.01, 1.0) and search.best_score_ > 0.95
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.93
    Xd, yd = load_diabetes(return_X_y=True)
    r2 = cross_val_score(Pipeline([("s", StandardScaler()), ("r", Ridge())]), Xd, yd, cv=3)
    assert r2.mean() > 0.4


def test_score_weighs_samples_as_sklearn_score_does():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    X, y = load_diabetes(return_X_y=True)
    weights = rng.uniform(0.0, 3.0, size=len(y))
    ridge = Ridge(alpha=1.0).fit(X, y)
    expected = metrics.r2_score(y, ridge.predict(X), sample_weight=weights)
    assert ridge.score(X, y, sample_weight=weights) == pytest.approx(expected, rel=1e-12)
    assert ridge.score(X, y, sample_weight=weights) != pytest.approx(ridge.score(X, y))
    X, y = load_iris(return_X_y=True)
    weights = rng.uniform(0.0, 3.0, size=len(y))
    logistic = LogisticRegression(max_iter=20).fit(X[:, :1], y)  # a weak fit, so misses
    expected = metrics.accuracy_score(y, logistic.predict(X[:, :1]), sample_weight=weights)
    assert logistic.score(X[:, :1], y, sample_weight=weights) == pytest.approx(expected)


def test_score_with_unit_weights_is_the_unweighted_score_for_every_output():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    Y = np.column_stack([X @ [1.0, 2.0, 0.0], X @ [0.0, -1.0, 3.0]]) + rng.normal(size=(40, 2))
    ridge = Ridge(alpha=10.0).fit(X, Y)
    assert ridge.score(X, Y, sample_weight=np.ones(40)) == pytest.approx(ridge.score(X, Y))


@pytest.mark.parametrize(
    "weights, match",
    [(np.ones(5), r"inconsistent numbers of samples: \[6, 6, 5\]"),
     (np.array([1, 1, np.nan, 1, 1, 1]), "NaN")],
)  # fmt: skip
def test_score_refuses_weights_that_do_not_fit_y(weights, match):
    X, y = np.arange(12.0).reshape(6, 2), np.array([0, 1, 0, 1, 0, 1])
    for model, target in ((Ridge(), y * 1.5), (LogisticRegression(), y)):
        model.fit(X, target)
        with pytest.raises(ValueError, match=match):
            model.score(X, target, sample_weight=weights)
