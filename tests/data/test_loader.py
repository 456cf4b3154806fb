"""Datasets read a batch at a time and the DataLoader: coverage, seeded block shuffling,
drop_last, prefetching threads, exact resume, out-of-core sources and errors."""

import gc
import json
import threading

import numpy as np
import pytest

from theta.data import ArrayDataset, DataLoader, Dataset, minibatches
from theta.errors import CheckpointError, InvalidParameterError

N = 23


def _data(n=N):
    X = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    return X, np.arange(n)


def _run(loader, n_epochs):
    """Every y batch of ``n_epochs`` full loops, as lists."""
    return [yb.tolist() for _ in range(n_epochs) for _, yb in loader]


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "theta-DataLoader-prefetch"]


class Squares:
    """A duck-typed dataset that computes its rows: no array behind it."""

    def __len__(self):
        return N

    def __getitem__(self, indices):
        x = np.asarray(indices, dtype=np.float64)[:, None]
        return x, x[:, 0] ** 2


# ---------------------------------------------------------------- ArrayDataset and Dataset


def test_array_dataset_reads_paired_rows_and_describes_itself():
    X, y = _data()
    ds = ArrayDataset(X, y, name="toy", target_names=("a", "b"))
    Xb, yb = ds[np.array([5, 1, 5])]
    np.testing.assert_array_equal(Xb, X[[5, 1, 5]])
    np.testing.assert_array_equal(yb, [5, 1, 5])
    assert isinstance(ds, Dataset) and len(ds) == N
    assert repr(ds) == "ArrayDataset('toy', X=(23, 3) float64, y=(23,) int64, 2 classes)"
    np.testing.assert_array_equal(ArrayDataset(X)[np.array([2])], X[[2]])  # X alone


def test_array_dataset_errors():
    X, y = _data(20)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[20, 19\]"):
        ArrayDataset(X, y[:19])
    with pytest.raises(ValueError, match="samples axis"):
        ArrayDataset(np.float64(3.0))


def test_dataset_base_needs_both_methods():
    class OnlyLength(Dataset):
        def __len__(self):
            return 1

    with pytest.raises(TypeError, match="abstract"):
        OnlyLength()


def test_memmap_rows_read_in_any_order_equal_the_array(tmp_path):
    X, y = _data(40)
    path = tmp_path / "X.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ds = ArrayDataset(np.memmap(path, dtype=np.float32, mode="r", shape=X.shape), y)
    idx = np.array([31, 2, 17, 2, 39, 0])
    Xb, yb = ds[idx]
    assert type(Xb) is np.ndarray and Xb.dtype == np.float32
    np.testing.assert_array_equal(Xb, X[idx].astype(np.float32))
    np.testing.assert_array_equal(yb, idx)
    assert ds.block_size == (1 << 18) // 12  # rows of 3 float32 in 256 KiB
    assert ArrayDataset(X).block_size == 1


def test_dask_rows_computed_per_batch_equal_numpy():
    da = pytest.importorskip("dask.array")
    X, y = _data(30)
    ds = ArrayDataset(da.from_array(X, chunks=(8, 3)), da.from_array(y, chunks=8))
    assert ds.block_size == 8
    idx = np.array([29, 3, 8, 7, 3])
    Xb, yb = ds[idx]
    assert type(Xb) is np.ndarray and type(yb) is np.ndarray
    np.testing.assert_array_equal(Xb, X[idx])
    np.testing.assert_array_equal(yb, idx)
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    assert sorted(sum(_run(loader, 1), [])) == list(range(30))


# ---------------------------------------------------------------- batches of an epoch


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("block_size", [1, 4])
@pytest.mark.parametrize("drop_last, expected_len", [(False, 5), (True, 4)])
def test_every_row_once_per_epoch(shuffle, block_size, drop_last, expected_len):
    X, y = _data()
    loader = DataLoader(ArrayDataset(X, y), batch_size=5, shuffle=shuffle, seed=0,
                        drop_last=drop_last, block_size=block_size)  # fmt: skip
    assert len(loader) == expected_len
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == expected_len
        seen = np.concatenate([yb for _, yb in batches]).tolist()
        assert len(seen) == len(set(seen)) == (20 if drop_last else 23)
        for Xb, yb in batches:
            np.testing.assert_array_equal(Xb, X[yb])  # rows stay paired with their targets
            assert len(yb) == 5 or not drop_last


def test_block_shuffle_keeps_blocks_together_and_permutes_them():
    loader = DataLoader(np.arange(40), batch_size=40, shuffle=True, seed=3, block_size=8)
    order = next(iter(loader))
    blocks = order.reshape(5, 8)
    for block in blocks:  # each run of 8 is one aligned block of consecutive rows
        assert sorted(block.tolist()) == list(range(block.min(), block.min() + 8))
        assert block.min() % 8 == 0
    assert blocks.min(axis=1).tolist() != sorted(blocks.min(axis=1).tolist())
    assert any(b.tolist() != sorted(b.tolist()) for b in blocks)  # rows permuted inside


