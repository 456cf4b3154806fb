"""``fit`` and ``Trainer`` reading data a batch at a time: datasets, memory maps, Dask arrays
and iterables of batches train exactly as the same arrays in memory do, and resume."""

import threading

import numpy as np
import pytest

from theta.data import ArrayDataset, DataLoader
from theta.nn import MLP
from theta.train import ModelCheckpoint, Trainer, fit

KW = dict(loss="cross_entropy", optimizer="adam", lr=0.01, batch_size=16, seed=3)


def _mlp():
    return MLP((4, 8, 3), rng=0)  # float32: float64 data is cast batch by batch


def _same(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert np.array_equal(sa[name], sb[name]), name


def _fit(X, y=None, **kwargs):
    model = _mlp()
    history = fit(model, X, y, **{**KW, **kwargs})
    return model, history


class Rows:
    """A duck-typed dataset over arrays that are not arrays to theta: rows by index."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, indices):
        return self.X[indices], self.y[indices]


class Batches:
    """A re-iterable of (X, y) batches in order: every iter() starts over."""

    def __init__(self, X, y, size):
        self.X, self.y, self.size = X, y, size

    def __iter__(self):
        for i in range(0, len(self.X), self.size):
            yield self.X[i : i + self.size], self.y[i : i + self.size]


@pytest.mark.parametrize("make", [ArrayDataset, Rows], ids=["ArrayDataset", "duck-typed"])
def test_fit_on_a_dataset_equals_fit_on_the_arrays(blobs, make):
    X, y = blobs
    ref, ref_history = _fit(X, y, epochs=3, validation_data=(X[:20], y[:20]))
    model, history = _fit(make(X, y), epochs=3, validation_data=make(X[:20], y[:20]),
                          metrics=["accuracy"])  # fmt: skip
    _same(model, ref)
    assert history.step_loss == ref_history.step_loss
    assert history.epochs["loss"] == ref_history.epochs["loss"]
    # the validation set goes through in batches of 16: the loss is their sample-weighted mean
    np.testing.assert_allclose(history.epochs["val_loss"], ref_history.epochs["val_loss"],
                               rtol=1e-6)  # fmt: skip
    assert len(history.epochs["val_accuracy"]) == 3


def test_fit_on_a_memmap_file(blobs, tmp_path):
    X, y = blobs
    path = tmp_path / "X.f64"
    disk = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    disk[:] = X
    disk.flush()
    mapped = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    model, history = _fit(mapped, y, epochs=2)
    # oracle: the same rows in memory, shuffled by the same blocks as the map is
    block = ArrayDataset(mapped).block_size
    assert block > 1
    loader = DataLoader(ArrayDataset(X, y), batch_size=16, shuffle=True, seed=3,
                        block_size=block)  # fmt: skip
    ref, _ = _fit(loader, epochs=2)
    _same(model, ref)
    assert history.n_steps == 8 and np.isfinite(history.step_loss).all()


def test_fit_on_a_dask_array(blobs):
    da = pytest.importorskip("dask.array")
    X, y = blobs
    model, history = _fit(da.from_array(X, chunks=(20, 4)), da.from_array(y, chunks=20),
                          epochs=2, validation_data=(da.from_array(X[:10]), y[:10]))  # fmt: skip
    loader = DataLoader(ArrayDataset(X, y), batch_size=16, shuffle=True, seed=3, block_size=20)
    ref, ref_history = _fit(loader, epochs=2)
    _same(model, ref)
    assert history.step_loss == ref_history.step_loss and len(history.epochs["val_loss"]) == 2


def test_reiterable_batches_serve_several_epochs(blobs):
    X, y = blobs
    ref, ref_history = _fit(X, y, epochs=3, shuffle=False)
    model, history = _fit(Batches(X, y, 16), epochs=3)  # no length: epochs end with the data
    _same(model, ref)
    assert history.epochs["loss"] == ref_history.epochs["loss"]


def test_one_pass_generator_with_steps_and_running_out(blobs):
    X, y = blobs
    ref, _ = _fit(X, y, steps=3, shuffle=False)
    model, history = _fit(iter(Batches(X, y, 16)), steps=3)
    _same(model, ref)
    with pytest.warns(RuntimeWarning, match="the data ran out at step 4"):
        _, history = _fit(iter(Batches(X, y, 16)), steps=10)
    assert history.n_steps == 4 and "ran out" in history.stopped_reason
    assert len(history.epochs["loss"]) == 1


def test_prefetching_loader_trains_the_same_and_leaves_no_thread(blobs):
    X, y = blobs
    ref, ref_history = _fit(X, y, steps=6)
    loader = DataLoader(ArrayDataset(X, y), batch_size=16, shuffle=True, seed=3, prefetch=2)
    model, history = _fit(loader, steps=6)  # ends mid-epoch, with batches read ahead
    _same(model, ref)
    assert history.step_loss == ref_history.step_loss
    assert not [t for t in threading.enumerate() if t.name == "theta-DataLoader-prefetch"]
    assert (loader.epoch, loader.position) == (1, 2)


@pytest.mark.parametrize("source", ["dataset", "iterable"])
def test_resume_from_a_checkpoint_equals_the_uninterrupted_run(blobs, tmp_path, source):
    X, y = blobs
    data = (lambda: Rows(X, y)) if source == "dataset" else (lambda: Batches(X, y, 16))
    ref, ref_history = _fit(data(), epochs=3)
    path = tmp_path / "ckpt"
    _fit(data(), steps=6, callbacks=[ModelCheckpoint(path)])  # stops mid-epoch 1
    model, history = _fit(data(), epochs=3, callbacks=[ModelCheckpoint(path)], resume=True)
    _same(model, ref)
    assert history.step_loss == ref_history.step_loss
    assert history.epochs == ref_history.epochs


def test_errors(blobs):
    X, y = blobs
    for data in (iter(Batches(X, y, 16)), Rows(X, y)):
        with pytest.raises(TypeError, match="holds its own targets"):
            Trainer(_mlp(), data, y)
    with pytest.raises(ValueError, match="validation_split splits arrays in memory"):
        fit(_mlp(), Rows(X, y), validation_split=0.2, epochs=1)
    with pytest.raises(ValueError, match=r"a tuple of 3 items"):
        fit(_mlp(), iter([(X, y, y)]), steps=1, loss="cross_entropy")
    trainer = Trainer(_mlp(), iter(Batches(X, y, 60)), loss="cross_entropy")
    trainer.step()
    with pytest.raises(RuntimeError, match="the data ran out at step 1"):
        trainer.step()
