"""Checkpoints and resume (RELIABILITY 28-31): bit-identical resume, a resume in a fresh
process, a process killed mid-write, a write that fails, and Ctrl-C.
"""

import errno
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from theta import tensorfile
from theta.errors import CheckpointError
from theta.nn import MLP, Linear, Module, Parameter
from theta.train import Callback, ModelCheckpoint, Trainer, checkpoint, fit

SRC = Path(__file__).resolve().parents[2] / "src"

# One training set-up, run here and, unchanged, in fresh processes: blobs in minibatches of 8
# (8 steps per epoch, the last batch of 4), shuffled, an MLP with dropout (its generator is part
# of the state), Adam, and a learning rate that changes every step.
SETUP = """
import numpy as np
from theta.nn import MLP
from theta.optim import Adam
from theta.train import LRScheduler, ModelCheckpoint, fit


def data():
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(3), 20)
    return rng.normal(size=(60, 4)) + 1.5 * np.eye(3, 4)[y], y


def schedule(step):
    return 0.02 * 0.97**step


def train(path, steps, *, dtype=np.float64, resume=False, callbacks=(), every=5):
    model = MLP((4, 16, 3), dropout=0.3, rng=1, dtype=dtype)
    optimizer = Adam(model.parameters(), lr=0.02)
    X, y = data()
    history = fit(
        model, X, y, loss="cross_entropy", optimizer=optimizer, steps=steps, batch_size=8,
        seed=3, resume=resume, callbacks=[LRScheduler(schedule), *callbacks,
                                          ModelCheckpoint(str(path), every_n_steps=every)],
    )  # fmt: skip
    return model, optimizer, history
"""
_setup: dict = {}
exec(SETUP, _setup)
train = _setup["train"]


def _run_python(code: str, log: Path) -> subprocess.Popen:
    """Start ``python -c code`` with theta importable, its stderr going to ``log``."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    with open(log, "w") as stderr:
        return subprocess.Popen([sys.executable, "-c", code], env=env, stderr=stderr)


def _assert_same_state(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert np.array_equal(sa[name], sb[name]), name


def _assert_same_optimizer(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]  # including the scheduled lr
    assert sa["step_count"] == sb["step_count"]
    for i, entry in sa["state"].items():
        for key, value in entry.items():
            assert np.array_equal(value, sb["state"][i][key]), (i, key)


def _temporary_files(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


class Crash(Callback):
    """Raise at the end of step ``at``, as a crash would end the run."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, trainer, result) -> None:
        if result.step == self.at:
            raise RuntimeError("power cut")


class Spy(Callback):
    """Keep the trainer, to look at it after ``fit`` raised."""

    def on_train_begin(self, trainer) -> None:
        self.trainer = trainer


class Interrupt(Callback):
    """Send this process SIGINT (Ctrl-C) ``times`` times during step ``at``."""

    def __init__(self, at: int, times: int = 1) -> None:
        self.at, self.times, self.trainer = at, times, None

    def on_step_end(self, trainer, result) -> None:
        self.trainer = trainer
        if result.step == self.at:
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)


# --- exact resume -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("stop", ["ended", "crashed"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, dtype, stop):
    model, optimizer, history = train(tmp_path / "full.ckpt", 40, dtype=dtype)
    path = tmp_path / "cut.ckpt"
    if stop == "ended":  # fit(steps=17) ends mid-epoch and writes its final checkpoint
        train(path, 17, dtype=dtype)
        assert checkpoint.load(str(path))["step_count"] == 17
    else:  # a crash in step 16: the last checkpoint on disk is the periodic one of step 15
        with pytest.raises(RuntimeError, match="power cut"):
            train(path, 40, dtype=dtype, callbacks=[Crash(at=16)])
        assert checkpoint.load(str(path))["step_count"] == 15
    resumed, resumed_optimizer, resumed_history = train(path, 40, dtype=dtype, resume=True)
    _assert_same_state(model, resumed)
    _assert_same_optimizer(optimizer, resumed_optimizer)
    assert resumed_history.step_loss == history.step_loss
    # a run that ended mid-epoch logged that partial epoch, but its checkpoint holds the loop
    # before that end-of-run work: the longer resumed run logs the whole epoch instead
    assert resumed_history.epochs == history.epochs
    assert resumed_history.stopped_reason is None
    assert checkpoint.load(str(path))["step_count"] == 40  # the final checkpoint


