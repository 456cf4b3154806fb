"""Successive halving: the full grid's winner, for a fraction of the full grid's budget."""

import numpy as np
import pytest

from theta.estimators import Ridge
from theta.params import Params
from theta.rl import QLearning
from theta.tune import GridSearch, IntUniform, SuccessiveHalving

ALPHAS = [0.01, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]  # one clearly right answer


@pytest.fixture(scope="module")
def line():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    return X, X @ np.array([1.0, -2.0, 3.0, 0.5, 1.5]) + 0.1 * rng.normal(size=300)


def test_halving_on_samples_finds_the_grid_winner_for_a_third_of_the_budget(line):
    X, y = line
    halving = SuccessiveHalving(Ridge(), {"alpha": ALPHAS}, cv=5, random_state=0).fit(X, y)
    full = GridSearch(Ridge(), {"alpha": ALPHAS}, cv=5).fit(X, y)
    assert halving.best_params_ == full.best_params_ == {"alpha": 0.01}
    # rungs: 9 candidates on 33 samples, 3 on 99, 1 on 297 (factor 3, "exhaust")
    assert halving.n_resources_ == [33, 99, 297] and halving.n_candidates_ == [9, 3, 1]
    assert halving.budget_used_ == 5 * (9 * 33 + 3 * 99 + 1 * 297) == 4455
    assert halving.budget_used_ < 5 * len(ALPHAS) * len(X) / 3
    results = halving.cv_results_
    assert results["iter"].tolist() == [0] * 9 + [1] * 3 + [2]
    assert results["n_resources"].tolist() == [33] * 9 + [99] * 3 + [297]
    assert [p["alpha"] for p in results["params"][9:]] == [0.01, 1e2, 1e3, 0.01]
    assert halving.best_index_ == 12
    np.testing.assert_array_equal(halving.best_estimator_.coef_, full.best_estimator_.coef_)


class DescentLine(Params):
    """``pred = w * x`` fitted by ``epochs`` steps of gradient descent with rate ``lr``."""

    def __init__(self, lr=0.01, epochs=10):
        self.lr = lr
        self.epochs = epochs

    def fit(self, X, y):
        x, self.w_ = X[:, 0], 0.0
        for _ in range(self.epochs):
            self.w_ -= self.lr * 2 * np.mean((self.w_ * x - y) * x)
        return self

    def score(self, X, y):
        return -float(np.mean((self.w_ * X[:, 0] - y) ** 2))


def test_halving_on_a_hyperparameter_budget():
    x = np.linspace(-1, 1, 60)
    X, y = x[:, None], 2.0 * x
    grid = {"lr": [1e-4, 1e-3, 1e-2, 0.1, 0.3, 0.6]}
    halving = SuccessiveHalving(
        DescentLine(), grid, resource="epochs", max_resources=90, factor=3, cv=3
    ).fit(X, y)
    full = GridSearch(DescentLine(epochs=90), grid, cv=3).fit(X, y)
    assert halving.best_params_ == full.best_params_ == {"lr": 0.6}
    assert halving.n_resources_ == [30, 90] and halving.n_candidates_ == [6, 2]
    assert halving.budget_used_ == 3 * (6 * 30 + 2 * 90) < 3 * 6 * 90
    assert halving.best_estimator_.epochs == 90  # refit with the last rung's budget


def test_halving_an_agent_on_its_steps():
    space = {"epsilon": [0.0, 0.05, 0.3], "learning_rate": [0.1]}
    halving = SuccessiveHalving(
        QLearning(), space, resource="total_steps", max_resources=900, cv=3, random_state=0
    ).fit("Bandit-v0", eval_episodes=20)
    assert halving.n_resources_ == [300, 900] and halving.n_candidates_ == [3, 1]
    assert halving.budget_used_ == 3 * (3 * 300 + 900)
    assert halving.best_params_["epsilon"] > 0
    assert halving.best_estimator_.n_steps_ == 900


def test_halving_samples_candidates_from_distributions(line):
    X, y = line
    space = {"alpha": IntUniform(1, 10**6)}
    a = SuccessiveHalving(Ridge(), space, n_candidates=4, factor=2, cv=3, random_state=1).fit(X, y)
    b = SuccessiveHalving(Ridge(), space, n_candidates=4, factor=2, cv=3, random_state=1).fit(X, y)
    assert a.cv_results_["params"] == b.cv_results_["params"]
    assert a.n_candidates_ == [4, 2, 1]
    with pytest.raises(ValueError, match="min_resources_=400 is greater than max_resources_=300"):
        SuccessiveHalving(Ridge(), space, n_candidates=4, min_resources=400).fit(X, y)
