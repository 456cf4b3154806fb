"""Where does theta's time go? Phase splits, per-op costs, and profiles of the workloads.

    python benchmarks/profile_theta.py                # all sections, cProfile
    python benchmarks/profile_theta.py --training     # only the full training steps
    python benchmarks/profile_theta.py --training --cpu-time  # CPU time, one thread (busy box)
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


# Wall time by default; ``--cpu-time`` switches the training sections to the calling thread's
# CPU time (with every library single-threaded), which time slicing on a busy machine leaves
# alone.
_CLOCK: list[Callable[[], float]] = [time.perf_counter]


def _us(fn: Callable[[], Any], number: int = 2000, repeat: int = 7) -> float:
    """Best-of-``repeat`` microseconds per call of ``fn`` (least disturbed by other load)."""
    clock = _CLOCK[0]
    fn()
    samples = []
    for _ in range(repeat):
        start = clock()
        for _ in range(number):
            fn()
        samples.append((clock() - start) / number)
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
    from theta.autograd._tensor import Tensor, as_tensor
    from theta.autograd.function import Context
    from theta.autograd.ops.elementwise import Mul

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


# --- full training steps (bench_training's workloads) ---------------------------------------


def training_phases(net: Any, optimizer: str, steps: int) -> str:
    """µs per training step by phase for theta, torch and the NumPy floor, steps interleaved.

    Lower quartile over ``steps`` steps; the floor's forward includes its loss (one function).
    """
    import torch.nn.functional as F

    import bench_training as T
    from theta.losses import cross_entropy

    p = T.problem(net)
    th, tc, fl = (make(net, p, optimizer) for make in (T.make_theta, T.make_torch, T.make_floor))
    clock = _CLOCK[0]

    def theta_phases() -> tuple[float, ...]:
        model, opt, x, t = (th.parts[k] for k in ("model", "optimizer", "x", "t"))
        t0 = clock()
        opt.zero_grad()
        t1 = clock()
        pred = model(x)
        t2 = clock()
        loss = cross_entropy(pred, t)
        t3 = clock()
        loss.backward()
        t4 = clock()
        opt.step()
        t5 = clock()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4

    def torch_phases() -> tuple[float, ...]:
        model, opt, x, t = (tc.parts[k] for k in ("model", "optimizer", "x", "t"))
        t0 = clock()
        opt.zero_grad()
        t1 = clock()
        pred = model(x)
        t2 = clock()
        loss = F.cross_entropy(pred, t)
        t3 = clock()
        loss.backward()
        t4 = clock()
        opt.step()
        t5 = clock()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4

    def floor_phases() -> tuple[float, ...]:
        params, x, t, rows, update = (fl.parts[k] for k in ("params", "x", "t", "rows", "update"))
        t0 = clock()
        _, cache = T._floor_forward(params, x, t, rows)
        t1 = clock()
        grads, _ = T._floor_backward(params, x, t, rows, cache)
        t2 = clock()
        update(grads)
        t3 = clock()
        return 0.0, t1 - t0, 0.0, t2 - t1, t3 - t2

    runs = {"theta": theta_phases, "torch": torch_phases, "numpy floor": floor_phases}
    samples: dict[str, list[list[float]]] = {k: [[] for _ in range(5)] for k in runs}
    for trainee in (th, tc, fl):
        trainee.reset()
    for i in range(steps + 5):
        for name, fn in runs.items():
            phases = fn()
            if i >= 5:  # warm-up: optimizer state, caches
                for j, d in enumerate(phases):
                    samples[name][j].append(d)
    rows = []
    for name, cols in samples.items():
        q = [_q1(c) * 1e6 for c in cols]
        total = _q1([sum(ph) for ph in zip(*cols, strict=True)]) * 1e6
        cells = [f"{v:.1f}" for v in q]
        if name == "numpy floor":
            cells[0], cells[1], cells[2] = "—", f"{q[1]:.1f} (with loss)", "—"
        rows.append((name, *cells, f"{total:.1f}"))
    header = ("impl", "zero_grad", "forward", "loss", "backward", "update", "step (q1 of sums)")
    return _table(rows, header)


def _flat_adam(params: list[Any], grads: list[Any]) -> Callable[[], None]:
    """The floor's Adam update, once over a flat copy of all parameters (each parameter a view
    into it), after copying the gradients into one flat buffer: what a "foreach"/flat-buffer
    optimizer would cost in NumPy. Works on copies; the real parameters are left alone."""
    import math

    import numpy as np

    import bench_training as T

    sizes = [a.size for a in params]
    flat_p = np.concatenate([a.ravel() for a in params])
    flat_g, m, v, buf = (np.zeros_like(flat_p) for _ in range(4))
    offsets = np.cumsum([0, *sizes])
    views = [
        flat_g[a:b].reshape(g.shape)
        for a, b, g in zip(offsets[:-1], offsets[1:], grads, strict=True)
    ]
    beta1, beta2 = T.BETAS
    count = [0]

    def update() -> None:
        for view, g in zip(views, grads, strict=True):
            np.copyto(view, g)  # in a real design backward would write here directly
        count[0] += 1
        step_size = T.ADAM_LR / (1.0 - beta1 ** count[0])
        bc2_sqrt = math.sqrt(1.0 - beta2 ** count[0])
        np.multiply(m, beta1, out=m)  # closures cannot rebind, so no augmented assignment
        np.multiply(flat_g, 1.0 - beta1, out=buf)
        np.add(m, buf, out=m)
        np.multiply(v, beta2, out=v)
        np.multiply(flat_g, flat_g, out=buf)
        np.multiply(buf, 1.0 - beta2, out=buf)
        np.add(v, buf, out=v)
        np.sqrt(v, out=buf)
        np.divide(buf, bc2_sqrt, out=buf)
        np.add(buf, T.EPS, out=buf)
        np.divide(m, buf, out=buf)
        np.multiply(buf, step_size, out=buf)
        np.subtract(flat_p, buf, out=flat_p)

    return update


def training_costs(net: Any) -> str:
    """What the pieces of a theta Adam step cost next to the floor's and torch's (best of 7)."""
    import numpy as np
    import torch.nn.functional as F

    import bench_training as T
    import theta
    from theta.autograd import engine
    from theta.autograd.function import Context
    from theta.losses import _CrossEntropy, cross_entropy
    from theta.nn.functional import Linear
    from theta.optim import Adam

    p = T.problem(net)
    th, fl, tc = (make(net, p, "Adam") for make in (T.make_theta, T.make_floor, T.make_torch))
    model, opt, x, t = (th.parts[k] for k in ("model", "optimizer", "x", "t"))
    params, fx, ft, frows, fupdate = (fl.parts[k] for k in ("params", "x", "t", "rows", "update"))
    tm, topt, tx, tt = (tc.parts[k] for k in ("model", "optimizer", "x", "t"))
    for trainee in (th, fl, tc):
        trainee.step()  # optimizer state made
    opt_nocheck = Adam(list(model.parameters()), lr=T.ADAM_LR, skip_nonfinite=False)
    layer = model.layers[0]
    n = 200 if net is T.SMALL else 20
    pred = model(x)  # a graph to hang losses on
    y = t.reshape(-1)
    loss_graph = cross_entropy(pred, t)
    seed = np.ones((), np.float32)

    def theta_grads() -> None:  # fresh gradients for the optimizer rows
        opt.zero_grad()
        cross_entropy(model(x), t).backward()

    def torch_grads() -> None:
        topt.zero_grad()
        F.cross_entropy(tm(tx), tt).backward()

    def theta_infer() -> Any:
        with theta.no_grad():
            return model(x)

    def floor_fwd_bwd() -> None:
        _, cache = T._floor_forward(params, fx, ft, frows)
        T._floor_backward(params, fx, ft, frows, cache)

    def engine_backward() -> None:  # re-runs every op's backward on the kept graph
        opt.zero_grad()
        engine.backward(loss_graph, seed, retain_graph=True)

    _, fgrads, _ = T._floor_grads(params, fx, ft, frows)
    flat_adam = _flat_adam(params, fgrads)
    # (label, callable, calls per repeat, setup run once before timing)
    rows: list[tuple[str, Callable[[], Any], int, Callable[[], Any] | None]] = [
        ("theta model(x), graph recorded", lambda: model(x), n, None),
        ("theta model(x) under no_grad", theta_infer, n, None),
        ("numpy floor forward + loss", lambda: T._floor_forward(params, fx, ft, frows), n, None),
        (
            "theta Linear.apply(x, W, b), first layer",
            lambda: Linear.apply(x, layer.weight, layer.bias),
            n,
            None,
        ),
        (
            "theta Linear.forward alone (its NumPy work)",
            lambda: Linear.forward(
                Context(Linear, (x, layer.weight, layer.bias), {}),
                x.data,
                layer.weight.data,
                layer.bias.data,
            ),
            n,
            None,
        ),
        (
            "theta Context(...) alone",
            lambda: Context(Linear, (x, layer.weight, layer.bias), {}),
            10 * n,
            None,
        ),
        (
            "theta cross_entropy(pred, t) (checks + apply)",
            lambda: cross_entropy(pred, t),
            10 * n,
            None,
        ),
        (
            "theta _CrossEntropy.apply alone (no checks)",
            lambda: _CrossEntropy.apply(pred, y=y, valid=None, weight=None, smoothing=0.0,
                                        reduction="mean"),
            10 * n,
            None,
        ),
        (
            "theta forward + loss + backward",
            lambda: cross_entropy(model(x), t).backward(),
            n,
            opt.zero_grad,
        ),
        ("theta engine.backward on a kept graph (+ zero_grad)", engine_backward, n, None),
        (
            "theta engine._count_uses of that graph",
            lambda: engine._count_uses(loss_graph),
            10 * n,
            None,
        ),
        ("numpy floor forward + loss + backward", floor_fwd_bwd, n, None),
        (
            "torch forward + loss + backward",
            lambda: F.cross_entropy(tm(tx), tt).backward(),
            n,
            topt.zero_grad,
        ),
        ("theta Adam optimizer.step() (default: skip_nonfinite=True)", opt.step, n, theta_grads),
        ("theta Adam optimizer.step() (skip_nonfinite=False)", opt_nocheck.step, n, theta_grads),
        ("theta optimizer._grads_finite() alone", opt._grads_finite, n, theta_grads),
        ("numpy floor Adam update", lambda: fupdate(fgrads), n, None),
        ("numpy Adam update on one flat buffer (+ gradient copy-in)", flat_adam, n, None),
        ("torch Adam optimizer.step()", topt.step, n, torch_grads),
        ("theta optimizer.zero_grad() (6 parameters)", opt.zero_grad, 10 * n, None),
        ("theta model.train() (Trainer.step calls it every step)", model.train, 10 * n, None),
        (
            "theta list(model.parameters()) (module walk)",
            lambda: list(model.parameters()),
            10 * n,
            None,
        ),
        ("torch optimizer.zero_grad()", topt.zero_grad, 10 * n, None),
    ]
    table = []
    for label, fn, number, setup in rows:
        if setup is not None:
            setup()
        table.append((label, f"{_us(fn, number):.1f}"))
    for trainee in (th, fl, tc):
        trainee.reset()
    return _table(table, ("operation", "µs per call"))


def training_profiles(top: int, pyinstrument: bool) -> None:
    """cProfile (and optionally pyinstrument) of theta's Adam step on both MLPs."""
    import bench_training as T

    for net, steps in ((T.LARGE, 40), (T.SMALL, 1000)):
        trainee = T.make_theta(net, T.problem(net), "Adam")
        for _ in range(3):
            trainee.step()

        def many(trainee: Any = trainee, steps: int = steps) -> None:
            trainee.reset()
            for _ in range(steps):
                trainee.step()

        title = f"theta Adam step, MLP {net.label} batch {net.batch}, x {steps}"
        print(f"## cProfile: {title} (sorted by own time)\n")
        print(_cprofile(many, top, steps))
        if pyinstrument:
            print(f"## pyinstrument: {title}\n")
            print(_pyinstrument(many))


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


