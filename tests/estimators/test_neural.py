"""MLPClassifier / MLPRegressor against scikit-learn, and the generic Module estimators."""

import copy
import math
import pickle
import warnings

import numpy as np
import pytest

import theta.estimators.neural as neural
from theta.data.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from theta.errors import ConvergenceWarning, InvalidParameterError, NotFittedError
from theta.estimators.neural import MLPClassifier, MLPRegressor, ModuleClassifier, ModuleRegressor
from theta.nn import MLP, Linear, Module, Sequential

sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network as sk  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _standardise(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return train_test_split(_standardise(X), _standardise(y), test_size=0.25, random_state=0)


@pytest.fixture()
def sklearn_init(monkeypatch):
    """Start theta's network from scikit-learn's own initial draws (``RandomState(seed)``,
    weight then bias, layer by layer), so both libraries run the same trajectory."""
    original = neural._glorot_mlp

    def patched(sizes, activation, rng):
        model = original(sizes, activation, rng)
        rs = np.random.RandomState(0)
        factor = 2.0 if activation == "logistic" else 6.0
        for layer in [m for m in model.layers if isinstance(m, Linear)]:
            fan_out, fan_in = layer.weight.shape
            bound = math.sqrt(factor / (fan_in + fan_out))
            layer.weight.data[...] = rs.uniform(-bound, bound, (fan_in, fan_out)).T
            layer.bias.data[...] = rs.uniform(-bound, bound, fan_out)
        return model

    monkeypatch.setattr(neural, "_glorot_mlp", patched)


# --- the same algorithm as scikit-learn ---------------------------------------------------


@quiet
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("data", ["iris", "breast_cancer"])
def test_classifier_follows_sklearn_trajectory(sklearn_init, solver, data):
    X, y = (load_iris if data == "iris" else load_breast_cancer)(return_X_y=True)
    X = _standardise(X)
    kw = dict(hidden_layer_sizes=(16, 8), solver=solver, alpha=0.01, batch_size=32,
              max_iter=20, shuffle=False, random_state=0)  # fmt: skip
    ours, theirs = MLPClassifier(**kw).fit(X, y), sk.MLPClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-5)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.out_activation_ == theirs.out_activation_
    learned = zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True)
    for a, b in learned:
        np.testing.assert_allclose(a, b, atol=1e-4)  # float32 against float64
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)


@quiet
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_regressor_follows_sklearn_trajectory(sklearn_init, diabetes, solver):
    X, _, y, _ = diabetes
    kw = dict(hidden_layer_sizes=(32,), solver=solver, alpha=0.1, max_iter=40, tol=1e-3,
              shuffle=False, random_state=0)  # fmt: skip
    ours, theirs = MLPRegressor(**kw).fit(X, y), sk.MLPRegressor(**kw).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-5)
    assert ours.n_iter_ == theirs.n_iter_ and ours.best_loss_ == pytest.approx(theirs.best_loss_)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-4)


# --- quality against scikit-learn with the same hyperparameters --------------------------


@quiet
def test_digits_accuracy_within_one_point_of_sklearn(digits):
    X_train, X_test, y_train, y_test = digits
    kw = dict(hidden_layer_sizes=(64,), learning_rate_init=0.01, max_iter=40)
    ours = [MLPClassifier(**kw, random_state=s).fit(X_train, y_train).score(X_test, y_test)
            for s in range(3)]  # fmt: skip
    theirs = [sk.MLPClassifier(**kw, random_state=s).fit(X_train, y_train).score(X_test, y_test)
              for s in range(3)]  # fmt: skip
    assert min(ours) > 0.96
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.01, (ours, theirs)


@quiet
def test_diabetes_r2_within_001_of_sklearn(diabetes):
    X_train, X_test, y_train, y_test = diabetes
    kw = dict(early_stopping=True)  # without it both overfit and vary by ±0.03 across seeds
    ours = [MLPRegressor(**kw, random_state=s).fit(X_train, y_train).score(X_test, y_test)
            for s in range(3)]  # fmt: skip
    theirs = [sk.MLPRegressor(**kw, random_state=s).fit(X_train, y_train).score(X_test, y_test)
              for s in range(3)]  # fmt: skip
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.01, (ours, theirs)


# --- stopping, attributes, determinism ----------------------------------------------------


