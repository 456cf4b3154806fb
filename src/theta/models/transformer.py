"""A GPT: the chapter's skeleton with "billions of parameters instead of two, and a fancier f".

Same Tensor, same loss, same ``backward()``, same optimizer as the straight line; only the
forward function is bigger. Ordered from the smallest part to the whole: the character
tokenizer, the config, the model, sampling.

Dimensions: B batch, T sequence length, C embedding size (n_embd), V vocabulary size.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from theta.autograd import Tensor, no_grad
from theta.losses import cross_entropy
from theta.nn import Dropout, Embedding, LayerNorm, Module, TransformerBlock
from theta.nn import functional as F
from theta.rng import check_random_state
from theta.special import softmax
from theta.validation import Interval, validate_params

__all__ = ["GPT", "CharTokenizer", "GPTConfig", "lm_loss", "next_token_windows"]


class CharTokenizer:
    """Characters ↔ integer ids, the vocabulary being the sorted characters of a text.

    Examples
    --------
    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.chars
    ['e', 'h', 'l', 'o']
    >>> tok.encode("hell").tolist(), tok.decode([1, 0, 2, 3])
    ([1, 0, 2, 2], 'helo')
    """

    def __init__(self, chars: Sequence[str]) -> None:
        self.chars = list(chars)
        self._ids = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - self._ids.keys())
        if unknown:
            raise ValueError(
                f"CharTokenizer: characters {unknown!r} are not in the vocabulary of "
                f"{self.vocab_size} characters."
            )
        return np.array([self._ids[c] for c in text], dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        return "".join(self.chars[int(i)] for i in ids)


_SIZE = Interval(numbers.Integral, 1, None)
_GPT_CONSTRAINTS = {
    "vocab_size": [_SIZE], "block_size": [_SIZE], "n_layer": [_SIZE], "n_heads": [_SIZE],
    "n_embd": [_SIZE], "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    "bias": ["boolean"],
}  # fmt: skip


@dataclass(frozen=True)
class GPTConfig:
    """Every architecture number of a GPT (hyperparameters, in the chapter's words).

    A value, so it is checked when made: ``GPTConfig(n_embd=10, n_heads=4)`` raises.

    Examples
    --------
    >>> config = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_heads=2, n_embd=8)
    >>> config.n_embd // config.n_heads  # each head's width
    4
    """

    vocab_size: int = 65
    block_size: int = 64  # the longest context the model attends over
    n_layer: int = 4
    n_heads: int = 4
    n_embd: int = 128  # must be divisible by n_heads
    dropout: float = 0.0
    bias: bool = True  # biases in the linear layers and layer norms, as GPT-2

    def __post_init__(self) -> None:
        validate_params(self, _GPT_CONSTRAINTS)
        if self.n_embd % self.n_heads != 0:
            raise ValueError(
                f"GPTConfig: n_embd ({self.n_embd}) must be divisible by n_heads ({self.n_heads})."
            )


class GPT(Module):
    """A decoder-only transformer language model (GPT-2's layout, pre-norm, tied embeddings).

    Parameters
    ----------
    config : GPTConfig, optional
        Every architecture number (default ``GPTConfig()``).
    rng : int or Generator, optional
        Draws the initial weights: normal with std 0.02, residual projections scaled by
        ``1/sqrt(2 n_layer)`` as in GPT-2.
    dtype : numpy dtype, optional
        Of the parameters (default: theta's default dtype).
    **fields
        ``GPTConfig``'s fields instead of ``config``: ``GPT(n_layer=2)`` is
        ``GPT(GPTConfig(n_layer=2))``. This is also how a saved model is rebuilt, since its
        hyperparameters are the config's fields (see :meth:`hyperparameters`).

    Examples
    --------
    >>> import numpy as np
    >>> model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_heads=2, n_embd=8), rng=0)
    >>> model(np.array([[1, 2, 3]])).shape
    (1, 3, 10)
    >>> model.hyperparameters()["n_embd"]
    8
    """

    def __init__(self, config: GPTConfig | None = None, *, rng: Any = None, dtype: Any = None,
                 **fields: Any) -> None:  # fmt: skip
        if config is not None and not isinstance(config, GPTConfig):
            raise TypeError(
                f"GPT: config must be a GPTConfig (got {type(config).__name__} {config!r}); "
                "pass the sizes as GPTConfig(vocab_size=..., ...) or by name, GPT(vocab_size=...)."
            )
        if config is not None and fields:
            raise TypeError(
                f"GPT: give a GPTConfig or its fields, not both (got config and {sorted(fields)})."
            )
        unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(GPTConfig)})
        if unknown:
            raise TypeError(
                f"GPT: unknown config field {unknown[0]!r}; GPTConfig has "
                f"{', '.join(f.name for f in dataclasses.fields(GPTConfig))}."
            )
        self.config = c = config if config is not None else GPTConfig(**fields)
        rng = check_random_state(rng)
        self.wte = Embedding(c.vocab_size, c.n_embd, rng=rng, dtype=dtype)  # also the output head
        self.wpe = Embedding(c.block_size, c.n_embd, rng=rng, dtype=dtype)
        self.drop = Dropout(c.dropout, rng=rng)
        self.blocks = [
            TransformerBlock(c.n_embd, c.n_heads, causal=True, dropout=c.dropout, bias=c.bias,
                             rng=rng, dtype=dtype)
            for _ in range(c.n_layer)
        ]  # fmt: skip
        self.ln_f = LayerNorm(c.n_embd, dtype=dtype)
        self._init_weights(rng)

    def hyperparameters(self) -> dict[str, Any]:
        """The config's fields, flat: what ``theta.io.save`` records and ``GPT(**fields)``
        rebuilds (the format of every saved GPT folder, so older ones load too)."""
        return dataclasses.asdict(self.config)

    def _init_weights(self, rng: np.random.Generator) -> None:
        """GPT-2's init: N(0, 0.02) weights, zero biases, scaled residual projections."""
        residual_std = 0.02 / np.sqrt(2 * self.config.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("bias") or name.startswith("ln") or ".ln" in name:
                continue
            std = residual_std if name.endswith("proj.weight") else 0.02
            p.data[...] = rng.standard_normal(p.shape) * std

    def forward(self, idx: Any) -> Tensor:
        """Logits for the next token at every position: ids (B, T) → (B, T, V)."""
        x = self._embed(idx)  # (B, T, C)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        return F.linear(self.ln_f(x), self.wte.weight)  # (B, T, V): the head shares wte

    def _embed(self, idx: Any) -> Tensor:
        """Token plus position embeddings of ids (B, T), after checking the ids: (B, T, C)."""
        idx = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        if idx.ndim != 2:
            raise ValueError(f"GPT.forward: expected token ids of shape (B, T), got {idx.shape}.")
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(
                f"GPT.forward: sequence length {T} exceeds block_size {self.config.block_size}; "
                f"crop the context to the last {self.config.block_size} tokens."
            )
        V = self.config.vocab_size
        if idx.size and idx.dtype.kind in "iu" and (idx.min() < 0 or idx.max() >= V):
            raise ValueError(
                f"GPT.forward: token ids must be in [0, {V}) for vocab_size {V} "
                f"(got ids from {idx.min()} to {idx.max()})."
            )
        return self.drop(self.wte(idx) + self.wpe(np.arange(T)))  # (B, T, C)

    def attention_weights(self, idx: Any, layer: int = -1) -> np.ndarray:
        """What block ``layer`` attends to for ids (B, T): weights of shape (B, nh, T, T).

        Row ``t`` of head ``h`` is how much position ``t`` takes from each earlier position
        (zeros after ``t``: the model may not look ahead). Computed in eval mode, outside any
        graph; for pictures such as ``theta.plot.attention_map``.

        Examples
        --------
        >>> model = GPT(vocab_size=10, block_size=8, n_layer=2, n_heads=2, n_embd=8, rng=0)
        >>> weights = model.attention_weights(np.array([[1, 2, 3]]))
        >>> weights.shape, weights[0, 0, 0].round(3).tolist()
        ((1, 2, 3, 3), [1.0, 0.0, 0.0])
        """
        n = len(self.blocks)
        if not -n <= layer < n:
            raise IndexError(f"GPT.attention_weights: layer {layer} is out of range for {n} "
                             "blocks.")  # fmt: skip
        layer %= n
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                x = self._embed(idx)  # (B, T, C)
                for block in self.blocks[:layer]:
                    x = block(x)
                block = self.blocks[layer]
                return block.attn.attention_weights(block.ln1(x))
        finally:
            self.train(was_training)

    def generate(self, prompt: Any, max_new_tokens: int, *, temperature: float = 1.0,
                 top_k: int | None = None, seed: Any = None) -> np.ndarray:  # fmt: skip
        """Sample ``max_new_tokens`` ids after ``prompt`` (ids of shape (T,) or (B, T)).

        ``temperature`` < 1 sharpens the distribution, ``top_k`` keeps only the k likeliest
        tokens; the same ``seed`` gives the same text.
        """
        if not temperature > 0:  # NaN too
            raise ValueError(f"generate: temperature must be > 0 (got {temperature}).")
        rng = check_random_state(seed)
        ids = np.atleast_2d(np.asarray(prompt, dtype=np.int64))
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(max_new_tokens):
                    logits = self(ids[:, -self.config.block_size :]).numpy()[:, -1, :]  # (B, V)
                    logits = logits.astype(np.float64) / temperature
                    if top_k is not None:
                        cutoff = np.sort(logits, axis=-1)[:, -min(top_k, logits.shape[-1])]
                        logits[logits < cutoff[:, None]] = -np.inf
                    probs = softmax(logits)  # (B, V)
                    nxt = [rng.choice(len(p), p=p) for p in probs]
                    ids = np.concatenate([ids, np.array(nxt)[:, None]], axis=1)
        finally:
            self.train(was_training)
        return ids if np.ndim(prompt) == 2 else ids[0]


def lm_loss(logits: Tensor, targets: Any) -> Tensor:
    """Mean next-token cross-entropy: logits (B, T, V) against ids (B, T).

    Examples
    --------
    >>> import numpy as np
    >>> import theta
    >>> from theta.models import lm_loss
    >>> logits = theta.zeros(2, 3, 5)  # (B, T, V): uniform over 5 tokens
    >>> targets = np.zeros((2, 3), dtype=np.int64)  # (B, T)
    >>> lm_loss(logits, targets).round(4)  # log(5)
    tensor(1.6094)
    """
    B, T, V = logits.shape
    return cross_entropy(logits.reshape(B * T, V), np.asarray(targets).reshape(B * T))


def next_token_windows(ids: np.ndarray, block_size: int, *, stride: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Cut a token stream into training pairs: inputs (N, T) and the same shifted by one.

    ``stride`` (default ``block_size // 2``) sets how far consecutive windows start apart.

    Examples
    --------
    >>> X, y = next_token_windows(np.arange(6), 3, stride=2)
    >>> X.tolist(), y.tolist()
    ([[0, 1, 2], [2, 3, 4]], [[1, 2, 3], [3, 4, 5]])
    """
    stride = stride or max(1, block_size // 2)
    starts = np.arange(0, len(ids) - block_size, stride)
    offsets = np.arange(block_size)
    X = ids[starts[:, None] + offsets]
    return X, ids[starts[:, None] + offsets + 1]
