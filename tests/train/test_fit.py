"""``fit`` end to end: the digits data set, the chapter's line, history, metrics, argument
errors and the progress bar.
"""

import io
import sys

import numpy as np
import pytest

import theta
from theta.data import load_digits, train_val_split
from theta.nn import MLP, Linear, Sequential, Sigmoid
from theta.optim import SGD
from theta.train import Callback, DivergenceGuard, ModelCheckpoint, Trainer, fit


def _standardised_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_fraction=0.2, rng=0, stratify=y)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a few corner pixels are always 0 in the training part
    scale = lambda A: ((A - mean) / std).astype(np.float32)  # noqa: E731
    return scale(X_train), scale(X_val), y_train, y_val


def test_mlp_learns_digits_above_95_percent():
    X_train, X_val, y_train, y_val = _standardised_digits()
    model = MLP((64, 64, 10), rng=0)
    history = fit(
        model, X_train, y_train, loss="cross_entropy", optimizer="adam", lr=3e-3,
        batch_size=32, epochs=6, seed=0, validation_data=(X_val, y_val), metrics=["accuracy"],
    )  # fmt: skip
    assert history.epochs["val_accuracy"][-1] > 0.95
    assert history.epochs["loss"][-1] < history.epochs["loss"][0]
    assert len(history.epochs["val_loss"]) == 6
    assert all(p.dtype == np.float32 for p in model.parameters())


# --- the chapter's example -----------------------------------------------------------------


def test_chapter_line_through_fit(line, chapter_model):
    X, Y = line
    model = chapter_model()
    history = fit(model, X, Y, optimizer=SGD(model.parameters(), lr=0.05), steps=1000,
                  batch_size=None, record_params=True)  # fmt: skip
    w, b = history.params["weight"], history.params["bias"]
    # the chapter's first step: loss 33 at w = b = 0, then w 1.4 and b 0.5 after the update
    assert history.step_loss[0] == pytest.approx(33.0, abs=1e-12)
    assert w[0].item() == pytest.approx(1.4, abs=1e-12)
    assert b[0].item() == pytest.approx(0.5, abs=1e-12)
    # DESIGN.md's printed log: step 200 w 2.0002 b 0.9994, step 999 w 2.0000 b 1.0000
    assert (f"{w[200].item():.4f}", f"{b[200].item():.4f}") == ("2.0002", "0.9994")
    assert (round(w[-1].item(), 3), round(b[-1].item(), 3)) == (2.0, 1.0)
    assert (round(model.weight.item(), 3), round(model.bias.item(), 3)) == (2.0, 1.0)
    np.testing.assert_array_equal(w[-1], model.weight.data)
    assert len(w) == len(b) == history.n_steps == 1000
    assert history.step_loss[-1] < 1e-10
    assert model(theta.tensor(np.array([[10.0]]))).item() == pytest.approx(21.0, abs=1e-4)
    assert history.stopped_reason is None


def test_chapter_line_by_name_equals_explicit_optimizer(line, chapter_model):
    X, Y = line
    by_name, explicit = chapter_model(), chapter_model()
    fit(by_name, X, Y, optimizer="sgd", lr=0.05, steps=50, batch_size=None)
    fit(explicit, X, Y, optimizer=SGD(explicit.parameters(), lr=0.05), steps=50, batch_size=None)
    np.testing.assert_array_equal(by_name.weight.data, explicit.weight.data)
    np.testing.assert_array_equal(by_name.bias.data, explicit.bias.data)


# --- history ------------------------------------------------------------------------------------


def test_history_step_loss_and_epoch_loss(blobs):
    X, y = blobs  # 60 samples in batches of 16: 4 steps per epoch, the last one of 12
    model = MLP((4, 8, 3), rng=0, dtype=np.float64)
    history = fit(model, X, y, loss="cross_entropy", lr=0.1, epochs=3, batch_size=16, seed=0)
    assert history.n_steps == len(history.step_loss) == 12
    assert list(history.epochs) == ["loss"]
    expected = [np.mean(history.step_loss[i : i + 4]) for i in (0, 4, 8)]
    np.testing.assert_allclose(history.epochs["loss"], expected, rtol=1e-12)
    assert history.params == {} and history.grad_norm == []


