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

import copy
import math
import numbers
from typing import Any

import numpy as np

from theta.errors import NotFittedError
from theta.params import Params
from theta.progress import progress_bar
from theta.rl.envs import _isfinite_obs, env_id
from theta.rl.policies import SCHEDULES, make_schedule
from theta.rng import check_random_state
from theta.train import deferred_interrupt
from theta.validation import Each, Interval, Options, check_param, validate_params

__all__ = ["Agent", "encode_obs", "horizon", "obs_spec"]


RATE = Interval(numbers.Real, 0, None, closed="neither")  # learning rates, priors' scales
DISCOUNT = Interval(numbers.Real, 0, 1, closed="right")
COUNT = Interval(numbers.Integral, 1, None)
SIZES = Each(Interval(numbers.Integral, 1, None))  # hidden layer sizes
NORM = Interval(numbers.Real, 0, math.inf, closed="right")  # max_grad_norm: inf for no clipping
EPSILON_PARAMS = {
    "epsilon": [Interval(numbers.Real, 0, 1)],
    "epsilon_final": [Interval(numbers.Real, 0, 1)],
    "epsilon_schedule": [Options(SCHEDULES)],
    "epsilon_decay_steps": [COUNT],
}


def horizon(gamma: float, env: Any) -> float:
    """How many steps of reward a value can add up: ``1 / (1 - gamma)``, or with ``gamma = 1``
    the environment's time limit (``env.spec.max_episode_steps``); inf if it has none.

    Examples
    --------
    >>> horizon(0.75, None)
    4.0
    """
    if gamma < 1:
        return 1.0 / (1.0 - gamma)
    limit = getattr(getattr(env, "spec", None), "max_episode_steps", None)
    return float(limit) if limit else math.inf


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
        else:
            limits.append(int(check_param(value, name, COUNT, caller="learn")))
    return limits[0], limits[1]


