"""Tabular Q-learning and SARSA: one learned number per (state, action) pair.

Both move ``Q[s, a]`` a step of size ``learning_rate`` towards a one-step target,
``r + gamma * (value of the next state)``; they differ only in that value:

- Q-learning (Watkins, 1989) uses ``max_a' Q[s', a']``, the value of acting greedily from
  ``s'``, whatever the agent will actually do. It learns the optimal policy while exploring
  (off-policy): on CliffWalking, the shortest path along the cliff edge.
- SARSA (Rummery & Niranjan, 1994) uses ``Q[s', a']`` for the action ``a'`` it really takes
  next, exploration included (on-policy). It learns the best policy *given that it keeps
  exploring*: on CliffWalking, a path away from the edge, where a random step is not fatal.

This is the chapter's loop without a gradient: the table is θ, the target sets the "loss"
``(target - Q[s, a])**2 / 2``, and the update is one step of gradient descent on it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from theta.errors import DivergenceError
from theta.rl.agents.base import DISCOUNT, EPSILON_PARAMS, Agent, horizon, obs_spec
from theta.rl.policies import epsilon_greedy
from theta.validation import Interval

__all__ = ["QLearning", "SARSA"]

_SHARED_DOC = """
    Parameters
    ----------
    learning_rate : float, default=0.1
        Step size of each update, in ``(0, 1]``.
    gamma : float, default=0.99
        Discount factor, in ``(0, 1]``.
    epsilon : float, default=0.1
        Exploration probability at step 0, in ``[0, 1]``.
    epsilon_final : float, default=0.01
        Exploration probability at the end of the schedule, in ``[0, 1]``.
    epsilon_schedule : {"constant", "linear", "exponential"}, default="constant"
        How ε moves from ``epsilon`` to ``epsilon_final`` (see ``theta.rl.policies``).
    epsilon_decay_steps : int, default=10_000
        Length (linear) or time constant (exponential) of the schedule, in steps.
    initial_q : float, default=0.0
        Starting value of every entry; optimistic values make the agent explore.
    random_state : int or numpy.random.Generator, optional
        Seeds exploration and the environment's first reset.

    Attributes
    ----------
    q_table_ : ndarray of shape (n_states, n_actions)
        The learned action values.
    episode_returns_, episode_lengths_ : list
        Return and length of every finished episode.
    n_steps_ : int
        Environment steps taken by ``learn``.
