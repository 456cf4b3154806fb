"""Vector environments: make_vec, single envs as vectors of one, and rollouts that never learn
across an episode boundary under either autoreset mode."""

import copy

import numpy as np
import pytest

from theta import Tensor
from theta.rl import PPO, RolloutBuffer, as_vector_env, make, make_vec
from theta.rl.envs import env_id

gym = pytest.importorskip("gymnasium")


class Countdown(gym.Env):
    """Observation ``t / 10`` at step ``t`` of an episode; reward 1 per step; ends after
    ``length`` steps (terminated)."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,))
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length=3, reward=1.0, truncate=False):
        self.length, self.reward, self.t, self.truncate = length, reward, 0, truncate

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([self.t / 10], np.float32)
        end = self.t == self.length
        return obs, self.reward, end and not self.truncate, end and self.truncate, {}


def _first_batch(agent, env, monkeypatch, captured=None):
    captured = {} if captured is None else captured
    update = type(agent)._update

    def spy(self, batch, optimizer, remaining):
        captured.setdefault("batch", batch)
        captured.setdefault("policy", copy.deepcopy(self.policy_))
        update(self, batch, optimizer, remaining)

    monkeypatch.setattr(type(agent), "_update", spy)
    agent.learn(env, total_steps=agent.n_steps * env.num_envs)
    return captured["batch"]


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_rollouts_never_learn_across_an_episode_boundary(mode, monkeypatch):
    autoreset = gym.vector.AutoresetMode(mode)
    env = gym.vector.SyncVectorEnv([Countdown] * 2, autoreset_mode=autoreset)
    agent = PPO(n_steps=8, batch_size=8, n_epochs=1, gamma=1.0, gae_lambda=1.0, random_state=0)
    batch = _first_batch(agent, env, monkeypatch)
    t = np.round(batch.obs[:, 0] * 10).astype(int)
    # NEXT_STEP: 8 steps = two episodes of 3 steps and their 2 reset steps, per copy; the
    # reset steps (whose observation is an episode's last, t = 3) are not learned from
    rows = 12 if mode == "NextStep" else 16
    assert len(batch.actions) == rows and set(t) <= {0, 1, 2}
    finished = t if mode == "NextStep" else t[: 12]  # SAME_STEP: the last episode is cut off
    # gamma = lambda = 1 and every episode terminated inside the rollout: R_t = 3 - t exactly,
    # which a transition leaking into the next episode would change
    np.testing.assert_allclose(batch.returns[: len(finished)], 3 - finished, atol=1e-5)
    assert agent.episode_lengths_ == [3] * 4


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_a_truncated_episode_is_valued_from_its_true_last_state(mode, monkeypatch):
    autoreset = gym.vector.AutoresetMode(mode)
    env = gym.vector.SyncVectorEnv([lambda: Countdown(truncate=True)], autoreset_mode=autoreset)
    agent = PPO(n_steps=5, batch_size=8, n_epochs=1, gamma=0.5, gae_lambda=1.0, random_state=0)
    captured = {}
    batch = _first_batch(agent, env, monkeypatch, captured)
    last = captured["policy"].value(Tensor(np.array([[0.3]], np.float32))).data[0]
    np.testing.assert_allclose(batch.returns[2], 1.0 + 0.5 * last, rtol=1e-5)


def test_a_truncated_episode_bootstraps_from_its_last_state_in_the_next_row():
    buf = RolloutBuffer(3, 1, (1,), ())
    # row 0 is truncated; row 1 is the reset step holding V(last state) = 5; row 2 continues
    for truncated, value, valid in ((True, 0.5, True), (False, 5.0, False), (False, 1.0, True)):
        buf.add(np.zeros((1, 1)), np.zeros(1, int), np.ones(1), np.array([False]),
                np.array([truncated]), np.array([value]), np.zeros(1), np.array([valid]))
    batch = buf.compute(np.array([2.0]), gamma=0.5, gae_lambda=1.0)
    np.testing.assert_allclose(batch.returns, [1.0 + 0.5 * 5.0, 1.0 + 0.5 * 2.0])


def test_make_vec_builds_sync_and_async_vector_envs():
    env = make_vec("CartPole-v1", 3, seed=0)
    assert isinstance(env, gym.vector.SyncVectorEnv) and env.num_envs == 3
    assert env_id(env) == "CartPole-v1"
    obs, *_ = env.step(np.array([0, 1, 0]))
    assert obs.shape == (3, 4)
    env.close()
    env = make_vec("CartPole-v1", 2, asynchronous=True)
    assert isinstance(env, gym.vector.AsyncVectorEnv)
    agent = PPO(n_steps=8, batch_size=8, n_epochs=1, random_state=0).learn(env, total_steps=16)
    assert agent.n_steps_ == 16
    env.close()
    with pytest.raises(ValueError, match="'n' parameter of make_vec"):
        make_vec("CartPole-v1", 0)


def test_a_single_env_is_a_vector_of_one():
    single = make("CartPole-v1")
    vec = as_vector_env(single)
    assert vec.num_envs == 1 and vec.envs[0] is single
    assert as_vector_env(vec) is vec


def test_disabled_autoreset_and_non_finite_rewards_are_refused():
    off = gym.vector.SyncVectorEnv([Countdown], autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    with pytest.raises(ValueError, match="autoreset_mode is Disabled"):
        PPO(n_steps=4).learn(off, total_steps=4)
    nan = gym.vector.SyncVectorEnv([lambda: Countdown(reward=float("nan"))])
    with pytest.raises(ValueError, match="rewards .* at step 1"):
        PPO(n_steps=4).learn(nan, total_steps=4)
