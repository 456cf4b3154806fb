"""Vectorised environments: ``n`` copies of an environment stepped as one, through Gymnasium.

On-policy agents (PPO, A2C) collect experience from several environments at once, so one
forward pass of the policy serves ``n`` observations. ``make_vec`` builds Gymnasium's own
``SyncVectorEnv`` (all copies in this process) or ``AsyncVectorEnv`` (one process each);
``as_vector_env`` lets an agent take a single environment too, as a vector of one.

Gymnasium 1.x resets a finished copy on the *next* call to ``step`` (``NEXT_STEP``
autoreset, the default): the step that ends an episode returns the episode's true last
observation, and the following ``step`` ignores that copy's action and returns the first
observation of a new episode with reward 0. A rollout must therefore not learn from that
reset step (``reset_steps`` marks it). ``SAME_STEP`` autoreset (the reset observation
returned at once, the last one in ``info["final_obs"]``) is accepted as well.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import numpy as np

from theta.rl.envs import make, require_gymnasium
from theta.validation import Interval, check_param

__all__ = ["as_vector_env", "autoreset_mode", "make_vec", "reset_steps"]


def make_vec(
    id: str,  # noqa: A002 - Gymnasium's name for it
    n: int = 1,
    *,
    seed: int | None = None,
    asynchronous: bool = False,
    **kwargs: Any,
) -> Any:
    """``n`` copies of environment ``id`` as one ``gymnasium.vector`` environment.

    Parameters
    ----------
    id : str
        Anything :func:`theta.rl.make` builds (``"CartPole-v1"``, ``"Bandit-v0"``, ...).
    n : int, default=1
        Number of copies, ``>= 1``.
    seed : int, optional
        If given, the copies are reset with seeds ``seed, seed + 1, ...`` and their action
        spaces seeded, so the environment is ready to step; an agent's ``learn`` resets it
        again from its own ``random_state``.
    asynchronous : bool, default=False
        One process per copy (``AsyncVectorEnv``), worth it only for slow environments.
    **kwargs
        Passed to every copy (``render_mode=``, ``is_slippery=``, ...).

    Examples
    --------
    >>> env = make_vec("CartPole-v1", 4, seed=0)
    >>> env.num_envs, env.observation_space.shape
    (4, (4, 4))
    >>> env.close()
    """
    gym = require_gymnasium()
    check_param(n, "n", Interval(numbers.Integral, 1, None), caller="make_vec")
    factory = functools.partial(make, id, **kwargs)
    vector = gym.vector.AsyncVectorEnv if asynchronous else gym.vector.SyncVectorEnv
    env = vector([factory] * int(n))
    if env.spec is None:  # as gymnasium.make_vec does, so env_id names the copies' id
        probe = factory()
        env.spec = getattr(probe, "spec", None)
        probe.close()
    if seed is not None:
        env.reset(seed=int(seed))
        env.action_space.seed(int(seed))
    return env


def as_vector_env(env: Any) -> Any:
    """``env`` itself if it is a ``gymnasium.vector.VectorEnv``, else a vector of one that
    steps it (closing the vector closes ``env``).

    Examples
    --------
    >>> from theta.rl import make
    >>> as_vector_env(make("CartPole-v1")).num_envs
    1
    """
    gym = require_gymnasium()
    if isinstance(env, gym.vector.VectorEnv):
        autoreset_mode(env)
        return env
    return gym.vector.SyncVectorEnv([lambda: env])


def autoreset_mode(env: Any) -> str:
    """``"next_step"`` or ``"same_step"``: how the vector env ``env`` restarts episodes.

    Raises
    ------
    ValueError
        For ``DISABLED`` autoreset, which a rollout cannot use.
    """
    mode = env.metadata.get("autoreset_mode", "NextStep")
    name = str(getattr(mode, "value", mode))
    if name not in ("NextStep", "SameStep"):
        raise ValueError(
            f"the vector environment's autoreset_mode is {name}; theta's agents need NextStep "
            "(Gymnasium's default) or SameStep, which restart finished episodes themselves."
        )
    return "next_step" if name == "NextStep" else "same_step"


def reset_steps(done: np.ndarray, mode: str) -> np.ndarray:
    """Which copies the next ``step`` only resets (NEXT_STEP autoreset): those whose episode
    just ended. Under SAME_STEP autoreset none.

    Examples
    --------
    >>> reset_steps(np.array([True, False]), "next_step")
    array([ True, False])
    """
    return np.asarray(done, dtype=bool) if mode == "next_step" else np.zeros(len(done), bool)
