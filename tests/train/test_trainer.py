"""``Trainer``: one step at a time, the same steps as ``fit``, and a ``StepResult`` that shows
the loss before the update, the gradients and the applied update.
"""

import dataclasses

import numpy as np
import pytest

import theta
from theta.losses import cross_entropy
from theta.nn import MLP
from theta.optim import SGD, Adam
from theta.train import StepResult, Trainer, fit


def _mlp(dropout: float = 0.0) -> MLP:
    return MLP((4, 8, 3), dropout=dropout, rng=0, dtype=np.float64)


def _assert_same_parameters(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert np.array_equal(sa[name], sb[name]), name


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_trainer_steps_equal_fit(blobs, optimizer):
    X, y = blobs
    a, b = _mlp(dropout=0.25), _mlp(dropout=0.25)
    settings = dict(loss="cross_entropy", optimizer=optimizer, lr=0.05, batch_size=16, seed=5)
    history = fit(a, X, y, steps=11, **settings)  # 4 steps per epoch: shuffles 3 times
    trainer = Trainer(b, X, y, **settings)
    results = [trainer.step() for _ in range(11)]
    _assert_same_parameters(a, b)
    assert history.step_loss == [r.loss for r in results] == trainer.history.step_loss
    assert trainer.step_count == 11 and trainer.epoch == 2


def test_shuffling_changes_the_run(blobs):
    X, y = blobs
    shuffled, ordered = _mlp(), _mlp()
    fit(shuffled, X, y, loss="cross_entropy", steps=8, batch_size=16, seed=5)
    fit(ordered, X, y, loss="cross_entropy", steps=8, batch_size=16, seed=5, shuffle=False)
    assert not np.array_equal(shuffled.layers[0].weight.data, ordered.layers[0].weight.data)


def test_seed_makes_runs_identical_and_different_seeds_differ(blobs):
    X, y = blobs
    models = [_mlp(dropout=0.25) for _ in range(3)]
    for model, seed in zip(models, [1, 1, 2], strict=True):
        fit(model, X, y, loss="cross_entropy", optimizer="adam", steps=9, batch_size=16, seed=seed)
    _assert_same_parameters(models[0], models[1])
    assert not np.array_equal(models[0].layers[0].weight.data, models[2].layers[0].weight.data)


def test_step_result_of_the_chapters_first_step(line, chapter_model):
    X, Y = line
    model = chapter_model()
    trainer = Trainer(model, X, Y, loss="mse", lr=0.05, watch=True)
    result = trainer.step()
    assert isinstance(result, StepResult)
    assert (result.step, result.epoch) == (0, 0)
    assert result.loss == 33.0  # measured at w = b = 0, before the update
    np.testing.assert_array_equal(result.pred, np.zeros((5, 1)))
    np.testing.assert_array_equal(result.grads["weight"], [[-28.0]])
    np.testing.assert_array_equal(result.grads["bias"], [-10.0])
    # plain SGD from zero: the update is exactly -lr * grad (w 1.4, b 0.5)
    np.testing.assert_array_equal(result.update["weight"], -0.05 * result.grads["weight"])
    np.testing.assert_array_equal(result.update["bias"], -0.05 * result.grads["bias"])
    assert result.update["weight"].item() == pytest.approx(1.4, abs=1e-15)
    assert model.bias.item() == 0.5
    second = trainer.step()
    assert (second.step, second.epoch) == (1, 1)  # full batch: every step is an epoch
    assert second.loss == pytest.approx(np.mean((1.4 * X + 0.5 - Y) ** 2), rel=1e-14)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.loss = 0.0


def test_step_result_without_watch_has_no_grads(line, chapter_model):
    X, Y = line
    result = Trainer(chapter_model(), X, Y, lr=0.05).step()
    assert result.grads is None and result.update is None


@pytest.mark.parametrize("Optimizer", [SGD, Adam])
def test_watched_grads_and_update_equal_a_manual_step(blobs, Optimizer):
    X, y = blobs
    model = _mlp()
    optimizer = Optimizer(model.parameters(), lr=0.1)
    trainer = Trainer(model, X, y, loss="cross_entropy", optimizer=optimizer, batch_size=16,
                      shuffle=False, watch=True)  # fmt: skip
    for step in range(6):  # the fourth batch is short (12 samples); then epoch 2 starts
        before = model.state_dict()
        result = trainer.step()
        after = model.state_dict()
        start = (step % 4) * 16
        xb, yb = X[start : start + 16], y[start : start + 16]
        # the same forward and backward by hand, on a copy holding the parameters before
        copy = _mlp()
        copy.load_state_dict(before)
        pred = copy(theta.tensor(xb))
        loss = cross_entropy(pred, yb)
        loss.backward()
        assert result.loss == loss.item()
        np.testing.assert_array_equal(result.pred, pred.data)
        grads = {name: p.grad for name, p in copy.named_parameters()}
        assert list(result.grads) == list(grads) == list(result.update)
        for name in grads:
            np.testing.assert_array_equal(result.grads[name], grads[name])
            np.testing.assert_array_equal(result.update[name], after[name] - before[name])
            assert result.grads[name] is not model.state_dict()[name]  # copies, not views
        if isinstance(trainer.optimizer, SGD):
            for name in grads:
                np.testing.assert_allclose(result.update[name], -0.1 * grads[name],
                                           rtol=1e-12, atol=1e-16)  # fmt: skip


def test_watched_grads_match_pytorch(blobs):
    torch = pytest.importorskip("torch")
    X, y = blobs
    model = _mlp()
    start = model.state_dict()
    result = Trainer(model, X, y, loss="cross_entropy", batch_size=None, watch=True).step()
    params = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
    hidden = torch.relu(torch.tensor(X) @ params["0.weight"].T + params["0.bias"])
    logits = hidden @ params["2.weight"].T + params["2.bias"]
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
    loss.backward()
    assert result.loss == pytest.approx(loss.item(), rel=1e-12)
    for name, p in params.items():
        np.testing.assert_allclose(result.grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_epoch_counter_with_a_short_last_batch(blobs):
    X, y = blobs
    trainer = Trainer(_mlp(), X, y, loss="cross_entropy", batch_size=16, seed=0)
    assert trainer.steps_per_epoch == 4
    epochs = [trainer.step().epoch for _ in range(9)]
    assert epochs == [0, 0, 0, 0, 1, 1, 1, 1, 2]
    assert trainer.epoch == 2


def test_run_continues_from_the_current_step(blobs):
    X, y = blobs
    a, b = _mlp(), _mlp()
    trainer = Trainer(a, X, y, loss="cross_entropy", batch_size=16, seed=3)
    for _ in range(3):
        trainer.step()
    history = trainer.run(steps=10)  # `steps` counts from the start, as on resume
    assert trainer.step_count == history.n_steps == 10
    fit(b, X, y, loss="cross_entropy", batch_size=16, seed=3, steps=10)
    _assert_same_parameters(a, b)


def test_run_to_the_same_step_again_logs_the_partial_epoch_once(blobs):
    X, y = blobs
    trainer = Trainer(_mlp(), X, y, loss="cross_entropy", batch_size=16, seed=3)
    first = trainer.run(steps=6)  # 4 steps per epoch: one whole epoch and half of one
    assert len(first.epochs["loss"]) == 2
    again = trainer.run(steps=6)
    assert trainer.step_count == 6 and again.epochs == first.epochs


def test_data_takes_the_models_dtype(blobs):
    X, y = blobs
    model = MLP((4, 8, 3), rng=0)  # float32, the default
    trainer = Trainer(model, X, y, loss="cross_entropy", batch_size=16)
    assert trainer.X.dtype == np.float32 and trainer.y.dtype == y.dtype
    result = trainer.step()
    assert result.pred.dtype == np.float32
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_evaluate_keeps_an_eval_model_in_eval_mode(blobs):
    X, y = blobs
    model = _mlp(dropout=0.5).eval()
    trainer = Trainer(model, X, y, loss="cross_entropy")
    scores = trainer.evaluate(X, y, metrics=["accuracy"])
    assert set(scores) == {"loss", "accuracy"} and 0.0 <= scores["accuracy"] <= 1.0
    assert not model.training
