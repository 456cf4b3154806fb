"""The scores of a hyperparameter search, from scikit-learn's cv_results_ and by hand."""

import numpy as np
import pytest

from theta.plot import search_scores

pytest.importorskip("matplotlib")


def _points(ax):
    """The candidates' (x, mean score) and error bar lengths as drawn."""
    container = ax.containers[0]
    xy = container.lines[0].get_xydata()
    segments = container.lines[2][0].get_segments()
    return xy, np.array([abs(s[1, 1] - s[0, 1]) / 2 for s in segments])


def test_scores_of_a_scikit_learn_grid_search(png):
    model_selection = pytest.importorskip("sklearn.model_selection")
    from sklearn.datasets import load_iris
    from sklearn.neighbors import KNeighborsClassifier

    X, y = load_iris(return_X_y=True)
    grid = [{"n_neighbors": [1, 5, 15], "weights": ["uniform", "distance"]},
            {"n_neighbors": [7], "p": [1]}]  # fmt: skip
    results = model_selection.GridSearchCV(KNeighborsClassifier(), grid, cv=3).fit(X, y).cv_results_
    figure = search_scores(results, png("scores"))
    png.check(png("scores"))
    k_axis, weights_axis, p_axis = figure.axes[:3]
    assert [k_axis.get_xlabel(), weights_axis.get_xlabel(), p_axis.get_xlabel()] == [
        "n_neighbors", "weights", "p"]  # fmt: skip
    xy, bars = _points(k_axis)
    np.testing.assert_array_equal(xy[:, 0], [1, 1, 5, 5, 15, 15, 7])
    np.testing.assert_allclose(xy[:, 1], results["mean_test_score"])
    np.testing.assert_allclose(bars, results["std_test_score"])
    assert k_axis.get_xscale() == "linear"  # 1 to 15 is not two decades
    # strings on a categorical axis; the candidate without "weights" (masked) is left out
    xy, _ = _points(weights_axis)
    assert [t.get_text() for t in weights_axis.get_xticklabels()] == ["uniform", "distance"]
    np.testing.assert_array_equal(xy[:, 0], [0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose(xy[:, 1], results["mean_test_score"][:6])
    assert len(_points(p_axis)[0]) == 1
    best = results["rank_test_score"].argmin()
    (star,) = [ln for ln in k_axis.lines if ln.get_label() == "best"]
    np.testing.assert_allclose(star.get_xydata(), [[results["param_n_neighbors"][best],
                                                    results["mean_test_score"][best]]])  # fmt: skip


def test_failed_candidates_are_skipped_and_wide_ranges_get_a_log_axis(png):
    results = {
        "params": [{"lr": v, "nesterov": n} for v, n in
                   [(1e-4, True), (1e-3, False), (1e-2, True), (1e-1, False), (1.0, True)]],
        "param_lr": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        "param_nesterov": [True, False, True, False, True],
        "mean_test_accuracy": [0.5, 0.7, 0.9, np.nan, 0.6],
        "std_test_accuracy": [0.01, 0.02, 0.03, np.nan, 0.05],
        "rank_test_accuracy": [4, 2, 1, 5, 3],
    }  # fmt: skip
    figure = search_scores(results, png("lr"), metric="accuracy")
    lr_axis, nesterov_axis = figure.axes[:2]
    assert lr_axis.get_xscale() == "log"
    xy, bars = _points(lr_axis)
    np.testing.assert_allclose(xy, [[1e-4, 0.5], [1e-3, 0.7], [1e-2, 0.9], [1.0, 0.6]])
    np.testing.assert_allclose(bars, [0.01, 0.02, 0.03, 0.05])
    assert [t.get_text() for t in nesterov_axis.get_xticklabels()] == ["True", "False"]
    (profile,) = [ln for ln in nesterov_axis.lines if ln.get_label() == "best at each value"]
    np.testing.assert_allclose(profile.get_xydata(), [[0, 0.9], [1, 0.7]])
    assert lr_axis.get_ylabel() == "mean test accuracy"


def test_a_search_where_everything_failed_still_draws(png):
    results = {"param_alpha": [0.1, 1.0], "mean_test_score": [np.nan, np.nan]}
    figure = search_scores(results, png("failed"))
    png.check(png("failed"))
    assert figure.axes[0].texts[0].get_text() == "no scored candidate"


@pytest.mark.parametrize(
    "results, message",
    [
        ({"param_a": [1], "mean_test_f1": [0.5]}, "no 'mean_test_score' column; metrics found: f1"),
        ({"mean_test_score": [0.5]}, "no 'param_<name>' column"),
        ({"param_a": [1, 2], "mean_test_score": [0.5]}, "'param_a' has 2 entries"),
    ],
)
def test_search_scores_errors(results, message, png):
    with pytest.raises(ValueError, match=message):
        search_scores(results, png("bad"))
