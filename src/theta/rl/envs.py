"""Environments on the Gymnasium API, a multi-armed bandit that Gymnasium lacks, and ``make``.

The API every agent in ``theta.rl`` speaks is Gymnasium's:
``reset(seed=...) -> (obs, info)`` and ``step(action) -> (obs, reward, terminated, truncated,
info)``, with ``observation_space`` and ``action_space``. Gymnasium itself is the optional
extra ``rl``: it is imported only when something needs it (a Gymnasium environment by name,
or the Gymnasium base class of theta's own bandit), never by ``import theta.rl``.

When Gymnasium is installed, ``MultiArmedBandit(...)`` returns an instance of a subclass of
both ``MultiArmedBandit`` and ``gymnasium.Env`` (so Gymnasium's wrappers and its
``check_env`` accept it), with Gymnasium's spaces, and registers the id ``theta/Bandit-v0``.
Without Gymnasium it uses the small :class:`Discrete` and :class:`Box` spaces below.
"""

from __future__ import annotations

import math
import numbers
from types import ModuleType
from typing import Any

import numpy as np

from theta.validation import Interval, check_param

__all__ = ["Box", "Discrete", "MultiArmedBandit", "env_id", "make", "require_gymnasium"]

GYMNASIUM_ID = "theta/Bandit-v0"
# ids that make() answers with theta's bandit; the value holds the defaults each id implies
THETA_ENVS: dict[str, dict[str, Any]] = {
    "Bandit-v0": {},
    "BernoulliBandit-v0": {"kind": "bernoulli"},
    "GaussianBandit-v0": {"kind": "gaussian"},
}

_COUNT = Interval(numbers.Integral, 1, None)


def require_gymnasium() -> ModuleType:
    """Import Gymnasium, or raise an ImportError that names the extra to install.

    Examples
    --------
    >>> from theta.rl import require_gymnasium
    >>> gym = require_gymnasium()
    >>> gym.__name__
    'gymnasium'
    """
    try:
        import gymnasium
    except ImportError:
        raise ImportError(
            "this needs Gymnasium (the 'rl' extra): pip install 'theta-ml[rl]'"
        ) from None
    return gymnasium


def _try_gymnasium() -> ModuleType | None:
    try:
        return require_gymnasium()
    except ImportError:
        return None


def env_id(env: Any) -> str:
    """The environment's registered id (``CartPole-v1``), or its class name if it has none.

    Examples
    --------
    >>> from theta.rl import MultiArmedBandit, env_id, make
    >>> env_id(make("CartPole-v1"))
    'CartPole-v1'
    >>> env_id(MultiArmedBandit([0.5]))
    'MultiArmedBandit'
    """
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return str(spec.id)
    return type(getattr(env, "unwrapped", env)).__name__


# --- spaces used when Gymnasium is absent ------------------------------------------------


class Discrete:
    """The integers ``start, ..., start + n - 1`` (Gymnasium's ``Discrete``, minimal).

    Examples
    --------
    >>> space = Discrete(3, seed=0)
    >>> space.contains(2), space.contains(3), space
    (True, False, Discrete(3))
    """

    def __init__(self, n: int, *, start: int = 0, seed: int | None = None) -> None:
        self.n, self.start = int(n), int(start)
        self.shape: tuple[int, ...] = ()
        self.dtype = np.dtype(np.int64)
        self._rng = np.random.default_rng(seed)

    def seed(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)

    def sample(self) -> np.int64:
        return np.int64(self.start + self._rng.integers(self.n))

    def contains(self, x: Any) -> bool:
        if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "iu":
            x = x.item()
        if isinstance(x, bool) or not isinstance(x, numbers.Integral):
            return False
        return self.start <= int(x) < self.start + self.n

    def __contains__(self, x: Any) -> bool:
        return self.contains(x)

    def __repr__(self) -> str:
        return (
            f"Discrete({self.n})" if self.start == 0 else f"Discrete({self.n}, start={self.start})"
        )


