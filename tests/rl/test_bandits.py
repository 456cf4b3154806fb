"""Bandit agents: regret that grows sub-linearly and beats ε-greedy; their bookkeeping."""

import numpy as np
import pytest

from theta.errors import InvalidParameterError, NotFittedError
from theta.rl import UCB1, EpsilonGreedy, MultiArmedBandit, ThompsonSampling

PULLS = 10_000
SEEDS = (0, 1, 2)


def _mean_regret(make_agent, env) -> np.ndarray:
    """Cumulative expected regret after each pull, averaged over a few seeds."""
    curves = [make_agent(seed).learn(env, total_steps=PULLS).regret_ for seed in SEEDS]
    return np.mean(curves, axis=0)


@pytest.fixture(scope="module")
def bernoulli_regrets():
    env = MultiArmedBandit(n_arms=10, kind="bernoulli", means_seed=0)
    return {
        "epsilon_greedy": _mean_regret(lambda s: EpsilonGreedy(0.1, random_state=s), env),
        "ucb1": _mean_regret(lambda s: UCB1(random_state=s), env),
        "thompson": _mean_regret(lambda s: ThompsonSampling("bernoulli", random_state=s), env),
    }


@pytest.fixture(scope="module")
def gaussian_regrets():
    env = MultiArmedBandit(n_arms=10, kind="gaussian", means_seed=0)
    return {
        "epsilon_greedy": _mean_regret(lambda s: EpsilonGreedy(0.1, random_state=s), env),
        "ucb1": _mean_regret(lambda s: UCB1(c=2.0, random_state=s), env),  # rewards of std 1
        "thompson": _mean_regret(lambda s: ThompsonSampling("gaussian", random_state=s), env),
    }


def _second_half_share(regret: np.ndarray) -> float:
    """Regret added in pulls 5001-10000 over regret of pulls 1-5000 (1 for linear growth)."""
    half = len(regret) // 2
    return (regret[-1] - regret[half - 1]) / regret[half - 1]


@pytest.mark.parametrize("regrets", ["bernoulli_regrets", "gaussian_regrets"])
def test_ucb1_and_thompson_regret_is_sublinear_and_below_epsilon_greedy(regrets, request):
    curves = request.getfixturevalue(regrets)
    eps = curves["epsilon_greedy"]
    assert _second_half_share(eps) > 0.8  # constant exploration: linear growth
    for name in ("ucb1", "thompson"):
        assert _second_half_share(curves[name]) < 0.5, name
        assert curves[name][-1] < eps[-1], (name, curves[name][-1], eps[-1])


def test_regret_curve_matches_the_pulled_arms():
    env = MultiArmedBandit([0.3, 0.6])
    agent = UCB1().learn(env, total_steps=300)
    np.testing.assert_allclose(agent.regret_, env.expected_regret(agent.actions_))
    assert agent.counts_.sum() == 300 and len(agent.episode_returns_) == 300


def test_estimates_and_posteriors():
    env = MultiArmedBandit([0.2, 0.7])
    agent = ThompsonSampling(random_state=0).learn(env, total_steps=2000)
    assert agent.predict(0) == 1
    assert abs(agent.posterior_mean_[1] - 0.7) < 0.05
    assert agent.posterior_std_[1] < agent.posterior_std_[0]  # the good arm is pulled more
    gaussian = ThompsonSampling("gaussian", random_state=0).learn(
        MultiArmedBandit([0.0, 1.0], kind="gaussian"), total_steps=1000
    )
    assert gaussian.predict(0) == 1 and abs(gaussian.posterior_mean_[1] - 1.0) < 0.15


def test_seeded_runs_are_reproducible():
    env = MultiArmedBandit(n_arms=5)
    for make in (lambda: EpsilonGreedy(random_state=3), lambda: ThompsonSampling(random_state=3)):
        a = make().learn(env, total_steps=500)
        b = make().learn(env, total_steps=500)
        np.testing.assert_array_equal(a.actions_, b.actions_)
        assert a.episode_returns_ == b.episode_returns_


def test_epsilon_schedule_decays_exploration():
    env = MultiArmedBandit([0.1, 0.9])
    agent = EpsilonGreedy(
        1.0, epsilon_final=0.0, epsilon_schedule="linear", epsilon_decay_steps=500, random_state=0
    ).learn(env, total_steps=1000)
    assert (agent.actions_[600:] == 1).all()
    assert (agent.actions_[:100] == 0).sum() > 30


def test_bernoulli_thompson_rejects_rewards_outside_0_1():
    env = MultiArmedBandit([2.0, 3.0], kind="gaussian")
    with pytest.raises(ValueError, match=r"rewards in \[0, 1\].*kind='gaussian'"):
        ThompsonSampling(random_state=0).learn(env, total_steps=10)


@pytest.mark.parametrize(
    "agent, name",
    [
        (EpsilonGreedy(epsilon=1.5), "epsilon"),
        (EpsilonGreedy(epsilon_schedule="cosine"), "epsilon_schedule"),
        (UCB1(c=-1.0), "c"),
        (ThompsonSampling("poisson"), "kind"),
        (ThompsonSampling(prior_std=0.0), "prior_std"),
    ],
)
def test_bad_hyperparameters_are_named_at_learn(agent, name):
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        agent.learn(MultiArmedBandit(), total_steps=10)


def test_predict_before_learn():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        UCB1().predict(0)


def test_budget_is_required_and_checked():
    with pytest.raises(ValueError, match="total_steps or episodes"):
        UCB1().learn(MultiArmedBandit())
    with pytest.raises(ValueError, match=r"The 'episodes' parameter of learn must be an int in the range \[1, inf\)"):  # noqa: E501
        UCB1().learn(MultiArmedBandit(), episodes=0)