def test_stops_when_training_loss_stalls_and_warns_at_max_iter():
    X, y = load_iris(return_X_y=True)
    X = _standardise(X)
    clf = MLPClassifier((8,), learning_rate_init=0.05, tol=1e-2, n_iter_no_change=3,
                        random_state=0).fit(X, y)  # fmt: skip
    assert clf.n_iter_ < 200 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.best_loss_ == min(clf.loss_curve_) and clf.validation_scores_ is None
    assert clf.t_ == clf.n_iter_ * len(X)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\) reached"):
        MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):  # scikit-learn's filters catch it
        MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)


def test_early_stopping_keeps_best_validated_epoch():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((16,), early_stopping=True, learning_rate_init=0.02, max_iter=400,
                        random_state=0).fit(_standardise(X), y)  # fmt: skip
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 400


@quiet
def test_attributes_follow_sklearn_layout():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier((5, 4), max_iter=5, random_state=0).fit(X, names)
    assert [c.shape for c in clf.coefs_] == [(4, 5), (5, 4), (4, 3)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (4,), (3,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    with pytest.raises(ValueError, match="read-only"):
        clf.coefs_[0][0, 0] = 1.0
    assert isinstance(clf.model_, Module) and clf.model_.layers[0].weight.dtype == np.float32
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert set(clf.predict(X)) <= set(names) and list(clf.classes_) == list(names[[0, 50, 100]])
    binary = MLPClassifier((4,), max_iter=5, random_state=0).fit(X, y == 2)
    assert binary.out_activation_ == "logistic" and binary.coefs_[-1].shape == (4, 1)
    assert binary.predict_proba(X).shape == (150, 2) and binary.predict(X).dtype == bool
    reg = MLPRegressor((3,), max_iter=5, random_state=0).fit(X, np.c_[y, -y])
    assert reg.out_activation_ == "identity" and reg.predict(X).shape == (150, 2)


@quiet
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_fit_is_deterministic_and_pickles(Estimator):
    X, y = load_iris(return_X_y=True)
    a = Estimator((8,), max_iter=20, random_state=3).fit(X, y)
    b = Estimator((8,), max_iter=20, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(a)).predict(X), a.predict(X))
    refit = a.fit(X[:60], y[:60])  # a second fit forgets the first
    assert refit is a and a.n_iter_ == 20


@quiet
def test_float32_input_and_model_save_load(tmp_path):
    import theta.io

    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((8,), max_iter=20, random_state=0).fit(X.astype(np.float32), y)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float64
    theta.io.save(clf.model_, tmp_path / "net")
    loaded = theta.io.load(tmp_path / "net")
    for a, b in zip(loaded.parameters(), clf.model_.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hidden_layer_sizes": -3}, "hidden_layer_sizes"),
        (
            {"hidden_layer_sizes": (10, 0)},
            r"The 'hidden_layer_sizes' parameter of MLPClassifier must be an int in the range "
            r"\[1, inf\) or a tuple of ints in the range \[1, inf\)\. Got \(10, 0\) instead\.",
        ),
        ({"hidden_layer_sizes": "abc"}, "hidden_layer_sizes"),
        ({"max_iter": 0}, "'max_iter' parameter of MLPClassifier"),
        ({"activation": "swish"}, "'activation' parameter"),
        ({"learning_rate_init": 0.0}, "'learning_rate_init' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"alpha": -1.0}, "'alpha' parameter"),
    ],
)
def test_bad_hyperparameters_raise_naming_them(params, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)


def test_bad_data_raises_sklearn_sentences():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((4,), max_iter=2)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        clf.predict(X)
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(np.where(X == X[0, 0], np.nan, X), y)
    with pytest.raises(ValueError, match="Reshape your data"):
        clf.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        clf.fit(X, y + 0.5)
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros(150))
    assert not hasattr(clf, "n_features_in_")  # refused before any fitted state was set
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="validation set is too small"):
        MLPClassifier(early_stopping=True, validation_fraction=0.0).fit(X, y)


@pytest.mark.parametrize("Estimator", [MLPRegressor, ModuleRegressor])
def test_overflowing_training_raises_before_fitting(Estimator):
    X, y = load_diabetes(return_X_y=True)
    est = Estimator()
    with pytest.raises(ValueError, match="training loss became (inf|nan) at step 0"):
        est.fit(X * 1e200, y)
    assert not hasattr(est, "model_")


