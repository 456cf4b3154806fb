"""REINFORCE: a policy network trained by the policy gradient, with a learned baseline.

The policy is a network ``π(a | s; θ) = softmax(MLP(s))``. After each batch of episodes,
every action taken is made more likely in proportion to how much better than expected it
turned out (Williams, 1992): the loss is ``-mean(log π(a_t | s_t) * A_t)``, with the
advantage ``A_t = G_t - V(s_t)``, ``G_t`` the discounted return from step ``t`` and ``V`` a
second network trained by regression on ``G_t`` (the baseline, which lowers the variance of
the gradient without biasing it). An optional entropy bonus keeps the policy from becoming
deterministic too early. The update is the chapter's four steps on the sum of both losses.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from theta import special
from theta.autograd import Tensor, log_softmax, no_grad
from theta.errors import DivergenceError
from theta.losses import mse
from theta.nn import MLP
from theta.optim import Adam, clip_grad_norm
from theta.rl.agents.base import (
    COUNT,
    DISCOUNT,
    NORM,
    RATE,
    SIZES,
    Agent,
    encode_obs,
    obs_spec,
)  # fmt: skip
from theta.validation import Interval, Options

__all__ = ["REINFORCE", "discounted_returns"]


def discounted_returns(rewards: Any, gamma: float) -> np.ndarray:
    """``G_t = r_t + gamma * r_{t+1} + gamma**2 * r_{t+2} + ...`` for every step of an episode.

    Examples
    --------
    >>> discounted_returns([1.0, 1.0, 1.0], 0.5)
    array([1.75, 1.5 , 1.  ])
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    out = np.empty_like(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):  # backwards: G_t = r_t + gamma * G_{t+1}
        running = rewards[t] + gamma * running
        out[t] = running
    return out


class _Run:
    def __init__(self, policy_opt: Adam, value_opt: Adam | None) -> None:
        self.policy_opt, self.value_opt = policy_opt, value_opt
        self.obs: list[np.ndarray] = []  # this episode
        self.actions: list[int] = []
        self.rewards: list[float] = []
        self.batch: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # finished episodes
        self.last_loss = math.nan


