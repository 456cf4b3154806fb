"""PPO and A2C: GAE by hand, the clipped loss and whole updates against PyTorch, persistence,
the command line, errors, and CartPole solved (slow)."""

import copy
import json

import numpy as np
import pytest
import torch

from theta import Tensor, get_default_dtype, io, set_default_dtype, set_num_threads
from theta.cli import main
from theta.errors import InvalidParameterError, NotFittedError
from theta.params import clone
from theta.rl import A2C, PPO, gae, make, make_vec
from theta.rl.agents.ppo import clipped_surrogate

gym = pytest.importorskip("gymnasium")


# --- GAE ----------------------------------------------------------------------------------


def test_gae_matches_a_hand_computed_example():
    # gamma 0.9, lambda 0.8; the episode terminates after step 1, step 2 is bootstrapped
    r, v, v_next = [1.0, 2.0, 3.0], [0.5, 1.0, 1.5], [1.0, 7.0, 2.0]
    adv, ret = gae(r, v, v_next, [False, True, False], [False, True, False], 0.9, 0.8)
    d2 = 3.0 + 0.9 * 2.0 - 1.5  # 3.3
    d1 = 2.0 - 1.0  # terminated: no bootstrap, and the sum stops here
    d0 = 1.0 + 0.9 * 1.0 - 0.5  # 1.4
    np.testing.assert_allclose(adv, [d0 + 0.72 * d1, d1, d2])
    np.testing.assert_allclose(ret, [d0 + 0.72 * d1 + 0.5, d1 + 1.0, d2 + 1.5])


def test_gae_bootstraps_a_truncated_step_but_does_not_carry_past_it():
    adv, _ = gae([1.0, 1.0], [0.0, 0.0], [5.0, 4.0], [False, False], [True, False], 0.5, 1.0)
    np.testing.assert_allclose(adv, [1.0 + 0.5 * 5.0, 1.0 + 0.5 * 4.0])


# --- the clipped objective ------------------------------------------------------------------


def test_clipped_surrogate_and_its_gradient_match_pytorch():
    rng = np.random.default_rng(0)
    new, old, adv = rng.normal(size=12) * 0.3, rng.normal(size=12) * 0.3, rng.normal(size=12)
    ours = Tensor(new, requires_grad=True)
    loss, _ = clipped_surrogate(ours, old, adv, 0.2)
    loss.backward()
    theirs = torch.tensor(new, requires_grad=True)
    ratio = torch.exp(theirs - torch.tensor(old))
    a = torch.tensor(adv)
    ref = -torch.min(ratio * a, torch.clamp(ratio, 0.8, 1.2) * a).mean()
    ref.backward()
    assert abs(float(loss.data) - ref.item()) < 1e-12
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-12)
    assert (theirs.grad.numpy() == 0).any()  # some rows are clipped: the test sees the clip


# --- whole updates against a PyTorch reference ---------------------------------------------


def _torch_mlp(state, prefix, sizes):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(n_in, n_out, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers)
    net.load_state_dict({k[len(prefix):]: torch.tensor(v) for k, v in state.items()
                         if k.startswith(prefix)})  # fmt: skip
    return net


