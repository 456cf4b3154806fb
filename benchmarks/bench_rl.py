"""DQN training on CartPole-v1, theta's agent side by side with the same algorithm in PyTorch.

The workload: ``STEPS`` environment steps of DQN from scratch on Gymnasium's CartPole-v1
(with its standard wrappers), a 4-64-64-2 ReLU Q-network, one Adam update (lr 1e-3) on a
replayed minibatch of 64 after every step once 64 transitions are stored, double DQN
targets from a target network synced every 250 steps, Huber loss (delta 1), gradient norm
clipped to 10, and ε-greedy exploration with a constant ε of 0.1 (so about 90% of steps run a
batch-1 forward pass to choose the action). That is the regime where per-op overhead, not
arithmetic, sets the speed: two small forward passes and one forward-backward-update per step.

Implementations:

- ``theta``: ``theta.rl.DQN(...).learn(env, total_steps=STEPS)``, as a user calls it
  (including its per-step checks of rewards, observations, loss and Q-values).
- ``torch``: the same algorithm written plainly in PyTorch (eager, CPU): ``nn.Sequential``,
  ``F.smooth_l1_loss``, ``torch.optim.Adam``, ``clip_grad_norm_``, a NumPy ring buffer, the
  target network synced with ``load_state_dict``.

Before timing, one update of each, from the same weights on the same minibatch, must give
the same parameters. Each timed call trains from scratch with the same seed, so every sample
does the same work; the figure to read is environment steps per second, ``STEPS / time``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from harness import Suite

__all__ = ["DQN_CASE", "HYPERPARAMETERS", "STEPS", "check_update", "register"]

STEPS = 500
DQN_CASE = (
    f"DQN on CartPole-v1: {STEPS} environment steps with one update each, 4-64-64-2, batch 64"
)
HYPERPARAMETERS: dict[str, Any] = dict(
    learning_rate=1e-3, hidden_sizes=(64, 64), gamma=0.99, buffer_size=10_000, batch_size=64,
    learning_starts=64, train_freq=1, gradient_steps=1, target_update_interval=250,
    epsilon=0.1, epsilon_schedule="constant", double_dqn=True, max_grad_norm=10.0,
    huber_delta=1.0,
)  # fmt: skip


def _env() -> Any:
    import gymnasium

    return gymnasium.make("CartPole-v1")


def _torch_net(sizes: tuple[int, ...]) -> Any:
    from torch import nn

    layers: list[Any] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class TorchDQN:
    """DQN in plain PyTorch, step for step the algorithm of ``theta.rl.DQN``."""

    def __init__(self, obs_size: int, n_actions: int, seed: int, hp: dict[str, Any]) -> None:
        import torch

        torch.manual_seed(seed)
        self.hp, self.n_actions = hp, n_actions
        self.rng = np.random.default_rng(seed)
        sizes = (obs_size, *hp["hidden_sizes"], n_actions)
        self.q, self.target = _torch_net(sizes), _torch_net(sizes)
        self.target.load_state_dict(self.q.state_dict())
        self.opt = torch.optim.Adam(self.q.parameters(), lr=hp["learning_rate"])
        n = hp["buffer_size"]
        self.obs = np.zeros((n, obs_size), np.float32)
        self.next_obs = np.zeros((n, obs_size), np.float32)
        self.actions = np.zeros(n, np.int64)
        self.rewards = np.zeros(n, np.float32)
        self.done = np.zeros(n, np.float32)
        self.size = self.pos = 0
        self.rows = torch.arange(hp["batch_size"])

    def act(self, obs: np.ndarray) -> int:
        import torch

        if self.rng.random() < self.hp["epsilon"]:
            return int(self.rng.integers(self.n_actions))
        with torch.no_grad():
            return int(self.q(torch.from_numpy(obs[None])).argmax())

    def store(self, obs: np.ndarray, a: int, r: float, next_obs: np.ndarray, done: bool) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i] = obs, a, r
        self.next_obs[i], self.done[i] = next_obs, done
        self.pos = (i + 1) % len(self.obs)
        self.size = min(self.size + 1, len(self.obs))

    def sample(self) -> tuple[Any, ...]:
        import torch

        idx = self.rng.integers(self.size, size=self.hp["batch_size"])
        return tuple(
            torch.from_numpy(a[idx])
            for a in (self.obs, self.actions, self.rewards, self.next_obs, self.done)
        )

    def update(self, batch: tuple[Any, ...]) -> float:
        import torch
        import torch.nn.functional as F

        obs, actions, rewards, next_obs, done = batch
        with torch.no_grad():
            best = self.q(next_obs).argmax(dim=1)
            next_value = self.target(next_obs)[self.rows, best]
            y = rewards + self.hp["gamma"] * (1.0 - done) * next_value
        q_sa = self.q(obs)[self.rows, actions]
        loss = F.smooth_l1_loss(q_sa, y, beta=self.hp["huber_delta"])
        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.q.parameters(), self.hp["max_grad_norm"])
        self.opt.step()
        return loss.item()

    def learn(self, env: Any, total_steps: int) -> TorchDQN:
        hp = self.hp
        obs, _ = env.reset(seed=int(self.rng.integers(2**31 - 1)))
        obs = np.asarray(obs, np.float32)
        for step in range(1, total_steps + 1):
            action = self.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            next_obs = np.asarray(next_obs, np.float32)
            self.store(obs, action, float(reward), next_obs, terminated)
            if step > hp["learning_starts"] and step % hp["train_freq"] == 0:
                self.update(self.sample())
            if step % hp["target_update_interval"] == 0:
                self.target.load_state_dict(self.q.state_dict())
            if terminated or truncated:
                obs = np.asarray(env.reset()[0], np.float32)
            else:
                obs = next_obs
        return self


def check_update() -> str:
    """One update of theta's DQN and of the PyTorch one, same weights and minibatch: allclose."""
    import torch

    from theta.optim import Adam
    from theta.rl import DQN
    from theta.rl.agents import dqn as dqn_module
    from theta.rl.buffers import Transitions

    hp = dict(HYPERPARAMETERS, learning_starts=10**6)  # learn() below only builds the agent
    agent = DQN(**hp, random_state=0).learn(_env(), total_steps=1)
    ours = TorchDQN(4, 2, 0, hp)
    rng = np.random.default_rng(1)
    batch = Transitions(
        rng.normal(size=(64, 4)).astype(np.float32),
        rng.integers(2, size=64),
        rng.normal(size=64).astype(np.float32),
        rng.normal(size=(64, 4)).astype(np.float32),
        (rng.random(64) < 0.1).astype(np.float32),
    )
    state = {k: v.detach().numpy() for k, v in ours.q.state_dict().items()}
    agent.q_net_.load_state_dict(state)
    agent.target_net_.load_state_dict(
        {k: v.detach().numpy() * 0.9 for k, v in ours.target.state_dict().items()}
    )
    with torch.no_grad():
        for p in ours.target.parameters():
            p.mul_(0.9)

    class OneBatch:
        def sample(self, batch_size: int) -> Transitions:
            return batch

    run = dqn_module._Run(
        OneBatch(),
        Adam(agent.q_net_.parameters(), lr=hp["learning_rate"]),
        agent._epsilon_schedule(),
    )  # type: ignore[arg-type]
    run.rows = np.arange(64)
    run.params = list(agent.q_net_.parameters())
    agent._update(run, step=1)
    torch_loss = ours.update(tuple(torch.from_numpy(np.asarray(a)) for a in batch))
    worst = 0.0
    for name, value in agent.q_net_.state_dict().items():
        theirs = ours.q.state_dict()[name].numpy()
        if not np.allclose(value, theirs, rtol=1e-4, atol=1e-6):
            raise AssertionError(f"DQN update check: {name} differs between theta and torch")
        worst = max(worst, float(np.abs(value - theirs).max()))
    if not np.isclose(run.last_loss, torch_loss, rtol=1e-5):
        raise AssertionError(f"DQN update check: loss {run.last_loss} vs torch {torch_loss}")
    return (
        "one update from the same weights and minibatch: parameters allclose "
        f"(max diff {worst:.1e})"
    )


