"""cross_validate and cross_val_score against scikit-learn's, and the scorer names."""

import numpy as np
import pytest

from theta.data import load_diabetes, load_iris
from theta.estimators import KNeighborsClassifier, LogisticRegression, Ridge
from theta.tune import Scorer, check_scoring, cross_val_score, cross_validate

model_selection = pytest.importorskip("sklearn.model_selection")


def test_cross_validate_equals_sklearn_with_several_metrics():
    X, y = load_diabetes(return_X_y=True)
    scoring = [
        "r2",
        "neg_mean_squared_error",
        "neg_mean_absolute_error",
        "neg_root_mean_squared_error",
    ]
    ours = cross_validate(Ridge(alpha=0.5), X, y, cv=4, scoring=scoring, return_train_score=True)
    theirs = model_selection.cross_validate(
        Ridge(alpha=0.5), X, y, cv=4, scoring=scoring, return_train_score=True
    )
    assert set(ours) == set(theirs)
    for key in ours:
        assert ours[key].shape == (4,)
        if "time" not in key:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, err_msg=key)


def test_cross_val_score_classifier_uses_stratified_folds_and_default_score():
    X, y = load_iris(return_X_y=True)
    ours = cross_val_score(KNeighborsClassifier(n_neighbors=3), X, y, cv=5)
    theirs = model_selection.cross_val_score(KNeighborsClassifier(n_neighbors=3), X, y, cv=5)
    np.testing.assert_array_equal(ours, theirs)
    probabilistic = cross_val_score(LogisticRegression(), X, y, cv=3, scoring="neg_log_loss")
    assert (probabilistic < 0).all()
    with pytest.raises(ValueError, match="takes one scorer"):
        cross_val_score(Ridge(), X, y, scoring=["r2", "mse"])


def test_scoring_forms_and_errors():
    X, y = load_diabetes(return_X_y=True)
    custom = {"mine": lambda est, X_, y_: -1.0, "theirs": "r2"}
    result = cross_validate(Ridge(), X, y, cv=2, scoring=custom)
    assert result["test_mine"].tolist() == [-1.0, -1.0] and "test_theirs" in result
    assert Scorer("mse")(Ridge().fit(X, y), X, y) < 0  # errors are negated: higher is better
    with pytest.raises(ValueError, match="unknown scorer 'accuracyy'"):
        check_scoring(Ridge(), "accuracyy")
    with pytest.raises(TypeError, match="should have a 'score' method"):
        check_scoring(object(), None)
    with pytest.raises(ValueError, match="repeats a name"):
        check_scoring(Ridge(), ["r2", "r2"])


def test_a_failing_fold_gets_error_score():
    X, y = load_diabetes(return_X_y=True)
    result = cross_validate(Ridge(alpha=-1.0), X, y, cv=3, error_score=-99.0)
    assert result["test_score"].tolist() == [-99.0] * 3
    with pytest.raises(ValueError, match="'alpha' parameter of Ridge"):
        cross_validate(Ridge(alpha=-1.0), X, y, cv=3, error_score="raise")