def _reference_ppo(agent, batch, weights, rng, continuous):
    """Stable-Baselines3's PPO.train, in PyTorch, on the same batch and minibatch order."""
    n_in, n_out = batch.obs.shape[1], weights["pi_net.4.weight"].shape[0]
    pi = _torch_mlp(weights, "pi_net.", (n_in, 64, 64, n_out))
    vf = _torch_mlp(weights, "vf_net.", (n_in, 64, 64, 1))
    params = list(pi.parameters()) + list(vf.parameters())
    log_std = None
    if continuous:
        log_std = torch.tensor(weights["log_std"], requires_grad=True)
        params = list(pi.parameters()) + list(vf.parameters()) + [log_std]
    opt = torch.optim.Adam(params, lr=agent.learning_rate, eps=1e-5)
    t = {k: torch.tensor(getattr(batch, k)) for k in batch._fields}
    with torch.no_grad():  # what the agent recorded while acting is what torch computes
        out = pi(t["obs"])
        dist = (torch.distributions.Normal(out, log_std.exp()) if continuous else
                torch.distributions.Categorical(logits=out))  # fmt: skip
        log_prob = dist.log_prob(t["actions"])
        log_prob = log_prob.sum(-1) if continuous else log_prob
        np.testing.assert_allclose(batch.log_probs, log_prob.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(batch.values, vf(t["obs"]).flatten().numpy(), rtol=1e-9)
    losses = []
    for _ in range(agent.n_epochs):
        order = rng.permutation(len(batch.actions))
        for start in range(0, len(order), agent.batch_size):
            rows = torch.tensor(order[start:start + agent.batch_size])
            out, values = pi(t["obs"][rows]), vf(t["obs"][rows]).flatten()
            if continuous:
                dist = torch.distributions.Normal(out, log_std.exp())
                log_prob = dist.log_prob(t["actions"][rows]).sum(-1)
                entropy = dist.entropy().sum(-1)
            else:
                dist = torch.distributions.Categorical(logits=out)
                log_prob, entropy = dist.log_prob(t["actions"][rows]), dist.entropy()
            adv = t["advantages"][rows]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            ratio = torch.exp(log_prob - t["log_probs"][rows])
            c = agent.clip_range
            policy_loss = -torch.min(adv * ratio, adv * torch.clamp(ratio, 1 - c, 1 + c)).mean()
            old_v = t["values"][rows]
            values = old_v + torch.clamp(values - old_v, -agent.clip_range_vf, agent.clip_range_vf)
            value_loss = torch.nn.functional.mse_loss(t["returns"][rows], values)
            loss = policy_loss + agent.vf_coef * value_loss - agent.ent_coef * entropy.mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, agent.max_grad_norm)
            opt.step()
            losses.append(loss.item())
    state = {f"pi_net.{k}": v for k, v in pi.state_dict().items()}
    state.update({f"vf_net.{k}": v for k, v in vf.state_dict().items()})
    if continuous:
        state["log_std"] = log_std
    return losses, {k: v.detach().numpy() for k, v in state.items()}


@pytest.fixture
def float64():
    before = get_default_dtype()
    set_default_dtype(np.float64)
    yield
    set_default_dtype(before)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_first_ppo_update_equals_a_pytorch_reference_step_for_step(env_id, float64, monkeypatch):
    captured = {}
    update = PPO._update

    def spy(self, batch, optimizer, remaining):
        captured.update(batch=batch, rng=copy.deepcopy(self._rng),
                        weights={k: v.copy() for k, v in self.policy_.state_dict().items()})
        update(self, batch, optimizer, remaining)
        captured["after"] = {k: v.copy() for k, v in self.policy_.state_dict().items()}

    monkeypatch.setattr(PPO, "_update", spy)
    agent = PPO(3e-3, n_steps=24, batch_size=16, n_epochs=3, clip_range_vf=0.1, ent_coef=0.01,
                random_state=0)  # a large step, so the clips are reached
    agent.learn(make_vec(env_id, 2), total_steps=48)
    batch = captured["batch"]
    # 48 steps less the autoreset steps (random CartPole episodes are short)
    assert batch.obs.dtype == np.float64 and 30 < len(batch.actions) <= 48
    losses, expected = _reference_ppo(agent, batch, captured["weights"], captured["rng"],
                                      env_id == "Pendulum-v1")  # fmt: skip
    np.testing.assert_allclose(agent.losses_[0], np.mean(losses), rtol=1e-9)
    for name, value in expected.items():
        np.testing.assert_allclose(captured["after"][name], value, rtol=1e-7, atol=1e-10)
        assert not np.allclose(captured["weights"][name], value)  # every tensor moved