def test_history_partial_last_epoch_averages_its_own_steps(blobs):
    X, y = blobs
    model = MLP((4, 8, 3), rng=0, dtype=np.float64)
    history = fit(model, X, y, loss="cross_entropy", lr=0.1, steps=6, batch_size=16, seed=0)
    # one full epoch of 4 steps, then 2 steps of the second epoch when `steps` ends the run
    assert history.n_steps == 6
    np.testing.assert_allclose(
        history.epochs["loss"],
        [np.mean(history.step_loss[:4]), np.mean(history.step_loss[4:])],
        rtol=1e-12,
    )


def test_history_grad_norm_is_the_global_gradient_norm(line, chapter_model):
    X, Y = line
    model = chapter_model()
    history = fit(model, X, Y, lr=0.05, steps=5, batch_size=None, record_params=True,
                  record_grad_norm=True)  # fmt: skip
    assert len(history.grad_norm) == 5
    w, b = 0.0, 0.0
    x, t = X.ravel(), Y.ravel()
    for i in range(5):
        residual = w * x + b - t  # MSE gradients, by hand
        grad_w, grad_b = 2 * np.mean(residual * x), 2 * np.mean(residual)
        assert history.grad_norm[i] == pytest.approx(np.hypot(grad_w, grad_b), rel=1e-12)
        w, b = history.params["weight"][i].item(), history.params["bias"][i].item()
    assert history.grad_norm[0] == pytest.approx(np.hypot(28.0, 10.0))


def test_history_grad_norm_of_several_parameters_matches_pytorch(blobs):
    torch = pytest.importorskip("torch")
    X, y = blobs
    model = MLP((4, 5, 3), rng=0, dtype=np.float64)
    start = model.state_dict()
    history = fit(model, X, y, loss="cross_entropy", lr=0.1, steps=1, batch_size=None,
                  record_grad_norm=True)  # fmt: skip
    w1, b1, w2, b2 = (torch.tensor(start[k], requires_grad=True)
                      for k in ("0.weight", "0.bias", "2.weight", "2.bias"))  # fmt: skip
    hidden = torch.relu(torch.tensor(X) @ w1.T + b1)
    torch.nn.functional.cross_entropy(hidden @ w2.T + b2, torch.tensor(y)).backward()
    norm = torch.sqrt(sum((p.grad**2).sum() for p in (w1, b1, w2, b2))).item()
    assert history.grad_norm == [pytest.approx(norm, rel=1e-10)]


# --- validation and metrics -------------------------------------------------------------------


def test_validation_split_is_seeded_by_seed(blobs):
    X, y = blobs
    a = MLP((4, 8, 3), rng=0, dtype=np.float64)
    b = MLP((4, 8, 3), rng=0, dtype=np.float64)
    split = fit(a, X, y, loss="cross_entropy", lr=0.1, epochs=2, batch_size=16, seed=3,
                validation_split=0.25, metrics=["accuracy"])  # fmt: skip
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_fraction=0.25, rng=3)
    given = fit(b, X_train, y_train, loss="cross_entropy", lr=0.1, epochs=2, batch_size=16,
                seed=3, validation_data=(X_val, y_val), metrics=["accuracy"])  # fmt: skip
    assert split.epochs == given.epochs
    assert set(split.epochs) == {"loss", "val_loss", "val_accuracy"}
    assert split.n_steps == 2 * 3  # 45 training samples in batches of 16


