"""Each learning rule against a batch worked out by hand: ordinary, terminal and time-limit
(truncated) transitions, with the expected numbers written in closed form here, never
computed by the agent's own helpers."""

import math

import numpy as np
import pytest

from theta.rl import (
    DQN,
    REINFORCE,
    SARSA,
    UCB1,
    EpsilonGreedy,
    MultiArmedBandit,
    QLearning,
    ThompsonSampling,
)
from theta.rl.agents import dqn as dqn_module

gym = pytest.importorskip("gymnasium")

LR, GAMMA = 0.5, 0.9
# (state, action, reward, next state, terminated, truncated)
ORDINARY = (3, 1, 0.3, 7, False, False)
TERMINAL = (3, 1, 0.3, 7, True, False)
TRUNCATED = (3, 1, 0.3, 7, False, True)  # a time limit: s' is not terminal, so bootstrap


def _tabular(cls, epsilon=0.0, seed=0):
    """An agent ready to learn on FrozenLake's 16 states x 4 actions, with a table of
    distinct values (no ties, so max and argmax are unambiguous)."""
    env = gym.make("FrozenLake-v1")
    agent = cls(LR, gamma=GAMMA, epsilon=epsilon, random_state=seed).learn(env, total_steps=1)
    run = agent._setup(env, agent._rng)
    agent.q_table_[:] = np.random.default_rng(1).permutation(64).reshape(16, 4) / 8.0
    return agent, run


@pytest.mark.parametrize("cls", [QLearning, SARSA])
@pytest.mark.parametrize("transition", [ORDINARY, TERMINAL, TRUNCATED],
                         ids=["ordinary", "terminal", "truncated"])  # fmt: skip
def test_tabular_target_by_hand(cls, transition):
    s, a, r, s2, terminated, truncated = transition
    agent, run = _tabular(cls)  # epsilon 0: SARSA's next action is the greedy one
    q = agent.q_table_.copy()
    agent._observe(s, a, r, s2, terminated, truncated, {}, 1, run)
    target = r if terminated else r + GAMMA * q[s2].max()
    assert agent.q_table_[s, a] == pytest.approx(q[s, a] + LR * (target - q[s, a]), abs=1e-12)
    changed = agent.q_table_ != q
    assert changed.sum() == 1  # only Q[s, a] moves
    if cls is SARSA:  # a' is taken next unless the episode is over
        expected = None if terminated or truncated else int(q[s2].argmax())
        assert run.next_action == expected


def test_sarsa_bootstraps_from_the_action_it_takes_not_the_best():
    s, a, r, s2, _, _ = ORDINARY
    for seed in range(50):  # ε = 1: a' is uniform; find a seed where it is not the greedy one
        agent, run = _tabular(SARSA, epsilon=1.0, seed=seed)
        q = agent.q_table_.copy()
        agent._observe(s, a, r, s2, False, False, {}, 1, run)
        if run.next_action != int(q[s2].argmax()):
            break
    else:
        pytest.fail("ε = 1 never chose a non-greedy action in 50 seeds")
    target = r + GAMMA * q[s2, run.next_action]
    assert agent.q_table_[s, a] == pytest.approx(q[s, a] + LR * (target - q[s, a]), abs=1e-12)


# --- DQN ------------------------------------------------------------------------------------

ONLINE = np.array([[0.0, 1.0, 5.0, 2.0]] * 16)  # online net: argmax over s' is action 2
TARGET = np.array([[9.0, 3.0, 4.0, 1.0]] * 16)  # target net: argmax is 0, max 9, Q(s', 2) = 4


def _dqn(double):
    env = gym.make("FrozenLake-v1")
    agent = DQN(hidden_sizes=(), gamma=GAMMA, batch_size=4, buffer_size=4, double_dqn=double,
                learning_starts=10**6, random_state=0).learn(env, total_steps=1)  # fmt: skip
    run = agent._setup(env, agent._rng)
    rows = np.random.default_rng(2).normal(size=(16, 4))  # Q(s, ·) = table row, via one-hot
    agent.q_net_.load_state_dict({"0.weight": (rows + ONLINE).T.astype(np.float32),
                                  "0.bias": np.zeros(4, np.float32)})  # fmt: skip
    agent.target_net_.load_state_dict({"0.weight": (rows * 0 + TARGET).T.astype(
        np.float32), "0.bias": np.zeros(4, np.float32)})  # fmt: skip
    return agent, run


@pytest.mark.parametrize("double", [False, True], ids=["dqn", "double_dqn"])
@pytest.mark.parametrize("transition", [ORDINARY, TERMINAL, TRUNCATED],
                         ids=["ordinary", "terminal", "truncated"])  # fmt: skip
def test_dqn_target_by_hand(double, transition, monkeypatch):
    s, a, r, s2, terminated, truncated = transition
    agent, run = _dqn(double)
    agent._act(s, 1, run)  # encodes s as the current observation
    agent._observe(s, a, r, s2, terminated, truncated, {}, 1, run)  # stored, no update yet
    assert run.buffer.terminated[0] == float(terminated)  # a truncation is not stored as an end
    seen = {}

    def spy(prediction, target, **kwargs):
        seen["target"] = np.asarray(target)
        return huber(prediction, target, **kwargs)

    huber = dqn_module.huber
    monkeypatch.setattr(dqn_module, "huber", spy)
    agent._update(run, 2)  # the buffer holds one transition: every sampled row is it
    # double DQN: the next action by the online net (2), valued by the target net (4);
    # plain DQN: the target net's max (9)
    next_value = 0.0 if terminated else (4.0 if double else 9.0)
    np.testing.assert_allclose(seen["target"], np.full(4, r + GAMMA * next_value), rtol=1e-6)


