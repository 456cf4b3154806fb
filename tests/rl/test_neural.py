"""DQN and REINFORCE: small problems solved fast, the checks, reproducibility and CartPole."""

import math
import time

import numpy as np
import pytest

from theta.errors import DivergenceError, InvalidParameterError, NotFittedError
from theta.rl import DQN, REINFORCE, MultiArmedBandit, discounted_returns

gym = pytest.importorskip("gymnasium")


def _small_dqn(**kwargs) -> DQN:
    settings = dict(
        learning_starts=200,
        buffer_size=5000,
        batch_size=32,
        hidden_sizes=(32,),
        target_update_interval=100,
        epsilon_decay_steps=2000,
        random_state=0,
    )
    settings.update(kwargs)
    return DQN(**settings)


def test_dqn_solves_deterministic_frozen_lake_from_one_hot_states():
    env = gym.make("FrozenLake-v1", is_slippery=False)
    agent = _small_dqn().learn(env, total_steps=3000)
    assert agent.evaluate(env, episodes=5, seed=0) == (1.0, 0.0)
    assert agent.n_updates_ == 3000 - 200
    assert agent.losses_ and all(math.isfinite(v) for v in agent.losses_)


def test_dqn_without_double_q_and_clipping_also_learns_the_bandit():
    agent = DQN(
        learning_starts=50,
        batch_size=16,
        epsilon_decay_steps=200,
        double_dqn=False,
        max_grad_norm=math.inf,
        random_state=0,
    ).learn(MultiArmedBandit([0.1, 0.9]), 400)
    assert agent.predict(0) == 1
    q = agent.q_values(0)
    assert q[1] > q[0]


def test_target_network_is_a_copy_synced_every_interval():
    env = gym.make("CartPole-v1")
    agent = _small_dqn(learning_starts=10, target_update_interval=50).learn(env, total_steps=100)
    for (name, p), (_, t) in zip(
        agent.q_net_.named_parameters(), agent.target_net_.named_parameters(), strict=True
    ):
        assert p is not t, name
        np.testing.assert_array_equal(p.data, t.data)  # step 100 is a sync step
    agent.learn(env, total_steps=120)  # 20 updates after the last sync
    assert any(
        not np.array_equal(p.data, t.data)
        for p, t in zip(agent.q_net_.parameters(), agent.target_net_.parameters(), strict=True)
    )


@pytest.mark.parametrize(
    "make", [lambda: _small_dqn(), lambda: REINFORCE(random_state=0)], ids=["DQN", "REINFORCE"]
)
def test_seeded_runs_are_bit_for_bit_reproducible(make):
    env = gym.make("CartPole-v1")
    a = make().learn(env, total_steps=600)
    b = make().learn(env, total_steps=600)
    assert a.episode_returns_ == b.episode_returns_
    net = "q_net_" if isinstance(a, DQN) else "policy_net_"
    for (name, x), y in zip(
        getattr(a, net).state_dict().items(), getattr(b, net).state_dict().values(), strict=True
    ):
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_reinforce_improves_on_cartpole():
    env = gym.make("CartPole-v1")
    agent = REINFORCE(1e-2, hidden_sizes=(32,), random_state=0).learn(env, episodes=150)
    returns = agent.episode_returns_
    assert np.mean(returns[-20:]) > 3 * np.mean(returns[:20])
    assert agent.n_updates_ == 150 and len(agent.losses_) == 150
    p = agent.action_probabilities(np.zeros(4, dtype=np.float32))
    assert p.shape == (2,) and abs(p.sum() - 1) < 1e-6


def test_reinforce_options_batch_entropy_and_no_baseline():
    env = MultiArmedBandit([0.1, 0.9])
    agent = REINFORCE(
        0.05,
        baseline=False,
        entropy_coef=0.01,
        batch_episodes=10,
        normalize_advantages=False,
        random_state=0,
    ).learn(env, episodes=400)
    assert agent.predict(0) == 1 and agent.n_updates_ == 40
    assert not hasattr(agent, "value_net_")