def test_validation_runs_in_eval_mode_without_changing_the_model(blobs):
    X, y = blobs
    model = MLP((4, 16, 3), dropout=0.5, rng=0, dtype=np.float64)
    trainer = Trainer(model, X, y, loss="cross_entropy", batch_size=16, seed=0)
    before = model.state_dict()
    first, second = trainer.evaluate(X, y, ["accuracy"]), trainer.evaluate(X, y, ["accuracy"])
    assert first == second  # dropout is off: two evaluations agree
    assert model.training
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize(
    "loss, make_head, targets",
    [
        ("bce_with_logits", lambda: Linear(2, 1, rng=0, dtype=np.float64), np.float64),
        ("bce_with_logits", lambda: Linear(2, 1, rng=0, dtype=np.float64), np.int64),
        ("bce", lambda: Sequential(Linear(2, 1, rng=0, dtype=np.float64), Sigmoid()), np.float64),
        ("hinge", lambda: Linear(2, 1, rng=0, dtype=np.float64), np.float64),
    ],
    ids=["logits-float-targets", "logits-int-targets", "probabilities", "hinge"],
)
def test_binary_accuracy_thresholds_the_prediction(loss, make_head, targets):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-2, 1, (40, 2)), rng.normal(2, 1, (40, 2))])
    y = np.repeat([0, 1], 40).reshape(-1, 1).astype(targets)
    if loss == "hinge":
        y = 2 * y - 1  # labels in {-1, +1}
    history = fit(make_head(), X, y, loss=loss, lr=0.1, epochs=10, batch_size=16, seed=0,
                  validation_data=(X, y), metrics=["accuracy"])  # fmt: skip
    assert history.epochs["val_accuracy"][-1] > 0.95


def test_regression_metrics_see_raw_predictions(line, chapter_model):
    X, Y = line
    history = fit(chapter_model(), X, Y, lr=0.05, steps=1000, batch_size=None,
                  validation_data=(X, Y), metrics=["mse", "r2"])  # fmt: skip
    assert history.epochs["val_mse"][-1] == pytest.approx(history.epochs["val_loss"][-1])
    assert history.epochs["val_r2"][-1] == pytest.approx(1.0)


# --- argument errors ----------------------------------------------------------------------------


def test_steps_and_epochs_exactly_one(line, chapter_model):
    X, Y = line
    with pytest.raises(ValueError, match="exactly one of steps and epochs"):
        fit(chapter_model(), X, Y, steps=3, epochs=1)
    with pytest.raises(ValueError, match="exactly one of steps and epochs"):
        fit(chapter_model(), X, Y)
    with pytest.raises(ValueError, match=r"steps must be an int >= 0 \(got -1\)"):
        fit(chapter_model(), X, Y, steps=-1)
    with pytest.raises(ValueError, match=r"epochs must be an int >= 0 \(got 1.5\)"):
        fit(chapter_model(), X, Y, epochs=1.5)


def test_zero_steps_leave_the_model_alone(line, chapter_model):
    X, Y = line
    model = chapter_model()
    history = fit(model, X, Y, steps=0)
    assert history.n_steps == 0 and history.epochs == {}
    assert model.weight.item() == 0.0


def test_unknown_optimizer_lists_the_names(line, chapter_model):
    X, Y = line
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'") as info:
        fit(chapter_model(), X, Y, optimizer="adamm", steps=1)
    for name in ("sgd", "adam", "adamw", "rmsprop"):
        assert name in str(info.value)


def test_unknown_loss_suggests_a_name(line, chapter_model):
    X, Y = line
    with pytest.raises(ValueError, match="did you mean 'cross_entropy'"):
        fit(chapter_model(), X, Y, loss="cross_entropy_loss", steps=1)


def test_inconsistent_lengths_use_sklearns_message(line, chapter_model):
    X, Y = line
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[5, 4\]"):
        fit(chapter_model(), X, Y[:4], steps=1)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[5, 4\]"):
        fit(chapter_model(), X, Y[:4], steps=1, validation_split=0.2)


def test_bad_on_divergence_is_refused():
    with pytest.raises(ValueError, match="on_divergence must be 'raise' or 'stop'.*'ignore'"):
        DivergenceGuard(on_divergence="ignore")