def test_shuffle_is_seeded_new_each_epoch_and_matches_minibatches():
    X, y = _data()
    first = _run(DataLoader(ArrayDataset(X, y), batch_size=4, shuffle=True, seed=7), 3)
    again = _run(DataLoader(ArrayDataset(X, y), batch_size=4, shuffle=True, seed=7), 3)
    other = _run(DataLoader(ArrayDataset(X, y), batch_size=4, shuffle=True, seed=8), 3)
    assert first == again and first != other
    epochs = [sum(first[i * 6 : (i + 1) * 6], []) for i in range(3)]
    assert epochs[0] != epochs[1] != epochs[2]
    plain = [b.tolist() for b in minibatches(N, 4, rng=7)]
    assert first[:6] == plain  # in memory: the same order as minibatches with that seed


def test_unshuffled_plain_array_and_whole_batch():
    loader = DataLoader(np.arange(5), batch_size=2)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]
    assert loader.epoch == 1 and loader.position == 0
    assert [b.tolist() for b in DataLoader([[1], [2]], batch_size=None)] == [[[1], [2]]]
    tokens = np.arange(12, dtype=np.int32).reshape(4, 3)
    Xb, _ = next(iter(DataLoader(ArrayDataset(tokens, tokens), batch_size=2)))
    assert Xb.dtype == np.int32 and Xb.shape == (2, 3)


def test_duck_typed_dataset_is_read_by_index():
    batches = list(DataLoader(Squares(), batch_size=10, shuffle=True, seed=0))
    x = np.concatenate([xb[:, 0] for xb, _ in batches])
    assert sorted(x.tolist()) == list(range(N))
    for xb, yb in batches:
        np.testing.assert_array_equal(yb, xb[:, 0] ** 2)


def test_iterable_of_batches_passes_through():
    batches = [(np.full((2, 1), i), np.full(2, i)) for i in range(3)]
    with pytest.raises(ValueError, match="A list is read as an array"):
        DataLoader(batches, batch_size=None)
    stream = DataLoader(iter(batches), batch_size=None)
    assert [int(yb[0]) for _, yb in stream] == [0, 1, 2]
    assert stream.epoch == 1 and list(stream) == []  # a one-pass iterator serves one epoch


