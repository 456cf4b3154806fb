"""SAC: soft actor-critic for continuous actions (Haarnoja et al., 2018).

Off-policy like DQN (a replay buffer, target networks), for ``Box`` action spaces. The actor
is a Gaussian squashed by ``tanh`` into ``(-1, 1)`` (then rescaled to the action bounds); two
critics ``Q1, Q2`` learn the soft Bellman target with the smaller of their two target copies,
which curbs overestimation (TD3's clipped double Q)::

    y       = r + gamma * (1 - terminated) * (min_i Q_i'(s', a') - alpha * log pi(a'|s'))
    critic  = 0.5 * sum_i mean((Q_i(s, a) - y)**2)
    actor   = mean(alpha * log pi(a~|s) - min_i Q_i(s, a~))      a~ = tanh(mu + sigma * eps)
    alpha   = exp(log_alpha), log_alpha descending -log_alpha * (log pi + target_entropy)

The target critics follow the critics by Polyak averaging, ``θ' <- (1 - tau) θ' + tau θ``.
Hyperparameter names, defaults and the order of the updates are Stable-Baselines3's
(``SAC.train``), so its zoo settings carry over.
"""

from __future__ import annotations

import copy
import math
import numbers
from typing import Any

import numpy as np

from theta.autograd import Tensor, concatenate, no_grad
from theta.distributions import TanhNormal
from theta.errors import DivergenceError
from theta.losses import mse
from theta.nn import MLP, Module, Parameter
from theta.optim import Adam
from theta.progress import progress_bar
from theta.rl.agents.actor_critic import (
    _check_obs_batch,
    _check_step,
    _spaces_of,
    _vector_name,
)  # fmt: skip
from theta.rl.agents.base import COUNT, DISCOUNT, RATE, SIZES, Agent, _check_budget, obs_spec
from theta.rl.agents.dqn import polyak_update
from theta.rl.buffers import ReplayBuffer
from theta.rl.vector import as_vector_env, autoreset_mode, reset_steps
from theta.rng import check_random_state
from theta.train import deferred_interrupt
from theta.validation import Interval, Options

__all__ = ["SAC", "EntropyCoefficient", "SquashedGaussianActor", "TwinQ"]

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # Stable-Baselines3's clamp of the actor's log std


