"""Training a GPT on a text: its windows, the validation table, the loop (nanoGPT's train.py).

The text's first ``1 - val_fraction`` is for training, on every window of ``block_size``
tokens in random order; the rest is for validation, on up to ``eval_windows`` non-overlapping
windows spread evenly over it, whose loss :class:`~theta.train.EvaluateEvery` measures every
``eval_every`` steps. The loop itself is :func:`theta.train.fit`, so checkpoints, exact resume,
Ctrl-C and the divergence guard work as for any model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from theta.models.transformer import GPT, lm_loss, next_token_windows
from theta.train import Callback, History, fit
from theta.train.callbacks import EvaluateEvery
from theta.validation import moved_keywords

__all__ = ["gpt_windows", "train_gpt"]


def gpt_windows(ids: np.ndarray, block_size: int, *, val_fraction: float = 0.1,
                eval_windows: int = 256) -> tuple[tuple[np.ndarray, np.ndarray],
                                                  tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Training and validation windows of a token stream: ``((X, y), (X_val, y_val))``.

    ``X`` holds every window of ``block_size`` tokens of the first ``1 - val_fraction`` of
    ``ids`` (views, no copy) and ``y`` the same shifted by one, both (N, T); the validation
    pairs are up to ``eval_windows`` non-overlapping windows spread evenly over the rest.

    Raises
    ------
    ValueError
        If either part is shorter than ``block_size + 1`` tokens, naming the part and both
        numbers.

    Examples
    --------
    >>> (X, y), (X_val, y_val) = gpt_windows(np.arange(20), 3, val_fraction=0.4)
    >>> X.shape, X[1].tolist(), y[1].tolist()
    ((9, 3), [1, 2, 3], [2, 3, 4])
    >>> X_val.tolist()
    [[12, 13, 14], [15, 16, 17]]
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"gpt_windows: val_fraction must be in (0, 1) (got {val_fraction!r}).")
    ids = np.asarray(ids)
    split, T = int(len(ids) * (1 - val_fraction)), block_size
    for part, name in ((ids[:split], "training"), (ids[split:], "validation")):
        if len(part) < T + 1:
            raise ValueError(
                f"gpt_windows: the {name} text has {len(part)} characters; block_size {T} "
                f"needs at least {T + 1}. Use more text or a smaller block_size."
            )
    X = np.lib.stride_tricks.sliding_window_view(ids[: split - 1], T)  # (N, T)
    y = np.lib.stride_tricks.sliding_window_view(ids[1:split], T)  # (N, T)
    X_val, y_val = next_token_windows(ids[split:], T, stride=T)
    spread = np.linspace(0, len(X_val) - 1, min(eval_windows, len(X_val))).round().astype(int)
    return (X, y), (X_val[spread], y_val[spread])


@moved_keywords({
    "checkpoint": "callbacks=[ModelCheckpoint(path)] (and resume=True to continue from it)",
    "checkpoint_every": "callbacks=[ModelCheckpoint(path, every_n_steps=n)]",
})
def train_gpt(
    model: GPT, ids: np.ndarray, *, steps: int | None = None, epochs: int | None = None,
    batch_size: int = 12, optimizer: str = "adamw", lr: float = 1e-3,
    val_fraction: float = 0.1, eval_every: int = 100, eval_windows: int = 256, seed: Any = None,
    callbacks: Sequence[Callback] = (), resume: bool = False, progress: bool | None = None,
) -> History:  # fmt: skip
    """Train ``model`` to predict the next token of ``ids``, measuring the validation loss.

    Parameters
    ----------
    model : GPT
    ids : ndarray of int, shape (n_tokens,)
        The text as token ids, e.g. ``CharTokenizer.from_text(text).encode(text)``.
    steps, epochs : int, optional
        Length of training in optimizer steps, or in passes over the training windows.
    batch_size : int, default=12
        Windows per step (nanoGPT's CPU configuration, as ``optimizer`` and ``lr``).
    optimizer : str, default="adamw"
    lr : float, default=1e-3
    val_fraction, eval_windows : see :func:`gpt_windows`.
    eval_every : int, default=100
        Steps between validation losses (also measured at step 0 and at the last step).
    seed : int, optional
        Seeds the window order; with the model's ``rng`` the same seed gives the same run.
    callbacks, resume, progress :
        As for :func:`theta.train.fit`: a :class:`~theta.train.ModelCheckpoint` in
        ``callbacks`` makes the run resumable; a resumed run continues the validation table
        too.

    Returns
    -------
    History
        ``EvaluateEvery.rows(history)`` gives the table ``(step, training loss since the
        previous row, validation loss)``.

    Examples
    --------
    >>> from theta.models import CharTokenizer, GPTConfig
    >>> text = "to be or not to be, that is the question. " * 4
    >>> tokenizer = CharTokenizer.from_text(text)
    >>> config = GPTConfig(tokenizer.vocab_size, block_size=8, n_layer=1, n_heads=2, n_embd=8)
    >>> model = GPT(config, rng=0)
    >>> history = train_gpt(model, tokenizer.encode(text), steps=4, eval_every=2, seed=0,
    ...                     progress=False)
    >>> [step for step, _, _ in EvaluateEvery.rows(history)]
    [0, 2, 4]
    """
    (X, y), (X_val, y_val) = gpt_windows(ids, model.config.block_size, val_fraction=val_fraction,
                                         eval_windows=eval_windows)  # fmt: skip
    total = steps or (epochs or 1) * math.ceil(len(X) / batch_size)
    evals = EvaluateEvery(eval_every, X_val, y_val, last_step=total)
    return fit(model, X, y, loss=lm_loss, optimizer=optimizer, lr=lr, steps=total,
               batch_size=batch_size, seed=seed, callbacks=[*callbacks, evals],
               resume=resume, progress=progress)  # fmt: skip
