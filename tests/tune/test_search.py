"""Grid and random search: equal to scikit-learn's searches, and one tool for every knob."""

import numpy as np
import pytest

from theta.data import load_diabetes, load_iris
from theta.estimators import KNeighborsClassifier, Ridge
from theta.rl import QLearning, make
from theta.tune import Choice, GridSearch, IntUniform, KFold, LogUniform, RandomSearch

model_selection = pytest.importorskip("sklearn.model_selection")

TIME_COLUMNS = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


def assert_same_results(ours, theirs):
    """Every column scikit-learn has (but the timings) is equal, exactly."""
    for key, column in theirs.items():
        if key in TIME_COLUMNS:
            continue
        if key == "params" or key.startswith("param_"):
            assert list(ours[key]) == list(column), key
        else:
            np.testing.assert_array_equal(ours[key], column, err_msg=key)
    assert set(ours) - set(theirs) == {"error"}


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def test_grid_search_equals_sklearn_grid_search_cv(diabetes):
    X, y = diabetes
    grid = [{"alpha": [0.01, 0.1, 1.0, 10.0]}, {"alpha": [1.0], "fit_intercept": [False]}]
    ours = GridSearch(Ridge(), grid, cv=KFold(4)).fit(X, y)
    theirs = model_selection.GridSearchCV(Ridge(), grid, cv=model_selection.KFold(4)).fit(X, y)
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_index_ == theirs.best_index_ and ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == theirs.best_score_
    np.testing.assert_array_equal(ours.best_estimator_.coef_, theirs.best_estimator_.coef_)


def test_grid_search_multimetric_equals_sklearn(iris):
    X, y = iris
    grid = {"n_neighbors": [1, 5, 9], "weights": ["uniform", "distance"]}
    scoring = ["accuracy", "f1_macro"]
    ours = GridSearch(
        KNeighborsClassifier(),
        grid,
        cv=3,
        scoring=scoring,
        refit="f1_macro",
        return_train_score=True,
    ).fit(X, y)
    theirs = model_selection.GridSearchCV(
        KNeighborsClassifier(),
        grid,
        cv=3,
        scoring=scoring,
        refit="f1_macro",
        return_train_score=True,
    ).fit(X, y)
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_
    assert "rank_test_accuracy" in ours.cv_results_ and "split2_train_f1_macro" in ours.cv_results_


class _Replay:
    """A "distribution" for scikit-learn that hands out given values in order."""

    def __init__(self, values):
        self.values = iter(values)

    def rvs(self, random_state=None):
        return next(self.values)


def test_random_search_equals_sklearn_randomized_search_on_the_same_draws(iris):
    X, y = iris
    space = {
        "n_neighbors": IntUniform(1, 30),
        "metric": Choice(["euclidean", "manhattan"]),
        "weights": Choice(["uniform", "distance"]),
    }
    ours = RandomSearch(KNeighborsClassifier(), space, n_iter=6, cv=4, random_state=0).fit(X, y)
    drawn = ours.cv_results_["params"]
    replay = {name: _Replay([p[name] for p in drawn]) for name in space}
    theirs = model_selection.RandomizedSearchCV(KNeighborsClassifier(), replay, n_iter=6, cv=4).fit(
        X, y
    )
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_


