"""SGDClassifier and SGDRegressor against scikit-learn's, which run the same per-sample loop."""

import warnings

import numpy as np
import pytest

from theta import io
from theta.estimators import SGDClassifier, SGDRegressor
from theta.tune import GridSearch

sk_linear = pytest.importorskip("sklearn.linear_model")

# short runs stop at max_iter on purpose; test_fit_warns_at_max_iter_like_sklearn checks the warning
pytestmark = [pytest.mark.filterwarnings("ignore::theta.errors.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 4))
Y2 = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
Y3 = np.digitize(X[:, 0], [-0.5, 0.5])
YR = X @ [1.0, -2.0, 0.5, 0.0] + 0.3 + 0.1 * RNG.normal(size=60)
SW = RNG.uniform(0.5, 2.0, size=60)
# without shuffling both visit the samples in order; alpha=1e-2 keeps the optimal schedule's
# first steps (~1 / sqrt(alpha)) from amplifying rounding (larger steps make the runs chaotic)
BASE = {"shuffle": False, "alpha": 1e-2, "max_iter": 30}


def assert_same_fit(ours, theirs, tol=1e-10):
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=tol)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0, atol=tol)
    assert ours.coef_.shape == theirs.coef_.shape
    assert ours.intercept_.shape == theirs.intercept_.shape


@pytest.mark.parametrize("y", [Y2, Y3], ids=["binary", "3-class"])
@pytest.mark.parametrize(
    "loss, penalty, learning_rate",
    [("hinge", "l2", "optimal"), ("log_loss", "elasticnet", "invscaling"),
     ("modified_huber", "l1", "constant"), ("squared_hinge", None, "adaptive"),
     ("perceptron", "l2", "constant"), ("log_loss", "l1", "optimal")],
)  # fmt: skip
def test_classifier_equals_sklearn_without_shuffling(loss, penalty, learning_rate, y):
    params = {**BASE, "loss": loss, "penalty": penalty, "learning_rate": learning_rate}
    theirs = sk_linear.SGDClassifier(**params).fit(X, y)
    ours = SGDClassifier(**params).fit(X, y)
    assert_same_fit(ours, theirs)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize(
    "loss, penalty, learning_rate",
    [("squared_error", "l2", "invscaling"), ("huber", "l1", "optimal"),
     ("epsilon_insensitive", "elasticnet", "adaptive"), ("squared_error", None, "constant")],
)  # fmt: skip
def test_regressor_equals_sklearn_without_shuffling(loss, penalty, learning_rate):
    params = {**BASE, "loss": loss, "penalty": penalty, "learning_rate": learning_rate}
    theirs = sk_linear.SGDRegressor(**params).fit(X, YR)
    ours = SGDRegressor(**params).fit(X, YR)
    assert_same_fit(ours, theirs)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-10)


@pytest.mark.parametrize("average", [True, 10])
@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_averaged_weights_equal_sklearn(average, penalty):
    params = {**BASE, "loss": "log_loss", "penalty": penalty, "average": average, "tol": None,
              "max_iter": 5}  # fmt: skip
    theirs = sk_linear.SGDClassifier(**params).fit(X, Y3)
    assert_same_fit(SGDClassifier(**params).fit(X, Y3), theirs)
    params["loss"] = "squared_error"
    assert_same_fit(SGDRegressor(**params).fit(X, YR), sk_linear.SGDRegressor(**params).fit(X, YR))


@pytest.mark.parametrize("class_weight", [{0: 2.0, 1: 0.5}, "balanced"])
def test_class_weights_equal_sklearn(class_weight):
    params = {**BASE, "class_weight": class_weight}
    theirs = sk_linear.SGDClassifier(**params).fit(X, Y3)
    assert_same_fit(SGDClassifier(**params).fit(X, Y3), theirs)


def test_partial_fit_stream_equals_sklearn_and_survives_a_save(tmp_path):
    ours, theirs = SGDClassifier(shuffle=False, alpha=1e-2), sk_linear.SGDClassifier(shuffle=False,
                                                                                      alpha=1e-2)
    for start in range(0, 60, 15):
        rows = slice(start, start + 15)
        theirs.partial_fit(X[rows], Y3[rows], classes=[0, 1, 2], sample_weight=SW[rows])
        ours.partial_fit(X[rows], Y3[rows], classes=[0, 1, 2], sample_weight=SW[rows])
        if start == 15:  # the rest of the stream continues from a saved copy
            io.save(ours, tmp_path / "sgd")
            ours = io.load(tmp_path / "sgd")
    assert_same_fit(ours, theirs)
    assert ours.t_ == theirs.t_ == 61.0
    regressor, reference = SGDRegressor(shuffle=False), sk_linear.SGDRegressor(shuffle=False)
    for start in range(0, 60, 20):
        regressor.partial_fit(X[start : start + 20], YR[start : start + 20])
        reference.partial_fit(X[start : start + 20], YR[start : start + 20])
    assert_same_fit(regressor, reference)


