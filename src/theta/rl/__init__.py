"""Reinforcement learning on the Gymnasium API, built from theta's own parts.

The chapter's third way to learn, "from rewards, by trial and error", with the same
parameters, losses, gradients and updates as supervised learning. Environments speak
Gymnasium's API (``reset(seed=)``, ``step`` → 5-tuple); Gymnasium itself (the ``rl`` extra)
is imported only when an environment needs it, so ``import theta.rl`` works without it.

Examples
--------
>>> from theta.rl import UCB1, make
>>> env = make("Bandit-v0", n_arms=5)
>>> agent = UCB1().learn(env, total_steps=2000)
>>> agent.predict(0) == env.optimal_arm
True
"""

from theta.rl import policies
from theta.rl.agents import (
    A2C,
    DQN,
    PPO,
    REINFORCE,
    SAC,
    SARSA,
    UCB1,
    ActorCritic,
    Agent,
    EpsilonGreedy,
    QLearning,
    ThompsonSampling,
    discounted_returns,
)  # fmt: skip
from theta.rl.buffers import ReplayBuffer, Transitions
from theta.rl.envs import Box, Discrete, MultiArmedBandit, env_id, make, require_gymnasium
from theta.rl.normalize import RunningMeanStd
from theta.rl.rollout import RolloutBuffer, gae
from theta.rl.vector import as_vector_env, make_vec

__all__ = [
    "DQN", "REINFORCE", "SARSA", "UCB1", "Agent", "Box", "Discrete", "EpsilonGreedy",
    "MultiArmedBandit", "QLearning", "ReplayBuffer", "ThompsonSampling", "Transitions",
    "discounted_returns", "env_id", "make", "policies", "require_gymnasium",
    "A2C", "PPO", "ActorCritic", "RolloutBuffer", "RunningMeanStd", "as_vector_env", "gae",
    "make_vec",
    "SAC",
]  # fmt: skip
