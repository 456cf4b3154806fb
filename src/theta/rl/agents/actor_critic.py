"""Actor-critic agents: a policy and a value network learning from rollouts of vector envs.

``ActorCritic`` is the network pair of Stable-Baselines3's ``MlpPolicy``: an actor mapping
an observation to a distribution over actions (``Categorical`` logits for a ``Discrete``
space, a ``Normal`` with a learned state-independent log standard deviation for a ``Box``)
and a critic mapping it to the expected return ``V(s)``; separate 64-64 tanh MLPs by
default, orthogonally initialised with SB3's gains. ``_OnPolicyAgent`` is the loop PPO and
A2C share: collect ``n_steps`` steps from every copy of a vector environment (one forward
per step for all copies), turn them into advantages with GAE(λ), and hand the batch to the
agent's ``_update`` (the chapter's four steps), until the step budget is spent.
"""

from __future__ import annotations

import math
import numbers
import weakref
from typing import Any

import numpy as np

from theta import special
from theta.autograd import Tensor, no_grad
from theta.distributions import Categorical, Distribution, Normal
from theta.errors import DivergenceError
from theta.nn import MLP, Linear, Module, Parameter, get_activation
from theta.optim import clip_grad_norm
from theta.progress import progress_bar
from theta.rl.agents.base import (
    COUNT,
    DISCOUNT,
    NORM,
    RATE,
    SIZES,
    Agent,
    _check_budget,
    _spaces,
    obs_spec,
)  # fmt: skip
from theta.rl.envs import _isfinite_obs, env_id
from theta.rl.normalize import RunningMeanStd
from theta.rl.rollout import RolloutBatch, RolloutBuffer
from theta.rl.vector import as_vector_env, autoreset_mode, reset_steps
from theta.rng import check_random_state
from theta.train import deferred_interrupt
from theta.validation import Interval, Options

