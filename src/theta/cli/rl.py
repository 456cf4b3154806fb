"""``theta rl``: train an agent on an environment, evaluate it, and write a run folder.

The run folder holds ``config.json`` (environment, agent, hyperparameters, budget),
``returns.csv`` (every training episode's return and length), ``summary.json``, the trained
agent (``agent/`` through :mod:`theta.io` when it can save agents, else ``agent.safetensors``
written here: learned arrays and network parameters, with the hyperparameters as metadata),
``reward_curve.png`` and, for a bandit, ``regret.png`` (with the ``plot`` extra). Every file
is written atomically.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io as _io
import json
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
from theta.cli.runs import claim_run_dir, saved_note
from theta.errors import InvalidParameterError
from theta.nn import Module
from theta.params import registry_name
from theta.plot import reward_curve
from theta.rl import (
    DQN,
    REINFORCE,
    SARSA,
    UCB1,
    EpsilonGreedy,
    QLearning,
    ThompsonSampling,
    make,
)  # fmt: skip
from theta.rl.envs import env_id
from theta.tensorfile import atomic_write_text, jsonable, write_tensors

__all__ = ["AGENTS", "add_parser", "run"]

AGENTS: dict[str, type] = {
    "dqn": DQN, "reinforce": REINFORCE, "q_learning": QLearning, "sarsa": SARSA,
    "epsilon_greedy": EpsilonGreedy, "ucb1": UCB1, "thompson": ThompsonSampling,
}  # fmt: skip
# A budget that learns something on each agent's usual test bed when none is given.
DEFAULT_BUDGET: dict[str, tuple[str, int]] = {
    "dqn": ("steps", 50_000), "reinforce": ("episodes", 1000), "q_learning": ("episodes", 2000),
    "sarsa": ("episodes", 2000), "epsilon_greedy": ("steps", 10_000), "ucb1": ("steps", 10_000),
    "thompson": ("steps", 10_000),
}  # fmt: skip
RUN_KEYS = ("env", "agent", "steps", "episodes", "seed", "eval_episodes")


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
        "  theta rl --env Bandit-v0 --agent thompson --steps 10000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", metavar="ID", help="environment id (default CartPole-v1)")
    parser.add_argument("--agent", choices=sorted(AGENTS), help="the learner (default dqn)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=positive_int, metavar="N", help="environment steps")
    budget.add_argument("--episodes", type=positive_int, metavar="N", help="episodes")
    parser.add_argument("--seed", type=count, metavar="S", help="random seed (default 0)")
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
        help="an agent hyperparameter (repeatable), e.g. --set gamma=0.99",
    )
    parser.add_argument(
        "--config",
        metavar="FILE.toml",
        help="hyperparameters (and run keys: " + ", ".join(RUN_KEYS) + ") from a TOML file",
    )
    parser.add_argument("--out", metavar="DIR", help="run folder (default runs/<agent>-<env>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--render", choices=["ansi"], help="print a text rollout of the result")
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
    settings.setdefault("env", "CartPole-v1")
    settings.setdefault("agent", "dqn")
    settings.setdefault("seed", 0)
    settings.setdefault("eval_episodes", 100)
    if settings["agent"] not in AGENTS:
        _unknown("agent", settings["agent"], AGENTS)
    if "steps" not in settings and "episodes" not in settings:
        kind, n = DEFAULT_BUDGET[settings["agent"]]
        settings[kind] = n
    for key in ("steps", "episodes", "eval_episodes", "seed"):
        value = settings.get(key)
        low = 0 if key == "seed" else 1
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < low
        ):
            raise ConfigError(f"config key {key!r}: must be an integer >= {low} (got {value!r})")
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
    settings, hyperparameters = resolve(args)
    agent = _build_agent(settings, hyperparameters)
    config = {**settings, "hyperparameters": jsonable(agent.get_params(deep=False))}
    if args.dry_run:
        print(json.dumps(config, indent=2), file=out)
        return 0
    name = settings["env"]
    run_dir = claim_run_dir(args.out or Path("runs") / f"{settings['agent']}-{_slug(name)}",
                            overwrite=args.overwrite)
    env = _make_env(name)
    if args.render and "ansi" not in env.metadata.get("render_modes", []):
        modes = ", ".join(env.metadata.get("render_modes", [])) or "none"
        raise ConfigError(f"--render ansi: {name} has no text rendering (its modes: {modes})")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
    started = time.perf_counter()
    agent.learn(
        env,
        total_steps=settings.get("steps"),
        episodes=settings.get("episodes"),
        progress=False if args.quiet else None,
    )
    seconds = time.perf_counter() - started
    eval_env = _make_env(name)
    mean, std = agent.evaluate(eval_env, settings["eval_episodes"], seed=settings["seed"] + 1)
    saved = _save_agent(agent, run_dir)
    returns = agent.episode_returns_
    _write_returns(run_dir / "returns.csv", returns, agent.episode_lengths_)
    summary = {
        "env": env_id(env), "agent": settings["agent"], "steps": agent.n_steps_,
        "episodes": len(returns), "seconds": round(seconds, 3),
        "steps_per_second": round(agent.n_steps_ / seconds, 1) if seconds > 0 else None,
        "train_mean_return_last_100": float(np.mean(returns[-100:])) if returns else None,
        "eval_episodes": settings["eval_episodes"], "eval_mean_return": mean,
        "eval_std_return": std, "agent_saved_as": saved,
    }  # fmt: skip
    if hasattr(agent, "regret_"):
        summary["final_regret"] = float(agent.regret_[-1])
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    title = f"{settings['agent']} on {name}"
    drawn = bool(returns) and draw(reward_curve, returns, run_dir / "reward_curve.png",
                                   title=title)  # fmt: skip
    if hasattr(agent, "regret_"):
        drawn = regret_picture(run_dir, {settings["agent"]: agent.regret_}, title) and drawn
    print(
        f"trained {settings['agent']} on {name}: {agent.n_steps_} steps, {len(returns)} "
        f"episodes, {seconds:.1f} s",
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
    return 0


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _save_agent(agent: Any, run_dir: Path) -> str:
    """Save with ``theta.io.save`` if it takes agents; otherwise write ``agent.safetensors``."""
    try:
        io.save(agent, run_dir / "agent", overwrite=True)
        return "agent/ (theta.io.save)"
    except (TypeError, AttributeError):  # theta.io that saves modules only
        pass
    tensors: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    for key, value in vars(agent).items():
        if not (key.endswith("_") or key.startswith("_")) or key in agent._get_param_names():
            continue
        if isinstance(value, Module):
            tensors.update({f"{key}.{k}": v for k, v in value.state_dict().items()})
        elif isinstance(value, np.ndarray):
            tensors[key] = value
        elif isinstance(value, list) and all(isinstance(v, int | float) for v in value):
            tensors[key] = np.asarray(value, dtype=np.float64)
        elif isinstance(value, int | float | str):
            scalars[key] = value
    meta = {
        "class": registry_name(type(agent)),
        "hyperparameters": json.dumps(jsonable(agent.get_params(deep=False))),
        "scalars": json.dumps(scalars),
    }
    write_tensors(run_dir / "agent.safetensors", tensors, meta)
    return "agent.safetensors (learned arrays; theta.io could not save agents)"


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
