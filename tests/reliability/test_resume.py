"""Interrupt and resume (RELIABILITY 28-30, 32, 33, 48; issue #13 items 3, 7, 19, 22, 23).

The oracle is the uninterrupted run: a run cut at any step and resumed from its checkpoint
ends bit-identical to it (float64) in parameters, optimizer state, history and the state of
every callback. A damaged checkpoint is refused by name and changes nothing.
"""

import errno
import json
import os
import signal
import zlib

import numpy as np
import pytest

from theta import tensorfile
from theta.autograd.function import Function
from theta.errors import CheckpointError, DivergenceError
from theta.nn import MLP, Linear, Module, Parameter
from theta.optim import Adam
from theta.train import (
    Callback,
    DivergenceGuard,
    EarlyStopping,
    History,
    LRScheduler,
    ModelCheckpoint,
    Trainer,
    checkpoint,
    fit,
)  # fmt: skip

# 20 training samples in batches of 8: 3 steps per epoch (8, 8, 4). Early stopping (patience 2,
# a min_delta no later epoch beats) ends the 4-epoch run after epoch 3, at step 9.
STEPS_PER_EPOCH, EPOCHS, STOPS_AT = 3, 4, 9


def _data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 12)
    X = rng.normal(size=(36, 4)) + 1.5 * np.eye(3, 4)[y]
    order = rng.permutation(36)
    X, y = X[order], y[order]
    return X[:20], y[:20], X[20:], y[20:]


class Crash(Callback):
    """Raise at the end of step ``at`` (0-based), as a crash ends a run."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, trainer, result) -> None:
        if result.step == self.at:
            raise RuntimeError("power cut")


class CtrlC(Callback):
    """Send this process SIGINT (Ctrl-C) during step ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, trainer, result) -> None:
        if result.step == self.at:
            os.kill(os.getpid(), signal.SIGINT)


class Spy(Callback):
    """Keep the trainer, and its parameters when training ends (before early stopping
    puts the best ones back)."""

    def on_train_begin(self, trainer) -> None:
        self.trainer, self.resumed_at = trainer, trainer.step_count

    def on_train_end(self, trainer) -> None:
        self.last_params = trainer.model.state_dict()


def _train(folder, *extra, every=1, resume=False):
    """The set-up: dropout, Adam, a schedule, validation data with a metric, the gradient
    norm recorded, and every stateful callback theta has."""
    X, y, X_val, y_val = _data()
    model = MLP((4, 16, 3), dropout=0.3, rng=1, dtype=np.float64)
    optimizer = Adam(model.parameters(), lr=0.05)
    spy = Spy()
    callbacks = [
        DivergenceGuard(), spy, LRScheduler(lambda step: 0.05 * 0.9**step),
        EarlyStopping(patience=2, min_delta=0.2),
        ModelCheckpoint(str(folder / "best.ckpt"), save_best_only=True), *extra,
        ModelCheckpoint(str(folder / "run.ckpt"), every_n_steps=every),
    ]  # fmt: skip
    history = fit(
        model, X, y, loss="cross_entropy", optimizer=optimizer, epochs=EPOCHS, batch_size=8,
        seed=3, validation_data=(X_val, y_val), metrics=["accuracy"], callbacks=callbacks,
        resume=resume, record_grad_norm=True,
    )  # fmt: skip
    return history, spy


def _assert_same(a, b, where="state") -> None:
    """Equal nested state: arrays bit for bit and of one dtype, everything else by ``==``."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, where
        assert np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, z) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, z, f"{where}/{i}")
    else:
        assert type(a) is type(b) and a == b, (where, a, b)


def _saved(path):
    """A checkpoint's state with its history rebuilt from the history file."""
    state = checkpoint.load(str(path))
    record = state.pop("history")
    state["callbacks"] = [c for c in state["callbacks"] if c[0] not in ("Crash", "CtrlC")]
    log = checkpoint.HistoryLog(record["rows"], record["bytes"], record["crc32"])
    rows = checkpoint.read_history(str(path), log)
    return state, History.from_rows(rows, record["stopped_reason"])


def _assert_same_run(trainer, spy, reference, reference_spy) -> None:
    assert (trainer.step_count, trainer.epoch) == (reference.step_count, reference.epoch)
    _assert_same(trainer.model.state_dict(), reference.model.state_dict(), "model")
    if spy.resumed_at < STOPS_AT:  # a finished run's checkpoint holds the restored best ones
        _assert_same(spy.last_params, reference_spy.last_params, "last params")
    _assert_same(trainer.optimizer.state_dict(), reference.optimizer.state_dict(), "optimizer")
    _assert_same(trainer.batches.state_dict(), reference.batches.state_dict(), "batches")
    assert trainer.history == reference.history  # step_loss, epochs, grad_norm, stopped_reason
    for cb, ref in zip(trainer.callbacks, reference.callbacks, strict=True):
        _assert_same(cb.state_dict(), ref.state_dict(), type(cb).__name__)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    history, spy = _train(folder)
    assert history.n_steps == STOPS_AT and history.stopped_reason.startswith("early stopping")
    return folder, spy


