"""Run folders: what ``theta train`` leaves behind, and what ``theta predict`` reads back.

A run folder holds the resolved config (``config.json``), the per-epoch metrics
(``metrics.csv``), the trained model (``model/``, see :mod:`theta.io`), the feature scaling
(``preprocessing.safetensors``), a resumable checkpoint (``checkpoint.safetensors``), a
loss-curve picture (``loss_curve.png``, with the ``plot`` extra) and a summary
(``summary.json``). Every file is written atomically.
"""

from __future__ import annotations

import csv
import io as _io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from theta import data, io
from theta.autograd import no_grad, tensor
from theta.cli.config import TrainConfig
from theta.nn import MLP, Linear, Module
from theta.plot import loss_curve
from theta.tensorfile import atomic_write_text, read_tensors, write_tensors
from theta.train import History, fit

__all__ = ["Run", "load_run", "train_run"]


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


def _load_data(name: str) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    loaded = data.load(name)
    if isinstance(loaded, str):
        raise ValueError(f"data set {name!r} is a text corpus; theta train needs (X, y) data.")
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
              out: TextIO) -> History:  # fmt: skip
    """Train as ``config`` says and write the run folder; return the history."""
    X, y, task, target_names = _load_data(config.data)
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

    model = _build_model(config, X.shape[1], n_out)
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
        progress=None if not quiet else False,
        checkpoint=str(run_dir / "checkpoint.safetensors"),
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
    picture = _try_loss_curve(history, run_dir / "loss_curve.png")
    shown = ", ".join(f"{k} {v:.4g}" for k, v in final.items())
    print(f"trained {config.model} on {config.data}: {history.n_steps} steps, {shown}", file=out)
    print(f"run saved to {run_dir}" + ("" if picture else " (pip install 'theta-ml[plot]' "
                                       "for loss_curve.png)"), file=out)  # fmt: skip
    return history


def _write_metrics(path: Path, history: History) -> None:
    keys = list(history.epochs)
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(len(history.epochs[keys[0]]) if keys else 0):
        writer.writerow([i + 1, *(f"{history.epochs[k][i]:.8g}" for k in keys)])
    atomic_write_text(path, buffer.getvalue())


def _try_loss_curve(history: History, path: Path) -> bool:
    """Draw the loss curve if matplotlib is installed (the ``plot`` extra)."""
    try:
        loss_curve(history, path)
    except ImportError:
        return False
    return True


def load_run(run_dir: str | Path) -> Run:
    """Read a run folder written by ``theta train`` in a fresh process."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run folder not found: {path}")
    model = io.load(path / "model")
    arrays, meta = read_tensors(path / "preprocessing.safetensors")
    names: list[Any] = json.loads(meta.get("target_names", "[]"))
    return Run(path, model, arrays["mean"], arrays["scale"], meta.get("task", "regression"),
               [str(n) for n in names])  # fmt: skip
