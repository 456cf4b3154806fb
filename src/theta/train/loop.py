"""The training loop: forward → loss → gradient → update, repeated.

``Trainer.step`` is the chapter's heartbeat, one step at a time, and returns what happened
(the prediction, the loss, and on request the gradients and the applied update) so a learner
can watch it. ``fit`` repeats it with minibatches, validation, callbacks, a progress bar,
checkpoints and exact resume.

The data is read a batch at a time through a :class:`~theta.data.DataLoader`: arrays in memory,
memory maps and Dask arrays, any dataset (``__len__`` and ``__getitem__(indices)``), or an
iterable of ``(X, y)`` batches, so data larger than memory trains with a few batches in memory.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from theta.autograd import Tensor, no_grad, tensor
from theta.data import ArrayDataset, DataLoader, train_val_split
from theta.data.loader import in_memory, is_array, is_map_style, split_batch
from theta.errors import CheckpointError, DivergenceError
from theta.io.models import version1_name
from theta.losses import binary_cross_entropy, binary_cross_entropy_with_logits, get_loss, hinge
from theta.metrics import get_metric
from theta.nn import Module
from theta.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from theta.progress import progress_bar
from theta.rng import check_random_state
from theta.train import checkpoint
from theta.train.callbacks import Callback, DivergenceGuard, ModelCheckpoint
from theta.train.history import History
from theta.validation import moved_keywords

__all__ = ["StepResult", "Trainer", "deferred_interrupt", "fit"]

_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}
# Where a binary loss's prediction turns from class 0 to class 1 (see _decision).
_THRESHOLDS = {binary_cross_entropy: 0.5, binary_cross_entropy_with_logits: 0.0, hinge: 0.0}


@dataclass(frozen=True)
class StepResult:
    """One heartbeat: the loss is measured before the update, as in the chapter.

    ``grads`` and ``update`` (parameter after minus before) are filled when the trainer was
    made with ``watch=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> from theta.train import Trainer
    >>> X = np.array([[0.0], [1.0], [2.0]], dtype=np.float32)
    >>> trainer = Trainer(Linear(1, 1, rng=0), X, 2 * X, lr=0.1)
    >>> result = trainer.step()
    >>> type(result).__name__, result.step, result.pred.shape, round(result.loss, 4)
    ('StepResult', 0, (3, 1), 6.767)
    """

    step: int
    epoch: int
    pred: np.ndarray
    loss: float
    grads: dict[str, np.ndarray] | None = None
    update: dict[str, np.ndarray] | None = None


def _make_optimizer(optimizer: str | Optimizer, model: Module, lr: float) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        return optimizer
    if optimizer not in _OPTIMIZERS:
        raise ValueError(
            f"fit: unknown optimizer {optimizer!r}; choose one of {', '.join(_OPTIMIZERS)} "
            "or pass an Optimizer."
        )
    return _OPTIMIZERS[optimizer](model.parameters(), lr=lr)


class Trainer:
    """Steppable training: each ``step()`` runs forward, loss, gradient and update once.

    Parameters
    ----------
    model : Module
    X : array-like, Dataset, DataLoader or iterable of batches
        Inputs of shape (n_samples, ...): an array (a memory map or a Dask array is read a
        batch at a time); or a dataset with ``__len__`` and ``__getitem__(indices)`` returning
        ``(X_batch, y_batch)`` (or ``X_batch`` alone); or an iterable of ``(X, y)`` batches,
        which serves several epochs if ``iter()`` starts it over (a list, a class with
        ``__iter__``) and one if not (a generator; train it with ``steps=``); or a
        :class:`~theta.data.DataLoader`, used as it is (its own batch size, shuffle, seed and
        prefetch). Floating data is cast to the model's parameter dtype (batch by batch unless
        it is in memory).
    y : array-like of shape (n_samples, ...), optional
        Targets for the loss (integer class labels stay integers), with array ``X`` only.
    loss : str or callable, default="mse"
        A name from :mod:`theta.losses` or ``loss(pred, target) -> Tensor``.
    optimizer : str or Optimizer, default="sgd"
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` (built with ``lr``) or an instance.
    lr : float, default=0.01
        Learning rate when the optimizer is given by name.
    batch_size : int, optional
        Minibatch size; ``None`` uses all samples every step (full-batch gradient descent).
        Not used by an iterable of batches or a DataLoader.
    shuffle : bool, default=True
        Reshuffle the samples every epoch (minibatches only), by blocks of rows for data on
        disk (see :class:`~theta.data.DataLoader`).
    seed : int or Generator, optional
        Seeds batch order; the same seed gives the same run, bit for bit.
    watch : bool, default=False
        Return gradients and updates in each ``StepResult`` (copies; slower).

    Raises
    ------
    TypeError
        If ``y`` is given with a dataset or an iterable (they hold their targets), or ``X``
        is neither an array, a dataset nor an iterable.

    Examples
    --------
    >>> import numpy as np, theta
    >>> from theta.nn import Linear
    >>> model = Linear(1, 1, rng=0)
    >>> X = np.array([[0.0], [1.0], [2.0]], dtype=np.float32)
    >>> trainer = Trainer(model, X, 2 * X + 1, loss="mse", lr=0.1, watch=True)
    >>> result = trainer.step()
    >>> sorted(result.grads)
    ['bias', 'weight']
    """

    def __init__(
        self, model: Module, X: Any, y: Any = None, *, loss: str | Callable = "mse",
        optimizer: str | Optimizer = "sgd", lr: float = 0.01, batch_size: int | None = None,
        shuffle: bool = True, seed: Any = None, watch: bool = False,
        callbacks: Sequence[Callback] = (),
    ) -> None:  # fmt: skip
        self.model = model
        self.loss_fn = get_loss(loss)
        self.optimizer = _make_optimizer(optimizer, model, lr)
        self.X, self.y = _prepare(model, X), _prepare(model, y)
        self.batch_size = batch_size
        self.batches = _loader(self.X, self.y, batch_size, shuffle, check_random_state(seed))
        self._epoch_iter: Iterator | None = None
        self._epoch_steps = self.batches.position  # steps of the epoch of the last step
        self.watch = watch
        self.callbacks = list(callbacks)
        self.history = History()
        self.step_count = 0
        self.epoch = 0
        self.stop_training = False
        self.diverged = False
        # per checkpoint path: how much of its history file is written, and up to which values
        self._history_logs: dict[str, tuple[checkpoint.HistoryLog, dict[str, int]]] = {}
        self._deferred: list[str] | None = None  # checkpoints asked for during a step of run()
        self._stopped_when_saved = False  # loaded from a checkpoint of a run that had stopped
        self._partial_end: int | None = None  # the step where run() ended a partial epoch

    @property
    def steps_per_epoch(self) -> int | None:
        """Batches per epoch; None for an iterable of batches that has no length."""
        try:
            return len(self.batches)
        except TypeError:
            return None

    def _next_batch(self) -> tuple[Tensor, Any, bool]:
        """The next batch, and whether it is its epoch's last (the loader counts it so)."""
        epoch, position = self.batches.epoch, self.batches.position
        for _ in range(2):  # the rest of the current epoch, else a new one
            if self._epoch_iter is None:
                self._epoch_iter = iter(self.batches)
            batch = next(self._epoch_iter, _NO_BATCH)
            if batch is not _NO_BATCH:
                break
            self._epoch_iter = None
        else:
            raise _DataRanOut(
                f"Trainer: the data ran out at step {self.step_count}: a one-pass iterable of "
                "batches (a generator) serves one epoch. Pass one whose iter() starts over "
                "(a list, a class with __iter__) to train longer, or ask for fewer steps."
            )
        self._epoch_steps = position + 1
        xb, yb = (_prepare(self.model, a) for a in split_batch(batch))
        return tensor(xb), yb, epoch != self.batches.epoch

    def step(self) -> StepResult:
        """Run one training step on the next batch and return what it did.

        Raises
        ------
        RuntimeError
            If a one-pass iterable of batches has run out.
        """
        xb, yb, ends_epoch = self._next_batch()
        for cb in self.callbacks:
            cb.on_step_begin(self)
        if not self.model.training:  # walking every module each step costs more than the check
            self.model.train()
        self.optimizer.zero_grad()
        before = self.model.state_dict() if self.watch else None

        pred = self.model(xb)  # 1. forward
        loss = self.loss_fn(pred, yb)  # 2. loss
        loss.backward()  # 3. gradient
        self.optimizer.step()  # 4. update

        value = float(loss.item())
        self.history.step_loss.append(value)
        grads = update = None
        if self.watch:
            params = dict(self.model.named_parameters())
            grads = {k: (p.grad.copy() if p.grad is not None else None) for k, p in params.items()}
            update = {k: params[k].data - before[k] for k in params}
        result = StepResult(self.step_count, self.epoch, pred.data, value, grads, update)
        self.step_count += 1
        if ends_epoch:
            self.epoch += 1
        for cb in self.callbacks:
            cb.on_step_end(self, result)
        return result

    def evaluate(
        self, X: Any, y: Any = None, metrics: Sequence[str | Callable] = ()
    ) -> dict[str, float]:
        """Loss and metrics on ``(X, y)``: the forward pass alone, in eval mode, without a graph.

        Arrays in memory go through in one pass. Other data (as for ``X`` of the trainer)
        goes batch by batch: the loss is averaged over samples, and with ``metrics`` the
        predictions are kept for them.
        """
        whole = in_memory(X) and y is not None
        batches = [(X, y)] if whole else _loader(X, y, self.batch_size, False, None)
        losses, counts, preds, targets = [], [], [], []
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                for batch in batches:
                    xb, yb = (_prepare(self.model, a) for a in split_batch(batch))
                    pred = self.model(tensor(xb))
                    losses.append(float(self.loss_fn(pred, yb).item()))
                    counts.append(len(xb))
                    if metrics:
                        preds.append(pred.data)
                        targets.append(yb)
        finally:
            self.model.train(was_training)
        if not losses:
            raise ValueError("Trainer.evaluate: the data yielded no batch.")
        loss = losses[0] if len(losses) == 1 else np.average(losses, weights=counts)
        out = {"loss": float(loss)}
        if metrics:
            pred, y = np.concatenate(preds), np.concatenate(targets)
        for metric in metrics:
            name = metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")
            out[name] = float(get_metric(metric)(y, _decision(pred, y, self.loss_fn)))
        return out

    # --- checkpoints ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue with the identical next step.

        The model's parameters and random generators (e.g. dropout's), the optimizer's state,
        the batch order and position, the step and epoch counters, the history and every
        callback's state (the divergence guard's reference loss, early stopping's patience
        count, best-so-far values).
        """
        return {**self._loop_state(), "history": self.history.to_dict()}

    def _loop_state(self) -> dict[str, Any]:
        """``state_dict`` without the history, whose size grows with the run."""
        return {
            "model": self.model.state_dict(),
            "model_rngs": {k: g.bit_generator.state for k, g in _generators(self.model)},
            "optimizer": self.optimizer.state_dict(),
            "batches": self.batches.state_dict(),
            "step_count": self.step_count,
            "epoch": self.epoch,
            "stop_training": self.stop_training,
            "callbacks": [[type(cb).__name__, cb.state_dict()] for cb in self.callbacks],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned.

        Raises
        ------
        CheckpointError
            Naming the field, if ``state`` is malformed (checked before anything is
            applied) or does not fit this trainer's model, optimizer, data or callbacks.
            Nothing is changed then.
        """
        where = "Trainer.load_state_dict"
        _check_state(state, where, history_file=False)
        self._apply_state(state, where)
        self._history_logs = {}

    def _apply_state(self, state: dict[str, Any], where: str) -> None:
        """Apply a checked state; if any part does not fit, put the previous state back."""
        snapshot, field = self.state_dict(), [""]
        flags = self._stopped_when_saved, self._partial_end
        try:
            self._set_state(state, field)
        except Exception as exc:
            self._set_state(snapshot, [""])
            self._stopped_when_saved, self._partial_end = flags
            raise CheckpointError(
                f"{where}: field {field[0]!r} does not fit this trainer: {exc}"
            ) from exc

    def _set_state(self, state: dict[str, Any], field: list[str]) -> None:
        """Apply ``state`` part by part, naming the part in ``field[0]`` as it goes."""
        field[0] = "model"
        self.model.load_state_dict(state["model"])
        field[0] = "model_rngs"
        for key, gen in _generators(self.model):
            gen.bit_generator.state = state["model_rngs"][key]
        field[0] = "optimizer"
        self.optimizer.load_state_dict(state["optimizer"])
        field[0] = "batches"
        self.batches.load_state_dict(state["batches"])
        self._epoch_iter = None
        self._epoch_steps = self.batches.position
        self.step_count, self.epoch = state["step_count"], state["epoch"]
        self._partial_end = None  # a checkpoint holds the loop before that end-of-run work
        # a callback (early stopping) had ended the run; absent from format version 1
        self.stop_training = self._stopped_when_saved = state.get("stop_training", False)
        self.history = History.from_dict(state["history"])
        saved: dict[str, list[dict[str, Any]]] = {}
        for kind, cb_state in state["callbacks"]:
            saved.setdefault(kind, []).append(cb_state)
        for i, cb in enumerate(self.callbacks):  # by kind: a resumed run may add or drop some
            field[0] = f"callbacks/{i} ({type(cb).__name__})"
            if saved.get(type(cb).__name__):
                cb.load_state_dict(saved[type(cb).__name__].pop(0))

    def save_checkpoint(self, path: str) -> None:
        """Write a resumable checkpoint to ``path`` and its history to ``<path>.history``.

        Asked for during a step of :meth:`run` (by a callback), the files are written once
        that step is complete, its epoch's end included.
        """
        if self._deferred is not None:
            self._deferred.append(os.fspath(path))
        else:
            self._write_checkpoint(os.fspath(path))

    def _state_kept(self) -> None:
        for cb in self.callbacks:
            cb.on_state_kept(self)

    def _write_checkpoint(self, path: str) -> None:
        self._state_kept()  # e.g. the divergence guard refuses to keep NaN parameters
        # the history file first, durably: the checkpoint then counts rows that are on disk
        now = self.history.lengths()
        log, written = self._history_logs.get(path, (None, {}))
        if log is not None and all(now.get(k, 0) >= n for k, n in written.items()):
            log = checkpoint.append_history(path, log, self.history.rows_since(written))
        if log is None:  # the first write of this run, or the history was replaced
            log = checkpoint.write_history(path, self.history.rows_since({}))
        record = {"rows": log.rows, "bytes": log.size, "crc32": log.crc32,
                  "stopped_reason": self.history.stopped_reason}  # fmt: skip
        checkpoint.save(path, {**self._loop_state(), "history": record})
        self._history_logs[path] = (log, now)

    def load_checkpoint(self, path: str) -> None:
        """Continue from the checkpoint at ``path`` (and its history file).

        Raises
        ------
        CheckpointError
            Naming the file and the field, if either file is damaged or does not fit this
            trainer; nothing is changed then.
        """
        path = os.fspath(path)
        state = _with_todays_names(checkpoint.load(path), self.model)
        record = state.get("history") if isinstance(state, dict) else None
        inline = isinstance(record, dict) and "step_loss" in record  # format version 1
        _check_state(state, path, history_file=not inline)
        log = None
        if not inline:
            log = checkpoint.HistoryLog(record["rows"], record["bytes"], record["crc32"])
            rows = checkpoint.read_history(path, log)
            history = History.from_rows(rows, record["stopped_reason"])
            state = {**state, "history": history.to_dict()}
        self._apply_state(state, path)
        self._history_logs = {} if log is None else {path: (log, self.history.lengths())}

    # --- the loop -----------------------------------------------------------------------------

    @moved_keywords({"on_divergence": "DivergenceGuard(on_divergence='stop') in callbacks"})
    def run(
        self, *, steps: int | None = None, epochs: int | None = None,
        validation_data: tuple[Any, Any] | None = None, metrics: Sequence[str | Callable] = (),
        progress: bool | None = None, record_params: bool = False,
        record_grad_norm: bool = False,
    ) -> History:  # fmt: skip
        """Step until ``steps`` total steps (or ``epochs`` total epochs) are done.

        A :class:`~theta.errors.DivergenceError` propagates unless a
        :class:`DivergenceGuard` in the callbacks says ``on_divergence="stop"``; then the run
        ends there with the diagnosis in ``history.stopped_reason``. When a one-pass iterable
        of batches runs out first, the run ends there too, with a warning and the reason in
        ``history.stopped_reason``.
        """
        total = _total_steps(steps, epochs, self.steps_per_epoch)

        def unfinished() -> bool:  # epochs of unknown length end when their data does
            more = self.step_count < total if total is not None else self.epoch < epochs
            return more and not self.stop_training

        bar = progress_bar(total, unit="step", enabled=progress, initial=self.step_count)
        self.diverged = False
        if not self._stopped_when_saved:  # a run that had stopped stays stopped when resumed
            self.stop_training = False
            self.history.stopped_reason = None  # the checkpoint may hold an interruption's
        self._stopped_when_saved = False
        for cb in self.callbacks:
            cb.on_train_begin(self)
        with deferred_interrupt() as interrupted:
            try:
                while unfinished():
                    self._deferred = []
                    epoch = self.epoch
                    try:
                        result = self.step()
                    except _DataRanOut as exc:
                        self.history.stopped_reason = str(exc)
                        warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
                        break
                    self._record(record_params, record_grad_norm)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{result.loss:.4g}", refresh=False)
                    if self.epoch != epoch:
                        self._end_epoch(validation_data, metrics)
                    # checkpoints asked for during the step: now that its epoch end is done
                    paths, self._deferred = self._deferred, None
                    for path in dict.fromkeys(paths):
                        self._write_checkpoint(path)
                    # Ctrl-C in the last step of a run that ends anyway lets it end normally
                    if interrupted() and unfinished():
                        self._stop_interrupted()
                # The final checkpoints hold the loop as it stands, before the end-of-run work
                # (a last, partial epoch's end; on_train_end, e.g. early stopping's restoring
                # the best parameters): a resumed run redoes that work, or goes on without it.
                self._state_kept()
                for path in self._resumable_paths():
                    self._write_checkpoint(path)
                partial = self.batches.position
                if self.step_count == total and partial and self._partial_end != total:
                    self._partial_end = total  # a second run() to the same step logs it once
                    self._end_epoch(validation_data, metrics)
            except DivergenceError as exc:
                self.diverged = True
                self.history.stopped_reason = str(exc)
                if not self._stop_on_divergence():
                    raise
            finally:
                self._deferred = None
                if bar is not None:
                    bar.close()
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _stop_on_divergence(self) -> bool:
        return any(isinstance(cb, DivergenceGuard) and cb.enabled and cb.on_divergence == "stop"
                   for cb in self.callbacks)  # fmt: skip

    def _resumable_paths(self) -> list[str]:
        """The files of the ModelCheckpoints that follow the run (a best-only file keeps its
        best state, never the one at Ctrl-C or at the end)."""
        return [str(cb.path) for cb in self.callbacks
                if isinstance(cb, ModelCheckpoint) and not cb.save_best_only]  # fmt: skip

    def _stop_interrupted(self) -> None:
        """After Ctrl-C: save the resumable checkpoints, then raise saying where they are."""
        paths = self._resumable_paths()
        where = f"; checkpoint saved to {', '.join(paths)}" if paths else ""
        self.history.stopped_reason = f"interrupted at step {self.step_count}{where}"
        for path in paths:
            self.save_checkpoint(path)
        raise KeyboardInterrupt(self.history.stopped_reason)

    def _record(self, record_params: bool, record_grad_norm: bool) -> None:
        if record_params:
            for name, p in self.model.named_parameters():
                self.history.params.setdefault(name, []).append(p.data.copy())
        if record_grad_norm:
            sq = sum(float(np.sum(p.grad * p.grad)) for p in self.model.parameters()
                     if p.grad is not None)  # fmt: skip
            self.history.grad_norm.append(math.sqrt(sq))

    def _end_epoch(self, validation_data: Any, metrics: Sequence[str | Callable]) -> None:
        logs = {"loss": float(np.mean(self.history.step_loss[-self._epoch_steps :]))}
        if validation_data is not None:
            pair = isinstance(validation_data, tuple) and len(validation_data) == 2
            scores = self.evaluate(*(validation_data if pair else (validation_data,)),
                                   metrics=metrics)  # fmt: skip
            logs.update({f"val_{k}": v for k, v in scores.items()})
        self.history.log_epoch(logs)
        for cb in self.callbacks:
            cb.on_epoch_end(self, logs)


# The keywords fit took before checkpointing and the divergence guard became callbacks.
_MOVED_KEYWORDS = {
    "checkpoint": "callbacks=[ModelCheckpoint(path)] (and resume=True to continue from it)",
    "checkpoint_every": "callbacks=[ModelCheckpoint(path, every_n_steps=n)]",
    "divergence_guard": "callbacks=[DivergenceGuard(enabled=False)] to train without the "
    "guard (fit adds DivergenceGuard() unless callbacks hold one)",
    "on_divergence": "callbacks=[DivergenceGuard(on_divergence='stop')]",
}


@moved_keywords(_MOVED_KEYWORDS)
def fit(
    model: Module, X: Any, y: Any = None, *, loss: str | Callable = "mse",
    optimizer: str | Optimizer = "sgd", lr: float = 0.01,
    steps: int | None = None, epochs: int | None = None, batch_size: int | None = 32,
    shuffle: bool = True, seed: Any = None,
    validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.0,
    metrics: Sequence[str | Callable] = (),
    callbacks: Sequence[Callback] = (), resume: bool = False,
    progress: bool | None = None, record_params: bool = False, record_grad_norm: bool = False,
) -> History:  # fmt: skip
    """Train ``model`` on ``(X, y)``: forward → loss → gradient → update, repeated.

    Parameters
    ----------
    model : Module
        Parameters plus a forward function.
    X, y : array-like, or a dataset, DataLoader or iterable of batches as ``X`` alone
        Inputs of shape (n_samples, ...) and targets of shape (n_samples, ...), or data read
        a batch at a time, as for :class:`Trainer`: a memory map, a Dask array or any
        dataset (``__len__`` and ``__getitem__(indices)``) trains with a few batches in
        memory. A one-pass iterable (a generator) serves one epoch; give ``steps=`` or
        ``epochs=1``. On ``resume``, an iterable skips the batches of the current epoch
        already trained on, so the resume is exact only if it yields the same batches again.
    loss, optimizer, lr, batch_size, shuffle, seed :
        As for :class:`Trainer` (``batch_size=None`` is full-batch gradient descent).
    steps, epochs : int, optional
        Length of training, in optimizer steps or passes over the data (one of them).
    validation_data : (X_val, y_val), dataset, DataLoader or iterable of batches, optional
        Evaluated at each epoch's end into ``history.epochs["val_loss"]`` and metrics (see
        :meth:`Trainer.evaluate`).
    validation_split : float, default=0.0
        Fraction of ``(X, y)`` held out (seeded by ``seed``) when no validation data is given;
        arrays in memory only.
    metrics : sequence of str or callable
        Scores of the validation predictions, e.g. ``"accuracy"``.
    callbacks : sequence of Callback
        E.g. :class:`EarlyStopping`, :class:`LRScheduler`; :class:`ModelCheckpoint` for a
        resumable checkpoint (written every ``every_n_steps`` steps, at the end and on Ctrl-C,
        its history in ``<path>.history`` beside it); :class:`DivergenceGuard` for what a
        NaN/inf or exploding loss does. Unless they hold a guard, ``DivergenceGuard()`` runs
        first: it stops the run, keeps the last good parameters and raises
        :class:`~theta.errors.DivergenceError`. ``DivergenceGuard(on_divergence="stop")``
        records the diagnosis in ``history.stopped_reason`` instead;
        ``DivergenceGuard(enabled=False)`` trains without a guard.
    resume : bool, default=False
        Continue from the file of the one :class:`ModelCheckpoint` in ``callbacks`` (not a
        ``save_best_only`` one) if that file exists: the next step is identical to the one
        an uninterrupted run would take.
    progress : bool, optional
        Show a progress bar (default: only when stderr is a terminal).
    record_params, record_grad_norm : bool, default=False
        Keep every step's parameter values / gradient norm in the history.

    Returns
    -------
    History

    Raises
    ------
    TypeError
        For a keyword ``fit`` took before (``checkpoint``, ``checkpoint_every``,
        ``divergence_guard``, ``on_divergence``), saying what replaced it.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> X = np.arange(5.0).reshape(-1, 1)
    >>> model = Linear(1, 1, rng=0, dtype=np.float64)
    >>> history = fit(model, X, 2 * X + 1, lr=0.05, steps=1000, batch_size=None)
    >>> round(float(model.weight.item()), 3), round(float(model.bias.item()), 3)
    (2.0, 1.0)
    """
    callbacks = _with_guard(callbacks)
    resume_from = _resume_path(callbacks) if resume else None
    if validation_data is None and validation_split:
        if not 0.0 < validation_split < 1.0:
            raise ValueError(f"fit: validation_split must be in (0, 1) (got {validation_split}).")
        if not (in_memory(X) and in_memory(y)):
            raise ValueError(
                "fit: validation_split splits arrays in memory; for a dataset, a memory map, a "
                "Dask array or an iterable of batches, pass validation_data."
            )
        X, X_val, y, y_val = train_val_split(X, y, val_fraction=validation_split, rng=seed)
        validation_data = (X_val, y_val)
    trainer = Trainer(model, X, y, loss=loss, optimizer=optimizer, lr=lr, batch_size=batch_size,
                      shuffle=shuffle, seed=seed, callbacks=callbacks)  # fmt: skip
    if resume_from is not None:
        with contextlib.suppress(FileNotFoundError):
            trainer.load_checkpoint(resume_from)
    try:
        return trainer.run(
            steps=steps, epochs=epochs, validation_data=validation_data, metrics=metrics,
            progress=progress, record_params=record_params, record_grad_norm=record_grad_norm,
        )  # fmt: skip
    finally:
        trainer.batches.close()  # a prefetching thread ends with the run


def _with_guard(callbacks: Sequence[Callback]) -> list[Callback]:
    """``callbacks`` with ``DivergenceGuard()`` first unless they hold a guard; a disabled
    guard is dropped, so the run's callbacks (and its checkpoints) are as with no guard."""
    callbacks = list(callbacks)
    guards = [cb for cb in callbacks if isinstance(cb, DivergenceGuard)]
    if len(guards) > 1:
        raise ValueError(f"fit: give at most one DivergenceGuard (callbacks hold {len(guards)}).")
    if not guards:
        return [DivergenceGuard(), *callbacks]
    return [cb for cb in callbacks if not (isinstance(cb, DivergenceGuard) and not cb.enabled)]


def _resume_path(callbacks: Sequence[Callback]) -> str:
    """The file of the one ModelCheckpoint that follows the run, for ``resume=True``."""
    checkpoints = [cb for cb in callbacks if isinstance(cb, ModelCheckpoint)]
    resumable = [str(cb.path) for cb in checkpoints if not cb.save_best_only]
    if len(resumable) == 1:
        return resumable[0]
    if resumable:
        raise ValueError(
            f"fit: resume=True needs one ModelCheckpoint to resume from; callbacks hold "
            f"{len(resumable)} ({', '.join(resumable)})."
        )
    best_only = " (a save_best_only one keeps the best state, not the run's)" if checkpoints else ""
    raise ValueError(
        "fit: resume=True resumes from the ModelCheckpoint in callbacks, and there is none"
        f"{best_only}: add callbacks=[ModelCheckpoint(path)]."
    )


# --- helpers ---------------------------------------------------------------------------------


_NO_BATCH = object()


class _DataRanOut(RuntimeError):
    """A one-pass iterable of batches is exhausted."""


def _loader(X: Any, y: Any, batch_size: int | None, shuffle: bool,
            rng: np.random.Generator | None) -> DataLoader:  # fmt: skip
    """The loader that serves ``X`` (and ``y``) to a trainer, as :class:`Trainer` describes."""
    if y is not None and not is_array(X):
        raise TypeError(
            f"Trainer: y is given, but X ({type(X).__name__}) is a dataset, a DataLoader or an "
            "iterable of batches, which holds its own targets; leave y out."
        )
    if isinstance(X, DataLoader):
        return X
    if not is_map_style(X):
        return DataLoader(X, batch_size=None)
    if y is not None:
        X = ArrayDataset(X, y)
    return DataLoader(X, batch_size=batch_size or len(X),
                      shuffle=shuffle and batch_size is not None, seed=rng)  # fmt: skip


def _prepare(model: Module, data: Any) -> Any:
    """Arrays in memory as an ndarray whose floating data takes the dtype of the model's
    parameters; anything else as it is (read, and cast, a batch at a time)."""
    if not in_memory(data):
        return data
    arr = np.asarray(data.data if isinstance(data, Tensor) else data)
    if arr.dtype.kind == "f":
        first = next(model.parameters(), None)
        if first is not None and arr.dtype != first.dtype:
            arr = arr.astype(first.dtype)
    return arr


def _decision(pred: np.ndarray, y: np.ndarray, loss_fn: Callable) -> np.ndarray:
    """Predicted labels for classification metrics; raw values for regression.

    A binary loss says what its prediction is (float 0/1 targets are the usual ones there): a
    probability means class 1 above 0.5, a logit or a margin above 0; with integer targets
    and any other loss, a score above 0. Hinge labels may be -1/+1.
    """
    if pred.ndim == 2 and pred.shape[1] > 1:
        return pred.argmax(axis=1)
    threshold = _THRESHOLDS.get(loss_fn, 0.0 if y.dtype.kind in "iub" else None)
    if threshold is None:
        return pred
    negative = -1 if np.any(y < 0) else 0
    return np.where(pred.reshape(y.shape) > threshold, 1, negative).astype(y.dtype)


def _total_steps(steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int | None:
    """Steps to reach; None when epochs of unknown length are asked for."""
    if (steps is None) == (epochs is None):
        raise ValueError("fit: give exactly one of steps and epochs.")
    if steps is not None:
        if not isinstance(steps, int) or steps < 0:
            raise ValueError(f"fit: steps must be an int >= 0 (got {steps!r}).")
        return steps
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0 (got {epochs!r}).")
    return None if steps_per_epoch is None else epochs * steps_per_epoch


def _with_todays_names(state: Any, model: Module) -> Any:
    """``state`` with the parameter and module names theta used before PyTorch's
    (``layers.0.weight``, attention's ``qkv``/``proj``; see ``theta.io.models.version1_name``)
    renamed to today's, so a checkpoint of an older theta resumes. Anything else is returned
    as it is, for the checks to judge."""
    saved = state.get("model") if isinstance(state, dict) else None
    names = {name for name, _ in model.named_parameters()}
    names |= {name for name, _ in model.named_buffers()}
    if not isinstance(saved, dict) or set(saved) == names:
        return state
    paths = names | {name for name, _ in _generators(model)}
    old = {version1_name(model, name): name for name in paths}
    if {old.get(key, key) for key in saved} != names:
        return state

    def renamed(value: Any) -> Any:
        if isinstance(value, dict) and value and set(value) <= old.keys():
            return {old[key]: item for key, item in value.items()}
        return value

    callbacks = state.get("callbacks")
    if isinstance(callbacks, list):  # the guard's last good and early stopping's best weights
        callbacks = [
            [entry[0], {k: renamed(v) for k, v in entry[1].items()}]
            if isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[1], dict)
            else entry
            for entry in callbacks
        ]
    today = {**state, "model": renamed(saved), "model_rngs": renamed(state.get("model_rngs"))}
    if callbacks is not None:
        today["callbacks"] = callbacks
    return today


def _generators(model: Module) -> list[tuple[str, np.random.Generator]]:
    """Random generators held by the model's modules (e.g. dropout), by dotted name."""
    found = []
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found.append((f"{name}.{attr}" if name else attr, value))
    return found


def _check_state(state: Any, where: str, *, history_file: bool) -> None:
    """Check the types and ranges of a trainer state (from ``state_dict`` or a checkpoint,
    whose history is a record of its history file) before any of it is applied."""
    check, check_dict, check_int = checkpoint.check, checkpoint.check_dict, checkpoint.check_int
    keys = ("model", "model_rngs", "optimizer", "batches", "step_count", "epoch", "history",
            "callbacks")  # fmt: skip
    check_dict(where, "state", state, keys)
    checkpoint.check_arrays(where, "model", state["model"])
    for key, rng in check_dict(where, "model_rngs", state["model_rngs"]).items():
        check_dict(where, f"model_rngs/{key}", rng, ("bit_generator", "state"))
    optimizer = check_dict(where, "optimizer", state["optimizer"], ("state", "param_groups"))
    groups = optimizer["param_groups"]
    ok = isinstance(groups, list) and all(
        isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups
    )
    check(where, "optimizer/param_groups", groups, ok, "a list of dicts with a 'params' list")
    for key, entry in check_dict(where, "optimizer/state", optimizer["state"]).items():
        check_dict(where, f"optimizer/state/{key}", entry)
    for key in ("step_count", "skipped_steps"):
        if key in optimizer:
            check_int(where, f"optimizer/{key}", optimizer[key])
    batches = check_dict(where, "batches", state["batches"], ("epoch", "position", "rng_state"))
    check_int(where, "batches/epoch", batches["epoch"])
    check_int(where, "batches/position", batches["position"])
    check_dict(where, "batches/rng_state", batches["rng_state"], ("bit_generator", "state"))
    steps = check_int(where, "step_count", state["step_count"])
    epoch = check_int(where, "epoch", state["epoch"])
    check(where, "epoch", epoch, epoch <= steps, f"an int <= step_count ({steps})")
    stop = state.get("stop_training", False)
    check(where, "stop_training", stop, isinstance(stop, bool), "true or false")
    history = state["history"]
    if history_file:
        check_dict(where, "history", history, ("rows", "bytes", "crc32", "stopped_reason"))
        check_int(where, "history/rows", history["rows"])
        check_int(where, "history/bytes", history["bytes"])
        crc = history["crc32"]
        check_int(where, "history/crc32", crc)
        check(where, "history/crc32", crc, crc < 2**32, "a CRC-32, below 2**32")
    else:
        check_dict(
            where, "history", history, ("step_loss", "epochs", "grad_norm", "stopped_reason")
        )
        series = {"step_loss": history["step_loss"], "grad_norm": history["grad_norm"]}
        epochs = check_dict(where, "history/epochs", history["epochs"])
        series.update({f"epochs/{k}": v for k, v in epochs.items()})
        for name, values in series.items():
            ok = isinstance(values, list) and all(map(checkpoint.is_number, values))
            check(where, f"history/{name}", values, ok, "a list of numbers")
    reason = history["stopped_reason"]
    check(where, "history/stopped_reason", reason, reason is None or isinstance(reason, str),
          "a string or null")  # fmt: skip
    callbacks = state["callbacks"]
    ok = isinstance(callbacks, list) and all(
        isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and isinstance(c[1], dict)
        for c in callbacks
    )
    check(where, "callbacks", callbacks, ok, "a list of [callback name, state dict] pairs")


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Turn the first Ctrl-C into a flag read between steps, so no update is left half-done.

    A second Ctrl-C interrupts at once. Only the main thread can install signal handlers;
    elsewhere Ctrl-C behaves as usual.

    Examples
    --------
    >>> from theta.train import deferred_interrupt
    >>> with deferred_interrupt() as interrupted:
    ...     for step in range(3):
    ...         if interrupted():
    ...             break
    ...
    >>> step
    2
    """
    hit = [False]
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum: int, frame: Any) -> None:
        if hit[0]:
            raise KeyboardInterrupt
        hit[0] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: hit[0]
    finally:
        signal.signal(signal.SIGINT, previous)