# --- bit-identical resume from every step -------------------------------------------------------


@pytest.mark.parametrize("at", range(STOPS_AT))
@pytest.mark.parametrize("how", ["crash", "ctrl-c"])
def test_resume_from_any_step_ends_bit_identical(tmp_path, uninterrupted, how, at):
    """Cut at step ``at``: the first step, the last and first step of an epoch, the step
    where early stopping ends the run. A crash leaves the periodic checkpoint of the step
    before; Ctrl-C saves the step it interrupted (in the last step it lets the run end)."""
    folder, reference = uninterrupted
    if how == "crash":
        with pytest.raises(RuntimeError, match="power cut"):
            _train(tmp_path, Crash(at))
        saved_at = at
    else:
        if at < STOPS_AT - 1:
            with pytest.raises(KeyboardInterrupt, match=f"interrupted at step {at + 1}"):
                _train(tmp_path, CtrlC(at), every=None)
        else:
            _train(tmp_path, CtrlC(at), every=None)
        saved_at = at + 1
    if saved_at:
        assert checkpoint.load(str(tmp_path / "run.ckpt"))["step_count"] == saved_at
    else:
        assert not (tmp_path / "run.ckpt").exists()
    _, spy = _train(tmp_path, resume=True)
    _assert_same_run(spy.trainer, spy, reference.trainer, reference)
    # the files the two runs leave behind hold the same training state
    for name in ("run.ckpt", "best.ckpt"):
        state, history = _saved(tmp_path / name)
        reference_state, reference_history = _saved(folder / name)
        _assert_same(state, reference_state, name)
        assert history == reference_history


def test_checkpoint_at_an_epochs_last_step_holds_that_epochs_end(tmp_path):
    """Issue item 22: the checkpoint of step 3 (epoch 1's last) is written after epoch 1's
    end: its validation loss and early stopping's record of it are in the file."""
    with pytest.raises(RuntimeError):
        _train(tmp_path, Crash(at=3), every=STEPS_PER_EPOCH)
    state, history = _saved(tmp_path / "run.ckpt")
    assert state["step_count"] == 3 and state["epoch"] == 1
    assert len(history.epochs["val_loss"]) == 1 and len(history.step_loss) == 3
    stopper = dict(state["callbacks"])["EarlyStopping"]
    assert stopper["best_epoch"] == 1 and stopper["best"] == history.epochs["val_loss"][0]


def test_early_stopping_patience_count_is_restored(tmp_path, uninterrupted):
    """Issue item 23: cut after epoch 2, where early stopping has waited one epoch."""
    folder, reference = uninterrupted
    with pytest.raises(RuntimeError):
        _train(tmp_path, Crash(at=6))
    stopper = dict(checkpoint.load(str(tmp_path / "run.ckpt"))["callbacks"])["EarlyStopping"]
    assert stopper["wait"] == 1
    history, spy = _train(tmp_path, resume=True)
    assert history.n_steps == STOPS_AT  # not a step later, as a stopper that forgot would
    assert spy.trainer.callbacks[3].wait == 2


def test_resume_of_an_early_stopped_run_does_nothing(tmp_path, uninterrupted):
    _, reference = uninterrupted
    _train(tmp_path)
    history, spy = _train(tmp_path, resume=True)
    assert history.n_steps == STOPS_AT
    _assert_same_run(spy.trainer, spy, reference.trainer, reference)


def test_history_rows_after_the_last_checkpoint_are_dropped(tmp_path, uninterrupted):
    """A run that crashed after appending rows but before writing the checkpoint that counts
    them: the resumed run drops them, and its history file is the uninterrupted one's."""
    folder, reference = uninterrupted
    with pytest.raises(RuntimeError):
        _train(tmp_path, Crash(at=5))
    with open(tmp_path / "run.ckpt.history", "a") as f:
        f.write('["step_loss", 1.5]\n["epochs", "loss", 2.5]\n["grad_no')
    history, _ = _train(tmp_path, resume=True)
    assert history == reference.trainer.history
    expected = (folder / "run.ckpt.history").read_bytes()
    assert (tmp_path / "run.ckpt.history").read_bytes() == expected


