"""Full training steps (forward, loss, backward, update) side by side: theta, PyTorch, NumPy.

Workloads, all float32, ReLU MLPs with softmax cross-entropy on integer targets:

1. 784-512-512-10 at batch 128 and 64-128-128-10 at batch 32, each trained with SGD
   (lr 0.01, no momentum) and with Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8).
2. Inference latency of one example (batch 1) through the 64-128-128-10 MLP.

Implementations:

- ``theta``: ``theta.nn.MLP`` + ``theta.losses.cross_entropy`` + ``theta.optim.SGD``/``Adam``
  (default options), one step = ``zero_grad``, ``model(x)``, ``cross_entropy``,
  ``loss.backward()``, ``optimizer.step()``: the four steps of ``theta.train.Trainer.step``.
- ``torch``: ``nn.Sequential(Linear, ReLU, ...)`` + ``F.cross_entropy`` + ``torch.optim``
  with its defaults (``foreach=None``, which on CPU tensors resolves to the per-tensor loop,
  and ``zero_grad(set_to_none=True)``), from the same initial weights.
- ``numpy floor``: hand-written forward and backward with the fused softmax-CE gradient and a
  hand-written in-place update with preallocated buffers: what a NumPy library can reach.
- ``numpy GEMMs only`` / ``torch GEMMs only`` (large MLP): the 3 forward and 5 backward
  matmuls of the step, nothing else.

Before timing, every optimizer is run for 3 steps in each implementation from the same
weights, and the parameters (and losses) must agree. Every timed sample starts from the
initial weights again (an untimed reset; optimizer state carries on), so that thousands of
steps on one batch never drift into a memorised, underflowing regime.

:func:`memory_markdown` measures the memory one step allocates, with ``tracemalloc``
(which sees NumPy's array buffers); PyTorch's allocator is invisible to it, so the peak memory
of every implementation, PyTorch's included, is measured in fresh processes by
``bench_memory``, which builds its workloads with :data:`MAKERS` and
:func:`make_inference_impl`.
"""

from __future__ import annotations

import gc
import math
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import Suite, with_numpy_only

__all__ = [
    "INFERENCE_IMPLS",
    "LARGE",
    "MAKERS",
    "OPTIMIZERS",
    "SMALL",
    "Net",
    "check_training",
    "inference_case",
    "make_floor",
    "make_inference",
    "make_inference_impl",
    "make_theta",
    "make_torch",
    "memory_markdown",
    "problem",
    "register",
    "training_case",
]

SGD_LR = 0.01
ADAM_LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8
OPTIMIZERS = ("SGD", "Adam")
CHECK_STEPS = 3
TINY_GRAD = 100 * EPS  # below this, Adam's update of an element is rounding noise


@dataclass(frozen=True)
class Net:
    sizes: tuple[int, ...]
    batch: int

    @property
    def label(self) -> str:
        return "-".join(map(str, self.sizes))


LARGE = Net((784, 512, 512, 10), 128)
SMALL = Net((64, 128, 128, 10), 32)


@dataclass
class Trainee:
    """One implementation's training step, plus what the harness and the checks need."""

    step: Callable[[], Any]  # one full step; returns the loss (in the library's own type)
    reset: Callable[[], None]  # copy the initial weights back into the parameters
    params: Callable[[], list[np.ndarray]]  # W1, b1, W2, b2, ... as float32 ndarrays (copies)
    loss: Callable[[Any], float]  # a step's return value as a float
    clear_grads: Callable[[], None] = lambda: None
    state_bytes: Callable[[], int] = lambda: 0  # optimizer state and scratch, in bytes
    parts: dict[str, Any] = field(default_factory=dict)  # model, optimizer, ... (profiling)


