"""SAC: one whole update against PyTorch (float64, same weights, same batch, same noise), the
temperature and Polyak updates in closed form, persistence, vector envs, the command line and
errors."""

import json
import math

import numpy as np
import pytest
import torch

from theta import (
    Tensor,
    get_default_dtype,
    get_num_threads,
    io,
    set_default_dtype,
    set_num_threads,
)
from theta.cli import main
from theta.errors import DivergenceError, InvalidParameterError, NotFittedError
from theta.nn import Parameter
from theta.rl import SAC, make, make_vec
from theta.rl.agents import polyak_update
from theta.rl.buffers import Transitions

gym = pytest.importorskip("gymnasium")


class _TwoActions(gym.Env):
    """Observations in R^3, actions in [-2, 1] x [0, 4]: two dimensions with unequal bounds."""

    observation_space = gym.spaces.Box(-5.0, 5.0, (3,), np.float32)
    action_space = gym.spaces.Box(np.array([-2.0, 0.0], np.float32),
                                  np.array([1.0, 4.0], np.float32))  # fmt: skip

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.normal(size=3).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        obs = self.np_random.normal(size=3).astype(np.float32)
        return obs, -float(np.sum(np.square(action))), False, self.t >= 20, {}


def _small(**kwargs) -> SAC:
    settings = dict(batch_size=16, hidden_sizes=(8, 8), learning_starts=20, random_state=0)
    settings.update(kwargs)
    return SAC(**settings)


def _batch(rng, n=16, d_obs=3, d_act=2) -> Transitions:
    return Transitions(rng.normal(size=(n, d_obs)), rng.uniform(-1, 1, (n, d_act)),
                       rng.normal(size=n), rng.normal(size=(n, d_obs)),
                       (rng.random(n) < 0.3).astype(np.float64))  # fmt: skip


def _torch_mlp(module) -> torch.nn.Sequential:
    """The theta MLP ``module`` as torch Linear/ReLU layers with copied weights."""
    layers = []
    linears = [m for m in module.layers if hasattr(m, "weight")]
    for i, m in enumerate(linears):
        n_out, n_in = m.weight.data.shape  # torch's layout
        lin = torch.nn.Linear(n_in, n_out, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(m.weight.data.copy()))
            lin.bias.copy_(torch.from_numpy(m.bias.data.copy()))
        layers += [lin] + ([torch.nn.ReLU()] if i < len(linears) - 1 else [])
    return torch.nn.Sequential(*layers)


def _torch_sac_update(agent, batch, eps, eps_next, lr, gamma, target_entropy):
    """Stable-Baselines3's ``SAC.train`` for one gradient step, written out in PyTorch."""
    d = agent.actor_.n_actions
    actor = _torch_mlp(agent.actor_.net)
    q1, q2 = (_torch_mlp(q) for q in agent.critic_.q_nets)
    q1_t, q2_t = (_torch_mlp(q) for q in agent.critic_target_.q_nets)
    log_alpha = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt_actor = torch.optim.Adam(actor.parameters(), lr=lr)
    opt_critic = torch.optim.Adam([*q1.parameters(), *q2.parameters()], lr=lr)
    opt_alpha = torch.optim.Adam([log_alpha], lr=lr)
    obs, next_obs = torch.from_numpy(batch.obs), torch.from_numpy(batch.next_obs)
    actions, rewards = torch.from_numpy(batch.actions), torch.from_numpy(batch.rewards)
    dones = torch.from_numpy(batch.terminated)

    def act(x, noise):
        out = actor(x)
        mean, log_std = out[:, :d], out[:, d:].clamp(-20, 2)
        std = log_std.exp()
        u = mean + std * torch.from_numpy(noise)
        a = torch.tanh(u)
        logp = torch.distributions.Normal(mean, std).log_prob(u).sum(-1)
        return a, logp - torch.log(1 - a**2 + 1e-6).sum(-1)

    actions_pi, log_prob = act(obs, eps)
    ent_coef = log_alpha.detach().exp()
    alpha_loss = -(log_alpha * (log_prob + target_entropy).detach()).mean()
    opt_alpha.zero_grad()
    alpha_loss.backward()
    opt_alpha.step()
    with torch.no_grad():
        next_a, next_logp = act(next_obs, eps_next)
        x = torch.cat([next_obs, next_a], 1)
        next_q = torch.minimum(q1_t(x), q2_t(x)).reshape(-1) - ent_coef * next_logp
        y = rewards + (1 - dones) * gamma * next_q
    x = torch.cat([obs, actions], 1)
    critic_loss = 0.5 * sum(torch.nn.functional.mse_loss(q(x).reshape(-1), y) for q in (q1, q2))
    opt_critic.zero_grad()
    critic_loss.backward()
    grads_critic = [p.grad.clone() for p in [*q1.parameters(), *q2.parameters()]]
    opt_critic.step()
    x_pi = torch.cat([obs, actions_pi], 1)
    actor_loss = (ent_coef * log_prob - torch.minimum(q1(x_pi), q2(x_pi)).reshape(-1)).mean()
    opt_actor.zero_grad()
    actor_loss.backward()
    opt_actor.step()
    return {
        "actor_loss": actor_loss.item(), "critic_loss": critic_loss.item(),
        "log_alpha": log_alpha.item(), "grads_critic": grads_critic,
        "grads_actor": [p.grad for p in actor.parameters()],
        "actor": [p.detach() for p in actor.parameters()],
        "critic": [p.detach() for p in [*q1.parameters(), *q2.parameters()]],
    }  # fmt: skip


