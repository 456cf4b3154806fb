"""A2C: advantage actor-critic, the synchronous form of A3C (Mnih et al., 2016).

One gradient step per short rollout (``n_steps=5`` per environment copy by default) on
``-mean(log π(a|s) * A) + vf_coef * mean((R - V(s))**2) - ent_coef * mean(entropy)``,
with RMSprop as the paper and Stable-Baselines3 use; PPO without the clip and the epochs.
"""

from __future__ import annotations

from typing import Any

from theta.autograd import Tensor
from theta.losses import mse
from theta.optim import Adam, RMSprop
from theta.rl.agents.actor_critic import ON_POLICY_PARAMS, _OnPolicyAgent, score
from theta.rl.agents.base import RATE
from theta.rl.rollout import RolloutBatch

__all__ = ["A2C"]


class A2C(_OnPolicyAgent):
    """Advantage actor-critic for Discrete and Box action spaces, on vector envs.

    Parameters
    ----------
    learning_rate : float, default=7e-4
    n_steps : int, default=5
        Steps per environment copy in each rollout (one update each).
    gamma : float, default=0.99
    gae_lambda : float, default=1.0
        1.0 gives the classic n-step returns.
    ent_coef : float, default=0.0
    vf_coef : float, default=0.5
    max_grad_norm : float, default=0.5
    use_rms_prop : bool, default=True
        RMSprop (``alpha=0.99``, ``eps=rms_prop_eps``) instead of Adam.
    rms_prop_eps : float, default=1e-5
    normalize_advantage : bool, default=False
    lr_schedule : {"constant", "linear"}, default="constant"
    hidden_sizes, activation, shared, log_std_init, ortho_init, normalize_observations,
    normalize_rewards, clip_obs, clip_reward, random_state
        As :class:`PPO`.

    Examples
    --------
    >>> from theta.rl import make_vec
    >>> agent = A2C(random_state=0).learn(make_vec("CartPole-v1", 4), total_steps=200)
    >>> agent.n_updates_
    10
    """

    def __init__(
        self,
        learning_rate: float = 7e-4,
        *,
        n_steps: int = 5,
        gamma: float = 0.99,
        gae_lambda: float = 1.0,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        use_rms_prop: bool = True,
        rms_prop_eps: float = 1e-5,
        normalize_advantage: bool = False,
        lr_schedule: str = "constant",
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
        self.gamma = gamma
        self.gae_lambda = gae_lambda
        self.ent_coef = ent_coef
        self.vf_coef = vf_coef
        self.max_grad_norm = max_grad_norm
        self.use_rms_prop = use_rms_prop
        self.rms_prop_eps = rms_prop_eps
        self.normalize_advantage = normalize_advantage
        self.lr_schedule = lr_schedule
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
        "use_rms_prop": ["boolean"],
        "rms_prop_eps": [RATE],
    }

    def _make_optimizer(self) -> Any:
        params = self.policy_.parameters()
        if self.use_rms_prop:
            return RMSprop(params, lr=self.learning_rate, alpha=0.99, eps=self.rms_prop_eps)
        return Adam(params, lr=self.learning_rate)

    def _update(self, batch: RolloutBatch, optimizer: Any, remaining: float) -> None:
        """One step of the four on the whole rollout."""
        self._set_lr(optimizer, remaining)
        dtype = self._dtype
        dist, values = self.policy_.distribution(Tensor(batch.obs))  # 1. forward
        log_prob, entropy = score(dist, batch.actions)
        advantages = batch.advantages
        if self.normalize_advantage and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std(ddof=1) + 1e-8)
        policy_loss = -(log_prob * Tensor(advantages.astype(dtype))).mean()
        value_loss = mse(values, Tensor(batch.returns.astype(dtype)))
        loss = policy_loss + self.vf_coef * value_loss - self.ent_coef * entropy.mean()  # 2. loss
        self.losses_.append(self._step(loss, optimizer))  # 3. gradient, 4. update
        self.n_updates_ += 1
