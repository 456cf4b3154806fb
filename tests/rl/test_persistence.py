"""Agents are ``Params``: cloned, searched and saved like estimators; loaded ones act the same."""

import numpy as np
import pytest

from theta import io
from theta.params import clone
from theta.rl import (
    DQN,
    REINFORCE,
    SARSA,
    UCB1,
    EpsilonGreedy,
    MultiArmedBandit,
    QLearning,
    ThompsonSampling,
)  # fmt: skip

gym = pytest.importorskip("gymnasium")

BANDIT_AGENTS = [
    EpsilonGreedy(random_state=0),
    UCB1(),
    ThompsonSampling("gaussian", random_state=0),
]


def _trained_agents():
    lake = gym.make("FrozenLake-v1")
    cart = gym.make("CartPole-v1")
    bandit = MultiArmedBandit(n_arms=4, kind="gaussian")
    yield from ((a.learn(bandit, total_steps=300), list(range(1)) * 5) for a in BANDIT_AGENTS)
    yield QLearning(random_state=0).learn(lake, episodes=50), list(range(16))
    yield SARSA(random_state=0).learn(lake, episodes=50), list(range(16))
    states = list(np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32))
    dqn = DQN(learning_starts=50, batch_size=16, random_state=0).learn(cart, total_steps=300)
    yield dqn, states
    yield REINFORCE(random_state=0).learn(cart, episodes=5), states


@pytest.mark.parametrize(
    "agent, observations",
    list(_trained_agents()),
    ids=lambda v: type(v).__name__ if not isinstance(v, list) else "",
)
def test_save_load_round_trip_gives_identical_predictions(agent, observations, tmp_path):
    io.save(agent, tmp_path / "agent")
    loaded = io.load(tmp_path / "agent")
    assert type(loaded) is type(agent)
    assert loaded.get_params() == agent.get_params()
    assert loaded.episode_returns_ == agent.episode_returns_
    greedy = [agent.predict(obs) for obs in observations]
    assert [loaded.predict(obs) for obs in observations] == greedy
    # the generator is saved too, so even sampled actions continue identically
    sampled = [agent.predict(obs, deterministic=False) for obs in observations]
    assert [loaded.predict(obs, deterministic=False) for obs in observations] == sampled


def test_agents_are_params_that_clone_and_set():
    agent = DQN(learning_rate=5e-4, hidden_sizes=(32, 32), random_state=3)
    copy = clone(agent)
    assert copy.get_params() == agent.get_params() and copy is not agent
    copy.set_params(gamma=0.9)
    assert copy.gamma == 0.9 and agent.gamma == 0.99
    with pytest.raises(ValueError, match="Did you mean 'gamma'"):
        agent.set_params(gama=0.9)
    assert repr(agent) == "DQN(hidden_sizes=(32, 32), learning_rate=0.0005, random_state=3)"
