"""Where does theta's time go? Phase splits, per-op costs, and profiles of both workloads.

    python benchmarks/profile_theta.py                # all sections, cProfile
    python benchmarks/profile_theta.py --pyinstrument # add pyinstrument call trees

Not a benchmark (nothing is written to RESULTS.md): a tool for finding theta's overhead.
Timings are best-of-N or lower quartiles (least disturbed by other load); compare them with
each other, not with figures from another run. Function-call counts are exact.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for _path in (HERE.parent / "src", HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def _us(fn: Callable[[], Any], number: int = 2000, repeat: int = 7) -> float:
    """Best-of-``repeat`` microseconds per call of ``fn`` (least disturbed by other load)."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return min(samples) * 1e6


def _q1(samples: list[float]) -> float:
    """Lower quartile: on a shared machine, closer to the undisturbed cost than the median."""
    return statistics.quantiles(samples, n=4, method="inclusive")[0]


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# --- chapter loop: phases ----------------------------------------------------------------


def chapter_phases(steps: int = 3000) -> str:
    """Microseconds per step in forward+loss, backward, update: theta, torch, NumPy."""
    import numpy as np
    import torch

    import theta

    def run_theta() -> list[list[float]]:
        X = theta.tensor(np.array([0.0, 1.0, 2.0, 3.0, 4.0]))
        y = 2.0 * X + 1.0
        w = theta.tensor(0.0, dtype=np.float64, requires_grad=True)
        b = theta.tensor(0.0, dtype=np.float64, requires_grad=True)
        phases: list[list[float]] = [[], [], []]
        clock = time.perf_counter
        for _ in range(steps):
            t0 = clock()
            loss = ((w * X + b - y) ** 2).mean()
            t1 = clock()
            loss.backward()
            t2 = clock()
            with theta.no_grad():
                for p in (w, b):
                    p -= 0.05 * p.grad
                    p.grad = None
            t3 = clock()
            for i, d in enumerate((t1 - t0, t2 - t1, t3 - t2)):
                phases[i].append(d)
        return phases

    def run_torch() -> list[list[float]]:
        X = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
        y = 2.0 * X + 1.0
        w = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        phases: list[list[float]] = [[], [], []]
        clock = time.perf_counter
        for _ in range(steps):
            t0 = clock()
            loss = ((w * X + b - y) ** 2).mean()
            t1 = clock()
            loss.backward()
            t2 = clock()
            with torch.no_grad():
                for p in (w, b):
                    p -= 0.05 * p.grad
                    p.grad = None
            t3 = clock()
            for i, d in enumerate((t1 - t0, t2 - t1, t3 - t2)):
                phases[i].append(d)
        return phases

    def run_numpy() -> list[list[float]]:
        X = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
        y = 2.0 * X + 1.0
        w, b = 0.0, 0.0
        phases: list[list[float]] = [[], [], []]
        clock = time.perf_counter
        for _ in range(steps):
            t0 = clock()
            err = w * X + b - y
            np.mean(err**2)
            t1 = clock()
            grad_w = np.mean(2 * err * X)
            grad_b = np.mean(2 * err)
            t2 = clock()
            w -= 0.05 * grad_w
            b -= 0.05 * grad_b
            t3 = clock()
            for i, d in enumerate((t1 - t0, t2 - t1, t3 - t2)):
                phases[i].append(d)
        return phases

    rows = []
    for name, fn in (("theta", run_theta), ("torch", run_torch), ("numpy", run_numpy)):
        fn()  # warm up
        meds = [_q1(p) * 1e6 for p in fn()]
        rows.append((name, *(f"{m:.1f}" for m in meds), f"{sum(meds):.1f}"))
    return _table(rows, ("impl", "forward+loss µs", "backward µs", "update µs", "step µs"))


# --- per-op costs ------------------------------------------------------------------------


def per_op_costs() -> str:
    """What one small op costs in theta, and what each piece of theta's machinery costs."""
    import numpy as np
    import torch

    import theta
    from theta.autograd import engine
    from theta.autograd.function import Context
    from theta.autograd.ops.elementwise import Mul
    from theta.autograd.tensor import Tensor, as_tensor

    xs = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    X = theta.tensor(xs)
    w = theta.tensor(0.5, dtype=np.float64, requires_grad=True)
    b = theta.tensor(0.1, dtype=np.float64, requires_grad=True)
    y = 2.0 * X + 1.0
    tX = torch.tensor(xs)
    tw = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    wf = 0.5

    def chapter_graph() -> Tensor:
        return ((w * X + b - y) ** 2).mean()

    loss = chapter_graph()
    seed = np.ones_like(loss.data)

    def backward_once() -> None:
        chapter_graph().backward()
        w.grad = b.grad = None

    def no_grad_block() -> None:
        with theta.no_grad():
            pass

    def inplace_update() -> None:
        with theta.no_grad():
            w.__isub__(0.0 * w.data)

    rows = [
        ("numpy: `w * X` (float × 5-vector)", _us(lambda: wf * xs)),
        ("torch: `w * X`, requires_grad", _us(lambda: tw * tX)),
        ("theta: `w * X`, requires_grad (Tensor.__mul__)", _us(lambda: w * X)),
        ("theta: `Mul.apply(w, X)` (skips _binary)", _us(lambda: Mul.apply(w, X))),
        ("theta: `Mul.forward` alone (the NumPy work)", _us(lambda: w.data * X.data)),
        ("theta: `w * X` under no_grad", None),
        ("theta: `X * 2.0` (scalar → as_tensor)", _us(lambda: X * 2.0)),
        ("theta: `as_tensor(2.0, like=X)`", _us(lambda: as_tensor(2.0, like=X))),
        ("theta: `Context(Mul, (w, X), {})`", _us(lambda: Context(Mul, (w, X), {}))),
        ("theta: `Tensor._from_op(data, None)`", _us(lambda: Tensor._from_op(xs, None))),
        ("theta: `with theta.no_grad(): pass`", _us(no_grad_block)),
        ("theta: in-place `p -= …` under no_grad", _us(inplace_update)),
        ("theta: `(w*X+b-y)**2).mean()` forward, 6 ops", _us(chapter_graph)),
        ("theta: `_topological_order` of that graph", _us(lambda: engine._topological_order(loss))),
        ("theta: `engine.backward` of that graph", _us(lambda: engine.backward(loss, seed))),
        ("theta: forward + `backward()` of that graph", _us(backward_once)),
    ]
    with theta.no_grad():
        rows[5] = (rows[5][0], _us(lambda: w * X))
    w.grad = b.grad = None
    return _table([(name, f"{v:.2f}") for name, v in rows], ("operation", "µs per call"))