def test_a2c_update_equals_a_pytorch_reference(float64, monkeypatch):
    captured = {}
    update = A2C._update

    def spy(self, batch, optimizer, remaining):
        captured.update(batch=batch, weights={k: v.copy() for k, v in
                                              self.policy_.state_dict().items()})  # fmt: skip
        update(self, batch, optimizer, remaining)

    monkeypatch.setattr(A2C, "_update", spy)
    agent = A2C(ent_coef=0.01, random_state=1).learn(make_vec("CartPole-v1", 3), total_steps=15)
    b, w = captured["batch"], captured["weights"]
    pi = _torch_mlp(w, "pi_net.", (4, 64, 64, 2))
    vf = _torch_mlp(w, "vf_net.", (4, 64, 64, 1))
    params = list(pi.parameters()) + list(vf.parameters())
    opt = torch.optim.RMSprop(params, lr=7e-4, alpha=0.99, eps=1e-5)
    obs = torch.tensor(b.obs)
    dist = torch.distributions.Categorical(logits=pi(obs))
    policy_loss = -(torch.tensor(b.advantages) * dist.log_prob(torch.tensor(b.actions))).mean()
    value_loss = torch.nn.functional.mse_loss(torch.tensor(b.returns), vf(obs).flatten())
    loss = policy_loss + 0.5 * value_loss - 0.01 * dist.entropy().mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 0.5)
    opt.step()
    assert abs(agent.losses_[0] - loss.item()) < 1e-10
    after = agent.policy_.state_dict()
    for k, v in pi.state_dict().items():
        np.testing.assert_allclose(after[f"pi_net.{k}"], v.detach().numpy(), rtol=1e-9, atol=1e-12)


# --- using and saving ------------------------------------------------------------------------


def test_predict_one_observation_or_a_batch_and_box_actions_stay_in_bounds():
    agent = PPO(n_steps=16, batch_size=16, n_epochs=1, log_std_init=2.0, random_state=0)
    agent.learn(make("Pendulum-v1"), total_steps=16)
    one = agent.predict(np.zeros(3), deterministic=False)
    many = agent.predict(np.zeros((50, 3)), deterministic=False)
    assert one.shape == (1,) and many.shape == (50, 1)
    assert np.abs(many).max() <= 2.0 and np.abs(many).max() == 2.0  # clipped to the bounds
    with pytest.raises(NotFittedError, match="not fitted yet"):
        PPO().predict(np.zeros(3))
    with pytest.raises(ValueError, match=r"shape \(4,\) do not fit.*shape \(3,\)"):
        agent.predict(np.zeros(4))


def test_save_load_round_trip_with_normalisation(tmp_path):
    agent = PPO(n_steps=32, batch_size=32, n_epochs=2, normalize_observations=True,
                normalize_rewards=True, random_state=0)  # fmt: skip
    agent.learn(make_vec("CartPole-v1", 2), total_steps=64)
    io.save(agent, tmp_path / "ppo")
    loaded = io.load(tmp_path / "ppo")
    obs = np.random.default_rng(0).normal(size=(30, 4))
    np.testing.assert_array_equal(loaded.predict(obs), agent.predict(obs))
    np.testing.assert_array_equal(loaded.obs_rms_.mean, agent.obs_rms_.mean)
    assert loaded.return_rms_.count == agent.return_rms_.count > 1
    assert loaded.get_params() == agent.get_params() and clone(agent).get_params()["n_steps"] == 32
    loaded.learn(make_vec("CartPole-v1", 2), total_steps=64, reset_num_timesteps=False)
    assert loaded.n_steps_ == 128 and loaded.n_updates_ == 8