class Replay:
    """A re-iterable of batches: every iter() starts over."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return ((np.full((2, 1), i), np.full(2, i)) for i in range(self.n))


def test_reiterable_serves_epochs_and_a_break_continues():
    loader = DataLoader(Replay(4), batch_size=None)
    got = []
    for _, yb in loader:
        got.append(int(yb[0]))
        if len(got) == 2:
            break
    got += [int(yb[0]) for _, yb in loader]  # the rest of epoch 0
    got += [int(yb[0]) for _, yb in loader]  # epoch 1
    assert got == [0, 1, 2, 3, 0, 1, 2, 3] and loader.epoch == 2


# ---------------------------------------------------------------- prefetching


@pytest.mark.parametrize("source", ["array", "stream"])
def test_prefetch_gives_the_same_batches(source):
    X, y = _data()

    def loader(prefetch):
        if source == "array":
            return DataLoader(ArrayDataset(X, y), batch_size=4, shuffle=True, seed=5,
                              prefetch=prefetch)  # fmt: skip
        return DataLoader(Replay(5), batch_size=None, prefetch=prefetch)

    assert _run(loader(3), 3) == _run(loader(0), 3)
    assert _prefetch_threads() == []


def test_prefetch_thread_gone_after_break_and_after_garbage_collection():
    X, y = _data()
    loader = DataLoader(ArrayDataset(X, y), batch_size=2, prefetch=2)
    for _ in loader:
        assert len(_prefetch_threads()) == 1
        break
    assert _prefetch_threads() == []
    assert loader.position == 1  # the next loop continues after the batch handed out
    it = iter(loader)
    next(it)
    assert len(_prefetch_threads()) == 1
    del it, loader
    gc.collect()
    assert _prefetch_threads() == []


def test_a_new_loop_ends_the_previous_one():
    loader = DataLoader(np.arange(10), batch_size=2, prefetch=1)
    first = iter(loader)
    next(first)
    second = iter(loader)
    assert next(second).tolist() == [2, 3] and len(_prefetch_threads()) == 1
    assert list(first) == []
    loader.close()
    assert _prefetch_threads() == []


def test_prefetch_reraises_the_readers_error():
    class Broken(Squares):
        def __getitem__(self, indices):
            if indices[0] >= 10:
                raise OSError("disk gone at row 10")
            return super().__getitem__(indices)

    loader = DataLoader(Broken(), batch_size=5, prefetch=2)
    got = []
    with pytest.raises(OSError, match="disk gone at row 10"):
        for xb, _ in loader:
            got.append(xb)
    assert len(got) == 2 and _prefetch_threads() == []


# ---------------------------------------------------------------- resume


@pytest.mark.parametrize("stop_after", [0, 1, 5, 6, 7, 13])
@pytest.mark.parametrize("drop_last", [False, True])
def test_resume_equals_uninterrupted(stop_after, drop_last):
    """State after ``stop_after`` batches (mid-epoch, at an edge, in a later epoch)."""
    X, y = _data()
    kwargs = dict(batch_size=4, shuffle=True, drop_last=drop_last, block_size=3)
    reference = _run(DataLoader(ArrayDataset(X, y), seed=11, **kwargs), 3)

    original = DataLoader(ArrayDataset(X, y), seed=11, **kwargs)
    seen, stream = [], iter(original)
    for _ in range(stop_after):
        batch = next(stream, None)
        if batch is None:  # epoch over: start the next, as a training loop would
            stream = iter(original)
            batch = next(stream)
        seen.append(batch[1].tolist())
    state = json.loads(json.dumps(original.state_dict()))  # as a checkpoint stores it
    resumed = DataLoader(ArrayDataset(X, y), seed=999, **kwargs)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state  # saving again before iterating loses nothing
    rest = [yb.tolist() for _, yb in resumed]
    rest += _run(resumed, 3 - resumed.epoch)
    assert seen + rest == reference

    carry_on = [yb.tolist() for _, yb in stream]  # the original was not disturbed
    carry_on += _run(original, 3 - original.epoch)
    assert seen + carry_on == reference


def test_state_counts_an_epoch_when_its_last_batch_is_handed_out():
    loader = DataLoader(np.arange(8), batch_size=4, shuffle=True, seed=0)
    stream = iter(loader)
    next(stream)
    assert (loader.state_dict()["epoch"], loader.state_dict()["position"]) == (0, 1)
    next(stream)
    assert (loader.state_dict()["epoch"], loader.state_dict()["position"]) == (1, 0)
    assert list(stream) == [] and (loader.epoch, loader.position) == (1, 0)


def test_resumed_stream_skips_the_batches_already_handed_out():
    loader = DataLoader(Replay(5), batch_size=None)
    stream = iter(loader)
    next(stream), next(stream)
    fresh = DataLoader((b for b in Replay(5)), batch_size=None)  # a one-pass generator
    fresh.load_state_dict(loader.state_dict())
    assert [int(yb[0]) for _, yb in fresh] == [2, 3, 4]


def test_incompatible_state_is_refused():
    X, y = _data()
    state = DataLoader(ArrayDataset(X, y), batch_size=4, shuffle=True, seed=0).state_dict()
    with pytest.raises(CheckpointError, match="batch_size=4"):
        DataLoader(ArrayDataset(X, y), batch_size=5, shuffle=True).load_state_dict(state)
    with pytest.raises(CheckpointError, match="n_samples=23"):
        DataLoader(ArrayDataset(X[:20], y[:20]), batch_size=4, shuffle=True).load_state_dict(
            state
        )
    with pytest.raises(CheckpointError, match="block_size=1"):
        DataLoader(ArrayDataset(X, y), batch_size=4, shuffle=True, block_size=2).load_state_dict(
            state
        )
    with pytest.raises(CheckpointError, match="missing keys"):
        DataLoader(ArrayDataset(X, y), batch_size=4).load_state_dict({"epoch": 0})
    with pytest.raises(CheckpointError, match="position 9"):
        DataLoader(ArrayDataset(X, y), batch_size=4, shuffle=True).load_state_dict(
            {**state, "position": 9}
        )


# ---------------------------------------------------------------- errors


def test_errors():
    X, y = _data(20)
    with pytest.raises(InvalidParameterError, match=r"'batch_size'.*Got 0 instead"):
        DataLoader(X, batch_size=0)
    with pytest.raises(InvalidParameterError, match=r"'batch_size'.*Got 1\.5 instead"):
        DataLoader(X, batch_size=1.5)
    with pytest.raises(InvalidParameterError, match=r"'prefetch'.*Got -1 instead"):
        DataLoader(X, prefetch=-1)

    class NoLength:
        def __getitem__(self, indices):
            return indices

    with pytest.raises(TypeError, match="__len__ and __getitem__.*got NoLength"):
        DataLoader(NoLength())
    with pytest.raises(TypeError, match="pass batch_size=None"):
        DataLoader(iter([X]), batch_size=8)
    with pytest.raises(TypeError, match="no length"):
        len(DataLoader(iter([X]), batch_size=None))
    with pytest.raises(ValueError, match="at least one sample"):
        DataLoader(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="leaves no batch of the 20 samples"):
        DataLoader(X, batch_size=32, drop_last=True)
