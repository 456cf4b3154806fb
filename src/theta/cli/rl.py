"""``theta rl``: train an agent on an environment, evaluate it, and write a run folder.

The run folder holds ``config.json`` (environment, agent, hyperparameters, budget),
``returns.csv`` (every training episode's return and length), ``summary.json``, the trained
agent (``agent/``, through :mod:`theta.io`), ``reward_curve.png`` and, for a bandit,
``regret.png`` (with the ``plot`` extra). Every file is written atomically.

``theta rl --eval RUN`` watches and evaluates the agent a run saved (an RL run's, or the
refitted best agent of a ``theta tune`` run) without training or writing anything.

Ctrl-C stops after the step in progress and writes the same files for what was done (the
agent saved with where it stopped; no evaluation); ``theta rl --out RUN --resume`` continues
it and ends exactly as a run that never stopped (see ``Agent.learn``'s
``reset_num_timesteps``).
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io as _io
import json
import numbers
import re
import time
import tomllib
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from theta import io
from theta.cli.argtypes import count, positive_int
from theta.cli.config import ConfigError, load_toml
from theta.cli.pictures import draw, regret_picture
from theta.cli.runs import check_run_dir, claim_run_dir, run_status, saved_note
from theta.errors import InvalidParameterError
from theta.plot import reward_curve
from theta.rl import (
    A2C,
    DQN,
    PPO,
    REINFORCE,
    SAC,
    SARSA,
    UCB1,
    EpsilonGreedy,
    QLearning,
    ThompsonSampling,
    make,
    make_vec,
)  # fmt: skip
from theta.rl.envs import env_id
from theta.tensorfile import atomic_write_text, jsonable
from theta.validation import Interval, violation

__all__ = ["AGENTS", "add_parser", "run"]

AGENTS: dict[str, type] = {
    "dqn": DQN, "reinforce": REINFORCE, "q_learning": QLearning, "sarsa": SARSA,
    "epsilon_greedy": EpsilonGreedy, "ucb1": UCB1, "thompson": ThompsonSampling,
    "ppo": PPO, "a2c": A2C,
    "sac": SAC,
}  # fmt: skip
# A budget that learns something on each agent's usual test bed when none is given.
DEFAULT_BUDGET: dict[str, tuple[str, int]] = {
    "dqn": ("steps", 50_000), "reinforce": ("episodes", 1000), "q_learning": ("episodes", 2000),
    "sarsa": ("episodes", 2000), "epsilon_greedy": ("steps", 10_000), "ucb1": ("steps", 10_000),
    "thompson": ("steps", 10_000),
    "ppo": ("steps", 100_000), "a2c": ("steps", 100_000),
    "sac": ("steps", 20_000),
}  # fmt: skip
RUN_KEYS = ("env", "agent", "steps", "episodes", "seed", "eval_episodes", "n_envs")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rl",
        help="train a reinforcement-learning agent on a Gymnasium environment",
        description="Train an agent by trial and error, evaluate its greedy policy and write a "
        "run folder (config, returns.csv, summary.json, the agent, reward_curve.png; regret.png "
        "for a bandit).",
        epilog="examples:\n  theta rl --env CartPole-v1 --agent dqn --steps 50000\n"
        "  theta rl --env FrozenLake-v1 --agent q_learning --episodes 3000 --set gamma=0.99\n"
        "  theta rl --env CliffWalking-v1 --agent sarsa --render ansi\n"
        "  theta rl --env Bandit-v0 --agent thompson --steps 10000\n"
        "  theta rl --eval runs/sarsa-CliffWalking-v1 --episodes 20 --render ansi",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", metavar="ID",
                        help="environment id (default CartPole-v1; Pendulum-v1 for sac)")
    parser.add_argument("--agent", choices=sorted(AGENTS), help="the learner (default dqn)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=positive_int, metavar="N",
                        help="environment steps (default: the agent's budget, e.g. 50000 for "
                        "dqn and 10000 for the bandits)")  # fmt: skip
    budget.add_argument("--episodes", type=positive_int, metavar="N",
                        help="episodes (default: the agent's budget, e.g. 1000 for reinforce "
                        "and 2000 for q_learning and sarsa)")  # fmt: skip
    parser.add_argument("--seed", type=count, metavar="S", help="random seed (default 0)")
    parser.add_argument("--n-envs", type=positive_int, metavar="N", dest="n_envs",
                        help="environment copies stepped together, for ppo and a2c "
                        "(default 1)")  # fmt: skip
    parser.add_argument(
        "--eval-episodes",
        type=positive_int,
        metavar="N",
        dest="eval_episodes",
        help="greedy evaluation episodes (default 100)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="sets",
        help="an agent hyperparameter (repeatable), e.g. --set gamma=0.99 (default: none)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE.toml",
        help="hyperparameters (and run keys: " + ", ".join(RUN_KEYS) + ") from a TOML file "
        "(default: none)",
    )
    parser.add_argument("--out", metavar="DIR", help="run folder (default runs/<agent>-<env>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (stopped by Ctrl-C) from its config and saved agent; "
        "--steps/--episodes/--eval-episodes may change the budget",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--render", choices=["ansi"], help="print a text rollout of the result "
                        "(default: none)")  # fmt: skip
    parser.add_argument("--eval", metavar="RUN", dest="eval_run",
                        help="evaluate the agent saved in RUN (theta rl or theta tune) over "
                        "--episodes N greedy episodes (default 100), without training; with "
                        "--render ansi, watch one")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="check the config, print it, exit")
    parser.set_defaults(run=run)


def _parse_value(text: str) -> Any:
    """A ``--set`` value read as TOML (``0.1``, ``true``, ``[64, 64]``), else as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def resolve(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run settings and the agent's hyperparameters from ``--config``, ``--set`` and flags.

    Raises
    ------
    ConfigError
        For an unknown key (with the closest valid one), a malformed ``--set`` or a value out
        of range, naming the key.
    """
    values = load_toml(args.config) if args.config else {}
    settings = {key: values.pop(key) for key in RUN_KEYS if key in values}
    for item in args.sets:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE (got {item!r})")
        values[key.strip()] = _parse_value(text.strip())
    for key in RUN_KEYS:
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if settings.get("agent") == "sac":  # continuous actions: CartPole has none
        settings.setdefault("env", "Pendulum-v1")
    settings.setdefault("env", "CartPole-v1")
    settings.setdefault("agent", "dqn")
    settings.setdefault("seed", 0)
    settings.setdefault("eval_episodes", 100)
    if settings["agent"] not in AGENTS:
        _unknown("agent", settings["agent"], AGENTS)
    if "steps" not in settings and "episodes" not in settings:
        kind, n = DEFAULT_BUDGET[settings["agent"]]
        settings[kind] = n
    vectorised = "n_steps" in AGENTS[settings["agent"]]._get_param_names()
    if settings.get("n_envs", 1) != 1 and not vectorised:
        raise ConfigError(f"--n-envs: {settings['agent']} learns from one environment; "
                          "only ppo and a2c step several")  # fmt: skip
    for key in ("steps", "episodes", "eval_episodes", "seed", "n_envs"):
        allowed = Interval(numbers.Integral, 0 if key == "seed" else 1, None)
        why = None if settings.get(key) is None else violation(settings[key], allowed)
        if why is not None:
            raise ConfigError(f"config key {key!r}: {why}")
    cls = AGENTS[settings["agent"]]
    names = cls._get_param_names()
    for key in values:
        if key not in names:
            _unknown(f"hyperparameter of {settings['agent']}", key, names)
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()}
    values.setdefault("random_state", settings["seed"])
    return settings, values


def _unknown(what: str, key: str, valid: Any) -> None:
    close = difflib.get_close_matches(str(key), list(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown {what} {key!r}{hint} Valid: {', '.join(sorted(valid))}.")


def _build_agent(settings: dict[str, Any], hyperparameters: dict[str, Any]) -> Any:
    agent = AGENTS[settings["agent"]](**hyperparameters)
    try:
        agent._validate_params()  # out-of-range values are usage errors, found before training
    except InvalidParameterError as exc:
        raise ConfigError(str(exc)) from None
    return agent


def _make_env(name: str, **kwargs: Any) -> Any:
    try:
        return make(name, **kwargs)
    except ImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - Gymnasium's unknown-id errors are usage errors
        if type(exc).__module__.startswith("gymnasium"):
            raise ConfigError(f"--env {name}: {exc}") from None
        raise


def run(args: argparse.Namespace, out: TextIO) -> int:
    if args.eval_run is not None:
        return _evaluate_run(args, out)
    if args.resume:
        return _resume(args, out)
    settings, hyperparameters = resolve(args)
    agent = _build_agent(settings, hyperparameters)
    config = {**settings, "hyperparameters": jsonable(agent.get_params(deep=False))}
    if args.dry_run:
        print(json.dumps(config, indent=2), file=out)
        return 0
    name = settings["env"]
    env = _train_env(settings)
    _check_render(args, env, name)
    run_dir = claim_run_dir(args.out or Path("runs") / f"{settings['agent']}-{_slug(name)}",
                            overwrite=args.overwrite, kind="rl")  # fmt: skip
    with run_status(run_dir):
        atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
        _train(args, settings, agent, env, run_dir, out, steps=settings.get("steps"),
               episodes=settings.get("episodes"), seconds_before=0.0)  # fmt: skip
    return 0


def _train_env(settings: dict[str, Any]) -> Any:
    """The environment to learn on: ``--n-envs`` copies as one vector env, or a single one."""
    env = _make_env(settings["env"])  # unknown ids become usage errors here
    if settings.get("n_envs", 1) == 1:
        return env
    env.close()
    return make_vec(settings["env"], settings["n_envs"])


def _check_render(args: argparse.Namespace, env: Any, name: str) -> None:
    if args.render and "ansi" not in env.metadata.get("render_modes", []):
        modes = ", ".join(env.metadata.get("render_modes", [])) or "none"
        raise ConfigError(f"--render ansi: {name} has no text rendering (its modes: {modes})")


def _resume(args: argparse.Namespace, out: TextIO) -> int:
    """``--resume``: the run in ``--out`` continues from its ``config.json`` and ``agent/``."""
    if args.out is None:
        raise ConfigError("--resume needs --out RUN, the run folder to continue")
    changed = [flag for flag, value in (("--env", args.env), ("--agent", args.agent),
               ("--seed", args.seed), ("--config", args.config), ("--set", args.sets))
               if value]  # fmt: skip
    if changed or args.overwrite or args.dry_run:
        flags = changed + ["--overwrite"] * args.overwrite + ["--dry-run"] * args.dry_run
        raise ConfigError(
            f"--resume continues the run as its config.json says; {', '.join(flags)} cannot "
            "be given with it (only --steps, --episodes and --eval-episodes may change)"
        )
    run_dir = check_run_dir(args.out)
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"--resume: no run to continue in {run_dir} (config.json not found)"
        ) from None
    settings = {k: v for k, v in config.items() if k != "hyperparameters"}
    if args.steps is not None or args.episodes is not None:
        settings.pop("steps", None)
        settings.pop("episodes", None)
    settings.update({k: getattr(args, k) for k in ("steps", "episodes", "eval_episodes")
                     if getattr(args, k) is not None})  # fmt: skip
    if not (run_dir / "agent").is_dir():
        raise FileNotFoundError(
            f"--resume: {run_dir} holds no saved agent (agent/ not found); the run stopped "
            "before its first step. Start it again with --overwrite."
        )
    agent = io.load(run_dir / "agent")
    if type(agent) is not AGENTS.get(settings.get("agent")):
        raise ValueError(
            f"--resume: {run_dir / 'agent'} holds a {type(agent).__name__}, but config.json "
            f"says agent {settings.get('agent')!r}"
        )
    if not hasattr(agent, "_progress"):
        raise ValueError(
            f"--resume: the agent in {run_dir / 'agent'} was saved without the state to "
            "continue from; start the run again with --overwrite."
        )
    steps_left = settings.get("steps")
    if steps_left is not None:
        steps_left -= agent.n_steps_
    episodes_left = settings.get("episodes")
    if episodes_left is not None:
        episodes_left -= len(agent.episode_returns_)
    if any(left is not None and left <= 0 for left in (steps_left, episodes_left)):
        print(f"run {run_dir} already reached its budget ({agent.n_steps_} steps, "
              f"{len(agent.episode_returns_)} episodes); nothing to resume", file=out)  # fmt: skip
        return 0
    env = _train_env(settings)
    _check_render(args, env, settings["env"])
    before = _previous_seconds(run_dir)
    claim_run_dir(run_dir, overwrite=False, resume=True, kind="rl")  # every check has passed
    with run_status(run_dir):
        _train(args, settings, agent, env, run_dir, out, steps=steps_left,
               episodes=episodes_left, seconds_before=before)  # fmt: skip
    return 0


def _evaluate_run(args: argparse.Namespace, out: TextIO) -> int:
    """``--eval RUN``: the saved agent's greedy policy over ``--episodes`` episodes."""
    given = [flag for flag, value in (
        ("--env", args.env), ("--agent", args.agent), ("--steps", args.steps),
        ("--eval-episodes", args.eval_episodes), ("--set", args.sets), ("--config", args.config),
        ("--out", args.out), ("--overwrite", args.overwrite), ("--resume", args.resume),
        ("--dry-run", args.dry_run)) if value]  # fmt: skip
    if given:
        raise ConfigError(f"--eval evaluates a saved agent on its run's environment; "
                          f"{', '.join(given)} cannot be given with it (--episodes, --seed "
                          "and --render can)")  # fmt: skip
    run_dir = check_run_dir(args.eval_run)
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = None
    config = config if isinstance(config, dict) else {}
    tuned = config.get("estimator") if isinstance(config.get("estimator"), dict) else {}
    name = config.get("env") or tuned.get("env")  # an RL run's, or a search's over an agent
    if not isinstance(name, str) or not (run_dir / "agent").is_dir():
        raise FileNotFoundError(
            f"--eval: {run_dir} holds no saved agent and environment (agent/ and config.json "
            "with env, from theta rl or a theta tune search over an agent)"
        )
    agent = io.load(run_dir / "agent")
    episodes, seed = args.episodes or 100, args.seed or 0
    env = _make_env(name)
    _check_render(args, env, name)
    mean, std = agent.evaluate(env, episodes, seed=seed + 1)  # as the run's own evaluation
    print(f"{type(agent).__name__} from {run_dir} on {name}: mean return {mean:.4g} (std "
          f"{std:.3g}) over {episodes} greedy episodes", file=out)  # fmt: skip
    if args.render:
        _render(agent, name, seed, out)
    return 0


def _previous_seconds(run_dir: Path) -> float:
    """Training time already spent, from the summary the stopped run wrote."""
    try:
        return float(json.loads((run_dir / "summary.json").read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def _train(args: argparse.Namespace, settings: dict[str, Any], agent: Any, env: Any,
           run_dir: Path, out: TextIO, *, steps: int | None, episodes: int | None,
           seconds_before: float) -> None:  # fmt: skip
    """Learn (on from where ``agent`` stopped when resuming), evaluate and write the run.

    On Ctrl-C the agent is saved as trained so far, with the returns, summary and pictures
    of what was done, and a KeyboardInterrupt saying where, and the command that resumes
    the run, goes on to ``theta.cli.main`` (which prints it; exit code 130).
    """
    name = settings["env"]
    started = time.perf_counter()
    try:
        agent.learn(env, total_steps=steps, episodes=episodes,
                    progress=False if args.quiet else None,
                    reset_num_timesteps=not args.resume)  # fmt: skip
    except KeyboardInterrupt:
        if not hasattr(agent, "_progress"):  # a second Ctrl-C, mid-step: nothing consistent
            raise KeyboardInterrupt(f"stopped mid-step; nothing saved to {run_dir}") from None
        seconds = seconds_before + time.perf_counter() - started
        reason = f"interrupted at step {agent.n_steps_}"
        saved = _write_run(settings, env_id(env), agent, run_dir, seconds, None, reason)[0]
        raise KeyboardInterrupt(
            f"{reason} (episode {len(agent.episode_returns_) + 1}); the agent as trained so "
            f"far is saved to {run_dir / saved.split()[0]}. Resume with: theta rl --out "
            f"{run_dir} --resume"
        ) from None
    seconds = seconds_before + time.perf_counter() - started
    eval_env = _make_env(name)
    evaluation = agent.evaluate(eval_env, settings["eval_episodes"], seed=settings["seed"] + 1)
    _, drawn = _write_run(settings, env_id(env), agent, run_dir, seconds, evaluation, None)
    mean, std = evaluation
    print(
        f"trained {settings['agent']} on {name}: {agent.n_steps_} steps, "
        f"{len(agent.episode_returns_)} episodes, {seconds:.1f} s",
        file=out,
    )
    print(
        f"evaluation over {settings['eval_episodes']} episodes: mean return {mean:.4g} "
        f"(std {std:.3g})",
        file=out,
    )
    if args.render:
        _render(agent, name, settings["seed"], out)
    print(saved_note(run_dir, drawn), file=out)


def _write_run(settings: dict[str, Any], env_name: str, agent: Any, run_dir: Path, seconds: float,
               evaluation: tuple[float, float] | None,
               stopped_reason: str | None) -> tuple[str, bool]:  # fmt: skip
    """Save the agent, ``returns.csv``, ``summary.json`` and the pictures; return how the
    agent was saved and whether the pictures were drawn."""
    saved = _save_agent(agent, run_dir)
    returns = agent.episode_returns_
    _write_returns(run_dir / "returns.csv", returns, agent.episode_lengths_)
    mean, std = evaluation if evaluation is not None else (None, None)
    summary = {
        "env": env_name, "agent": settings["agent"], "steps": agent.n_steps_,
        "episodes": len(returns), "seconds": round(seconds, 3),
        "steps_per_second": round(agent.n_steps_ / seconds, 1) if seconds > 0 else None,
        "train_mean_return_last_100": float(np.mean(returns[-100:])) if returns else None,
        "eval_episodes": settings["eval_episodes"] if evaluation is not None else 0,
        "eval_mean_return": mean, "eval_std_return": std, "agent_saved_as": saved,
        "stopped_reason": stopped_reason,
    }  # fmt: skip
    if hasattr(agent, "regret_"):
        summary["final_regret"] = float(agent.regret_[-1])
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    title = f"{settings['agent']} on {settings['env']}"
    drawn = bool(returns) and draw(reward_curve, returns, run_dir / "reward_curve.png",
                                   title=title)  # fmt: skip
    if hasattr(agent, "regret_"):
        drawn = regret_picture(run_dir, {settings["agent"]: agent.regret_}, title) and drawn
    return saved, drawn


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _save_agent(agent: Any, run_dir: Path) -> str:
    """Save the agent with ``theta.io.save`` (everything ``--resume`` needs); return where."""
    io.save(agent, run_dir / "agent", overwrite=True)
    return "agent/ (theta.io.save)"


def _write_returns(path: Path, returns: list[float], lengths: list[int]) -> None:
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["episode", "return", "length"])
    for i, (r, n) in enumerate(zip(returns, lengths, strict=True), start=1):
        writer.writerow([i, f"{r:.8g}", n])
    atomic_write_text(path, buffer.getvalue())


def _render(agent: Any, name: str, seed: int, out: TextIO, max_steps: int = 100) -> None:
    """One greedy episode, drawn as text after every step."""
    env = _make_env(name, render_mode="ansi")
    obs, _ = env.reset(seed=seed)
    print(env.render(), file=out)
    total = 0.0
    for step in range(1, max_steps + 1):
        obs, reward, terminated, truncated, _ = env.step(agent.predict(obs))
        total += float(reward)
        print(f"step {step}  reward {float(reward):g}", file=out)
        print(env.render(), file=out)
        if terminated or truncated:
            break
    print(f"rollout return {total:g} in {step} steps", file=out)
