"""PPO: proximal policy optimisation with a clipped objective (Schulman et al., 2017).

After each rollout, PPO takes several epochs of minibatch gradient steps on the same data,
and keeps the new policy close to the one that collected it by clipping the probability
ratio ``r = π(a|s) / π_old(a|s)`` in the surrogate objective::

    L_clip = -mean(min(r * A, clip(r, 1 - eps, 1 + eps) * A))
    loss   = L_clip + vf_coef * mean((R - V(s))**2) - ent_coef * mean(entropy)

with advantages ``A`` from GAE(λ) (normalised per minibatch) and returns ``R = A + V_old``.
Hyperparameter names and defaults are Stable-Baselines3's; the update follows CleanRL's
``ppo.py`` and SB3's ``PPO.train`` line for line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theta.autograd import Tensor, minimum
from theta.losses import mse
from theta.optim import Adam
from theta.rl.agents.actor_critic import ON_POLICY_PARAMS, _OnPolicyAgent, score
from theta.rl.agents.base import COUNT, RATE
from theta.rl.rollout import RolloutBatch, minibatches
from theta.validation import Options

__all__ = ["PPO", "clipped_surrogate"]


def clipped_surrogate(log_prob: Tensor, old_log_prob: Any, advantages: Any,
                      clip_range: float) -> tuple[Tensor, Tensor]:  # fmt: skip
    """PPO's clipped policy loss and the probability ratio, per row ``(batch,)``.

    Examples
    --------
    >>> import numpy as np
    >>> from theta import tensor
    >>> loss, ratio = clipped_surrogate(tensor([0.5]), np.array([0.0]), np.array([1.0]), 0.2)
    >>> round(float(loss.item()), 4)  # the ratio e^0.5 = 1.65 is clipped to 1.2
    -1.2
    """
    ratio = (log_prob - Tensor(np.asarray(old_log_prob, dtype=log_prob.dtype))).exp()
    adv = Tensor(np.asarray(advantages, dtype=log_prob.dtype))
    unclipped = ratio * adv
    clipped = ratio.clip(1.0 - clip_range, 1.0 + clip_range) * adv
    return -minimum(unclipped, clipped).mean(), ratio


class PPO(_OnPolicyAgent):
    """Proximal policy optimisation for Discrete and Box action spaces, on vector envs.

    Parameters
    ----------
    learning_rate : float, default=3e-4
        Adam's step size (``eps=1e-5`` as SB3), in ``(0, inf)``.
    n_steps : int, default=2048
        Steps per environment copy in each rollout.
    batch_size : int, default=64
        Rows per minibatch.
    n_epochs : int, default=10
        Passes over each rollout.
    gamma : float, default=0.99
    gae_lambda : float, default=0.95
    clip_range : float, default=0.2
        The ratio is clipped to ``[1 - clip_range, 1 + clip_range]``.
    clip_range_vf : float, optional
        If given, the new value is kept within this distance of the old one.
    normalize_advantage : bool, default=True
    ent_coef : float, default=0.0
        Weight of the entropy bonus.
    vf_coef : float, default=0.5
        Weight of the value loss.
    max_grad_norm : float, default=0.5
        Clip the gradient's norm (``inf``: no clipping).
    target_kl : float, optional
        Stop a rollout's epochs early once the approximate KL divergence from the old
        policy exceeds ``1.5 * target_kl``.
    lr_schedule, clip_range_schedule : {"constant", "linear"}, default="constant"
        ``"linear"`` anneals to 0 over the ``total_steps`` of ``learn`` (CleanRL's
        ``anneal_lr``, SB3's ``linear_schedule``).
    hidden_sizes : tuple of int, default=(64, 64)
    activation : str, default="tanh"
    shared : bool, default=False
        One network body for policy and value.
    log_std_init : float, default=0.0
    ortho_init : bool, default=True
    normalize_observations, normalize_rewards : bool, default=False
        Running mean/std normalisation (SB3's VecNormalize), clipped at ``clip_obs`` and
        ``clip_reward`` (10).
    random_state : int or numpy.random.Generator, optional

    Attributes
    ----------
    policy_ : ActorCritic
    best_policy_, best_mean_return_, evaluations_
        With ``learn(..., eval_env=)``.
    obs_rms_, return_rms_ : RunningMeanStd or None
    episode_returns_, episode_lengths_, losses_ : list
    n_steps_, n_updates_ : int

    Examples
    --------
    >>> from theta.rl import make_vec
    >>> env = make_vec("CartPole-v1", 2)
    >>> agent = PPO(n_steps=64, batch_size=32, n_epochs=2, random_state=0)
    >>> agent.learn(env, total_steps=256).n_steps_
    256
    """

    def __init__(
        self,
        learning_rate: float = 3e-4,
        *,
        n_steps: int = 2048,
        batch_size: int = 64,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float = 0.2,
        clip_range_vf: float | None = None,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        target_kl: float | None = None,
        lr_schedule: str = "constant",
        clip_range_schedule: str = "constant",
        hidden_sizes: tuple[int, ...] = (64, 64),
        activation: str = "tanh",
        shared: bool = False,
        log_std_init: float = 0.0,
        ortho_init: bool = True,
        normalize_observations: bool = False,
        normalize_rewards: bool = False,
        clip_obs: float = 10.0,
        clip_reward: float = 10.0,
        random_state: Any = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.gamma = gamma
        self.gae_lambda = gae_lambda
        self.clip_range = clip_range
        self.clip_range_vf = clip_range_vf
        self.normalize_advantage = normalize_advantage
        self.ent_coef = ent_coef
        self.vf_coef = vf_coef
        self.max_grad_norm = max_grad_norm
        self.target_kl = target_kl
        self.lr_schedule = lr_schedule
        self.clip_range_schedule = clip_range_schedule
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.shared = shared
        self.log_std_init = log_std_init
        self.ortho_init = ortho_init
        self.normalize_observations = normalize_observations
        self.normalize_rewards = normalize_rewards
        self.clip_obs = clip_obs
        self.clip_reward = clip_reward
        self.random_state = random_state

    _parameter_constraints = {
        **ON_POLICY_PARAMS,
        "batch_size": [COUNT],
        "n_epochs": [COUNT],
        "clip_range": [RATE],
        "clip_range_vf": [None, RATE],
        "target_kl": [None, RATE],
        "clip_range_schedule": [Options({"constant", "linear"})],
    }

    def _make_optimizer(self) -> Adam:
        return Adam(self.policy_.parameters(), lr=self.learning_rate, eps=1e-5)

    def _update(self, batch: RolloutBatch, optimizer: Adam, remaining: float) -> None:
        """``n_epochs`` passes of minibatch steps over the rollout ``batch``."""
        self._set_lr(optimizer, remaining)
        clip = self.clip_range * (remaining if self.clip_range_schedule == "linear" else 1.0)
        losses = []
        for _ in range(self.n_epochs):
            for rows in minibatches(len(batch.actions), self.batch_size, self._rng):
                loss, approx_kl = self._loss(batch, rows, clip)
                if self.target_kl is not None and approx_kl > 1.5 * self.target_kl:
                    self.losses_.append(float(np.mean(losses)) if losses else float("nan"))
                    return  # SB3's early stop: this minibatch is not learned from
                losses.append(self._step(loss, optimizer))
                self.n_updates_ += 1
        self.losses_.append(float(np.mean(losses)))

    def _loss(self, batch: RolloutBatch, rows: np.ndarray, clip: float) -> tuple[Tensor, float]:
        """PPO's loss on the minibatch ``rows`` and the approximate KL from the old policy."""
        dtype = self._dtype
        dist, values = self.policy_.distribution(Tensor(batch.obs[rows]))  # 1. forward
        log_prob, entropy = score(dist, batch.actions[rows])
        advantages = batch.advantages[rows]
        if self.normalize_advantage and len(rows) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std(ddof=1) + 1e-8)
        policy_loss, ratio = clipped_surrogate(log_prob, batch.log_probs[rows], advantages, clip)
        old_values = Tensor(batch.values[rows].astype(dtype))
        if self.clip_range_vf is not None:
            c = self.clip_range_vf
            values = old_values + (values - old_values).clip(-c, c)
        value_loss = mse(values, Tensor(batch.returns[rows].astype(dtype)))
        loss = policy_loss + self.vf_coef * value_loss - self.ent_coef * entropy.mean()  # 2. loss
        log_ratio = np.log(ratio.data.astype(np.float64))
        approx_kl = float(np.mean(np.exp(log_ratio) - 1 - log_ratio))  # Schulman's k3 estimator
        return loss, approx_kl

