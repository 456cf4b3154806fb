"""theta's autograd side by side with PyTorch (CPU, eager) and hand-written NumPy.

Two workloads:

1. The book chapter's loop: fit ``pred = w*x + b`` to ``y = 2x + 1`` on x = 0..4, MSE,
   lr 0.05, w = b = 0, float64, 1000 steps. Tiny arrays, so this measures per-op overhead.
2. A 784-512-512-10 ReLU MLP, softmax cross-entropy, batch 128, float32: one forward and
   backward pass. Large matrices, so this measures what theta adds on top of the GEMMs.

Before timing, theta's (and PyTorch's) losses and gradients are checked against the NumPy
reference, so the numbers belong to correct code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from harness import Suite

__all__ = ["CHAPTER_CASE", "CHAPTER_STEPS", "check_chapter", "check_mlp", "register"]

CHAPTER_STEPS = 1000
CHAPTER_CASE = f"Chapter loop: w*x + b on 5 points, {CHAPTER_STEPS} steps, float64"
LR = 0.05
SIZES = (784, 512, 512, 10)
BATCH = 128


# --- 1. the chapter's loop -----------------------------------------------------------------


def chapter_theta(steps: int = CHAPTER_STEPS) -> tuple[float, float]:
    """theta, as ``theta.cli.train.chapter_example`` writes it (without the printing)."""
    import theta

    X = theta.tensor(np.array([0.0, 1.0, 2.0, 3.0, 4.0]))
    y = 2.0 * X + 1.0
    w = theta.tensor(0.0, dtype=np.float64, requires_grad=True)
    b = theta.tensor(0.0, dtype=np.float64, requires_grad=True)
    lr = LR
    for _ in range(steps):
        pred = w * X + b  # 1. forward
        loss = ((pred - y) ** 2).mean()  # 2. loss
        loss.backward()  # 3. gradient
        with theta.no_grad():  # 4. update
            for p in (w, b):
                p -= lr * p.grad
                p.grad = None
    return w.item(), b.item()


def chapter_torch(steps: int = CHAPTER_STEPS) -> tuple[float, float]:
    """The same loop on PyTorch autograd."""
    import torch

    X = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    y = 2.0 * X + 1.0
    w = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    lr = LR
    for _ in range(steps):
        pred = w * X + b
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in (w, b):
                p -= lr * p.grad
                p.grad = None
    return w.item(), b.item()


def chapter_numpy(steps: int = CHAPTER_STEPS) -> tuple[float, float]:
    """The chapter's own hand-written NumPy code (without the printing)."""
    X = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = 2.0 * X + 1.0
    w, b = 0.0, 0.0
    lr = LR
    for _ in range(steps):
        pred = w * X + b
        err = pred - y
        loss = np.mean(err**2)  # noqa: F841 - computed every step, as in the chapter
        grad_w = np.mean(2 * err * X)
        grad_b = np.mean(2 * err)
        w -= lr * grad_w
        b -= lr * grad_b
    return float(w), float(b)


def check_chapter() -> None:
    """All three must learn w = 2, b = 1, and theta must match the NumPy code step for step."""
    ref = chapter_numpy()
    for name, fn in (("theta", chapter_theta), ("torch", chapter_torch)):
        got = fn()
        if not np.allclose(got, ref, rtol=1e-12, atol=1e-12):
            raise AssertionError(f"chapter loop: {name} learned {got}, NumPy learned {ref}")
    if not np.allclose(ref, (2.0, 1.0), atol=1e-3):
        raise AssertionError(f"chapter loop: NumPy learned {ref}, expected (2, 1)")


# --- 2. the MLP step -------------------------------------------------------------------------