# --- scikit-learn tools -------------------------------------------------------------------


@quiet
def test_pipeline_grid_search_and_cross_val_score():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(learning_rate_init=0.01, max_iter=100, random_state=0)
    pipe = make_pipeline(StandardScaler(), clf)
    grid = {"mlpclassifier__hidden_layer_sizes": [(16,), (32,)]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert search.best_params_["mlpclassifier__hidden_layer_sizes"] in [(16,), (32,)]
    assert search.best_score_ > 0.8
    scores = cross_val_score(MLPRegressor((16,), max_iter=50, random_state=0), X[:, :3],
                             X[:, 3], cv=3)  # fmt: skip
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


# --- any Module as an estimator -----------------------------------------------------------


def test_module_regressor_fits_the_chapter_line_and_leaves_module_untouched():
    X = np.arange(5.0).reshape(-1, 1)
    line = Linear(1, 1, rng=0, dtype=np.float64)
    before = copy.deepcopy(line.state_dict())
    reg = ModuleRegressor(line, optimizer="sgd", lr=0.05, epochs=1000, batch_size=None)
    reg.fit(X, 2 * X.ravel() + 1)
    assert reg.predict([[10.0]])[0] == pytest.approx(21.0, abs=1e-3)
    assert reg.model_ is not line and len(reg.loss_curve_) == reg.n_iter_ == 1000
    for name, value in line.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    twin = clone(reg)  # scikit-learn's clone deep-copies the module
    assert twin.module is not line
    np.testing.assert_allclose(twin.fit(X, 2 * X.ravel() + 1).predict(X), reg.predict(X))


def test_module_estimators_default_module_and_grid_search():
    X, y = load_iris(return_X_y=True)
    X = _standardise(X)
    clf = ModuleClassifier(lr=0.01, epochs=30, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9 and clf.predict_proba(X).shape == (150, 3)
    search = GridSearchCV(ModuleRegressor(epochs=5, random_state=0), {"lr": [1e-3, 1e-2]}, cv=3)
    assert search.fit(X[:, :3], X[:, 3]).best_params_["lr"] in (1e-3, 1e-2)
    multi = ModuleRegressor(epochs=2, random_state=0).fit(X[:, :2], X[:, 2:])
    assert multi.predict(X[:, :2]).shape == (150, 2)


@pytest.mark.parametrize("loss", ["bce_with_logits", "bce", "hinge"])
def test_module_classifier_binary_losses(loss):
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardise(X)
    head = [Linear(30, 1, rng=0, dtype=np.float64)]
    if loss == "bce":
        from theta.nn import Sigmoid

        head.append(Sigmoid())
    clf = ModuleClassifier(Sequential(*head), loss=loss, lr=0.01, epochs=20, random_state=0)
    labels = np.where(y == 1, "benign", "malignant")
    clf.fit(X, labels)
    assert clf.score(X, labels) > 0.95
    if loss == "hinge":
        with pytest.raises(AttributeError, match="predict_proba is not available"):
            clf.predict_proba(X)
    else:
        proba = clf.predict_proba(X)
        assert proba.shape == (len(X), 2)
        np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


def test_module_estimators_refuse_mismatched_modules_and_losses():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="one per class"):
        ModuleClassifier(MLP((4, 8, 2), rng=0)).fit(X, y)
    with pytest.raises(ValueError, match="for two classes, but y has 3"):
        ModuleClassifier(loss="hinge").fit(X, y)
    with pytest.raises(ValueError, match="module outputs shape"):
        ModuleRegressor(MLP((4, 8, 3), rng=0)).fit(X, y.astype(float))
    with pytest.raises(InvalidParameterError, match="'module' parameter of ModuleRegressor"):
        ModuleRegressor(module="mlp").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'loss' parameter of ModuleClassifier"):
        ModuleClassifier(loss="mse").fit(X, y)


def test_module_classifier_custom_loss_gets_class_indices():
    from theta.losses import cross_entropy

    seen = []

    def loss(pred, target):
        seen.append(target.dtype.kind)
        return cross_entropy(pred, target, label_smoothing=0.1)

    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = ModuleClassifier(MLP((4, 8, 3), rng=0, dtype=np.float64), loss=loss, epochs=2)
        clf.fit(X, y)
    assert set(seen) == {"i"} and clf.predict(X).shape == (150,)
