"""A tiny GPT's training step side by side: theta against PyTorch (CPU, eager).

The workload is nanoGPT's CPU-sized character model: vocabulary 65, context 64, 4 layers,
4 heads, width 128 (0.8 M parameters), batch 32 windows of tiny-shakespeare, float32. One step
is ``zero_grad``, forward, next-token cross-entropy, backward and an AdamW update (lr 1e-3,
betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on every parameter, both libraries' defaults).

Implementations:

- ``theta``: ``theta.models.GPT`` + ``theta.models.lm_loss`` + ``theta.optim.AdamW``.
- ``torch``: the same architecture written with ``torch.nn`` (packed qkv Linear,
  ``F.scaled_dot_product_attention(is_causal=True)``, pre-norm blocks, tanh GELU, the head
  tied to the token embedding) + ``F.cross_entropy`` + ``torch.optim.AdamW`` with its defaults
  (``foreach=None``: the per-tensor loop on CPU tensors), loaded with theta's initial weights.

Before timing, both take two steps from the same weights on the same batches in float64, and
the losses, every gradient and the updated weights must agree (1e-8); so the timed code is the
same computation. A second case times the fused causal self-attention alone (forward and
backward), theta's ``PackedSelfAttention`` against ``F.scaled_dot_product_attention``.
:func:`throughput_markdown` turns the step times into tokens per second.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from harness import CaseResult, Suite, with_numpy_only

__all__ = [
    "GPT_CASE",
    "make_theta",
    "make_torch",
    "register",
    "throughput_markdown",
    "torch_gpt",
]

VOCAB, BLOCK, N_LAYER, N_HEADS, N_EMBD, BATCH = 65, 64, 4, 4, 128, 32
LR = 1e-3
GPT_CASE = (
    f"Training step: GPT vocab {VOCAB}, context {BLOCK}, {N_LAYER} layers, {N_HEADS} heads, "
    f"width {N_EMBD}, batch {BATCH}, AdamW, float32"
)
ATTENTION_CASE = (
    f"Causal self-attention alone: B {BATCH}, nh {N_HEADS}, T {BLOCK}, hs {N_EMBD // N_HEADS}, "
    "float32: forward + backward"
)


def batches(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` batches of (inputs, targets), random windows of tiny-shakespeare, (B, T) each."""
    from theta.data import load_tinyshakespeare
    from theta.models import CharTokenizer

    text = load_tinyshakespeare()
    ids = CharTokenizer.from_text(text).encode(text)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        starts = rng.integers(0, len(ids) - BLOCK - 1, BATCH)[:, None] + np.arange(BLOCK)
        out.append((ids[starts], ids[starts + 1]))
    return out


def torch_gpt(state: dict[str, np.ndarray], dtype: Any) -> Any:
    """theta's GPT layout in ``torch.nn``, with theta's parameter names, loaded from ``state``."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    C, nh = N_EMBD, N_HEADS

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.in_proj_weight = nn.Parameter(torch.empty(3 * C, C, dtype=dtype))
            self.in_proj_bias = nn.Parameter(torch.empty(3 * C, dtype=dtype))
            self.out_proj = nn.Linear(C, C, dtype=dtype)

        def forward(self, x: Any) -> Any:
            B, T, _ = x.shape
            qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3C)
            q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in qkv.split(C, dim=-1))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
            return self.out_proj(y.transpose(1, 2).reshape(B, T, C))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.attn = nn.LayerNorm(C, dtype=dtype), Attention()
            self.ln2, self.fc = nn.LayerNorm(C, dtype=dtype), nn.Linear(C, 4 * C, dtype=dtype)
            self.proj = nn.Linear(4 * C, C, dtype=dtype)

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln1(x))
            return x + self.proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class TorchGPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(VOCAB, C, dtype=dtype)
            self.wpe = nn.Embedding(BLOCK, C, dtype=dtype)
            self.blocks = nn.ModuleList(Block() for _ in range(N_LAYER))
            self.ln_f = nn.LayerNorm(C, dtype=dtype)

        def forward(self, idx: Any) -> Any:
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for block in self.blocks:
                x = block(x)
            return self.ln_f(x) @ self.wte.weight.T  # the head is the token embedding

    model = TorchGPT()
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    return model


class _Trainee:
    """One implementation's model, optimizer, batch and step, with an untimed weight reset."""

    def __init__(self, step: Callable[[], float], reset: Callable[[], None], model: Any,
                 optimizer: Any) -> None:  # fmt: skip
        self.step, self.reset, self.model, self.optimizer = step, reset, model, optimizer


def make_theta(dtype: Any = np.float32, data: list | None = None) -> _Trainee:
    from theta.models import GPT, GPTConfig, lm_loss
    from theta.optim import AdamW

    model = GPT(GPTConfig(VOCAB, BLOCK, N_LAYER, N_HEADS, N_EMBD), rng=0, dtype=dtype)
    initial = model.state_dict()
    optimizer = AdamW(model.parameters(), lr=LR)
    data = data or batches(1)
    turn = [0]

    def step() -> float:
        x, y = data[turn[0] % len(data)]
        turn[0] += 1
        optimizer.zero_grad()
        loss = lm_loss(model(x), y)  # 1. forward, 2. loss
        loss.backward()  # 3. gradient
        optimizer.step()  # 4. update
        return float(loss.item())

    def reset() -> None:
        model.load_state_dict(initial)

    return _Trainee(step, reset, model, optimizer)


