"""Cut a data set into minibatches of indices and hold out a validation split.

Training visits the data in minibatches: each epoch is one pass over every sample, in an
order drawn from a seeded ``numpy.random.Generator``. :func:`minibatches` gives one epoch's
index arrays; :class:`~theta.data.DataLoader` reads the rows for them, epoch after epoch, and
remembers where it is so a run restored from a checkpoint sees the same batches.
"""

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from theta.data.loader import epoch_order
from theta.rng import check_random_state
from theta.validation import Interval, check_consistent_length, check_param

__all__ = [
    "minibatches", "train_test_sizes", "train_test_split", "train_val_split",
]


_COUNT = Interval(numbers.Integral, 1, None)
_FRACTION = Interval(numbers.Real, 0.0, 1.0, closed="neither")


def minibatches(
    n_samples: int,
    batch_size: int,
    *,
    shuffle: bool = True,
    rng: None | int | np.random.Generator = None,
    drop_last: bool = False,
) -> Iterator[np.ndarray]:
    """Yield the index arrays of one epoch of minibatches.

    These are the indices a :class:`~theta.data.DataLoader` over data in memory reads (with
    the same generator, the same order). The order is drawn when the function is called (not
    at the first ``next``), so arguments are checked at once and ``rng`` advances at a
    predictable moment.

    Parameters
    ----------
    n_samples : int
        Number of samples to cover, at least 1.
    batch_size : int
        Samples per batch, at least 1. The last batch is smaller when ``batch_size`` does not
        divide ``n_samples`` (unless ``drop_last``).
    shuffle : bool, default=True
        Visit the samples in a random order; otherwise in order ``0, 1, ...``.
    rng : None, int or numpy.random.Generator, default=None
        Source of the shuffle (see :func:`theta.rng.check_random_state`).
    drop_last : bool, default=False
        Skip the final, smaller batch so that every batch has exactly ``batch_size`` samples.

    Returns
    -------
    iterator of ndarray of shape (batch_size,)
        Integer indices into the data; each sample appears exactly once per epoch (apart from
        those dropped by ``drop_last``).

    Raises
    ------
    InvalidParameterError
        If ``n_samples`` or ``batch_size`` is not an int of at least 1.

    Examples
    --------
    >>> [b.tolist() for b in minibatches(5, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    >>> [b.tolist() for b in minibatches(5, 2, shuffle=False, drop_last=True)]
    [[0, 1], [2, 3]]
    >>> sorted(np.concatenate(list(minibatches(5, 2, rng=0))).tolist())
    [0, 1, 2, 3, 4]
    """
    n_samples = int(check_param(n_samples, "n_samples", _COUNT, caller="minibatches"))
    batch_size = int(check_param(batch_size, "batch_size", _COUNT, caller="minibatches"))
    order = epoch_order(n_samples, shuffle, check_random_state(rng))
    n_batches = n_samples // batch_size if drop_last else math.ceil(n_samples / batch_size)
    return (order[i * batch_size : (i + 1) * batch_size] for i in range(n_batches))