@pytest.mark.parametrize("n_envs", [1, 2])
def test_continuing_in_process_equals_one_uninterrupted_run(n_envs):
    def run(splits):
        env = make_vec("CartPole-v1", 2) if n_envs == 2 else make("CartPole-v1")
        agent = PPO(n_steps=16, batch_size=16, n_epochs=2, random_state=3)
        for i, steps in enumerate(splits):
            agent.learn(env, total_steps=steps, reset_num_timesteps=i == 0)
        return agent

    whole, parts = run([96 * n_envs]), run([32 * n_envs, 64 * n_envs])
    assert whole.episode_returns_ == parts.episode_returns_
    for k, v in whole.policy_.state_dict().items():
        np.testing.assert_array_equal(parts.policy_.state_dict()[k], v)


def test_eval_env_keeps_the_best_policy(tmp_path):
    agent = PPO(n_steps=32, batch_size=32, n_epochs=1, random_state=0)
    agent.learn(make("CartPole-v1"), total_steps=128, eval_env=make("CartPole-v1"),
                eval_freq=64, n_eval_episodes=2)  # fmt: skip
    assert [e[0] for e in agent.evaluations_] == [64, 128]
    assert agent.best_mean_return_ == max(e[1] for e in agent.evaluations_)
    assert agent.best_policy_ is not agent.policy_
    io.save(agent, tmp_path / "agent")
    loaded = io.load(tmp_path / "agent")
    for k, v in agent.best_policy_.state_dict().items():
        np.testing.assert_array_equal(loaded.best_policy_.state_dict()[k], v)


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("agent, message", [
    (PPO(clip_range=0), "'clip_range' parameter of PPO"),
    (PPO(gae_lambda=1.5), "'gae_lambda' parameter"),
    (A2C(lr_schedule="cosine"), "'lr_schedule' parameter of A2C"),
])  # fmt: skip
def test_bad_hyperparameters_are_refused_before_learning(agent, message):
    with pytest.raises(InvalidParameterError, match=message):
        agent.learn(make("CartPole-v1"), total_steps=10)


class CoinFlips(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,))
    action_space = gym.spaces.MultiBinary(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}


def test_unsupported_spaces_and_bad_evaluation_settings_are_refused():
    with pytest.raises(TypeError, match="needs a Discrete or Box action space"):
        PPO().learn(CoinFlips(), total_steps=10)
    with pytest.raises(TypeError, match="needs a Discrete or Box observation space"):
        PPO().learn(gym.make("Blackjack-v1"), total_steps=10)  # a Tuple observation space
    with pytest.raises(ValueError, match="eval_freq"):
        PPO(n_steps=8).learn(make("CartPole-v1"), 8, eval_env=make("CartPole-v1"), eval_freq=0)


# --- the command line ---------------------------------------------------------------------


def test_theta_rl_ppo_quick_run(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["rl", "--agent", "ppo", "--steps", "2048", "--eval-episodes", "2", "--n-envs", "2",
            "--set", "n_steps=256", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env"] == "CartPole-v1" and summary["steps"] == 2048
    assert summary["episodes"] > 0 and "trained ppo" in capsys.readouterr().out
    assert isinstance(io.load(out / "agent"), PPO)


def test_n_envs_is_refused_for_single_environment_agents(capsys):
    assert main(["rl", "--agent", "dqn", "--n-envs", "2", "--dry-run"]) == 2
    assert "only ppo and a2c" in capsys.readouterr().err


# --- results ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_ppo_solves_cartpole():
    """RL Zoo's CartPole hyperparameters; mean >= 475 over 100 episodes within 100k steps."""
    set_num_threads(1)  # tiny matrices: BLAS threads only add overhead
    try:
        agent = PPO(1e-3, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
                    lr_schedule="linear", clip_range_schedule="linear", random_state=0)
        agent.learn(make_vec("CartPole-v1", 8), total_steps=100_000)
        mean, _ = agent.evaluate(make("CartPole-v1"), 100, seed=1000)
    finally:
        set_num_threads(None)
    assert mean >= 475
