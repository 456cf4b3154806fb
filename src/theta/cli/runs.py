"""Run folders: what ``theta train`` leaves behind, and what ``theta predict`` reads back.

A run folder holds the resolved config (``config.json``), the per-epoch metrics
(``metrics.csv``), the trained model (``model/``, see :mod:`theta.io`), the feature scaling
(``preprocessing.safetensors``), a resumable checkpoint (``checkpoint.safetensors``),
pictures (``loss_curve.png`` and more, with the ``plot`` extra; see :mod:`theta.cli.pictures`)
and a summary (``summary.json``). Every file is written atomically.

A GPT run (``--model gpt``) keeps the same layout, with the character vocabulary
(``tokenizer.json``) in place of the feature scaling, and ``metrics.csv`` holding the
validation loss every ``eval_every`` steps; ``theta generate`` samples from it.
"""

from __future__ import annotations

import csv
import io as _io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from theta import data, io
from theta.autograd import no_grad, tensor
from theta.cli import pictures
from theta.cli.config import TrainConfig
from theta.models import GPT, CharTokenizer, lm_loss, next_token_windows
from theta.nn import MLP, Linear, Module
from theta.plot import loss_curve
from theta.tensorfile import atomic_write_text, read_tensors, write_tensors
from theta.train import Callback, History, fit

__all__ = ["Run", "check_run_dir", "claim_run_dir", "load_gpt_run", "load_run", "load_table",
           "train_gpt_run", "train_run"]  # fmt: skip

TOKENIZER_FORMAT = "theta.char_tokenizer"


@dataclass
class Run:
    """A trained model with what it needs to predict: scaling and the names of its outputs."""

    path: Path
    model: Module
    mean: np.ndarray
    scale: np.ndarray
    task: str
    target_names: list[str]

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def predict(self, X: np.ndarray) -> list[str]:
        """Predictions for rows of ``X`` as printable strings (class names or numbers)."""
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but the model in {self.path} is expecting "
                f"{self.n_features} features as input."
            )
        dtype = next(self.model.parameters()).dtype
        self.model.eval()
        with no_grad():  # inference: the forward pass alone
            out = self.model(tensor(((X - self.mean) / self.scale).astype(dtype))).numpy()
        if self.task == "classification":
            return [self.target_names[i] for i in out.argmax(axis=1)]
        return [f"{v:.6g}" for v in out[:, 0]]