def mlp_problem(seed: int = 0) -> dict[str, np.ndarray]:
    """He-initialised weights, zero biases, a random batch and integer targets, float32."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True), start=1):
        arrays[f"W{i}"] = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(
            np.float32
        )
        arrays[f"b{i}"] = (rng.standard_normal(n_out) * 0.01).astype(np.float32)
    arrays["x"] = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    arrays["t"] = rng.integers(0, SIZES[-1], size=BATCH)
    return arrays


PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


def make_mlp_theta(p: dict[str, np.ndarray]) -> tuple[Callable[[], Any], Callable[[], dict]]:
    """theta: the forward pass from tensor ops, ``loss.backward()``, grads cleared each step."""
    import theta

    params = {k: theta.tensor(p[k].copy(), requires_grad=True) for k in PARAMS}
    x = theta.tensor(p["x"].copy())
    rows, t = np.arange(BATCH), p["t"].copy()
    W1, b1, W2, b2, W3, b3 = (params[k] for k in PARAMS)
    plist = list(params.values())

    def step() -> Any:
        for q in plist:
            q.grad = None
        h1 = theta.relu(x @ W1 + b1)
        h2 = theta.relu(h1 @ W2 + b2)
        logits = h2 @ W3 + b3
        loss = -theta.log_softmax(logits, axis=-1)[rows, t].mean()
        loss.backward()
        return loss

    def grads() -> dict[str, Any]:
        loss = step()
        return {"loss": loss.item(), **{k: params[k].grad for k in PARAMS}}

    return step, grads


def make_mlp_theta_nn(p: dict[str, np.ndarray]) -> tuple[Callable[[], Any], Callable[[], dict]]:
    """theta as a user writes it: ``nn.MLP`` (fused linear layers) and fused cross-entropy."""
    from theta.losses import cross_entropy
    from theta.nn import MLP

    model = MLP(SIZES, rng=0, dtype=np.float32)
    # theta's Linear stores weight as (out, in), PyTorch's layout; the problem's W is (in, out)
    state = {}
    for i in range(1, 4):
        state[f"{2 * (i - 1)}.weight"] = np.ascontiguousarray(p[f"W{i}"].T)
        state[f"{2 * (i - 1)}.bias"] = p[f"b{i}"]
    model.load_state_dict(state)
    import theta

    x = theta.tensor(p["x"].copy())
    t = p["t"].copy()
    names = {f"W{i}": f"{2 * (i - 1)}.weight" for i in range(1, 4)}
    names.update({f"b{i}": f"{2 * (i - 1)}.bias" for i in range(1, 4)})

    def step() -> Any:
        model.zero_grad()
        loss = cross_entropy(model(x), t)
        loss.backward()
        return loss

    def grads() -> dict[str, Any]:
        loss = step()
        params = dict(model.named_parameters())
        out = {"loss": loss.item()}
        for key, name in names.items():
            g = params[name].grad
            out[key] = g.T if key.startswith("W") else g
        return out

    return step, grads


def make_mlp_torch(p: dict[str, np.ndarray]) -> tuple[Callable[[], Any], Callable[[], dict]]:
    """PyTorch eager, the same ops; ``.grad`` set to None each step (no zero-filling)."""
    import torch

    params = {k: torch.tensor(p[k], requires_grad=True) for k in PARAMS}
    x = torch.tensor(p["x"])
    rows, t = torch.arange(BATCH), torch.tensor(p["t"])
    W1, b1, W2, b2, W3, b3 = (params[k] for k in PARAMS)
    plist = list(params.values())

    def step() -> Any:
        for q in plist:
            q.grad = None
        h1 = torch.relu(x @ W1 + b1)
        h2 = torch.relu(h1 @ W2 + b2)
        logits = h2 @ W3 + b3
        loss = -torch.log_softmax(logits, dim=-1)[rows, t].mean()
        loss.backward()
        return loss

    def grads() -> dict[str, Any]:
        loss = step()
        return {"loss": loss.item(), **{k: params[k].grad.numpy() for k in PARAMS}}

    return step, grads


def make_mlp_numpy(
    p: dict[str, np.ndarray],
) -> tuple[Callable[[], Any], Callable[[], dict], Callable[[], Any]]:
    """Hand-written forward and backward (the floor), and the GEMMs alone (the limit)."""
    x, t = p["x"].copy(), p["t"].copy()
    W1, b1, W2, b2, W3, b3 = (p[k].copy() for k in PARAMS)
    rows = np.arange(BATCH)
    inv_b = np.float32(1.0 / BATCH)

    def step() -> dict[str, Any]:
        h1 = x @ W1
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ W2
        h2 += b2
        np.maximum(h2, 0, out=h2)
        logits = h2 @ W3
        logits += b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        loss = -(shifted[rows, t] - np.log(s[:, 0])).mean()
        # softmax cross-entropy backward: (softmax - onehot) / B
        g3 = e / s
        g3[rows, t] -= 1.0
        g3 *= inv_b
        dW3 = h2.T @ g3
        db3 = g3.sum(axis=0)
        g2 = g3 @ W3.T
        g2 *= h2 > 0
        dW2 = h1.T @ g2
        db2 = g2.sum(axis=0)
        g1 = g2 @ W2.T
        g1 *= h1 > 0
        dW1 = x.T @ g1
        db1 = g1.sum(axis=0)
        return {"loss": float(loss), "W1": dW1, "b1": db1, "W2": dW2, "b2": db2,
                "W3": dW3, "b3": db3, "_h1": h1, "_h2": h2, "_g3": g3, "_g2": g2,
                "_g1": g1}  # fmt: skip

    # operands of the 3 forward and 5 backward matmuls, taken from one real step
    ref = step()
    h1, h2, g3, g2, g1 = (ref[k] for k in ("_h1", "_h2", "_g3", "_g2", "_g1"))

    def gemms() -> None:
        x @ W1  # forward
        h1 @ W2
        h2 @ W3
        h2.T @ g3  # backward: dW3, dh2, dW2, dh1, dW1
        g3 @ W3.T
        h1.T @ g2
        g2 @ W2.T
        x.T @ g1

    return step, step, gemms


def make_gemms_torch(p: dict[str, np.ndarray], ref: dict[str, Any]) -> Callable[[], Any]:
    """The same 8 matmuls in PyTorch (its own BLAS), to separate BLAS speed from overhead."""
    import torch

    x, W1, W2, W3 = (torch.tensor(p[k]) for k in ("x", "W1", "W2", "W3"))
    h1, h2, g3, g2, g1 = (torch.tensor(ref[k]) for k in ("_h1", "_h2", "_g3", "_g2", "_g1"))

    def gemms() -> None:
        x @ W1
        h1 @ W2
        h2 @ W3
        h2.T @ g3
        g3 @ W3.T
        h1.T @ g2
        g2 @ W2.T
        x.T @ g1

    return gemms


def check_mlp(p: dict[str, np.ndarray]) -> dict[str, float]:
    """theta's and PyTorch's loss and gradients must equal the NumPy floor's (float32)."""
    ref = make_mlp_numpy(p)[1]()
    worst = {}
    makers = (("theta", make_mlp_theta), ("theta nn", make_mlp_theta_nn), ("torch", make_mlp_torch))
    for name, make in makers:
        got = make(p)[1]()
        err = 0.0
        for key in ("loss", *PARAMS):
            a, b = np.asarray(got[key]), np.asarray(ref[key])
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-6):
                raise AssertionError(
                    f"MLP: {name}'s {key} differs from the NumPy reference "
                    f"(max abs diff {np.max(np.abs(a - b)) if a.shape == b.shape else 'shape'})"
                )
            if key != "loss" and a.dtype != np.float32:
                raise AssertionError(f"MLP: {name}'s gradient of {key} has dtype {a.dtype}")
            err = max(err, float(np.max(np.abs(a - b))))
        worst[name] = err
    return worst


