"""Does an agent solve its environment on every seed? One row per seed, run in parallel.

Not a speed benchmark: each seed trains from scratch for the agent's budget with an
evaluation callback (``learn(..., eval_env=, eval_freq=, n_eval_episodes=)``) that keeps the
best policy, and the kept policy is then judged over ``--final-episodes`` fresh episodes
(seeded apart from training and from the callback's episodes). Cases:

- ``dqn-cartpole``: ``theta.rl.DQN`` on CartPole-v1 with Stable-Baselines3 zoo's CartPole
  settings (lr 2.3e-3, 256-256, batch 64, buffer 100k, learning_starts 1000, target update
  every 10 steps, train_freq 256 with 128 gradient steps, ε 1 → 0.04 over 8,000 steps),
  100,000 steps (the zoo trains 50,000, after which one seed in ten had not yet had a policy
  that held the pole for 500 steps), evaluated every 2,500 steps over 20 episodes; solved =
  mean ≥ 475 over 100 episodes.
- ``sac-pendulum``: ``theta.rl.SAC`` on Pendulum-v1 with the zoo's settings (SB3's defaults,
  lr 1e-3), 20,000 steps; solved = mean ≥ -200 over 20 episodes.

``python benchmarks/bench_rl_seeds.py dqn-cartpole --seeds 10 --jobs 2`` prints the seeds ×
results table and, with ``--out FILE``, puts it there as that case's section (atomically;
e.g. ``benchmarks/RESULTS_RL.md``). Every process uses one BLAS thread: several processes on a
few cores with threaded BLAS each run many times slower.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy starts its pool
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

CASES: dict[str, dict[str, Any]] = {
    "dqn-cartpole": {
        "agent": "DQN",
        "env": "CartPole-v1",
        "params": {"learning_rate": 2.3e-3, "hidden_sizes": (256, 256), "batch_size": 64,
                   "buffer_size": 100_000, "learning_starts": 1000, "gamma": 0.99,
                   "target_update_interval": 10, "train_freq": 256, "gradient_steps": 128,
                   "epsilon_final": 0.04, "epsilon_decay_steps": 8000},
        "steps": 100_000, "eval_freq": 2500, "n_eval_episodes": 20,
        "final_episodes": 100, "threshold": 475.0,
    },
    "sac-pendulum": {
        "agent": "SAC",
        "env": "Pendulum-v1",
        "params": {"learning_rate": 1e-3},
        "steps": 20_000, "eval_freq": 2000, "n_eval_episodes": 5,
        "final_episodes": 20, "threshold": -200.0,
    },
}  # fmt: skip


HEADER = (
    "# Reinforcement learning: seeds × results\n\n"
    "Written by `benchmarks/bench_rl_seeds.py CASE --out benchmarks/RESULTS_RL.md`; one "
    "section per case, its latest run.\n"
)


def run_seed(case_name: str, seed: int, steps: int | None) -> dict[str, Any]:
    """Train one seed, keep the best policy, judge it; returns one table row."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    import theta
    from theta import rl

    theta.set_num_threads(1)
    case = CASES[case_name]
    budget = steps or case["steps"]
    agent = getattr(rl, case["agent"])(**case["params"], random_state=seed)
    env, eval_env, final_env = (rl.make(case["env"]) for _ in range(3))
    started = time.perf_counter()
    agent.learn(env, total_steps=budget, eval_env=eval_env, eval_freq=case["eval_freq"],
                n_eval_episodes=case["n_eval_episodes"], progress=False)  # fmt: skip
    seconds = time.perf_counter() - started
    final_seed = 1_000_000 + seed  # episodes neither training nor the callback saw
    last, _ = agent.evaluate(final_env, case["final_episodes"], seed=final_seed)
    best_step = max(agent.evaluations_, key=lambda e: e[1])[0]
    if case["agent"] == "DQN":
        agent.use_best_policy()
    else:
        agent.actor_ = agent.best_policy_
    kept, kept_std = agent.evaluate(final_env, case["final_episodes"], seed=final_seed)
    return {"seed": seed, "steps": agent.n_steps_, "best_eval": agent.best_mean_return_,
            "best_step": best_step, "last": last, "kept": kept, "kept_std": kept_std,
            "solved": kept >= case["threshold"], "seconds": seconds}  # fmt: skip


def table(case_name: str, rows: list[dict[str, Any]]) -> str:
    case = CASES[case_name]
    n = case["final_episodes"]
    lines = [
        f"### {case['agent']} on {case['env']} ({case_name})",
        "",
        f"Kept policy = best of the evaluations every {case['eval_freq']} steps "
        f"({case['n_eval_episodes']} episodes each); judged over {n} fresh episodes; solved = "
        f"mean ≥ {case['threshold']:g}. Hyperparameters: {case['params']}.",
        "",
        f"| seed | steps | best callback mean (step) | last policy, {n} ep. | kept policy, "
        f"{n} ep. | solved | train s |",
        "|---:|---:|---:|---:|---:|:---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['steps']} | {r['best_eval']:.1f} ({r['best_step']}) | "
            f"{r['last']:.1f} | {r['kept']:.1f} ± {r['kept_std']:.1f} | "
            f"{'✓' if r['solved'] else '✗'} | {r['seconds']:.0f} |"
        )
    solved = sum(r["solved"] for r in rows)
    lines += ["", f"Solved on {solved} of {len(rows)} seeds.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="budget (default: the case's)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="processes")
    parser.add_argument("--out", help="markdown file to write the table to")
    args = parser.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_seed, args.case, s, args.steps) for s in seeds]
        rows = []
        for future in futures:
            rows.append(future.result())
            r = rows[-1]
            print(f"seed {r['seed']}: kept {r['kept']:.1f}, last {r['last']:.1f}, "
                  f"{r['seconds']:.0f} s", flush=True)  # fmt: skip
    text = table(args.case, rows)
    print(text)
    if args.out:
        write_section(args.out, text)
    return 0


def write_section(path: str, text: str) -> None:
    """Put the table ``text`` into the markdown file ``path`` (atomically), replacing the
    section with the same heading if there is one, so each case's latest run is kept."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    from theta.tensorfile import atomic_write_text

    old = open(path, encoding="utf-8").read() if os.path.exists(path) else HEADER
    heading = text.splitlines()[0]
    sections = [s for s in old.split("\n### ")[1:] if not f"### {s}".startswith(heading)]
    body = [f"### {s.rstrip()}\n" for s in sections] + [text]
    atomic_write_text(path, HEADER + "\n" + "\n".join(sorted(body)))


if __name__ == "__main__":
    raise SystemExit(main())
