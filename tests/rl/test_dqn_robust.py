"""DQN's robustness options: soft (Polyak) target updates, and the evaluation callback that
keeps the best policy."""

import numpy as np
import pytest

from theta import io
from theta.errors import InvalidParameterError
from theta.rl import DQN, MultiArmedBandit

gym = pytest.importorskip("gymnasium")


def _small(**kwargs) -> DQN:
    settings = dict(learning_starts=100, buffer_size=2000, batch_size=32, hidden_sizes=(16,),
                    target_update_interval=50, epsilon_decay_steps=300, random_state=0)
    settings.update(kwargs)  # fmt: skip
    return DQN(**settings)


@pytest.mark.parametrize("tau", [0.5, 1.0])
def test_target_update_moves_tau_of_the_way_per_interval(tau):
    env = gym.make("CartPole-v1")
    # no gradient step in these 30 steps, so the online weights q stay fixed while the
    # target, set to 0, is updated at steps 25 and 30: t = (1 - (1 - tau)**2) * q
    agent = _small(learning_starts=1000, target_update_interval=5, tau=tau).learn(env, 20)
    for t in agent.target_net_.parameters():
        t.data[...] = 0.0
    agent.learn(env, total_steps=10, reset_num_timesteps=False)
    for q, t in zip(agent.q_net_.parameters(), agent.target_net_.parameters(), strict=True):
        np.testing.assert_allclose(t.data, (1 - (1 - tau) ** 2) * q.data, rtol=1e-6)


def test_tau_is_validated():
    with pytest.raises(InvalidParameterError, match=r"The 'tau' parameter of DQN must be"):
        DQN(tau=0.0).learn(MultiArmedBandit(), total_steps=5)


def _with_eval(**kwargs) -> DQN:
    return _small(**kwargs).learn(gym.make("CartPole-v1"), total_steps=600,
                                  eval_env=gym.make("CartPole-v1"), eval_freq=150,
                                  n_eval_episodes=2)  # fmt: skip


def test_evaluation_callback_keeps_the_best_policy():
    agent = _with_eval()
    steps = [step for step, _, _ in agent.evaluations_]
    means = [mean for _, mean, _ in agent.evaluations_]
    assert steps == [150, 300, 450, 600]
    assert agent.best_mean_return_ == max(means)
    assert agent.best_policy_ is not agent.q_net_
    best = means.index(max(means))  # the first of equal bests is kept
    # the kept network replays the best evaluation exactly: evaluation k resets with seed k
    agent.use_best_policy()
    mean, _ = agent.evaluate(gym.make("CartPole-v1"), episodes=2, seed=best)
    assert mean == agent.best_mean_return_
    for p, b in zip(agent.q_net_.parameters(), agent.best_policy_.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, b.data)


def test_evaluating_does_not_change_what_is_learned():
    plain = _small().learn(gym.make("CartPole-v1"), total_steps=600)
    evaluated = _with_eval()
    assert plain.episode_returns_ == evaluated.episode_returns_
    for (name, a), b in zip(plain.q_net_.state_dict().items(),
                            evaluated.q_net_.state_dict().values(), strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_best_policy_is_saved_and_loaded(tmp_path):
    agent = _with_eval()
    io.save(agent, tmp_path / "dqn")
    loaded = io.load(tmp_path / "dqn")
    assert loaded.evaluations_ == agent.evaluations_
    assert loaded.best_mean_return_ == agent.best_mean_return_
    obs = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    loaded.use_best_policy()
    agent.use_best_policy()
    assert [loaded.predict(o) for o in obs] == [agent.predict(o) for o in obs]


def test_use_best_policy_needs_an_evaluation_and_eval_freq_is_checked():
    agent = _small().learn(gym.make("CartPole-v1"), total_steps=20)
    assert agent.evaluations_ == []
    with pytest.raises(AttributeError, match=r"learn\(\.\.\., eval_env=\.\.\.\)"):
        agent.use_best_policy()
    with pytest.raises(ValueError, match="eval_freq"):
        _small().learn(gym.make("CartPole-v1"), 10, eval_env=gym.make("CartPole-v1"),
                       eval_freq=0)  # fmt: skip
    with pytest.raises(ValueError, match="n_eval_episodes"):
        _small().learn(gym.make("CartPole-v1"), 10, eval_env=gym.make("CartPole-v1"),
                       n_eval_episodes=0)  # fmt: skip