class Box:
    """Real arrays of a fixed shape between ``low`` and ``high`` (Gymnasium's ``Box``, minimal).

    Examples
    --------
    >>> import numpy as np
    >>> Box(-1.0, 1.0, shape=(2,)).contains(np.zeros(2, dtype=np.float32))
    True
    """

    def __init__(
        self,
        low: Any,
        high: Any,
        shape: tuple[int, ...] | None = None,
        dtype: Any = np.float32,
        *,
        seed: int | None = None,
    ) -> None:
        self.dtype = np.dtype(dtype)
        shape = tuple(shape) if shape is not None else np.shape(low)
        self.low = np.broadcast_to(np.asarray(low, self.dtype), shape).copy()
        self.high = np.broadcast_to(np.asarray(high, self.dtype), shape).copy()
        self.shape: tuple[int, ...] = shape
        self._rng = np.random.default_rng(seed)

    def seed(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)

    def sample(self) -> np.ndarray:
        low = np.where(np.isfinite(self.low), self.low, -1.0)
        high = np.where(np.isfinite(self.high), self.high, 1.0)
        return self._rng.uniform(low, high).astype(self.dtype)

    def contains(self, x: Any) -> bool:
        x = np.asarray(x)
        return bool(x.shape == self.shape and np.all(x >= self.low) and np.all(x <= self.high))

    def __contains__(self, x: Any) -> bool:
        return self.contains(x)

    def __repr__(self) -> str:
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, {self.dtype})"


# --- the bandit ----------------------------------------------------------------------------