def test_resume_restores_data_order_and_dropout_generators(tmp_path):
    # Dropping either piece of state changes the run: the test above would notice.
    path = tmp_path / "cut.ckpt"
    train(path, 12)
    state = checkpoint.load(str(path))
    assert state["batches"]["epoch"] == 1 and state["batches"]["position"] == 4
    assert set(state["model_rngs"]) == {"2.rng"}
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.02 * 0.97**11)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path):
    model, _, _ = train(tmp_path / "a.ckpt", 10)
    fresh, _, history = train(tmp_path / "b.ckpt", 10, resume=True)
    _assert_same_state(model, fresh)
    assert history.n_steps == 10


def test_resume_of_a_finished_run_does_nothing(tmp_path):
    path = tmp_path / "done.ckpt"
    model, _, _ = train(path, 10)
    again, _, history = train(path, 10, resume=True)
    _assert_same_state(model, again)
    assert history.n_steps == 10


def test_resume_into_a_different_model_names_the_parameters(tmp_path):
    path = tmp_path / "line.ckpt"
    X = np.arange(5.0).reshape(-1, 1)
    resumable = [ModelCheckpoint(str(path))]
    fit(Linear(1, 1, rng=0), X, 2 * X + 1, steps=3, batch_size=None, callbacks=resumable)
    with pytest.raises(ValueError, match="missing keys: 0.weight"):
        fit(MLP((1, 4, 1), rng=0), X, 2 * X + 1, steps=5, batch_size=None,
            callbacks=resumable, resume=True)  # fmt: skip


class Line(Module):
    """The chapter's model with scalar (0-d) parameters, as in ``Module``'s docstring."""

    def __init__(self) -> None:
        self.w = Parameter(0.0)
        self.b = Parameter(0.0)

    def forward(self, x):
        return self.w * x + self.b


def test_resume_a_model_with_scalar_parameters(tmp_path, line):
    X, Y = line
    path = tmp_path / "line.ckpt"
    full = Line()
    fit(full, X, Y, optimizer="adam", lr=0.1, steps=20, batch_size=2, seed=0)
    fit(Line(), X, Y, optimizer="adam", lr=0.1, steps=7, batch_size=2, seed=0,
        callbacks=[ModelCheckpoint(str(path))])  # fmt: skip
    assert checkpoint.load(str(path))["model"]["w"].shape == ()
    resumed = Line()
    fit(resumed, X, Y, optimizer="adam", lr=0.1, steps=20, batch_size=2, seed=0,
        callbacks=[ModelCheckpoint(str(path))], resume=True)  # fmt: skip
    _assert_same_state(full, resumed)


def test_trainer_state_dict_gives_the_identical_next_step(blobs):
    X, y = blobs
    make = lambda: MLP((4, 8, 3), dropout=0.4, rng=0, dtype=np.float64)  # noqa: E731
    a = Trainer(make(), X, y, loss="cross_entropy", optimizer="adam", batch_size=16, seed=2)
    for _ in range(6):
        a.step()
    b = Trainer(make(), X, y, loss="cross_entropy", optimizer="adam", batch_size=16, seed=99)
    b.load_state_dict(a.state_dict())
    for _ in range(5):
        assert a.step().loss == b.step().loss
    _assert_same_state(a.model, b.model)