def _stratified_val_indices(y: np.ndarray, n_val: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n_val`` indices whose class proportions follow ``y`` as closely as possible."""
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(
            "The least populated class in y has only 1 member, which is too few. The minimum "
            "number of groups for any class cannot be less than 2."
        )
    if n_val < len(classes) or len(y) - n_val < len(classes):
        raise ValueError(
            f"The validation set ({n_val} samples) and the training set ({len(y) - n_val} "
            f"samples) must each hold at least one sample of each of the {len(classes)} classes."
        )
    # Largest-remainder rounding: floors first, then the classes that lost most get one more.
    share = counts * n_val / len(y)
    per_class = np.floor(share).astype(np.int64)
    leftover = n_val - per_class.sum()
    per_class[np.argsort(-(share - per_class), kind="stable")[:leftover]] += 1
    picked = [rng.permutation(np.flatnonzero(codes == k))[:n_k] for k, n_k in enumerate(per_class)]
    return np.concatenate(picked)


def train_val_split(
    *arrays: Any,
    val_fraction: float = 0.2,
    shuffle: bool = True,
    rng: None | int | np.random.Generator = None,
    stratify: Any = None,
) -> list[np.ndarray]:
    """Split arrays into a training part and a held-out validation part.

    Parameters
    ----------
    *arrays : array-likes with the same first dimension
        Usually ``X`` and ``y``. Each is converted with ``numpy.asarray``.
    val_fraction : float, default=0.2
        Share of the samples held out, in ``(0, 1)``; the count is rounded up, as
        scikit-learn's ``train_test_split`` rounds its test size.
    shuffle : bool, default=True
        Draw the split at random; otherwise the last samples are the validation part.
    rng : None, int or numpy.random.Generator, default=None
        Source of the shuffle (see :func:`theta.rng.check_random_state`).
    stratify : array-like of shape (n_samples,), optional
        Class labels whose proportions both parts keep (needs ``shuffle=True``).

    Returns
    -------
    list of ndarray
        ``[a_train, a_val, b_train, b_val, ...]``, the order of scikit-learn's
        ``train_test_split``, so ``X_train, X_val, y_train, y_val = train_val_split(X, y)``.

    Raises
    ------
    ValueError
        If no array is given, lengths differ, ``val_fraction`` is outside ``(0, 1)``, either
        part would be empty, or stratification is impossible.

    Examples
    --------
    >>> X, y = np.arange(10).reshape(5, 2), np.array([0, 1, 0, 1, 0])
    >>> X_train, X_val, y_train, y_val = train_val_split(X, y, val_fraction=0.4, shuffle=False)
    >>> X_val.tolist(), y_val.tolist()
    ([[6, 7], [8, 9]], [1, 0])
    >>> X_train.shape
    (3, 2)
    """
    if not arrays:
        raise ValueError("At least one array required as input")
    arrays = tuple(np.asarray(a) for a in arrays)
    check_consistent_length(*arrays, stratify)
    check_param(val_fraction, "val_fraction", _FRACTION, caller="train_val_split")
    n_samples = len(arrays[0])
    n_val = math.ceil(val_fraction * n_samples)
    if n_val >= n_samples:
        raise ValueError(
            f"With n_samples={n_samples} and val_fraction={val_fraction}, the training set "
            "would be empty. Lower val_fraction or pass more samples."
        )
    if not shuffle:
        if stratify is not None:
            raise ValueError(
                "stratify needs shuffle=True: an unshuffled split cannot balance the classes."
            )
        val = np.arange(n_samples - n_val, n_samples)
        train = np.arange(n_samples - n_val)
    else:
        rng = check_random_state(rng)
        if stratify is None:
            val = rng.permutation(n_samples)[:n_val]
        else:
            val = rng.permutation(_stratified_val_indices(np.asarray(stratify), n_val, rng))
        in_val = np.zeros(n_samples, dtype=bool)
        in_val[val] = True
        train = rng.permutation(np.flatnonzero(~in_val))
    return [part for a in arrays for part in (a[train], a[val])]


def _split_size(value: object, name: str) -> None:
    """Refuse a test/train size that is neither a float in (0, 1), an int >= 1 nor None."""
    check_param(value, name, [_FRACTION, _COUNT, None], caller="train_test_split")


def train_test_sizes(n: int, test_size: Any, train_size: Any) -> tuple[int, int]:
    """Train and test sizes of ``n`` samples, as scikit-learn computes them (its
    ``_validate_shuffle_split``): test sizes round up, train sizes down."""
    if test_size is None and train_size is None:
        test_size = 0.25
    for value, name in ((test_size, "test_size"), (train_size, "train_size")):
        if isinstance(value, numbers.Integral) and value >= n:
            raise ValueError(
                f"{name}={value} should be either positive and smaller than the number of "
                f"samples {n} or a float in the (0, 1) range"
            )
    is_frac = lambda v: isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral)  # noqa: E731
    fractions = [v for v in (test_size, train_size) if is_frac(v)]
    if len(fractions) == 2 and sum(fractions) > 1:
        raise ValueError(
            f"The sum of test_size and train_size = {sum(fractions)}, should be in the (0, 1) "
            "range. Reduce test_size and/or train_size."
        )
    n_test = math.ceil(test_size * n) if is_frac(test_size) else test_size
    n_train = math.floor(train_size * n) if is_frac(train_size) else train_size
    n_train = n - n_test if train_size is None else n_train
    n_test = n - n_train if test_size is None else n_test
    if n_train + n_test > n:
        raise ValueError(
            f"The sum of train_size and test_size = {n_train + n_test}, should be smaller than "
            f"the number of samples {n}. Reduce test_size and/or train_size."
        )
    if n_train == 0:
        raise ValueError(
            f"With n_samples={n}, test_size={test_size} and train_size={train_size}, the "
            "resulting train set will be empty. Adjust any of the aforementioned parameters."
        )
    return int(n_train), int(n_test)


def train_test_split(
    *arrays: Any,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    random_state: None | int | np.random.Generator = None,
    shuffle: bool = True,
    stratify: Any = None,
) -> list[np.ndarray]:
    """Split arrays into random train and test parts: scikit-learn's signature and sizes.

    A thin wrapper over :func:`train_val_split` that sizes the parts as scikit-learn does: a
    float ``test_size`` rounds up, a float ``train_size`` rounds down, an int is a count, and
    with neither the test part is 25%. When the two sizes add up to fewer than the samples,
    the rest is left out. (The shuffle comes from a NumPy ``Generator``, so the rows drawn
    differ from scikit-learn's for the same seed; sizes and class proportions do not.)

    Parameters
    ----------
    *arrays : array-likes with the same first dimension
        Usually ``X`` and ``y``; each is converted with ``numpy.asarray``.
    test_size : float in (0, 1), int >= 1 or None, default=None
        Share or count of test samples (0.25 when ``train_size`` is None too).
    train_size : float in (0, 1), int >= 1 or None, default=None
        Share or count of training samples (default: all that are not test samples).
    random_state : None, int or numpy.random.Generator, default=None
        Source of the shuffle.
    shuffle : bool, default=True
        Shuffle before splitting; otherwise the first samples train and the next ones test.
    stratify : array-like of shape (n_samples,), optional
        Class labels whose proportions both parts keep (needs ``shuffle=True``).

    Returns
    -------
    list of ndarray
        ``[a_train, a_test, b_train, b_test, ...]``.

    Raises
    ------
    InvalidParameterError
        If a size is not a float in (0, 1), an int >= 1 or None.
    ValueError
        With scikit-learn's messages, if the sizes do not fit the samples, lengths differ, or
        stratification is impossible.

    Examples
    --------
    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    >>> X_train.shape, X_test.shape
    ((7, 2), (3, 2))
    >>> sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(10))
    True
    >>> [part.tolist() for part in train_test_split(np.arange(5), shuffle=False)]
    [[0, 1, 2], [3, 4]]
    """
    if not arrays:
        raise ValueError("At least one array required as input")
    _split_size(test_size, "test_size")
    _split_size(train_size, "train_size")
    arrays = tuple(np.asarray(a) for a in arrays)
    check_consistent_length(*arrays, stratify)
    n_train, n_test = train_test_sizes(len(arrays[0]), test_size, train_size)
    n_used = n_train + n_test
    rng = check_random_state(random_state)
    if stratify is not None:
        if not shuffle:
            raise ValueError("Stratified train/test split is not implemented for shuffle=False")
        stratify = np.asarray(stratify)
        n_classes = len(np.unique(stratify))
        for size, name in ((n_test, "test_size"), (n_train, "train_size")):
            if size < n_classes:
                raise ValueError(
                    f"The {name} = {size} should be greater or equal to the number of classes "
                    f"= {n_classes}"
                )
    if n_used < len(arrays[0]):  # keep n_used samples first (the leading ones if unshuffled)
        if not shuffle:
            arrays = tuple(a[:n_used] for a in arrays)
        else:
            extra = () if stratify is None else (stratify,)
            kept = train_val_split(*arrays, *extra, val_fraction=_fraction(n_used, len(arrays[0])),
                                   rng=rng, stratify=stratify)[1::2]  # fmt: skip
            arrays, stratify = tuple(kept[: len(arrays)]), (kept[-1] if extra else None)
    return train_val_split(*arrays, val_fraction=_fraction(n_test, n_used), shuffle=shuffle,
                           rng=rng, stratify=stratify)  # fmt: skip


def _fraction(count: int, n: int) -> float:
    """A ``val_fraction`` for which :func:`train_val_split`'s ``ceil`` gives exactly ``count``."""
    return (count - 0.5) / n  # ceil(count - 0.5) == count, whatever the rounding of the division