class SquashedGaussianActor(Module):
    """SAC's policy: ``x -> TanhNormal(mu(x), exp(log_std(x)))``, ``x`` of shape
    ``(batch, n_features)``, actions in ``(-1, 1)**n_actions``.

    One MLP whose last layer holds both heads (the first ``n_actions`` outputs are the means,
    the rest the log standard deviations, clamped to ``[-20, 2]``): the same function as
    Stable-Baselines3's ``latent_pi`` with separate ``mu`` and ``log_std`` layers.

    Examples
    --------
    >>> actor = SquashedGaussianActor(3, 1, hidden_sizes=(8,), rng=0)
    >>> actor.distribution(Tensor(np.zeros((2, 3), np.float32))).batch_shape
    (2, 1)
    """

    def __init__(self, n_features: int, n_actions: int, *, hidden_sizes: tuple[int, ...] = (256,
                 256), rng: Any = None, dtype: Any = None) -> None:  # fmt: skip
        self.n_actions = int(n_actions)
        self.net = MLP((n_features, *hidden_sizes, 2 * n_actions), rng=rng, dtype=dtype)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Means and clamped log standard deviations, each ``(batch, n_actions)``."""
        out = self.net(x)
        return out[:, : self.n_actions], out[:, self.n_actions :].clip(LOG_STD_MIN, LOG_STD_MAX)

    def distribution(self, x: Tensor) -> TanhNormal:
        mean, log_std = self(x)
        return TanhNormal(mean, log_std.exp())


class TwinQ(Module):
    """``n_critics`` Q-networks ``(obs, action) -> Q``, each an MLP on the concatenation.

    Examples
    --------
    >>> q = TwinQ(3, 1, hidden_sizes=(8,), rng=0)
    >>> [v.shape for v in q(np.zeros((2, 3), np.float32), np.zeros((2, 1), np.float32))]
    [(2,), (2,)]
    """

    def __init__(self, n_features: int, n_actions: int, *, hidden_sizes: tuple[int, ...] = (256,
                 256), n_critics: int = 2, rng: Any = None, dtype: Any = None) -> None:  # fmt: skip
        sizes = (n_features + n_actions, *hidden_sizes, 1)
        self.q_nets = [MLP(sizes, rng=rng, dtype=dtype) for _ in range(n_critics)]

    def forward(self, obs: Any, actions: Any) -> list[Tensor]:
        """One ``(batch,)`` tensor of values per critic."""
        if isinstance(actions, Tensor) and actions.requires_grad:
            x = concatenate([Tensor(np.asarray(obs)), actions], axis=1)
        else:  # nothing to differentiate in the input: join the arrays without a graph node
            x = Tensor(np.concatenate([np.asarray(obs), np.asarray(getattr(actions, "data",
                                                                           actions))], axis=1))
        return [q(x).reshape(-1) for q in self.q_nets]


class EntropyCoefficient(Module):
    """The temperature ``alpha = exp(log_alpha)``, learned when SAC's ``ent_coef="auto"``
    (its logarithm is the parameter, so ``alpha`` stays positive whatever the step).

    Examples
    --------
    >>> round(float(EntropyCoefficient(0.5)().item()), 4)
    0.5
    """

    def __init__(self, init_value: float = 1.0, *, dtype: Any = np.float32) -> None:
        self.log_alpha = Parameter(np.full(1, math.log(init_value), dtype=dtype))

    def forward(self) -> Tensor:
        return self.log_alpha.exp()


class _Run:
    """What one ``learn`` needs beside the learned state: buffer, optimizers, live episodes."""

    def __init__(self, buffer: ReplayBuffer, actor_opt: Adam, critic_opt: Adam,
                 alpha_opt: Adam | None) -> None:  # fmt: skip
        self.buffer, self.actor_opt, self.critic_opt = buffer, actor_opt, critic_opt
        self.alpha_opt = alpha_opt
        self.critic_params: list[Parameter] = []  # listed once: walking modules costs per step
        self.target_params: list[Parameter] = []


class SAC(Agent):
    """Soft actor-critic for ``Box`` action spaces, on a single or a vector environment.

    Parameters
    ----------
    learning_rate : float, default=3e-4
        Adam's step size for actor, critics and temperature, in ``(0, inf)``.
    buffer_size : int, default=1_000_000
        Transitions kept for replay, ``>= batch_size``.
    learning_starts : int, default=100
        Steps of uniformly random actions before the first update, ``>= 0``.
    batch_size : int, default=256
    tau : float, default=0.005
        Polyak coefficient of the target critics, in ``(0, 1]`` (1: hard copy).
    gamma : float, default=0.99
    train_freq : int, default=1
        Environment steps (of every copy) between training phases.
    gradient_steps : int, default=1
        Updates per training phase.
    ent_coef : "auto" or float, default="auto"
        The entropy weight ``alpha``; ``"auto"`` learns it from 1.0 towards the target entropy.
    target_update_interval : int, default=1
        Updates between Polyak steps of the target critics.
    target_entropy : "auto" or float, default="auto"
        ``"auto"`` is ``-n_actions``.
    hidden_sizes : tuple of int, default=(256, 256)
        Hidden ReLU layers of the actor and of each critic.
    random_state : int or numpy.random.Generator, optional
        Seeds the weights, actions, replay sampling and the environments' first reset.

    Attributes
    ----------
    actor_ : SquashedGaussianActor
    critic_, critic_target_ : TwinQ
    ent_coef_ : EntropyCoefficient or None
        The learned temperature (``ent_coef="auto"``).
    best_policy_, best_mean_return_, evaluations_
        With ``learn(..., eval_env=)``: a copy of the actor with the best evaluation.
    episode_returns_, episode_lengths_ : list
    actor_losses_, critic_losses_, ent_coefs_ : list of float
        Per training phase, the mean over its updates.
    n_steps_, n_updates_ : int

    Examples
    --------
    >>> from theta.rl import make
    >>> agent = SAC(batch_size=32, hidden_sizes=(16,), learning_starts=20, random_state=0)
    >>> agent = agent.learn(make("Pendulum-v1"), total_steps=40)
    >>> agent.n_updates_, agent.predict(np.zeros(3)).shape
    (20, (1,))
    """

    _fitted_attr = "actor_"
    __theta_state_names__ = ("_obs_kind", "_obs_size", "_obs_shape", "_act_shape", "_low",
                             "_high", "_target_entropy")  # fmt: skip

    def __init__(
        self,
        learning_rate: float = 3e-4,
        *,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 256,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int = 1,
        gradient_steps: int = 1,
        ent_coef: Any = "auto",
        target_update_interval: int = 1,
        target_entropy: Any = "auto",
        hidden_sizes: tuple[int, ...] = (256, 256),
        random_state: Any = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.buffer_size = buffer_size
        self.learning_starts = learning_starts
        self.batch_size = batch_size
        self.tau = tau
        self.gamma = gamma
        self.train_freq = train_freq
        self.gradient_steps = gradient_steps
        self.ent_coef = ent_coef
        self.target_update_interval = target_update_interval
        self.target_entropy = target_entropy
        self.hidden_sizes = hidden_sizes
        self.random_state = random_state

    _parameter_constraints = {
        "learning_rate": [RATE],
        "buffer_size": [COUNT],
        "learning_starts": [Interval(numbers.Integral, 0, None)],
        "batch_size": [COUNT],
        "tau": [Interval(numbers.Real, 0, 1, closed="right")],
        "gamma": [DISCOUNT],
        "train_freq": [COUNT],
        "gradient_steps": [COUNT],
        "ent_coef": [Options({"auto"}), RATE],
        "target_update_interval": [COUNT],
        "target_entropy": [Options({"auto"}), Interval(numbers.Real, None, None)],
        "hidden_sizes": [SIZES],
    }

    def _validate_params(self) -> None:
        super()._validate_params()
        self._check_buffer_holds_a_batch()

    # --- learning ---------------------------------------------------------------------------

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
    ) -> SAC:
        """Learn from ``env`` (a ``gymnasium.vector`` env or a single env) for ``total_steps``
        steps (of all copies together) or ``episodes`` episodes, whichever ends first.

        ``reset_num_timesteps=False`` continues with the same networks, optimizers, replay
        buffer and generator; the environments start new episodes. With ``eval_env`` (a
        single env) the deterministic policy is evaluated over ``n_eval_episodes`` episodes
        every ``eval_freq`` steps; ``evaluations_`` records ``(step, mean, std)`` and
        ``best_policy_`` keeps a copy of the actor with the best mean (as PPO's ``learn``).
        Ctrl-C stops after the step in progress and raises ``KeyboardInterrupt``.

        Raises
        ------
        TypeError
            For an action space that is not a ``Box``.
        InvalidParameterError
            For a hyperparameter out of its range, naming it.
        ValueError
            For a NaN or infinite reward or observation, naming the environment and step.
        DivergenceError
            If the critics' loss becomes NaN or infinite.
        """
        max_steps, max_episodes = _check_budget(total_steps, episodes)
        self._validate_params()
        self._check_evaluation(eval_env, eval_freq, n_eval_episodes)
        vec = as_vector_env(env)
        mode, name = autoreset_mode(vec), _vector_name(vec)
        saved = None if reset_num_timesteps else getattr(self, "_progress", None)
        if saved is not None and _spaces_of(vec) != saved["spaces"]:
            raise ValueError(
                f"learn: cannot continue on {name}: its observation and action spaces are "
                f"{_spaces_of(vec)}, the agent learned on {saved['spaces']}; continue on the "
                "environment it learned from."
            )
        if saved is None:
            self._setup(vec)
        run = self._new_run()
        if saved is not None:
            self._restore_run(run, saved["run"])
        self.__dict__.pop("_progress", None)
        obs, _ = vec.reset(seed=int(self._rng.integers(2**31 - 1)))
        _check_obs_batch(obs, name, self.n_steps_)
        n = vec.num_envs
        ep_return, ep_length = np.zeros(n), np.zeros(n, dtype=np.int64)
        resetting = np.zeros(n, dtype=bool)
        max_steps += self.n_steps_
        max_episodes += len(self.episode_returns_)
        next_eval = self.n_steps_ + eval_freq
        bar = progress_bar(max_steps - self.n_steps_, unit="step", enabled=progress)
        stopped, calls = False, 0
        try:
            with deferred_interrupt() as interrupted:
                while (self.n_steps_ < max_steps and len(self.episode_returns_) < max_episodes
                       and not stopped):  # fmt: skip
                    x = self._features(obs)
                    scaled = self._explore(x, n)  # (n, n_actions) in [-1, 1]
                    obs, rewards, terminated, truncated, info = vec.step(self._unscale(scaled))
                    self.n_steps_ += n
                    calls += 1
                    rewards = np.asarray(rewards, dtype=np.float64)
                    _check_step(rewards, obs, name, self.n_steps_)
                    valid = ~resetting
                    done = (terminated | truncated) & valid
                    next_x = self._features(obs)
                    if mode == "same_step":  # the true last observations of finished episodes
                        for i in np.flatnonzero(done):
                            next_x[i] = self._features(np.asarray(info["final_obs"][i])[None])[0]
                    for i in np.flatnonzero(valid):
                        run.buffer.add(x[i], scaled[i], rewards[i], next_x[i], terminated[i])
                    ep_return[valid] += rewards[valid]
                    ep_length[valid] += 1
                    for i in np.flatnonzero(done):
                        self.episode_returns_.append(float(ep_return[i]))
                        self.episode_lengths_.append(int(ep_length[i]))
                        ep_return[i], ep_length[i] = 0.0, 0
                    resetting = reset_steps(done, mode)
                    if self.n_steps_ > self.learning_starts and calls % self.train_freq == 0:
                        self._train(run)
                    if eval_env is not None and self.n_steps_ >= next_eval:
                        self._evaluate_for_best(eval_env, n_eval_episodes, self.n_steps_,
                                                self.actor_)
                        next_eval += eval_freq * (1 + (self.n_steps_ - next_eval) // eval_freq)
                    if bar is not None:
                        bar.update(n)
                    stopped = interrupted()
        finally:
            if bar is not None:
                bar.close()
        self._progress = {"run": self._run_state(run), "spaces": _spaces_of(vec)}
        if stopped:
            raise KeyboardInterrupt(
                f"SAC: interrupted at step {self.n_steps_}; learn(..., reset_num_timesteps="
                "False) continues"
            )
        return self

    def _setup(self, vec: Any) -> None:
        rng = check_random_state(self.random_state)
        self._rng = rng
        space = vec.single_action_space
        if not (hasattr(space, "low") and getattr(space, "shape", None)):
            raise TypeError(
                f"SAC needs a Box action space (continuous actions); the environment's action "
                f"space is {space!r}. For discrete actions use DQN or PPO."
            )
        self._obs_kind, self._obs_size, self._obs_shape = obs_spec(
            vec.single_observation_space, "SAC"
        )
        self._act_shape = tuple(space.shape)
        self._low = np.asarray(space.low, np.float64).reshape(-1)
        self._high = np.asarray(space.high, np.float64).reshape(-1)
        if not (np.isfinite(self._low).all() and np.isfinite(self._high).all()):
            raise ValueError(
                f"SAC squashes actions into the action space's bounds, which must be finite; "
                f"got low={space.low!r}, high={space.high!r}."
            )
        n_act = self._low.size
        hidden = tuple(int(h) for h in self.hidden_sizes)
        self.actor_ = SquashedGaussianActor(self._obs_size, n_act, hidden_sizes=hidden, rng=rng)
        self.critic_ = TwinQ(self._obs_size, n_act, hidden_sizes=hidden, rng=rng)
        self.critic_target_ = copy.deepcopy(self.critic_)
        auto_alpha = self.ent_coef == "auto"
        self.ent_coef_ = EntropyCoefficient(1.0, dtype=self._dtype) if auto_alpha else None
        auto = self.target_entropy == "auto"
        self._target_entropy = float(-n_act if auto else self.target_entropy)
        self.episode_returns_: list[float] = []
        self.episode_lengths_: list[int] = []
        self.actor_losses_: list[float] = []
        self.critic_losses_: list[float] = []
        self.ent_coefs_: list[float] = []
        self.n_steps_ = self.n_updates_ = 0
        self._forget_evaluations()

    def _new_run(self) -> _Run:
        """Buffer and optimizers around the current networks; replay sampling draws from the
        agent's own generator, so one saved generator restores both."""
        buffer = ReplayBuffer(self.buffer_size, (self._obs_size,), action_shape=self._low.shape,
                              action_dtype=np.float32, rng=self._rng)  # fmt: skip
        lr = self.learning_rate
        alpha = None if self.ent_coef_ is None else Adam(self.ent_coef_.parameters(), lr=lr)
        run = _Run(buffer, Adam(self.actor_.parameters(), lr=lr),
                   Adam(self.critic_.parameters(), lr=lr), alpha)  # fmt: skip
        run.critic_params = list(self.critic_.parameters())
        run.target_params = list(self.critic_target_.parameters())
        return run

    def _run_state(self, run: _Run) -> dict[str, Any]:
        state = {"buffer": run.buffer.state_dict(), "actor_opt": run.actor_opt.state_dict(),
                 "critic_opt": run.critic_opt.state_dict()}  # fmt: skip
        if run.alpha_opt is not None:
            state["alpha_opt"] = run.alpha_opt.state_dict()
        return state

    def _restore_run(self, run: _Run, state: dict[str, Any]) -> None:
        run.buffer.load_state_dict(state["buffer"])
        run.actor_opt.load_state_dict(state["actor_opt"])
        run.critic_opt.load_state_dict(state["critic_opt"])
        if run.alpha_opt is not None:
            run.alpha_opt.load_state_dict(state["alpha_opt"])

    @property
    def _dtype(self) -> np.dtype:
        return self.actor_.net.layers[0].weight.dtype  # read per step: no parameter walk

    def _features(self, obs: Any) -> np.ndarray:
        """Observations ``(n, ...)`` as network inputs ``(n, n_features)``."""
        obs = np.asarray(obs)
        if self._obs_kind == "discrete":
            return np.eye(self._obs_size, dtype=self._dtype)[obs.astype(np.int64)]
        return obs.reshape(len(obs), self._obs_size).astype(self._dtype, copy=False)

    def _explore(self, x: np.ndarray, n: int) -> np.ndarray:
        """Actions in ``[-1, 1]``: uniform before ``learning_starts``, then the policy's."""
        if self.n_steps_ < self.learning_starts:
            return self._rng.uniform(-1.0, 1.0, (n, self._low.size)).astype(np.float32)
        with no_grad():  # acting is inference: the forward pass alone
            return self.actor_.distribution(Tensor(x)).sample(rng=self._rng).data

    def _unscale(self, scaled: np.ndarray) -> np.ndarray:
        """Actions from ``[-1, 1]`` to the space's ``[low, high]``, in its shape."""
        actions = self._low + 0.5 * (scaled + 1.0) * (self._high - self._low)
        return actions.reshape(len(scaled), *self._act_shape).astype(np.float32)

    # --- the update ---------------------------------------------------------------------------

    def _train(self, run: _Run) -> None:
        """``gradient_steps`` updates on replayed minibatches (SB3's ``SAC.train``)."""
        losses = []
        for k in range(self.gradient_steps):
            losses.append(self._update(run.buffer.sample(self.batch_size), run))
            if k % self.target_update_interval == 0:
                polyak_update(run.critic_params, run.target_params, self.tau)
        actor, critic, alpha = np.mean(losses, axis=0)
        self.actor_losses_.append(float(actor))
        self.critic_losses_.append(float(critic))
        self.ent_coefs_.append(float(alpha))

    def _update(self, batch: Any, run: _Run) -> tuple[float, float, float]:
        """One SAC update on ``batch``: temperature, critics, actor, each the four steps.
        Returns the actor loss, the critic loss and the temperature used."""
        dtype = self._dtype
        obs, next_obs = batch.obs.astype(dtype), batch.next_obs.astype(dtype)
        dist = self.actor_.distribution(Tensor(obs))  # 1. forward
        actions_pi, log_prob = dist.rsample_and_log_prob(rng=self._rng)
        log_prob = log_prob.sum(axis=-1)  # (B,): the joint density of the action vector
        if self.ent_coef_ is not None:
            alpha = float(np.exp(self.ent_coef_.log_alpha.data[0]))
            target = Tensor(log_prob.data + self._target_entropy)
            alpha_loss = -(self.ent_coef_.log_alpha * target).mean()  # 2. loss
            run.alpha_opt.zero_grad()
            alpha_loss.backward()  # 3. gradient
            run.alpha_opt.step()  # 4. update
        else:
            alpha = float(self.ent_coef)
        with no_grad():
            next_dist = self.actor_.distribution(Tensor(next_obs))
            next_actions, next_log_prob = next_dist.rsample_and_log_prob(rng=self._rng)
            next_q = np.minimum(*[q.data for q in self.critic_target_(next_obs, next_actions)])
            next_q = next_q - alpha * next_log_prob.data.sum(axis=-1)
            not_done = 1.0 - batch.terminated.astype(dtype)
            y = Tensor((batch.rewards.astype(dtype) + not_done * self.gamma * next_q).astype(dtype))
        q1, q2 = self.critic_(obs, batch.actions.astype(dtype))  # 1. forward
        critic_loss = 0.5 * (mse(q1, y) + mse(q2, y))  # 2. loss
        if not math.isfinite(float(critic_loss.data)):
            raise DivergenceError(
                f"SAC: the critic loss became {float(critic_loss.data)} at step {self.n_steps_} "
                f"(update {self.n_updates_ + 1}); lower learning_rate."
            )
        run.critic_opt.zero_grad()
        critic_loss.backward()  # 3. gradient
        run.critic_opt.step()  # 4. update
        # the actor's loss flows through the critics into the actions only: the critics'
        # own gradients would be thrown away, so they are not computed
        for p in run.critic_params:
            p.requires_grad = False
        try:
            q1_pi, q2_pi = self.critic_(obs, actions_pi)
            actor_loss = (alpha * log_prob - q1_pi.minimum(q2_pi)).mean()  # 2. loss
        finally:
            for p in run.critic_params:
                p.requires_grad = True
        run.actor_opt.zero_grad()
        actor_loss.backward()  # 3. gradient
        run.actor_opt.step()  # 4. update
        self.n_updates_ += 1
        return float(actor_loss.data), float(critic_loss.data), alpha

    # --- evaluating and acting -------------------------------------------------------------


    def predict(self, obs: Any, deterministic: bool = True) -> np.ndarray:
        """The action for one observation, or actions ``(n, *action_shape)`` for a batch:
        ``tanh`` of the mean (deterministic) or a sample, rescaled to the action bounds."""
        self._check_fitted()
        return self._predict(obs, deterministic)

    def _predict(self, obs: Any, deterministic: bool) -> np.ndarray:
        obs = np.asarray(obs)
        single = obs.ndim == len(self._obs_shape)
        x = self._features(obs[None] if single else obs)
        with no_grad():
            dist = self.actor_.distribution(Tensor(x))
            scaled = dist.mode.data if deterministic else dist.sample(rng=self._rng).data
        actions = self._unscale(scaled)
        return actions[0] if single else actions