def _function_classes() -> list[type]:
    from theta.autograd import Function

    found, todo = [], [Function]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        found += [cls] if "forward" in vars(cls) else []
    return found


def gpt_ops(steps: int = 12) -> str:
    """Where the GPT step's time goes: every op's forward and backward summed by its Function
    class (its own time, without the ops it calls), the optimizer, and the rest (Python around
    the ops), ms per step, with the compiled kernels on and off (lower quartile of ``steps``
    timed steps after three untimed)."""
    import bench_gpt as G
    from theta import kernels

    clock = _CLOCK[0]
    spent: dict[str, float] = {}
    patched = []

    inner = [0.0]  # time of the ops an op calls itself (LinearGELU calls Linear's backward)

    def timed(name: str, fn: Callable[..., Any]) -> staticmethod:
        def run(*args: Any, **kwargs: Any) -> Any:
            outer, inner[0] = inner[0], 0.0
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = clock() - start
                spent[name] = spent.get(name, 0.0) + elapsed - inner[0]
                inner[0] = outer + elapsed

        return staticmethod(run)

    for cls in _function_classes():
        for phase in ("forward", "backward"):
            if phase in vars(cls):
                patched.append((cls, phase, vars(cls)[phase]))
                setattr(cls, phase, timed(f"{cls.__name__}.{phase}", getattr(cls, phase)))
    columns: dict[str, dict[str, float]] = {}
    try:
        for backend in kernels.available_backends():
            trainee = G.make_theta()
            optimizer_step = _wrap_optimizer(trainee, spent, clock)
            with kernels.use_backend(backend):
                samples: list[dict[str, float]] = []
                for i in range(steps + 3):
                    spent.clear()
                    start = clock()
                    trainee.step()
                    spent["total"] = clock() - start
                    if i >= 3:
                        samples.append(dict(spent))
            optimizer_step()
            names = {name for sample in samples for name in sample}
            columns[backend] = {n: _q1([x.get(n, 0.0) for x in samples]) * 1e3 for n in names}
    finally:
        for cls, phase, original in patched:
            setattr(cls, phase, original)
    backends = list(columns)
    names = sorted({n for c in columns.values() for n in c} - {"total"},
                   key=lambda n: -columns[backends[0]].get(n, 0.0))  # fmt: skip
    rows = []
    for name in names:
        rows.append((name, *(f"{columns[b].get(name, 0.0):.2f}" for b in backends)))
    rest = {b: columns[b]["total"] - sum(v for k, v in columns[b].items() if k != "total")
            for b in backends}  # fmt: skip
    rows.append(("rest (Python between ops, zero_grad, loss.item)",
                 *(f"{rest[b]:.2f}" for b in backends)))  # fmt: skip
    rows.append(("**whole step**", *(f"**{columns[b]['total']:.2f}**" for b in backends)))
    return _table(rows, ("ms per step", *backends))