def test_discounted_returns():
    np.testing.assert_allclose(discounted_returns([1.0, 0.0, 2.0], 0.9), [2.62, 1.8, 2.0])
    np.testing.assert_allclose(discounted_returns([1.0, 1.0], 1.0), [2.0, 1.0])


def test_dqn_divergence_is_detected():
    env = gym.make("CartPole-v1")
    with pytest.raises(DivergenceError, match=r"DQN: (Q-values reached|the loss became)"):
        _small_dqn(
            learning_rate=1e4,
            max_grad_norm=math.inf,
            learning_starts=32,
            target_update_interval=10_000,
        ).learn(env, total_steps=3000)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"gamma": 1.5}, "gamma"),
        ({"buffer_size": 16, "batch_size": 32}, "buffer_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"epsilon": 2.0}, "epsilon"),
        ({"hidden_sizes": (64, 0)}, "hidden_sizes"),
        ({"target_update_interval": 0}, "target_update_interval"),
        ({"double_dqn": "yes"}, "double_dqn"),
        ({"max_grad_norm": 0.0}, "max_grad_norm"),
    ],
)
def test_dqn_bad_hyperparameters_are_named(params, name):
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of DQN must be"):
        DQN(**params).learn(MultiArmedBandit(), total_steps=5)


def test_buffer_size_message_names_the_batch_size_bound():
    with pytest.raises(InvalidParameterError, match=r"range \[32, inf\). Got 16 instead"):
        DQN(buffer_size=16, batch_size=32).learn(MultiArmedBandit(), total_steps=5)


@pytest.mark.parametrize(
    "params, name",
    [({"learning_rate": -1.0}, "learning_rate"), ({"activation": "swish"}, "activation"),
     ({"batch_episodes": 0}, "batch_episodes"), ({"entropy_coef": -0.1}, "entropy_coef")],
)  # fmt: skip
def test_reinforce_bad_hyperparameters_are_named(params, name):
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of REINFORCE"):
        REINFORCE(**params).learn(MultiArmedBandit(), total_steps=5)


def test_neural_agents_need_discrete_actions_and_check_fitted():
    with pytest.raises(TypeError, match="Discrete action space"):
        DQN().learn(gym.make("Pendulum-v1"), total_steps=5)
    with pytest.raises(NotFittedError):
        REINFORCE().predict(np.zeros(4))


@pytest.mark.slow
def test_reinforce_solves_cartpole():
    """Mean return >= 475 over 100 greedy evaluation episodes (500 is the cap).

    REINFORCE with one 32-unit tanh layer per network and otherwise its defaults (Adam 1e-2
    for both networks, advantages normalised per episode, gamma 0.99) for 800 episodes: about
    300,000 environment steps. It reached 500 on every seed tried (0-5); DQN reaches it in
    40,000 steps but not on every seed (6 of 7).
    """
    env = gym.make("CartPole-v1")
    agent = REINFORCE(hidden_sizes=(32,), random_state=0)
    started, cpu = time.perf_counter(), time.process_time()
    agent.learn(env, episodes=800)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    mean, std = agent.evaluate(gym.make("CartPole-v1"), episodes=100, seed=1)
    print(
        f"REINFORCE CartPole: {agent.n_steps_} env steps, {agent.n_updates_} updates, "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU; evaluation {mean:.1f} +- {std:.1f}"
    )
    assert mean >= 475


def test_predict_checks_the_observation():
    agent = _small_dqn(learning_starts=10).learn(gym.make("CartPole-v1"), total_steps=20)
    with pytest.raises(ValueError, match=r"shape \(3,\) does not fit.*4 numbers"):
        agent.predict(np.zeros(3))
    lake = REINFORCE(random_state=0).learn(gym.make("FrozenLake-v1"), episodes=2)
    with pytest.raises(ValueError, match=r"observation 16 is not a state"):
        lake.predict(16)
