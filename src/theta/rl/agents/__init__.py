"""Agents: bandits, tabular Q-learning and SARSA, REINFORCE and DQN, on one ``Agent`` base."""

from theta.rl.agents.bandits import UCB1, EpsilonGreedy, ThompsonSampling
from theta.rl.agents.base import Agent
from theta.rl.agents.dqn import DQN
from theta.rl.agents.q_learning import SARSA, QLearning
from theta.rl.agents.reinforce import REINFORCE, discounted_returns

__all__ = [
    "DQN", "REINFORCE", "SARSA", "UCB1", "Agent", "EpsilonGreedy", "QLearning",
    "ThompsonSampling", "discounted_returns",
]  # fmt: skip
