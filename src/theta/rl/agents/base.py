"""``Agent``: the contract every learner in ``theta.rl`` keeps, and the loop that runs them.

The contract is scikit-learn's, transposed to trial and error. Hyperparameters are the
``__init__`` arguments (so ``theta.tune`` searches them and ``theta.io`` records them, through
``theta.params.Params``); ``learn(env, ...)`` validates them, interacts with the environment,
stores what it learned in attributes ending in ``_`` and returns ``self``; ``predict(obs)``
maps an observation to an action. Learned state is kept as arrays, numbers, strings, lists,
dicts, generators and theta modules only, so it can be saved without pickle.

One loop (``Agent.learn``) serves every agent: it resets and steps the environment, checks
each reward and observation, counts steps and episodes and drives the progress bar; an agent
writes only how it acts (``_act``), what it learns from one transition (``_observe``) and
from one finished episode (``_end_episode``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from theta.errors import InvalidParameterError, NotFittedError
from theta.params import Params
from theta.progress import progress_bar
from theta.rl.envs import _isfinite_obs, env_id
from theta.rl.policies import SCHEDULES, make_schedule
from theta.rng import check_random_state

__all__ = ["Agent", "check_param", "check_sizes", "encode_obs", "obs_spec"]


def check_param(
    owner: Any,
    name: str,
    kind: Any,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
) -> None:
    """Raise ``InvalidParameterError`` unless ``owner.<name>`` is of ``kind`` and in range.

    ``kind`` is ``int``, ``float`` (ints accepted), ``bool``, or a tuple of allowed values.
    The message is scikit-learn's: "The 'gamma' parameter of DQN must be a float in the range
    (0, 1]. Got 1.5 instead."
    """
    value = getattr(owner, name)
    who = type(owner).__name__
    if isinstance(kind, tuple):
        if value not in kind:
            allowed = ", ".join(repr(k) for k in kind)
            raise InvalidParameterError(
                f"The {name!r} parameter of {who} must be one of {{{allowed}}}. Got {value!r} "
                "instead."
            )
        return
    if kind is bool:
        ok = isinstance(value, bool | np.bool_)
        what = "a bool"
    elif kind is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        what = "an int"
    else:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        ok = ok and not math.isnan(value)
        what = "a float"
    if ok and low is not None:
        ok = value > low or (value == low and closed in ("left", "both"))
    if ok and high is not None:
        ok = value < high or (value == high and closed in ("right", "both"))
    if not ok:
        if low is not None or high is not None:
            left = "[" if closed in ("left", "both") and low is not None else "("
            right = "]" if closed in ("right", "both") and high is not None else ")"
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            what += f" in the range {left}{lo}, {hi}{right}"
        raise InvalidParameterError(
            f"The {name!r} parameter of {who} must be {what}. Got {value!r} instead."
        )


def check_sizes(owner: Any, name: str) -> None:
    """Raise ``InvalidParameterError`` unless ``owner.<name>`` is a sequence of ints >= 1."""
    sizes = getattr(owner, name)
    ok = isinstance(sizes, list | tuple) and all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in sizes
    )
    if not ok:
        raise InvalidParameterError(
            f"The {name!r} parameter of {type(owner).__name__} must be a tuple of ints >= 1. "
            f"Got {sizes!r} instead."
        )


def obs_spec(space: Any, owner: str) -> tuple[str, int, tuple[int, ...]]:
    """``("discrete", n, ())`` or ``("box", n_features, shape)`` for an observation space.

    Raises
    ------
    TypeError
        For any other kind of space, naming it.
    """
    if hasattr(space, "n") and getattr(space, "shape", ()) == ():
        return "discrete", int(space.n), ()
    shape = getattr(space, "shape", None)
    if shape is not None and len(shape) >= 1 and hasattr(space, "low"):
        return "box", int(np.prod(shape)), tuple(shape)
    raise TypeError(
        f"{owner}: cannot learn from observations of {space!r}; it needs a Discrete or Box "
        "observation space."
    )


def encode_obs(obs: Any, kind: str, size: int) -> np.ndarray:
    """An observation as a float32 feature vector: one-hot for discrete, flattened for boxes.

    Raises
    ------
    ValueError
        If ``obs`` is not a state in ``[0, size)`` or does not have ``size`` numbers.

    Examples
    --------
    >>> encode_obs(2, "discrete", 4)
    array([0., 0., 1., 0.], dtype=float32)
    """
    if kind == "discrete":
        if not (isinstance(obs, numbers.Integral) and 0 <= obs < size):
            raise ValueError(
                f"observation {obs!r} is not a state; states are integers in [0, {size - 1}]."
            )
        x = np.zeros(size, dtype=np.float32)
        x[int(obs)] = 1.0
        return x
    x = np.asarray(obs, dtype=np.float32)
    if x.size != size:
        raise ValueError(
            f"observation of shape {x.shape} does not fit: the agent learned from observations "
            f"of {size} numbers."
        )
    return x.reshape(size)


def _n_actions(space: Any, owner: str) -> int:
    if not hasattr(space, "n") or getattr(space, "shape", ()) != ():
        raise TypeError(
            f"{owner} needs a Discrete action space (a finite set of actions); the "
            f"environment's action space is {space!r}."
        )
    return int(space.n)


def _check_budget(total_steps: Any, episodes: Any) -> tuple[float, float]:
    if total_steps is None and episodes is None:
        raise ValueError("learn: give total_steps or episodes (or both: whichever ends first).")
    limits = []
    for name, value in (("total_steps", total_steps), ("episodes", episodes)):
        if value is None:
            limits.append(math.inf)
        elif isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"learn: {name} must be an int >= 1 (got {value!r}).")
        else:
            limits.append(int(value))
    return limits[0], limits[1]


class Agent(Params):
    """Base class of the agents: ``learn``, ``predict`` and ``evaluate`` on the Gymnasium API.

    Subclasses implement ``_setup(env, rng)`` (build the learned state; return whatever the
    run needs that is not learned state, such as an optimizer), ``_act(obs, step, run)``,
    ``_observe(obs, action, reward, next_obs, terminated, truncated, info, step, run)``,
    optionally ``_end_episode(run)`` and ``_finish(run)``, and ``_predict(obs,
    deterministic)``. ``_fitted_attr`` names an attribute that exists once ``learn`` ran.
    """

    _fitted_attr = "episode_returns_"
    random_state: Any

    # --- the loop --------------------------------------------------------------------------

    def learn(
        self,
        env: Any,
        total_steps: int | None = None,
        episodes: int | None = None,
        progress: bool | None = None,
    ) -> Agent:
        """Interact with ``env`` and learn from it, for ``total_steps`` steps or ``episodes``
        episodes, whichever ends first. Forgets anything learned before.

        Parameters
        ----------
        env : Gymnasium environment
            Anything with ``reset(seed=)``, ``step`` and the two spaces.
        total_steps, episodes : int, optional
            The budget; at least one is needed.
        progress : bool, optional
            Show a progress bar (default: only when stderr is a terminal).

        Returns
        -------
        self

        Raises
        ------
        InvalidParameterError
            For a hyperparameter out of its range, naming it.
        ValueError
            If the environment returns a NaN or infinite reward or observation (naming the
            environment and the step), or for a bad budget.
        DivergenceError
            If the values being learned become non-finite or explode.
        """
        max_steps, max_episodes = _check_budget(total_steps, episodes)
        self._validate_params()
        name = env_id(env)
        rng = check_random_state(self.random_state)
        self.n_actions_ = _n_actions(env.action_space, type(self).__name__)
        self.episode_returns_: list[float] = []
        self.episode_lengths_: list[int] = []
        self.n_steps_ = 0
        self._rng = rng
        run = self._setup(env, rng)
        bar = progress_bar(
            max_steps if max_episodes == math.inf else max_episodes,
            unit="step" if max_episodes == math.inf else "episode",
            enabled=progress,
        )
        returns, lengths = self.episode_returns_, self.episode_lengths_
        obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
        _check_obs(obs, name, 0)
        step, ep_return, ep_length = 0, 0.0, 0
        try:
            while step < max_steps and len(returns) < max_episodes:
                action = self._act(obs, step, run)
                next_obs, reward, terminated, truncated, info = env.step(action)
                step += 1
                reward = float(reward)
                if not math.isfinite(reward):
                    raise ValueError(
                        f"{name}: the environment returned the reward {reward} at step {step} "
                        f"(episode {len(returns) + 1}); rewards must be finite numbers."
                    )
                _check_obs(next_obs, name, step)
                self._observe(obs, action, reward, next_obs, terminated, truncated, info, step, run)
                ep_return += reward
                ep_length += 1
                if terminated or truncated:
                    returns.append(ep_return)
                    lengths.append(ep_length)
                    self._end_episode(run)
                    if bar is not None:
                        bar.update(ep_length if max_episodes == math.inf else 1)
                        bar.set_postfix(mean_return=f"{np.mean(returns[-20:]):.3g}", refresh=False)
                    ep_return, ep_length = 0.0, 0
                    if step < max_steps and len(returns) < max_episodes:
                        obs, _ = env.reset()
                        _check_obs(obs, name, step)
                else:
                    obs = next_obs
        finally:
            self.n_steps_ = step
            if bar is not None:
                bar.close()
        self._finish(run)
        return self

    # --- hooks (overridden by agents) -----------------------------------------------------------

    def _validate_params(self) -> None:
        """Check every hyperparameter (``random_state`` is checked by ``check_random_state``)."""

    def _setup(self, env: Any, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def _act(self, obs: Any, step: int, run: Any) -> int:
        raise NotImplementedError

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
        run: Any,
    ) -> None:
        raise NotImplementedError

    def _end_episode(self, run: Any) -> None:
        """Learn from the episode that just ended (REINFORCE does; most agents need not)."""

    def _finish(self, run: Any) -> None:
        """Tidy up after the last step."""

    def _predict(self, obs: Any, deterministic: bool) -> int:
        raise NotImplementedError

    # --- using what was learned ------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'learn' with "
                "appropriate arguments before using this agent."
            )

    def predict(self, obs: Any, deterministic: bool = True) -> int:
        """The action for observation ``obs``: the best one, or a sampled one if not
        ``deterministic`` (drawn from the generator ``learn`` started from ``random_state``).

        Raises
        ------
        NotFittedError
            Before ``learn``.
        """
        self._check_fitted()
        return self._predict(obs, deterministic)

    def evaluate(
        self,
        env: Any,
        episodes: int = 10,
        *,
        seed: int | None = None,
        deterministic: bool = True,
        max_steps: int = 10_000,
    ) -> tuple[float, float]:
        """Mean and standard deviation of the return over ``episodes`` episodes.

        Parameters
        ----------
        env : Gymnasium environment
        episodes : int, default=10
        seed : int, optional
            Seed of the first ``reset``; later episodes continue the environment's stream.
        deterministic : bool, default=True
            Act greedily (the learned policy without exploration).
        max_steps : int, default=10_000
            Cut an episode off after this many steps, for environments without a time limit
            (a policy that walks into a wall forever would otherwise never return).

        Returns
        -------
        (float, float)
        """
        self._check_fitted()
        if isinstance(episodes, bool) or not isinstance(episodes, numbers.Integral) or episodes < 1:
            raise ValueError(f"evaluate: episodes must be an int >= 1 (got {episodes!r}).")
        name = env_id(env)
        returns = []
        for k in range(episodes):
            obs, _ = env.reset(seed=seed) if k == 0 else env.reset()
            total, done, n = 0.0, False, 0
            while not done and n < max_steps:
                obs, reward, terminated, truncated, _ = env.step(self._predict(obs, deterministic))
                n += 1
                if not math.isfinite(float(reward)):
                    raise ValueError(
                        f"{name}: the environment returned the reward {reward} at "
                        f"step {n} of evaluation episode {k + 1}."
                    )
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        return float(np.mean(returns)), float(np.std(returns))

    # --- shared pieces of the agents ---------------------------------------------------------

    def _check_epsilon_params(self) -> None:
        check_param(self, "epsilon", float, 0.0, 1.0)
        check_param(self, "epsilon_final", float, 0.0, 1.0)
        check_param(self, "epsilon_schedule", tuple(SCHEDULES))
        check_param(self, "epsilon_decay_steps", int, 1, None)

    def _epsilon_schedule(self) -> Any:
        return make_schedule(
            self.epsilon_schedule, self.epsilon, self.epsilon_final, self.epsilon_decay_steps
        )


def _check_obs(obs: Any, name: str, step: int) -> None:
    if not _isfinite_obs(obs):
        raise ValueError(
            f"{name}: the environment returned an observation with NaN or infinity at step "
            f"{step}: {obs!r}."
        )