# --- MLP phases --------------------------------------------------------------------------


def mlp_phases(repeat: int = 40) -> str:
    """Milliseconds per MLP step in forward and backward: theta vs the NumPy floor."""
    import numpy as np

    import bench_autograd as B
    import theta

    p = B.mlp_problem()
    params = {k: theta.tensor(p[k].copy(), requires_grad=True) for k in B.PARAMS}
    W1, b1, W2, b2, W3, b3 = (params[k] for k in B.PARAMS)
    x = theta.tensor(p["x"])
    rows_idx, t = np.arange(B.BATCH), p["t"]

    def forward() -> Any:
        h1 = theta.relu(x @ W1 + b1)
        h2 = theta.relu(h1 @ W2 + b2)
        return -theta.log_softmax(h2 @ W3 + b3, axis=-1)[rows_idx, t].mean()

    def fwd_bwd() -> tuple[float, float]:
        for q in params.values():
            q.grad = None
        t0 = time.perf_counter()
        loss = forward()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1

    floor_step = B.make_mlp_numpy(p)[0]
    for _ in range(3):
        fwd_bwd()
        floor_step()
    f, bw, fl = [], [], []
    for _ in range(repeat):
        a, c = fwd_bwd()
        f.append(a)
        bw.append(c)
        start = time.perf_counter()
        floor_step()
        fl.append(time.perf_counter() - start)
    med = _q1
    rows = [
        ("theta forward (graph recorded)", f"{med(f) * 1e3:.2f}"),
        ("theta backward", f"{med(bw) * 1e3:.2f}"),
        ("theta step", f"{(med(f) + med(bw)) * 1e3:.2f}"),
        ("numpy floor step (forward + backward)", f"{med(fl) * 1e3:.2f}"),
    ]
    return _table(rows, ("phase", "ms"))


# --- profiles ----------------------------------------------------------------------------


def _cprofile(fn: Callable[[], Any], top: int, steps: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    print(f"{stats.total_calls / steps:.0f} function calls per step (exact)\n", file=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


def _pyinstrument(fn: Callable[[], Any]) -> str:
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument is not installed (pip install pyinstrument)"
    profiler = Profiler(interval=0.0002)
    profiler.start()
    fn()
    profiler.stop()
    return profiler.output_text(unicode=True, color=False, show_all=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyinstrument", action="store_true", help="add pyinstrument trees")
    parser.add_argument("--threads", type=int, help="BLAS and torch threads")
    parser.add_argument("--top", type=int, default=25, help="rows of each cProfile table")
    args = parser.parse_args(argv)

    import bench_autograd as B
    from harness import configure_threads

    print("threads:", configure_threads(args.threads), "\n")
    print("## Chapter loop: time per step by phase (lower quartile of 3000 steps)\n")
    print(chapter_phases(), "\n")
    print("## Per-op costs (best of 7 repeats, µs per call)\n")
    print(per_op_costs(), "\n")
    print("## MLP step by phase (lower quartile of 40)\n")
    print(mlp_phases(), "\n")

    p = B.mlp_problem()
    mlp_step = B.make_mlp_theta(p)[0]
    for _ in range(3):
        mlp_step()

    def mlp_many() -> None:
        for _ in range(60):
            mlp_step()

    print("## cProfile: theta chapter loop, 2000 steps (sorted by own time)\n")
    print(_cprofile(lambda: B.chapter_theta(2000), args.top, 2000))
    print("## cProfile: theta MLP step x 60 (sorted by own time)\n")
    print(_cprofile(mlp_many, args.top, 60))
    if args.pyinstrument:
        print("## pyinstrument: theta chapter loop, 2000 steps\n")
        print(_pyinstrument(lambda: B.chapter_theta(2000)))
        print("## pyinstrument: theta MLP step x 60\n")
        print(_pyinstrument(mlp_many))
    return 0


if __name__ == "__main__":
    sys.exit(main())
