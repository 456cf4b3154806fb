"""Callbacks: the hook order, divergence (RELIABILITY 32), early stopping, best-only
checkpoints, the learning-rate schedule and the chapter's printed log.
"""

import functools
import io
import math

import numpy as np
import pytest

from theta.errors import DivergenceError
from theta.nn import MLP
from theta.optim import Adam, step_decay
from theta.train import (
    Callback,
    DivergenceGuard,
    EarlyStopping,
    LRScheduler,
    ModelCheckpoint,
    PrintSteps,
    Trainer,
    checkpoint,
    fit,
)  # fmt: skip


class Spy(Callback):
    """Keep the trainer, to look at it after ``fit`` raised."""

    def on_train_begin(self, trainer) -> None:
        self.trainer = trainer


class Poison(Callback):
    """Turn the weights NaN at the start of step ``at`` (after the guard saw them)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_begin(self, trainer) -> None:
        if trainer.step_count == self.at:
            trainer.model.weight.data[...] = np.nan


def _params(model) -> dict[str, np.ndarray]:
    return model.state_dict()


def _assert_params_equal(state: dict, expected: dict) -> None:
    assert list(state) == list(expected)
    for name in state:
        assert np.array_equal(state[name], expected[name]), name


# --- hooks ----------------------------------------------------------------------------------------


def test_hooks_run_in_order(blobs):
    events = []

    class Recorder(Callback):
        def on_train_begin(self, trainer):
            events.append("train_begin")

        def on_step_begin(self, trainer):
            events.append(f"step_begin {trainer.step_count}")

        def on_step_end(self, trainer, result):
            events.append(f"step_end {result.step}")

        def on_epoch_end(self, trainer, logs):
            events.append(f"epoch_end {sorted(logs)}")

        def on_train_end(self, trainer):
            events.append("train_end")

    X, y = blobs
    fit(MLP((4, 3), rng=0), X, y, loss="cross_entropy", epochs=2, batch_size=30, seed=0,
        validation_data=(X, y), callbacks=[Recorder()])  # fmt: skip
    epoch = "epoch_end ['loss', 'val_loss']"
    assert events == [
        "train_begin",
        "step_begin 0", "step_end 0", "step_begin 1", "step_end 1", epoch,
        "step_begin 2", "step_end 2", "step_begin 3", "step_end 3", epoch,
        "train_end",
    ]  # fmt: skip


def test_a_callback_can_stop_training(line, chapter_model):
    class StopAtThree(Callback):
        def on_step_end(self, trainer, result):
            if result.step == 3:
                trainer.stop_training = True
                trainer.history.stopped_reason = "enough"

    X, Y = line
    history = fit(chapter_model(), X, Y, lr=0.05, steps=100, batch_size=None,
                  callbacks=[StopAtThree()])  # fmt: skip
    assert history.n_steps == 4 and history.stopped_reason == "enough"


# --- divergence -----------------------------------------------------------------------------------


def test_divergence_raises_with_a_diagnosis_and_keeps_finite_parameters(line, chapter_model):
    X, Y = line
    model, spy = chapter_model(), Spy()
    with pytest.raises(DivergenceError) as info:
        fit(model, X, Y, lr=10, steps=100, batch_size=None, record_params=True, callbacks=[spy])
    message = str(info.value)
    history = spy.trainer.history
    step = history.n_steps - 1  # the step whose loss exploded
    assert f"at step {step}" in message
    last_good = history.step_loss[step - 1]
    assert f"last finite loss {last_good:.6g}" in message
    assert "lr=10" in message and "try lr=1 or smaller" in message
    assert history.stopped_reason == message
    # the parameters that gave the last good loss: the recorded state before that step
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    restored = (
        {"weight": np.zeros((1, 1)), "bias": np.zeros(1)}
        if step == 1
        else {name: values[step - 2] for name, values in history.params.items()}
    )
    _assert_params_equal(_params(model), restored)
    pred = X @ model.weight.data.T + model.bias.data
    assert np.mean((pred - Y) ** 2) == pytest.approx(last_good, rel=1e-12)


def test_divergence_stop_records_the_diagnosis(line, chapter_model):
    X, Y = line
    model = chapter_model()
    history = fit(model, X, Y, lr=10, steps=100, batch_size=None,
                  callbacks=[DivergenceGuard(on_divergence="stop")])  # fmt: skip
    assert history.n_steps < 100
    assert history.stopped_reason.startswith(
        f"fit: the loss exploded at step {history.n_steps - 1}"
    )
    assert "try lr=1" in history.stopped_reason
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_nan_loss_stops_within_one_step(line, chapter_model):
    X, Y = line
    model, spy = chapter_model(), Spy()
    with pytest.raises(DivergenceError, match=r"became NaN/inf at step 4 \(last finite loss"):
        fit(model, X, Y, lr=0.05, steps=100, batch_size=None, record_params=True,
            callbacks=[spy, Poison(at=4)])  # fmt: skip
    history = spy.trainer.history
    assert history.n_steps == 5 and math.isnan(history.step_loss[-1])
    # the parameters that gave step 3's loss: those recorded after step 2
    _assert_params_equal(_params(model), {k: v[2] for k, v in history.params.items()})


def test_without_the_guard_a_divergent_run_goes_on(line, chapter_model):
    X, Y = line
    history = fit(chapter_model(), X, Y, lr=10, steps=4, batch_size=None,
                  callbacks=[DivergenceGuard(enabled=False)])  # fmt: skip
    assert history.n_steps == 4 and history.step_loss[-1] > 1e13


def test_guard_factor_sets_what_exploding_means(line, chapter_model):
    X, Y = line
    with pytest.raises(DivergenceError, match="exploded at step 1"):
        fit(chapter_model(), X, Y, lr=0.5, steps=50, batch_size=None,
            callbacks=[DivergenceGuard(factor=2.0)])  # fmt: skip


def test_best_checkpoint_survives_divergence(tmp_path, line, chapter_model):
    """RELIABILITY 32: good steps first, then lr=10 from step 30; the best-only file keeps the
    best finite weights, whether the loss explodes or turns NaN."""
    X, Y = line
    for explode_at, poison in ((30, []), (math.inf, [Poison(at=33)])):
        best = tmp_path / f"best{len(poison)}.ckpt"
        model, spy = chapter_model(), Spy()
        rate = functools.partial(lambda step, at: 0.05 if step < at else 10.0, at=explode_at)
        schedule = LRScheduler(rate)
        keep_best = ModelCheckpoint(str(best), save_best_only=True)
        with pytest.raises(DivergenceError):
            fit(model, X, Y, steps=100, batch_size=None, validation_data=(X, Y),
                record_params=True, callbacks=[spy, schedule, *poison, keep_best])  # fmt: skip
        history = spy.trainer.history
        val = history.epochs["val_loss"]
        assert all(np.isfinite(val))
        saved = checkpoint.load(str(best))
        best_step = int(np.argmin(val))
        assert saved["step_count"] == best_step + 1
        _assert_params_equal(saved["model"], {k: v[best_step] for k, v in history.params.items()})
        assert all(np.isfinite(a).all() for a in saved["model"].values())


def test_diverged_stop_does_not_write_a_final_checkpoint(tmp_path, line, chapter_model):
    X, Y = line
    path = tmp_path / "run.ckpt"
    history = fit(chapter_model(), X, Y, lr=10, steps=100, batch_size=None,
                  callbacks=[DivergenceGuard(on_divergence="stop"), ModelCheckpoint(str(path))])
    assert history.stopped_reason is not None
    assert not path.exists()


# --- early stopping -------------------------------------------------------------------------------


def _overfit(callbacks, **kwargs):
    """An MLP that memorises 12 noisy samples of sin(3x): the validation loss turns up."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (12, 1))
    X_val = rng.uniform(-1, 1, (100, 1))
    y, y_val = (np.sin(3 * A) + 0.3 * rng.normal(size=A.shape) for A in (X, X_val))
    model = MLP((1, 64, 64, 1), rng=0, dtype=np.float64)
    history = fit(model, X, y, optimizer="adam", lr=0.01, steps=3000, batch_size=None,
                  validation_data=(X_val, y_val), record_params=True, callbacks=callbacks,
                  **kwargs)  # fmt: skip
    return model, history


