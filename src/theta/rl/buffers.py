"""``ReplayBuffer``: the last ``capacity`` transitions, in preallocated ring arrays.

DQN learns from random minibatches of past transitions rather than from the latest one,
which breaks the correlation between consecutive steps. The buffer allocates its arrays once
and overwrites the oldest transition when full, so adding costs a few array writes and no
allocation; sampling draws indices from the generator it was given.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy as np

from theta.rng import check_random_state
from theta.validation import Interval, check_param

__all__ = ["ReplayBuffer", "Transitions"]


class Transitions(NamedTuple):
    """A minibatch of transitions; arrays have a leading axis of length ``batch_size``.

    Examples
    --------
    >>> from theta.rl import ReplayBuffer
    >>> buffer = ReplayBuffer(10, (4,), rng=0)
    >>> for _ in range(3):
    ...     buffer.add([0.0] * 4, 1, 1.0, [0.0] * 4, False)
    ...
    >>> batch = buffer.sample(2)
    >>> type(batch).__name__, batch.obs.shape, batch.actions.tolist()
    ('Transitions', (2, 4), [1, 1])
    """

    obs: np.ndarray  # (B, *obs_shape)
    actions: np.ndarray  # (B, *action_shape): int64 indices, or float32 for continuous actions
    rewards: np.ndarray  # (B,) float32
    next_obs: np.ndarray  # (B, *obs_shape)
    terminated: np.ndarray  # (B,) float32: 1.0 where the episode ended in a terminal state


class ReplayBuffer:
    """A ring buffer of ``(obs, action, reward, next_obs, terminated)`` transitions.

    Only ``terminated`` is stored, not ``truncated``: an episode cut off by a time limit did
    not reach a terminal state, so its last transition still bootstraps from ``next_obs``.

    Parameters
    ----------
    capacity : int
        How many transitions are kept; older ones are overwritten.
    obs_shape : tuple of int
        Shape of one observation.
    obs_dtype : numpy dtype, default=float32
    action_shape : tuple of int, default=()
        Shape of one action: ``()`` for an index (a Discrete space), ``(n,)`` for a Box's.
    action_dtype : numpy dtype, default=int64
        float32 for continuous actions.
    rng : int or numpy.random.Generator, optional
        Source of the sampled indices.

    Examples
    --------
    >>> buffer = ReplayBuffer(3, (2,), rng=0)
    >>> for t in range(5):
    ...     buffer.add([t, t], 0, 1.0, [t + 1, t + 1], False)
    >>> len(buffer), buffer.sample(2).obs.shape
    (3, (2, 2))
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        *,
        obs_dtype: Any = np.float32,
        action_shape: tuple[int, ...] = (),
        action_dtype: Any = np.int64,
        rng: Any = None,
    ) -> None:
        check_param(capacity, "capacity", Interval(numbers.Integral, 1, None),
                    caller="ReplayBuffer")  # fmt: skip
        self.capacity = int(capacity)
        self.obs_shape = tuple(obs_shape)
        self.rng = check_random_state(rng)
        self.obs = np.zeros((capacity, *self.obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.position = 0  # where the next transition goes
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: Any, action: Any, reward: float, next_obs: Any, terminated: bool) -> None:
        """Store one transition, overwriting the oldest when full."""
        i = self.position
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminated[i] = terminated
        self.position = (i + 1) % self.capacity
        if self.size < self.capacity:
            self.size += 1

    def sample(self, batch_size: int) -> Transitions:
        """``batch_size`` transitions drawn uniformly with replacement.

        Raises
        ------
        ValueError
            If the buffer is empty.
        """
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty; add transitions first.")
        idx = self.rng.integers(self.size, size=batch_size)
        return Transitions(
            self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
            self.terminated[idx],
        )  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        """The stored transitions (only the filled part) and the ring position, as arrays."""
        n = self.size
        return {
            "obs": self.obs[:n].copy(), "next_obs": self.next_obs[:n].copy(),
            "actions": self.actions[:n].copy(), "rewards": self.rewards[:n].copy(),
            "terminated": self.terminated[:n].copy(),
            "position": np.array(self.position), "capacity": np.array(self.capacity),
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (into a buffer of the same capacity and shape).

        Raises
        ------
        ValueError
            If the capacity or the observation shape differ.
        """
        capacity = int(state["capacity"])
        obs = np.asarray(state["obs"])
        if capacity != self.capacity or obs.shape[1:] != self.obs_shape:
            raise ValueError(
                f"ReplayBuffer.load_state_dict: state has capacity {capacity} and observation "
                f"shape {obs.shape[1:]}, this buffer {self.capacity} and {self.obs_shape}."
            )
        n = len(obs)
        for name in ("obs", "next_obs", "actions", "rewards", "terminated"):
            getattr(self, name)[:n] = state[name]
        self.size, self.position = n, int(state["position"])