def make_torch(state: dict[str, np.ndarray], dtype: Any = None, data: list | None = None
               ) -> _Trainee:  # fmt: skip
    import torch
    from torch.nn import functional as F

    dtype = dtype or torch.float32
    model = torch_gpt(state, dtype)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    data = [(torch.as_tensor(x), torch.as_tensor(y)) for x, y in (data or batches(1))]
    turn = [0]

    def step() -> float:
        x, y = data[turn[0] % len(data)]
        turn[0] += 1
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, VOCAB), y.view(-1))
        loss.backward()
        optimizer.step()
        return float(loss.item())

    def reset() -> None:
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(torch.as_tensor(state[name]))

    return _Trainee(step, reset, model, optimizer)


def check(n_steps: int = 2) -> str:
    """Two float64 steps of both from the same weights and batches: all must agree to 1e-8."""
    import torch

    data = batches(n_steps, seed=1)
    ours = make_theta(np.float64, data)
    theirs = make_torch(ours.model.state_dict(), torch.float64, data)
    worst = {"loss": 0.0, "gradient": 0.0, "weight": 0.0}
    for _ in range(n_steps):
        a, b = ours.step(), theirs.step()
        worst["loss"] = max(worst["loss"], abs(a - b))
        tparams = dict(theirs.model.named_parameters())
        for name, p in ours.model.named_parameters():
            q = tparams[name]
            worst["gradient"] = max(worst["gradient"],
                                    float(np.abs(p.grad - q.grad.numpy()).max()))  # fmt: skip
            worst["weight"] = max(worst["weight"],
                                  float(np.abs(p.data - q.detach().numpy()).max()))  # fmt: skip
    if max(worst.values()) > 1e-8:
        raise AssertionError(f"GPT check failed: theta and torch differ by {worst}")
    return (f"{n_steps} float64 AdamW steps from the same weights: max abs difference "
            + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))  # fmt: skip


def make_attention() -> dict[str, Callable[[], Any]]:
    """Fused causal self-attention forward + backward, theta and torch, on the same input."""
    import torch
    from torch.nn import functional as F

    import theta
    from theta.nn import attention_mask
    from theta.nn.attention import PackedSelfAttention

    rng = np.random.default_rng(0)
    qkv = rng.standard_normal((BATCH, BLOCK, 3 * N_EMBD)).astype(np.float32)
    grad = rng.standard_normal((BATCH, BLOCK, N_EMBD)).astype(np.float32)
    mask = attention_mask(BLOCK, causal=True)
    scale = 1.0 / math.sqrt(N_EMBD // N_HEADS)
    x = theta.tensor(qkv, requires_grad=True)
    tx, tgrad = torch.tensor(qkv, requires_grad=True), torch.as_tensor(grad)

    def theta_attention() -> None:
        x.grad = None
        out = PackedSelfAttention.apply(x, n_heads=N_HEADS, mask=mask, scale=scale, keep=None)
        out.backward(grad)

    def torch_attention() -> None:
        tx.grad = None
        q, k, v = (t.view(BATCH, BLOCK, N_HEADS, -1).transpose(1, 2)
                   for t in tx.split(N_EMBD, dim=-1))  # fmt: skip
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y.transpose(1, 2).reshape(BATCH, BLOCK, N_EMBD).backward(tgrad)

    theta_attention()
    torch_attention()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-3, atol=1e-4)
    return {"theta": theta_attention, "torch": torch_attention}


def register(suite: Suite) -> dict[str, str]:
    """Check correctness, then add the GPT step and the attention cases; returns check notes."""
    notes = {"GPT check": check()}
    ours = make_theta()
    theirs = make_torch(ours.model.state_dict())
    impls, ratios = {"theta": ours.step, "torch": theirs.step}, [("theta", "torch")]
    reset = {"theta": ours.reset, "torch": theirs.reset}
    with_numpy_only(impls, ratios, reset)
    suite.add(
        GPT_CASE,
        impls,
        baseline="torch",
        unit="step",
        ratios=ratios,
        differences=[("theta", "torch")],
        reset=reset,
        note=f"One full step on {BATCH * BLOCK} tokens: zero_grad, forward, next-token "
        "cross-entropy, backward, AdamW. Same initial weights (each sample starts from them "
        "again, untimed); tokens per second are in the section after the results.",
    )
    notes["attention check"] = "theta's and torch's gradients of the packed qkv allclose (1e-3)"
    impls, ratios = make_attention(), [("theta", "torch")]
    with_numpy_only(impls, ratios)
    suite.add(
        ATTENTION_CASE,
        impls,
        baseline="torch",
        unit="call",
        ratios=ratios,
        note="theta: PackedSelfAttention (split, scores, causal mask, softmax, weighted sum "
        "and their backward in one Function); torch: the same views around "
        "F.scaled_dot_product_attention(is_causal=True).",
    )
    return notes


def throughput_markdown(results: list[CaseResult]) -> str:
    """A markdown section: training tokens per second of the GPT step, per implementation."""
    found = [r for r in results if r.case.name == GPT_CASE]
    if not found:
        return ""
    result = found[0]
    lines = ["## GPT training throughput", "",
             f"Tokens per second = {BATCH} × {BLOCK} tokens / median step time.", "",
             "| implementation | median step | tokens / s |", "|---|---:|---:|"]  # fmt: skip
    for impl in result.case.impls:
        median = result.median(impl)
        lines.append(f"| {impl} | {median * 1e3:.1f} ms | {BATCH * BLOCK / median:,.0f} |")
    return "\n".join(lines) + "\n"