class Agent(Params):
    """Base class of the agents: ``learn``, ``predict`` and ``evaluate`` on the Gymnasium API.

    Subclasses implement ``_setup(env, rng)`` (build the learned state; return whatever the
    run needs that is not learned state, such as an optimizer), ``_act(obs, step, run)``,
    ``_observe(obs, action, reward, next_obs, terminated, truncated, info, step, run)``,
    optionally ``_end_episode(run)`` and ``_finish(run)``, and ``_predict(obs,
    deterministic)``. ``_fitted_attr`` names an attribute that exists once ``learn`` ran.
    ``_parameter_constraints`` maps each hyperparameter to its accepted values, as an
    estimator's does (:func:`theta.validation.violation`).

    Examples
    --------
    >>> from theta.rl import Agent, MultiArmedBandit, QLearning
    >>> env = MultiArmedBandit([0.1, 0.9])
    >>> agent = QLearning(0.5, epsilon=0.2, random_state=0).learn(env, total_steps=300)
    >>> isinstance(agent, Agent), agent.predict(0)
    (True, 1)
    """

    _fitted_attr = "episode_returns_"
    _parameter_constraints: dict[str, list[Any]] = {}
    # private state theta.io saves: the generator, and where learn stopped (to continue)
    __theta_state_names__ = ("_rng", "_progress")
    random_state: Any

    # --- the loop --------------------------------------------------------------------------

    def learn(
        self,
        env: Any,
        total_steps: int | None = None,
        episodes: int | None = None,
        progress: bool | None = None,
        *,
        reset_num_timesteps: bool = True,
    ) -> Agent:
        """Interact with ``env`` and learn from it, for ``total_steps`` steps or ``episodes``
        episodes, whichever ends first.

        Ctrl-C stops after the step in progress (a second Ctrl-C stops at once): the agent
        keeps what it learned up to that step, is ready to continue, and ``KeyboardInterrupt``
        is raised saying the step reached.

        Parameters
        ----------
        env : Gymnasium environment
            Anything with ``reset(seed=)``, ``step`` and the two spaces.
        total_steps, episodes : int, optional
            The budget; at least one is needed. When continuing, steps and episodes beyond
            those already taken (as Stable-Baselines3's ``learn``).
        progress : bool, optional
            Show a progress bar (default: only when stderr is a terminal).
        reset_num_timesteps : bool, default=True
            ``True`` forgets anything learned before. ``False`` continues where the last
            ``learn`` stopped (finished, or interrupted by Ctrl-C, also after ``theta.io``
            saved and loaded the agent): the learned state, generators, step and episode
            counters, exploration schedule, optimizer state, replay buffer and the episode in
            progress, which is restored in ``env`` by resetting it with the generator state
            it had and replaying the episode's actions. A run stopped and continued this way
            ends exactly as one that never stopped, given an environment that is
            deterministic given its generator.

        Returns
        -------
        self

        Raises
        ------
        InvalidParameterError
            For a hyperparameter out of its range, naming it.
        ValueError
            If the environment returns a NaN or infinite reward or observation (naming the
            environment and the step), for a bad budget, or if the episode in progress
            cannot be restored in ``env``.
        DivergenceError
            If the values being learned become non-finite or explode.
        KeyboardInterrupt
            On Ctrl-C, after the step in progress.
        """
        max_steps, max_episodes = _check_budget(total_steps, episodes)
        self._validate_params()
        name = env_id(env)
        saved = None if reset_num_timesteps else getattr(self, "_progress", None)
        if saved is None:
            self.__dict__.pop("_progress", None)  # what is learned now is a new run
            rng = check_random_state(self.random_state)
            self.n_actions_ = _n_actions(env.action_space, type(self).__name__)
            self.episode_returns_: list[float] = []
            self.episode_lengths_: list[int] = []
            self.n_steps_ = 0
            self._rng = rng
            run = self._setup(env, rng)
            episode = {"reset_seed": int(rng.integers(2**31 - 1)), "reset_rng": None,
                       "actions": []}  # fmt: skip
            obs, ep_return = self._reset(env, name, 0, episode), 0.0
        else:
            spaces = _spaces(env)
            if spaces != saved["spaces"]:
                raise ValueError(
                    f"learn: cannot continue on {name}: its observation and action spaces are "
                    f"{spaces}, the agent learned on {saved['spaces']}; continue on the "
                    "environment it learned from."
                )
            run = self._restore_run(env, saved["run"])
            episode = saved["episode"]
            obs, ep_return = self._restore_episode(env, name, saved), saved["ep_return"]
        # the budget counts on from what earlier calls did, so a continued run stops where
        # an uninterrupted one would
        max_steps += self.n_steps_
        max_episodes += len(self.episode_returns_)
        self.__dict__.pop("_progress", None)  # set again below only at a step boundary
        bar = progress_bar(
            max_steps - self.n_steps_ if max_episodes == math.inf
            else max_episodes - len(self.episode_returns_),
            unit="step" if max_episodes == math.inf else "episode",
            enabled=progress,
        )  # fmt: skip
        returns, lengths = self.episode_returns_, self.episode_lengths_
        step = self.n_steps_
        stopped = False
        try:
            with deferred_interrupt() as interrupted:
                while step < max_steps and len(returns) < max_episodes and not stopped:
                    action = self._act(obs, step, run)
                    next_obs, reward, terminated, truncated, info = env.step(action)
                    step += 1
                    episode["actions"].append(int(action))
                    reward = float(reward)
                    if not math.isfinite(reward):
                        raise ValueError(
                            f"{name}: the environment returned the reward {reward} at step "
                            f"{step} (episode {len(returns) + 1}); rewards must be finite "
                            "numbers."
                        )
                    _check_obs(next_obs, name, step)
                    self._observe(obs, action, reward, next_obs, terminated, truncated, info,
                                  step, run)  # fmt: skip
                    ep_return += reward
                    obs = next_obs
                    if terminated or truncated:
                        returns.append(ep_return)
                        lengths.append(len(episode["actions"]))
                        self._end_episode(run)
                        if bar is not None:
                            bar.update(lengths[-1] if max_episodes == math.inf else 1)
                            bar.set_postfix(mean_return=f"{np.mean(returns[-20:]):.3g}",
                                            refresh=False)  # fmt: skip
                        ep_return = 0.0
                        episode = {"reset_seed": None, "reset_rng": _env_generator(env),
                                   "actions": []}  # fmt: skip
                        obs = None  # the next episode starts when there is budget for it
                        if step < max_steps and len(returns) < max_episodes:
                            obs, _ = env.reset()  # from the generator state just recorded
                            _check_obs(obs, name, step)
                    stopped = interrupted()
        finally:
            self.n_steps_ = step
            if bar is not None:
                bar.close()
        self._progress = {
            "episode": episode, "obs": obs, "ep_return": ep_return, "run": self._run_state(run),
            "spaces": _spaces(env),
        }  # fmt: skip
        self._finish(run)
        if stopped:
            raise KeyboardInterrupt(
                f"{type(self).__name__}: interrupted at step {step} (episode "
                f"{len(returns) + 1}); learn(..., reset_num_timesteps=False) continues"
            )
        return self

    def _reset(self, env: Any, name: str, step: int, episode: dict[str, Any]) -> Any:
        """Start the episode ``episode`` describes: reset ``env`` with its seed or generator."""
        if episode["reset_rng"] is not None:
            env.unwrapped.np_random = _generator(episode["reset_rng"])
        obs, _ = env.reset(seed=episode["reset_seed"])
        _check_obs(obs, name, step)
        return obs

    def _restore_episode(self, env: Any, name: str, saved: dict[str, Any]) -> Any:
        """Put ``env`` back where the last ``learn`` left it: the episode in progress is reset
        as it was and its actions replayed; the observation reached is returned."""
        episode = saved["episode"]
        obs = self._reset(env, name, self.n_steps_, episode)
        if saved["obs"] is None:  # stopped between episodes: the next one starts now
            return obs
        for action in episode["actions"]:
            obs = env.step(action)[0]
        if not np.array_equal(np.asarray(obs), np.asarray(saved["obs"])):
            raise ValueError(
                f"learn: cannot continue on {name}: replaying the {len(episode['actions'])} "
                f"actions of the episode in progress reached the observation {obs!r}, not "
                f"{saved['obs']!r}; the environment is not deterministic given its generator "
                "(or is another one). Pass reset_num_timesteps=True to start over."
            )
        return obs

    # --- hooks (overridden by agents) -----------------------------------------------------------

    def _validate_params(self) -> None:
        """Check every hyperparameter against ``_parameter_constraints`` (scikit-learn's
        sentence; ``random_state`` is checked by ``check_random_state``)."""
        validate_params(self, self._parameter_constraints)

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

    def _run_state(self, run: Any) -> dict[str, Any]:
        """What of ``run`` a continued ``learn`` needs, as values ``theta.io`` saves."""
        raise NotImplementedError

    def _restore_run(self, env: Any, state: dict[str, Any]) -> Any:
        """The ``run`` that ``_run_state`` described, around the learned state of ``self``."""
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
        check_param(episodes, "episodes", COUNT, caller="evaluate")
        name = env_id(env)
        returns = []
        for k in range(episodes):
            obs, _ = env.reset(seed=seed) if k == 0 else env.reset()
            during = f" of evaluation episode {k + 1}"
            _check_obs(obs, name, 0, during)  # a NaN state would silently pick action 0
            total, done, n = 0.0, False, 0
            while not done and n < max_steps:
                obs, reward, terminated, truncated, _ = env.step(self._predict(obs, deterministic))
                n += 1
                _check_obs(obs, name, n, during)
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

    def _check_buffer_holds_a_batch(self) -> None:
        """An off-policy agent's replay buffer must hold at least one batch."""
        buffer = Interval(numbers.Integral, self.batch_size, None)
        check_param(self.buffer_size, "buffer_size", buffer, caller=self)

    @staticmethod
    def _check_evaluation(eval_env: Any, eval_freq: Any, n_eval_episodes: Any) -> None:
        """Check ``learn``'s evaluation options (used only with an ``eval_env``)."""
        if eval_env is not None:
            check_param(eval_freq, "eval_freq", COUNT, caller="learn")
            check_param(n_eval_episodes, "n_eval_episodes", COUNT, caller="learn")

    def _forget_evaluations(self) -> None:
        """Start a new learn's record of evaluations, with no best policy yet."""
        self.evaluations_: list[tuple[int, float, float]] = []
        self.__dict__.pop("best_policy_", None)
        self.__dict__.pop("best_mean_return_", None)

    def _evaluate_for_best(self, eval_env: Any, episodes: int, step: int, policy: Any) -> None:
        """Evaluate the deterministic policy at ``step``; record ``(step, mean, std)`` in
        ``evaluations_`` and keep a copy of ``policy`` (the module that acts) as
        ``best_policy_`` when its mean beats ``best_mean_return_`` (the first on ties), as
        Stable-Baselines3's ``EvalCallback`` keeps its best model. Each evaluation seeds its
        environment by its number and draws nothing from the agent's generator."""
        mean, std = self.evaluate(eval_env, episodes, seed=len(self.evaluations_))
        self.evaluations_.append((step, mean, std))
        if mean > getattr(self, "best_mean_return_", -math.inf):
            self.best_mean_return_ = mean
            self.best_policy_ = copy.deepcopy(policy)

    def _epsilon_schedule(self) -> Any:
        return make_schedule(
            self.epsilon_schedule, self.epsilon, self.epsilon_final, self.epsilon_decay_steps
        )


def _spaces(env: Any) -> list[str]:
    """The environment's observation and action spaces, as text to compare."""
    return [repr(env.observation_space), repr(env.action_space)]


_BIT_GENERATORS = {cls.__name__: cls for cls in (np.random.PCG64, np.random.PCG64DXSM,
                                                  np.random.MT19937, np.random.Philox,
                                                  np.random.SFC64)}  # fmt: skip


def _env_generator(env: Any) -> dict[str, Any] | None:
    """The state of the generator the environment draws from, or None if it shows none."""
    gen = getattr(getattr(env, "unwrapped", env), "np_random", None)
    if not isinstance(gen, np.random.Generator):
        return None
    state = gen.bit_generator.state
    return state if state.get("bit_generator") in _BIT_GENERATORS else None


def _generator(state: dict[str, Any]) -> np.random.Generator:
    """A generator in the state ``_env_generator`` returned."""
    bit_generator = _BIT_GENERATORS[state["bit_generator"]]()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _check_obs(obs: Any, name: str, step: int, during: str = "") -> None:
    if not _isfinite_obs(obs):
        raise ValueError(
            f"{name}: the environment returned an observation with NaN or infinity at step "
            f"{step}{during}: {obs!r}."
        )