# --- the checkpoint does not grow with the run (item 3, RELIABILITY 48) ------------------------


class FileSizes(Callback):
    """The checkpoint's size and its history file's content after each periodic write."""

    def __init__(self, path, every) -> None:
        self.path, self.every, self.sizes, self.histories = path, every, [], []

    def on_step_begin(self, trainer) -> None:  # the previous step's checkpoint is written
        if trainer.step_count and trainer.step_count % self.every == 0:
            self.sizes.append(os.path.getsize(self.path))
            self.histories.append((self.path.parent / "run.ckpt.history").read_bytes())


def test_checkpoint_size_does_not_grow_with_the_number_of_steps(tmp_path):
    X = np.arange(5.0).reshape(-1, 1)
    path = tmp_path / "run.ckpt"
    sizes = FileSizes(path, 1000)
    history = fit(Linear(1, 1, rng=0, dtype=np.float64), X, 2 * X + 1, lr=0.01, steps=10_002,
                  batch_size=2, seed=0,
                  callbacks=[sizes, ModelCheckpoint(str(path), every_n_steps=1000)])  # fmt: skip
    short = tmp_path / "short.ckpt"
    fit(Linear(1, 1, rng=0, dtype=np.float64), X, 2 * X + 1, lr=0.01, steps=10, batch_size=2,
        seed=0, callbacks=[ModelCheckpoint(str(short))])  # fmt: skip
    # the same, but for the digits of numbers: counts, and the guard's 5 recent losses
    assert len(sizes.sizes) == 10
    assert max(sizes.sizes) - os.path.getsize(short) <= 128
    # the history file is only appended to, by about the same amount each time
    pairs = list(zip(sizes.histories[:-1], sizes.histories[1:], strict=True))
    for before, after in pairs:
        assert after.startswith(before)
    growth = [len(after) - len(before) for before, after in pairs]
    assert max(growth) < 1.5 * min(growth)
    state, saved = _saved(path)
    assert saved == history and state["step_count"] == 10_002  # whole epochs: none left to end


def test_failed_history_append_keeps_the_previous_checkpoint(tmp_path, uninterrupted,
                                                             monkeypatch):  # fmt: skip
    """RELIABILITY 31: the disk fills while the history rows of step 6 are appended. The error
    names the history file, the checkpoint of step 5 still resumes to the uninterrupted end."""
    folder, reference = uninterrupted
    with pytest.raises(RuntimeError):
        _train(tmp_path, Crash(at=5))
    fsync = os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device") as info:
        _train(tmp_path, resume=True)
    monkeypatch.setattr(os, "fsync", fsync)
    assert info.value.filename == str(tmp_path / "run.ckpt.history") and info.value.errno == 28
    assert checkpoint.load(str(tmp_path / "run.ckpt"))["step_count"] == 5
    _, spy = _train(tmp_path, resume=True)
    _assert_same_run(spy.trainer, spy, reference.trainer, reference)
    assert (tmp_path / "run.ckpt.history").read_bytes() == (
        folder / "run.ckpt.history"
    ).read_bytes()


def test_history_file_that_cannot_be_opened_is_an_os_error_naming_it(tmp_path, monkeypatch):
    """RELIABILITY 31 (found by mutation testing): the open of the history file for appending
    fails; the error keeps its errno and names the history file, not a bare OSError."""
    X = np.arange(5.0).reshape(-1, 1)
    path = tmp_path / "run.ckpt"
    fit(Linear(1, 1, rng=0), X, X, steps=3, batch_size=None,
        callbacks=[ModelCheckpoint(str(path))])  # fmt: skip
    real_open = os.open

    def deny(name, flags, *args, **kwargs):
        if str(name).endswith(".history") and flags & os.O_RDWR:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(PermissionError) as info:
        fit(Linear(1, 1, rng=0), X, X, steps=6, batch_size=None,
            callbacks=[ModelCheckpoint(str(path))], resume=True)  # fmt: skip
    assert info.value.errno == errno.EACCES
    assert info.value.filename == str(tmp_path / "run.ckpt.history")


def test_checkpoint_without_its_history_file_is_refused(tmp_path):
    X = np.arange(5.0).reshape(-1, 1)
    path = tmp_path / "run.ckpt"
    fit(Linear(1, 1, rng=0), X, X, steps=3, batch_size=None,
        callbacks=[ModelCheckpoint(str(path))])  # fmt: skip
    os.remove(tmp_path / "run.ckpt.history")
    with pytest.raises(CheckpointError, match=r"run\.ckpt\.history: the training history"):
        fit(Linear(1, 1, rng=0), X, X, steps=5, batch_size=None,
            callbacks=[ModelCheckpoint(str(path))], resume=True)  # fmt: skip


