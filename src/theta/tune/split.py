"""Cross-validation splitters: which samples train and which test, fold by fold.

Unshuffled, ``KFold`` and ``StratifiedKFold`` give exactly scikit-learn's folds, so a search
here and a scikit-learn search see the same splits. Shuffled, they draw from a NumPy
``Generator`` seeded by ``random_state`` (the same seed gives the same folds; the folds differ
from scikit-learn's, whose shuffle uses the legacy ``RandomState``).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from theta.data.batching import train_test_sizes
from theta.errors import InvalidParameterError
from theta.rng import check_random_state
from theta.validation import Interval, check_param

__all__ = ["KFold", "PredefinedSplits", "ShuffleSplit", "StratifiedKFold", "check_cv"]

Split = tuple[np.ndarray, np.ndarray]


def _n_samples(X: Any) -> int:
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(X)


def _check_n_splits(owner: str, n_splits: Any) -> None:
    check_param(n_splits, "n_splits", Interval(numbers.Integral, 2, None), caller=owner)


class _Splitter:
    """Shared ``__repr__`` and ``get_n_splits`` of the splitters."""

    n_splits: int

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of (train, test) pairs ``split`` yields."""
        return self.n_splits

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class KFold(_Splitter):
    """``n_splits`` consecutive folds; each is the test set once (scikit-learn's ``KFold``).

    The first ``n_samples % n_splits`` folds hold one sample more than the others.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Shuffle the samples once before cutting them into folds.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the shuffle (used only with ``shuffle=True``).

    Examples
    --------
    >>> [test.tolist() for _, test in KFold(3).split(range(7))]
    [[0, 1, 2], [3, 4], [5, 6]]
    """

    def __init__(
        self, n_splits: int = 5, *, shuffle: bool = False, random_state: Any = None
    ) -> None:
        _check_n_splits(type(self).__name__, n_splits)
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state

    def _test_folds(self, X: Any, y: Any) -> Iterator[np.ndarray]:
        n = _n_samples(X)
        if self.n_splits > n:
            raise ValueError(
                f"Cannot have number of splits n_splits={self.n_splits} greater than the number "
                f"of samples: n_samples={n}."
            )
        order = np.arange(n)
        if self.shuffle:
            order = check_random_state(self.random_state).permutation(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        start = 0
        for size in sizes:
            yield order[start : start + size]
            start += size

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yield ``(train, test)`` index arrays, one pair per fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : array-like of shape (n_samples,), optional
            Class labels (used by ``StratifiedKFold``).
        groups : ignored

        Yields
        ------
        train, test : ndarray of int
            Indices into ``X``; every sample is in exactly one ``test``.
        """
        n = _n_samples(X)
        for test in self._test_folds(X, y):
            in_test = np.zeros(n, dtype=bool)
            in_test[test] = True
            yield np.flatnonzero(~in_test), np.flatnonzero(in_test)


class StratifiedKFold(KFold):
    """``KFold`` that keeps each class's share in every fold (scikit-learn's algorithm).

    The samples of each class, in order, are dealt to the folds so that the folds' class
    counts differ by at most one; unshuffled, the folds equal scikit-learn's.

    Examples
    --------
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> [test.tolist() for _, test in StratifiedKFold(3).split(y, y)]
    [[0, 3], [1, 4], [2, 5]]
    """

    def _test_folds(self, X: Any, y: Any) -> Iterator[np.ndarray]:
        if y is None:
            raise ValueError("StratifiedKFold.split needs the class labels y; got y=None.")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != _n_samples(X):
            raise ValueError(
                f"StratifiedKFold.split: y must have shape ({_n_samples(X)},); got {y.shape}."
            )
        # classes numbered in order of first appearance, as scikit-learn does
        _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
        _, class_rank = np.unique(first, return_inverse=True)
        encoded = class_rank[inverse.ravel()]
        counts = np.bincount(encoded)
        if np.all(self.n_splits > counts):
            raise ValueError(
                f"n_splits={self.n_splits} cannot be greater than the number of members in each "
                "class."
            )
        if self.n_splits > counts.min():
            warnings.warn(
                f"The least populated class in y has only {counts.min()} members, which is less "
                f"than n_splits={self.n_splits}.",
                UserWarning,
                stacklevel=3,
            )
        in_order = np.sort(encoded)
        allocation = np.asarray(
            [
                np.bincount(in_order[i :: self.n_splits], minlength=len(counts))
                for i in range(self.n_splits)
            ]
        )
        rng = check_random_state(self.random_state) if self.shuffle else None
        test_folds = np.empty(len(y), dtype=np.int64)
        for k in range(len(counts)):
            folds = np.arange(self.n_splits).repeat(allocation[:, k])
            if rng is not None:
                rng.shuffle(folds)
            test_folds[encoded == k] = folds
        for i in range(self.n_splits):
            yield np.flatnonzero(test_folds == i)


class ShuffleSplit(_Splitter):
    """``n_splits`` independent random train/test splits (scikit-learn's ``ShuffleSplit``).

    Parameters
    ----------
    n_splits : int, default=10
        Number of splits (here at least 1).
    test_size, train_size : float in (0, 1), int or None
        Share (test rounds up, train down) or count of samples; by default 10% test and the
        rest train.
    random_state : None, int or numpy.random.Generator, default=None

    Examples
    --------
    >>> splitter = ShuffleSplit(2, test_size=0.25, random_state=0)
    >>> [(len(train), len(test)) for train, test in splitter.split(range(8))]
    [(6, 2), (6, 2)]
    """

    def __init__(
        self,
        n_splits: int = 10,
        *,
        test_size: float | int | None = None,
        train_size: float | int | None = None,
        random_state: Any = None,
    ) -> None:
        check_param(n_splits, "n_splits", Interval(numbers.Integral, 1, None), caller=self)
        self.n_splits = int(n_splits)
        self.test_size = test_size
        self.train_size = train_size
        self.random_state = random_state

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yield ``(train, test)`` index arrays, each pair drawn afresh (see ``KFold.split``)."""
        n = _n_samples(X)
        test_size = 0.1 if self.test_size is None and self.train_size is None else self.test_size
        n_train, n_test = train_test_sizes(n, test_size, self.train_size)
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            order = rng.permutation(n)
            yield order[n_test : n_test + n_train], order[:n_test]


class PredefinedSplits(_Splitter):
    """Fixed ``(train, test)`` index pairs given by the caller, as a splitter."""

    def __init__(self, splits: Iterable[Split]) -> None:
        self.splits = [(np.asarray(a), np.asarray(b)) for a, b in splits]
        if not self.splits:
            raise ValueError("cv: the given iterable of (train, test) splits is empty.")
        self.n_splits = len(self.splits)

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yield the stored pairs."""
        yield from self.splits


def check_cv(cv: Any = 5, y: Any = None, *, classifier: bool = False) -> Any:
    """A splitter for ``cv``: an int means ``StratifiedKFold`` for a classifier whose ``y`` is
    a vector of class labels, else ``KFold``; a splitter is returned as is; an iterable of
    ``(train, test)`` pairs is wrapped.

    Raises
    ------
    InvalidParameterError
        For anything else, naming what is allowed.

    Examples
    --------
    >>> check_cv(3, [0, 1, 0, 1, 0, 1], classifier=True)
    StratifiedKFold(n_splits=3, shuffle=False, random_state=None)
    """
    if cv is None:
        cv = 5
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if classifier and y is not None and _is_class_vector(y):
            return StratifiedKFold(int(cv))
        return KFold(int(cv))
    if hasattr(cv, "split") and hasattr(cv, "get_n_splits"):
        return cv
    if isinstance(cv, Iterable) and not isinstance(cv, str):
        return PredefinedSplits(cv)
    raise InvalidParameterError(
        "cv must be an int, a splitter with split() and get_n_splits(), or an iterable of "
        f"(train, test) index pairs. Got {cv!r} instead."
    )


def _is_class_vector(y: Any) -> bool:
    """True for a 1-D vector of labels (ints, strings, or floats that are whole numbers)."""
    y = np.asarray(y)
    if y.ndim != 1:
        return False
    if y.dtype.kind == "f":
        return bool(np.all(np.isfinite(y)) and np.all(np.mod(y, 1) == 0))
    return y.dtype.kind in "iubUSO"