# --- REINFORCE -------------------------------------------------------------------------------


class _Scripted(gym.Env):
    """Episodes with fixed rewards: [1, 2, 3] then [4, 5]; the observation is the step."""

    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Discrete(2)
    EPISODES = [[1.0, 2.0, 3.0], [4.0, 5.0]]

    def __init__(self):
        self.episode, self.t = -1, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return 0, {}

    def step(self, action):
        rewards = self.EPISODES[self.episode % 2]
        reward = rewards[self.t]
        self.t += 1
        return self.t % 3, reward, self.t == len(rewards), False, {}


@pytest.mark.parametrize("baseline", [False, True], ids=["no_baseline", "baseline"])
@pytest.mark.parametrize("gamma", [0.5, 1.0])
def test_reinforce_returns_and_loss_by_hand(baseline, gamma, monkeypatch):
    seen = {}
    original = REINFORCE._update

    def spy(self, run):
        X = np.concatenate([b[0] for b in run.batch])
        seen["G"] = np.concatenate([b[2] for b in run.batch])
        seen["actions"] = np.concatenate([b[1] for b in run.batch])
        seen["logits"] = self.policy_net_(X).data.astype(np.float64)
        if baseline:
            seen["V"] = self.value_net_(X).data.reshape(-1).astype(np.float64)
        original(self, run)

    monkeypatch.setattr(REINFORCE, "_update", spy)
    agent = REINFORCE(hidden_sizes=(4,), gamma=gamma, baseline=baseline, batch_episodes=2,
                      normalize_advantages=False, random_state=0)  # fmt: skip
    agent.learn(_Scripted(), episodes=2)
    g = gamma
    # each episode's returns stop at its own end: episode 1 never sees episode 2's rewards
    G = np.array([1 + g * 2 + g * g * 3, 2 + g * 3, 3, 4 + g * 5, 5])
    np.testing.assert_allclose(seen["G"], G, rtol=1e-12)
    z = seen["logits"]
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    taken = log_p[np.arange(5), seen["actions"]]
    if baseline:
        V = seen["V"]
        loss = -np.mean(taken * (G - V)) + np.mean((V - G) ** 2)
    else:
        loss = -np.mean(taken * G)
    assert agent.losses_ == [pytest.approx(loss, rel=1e-5)]


# --- bandits ---------------------------------------------------------------------------------


def _pulls(agent, steps=300):
    env = MultiArmedBandit(n_arms=4, kind="gaussian", means_seed=5)
    agent.learn(env, total_steps=steps)
    # a bandit episode is one pull, so its return is that pull's reward
    return agent.actions_, np.asarray(agent.episode_returns_)


@pytest.mark.parametrize("agent", [EpsilonGreedy(0.3, random_state=0), UCB1(random_state=0),
                                   ThompsonSampling("gaussian", random_state=0)],
                         ids=lambda a: type(a).__name__)  # fmt: skip
def test_bandit_estimates_are_sample_means(agent):
    actions, rewards = _pulls(agent)
    for arm in range(4):
        mine = rewards[actions == arm]
        assert agent.counts_[arm] == len(mine)
        assert agent.values_[arm] == pytest.approx(mine.mean() if len(mine) else 0.0, abs=1e-12)


def test_ucb1_pulls_the_highest_upper_bound_by_hand():
    agent = UCB1(c=0.7, random_state=0)
    actions, rewards = _pulls(agent)
    assert list(actions[:4]) == [0, 1, 2, 3]  # each arm once first
    for t in range(4, len(actions)):
        n = np.bincount(actions[:t], minlength=4)
        mean = np.bincount(actions[:t], weights=rewards[:t], minlength=4) / n
        bound = mean + 0.7 * np.sqrt(math.log(t) / n)
        assert actions[t] == int(np.argmax(bound)), t


def test_thompson_posteriors_by_hand():
    gauss = ThompsonSampling("gaussian", prior_mean=0.5, prior_std=2.0, noise_std=1.5,
                             random_state=0)  # fmt: skip
    actions, rewards = _pulls(gauss)
    n = np.bincount(actions, minlength=4)
    sums = np.bincount(actions, weights=rewards, minlength=4)
    precision = 1 / 2.0**2 + n / 1.5**2
    np.testing.assert_allclose(gauss.posterior_mean_, (0.5 / 2.0**2 + sums / 1.5**2) / precision,
                               rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(gauss.posterior_std_, precision**-0.5, rtol=1e-12)
    bern = ThompsonSampling(prior_alpha=2.0, prior_beta=3.0, random_state=0)
    bern.learn(MultiArmedBandit([0.2, 0.7, 0.5]), total_steps=300)
    actions, rewards = bern.actions_, np.asarray(bern.episode_returns_)
    n = np.bincount(actions, minlength=3)
    wins = np.bincount(actions, weights=rewards, minlength=3)
    a, b = 2.0 + wins, 3.0 + n - wins
    np.testing.assert_allclose(bern.posterior_mean_, a / (a + b), rtol=1e-12)
    np.testing.assert_allclose(
        bern.posterior_std_, np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))), rtol=1e-12
    )
