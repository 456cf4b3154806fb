"""DQN: Q-learning with a neural network, a replay buffer and a target network.

Tabular Q-learning with the table replaced by ``Q(s; θ) = MLP(s)`` (Mnih et al., 2015). Two
devices keep the regression target from chasing itself: transitions are replayed from a
buffer in random minibatches (so consecutive, correlated steps are not learned from in a
row), and the target ``r + gamma * max_a' Q(s', a'; θ⁻)`` uses a copy ``θ⁻`` of the weights
that is refreshed only every ``target_update_interval`` steps, by copying the state dict
(parameters as data), or moved a fraction ``tau`` towards them (Polyak averaging). Each
update is the chapter's four steps on a Huber loss.

With ``double_dqn`` the next action is chosen by the online network and valued by the target
network (van Hasselt et al., 2016), which removes the upward bias of the max.

DQN's greedy policy does not improve monotonically, which is why it missed CartPole on some
seeds: the policy learn ends with is a sample from an oscillation. With Stable-Baselines3
zoo's CartPole settings, all 10 seeds tried held the pole for 500 steps at some evaluation
within 100,000 steps, yet the last policy averaged 17 to 275 on 7 of them: as the buffer
fills with balanced states only, the network forgets how to recover. So ``learn(..., eval_env=)``
evaluates the greedy policy every ``eval_freq`` steps and keeps the best one
(``best_policy_``), as Stable-Baselines3's ``EvalCallback`` saves its best model.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from theta.autograd import Tensor, no_grad
from theta.errors import DivergenceError
from theta.losses import huber
from theta.nn import MLP
from theta.optim import Adam, clip_grad_norm
from theta.rl.agents.base import (
    COUNT,
    DISCOUNT,
    EPSILON_PARAMS,
    NORM,
    RATE,
    SIZES,
    Agent,
    encode_obs,
    horizon,
    obs_spec,
)
from theta.rl.buffers import ReplayBuffer
from theta.validation import Interval

__all__ = ["DQN", "polyak_update"]


def polyak_update(params: Any, target_params: Any, tau: float) -> None:
    """``target <- (1 - tau) * target + tau * param`` for each pair, in place.

    Examples
    --------
    >>> from theta.nn import Parameter
    >>> p, t = Parameter(np.array([1.0])), Parameter(np.array([0.0]))
    >>> polyak_update([p], [t], 0.25)
    >>> t.data
    array([0.25])
    """
    for p, t in zip(params, target_params, strict=True):
        t.data *= 1.0 - tau
        t.data += tau * p.data


class _Run:
    def __init__(self, buffer: ReplayBuffer, optimizer: Adam, schedule: Any) -> None:
        self.buffer = buffer
        self.optimizer = optimizer
        self.schedule = schedule
        self.reward_scale = 1.0
        self.last_loss = math.nan
        self.block_losses: list[float] = []
        self.obs = np.zeros(0, dtype=np.float32)  # the encoded current observation
        self.rows = np.zeros(0, dtype=np.int64)
        self.params: list[Any] = []  # the Q-network's parameters, listed once
        self.horizon = math.inf  # steps of reward a value can add up (see _check_divergence)


class DQN(Agent):
    """Deep Q-network for discrete actions and Box (or Discrete, one-hot) observations.

    Parameters
    ----------
    learning_rate : float, default=1e-3
        Adam's step size, in ``(0, inf)``.
    hidden_sizes : tuple of int, default=(64, 64)
        Hidden layers of the Q-network (ReLU between them).
    gamma : float, default=0.99
        Discount factor, in ``(0, 1]``.
    buffer_size : int, default=50_000
        Transitions kept for replay, ``>= batch_size``.
    batch_size : int, default=64
        Transitions per update, ``>= 1``.
    learning_starts : int, default=1000
        Steps of pure collection before the first update, ``>= 0``.
    train_freq : int, default=1
        Environment steps between updates, ``>= 1``.
    gradient_steps : int, default=1
        Updates each time, ``>= 1``.
    target_update_interval : int, default=500
        Steps between updates of the target network, ``>= 1``.
    tau : float, default=1.0
        Each target update moves the target weights this fraction of the way to the online
        ones, in ``(0, 1]``: 1 copies them (the hard update of Mnih et al.), less averages.
    epsilon, epsilon_final, epsilon_schedule, epsilon_decay_steps
        Exploration, as a function of the step (default: linear from 1.0 to 0.05 over
        10,000 steps; see ``theta.rl.policies``).
    double_dqn : bool, default=True
        Choose the next action with the online network, value it with the target network.
    max_grad_norm : float, default=10.0
        Clip the gradient's norm to this, in ``(0, inf]`` (``inf``: no clipping).
    huber_delta : float, default=1.0
        Where the Huber loss turns from quadratic to linear, in ``(0, inf)``.
    random_state : int or numpy.random.Generator, optional
        Seeds the weights, exploration, replay sampling and the environment's first reset.

    Notes
    -----
    Solving CartPole-v1 on every seed: Stable-Baselines3 zoo's settings, ``DQN(2.3e-3,
    hidden_sizes=(256, 256), batch_size=64, buffer_size=100_000, learning_starts=1000,
    target_update_interval=10, train_freq=256, gradient_steps=128, epsilon_final=0.04,
    epsilon_decay_steps=8000)``, for 100,000 steps with ``eval_env``, ``eval_freq=2500`` and
    ``n_eval_episodes=20``, then ``use_best_policy()`` (``benchmarks/bench_rl_seeds.py``).

    Attributes
    ----------
    q_net_ : theta.nn.MLP
        The learned Q-network, observation features → one value per action.
    target_net_ : theta.nn.MLP
        The target network at the end of learning.
    episode_returns_, episode_lengths_ : list
    n_steps_, n_updates_ : int
    losses_ : list of float
        Mean loss over each block of ``target_update_interval`` steps.
    best_policy_, best_mean_return_, evaluations_
        With ``learn(..., eval_env=)``: a copy of ``q_net_`` when its evaluation was best,
        that mean return, and every ``(step, mean, std)`` evaluated. ``use_best_policy()``
        puts the best weights into ``q_net_``.

    Examples
    --------
    >>> from theta.rl import MultiArmedBandit
    >>> agent = DQN(learning_starts=50, batch_size=16, random_state=0,
    ...             epsilon_decay_steps=200).learn(MultiArmedBandit([0.1, 0.9]), 400)
    >>> agent.predict(0)
    1
    """

    _fitted_attr = "q_net_"
    __theta_state_names__ = ("_obs_kind", "_obs_size")
    # (eval_env, eval_freq, n_eval_episodes) while learn runs; no evaluation otherwise
    _eval: tuple[Any, int, int] = (None, 1, 1)

    def __init__(
        self,
        learning_rate: float = 1e-3,
        *,
        hidden_sizes: tuple[int, ...] = (64, 64),
        gamma: float = 0.99,
        buffer_size: int = 50_000,
        batch_size: int = 64,
        learning_starts: int = 1000,
        train_freq: int = 1,
        gradient_steps: int = 1,
        target_update_interval: int = 500,
        tau: float = 1.0,
        epsilon: float = 1.0,
        epsilon_final: float = 0.05,
        epsilon_schedule: str = "linear",
        epsilon_decay_steps: int = 10_000,
        double_dqn: bool = True,
        max_grad_norm: float = 10.0,
        huber_delta: float = 1.0,
        random_state: Any = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.hidden_sizes = hidden_sizes
        self.gamma = gamma
        self.buffer_size = buffer_size
        self.batch_size = batch_size
        self.learning_starts = learning_starts
        self.train_freq = train_freq
        self.gradient_steps = gradient_steps
        self.target_update_interval = target_update_interval
        self.tau = tau
        self.epsilon = epsilon
        self.epsilon_final = epsilon_final
        self.epsilon_schedule = epsilon_schedule
        self.epsilon_decay_steps = epsilon_decay_steps
        self.double_dqn = double_dqn
        self.max_grad_norm = max_grad_norm
        self.huber_delta = huber_delta
        self.random_state = random_state

    _parameter_constraints = {
        "learning_rate": [RATE],
        "gamma": [DISCOUNT],
        "batch_size": [COUNT],
        "buffer_size": [COUNT],
        "train_freq": [COUNT],
        "gradient_steps": [COUNT],
        "target_update_interval": [COUNT],
        "tau": [Interval(numbers.Real, 0, 1, closed="right")],
        "learning_starts": [Interval(numbers.Integral, 0, None)],
        **EPSILON_PARAMS,
        "double_dqn": ["boolean"],
        "max_grad_norm": [NORM],
        "huber_delta": [RATE],
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
    ) -> DQN:
        """``Agent.learn``, and with ``eval_env`` (another instance of the environment) the
        greedy policy is evaluated over ``n_eval_episodes`` episodes every ``eval_freq``
        steps: ``evaluations_`` records ``(step, mean, std)``, ``best_policy_`` keeps a copy
        of the Q-network with the best mean (``best_mean_return_``; the first on ties), as
        PPO's ``learn``. Evaluating draws nothing from the agent's generator, so training
        goes exactly as without it.

        Examples
        --------
        >>> from theta.rl import MultiArmedBandit
        >>> agent = DQN(learning_starts=10, random_state=0)
        >>> agent = agent.learn(MultiArmedBandit([0.1, 0.9]), 40,
        ...                     eval_env=MultiArmedBandit([0.1, 0.9]), eval_freq=20)
        >>> [step for step, _, _ in agent.evaluations_]
        [20, 40]
        """
        self._check_evaluation(eval_env, eval_freq, n_eval_episodes)
        self._eval = (eval_env, int(eval_freq), int(n_eval_episodes))
        try:
            return super().learn(env, total_steps, episodes, progress,
                                 reset_num_timesteps=reset_num_timesteps)  # fmt: skip
        finally:
            del self._eval  # the evaluation environment is not part of the agent

    def use_best_policy(self) -> DQN:
        """Put the weights of ``best_policy_`` into ``q_net_`` (and the target network), so
        ``predict`` and ``evaluate`` act with the best policy found; returns ``self``.

        Raises
        ------
        AttributeError
            If ``learn`` ran without ``eval_env``, naming it.
        """
        self._check_fitted()
        if not hasattr(self, "best_policy_"):
            raise AttributeError(
                "DQN.use_best_policy: no best policy was kept; call learn(..., eval_env=...) "
                "to evaluate and keep one."
            )
        self.q_net_.load_state_dict(self.best_policy_.state_dict())
        self.target_net_.load_state_dict(self.best_policy_.state_dict())
        return self


    def _setup(self, env: Any, rng: np.random.Generator) -> _Run:
        self._obs_kind, self._obs_size, _ = obs_spec(env.observation_space, "DQN")
        sizes = (self._obs_size, *self.hidden_sizes, self.n_actions_)
        self.q_net_ = MLP(sizes, rng=rng)
        self.target_net_ = MLP(sizes, rng=rng)
        self.target_net_.load_state_dict(self.q_net_.state_dict())
        self.n_updates_ = 0
        self.losses_: list[float] = []
        self._forget_evaluations()
        return self._new_run(env)

    def _new_run(self, env: Any) -> _Run:
        """The run around the current networks; replay sampling draws from the agent's own
        generator, so one saved generator restores both."""
        buffer = ReplayBuffer(self.buffer_size, (self._obs_size,), rng=self._rng)
        run = _Run(
            buffer, Adam(self.q_net_.parameters(), lr=self.learning_rate), self._epsilon_schedule()
        )
        run.rows = np.arange(self.batch_size)
        run.params = list(self.q_net_.parameters())
        run.horizon = horizon(self.gamma, env)
        return run

    def _run_state(self, run: _Run) -> dict[str, Any]:
        return {
            "buffer": run.buffer.state_dict(), "optimizer": run.optimizer.state_dict(),
            "reward_scale": run.reward_scale, "last_loss": run.last_loss,
            "block_losses": list(run.block_losses),
        }  # fmt: skip

    def _restore_run(self, env: Any, state: dict[str, Any]) -> _Run:
        run = self._new_run(env)
        run.buffer.load_state_dict(state["buffer"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.reward_scale, run.last_loss = state["reward_scale"], state["last_loss"]
        run.block_losses = list(state["block_losses"])
        return run

    def _act(self, obs: Any, step: int, run: _Run) -> int:
        run.obs = encode_obs(obs, self._obs_kind, self._obs_size)
        if self._rng.random() < run.schedule(step):
            return int(self._rng.integers(self.n_actions_))
        return self._greedy(run.obs)

    def _greedy(self, x: np.ndarray) -> int:
        with no_grad():  # acting is inference: the forward pass alone
            return int(self.q_net_(Tensor(x[None])).data.argmax())

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
        next_x = encode_obs(next_obs, self._obs_kind, self._obs_size)
        run.buffer.add(run.obs, action, reward, next_x, terminated)
        run.reward_scale = max(run.reward_scale, abs(reward))
        if step > self.learning_starts and step % self.train_freq == 0:
            for _ in range(self.gradient_steps):
                self._update(run, step)
        if step % self.target_update_interval == 0:
            if self.tau == 1.0:
                self.target_net_.load_state_dict(self.q_net_.state_dict())
            else:
                polyak_update(run.params, self.target_net_.parameters(), self.tau)
            if run.block_losses:
                self.losses_.append(float(np.mean(run.block_losses)))
                run.block_losses = []
        eval_env, eval_freq, episodes = self._eval
        if eval_env is not None and step % eval_freq == 0:
            self._evaluate_for_best(eval_env, episodes, step, self.q_net_)

    def _update(self, run: _Run, step: int) -> None:
        """One gradient step on a replayed minibatch: forward, loss, gradient, update."""
        batch = run.buffer.sample(self.batch_size)
        with no_grad():
            next_q = self.target_net_(Tensor(batch.next_obs)).data  # (B, n_actions)
            if self.double_dqn:
                best = self.q_net_(Tensor(batch.next_obs)).data.argmax(axis=1)
                next_value = next_q[run.rows, best]
            else:
                next_value = next_q.max(axis=1)
            target = batch.rewards + self.gamma * (1.0 - batch.terminated) * next_value
        q = self.q_net_(Tensor(batch.obs))  # 1. forward, (B, n_actions)
        loss = huber(q[run.rows, batch.actions], target, delta=self.huber_delta)  # 2. loss
        run.optimizer.zero_grad()
        loss.backward()  # 3. gradient
        if self.max_grad_norm != math.inf:
            clip_grad_norm(run.params, self.max_grad_norm)
        run.optimizer.step()  # 4. update
        self.n_updates_ += 1
        value = float(loss.data)
        self._check_divergence(value, q.data, run, step)
        run.last_loss = value
        run.block_losses.append(value)

    def _check_divergence(self, loss: float, q: np.ndarray, run: _Run, step: int) -> None:
        """Stop on a non-finite loss, or Q-values far beyond max|r| times the horizon."""
        if not math.isfinite(loss):
            raise DivergenceError(
                f"DQN: the loss became {loss} at step {step} (update {self.n_updates_}); the "
                f"last finite loss was {run.last_loss:.4g}. Lower learning_rate or "
                "max_grad_norm."
            )
        if run.horizon < math.inf:
            limit = 10 * run.reward_scale * run.horizon
            peak = float(np.abs(q).max())
            if peak > limit:
                raise DivergenceError(
                    f"DQN: Q-values reached {peak:.4g} at step {step}, beyond the {limit:.4g} "
                    f"that rewards of size {run.reward_scale:g} allow; learning diverged. "
                    "Lower learning_rate, or raise target_update_interval."
                )

    # --- acting -----------------------------------------------------------------------------

    def _predict(self, obs: Any, deterministic: bool) -> int:
        x = encode_obs(obs, self._obs_kind, self._obs_size)
        if not deterministic:
            eps = self._epsilon_schedule()(self.n_steps_)
            if self._rng.random() < eps:
                return int(self._rng.integers(self.n_actions_))
        return self._greedy(x)

    def q_values(self, obs: Any) -> np.ndarray:
        """The learned value of each action in ``obs``, shape (n_actions,).

        Examples
        --------
        >>> from theta.rl import MultiArmedBandit
        >>> agent = DQN(learning_starts=10, random_state=0).learn(MultiArmedBandit(), 20)
        >>> agent.q_values(0).shape
        (10,)
        """
        self._check_fitted()
        with no_grad():
            x = encode_obs(obs, self._obs_kind, self._obs_size)
            return self.q_net_(Tensor(x[None])).data[0].copy()