def _wrap_optimizer(trainee: Any, spent: dict[str, float], clock: Callable[[], float]
                    ) -> Callable[[], None]:  # fmt: skip
    """Time the trainee's optimizer step as its own row; returns the undo."""
    optimizer = trainee.optimizer
    original = optimizer.step

    def step(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return original(*args, **kwargs)
        finally:
            spent["optimizer step"] = clock() - start

    optimizer.step = step
    return lambda: vars(optimizer).pop("step")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyinstrument", action="store_true", help="add pyinstrument trees")
    parser.add_argument("--threads", type=int, help="BLAS and torch threads")
    parser.add_argument("--top", type=int, default=25, help="rows of each cProfile table")
    parser.add_argument(
        "--training", action="store_true", help="only the full training steps (bench_training)"
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time the training sections with the process' CPU time (implies --threads 1)",
    )
    parser.add_argument(
        "--gpt", action="store_true", help="only the GPT step, op by op, kernels on and off"
    )
    args = parser.parse_args(argv)
    if args.cpu_time:
        if args.threads not in (None, 1):
            parser.error("--cpu-time sums every thread's time; use it with --threads 1")
        args.threads = 1
        _CLOCK[0] = time.process_time

    import bench_autograd as B
    import bench_training as T
    from harness import configure_threads

    print("threads:", configure_threads(args.threads), "\n")
    if args.gpt:
        print("## GPT training step by op (ms, lower quartile)\n")
        print(gpt_ops(), "\n")
        return 0
    for net, steps in ((T.LARGE, 60), (T.SMALL, 600)):
        for optimizer in T.OPTIMIZERS:
            print(
                f"## Training step by phase: MLP {net.label} batch {net.batch}, {optimizer} "
                f"(µs, lower quartile of {steps} interleaved steps)\n"
            )
            print(training_phases(net, optimizer, steps), "\n")
    for net in (T.LARGE, T.SMALL):
        print(f"## Pieces of a theta Adam step, MLP {net.label} batch {net.batch} (best of 7)\n")
        print(training_costs(net), "\n")
    training_profiles(args.top, args.pyinstrument)
    if args.training:
        return 0
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
