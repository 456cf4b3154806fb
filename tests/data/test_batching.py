"""Minibatches of indices and validation splits (DataLoader: test_loader.py)."""


import numpy as np
import pytest

from theta.data import minibatches, train_val_split
from theta.errors import InvalidParameterError

# ---------------------------------------------------------------- minibatches


@pytest.mark.parametrize("n_samples, batch_size", [(10, 3), (10, 5), (7, 10), (1, 1)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_minibatches_cover_every_sample_once(n_samples, batch_size, shuffle):
    batches = list(minibatches(n_samples, batch_size, shuffle=shuffle, rng=0))
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert all(len(b) == batch_size for b in batches[:-1])
    assert sorted(np.concatenate(batches).tolist()) == list(range(n_samples))


def test_minibatches_deterministic_by_seed_and_shuffled():
    first = np.concatenate(list(minibatches(50, 8, rng=3)))
    again = np.concatenate(list(minibatches(50, 8, rng=3)))
    other = np.concatenate(list(minibatches(50, 8, rng=4)))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, np.arange(50))


def test_minibatches_unshuffled_in_order():
    batches = list(minibatches(7, 3, shuffle=False))
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_minibatches_drop_last():
    batches = list(minibatches(10, 3, rng=0, drop_last=True))
    assert [len(b) for b in batches] == [3, 3, 3]
    assert len(set(np.concatenate(batches).tolist())) == 9
    assert list(minibatches(2, 3, drop_last=True)) == []


def test_minibatches_shares_a_generator():
    rng = np.random.default_rng(0)
    a = np.concatenate(list(minibatches(20, 4, rng=rng)))
    b = np.concatenate(list(minibatches(20, 4, rng=rng)))
    assert not np.array_equal(a, b)  # the second epoch draws a new order from the same stream


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4", True, None])
def test_minibatches_rejects_bad_batch_size(bad):
    with pytest.raises(
        InvalidParameterError, match=r"'batch_size'.*" + repr(bad).replace(".", r"\.")
    ):
        minibatches(10, bad)


def test_minibatches_checks_eagerly():
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(10, 0)  # no next() needed
    with pytest.raises(ValueError, match="n_samples"):
        minibatches(0, 2)


def test_minibatches_accepts_numpy_ints():
    assert len(list(minibatches(np.int64(5), np.int32(2)))) == 3


# ---------------------------------------------------------------- train_val_split


def test_train_val_split_order_and_sizes():
    X = np.arange(40).reshape(20, 2)
    y = np.arange(20)
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_fraction=0.25, rng=0)
    assert X_train.shape == (15, 2) and X_val.shape == (5, 2)
    assert y_train.shape == (15,) and y_val.shape == (5,)
    # rows stay paired with their targets, and together the parts are the whole set
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)
    np.testing.assert_array_equal(X_val[:, 0] // 2, y_val)
    assert sorted(np.concatenate([y_train, y_val]).tolist()) == list(range(20))


def test_train_val_split_rounds_validation_up_like_sklearn():
    sklearn_split = pytest.importorskip("sklearn.model_selection").train_test_split
    for n, fraction in [(10, 0.25), (7, 0.2), (3, 0.5), (101, 0.1)]:
        ours = train_val_split(np.arange(n), val_fraction=fraction, rng=0)
        theirs = sklearn_split(np.arange(n), test_size=fraction, random_state=0)
        assert [len(p) for p in ours] == [len(p) for p in theirs]


def test_train_val_split_deterministic_by_seed():
    X = np.arange(30)
    a = train_val_split(X, rng=5)
    b = train_val_split(X, rng=5)
    c = train_val_split(X, rng=6)
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(a[1], c[1])


def test_train_val_split_unshuffled_holds_out_the_tail():
    train, val = train_val_split(list(range(10)), val_fraction=0.3, shuffle=False)
    assert train.tolist() == list(range(7)) and val.tolist() == [7, 8, 9]


def test_train_val_split_stratified_keeps_proportions():
    y = np.array([0] * 30 + [1] * 60 + [2] * 10)
    X = np.arange(100)
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_fraction=0.2, rng=0, stratify=y)
    assert np.bincount(y_val).tolist() == [6, 12, 2]
    assert np.bincount(y_train).tolist() == [24, 48, 8]
    np.testing.assert_array_equal(y[X_val], y_val)
    assert len(set(X_train) | set(X_val)) == 100


def test_train_val_split_stratified_uneven_counts_add_up():
    y = np.array([0] * 7 + [1] * 5 + [2] * 3)
    _, y_val = train_val_split(y, val_fraction=0.4, rng=1, stratify=y)
    assert len(y_val) == 6 and set(y_val.tolist()) == {0, 1, 2}


def test_train_val_split_errors():
    with pytest.raises(
        ValueError,
        match=r"Found input variables with inconsistent numbers of samples: \[20, 19\]",
    ):
        train_val_split(np.zeros((20, 2)), np.zeros(19))
    for bad in (0.0, 1.0, -0.1, 1.5, True, "0.2"):
        with pytest.raises(InvalidParameterError, match="val_fraction"):
            train_val_split(np.zeros(10), val_fraction=bad)
    with pytest.raises(ValueError, match="At least one array"):
        train_val_split()
    with pytest.raises(ValueError, match="training set would be empty"):
        train_val_split(np.zeros(2), val_fraction=0.9)
    with pytest.raises(ValueError, match="least populated class"):
        train_val_split(np.zeros(5), stratify=[0, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="shuffle=True"):
        train_val_split(np.zeros(4), shuffle=False, stratify=[0, 0, 1, 1])