def test_resume_needs_one_model_checkpoint(tmp_path, line, chapter_model):
    X, Y = line
    model = chapter_model()
    with pytest.raises(ValueError, match=r"resume=True resumes from the ModelCheckpoint in "
                       r"callbacks, and there is none: add callbacks=\[ModelCheckpoint\(path"):
        fit(model, X, Y, steps=1, resume=True)
    best = ModelCheckpoint(str(tmp_path / "best.ckpt"), save_best_only=True)
    with pytest.raises(ValueError, match="there is none .a save_best_only one keeps the best"):
        fit(model, X, Y, steps=1, resume=True, callbacks=[best])
    two = [ModelCheckpoint(str(tmp_path / "a.ckpt")), ModelCheckpoint(str(tmp_path / "b.ckpt"))]
    with pytest.raises(ValueError, match=r"needs one ModelCheckpoint .*hold 2 \(.*a\.ckpt, "):
        fit(model, X, Y, steps=1, resume=True, callbacks=two)
    assert model.weight.item() == 0.0
    history = fit(model, X, Y, steps=1, resume=True, callbacks=[best, two[0]])  # a fresh start
    assert history.n_steps == 1 and (tmp_path / "a.ckpt").exists()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("checkpoint", r"callbacks=\[ModelCheckpoint\(path\)\] \(and resume=True"),
        ("checkpoint_every", r"callbacks=\[ModelCheckpoint\(path, every_n_steps=n\)\]"),
        ("divergence_guard", r"callbacks=\[DivergenceGuard\(enabled=False\)\] to train"),
        ("on_divergence", r"callbacks=\[DivergenceGuard\(on_divergence='stop'\)\]"),
    ],
)
def test_the_keywords_that_became_callbacks_say_their_new_spelling(line, chapter_model, old, new):
    X, Y = line
    model = chapter_model()
    with pytest.raises(TypeError, match=f"^fit: {old}= is gone; write {new}"):
        fit(model, X, Y, steps=5, **{old: 1})
    assert model.weight.item() == 0.0
    with pytest.raises(TypeError, match="Trainer.run: on_divergence= is gone"):
        Trainer(model, X, Y).run(steps=1, on_divergence="stop")


def test_fit_adds_the_guard_first_unless_callbacks_hold_one(line, chapter_model):
    X, Y = line
    seen = []

    class Look(Callback):
        def on_train_begin(self, trainer):
            seen.append([type(cb).__name__ for cb in trainer.callbacks])

    fit(chapter_model(), X, Y, steps=1, callbacks=[Look()])
    fit(chapter_model(), X, Y, steps=1, callbacks=[Look(), DivergenceGuard(factor=10.0)])
    fit(chapter_model(), X, Y, steps=1, callbacks=[Look(), DivergenceGuard(enabled=False)])
    assert seen == [["DivergenceGuard", "Look"], ["Look", "DivergenceGuard"], ["Look"]]
    with pytest.raises(ValueError, match="at most one DivergenceGuard .callbacks hold 2"):
        fit(chapter_model(), X, Y, steps=1, callbacks=[DivergenceGuard(), DivergenceGuard()])


@pytest.mark.parametrize("fraction", [1.0, 1.5, -0.2])
def test_bad_validation_split(line, chapter_model, fraction):
    X, Y = line
    with pytest.raises(ValueError, match=rf"validation_split must be in \(0, 1\).*{fraction}"):
        fit(chapter_model(), X, Y, steps=1, validation_split=fraction)


# --- progress bar -------------------------------------------------------------------------------


def test_progress_bar_when_asked(line, chapter_model, capsys):
    X, Y = line
    fit(chapter_model(), X, Y, lr=0.05, steps=20, batch_size=None, progress=True)
    captured = capsys.readouterr()
    assert "/20 [" in captured.err and "step/s" in captured.err
    assert captured.out == ""


def test_no_progress_bar_by_default_when_not_a_terminal(line, chapter_model, capsys):
    X, Y = line
    fit(chapter_model(), X, Y, lr=0.05, steps=20, batch_size=None)
    assert capsys.readouterr() == ("", "")


def test_progress_bar_by_default_on_a_terminal(line, chapter_model, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    X, Y = line
    fit(chapter_model(), X, Y, lr=0.05, steps=20, batch_size=None)
    assert "/20 [" in terminal.getvalue()
    terminal.truncate(0)
    fit(chapter_model(), X, Y, lr=0.05, steps=20, batch_size=None, progress=False)
    assert terminal.getvalue().strip("\x00") == ""