def problem(net: Net, seed: int = 0) -> dict[str, Any]:
    """Weights in PyTorch's layout and init (``U(±1/sqrt(fan_in))``), a batch and targets."""
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:], strict=True):
        bound = 1.0 / math.sqrt(n_in)
        w = rng.uniform(-bound, bound, size=(n_out, n_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=n_out).astype(np.float32)
        layers += [w, b]
    x = rng.standard_normal((net.batch, net.sizes[0])).astype(np.float32)
    t = rng.integers(0, net.sizes[-1], size=net.batch).astype(np.int64)
    return {"params": layers, "x": x, "t": t}


# --- theta ---------------------------------------------------------------------------------


def _theta_model(net: Net, p: dict[str, Any]) -> Any:
    from theta.nn import MLP

    model = MLP(net.sizes, rng=0, dtype=np.float32)
    names = [name for name, _ in model.named_parameters()]  # 0.weight, 0.bias, ...
    model.load_state_dict(dict(zip(names, p["params"], strict=True)))
    return model


def make_theta(net: Net, p: dict[str, Any], optimizer: str) -> Trainee:
    """theta as a user writes it: the four steps of ``Trainer.step`` (without its batching,
    ``model.train()`` call and bookkeeping)."""
    import theta
    from theta.losses import cross_entropy
    from theta.optim import SGD, Adam

    model = _theta_model(net, p)
    params = list(model.parameters())
    if optimizer == "SGD":
        opt = SGD(params, lr=SGD_LR)
    else:
        opt = Adam(params, lr=ADAM_LR, betas=BETAS, eps=EPS)
    x = theta.tensor(p["x"].copy())
    t = p["t"].copy()
    initial = [a.copy() for a in p["params"]]

    def step() -> Any:
        opt.zero_grad()
        pred = model(x)  # 1. forward
        loss = cross_entropy(pred, t)  # 2. loss
        loss.backward()  # 3. gradient
        opt.step()  # 4. update
        return loss

    def reset() -> None:
        for q, a in zip(params, initial, strict=True):
            np.copyto(q.data, a)

    def state_bytes() -> int:
        arrays = [a for st in opt.state.values() for a in st.values() if isinstance(a, np.ndarray)]
        arrays += [b for bufs in getattr(opt, "_buffers", {}).values() for b in bufs]
        return sum(a.nbytes for a in arrays)

    return Trainee(
        step=step,
        reset=reset,
        params=lambda: [q.data.copy() for q in params],
        loss=lambda loss: float(loss.item()),
        clear_grads=opt.zero_grad,
        state_bytes=state_bytes,
        parts={"model": model, "optimizer": opt, "x": x, "t": t},
    )


# --- PyTorch -------------------------------------------------------------------------------


def _torch_model(net: Net, p: dict[str, Any]) -> Any:
    import torch

    layers: list[Any] = []
    for i, (n_in, n_out) in enumerate(zip(net.sizes[:-1], net.sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(net.sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for q, a in zip(model.parameters(), p["params"], strict=True):
            q.copy_(torch.from_numpy(a))
    return model


def make_torch(net: Net, p: dict[str, Any], optimizer: str) -> Trainee:
    """PyTorch eager with its default optimizer options."""
    import torch
    import torch.nn.functional as F

    model = _torch_model(net, p)
    params = list(model.parameters())
    if optimizer == "SGD":
        opt = torch.optim.SGD(params, lr=SGD_LR)
    else:
        opt = torch.optim.Adam(params, lr=ADAM_LR, betas=BETAS, eps=EPS)
    x = torch.from_numpy(p["x"].copy())
    t = torch.from_numpy(p["t"].copy())
    initial = [torch.from_numpy(a.copy()) for a in p["params"]]

    def step() -> Any:
        opt.zero_grad()  # set_to_none=True by default
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        return loss

    def reset() -> None:
        with torch.no_grad():
            for q, a in zip(params, initial, strict=True):
                q.copy_(a)

    def state_bytes() -> int:
        return sum(v.nbytes for st in opt.state.values() for v in st.values() if torch.is_tensor(v))

    return Trainee(
        step=step,
        reset=reset,
        params=lambda: [q.detach().numpy().copy() for q in params],
        loss=lambda loss: float(loss.item()),
        clear_grads=opt.zero_grad,
        state_bytes=state_bytes,
        parts={"model": model, "optimizer": opt, "x": x, "t": t},
    )


# --- the NumPy floor -----------------------------------------------------------------------


def _floor_forward(
    params: list[np.ndarray], x: np.ndarray, t: np.ndarray, rows: np.ndarray
) -> tuple[float, tuple[np.ndarray, ...]]:
    """Forward pass and mean softmax cross-entropy; returns the loss and what backward needs.

    Weights are ``(out, in)``, so a layer is ``h @ W.T + b``.
    """
    W1, b1, W2, b2, W3, b3 = params
    h1 = x @ W1.T
    h1 += b1
    np.maximum(h1, 0, out=h1)
    h2 = h1 @ W2.T
    h2 += b2
    np.maximum(h2, 0, out=h2)
    z = h2 @ W3.T
    z += b3
    z -= z.max(axis=1, keepdims=True)  # shifted logits, <= 0
    picked = z[rows, t]
    e = np.exp(z, out=z)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.log(s[:, 0]).mean() - picked.mean())
    return loss, (h1, h2, e, s)


def _floor_backward(
    params: list[np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    rows: np.ndarray,
    cache: tuple[np.ndarray, ...],
) -> tuple[list[np.ndarray], tuple[np.ndarray, ...]]:
    """Gradients (in the order of ``params``) and the operands of the backward GEMMs; the
    gradient of the mean softmax cross-entropy at the logits is ``(softmax - onehot) / B``."""
    _, _, W2, _, W3, _ = params
    h1, h2, e, s = cache
    g3 = e
    g3 /= s  # softmax
    g3[rows, t] -= 1.0
    g3 *= np.float32(1.0 / len(t))
    dW3 = g3.T @ h2
    db3 = g3.sum(axis=0)
    g2 = g3 @ W3
    g2 *= h2 > 0
    dW2 = g2.T @ h1
    db2 = g2.sum(axis=0)
    g1 = g2 @ W2
    g1 *= h1 > 0
    dW1 = g1.T @ x
    db1 = g1.sum(axis=0)
    return [dW1, db1, dW2, db2, dW3, db3], (h1, h2, g3, g2, g1)


def _floor_grads(
    params: list[np.ndarray], x: np.ndarray, t: np.ndarray, rows: np.ndarray
) -> tuple[float, list[np.ndarray], tuple[np.ndarray, ...]]:
    """Loss, gradients and the activations the GEMMs used, for one batch."""
    loss, cache = _floor_forward(params, x, t, rows)
    grads, saved = _floor_backward(params, x, t, rows, cache)
    return loss, grads, saved


def make_floor(net: Net, p: dict[str, Any], optimizer: str) -> Trainee:
    """Hand-written NumPy: forward, fused softmax-CE backward, in-place update."""
    if len(net.sizes) != 4:
        raise ValueError("the floor is written for three layers")
    params = [a.copy() for a in p["params"]]
    initial = [a.copy() for a in p["params"]]
    x, t = p["x"].copy(), p["t"].copy()
    rows = np.arange(len(t))
    bufs = [np.empty_like(a) for a in params]
    lr = SGD_LR if optimizer == "SGD" else ADAM_LR
    m = [np.zeros_like(a) for a in params] if optimizer == "Adam" else []
    v = [np.zeros_like(a) for a in params] if optimizer == "Adam" else []
    count = [0]

    def sgd(grads: list[np.ndarray]) -> None:
        for q, g, buf in zip(params, grads, bufs, strict=True):
            np.multiply(g, lr, out=buf)
            q -= buf

    def adam(grads: list[np.ndarray]) -> None:
        beta1, beta2 = BETAS
        count[0] += 1
        step_size = lr / (1.0 - beta1 ** count[0])
        bc2_sqrt = math.sqrt(1.0 - beta2 ** count[0])
        for q, g, mq, vq, buf in zip(params, grads, m, v, bufs, strict=True):
            mq *= beta1  # m = beta1 m + (1 - beta1) g
            np.multiply(g, 1.0 - beta1, out=buf)
            mq += buf
            vq *= beta2  # v = beta2 v + (1 - beta2) g²
            np.multiply(g, g, out=buf)
            buf *= 1.0 - beta2
            vq += buf
            np.sqrt(vq, out=buf)  # p -= step_size m / (sqrt(v) / sqrt(bc2) + eps)
            buf /= bc2_sqrt
            buf += EPS
            np.divide(mq, buf, out=buf)
            buf *= step_size
            q -= buf

    update = sgd if optimizer == "SGD" else adam
    parts = {"params": params, "x": x, "t": t, "rows": rows, "update": update}

    def step() -> float:
        loss, grads, _ = _floor_grads(params, x, t, rows)
        update(grads)
        return loss

    def reset() -> None:
        for q, a in zip(params, initial, strict=True):
            np.copyto(q, a)

    return Trainee(
        step=step,
        reset=reset,
        params=lambda: [q.copy() for q in params],
        loss=float,
        state_bytes=lambda: sum(a.nbytes for a in (*bufs, *m, *v)),
        parts=parts,
    )


MAKERS: dict[str, Callable[[Net, dict[str, Any], str], Trainee]] = {
    "theta": make_theta,
    "torch": make_torch,
    "numpy floor": make_floor,
}


def make_gemms(p: dict[str, Any]) -> tuple[Callable[[], None], Callable[[], None]]:
    """The 8 matmuls of one step (3 forward, 5 backward: no dx for the input), NumPy and
    PyTorch, on operands taken from a real floor step."""
    import torch

    params = [a.copy() for a in p["params"]]
    x, t = p["x"].copy(), p["t"].copy()
    _, _, (h1, h2, g3, g2, g1) = _floor_grads(params, x, t, np.arange(len(t)))
    W1, _, W2, _, W3, _ = params

    def numpy_gemms() -> None:
        x @ W1.T
        h1 @ W2.T
        h2 @ W3.T
        g3.T @ h2  # dW3
        g3 @ W3  # dh2
        g2.T @ h1  # dW2
        g2 @ W2  # dh1
        g1.T @ x  # dW1

    tx, tW1, tW2, tW3, th1, th2, tg3, tg2, tg1 = (
        torch.from_numpy(a.copy()) for a in (x, W1, W2, W3, h1, h2, g3, g2, g1)
    )

    def torch_gemms() -> None:
        tx @ tW1.T
        th1 @ tW2.T
        th2 @ tW3.T
        tg3.T @ th2
        tg3 @ tW3
        tg2.T @ th1
        tg2 @ tW2
        tg1.T @ tx

    return numpy_gemms, torch_gemms


# --- inference -----------------------------------------------------------------------------


INFERENCE_IMPLS = ("theta", "torch", "numpy floor")


def make_inference_impl(net: Net, p: dict[str, Any], impl: str) -> Callable[[], Any]:
    """One example (batch 1) through the MLP as ``impl`` runs it: theta (eval, no_grad),
    torch (inference_mode) or NumPy; returns the logits in the library's own type. Imports
    only ``impl``'s library (the memory probes run each in a process of its own)."""
    x1 = p["x"][:1].copy()
    if impl == "theta":
        import theta

        theta_model = _theta_model(net, p)
        theta_model.eval()
        theta_x = theta.tensor(x1)

        def theta_infer() -> Any:
            with theta.no_grad():
                return theta_model(theta_x)

        return theta_infer
    if impl == "torch":
        import torch

        torch_model = _torch_model(net, p)
        torch_model.eval()
        torch_x = torch.from_numpy(x1)

        def torch_infer() -> Any:
            with torch.inference_mode():
                return torch_model(torch_x)

        return torch_infer
    if impl != "numpy floor":
        raise ValueError(f"impl must be one of {INFERENCE_IMPLS}, got {impl!r}")
    W1, b1, W2, b2, W3, b3 = (a.copy() for a in p["params"])

    def numpy_infer() -> np.ndarray:
        h = x1 @ W1.T
        h += b1
        np.maximum(h, 0, out=h)
        h2 = h @ W2.T
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = h2 @ W3.T
        z += b3
        return z

    return numpy_infer


def make_inference(net: Net, p: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Every implementation of :func:`make_inference_impl`, checked to give NumPy's logits."""
    impls = {name: make_inference_impl(net, p, name) for name in INFERENCE_IMPLS}
    outputs = {name: np.asarray(fn()) for name, fn in impls.items()}
    for name, out in outputs.items():
        if out.dtype != np.float32 or not np.allclose(
            out, outputs["numpy floor"], rtol=1e-4, atol=1e-6
        ):
            raise AssertionError(f"inference: {name}'s logits differ from NumPy's")
    return impls


# --- checks --------------------------------------------------------------------------------


def check_training(net: Net, optimizer: str, steps: int = CHECK_STEPS) -> dict[str, str]:
    """theta's and PyTorch's parameters (and losses) after ``steps`` steps must equal the
    floor's and each other's (allclose, rtol 1e-4, atol 1e-6); returns what was compared.

    Adam divides each gradient by its own running size, so where a gradient is itself at
    rounding level (``|g| < TINY_GRAD``, i.e. 100 eps: sums of products that cancel), its
    update is ``lr`` times a rounding error and differs between any two correct
    implementations (theta vs torch as much as either vs the floor). Those few elements are
    held to the bound every Adam update obeys instead: ``|difference| <= 2 lr`` per step.
    """
    p = problem(net)
    runs = {}
    tiny = [np.zeros(a.shape, bool) for a in p["params"]]
    for name, make in (("numpy floor", make_floor), ("theta", make_theta), ("torch", make_torch)):
        trainee = make(net, p, optimizer)
        losses = []
        for _ in range(steps):
            if name == "numpy floor" and optimizer == "Adam":
                _, grads, _ = _floor_grads(trainee.params(), p["x"], p["t"], np.arange(net.batch))
                for mask, g in zip(tiny, grads, strict=True):
                    mask |= np.abs(g) < TINY_GRAD
            losses.append(trainee.loss(trainee.step()))
        runs[name] = (losses, trainee.params())
    ref_losses = runs["numpy floor"][0]
    if not ref_losses[-1] < ref_losses[0]:
        raise AssertionError(f"{net.label} {optimizer}: the floor's loss did not fall")
    n_tiny = sum(int(m.sum()) for m in tiny)
    worst: dict[str, float] = {}
    n_loose: dict[tuple[str, str], int] = {}
    tiny_err = 0.0
    for name, other in (("theta", "numpy floor"), ("torch", "numpy floor"), ("theta", "torch")):
        (losses, params), (ref_losses, ref_params) = runs[name], runs[other]
        if not np.allclose(losses, ref_losses, rtol=1e-4, atol=1e-6):
            raise AssertionError(
                f"{net.label} {optimizer}: {name}'s losses {losses} differ from {other}'s "
                f"{ref_losses}"
            )
        err = 0.0
        for i, (a, b, mask) in enumerate(zip(params, ref_params, tiny, strict=True)):
            if a.shape != b.shape or a.dtype != np.float32:
                raise AssertionError(
                    f"{net.label} {optimizer}: {name}'s parameter {i} is {a.dtype}{a.shape}, "
                    f"{other}'s {b.dtype}{b.shape}"
                )
            close = np.isclose(a, b, rtol=1e-4, atol=1e-6)
            bounded = np.abs(a - b) <= 2 * ADAM_LR * steps
            if not (close | (mask & bounded)).all():
                raise AssertionError(
                    f"{net.label} {optimizer}: after {steps} steps {name}'s parameter {i} "
                    f"differs from {other}'s (max abs diff {np.max(np.abs(a - b)):.2e})"
                )
            if (~mask).any():
                err = max(err, float(np.max(np.abs(a - b)[~mask])))
            loose = mask & ~close
            if loose.any():
                n_loose[name, other] = n_loose.get((name, other), 0) + int(loose.sum())
                tiny_err = max(tiny_err, float(np.max(np.abs(a - b)[loose])))
        worst[f"{name} vs {other}"] = err
    n = sum(a.size for a in p["params"])
    summary = (
        f"parameters and losses after {steps} steps allclose (rtol 1e-4, atol 1e-6), "
        "pairwise; max abs diff " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
    )
    if optimizer == "Adam":
        loose = ", ".join(f"{a} vs {b} {k}" for (a, b), k in n_loose.items()) or "none"
        summary += (
            f" (elements with a normal gradient); {n_tiny} of {n} elements had a "
            f"rounding-level gradient (|g| < {TINY_GRAD:g}) in some step, and of those these "
            f"many were not allclose: {loose} (max abs diff {tiny_err:.1e}, within the "
            f"{2 * ADAM_LR * steps:g} allowed)"
        )
    return {"summary": summary, "tiny": str(n_tiny)}


# --- memory --------------------------------------------------------------------------------


def _traced_step(trainee: Trainee) -> tuple[int, int]:
    """Peak bytes allocated during one steady-state step, and bytes still held after it.

    The step starts with gradients cleared (so the previous step's gradients are not
    counted as freed), its optimizer state already made and the loss discarded; only
    allocations made inside the step are traced (tracemalloc sees NumPy's buffers).
    """
    trainee.reset()
    for _ in range(2):
        trainee.step()
    trainee.clear_grads()
    gc.collect()
    tracemalloc.start()
    try:
        trainee.step()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, held


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


def memory_markdown() -> str:
    """A markdown section: memory allocated by one training step, per implementation."""
    lines = [
        "## Memory of one training step (tracemalloc: NumPy and theta only)",
        "",
        "Peak bytes allocated during one steady-state step (above what existed before it: "
        "parameters, optimizer state and the batch are not counted, gradients start cleared), "
        "and bytes still allocated when it returns (the loss dropped), measured with "
        "`tracemalloc`, which sees NumPy's array buffers and Python objects. PyTorch's CPU "
        "allocator is invisible to `tracemalloc`, so its step peak is not reported; its "
        "optimizer state is the sum of its state tensors' sizes.",
        "",
        "| MLP, batch | optimizer | implementation | parameters | optimizer state (+ scratch) "
        "| step peak | held after step |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for net in (LARGE, SMALL):
        p = problem(net)
        n_bytes = sum(a.nbytes for a in p["params"])
        for optimizer in OPTIMIZERS:
            for name, make in MAKERS.items():
                trainee = make(net, p, optimizer)
                if name == "torch":
                    trainee.step()
                    peak = held = "n/a (not traced)"
                else:
                    peak_b, held_b = _traced_step(trainee)
                    peak, held = _mib(peak_b), _mib(held_b)
                lines.append(
                    f"| {net.label}, {net.batch} | {optimizer} | {name} | {_mib(n_bytes)} | "
                    f"{_mib(trainee.state_bytes())} | {peak} | {held} |"
                )
    return "\n".join(lines) + "\n"


# --- registration --------------------------------------------------------------------------


def training_case(net: Net, optimizer: str) -> str:
    """The name of the timed training-step case of ``net`` with ``optimizer``."""
    return f"Training step: MLP {net.label}, batch {net.batch}, {optimizer}, float32"


def inference_case(net: Net) -> str:
    """The name of the timed one-example inference case of ``net``."""
    return f"Inference: MLP {net.label}, one example (batch 1), float32"


def _lr(optimizer: str) -> str:
    return f"lr {SGD_LR:g}, no momentum" if optimizer == "SGD" else f"lr {ADAM_LR:g}"


def register(suite: Suite) -> dict[str, str]:
    """Check correctness, then add the training and inference cases; returns check notes."""
    notes = {}
    for net in (LARGE, SMALL):
        for optimizer in OPTIMIZERS:
            checked = check_training(net, optimizer)
            notes[f"training check, MLP {net.label} {optimizer}"] = checked["summary"]
    for net in (LARGE, SMALL):
        p = problem(net)
        gemms = make_gemms(p) if net is LARGE else None
        for optimizer in OPTIMIZERS:
            trainees = {name: make(net, p, optimizer) for name, make in MAKERS.items()}
            impls: dict[str, Callable[[], Any]] = {k: v.step for k, v in trainees.items()}
            ratios = [("theta", "torch"), ("theta", "numpy floor"), ("torch", "numpy floor")]
            note = (
                f"One full step: zero_grad, forward, softmax cross-entropy, backward, "
                f"{optimizer} ({_lr(optimizer)}) update. Each sample starts from the initial "
                "weights (untimed reset). torch.optim on CPU tensors runs its per-tensor loop "
                "(foreach defaults to off off the GPU)."
            )
            if gemms is not None:
                impls["numpy GEMMs only"], impls["torch GEMMs only"] = gemms
                ratios += [
                    ("numpy GEMMs only", "theta"),
                    ("numpy GEMMs only", "numpy floor"),
                    ("torch GEMMs only", "torch"),
                    ("numpy GEMMs only", "torch GEMMs only"),
                ]
                note += (
                    " 'GEMMs only' is the step's 3 forward + 5 backward matmuls alone; "
                    "'numpy GEMMs only / theta' is the share of theta's step spent in BLAS."
                )
            reset = {k: v.reset for k, v in trainees.items()}
            with_numpy_only(impls, ratios, reset)
            suite.add(
                training_case(net, optimizer),
                impls,
                baseline="torch",
                unit="step",
                ratios=ratios,
                differences=[("theta", "numpy floor"), ("theta", "torch")],
                reset=reset,
                note=note,
            )
    infer = make_inference(SMALL, problem(SMALL))
    notes["inference check"] = "theta's and torch's batch-1 logits allclose to NumPy's"
    suite.add(
        inference_case(SMALL),
        infer,
        baseline="torch",
        unit="call",
        ratios=[("theta", "torch"), ("theta", "numpy floor"), ("torch", "numpy floor")],
        differences=[("theta", "numpy floor"), ("theta", "torch")],
        note="Latency of one forward pass: theta in eval() under no_grad(), torch in eval() "
        "under inference_mode(), NumPy hand-written (the context managers are inside the call).",
    )
    return notes