def test_one_update_matches_pytorch_in_float64():
    before = get_default_dtype()
    set_default_dtype(np.float64)
    try:
        agent = _small(learning_starts=1000, gamma=0.9).learn(_TwoActions(), total_steps=5)
    finally:
        set_default_dtype(before)
    rng = np.random.default_rng(3)
    batch = _batch(rng)
    noise = np.random.default_rng(7)
    eps, eps_next = noise.standard_normal((16, 2)), noise.standard_normal((16, 2))
    ref = _torch_sac_update(agent, batch, eps, eps_next, 3e-4, 0.9, -2.0)
    agent._rng = np.random.default_rng(7)  # the same noise, drawn in the same order
    run = agent._new_run()
    actor_loss, critic_loss, alpha = agent._update(batch, run)
    assert alpha == 1.0  # the temperature before its update is the one the losses use
    np.testing.assert_allclose(actor_loss, ref["actor_loss"], rtol=1e-10)
    np.testing.assert_allclose(critic_loss, ref["critic_loss"], rtol=1e-10)
    np.testing.assert_allclose(agent.ent_coef_.log_alpha.data[0], ref["log_alpha"], rtol=1e-10)
    grads = [p.grad for p in agent.actor_.parameters()]
    for got, want in zip(grads, ref["grads_actor"], strict=True):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-8, atol=1e-12)
    grads = [p.grad for p in agent.critic_.parameters()]
    for got, want in zip(grads, ref["grads_critic"], strict=True):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-8, atol=1e-12)
    for got, want in zip([p.data for p in agent.actor_.parameters()], ref["actor"], strict=True):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-9, atol=1e-12)
    for got, want in zip([p.data for p in agent.critic_.parameters()], ref["critic"], strict=True):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-9, atol=1e-12)


def test_entropy_coefficient_first_adam_step_in_closed_form():
    # Adam's first step moves log_alpha by lr * g / (|g| + eps): -lr * sign(g) for g != 0,
    # with g = d/d log_alpha of -log_alpha * mean(log_prob + target) = -mean(log_prob + target)
    agent = _small(learning_starts=1000, learning_rate=0.01).learn(_TwoActions(), total_steps=5)
    agent._rng = np.random.default_rng(0)
    run = agent._new_run()
    batch = _batch(np.random.default_rng(1))
    dist = agent.actor_.distribution(Tensor(batch.obs.astype(np.float32)))
    _, log_prob = dist.rsample_and_log_prob(rng=np.random.default_rng(0))
    g = -np.mean(log_prob.data.sum(axis=-1) - 2.0)
    agent._update(batch, run)
    np.testing.assert_allclose(agent.ent_coef_.log_alpha.data[0], -0.01 * np.sign(g), rtol=1e-5)


def test_polyak_update_matches_its_closed_form():
    # k updates towards a fixed p: t_k = p + (1 - tau)**k * (t_0 - p)
    p, t = Parameter(np.array([2.0, -1.0])), Parameter(np.array([0.0, 3.0]))
    for _ in range(5):
        polyak_update([p], [t], 0.1)
    np.testing.assert_allclose(t.data, p.data + 0.9**5 * (np.array([0.0, 3.0]) - p.data))
    polyak_update([p], [t], 1.0)
    np.testing.assert_array_equal(t.data, p.data)


def test_target_critics_trail_the_critics_by_polyak_steps():
    agent = _small(tau=0.25).learn(_TwoActions(), total_steps=21)  # exactly one update
    assert agent.n_updates_ == 1
    agent2 = _small(tau=0.25).learn(_TwoActions(), total_steps=20)  # no update yet
    for p0, p1, t1 in zip(agent2.critic_.parameters(), agent.critic_.parameters(),
                          agent.critic_target_.parameters(), strict=True):  # fmt: skip
        np.testing.assert_allclose(t1.data, 0.75 * p0.data + 0.25 * p1.data, rtol=1e-6)


def test_short_pendulum_run_learns_finite_losses_and_lowers_the_temperature():
    agent = _small(learning_starts=50).learn(make("Pendulum-v1"), total_steps=200)
    assert agent.n_steps_ == 200 and agent.n_updates_ == 150
    assert len(agent.episode_returns_) == 1  # Pendulum's episodes last 200 steps
    losses = agent.actor_losses_ + agent.critic_losses_
    assert all(math.isfinite(v) for v in losses)
    assert agent.ent_coefs_[0] == 1.0 > agent.ent_coefs_[1] > agent.ent_coefs_[-1]
    action = agent.predict(np.zeros(3))
    assert action.shape == (1,) and -2.0 <= action[0] <= 2.0
    assert agent.predict(np.zeros((4, 3))).shape == (4, 1)
    mean, _ = agent.evaluate(make("Pendulum-v1"), episodes=1, seed=0)
    assert math.isfinite(mean)