def test_checkpoint_of_format_version_1_with_the_history_inside_still_resumes(tmp_path):
    X, y, _, _ = _data()
    make = lambda: MLP((4, 8, 3), dropout=0.3, rng=0, dtype=np.float64)  # noqa: E731
    a = Trainer(make(), X, y, loss="cross_entropy", optimizer="adam", batch_size=8, seed=2,
                callbacks=[DivergenceGuard()])  # fmt: skip
    for _ in range(4):
        a.step()
    path = str(tmp_path / "old.ckpt")
    old = {key: value for key, value in a.state_dict().items() if key != "stop_training"}
    old["callbacks"] = [["DivergenceGuard", {}]]  # version 1 kept no state of the guard
    checkpoint.save(path, old)  # the history inline, as theta's format version 1 had it
    b = Trainer(make(), X, y, loss="cross_entropy", optimizer="adam", batch_size=8, seed=9,
                callbacks=[DivergenceGuard()])  # fmt: skip
    b.load_checkpoint(path)
    assert b.history == a.history
    for _ in range(4):
        assert a.step().loss == b.step().loss


def _as_version2(path) -> None:
    """Rewrite the checkpoint at ``path`` as theta's format version 2 wrote it (before the
    issue #14 trees): ``{"__array__": key}`` objects for arrays under ``state/...`` keys, int
    keys as strings, tuples as lists, NumPy scalars as Python numbers."""
    arrays = {}

    def split(value, where):
        if isinstance(value, np.ndarray):
            arrays[where] = value
            return {"__array__": where}
        if isinstance(value, dict):
            return {str(k): split(v, f"{where}/{k}") for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [split(v, f"{where}/{i}") for i, v in enumerate(value)]
        return value.item() if isinstance(value, np.generic) else value

    state = json.dumps(split(checkpoint.load(str(path)), "state"))
    meta = {"format": "theta.checkpoint", "format_version": "2", "state": state}
    tensorfile.write_tensors(path, arrays, meta)


def test_checkpoint_of_format_version_2_resumes_bit_identically(tmp_path):
    X, y, _, _ = _data()

    def trainer(seed):
        model = MLP((4, 8, 3), dropout=0.3, rng=0, dtype=np.float64)
        callbacks = [DivergenceGuard(), LRScheduler(lambda step: 0.1 * 0.9**step)]
        return Trainer(model, X, y, loss="cross_entropy", optimizer="adam", batch_size=8,
                       seed=seed, callbacks=callbacks)  # fmt: skip

    a = trainer(2)
    for _ in range(4):
        a.step()
    path = tmp_path / "old.ckpt"
    a.save_checkpoint(str(path))
    _as_version2(path)
    assert tensorfile.read_tensors(path)[1]["format_version"] == "2"
    b = trainer(9)
    b.load_checkpoint(str(path))
    assert b.history == a.history
    for _ in range(5):
        assert a.step().loss == b.step().loss
    _assert_same(b.model.state_dict(), a.model.state_dict(), "model")


# --- divergence (RELIABILITY 32, 33; item 7) ----------------------------------------------------


def _line_run(path, steps, *, resume=False):
    """The chapter's line: lr 0.05 converges, lr 0.2 from step 300 diverges slowly."""
    X = np.arange(5.0).reshape(-1, 1)
    model = Linear(1, 1, dtype=np.float64)
    model.load_state_dict({"weight": np.zeros((1, 1)), "bias": np.zeros(1)})
    schedule = LRScheduler(lambda step: 0.05 if step < 300 else 0.2)
    return fit(model, X, 2 * X + 1, steps=steps, batch_size=None,
               callbacks=[schedule, ModelCheckpoint(str(path))], resume=resume)  # fmt: skip


def test_resumed_run_diverges_where_the_uninterrupted_one_does(tmp_path):
    """Item 7: the guard's reference loss (step 0's, 33) is in the checkpoint. Had it been
    lost, the tiny loss at step 300 would become the reference and a loss that is fine for
    the uninterrupted run would be called an explosion ("--resume fails")."""
    with pytest.raises(DivergenceError) as uninterrupted:
        _line_run(tmp_path / "full.ckpt", 500)
    assert "exploded at step 380" in str(uninterrupted.value)
    path = tmp_path / "cut.ckpt"
    _line_run(path, 300)
    with pytest.raises(DivergenceError) as resumed:
        _line_run(path, 500, resume=True)
    assert str(resumed.value) == str(uninterrupted.value)
    saved = checkpoint.load(str(path))  # the diverged run wrote no checkpoint over it
    assert saved["step_count"] == 300
    assert all(np.isfinite(v).all() for v in saved["model"].values())


class BreakUpdate(Callback):
    """Make the weight NaN at the end of step ``at``, as an overflowing update would."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, trainer, result) -> None:
        if result.step == self.at:
            trainer.model.weight.data[...] = np.nan


@pytest.mark.parametrize("cause", ["loss", "update"])
def test_periodic_checkpoint_is_not_written_with_the_diverged_step(tmp_path, cause):
    """RELIABILITY 32: even a ModelCheckpoint listed before the guard writes only once the
    whole step has passed the guard, and an update that makes the parameters NaN is caught
    in that step, so the file keeps the step before; training stops within one step."""
    X = np.arange(5.0).reshape(-1, 1)
    path = tmp_path / "run.ckpt"
    model = Linear(1, 1, dtype=np.float64)
    model.load_state_dict({"weight": np.zeros((1, 1)), "bias": np.zeros(1)})
    spy = Spy()
    lr, broken, message = (
        (10, [], "the loss exploded at step 1")
        if cause == "loss"
        else (0.05, [BreakUpdate(at=1)], r"the update of step 1 made parameters NaN/inf \(weight")
    )
    with pytest.raises(DivergenceError, match=message):
        fit(model, X, 2 * X + 1, lr=lr, steps=50, batch_size=None,
            callbacks=[spy, *broken, ModelCheckpoint(str(path), every_n_steps=1),
                       DivergenceGuard()])  # fmt: skip
    assert spy.trainer.history.n_steps == 2
    state, history = _saved(path)
    assert state["step_count"] == 1 and history.step_loss == [33.0]
    # the parameters after step 0: w = 0 + lr * 28, b = 0 + lr * 10
    assert state["model"]["weight"].item() == lr * 28 and state["model"]["bias"].item() == lr * 10
    assert np.isfinite(model.weight.data).all()


class NanGradient(Function):
    """The identity, whose gradient is NaN: a finite loss with a non-finite gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return (np.full_like(grad, np.nan),)


class Line(Module):
    """``w*x + b``, whose gradient is NaN in the steps listed in ``poisoned``."""

    def __init__(self, poisoned) -> None:
        self.w, self.b = Parameter(np.zeros((1, 1))), Parameter(np.zeros(1))
        self.poisoned, self.calls = set(poisoned), 0

    def forward(self, x):
        out = x @ self.w + self.b
        self.calls += 1
        return NanGradient.apply(out) if self.calls - 1 in self.poisoned else out


def test_non_finite_gradients_skip_steps_then_stop():
    """RELIABILITY 33: each step with a NaN gradient is skipped (parameters unchanged) and
    counted; three in a row stop training, naming the steps and the last finite loss."""
    X = np.arange(5.0).reshape(-1, 1)
    model, spy = Line(poisoned={2, 4, 5, 6, 7}), Spy()
    with pytest.raises(DivergenceError) as info:
        fit(model, X, 2 * X + 1, lr=0.05, steps=20, batch_size=None,
            callbacks=[spy, DivergenceGuard(max_skipped_steps=3)])  # fmt: skip
    history = spy.trainer.history
    assert history.n_steps == 7 and spy.trainer.optimizer.skipped_steps == 4
    assert "NaN/inf in 3 steps in a row (steps 4 to 6" in str(info.value)
    assert f"last finite loss {history.step_loss[-1]:.6g}" in str(info.value)
    reference = Line(poisoned=())
    fit(reference, X, 2 * X + 1, lr=0.05, steps=3, batch_size=None)  # 3 applied updates
    assert model.w.data == reference.w.data and model.b.data == reference.b.data
    with pytest.raises(ValueError, match=r"'max_skipped_steps' parameter.* must be an int in the range \[1, inf\)\. Got 0 instead"):  # noqa: E501
        DivergenceGuard(max_skipped_steps=0)


# --- damaged checkpoints (item 19) --------------------------------------------------------------


def _good_state(folder):
    """A real checkpoint of the set-up after 4 steps: its state, and its history file."""
    with pytest.raises(RuntimeError):
        _train(folder, Crash(at=4))
    return checkpoint.load(str(folder / "run.ckpt")), (folder / "run.ckpt.history").read_bytes()


def _deep(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


def _set(path, value):
    """A mutation: replace the value at ``path`` (keys and indices) in the state."""

    def mutate(state):
        *parents, last = path
        node = state
        for key in parents:
            node = node[key]
        node[last] = value(node[last]) if callable(value) else value
        return state

    return mutate


def _drop(key):
    def mutate(state):
        del state[key]
        return state

    return mutate


# (name, mutation of the loaded state, the field the error must name)
DAMAGED_STATES = [
    ("empty", lambda s: {}, "'state'"),
    ("list", lambda s: [], "'state'"),
    ("string", lambda s: "model", "'state'"),
    *[
        (f"no {key}", _drop(key), "'state'")
        for key in (
            "model",
            "model_rngs",
            "optimizer",
            "batches",
            "step_count",
            "epoch",
            "history",
            "callbacks",
        )
    ],
    ("step_count string", _set(["step_count"], "10"), "'step_count'"),
    ("step_count negative", _set(["step_count"], -5), "'step_count'"),
    ("step_count float", _set(["step_count"], 4.0), "'step_count'"),
    ("step_count bool", _set(["step_count"], True), "'step_count'"),
    ("epoch negative", _set(["epoch"], -1), "'epoch'"),
    ("epoch past steps", _set(["epoch"], 99), "'epoch'"),
    ("stop_training", _set(["stop_training"], "no"), "'stop_training'"),
    ("model list", _set(["model"], []), "'model'"),
    ("model number", _set(["model", "0.weight"], 1.5), "'model'"),
    ("model wrong shape", _set(["model", "0.weight"], np.zeros((2, 2))), "'model'"),
    (
        "model missing",
        _set(["model"], lambda m: {"0.weight": m["0.weight"]}),
        "'model'",
    ),
    ("rng not a dict", _set(["model_rngs", "2.rng"], 7), "'model_rngs/2.rng'"),
    ("rng state", _set(["model_rngs", "2.rng", "state"], "x"), "'model_rngs'"),
    ("rng missing", _set(["model_rngs"], {}), "'model_rngs'"),
    ("optimizer empty", _set(["optimizer"], {}), "'optimizer'"),
    ("param_groups", _set(["optimizer", "param_groups"], "x"), "'optimizer/param_groups'"),
    ("moments list", _set(["optimizer", "state", 0], []), "'optimizer/state/0'"),
    ("moments key", _set(["optimizer", "state", "0"], []), "'optimizer/state/0'"),
    ("moment shape", _set(["optimizer", "state", 0, "exp_avg"], np.zeros(3)), "'optimizer'"),
    ("optimizer steps", _set(["optimizer", "step_count"], -1), "'optimizer/step_count'"),
    ("batches empty", _set(["batches"], {}), "'batches'"),
    ("batch position", _set(["batches", "position"], -1), "'batches/position'"),
    ("batch past end", _set(["batches", "position"], 1000), "'batches'"),
    ("batch size", _set(["batches", "batch_size"], 5), "'batches'"),
    ("batch rng", _set(["batches", "rng_state"], [1, 2]), "'batches/rng_state'"),
    ("history list", _set(["history"], []), "'history'"),
    ("history rows", _set(["history", "rows"], -1), "'history/rows'"),
    ("history bytes", _set(["history", "bytes"], "9"), "'history/bytes'"),
    ("history crc", _set(["history", "crc32"], 2**40), "'history/crc32'"),
    ("history reason", _set(["history", "stopped_reason"], 5), "'history/stopped_reason'"),
    ("callbacks string", _set(["callbacks"], "x"), "'callbacks'"),
    ("callback pair", _set(["callbacks", 0], ["DivergenceGuard"]), "'callbacks'"),
    ("guard keys", _set(["callbacks", 0, 1], {"reference": 1.0}), "'state'"),
    ("guard reference", _set(["callbacks", 0, 1, "reference"], -1), "'reference'"),
    ("guard recent", _set(["callbacks", 0, 1, "recent"], ["x"]), "'recent'"),
    ("stopper wait", _set(["callbacks", 3, 1, "wait"], "3"), "'wait'"),
    ("stopper best", _set(["callbacks", 3, 1, "best"], None), "'best'"),
    ("stopper best_state", _set(["callbacks", 3, 1, "best_state"], [1]), "'best_state'"),
    ("best-only best", _set(["callbacks", 4, 1, "best"], "low"), "'best'"),
    ("nested deep", _set(["model_rngs"], {"x": _deep(40)}), "nests deeper"),
]


def _assert_unchanged(trainer, before) -> None:
    _assert_same(trainer.state_dict(), before, "trainer")


def _trained_trainer(folder):
    """A trainer of the set-up that has taken 2 steps of its own."""
    X, y, _, _ = _data()
    model = MLP((4, 16, 3), dropout=0.3, rng=1, dtype=np.float64)
    callbacks = [DivergenceGuard(), Spy(), LRScheduler(lambda step: 0.05 * 0.9**step),
                 EarlyStopping(patience=2, min_delta=0.2),
                 ModelCheckpoint(str(folder / "best.ckpt"), save_best_only=True)]  # fmt: skip
    trainer = Trainer(model, X, y, loss="cross_entropy", optimizer=Adam(model.parameters()),
                      batch_size=8, seed=3, callbacks=callbacks)  # fmt: skip
    trainer.step()
    trainer.step()
    return trainer


@pytest.mark.parametrize(("name", "mutate", "field"), DAMAGED_STATES,
                         ids=[case[0] for case in DAMAGED_STATES])  # fmt: skip
def test_damaged_checkpoint_is_refused_and_changes_nothing(tmp_path, name, mutate, field):
    good, history = _good_state(tmp_path)
    path = tmp_path / "damaged.ckpt"
    checkpoint.save(str(path), mutate(good))
    (tmp_path / "damaged.ckpt.history").write_bytes(history)
    trainer = _trained_trainer(tmp_path)
    before = trainer.state_dict()
    with pytest.raises(CheckpointError) as info:
        trainer.load_checkpoint(str(path))
    message = str(info.value)
    assert message.startswith(str(path)) and field in message, message
    _assert_unchanged(trainer, before)
    if not name.startswith("history"):  # the same checks guard a state handed over in memory
        state = {**checkpoint.load(str(tmp_path / "run.ckpt")), "history": History().to_dict()}
        with pytest.raises(CheckpointError, match="^Trainer.load_state_dict: "):
            trainer.load_state_dict(mutate(state))
        _assert_unchanged(trainer, before)


def _write_meta(folder, change):
    """The real checkpoint with its metadata changed by ``change``."""
    _good_state(folder)
    arrays, meta = tensorfile.read_tensors(folder / "run.ckpt")
    change(meta)
    path = folder / "damaged.ckpt"
    tensorfile.write_tensors(path, arrays, meta)
    (folder / "damaged.ckpt.history").write_bytes((folder / "run.ckpt.history").read_bytes())
    return path


def _history_file(change):
    def damage(folder, path):
        history = folder / "damaged.ckpt.history"
        history.write_bytes(change(history.read_bytes()))

    return damage


DAMAGED_FILES = [
    ("version x", lambda m: m.update(format_version="x"), "'format_version'"),
    ("version negative", lambda m: m.update(format_version="-1"), "'format_version'"),
    ("version empty", lambda m: m.update(format_version=""), "'format_version'"),
    ("version huge", lambda m: m.update(format_version="9" * 5000), "'format_version'"),
    ("state deep", lambda m: m.update(state="[" * 100_000 + "]" * 100_000), "nests too deeply"),
    (
        "state deep dict",
        lambda m: m.update(state='{"a":' * 100_000 + "1" + "}" * 100_000),
        "nests too deeply",
    ),
    ("state dangling", lambda m: m.update(state='{"model": {"__array__": ["x"]}}'), "damaged"),
    ("state not json", lambda m: m.update(state="{model"), "damaged"),
    ("state null", lambda m: m.update(state="null"), "'state'"),
    ("no state", lambda m: m.pop("state"), "damaged"),
]
DAMAGED_HISTORIES = [
    (
        "history missing",
        lambda folder, path: os.remove(folder / "damaged.ckpt.history"),
        "is missing",
    ),
    ("history truncated", _history_file(lambda b: b[:-10]), "truncated"),
    ("history byte flipped", _history_file(lambda b: b[:40] + b"7" + b[41:]), "CRC-32"),
    ("history of another run", _history_file(lambda b: b.replace(b"[", b" [", 1)), "CRC-32"),
    (
        "history folder",
        lambda folder, path: (
            os.remove(folder / "damaged.ckpt.history"),
            os.mkdir(folder / "damaged.ckpt.history"),
        ),
        "directory",
    ),
]


@pytest.mark.parametrize(("name", "change", "expected"), DAMAGED_FILES,
                         ids=[case[0] for case in DAMAGED_FILES])  # fmt: skip
def test_damaged_checkpoint_file_is_refused_and_changes_nothing(tmp_path, name, change, expected):
    path = _write_meta(tmp_path, change)
    trainer = _trained_trainer(tmp_path)
    before = trainer.state_dict()
    with pytest.raises(CheckpointError) as info:
        trainer.load_checkpoint(str(path))
    assert str(info.value).startswith(str(path)) and expected in str(info.value), info.value
    _assert_unchanged(trainer, before)


@pytest.mark.parametrize(("name", "damage", "expected"), DAMAGED_HISTORIES,
                         ids=[case[0] for case in DAMAGED_HISTORIES])  # fmt: skip
def test_damaged_history_file_is_refused_and_changes_nothing(tmp_path, name, damage, expected):
    path = _write_meta(tmp_path, lambda meta: None)
    damage(tmp_path, path)
    trainer = _trained_trainer(tmp_path)
    before = trainer.state_dict()
    with pytest.raises((CheckpointError, IsADirectoryError)) as info:
        trainer.load_checkpoint(str(path))
    assert "damaged.ckpt.history" in str(info.value) and expected in str(info.value)
    _assert_unchanged(trainer, before)


MALFORMED_ROWS = [b"[]", b'["step_loss"]', b'["step_loss", "1"]', b"{}", b'["epochs", 3, 1.0]',
                  b'["params", 1.0]', b"[" * 5000]  # fmt: skip


@pytest.mark.parametrize("row", MALFORMED_ROWS, ids=[f"row{i}" for i in range(len(MALFORMED_ROWS))])
def test_malformed_history_row_is_refused_naming_the_line(tmp_path, row):
    path = tmp_path / "run.ckpt"
    rows = [["step_loss", 0.5], ["step_loss", 0.25]]
    log = checkpoint.write_history(str(path), rows)
    data = (tmp_path / "run.ckpt.history").read_bytes()
    damaged = data[: data.index(b"\n") + 1] + row + b"\n" + data.split(b"\n")[2] + b"\n"
    (tmp_path / "run.ckpt.history").write_bytes(damaged)
    log = log._replace(size=len(damaged), crc32=zlib.crc32(damaged))
    with pytest.raises(CheckpointError, match=r"run\.ckpt\.history: line 2 is not a history row"):
        checkpoint.read_history(str(path), log)


def test_fit_refuses_a_damaged_checkpoint_before_training(tmp_path):
    _good_state(tmp_path)
    path = tmp_path / "run.ckpt"
    state = checkpoint.load(str(path))
    state["step_count"] = "4"
    checkpoint.save(str(path), state)
    history = (tmp_path / "run.ckpt.history").read_bytes()
    X, y, _, _ = _data()
    model = MLP((4, 16, 3), dropout=0.3, rng=1, dtype=np.float64)
    before = model.state_dict()
    with pytest.raises(CheckpointError, match=r"run\.ckpt: field 'step_count' is damaged"):
        fit(model, X, y, loss="cross_entropy", epochs=2, batch_size=8,
            callbacks=[ModelCheckpoint(str(path))], resume=True)  # fmt: skip
    _assert_same(model.state_dict(), before)
    assert (tmp_path / "run.ckpt.history").read_bytes() == history


def test_checkpoint_with_the_names_before_pytorchs_resumes_bit_identically(tmp_path):
    """A checkpoint of the theta before PyTorch's names (an MLP's ``layers.0.weight``, its
    dropout generators under ``layers.N``, the guard's and early stopping's saved weights)
    resumes and ends as the uninterrupted run does."""
    from theta.io.models import version1_name

    X = np.random.default_rng(0).standard_normal((20, 3))
    y = X @ np.array([1.0, -2.0, 0.5])[:, None]

    def run(steps, path, resume=False):
        model = MLP((3, 8, 1), dropout=0.2, rng=0, dtype=np.float64)
        fit(model, X, y, steps=steps, batch_size=8, seed=0, optimizer="adam", lr=0.01,
            validation_data=(X, y), resume=resume,
            callbacks=[EarlyStopping("val_loss", patience=50), ModelCheckpoint(str(path))])
        return model

    reference = run(9, tmp_path / "reference.ckpt")
    path = tmp_path / "old.ckpt"
    run(4, path)
    model = MLP((3, 8, 1), dropout=0.2, rng=0, dtype=np.float64)
    old = lambda d: {version1_name(model, k): v for k, v in d.items()}  # noqa: E731
    state = checkpoint.load(str(path))
    assert "0.weight" in state["model"]
    state["model"], state["model_rngs"] = old(state["model"]), old(state["model_rngs"])
    for _, cb_state in state["callbacks"]:
        for key in ("good", "best_state"):
            if isinstance(cb_state.get(key), dict) and cb_state[key]:
                cb_state[key] = old(cb_state[key])
    assert "layers.0.weight" in state["model"] and any("layers." in k for k in state["model_rngs"])
    checkpoint.save(str(path), state)
    resumed = run(9, path, resume=True)
    for name, value in reference.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value)