__all__ = ["ActorCritic"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

# The episodes in progress of each agent's last learn, by id(agent): the environments' state
# lives only in this process, so it is kept beside the agent, never saved with it.
_LIVE: dict[int, dict[str, Any]] = {}

ON_POLICY_PARAMS: dict[str, list[Any]] = {
    "learning_rate": [RATE],
    "n_steps": [COUNT],
    "gamma": [DISCOUNT],
    "gae_lambda": [Interval(numbers.Real, 0, 1)],
    "ent_coef": [Interval(numbers.Real, 0, None)],
    "vf_coef": [Interval(numbers.Real, 0, None)],
    "max_grad_norm": [NORM],
    "normalize_advantage": ["boolean"],
    "lr_schedule": [Options({"constant", "linear"})],
    "hidden_sizes": [SIZES],
    "activation": [Options({"relu", "tanh", "gelu", "sigmoid"})],
    "shared": ["boolean"],
    "log_std_init": [Interval(numbers.Real, None, None)],
    "ortho_init": ["boolean"],
    "normalize_observations": ["boolean"],
    "normalize_rewards": ["boolean"],
    "clip_obs": [RATE],
    "clip_reward": [RATE],
}


def _orthogonal(shape: tuple[int, int], gain: float, rng: np.random.Generator) -> np.ndarray:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al.; ``torch.nn.init.orthogonal_``)."""
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the draw uniform over orthogonal matrices
    return gain * (q if rows >= cols else q.T)


class ActorCritic(Module):
    """Policy and value networks: ``x -> (action distribution, V(x))``, ``x`` of shape
    ``(batch, n_features)``.

    Parameters
    ----------
    n_features, n_actions : int
        Input size; number of actions (Discrete) or action dimensions (Box).
    continuous : bool, default=False
        A ``Normal`` over ``n_actions`` dimensions instead of a ``Categorical``.
    hidden_sizes : tuple of int, default=(64, 64)
    activation : str, default="tanh"
    shared : bool, default=False
        One body for both heads (A2C's classic network) instead of two MLPs.
    log_std_init : float, default=0.0
        Initial log standard deviation of continuous actions.
    ortho_init : bool, default=True
        Orthogonal weights, gain ``sqrt(2)`` in hidden layers, 0.01 on the policy head and 1
        on the value head, zero biases (Stable-Baselines3's).
    rng : int or numpy.random.Generator, optional

    Examples
    --------
    >>> import numpy as np
    >>> net = ActorCritic(4, 2, rng=0)
    >>> dist, value = net.distribution(Tensor(np.zeros((3, 4), np.float32)))
    >>> dist.batch_shape, value.shape
    ((3,), (3,))
    """

    def __init__(
        self,
        n_features: int,
        n_actions: int,
        *,
        continuous: bool = False,
        hidden_sizes: tuple[int, ...] = (64, 64),
        activation: str = "tanh",
        shared: bool = False,
        log_std_init: float = 0.0,
        ortho_init: bool = True,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        rng = check_random_state(rng)
        hidden = tuple(int(h) for h in hidden_sizes)
        self.continuous = continuous
        self.shared = bool(shared and hidden)
        if self.shared:
            self.body = MLP((n_features, *hidden), activation=activation, rng=rng, dtype=dtype)
            self.body_activation = get_activation(activation)
            self.pi_head = Linear(hidden[-1], n_actions, rng=rng, dtype=dtype)
            self.vf_head = Linear(hidden[-1], 1, rng=rng, dtype=dtype)
        else:
            kw = {"activation": activation, "rng": rng, "dtype": dtype}
            self.pi_net = MLP((n_features, *hidden, n_actions), **kw)
            self.vf_net = MLP((n_features, *hidden, 1), **kw)
        if continuous:
            weight = (self.pi_head if self.shared else self.pi_net.layers[0]).weight
            self.log_std = Parameter(np.full(n_actions, log_std_init, dtype=weight.dtype))
        if ortho_init:
            self._orthogonal_init(rng)

    def _orthogonal_init(self, rng: np.random.Generator) -> None:
        if self.shared:
            hidden = [m for m in self.body.layers if isinstance(m, Linear)]
            heads = [(self.pi_head, 0.01), (self.vf_head, 1.0)]
        else:
            pi = [m for m in self.pi_net.layers if isinstance(m, Linear)]
            vf = [m for m in self.vf_net.layers if isinstance(m, Linear)]
            hidden, heads = pi[:-1] + vf[:-1], [(pi[-1], 0.01), (vf[-1], 1.0)]
        for layer, gain in [(m, math.sqrt(2)) for m in hidden] + heads:
            w = layer.weight.data
            w[...] = _orthogonal(w.shape, gain, rng)
            layer.bias.data[...] = 0

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The policy head's output (logits or means), ``(batch, n_actions)``, and ``V(x)``,
        ``(batch,)``."""
        if self.shared:
            h = self.body_activation(self.body(x))
            return self.pi_head(h), self.vf_head(h).reshape(-1)
        return self.pi_net(x), self.vf_net(x).reshape(-1)

    def distribution(self, x: Tensor) -> tuple[Distribution, Tensor]:
        """The action distribution for each row of ``x`` and its value."""
        out, value = self(x)
        if self.continuous:
            return Normal(out, self.log_std.exp()), value
        return Categorical(logits=out), value

    def act(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Sampled actions, their log-probabilities and the values for the rows of ``x``: the
        distribution's ``sample`` and ``log_prob``, computed in NumPy on the forward pass's
        output, since acting needs no graph (one forward per step of every environment)."""
        with no_grad():
            out, value = self(Tensor(x))
        out = out.data.astype(np.float64)
        if self.continuous:
            std = np.exp(self.log_std.data.astype(np.float64))
            eps = rng.standard_normal(out.shape)
            actions = out + std * eps
            log_prob = (-0.5 * eps**2 - np.log(std) - _HALF_LOG_2PI).sum(axis=-1)
            return actions.astype(x.dtype), log_prob, value.data.astype(np.float64)
        log_p = special.log_softmax(out)
        cdf = np.cumsum(np.exp(log_p), axis=-1)
        u = rng.random(len(out))[:, None] * cdf[:, -1:]
        actions = np.minimum((u >= cdf).sum(axis=-1), out.shape[1] - 1)
        return actions, log_p[np.arange(len(out)), actions], value.data.astype(np.float64)

    def value(self, x: Tensor) -> Tensor:
        """``V(x)``, ``(batch,)``, without the policy head."""
        if self.shared:
            return self.vf_head(self.body_activation(self.body(x))).reshape(-1)
        return self.vf_net(x).reshape(-1)


def score(dist: Distribution, actions: Any) -> tuple[Tensor, Tensor]:
    """``log π(a|s)`` and the entropy per row (summed over action dimensions for a Normal)."""
    log_prob, entropy = dist.log_prob(actions), dist.entropy()
    if isinstance(dist, Normal):
        return log_prob.sum(axis=-1), entropy.sum(axis=-1)
    return log_prob, entropy


def _action_spec(space: Any, owner: str) -> tuple[str, int, tuple[int, ...]]:
    if hasattr(space, "n") and getattr(space, "shape", ()) == ():
        return "discrete", int(space.n), ()
    if hasattr(space, "low") and getattr(space, "shape", None):
        return "box", int(np.prod(space.shape)), tuple(space.shape)
    raise TypeError(
        f"{owner} needs a Discrete or Box action space; the environment's is {space!r}."
    )


class _OnPolicyAgent(Agent):
    """The rollout loop of PPO and A2C; subclasses write ``_make_optimizer`` and ``_update``.

    ``learn`` counts every ``step`` of every copy in ``n_steps_`` and runs whole rollouts, so
    it may end up to ``n_steps * n_envs - 1`` steps beyond ``total_steps`` (as
    Stable-Baselines3). With ``reset_num_timesteps=False`` it continues with the same
    networks, optimizer state, generators and normalisers; on the same environment object
    in the same process also with the episodes in progress, otherwise (after ``theta.io``
    load) the environments are reset first.
    """

    _fitted_attr = "policy_"
    __theta_state_names__ = ("_obs_kind", "_obs_size", "_obs_shape", "_act_kind", "_act_shape",
                             "_low", "_high")  # fmt: skip
    _parameter_constraints = ON_POLICY_PARAMS

    def learn(
        self,
        env: Any,
        total_steps: int | None = None,
        episodes: int | None = None,
        progress: bool | None = None,
        *,
        reset_num_timesteps: bool = True,
        eval_env: Any = None,
        eval_freq: int = 10_000,
        n_eval_episodes: int = 5,
    ) -> _OnPolicyAgent:
        """Learn from ``env`` (a ``gymnasium.vector`` env or a single env) for ``total_steps``
        steps or ``episodes`` episodes, whichever ends first (see ``Agent.learn``).

        With ``eval_env`` (a single env), the deterministic policy is evaluated over
        ``n_eval_episodes`` episodes about every ``eval_freq`` steps (after the rollout that
        crosses the mark); ``evaluations_`` records ``(step, mean, std)`` and ``best_policy_``
        keeps a copy of the policy with the best mean return (``best_mean_return_``).
        """
        max_steps, max_episodes = _check_budget(total_steps, episodes)
        self._validate_params()
        self._check_evaluation(eval_env, eval_freq, n_eval_episodes)
        live = None if reset_num_timesteps else _LIVE.get(id(self))
        if live is not None and live["env"] is not env:
            live = None
        # the same vector as before: a new wrapper of a single env would not know which copy
        # it must reset first
        vec = as_vector_env(env) if live is None else live["vec"]
        mode, name = autoreset_mode(vec), _vector_name(vec)
        spaces = _spaces_of(vec)
        saved = None if reset_num_timesteps else getattr(self, "_progress", None)
        if saved is not None and spaces != saved["spaces"]:
            raise ValueError(
                f"learn: cannot continue on {name}: its observation and action spaces are "
                f"{spaces}, the agent learned on {saved['spaces']}; continue on the "
                "environment it learned from."
            )
        if saved is None:
            self._setup_learning(vec)
        optimizer = self._make_optimizer()
        if saved is not None:
            optimizer.load_state_dict(saved["optimizer"])
        if saved is None or live is None:
            live = self._start_episodes(vec, env, name)
        self.__dict__.pop("_progress", None)
        n_envs = vec.num_envs
        buffer = RolloutBuffer(self.n_steps, n_envs, (self._obs_size,), self._act_shape,
                               action_dtype=np.int64 if self._act_kind == "discrete" else
                               self._dtype, dtype=self._dtype)  # fmt: skip
        start, max_steps = self.n_steps_, max_steps + self.n_steps_
        max_episodes += len(self.episode_returns_)
        next_eval = self.n_steps_ + eval_freq
        bar = progress_bar(max_steps - start, unit="step", enabled=progress)
        stopped = False
        try:
            with deferred_interrupt() as interrupted:
                while (self.n_steps_ < max_steps and len(self.episode_returns_) < max_episodes
                       and not stopped):  # fmt: skip
                    before = self.n_steps_
                    last_values = self._collect(vec, live, buffer, mode, name)
                    batch = buffer.compute(last_values, self.gamma, self.gae_lambda)
                    remaining = max(0.0, 1.0 - (self.n_steps_ - start) / (max_steps - start))
                    self._update(batch, optimizer, remaining)
                    if eval_env is not None and self.n_steps_ >= next_eval:
                        self._evaluate_for_best(eval_env, n_eval_episodes, self.n_steps_,
                                                self.policy_)
                        next_eval += eval_freq * max(1, (self.n_steps_ - next_eval) // eval_freq)
                    if bar is not None:
                        bar.update(self.n_steps_ - before)
                    stopped = interrupted()
        finally:
            if bar is not None:
                bar.close()
        if id(self) not in _LIVE:
            weakref.finalize(self, _LIVE.pop, id(self), None)
        _LIVE[id(self)] = live
        self._progress = {"optimizer": optimizer.state_dict(), "spaces": spaces}
        if stopped:
            raise KeyboardInterrupt(
                f"{type(self).__name__}: interrupted at step {self.n_steps_}; learn(..., "
                "reset_num_timesteps=False) continues"
            )
        return self

    # --- setting up ------------------------------------------------------------------------

    def _setup_learning(self, vec: Any) -> None:
        owner = type(self).__name__
        rng = check_random_state(self.random_state)
        self._rng = rng
        self._obs_kind, self._obs_size, self._obs_shape = obs_spec(
            vec.single_observation_space, owner
        )
        self._act_kind, n_out, self._act_shape = _action_spec(vec.single_action_space, owner)
        space = vec.single_action_space
        box = self._act_kind == "box"
        self._low = np.asarray(space.low, np.float64) if box else np.zeros(0)
        self._high = np.asarray(space.high, np.float64) if box else np.zeros(0)
        if not box:
            self.n_actions_ = n_out
        self.policy_ = ActorCritic(
            self._obs_size, n_out, continuous=box, hidden_sizes=tuple(self.hidden_sizes),
            activation=self.activation, shared=self.shared, log_std_init=self.log_std_init,
            ortho_init=self.ortho_init, rng=rng,
        )  # fmt: skip
        self.obs_rms_ = RunningMeanStd((self._obs_size,)) if self.normalize_observations else None
        self.return_rms_ = RunningMeanStd(()) if self.normalize_rewards else None
        self.episode_returns_: list[float] = []
        self.episode_lengths_: list[int] = []
        self.losses_: list[float] = []
        self.n_steps_ = self.n_updates_ = 0
        self._forget_evaluations()

    def _start_episodes(self, vec: Any, env: Any, name: str) -> dict[str, Any]:
        obs, _ = vec.reset(seed=int(self._rng.integers(2**31 - 1)))
        _check_obs_batch(obs, name, self.n_steps_)
        n = vec.num_envs
        return {"env": env, "vec": vec, "obs": obs, "ep_return": np.zeros(n),
                "ep_length": np.zeros(n, int), "resetting": np.zeros(n, bool),
                "discounted": np.zeros(n)}  # fmt: skip

    @property
    def _dtype(self) -> np.dtype:
        return next(iter(self.policy_.parameters())).dtype

    # --- collecting ------------------------------------------------------------------------

    def _features(self, obs: Any, update: bool = False) -> np.ndarray:
        """Observations ``(n, ...)`` as network inputs ``(n, n_features)``: one-hot for
        Discrete, flattened for Box, normalised by the running statistics if asked."""
        obs = np.asarray(obs)
        if self._obs_kind == "discrete":
            if ((obs < 0) | (obs >= self._obs_size)).any():
                raise ValueError(f"observations {obs!r} are not all states; states are integers "
                                 f"in [0, {self._obs_size - 1}].")  # fmt: skip
            x = np.eye(self._obs_size)[obs.astype(np.int64)]
        else:
            x = obs.reshape(len(obs), self._obs_size).astype(np.float64)
        if self.obs_rms_ is not None:
            if update:
                self.obs_rms_.update(x)
            x = self.obs_rms_.normalize(x, self.clip_obs)
        return x.astype(self._dtype)

    def _env_actions(self, actions: np.ndarray) -> np.ndarray:
        """What the env receives: Box actions clipped to its bounds (the buffer keeps the
        unclipped ones, whose log-probability the policy knows), in the space's shape."""
        if self._act_kind == "discrete":
            return actions
        clipped = np.clip(actions.reshape(len(actions), *self._act_shape), self._low, self._high)
        return clipped.astype(np.float32)

    def _collect(self, vec: Any, live: dict[str, Any], buffer: RolloutBuffer, mode: str,
                 name: str) -> np.ndarray:  # fmt: skip
        """``n_steps`` steps of every copy into ``buffer``, one batched forward per step;
        returns ``V`` of the observation after the last step."""
        obs = live["obs"]
        for _ in range(self.n_steps):
            x = self._features(obs, update=True)
            actions, log_probs, values = self.policy_.act(x, self._rng)
            obs, rewards, terminated, truncated, info = vec.step(self._env_actions(actions))
            self.n_steps_ += vec.num_envs
            rewards = np.asarray(rewards, dtype=np.float64)
            valid = ~live["resetting"]
            _check_step(rewards, obs, name, self.n_steps_)
            terminated, truncated = terminated & valid, truncated & valid
            done = terminated | truncated
            self._record_episodes(live, rewards, valid, done)
            buffer.add(x, actions, self._train_rewards(live, rewards, valid, done), terminated,
                       truncated, values, log_probs, valid)  # fmt: skip
            if mode == "same_step" and truncated.any():
                buffer.final_values[buffer.pos - 1, truncated] = self._values(
                    np.stack([info["final_obs"][i] for i in np.flatnonzero(truncated)]))
            live["resetting"] = reset_steps(done, mode)
        live["obs"] = obs
        return self._values(obs)

    def _values(self, obs: Any) -> np.ndarray:
        with no_grad():
            return self.policy_.value(Tensor(self._features(obs))).data.astype(np.float64)

    def _record_episodes(self, live: dict[str, Any], rewards: np.ndarray, valid: np.ndarray,
                         done: np.ndarray) -> None:  # fmt: skip
        live["ep_return"][valid] += rewards[valid]
        live["ep_length"][valid] += 1
        for i in np.flatnonzero(done):
            self.episode_returns_.append(float(live["ep_return"][i]))
            self.episode_lengths_.append(int(live["ep_length"][i]))
            live["ep_return"][i], live["ep_length"][i] = 0.0, 0

    def _train_rewards(self, live: dict[str, Any], rewards: np.ndarray, valid: np.ndarray,
                       done: np.ndarray) -> np.ndarray:  # fmt: skip
        """Rewards as learned from: divided by the running std of the discounted return and
        clipped, with ``normalize_rewards`` (Stable-Baselines3's VecNormalize)."""
        if self.return_rms_ is None:
            return rewards
        disc = live["discounted"]
        disc[valid] = disc[valid] * self.gamma + rewards[valid]
        self.return_rms_.update(disc[valid])
        disc[done] = 0.0
        scaled = rewards / np.sqrt(self.return_rms_.var + 1e-8)
        return np.clip(scaled, -self.clip_reward, self.clip_reward)

    # --- learning (subclasses) ---------------------------------------------------------------

    def _make_optimizer(self) -> Any:
        raise NotImplementedError

    def _update(self, batch: RolloutBatch, optimizer: Any, remaining: float) -> None:
        raise NotImplementedError

    def _set_lr(self, optimizer: Any, remaining: float) -> None:
        """The learning rate at this point of the run: constant, or linear to 0 at the end."""
        lr = self.learning_rate * (remaining if self.lr_schedule == "linear" else 1.0)
        for group in optimizer.param_groups:
            group["lr"] = max(lr, 1e-12)  # the optimizer refuses 0; the last update moves ~0

    def _step(self, loss: Tensor, optimizer: Any) -> float:
        """Steps 3 and 4 of the chapter: gradient, clip, update; returns the loss."""
        value = float(loss.data)
        if not math.isfinite(value):
            raise DivergenceError(
                f"{type(self).__name__}: the loss became {value} at update "
                f"{self.n_updates_ + 1} (step {self.n_steps_}); lower learning_rate."
            )
        optimizer.zero_grad()
        loss.backward()  # 3. gradient
        if self.max_grad_norm != math.inf:
            clip_grad_norm(self.policy_.parameters(), self.max_grad_norm)
        optimizer.step()  # 4. update
        return value

    # --- evaluating and acting -------------------------------------------------------------


    def _actions(self, x: np.ndarray, deterministic: bool) -> np.ndarray:
        with no_grad():
            dist, _ = self.policy_.distribution(Tensor(x))
            actions = dist.mode.data if deterministic else dist.sample(rng=self._rng).data
        return self._env_actions(actions)

    def predict(self, obs: Any, deterministic: bool = True) -> Any:
        """The action for one observation, or an array of actions for a batch of them
        (Box actions clipped to the space's bounds).

        Examples
        --------
        >>> from theta.rl import PPO, make
        >>> agent = PPO(n_steps=32, batch_size=32, n_epochs=1, random_state=0)
        >>> agent = agent.learn(make("CartPole-v1"), total_steps=32)
        >>> agent.predict(np.zeros(4)) in (0, 1), agent.predict(np.zeros((5, 4))).shape
        (True, (5,))
        """
        self._check_fitted()
        return self._predict(obs, deterministic)

    def _predict(self, obs: Any, deterministic: bool) -> Any:
        obs, shape = np.asarray(obs), tuple(self._obs_shape)
        single = obs.ndim == len(shape)
        if obs.shape[obs.ndim - len(shape):] != shape or obs.ndim > len(shape) + 1:
            raise ValueError(
                f"{type(self).__name__}.predict: observations of shape {obs.shape} do not fit; "
                f"the agent learned from observations of shape {shape} (one, or a batch of "
                f"shape (n, *{shape}))."
            )
        actions = self._actions(self._features(obs[None] if single else obs), deterministic)
        if not single:
            return actions
        return int(actions[0]) if self._act_kind == "discrete" else actions[0]


def _spaces_of(vec: Any) -> list[str]:
    single = type("Single", (), {"observation_space": vec.single_observation_space,
                                 "action_space": vec.single_action_space})  # fmt: skip
    return _spaces(single)


def _vector_name(vec: Any) -> str:
    envs = getattr(vec, "envs", None)
    return env_id(envs[0]) if envs else env_id(vec)


def _check_step(rewards: np.ndarray, obs: Any, name: str, step: int) -> None:
    if not np.isfinite(rewards).all():
        raise ValueError(
            f"{name}: the environment returned the rewards {rewards} at step {step}; rewards "
            "must be finite numbers."
        )
    _check_obs_batch(obs, name, step)


def _check_obs_batch(obs: Any, name: str, step: int) -> None:
    if not _isfinite_obs(np.asarray(obs)):
        raise ValueError(
            f"{name}: the environment returned an observation with NaN or infinity at step "
            f"{step}: {obs!r}."
        )
