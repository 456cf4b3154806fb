"""train_test_split: scikit-learn's sizes and messages, disjoint and complete parts."""

import numpy as np
import pytest

from theta.data import train_test_split
from theta.errors import InvalidParameterError

sk_split = pytest.importorskip("sklearn.model_selection").train_test_split

SIZES = [
    {}, {"test_size": 0.3}, {"test_size": 3}, {"train_size": 0.5}, {"train_size": 4},
    {"test_size": 0.2, "train_size": 0.5}, {"test_size": 2, "train_size": 3},
    {"test_size": 0.01}, {"train_size": 0.99}, {"shuffle": False},
    {"shuffle": False, "test_size": 2, "train_size": 3},
]  # fmt: skip


@pytest.mark.parametrize("n", [3, 7, 10, 101])
@pytest.mark.parametrize("kwargs", SIZES)
def test_sizes_match_sklearn_and_parts_are_disjoint(n, kwargs):
    X, y = np.arange(2 * n).reshape(n, 2), np.arange(n)
    try:
        want = [len(part) for part in sk_split(X, y, random_state=0, **kwargs)]
    except ValueError as expected:
        with pytest.raises(ValueError) as got:
            train_test_split(X, y, random_state=0, **kwargs)
        assert str(got.value) == str(expected)
        return
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, **kwargs)
    assert [len(X_train), len(X_test), len(y_train), len(y_test)] == want
    assert np.array_equal(X_train[:, 0] // 2, y_train) and np.array_equal(X_test[:, 0] // 2, y_test)
    assert not set(y_train) & set(y_test)
    if sum(want[:2]) == n:  # with both sizes given, the rest is left out
        assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(n))
    if kwargs.get("shuffle") is False:
        assert np.array_equal(np.concatenate([y_train, y_test]), np.arange(sum(want[:2])))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"test_size": -1}, {"test_size": 1.5}, {"test_size": 0.0}, {"train_size": "a"},
        {"test_size": 10}, {"test_size": 0.6, "train_size": 0.6},
        {"test_size": 6, "train_size": 6}, {"test_size": 0.95},
    ],
)  # fmt: skip
def test_bad_sizes_raise_sklearn_messages(kwargs):
    with pytest.raises(ValueError) as expected:
        sk_split(np.arange(10), **kwargs)
    with pytest.raises(ValueError) as got:
        train_test_split(np.arange(10), **kwargs)
    assert str(got.value) == str(expected.value)
    assert isinstance(got.value, InvalidParameterError) == (
        type(expected.value).__name__ == "InvalidParameterError"
    )


def test_stratified_split_keeps_class_proportions():
    y = np.repeat(["a", "b", "c"], [40, 24, 16])
    X = np.arange(len(y))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=1)  # fmt: skip
    want = [np.unique(part, return_counts=True)[1].tolist()
            for part in sk_split(X, y, test_size=0.25, stratify=y, random_state=1)[2:]]  # fmt: skip
    assert [np.unique(part, return_counts=True)[1].tolist() for part in (y_train, y_test)] == want
    assert np.array_equal(y[X_train], y_train) and np.array_equal(y[X_test], y_test)
    # with both sizes given, both parts still hold every class
    _, _, y_train, y_test = train_test_split(X, y, test_size=8, train_size=40, stratify=y,
                                             random_state=0)  # fmt: skip
    assert len(y_train) == 40 and len(y_test) == 8 and set(y_test) == {"a", "b", "c"}


def test_stratify_errors_match_sklearn():
    y = np.arange(10) % 5
    for kwargs in [{"test_size": 3}, {"train_size": 3}, {"shuffle": False}]:
        with pytest.raises(ValueError) as expected:
            sk_split(np.arange(10), stratify=y, **kwargs)
        with pytest.raises(ValueError) as got:
            train_test_split(np.arange(10), stratify=y, **kwargs)
        assert str(got.value) == str(expected.value)


def test_same_seed_same_split_and_generator_accepted():
    X = np.arange(50)
    a = train_test_split(X, random_state=3)
    b = train_test_split(X, random_state=3)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    parts = train_test_split(X, random_state=np.random.default_rng(3))
    assert len(parts[1]) == 13


def test_input_errors():
    with pytest.raises(ValueError, match="At least one array required as input"):
        train_test_split()
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[4, 3\]"):
        train_test_split(np.arange(4), np.arange(3))


def test_reexported_from_estimators():
    from theta.estimators import train_test_split as again

    assert again is train_test_split
