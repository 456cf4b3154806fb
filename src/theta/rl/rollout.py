"""The rollout buffer of on-policy agents, and generalised advantage estimation (GAE).

PPO and A2C learn from the last ``n_steps`` steps of ``n_envs`` environments, then throw
them away. The buffer keeps them as arrays of shape ``(n_steps, n_envs, ...)`` together with
what the policy said when it acted (the value ``V(s_t)`` and ``log π(a_t | s_t)``), and turns
the rewards into advantages with GAE(λ) (Schulman et al., 2016)::

    delta_t = r_t + gamma * V(s_{t+1}) * (1 - terminated_t) - V(s_t)
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}
    R_t     = A_t + V(s_t)                  the value network's regression target

``done_t`` (terminated or truncated) cuts the sum at an episode's end; only ``terminated``
removes the bootstrap ``V(s_{t+1})``, because a time limit is not a real end: the episode
would have gone on, so its last state is valued by the network (Pardo et al., 2018). Rows
that only reset an environment (Gymnasium's NEXT_STEP autoreset) are kept, since their
observation is the true last state of the episode before and supplies ``V(s_{t+1})``, but
are marked invalid and never learned from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

__all__ = ["RolloutBatch", "RolloutBuffer", "gae", "minibatches"]


def gae(
    rewards: Any,
    values: Any,
    next_values: Any,
    terminated: Any,
    done: Any,
    gamma: float,
    gae_lambda: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and returns by GAE(λ), each of the shape of ``rewards``, ``(T, ...)``.

    Parameters
    ----------
    rewards, values, next_values, terminated, done : array-like of shape (T, ...)
        Step ``t``'s reward, ``V(s_t)``, ``V(s_{t+1})`` (of the true next state, also at an
        episode's last step), whether the episode ended there for real, and whether it
        ended at all (terminated or truncated).
    gamma, gae_lambda : float

    Examples
    --------
    Three steps; the episode ends (terminates) after the second, the third is bootstrapped:

    >>> adv, ret = gae([1.0, 1.0, 1.0], [0.5, 0.5, 0.5], [0.5, 9.0, 2.0],
    ...                [False, True, False], [False, True, False], 0.5, 1.0)
    >>> adv.tolist(), ret.tolist()
    ([1.0, 0.5, 1.5], [1.5, 1.0, 2.0])
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    not_terminal = 1.0 - np.asarray(terminated, dtype=np.float64)
    carry = gamma * gae_lambda * (1.0 - np.asarray(done, dtype=np.float64))
    delta = rewards + gamma * np.asarray(next_values, dtype=np.float64) * not_terminal - values
    advantages = np.empty_like(delta)
    running = np.zeros_like(delta[0]) if len(delta) else 0.0
    for t in range(len(delta) - 1, -1, -1):  # backwards: A_t needs A_{t+1}
        running = delta[t] + carry[t] * running
        advantages[t] = running
    return advantages, advantages + values


class RolloutBatch(NamedTuple):
    """The learnable rows of a rollout, flattened to ``(n_rows, ...)``."""

    obs: np.ndarray
    actions: np.ndarray
    log_probs: np.ndarray
    values: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray


class RolloutBuffer:
    """``n_steps`` steps of ``n_envs`` environments, filled by ``add`` and read by ``batch``.

    Examples
    --------
    >>> buf = RolloutBuffer(2, 1, (3,), ())
    >>> for t in range(2):
    ...     buf.add(np.ones((1, 3)), np.array([0]), np.array([1.0]), np.array([False]),
    ...             np.array([False]), np.array([0.0]), np.array([-0.7]), np.array([True]))
    >>> buf.compute(np.array([0.0]), gamma=1.0, gae_lambda=1.0).returns.tolist()
    [2.0, 1.0]
    """

    def __init__(
        self,
        n_steps: int,
        n_envs: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        *,
        action_dtype: Any = np.int64,
        dtype: Any = np.float32,
    ) -> None:
        size = (n_steps, n_envs)
        self.obs = np.zeros(size + tuple(obs_shape), dtype=dtype)
        self.actions = np.zeros(size + tuple(action_shape), dtype=action_dtype)
        self.rewards = np.zeros(size)
        self.terminated = np.zeros(size, dtype=bool)
        self.done = np.zeros(size, dtype=bool)
        self.values = np.zeros(size)
        self.log_probs = np.zeros(size)
        self.valid = np.zeros(size, dtype=bool)
        # V(s_{t+1}) where it is not the next row's value (SAME_STEP autoreset's last states)
        self.final_values = np.full(size, np.nan)
        self.n_steps, self.pos = n_steps, 0

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        values: np.ndarray,
        log_probs: np.ndarray,
        valid: np.ndarray,
    ) -> None:
        """Record one step of every environment: what was seen, done and received."""
        t = self.pos
        self.obs[t], self.actions[t], self.rewards[t] = obs, actions, rewards
        self.terminated[t], self.done[t] = terminated, terminated | truncated
        self.values[t], self.log_probs[t], self.valid[t] = values, log_probs, valid
        self.final_values[t] = np.nan
        self.pos += 1

    def full(self) -> bool:
        return self.pos == self.n_steps

    def compute(self, last_values: np.ndarray, gamma: float, gae_lambda: float) -> RolloutBatch:
        """GAE over the whole buffer (``last_values`` = ``V`` of the observation after the last
        step), then the valid rows flattened step by step; the buffer is empty again after."""
        next_values = np.concatenate([self.values[1:], last_values[None]])
        given = ~np.isnan(self.final_values)
        next_values[given] = self.final_values[given]
        advantages, returns = gae(self.rewards, self.values, next_values, self.terminated,
                                  self.done, gamma, gae_lambda)  # fmt: skip
        rows = self.valid.reshape(-1)
        self.pos = 0

        def flat(a: np.ndarray) -> np.ndarray:
            return a.reshape(-1, *a.shape[2:])[rows]

        return RolloutBatch(flat(self.obs), flat(self.actions), flat(self.log_probs),
                            flat(self.values), flat(advantages), flat(returns))  # fmt: skip


def minibatches(n_rows: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Row indices of one epoch: a permutation from ``rng`` cut into ``batch_size`` pieces (the
    last may be smaller).

    Examples
    --------
    >>> [len(b) for b in minibatches(10, 4, np.random.default_rng(0))]
    [4, 4, 2]
    """
    order = rng.permutation(n_rows)
    for start in range(0, n_rows, batch_size):
        yield order[start : start + batch_size]