def load_table(name: str, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    """A data set's features, targets, task and class names (text corpora are refused).

    A generated data set is drawn with ``seed``, so a run and its report see the same points.
    """
    generated = data.dataset_info(name).generated
    loaded = data.load(name, random_state=seed) if generated else data.load(name)
    if isinstance(loaded, str):
        raise ValueError(
            f"data set {name!r} is a text corpus; train a language model on it with --model gpt."
        )
    X, y = (loaded.X, loaded.y) if isinstance(loaded, data.Dataset) else loaded
    task = "classification" if np.asarray(y).dtype.kind in "iub" else "regression"
    names = list(getattr(loaded, "target_names", None) or [])
    if task == "classification" and not names:
        names = [str(c) for c in range(int(np.max(y)) + 1)]
    return np.asarray(X, dtype=np.float64), np.asarray(y), task, names


def _build_model(config: TrainConfig, n_in: int, n_out: int) -> Module:
    if config.model == "linear":
        return Linear(n_in, n_out, rng=config.seed)
    sizes = (n_in, *config.hidden, n_out)
    return MLP(sizes, activation=config.activation, dropout=config.dropout, rng=config.seed)


def train_run(config: TrainConfig, run_dir: Path, *, resume: bool, quiet: bool,
              out: TextIO | None, model: Module | None = None,
              callbacks: Sequence[Callback] = ()) -> History:  # fmt: skip
    """Train as ``config`` says and write the run folder; return the history.

    ``model`` replaces the one ``config`` describes (the chapter's starts at w = b = 0);
    ``callbacks`` go to ``fit``. With ``out=None`` nothing is printed.
    """
    if config.model == "gpt":
        return train_gpt_run(config, run_dir, resume=resume, quiet=quiet, out=out)
    X, y, task, target_names = load_table(config.data, seed=config.seed)
    if config.val_split > 0:
        X, X_val, y, y_val = data.train_val_split(X, y, val_fraction=config.val_split,
                                                  rng=config.seed)  # fmt: skip
        validation = (X_val, y_val)
    else:
        validation = None
    mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    if config.standardize:
        mean, scale = X.mean(axis=0), X.std(axis=0)
        scale[scale == 0] = 1.0  # a constant feature stays 0 rather than becoming NaN
    n_out = len(target_names) if task == "classification" else 1

    def scaled(X_: np.ndarray) -> np.ndarray:
        return (X_ - mean) / scale

    def target(y_: np.ndarray) -> np.ndarray:
        return y_ if task == "classification" else y_.reshape(-1, 1)

    if model is None:
        model = _build_model(config, X.shape[1], n_out)
    start = [p.data.copy() for p in model.parameters()]
    two_parameters = model.n_parameters() == 2  # the chapter's w and b: draw their walk
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    started = time.perf_counter()
    history = fit(
        model, scaled(X), target(y), loss=config.loss_for(task), optimizer=config.optimizer,
        lr=config.lr, steps=config.steps or None, epochs=None if config.steps else config.epochs,
        batch_size=config.batch_size or None, seed=config.seed,
        validation_data=None if validation is None else (scaled(validation[0]),
                                                         target(validation[1])),
        metrics=["accuracy"] if task == "classification" else ["r2"],
        progress=None if not quiet else False, callbacks=callbacks,
        checkpoint=str(run_dir / "checkpoint.safetensors"), record_params=two_parameters,
        checkpoint_every=config.checkpoint_every, resume=resume,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    io.save(model, run_dir / "model", overwrite=True)
    write_tensors(run_dir / "preprocessing.safetensors", {"mean": mean, "scale": scale},
                  {"task": task, "target_names": json.dumps(target_names)})  # fmt: skip
    _write_metrics(run_dir / "metrics.csv", history)
    final = {k: v[-1] for k, v in history.epochs.items()}
    summary = {"data": config.data, "task": task, "steps": history.n_steps,
               "seconds": round(seconds, 3), "n_parameters": model.n_parameters(),
               "final": final, "stopped_reason": history.stopped_reason}  # fmt: skip
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    trained = Run(run_dir, model, mean, scale, task, target_names)
    drawn = pictures.table_pictures(run_dir, history, trained, train=(X, y),
                                    validation=validation, loss=config.loss_for(task),
                                    start=start)  # fmt: skip
    if out is not None:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in final.items())
        print(f"trained {config.model} on {config.data}: {history.n_steps} steps, {shown}",
              file=out)  # fmt: skip
        print(saved_note(run_dir, drawn), file=out)
    return history


def saved_note(run_dir: Path, drawn: bool) -> str:
    """The last line of a training command: where the run is, and how to get its pictures."""
    return f"run saved to {run_dir}" + ("" if drawn else " (pip install 'theta-ml[plot]' "
                                        "for its pictures)")  # fmt: skip


def _write_metrics(path: Path, history: History) -> None:
    keys = list(history.epochs)
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(len(history.epochs[keys[0]]) if keys else 0):
        writer.writerow([i + 1, *(f"{history.epochs[k][i]:.8g}" for k in keys)])
    atomic_write_text(path, buffer.getvalue())


def check_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` as a Path; FileNotFoundError naming it when there is no such folder."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run folder not found: {path}")
    return path


def claim_run_dir(run_dir: str | Path, *, overwrite: bool, resume: bool | None = None) -> Path:
    """``run_dir`` as a Path, unless it already holds something that neither ``--overwrite``
    nor (for resumable runs, where ``resume`` is not None) ``--resume`` lets a job touch."""
    path = Path(run_dir)
    taken = path.exists() and (not path.is_dir() or any(path.iterdir()))
    if taken and not (overwrite or resume):
        hint = "" if resume is None else " or --resume to continue it"
        raise FileExistsError(
            f"run folder {path} already exists; pass --overwrite to replace it{hint}"
        )
    return path


def load_run(run_dir: str | Path) -> Run:
    """Read a run folder written by ``theta train`` in a fresh process."""
    path = check_run_dir(run_dir)
    if (path / "tokenizer.json").is_file():
        raise ValueError(
            f"{path} holds a GPT language model; sample from it with "
            f"`theta generate {path} --prompt TEXT`."
        )
    model = io.load(path / "model")
    arrays, meta = read_tensors(path / "preprocessing.safetensors")
    names: list[Any] = json.loads(meta.get("target_names", "[]"))
    return Run(path, model, arrays["mean"], arrays["scale"], meta.get("task", "regression"),
               [str(n) for n in names])  # fmt: skip


# --- GPT runs ----------------------------------------------------------------------------------


class _ValidationEvery(Callback):
    """The validation loss at step 0, every ``every`` steps and at the last step.

    Each row is ``[step, mean training loss since the previous row, validation loss]``; the
    rows live in the checkpoint, so a resumed run continues the same table.
    """

    def __init__(self, every: int, total: int, X_val: np.ndarray, y_val: np.ndarray) -> None:
        self.every, self.total, self.val = every, total, (X_val, y_val)
        self.rows: list[list[Any]] = []

    def _evaluate(self, trainer: Any) -> None:
        step = trainer.step_count
        since = int(self.rows[-1][0]) if self.rows else 0
        recent = trainer.history.step_loss[since:step]
        train = float(np.mean(recent)) if recent else None
        self.rows.append([step, train, trainer.evaluate(*self.val)["loss"]])

    def on_train_begin(self, trainer: Any) -> None:
        if trainer.step_count == 0 and not self.rows:
            self._evaluate(trainer)

    def on_step_end(self, trainer: Any, result: Any) -> None:
        if trainer.step_count % self.every == 0 or trainer.step_count == self.total:
            self._evaluate(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [list(row) for row in self.rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [list(row) for row in state["rows"]]


def _load_text(name: str) -> str:
    """A text corpus by data-set name, or the contents of a ``.txt`` file."""
    path = Path(name)
    if path.suffix == ".txt" and path.is_file():
        return path.read_text(encoding="utf-8")
    loaded = data.load(name)
    if not isinstance(loaded, str):
        raise ValueError(
            f"data set {name!r} is not text; --model gpt needs a text corpus such as "
            "tinyshakespeare, or a .txt file."
        )
    return loaded


def train_gpt_run(config: TrainConfig, run_dir: Path, *, resume: bool, quiet: bool,
                  out: TextIO | None) -> History:  # fmt: skip
    """Train a character-level GPT as ``config`` says and write the run folder.

    The text's first ``1 - val_split`` is for training, on every window of ``block_size``
    characters in random order; the rest is for validation, on up to ``eval_windows``
    non-overlapping windows spread evenly over it.
    """
    text = _load_text(config.data)
    tokenizer = CharTokenizer.from_text(text)
    ids = tokenizer.encode(text)
    split, T = int(len(ids) * (1 - config.val_split)), config.block_size
    for part, name in ((ids[:split], "training"), (ids[split:], "validation")):
        if len(part) < T + 1:
            raise ValueError(
                f"the {name} text has {len(part)} characters; block_size {T} needs at least "
                f"{T + 1}. Use more text or a smaller --block-size."
            )
    # every training window as a view (no copy): inputs and the same shifted by one, (N, T)
    X = np.lib.stride_tricks.sliding_window_view(ids[: split - 1], T)
    y = np.lib.stride_tricks.sliding_window_view(ids[1:split], T)
    X_val, y_val = next_token_windows(ids[split:], T, stride=T)
    spread = np.linspace(0, len(X_val) - 1, min(config.eval_windows, len(X_val))).round()
    X_val, y_val = X_val[spread.astype(int)], y_val[spread.astype(int)]
    steps = config.steps or config.epochs * math.ceil(len(X) / config.batch_size)

    model = GPT(tokenizer.vocab_size, T, config.n_layer, config.n_heads, config.n_embd,
                config.dropout, rng=config.seed)  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    vocab = {"format": TOKENIZER_FORMAT, "chars": tokenizer.chars}
    atomic_write_text(run_dir / "tokenizer.json", json.dumps(vocab, ensure_ascii=False) + "\n")
    evals = _ValidationEvery(config.eval_every, steps, X_val, y_val)
    started = time.perf_counter()
    history = fit(
        model, X, y, loss=lm_loss, optimizer=config.optimizer, lr=config.lr, steps=steps,
        batch_size=config.batch_size, seed=config.seed, callbacks=[evals],
        progress=None if not quiet else False, checkpoint=str(run_dir / "checkpoint.safetensors"),
        checkpoint_every=config.checkpoint_every, resume=resume,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    io.save(model, run_dir / "model", overwrite=True)
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["step", "loss", "val_loss"])
    for step, train, val in evals.rows:
        writer.writerow([step, "" if train is None else f"{train:.8g}", f"{val:.8g}"])
    atomic_write_text(run_dir / "metrics.csv", buffer.getvalue())
    last = evals.rows[-1]
    summary = {"data": config.data, "model": "gpt", "steps": history.n_steps,
               "seconds": round(seconds, 3), "n_parameters": model.n_parameters(),
               "vocab_size": tokenizer.vocab_size, "final": {"loss": last[1], "val_loss": last[2]},
               "stopped_reason": history.stopped_reason}  # fmt: skip
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    validation = ([r[0] for r in evals.rows], [r[2] for r in evals.rows],
                  f"validation loss (every {config.eval_every} steps)")  # fmt: skip
    drawn = pictures.draw(loss_curve, history, run_dir / "loss_curve.png", validation=validation,
                          ylabel="cross-entropy (nats per character)")  # fmt: skip
    drawn = drawn and pictures.attention_picture(run_dir, model, tokenizer, ids[split:])
    if out is not None:
        print(f"trained gpt ({model.n_parameters():,} parameters) on {config.data}: "
              f"{history.n_steps} steps, val_loss {last[2]:.4g}", file=out)  # fmt: skip
        print(saved_note(run_dir, drawn), file=out)
    return history


def load_gpt_run(run_dir: str | Path) -> tuple[GPT, CharTokenizer]:
    """The GPT and its character vocabulary from a run folder of ``theta train --model gpt``."""
    path = check_run_dir(run_dir)
    if not (path / "tokenizer.json").is_file():
        raise ValueError(
            f"{path} is not a GPT run (it has no tokenizer.json); train one with "
            "`theta train --model gpt`."
        )
    vocab = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
    if vocab.get("format") != TOKENIZER_FORMAT or not isinstance(vocab.get("chars"), list):
        raise ValueError(f"{path / 'tokenizer.json'} is not a theta character vocabulary.")
    model = io.load(path / "model")
    tokenizer = CharTokenizer(vocab["chars"])
    if not isinstance(model, GPT) or model.config.vocab_size != tokenizer.vocab_size:
        raise ValueError(
            f"{path}: the model ({type(model).__name__}) does not fit the vocabulary of "
            f"{tokenizer.vocab_size} characters in tokenizer.json."
        )
    return model, tokenizer
