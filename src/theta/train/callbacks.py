"""Callbacks: small objects that watch the training loop and may steer it.

The loop calls, in order: ``on_train_begin(trainer)``; for every step
``on_step_begin(trainer)`` and ``on_step_end(trainer, result)``; at each epoch's end
``on_epoch_end(trainer, logs)``; and ``on_train_end(trainer)``. A callback stops training by
setting ``trainer.stop_training = True`` (and ``trainer.history.stopped_reason``). Callbacks
with state to resume implement ``state_dict`` / ``load_state_dict``.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from theta.errors import DivergenceError
from theta.train.checkpoint import check, check_arrays, check_dict, check_int, is_number
from theta.validation import check_scalar

if TYPE_CHECKING:
    from theta.train.loop import StepResult, Trainer

__all__ = [
    "Callback", "DivergenceGuard", "EarlyStopping", "EpochLog", "EvaluateEvery", "LRScheduler",
    "ModelCheckpoint", "PrintSteps",
]  # fmt: skip


class Callback:
    """Base class: every hook does nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> from theta.train import fit
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> from theta.train import Callback
    >>> class CountSteps(Callback):
    ...     n = 0
    ...     def on_step_end(self, trainer, result):
    ...         self.n += 1
    ...
    >>> counter = CountSteps()
    >>> _ = fit(Linear(1, 1, rng=0), X, 2 * X, steps=3, batch_size=4, callbacks=[counter])
    >>> counter.n
    3
    """

    def on_train_begin(self, trainer: Trainer) -> None: ...

    def on_step_begin(self, trainer: Trainer) -> None: ...

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None: ...

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None: ...

    def on_state_kept(self, trainer: Trainer) -> None:
        """The loop's state is about to be kept: before each checkpoint write, and once when
        the loop ends (before the end-of-run work)."""

    def on_train_end(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best`` the model ends with the parameters of its best epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> from theta.train import fit
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> from theta.train import EarlyStopping
    >>> stop = EarlyStopping("loss", patience=1, min_delta=1e9)
    >>> history = fit(Linear(1, 1, rng=0), X, 2 * X, epochs=10, batch_size=4, callbacks=[stop])
    >>> len(history.epochs["loss"])
    2
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best: bool = True,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max' (got {mode!r}).")
        check_scalar(patience, "patience", numbers.Integral, min_val=0)
        check_scalar(min_delta, "min_delta", numbers.Real, min_val=0)
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode, self.restore_best = mode, restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.wait = 0
        self.best_epoch = -1
        self._best_state: dict[str, np.ndarray] | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping: monitored value {self.monitor!r} is not logged; logged values "
                f"are {', '.join(logs)}. Give validation data to monitor val_loss."
            )
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.wait, self.best_epoch = value, 0, trainer.epoch
            if self.restore_best:
                self._best_state = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:  # as Keras and Lightning: patience=2 stops at the 2nd
            trainer.stop_training = True
            trainer.history.stopped_reason = (
                f"early stopping: {self.monitor} did not improve for {self.patience} epoch(s); "
                f"best {self.best:.6g} at epoch {self.best_epoch}"
            )

    def on_train_end(self, trainer: Trainer) -> None:
        if self.restore_best and self._best_state is not None:
            trainer.model.load_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "best": self.best,
            "wait": self.wait,
            "best_epoch": self.best_epoch,
        }
        if self._best_state is not None:
            state["best_state"] = self._best_state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        where = "EarlyStopping state"
        check_dict(where, "state", state, ("best", "wait", "best_epoch"))
        best = check(where, "best", state["best"], is_number(state["best"]), "a number")
        wait = check_int(where, "wait", state["wait"])
        best_epoch = check_int(where, "best_epoch", state["best_epoch"], low=-1)
        best_state = state.get("best_state")
        if best_state is not None:
            check_arrays(where, "best_state", best_state)
        self.best, self.wait, self.best_epoch = best, wait, best_epoch
        self._best_state = best_state


class ModelCheckpoint(Callback):
    """Write a resumable checkpoint every ``every_n_steps`` steps, at the end of training
    (unless it diverged) and on Ctrl-C.

    The file holds everything ``fit(resume=True)`` needs to continue with the identical next
    step (see :mod:`theta.train.checkpoint`); the trainer writes it once a step is complete,
    its epoch's end included, and at the end before the end-of-run work (a last partial
    epoch, early stopping's restoring of the best parameters), which a resumed run redoes.
    Writes are atomic. With ``save_best_only`` a checkpoint is written only when ``monitor``
    improves, so a diverged run never replaces the best one.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> from theta.train import fit
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> import os, tempfile
    >>> from theta.train import ModelCheckpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
    >>> checkpoint = ModelCheckpoint(path, every_n_steps=2)
    >>> _ = fit(Linear(1, 1, rng=0), X, 2 * X, steps=4, batch_size=4, callbacks=[checkpoint])
    >>> os.path.exists(path)
    True
    """

    def __init__(
        self,
        path: str,
        *,
        every_n_steps: int | None = None,
        monitor: str = "val_loss",
        save_best_only: bool = False,
    ) -> None:
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"ModelCheckpoint: every_n_steps must be >= 1 (got {every_n_steps}).")
        self.path, self.every_n_steps = path, every_n_steps
        self.monitor, self.save_best_only = monitor, save_best_only
        self.best = math.inf

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None:
        if self.every_n_steps and trainer.step_count % self.every_n_steps == 0:
            if not self.save_best_only:
                trainer.save_checkpoint(self.path)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        value = logs.get(self.monitor)
        if self.save_best_only and value is not None and math.isfinite(value) and value < self.best:
            self.best = value
            trainer.save_checkpoint(self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_dict("ModelCheckpoint state", "state", state, ("best",))
        best = state["best"]
        self.best = check("ModelCheckpoint state", "best", best, is_number(best), "a number")


class LRScheduler(Callback):
    """Set every parameter group's learning rate to ``schedule(step)`` before each step.

    The schedule is a pure function of the step count, so a resumed run needs no state of
    its own: the step count and the rate the optimizer holds are in the checkpoint.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> from theta.train import fit
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> from theta.train import LRScheduler
    >>> halve = LRScheduler(lambda step: 0.01 * 0.5 ** step)
    >>> history = fit(Linear(1, 1, rng=0), X, 2 * X, steps=3, batch_size=4, callbacks=[halve])
    >>> len(history.step_loss)
    3
    """

    def __init__(self, schedule: Callable[[int], float]) -> None:
        self.schedule = schedule

    def on_step_begin(self, trainer: Trainer) -> None:
        lr = float(self.schedule(trainer.step_count))
        for group in trainer.optimizer.param_groups:
            group["lr"] = lr


class DivergenceGuard(Callback):
    """Stop when the loss turns NaN/inf or explodes, and keep the last good parameters.

    "Exploding" means the loss exceeds ``factor`` times the first loss. On either, or when
    an update makes a parameter NaN/inf, the parameters that last gave a finite,
    non-exploded loss are restored and a :class:`~theta.errors.DivergenceError` explains
    which hyperparameter to change, before a checkpoint of that step is written. A
    gradient that is NaN/inf while the loss is finite makes the optimizer skip the step
    (parameters unchanged); ``max_skipped_steps`` such steps in a row stop training too.

    With ``on_divergence="raise"`` the error propagates out of the loop; with ``"stop"`` the
    loop ends there and the diagnosis is in ``history.stopped_reason`` (either way no
    checkpoint of the bad step is written). :func:`~theta.train.fit` adds a
    ``DivergenceGuard()`` first in its callbacks unless they hold one;
    ``DivergenceGuard(enabled=False)`` there trains without a guard.

    ``restore=False`` keeps the tests but not the copy of the parameters it takes before
    every step (nothing is rolled back): for callers that throw a diverged model away, such as
    the estimators, it saves a pass over the parameters per step.

    Its state (the reference loss, the recent losses, the last good parameters, the skip
    count) is part of a checkpoint, so a resumed run judges its losses as the uninterrupted
    one would.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> from theta.train import fit
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> from theta.train import DivergenceGuard
    >>> guard = DivergenceGuard(on_divergence="stop")
    >>> history = fit(Linear(1, 1, rng=0), X, 2 * X, steps=20, lr=10.0, callbacks=[guard])
    >>> len(history.step_loss) < 20
    True
    """

    def __init__(
        self, factor: float = 1e4, *, max_skipped_steps: int = 10, on_divergence: str = "raise",
        enabled: bool = True, restore: bool = True,
    ) -> None:  # fmt: skip
        check_scalar(factor, "factor", numbers.Real, min_val=1, include_boundaries="neither")
        check_scalar(max_skipped_steps, "max_skipped_steps", numbers.Integral, min_val=1)
        if on_divergence not in ("raise", "stop"):
            what = f"must be 'raise' or 'stop' (got {on_divergence!r})"
            raise ValueError(f"DivergenceGuard: on_divergence {what}.")
        for name, flag in (("enabled", enabled), ("restore", restore)):
            if not isinstance(flag, bool):
                raise TypeError(f"DivergenceGuard: {name} must be True or False (got {flag!r}).")
        self.factor, self.max_skipped_steps = factor, max_skipped_steps
        self.on_divergence, self.enabled, self.restore = on_divergence, enabled, restore
        self._reference: float | None = None
        self._pending: dict[str, np.ndarray] = {}
        self._good: dict[str, np.ndarray] = {}
        self._recent: list[float] = []
        self._skipped = 0  # consecutive steps the optimizer skipped for a non-finite gradient
        self._skipped_before = 0  # the optimizer's count at the start of this step

    def on_step_begin(self, trainer: Trainer) -> None:
        if not self.enabled:
            return
        self._skipped_before = trainer.optimizer.skipped_steps
        if not self.restore:
            return
        for name, p in trainer.model.named_parameters():
            buf = self._pending.get(name)
            if buf is None or buf.shape != p.shape:
                self._pending[name] = p.data.copy()
            else:
                np.copyto(buf, p.data)

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None:
        if not self.enabled:
            return
        loss = result.loss
        self._recent = [*self._recent[-4:], loss]
        if self._reference is None and math.isfinite(loss):
            self._reference = max(abs(loss), 1e-12)
        exploded = self._reference is not None and abs(loss) > self.factor * self._reference
        if math.isfinite(loss) and not exploded:
            self._good, self._pending = self._pending, self._good  # params that gave this loss
            skipped = trainer.optimizer.skipped_steps > self._skipped_before
            self._skipped = self._skipped + 1 if skipped else 0
            if self._skipped >= self.max_skipped_steps:
                trainer.stop_training = True
                raise DivergenceError(
                    f"fit: the gradient was NaN/inf in {self._skipped} steps in a row (steps "
                    f"{result.step - self._skipped + 1} to {result.step}; last finite loss "
                    f"{loss:.6g}). The optimizer skipped them, so the parameters are those "
                    "before the first; look for an operation with an infinite slope (sqrt or "
                    "log at 0, a division by 0) in the model or the loss."
                )
            return
        if self._good:
            trainer.model.load_state_dict(self._good)
        trainer.stop_training = True
        raise DivergenceError(self._diagnosis(trainer, result.step, exploded))

    def on_state_kept(self, trainer: Trainer) -> None:
        # An update that made parameters NaN/inf shows in the next step's loss, which rolls
        # them back; only state kept before that step (a checkpoint, the run's end) is looked
        # at here, so the check is not a pass over the parameters every step.
        if not self.enabled or (self.restore and not self._good):
            return
        bad = [name for name, p in trainer.model.named_parameters()
               if not np.isfinite(p.data).all()]  # fmt: skip
        if bad:
            if self._good:
                trainer.model.load_state_dict(self._good)
            trainer.stop_training = True
            lr = trainer.optimizer.param_groups[0]["lr"]
            raise DivergenceError(
                f"fit: the update of step {trainer.step_count - 1} made parameters NaN/inf "
                f"({', '.join(bad)}; last finite loss {self._recent[-1]:.6g}). The learning "
                f"rate lr={lr:g} may be too large: try lr={lr / 10:g} or smaller, or clip "
                "gradients." + (" The parameters from before that update were kept."
                                if self._good else "")
            )  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        return {
            "reference": self._reference,
            "recent": list(self._recent),
            "good": {name: value.copy() for name, value in self._good.items()},
            "skipped": self._skipped,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state == {}:  # format version 1 kept no guard state: judge from here on
            return
        where = "DivergenceGuard state"
        check_dict(where, "state", state, ("reference", "recent", "good", "skipped"))
        reference, recent = state["reference"], state["recent"]
        ok = reference is None or (is_number(reference) and reference > 0)
        check(where, "reference", reference, ok, "a number > 0 or null")
        ok = isinstance(recent, list) and len(recent) <= 5 and all(map(is_number, recent))
        check(where, "recent", recent, ok, "a list of at most 5 losses")
        good = check_arrays(where, "good", state["good"])
        skipped = check_int(where, "skipped", state["skipped"])
        self._reference, self._recent, self._skipped = reference, list(recent), skipped
        self._good = {name: value.copy() for name, value in good.items()}
        self._pending = {}

    def _diagnosis(self, trainer: Trainer, step: int, exploded: bool) -> str:
        finite = [v for v in self._recent[:-1] if math.isfinite(v)]  # an exploded one is not
        shown = " → ".join(f"{v:.4g}" for v in self._recent)
        what = "exploded" if exploded else "became NaN/inf"
        last = f"last finite loss {finite[-1]:.6g}" if finite else "no finite loss yet"
        lr = trainer.optimizer.param_groups[0]["lr"]
        return (
            f"fit: the loss {what} at step {step} ({last}; recent losses {shown}). The learning "
            f"rate lr={lr:g} is too large for this problem: try lr={lr / 10:g} or smaller, or "
            "clip gradients."
            + (" The parameters from the last good step were kept." if self._good else "")
        )


class PrintSteps(Callback):
    """Print ``step``, loss and named parameter values at the given steps (the chapter's log).

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> from theta.train import fit
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> from theta.train import PrintSteps
    >>> _ = fit(Linear(1, 1, rng=0), X, 2 * X, steps=3, batch_size=8, shuffle=False, lr=0.01,
    ...         callbacks=[PrintSteps([0, 2], params=["weight"])])
    step    0  loss  57.9136  weight 0.9103
    step    2  loss   9.4644  weight 1.5720
    """

    def __init__(
        self,
        steps: Sequence[int],
        params: Sequence[str] = (),
        *,
        out: Any = None,
        names: Sequence[str] | None = None,
    ) -> None:
        self.steps, self.params, self.out = set(steps), list(params), out
        self.names = list(names) if names is not None else self.params

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None:
        if result.step not in self.steps:
            return
        values = dict(trainer.model.named_parameters())
        shown = "".join(
            f"  {label} {float(values[name].data.ravel()[0]):.4f}"
            for name, label in zip(self.params, self.names, strict=True)
        )
        print(f"step {result.step:4d}  loss {result.loss:8.4f}{shown}", file=self.out)


class EvaluateEvery(Callback):
    """The validation loss at step 0, every ``every`` steps and at ``last_step``.

    Each evaluation appends its step and loss to the history, as the series
    ``history.epochs["eval_step"]`` and ``history.epochs["eval_val_loss"]``, so a checkpoint
    keeps them in its append-only history file (the checkpoint's own size stays the same
    whatever the length of the run) and a resumed run continues the same table;
    :meth:`rows` reads the table back.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> from theta.train import fit
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> evals = EvaluateEvery(2, X, 2 * X, last_step=5)
    >>> history = fit(Linear(1, 1, rng=0), X, 2 * X, steps=5, batch_size=4, callbacks=[evals],
    ...               progress=False)
    >>> [step for step, _, _ in EvaluateEvery.rows(history)]
    [0, 2, 4, 5]
    """

    STEP, LOSS = "eval_step", "eval_val_loss"  # the history series

    def __init__(self, every: int, X_val: Any, y_val: Any, *, last_step: int | None = None
                 ) -> None:  # fmt: skip
        check_scalar(every, "every", numbers.Integral, min_val=1)
        self.every, self.last_step, self.val = every, last_step, (X_val, y_val)

    def _evaluate(self, trainer: Trainer) -> None:
        loss = trainer.evaluate(*self.val)["loss"]
        trainer.history.log_epoch({self.STEP: trainer.step_count, self.LOSS: loss})

    def on_train_begin(self, trainer: Trainer) -> None:
        if trainer.step_count == 0 and not trainer.history.epochs.get(self.STEP):
            self._evaluate(trainer)

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None:
        if trainer.step_count % self.every == 0 or trainer.step_count == self.last_step:
            self._evaluate(trainer)

    @classmethod
    def rows(cls, history: Any) -> list[tuple[int, float | None, float]]:
        """``(step, mean training loss since the previous row or None, validation loss)``
        for every evaluation recorded in ``history``."""
        table: list[tuple[int, float | None, float]] = []
        since = 0
        for step_value, val in zip(history.epochs.get(cls.STEP, []),
                                   history.epochs.get(cls.LOSS, []), strict=True):  # fmt: skip
            step = int(step_value)
            recent = history.step_loss[since:step]
            table.append((step, float(np.mean(recent)) if recent else None, val))
            since = step
        return table


class EpochLog(Callback):
    """A log that stays on screen: one line per epoch, or every ``every_n_steps`` steps.

    An epoch's line holds what the loop logged for it (training loss, validation loss and
    metrics) and the seconds since training began, as Keras' ``verbose=1`` does; a
    step-based line is nanoGPT's ``step N: train loss, val loss``: the mean training loss
    since the previous line, and the validation loss when an :class:`EvaluateEvery` measured
    one at that step. The last step always gets a line. Lines are written through tqdm, so a
    progress bar (which shows the steps within an epoch) is redrawn below them, not broken.

    Parameters
    ----------
    every_n_steps : int, optional
        Log every this many steps instead of at each epoch's end.
    out : file, optional
        Where the lines go (default ``sys.stdout``).

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> from theta.train import fit
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> history = fit(Linear(1, 1, rng=0), X, 2 * X, epochs=2, batch_size=4, lr=0.01,
    ...               callbacks=[EpochLog()], progress=False)  # doctest: +ELLIPSIS
    epoch 1  step 2  loss ...  ...s
    epoch 2  step 4  loss ...  ...s
    """

    def __init__(self, every_n_steps: int | None = None, *, out: Any = None) -> None:
        if every_n_steps is not None:
            check_scalar(every_n_steps, "every_n_steps", numbers.Integral, min_val=1)
        self.every_n_steps, self.out = every_n_steps, out
        self._started = time.perf_counter()
        self._since = 0  # the step of the previous line: its mean loss starts after it
        self._pending: int | None = None  # a step line waiting for the evaluation of its step

    def on_train_begin(self, trainer: Trainer) -> None:
        self._started, self._since = time.perf_counter(), trainer.step_count
        # step 0's line shows the validation loss before training, when one is measured
        self._pending = 0 if self.every_n_steps and trainer.step_count == 0 else None

    def on_step_begin(self, trainer: Trainer) -> None:
        self._flush(trainer)

    def on_step_end(self, trainer: Trainer, result: StepResult) -> None:
        # EvaluateEvery may come after this callback, so the line waits for the next hook
        if self.every_n_steps and trainer.step_count % self.every_n_steps == 0:
            self._pending = trainer.step_count

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.every_n_steps is None:
            shown = "  ".join(f"{k} {v:.4g}" for k, v in logs.items())
            epoch = len(trainer.history.epochs["loss"])  # a last, partial epoch counts too
            self._write(f"epoch {epoch}  step {trainer.step_count}  {shown}")

    def on_train_end(self, trainer: Trainer) -> None:
        self._flush(trainer)
        if self.every_n_steps and self._since < trainer.step_count:  # the last step's line
            self._pending = trainer.step_count
            self._flush(trainer)

    def _flush(self, trainer: Trainer) -> None:
        step, self._pending = self._pending, None
        if step is None:
            return
        losses = trainer.history.step_loss[self._since : step]
        parts = [f"train loss {np.mean(losses):.4g}"] if losses else []
        evals = trainer.history.epochs
        if evals.get(EvaluateEvery.STEP) and evals[EvaluateEvery.STEP][-1] == step:
            parts.append(f"val loss {evals[EvaluateEvery.LOSS][-1]:.4g}")
        self._since = step
        if parts:
            self._write("  ".join([f"step {step}", *parts]))

    def _write(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(f"{line}  {time.perf_counter() - self._started:.1f}s", file=self.out)
