"""The training log (``EpochLog``) and ``History``'s short ``repr`` and notebook HTML."""

import base64
import io
import re

import numpy as np
import pytest

from theta.nn import Linear
from theta.train import EpochLog, EvaluateEvery, History, fit


@pytest.fixture
def line_data():
    X = np.arange(8.0).reshape(-1, 1)
    return X, 2 * X + 1


def test_one_line_per_epoch_with_validation_and_time(line_data):
    X, y = line_data
    out = io.StringIO()
    history = fit(Linear(1, 1, rng=0), X, y, epochs=3, batch_size=3, lr=0.01, progress=False,
                  validation_data=(X, y), metrics=["r2"],
                  callbacks=[EpochLog(out=out)])  # fmt: skip
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # 8 samples in batches of 3: 3 steps an epoch
    for epoch, line in enumerate(lines, start=1):
        values = {k: v[epoch - 1] for k, v in history.epochs.items()}
        expected = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
        assert line.startswith(f"epoch {epoch}  step {3 * epoch}  {expected}  ")
        assert re.fullmatch(r".*  \d+\.\ds", line)


def test_step_lines_are_nanogpts_with_the_validation_loss(line_data):
    X, y = line_data
    out = io.StringIO()
    evals = EvaluateEvery(3, X, y, last_step=7)
    history = fit(Linear(1, 1, rng=0), X, y, steps=7, batch_size=3, lr=0.01, progress=False,
                  callbacks=[EpochLog(3, out=out), evals])  # fmt: skip
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["0", "3", "6", "7"]  # and the last step
    rows = EvaluateEvery.rows(history)
    for line, (step, train, val) in zip(lines, rows, strict=True):
        train_part = "" if train is None else f"  train loss {train:.4g}"
        assert line.startswith(f"step {step}{train_part}  val loss {val:.4g}  ")


def test_step_lines_without_evaluation_and_every_n_checked(line_data):
    X, y = line_data
    out = io.StringIO()
    history = fit(Linear(1, 1, rng=0), X, y, steps=5, batch_size=4, progress=False,
                  callbacks=[EpochLog(2, out=out)])  # fmt: skip
    lines = out.getvalue().splitlines()
    losses = history.step_loss
    assert [line.rsplit("  ", 1)[0] for line in lines] == [
        f"step 2  train loss {np.mean(losses[0:2]):.4g}",
        f"step 4  train loss {np.mean(losses[2:4]):.4g}",
        f"step 5  train loss {losses[4]:.4g}",
    ]
    with pytest.raises(ValueError, match="every_n_steps"):
        EpochLog(0)


def test_history_repr_is_a_short_table():
    history = History(step_loss=list(np.linspace(1, 0.01, 500)),
                      epochs={"loss": list(np.linspace(1, 0.1, 50)),
                              "val_loss": list(np.linspace(2, 0.2, 50))})  # fmt: skip
    text = repr(history)
    lines = text.splitlines()
    assert lines[0] == "History: 500 steps, 50 epochs"
    assert lines[1].split() == ["epoch", "loss", "val_loss"]
    assert len(lines) == 2 + 11 and lines[7].split() == ["...", "...", "..."]
    assert lines[2].split() == ["1", "1", "2"] and lines[-1].split() == ["50", "0.1", "0.2"]
    assert len(text) < 1000  # not every step's loss
    stopped = History(epochs={"loss": [0.5]}, stopped_reason="early stopping: <patience>")
    assert repr(stopped).splitlines()[0].endswith("; stopped: early stopping: <patience>")


def test_history_html_has_a_table_and_a_loss_thumbnail():
    history = History(step_loss=[1.0, 0.5, 0.25], epochs={"loss": [0.75, 0.25]},
                      stopped_reason="a <b> reason")  # fmt: skip
    page = history._repr_html_()
    assert "<table>" in page and "<th>val_loss</th>" not in page and "<td>0.75</td>" in page
    assert "a &lt;b&gt; reason" in page
    pytest.importorskip("matplotlib")
    data = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(data).startswith(b"\x89PNG")
    assert "<img" not in History()._repr_html_()  # nothing to draw