def test_random_search_draws_depend_only_on_the_seed(diabetes):
    X, y = diabetes
    space = {"alpha": LogUniform(1e-3, 1e3), "fit_intercept": Choice([True, False])}
    a = RandomSearch(Ridge(), space, n_iter=4, cv=3, random_state=7).fit(X, y)
    b = RandomSearch(Ridge(), space, n_iter=4, cv=3, random_state=7).fit(X, y)
    c = RandomSearch(Ridge(), space, n_iter=4, cv=3, random_state=8).fit(X, y)
    assert a.cv_results_["params"] == b.cv_results_["params"] != c.cv_results_["params"]
    assert all(1e-3 <= p["alpha"] <= 1e3 for p in a.cv_results_["params"])
    # lists only: drawn without replacement from the grid, as scikit-learn does
    grid = {"alpha": [0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    draws = RandomSearch(Ridge(), grid, n_iter=6, cv=3, random_state=0).fit(X, y)
    assert sorted(map(str, draws.cv_results_["params"])) == sorted(
        map(str, model_selection.ParameterGrid(grid))
    )


def test_sklearn_estimators_are_searched_too(diabetes):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = diabetes
    grid = {"alpha": [0.1, 1.0]}
    ours = GridSearch(linear_model.Lasso(), grid, cv=3, scoring="neg_mean_squared_error").fit(X, y)
    theirs = model_selection.GridSearchCV(
        linear_model.Lasso(), grid, cv=3, scoring="neg_mean_squared_error"
    ).fit(X, y)
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert type(ours.best_estimator_) is linear_model.Lasso


def test_knn_index_knobs_are_searched_like_any_hyperparameter(iris):
    pytest.importorskip("faiss")
    X, y = iris
    grid = {"algorithm": ["brute", "hnsw"], "n_neighbors": [1, 7], "ef_search": [32]}
    search = GridSearch(KNeighborsClassifier(), grid, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    # on 100 points HNSW is exact: both algorithms score alike for each n_neighbors
    np.testing.assert_allclose(scores[:2], scores[2:])
    assert search.best_estimator_.algorithm in ("brute", "hnsw")


def test_an_rl_agent_is_tuned_over_seeded_runs():
    space = {"epsilon": [0.0, 0.3], "learning_rate": [0.1]}
    search = GridSearch(QLearning(), space, cv=3, random_state=0)
    search.fit("Bandit-v0", total_steps=300, eval_episodes=20)
    assert search.best_params_ == {"epsilon": 0.3, "learning_rate": 0.1}
    assert search.n_splits_ == 3 and search.best_estimator_.n_steps_ == 300
    # oracle: each "fold" is the agent learning with its own seed, then a seeded evaluation
    seeds = np.random.default_rng(0).integers(2**31 - 2, size=3)
    expected = []
    for seed in seeds:
        agent = QLearning(0.1, epsilon=0.3, random_state=int(seed))
        agent.learn(make("Bandit-v0"), total_steps=300, progress=False)
        expected.append(agent.evaluate(make("Bandit-v0"), 20, seed=int(seed) + 1)[0])
    got = [search.cv_results_[f"split{k}_test_score"][1] for k in range(3)]
    assert got == expected


def test_search_api_and_csv(tmp_path, diabetes):
    X, y = diabetes
    search = GridSearch(Ridge(), {"alpha": [0.1, 1.0]}, cv=3)
    assert search.get_params()["param_grid"] == {"alpha": [0.1, 1.0]}
    with pytest.raises(ValueError, match="not fitted yet"):
        search.to_csv(tmp_path / "r.csv")
    search.fit(X, y)
    search.to_csv(tmp_path / "r.csv")
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert len(lines) == 3 and "mean_test_score" in lines[0] and lines[0].endswith("error")
    assert search.score(X, y) == search.best_estimator_.score(X, y)
    assert search.leaderboard().splitlines()[1].startswith("   1  ")


def test_search_progress_bar_is_theta_progress_and_counts_every_fit(diabetes, monkeypatch):
    import io

    import theta.tune.search as search_module
    from theta import progress

    bars = []

    def recording_bar(*args, **kwargs):
        bars.append(progress.progress_bar(*args, **kwargs))
        return bars[-1]

    monkeypatch.setattr(search_module, "progress_bar", recording_bar)
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
    X, y = diabetes
    GridSearch(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, cv=2, progress=True).fit(X, y)
    GridSearch(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, cv=2).fit(X, y)
    assert bars[0].total == bars[0].n == 6 and bars[0].unit == "fit"  # 3 candidates x 2 folds
    assert bars[1] is None  # theta.progress's rule: only on a terminal unless asked for