def test_resume_in_a_fresh_process(tmp_path):
    full, _, _ = train(tmp_path / "full.ckpt", 30)
    path = tmp_path / "cut.ckpt"
    train(path, 13)
    out = tmp_path / "params.safetensors"
    code = (
        SETUP
        + f"""
from theta import tensorfile
model, _, history = train({str(path)!r}, 30, resume=True)
assert history.n_steps == 30, history.n_steps
tensorfile.write_tensors({str(out)!r}, model.state_dict())
"""
    )
    log = tmp_path / "stderr.txt"
    assert _run_python(code, log).wait(timeout=60) == 0, log.read_text()
    params, _ = tensorfile.read_tensors(out)
    expected = full.state_dict()
    assert list(params) == sorted(expected)  # the file orders by dtype, then name
    for name, value in expected.items():
        assert np.array_equal(params[name], value), name


def test_process_killed_mid_write_keeps_the_previous_checkpoint(tmp_path):
    """RELIABILITY 28: SIGKILL while the third checkpoint is being written."""
    path, marker = tmp_path / "run.ckpt", tmp_path / "writing"
    code = (
        SETUP
        + f"""
import time
from theta import tensorfile

atomic_write, calls = tensorfile._atomic_write, []


def stall_third_write(target, write, overwrite):
    if target.endswith(".history"):  # written once, then only appended to
        return atomic_write(target, write, overwrite)
    calls.append(target)
    if len(calls) < 3:
        return atomic_write(target, write, overwrite)

    def half(f):
        f.write(b"\\x00" * 64)
        f.flush()
        open({str(marker)!r}, "w").close()
        time.sleep(120)

    return atomic_write(target, half, overwrite)


tensorfile._atomic_write = stall_third_write
train({str(path)!r}, 40)
"""
    )
    log = tmp_path / "stderr.log"  # not .txt: the folder is checked for leftovers below
    process = _run_python(code, log)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the child never reached its third write"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    # the half-written temporary file is left behind, hidden, and never read as the checkpoint
    assert len(_temporary_files(tmp_path)) == 1
    assert _temporary_files(tmp_path)[0].startswith(".")
    assert checkpoint.load(str(path))["step_count"] == 10  # the second write, intact
    full, _, _ = train(tmp_path / "full.ckpt", 40)
    resumed, _, history = train(path, 40, resume=True)
    _assert_same_state(full, resumed)
    assert history.n_steps == 40


# --- failing writes -----------------------------------------------------------------------------


def _fail_mid_write(monkeypatch) -> None:
    """Make every later checkpoint write fail half-way, as a full disk does."""
    atomic_write = tensorfile._atomic_write

    def failing(target, write, overwrite):
        def half(f):
            f.write(b"\x00" * 64)
            raise OSError(errno.ENOSPC, "No space left on device")

        return atomic_write(target, half, overwrite)

    monkeypatch.setattr(tensorfile, "_atomic_write", failing)


def _fail_rename(monkeypatch) -> None:
    def failing(source, target):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(tensorfile.os, "replace", failing)


@pytest.mark.parametrize("fail", [_fail_mid_write, _fail_rename], ids=["write", "rename"])
def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, fail):
    """RELIABILITY 28 and 31: the old file stays loadable, no temporary is left, the error
    names the path, and the model in memory holds the step that completed."""
    path = tmp_path / "run.ckpt"
    train(path, 10)
    before = checkpoint.load(str(path))
    fail(monkeypatch)
    spy = Spy()
    with pytest.raises(OSError, match="run.ckpt") as info:
        train(path, 40, resume=True, callbacks=[spy])  # the next write, at step 15, fails
    monkeypatch.undo()
    assert info.value.filename == str(path)
    assert _temporary_files(tmp_path) == []
    after = checkpoint.load(str(path))
    assert after["step_count"] == 10
    for name, value in before["model"].items():
        assert np.array_equal(after["model"][name], value)
    assert after["history"] == before["history"]
    # the training state in memory is unharmed: the model holds step 15's parameters
    reference, _, _ = train(tmp_path / "reference.ckpt", 15)
    assert spy.trainer.step_count == 15
    _assert_same_state(reference, spy.trainer.model)