def test_early_stopping_restores_the_best_epoch():
    stopper = EarlyStopping(patience=10)
    model, history = _overfit([stopper])
    val = history.epochs["val_loss"]
    best = int(np.argmin(val))  # full batch: epoch i ends with step i
    assert 0 < best < len(val) - 1
    assert len(val) == best + 1 + 10  # stopped after `patience` epochs without improvement
    assert history.n_steps == len(val) < 3000
    assert history.step_loss[-1] < min(val)  # overfitting: training loss below validation
    assert stopper.best == val[best] and stopper.best_epoch == best + 1
    assert history.stopped_reason == (
        f"early stopping: val_loss did not improve for 10 epoch(s); best {val[best]:.6g} at "
        f"epoch {best + 1}"
    )
    _assert_params_equal(_params(model), {k: v[best] for k, v in history.params.items()})


def test_early_stopping_without_restore_keeps_the_last_parameters():
    model, history = _overfit([EarlyStopping(patience=3, restore_best=False)])
    _assert_params_equal(_params(model), {k: v[-1] for k, v in history.params.items()})


def test_early_stopping_with_min_delta_stops_sooner():
    _, patient = _overfit([EarlyStopping(patience=5)])
    _, coarse = _overfit([EarlyStopping(patience=5, min_delta=0.01)])
    assert coarse.n_steps < patient.n_steps


def test_early_stopping_writes_the_final_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    model, history = _overfit([EarlyStopping(patience=5), ModelCheckpoint(str(path))])
    saved = checkpoint.load(str(path))
    assert saved["step_count"] == history.n_steps and saved["stop_training"]
    # the loop as it stopped (the optimizer's state fits these parameters); the best ones,
    # which the model holds now, are early stopping's to restore when a resumed run ends
    _assert_params_equal(saved["model"], {k: v[-1] for k, v in history.params.items()})
    stopper = dict(saved["callbacks"])["EarlyStopping"]
    _assert_params_equal(stopper["best_state"], _params(model))


