"""theta's conv2d forward + backward (input, weight and bias gradients) against PyTorch's.

Two float32 workloads, same data for both libraries, each checked equal before timing:

1. LeNet-sized: batch 64, 1→6 channels 5×5 on 28×28, then 6→16 channels 5×5 on 12×12
   (the two convolutions of LeNet-5 on MNIST, run one after the other).
2. ResNet-block-sized: batch 16, 64→64 channels 3×3 with padding 1 on 32×32.

A call is one forward and one backward per convolution, seeded with a fixed upstream
gradient, with the gradients cleared first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from harness import Suite

__all__ = ["CONV_CASES", "register"]

# name -> list of (batch, in_channels, out_channels, kernel, size, padding), run in order
LAYERS = {
    "LeNet: batch 64, 1→6 5×5 on 28×28 then 6→16 5×5 on 12×12": [
        (64, 1, 6, 5, 28, 0),
        (64, 6, 16, 5, 12, 0),
    ],
    "ResNet block: batch 16, 64→64 3×3 padding 1 on 32×32": [(16, 64, 64, 3, 32, 1)],
}
CONV_CASES = {label: f"conv2d {label}, float32: forward + backward" for label in LAYERS}


def problem(layers: list[tuple[int, ...]], seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Input, weight, bias and upstream gradient of every convolution, float32."""
    rng = np.random.default_rng(seed)
    out = []
    for n, c, o, k, size, pad in layers:
        side = size + 2 * pad - k + 1
        out.append({
            "x": rng.standard_normal((n, c, size, size)).astype(np.float32),
            "w": (rng.standard_normal((o, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32),
            "b": rng.standard_normal(o).astype(np.float32),
            "g": rng.standard_normal((n, o, side, side)).astype(np.float32),
            "pad": pad,
        })  # fmt: skip
    return out


def make_theta(p: list[dict[str, Any]]) -> tuple[Callable[[], None], Callable[[], list]]:
    """theta: ``F.conv2d`` forward, ``backward`` with the fixed upstream gradient."""
    import theta
    from theta.nn import functional as F

    layers = [
        ({k: theta.tensor(d[k], requires_grad=True) for k in "xwb"}, d["g"], d["pad"]) for d in p
    ]

    def step() -> None:
        for t, g, pad in layers:
            for v in t.values():
                v.grad = None
            F.conv2d(t["x"], t["w"], t["b"], padding=pad).backward(g)

    def results() -> list:
        step()
        out = []
        for t, _, pad in layers:
            with theta.no_grad():
                y = F.conv2d(t["x"], t["w"], t["b"], padding=pad).numpy()
            out.append([y, *(t[k].grad for k in "xwb")])
        return out

    return step, results


def make_torch(p: list[dict[str, Any]]) -> tuple[Callable[[], None], Callable[[], list]]:
    """PyTorch: ``torch.nn.functional.conv2d`` the same way."""
    import torch

    layers = [
        ({k: torch.tensor(d[k], requires_grad=True) for k in "xwb"}, torch.tensor(d["g"]),
         d["pad"])
        for d in p
    ]  # fmt: skip

    def step() -> None:
        for t, g, pad in layers:
            for v in t.values():
                v.grad = None
            torch.nn.functional.conv2d(t["x"], t["w"], t["b"], padding=pad).backward(g)

    def results() -> list:
        step()
        out = []
        for t, _, pad in layers:
            with torch.no_grad():
                y = torch.nn.functional.conv2d(t["x"], t["w"], t["b"], padding=pad).numpy()
            out.append([y, *(t[k].grad.numpy() for k in "xwb")])
        return out

    return step, results


def check(p: list[dict[str, Any]]) -> float:
    """theta's output and three gradients equal PyTorch's (float32, rtol 1e-4); the largest
    difference relative to each array's largest value."""
    ours, theirs = make_theta(p)[1](), make_torch(p)[1]()
    worst = 0.0
    for layer_ours, layer_theirs in zip(ours, theirs, strict=True):
        for name, a, b in zip(("output", "x.grad", "w.grad", "b.grad"), layer_ours,
                              layer_theirs, strict=True):  # fmt: skip
            scale = float(np.abs(b).max())
            if not np.allclose(a, b, rtol=1e-4, atol=1e-4 * scale):
                raise AssertionError(f"conv2d benchmark: theta's {name} differs from PyTorch's")
            worst = max(worst, float(np.abs(a - b).max()) / scale)
    return worst


def register(suite: Suite) -> dict[str, str]:
    """Check both workloads against PyTorch, then add them to ``suite``."""
    notes = {}
    for label, layers in LAYERS.items():
        p = problem(layers)
        worst = check(p)
        notes[f"conv2d check, {label.split(':')[0]}"] = (
            f"output and x, w, b gradients allclose to PyTorch (rtol 1e-4); largest relative "
            f"difference {worst:.1e}"
        )
        suite.add(
            CONV_CASES[label],
            {"theta": make_theta(p)[0], "torch": make_torch(p)[0]},
            baseline="torch",
            unit="step",
            ratios=[("theta", "torch")],
            note="theta: im2col (one strided copy) + one GEMM forward, two GEMMs + col2im "
            "backward; with stride 1 and >= 32 channels (ResNet) one GEMM per kernel offset "
            "on shifted slices instead. PyTorch: its native CPU convolution (oneDNN).",
        )
    return notes