def test_failed_write_leaves_the_model_at_the_completed_step(tmp_path, monkeypatch):
    X = np.arange(5.0).reshape(-1, 1)
    make = lambda: Linear(1, 1, rng=0, dtype=np.float64)  # noqa: E731
    reference = make()
    fit(reference, X, 2 * X + 1, lr=0.05, steps=4, batch_size=None)
    _fail_mid_write(monkeypatch)
    model = make()
    with pytest.raises(OSError, match="No space left on device"):
        fit(model, X, 2 * X + 1, lr=0.05, steps=10, batch_size=None,
            callbacks=[ModelCheckpoint(str(tmp_path / "run.ckpt"), every_n_steps=4)])
    _assert_same_state(reference, model)
    assert os.listdir(tmp_path) == []


def test_unwritable_folder_names_the_path(tmp_path):
    X = np.arange(5.0).reshape(-1, 1)
    missing = tmp_path / "no-such-folder" / "run.ckpt"
    with pytest.raises(FileNotFoundError) as info:
        fit(Linear(1, 1, rng=0), X, 2 * X + 1, steps=2, batch_size=None,
            callbacks=[ModelCheckpoint(str(missing))])  # fmt: skip
    assert info.value.filename == str(missing) + ".history"  # written first


# --- Ctrl-C ---------------------------------------------------------------------------------------


def test_ctrl_c_finishes_the_step_saves_and_raises(tmp_path):
    """RELIABILITY 30: the step in progress completes, a checkpoint is written, the model
    holds the last completed step, and the message says where the checkpoint is."""
    path = tmp_path / "run.ckpt"
    interrupt = Interrupt(at=12)
    with pytest.raises(KeyboardInterrupt) as info:
        train(path, 40, callbacks=[interrupt], every=100)
    message = str(info.value)
    assert "interrupted" in message and "step 13" in message and str(path) in message
    assert interrupt.trainer.history.stopped_reason == message
    assert interrupt.trainer.step_count == 13 and interrupt.trainer.history.n_steps == 13
    reference, _, _ = train(tmp_path / "reference.ckpt", 13)
    _assert_same_state(reference, interrupt.trainer.model)
    saved = checkpoint.load(str(path))
    assert saved["step_count"] == 13
    for name, value in reference.state_dict().items():
        assert np.array_equal(saved["model"][name], value)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_after_ctrl_c_is_bit_identical(tmp_path):
    full, _, history = train(tmp_path / "full.ckpt", 40)
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        train(path, 40, callbacks=[Interrupt(at=20)])
    resumed, _, resumed_history = train(path, 40, resume=True)
    _assert_same_state(full, resumed)
    assert resumed_history.step_loss == history.step_loss
    assert resumed_history.epochs == history.epochs
    assert resumed_history.stopped_reason is None
    # the resumed run ends normally, so it writes its final checkpoint
    assert checkpoint.load(str(path))["step_count"] == 40


def test_second_ctrl_c_interrupts_at_once(tmp_path):
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt) as info:
        train(path, 40, callbacks=[Interrupt(at=7, times=2)], every=100)
    assert "interrupted" not in str(info.value)  # raised by the handler, not after the step
    assert not path.exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_does_not_overwrite_a_best_only_checkpoint(tmp_path):
    best = tmp_path / "best.ckpt"
    X = np.arange(5.0).reshape(-1, 1)
    model = Linear(1, 1, rng=0, dtype=np.float64)
    keep_best = ModelCheckpoint(str(best), monitor="loss", save_best_only=True)
    fit(model, X, 2 * X + 1, lr=0.05, steps=5, batch_size=None, callbacks=[keep_best])
    saved = checkpoint.load(str(best))
    assert saved["step_count"] == 5
    with pytest.raises(KeyboardInterrupt):
        fit(model, X, 2 * X + 1, lr=0.05, steps=5, batch_size=None, callbacks=[
            ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True),
            Interrupt(at=2)])  # fmt: skip
    assert checkpoint.load(str(best))["step_count"] == 5


