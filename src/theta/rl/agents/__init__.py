"""Agents: bandits, tabular Q-learning and SARSA, REINFORCE and DQN, on one ``Agent`` base."""

from theta.rl.agents.a2c import A2C
from theta.rl.agents.actor_critic import ActorCritic
from theta.rl.agents.bandits import UCB1, EpsilonGreedy, ThompsonSampling
from theta.rl.agents.base import Agent
from theta.rl.agents.dqn import DQN, polyak_update
from theta.rl.agents.ppo import PPO, clipped_surrogate
from theta.rl.agents.q_learning import SARSA, QLearning
from theta.rl.agents.reinforce import REINFORCE, discounted_returns
from theta.rl.agents.sac import SAC, EntropyCoefficient, SquashedGaussianActor, TwinQ

__all__ = [
    "DQN", "REINFORCE", "SARSA", "UCB1", "Agent", "EpsilonGreedy", "QLearning",
    "ThompsonSampling", "discounted_returns",
    "A2C", "ActorCritic", "PPO", "clipped_surrogate",
    "SAC", "EntropyCoefficient", "SquashedGaussianActor", "TwinQ", "polyak_update",
]  # fmt: skip
