"""Reinforcement learning that stops and starts: Ctrl-C keeps the agent, a continued or resumed
run ends exactly where one that never stopped ends, and ``theta rl --resume`` does the same
from a run folder."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from theta import io
from theta.rl import (
    DQN,
    REINFORCE,
    SARSA,
    UCB1,
    EpsilonGreedy,
    MultiArmedBandit,
    QLearning,
    ThompsonSampling,
)  # fmt: skip

gym = pytest.importorskip("gymnasium")


class _CtrlCAt(gym.Wrapper):
    """Sends this process SIGINT (a user's Ctrl-C) during step number ``at``."""

    def __init__(self, env, at):
        super().__init__(env)
        self.at, self.n = at, 0

    def step(self, action):
        self.n += 1
        if self.n == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return self.env.step(action)


def _bandit():
    return MultiArmedBandit(n_arms=4, kind="gaussian", means_seed=3)


CASES = {
    "q_learning": (lambda: QLearning(0.5, epsilon=1.0, epsilon_schedule="linear",
                                     epsilon_decay_steps=2000, random_state=1),
                   lambda: gym.make("FrozenLake-v1"), 3000, 1234),
    "sarsa": (lambda: SARSA(0.5, epsilon=0.5, random_state=2),
              lambda: gym.make("FrozenLake-v1"), 3000, 777),
    "dqn": (lambda: DQN(hidden_sizes=(16,), learning_starts=50, batch_size=16, buffer_size=500,
                        target_update_interval=100, epsilon_decay_steps=300, random_state=3),
            lambda: gym.make("CartPole-v1"), 400, 237),
    "reinforce": (lambda: REINFORCE(hidden_sizes=(8,), batch_episodes=2, random_state=4),
                  lambda: gym.make("CartPole-v1"), 600, 301),
    "epsilon_greedy": (lambda: EpsilonGreedy(0.9, epsilon_schedule="linear",
                                             epsilon_decay_steps=300, random_state=5),
                       _bandit, 500, 200),
    "ucb1": (lambda: UCB1(random_state=7), _bandit, 500, 123),
    "thompson": (lambda: ThompsonSampling("gaussian", random_state=6), _bandit, 500, 250),
}  # fmt: skip


def _learned(agent):
    """Everything an agent learned, as arrays by name (networks by their state dicts)."""
    out = {
        "returns": np.asarray(agent.episode_returns_),
        "lengths": np.asarray(agent.episode_lengths_),
        "steps": np.asarray(agent.n_steps_),
    }
    for key, value in vars(agent).items():
        if key.endswith("_") and key not in agent._get_param_names():
            if hasattr(value, "state_dict"):
                out.update({f"{key}.{k}": v for k, v in value.state_dict().items()})
            elif isinstance(value, np.ndarray | list | int | float):
                out[key] = np.asarray(value)
    out["rng"] = agent._rng.random(3)  # the generator continues identically too
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("name", sorted(CASES))
def test_ctrl_c_then_save_load_and_continue_ends_as_an_uninterrupted_run(name, tmp_path):
    make_agent, make_env, total, at = CASES[name]
    whole = make_agent().learn(make_env(), total_steps=total)
    stopped = make_agent()
    with pytest.raises(KeyboardInterrupt, match=f"interrupted at step {at} "):
        stopped.learn(_CtrlCAt(make_env(), at), total_steps=total)
    assert stopped.n_steps_ == at  # the step in progress was finished, no more
    stopped.predict(make_env().reset(seed=0)[0])  # usable as trained so far
    io.save(stopped, tmp_path / "agent")
    resumed = io.load(tmp_path / "agent")
    resumed.learn(make_env(), total_steps=total - at, reset_num_timesteps=False)
    _assert_same(_learned(resumed), _learned(whole))


@pytest.mark.parametrize("name", ["q_learning", "epsilon_greedy", "dqn"])
def test_learn_continued_with_reset_num_timesteps_false_adds_to_the_budget(name):
    make_agent, make_env, total, _ = CASES[name]
    whole = make_agent().learn(make_env(), total_steps=total)
    env = make_env()
    parts = make_agent().learn(env, total_steps=total // 3)
    parts.learn(env, total_steps=total - total // 3, reset_num_timesteps=False)
    _assert_same(_learned(parts), _learned(whole))


def test_episode_budget_continues_to_the_same_episode_count():
    make_agent, make_env, _, _ = CASES["sarsa"]
    whole = make_agent().learn(make_env(), episodes=80)
    stopped = make_agent()
    with pytest.raises(KeyboardInterrupt):
        stopped.learn(_CtrlCAt(make_env(), 200), episodes=80)
    done = len(stopped.episode_returns_)
    stopped.learn(make_env(), episodes=80 - done, reset_num_timesteps=False)
    _assert_same(_learned(stopped), _learned(whole))


def test_continue_on_another_environment_is_refused_naming_it():
    make_agent, make_env, _, at = CASES["q_learning"]
    agent = make_agent()
    with pytest.raises(KeyboardInterrupt):
        agent.learn(_CtrlCAt(make_env(), at), total_steps=5000)
    other = gym.make("FrozenLake-v1", map_name="8x8")  # same actions, other states
    with pytest.raises(
        ValueError,
        match=r"cannot continue on FrozenLake-v1: its observation "
        r"and action spaces are \['Discrete\(64\)'",
    ):
        agent.learn(other, total_steps=10, reset_num_timesteps=False)
    slippery = gym.make("FrozenLake-v1", is_slippery=False)  # same spaces, other dynamics
    with pytest.raises(
        ValueError,
        match=r"cannot continue on FrozenLake-v1: replaying the "
        r"\d+ actions .* not deterministic",
    ):
        agent.learn(slippery, total_steps=10, reset_num_timesteps=False)


def test_reset_num_timesteps_true_forgets_the_interrupted_run():
    make_agent, make_env, total, at = CASES["q_learning"]
    agent = make_agent()
    with pytest.raises(KeyboardInterrupt):
        agent.learn(_CtrlCAt(make_env(), at), total_steps=total)
    agent.learn(make_env(), total_steps=total)
    _assert_same(_learned(agent), _learned(make_agent().learn(make_env(), total_steps=total)))


CLI_RUNS = {
    "q_learning": ["--env", "FrozenLake-v1", "--agent", "q_learning", "--steps", "40000",
                   "--set", "epsilon_schedule='linear'"],
    "dqn": ["--env", "CartPole-v1", "--agent", "dqn", "--steps", "3000", "--set",
            "learning_starts=100", "--set", "hidden_sizes=[8]", "--set", "batch_size=8",
            "--set", "target_update_interval=200"],
}  # fmt: skip


def _ctrl_c_a_run(args, run_dir):
    """``theta rl`` in a child process, sent SIGINT as soon as it has started training."""
    child = subprocess.Popen([sys.executable, "-m", "theta", "rl", *args, "--out", str(run_dir)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (run_dir / "config.json").exists() and child.poll() is None:
        assert time.monotonic() < deadline, "theta rl did not start training"
        time.sleep(0.01)
    time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    return child.returncode, out, err


@pytest.mark.parametrize("agent", sorted(CLI_RUNS))
def test_theta_rl_ctrl_c_then_resume_ends_as_an_uninterrupted_run(agent, theta_cli, tmp_path):
    args = [*CLI_RUNS[agent], "--seed", "3", "--eval-episodes", "5", "--quiet"]
    stopped = tmp_path / "stopped"
    code, _, err = _ctrl_c_a_run(args, stopped)
    assert code == 130, err
    assert "Traceback" not in err
    summary = json.loads((stopped / "summary.json").read_text())
    step = summary["steps"]
    assert 0 < step < int(args[args.index("--steps") + 1])
    assert f"interrupted at step {step} " in err
    assert f"saved to {stopped / 'agent'}" in err
    assert f"Resume with: theta rl --out {stopped} --resume" in err
    assert summary["stopped_reason"] == f"interrupted at step {step}"
    assert io.load(stopped / "agent").n_steps_ == step  # the agent as trained so far
    assert (stopped / "returns.csv").is_file()

    resumed = theta_cli("rl", "--out", str(stopped), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    whole = tmp_path / "whole"
    assert theta_cli("rl", *args, "--out", str(whole)).returncode == 0
    assert (stopped / "returns.csv").read_bytes() == (whole / "returns.csv").read_bytes()
    _assert_same(_learned(io.load(stopped / "agent")), _learned(io.load(whole / "agent")))
    a, b = (json.loads((d / "summary.json").read_text()) for d in (stopped, whole))
    for key in ("steps", "episodes", "eval_mean_return", "eval_std_return", "stopped_reason"):
        assert a[key] == b[key], key
    again = theta_cli("rl", "--out", str(stopped), "--resume")
    assert again.returncode == 0 and "already reached its budget" in again.stdout


@pytest.mark.parametrize(
    "args, named",
    [
        (["--resume"], "--resume needs --out"),
        (["--out", "{tmp}/none", "--resume"], "no run to continue in"),
        (["--out", "{tmp}/r", "--resume", "--set", "gamma=0.5"], "--set cannot be given"),
        (["--out", "{tmp}/r", "--resume", "--env", "CartPole-v1"], "--env cannot be given"),
    ],
)
def test_theta_rl_resume_misuse_is_named(args, named, theta_main, tmp_path):
    (tmp_path / "none").mkdir()
    code, _, err = theta_main("rl", *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert code in (1, 2) and named in err, err
    assert "Traceback" not in err


# --- non-finite values from the environment, and values that explode -------------------------


class _NanObsAt(gym.Wrapper):
    """Returns an observation of NaN at reset (``at == 0``) or at step ``at`` of an episode."""

    def __init__(self, env, at):
        super().__init__(env)
        self.at, self.t = at, 0

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.t = 0
        return (np.full_like(obs, np.nan) if self.at == 0 else obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        return (np.full_like(obs, np.nan) if self.t == self.at else obs), reward, terminated, \
            truncated, info  # fmt: skip


def test_nan_observation_at_reset_names_the_env_and_step_0():
    with pytest.raises(ValueError, match=r"CartPole-v1: .*observation with NaN .* at step 0"):
        CASES["dqn"][0]().learn(_NanObsAt(gym.make("CartPole-v1"), 0), total_steps=10)


@pytest.mark.parametrize("at", [0, 4])
def test_nan_observation_in_evaluation_names_the_env_step_and_episode(at):
    agent = CASES["dqn"][0]().learn(gym.make("CartPole-v1"), total_steps=60)
    with pytest.raises(ValueError, match=rf"CartPole-v1: .*observation with NaN or infinity at "
                                         rf"step {at} of evaluation episode 1"):  # fmt: skip
        agent.evaluate(_NanObsAt(gym.make("CartPole-v1"), at), episodes=2, seed=0)


def test_exploding_q_values_without_discount_are_caught_at_the_time_limit_bound():
    from theta.errors import DivergenceError

    # gamma = 1: values are bounded by the reward times CartPole's 500-step limit, not 1/(1-γ)
    agent = DQN(hidden_sizes=(16,), batch_size=16, gamma=1.0, learning_rate=100.0,
                max_grad_norm=math.inf, learning_starts=32, random_state=0)  # fmt: skip
    with pytest.raises(
        DivergenceError,
        match=r"DQN: Q-values reached .* at step \d+, beyond "
        r"the 5000 that rewards of size 1 allow",
    ):
        agent.learn(gym.make("CartPole-v1"), total_steps=3000)