def test_predict_proba_equals_sklearn():
    for loss, y in [("log_loss", Y3), ("log_loss", Y2), ("modified_huber", Y2)]:
        params = {**BASE, "loss": loss}
        theirs = sk_linear.SGDClassifier(**params).fit(X, y)
        ours = SGDClassifier(**params).fit(X, y)
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)
        with np.errstate(divide="ignore"):  # modified_huber's hard zeros: log 0 = -inf
            expected = theirs.predict_log_proba(X)
        np.testing.assert_allclose(ours.predict_log_proba(X), expected, atol=1e-8)
    assert not hasattr(SGDClassifier(loss="hinge").fit(X, Y2), "predict_proba")


def test_shuffled_fit_is_reproducible_and_as_good_as_sklearns():
    ours = SGDClassifier(random_state=0).fit(X, Y3)
    again = SGDClassifier(random_state=0).fit(X, Y3)
    np.testing.assert_array_equal(ours.coef_, again.coef_)
    theirs = sk_linear.SGDClassifier(random_state=0).fit(X, Y3)
    assert ours.score(X, Y3) >= theirs.score(X, Y3) - 0.1


def test_fit_warns_at_max_iter_like_sklearn():
    expected = pytest.importorskip("sklearn.exceptions").ConvergenceWarning
    with pytest.warns(expected, match="Maximum number of iteration"):
        sk_linear.SGDRegressor(max_iter=2).fit(X, YR)
    with pytest.warns(expected, match="Maximum number of iteration"):  # theta's is its twin
        SGDRegressor(max_iter=2).fit(X, YR)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SGDRegressor(max_iter=2, tol=None).fit(X, YR)  # no tolerance: max_iter is the plan


def test_partial_fit_errors_as_sklearn():
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        SGDClassifier().partial_fit(X, Y2)
    clf = SGDClassifier().partial_fit(X, Y2, classes=[0, 1])
    with pytest.raises(ValueError, match="classes should include all valid labels"):
        clf.partial_fit(X, Y3)
    with pytest.raises(ValueError, match=r"`classes=\[0, 1, 2\]` is not the same as on last call"):
        clf.partial_fit(X, Y3, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="X has 3 features, but SGDClassifier is expecting 4"):
        clf.partial_fit(X[:, :3], Y2)
    with pytest.raises(ValueError, match="alpha must be > 0 since learning_rate is 'optimal'"):
        SGDClassifier(alpha=0.0).fit(X, Y2)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        SGDClassifier(class_weight="balanced").partial_fit(X, Y2, classes=[0, 1])
    with pytest.raises(ValueError, match="overflow occurred at epoch #1"):
        SGDRegressor(learning_rate="constant", eta0=1.0, shuffle=False).fit(X * 1e150, YR)


def test_grid_search_over_alpha_matches_sklearns():
    grid = {"alpha": [1e-3, 1e-2, 1e-1]}
    params = {"shuffle": False, "max_iter": 20, "tol": None}
    ours = GridSearch(SGDClassifier(**params), grid, cv=3).fit(X, Y3)
    sk_search = pytest.importorskip("sklearn.model_selection")
    theirs = sk_search.GridSearchCV(sk_linear.SGDClassifier(**params), grid, cv=3).fit(X, Y3)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], atol=1e-12)  # fmt: skip
    assert ours.best_params_ == theirs.best_params_


def test_warm_start_initial_weights_and_partial_fit_after_fit_equal_sklearn():
    params = {**BASE, "max_iter": 3, "warm_start": True}
    ours, theirs = SGDClassifier(**params), sk_linear.SGDClassifier(**params)
    for model in (ours, theirs):  # the second fit starts from the first's weights
        model.fit(X, Y3).fit(X[::-1], Y3[::-1]).partial_fit(X[:20], Y3[:20])
    assert_same_fit(ours, theirs)
    assert ours.t_ == theirs.t_ == 201.0
    start = {"coef_init": np.ones(4), "intercept_init": 0.5}
    params = {"shuffle": False, "max_iter": 3}
    assert_same_fit(SGDRegressor(**params).fit(X, YR, **start),
                    sk_linear.SGDRegressor(**params).fit(X, YR, **start))  # fmt: skip
