"""Search results that read right: no candidate twice in a Bayesian search over a finite
space, the halving leaderboard's rungs and budgets, rounded scores, and the HTML table."""

import pytest

from theta.data import load_iris
from theta.estimators import LogisticRegression
from theta.tune import BayesSearch, IntUniform, SuccessiveHalving
from theta.tune.results import leaderboard, leaderboard_html


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _keys(search):
    return [tuple(sorted(p.items())) for p in search.cv_results_["params"]]


def test_bayes_never_runs_a_candidate_twice_and_stops_when_the_space_is_used_up(iris):
    pytest.importorskip("optuna")
    X, y = iris
    values = [0.01, 0.1, 1, 10, 100]
    search = BayesSearch(LogisticRegression(), {"C": values}, n_trials=12, n_startup_trials=2,
                         cv=3, random_state=0, progress=False).fit(X, y)  # fmt: skip
    assert sorted(p["C"] for p in search.cv_results_["params"]) == values
    assert search.n_trials_run_ == 5 * 3


def test_bayes_batches_hold_no_repeats_over_a_mixed_finite_space(iris):
    pytest.importorskip("optuna")
    X, y = iris
    space = {"C": [0.1, 1, 10], "max_iter": IntUniform(50, 52)}
    search = BayesSearch(LogisticRegression(), space, n_trials=9, batch_size=3,
                         n_startup_trials=2, cv=2, random_state=1,
                         progress=False).fit(X, y)  # fmt: skip
    keys = _keys(search)
    assert len(keys) == 9 and len(set(keys)) == 9
    assert len(search.study_.trials) == 9


def test_halving_leaderboard_shows_rungs_and_ranks_the_final_one_first(iris):
    X, y = iris
    search = SuccessiveHalving(LogisticRegression(), {"C": [0.01, 0.1, 1, 10, 100]}, cv=3,
                               factor=2, random_state=0, progress=False).fit(X, y)  # fmt: skip
    lines = search.leaderboard(top=20).splitlines()
    assert lines[0].split()[:3] == ["rank", "rung", "budget"]
    rows = [line.split() for line in lines[1:]]
    last = search.n_iterations_ - 1
    results = search.cv_results_
    assert len(rows) == len(results["params"])
    rungs = [int(r[1]) for r in rows]
    assert rungs == sorted(rungs, reverse=True) and rungs[0] == last
    for rung in set(rungs):  # ranks restart at 1 in each rung, with its budget
        members = [r for r in rows if int(r[1]) == rung]
        assert members[0][0] == "1"
        assert {int(r[2]) for r in members} == {search.n_resources_[rung]}
    best = search.cv_results_["params"][search.best_index_]
    assert rows[0][-1] == f"C={best['C']:.4g}"


def test_scores_print_rounded():
    table = {"params": [{"C": 0.30000000000000004}], "mean_test_score": [0.9800000000000001],
             "std_test_score": [0.012345678], "rank_test_score": [1], "error": [""]}
    text = leaderboard(table)
    assert "0.98 ± 0.012  C=0.3" in text and "0000" not in text


def test_leaderboard_html_is_an_escaped_table():
    table = {"params": [{"kernel": "<rbf>"}, {"kernel": "linear"}],
             "mean_test_score": [0.5, float("nan")], "std_test_score": [0.1, float("nan")],
             "rank_test_score": [1, 2], "error": ["", "fold 0: x < 0"]}  # fmt: skip
    page = leaderboard_html(table)
    assert page.startswith("<table><caption>top 2 of 2 candidates")
    assert "kernel=&lt;rbf&gt;" in page and "<td>failed</td>" in page
    assert "fold 0: x &lt; 0" in page and page.count("<tr>") == 3


def test_a_fitted_search_shows_its_leaderboard_in_a_notebook():
    from theta.data import load_iris
    from theta.estimators import KNeighborsClassifier
    from theta.tune import GridSearch

    X, y = load_iris(return_X_y=True)
    search = GridSearch(KNeighborsClassifier(), {"n_neighbors": [1, 5]}, cv=3).fit(X, y)
    html = search._repr_html_()
    assert html.startswith("<table") and "n_neighbors=5" in html and html.count("<tr") == 3