def test_early_stopping_needs_the_monitored_value(line, chapter_model):
    X, Y = line
    with pytest.raises(ValueError, match="'val_loss' is not logged; logged values are loss"):
        fit(chapter_model(), X, Y, steps=3, batch_size=None, callbacks=[EarlyStopping()])


def test_early_stopping_max_mode_on_accuracy(blobs):
    X, y = blobs
    stopper = EarlyStopping("val_accuracy", mode="max", patience=3, restore_best=False)
    history = fit(MLP((4, 3), rng=0), X, y, loss="cross_entropy", optimizer="adam", lr=0.05,
                  epochs=200, batch_size=None, validation_data=(X, y), metrics=["accuracy"],
                  callbacks=[stopper])  # fmt: skip
    accuracy = history.epochs["val_accuracy"]
    assert history.n_steps < 200
    assert stopper.best == max(accuracy) > accuracy[0]
    assert max(accuracy[-3:]) <= stopper.best


def test_early_stopping_checks_its_arguments():
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        EarlyStopping(mode="lowest")
    with pytest.raises(ValueError, match=r"'patience' parameter.* must be an int in the range \[0, inf\)\. Got -1 instead"):  # noqa: E501
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match=r"'min_delta' parameter.*Got nan instead"):
        EarlyStopping(min_delta=float("nan"))
    with pytest.raises(ValueError, match=r"'factor' parameter.*Got nan instead"):
        DivergenceGuard(factor=float("nan"))


def test_model_checkpoint_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"every_n_steps must be >= 1 \(got 0\)"):
        ModelCheckpoint(str(tmp_path / "x.ckpt"), every_n_steps=0)


# --- learning-rate schedule -----------------------------------------------------------------------


def test_lr_scheduler_sets_the_rate_of_every_step(blobs):
    seen = []

    class ReadRate(Callback):
        def on_step_end(self, trainer, result):
            seen.append([group["lr"] for group in trainer.optimizer.param_groups])

    X, y = blobs
    model = MLP((4, 8, 3), rng=0, dtype=np.float64)
    optimizer = Adam([{"params": [model.layers[0].weight]}, {"params": [model.layers[0].bias]},
                      {"params": list(model.layers[1].parameters())}], lr=0.5)  # fmt: skip
    schedule = lambda step: 0.1 / (1 + step)  # noqa: E731
    fit(model, X, y, loss="cross_entropy", optimizer=optimizer, steps=9, batch_size=16, seed=0,
        callbacks=[LRScheduler(schedule), ReadRate()])  # fmt: skip
    assert seen == [[schedule(i)] * 3 for i in range(9)]


def test_lr_scheduler_rate_is_the_one_the_update_used(line, chapter_model):
    X, Y = line
    schedule = functools.partial(step_decay, base_lr=0.05, step_size=2, gamma=0.5)
    trainer = Trainer(chapter_model(), X, Y, lr=1.0, watch=True, callbacks=[LRScheduler(schedule)])
    for step in range(6):
        result = trainer.step()
        for name, grad in result.grads.items():
            np.testing.assert_allclose(result.update[name], -schedule(step) * grad, rtol=1e-12)
    assert trainer.optimizer.param_groups[0]["lr"] == 0.05 * 0.5**2


# --- the chapter's log ----------------------------------------------------------------------------


def test_print_steps_prints_the_chapters_numbers(line, chapter_model):
    X, Y = line
    out = io.StringIO()
    printer = PrintSteps([0, 200, 999], ["weight", "bias"], names=["w", "b"], out=out)
    fit(chapter_model(), X, Y, lr=0.05, steps=1000, batch_size=None, callbacks=[printer])
    assert out.getvalue().splitlines() == [  # DESIGN.md, "The four steps, literally"
        "step    0  loss  33.0000  w 1.4000  b 0.5000",
        "step  200  loss   0.0000  w 2.0002  b 0.9994",
        "step  999  loss   0.0000  w 2.0000  b 1.0000",
    ]


def test_a_guard_without_restore_copies_nothing_but_still_stops_divergence():
    import numpy as np

    from theta.errors import DivergenceError
    from theta.nn import Linear
    from theta.train import DivergenceGuard, fit

    X = np.linspace(-1, 1, 16).reshape(-1, 1)
    guard = DivergenceGuard(restore=False)
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(DivergenceError, match=r"lr=100 is too large") as info:
            fit(Linear(1, 1, rng=0, dtype=np.float64), X, 1e3 * X, lr=100.0, epochs=50,
                batch_size=4, callbacks=[guard], progress=False)  # fmt: skip
    assert guard._good == {} and guard._pending == {}  # no snapshot was ever taken
    assert "were kept" not in str(info.value)
    with pytest.raises(TypeError, match="restore must be True or False"):
        DivergenceGuard(restore=1)
