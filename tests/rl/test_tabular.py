"""Q-learning and SARSA: the classic CliffWalking contrast, FrozenLake, and the loop's checks."""

import numpy as np
import pytest

from theta.errors import DivergenceError, InvalidParameterError, NotFittedError
from theta.rl import SARSA, MultiArmedBandit, QLearning

gym = pytest.importorskip("gymnasium")

CLIFF_ID = "CliffWalking-v1" if "CliffWalking-v1" in gym.registry else "CliffWalking-v0"
CLIFF_ROW = 3  # the bottom row of the 4 x 12 grid; the cliff is its columns 1-10


def _greedy_path(agent, env, max_steps=100) -> tuple[float, list[int]]:
    obs, _ = env.reset(seed=0)
    path, total = [obs], 0.0
    for _ in range(max_steps):
        obs, reward, terminated, truncated, _ = env.step(agent.predict(obs))
        path.append(obs)
        total += reward
        if terminated or truncated:
            break
    return total, path


def _closest_approach_to_the_cliff(path: list[int]) -> int:
    """Rows between the path and the cliff, over the columns above the cliff (1-10)."""
    return min(CLIFF_ROW - s // 12 for s in path if 1 <= s % 12 <= 10)


@pytest.fixture(scope="module")
def cliff_agents():
    env = gym.make(CLIFF_ID)
    q = QLearning(0.5, gamma=1.0, epsilon=0.1, random_state=0).learn(env, episodes=500)
    sarsa = SARSA(0.2, gamma=1.0, epsilon=0.1, random_state=0).learn(env, episodes=500)
    return env, q, sarsa


def test_q_learning_finds_the_optimal_path_along_the_cliff(cliff_agents):
    env, q, _ = cliff_agents
    total, path = _greedy_path(q, env)
    assert total == -13
    assert _closest_approach_to_the_cliff(path) == 1


def test_sarsa_learns_the_safe_path(cliff_agents):
    env, q, sarsa = cliff_agents
    total, path = _greedy_path(sarsa, env)
    assert total in (-15, -17)
    assert _closest_approach_to_the_cliff(path) > _closest_approach_to_the_cliff(
        _greedy_path(q, env)[1]
    )
    # while exploring, SARSA falls less often, so it collects more reward than Q-learning
    assert np.mean(sarsa.episode_returns_[-100:]) > np.mean(q.episode_returns_[-100:])


def test_frozen_lake_slippery_success_rate():
    env = gym.make("FrozenLake-v1", is_slippery=True)
    agent = QLearning(
        0.1,
        gamma=0.99,
        epsilon=1.0,
        epsilon_final=0.01,
        epsilon_schedule="linear",
        epsilon_decay_steps=30_000,
        random_state=0,
    ).learn(env, episodes=3000)
    success_rate, _ = agent.evaluate(env, episodes=1000, seed=0)
    assert success_rate >= 0.70


def test_seeded_runs_are_reproducible_and_learn_forgets():
    env = gym.make("FrozenLake-v1")
    a = SARSA(random_state=5).learn(env, episodes=50)
    b = SARSA(random_state=5).learn(env, episodes=50)
    np.testing.assert_array_equal(a.q_table_, b.q_table_)
    assert a.episode_returns_ == b.episode_returns_ and a.episode_lengths_ == b.episode_lengths_
    a.learn(env, episodes=50)  # a second learn starts afresh
    np.testing.assert_array_equal(a.q_table_, b.q_table_)


def test_episode_and_step_budgets():
    env = gym.make("FrozenLake-v1")
    agent = QLearning(random_state=0).learn(env, episodes=7)
    assert len(agent.episode_returns_) == 7 == len(agent.episode_lengths_)
    assert agent.n_steps_ == sum(agent.episode_lengths_)
    agent.learn(env, total_steps=25)
    assert agent.n_steps_ == 25 and sum(agent.episode_lengths_) <= 25


def test_tabular_agents_need_discrete_observations():
    with pytest.raises(TypeError, match="Discrete observation space.*DQN or REINFORCE"):
        QLearning().learn(gym.make("CartPole-v1"), total_steps=5)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": 1.5}, "learning_rate"),
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": 1.01}, "gamma"),
        ({"epsilon": -0.1}, "epsilon"),
        ({"epsilon_final": 2}, "epsilon_final"),
        ({"epsilon_decay_steps": 0}, "epsilon_decay_steps"),
        ({"epsilon_schedule": "step"}, "epsilon_schedule"),
        ({"initial_q": float("nan")}, "initial_q"),
    ],
)
def test_bad_hyperparameters_name_the_parameter_and_range(params, name):
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of SARSA must be"):
        SARSA(**params).learn(MultiArmedBandit(), total_steps=5)


def test_gamma_message_shows_the_range():
    with pytest.raises(InvalidParameterError, match=r"range \(0, 1\]. Got 1.5 instead"):
        QLearning(gamma=1.5).learn(MultiArmedBandit(), total_steps=5)


class _BadRewards(gym.Wrapper):
    """Pays NaN (or an observation of NaN) at a chosen step."""

    def __init__(self, env, at_step, what="reward"):
        super().__init__(env)
        self.at_step, self.what, self.t = at_step, what, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.t == self.at_step:
            if self.what == "reward":
                reward = float("nan")
            else:
                obs = np.full_like(obs, np.nan)
        return obs, reward, terminated, truncated, info


def test_nan_reward_names_the_env_and_the_step():
    env = _BadRewards(gym.make("FrozenLake-v1"), at_step=5)
    with pytest.raises(ValueError, match=r"FrozenLake-v1: .*reward nan at step 5"):
        QLearning(random_state=0).learn(env, total_steps=20)


def test_nan_observation_names_the_env_and_the_step():
    from theta.rl import DQN

    env = _BadRewards(gym.make("CartPole-v1"), at_step=3, what="obs")
    with pytest.raises(ValueError, match=r"CartPole-v1: .*observation with NaN .* step 3"):
        DQN(random_state=0).learn(env, total_steps=20)


def test_overflowing_q_values_stop_learning():
    class Huge(gym.Wrapper):  # rewards at the edge of float64, as from a broken simulator
        def step(self, action):
            obs, _, terminated, truncated, info = self.env.step(action)
            return obs, 1e308, terminated, truncated, info

    with pytest.raises(
        DivergenceError,
        match=r"Q\[.*reached (inf|nan) at step \d+, which is not a number; learning diverged",
    ):
        QLearning(1.0, gamma=1.0, random_state=0).learn(
            Huge(gym.make("FrozenLake-v1", is_slippery=False)), total_steps=200
        )


def test_predict_checks_fitted_and_the_observation():
    with pytest.raises(NotFittedError):
        QLearning().predict(0)
    agent = QLearning(random_state=0).learn(gym.make("FrozenLake-v1"), episodes=3)
    with pytest.raises(ValueError, match=r"observation 16 is not a state.*\[0, 15\]"):
        agent.predict(16)
    assert agent.predict(np.int64(0), deterministic=False) in range(4)