# --- registration ----------------------------------------------------------------------------


def register(suite: Suite) -> dict[str, str]:
    """Check correctness, then add both workloads to ``suite``; returns check notes."""
    notes = {}
    check_chapter()
    notes["chapter check"] = "theta and torch learn the NumPy loop's w, b (allclose 1e-12)"
    suite.add(
        CHAPTER_CASE,
        {"theta": chapter_theta, "torch": chapter_torch, "numpy": chapter_numpy},
        baseline="torch",
        unit=f"{CHAPTER_STEPS} steps",
        ratios=[("theta", "torch"), ("theta", "numpy")],
        note="Per-op overhead: each step records 6 tiny ops (mul, add, sub, pow, sum, mul), "
        "runs their backward, and makes 2 in-place updates.",
        prime=False,  # 1000 steps warm themselves; no thread pools are involved
    )

    p = mlp_problem()
    worst = check_mlp(p)
    notes["MLP check"] = "loss and all 6 gradients allclose to NumPy (rtol 1e-4); max abs diff " + (
        ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
    )
    theta_step, _ = make_mlp_theta(p)
    theta_nn_step, _ = make_mlp_theta_nn(p)
    torch_step, _ = make_mlp_torch(p)
    numpy_step, _, numpy_gemms = make_mlp_numpy(p)
    torch_gemms = make_gemms_torch(p, numpy_step())
    sizes = "-".join(map(str, SIZES))
    suite.add(
        f"MLP {sizes}, batch {BATCH}, float32: forward + backward",
        {
            "theta": theta_step,
            "theta nn": theta_nn_step,
            "torch": torch_step,
            "numpy floor": numpy_step,
            "numpy GEMMs only": numpy_gemms,
            "torch GEMMs only": torch_gemms,
        },
        baseline="torch",
        unit="step",
        ratios=[
            ("theta", "torch"),
            ("theta", "numpy floor"),
            ("theta nn", "torch"),
            ("theta nn", "numpy floor"),
            ("numpy GEMMs only", "theta nn"),
            ("numpy GEMMs only", "numpy floor"),
            ("torch GEMMs only", "torch"),
            ("numpy GEMMs only", "torch GEMMs only"),
        ],
        note="ReLU, log_softmax + pick target entries, mean over the batch. 'theta' composes "
        "the step from tensor ops (x @ W + b, log_softmax, indexing); 'theta nn' is the same "
        "model as a user builds it: nn.MLP (fused linear) and losses.cross_entropy (fused). "
        "'numpy floor' is hand-written forward/backward with a fused softmax-CE gradient; "
        "'GEMMs only' is the 3 forward + 5 backward matmuls of the same step (no dx for "
        "the input). 'numpy GEMMs only / theta' is the share of theta's step spent in BLAS.",
    )
    return notes