def test_actions_stay_inside_unequal_bounds_and_vector_envs_count_every_copy():
    agent = _small().learn(make_vec("Pendulum-v1", 2), total_steps=60)
    assert agent.n_steps_ == 60 and agent.n_updates_ == 20  # one update per call after 20
    two = _small().learn(_TwoActions(), total_steps=40)
    acts = two.predict(np.random.default_rng(0).normal(size=(50, 3)), deterministic=False)
    assert acts.shape == (50, 2)
    assert (acts[:, 0] >= -2).all() and (acts[:, 0] <= 1).all()
    assert (acts[:, 1] >= 0).all() and (acts[:, 1] <= 4).all()


def test_fixed_entropy_coefficient_learns_no_temperature():
    agent = _small(ent_coef=0.1).learn(_TwoActions(), total_steps=30)
    assert agent.ent_coef_ is None and set(agent.ent_coefs_) == {0.1}


def test_save_load_round_trip_continues_identically(tmp_path):
    agent = _small().learn(_TwoActions(), total_steps=40, eval_env=_TwoActions(), eval_freq=20)
    io.save(agent, tmp_path / "sac")
    loaded = io.load(tmp_path / "sac")
    assert loaded.get_params() == agent.get_params()
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(obs), agent.predict(obs))
    assert [e[0] for e in loaded.evaluations_] == [20, 40]
    np.testing.assert_array_equal(loaded.best_policy_.net.layers[0].weight.data,
                                  agent.best_policy_.net.layers[0].weight.data)  # fmt: skip
    agent.learn(_TwoActions(), total_steps=20, reset_num_timesteps=False)
    loaded.learn(_TwoActions(), total_steps=20, reset_num_timesteps=False)
    assert loaded.n_updates_ == agent.n_updates_ == 40
    for (name, a), b in zip(agent.actor_.state_dict().items(),
                            loaded.actor_.state_dict().values(), strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_theta_rl_sac_quick_run(tmp_path):
    out = tmp_path / "run"
    args = ["rl", "--agent", "sac", "--steps", "300",  # the default env is Pendulum-v1
            "--eval-episodes", "1", "--set", "batch_size=32", "--set", "hidden_sizes=[16]",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env"] == "Pendulum-v1" and summary["steps"] == 300
    assert isinstance(io.load(out / "agent"), SAC)


@pytest.mark.parametrize(
    "params, name",
    [({"tau": 0.0}, "tau"), ({"ent_coef": -1.0}, "ent_coef"), ({"ent_coef": "on"}, "ent_coef"),
     ({"batch_size": 0}, "batch_size"), ({"target_entropy": "max"}, "target_entropy"),
     ({"buffer_size": 8}, "buffer_size")],
)  # fmt: skip
def test_bad_hyperparameters_are_named(params, name):
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of SAC"):
        _small(**params).learn(_TwoActions(), total_steps=5)


def test_errors_discrete_actions_unfitted_and_eval_freq():
    with pytest.raises(TypeError, match="SAC needs a Box action space"):
        SAC().learn(make("CartPole-v1"), total_steps=5)
    with pytest.raises(NotFittedError):
        SAC().predict(np.zeros(3))
    with pytest.raises(ValueError, match="eval_freq"):
        _small().learn(_TwoActions(), 5, eval_env=_TwoActions(), eval_freq=0)


@pytest.mark.slow
def test_sac_solves_pendulum():
    """Mean return >= -200 over 20 episodes (the issue's bar; SB3's zoo SAC reaches ~-150).

    6,000 steps with 64-64 networks, batch 128 and lr 1e-3 (about 35 s on one loaded core);
    seeds 0 and 1 reached -126 and -124. SB3's default 256-256 networks reach -152 in
    20,000 steps (benchmarks/RESULTS_RL.md).
    """
    agent = SAC(1e-3, hidden_sizes=(64, 64), batch_size=128, random_state=0)
    before = get_num_threads()
    set_num_threads(1)  # small matrices: BLAS threads only contend (2.5x slower on 2 cores)
    try:
        agent.learn(make("Pendulum-v1"), total_steps=6000)
    finally:
        set_num_threads(before)
    mean, _ = agent.evaluate(make("Pendulum-v1"), episodes=20, seed=123)
    assert mean >= -200


class _HugeRewards(_TwoActions):
    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, 1e30, terminated, truncated, info


def test_divergence_is_reported():
    # squared errors of rewards near float32's limit overflow: the loss is inf, not a number
    with np.errstate(over="ignore"), pytest.raises(DivergenceError, match=r"SAC: the critic "
                                                   r"loss became inf at step 21 \(update 1\)"):
        _small().learn(_HugeRewards(), total_steps=30)