class REINFORCE(Agent):
    """Monte-Carlo policy gradient with a learned state-value baseline.

    Parameters
    ----------
    learning_rate : float, default=1e-2
        Adam's step size for the policy network, in ``(0, inf)``.
    hidden_sizes : tuple of int, default=(64,)
        Hidden layers of both networks.
    activation : {"relu", "tanh", "gelu", "sigmoid"}, default="tanh"
    gamma : float, default=0.99
        Discount factor, in ``(0, 1]``.
    baseline : bool, default=True
        Learn a value network and subtract its prediction from the returns.
    value_learning_rate : float, default=1e-2
        Adam's step size for the value network, in ``(0, inf)``.
    entropy_coef : float, default=0.0
        Weight of the entropy bonus, in ``[0, inf)``.
    normalize_advantages : bool, default=True
        Scale each batch's advantages to zero mean and unit variance.
    batch_episodes : int, default=1
        Episodes per update, ``>= 1``.
    max_grad_norm : float, default=1.0
        Clip each network's gradient norm to this, in ``(0, inf]``.
    random_state : int or numpy.random.Generator, optional

    Attributes
    ----------
    policy_net_ : theta.nn.MLP
        Observation features → action logits.
    value_net_ : theta.nn.MLP
        Observation features → estimated return (only with ``baseline``).
    episode_returns_, episode_lengths_ : list
    n_steps_, n_updates_ : int
    losses_ : list of float
        The loss of every update.

    Examples
    --------
    >>> from theta.rl import MultiArmedBandit
    >>> agent = REINFORCE(0.05, random_state=0).learn(MultiArmedBandit([0.1, 0.9]), 300)
    >>> agent.predict(0)
    1
    """

    _fitted_attr = "policy_net_"
    __theta_state_names__ = ("_obs_kind", "_obs_size")

    def __init__(
        self,
        learning_rate: float = 1e-2,
        *,
        hidden_sizes: tuple[int, ...] = (64,),
        activation: str = "tanh",
        gamma: float = 0.99,
        baseline: bool = True,
        value_learning_rate: float = 1e-2,
        entropy_coef: float = 0.0,
        normalize_advantages: bool = True,
        batch_episodes: int = 1,
        max_grad_norm: float = 1.0,
        random_state: Any = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.gamma = gamma
        self.baseline = baseline
        self.value_learning_rate = value_learning_rate
        self.entropy_coef = entropy_coef
        self.normalize_advantages = normalize_advantages
        self.batch_episodes = batch_episodes
        self.max_grad_norm = max_grad_norm
        self.random_state = random_state

    _parameter_constraints = {
        "learning_rate": [RATE],
        "value_learning_rate": [RATE],
        "hidden_sizes": [SIZES],
        "activation": [Options({"relu", "tanh", "gelu", "sigmoid"})],
        "gamma": [DISCOUNT],
        "baseline": ["boolean"],
        "entropy_coef": [Interval(numbers.Real, 0, None)],
        "normalize_advantages": ["boolean"],
        "batch_episodes": [COUNT],
        "max_grad_norm": [NORM],
    }

    # --- learning ---------------------------------------------------------------------------

    def _setup(self, env: Any, rng: np.random.Generator) -> _Run:
        self._obs_kind, self._obs_size, _ = obs_spec(env.observation_space, "REINFORCE")
        hidden = tuple(self.hidden_sizes)
        self.policy_net_ = MLP(
            (self._obs_size, *hidden, self.n_actions_), activation=self.activation, rng=rng
        )
        value_opt = None
        if self.baseline:
            self.value_net_ = MLP((self._obs_size, *hidden, 1), activation=self.activation, rng=rng)
            value_opt = Adam(self.value_net_.parameters(), lr=self.value_learning_rate)
        self.n_updates_ = 0
        self.losses_: list[float] = []
        return _Run(Adam(self.policy_net_.parameters(), lr=self.learning_rate), value_opt)

    def _run_state(self, run: _Run) -> dict[str, Any]:
        return {
            "policy_opt": run.policy_opt.state_dict(),
            "value_opt": None if run.value_opt is None else run.value_opt.state_dict(),
            "obs": list(run.obs), "actions": list(run.actions), "rewards": list(run.rewards),
            "batch": list(run.batch), "last_loss": run.last_loss,
        }  # fmt: skip

    def _restore_run(self, env: Any, state: dict[str, Any]) -> _Run:
        value_opt = None
        if self.baseline:
            value_opt = Adam(self.value_net_.parameters(), lr=self.value_learning_rate)
            value_opt.load_state_dict(state["value_opt"])
        run = _Run(Adam(self.policy_net_.parameters(), lr=self.learning_rate), value_opt)
        run.policy_opt.load_state_dict(state["policy_opt"])
        run.obs, run.actions = list(state["obs"]), list(state["actions"])
        run.rewards, run.batch = list(state["rewards"]), list(state["batch"])
        run.last_loss = state["last_loss"]
        return run

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        with no_grad():  # acting is inference: the forward pass alone
            logits = self.policy_net_(Tensor(x[None])).data[0].astype(np.float64)
        return special.softmax(logits)

    def _sample(self, x: np.ndarray) -> int:
        cdf = np.cumsum(self._probabilities(x))
        return int(
            min(np.searchsorted(cdf, self._rng.random() * cdf[-1], side="right"), len(cdf) - 1)
        )

    def _act(self, obs: Any, step: int, run: _Run) -> int:
        x = encode_obs(obs, self._obs_kind, self._obs_size)
        run.obs.append(x)
        return self._sample(x)

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
        run.actions.append(action)
        run.rewards.append(reward)

    def _end_episode(self, run: _Run) -> None:
        returns = discounted_returns(run.rewards, self.gamma)
        run.batch.append((np.stack(run.obs), np.asarray(run.actions), returns))
        run.obs, run.actions, run.rewards = [], [], []
        if len(run.batch) >= self.batch_episodes:
            self._update(run)
            run.batch = []

    def _update(self, run: _Run) -> None:
        X = np.concatenate([b[0] for b in run.batch])  # (T, n_features), all episodes
        actions = np.concatenate([b[1] for b in run.batch])  # (T,)
        G = np.concatenate([b[2] for b in run.batch]).astype(np.float32)  # (T,)
        rows = np.arange(len(actions))
        x = Tensor(X)
        log_p = log_softmax(self.policy_net_(x), axis=-1)  # 1. forward, (T, n_actions)
        advantage = G
        value_loss = None
        if self.baseline:
            values = self.value_net_(x).reshape(-1)  # (T,)
            advantage = G - values.data
            value_loss = mse(values, G)
        if self.normalize_advantages and len(advantage) > 1:
            advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        loss = -(log_p[rows, actions] * Tensor(advantage)).mean()  # 2. loss
        if self.entropy_coef > 0:
            entropy = -(log_p.exp() * log_p).sum(axis=-1).mean()
            loss = loss - self.entropy_coef * entropy
        if value_loss is not None:
            loss = loss + value_loss  # separate networks: each gets only its own gradient
        value = float(loss.data)
        if not math.isfinite(value):
            raise DivergenceError(
                f"REINFORCE: the loss became {value} at update {self.n_updates_ + 1}; the last "
                f"finite loss was {run.last_loss:.4g}. Lower learning_rate."
            )
        nets = [(self.policy_net_, run.policy_opt)]
        if self.baseline:
            nets.append((self.value_net_, run.value_opt))
        for _, opt in nets:
            opt.zero_grad()
        loss.backward()  # 3. gradient
        for net, opt in nets:
            if self.max_grad_norm != math.inf:
                clip_grad_norm(net.parameters(), self.max_grad_norm)
            opt.step()  # 4. update
        self.n_updates_ += 1
        run.last_loss = value
        self.losses_.append(value)

    # --- acting -----------------------------------------------------------------------------

    def _predict(self, obs: Any, deterministic: bool) -> int:
        x = encode_obs(obs, self._obs_kind, self._obs_size)
        if deterministic:
            return int(np.argmax(self._probabilities(x)))
        return self._sample(x)

    def action_probabilities(self, obs: Any) -> np.ndarray:
        """The policy's probability of each action in ``obs``, shape (n_actions,).

        Examples
        --------
        >>> from theta.rl import MultiArmedBandit
        >>> agent = REINFORCE(random_state=0).learn(MultiArmedBandit([0.1, 0.9]), 10)
        >>> round(float(agent.action_probabilities(0).sum()), 6)
        1.0
        """
        self._check_fitted()
        return self._probabilities(encode_obs(obs, self._obs_kind, self._obs_size))