# --- the file format ----------------------------------------------------------------------------


def test_checkpoint_round_trips_nested_state(tmp_path):
    path = str(tmp_path / "state.ckpt")
    state = {
        "model": {"w": np.arange(6.0).reshape(2, 3), "b": np.float32([1.5])},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(2)}}, "lr": 0.1},
        "steps": [np.int64(4), 5, (6, 7)],
        "rng": np.random.default_rng(0).bit_generator.state,  # 128-bit integers
        "best": math.inf,
        "flags": [True, None, "text"],
        "scalar": np.array(2.5),
        "labels": np.arange(3, dtype=np.int32),
    }
    checkpoint.save(path, state)
    loaded = checkpoint.load(path)
    assert loaded["model"]["w"].dtype == np.float64
    np.testing.assert_array_equal(loaded["model"]["w"], state["model"]["w"])
    assert loaded["model"]["b"].dtype == np.float32
    assert loaded["optimizer"]["state"][0]["step"] == 3  # int keys stay ints (format 3)
    np.testing.assert_array_equal(loaded["optimizer"]["state"][0]["exp_avg"], np.ones(2))
    assert loaded["steps"] == [4, 5, (6, 7)] and type(loaded["steps"][0]) is np.int64
    assert loaded["rng"] == state["rng"]
    assert loaded["best"] == math.inf
    assert loaded["flags"] == [True, None, "text"]
    assert loaded["scalar"].shape == () and loaded["scalar"] == 2.5
    assert loaded["labels"].dtype == np.int32


def test_checkpoint_refuses_values_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint: state\.x\.0\.key is a builtins\.object"):
        checkpoint.save(str(tmp_path / "bad.ckpt"), {"x": {object(): 3}})
    with pytest.raises(TypeError, match=r"state\.f is a builtins\.function.*never pickles"):
        checkpoint.save(str(tmp_path / "bad.ckpt"), {"f": lambda: 0})
    assert os.listdir(tmp_path) == []


def test_checkpoint_refuses_other_files(tmp_path):
    plain = tmp_path / "weights.safetensors"
    tensorfile.write_tensors(plain, {"w": np.ones(2)})
    with pytest.raises(CheckpointError, match="not a theta training checkpoint"):
        checkpoint.load(str(plain))
    newer = tmp_path / "newer.ckpt"
    tensorfile.write_tensors(newer, {}, {"format": "theta.checkpoint", "format_version": "9",
                                         "state": "{}"})  # fmt: skip
    with pytest.raises(CheckpointError, match=r"version 9 is newer.*\(3\)"):
        checkpoint.load(str(newer))
    damaged = tmp_path / "damaged.ckpt"
    tensorfile.write_tensors(damaged, {}, {"format": "theta.checkpoint", "format_version": "1",
                                           "state": "{not json"})  # fmt: skip
    with pytest.raises(CheckpointError, match="state record is damaged"):
        checkpoint.load(str(damaged))
    dangling = tmp_path / "dangling.ckpt"
    tensorfile.write_tensors(
        dangling,
        {},
        {
            "format": "theta.checkpoint",
            "format_version": "1",
            "state": json.dumps({"w": {"__array__": "x"}}),
        },
    )
    with pytest.raises(CheckpointError, match="state record is damaged"):
        checkpoint.load(str(dangling))


def test_checkpoint_refuses_a_pickle_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError, match="pickle"):
        checkpoint.load(str(evil))
    X = np.arange(5.0).reshape(-1, 1)
    with pytest.raises(CheckpointError, match="pickle"):
        fit(Linear(1, 1, rng=0), X, X, steps=1, callbacks=[ModelCheckpoint(str(evil))],
            resume=True)  # fmt: skip
    assert not marker.exists()


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.ckpt"):
        checkpoint.load(str(tmp_path / "nothing.ckpt"))