class MultiArmedBandit:
    """A k-armed bandit: each action pulls an arm and pays a random reward around its mean.

    There is one state (the observation is always ``0``), so the only thing to learn is which
    arm pays most. An episode is ``episode_length`` pulls (the default 1 makes every pull an
    episode). The expected regret of a pull is the gap between the best arm's mean and the
    pulled arm's mean; ``info["expected_regret"]`` reports it.

    Parameters
    ----------
    means : sequence of float, optional
        The arms' mean rewards. Default: ``n_arms`` means drawn with ``means_seed``, uniform
        in ``[0, 1)`` for Bernoulli arms, standard normal for Gaussian arms.
    n_arms : int, default=10
        Number of arms when ``means`` is not given.
    kind : {"bernoulli", "gaussian"}, default="bernoulli"
        Bernoulli arms pay 1 with probability ``mean`` and 0 otherwise; Gaussian arms pay
        ``mean + std * N(0, 1)``.
    std : float, default=1.0
        Reward noise of Gaussian arms.
    episode_length : int, default=1
        Pulls per episode.
    means_seed : int, default=0
        Seed of the default means (rewards are drawn from the generator seeded by ``reset``).
    render_mode : {None, "ansi"}, default=None
        ``"ansi"``: ``render()`` returns a line describing the last pull.

    Raises
    ------
    ValueError
        For an unknown ``kind``, Bernoulli means outside ``[0, 1]``, or a non-positive size.

    Examples
    --------
    >>> env = MultiArmedBandit([0.2, 0.8])
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(1)
    >>> env.optimal_arm, info["expected_regret"], terminated
    (1, 0.0, True)
    >>> env.step(1)
    Traceback (most recent call last):
    ...
    RuntimeError: MultiArmedBandit.step: the episode is over; call reset() first.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}
    spec: Any = None

    def __new__(cls, *args: Any, **kwargs: Any) -> MultiArmedBandit:
        if cls is MultiArmedBandit:
            gym_cls = _gymnasium_bandit_class()
            if gym_cls is not None:
                return object.__new__(gym_cls)
        return object.__new__(cls)

    def __init__(
        self,
        means: Any = None,
        *,
        n_arms: int = 10,
        kind: str = "bernoulli",
        std: float = 1.0,
        episode_length: int = 1,
        means_seed: int = 0,
        render_mode: str | None = None,
    ) -> None:
        if kind not in ("bernoulli", "gaussian"):
            raise ValueError(
                f"MultiArmedBandit: kind must be 'bernoulli' or 'gaussian' (got {kind!r})."
            )
        if means is None:
            check_param(n_arms, "n_arms", _COUNT, caller="MultiArmedBandit")
            draw = np.random.default_rng(means_seed)
            means = draw.random(n_arms) if kind == "bernoulli" else draw.standard_normal(n_arms)
        means = np.asarray(means, dtype=np.float64).reshape(-1)
        if means.size == 0 or not np.isfinite(means).all():
            raise ValueError("MultiArmedBandit: means must be one or more finite numbers.")
        if kind == "bernoulli" and (means.min() < 0 or means.max() > 1):
            raise ValueError(
                f"MultiArmedBandit: Bernoulli means are probabilities in [0, 1] (got {means})."
            )
        check_param(std, "std", Interval(numbers.Real, 0, None), caller="MultiArmedBandit")
        check_param(episode_length, "episode_length", _COUNT, caller="MultiArmedBandit")
        if render_mode not in (None, "ansi"):
            raise ValueError(
                f"MultiArmedBandit: render_mode must be None or 'ansi' (got {render_mode!r})."
            )
        self.means, self.kind, self.std = means, kind, float(std)
        self._best = float(means.max())
        self.episode_length, self.render_mode = int(episode_length), render_mode
        gym = _try_gymnasium()
        spaces = gym.spaces if gym is not None else None
        self.action_space = (spaces.Discrete if spaces else Discrete)(len(means))
        self.observation_space = (spaces.Discrete if spaces else Discrete)(1)
        self._np_random: np.random.Generator | None = None
        self._np_random_seed: int | None = None
        self._t = -1  # pulls in this episode; -1 until the first reset
        self._last: tuple[int, float] | None = None

    # --- facts for measuring regret ---

    @property
    def n_arms(self) -> int:
        return len(self.means)

    @property
    def optimal_arm(self) -> int:
        """The arm with the highest mean (the first one, if several tie)."""
        return int(np.argmax(self.means))

    @property
    def optimal_mean(self) -> float:
        """The highest mean reward: what an all-knowing player earns per pull on average."""
        return float(self.means.max())

    def expected_regret(self, actions: Any) -> np.ndarray:
        """Cumulative expected regret after each of ``actions`` (arm indices), shape (n,).

        Examples
        --------
        >>> MultiArmedBandit([0.2, 0.8]).expected_regret([0, 1, 0]).round(2)
        array([0.6, 0.6, 1.2])
        """
        actions = np.asarray(actions, dtype=np.int64)
        return np.cumsum(self.optimal_mean - self.means[actions])

    # --- the Gymnasium API ---

    @property
    def np_random(self) -> np.random.Generator:
        """The generator rewards are drawn from (seeded by ``reset(seed=...)``)."""
        if self._np_random is None:
            self._np_random = np.random.default_rng()
        return self._np_random

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        self._np_random = value

    @property
    def np_random_seed(self) -> int:
        return -1 if self._np_random_seed is None else self._np_random_seed

    @property
    def unwrapped(self) -> MultiArmedBandit:
        return self

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        """Start an episode; ``seed`` re-seeds the reward generator (else it continues)."""
        if seed is not None or self._np_random is None:
            self._np_random = np.random.default_rng(seed)
            self._np_random_seed = seed
        self._t = 0
        self._last = None
        return 0, {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict]:
        """Pull arm ``action``; return ``(0, reward, terminated, False, info)``.

        Raises
        ------
        RuntimeError
            Before ``reset()``, or after the episode has ended.
        ValueError
            If ``action`` is not an integer in ``[0, n_arms - 1]``.
        """
        if self._t < 0:
            raise RuntimeError(
                "MultiArmedBandit.step: called before reset(); call env.reset(seed=...) first."
            )
        if self._t >= self.episode_length:
            raise RuntimeError("MultiArmedBandit.step: the episode is over; call reset() first.")
        arm = action if type(action) is int and 0 <= action < len(self.means) else None
        if arm is None:
            arm = self._check_action(action)
        mean = float(self.means[arm])
        if self.kind == "bernoulli":
            reward = float(self.np_random.random() < mean)
        else:
            reward = float(mean + self.std * self.np_random.standard_normal())
        self._t += 1
        self._last = (arm, reward)
        info = {"arm": arm, "expected_regret": self._best - mean}
        return 0, reward, self._t >= self.episode_length, False, info

    def _check_action(self, action: Any) -> int:
        value = action
        if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu":
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(
                f"MultiArmedBandit.step: invalid action {action!r}; actions are integers in "
                f"[0, {self.n_arms - 1}]."
            )
        if not 0 <= int(value) < self.n_arms:
            raise ValueError(
                f"MultiArmedBandit.step: invalid action {action!r}; actions are integers in "
                f"[0, {self.n_arms - 1}]."
            )
        return int(value)

    def render(self) -> str | None:
        """With ``render_mode="ansi"``, a line describing the last pull."""
        if self.render_mode != "ansi":
            return None
        best = f"best arm {self.optimal_arm} (mean {self.optimal_mean:.3g})"
        if self._last is None:
            return f"{self.n_arms}-armed {self.kind} bandit; {best}\n"
        arm, reward = self._last
        return f"arm {arm} (mean {self.means[arm]:.3g}) paid {reward:.3g}; {best}\n"

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"MultiArmedBandit(n_arms={self.n_arms}, kind={self.kind!r})"

    def __enter__(self) -> MultiArmedBandit:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_GYM_CLASS: list[type] = []


def _gymnasium_bandit_class() -> type | None:
    """``MultiArmedBandit`` with ``gymnasium.Env`` as a second base, built once (or None)."""
    if _GYM_CLASS:
        return _GYM_CLASS[0]
    gym = _try_gymnasium()
    if gym is None:
        return None
    cls = type(
        "MultiArmedBandit",
        (MultiArmedBandit, gym.Env),
        {
            "__module__": __name__,
            "__qualname__": "MultiArmedBandit",
            "__doc__": MultiArmedBandit.__doc__,
        },
    )
    _GYM_CLASS.append(cls)
    if GYMNASIUM_ID not in gym.registry:
        gym.register(id=GYMNASIUM_ID, entry_point=cls)
    return cls


def make(env_id: str, **kwargs: Any) -> Any:
    """Build an environment by id: theta's bandits by their ids, anything else by Gymnasium.

    Parameters
    ----------
    env_id : str
        ``"Bandit-v0"``, ``"BernoulliBandit-v0"`` or ``"GaussianBandit-v0"`` (with or without
        the ``theta/`` prefix) for :class:`MultiArmedBandit`; any other id goes to
        ``gymnasium.make`` (``"CartPole-v1"``, ``"FrozenLake-v1"``, ...).
    **kwargs
        Passed to the environment (e.g. ``n_arms=5``, ``is_slippery=False``,
        ``render_mode="ansi"``).

    Raises
    ------
    ImportError
        For a Gymnasium id when Gymnasium is not installed, naming the ``rl`` extra.

    Examples
    --------
    >>> make("GaussianBandit-v0", n_arms=3).kind
    'gaussian'
    """
    name = env_id.removeprefix("theta/")
    if name in THETA_ENVS:
        return MultiArmedBandit(**{**THETA_ENVS[name], **kwargs})
    return require_gymnasium().make(env_id, **kwargs)


def _isfinite_obs(obs: Any) -> bool:
    """False if an observation holds NaN or infinity (integers always pass)."""
    if isinstance(obs, float):
        return math.isfinite(obs)
    if isinstance(obs, np.ndarray) and obs.dtype.kind == "f":
        return bool(np.isfinite(obs).all())
    if isinstance(obs, np.floating):
        return bool(np.isfinite(obs))
    return True