"""


class _Run:
    def __init__(self, schedule: Any, limit: float) -> None:
        self.schedule = schedule
        self.next_action: int | None = None  # SARSA's already chosen a'
        self.limit = limit  # no |Q| should come near this (see _check_value)
        self.reward_scale = 1.0
        self.horizon = math.inf  # steps of reward a value can add up


class _TabularAgent(Agent):
    _fitted_attr = "q_table_"

    def __init__(
        self,
        learning_rate: float = 0.1,
        *,
        gamma: float = 0.99,
        epsilon: float = 0.1,
        epsilon_final: float = 0.01,
        epsilon_schedule: str = "constant",
        epsilon_decay_steps: int = 10_000,
        initial_q: float = 0.0,
        random_state: Any = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.gamma = gamma
        self.epsilon = epsilon
        self.epsilon_final = epsilon_final
        self.epsilon_schedule = epsilon_schedule
        self.epsilon_decay_steps = epsilon_decay_steps
        self.initial_q = initial_q
        self.random_state = random_state

    _parameter_constraints = {
        "learning_rate": [DISCOUNT],  # a step size in (0, 1]
        "gamma": [DISCOUNT],
        **EPSILON_PARAMS,
        "initial_q": [Interval(numbers.Real, -math.inf, math.inf, closed="neither")],
    }

    def _setup(self, env: Any, rng: np.random.Generator) -> _Run:
        kind, n_states, _ = obs_spec(env.observation_space, type(self).__name__)
        if kind != "discrete":
            raise TypeError(
                f"{type(self).__name__} keeps a table with one row per state, so it needs a "
                f"Discrete observation space (got {env.observation_space!r}); use DQN or "
                "REINFORCE for continuous observations."
            )
        self.q_table_ = np.full((n_states, self.n_actions_), float(self.initial_q))
        return self._restore_run(env, {"next_action": None, "reward_scale": 1.0})

    def _run_state(self, run: _Run) -> dict[str, Any]:
        return {"next_action": run.next_action, "reward_scale": run.reward_scale}

    def _restore_run(self, env: Any, state: dict[str, Any]) -> _Run:
        run = _Run(self._epsilon_schedule(), math.inf)
        run.horizon = horizon(self.gamma, env)
        run.next_action = state["next_action"]
        self._raise_limit(run, state["reward_scale"])
        return run

    def _raise_limit(self, run: _Run, reward_scale: float) -> None:
        """True values are bounded by max|r| times the horizon; allow ten times that."""
        run.reward_scale = reward_scale
        if run.horizon < math.inf:
            run.limit = 10 * (reward_scale + abs(self.initial_q)) * run.horizon

    def _act(self, obs: Any, step: int, run: _Run) -> int:
        if run.next_action is not None:
            action, run.next_action = run.next_action, None
            return action
        return epsilon_greedy(self.q_table_[obs], run.schedule(step), self._rng)

    def _observe(
        self,
        obs: Any,
        action: int,
        reward: float,
        next_obs: Any,
        terminated: bool,
        truncated: bool,
        info: dict,
        step: int,
        run: _Run,
    ) -> None:
        q = self.q_table_
        target = reward
        if not terminated:  # a time limit is not a terminal state: keep bootstrapping
            target += self.gamma * self._next_value(next_obs, truncated, step, run)
        current = float(q[obs, action])  # Python floats: an overflow is inf, not a warning
        value = current + self.learning_rate * (target - current)
        q[obs, action] = value
        if abs(reward) > run.reward_scale:
            self._raise_limit(run, abs(reward))
        if not abs(value) <= run.limit:  # also catches NaN
            why = (
                "is not a number" if math.isnan(value) or math.isinf(value)
                else f"is beyond anything rewards of size {run.reward_scale:g} can explain"
            )  # fmt: skip
            raise DivergenceError(
                f"{type(self).__name__}: Q[{obs}, {action}] reached {value:.4g} at step {step}, "
                f"which {why}; learning diverged. Lower learning_rate or gamma."
            )

    def _next_value(self, next_obs: Any, truncated: bool, step: int, run: _Run) -> float:
        raise NotImplementedError

    def _predict(self, obs: Any, deterministic: bool) -> int:
        n_states = self.q_table_.shape[0]
        if (
            isinstance(obs, bool)
            or not isinstance(obs, int | np.integer)
            or not 0 <= obs < n_states
        ):
            raise ValueError(
                f"{type(self).__name__}.predict: observation {obs!r} is not a state; states are "
                f"integers in [0, {n_states - 1}]."
            )
        if deterministic:
            return int(np.argmax(self.q_table_[obs]))
        return epsilon_greedy(
            self.q_table_[obs], self._epsilon_schedule()(self.n_steps_), self._rng
        )


class QLearning(_TabularAgent):
    __doc__ = (
        """Off-policy tabular control: ``Q[s, a] += lr * (r + gamma * max Q[s'] - Q[s, a])``.
"""
        + _SHARED_DOC
        + """
    Examples
    --------
    >>> from theta.rl import MultiArmedBandit
    >>> env = MultiArmedBandit([0.1, 0.9])
    >>> agent = QLearning(0.5, epsilon=0.2, random_state=0).learn(env, total_steps=300)
    >>> agent.predict(0)
    1
    """
    )

    def _next_value(self, next_obs: Any, truncated: bool, step: int, run: _Run) -> float:
        return float(self.q_table_[next_obs].max())


class SARSA(_TabularAgent):
    __doc__ = (
        """On-policy tabular control: ``Q[s, a] += lr * (r + gamma * Q[s', a'] - Q[s, a])``,
    with ``a'`` the ε-greedy action the agent then takes in ``s'``.
"""
        + _SHARED_DOC
        + """
    Examples
    --------
    >>> from theta.rl import MultiArmedBandit
    >>> env = MultiArmedBandit([0.1, 0.9])
    >>> agent = SARSA(0.5, epsilon=0.2, random_state=0).learn(env, total_steps=300)
    >>> agent.predict(0)
    1
    """
    )

    def _next_value(self, next_obs: Any, truncated: bool, step: int, run: _Run) -> float:
        q_next = self.q_table_[next_obs]
        action = epsilon_greedy(q_next, run.schedule(step), self._rng)
        if not truncated:  # the episode goes on: a' is the action taken next
            run.next_action = action
        return float(q_next[action])
