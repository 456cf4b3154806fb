"""Training speed against Stable-Baselines3: environment steps per second of SAC and PPO.

Each case trains from scratch, in a fresh process per implementation and thread mode, with
the same hyperparameters and network sizes on both sides (Stable-Baselines3's defaults, which
theta's agents share):

- ``SAC`` on Pendulum-v1: actor and twin critics 256-256 ReLU, batch 256, one update per
  step after 100 random steps, buffer 1M, lr 3e-4, automatic entropy coefficient.
- ``PPO`` on CartPole-v1: separate 64-64 tanh policy and value networks, orthogonal init,
  one environment, rollouts of 2048 steps, 10 epochs of minibatches of 64, lr 3e-4.

Modes: ``single`` (``torch.set_num_threads(1)``, ``theta.set_num_threads(1)``, BLAS on one
thread; timed by the process's CPU time, which a busy machine disturbs least) and
``threads`` (every library's default thread count, timed by wall time). The goal is theta ≥
1.5× Stable-Baselines3's steps per second.

``stable-baselines3`` is a benchmark-only dependency, installed without its dependencies so
that it uses the pinned CPU PyTorch: ``pip install --no-deps stable-baselines3 cloudpickle``.
``python benchmarks/bench_sb3.py [--steps-sac 5000] [--steps-ppo 8192] [--mode single]``
prints one line per case and mode, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src")


def _probe(impl: str, algo: str, steps: int, mode: str) -> dict[str, float]:
    """Train ``algo`` with ``impl`` for ``steps`` steps in this process; time it."""
    sys.path.insert(0, SRC)
    import gymnasium as gym
    import torch

    import theta

    if mode == "single":
        torch.set_num_threads(1)
        theta.set_num_threads(1)
    env_id = "Pendulum-v1" if algo == "sac" else "CartPole-v1"
    if impl == "theta":
        from theta import rl

        agent = rl.SAC(random_state=0) if algo == "sac" else rl.PPO(random_state=0)
        env = gym.make(env_id) if algo == "sac" else rl.make_vec(env_id, 1)

        def train() -> None:
            agent.learn(env, total_steps=steps, progress=False)
    else:
        import stable_baselines3 as sb3

        torch.manual_seed(0)
        cls = sb3.SAC if algo == "sac" else sb3.PPO
        model = cls("MlpPolicy", gym.make(env_id), seed=0, verbose=0, device="cpu")

        def train() -> None:
            model.learn(total_timesteps=steps, progress_bar=False)

    wall, cpu = time.perf_counter(), time.process_time()
    train()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "steps": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-sac", type=int, default=5000)
    parser.add_argument("--steps-ppo", type=int, default=8192)
    parser.add_argument("--mode", choices=["single", "threads", "both"], default="both")
    parser.add_argument("--algo", choices=["sac", "ppo", "both"], default="both")
    parser.add_argument("--probe", nargs=4, metavar=("IMPL", "ALGO", "STEPS", "MODE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.probe:
        impl, algo, steps, mode = args.probe
        print(json.dumps(_probe(impl, algo, int(steps), mode)))
        return 0
    modes = ["single", "threads"] if args.mode == "both" else [args.mode]
    algos = ["sac", "ppo"] if args.algo == "both" else [args.algo]
    for mode in modes:
        env = dict(os.environ)
        if mode == "single":
            env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        for algo in algos:
            steps = args.steps_sac if algo == "sac" else args.steps_ppo
            rates = {}
            for impl in ("theta", "sb3"):
                out = subprocess.run(
                    [sys.executable, __file__, "--probe", impl, algo, str(steps), mode],
                    env=env, check=True, capture_output=True, text=True,
                ).stdout  # fmt: skip
                result = json.loads(out.strip().splitlines()[-1])
                seconds = result["cpu"] if mode == "single" else result["wall"]
                rates[impl] = steps / seconds
                print(f"{algo.upper():4} {mode:8} {impl:6} {steps} steps: {seconds:7.1f} s "
                      f"({'CPU' if mode == 'single' else 'wall'}), {rates[impl]:7.0f} steps/s",
                      flush=True)  # fmt: skip
            print(f"{algo.upper():4} {mode:8} theta / SB3 steps per second: "
                  f"{rates['theta'] / rates['sb3']:.2f}x (goal >= 1.5x)", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