def make_impls(steps: int = STEPS) -> dict[str, Callable[[], Any]]:
    """Zero-argument callables that each train DQN from scratch for ``steps`` env steps."""
    from theta.rl import DQN

    theta_env, torch_env = _env(), _env()

    def theta_run() -> Any:
        return DQN(**HYPERPARAMETERS, random_state=0).learn(theta_env, total_steps=steps)

    def torch_run() -> Any:
        return TorchDQN(4, 2, 0, HYPERPARAMETERS).learn(torch_env, total_steps=steps)

    return {"theta": theta_run, "torch": torch_run}


def register(suite: Suite) -> dict[str, str]:
    """Check one update against PyTorch, then add the DQN case; returns check notes."""
    notes = {"DQN check": check_update()}
    suite.add(
        DQN_CASE,
        make_impls(),
        baseline="torch",
        unit=f"{STEPS} env steps",
        ratios=[("theta", "torch")],
        note=f"Each call trains from scratch ({STEPS} env steps, {STEPS - 64} updates, target "
        "sync every 250 steps, ε = 0.1). Env steps per second = "
        f"{STEPS} / time per call; a ratio below 1 means theta is faster.",
        prime=False,
    )
    return notes


if __name__ == "__main__":
    import time

    print(check_update())
    impls = make_impls()
    for fn in impls.values():
        fn()  # warm-up
    for _ in range(3):
        for name, fn in impls.items():
            start = time.perf_counter()
            fn()
            print(f"{name}: {STEPS / (time.perf_counter() - start):.0f} env steps/s")
